"""Stacked layers (``NetworkSpec.layers``): BPTT through depth and time against centred finite
differences (float64, seeded random shapes), on every cell, readout, input kind and BPTT path;
truncated BPTT carrying every layer's state; names, validation, sampling through the stack."""

import zlib

import numpy as np
import pytest

from engine_testing import stack_problem
from rnnviz.engine import Network, NetworkSpec, gradcheck, sample, sequence, truncated_bptt
from rnnviz.engine.gradcheck import numeric_grad

TOL = 1e-6
CELLS = ["rnn", "lstm", "gru", "gru_torch"]


make_problem = stack_problem


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("many_to_one", [False, True])
@pytest.mark.parametrize("input_kind", ["dense", "tokens"])
def test_every_parameter_and_initial_state(cell, layers, many_to_one, input_kind):
    rng = np.random.default_rng(zlib.crc32(f"{cell}-{layers}-{many_to_one}-{input_kind}".encode()))
    net, x, y, state0, mask = make_problem(rng, cell, layers, many_to_one, input_kind)
    report = gradcheck(net, x, y, state0, mask)
    assert set(report) == set(net.params) | {f"state0.{k}" for k in state0}
    assert f"Waa[{layers}]" in report and f"state0.a[{layers}]" in report
    assert max(report.values()) < TOL, report


@pytest.mark.parametrize("activation,h", [("relu", 1e-5), ("sigmoid", 1e-3)])
@pytest.mark.parametrize("layers", [2, 3])
def test_rnn_activations(activation, h, layers):
    rng = np.random.default_rng(17 + layers)
    net, x, y, state0, mask = make_problem(rng, "rnn", layers, False, "dense", activation)
    report = gradcheck(net, x, y, state0, mask, h=h)
    assert max(report.values()) < TOL, report


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("path", ["step kernels", "in place"])
def test_every_bptt_path(monkeypatch, cell, path):
    """The step kernels of cells.py (the factored path switched off) and the vanilla RNN's in-place
    BPTT of large problems, forced on small ones: each layer's dx is taken before its cache is lost."""
    monkeypatch.setattr(sequence, "FACTORED_BPTT_MAX_STEP", 0)
    if path == "in place":
        monkeypatch.setattr(sequence, "SEPARATE_DZ_BYTES", 0)
    rng = np.random.default_rng(zlib.crc32(f"{cell}-{path}".encode()))
    net, x, y, state0, mask = make_problem(rng, cell, 3, False, "tokens", readout="linear")
    report = gradcheck(net, x, y, state0, mask)
    assert max(report.values()) < TOL, report


@pytest.mark.parametrize("cell", CELLS)
def test_truncated_bptt_carries_every_layers_state(cell):
    """Chunked BPTT of a 2-layer network = the sum over chunks of each chunk's gradient with the
    start state of both layers held fixed; the final state is both layers' after the whole text."""
    rng = np.random.default_rng(zlib.crc32(cell.encode()))
    T, N, D, H, K, chunk = 7, 2, 3, 4, 3, 3
    net = Network.create(NetworkSpec(cell, D, H, K, input_kind="tokens", reduction="sum", layers=2), rng)
    for v in net.params.values():
        v += 0.1 * rng.standard_normal(v.shape)
    x, y = rng.integers(0, D, (T, N)), rng.integers(0, K, (T, N))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    loss, grads, final = truncated_bptt(net, x, y, chunk, state0)
    starts, state = [], state0
    for s in range(0, T, chunk):
        starts.append(state)
        state = net.forward(x[s:s + chunk], state).final_state
    assert set(final) == set(net.spec.state_keys) and "a[2]" in final
    for k in final:
        np.testing.assert_array_equal(final[k], state[k])

    def chunked_loss():
        return sum(net.loss(x[s:s + chunk], y[s:s + chunk], st) for s, st in zip(range(0, T, chunk), starts))

    assert loss == pytest.approx(chunked_loss(), rel=1e-12)
    for name, arr in net.params.items():
        _, num = numeric_grad(chunked_loss, arr)
        # relative to TOL, or within 1e-11 absolute: the stencil's own error is about 1e-12
        np.testing.assert_allclose(grads[name].ravel(), num, rtol=TOL, atol=1e-11, err_msg=name)
    # the upper layer's carried state matters: the same chunks from zeros give another loss
    zero_upper = [None if st is None else {**st, **{k: 0 * v for k, v in st.items() if k.endswith("[2]")}}
                  for st in starts]
    assert sum(net.loss(x[s:s + chunk], y[s:s + chunk], st)
               for s, st in zip(range(0, T, chunk), zero_upper)) != pytest.approx(loss, rel=1e-9)


def test_layer_gradient_norms_match_finite_differences():
    """layer_grad_a_norms[l-1, t] = ||dL/da[l]<t>||, every path through depth and time: checked by
    perturbing a[1]<t> (which feeds a[2]<t> and a[1]<t+1>) or a[2]<t> (the readout at t and
    a[2]<t+1>) and running the rest of the network from there."""
    rng = np.random.default_rng(8)
    T, N, D, H, K = 4, 2, 3, 3, 2
    net = Network.create(NetworkSpec("lstm", D, H, K, reduction="sum", layers=2), rng)
    x, y = rng.standard_normal((T, N, D)), rng.integers(0, K, (T, N))
    _, _, res = net.loss_and_grads(x, y)
    assert res.layer_grad_a_norms.shape == res.layer_grad_c_norms.shape == (2, T)
    np.testing.assert_array_equal(res.grad_a_norms, res.layer_grad_a_norms[0])
    np.testing.assert_array_equal(res.grad_c_norms, res.layer_grad_c_norms[0])
    p = net.params
    lower = {n: p[n] for n in ("Wax", "Waa", "ba")}
    upper = {n: p[n + "[2]"] for n in ("Wax", "Waa", "ba")}
    s = net.forward(x).states
    zero = np.zeros((N, H))

    def run_from(t, a1, a2):
        """The loss of steps t … T-1 with a[1]<t> = a1 (None: as computed) or a[2]<t> = a2."""
        a1 = s["a"][t] if a1 is None else a1
        if a2 is None:                              # layer 2's step t reads a[1]<t>
            before = {"a": s["a[2]"][t - 1], "c": s["c[2]"][t - 1]} if t else {"a": zero, "c": zero}
            _, upper_t, _ = sequence.forward_sequence(upper, "lstm", "tanh", a1[None], before)
        else:
            upper_t = {"a": a2, "c": s["c[2]"][t]}
        tops = [upper_t["a"]]
        if t < T - 1:
            A1 = sequence.forward_sequence(lower, "lstm", "tanh", x[t + 1:], {"a": a1, "c": s["c"][t]})[0]
            tops += list(sequence.forward_sequence(upper, "lstm", "tanh", A1[1:], upper_t)[0][1:])
        z = np.stack(tops) @ p["Wya"].T + p["by"]                               # (T-t, N, K)
        z = z - z.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return -np.take_along_axis(logp, y[t:, :, None], -1).sum() / N

    for t in range(T):
        a1, a2 = s["a"][t].copy(), s["a[2]"][t].copy()
        _, num1 = numeric_grad(lambda: run_from(t, a1, None), a1)
        _, num2 = numeric_grad(lambda: run_from(t, None, a2), a2)
        assert res.layer_grad_a_norms[0, t] == pytest.approx(np.linalg.norm(num1), rel=1e-7)
        assert res.layer_grad_a_norms[1, t] == pytest.approx(np.linalg.norm(num2), rel=1e-7)


def test_names_shapes_and_validation():
    spec = NetworkSpec("gru_torch", 5, 4, 3, layers=3)
    shapes = spec.param_shapes()
    assert list(shapes) == ["Wax", "Waa", "ba", "baa", "Wax[2]", "Waa[2]", "ba[2]", "baa[2]",
                            "Wax[3]", "Waa[3]", "ba[3]", "baa[3]", "Wya", "by"]
    assert shapes["Wax"] == (12, 5) and shapes["Wax[2]"] == shapes["Wax[3]"] == (12, 4)
    assert NetworkSpec("lstm", 5, 4, 3, layers=2).state_keys == ("a", "c", "a[2]", "c[2]")
    assert list(NetworkSpec("rnn", 5, 4, 3).param_shapes()) == ["Wax", "Waa", "ba", "Wya", "by"]
    for bad in (0, 5, 2.0, True):
        with pytest.raises(ValueError, match="layers must be a whole number from 1 to 4"):
            NetworkSpec("rnn", 5, 4, 3, layers=bad)
    net = Network.create(NetworkSpec("lstm", 3, 4, 2, layers=2), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"state0 must be a dict with keys \['a', 'c', 'a\[2\]', 'c\[2\]'\]"):
        net.forward(np.zeros((2, 1, 3)), {"a": np.zeros((1, 4)), "c": np.zeros((1, 4))})


@pytest.mark.parametrize("init", ["small", "xavier", "orthogonal", "identity", "uniform"])
def test_layer_one_and_readout_start_as_a_one_layer_networks(init):
    """The same seed gives layer 1 and the readout of a stacked network the weights a one-layer
    network gets (the upper layers draw afterwards), so adding a layer changes only what it adds."""
    one = Network.create(NetworkSpec("lstm", 3, 4, 2), np.random.default_rng(5), init)
    two = Network.create(NetworkSpec("lstm", 3, 4, 2, layers=2), np.random.default_rng(5), init)
    for name in one.params:
        np.testing.assert_array_equal(one.params[name], two.params[name])
    assert two.params["Wax[2]"].shape == (16, 4)
    assert two.params["ba[2]"][:4].tolist() == [1.0] * 4         # the forget bias, every layer


@pytest.mark.parametrize("cell", CELLS)
def test_sampling_runs_the_whole_stack(cell):
    """Greedy sampling feeds each token back through every layer: its tokens are the argmax of a
    forward pass over them, and its state is every layer's after them."""
    rng = np.random.default_rng(2)
    net = Network.create(NetworkSpec(cell, 6, 5, 6, input_kind="tokens", layers=3), rng, "xavier")
    tokens, state = sample(net, None, 1, 8, rng, greedy=True)
    res = net.forward(np.array([1] + tokens[:-1])[:, None])
    assert tokens == res.outputs[:, 0].argmax(-1).tolist()
    assert set(state) == set(net.spec.state_keys)
    for k in state:
        np.testing.assert_allclose(state[k], res.final_state[k], rtol=0, atol=1e-14)
