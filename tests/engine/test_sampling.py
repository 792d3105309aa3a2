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
