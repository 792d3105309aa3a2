"""The sampling inspector's data on real small character models: the logits behind a sample are the
network's own, and drawing an inspected sample draws what the engine draws."""

import numpy as np
import pytest

from rnnviz.engine import sample
from rnnviz.insight.sampling import (InspectedSample, distribution, draw_inspected_sample, inspect_tokens,
                                     log_distribution, sample_logits, score_sample)
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

_cache = {}


def trainer(cell):
    if cell not in _cache:
        t = Trainer(Config(task="charlm", cell=cell, hidden=8))
        with t.running():
            for _ in range(3):
                t.step()
        _cache[cell] = t
    return _cache[cell]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sample_logits_are_the_networks_logits(cell):
    tr = trainer(cell)
    net = tr.network
    tokens = tr.task.encode("the cat sat on the mat.\nIt was")
    z = sample_logits(net, tokens)
    assert z.shape == (len(tokens) - 1, len(tr.task.vocab)) and z.dtype == np.float64
    result = net.forward(tokens[:-1, None])
    a = np.asarray(result.states["a"], dtype=np.float64)[:, 0, :]                  # (T-1, H)
    W, b = (np.asarray(net.params[k], dtype=np.float64) for k in ("Wya", "by"))
    assert np.allclose(z, a @ W.T + b)
    probs = np.asarray(result.outputs)[:, 0, :]                                   # (T-1, K)
    assert np.allclose(distribution(z), probs)
    at_one = inspect_tokens(net, tokens)                                          # the same numbers
    assert np.allclose([s.probability for s in at_one], probs[np.arange(len(tokens) - 1), tokens[1:]])


def test_sample_logits_start_from_the_given_state():
    tr = trainer("lstm")
    net = tr.network
    H = net.spec.hidden_size
    rng = np.random.default_rng(1)
    state0 = {"a": rng.standard_normal(H) * 0.5, "c": rng.standard_normal(H) * 0.5}
    tokens = tr.task.encode("hello there")
    z = sample_logits(net, tokens, state0)
    result = net.forward(tokens[:-1, None], {k: v[None, :] for k, v in state0.items()})
    assert np.allclose(distribution(z), np.asarray(result.outputs)[:, 0, :])
    assert not np.allclose(z, sample_logits(net, tokens))
    assert sample_logits(net, tokens[:1]).shape == (0, len(tr.task.vocab))


@pytest.mark.parametrize("cell, temperature", [("rnn", 1.0), ("gru", 0.5), ("lstm", 2.0)])
def test_draw_inspected_sample_draws_what_the_engine_draws(cell, temperature):
    tr = trainer(cell)
    net, vocab = tr.network, tr.task.vocab
    first = int(tr.task.encode("T")[0])
    s = draw_inspected_sample(net, vocab, first, 40, np.random.default_rng(7), temperature)
    drawn, _ = sample(net, None, first, 40, np.random.default_rng(7), temperature)
    assert isinstance(s, InspectedSample)
    assert s.chars == tuple(vocab[t] for t in drawn) and s.first == "T"
    assert s.vocab == tuple(vocab) and s.temperature == temperature
    assert s.logits.shape == (40, len(vocab))
    assert np.allclose(s.logits, sample_logits(net, [first] + drawn))


def test_draw_inspected_sample_from_a_state_matches_the_engine():
    tr = trainer("gru")
    net = tr.network
    state0 = {"a": np.random.default_rng(3).standard_normal(net.spec.hidden_size)}
    s = draw_inspected_sample(net, tr.task.vocab, 0, 25, np.random.default_rng(2), 0.8, state0)
    drawn, _ = sample(net, {"a": state0["a"][None, :]}, 0, 25, np.random.default_rng(2), 0.8)
    assert s.chars == tuple(tr.task.vocab[t] for t in drawn)
    assert np.allclose(s.logits, sample_logits(net, [0] + drawn, state0))


def test_non_token_networks_are_refused():
    tr = Trainer(Config(task="adding", cell="rnn", hidden=4, seq_length=5, batch_size=8))
    with pytest.raises(ValueError, match="token-input"):
        sample_logits(tr.network, [0, 1, 2])


def test_score_sample_is_a_softmax_of_the_logits_at_the_temperature():
    tr = trainer("rnn")
    s = draw_inspected_sample(tr.network, tr.task.vocab, 0, 30, np.random.default_rng(4), 1.0)
    ids = np.array([tr.task.vocab.index(c) for c in s.chars])
    for T in (0.05, 0.4, 1.0, 2.5):
        scores = score_sample(s, T)
        e = np.exp((s.logits - s.logits.max(axis=1, keepdims=True)) / T)
        p = e / e.sum(axis=1, keepdims=True)
        assert np.array_equal(scores.tokens, ids)
        assert np.allclose(scores.probs, p) and np.allclose(np.exp(scores.log_p), p[np.arange(30), ids])
        assert np.all(np.isfinite(scores.log_p))
        assert np.allclose(scores.entropy_bits, -np.sum(p * np.log2(np.where(p > 0, p, 1)), axis=1))
        assert np.array_equal(scores.top, np.argsort(-p, axis=1, kind="stable")[:, :5])
        assert np.array_equal(scores.rank == 0, s.logits.argmax(axis=1) == ids)
    assert np.allclose(log_distribution(s.logits, 0.7), np.log(distribution(s.logits, 0.7)))
    assert np.all(np.isfinite(log_distribution(np.array([0.0, 1000.0]), 0.01)))
