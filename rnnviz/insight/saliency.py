"""What each output is made of: its log-probability, its gradient on every earlier state, and its
saliency over the inputs.

For an output step τ with target y<τ> the *score* is (per the network's readout):

* softmax: ``log p(y<τ>)``, the log-probability of the target class;
* sigmoid: ``Σ_k log p(y<τ>_k)``, the log-probability of the target bits (one bit for parity and addition);
* linear: the output value ``ŷ<τ>`` itself (summed over outputs when K > 1): a linear readout
  gives a value, not a probability, so the saliency says what moves the answer.

Saliency ``[τ, s] = ‖∂ score<τ> / ∂x<s>‖₂`` for s ≤ τ (0 for s > τ), x<s> the input vector (one-hot
for tokens); ``state_gradient [τ, t] = ‖∂ score<τ> / ∂a<t>‖₂`` (= ‖∂L<τ>/∂a<t>‖ for the loss
``L<τ> = -log p`` of that one output), plus ``‖∂ score<τ> / ∂c<t>‖`` for the LSTM. Both come from
one backward sweep that carries every output's gradient at once: ``g<s-1> = g<s> Js[s]``.

A stacked network's sweep goes through depth as well (:func:`output_gradients`): the readout
reads the top layer, x<s> enters the bottom one, and ``state_gradient`` is that of the layer the
trace analyses, ``‖∂score<τ>/∂a[l]<t>‖``, counting every path through depth and time.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnviz.engine.cells import sigmoid
from rnnviz.engine.readouts import softmax
from rnnviz.insight.jacobians import StepJacobians, step_jacobians
from rnnviz.insight.trace import Trace


class OutputScores(NamedTuple):
    """For the n output steps of a trace: ``score`` (n,) (see the module docstring), ``dscore_da``
    (n, H) its gradient on a<τ>, ``probs`` (n, K) the readout's probabilities (softmax, sigmoid)
    or values (linear)."""

    score: np.ndarray
    dscore_da: np.ndarray
    probs: np.ndarray


class OutputGradients(NamedTuple):
    """``saliency`` (T, T) ‖∂score<τ>/∂x<s>‖; ``a_norms`` (T, T) ‖∂score<τ>/∂a<t>‖; ``c_norms`` (T, T)
    ‖∂score<τ>/∂c<t>‖ for the LSTM (None otherwise). Rows of steps without an output are 0."""

    saliency: np.ndarray
    a_norms: np.ndarray
    c_norms: np.ndarray | None


def logits(a: np.ndarray, Wya: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``z = a Wyaᵀ + by``: a (n, H), Wya (K, H), by (K,) -> (n, K)."""
    return a @ Wya.T + by


def output_scores(trace: Trace) -> OutputScores:
    """The score of every output step of ``trace`` and its gradient on the hidden state there."""
    p = trace.params
    a = trace.top_a[trace.output_steps]                                          # (n, H) what the readout reads
    z = logits(a, p["Wya"], p["by"])                                             # (n, K)
    if trace.readout == "softmax":
        y = trace.targets
        probs = softmax(z)
        log_norm = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
        score = z[np.arange(len(y)), y] - log_norm
        dz = -probs
        dz[np.arange(len(y)), y] += 1.0                   # ∂ log p_y / ∂z = onehot(y) - p
    elif trace.readout == "sigmoid":
        y = trace.targets
        probs = sigmoid(z)
        # log σ(z) = -log(1 + e^-z), log(1 - σ(z)) = -log(1 + e^z)
        score = -(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)).sum(axis=1)
        dz = y - probs
    else:
        probs = z
        score = z.sum(axis=1)
        dz = np.ones_like(z)
    return OutputScores(score, dz @ p["Wya"], probs)


def output_gradients(trace: Trace, jac: StepJacobians, scores: OutputScores | None = None) -> OutputGradients:
    """Saliency over the inputs and gradient norms over the states, for every output at once.

    One backward sweep over s = T-1 … 0 carries, for every layer k (a 1-layer network is its own
    only layer), G[k] (n, S), whose row i is ∂score<τi>/∂state[k]<s> for the n output steps τi ≥ s.
    At step s, top layer first: an output's row of the top layer is seeded with its own gradient at
    s = τi; each layer k < L adds what reaches it through the layer above at the same step,
    ``G[k][:, :H] += G[k+1] Jx[k+1][s]``, which completes G[k] at s. Then ``saliency[τ, s] =
    ‖G[1] Jx[1][s]‖``, the norms are those of the analysed layer ``trace.layer`` (``jac``: its
    one-step Jacobians), and every layer steps back in time, ``G[k] ← G[k] Js[k][s]``.
    Cost per layer: T products of (n, S) by (S, S) and by (S, D) at most.
    """
    scores = output_scores(trace) if scores is None else scores
    T, H, S = trace.T, trace.H, trace.state_size
    layers = trace.layers or (trace,)                                         # a 1-layer network: itself
    L, chosen = len(layers), trace.layer
    jacs = [jac if k == chosen else step_jacobians(layer_trace) for k, layer_trace in enumerate(layers, 1)]
    steps = trace.output_steps                                                # (n,) ascending
    G = [np.zeros((len(steps), S)) for _ in range(L)]                         # G[k - 1]: layer k's
    first = len(steps)
    saliency = np.zeros((T, T))
    a_norms = np.zeros((T, T))
    c_norms = np.zeros((T, T)) if trace.cell == "lstm" else None
    for s in range(T - 1, -1, -1):
        if first > 0 and steps[first - 1] == s:
            first -= 1
            G[-1][first, :H] = scores.dscore_da[first]                        # the readout sees a[L]<τ> only
        if first == len(steps):
            continue
        rows = steps[first:]
        for k in range(L - 1, 0, -1):                                         # down through depth at step s
            G[k - 1][first:, :H] += G[k][first:] @ jacs[k].input[s]
        live = G[chosen - 1][first:]
        a_norms[rows, s] = np.linalg.norm(live[:, :H], axis=1)
        if c_norms is not None:
            c_norms[rows, s] = np.linalg.norm(live[:, H:], axis=1)
        saliency[rows, s] = np.linalg.norm(G[0][first:] @ jacs[0].input[s], axis=1)
        if s > 0:
            for k in range(L):
                G[k][first:] = G[k][first:] @ jacs[k].state[s]
    return OutputGradients(saliency, a_norms, c_norms)
