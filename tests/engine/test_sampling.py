"""Sampling from a character model: temperature and the greedy limit.

A network whose hidden state is always zero (Wax, Waa, ba = 0) predicts softmax(by) whatever it
reads, so its draws are independent: their frequencies can be checked against
``softmax(by / temperature)`` computed here.
"""

import math

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec, sample

BY = np.array([2.0, 1.0, 0.0, -1.0, 0.5])
V = BY.size


def constant_network(cell="rnn"):
    spec = NetworkSpec(cell, V, 4, V, input_kind="tokens")
    params = {k: np.zeros(s) for k, s in spec.param_shapes().items()}
    params["by"] = BY
    return Network(spec, params)


def expected_probs(temperature):
    e = np.exp(BY / temperature - np.max(BY / temperature))
    return e / e.sum()


def frequencies(tokens):
    return np.bincount(tokens, minlength=V) / len(tokens)


def entropy(p):
    return -sum(q * math.log(q) for q in p if q > 0)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_draws_follow_softmax_of_logits_over_temperature(temperature):
    n = 4000
    tokens, _ = sample(constant_network(), None, 0, n, np.random.default_rng(1), temperature=temperature)
    p = expected_probs(temperature)
    stderr = np.sqrt(p * (1 - p) / n)
    np.testing.assert_array_less(np.abs(frequencies(tokens) - p), 5 * stderr + 1e-12)


def test_lower_temperature_gives_sharper_draws():
    n = 3000
    h = [entropy(frequencies(sample(constant_network(), None, 0, n, np.random.default_rng(2), temperature=T)[0]))
         for T in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(h, h[1:])), h
    assert h[0] < 0.5 * entropy(expected_probs(1.0))        # 0.25: nearly all the first token
    assert h[-1] > 0.95 * math.log(V)                       # 4: nearly uniform


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_greedy_takes_the_argmax_and_is_the_limit_of_low_temperature(cell):
    rng = np.random.default_rng(3)
    spec = NetworkSpec(cell, 7, 6, 7, input_kind="tokens")
    net = Network(spec, {k: 1.5 * rng.standard_normal(s) for k, s in spec.param_shapes().items()})
    greedy, final = sample(net, None, 2, 30, np.random.default_rng(0), greedy=True)
    # every greedy token is the most likely one after the tokens before it
    prefix = np.array([2] + greedy[:-1])[:, None]                              # (T, 1)
    probs = net.forward(prefix).outputs[:, 0]                                  # (T, V)
    assert greedy == [int(k) for k in np.argmax(probs, axis=1)]
    for seed in range(3):
        cold, cold_final = sample(net, None, 2, 30, np.random.default_rng(seed), temperature=1e-4)
        assert cold == greedy
        np.testing.assert_allclose(cold_final["a"], final["a"])


# ----------------------------------------------------------------------------- through the trainer
TEXT = "the quick brown fox jumps over the lazy dog. " * 20
PRIME = "the qu"


def random_charlm_trainer(cell="lstm"):
    """A character model whose next-character distribution after ``PRIME`` is far from uniform:
    random weights (no training), so the expectation below is the network's own forward pass."""
    from rnnviz.training import Config, Trainer

    trainer = Trainer(Config(task="charlm", cell=cell, hidden=8, seq_length=10, batch_size=1, seed=0),
                      corpus_text=TEXT)
    rng = np.random.default_rng(5)
    for name, value in trainer.network.params.items():
        trainer.network.params[name] = 1.5 * rng.standard_normal(value.shape)
    return trainer


def next_char_probs(trainer, temperature):
    """softmax(logits / temperature) for the character after PRIME, from the forward pass."""
    ids = trainer.task.encode(PRIME)
    p = trainer.network.forward(ids[:, None]).outputs[-1, 0]               # (V,) at temperature 1
    z = np.log(p) / temperature                                            # log p = logits + const
    e = np.exp(z - z.max())
    return e / e.sum()


def first_chars(trainer, temperature, n):
    """The first character sampled after PRIME by n independent seeds, as vocabulary ids."""
    with trainer.running():
        chars = [next(trainer.sample_pieces(PRIME, 1, temperature, seed=s)) for s in range(n)]
    return trainer.task.encode("".join(chars))


@pytest.mark.parametrize("temperature", [0.3, 1.0, 3.0])
def test_trainer_first_draws_follow_the_network_at_the_temperature(temperature):
    trainer = random_charlm_trainer()
    n, V = 3000, len(trainer.task.vocab)
    p = next_char_probs(trainer, temperature)
    freq = np.bincount(first_chars(trainer, temperature, n), minlength=V) / n
    stderr = np.sqrt(p * (1 - p) / n)
    np.testing.assert_array_less(np.abs(freq - p), 5 * stderr + 1e-3)


def test_trainer_draws_sharpen_as_temperature_falls():
    trainer = random_charlm_trainer()
    n, V = 2000, len(trainer.task.vocab)
    top = int(np.argmax(next_char_probs(trainer, 1.0)))
    temps = (4.0, 1.0, 0.5, 0.2)
    freqs = [np.bincount(first_chars(trainer, T, n), minlength=V) / n for T in temps]
    h = [entropy(f) for f in freqs]
    top_share = [f[top] for f in freqs]
    assert all(a > b for a, b in zip(h, h[1:])), h
    assert all(a < b for a, b in zip(top_share, top_share[1:])), top_share
    assert top_share[-1] > 0.9                    # 0.2: nearly always the most likely character


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_trainer_sample_at_very_low_temperature_is_the_greedy_text(cell):
    trainer = random_charlm_trainer(cell)
    greedy = trainer.sample(PRIME, length=40, seed=0, greedy=True)
    # the greedy text, checked independently: each character is the argmax after the text before it
    ids = trainer.task.encode(greedy)
    probs = trainer.network.forward(ids[:-1, None]).outputs[:, 0]          # (len - 1, V)
    assert list(ids[len(PRIME):]) == list(np.argmax(probs, axis=1)[len(PRIME) - 1:])
    for seed in range(3):
        assert trainer.sample(PRIME, length=40, temperature=1e-4, seed=seed) == greedy
