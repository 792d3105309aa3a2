"""Bidirectional layers against PyTorch (float64): nn.RNN / nn.LSTM / nn.GRU with
``bidirectional=True``, ``num_layers`` 1 and 2, from torch's own initialisation with every bias
non-zero, give the engine's per-step log-probabilities, every direction's final state and every
gradient (parameters and initial states) to 1e-10.

Layouts (written out here, independently of rnnviz.bridge): torch's ``*_l{k}`` is the engine's
layer k+1 forward direction, ``*_l{k}_reverse`` its reverse direction (``_rev``); h_0 and h_n are
(2L, N, H) with row 2k + d for layer k+1, direction d (0 forward, 1 reverse). Many-to-one reads
``cat(h_n[-2], h_n[-1])`` (the top layer's two final states), as the engine does.
"""

import zlib

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec

torch = pytest.importorskip("torch")
F = torch.nn.functional

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru_torch": torch.nn.GRU}
ENGINE_FROM_TORCH_LSTM = [1, 0, 3, 2]
TOL = 1e-10


def engine_blocks(a, cell):
    if cell != "lstm":
        return a
    blocks = np.split(a, 4, axis=0)
    return np.concatenate([blocks[k] for k in ENGINE_FROM_TORCH_LSTM], axis=0)


def key(name, layer, reverse):
    name = name + "_rev" if reverse else name
    return name if layer == 1 else f"{name}[{layer}]"


def torch_name(name, layer, reverse):
    return f"{name}_l{layer - 1}" + ("_reverse" if reverse else "")


def setup(cell, layers, input_kind, many_to_one, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    T, N, D, H, K = 5, 3, 4, 6, 5
    module = MODULES[cell](D, H, num_layers=layers, bidirectional=True).double()
    fc = torch.nn.Linear(2 * H, K).double()
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-0.5, 0.5)
    params = {}
    for layer in range(1, layers + 1):
        for reverse in (False, True):
            w = {n: getattr(module, torch_name(n, layer, reverse)).detach().numpy() for n in
                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            bias_hh = w["bias_hh"].copy()
            if cell == "gru_torch":
                params[key("baa", layer, reverse)] = bias_hh[2 * H:].copy()
                bias_hh[2 * H:] = 0.0
            params[key("Wax", layer, reverse)] = engine_blocks(w["weight_ih"], cell)
            params[key("Waa", layer, reverse)] = engine_blocks(w["weight_hh"], cell)
            params[key("ba", layer, reverse)] = engine_blocks(w["bias_ih"] + bias_hh, cell)
    params["Wya"], params["by"] = fc.weight.detach().numpy().copy(), fc.bias.detach().numpy().copy()
    spec = NetworkSpec(cell, D, H, K, input_kind=input_kind, many_to_one=many_to_one, layers=layers,
                       bidirectional=True)
    net = Network(spec, params)
    x = rng.integers(0, D, (T, N)) if input_kind == "tokens" else rng.standard_normal((T, N, D))
    y = rng.integers(0, K, (N,) if many_to_one else (T, N))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    return net, module, fc, x, y, state0


def torch_state(net, state0, name="a"):
    """(2L, N, H) leaf tensor: row 2(l-1) + d is layer l's direction d."""
    rows = [state0[key(name, layer, rev)] for layer in range(1, net.spec.layers + 1) for rev in (False, True)]
    return torch.tensor(np.stack(rows), requires_grad=True)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru_torch"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("input_kind,many_to_one", [("tokens", False), ("dense", False), ("dense", True)])
def test_bidirectional_network_is_torchs_bidirectional_module(cell, layers, input_kind, many_to_one):
    seed = zlib.crc32(f"bidir-{cell}-{layers}-{input_kind}-{many_to_one}".encode())
    net, module, fc, x, y, state0 = setup(cell, layers, input_kind, many_to_one, seed)
    K, H = net.spec.output_size, net.spec.hidden_size
    h0 = torch_state(net, state0)
    hidden = (h0, torch_state(net, state0, "c")) if cell == "lstm" else h0
    xs = F.one_hot(torch.as_tensor(x), net.spec.input_size).double() if input_kind == "tokens" else torch.tensor(x)
    out, last = module(xs, hidden)                                        # (T, N, 2H), (2L, N, H)
    h_n, c_n = last if cell == "lstm" else (last, None)
    logits = fc(torch.cat([h_n[-2], h_n[-1]], -1) if many_to_one else out)
    loss_t = F.cross_entropy(logits.reshape(-1, K), torch.as_tensor(y).reshape(-1))
    loss_t.backward()

    loss, grads, res = net.loss_and_grads(x, y, state0)
    fwd = net.forward(x, state0)
    assert loss == pytest.approx(loss_t.item(), rel=TOL)
    np.testing.assert_allclose(np.log(fwd.outputs), F.log_softmax(logits, -1).detach().numpy(), rtol=0, atol=TOL)
    top = net.spec.layers
    both = np.concatenate([fwd.states[key("a", top, False)], fwd.states[key("a", top, True)]], -1)
    np.testing.assert_allclose(both, out.detach().numpy(), rtol=0, atol=TOL)                 # time order
    for layer in range(1, layers + 1):
        for rev in (False, True):
            row = 2 * (layer - 1) + rev
            np.testing.assert_allclose(res.final_state[key("a", layer, rev)], h_n[row].detach().numpy(), rtol=0, atol=TOL)
            np.testing.assert_allclose(res.grad_state0[key("a", layer, rev)], h0.grad[row].numpy(), rtol=0, atol=TOL)
            if cell == "lstm":
                np.testing.assert_allclose(res.final_state[key("c", layer, rev)], c_n[row].detach().numpy(), rtol=0, atol=TOL)
                np.testing.assert_allclose(res.grad_state0[key("c", layer, rev)], hidden[1].grad[row].numpy(),
                                           rtol=0, atol=TOL)
            g = {n: getattr(module, torch_name(n, layer, rev)).grad.numpy()
                 for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            np.testing.assert_allclose(grads[key("Wax", layer, rev)], engine_blocks(g["weight_ih"], cell), rtol=0, atol=TOL)
            np.testing.assert_allclose(grads[key("Waa", layer, rev)], engine_blocks(g["weight_hh"], cell), rtol=0, atol=TOL)
            np.testing.assert_allclose(grads[key("ba", layer, rev)], engine_blocks(g["bias_ih"], cell), rtol=0, atol=TOL)
            if cell == "gru_torch":
                np.testing.assert_allclose(grads[key("baa", layer, rev)], g["bias_hh"][2 * H:], rtol=0, atol=TOL)
    np.testing.assert_allclose(grads["Wya"], fc.weight.grad.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(grads["by"], fc.bias.grad.numpy(), rtol=0, atol=TOL)
