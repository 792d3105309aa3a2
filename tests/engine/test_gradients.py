"""Every backward pass against centred finite differences (float64, seeded random shapes)."""

import zlib

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec, gradcheck, truncated_bptt
from rnnviz.engine.gradcheck import numeric_grad, relative_error

TOL = 1e-6
READOUTS = [("softmax", False), ("sigmoid", False), ("linear", False),
            ("softmax", True), ("sigmoid", True), ("linear", True)]


def make_problem(rng, cell, readout, many_to_one, input_kind, reduction, activation="tanh",
                 masked=True):
    T, N = int(rng.integers(2, 6)), int(rng.integers(1, 4))
    D, H, K = int(rng.integers(2, 5)), int(rng.integers(2, 6)), int(rng.integers(2, 4))
    spec = NetworkSpec(cell, D, H, K, input_kind=input_kind, activation=activation, readout=readout,
                       many_to_one=many_to_one, reduction=reduction)
    net = Network.create(spec, rng, "xavier")
    for v in net.params.values():      # non-zero biases so every term is exercised
        v += 0.1 * rng.standard_normal(v.shape)
    x = rng.integers(0, D, (T, N)) if input_kind == "tokens" else rng.standard_normal((T, N, D))
    lead = (N,) if many_to_one else (T, N)
    if readout == "softmax":
        y = rng.integers(0, K, lead)
    elif readout == "sigmoid":
        y = rng.random(lead + (K,))
    else:
        y = rng.standard_normal(lead + (K,))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    mask = None
    if masked and not many_to_one:
        mask = rng.random(T).round(1)
        mask[0] = 1.0
    return net, x, y, state0, mask


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_torch"])
@pytest.mark.parametrize("readout,many_to_one", READOUTS)
@pytest.mark.parametrize("input_kind", ["dense", "tokens"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_every_cell_readout_and_reduction(cell, readout, many_to_one, input_kind, reduction):
    seed = zlib.crc32(f"{cell}-{readout}-{many_to_one}-{input_kind}-{reduction}".encode())
    rng = np.random.default_rng(seed)
    net, x, y, state0, mask = make_problem(rng, cell, readout, many_to_one, input_kind, reduction)
    report = gradcheck(net, x, y, state0, mask)
    assert set(report) == set(net.params) | {f"state0.{k}" for k in state0}
    assert ("baa" in report) == (cell == "gru_torch")
    assert max(report.values()) < TOL, report


@pytest.mark.parametrize("activation,h", [("relu", 1e-5), ("sigmoid", 1e-3)])
def test_rnn_activations(activation, h):
    rng = np.random.default_rng(11)
    net, x, y, state0, mask = make_problem(rng, "rnn", "softmax", False, "dense", "sum", activation)
    # keep ReLU pre-activations away from the kink the stencil would straddle
    report = gradcheck(net, x, y, state0, mask, h=h)
    assert max(report.values()) < TOL, report


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_torch"])
def test_truncated_bptt_carries_state_but_not_gradient(cell):
    """Chunked BPTT = sum over chunks of each chunk's gradient with its start state held fixed."""
    rng = np.random.default_rng(3)
    T, N, D, H, K, chunk = 7, 2, 3, 4, 3, 3
    spec = NetworkSpec(cell, D, H, K, input_kind="tokens", reduction="sum")
    net = Network.create(spec, rng, "xavier")
    x, y = rng.integers(0, D, (T, N)), rng.integers(0, K, (T, N))
    loss, grads, final = truncated_bptt(net, x, y, chunk)
    # the start state of each chunk, from the unperturbed forward pass, held constant
    starts, state = [], None
    for s in range(0, T, chunk):
        starts.append(state)
        state = net.forward(x[s:s + chunk], state).final_state
    for k in final:
        np.testing.assert_array_equal(final[k], state[k])

    def chunked_loss():
        return sum(net.loss(x[s:s + chunk], y[s:s + chunk], st)
                   for s, st in zip(range(0, T, chunk), starts))

    assert loss == pytest.approx(chunked_loss(), rel=1e-12)
    for name, arr in net.params.items():
        _, num = numeric_grad(chunked_loss, arr)
        assert relative_error(grads[name].ravel(), num).max() < TOL, name
    # and it is not the full-sequence gradient: the carried state's path is cut
    _, full, _ = net.loss_and_grads(x, y)
    assert not np.allclose(full["Waa"], grads["Waa"])


def test_initial_state_gradient_feeds_previous_chunk():
    """dL/da<0> is what a longer BPTT would pass back into the previous chunk."""
    rng = np.random.default_rng(4)
    spec = NetworkSpec("lstm", 3, 4, 2, readout="softmax", reduction="sum")
    net = Network.create(spec, rng)
    x, y = rng.standard_normal((6, 2, 3)), rng.integers(0, 2, (6, 2))
    first = net.forward(x[:3])
    _, _, res_tail = net.loss_and_grads(x[3:], y[3:], first.final_state)
    # the full run's gradient on the states at t=3 equals the tail's dL/dstate0 when only the tail has loss
    mask = np.array([0, 0, 0, 1, 1, 1.0])
    _, _, res_full = net.loss_and_grads(x, y, None, mask)
    # ||dL/da<t>|| at t = 2 (the last step of the head) is the norm of the tail's dL/da0
    assert res_full.grad_a_norms[2] == pytest.approx(np.linalg.norm(res_tail.grad_state0["a"]), rel=1e-10)


def test_grad_norms_per_time_step_match_finite_differences():
    """grad_a_norms[t] is ||dL/da<t>|| counting every path; checked by perturbing a<t> directly."""
    rng = np.random.default_rng(5)
    spec = NetworkSpec("rnn", 2, 3, 2, readout="softmax", reduction="mean")
    net = Network.create(spec, rng)
    T, N = 4, 2
    x, y = rng.standard_normal((T, N, 2)), rng.integers(0, 2, (T, N))
    _, _, res = net.loss_and_grads(x, y)
    for t in range(T):
        # loss as a function of a<t>: rerun the tail from a<t> with the head's loss fixed
        a_t = net.forward(x[:t + 1]).final_state["a"].copy()

        def loss_from_a_t():
            tail = net.loss(x[t + 1:], y[t + 1:], {"a": a_t}) * (T - t - 1) / T if t < T - 1 else 0.0
            probs = a_t @ net.params["Wya"].T + net.params["by"]
            probs = np.exp(probs - probs.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            own = -np.log(probs[np.arange(N), y[t]]).mean() / T
            return tail + own

        _, num = numeric_grad(loss_from_a_t, a_t)
        assert res.grad_a_norms[t] == pytest.approx(np.linalg.norm(num), rel=1e-7)
