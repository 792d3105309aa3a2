"""What the state remembers: linear read-outs (ridge regression) of task quantities from a<t>.

On a batch of probe sequences, the hidden states a<t> (T, N, H) are regressed onto a quantity as
it was k steps ago; its held-out score against k shows where information survives and where it
is lost. The quantities (:func:`lagged_targets`):

* copy: the symbol seen k steps ago, ``x<t-k>`` (a class; score: accuracy);
* parity: the running parity of the bits up to step t-k (a class; k = 0 is what the answer needs);
* adding: the sum of the marked values seen up to step t-k (a number; score: R²; at the last
  step, k = 0, it is the answer).

Fitting: ridge regression with an unpenalised bias, ``W = (XᵀX + αI)⁻¹ XᵀY`` (α = ``RIDGE_ALPHA``)
onto one-hot rows for classes (prediction: the argmax) or the value for numbers, fitted on the
first ``FIT_FRACTION`` of the sequences and scored on the rest, so a read-out cannot memorise.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

RIDGE_ALPHA = 1e-2
FIT_FRACTION = 0.7


class ProbeCurve(NamedTuple):
    """``lags`` (L,), ``score`` (L,) held-out accuracy (classes) or R² (numbers), ``metric``
    ("accuracy" or "r2") and ``chance`` (L,): the majority class's accuracy, or 0 for R²."""

    lags: np.ndarray
    score: np.ndarray
    metric: str
    chance: np.ndarray


def ridge_fit(X: np.ndarray, Y: np.ndarray, alpha: float = RIDGE_ALPHA) -> np.ndarray:
    """Ridge weights for features X (n, H) and targets Y (n, C): (H + 1, C), last row the bias (unpenalised).

    Solved on centred features, which is the same minimiser (the unpenalised bias absorbs the means)
    and keeps the system positive definite for any alpha > 0: with the bias as a column of ones, a
    feature that is the same large constant on every row (a saturated or dead-but-huge unit) made it
    singular in floating point."""
    mean_x, mean_y = X.mean(axis=0), Y.mean(axis=0)
    Xc = X - mean_x
    W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (Y - mean_y))     # (H, C)
    return np.vstack([W, mean_y - mean_x @ W])


def ridge_predict(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    return X @ W[:-1] + W[-1]


def lagged_targets(task: str, x: np.ndarray, k: int) -> tuple[np.ndarray, bool]:
    """The quantity at every step t ≥ k as of step t-k, for probe inputs x.

    x: tokens (T, N) for copy, (T, N, 1) bits for parity, (T, N, 2) values and marks for adding.
    Returns (targets (T-k, N), is_class): row j belongs to step t = k + j.
    """
    T = x.shape[0]
    if task == "copy":
        q = x
    elif task == "parity":
        q = (np.cumsum(np.asarray(x)[:, :, 0] > 0.5, axis=0) % 2).astype(np.int64)
    elif task == "adding":
        q = np.cumsum(x[:, :, 0] * x[:, :, 1], axis=0)
    else:
        raise ValueError(f"read-out probes are defined for copy, parity and adding (got {task!r})")
    return q[:T - k], task != "adding"


def readout_curve(task: str, x: np.ndarray, a: np.ndarray, lags, alpha: float = RIDGE_ALPHA) -> ProbeCurve:
    """Held-out read-out score of the task quantity k steps ago from a<t>, for every k in ``lags``.

    x: the probe batch's inputs (see :func:`lagged_targets`), N ≥ 4 sequences.  a: (T, N, H) hidden states.
    """
    T, N, H = a.shape
    n_fit = max(1, min(N - 1, int(round(FIT_FRACTION * N))))
    scores, chances, kept = [], [], []
    for k in lags:
        k = int(k)
        if not 0 <= k < T:
            continue
        q, is_class = lagged_targets(task, x, k)
        feats = a[k:]                                                           # (T-k, N, H): a<t>, t ≥ k
        X_fit, X_test = feats[:, :n_fit].reshape(-1, H), feats[:, n_fit:].reshape(-1, H)
        y_fit, y_test = q[:, :n_fit].reshape(-1), q[:, n_fit:].reshape(-1)
        if is_class:
            classes = np.unique(y_fit)
            Y = (y_fit[:, None] == classes[None, :]).astype(float)
            guess = classes[np.argmax(ridge_predict(ridge_fit(X_fit, Y, alpha), X_test), axis=1)]
            scores.append(float(np.mean(guess == y_test)))
            majority = classes[np.argmax(Y.sum(axis=0))]
            chances.append(float(np.mean(y_test == majority)))
        else:
            pred = ridge_predict(ridge_fit(X_fit, y_fit[:, None].astype(float), alpha), X_test)[:, 0]
            var = float(np.var(y_test))
            scores.append(1.0 - float(np.mean((pred - y_test) ** 2)) / var if var > 0 else 0.0)
            chances.append(0.0)
        kept.append(k)
    return ProbeCurve(np.array(kept), np.array(scores), "accuracy" if task != "adding" else "r2",
                      np.array(chances))


PROBE_SEQUENCES = 256
"""Held-out sequences a task's read-out curve is computed on (the first of its held-out set)."""


def task_readout_curve(task, network, lags=None, n_sequences: int = PROBE_SEQUENCES,
                       layer: int = 1) -> ProbeCurve | None:
    """:func:`readout_curve` on the first ``n_sequences`` held-out sequences of a copy, parity or
    adding ``task`` (a :class:`rnnviz.tasks.Task`), from a zero state, read from the states of
    ``layer`` (a stacked network's a[l]<t>). lags: default 0 … T-1. None when those states are not
    all finite (a diverged network: no read-out can be fitted to them)."""
    x = np.concatenate([b.x for b in task.test_batches()], axis=1)[:, :n_sequences]
    key = "a" if layer == 1 else f"a[{layer}]"
    with np.errstate(all="ignore"):            # (a diverged network's overflow: checked just below)
        a = np.asarray(network.forward(x).states[key], dtype=np.float64)      # (T, N, H)
    if not np.isfinite(a).all():
        return None
    lags = range(x.shape[0]) if lags is None else lags
    return readout_curve(task.name, x, a, lags)
