"""The wavefront schedule (a thread per layer) gives the layer-by-layer passes' results, stops on
cancel and on errors, and leaves no thread or BLAS limit behind."""

import threading

import numpy as np
import pytest

from rnnviz.engine import Cancelled, Network, NetworkSpec, stack, wavefront
from rnnviz.engine.sequence import GATE_BLOCKS

CELLS = ["rnn", "lstm", "gru", "gru_torch"]


def random_stack(rng, cell, layers, D, H, dtype=np.float64):
    G = GATE_BLOCKS[cell]
    params = {}
    for layer in range(1, layers + 1):
        params[stack.layer_key("Wax", layer)] = rng.standard_normal((G * H, D if layer == 1 else H)) * 0.5
        params[stack.layer_key("Waa", layer)] = rng.standard_normal((G * H, H)) * 0.5
        params[stack.layer_key("ba", layer)] = rng.standard_normal(G * H) * 0.1
        if cell == "gru_torch":
            params[stack.layer_key("baa", layer)] = rng.standard_normal(H) * 0.1
    return {k: v.astype(dtype) for k, v in params.items()}


def random_state(rng, cell, layers, N, H):
    return {k: rng.standard_normal((N, H)) * 0.5 for k in stack.state_keys(cell, layers)}


def both_schedules(cell, layers, seed, tokens=False, many_to_one=False):
    """Forward and backward of one random stack, layer by layer and as a wavefront."""
    rng = np.random.default_rng(seed)
    T, N, D, H = (int(v) for v in rng.integers(2, 7, 4))
    params = random_stack(rng, cell, layers, D, H)
    x = rng.integers(0, D, (T, N)) if tokens else rng.standard_normal((T, N, D))
    state0 = random_state(rng, cell, layers, N, H)
    dA_out = None if many_to_one else rng.standard_normal((T, N, H))
    dA_last = rng.standard_normal((N, H)) if many_to_one else None
    runs = []
    for forward, backward in ((stack.forward_stack, stack.backward_stack),
                              (wavefront.forward_stack_wavefront, wavefront.backward_stack_wavefront)):
        A, final, caches = forward(params, cell, "tanh", layers, x, state0)
        A, final = A.copy(), {k: v.copy() for k, v in final.items()}
        states = [(c.A.copy(), None if c.C is None else c.C.copy()) for c in caches]
        grads = {k: np.full_like(v, np.nan) for k, v in params.items()}
        d0, a_norms, c_norms = backward(params, None if dA_out is None else dA_out.copy(),
                                        None if dA_last is None else dA_last.copy(), caches, grads)
        runs.append((A, final, states, grads, d0, a_norms, c_norms))
    return runs


def assert_close(a, b):
    assert np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0) <= 1e-12


@pytest.fixture(autouse=True)
def no_threads_left_behind():
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_wavefront_equals_layer_by_layer(cell, layers, seed):
    (A1, f1, s1, g1, d1, an1, cn1), (A2, f2, s2, g2, d2, an2, cn2) = both_schedules(
        cell, layers, seed, tokens=seed == 1, many_to_one=seed == 1 and cell != "gru")
    assert_close(A1, A2)
    assert f1.keys() == f2.keys() and list(d1) == list(d2) and g1.keys() == g2.keys()
    for k in f1:
        assert_close(f1[k], f2[k])
    for (a1, c1), (a2, c2) in zip(s1, s2):
        assert_close(a1, a2)
        if c1 is not None:
            assert_close(c1, c2)
    for k in g1:
        assert not np.isnan(g2[k]).any(), k
        assert_close(g1[k], g2[k])
    for k in d1:
        assert_close(d1[k], d2[k])
    for layer in range(layers):
        assert_close(an1[layer], an2[layer])
        if cell == "lstm":
            assert_close(cn1[layer], cn2[layer])
        else:
            assert cn2[layer] is None


@pytest.fixture
def wavefront_on(monkeypatch):
    """Every stack of two or more layers runs as a wavefront, even on one core."""
    monkeypatch.setattr(wavefront, "MIN_STEP", 0)
    monkeypatch.setattr(wavefront, "cores", lambda: 2)
    monkeypatch.setattr(wavefront, "blas_threads", lambda: 1)
    calls = []
    original = wavefront.forward_stack_wavefront
    monkeypatch.setattr(wavefront, "forward_stack_wavefront", lambda *a, **k: calls.append(1) or original(*a, **k))
    yield
    assert calls, "the wavefront never ran"


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("stop_after", [0, 3, 9])            # in the forward pass, or in BPTT
def test_cancel_stops_every_layer(wavefront_on, cell, stop_after):
    T, N = 6, 3
    net = Network.create(NetworkSpec(cell, 4, 5, 4, input_kind="tokens", layers=3), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 4, (T, N)), rng.integers(0, 4, (T, N))
    before = net.params.copy()
    polls = []

    def check():
        polls.append(threading.current_thread())
        return len(polls) > stop_after

    with net.cancellable(check), pytest.raises(Cancelled):
        net.loss_and_grads(x, y)
    assert len(polls) == stop_after + 1                          # the calling thread's checks only
    assert set(polls) == {threading.current_thread()}
    np.testing.assert_array_equal(net.params.flat, before.flat)
    net.loss_and_grads(x, y)                                     # and the network still trains


@pytest.mark.parametrize("failing_layer", [1, 2])
def test_an_error_in_any_layer_reaches_the_caller(monkeypatch, failing_layer):
    from rnnviz.engine import sequence
    D, H = 4, 5                                      # layer 1's Wax is (4H, D), the others' (4H, H)
    original = sequence.forward_steps

    def failing(params, cache, before_step):
        def before(t):
            if t == 2 and (params["Wax"].shape[1] == D) == (failing_layer == 1):
                raise FloatingPointError(f"layer {failing_layer} failed")
            before_step(t)
        return original(params, cache, before)

    monkeypatch.setattr(sequence, "forward_steps", failing)
    rng = np.random.default_rng(3)
    params, state0 = random_stack(rng, "lstm", 3, D, H), random_state(rng, "lstm", 3, 2, H)
    with pytest.raises(FloatingPointError, match=f"layer {failing_layer} failed"):
        wavefront.forward_stack_wavefront(params, "lstm", "tanh", 3, rng.standard_normal((5, 2, D)), state0)


def test_blas_threads_are_restored():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = lambda: [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]  # noqa: E731
    if not info():
        pytest.skip("threadpoolctl finds no BLAS library")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = info()
        both_schedules("lstm", 2, 5)
        assert info() == before


def test_chosen_only_where_it_helps(monkeypatch):
    monkeypatch.setattr(wavefront, "cores", lambda: 2)
    assert wavefront.applies("lstm", 2, 32, 256)
    assert not wavefront.applies("lstm", 1, 32, 256)             # one layer: nothing to overlap
    assert not wavefront.applies("lstm", 2, 1, 100)              # too little work per step
    assert not wavefront.applies("rnn", 2, 32, 256, 5000 * 32 * 256 * 8)   # the in-place RNN BPTT
    monkeypatch.setattr(wavefront, "cores", lambda: 1)
    assert not wavefront.applies("lstm", 2, 32, 256)
    monkeypatch.setattr(wavefront, "cores", lambda: 2)
    monkeypatch.setattr(wavefront, "blas_threads", lambda: 1)
    assert wavefront.chosen("lstm", 2, 32, 256)
    monkeypatch.setattr(wavefront, "blas_threads", lambda: 2)    # threaded products beat it then
    assert not wavefront.chosen("lstm", 2, 32, 256)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("many_to_one", [False, True])
def test_gradients_through_the_wavefront_match_finite_differences(wavefront_on, cell, many_to_one):
    """Centred differences in float64 on seeded random shapes, every parameter and initial state.
    (tests/engine/test_stacked*.py pass with the wavefront forced too: see benchmarks/README.md.)"""
    from rnnviz.engine import gradcheck
    rng = np.random.default_rng(11 + CELLS.index(cell) + 4 * many_to_one)
    T, N, D, H, K = 4, 3, 3, 4, 3
    net = Network.create(NetworkSpec(cell, D, H, K, input_kind="dense", many_to_one=many_to_one, layers=3),
                         rng, "xavier")
    for v in net.params.values():
        v += 0.1 * rng.standard_normal(v.shape)
    x = rng.standard_normal((T, N, D))
    y = rng.integers(0, K, (N,) if many_to_one else (T, N))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    report = gradcheck(net, x, y, state0)
    assert max(report.values()) < 1e-6, report
