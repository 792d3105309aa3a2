"""Optimizers against hand-computed steps; clipping; saving and restoring optimizer state."""

import math

import numpy as np
import pytest

from rnnviz.engine import OPTIMIZERS, clip_gradients, global_norm, make_optimizer

P0 = [1.0, -2.0, 0.5]
GRADS = [[0.5, -1.0, 0.0], [0.25, 2.0, -3.0], [-1.5, 0.5, 1.0]]
HYPER = {"lr": 0.1, "momentum": 0.9, "eps": 1e-8, "rho": 0.9, "beta1": 0.9, "beta2": 0.999}


def run(name, steps=3, **hyper):
    params = {"p": np.array(P0)}
    opt = make_optimizer(name, params, **{**HYPER, **hyper})
    history = []
    for g in GRADS[:steps]:
        opt.step(params, {"p": np.array(g)})
        history.append(params["p"].copy())
    return history, opt


def by_hand(update):
    """Apply ``update(j, g, state) -> delta`` entry by entry with Python floats."""
    p = list(P0)
    state = [dict() for _ in p]
    history = []
    for step, g in enumerate(GRADS, start=1):
        for j in range(len(p)):
            state[j]["t"] = step
            p[j] += update(g[j], state[j])
        history.append(list(p))
    return history


def sgd(g, s):
    return -0.1 * g


def momentum(g, s):
    s["v"] = 0.9 * s.get("v", 0.0) - 0.1 * g
    return s["v"]


def adagrad(g, s):                 # min-char-rnn: eps inside the square root
    s["mem"] = s.get("mem", 0.0) + g * g
    return -0.1 * g / math.sqrt(s["mem"] + 1e-8)


def rmsprop(g, s):
    s["ms"] = 0.9 * s.get("ms", 0.0) + 0.1 * g * g
    return -0.1 * g / (math.sqrt(s["ms"]) + 1e-8)


def adam(g, s):
    s["m"] = 0.9 * s.get("m", 0.0) + 0.1 * g
    s["v"] = 0.999 * s.get("v", 0.0) + 0.001 * g * g
    m_hat = s["m"] / (1 - 0.9 ** s["t"])
    v_hat = s["v"] / (1 - 0.999 ** s["t"])
    return -0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)


@pytest.mark.parametrize("name,rule", [("sgd", sgd), ("momentum", momentum), ("adagrad", adagrad),
                                       ("rmsprop", rmsprop), ("adam", adam)])
def test_updates_match_hand_computed_steps(name, rule):
    history, opt = run(name)
    for got, want in zip(history, by_hand(rule)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    assert opt.t == 3


def test_known_first_steps():
    """A few values worked out on paper."""
    (p1, *_), _ = run("sgd", steps=1)
    np.testing.assert_allclose(p1, [0.95, -1.9, 0.5], rtol=1e-15)
    (p1, p2, _), _ = run("momentum")
    np.testing.assert_allclose(p2, [1.0 - 0.05 - 0.045 - 0.025, -2.0 + 0.1 + 0.09 - 0.2, 0.5 + 0.3],
                               rtol=1e-14)
    (p1, *_), _ = run("adagrad", steps=1)
    # first Adagrad step: -lr·g/sqrt(g² + eps) ≈ -lr·sign(g); zero gradient, zero step
    np.testing.assert_allclose(p1, [0.9, -1.9, 0.5], rtol=1e-7)
    assert p1[2] == 0.5
    (p1, *_), _ = run("adam", steps=1)
    np.testing.assert_allclose(p1, [0.9, -1.9, 0.5], rtol=1e-7)


def test_last_update_is_the_parameter_change_and_ratios():
    params = {"W": np.array([[3.0, 4.0]]), "z": np.zeros(2)}
    opt = make_optimizer("sgd", params, lr=0.5)
    before = {k: v.copy() for k, v in params.items()}
    opt.step(params, {"W": np.array([[2.0, 0.0]]), "z": np.array([1.0, 1.0])})
    for k in params:
        np.testing.assert_array_equal(params[k] - before[k], opt.last_update[k])
    ratios = opt.update_ratios(params)
    assert ratios["W"] == pytest.approx(1.0 / math.hypot(2.0, 4.0))     # |ΔW| = 1, W = [[2, 4]]
    assert ratios["z"] == pytest.approx(math.hypot(0.5, 0.5) / math.hypot(0.5, 0.5))


def test_set_hyper_changes_the_learning_rate_between_steps():
    params = {"p": np.array([1.0])}
    opt = make_optimizer("sgd", params, lr=0.1)
    opt.set_hyper(lr=0.01, unknown=3.0)
    opt.step(params, {"p": np.array([1.0])})
    assert params["p"][0] == pytest.approx(0.99)
    assert "unknown" not in opt.hyper


def test_make_optimizer_rejects_unknown_names():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("lbfgs", {"p": np.zeros(1)}, lr=0.1)
    assert set(OPTIMIZERS) == {"sgd", "momentum", "adagrad", "rmsprop", "adam"}


# --------------------------------------------------------------------------- clipping
def grads():
    return {"W": np.array([[6.0, -7.0], [1.0, 0.5]]), "b": np.array([-2.0, 3.0])}


def test_clip_by_value_clips_every_entry():
    g = grads()
    norm, clipped = clip_gradients(g, "value", 5.0)
    assert norm == pytest.approx(math.sqrt(36 + 49 + 1 + 0.25 + 4 + 9))      # the norm before clipping
    assert clipped
    np.testing.assert_array_equal(g["W"], [[5.0, -5.0], [1.0, 0.5]])
    np.testing.assert_array_equal(g["b"], [-2.0, 3.0])


def test_clip_by_value_leaves_small_gradients_alone():
    g = grads()
    norm, clipped = clip_gradients(g, "value", 7.0)
    assert not clipped
    np.testing.assert_array_equal(g["W"], grads()["W"])
    # the threshold itself is not clipped; one entry just beyond it is
    g = {"a": np.array([-7.0, 7.0])}
    assert clip_gradients(g, "value", 7.0) == (pytest.approx(math.sqrt(98)), False)
    g = {"a": np.array([-7.5, 1.0])}
    assert clip_gradients(g, "value", 7.0)[1]
    np.testing.assert_array_equal(g["a"], [-7.0, 1.0])


def test_clip_by_global_norm_rescales_all_gradients_together():
    g = grads()
    n = global_norm(g)
    assert n == pytest.approx(math.sqrt(99.25))
    norm, clipped = clip_gradients(g, "norm", 1.0)
    assert clipped and norm == pytest.approx(n)
    assert global_norm(g) == pytest.approx(1.0)
    np.testing.assert_allclose(g["W"], grads()["W"] / n, rtol=1e-15)
    np.testing.assert_allclose(g["b"], grads()["b"] / n, rtol=1e-15)
    g = grads()
    assert clip_gradients(g, "norm", 100.0) == (pytest.approx(n), False)
    np.testing.assert_array_equal(g["W"], grads()["W"])


def test_clip_none_and_bad_mode():
    g = grads()
    assert clip_gradients(g, "none", 0.1) == (pytest.approx(math.sqrt(99.25)), False)
    np.testing.assert_array_equal(g["W"], grads()["W"])
    with pytest.raises(ValueError, match="clip mode must be none, value or norm"):
        clip_gradients(g, "percentile", 1.0)


# --------------------------------------------------------------------------- state
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip_resumes_bit_identically(name):
    rng = np.random.default_rng(5)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(3)}
    seq = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(6)]
    opt = make_optimizer(name, params, **HYPER)
    for g in seq[:3]:
        opt.step(params, {k: v.copy() for k, v in g.items()})
    # what a session file holds: copies of the parameters and of the optimizer state
    saved_params = {k: v.copy() for k, v in params.items()}
    saved_state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state_dict().items()}
    for g in seq[3:]:
        opt.step(params, {k: v.copy() for k, v in g.items()})

    resumed = make_optimizer(name, saved_params, **HYPER)
    resumed.load_state_dict(saved_state)
    assert resumed.t == 3
    for g in seq[3:]:
        resumed.step(saved_params, {k: v.copy() for k, v in g.items()})
    for k in params:
        assert saved_params[k].tobytes() == params[k].tobytes(), k
    for k, v in opt.state_dict().items():
        assert np.array_equal(resumed.state_dict()[k], v), k


def test_state_dict_names_slots_by_parameter():
    params = {"Wax": np.zeros((2, 2)), "ba": np.zeros(2)}
    assert set(make_optimizer("adam", params, **HYPER).state_dict()) == {"t", "m/Wax", "m/ba", "v/Wax", "v/ba"}
    assert set(make_optimizer("adagrad", params, **HYPER).state_dict()) == {"t", "mem/Wax", "mem/ba"}
    assert set(make_optimizer("sgd", params, **HYPER).state_dict()) == {"t"}


@pytest.mark.parametrize("change,match", [
    (lambda d: {k: v for k, v in d.items() if k != "m/W"}, "optimizer state must have keys"),
    (lambda d: {**d, "velocity/W": np.zeros((2, 3))}, "optimizer state must have keys"),
    (lambda d: {k: v for k, v in d.items() if k != "t"}, "optimizer state must have keys"),
    (lambda d: {**d, "v/W": np.zeros((3, 2))}, r"'v/W' must have shape \(2, 3\); got \(3, 2\)"),
    (lambda d: {**d, "m/b": np.array([np.nan, 0.0])}, "'m/b' holds NaN or infinite"),
    (lambda d: {**d, "v/b": np.array([np.inf, 0.0])}, "'v/b' holds NaN or infinite"),
    (lambda d: {**d, "t": -1}, "non-negative integer"),
    (lambda d: {**d, "t": 2.5}, "non-negative integer"),
    (lambda d: {**d, "t": True}, "non-negative integer"),
])
def test_bad_state_is_rejected_and_leaves_the_optimizer_usable(change, match):
    params = {"W": np.ones((2, 3)), "b": np.ones(2)}
    opt = make_optimizer("adam", params, **HYPER)
    opt.step(params, {"W": np.ones((2, 3)), "b": np.ones(2)})
    good = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(change(dict(good)))
    assert opt.t == 1
    opt.load_state_dict(good)
    assert opt.t == 1


def test_rejected_state_leaves_the_optimizer_state_unchanged():
    params = {"W": np.ones((2, 3)), "b": np.ones(2)}
    opt = make_optimizer("adam", params, **HYPER)
    other = {k: (np.full_like(v, 7.0) if isinstance(v, np.ndarray) else 5) for k, v in opt.state_dict().items()}
    other["v/b"] = np.array([np.nan, 0.0])
    with pytest.raises(ValueError):
        opt.load_state_dict(other)
    assert opt.t == 0
    np.testing.assert_array_equal(opt.state["m"]["W"], 0.0)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_norm_bound_holds_at_every_step(name):
    """The trainer skips its pass over the update when this bound is small, so it must never be
    below the true ||Δθ||, including for gradients spanning many orders of magnitude."""
    rng = np.random.default_rng(7)
    params = {"W": rng.standard_normal((6, 5)), "b": np.zeros(5)}
    opt = make_optimizer(name, params, **HYPER)
    for step in range(40):
        scale = 10.0 ** rng.uniform(-8, 8)
        grads = {k: rng.standard_normal(v.shape) * scale * (rng.random(v.shape) < 0.7) for k, v in params.items()}
        opt.step(params, grads)
        bound = opt.update_norm_bound(global_norm(grads))
        assert opt.last_update_norm() <= bound * (1 + 1e-12)


@pytest.mark.parametrize("name,slot", [("adagrad", "mem"), ("rmsprop", "mem"), ("adam", "v")])
def test_negative_sums_of_squares_are_rejected_on_load(name, slot):
    params = {"p": np.array(P0)}
    opt = make_optimizer(name, params, **HYPER)
    state = {k: (np.array(v, copy=True) if k != "t" else v) for k, v in opt.state_dict().items()}
    state[f"{slot}/p"][1] = -1.0
    with pytest.raises(ValueError, match="negative"):
        opt.load_state_dict(state)
