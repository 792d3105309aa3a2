"""Cheap per-step numbers that show why a recurrent network learns or fails.

* ``spectral_radius``: largest |eigenvalue| of the recurrent matrix (of the candidate block for
  gated cells). Above 1 with a linear-ish regime, gradients tend to explode going back in time;
  well below 1 they tend to vanish. (The guarantee is on the largest singular value: below 1
  for tanh, the gradient must vanish; a non-normal matrix with spectral radius below 1 can
  still grow a gradient for many steps.)
* ``saturation``: fraction of tanh/sigmoid units pinned near their limits, where g'(z) ≈ 0.
* ``param_norms`` / gradient norms per parameter.
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
