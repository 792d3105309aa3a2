"""How far back a change to the state still matters: the memory horizon and Pascanu's bound.

``norms[τ, s] = σmax(∂state<τ>/∂state<s>)`` (from :func:`rnnviz.insight.jacobians.product_norms`)
is the most a change at step s can still move the state at step τ. Its typical size at lag
k = τ - s is the median over τ of ``norms[τ, τ-k]``; the **memory horizon** is the first lag at which
that median falls below ``HORIZON_THRESHOLD`` (10⁻³): beyond it, what the network saw has all but
stopped reaching the present, so neither the forward signal nor BPTT's gradient carries it.
"""

from __future__ import annotations

import numpy as np

from rnnviz.insight.jacobians import block_product_norms, largest_singular_values, product_norms, step_jacobians
from rnnviz.insight.trace import Trace

HORIZON_THRESHOLD = 1e-3
"""The memory horizon is the first lag where the median ‖∂state<τ>/∂state<τ-k>‖ is below this."""

ACTIVATION_SLOPE_BOUND = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}
"""γ in Pascanu et al.'s bound: the largest slope of the activation. tanh' ≤ 1 and σ' ≤ 1/4 (their
paper); for ReLU the slope is 0 or 1, so γ = 1 (as for tanh, but a ReLU network's bound is reached
only along units that stay active)."""


def lag_medians(norms: np.ndarray) -> np.ndarray:
    """``m[k]`` = median over τ ≥ k of ``norms[τ, τ-k]`` for k = 0 … T-1: norms (T, T) -> (T,)."""
    T = norms.shape[0]
    return np.array([np.median(np.diagonal(norms, offset=-k)) for k in range(T)])


def memory_horizon(norms: np.ndarray, threshold: float = HORIZON_THRESHOLD) -> int | None:
    """The first lag k ≥ 1 where :func:`lag_medians` falls below ``threshold``; None when it never
    does within the probe (the horizon is at least T: longer than the probe can show)."""
    below = np.flatnonzero(lag_medians(norms)[1:] < threshold)
    return int(below[0]) + 1 if below.size else None


def pascanu_bound(Waa: np.ndarray, activation: str, lags) -> np.ndarray:
    """Pascanu, Mikolov & Bengio (2013)'s bound on a vanilla RNN: ``‖∂a<τ>/∂a<τ-k>‖ ≤ (γ σmax(Waa))^k``.

    Waa: (H, H).  activation: tanh | sigmoid | relu (γ from ``ACTIVATION_SLOPE_BOUND``).
    lags: the k values (any shape) -> the bound, same shape.
    """
    gamma = ACTIVATION_SLOPE_BOUND[activation]
    sigma = float(np.linalg.svd(Waa, compute_uv=False)[0])
    with np.errstate(over="ignore"):
        return (gamma * sigma) ** np.asarray(lags, dtype=float)


def state_norms(trace: Trace, Js: np.ndarray | None = None, sigma=largest_singular_values) -> dict[str, np.ndarray]:
    """(T, T) products' norms along ``trace``: "state" (the whole state); for the LSTM also "a"
    (∂a<τ>/∂a<s>, through the hidden and the cell path together) and "c" (∂c<τ>/∂c<s>, the cell path).
    sigma: σmax of a stack of matrices (see :func:`~rnnviz.insight.jacobians.product_norms`)."""
    Js = step_jacobians(trace).state if Js is None else Js
    if trace.cell != "lstm":
        return {"state": product_norms(Js, sigma=sigma)}
    H = trace.H
    whole, a, c = block_product_norms(Js, [None, (slice(0, H), slice(0, H)), (slice(H, 2 * H), slice(H, 2 * H))], sigma)
    return {"state": whole, "a": a, "c": c}
