"""The course-notation adapter: finite differences for every backward, agreement with the engine's
Network on the same weights, an independent plain-numpy reference, and bad input."""

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec, course
from rnnviz.engine.gradcheck import numeric_grad

SEEDS = [0, 1, 2]


def random_sizes(rng):
    return {"n_x": int(rng.integers(1, 5)), "n_a": int(rng.integers(1, 6)), "n_y": int(rng.integers(2, 5)),
            "m": int(rng.integers(1, 4)), "T_x": int(rng.integers(1, 5))}


def random_course_params(rng, cell, n_x, n_a, n_y, scale=0.7):
    def r(*shape):
        return scale * rng.standard_normal(shape)
    if cell == "rnn":
        return {"Wax": r(n_a, n_x), "Waa": r(n_a, n_a), "Wya": r(n_y, n_a), "ba": r(n_a, 1), "by": r(n_y, 1)}
    p = {}
    for g in course.GATES[cell]:
        p["W" + g], p["b" + g] = r(n_a, n_a + n_x), r(n_a, 1)
    p["Wy"], p["by"] = r(n_y, n_a), r(n_y, 1)
    return p


def assert_grad(analytic, numeric, name):
    """Analytic gradient against the fourth-order centred difference (error ~1e-12 at h=1e-3)."""
    analytic = np.asarray(analytic).reshape(-1)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def check_all(loss, arrays: dict, grads: dict):
    """Every entry of every array in ``arrays`` (perturbed in place) against ``grads[name]``."""
    for name, arr in arrays.items():
        _, num = numeric_grad(loss, arr)
        assert_grad(grads[name], num, name)


# --------------------------------------------------------------------------- independent reference
def test_rnn_cell_forward_matches_a_plain_numpy_column_loop():
    """Written from the equations, one example (column) at a time, without the engine."""
    rng = np.random.default_rng(7)
    n_x, n_a, n_y, m = 3, 5, 4, 3
    p = random_course_params(rng, "rnn", n_x, n_a, n_y)
    xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    a_next, yt_pred, cache = course.rnn_cell_forward(xt, a_prev, p)
    for j in range(m):
        z = [sum(p["Wax"][i, k] * xt[k, j] for k in range(n_x))
             + sum(p["Waa"][i, k] * a_prev[k, j] for k in range(n_a)) + p["ba"][i, 0] for i in range(n_a)]
        a = [np.tanh(v) for v in z]
        logits = [sum(p["Wya"][i, k] * a[k] for k in range(n_a)) + p["by"][i, 0] for i in range(n_y)]
        e = [np.exp(v - max(logits)) for v in logits]
        np.testing.assert_allclose(a_next[:, j], a, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(yt_pred[:, j], [v / sum(e) for v in e], rtol=1e-13, atol=1e-15)
    assert a_next.shape == (n_a, m) and yt_pred.shape == (n_y, m)
    assert cache[0] is a_next and cache[2] is not None and len(cache) == 4
    np.testing.assert_array_equal(cache[1], a_prev)
    np.testing.assert_array_equal(cache[2], xt)


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("seed", SEEDS)
def test_rnn_cell_backward_finite_differences(seed):
    rng = np.random.default_rng(seed)
    s = random_sizes(rng)
    p = random_course_params(rng, "rnn", s["n_x"], s["n_a"], s["n_y"])
    xt, a_prev = rng.standard_normal((s["n_x"], s["m"])), rng.standard_normal((s["n_a"], s["m"]))
    da_next = rng.standard_normal((s["n_a"], s["m"]))
    _, _, cache = course.rnn_cell_forward(xt, a_prev, p)
    g = course.rnn_cell_backward(da_next, cache)

    def loss():
        return float(np.sum(da_next * course.rnn_cell_forward(xt, a_prev, p)[0]))

    check_all(loss, {"dxt": xt, "da_prev": a_prev, "dWax": p["Wax"], "dWaa": p["Waa"], "dba": p["ba"]}, g)
    assert g["dba"].shape == (s["n_a"], 1)


@pytest.mark.parametrize("seed", SEEDS)
def test_rnn_backward_finite_differences(seed):
    rng = np.random.default_rng(100 + seed)
    s = random_sizes(rng)
    p = random_course_params(rng, "rnn", s["n_x"], s["n_a"], s["n_y"])
    x, a0 = rng.standard_normal((s["n_x"], s["m"], s["T_x"])), rng.standard_normal((s["n_a"], s["m"]))
    da = rng.standard_normal((s["n_a"], s["m"], s["T_x"]))
    g = course.rnn_backward(da, course.rnn_forward(x, a0, p)[2])
    assert set(g) == {"dx", "da0", "dWax", "dWaa", "dba"}

    def loss():
        return float(np.sum(da * course.rnn_forward(x, a0, p)[0]))

    check_all(loss, {"dx": x, "da0": a0, "dWax": p["Wax"], "dWaa": p["Waa"], "dba": p["ba"]}, g)


@pytest.mark.parametrize("seed", SEEDS)
def test_lstm_cell_backward_finite_differences(seed):
    rng = np.random.default_rng(200 + seed)
    s = random_sizes(rng)
    n_a, m = s["n_a"], s["m"]
    p = random_course_params(rng, "lstm", s["n_x"], n_a, s["n_y"])
    xt = rng.standard_normal((s["n_x"], m))
    a_prev, c_prev = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    da_next, dc_next = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    g = course.lstm_cell_backward(da_next, dc_next, course.lstm_cell_forward(xt, a_prev, c_prev, p)[3])

    def loss():
        a_next, c_next, _, _ = course.lstm_cell_forward(xt, a_prev, c_prev, p)
        return float(np.sum(da_next * a_next) + np.sum(dc_next * c_next))

    arrays = {"dxt": xt, "da_prev": a_prev, "dc_prev": c_prev}
    for k in "fico":
        arrays["dW" + k], arrays["db" + k] = p["W" + k], p["b" + k]
    check_all(loss, arrays, g)
    assert set(g) == set(arrays)


@pytest.mark.parametrize("seed", SEEDS)
def test_lstm_backward_finite_differences(seed):
    rng = np.random.default_rng(300 + seed)
    s = random_sizes(rng)
    p = random_course_params(rng, "lstm", s["n_x"], s["n_a"], s["n_y"])
    x, a0 = rng.standard_normal((s["n_x"], s["m"], s["T_x"])), rng.standard_normal((s["n_a"], s["m"]))
    da = rng.standard_normal((s["n_a"], s["m"], s["T_x"]))
    a, y, c, caches = course.lstm_forward(x, a0, p)
    assert a.shape == c.shape == (s["n_a"], s["m"], s["T_x"]) and y.shape == (s["n_y"], s["m"], s["T_x"])
    g = course.lstm_backward(da, caches)

    def loss():
        return float(np.sum(da * course.lstm_forward(x, a0, p)[0]))

    arrays = {"dx": x, "da0": a0}
    for k in "fico":
        arrays["dW" + k], arrays["db" + k] = p["W" + k], p["b" + k]
    check_all(loss, arrays, g)
    assert set(g) == set(arrays)


@pytest.mark.parametrize("seed", SEEDS)
def test_gru_cell_backward_finite_differences(seed):
    rng = np.random.default_rng(400 + seed)
    s = random_sizes(rng)
    p = random_course_params(rng, "gru", s["n_x"], s["n_a"], s["n_y"])
    xt, a_prev = rng.standard_normal((s["n_x"], s["m"])), rng.standard_normal((s["n_a"], s["m"]))
    da_next = rng.standard_normal((s["n_a"], s["m"]))
    g = course.gru_cell_backward(da_next, course.gru_cell_forward(xt, a_prev, p)[2])

    def loss():
        return float(np.sum(da_next * course.gru_cell_forward(xt, a_prev, p)[0]))

    arrays = {"dxt": xt, "da_prev": a_prev}
    for k in "ruc":
        arrays["dW" + k], arrays["db" + k] = p["W" + k], p["b" + k]
    check_all(loss, arrays, g)


@pytest.mark.parametrize("seed", SEEDS)
def test_gru_backward_finite_differences(seed):
    rng = np.random.default_rng(500 + seed)
    s = random_sizes(rng)
    p = random_course_params(rng, "gru", s["n_x"], s["n_a"], s["n_y"])
    x, a0 = rng.standard_normal((s["n_x"], s["m"], s["T_x"])), rng.standard_normal((s["n_a"], s["m"]))
    da = rng.standard_normal((s["n_a"], s["m"], s["T_x"]))
    a, y, caches = course.gru_forward(x, a0, p)
    g = course.gru_backward(da, caches)

    def loss():
        return float(np.sum(da * course.gru_forward(x, a0, p)[0]))

    arrays = {"dx": x, "da0": a0}
    for k in "ruc":
        arrays["dW" + k], arrays["db" + k] = p["W" + k], p["b" + k]
    check_all(loss, arrays, g)
    assert set(g) == set(arrays)


# --------------------------------------------------------------------------- against the Network
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_agrees_with_engine_network_on_the_same_weights(cell):
    """Forward states and outputs, and the gradients of a summed softmax cross-entropy."""
    rng = np.random.default_rng({"rnn": 1, "lstm": 2, "gru": 3}[cell])
    n_x, n_a, n_y, m, T_x = 3, 4, 5, 2, 6
    p = random_course_params(rng, cell, n_x, n_a, n_y)
    x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
    labels = rng.integers(0, n_y, (T_x, m))
    net = Network(NetworkSpec(cell, n_x, n_a, n_y, readout="softmax", reduction="sum"),
                  course.to_engine_params(p, cell))
    x_tm = x.transpose(2, 1, 0)                                       # (T, N, D)
    state0 = {"a": a0.T.copy()}
    if cell == "lstm":
        state0["c"] = np.zeros((m, n_a))
        a, y, c, caches = course.lstm_forward(x, a0, p)
    elif cell == "rnn":
        a, y, caches = course.rnn_forward(x, a0, p)
    else:
        a, y, caches = course.gru_forward(x, a0, p)
    res = net.forward(x_tm, state0)
    np.testing.assert_allclose(a, res.states["a"].transpose(2, 1, 0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y, res.outputs.transpose(2, 1, 0), rtol=1e-12, atol=1e-14)
    if cell == "lstm":
        np.testing.assert_allclose(c, res.states["c"].transpose(2, 1, 0), rtol=1e-12, atol=1e-14)

    loss, grads, res = net.loss_and_grads(x_tm, labels, state0)
    onehot = np.eye(n_y)[labels].transpose(2, 1, 0)                  # (n_y, m, T_x)
    assert loss == pytest.approx(-np.sum(onehot * np.log(y)) / m, rel=1e-12)
    dy = (y - onehot) / m                                             # the batch mean, once
    Wy = p["Wya"] if cell == "rnn" else p["Wy"]
    da = np.einsum("ka,kmt->amt", Wy, dy)
    backward = {"rnn": course.rnn_backward, "lstm": course.lstm_backward, "gru": course.gru_backward}[cell]
    g = backward(da, caches)
    expected = course.to_course_params(grads, cell)
    for name in expected:
        if name in ("Wya", "Wy"):
            np.testing.assert_allclose(np.einsum("kmt,amt->ka", dy, a), expected[name], rtol=1e-10, atol=1e-13)
        elif name == "by":
            np.testing.assert_allclose(dy.sum(axis=(1, 2))[:, None], expected[name], rtol=1e-10, atol=1e-13)
        else:
            np.testing.assert_allclose(g["d" + name], expected[name], rtol=1e-10, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(g["da0"], res.grad_state0["a"].T, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_parameter_conversion_round_trip_and_block_layout(cell):
    rng = np.random.default_rng(9)
    n_x, n_a, n_y = 3, 4, 2
    p = random_course_params(rng, cell, n_x, n_a, n_y)
    e = course.to_engine_params(p, cell)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    assert {k: v.shape for k, v in e.items()} == {
        "Wax": (G * n_a, n_x), "Waa": (G * n_a, n_a), "ba": (G * n_a,), "Wya": (n_y, n_a), "by": (n_y,)}
    back = course.to_course_params(e, cell)
    assert list(back) == list(course.COURSE_NAMES[cell])
    for k in p:
        np.testing.assert_array_equal(back[k], p[k])
    if cell == "lstm":   # Wf = [Waa_f | Wax_f], blocks f, i, o, c
        for k, g in enumerate("fioc"):
            rows = slice(k * n_a, (k + 1) * n_a)
            np.testing.assert_array_equal(p["W" + g], np.hstack([e["Waa"][rows], e["Wax"][rows]]))
            np.testing.assert_array_equal(p["b" + g][:, 0], e["ba"][rows])
    # the conversions copy: changing the result leaves the input alone
    for k in e:
        assert not any(np.shares_memory(e[k], v) for v in p.values())
    for k in back:
        assert not any(np.shares_memory(back[k], v) for v in e.values())


def test_our_backward_consumes_a_hand_built_course_cache():
    """A student's cache tuple (a_next, a_prev, xt, parameters) works as it is."""
    rng = np.random.default_rng(12)
    p = random_course_params(rng, "rnn", 2, 3, 2)
    xt, a_prev = rng.standard_normal((2, 4)), rng.standard_normal((3, 4))
    a_next = np.tanh(p["Wax"] @ xt + p["Waa"] @ a_prev + p["ba"])
    da_next = rng.standard_normal((3, 4))
    g = course.rnn_cell_backward(da_next, (a_next, a_prev, xt, p))
    dz = (1 - a_next ** 2) * da_next
    np.testing.assert_allclose(g["dWaa"], dz @ a_prev.T, rtol=1e-13)
    np.testing.assert_allclose(g["da_prev"], p["Waa"].T @ dz, rtol=1e-13)


# --------------------------------------------------------------------------- bad input
def _rnn_setup():
    rng = np.random.default_rng(0)
    p = random_course_params(rng, "rnn", 3, 4, 2)
    return p, rng.standard_normal((3, 2)), rng.standard_normal((4, 2))


@pytest.mark.parametrize("change,match", [
    (lambda p, x, a: (p, x[:2], a), r"xt must have shape \(n_x, m\) = \(3, m\); got \(2, 2\)"),
    (lambda p, x, a: (p, x, a[:, :1]), r"a_prev must have shape \(n_a, m\) = \(4, 2\); got \(4, 1\)"),
    (lambda p, x, a: (p, x[:, :, None], a), r"xt must have shape \(n_x, m\)"),
    (lambda p, x, a: ({**p, "ba": p["ba"][:, 0]}, x, a),
     r"parameters\['ba'\] must have shape \(n_a, 1\) = \(4, 1\); got \(4,\)"),
    (lambda p, x, a: ({**p, "by": p["by"].T}, x, a), r"parameters\['by'\] must have shape \(n_y, 1\) = \(2, 1\)"),
    (lambda p, x, a: ({**p, "Wax": p["Wax"][:3]}, x, a), r"parameters\['Wax'\] must have shape \(n_a, n_x\)"),
    (lambda p, x, a: ({**p, "Waa": p["Waa"][0]}, x, a), r"parameters\['Waa'\] must be a non-empty 2-D"),
    (lambda p, x, a: ({k: v for k, v in p.items() if k != "Wya"}, x, a), r"missing \['Wya'\]"),
    (lambda p, x, a: ({**p, "Wy": p["Wya"]}, x, a), r"unexpected \['Wy'\]"),
    (lambda p, x, a: ([p], x, a), r"parameters must be a dict"),
    (lambda p, x, a: (p, np.where(x > 0, np.nan, x), a), r"xt holds NaN"),
    (lambda p, x, a: (p, x, np.full_like(a, np.inf)), r"a_prev holds NaN or infinite"),
    (lambda p, x, a: ({**p, "Waa": p["Waa"] * np.inf}, x, a), r"parameters\['Waa'\] holds NaN"),
    (lambda p, x, a: (p, np.full(x.shape, "one"), a), r"xt must be a numeric array"),
])
def test_rnn_cell_forward_rejects_bad_input(change, match):
    p, xt, a_prev = _rnn_setup()
    p, xt, a_prev = change(p, xt, a_prev)
    with pytest.raises(ValueError, match=match):
        course.rnn_cell_forward(xt, a_prev, p)


def test_sequence_functions_reject_bad_input():
    rng = np.random.default_rng(1)
    p = random_course_params(rng, "lstm", 3, 4, 2)
    x, a0 = rng.standard_normal((3, 2, 5)), rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(n_x, m, T_x\) = \(3, m, T_x\); got \(3, 2\)"):
        course.lstm_forward(x[:, :, 0], a0, p)
    with pytest.raises(ValueError, match=r"a0 must have shape \(n_a, m\) = \(4, 2\); got \(2, 4\)"):
        course.lstm_forward(x, a0.T, p)
    with pytest.raises(ValueError, match=r"parameters\['Wo'\] must have shape \(n_a, n_a \+ n_x\) = \(4, 7\)"):
        course.lstm_forward(x, a0, {**p, "Wo": p["Wo"][:, :6]})
    with pytest.raises(ValueError, match=r"n_x >= 1"):
        course.lstm_forward(x, a0, {**p, "Wf": p["Wf"][:, :4]})
    with pytest.raises(ValueError, match=r"missing \['Wr', 'br', 'Wu', 'bu'\], unexpected \['Wf', 'Wi', 'Wo', 'bf', 'bi', 'bo'\]"):
        course.gru_forward(x, a0, p)
    a, y, c, caches = course.lstm_forward(x, a0, p)
    with pytest.raises(ValueError, match=r"da must have shape \(n_a, m, T_x\) = \(4, 2, 5\); got \(4, 2, 4\)"):
        course.lstm_backward(a[:, :, :4], caches)
    with pytest.raises(ValueError, match=r"da holds NaN"):
        course.lstm_backward(a * np.nan, caches)
    with pytest.raises(ValueError, match=r"caches must be the \(list of per-step caches, x\) pair"):
        course.lstm_backward(a, caches[0])
    with pytest.raises(ValueError, match=r"one step cache per time step"):
        course.lstm_backward(a, (caches[0][:3], caches[1]))
    with pytest.raises(ValueError, match=r"cache must be the 10-tuple returned by lstm_cell_forward"):
        course.lstm_cell_backward(a0, a0, caches[0][0][:9])
    with pytest.raises(ValueError, match=r"dc_next must have shape \(n_a, m\) = \(4, 2\); got \(4, 1\)"):
        course.lstm_cell_backward(a0, a0[:, :1], caches[0][0])
    with pytest.raises(ValueError, match=r"caches\[0\] must be the 4-tuple returned by rnn_cell_forward"):
        course.rnn_backward(a, caches)


def test_conversions_reject_bad_parameters():
    rng = np.random.default_rng(2)
    p = random_course_params(rng, "gru", 3, 4, 2)
    e = course.to_engine_params(p, "gru")
    with pytest.raises(ValueError, match="cell must be rnn, lstm or gru"):
        course.to_engine_params(p, "transformer")
    with pytest.raises(ValueError, match=r"engine_params\['ba'\] must have shape \(G·H,\) = \(12,\); got \(12, 1\)"):
        course.to_course_params({**e, "ba": e["ba"][:, None]}, "gru")
    with pytest.raises(ValueError, match=r"engine_params\['Wax'\] must have shape \(G·H, D\) = \(16, 3\)"):
        course.to_course_params(e, "lstm")
    with pytest.raises(ValueError, match=r"engine_params: missing \['by'\]"):
        course.to_course_params({k: v for k, v in e.items() if k != "by"}, "gru")
    with pytest.raises(ValueError, match=r"parameters\['bc'\] holds NaN"):
        course.to_engine_params({**p, "bc": p["bc"] * np.nan}, "gru")


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    p = random_course_params(rng, "lstm", 2, 3, 2)
    x, a0 = rng.standard_normal((2, 2, 3)), rng.standard_normal((3, 2))
    before = {k: v.copy() for k, v in p.items()}, x.copy(), a0.copy()
    a, y, c, caches = course.lstm_forward(x, a0, p)
    course.lstm_backward(np.ones_like(a), caches)
    course.lstm_backward(np.ones_like(a), caches)      # caches survive a backward pass
    for k in p:
        np.testing.assert_array_equal(p[k], before[0][k])
    np.testing.assert_array_equal(x, before[1])
    np.testing.assert_array_equal(a0, before[2])
