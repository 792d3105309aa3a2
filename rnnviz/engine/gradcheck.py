"""Gradient checking: analytic BPTT gradients against centred finite differences, in float64."""

from __future__ import annotations

import numpy as np


def relative_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b| / max(|a| + |b|, 1e-300)`` elementwise."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-300)


def numeric_grad(f, arr: np.ndarray, h: float = 1e-3, max_entries: int | None = None,
                 rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centred finite differences of scalar ``f()`` w.r.t. entries of ``arr`` (perturbed in place
    and restored), fourth-order stencil ``[8(f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))] / 12h``:
    in float64 with h = 1e-3 its error is about 1e-12, far below the tolerances it checks.
    Returns ``(flat indices checked, derivative values)``.
    """
    flat = arr.reshape(-1)
    idx = np.arange(flat.size)
    if max_entries is not None and flat.size > max_entries:
        rng = rng or np.random.default_rng(0)
        idx = np.sort(rng.choice(flat.size, size=max_entries, replace=False))
    out = np.empty(idx.size)
    for j, i in enumerate(idx):
        old = flat[i]
        values = []
        for step in (2.0, 1.0, -1.0, -2.0):
            flat[i] = old + step * h
            values.append(f())
        flat[i] = old
        out[j] = (8.0 * (values[1] - values[2]) - (values[0] - values[3])) / (12.0 * h)
    return idx, out


def gradcheck(net, x, y, state0=None, mask=None, h: float = 1e-3, max_entries: int | None = None,
              rng: np.random.Generator | None = None, atol: float = 1e-6) -> dict[str, float]:
    """Largest relative error per parameter (and per initial-state array, as ``state0.a`` …).

    ``net`` must be float64. The error per entry is ``|a - n| / max(|a| + |n|, atol)``: relative
    for entries of ordinary size, and measured against ``atol`` for tiny ones (the stencil's own
    error is up to a few 1e-13 absolute, so a relative error of an entry near 1e-7 would measure
    the check, not the gradient; an analytic 0 where the difference quotient is 1e-7 still reads 0.1).
    Use a smaller ``h`` (e.g. 1e-5) for ReLU networks, whose kinks a wide stencil may straddle.
    """
    if net.dtype != np.float64:
        raise ValueError("gradient checks need a float64 network")
    _, grads, res = net.loss_and_grads(x, y, state0, mask)
    state = {k: np.array(v, dtype=np.float64) for k, v in
             (state0 or net.zero_state(np.asarray(x).shape[1])).items()}
    targets = {name: (net.params[name], grads[name]) for name in net.params}
    for k, v in state.items():
        targets[f"state0.{k}"] = (v, res.grad_state0[k])
    report = {}
    for name, (arr, analytic) in targets.items():
        idx, num = numeric_grad(lambda: net.loss(x, y, state, mask), arr, h, max_entries, rng)
        ana = np.asarray(analytic).reshape(-1)[idx]
        err = np.abs(ana - num) / np.maximum(np.abs(ana) + np.abs(num), atol)
        report[name] = float(err.max(initial=0.0))
    return report
