"""Forward over time, readouts and losses, and backpropagation through time (BPTT).

Shapes: T time steps, N batch, D input features (or V vocabulary for token inputs), H hidden,
G gate blocks (1 RNN, 4 LSTM, 3 GRU), K outputs. Time-major throughout: x (T, N, D) or tokens
(T, N). The loops call the step kernels of :mod:`rnnviz.engine.cells` once per time step.

One switch, :data:`BATCH_OVER_TIME_BYTES`, chooses how the work that does not depend on the
recurrence is done: the input projection ``x<t> Waxᵀ + ba`` and the weight gradients
``dWax, dWaa, dba``. Step by step (the plain path, as in the course), memory stays near one copy
of the hidden states however long the sequence or large the batch. For all time steps at once
(one matrix product before the loop and one after it instead of T small ones), a problem needs
(T, N, G·H) buffers more, and a small one runs faster (benchmarks/README.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.engine import cells

GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
STATE_KEYS = {"rnn": ("a",), "lstm": ("a", "c"), "gru": ("a",)}

#: Passes whose pre-activations ``(T, N, G·H)`` take at most this many bytes compute the input
#: projection and the weight gradients for all time steps at once; larger ones step by step.
#: 0 makes every pass take the plain, step-by-step path.
BATCH_OVER_TIME_BYTES = 1 << 24


class Cancelled(Exception):
    """A forward or backward pass stopped early because its ``cancel`` callback returned True."""


@dataclass
class SequenceCache:
    """What BPTT needs from the forward pass."""

    cell: str
    x: np.ndarray            # (T, N, D) float or (T, N) int tokens
    steps: list              # T caches of the cell's step forward kernel
    batched: bool            # whether the pass works on all time steps at once


def batched_over_time(T: int, N: int, GH: int, dtype) -> bool:
    """Whether a pass of this shape takes the all-steps-at-once path (:data:`BATCH_OVER_TIME_BYTES`)."""
    return T * N * GH * np.dtype(dtype).itemsize <= BATCH_OVER_TIME_BYTES


def input_projection(Wax: np.ndarray, ba: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x Waxᵀ + ba`` (..., G·H) for x (..., D), or for token ids x (...) the column ``Wax[:, x]``
    (the product with a one-hot vector, without building it). One step (N, ·) or all (T, N, ·)."""
    if x.dtype.kind in "iu":
        return Wax.T[x] + ba
    return x.dot(Wax.T) + ba


def add_weight_grads(grads: dict, dz: np.ndarray, x: np.ndarray, a_prev: np.ndarray,
                     ra: np.ndarray | None = None) -> None:
    """Add to ``grads["Wax"], ["Waa"], ["ba"]`` the weight gradients of M rows: one step's
    (M = N) or all steps' stacked (M = T·N).

    dz (M, G·H) pre-activation gradients; x (M, D) inputs or (M,) token ids; a_prev (M, H) the
    states the recurrent product multiplied; ra (M, H) the GRU's ``Γr * a<t-1>``, which block c
    multiplies instead: ``dWax += dzᵀ x``, ``dWaa += dzᵀ a_prev``, ``dba += Σ_rows dz``.
    """
    H = a_prev.shape[1]
    if ra is None:
        grads["Waa"] += dz.T.dot(a_prev)
    else:
        grads["Waa"][:2 * H] += dz[:, :2 * H].T.dot(a_prev)
        grads["Waa"][2 * H:] += dz[:, 2 * H:].T.dot(ra)
    grads["ba"] += dz.sum(axis=0)
    if x.ndim == 1:                                      # token ids: x<t> is a one-hot row
        x = one_hot(x, grads["Wax"].shape[1], dz.dtype)
    grads["Wax"] += dz.T.dot(x)


def one_hot(ids: np.ndarray, V: int, dtype) -> np.ndarray:
    """Rows of zeros with a 1 at each id: (M,) ids -> (M, V)."""
    out = np.zeros((ids.size, V), dtype=dtype)
    out[np.arange(ids.size), ids] = 1.0
    return out


def forward_sequence(params: dict, cell: str, activation: str, x: np.ndarray, state0: dict,
                     cancel=None) -> tuple[dict, dict, SequenceCache]:
    """Run the cell over all T steps.

    params: Wax (G·H, D), Waa (G·H, H), ba (G·H,).  x: (T, N, D) or (T, N) tokens.
    state0: {"a": (N, H)} (+ {"c": (N, H)} for LSTM).
    cancel: optional ``() -> bool`` polled at every time step; when it returns True the pass stops
    by raising :class:`Cancelled`.
    Returns ``(states, final_state, cache)``: states maps "a" (and "c" for LSTM) to the list of
    the T states ``a<1> … a<T>``, each (N, H); final_state holds ``a<T>`` (and ``c<T>``).
    """
    Wax, Waa, ba = params["Wax"], params["Waa"], params["ba"]
    T, N, GH = x.shape[0], x.shape[1], Wax.shape[0]
    batched = batched_over_time(T, N, GH, Wax.dtype)
    if batched:
        XW = input_projection(Wax, ba, x)                   # (T, N, G·H)
    a, c = state0["a"], state0.get("c")
    states = {k: [] for k in STATE_KEYS[cell]}
    steps = []
    for t in range(T):
        if cancel is not None and cancel():
            raise Cancelled
        xw = XW[t] if batched else input_projection(Wax, ba, x[t])
        if cell == "rnn":
            a, cache = cells.rnn_step_forward(xw, a, Waa, activation)
        elif cell == "lstm":
            a, c, cache = cells.lstm_step_forward(xw, a, c, Waa)
            states["c"].append(c)
        else:
            a, cache = cells.gru_step_forward(xw, a, Waa)
        states["a"].append(a)
        steps.append(cache)
    final = {k: v[-1] for k, v in states.items()}
    return states, final, SequenceCache(cell, x, steps, batched)


def backward_sequence(params: dict, dA_out: np.ndarray | None, dA_last: np.ndarray | None,
                      cache: SequenceCache, dfinal: dict | None = None, out: dict | None = None,
                      cancel=None) -> tuple[dict, dict, np.ndarray, np.ndarray | None]:
    """Backpropagation through time over the whole cached sequence.

    dA_out: (T, N, H) gradient reaching each ``a<t>`` from the readout (many-to-many), or None.
    dA_last: (N, H) gradient on the last state only (many-to-one), or None.
    dfinal: optional gradient on the final state ({"a": (N, H)} [+ "c"]).
    out: optional arrays ``{"Wax", "Waa", "ba"}`` to write the gradients into (e.g. views of one
    flat gradient buffer); new arrays if None.
    cancel: as in :func:`forward_sequence` (``out`` is then left half-written).
    Overwrites ``dA_out[t]`` with the total gradient on ``a<t>``.
    Returns ``(grads, dstate0, grad_a_norms, grad_c_norms)``: grads for Wax, Waa, ba; dstate0 the
    gradient on the initial state; ``grad_a_norms[t] = ||dL/da<t>||`` (T,) counting every path
    (the readout at t and all later steps); ``grad_c_norms`` likewise for the LSTM's ``c<t>``.
    """
    cell, x, steps = cache.cell, cache.x, cache.steps
    T = len(steps)
    if out is None:
        out = {k: np.empty_like(params[k]) for k in ("Wax", "Waa", "ba")}
    for k in ("Wax", "Waa", "ba"):
        out[k][...] = 0.0
    da_next = np.zeros_like(steps[0][0])
    if dfinal is not None:
        da_next += dfinal["a"]
    if dA_last is not None:
        da_next += dA_last
    if cell == "lstm":
        dc_next = np.zeros_like(da_next)
        if dfinal is not None and "c" in dfinal:
            dc_next += dfinal["c"]
        sq_c = np.empty(T)
    sq_a = np.empty(T)
    dZ = [None] * T
    for t in reversed(range(T)):
        if cancel is not None and cancel():
            raise Cancelled
        if dA_out is None:                   # many-to-one: a<t> reaches the loss through a<t+1> only
            da = da_next
            sq_a[t] = np.vdot(da, da)
        else:                                # dA_out[t] becomes the total dL/da<t>
            da = dA_out[t]
            da += da_next
        if cell == "rnn":
            dz, da_next = cells.rnn_step_backward(da, steps[t])
        elif cell == "lstm":
            dz, da_next, dc_next, dc = cells.lstm_step_backward(da, dc_next, steps[t])
            sq_c[t] = np.vdot(dc, dc)
        else:
            dz, da_next = cells.gru_step_backward(da, steps[t])
        if cache.batched:
            dZ[t] = dz
        else:
            add_weight_grads(out, dz, x[t], steps[t][0], steps[t][2] if cell == "gru" else None)
    if cache.batched:                       # all steps' rows stacked: (T·N, ·)
        a_prev = np.concatenate([s[0] for s in steps])
        ra = np.concatenate([s[2] for s in steps]) if cell == "gru" else None
        x_rows = x.reshape((-1,) + x.shape[2:])          # (T·N, D) or (T·N,) tokens
        add_weight_grads(out, np.concatenate(dZ), x_rows, a_prev, ra)
    if dA_out is not None:
        sq_a = np.sum(dA_out * dA_out, axis=(1, 2))
    dstate0 = {"a": da_next}
    if cell == "lstm":
        dstate0["c"] = dc_next
        return out, dstate0, np.sqrt(sq_a), np.sqrt(sq_c)
    return out, dstate0, np.sqrt(sq_a), None


# --------------------------------------------------------------------------- readouts and losses
def softmax(logits: np.ndarray) -> np.ndarray:
    """``e^l / Σ e^l`` over the last axis, computed from ``l - max l`` (never overflows)."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax(l) = l - log Σ e^l`` over the last axis; finite where softmax underflows to 0."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _identity(logits: np.ndarray) -> np.ndarray:
    return logits


#: the output function of each readout
OUTPUTS = {"softmax": softmax, "sigmoid": cells.sigmoid, "linear": _identity}


def readout(Wya: np.ndarray, by: np.ndarray, A_out: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``ŷ = out(a Wyaᵀ + by)`` for hidden states A_out (..., H); returns ``(logits, ŷ)`` (..., K).

    kind: "softmax" (probabilities over K), "sigmoid" (K independent probabilities) or "linear".
    """
    H, K = Wya.shape[1], Wya.shape[0]
    logits = (np.dot(A_out.reshape(-1, H), Wya.T) + by).reshape(A_out.shape[:-1] + (K,))
    return logits, OUTPUTS[kind](logits)


def loss_and_dlogits(logits: np.ndarray, outputs: np.ndarray, y: np.ndarray, kind: str,
                     weights) -> tuple[float, np.ndarray]:
    """Weighted loss and its gradient on the logits.

    logits, outputs: (..., K) from :func:`readout`.  y: int (...) class ids for softmax, float
    (..., K) otherwise.  weights: a scalar or (...): each position's share of the total (mask,
    1/N, 1/T); see :func:`loss_weights`.
    Per position: softmax + cross-entropy ``-log ŷ[y]``, gradient ``ŷ - onehot(y)``;
    sigmoid + logistic loss ``-Σk [y log ŷ + (1-y) log(1-ŷ)]`` (from the logits, stable),
    gradient ``ŷ - y``; linear + squared error ``Σk (ŷ - y)²``, gradient ``2 (ŷ - y)``.
    """
    if kind == "softmax":
        K = logits.shape[-1]
        rows, target = np.arange(y.size), y.reshape(-1)                   # position, class
        per = -log_softmax(logits).reshape(-1, K)[rows, target].reshape(y.shape)
        d = outputs.copy()
        d.reshape(-1, K)[rows, target] -= 1.0
    elif kind == "sigmoid":
        per = (np.maximum(logits, 0.0) - logits * y + np.log1p(np.exp(-np.abs(logits)))).sum(axis=-1)
        d = outputs - y
    else:
        per = ((outputs - y) ** 2).sum(axis=-1)
        d = 2.0 * (outputs - y)
    loss = float((per * weights).sum())
    d *= np.asarray(weights, dtype=d.dtype)[..., None]
    return loss, d


def loss_weights(T: int, N: int, mask: np.ndarray | None, reduction: str, many_to_one: bool,
                 dtype) -> np.ndarray | float:
    """Weight of each (t, n) position in the loss: mean over the batch, sum or mean over time.

    A scalar when every position weighs the same (many-to-one, or no mask), else (T, N).
    """
    if many_to_one:
        return 1.0 / N
    if mask is None:
        return 1.0 / N if reduction == "sum" else 1.0 / (N * T)
    w = np.asarray(mask, dtype=dtype)
    if reduction == "mean":
        total = w.sum()
        if total <= 0:
            raise ValueError("mask must select at least one time step")
        w = w / total
    return np.broadcast_to((w / N)[:, None], (T, N)).astype(dtype)
