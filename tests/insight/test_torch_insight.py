"""Saliency, state-gradient and Jacobian norms against PyTorch autograd: each cell's forward pass
rewritten in torch (float64) from the same weights, differentiated by torch."""

import numpy as np
import pytest

from insight_testing import CASES, random_network
from rnnviz.insight.jacobians import product_norms, step_jacobians
from rnnviz.insight.saliency import output_gradients
from rnnviz.insight.trace import run_trace

torch = pytest.importorskip("torch")
T = 7


def assert_gradients_match(grads, tau, xs, states, H, cell):
    """rnnviz's output-τ saliency and ‖∂/∂a<t>‖ (and ‖∂/∂c<t>‖) equal autograd's, after
    ``logp.backward()`` on output τ with ``xs`` and each kept state retaining its gradient."""
    want_sal = xs.grad.norm(dim=1).numpy()[:tau + 1]
    want_a = np.array([s.grad[:H].norm().item() for s in states])
    assert np.allclose(grads.saliency[tau, :tau + 1], want_sal, rtol=1e-9, atol=1e-14)
    assert np.allclose(grads.a_norms[tau, :tau + 1], want_a, rtol=1e-9, atol=1e-14)
    if cell == "lstm":
        want_c = np.array([s.grad[H:].norm().item() for s in states])
        assert np.allclose(grads.c_norms[tau, :tau + 1], want_c, rtol=1e-9, atol=1e-14)


def _step(cell, activation, p, x, state):
    """One step in torch, the engine's equations (blocks LSTM f,i,o,c; GRU r,u,c); PyTorch's GRU
    is torch.nn.functional's own GRU cell."""
    H = p["Waa"].shape[1]
    if cell == "rnn":
        z = p["Wax"] @ x + p["Waa"] @ state + p["ba"]
        return {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[activation](z)
    if cell == "lstm":
        a, c = state[:H], state[H:]
        z = p["Wax"] @ x + p["Waa"] @ a + p["ba"]
        f, i, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.sigmoid(z[2 * H:3 * H])
        c = f * c + i * torch.tanh(z[3 * H:])
        return torch.cat([o * torch.tanh(c), c])
    if cell == "gru_torch":
        b_hh = torch.cat([torch.zeros(2 * H, dtype=torch.float64), p["baa"]])
        return torch.gru_cell(x[None], state[None], p["Wax"], p["Waa"], p["ba"], b_hh)[0]
    xw = p["Wax"] @ x + p["ba"]
    r = torch.sigmoid(xw[:H] + p["Waa"][:H] @ state)
    u = torch.sigmoid(xw[H:2 * H] + p["Waa"][H:2 * H] @ state)
    cand = torch.tanh(xw[2 * H:] + p["Waa"][2 * H:] @ (r * state))
    return (1 - u) * state + u * cand


@pytest.mark.parametrize("cell,activation", CASES)
def test_against_torch_autograd(cell, activation):
    net = random_network(cell, activation, seed=11)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((T, 1, 3))
    targets = rng.integers(0, 4, T)
    trace = run_trace(net, x, targets)
    jac = step_jacobians(trace)
    grads = output_gradients(trace, jac)
    norms = product_norms(jac.state)

    p = {k: torch.tensor(np.array(v)) for k, v in net.params.items()}
    H = net.spec.hidden_size
    S = 2 * H if cell == "lstm" else H
    xs = torch.tensor(x[:, 0, :], requires_grad=True)
    for tau in range(T):
        states, state = [], torch.zeros(S, dtype=torch.float64)
        for t in range(tau + 1):
            state = _step(cell, activation, p, xs[t], state)
            state.retain_grad()
            states.append(state)
        logp = torch.log_softmax(p["Wya"] @ state[:H] + p["by"], 0)[int(targets[tau])]
        xs.grad = None
        logp.backward()
        assert_gradients_match(grads, tau, xs, states, H, cell)

    # ∂state<τ>/∂state<s> by torch.autograd.functional.jacobian over the steps s+1 … τ
    start = torch.zeros(S, dtype=torch.float64)
    with torch.no_grad():
        path = [start]
        for t in range(T):
            path.append(_step(cell, activation, p, xs[t], path[-1]))
    for tau, s in [(6, 0), (6, 3), (4, 1), (2, 1)]:
        def run(v, s=s, tau=tau):
            for t in range(s + 1, tau + 1):
                v = _step(cell, activation, p, xs[t].detach(), v)
            return v
        J = torch.autograd.functional.jacobian(run, path[s + 1]).numpy()
        assert np.isclose(norms[tau, s], np.linalg.norm(J, 2), rtol=1e-9)


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh"),
                                             ("gru_torch", "tanh")])
@pytest.mark.parametrize("layer", [1, 2])
def test_a_stacked_layer_against_torch_autograd(cell, activation, layer):
    """A 2-layer network analysed at ``layer``: saliency through both layers, ‖∂score<τ>/∂a[l]<t>‖
    (every path through depth and time) and σmax ∂state[l]<τ>/∂state[l]<s> (the stacked network
    run on from state<s>) by torch autograd."""
    from rnnviz.engine.stack import cell_param_names, layer_key
    net = random_network(cell, activation, seed=13, layers=2, scale=1.2)
    rng = np.random.default_rng(14)
    x = rng.standard_normal((T, 1, 3))
    targets = rng.integers(0, 4, T)
    trace = run_trace(net, x, targets, layer=layer)
    jac = step_jacobians(trace)
    grads = output_gradients(trace, jac)
    norms = product_norms(jac.state)

    H = net.spec.hidden_size
    S = 2 * H if cell == "lstm" else H
    p = [{n: torch.tensor(np.array(net.params[layer_key(n, k)])) for n in cell_param_names(cell)} for k in (1, 2)]
    Wya, by = torch.tensor(np.array(net.params["Wya"])), torch.tensor(np.array(net.params["by"]))
    xs = torch.tensor(x[:, 0, :], requires_grad=True)

    def step_both(x_t, state):            # state: (layer 1's, layer 2's)
        s1 = _step(cell, activation, p[0], x_t, state[0])
        s2 = _step(cell, activation, p[1], s1[:H], state[1])
        return s1, s2

    for tau in range(T):
        kept, state = [], (torch.zeros(S, dtype=torch.float64), torch.zeros(S, dtype=torch.float64))
        for t in range(tau + 1):
            state = step_both(xs[t], state)
            for s in state:
                s.retain_grad()
            kept.append(state[layer - 1])
        logp = torch.log_softmax(Wya @ state[1][:H] + by, 0)[int(targets[tau])]
        xs.grad = None
        logp.backward()
        assert_gradients_match(grads, tau, xs, kept, H, cell)

    with torch.no_grad():
        path = [(torch.zeros(S, dtype=torch.float64),) * 2]
        for t in range(T):
            path.append(step_both(xs[t], path[-1]))
    for tau, s in [(6, 0), (6, 3), (4, 1)]:
        other = path[s + 1][2 - layer]                  # the other layer's state<s>, as it was

        def run(v, s=s, tau=tau, other=other):
            state = (v, other) if layer == 1 else (other, v)
            for t in range(s + 1, tau + 1):
                state = step_both(xs[t].detach(), state)
            return state[layer - 1]
        J = torch.autograd.functional.jacobian(run, path[s + 1][layer - 1]).numpy()
        assert np.isclose(norms[tau, s], np.linalg.norm(J, 2), rtol=1e-9)
