"""The trainer: steps, live settings, evaluation isolation, refusal of non-finite steps, resume."""

import contextlib
import math
import warnings

import numpy as np
import pytest

from rnnviz.engine import Network
from rnnviz.training import LIVE_FIELDS, Config, Trainer

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def small(task="parity", **kw):
    base = dict(task=task, seq_length=6, n_train=64, n_test=32, hidden=8, batch_size=0,
                optimizer="sgd", lr=0.5, clip_mode="none", cell="rnn")
    if task != "parity":
        base.update(batch_size=4)
    if task == "charlm":
        base.update(seq_length=10, optimizer="adagrad", lr=0.1, clip_mode="value", reduction="sum")
    if task == "addition":
        base.update(n_bits=6)
    if task == "copy":
        base.update(seq_length=4, copy_length=3, n_symbols=4)
    base.update(kw)
    return Config(**base)


def make(task="parity", **kw):
    return Trainer(small(task, **kw), corpus_text=TEXT if task == "charlm" else None)


def params_equal(a, b):
    return all(np.array_equal(a.network.params[k], b.network.params[k]) for k in a.network.params)


@pytest.mark.parametrize("task", ["parity", "addition", "charlm", "copy", "adding"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_reports_loss_and_diagnostics(task, cell):
    t = make(task, cell=cell)
    r = t.step()
    assert r.step == 1 and t.step_count == 1 and r.refused is None
    assert math.isfinite(r.loss) and r.loss > 0
    T = t.task.probe_input()[0].shape[0] if task != "charlm" else t.config.seq_length
    assert r.grad_a_norms.shape == (T,) and np.isfinite(r.grad_a_norms).all()
    assert (r.grad_c_norms is not None) == (cell == "lstm")
    assert set(r.param_grad_norms) == {"Wax", "Waa", "ba", "Wya", "by"}
    assert set(t.update_ratios()) == set(r.param_grad_norms)
    probe = t.probe()
    assert "hidden a<t>" in probe.states
    for name, arr in probe.states.items():
        assert arr.shape[0] == t.config.hidden and arr.shape[1] == len(probe.labels)
        lo, hi = probe.ranges[name]
        assert lo < hi
    assert probe.spectral_radius > 0


def test_equal_seeds_give_identical_runs_and_different_seeds_differ():
    a, b, c = make("charlm"), make("charlm"), make("charlm", seed=1)
    for _ in range(5):
        ra, rb, rc = a.step(), b.step(), c.step()
    assert ra.loss == rb.loss and params_equal(a, b)
    assert rc.loss != ra.loss and not params_equal(a, c)


def test_evaluation_and_sampling_do_not_disturb_training():
    a, b = make("charlm"), make("charlm")
    for i in range(6):
        a.step()
        b.step()
        b.evaluate()
        b.probe()
        b.examples(2)
        b.sample(length=20, seed=3)
    assert params_equal(a, b)
    assert a.step().loss == b.step().loss


def test_live_learning_rate_reaches_optimizer_and_is_recorded():
    t = make("parity")
    t.step()
    t.set_live(lr=0.01)
    assert t.optimizer.hyper["lr"] == 0.01 and t.config.lr == 0.01
    assert t.history.setting_changes == [(1, "lr", 0.5, 0.01)]
    before = {k: v.copy() for k, v in t.network.params.items()}
    batch = t.task.train_batch()          # parity's full batch: the same batch every step
    _, grads, _ = t.network.loss_and_grads(batch.x, batch.y, None, batch.mask)
    grads = {k: v.copy() for k, v in grads.items()}
    t.step()
    # plain SGD, no clipping: the update is exactly -lr * gradient, at the new learning rate
    assert t.update_ratios()["Waa"] > 0
    for k in before:
        assert np.allclose(t.network.params[k] - before[k], -0.01 * grads[k], rtol=1e-12, atol=1e-15)


def test_adam_updates_follow_kingma_and_ba():
    """Three Adam steps on parity's full batch against the textbook update written out here:
    m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g², W -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps),
    with each step's gradient computed separately at the weights that step reads."""
    lr, b1, b2, eps = 0.02, 0.8, 0.95, 1e-3           # not the defaults, so a swapped one shows
    t = make("parity", optimizer="adam", lr=lr, beta1=b1, beta2=b2, eps=eps)
    batch = t.task.train_batch()                       # parity's full batch: the same every step
    m = {k: np.zeros_like(v) for k, v in t.network.params.items()}
    v = {k: np.zeros_like(w) for k, w in t.network.params.items()}
    for step in range(1, 4):
        before = {k: w.copy() for k, w in t.network.params.items()}
        _, grads, _ = t.network.loss_and_grads(batch.x, batch.y, None, batch.mask)
        grads = {k: g.copy() for k, g in grads.items()}
        t.step()
        for k, g in grads.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            expected = -lr * (m[k] / (1 - b1 ** step)) / (np.sqrt(v[k] / (1 - b2 ** step)) + eps)
            np.testing.assert_allclose(t.network.params[k] - before[k], expected, rtol=1e-9, atol=1e-15,
                                       err_msg=f"step {step}, {k}")


def test_reset_settings_are_refused_live():
    t = make("parity")
    with pytest.raises(ValueError, match="hidden.*reset"):
        t.set_live(hidden=16)
    assert "hidden" not in LIVE_FIELDS and "lr" in LIVE_FIELDS
    with pytest.raises(ValueError, match="lr"):
        t.set_live(lr=-1.0)
    assert t.config.lr == 0.5


def test_switching_optimizer_live_starts_fresh_state():
    t = make("parity")
    t.step()
    t.set_live(optimizer="adam", lr=0.01)
    assert type(t.optimizer).__name__ == "Adam" and t.optimizer.t == 0
    t.step()
    assert t.optimizer.t == 1


def test_non_finite_step_is_refused_and_training_can_continue():
    t = make("parity", lr=0.5, activation="relu")
    t.step()
    t.set_live(lr=1e300)
    snapshots = []
    for _ in range(5):
        snapshots.append({k: v.copy() for k, v in t.network.params.items()})
        steps_before = t.step_count
        r = t.step()
        if r.refused:
            break
    assert r.refused and any(w in r.refused for w in ("non-finite", "not finite", "overflow"))
    assert t.step_count == steps_before
    # the weights are the last ones whose loss was finite: those before the latest update
    last_good = snapshots[-2] if "overflow" not in r.refused else snapshots[-1]
    for k, v in last_good.items():
        np.testing.assert_array_equal(t.network.params[k], v)
    assert math.isfinite(t.network.loss(*_first_batch(t)))
    t.set_live(lr=1e-3)
    r = t.step()
    assert r.refused is None and t.step_count == steps_before + 1 and math.isfinite(r.loss)


def _first_batch(t):
    b = t.task.test_batches()[0]
    return b.x, b.y


def test_charlm_smoothed_loss_follows_min_char_rnn():
    t = make("charlm")
    V, T = t.task.output_size, t.config.seq_length
    s = -math.log(1.0 / V) * T
    assert t.smooth_loss == pytest.approx(s)
    for _ in range(3):
        r = t.step()
        s = 0.999 * s + 0.001 * r.loss     # reduction "sum": the loss is the chunk's sum
        assert r.smooth_loss == pytest.approx(s, rel=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_charlm_chunk_starts_from_the_previous_chunks_final_state(monkeypatch, cell):
    """What each step's pass starts from, as the network receives it, against a chain of states
    computed here: the previous chunk's x run through ``forward`` with the weights that step read,
    from the previous start state (zeros after a reset)."""
    text = "".join(np.random.default_rng(0).choice(list("abcdefgh .,"), 1500))   # streams differ
    t = Trainer(small("charlm", cell=cell, batch_size=2), corpus_text=text)
    net = t.network
    batches, starts = [], []
    original_batch, original_pass = t.task.train_batch, net.loss_and_grads

    def recording_batch():
        batches.append(original_batch())
        return batches[-1]

    def recording_pass(x, y, state0=None, mask=None, out=None):
        starts.append(None if state0 is None else {k: np.array(v) for k, v in state0.items()})
        return original_pass(x, y, state0, mask, out=out)

    monkeypatch.setattr(t.task, "train_batch", recording_batch)
    monkeypatch.setattr(net, "loss_and_grads", recording_pass)
    expected, carried = None, 0
    for step in range(12):
        weights = Network(t.spec, {k: v.copy() for k, v in net.params.items()})   # what this step reads
        assert t.step().refused is None
        batch, start = batches[step], starts[step]
        if batch.reset_state:
            expected = None
        if expected is None:
            assert start is None or all(not v.any() for v in start.values()), f"step {step + 1}"
        else:
            carried += 1
            assert start is not None and set(start) == set(expected), f"step {step + 1}"
            for k in expected:
                np.testing.assert_allclose(start[k], expected[k], rtol=1e-13, atol=1e-15,
                                           err_msg=f"step {step + 1}, {k}")
        expected = weights.forward(batch.x, expected).final_state
        assert np.abs(expected["a"]).max() > 1e-3            # a state that zeros could not pass for
    assert carried >= 10


@pytest.mark.parametrize("task", ["parity", "charlm", "copy"])
def test_state_dict_resumes_exactly(task):
    a = make(task, optimizer="adam", lr=0.01)
    for _ in range(3):
        a.step()
    b = Trainer.from_state_dict(a.state_dict(), corpus_text=TEXT if task == "charlm" else None)
    la = [a.step().loss for _ in range(4)]
    lb = [b.step().loss for _ in range(4)]
    assert la == lb and params_equal(a, b)
    if task == "charlm":
        assert a.sample(length=30) == b.sample(length=30)


def test_state_dict_with_wrong_shapes_is_rejected():
    a = make("parity")
    state = a.state_dict()
    state["params"]["Waa"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match="Waa"):
        Trainer.from_state_dict(state)
    with pytest.raises(ValueError):
        Trainer.from_state_dict({"format": 1})


def test_history_bounds_gradient_rows_but_keeps_every_loss():
    t = make("parity")
    t.history.max_rows = 8
    for _ in range(40):
        t.step()
    h = t.history
    assert len(h.loss) == 40 and list(h.steps) == list(range(1, 41))
    assert len(h.grad_steps) <= 8 and h.grad_a_norms.shape[0] == len(h.grad_steps)
    assert all(s % h.stride == 0 for s in h.grad_steps)


def test_sample_rejects_unknown_characters_and_non_charlm():
    t = make("charlm")
    with pytest.raises(ValueError, match="never saw"):
        t.sample(prime="Z€")
    assert t.sample(prime="the ", length=10, seed=1).startswith("the ")
    assert t.sample(prime="the ", length=10, seed=1) == t.sample(prime="the ", length=10, seed=1)
    with pytest.raises(ValueError, match="charlm"):
        make("parity").sample()


def test_addition_preset_learns_within_its_budget():
    """The second tutorial's setting: >= 95% of 1,000 held-out sums fully right in 10,000 steps."""
    from rnnviz.training.presets import load_preset
    preset = load_preset("addition")
    t = Trainer(preset.config)
    assert preset.steps == 10_000 and preset.config.n_test == 1000
    for _ in range(preset.steps):
        t.step()
    assert t.evaluate()["sum_accuracy"] >= 0.95


def test_parity_short_preset_reaches_full_test_accuracy():
    """With 8 bits the vanilla RNN learns parity exactly (the preset's Adam, 400 of its steps)."""
    from rnnviz.training.presets import load_preset
    t = Trainer(load_preset("parity-short").config)
    for _ in range(400):
        t.step()
    assert t.evaluate()["accuracy"] == 1.0


def test_forget_bias_sets_the_lstm_forget_gate_and_only_it():
    t = make("parity", cell="lstm", forget_bias=3.0)
    H = t.config.hidden
    ba = t.network.params["ba"]
    assert np.all(ba[:H] == 3.0) and np.all(ba[H:] == 0.0)
    default = make("parity", cell="lstm")
    assert np.all(default.network.params["ba"][:H] == 1.0)
    # the other weights are drawn alike: the bias is the only difference
    for k in ("Wax", "Waa", "Wya"):
        np.testing.assert_array_equal(t.network.params[k], default.network.params[k])
    with pytest.raises(ValueError, match="forget_bias"):
        Config().replace(forget_bias=float("nan"))


def test_a_diverging_run_is_refused_quietly_with_or_without_running():
    """Overflow is reported by the refused step, never as numpy RuntimeWarnings, whether the caller
    wraps its loop in ``Trainer.running()`` (as the command line and window do) or not; and the
    steps are the same either way."""
    results = {}
    for wrapped in (False, True):
        t = make("parity", lr=0.5, activation="relu")
        t.step()
        t.set_live(lr=1e300)
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # any RuntimeWarning fails the test
            with t.running() if wrapped else contextlib.nullcontext():
                refused = [t.step().refused for _ in range(5)]
        assert any(refused)
        results[wrapped] = (refused, {k: v.copy() for k, v in t.network.params.items()})
    assert results[False][0] == results[True][0]
    for k, v in results[False][1].items():
        np.testing.assert_array_equal(results[True][1][k], v)
    assert np.geterr()["over"] == "warn"            # the error mode is back as it was
