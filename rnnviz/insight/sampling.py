"""The sampling inspector's data: for every generated character its probability, the five most
likely alternatives and the entropy of the distribution it was drawn from, at a temperature.

Temperature τ divides the logits before the softmax, as :func:`rnnviz.engine.sample` does, so
the same sample can be re-inspected at another temperature to see how it reshapes the choice.
Entropies are in nats (divide by ln 2 for bits).

:func:`sample_logits` gives the raw logits z (before temperature) behind a token sequence, so a view
can re-score the same sample at any temperature with a softmax and no network;
:func:`sample_saliency` how much each generated token's log-probability depends on each token read
before it (:mod:`rnnviz.insight.saliency` on the sample); :func:`draw_inspected_sample` draws a
sample and keeps those logits (and, if asked, that saliency) in an :class:`InspectedSample`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnviz.engine import Network, sample
from rnnviz.insight.jacobians import step_jacobians
from rnnviz.insight.saliency import logits, output_gradients, softmax
from rnnviz.insight.trace import run_trace

TOP = 5


class InspectedStep(NamedTuple):
    """One generated token: ``token`` id, its ``probability``, ``top`` [(id, probability)] × 5
    (most likely first) and the distribution's ``entropy`` (nats)."""

    token: int
    probability: float
    top: list
    entropy: float


class InspectedSample(NamedTuple):
    """A drawn sample with what it was drawn from.

    chars: the n generated characters, in order; first: the character it started from;
    logits: (n, K) float64, row t the logits z the model gave before ``chars[t]`` was drawn (after
    reading ``first`` and ``chars[:t]``), before dividing by any temperature; vocab: the K
    characters, vocab[k] the one of logit column k; temperature: the one it was drawn at;
    saliency: None, or (n, n) :func:`sample_saliency` of the sample: row t over the characters
    ``first``, ``chars[:t]`` that ``chars[t]`` was drawn after.
    """

    chars: tuple
    first: str
    logits: np.ndarray
    vocab: tuple
    temperature: float
    saliency: np.ndarray | None = None


def distribution(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(z / temperature) of logits z (..., K)."""
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    return softmax(np.asarray(z, dtype=np.float64) / temperature)


def log_distribution(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """log softmax(z / temperature) of logits z (..., K), finite even where the softmax underflows."""
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    z = np.asarray(z, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def entropy(p: np.ndarray) -> np.ndarray:
    """-Σ p ln p over the last axis (0 ln 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)


class SampleScores(NamedTuple):
    """An :class:`InspectedSample` scored at one temperature τ (n characters, K classes).

    tokens: (n,) the characters' ids in the vocabulary; probs: (n, K) softmax(logits / τ);
    log_p: (n,) ln p of each drawn character; entropy_bits: (n,) of each row; top: (n, TOP) ids of the
    most likely characters, most likely first; rank: (n,) how many characters were more likely than the
    one drawn (0: the model's top choice, at every τ).
    """

    tokens: np.ndarray
    probs: np.ndarray
    log_p: np.ndarray
    entropy_bits: np.ndarray
    top: np.ndarray
    rank: np.ndarray


def score_sample(sample: InspectedSample, temperature: float) -> SampleScores:
    """Re-score ``sample``'s characters at ``temperature``: a softmax of its logits, no network."""
    index = {c: k for k, c in enumerate(sample.vocab)}
    tokens = np.array([index[c] for c in sample.chars], dtype=np.intp)                  # (n,)
    log_probs = log_distribution(np.asarray(sample.logits).reshape(len(tokens), len(sample.vocab)),
                                 temperature)                                           # (n, K)
    probs = np.exp(log_probs)
    rows = np.arange(len(tokens))
    log_p = log_probs[rows, tokens]
    rank = (log_probs > log_p[:, None]).sum(axis=1)
    return SampleScores(tokens, probs, log_p, entropy(probs) / np.log(2),
                        np.argsort(-probs, axis=1, kind="stable")[:, :TOP], rank)


def sample_logits(network: Network, tokens, state0: dict | None = None) -> np.ndarray:
    """The logits behind each generated token of ``tokens`` (T,), read one after another.

    Row t is z<t> = a<t> Wyaᵀ + by after reading tokens[0..t] from ``state0`` ({"a": (H,)} (+ "c"),
    zeros if None): the distribution tokens[t + 1] was drawn from is softmax(z<t> / τ).
    Returns (T - 1, K) float64 ((0, K) for fewer than two tokens).
    ``ValueError`` unless ``network`` is a token-input, many-to-many softmax network.
    """
    spec = network.spec
    if spec.input_kind != "tokens" or spec.readout != "softmax" or spec.many_to_one:
        raise ValueError("sample logits need a token-input, many-to-many softmax network")
    tokens = np.asarray(tokens, dtype=np.intp).reshape(-1)
    if tokens.size < 2:
        return np.empty((0, spec.output_size))
    trace = run_trace(network, tokens[:-1], state0=state0)
    return logits(trace.top_a, trace.params["Wya"], trace.params["by"])          # (T-1, K)


def sample_saliency(network: Network, tokens, state0: dict | None = None, row: int | None = None
                    ) -> np.ndarray:
    """How much the log-probability of each generated token depends on each token read before it.

    tokens (T,) are read one after another from ``state0`` ({"a": (H,)} (+ "c"), zeros if None):
    tokens[0] the one a sample starts from, tokens[t + 1] drawn after reading tokens[0..t].
    Returns (T - 1, T - 1): entry [t, s] = ‖∂ log p(tokens[t + 1] | tokens[0..t]) / ∂x<s>‖₂ for
    s ≤ t, 0 for s > t, with x<s> the one-hot vector of tokens[s] and p the model's own softmax
    (temperature 1): :func:`rnnviz.insight.saliency.output_gradients` on the sample.
    row: only row t, (t + 1,) (a trace of t + 1 steps with one output: about (t + 1)/T of the cost).
    ``ValueError`` unless ``network`` is a token-input, many-to-many softmax network, or for a row
    outside [0, T - 1).
    """
    spec = network.spec
    if spec.input_kind != "tokens" or spec.readout != "softmax" or spec.many_to_one:
        raise ValueError("sample saliency needs a token-input, many-to-many softmax network")
    tokens = np.asarray(tokens, dtype=np.intp).reshape(-1)
    n = max(tokens.size - 1, 0)
    if row is not None and not 0 <= row < n:
        raise ValueError(f"row must be in [0, {n}) for {tokens.size} tokens; got {row}")
    if n == 0:
        return np.zeros((0, 0))
    if row is None:
        trace = run_trace(network, tokens[:-1], tokens[1:], state0=state0)
        return output_gradients(trace, step_jacobians(trace)).saliency                  # (T-1, T-1)
    trace = run_trace(network, tokens[:row + 1], tokens[row + 1:row + 2], [row], state0)
    return output_gradients(trace, step_jacobians(trace)).saliency[row]                 # (row+1,)


def inspect_tokens(network: Network, tokens, temperature: float = 1.0, state0: dict | None = None
                   ) -> list[InspectedStep]:
    """Inspect ``tokens[1:]`` as generated one after another from ``tokens[0]`` (T,) at ``temperature``.

    Each step's distribution is softmax(z<t> / τ) of :func:`sample_logits`; the state starts at
    ``state0`` (zeros if None). Returns T - 1 :class:`InspectedStep`.
    """
    tokens = np.asarray(tokens, dtype=np.intp).reshape(-1)
    p = distribution(sample_logits(network, tokens, state0), temperature)         # (T-1, K)
    ent = entropy(p)
    top = np.argsort(-p, axis=1, kind="stable")[:, :TOP]
    nxt = tokens[1:]
    return [InspectedStep(int(nxt[t]), float(p[t, nxt[t]]),
                          [(int(k), float(p[t, k])) for k in top[t]], float(ent[t]))
            for t in range(len(nxt))]


def _batch_state(state0: dict | None) -> dict | None:
    """{"a": (H,)} -> {"a": (1, H)}, the engine's batch of one."""
    return None if state0 is None else {k: np.asarray(v).reshape(1, -1) for k, v in state0.items()}


def sample_inspected(network: Network, first_token: int, n: int, rng: np.random.Generator,
                     temperature: float = 1.0, state0: dict | None = None) -> list[InspectedStep]:
    """Draw ``n`` tokens after ``first_token`` with :func:`rnnviz.engine.sample` and inspect them
    at the same temperature."""
    drawn, _ = sample(network, _batch_state(state0), first_token, n, rng, temperature)
    return inspect_tokens(network, [first_token] + list(drawn), temperature, state0)


def draw_inspected_sample(network: Network, vocab, first_token: int, n: int, rng: np.random.Generator,
                          temperature: float = 1.0, state0: dict | None = None, *,
                          saliency: bool = False) -> InspectedSample:
    """Draw ``n`` characters after ``first_token`` with :func:`rnnviz.engine.sample` (the same
    draws for the same ``rng``) and keep the (n, K) logits each was drawn from.

    vocab: the K characters, vocab[k] for token k; state0: {"a": (H,)} (+ "c"), zeros if None;
    saliency: also keep the (n, n) :func:`sample_saliency` (at temperature 1).
    """
    drawn, _ = sample(network, _batch_state(state0), first_token, n, rng, temperature)
    vocab = tuple(vocab)
    tokens = [first_token] + list(drawn)
    return InspectedSample(chars=tuple(vocab[t] for t in drawn), first=vocab[int(first_token)],
                           logits=sample_logits(network, tokens, state0),
                           vocab=vocab, temperature=float(temperature),
                           saliency=sample_saliency(network, tokens, state0) if saliency else None)
