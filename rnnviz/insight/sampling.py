"""The sampling inspector's data: for every generated character its probability, the five most
likely alternatives and the entropy of the distribution it was drawn from, at a temperature.

Temperature τ divides the logits before the softmax, as :func:`rnnviz.engine.sample` does, so
the same sample can be re-inspected at another temperature to see how it reshapes the choice.
Entropies are in nats (divide by ln 2 for bits).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnviz.engine import Network, sample
from rnnviz.insight.saliency import logits, softmax
from rnnviz.insight.trace import run_trace

TOP = 5


class InspectedStep(NamedTuple):
    """One generated token: ``token`` id, its ``probability``, ``top`` [(id, probability)] × 5
    (most likely first) and the distribution's ``entropy`` (nats)."""

    token: int
    probability: float
    top: list
    entropy: float


def distribution(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(z / temperature) of logits z (..., K)."""
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    return softmax(np.asarray(z, dtype=np.float64) / temperature)


def entropy(p: np.ndarray) -> np.ndarray:
    """-Σ p ln p over the last axis (0 ln 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)


def inspect_tokens(network: Network, tokens, temperature: float = 1.0, state0: dict | None = None
                   ) -> list[InspectedStep]:
    """Inspect ``tokens[1:]`` as generated one after another from ``tokens[0]`` (T,) at ``temperature``.

    Each step's distribution is the model's after reading tokens[0..t]; the state starts at
    ``state0`` (zeros if None). Returns T - 1 :class:`InspectedStep`.
    """
    tokens = np.asarray(tokens, dtype=np.intp).reshape(-1)
    if tokens.size < 2:
        return []
    trace = run_trace(network, tokens[:-1], state0=state0)
    p = distribution(logits(trace.states["a"], trace.params["Wya"], trace.params["by"]), temperature)  # (T-1, K)
    ent = entropy(p)
    top = np.argsort(-p, axis=1, kind="stable")[:, :TOP]
    nxt = tokens[1:]
    return [InspectedStep(int(nxt[t]), float(p[t, nxt[t]]),
                          [(int(k), float(p[t, k])) for k in top[t]], float(ent[t]))
            for t in range(len(nxt))]


def sample_inspected(network: Network, first_token: int, n: int, rng: np.random.Generator,
                     temperature: float = 1.0, state0: dict | None = None) -> list[InspectedStep]:
    """Draw ``n`` tokens after ``first_token`` with :func:`rnnviz.engine.sample` and inspect them
    at the same temperature."""
    state = None if state0 is None else {k: np.asarray(v).reshape(1, -1) for k, v in state0.items()}
    drawn, _ = sample(network, state, first_token, n, rng, temperature)
    return inspect_tokens(network, [first_token] + list(drawn), temperature, state0)
