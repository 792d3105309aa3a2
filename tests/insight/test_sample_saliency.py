"""The saliency of a sample's characters (sample_saliency): ‖∂ log p(tokens[t+1] | tokens[0..t]) / ∂x<s>‖
against centred finite differences on the one-hot inputs from a non-zero initial state, in float64,
for every cell; against PyTorch's own recurrent modules (loaded with the bridge's names) and autograd;
one row is the full matrix's row; and the window's sample carries it."""

import numpy as np
import pytest

from insight_testing import dense_twin, random_network, rel_error
from rnnviz.bridge import to_torch
from rnnviz.insight.sampling import draw_inspected_sample, sample_saliency
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

V, H, T = 6, 5, 9
CELLS = ["rnn", "lstm", "gru", "gru_torch"]


def _case(cell, seed=0):
    """A seeded token network (V symbols in and out), a token sequence and a non-zero initial state."""
    net = random_network(cell, D=V, K=V, input_kind="tokens", seed=seed, scale=1.2)
    rng = np.random.default_rng(seed + 100)
    tokens = rng.integers(0, V, T)
    state0 = {"a": rng.standard_normal(H) * 0.6}
    if cell == "lstm":
        state0["c"] = rng.standard_normal(H) * 0.6
    return net, tokens, state0


def fd_row(net, tokens, state0, t, h=1e-6):
    """‖∂ log p(tokens[t+1]) / ∂x<s>‖ for s = 0 … t by centred differences on the one-hot inputs, run
    through the engine's own forward pass (a dense twin of the token network) from ``state0``."""
    dense = dense_twin(net)
    x = np.eye(V)[tokens[:t + 1]][:, None, :]                                       # (t+1, 1, V)
    s0 = {k: v[None, :] for k, v in state0.items()}

    def log_p(xx):
        return float(np.log(np.asarray(dense.forward(xx, s0).outputs)[t, 0, tokens[t + 1]]))

    row = np.zeros(t + 1)
    for s in range(t + 1):
        g = np.zeros(V)
        for j in range(V):
            xp, xm = x.copy(), x.copy()
            xp[s, 0, j] += h
            xm[s, 0, j] -= h
            g[j] = (log_p(xp) - log_p(xm)) / (2 * h)
        row[s] = np.linalg.norm(g)
    return row


@pytest.mark.parametrize("cell", CELLS)
def test_every_row_matches_finite_differences_from_the_initial_state(cell):
    net, tokens, state0 = _case(cell, seed=CELLS.index(cell))
    S = sample_saliency(net, tokens, state0)
    assert S.shape == (T - 1, T - 1) and S.dtype == np.float64
    assert np.all(np.triu(S, 1) == 0)                   # a character cannot depend on later ones
    for t in range(T - 1):
        assert rel_error(S[t, :t + 1], fd_row(net, tokens, state0, t)) < 1e-6, t
    # the initial state matters: from zeros the numbers differ
    assert rel_error(sample_saliency(net, tokens), S) > 1e-3


@pytest.mark.parametrize("cell", CELLS)
def test_one_row_is_the_full_matrix_row(cell):
    net, tokens, state0 = _case(cell, seed=7)
    S = sample_saliency(net, tokens, state0)
    for t in (0, 3, T - 2):
        row = sample_saliency(net, tokens, state0, row=t)
        assert row.shape == (t + 1,)
        assert np.allclose(row, S[t, :t + 1], rtol=1e-12, atol=1e-15)


def test_bad_input_is_refused_with_a_clear_error():
    net, tokens, _ = _case("rnn")
    with pytest.raises(ValueError, match=r"row must be in \[0, 8\)"):
        sample_saliency(net, tokens, row=T - 1)
    with pytest.raises(ValueError, match="token-input"):
        sample_saliency(random_network("rnn"), [0, 1, 2])
    assert sample_saliency(net, tokens[:1]).shape == (0, 0)


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"),
                                             ("gru_torch", "tanh")])
def test_against_pytorch_modules_and_autograd(cell, activation):
    """PyTorch's nn.RNN / nn.LSTM / nn.GRU with the weights under the bridge's names, fed the one-hot
    inputs from the same initial state: autograd's ‖∂ log_softmax(fc(h<t>))[next] / ∂x<s>‖."""
    torch = pytest.importorskip("torch")
    net = random_network(cell, activation, D=V, K=V, input_kind="tokens", seed=21, scale=1.2)
    rng = np.random.default_rng(22)
    tokens = rng.integers(0, V, T)
    state0 = {"a": rng.standard_normal(H) * 0.6}
    if cell == "lstm":
        state0["c"] = rng.standard_normal(H) * 0.6
    S = sample_saliency(net, tokens, state0)

    tensors, _ = to_torch(net.params, cell, activation, None, "charlm")
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru_torch": torch.nn.GRU}[cell]
    extra = {"nonlinearity": activation} if cell == "rnn" else {}
    module = kind(V, H, **extra).double()
    fc = torch.nn.Linear(H, V).double()
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.from_numpy(tensors[name]))
        fc.weight.copy_(torch.from_numpy(tensors["fc.weight"]))
        fc.bias.copy_(torch.from_numpy(tensors["fc.bias"]))
    h0 = torch.from_numpy(state0["a"])[None, None, :]
    hidden = (h0, torch.from_numpy(state0["c"])[None, None, :]) if cell == "lstm" else h0
    for t in range(T - 1):
        x = torch.nn.functional.one_hot(torch.from_numpy(tokens[:t + 1]), V).double()[:, None, :]
        x.requires_grad_(True)
        out, _ = module(x, hidden)                                               # (t+1, 1, H)
        log_p = torch.log_softmax(fc(out[t, 0]), 0)[int(tokens[t + 1])]
        (grad,) = torch.autograd.grad(log_p, x)
        want = grad[:, 0, :].norm(dim=1).numpy()
        assert np.allclose(S[t, :t + 1], want, rtol=1e-9, atol=1e-14), t


def test_the_drawn_sample_keeps_its_saliency_when_asked():
    tr = Trainer(Config(task="charlm", cell="lstm", hidden=8))
    with tr.running():
        for _ in range(3):
            tr.step()
    net, vocab = tr.network, tr.task.vocab
    plain = draw_inspected_sample(net, vocab, 0, 30, np.random.default_rng(5), 0.7)
    assert plain.saliency is None
    s = draw_inspected_sample(net, vocab, 0, 30, np.random.default_rng(5), 0.7, saliency=True)
    assert s.chars == plain.chars
    tokens = [0] + [vocab.index(c) for c in s.chars]
    assert s.saliency.shape == (30, 30)
    assert np.array_equal(s.saliency, sample_saliency(net, tokens))
