"""Cheap per-step numbers that show why a recurrent network learns or fails.

* ``spectral_radius``: largest |eigenvalue| of the recurrent matrix. Going back one step
  multiplies the gradient on ``a<t>`` by ``Waaᵀ diag(g'(z))``. With tanh (|g'| ≤ 1) a largest
  *singular value* of Waa below 1 is sufficient for gradients through time to vanish, and one
  above 1 necessary for them to explode (Pascanu, Mikolov & Bengio 2013; sigmoid: 4 instead
  of 1). The spectral radius is at most the largest singular value, and equal to it for a normal
  Waa (symmetric, orthogonal). It sets how ``||Waaᵏ||`` grows or decays as k → ∞, not over the
  first steps: for a non-normal Waa with spectral radius below 1 a gradient can still grow for
  tens of steps before it decays.
* ``saturation``: fraction of tanh/sigmoid units pinned near their limits, where g'(z) ≈ 0.
* ``array_norms``: the norm of every parameter or gradient, by name.
* ``nonfinite_report``: which parameter and time step went NaN/inf, so a step can be refused.
"""

from __future__ import annotations

import math

import numpy as np


def spectral_radius(Waa: np.ndarray, cell: str = "rnn") -> float:
    """Largest |eigenvalue| of the recurrent matrix; for gated cells, of the candidate block
    (``c`` rows of Waa), the path the hidden state is mixed through. Waa: (G·H, H)."""
    H = Waa.shape[1]
    block = Waa if cell == "rnn" else Waa[-H:]
    ev = np.linalg.eigvals(np.asarray(block, dtype=np.float64))
    return float(np.abs(ev).max()) if ev.size else 0.0


def saturation(a: np.ndarray, activation: str = "tanh", threshold: float = 0.99) -> float:
    """Fraction of entries of hidden states ``a`` in the flat part of their activation.

    tanh: |a| > threshold; sigmoid: a < 1 - threshold or a > threshold; relu: a == 0 (dead).
    """
    a = np.asarray(a)
    if a.size == 0:
        return 0.0
    if activation == "tanh":
        return float(np.mean(np.abs(a) > threshold))
    if activation == "sigmoid":
        return float(np.mean((a > threshold) | (a < 1.0 - threshold)))
    return float(np.mean(a <= 0.0))


def array_norms(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Frobenius norm of every array, by name (inf or NaN where an array is not finite)."""
    return {k: math.sqrt(np.vdot(v, v)) for k, v in arrays.items()}


def nonfinite_report(loss: float, grads: dict[str, np.ndarray], grad_a_norms: np.ndarray | None,
                     final_state: dict | None = None) -> str | None:
    """None when everything is finite; otherwise one sentence naming what went non-finite.

    grad_a_norms (T,): the first non-finite entry going back from the last step is the time step
    where the backward signal broke (it is NaN/inf for every earlier step too).
    """
    problems = []
    if not np.isfinite(loss):
        problems.append(f"loss is {loss}")
    if final_state is not None:
        for k, v in final_state.items():
            if not np.isfinite(v).all():
                problems.append(f"hidden state {k}<T> is not finite")
    bad = [k for k, g in grads.items() if not np.isfinite(g).all()]
    if bad:
        problems.append("gradient of " + ", ".join(bad) + " is not finite")
    if grad_a_norms is not None:
        nf = np.flatnonzero(~np.isfinite(grad_a_norms))
        if nf.size:
            problems.append(f"dL/da<t> first non-finite at time step t={int(nf.max())}")
    return "; ".join(problems) if problems else None
