"""Consecutive training passes of a small vanilla RNN.

What a user relies on: every call gives what a fresh network would give, and nothing a call
returned changes when the next call runs.
"""

import numpy as np
import pytest

from rnnviz.engine import Cancelled, Network, NetworkSpec, gradcheck, sequence
from rnnviz.engine.flat import ALIGN, FlatDict

SPECS = {
    "tokens, softmax, sum": NetworkSpec("rnn", 7, 5, 7, input_kind="tokens", reduction="sum"),
    "dense, sigmoid, mean": NetworkSpec("rnn", 3, 4, 2, readout="sigmoid"),
    "tokens, many-to-one": NetworkSpec("rnn", 6, 5, 3, input_kind="tokens", many_to_one=True),
    "relu, float32": NetworkSpec("rnn", 6, 5, 6, input_kind="tokens", activation="relu", dtype="float32"),
}


def batch(spec, T, N, rng):
    x = (rng.integers(0, spec.input_size, (T, N)) if spec.input_kind == "tokens"
         else rng.standard_normal((T, N, spec.input_size)))
    lead = (N,) if spec.many_to_one else (T, N)
    y = (rng.integers(0, spec.output_size, lead) if spec.readout == "softmax"
         else rng.integers(0, 2, lead + (spec.output_size,)).astype(float))
    return x, y


def snapshot(loss, grads, res):
    return (loss, grads.flat.copy(), res.outputs.copy(), res.final_state["a"].copy(),
            res.grad_a_norms.copy(), res.grad_state0["a"].copy())


def assert_same(a, b):
    assert a[0] == b[0]
    for u, v in zip(a[1:], b[1:]):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("name", SPECS)
def test_repeated_passes_equal_a_fresh_networks_and_leave_earlier_results_alone(name):
    spec = SPECS[name]
    params = Network.create(spec, np.random.default_rng(0)).params
    net = Network(spec, params)
    rng = np.random.default_rng(1)
    # the same shape twice (the workspace is reused), then another length, then the first again
    shapes = [(6, 1), (6, 1), (4, 1), (6, 2), (6, 1)]
    kept = []
    state = None
    for T, N in shapes:
        x, y = batch(spec, T, N, rng)
        s0 = None if state is None or state["a"].shape[0] != N else state
        out = net.loss_and_grads(x, y, s0)
        fresh = Network(spec, params).loss_and_grads(x, y, s0)
        assert_same(snapshot(*out), snapshot(*fresh))
        kept.append((out, snapshot(*out)))
        state = out[2].final_state
        assert net.loss(x, y, s0) == out[0]
    for out, snap in kept:          # what each call returned is still what it was
        assert_same(snapshot(*out), snap)


def test_a_cancelled_pass_does_not_spoil_the_next_one():
    spec = SPECS["tokens, softmax, sum"]
    net = Network.create(spec, np.random.default_rng(0))
    x, y = batch(spec, 9, 1, np.random.default_rng(3))
    expected = snapshot(*net.loss_and_grads(x, y))
    for stop_after in (3, 12):              # in the forward pass, in BPTT
        polls = []
        with net.cancellable(lambda: polls.append(0) or len(polls) > stop_after):
            with pytest.raises(Cancelled):
                net.loss_and_grads(x, y)
        assert_same(snapshot(*net.loss_and_grads(x, y)), expected)


def test_flat_buffers_start_on_a_cache_line():
    layout = Network.create(SPECS["relu, float32"], np.random.default_rng(0)).params.layout
    for _ in range(20):
        d = FlatDict.empty(layout, np.float32)
        assert d.flat.ctypes.data % ALIGN == 0
        assert d.flat.flags.c_contiguous and d.flat.flags.writeable


def test_gradients_written_into_a_kept_buffer_equal_new_ones():
    spec = SPECS["tokens, softmax, sum"]
    net = Network.create(spec, np.random.default_rng(0))
    buf = net.empty_grads()
    rng = np.random.default_rng(4)
    for T in (5, 5, 3):
        x, y = batch(spec, T, 2, rng)
        loss, grads, _ = net.loss_and_grads(x, y, out=buf)
        assert grads is buf
        expected = net.loss_and_grads(x, y)[1]
        np.testing.assert_array_equal(buf.flat, expected.flat)


@pytest.mark.parametrize("bad", ["params", "other layout", "float32", "dict"])
def test_a_gradient_buffer_that_does_not_fit_is_refused(bad):
    spec = SPECS["tokens, softmax, sum"]
    net = Network.create(spec, np.random.default_rng(0))
    out = {"params": net.params,
           "other layout": Network.create(SPECS["dense, sigmoid, mean"], np.random.default_rng(0)).empty_grads(),
           "float32": FlatDict.empty(net.params.layout, np.float32),
           "dict": {k: np.zeros_like(v) for k, v in net.params.items()}}[bad]
    before = net.params.flat.copy()
    x, y = batch(spec, 4, 1, np.random.default_rng(5))
    with pytest.raises(ValueError, match="out must be"):
        net.loss_and_grads(x, y, out=out)
    np.testing.assert_array_equal(net.params.flat, before)


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_a_copied_network_computes_what_the_original_does(how):
    import copy
    import pickle

    spec = SPECS["tokens, softmax, sum"]
    net = Network.create(spec, np.random.default_rng(0))
    x, y = batch(spec, 6, 1, np.random.default_rng(6))
    expected = snapshot(*net.loss_and_grads(x, y))          # leaves a workspace in net
    twin = {"copy": copy.copy, "deepcopy": copy.deepcopy,
            "pickle": lambda n: pickle.loads(pickle.dumps(n))}[how](net)
    assert_same(snapshot(*twin.loss_and_grads(x, y)), expected)
    assert_same(snapshot(*net.loss_and_grads(x, y)), expected)


@pytest.mark.parametrize("name", SPECS)
def test_the_plain_step_kernels_give_the_same_results_and_pass_the_gradient_check(monkeypatch, name):
    """With the factored fast path switched off (sequence.FACTORED_BPTT_MAX_STEP = 0) BPTT runs the step
    kernels of cells.py: that path agrees with the fast one and with finite differences."""
    spec = SPECS[name]
    net = Network.create(spec, np.random.default_rng(0), "xavier")
    rng = np.random.default_rng(7)
    x, y = batch(spec, 5, 3, rng)
    state0 = {"a": 0.5 * rng.standard_normal((3, spec.hidden_size))}
    with_ws = snapshot(*net.loss_and_grads(x, y, state0))
    monkeypatch.setattr(sequence, "FACTORED_BPTT_MAX_STEP", 0)
    without = snapshot(*Network(spec, net.params).loss_and_grads(x, y, state0))
    assert without[0] == pytest.approx(with_ws[0], rel=1e-12)
    for u, v in zip(with_ws[1:], without[1:]):
        np.testing.assert_allclose(u, v, rtol=1e-9 if spec.dtype == "float64" else 1e-4, atol=1e-12)
    if spec.dtype == "float64":
        report = gradcheck(Network(spec, net.params), x, y, state0)
        assert max(report.values()) < 1e-6, report
