"""Stacked layers against PyTorch (float64): nn.RNN / nn.LSTM / nn.GRU with ``num_layers`` 2 and 3,
from torch's own initialisation with every bias non-zero, give the engine's per-step
log-probabilities, every layer's final state, every gradient (parameters and initial states) and,
unrolled over nn.*Cell layers, every layer's ||dL/da[l]<t>|| (and ||dL/dc[l]<t>||), to 1e-10.

Layouts (written out here, independently of rnnviz.bridge): layer k of torch (``*_l{k}``) is the
engine's layer k+1; ``ba = b_ih + b_hh`` (PyTorch's GRU: ``b_ih + [b_hr, b_hz, 0]``, ``baa = b_hn``);
torch's LSTM blocks i, f, g, o are the engine's f, i, o, c~ reordered.
"""

import zlib

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH = {"rnn": (torch.nn.RNN, torch.nn.RNNCell), "lstm": (torch.nn.LSTM, torch.nn.LSTMCell),
         "gru_torch": (torch.nn.GRU, torch.nn.GRUCell)}
ENGINE_FROM_TORCH_LSTM = [1, 0, 3, 2]       # engine block j is torch block [1, 0, 3, 2][j] (an involution)
TOL = 1e-10


def engine_blocks(a: np.ndarray, cell: str) -> np.ndarray:
    """Torch's row blocks in the engine's order (only the LSTM's differ); also maps back."""
    if cell != "lstm":
        return a
    blocks = np.split(a, 4, axis=0)
    return np.concatenate([blocks[k] for k in ENGINE_FROM_TORCH_LSTM], axis=0)


def key(name, layer):
    return name if layer == 1 else f"{name}[{layer}]"


def setup(cell, layers, activation, input_kind, many_to_one, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    T, N, D, H, K = 5, 3, 4, 6, 5
    module_type, _ = TORCH[cell]
    kwargs = {"nonlinearity": activation} if cell == "rnn" else {}
    module = module_type(D, H, num_layers=layers, **kwargs).double()
    fc = torch.nn.Linear(H, K).double()
    with torch.no_grad():                       # every bias non-zero
        for name, p in module.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-0.5, 0.5)
    params = {}
    for layer in range(1, layers + 1):
        w = {n: getattr(module, f"{n}_l{layer - 1}").detach().numpy() for n in
             ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        bias_hh = w["bias_hh"].copy()
        if cell == "gru_torch":
            params[key("baa", layer)] = bias_hh[2 * H:].copy()
            bias_hh[2 * H:] = 0.0
        params[key("Wax", layer)] = engine_blocks(w["weight_ih"], cell)
        params[key("Waa", layer)] = engine_blocks(w["weight_hh"], cell)
        params[key("ba", layer)] = engine_blocks(w["bias_ih"] + bias_hh, cell)
    params["Wya"], params["by"] = fc.weight.detach().numpy().copy(), fc.bias.detach().numpy().copy()
    spec = NetworkSpec(cell, D, H, K, input_kind=input_kind, activation=activation,
                       many_to_one=many_to_one, reduction="mean", layers=layers)
    net = Network(spec, {k: params[k] for k in spec.param_shapes()})
    x = rng.integers(0, D, (T, N)) if input_kind == "tokens" else rng.standard_normal((T, N, D))
    y = rng.integers(0, K, (N,) if many_to_one else (T, N))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    return net, module, fc, x, y, state0


def torch_inputs(net, x):
    if net.spec.input_kind == "tokens":
        return F.one_hot(torch.as_tensor(x), net.spec.input_size).double()
    return torch.tensor(x)


def torch_state(net, state0, name="a"):
    """(L, N, H) leaf tensor of every layer's initial ``name`` state."""
    L = net.spec.layers
    return torch.tensor(np.stack([state0[key(name, layer)] for layer in range(1, L + 1)]), requires_grad=True)


def torch_loss(net, logits, y):
    K = net.spec.output_size
    return F.cross_entropy(logits.reshape(-1, K), torch.as_tensor(y).reshape(-1))


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"),
                                             ("gru_torch", "tanh")])
@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("input_kind,many_to_one", [("tokens", False), ("dense", False), ("dense", True)])
def test_stacked_network_is_torchs_multilayer_module(cell, activation, layers, input_kind, many_to_one):
    seed = zlib.crc32(f"{cell}-{activation}-{layers}-{input_kind}-{many_to_one}".encode())
    net, module, fc, x, y, state0 = setup(cell, layers, activation, input_kind, many_to_one, seed)
    h0 = torch_state(net, state0)
    hidden = (h0, torch_state(net, state0, "c")) if cell == "lstm" else h0
    out, last = module(torch_inputs(net, x), hidden)                  # (T, N, H), (L, N, H)
    logits = fc(out[-1] if many_to_one else out)
    loss_t = torch_loss(net, logits, y)
    loss_t.backward()

    loss, grads, res = net.loss_and_grads(x, y, state0)
    fwd = net.forward(x, state0)
    assert loss == pytest.approx(loss_t.item(), rel=TOL)
    np.testing.assert_allclose(np.log(fwd.outputs), F.log_softmax(logits, -1).detach().numpy(), rtol=0, atol=TOL)
    h_n, c_n = (last if cell == "lstm" else (last, None))
    for layer in range(1, layers + 1):
        np.testing.assert_allclose(res.final_state[key("a", layer)], h_n[layer - 1].detach().numpy(), atol=TOL)
        np.testing.assert_allclose(fwd.states[key("a", layer)][-1], h_n[layer - 1].detach().numpy(), atol=TOL)
        if cell == "lstm":
            np.testing.assert_allclose(res.final_state[key("c", layer)], c_n[layer - 1].detach().numpy(), atol=TOL)
        H = net.spec.hidden_size
        g = {n: getattr(module, f"{n}_l{layer - 1}").grad.numpy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        np.testing.assert_allclose(grads[key("Wax", layer)], engine_blocks(g["weight_ih"], cell), rtol=0, atol=TOL)
        np.testing.assert_allclose(grads[key("Waa", layer)], engine_blocks(g["weight_hh"], cell), rtol=0, atol=TOL)
        np.testing.assert_allclose(grads[key("ba", layer)], engine_blocks(g["bias_ih"], cell), rtol=0, atol=TOL)
        if cell == "gru_torch":
            np.testing.assert_allclose(grads[key("baa", layer)], g["bias_hh"][2 * H:], rtol=0, atol=TOL)
        np.testing.assert_allclose(res.grad_state0[key("a", layer)], h0.grad[layer - 1].numpy(), rtol=0, atol=TOL)
        if cell == "lstm":
            np.testing.assert_allclose(res.grad_state0[key("c", layer)], hidden[1].grad[layer - 1].numpy(),
                                       rtol=0, atol=TOL)
    np.testing.assert_allclose(grads["Wya"], fc.weight.grad.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(grads["by"], fc.bias.grad.numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru_torch"])
def test_per_layer_gradient_norms_match_unrolled_torch_cells(cell):
    """||dL/da[l]<t>|| of every layer and step (LSTM: ||dL/dc[l]<t>|| too) against torch's gradients
    on the states of an unrolled stack of nn.*Cell layers holding the same weights."""
    layers = 3
    net, module, fc, x, y, state0 = setup(cell, layers, "tanh", "tokens", False, 7)
    _, cell_type = TORCH[cell]
    D, H = net.spec.input_size, net.spec.hidden_size
    cells = []
    for layer in range(layers):
        c = cell_type(D if layer == 0 else H, H).double()
        with torch.no_grad():
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(c, n).copy_(getattr(module, f"{n}_l{layer}"))
        cells.append(c)
    xs = torch_inputs(net, x)
    a = [torch.tensor(state0[key("a", layer)]) for layer in range(1, layers + 1)]
    cs = [torch.tensor(state0[key("c", layer)]) for layer in range(1, layers + 1)] if cell == "lstm" else None
    kept_a, kept_c, tops = [[] for _ in range(layers)], [[] for _ in range(layers)], []
    for t in range(xs.shape[0]):
        inp = xs[t]
        for layer in range(layers):
            if cell == "lstm":
                a[layer], cs[layer] = cells[layer](inp, (a[layer], cs[layer]))
                cs[layer].retain_grad()
                kept_c[layer].append(cs[layer])
            else:
                a[layer] = cells[layer](inp, a[layer])
            a[layer].retain_grad()
            kept_a[layer].append(a[layer])
            inp = a[layer]
        tops.append(inp)
    torch_loss(net, fc(torch.stack(tops)), y).backward()
    _, _, res = net.loss_and_grads(x, y, state0)
    expected = [[s.grad.norm().item() for s in kept] for kept in kept_a]
    np.testing.assert_allclose(res.layer_grad_a_norms, expected, rtol=1e-10)
    np.testing.assert_array_equal(res.grad_a_norms, res.layer_grad_a_norms[0])
    if cell == "lstm":
        expected_c = [[s.grad.norm().item() for s in kept] for kept in kept_c]
        np.testing.assert_allclose(res.layer_grad_c_norms, expected_c, rtol=1e-10)
