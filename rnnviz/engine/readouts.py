"""The readout ``ŷ = g(z)`` on the logits ``z = a Wyaᵀ + by`` and its loss, one pair per kind.

Shapes: M scored positions (any leading shape ``...``), K outputs.  Each loss takes per-position
``weights`` broadcastable to the leading shape (mask, 1/N, 1/T: each position's share of the
total) and returns ``(loss, ŷ, dz)`` with ``dz = ∂loss/∂z`` (..., K):

* ``softmax``: ŷ = softmax(z); per position ``-log ŷ[y]`` for class ids y (...); dz = w·(ŷ - onehot(y)).
* ``sigmoid``: ŷ = σ(z), K independent probabilities; per position
  ``-Σk [y log ŷ + (1-y) log(1-ŷ)]`` for y (..., K) in [0, 1]; dz = w·(ŷ - y).
* ``linear``: ŷ = z; per position ``Σk (ŷ - y)²``; dz = w·2(ŷ - y).

Network, loss and sampling all go through these functions.
"""

from __future__ import annotations

import numpy as np

from rnnviz.engine.cells import sigmoid


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis of z (..., K)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray, weights) -> tuple[float, np.ndarray, np.ndarray]:
    """z (..., K) logits, y (...) int class ids. ``-log ŷ[y] = log Σ exp(z - max z) - (z[y] - max z)``,
    stable where ŷ[y] underflows."""
    K = z.shape[-1]
    z2, rows, y2 = z.reshape(-1, K), np.arange(y.size), y.reshape(-1)       # (M, K), (M,), (M,)
    shifted = z2 - z2.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1)
    per = np.log(total) - shifted[rows, y2]
    probs = e / total[:, None]
    dz = probs.copy()
    dz[rows, y2] -= 1.0                                                      # ŷ - onehot(y)
    return _weighted(per.reshape(y.shape), dz.reshape(z.shape), weights, probs.reshape(z.shape))


def sigmoid_cross_entropy(z: np.ndarray, y: np.ndarray, weights) -> tuple[float, np.ndarray, np.ndarray]:
    """z, y (..., K). The loss from the logits, stable for any z:
    ``max(z, 0) - z·y + log(1 + e^-|z|)``."""
    probs = sigmoid(z)
    per = (np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum(axis=-1)
    return _weighted(per, probs - y, weights, probs)


def squared_error(z: np.ndarray, y: np.ndarray, weights) -> tuple[float, np.ndarray, np.ndarray]:
    """z, y (..., K); the linear readout's outputs are the logits themselves."""
    diff = z - y
    return _weighted((diff * diff).sum(axis=-1), 2.0 * diff, weights, z)


def _weighted(per: np.ndarray, dz: np.ndarray, weights, outputs: np.ndarray):
    """``(Σ w·per, outputs, w·dz)`` with w broadcast over the positions of ``per`` (...)."""
    w = np.asarray(weights, dtype=dz.dtype)
    loss = float((per * w).sum())
    dz *= w[..., None] if w.ndim else w
    return loss, outputs, dz


#: readout kind -> (ŷ = g(z), loss_and_grad(z, y, weights) -> (loss, ŷ, dz))
READOUTS = {
    "softmax": (softmax, softmax_cross_entropy),
    "sigmoid": (sigmoid, sigmoid_cross_entropy),
    "linear": (lambda z: z, squared_error),
}


def outputs(z: np.ndarray, kind: str) -> np.ndarray:
    """The readout's outputs ŷ (..., K) for logits z (..., K)."""
    return READOUTS[kind][0](z)


def loss_and_grad(z: np.ndarray, y: np.ndarray, kind: str, weights) -> tuple[float, np.ndarray, np.ndarray]:
    """``(loss, ŷ, dz)`` for logits z (..., K) and targets y (see the module docstring)."""
    return READOUTS[kind][1](z, y, weights)
