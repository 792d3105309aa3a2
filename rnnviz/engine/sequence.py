"""Forward over time and backpropagation through time (BPTT), calling the step kernels of
:mod:`rnnviz.engine.cells`; the loss weights of each position.

Shapes: T time steps, N batch, D input features (or V vocabulary for token inputs), H hidden,
G gate blocks (1 RNN, 4 LSTM, 3 for either GRU). Time-major throughout.

The input half of every pre-activation, ``x<t> Waxᵀ + ba``, is one matrix product for all T steps
before the loop (a column lookup for token inputs); after the backward loop ``dWax`` and ``dba``
are one product and one sum over all steps. Only the recurrent work runs step by step.

Memory: the forward pass writes the input projection where the step's result goes (the hidden
states for the RNN, the gates for LSTM and GRU) and the step turns it into that result in place;
BPTT overwrites each step's cache (``a<t>`` for the RNN, the gates otherwise) with ``dz<t>`` once it
is consumed. So a vanilla-RNN training pass costs about one copy of the hidden states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnviz.engine import cells, factored

#: the cells: "gru" is the course's GRU, "gru_torch" PyTorch's (see :mod:`rnnviz.engine.cells`)
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3, "gru_torch": 3}
STATE_KEYS = {"rnn": ("a",), "lstm": ("a", "c"), "gru": ("a",), "gru_torch": ("a",)}
#: Memory switch of the vanilla RNN's BPTT. Up to this many bytes of hidden states, ``dz<t>`` goes
#: into a buffer of its own and ``dWaa`` is one product after the loop (as for LSTM and GRU, whose
#: gates buffer takes ``dz<t>``). Above it, ``dz<t>`` overwrites ``a<t>`` once consumed and ``dWaa``
#: is summed step by step (``a<t-1>`` is overwritten next), so a full-batch pass over a large
#: training set keeps about one copy of the hidden states instead of two.
SEPARATE_DZ_BYTES = 1 << 24
#: Speed switch: BPTT of the vanilla RNN (when dz<t> has a buffer of its own) and of the LSTM whose
#: steps hold at most this many hidden values (N·H) runs through :mod:`rnnviz.engine.factored`,
#: which computes each step's cache-only factors for all steps before the loop; larger steps, the
#: GRUs, and everything when this is 0 run the step kernels of :mod:`rnnviz.engine.cells`. Same
#: gradients (tests compare them); the gain, and the loss above the limit, are measured in
#: benchmarks/README.md.
FACTORED_BPTT_MAX_STEP = 4096


class Cancelled(Exception):
    """A forward or backward pass stopped early because its ``cancel`` callback returned True."""


@dataclass
class SequenceCache:
    """What BPTT needs from the forward pass (all time-major)."""

    cell: str
    activation: str
    x: np.ndarray              # (T, N, D) float or (T, N) int tokens
    A: np.ndarray              # (T+1, N, H): A[0] = a<0>, A[t+1] = a<t+1>
    C: np.ndarray | None       # LSTM (T+1, N, H) cell states, C[0] = c<0>
    gates: np.ndarray | None   # LSTM (T, N, 4H) [Γf, Γi, Γo, c~]; GRU (T, N, 3H) [Γr, Γu, c~];
                               # PyTorch GRU (T, N, 3H) [Γr, Γz, n]
    RA: np.ndarray | None      # GRU (T, N, H) Γr * a<t-1>
    HN: np.ndarray | None = None   # PyTorch GRU (T, N, H) a<t-1> Waa_nᵀ + baa


def _poll(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled


def input_projection(Wax: np.ndarray, ba: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``x<t> Waxᵀ + ba`` for every step into ``out`` (T, N, G·H).

    x: (T, N, D) float, or (T, N) int tokens, in which case column ``x<t>`` of Wax is looked up
    (the product with a one-hot vector, without building it).
    """
    T, N, GH = out.shape
    if x.ndim == 2:
        np.take(Wax.T, x, axis=0, out=out)
    else:                                                   # one (T·N, D) x (D, G·H) product
        np.matmul(x.reshape(T * N, -1), Wax.T, out=out.reshape(T * N, GH))
    out += ba
    return out


def summed_over_time(dZ: np.ndarray, X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``Σt dz<t>ᵀ x<t>`` into out (P, Q): the gradient of a weight matrix used at every step.

    dZ: (T, N, P) gradients on the products' outputs.  X: (T, N, Q) their inputs, or (T, N) int
    token ids standing for one-hot rows of width Q (column v of out then sums dz over the
    positions holding token v).
    """
    T, N, P = dZ.shape
    if X.ndim == 2:
        onehot = np.zeros((T * N, out.shape[1]), dtype=dZ.dtype)          # (T·N, Q)
        onehot[np.arange(T * N), X.reshape(-1)] = 1.0
        X = onehot
    return np.matmul(dZ.reshape(T * N, P).T, X.reshape(T * N, -1), out=out)


def forward_sequence(params: dict, cell: str, activation: str, x: np.ndarray, state0: dict,
                     cancel=None) -> tuple[np.ndarray, dict, SequenceCache]:
    """Run the cell over all T steps.

    params: Wax (G·H, D), Waa (G·H, H), ba (G·H,) (+ baa (H,) for "gru_torch").
    x: (T, N, D) or (T, N) tokens.
    state0: {"a": (N, H)} (+ {"c": (N, H)} for LSTM).
    cancel: optional ``() -> bool`` polled at every time step; when it returns True the pass stops
    by raising :class:`Cancelled` (nothing outside this call has been changed).
    Returns ``(A, final_state, cache)``: A (T+1, N, H) with A[0] = a<0>; final_state holds copies.
    """
    Wax, Waa, ba = params["Wax"], params["Waa"], params["ba"]
    T, (N, H) = x.shape[0], state0["a"].shape
    G = GATE_BLOCKS[cell]
    A = np.empty((T + 1, N, H), dtype=Wax.dtype)
    A[0] = state0["a"]
    C = gates = RA = HN = None
    if cell == "rnn":
        input_projection(Wax, ba, x, out=A[1:])                     # (T, N, H), becomes a<t>
        for a_prev, a in zip(A[:-1], A[1:]):                        # a holds xw<t> on entry
            _poll(cancel)
            cells.rnn_step_forward(a, a_prev, Waa, activation, out=a)
    else:
        gates = input_projection(Wax, ba, x, out=np.empty((T, N, G * H), dtype=Wax.dtype))
        if cell == "lstm":
            C = np.empty_like(A)
            C[0] = state0["c"]
        elif cell == "gru":
            RA = np.empty_like(A[1:])
        else:
            HN = np.empty_like(A[1:])
        for t in range(T):                                          # gates[t] holds xw<t> on entry
            _poll(cancel)
            if cell == "lstm":
                cells.lstm_step_forward(gates[t], A[t], C[t], Waa, gates[t], C[t + 1], A[t + 1])
            elif cell == "gru":
                cells.gru_step_forward(gates[t], A[t], Waa, gates[t], RA[t], A[t + 1])
            else:
                cells.gru_torch_step_forward(gates[t], A[t], Waa, params["baa"], gates[t], HN[t], A[t + 1])
    final = {"a": A[T].copy()}
    if cell == "lstm":
        final["c"] = C[T].copy()
    return A, final, SequenceCache(cell, activation, x, A, C, gates, RA, HN)


def backward_sequence(params: dict, dA_out: np.ndarray | None, dA_last: np.ndarray | None,
                      cache: SequenceCache, dfinal: dict | None = None, out: dict | None = None,
                      cancel=None, dx_out: np.ndarray | None = None
                      ) -> tuple[dict, dict, np.ndarray, np.ndarray | None]:
    """Backpropagation through time over the whole cached sequence.

    dA_out: (T, N, H) gradient reaching each ``a<t>`` from the readout (many-to-many), or None.
    dA_last: (N, H) gradient on the last state only (many-to-one), or None.
    dfinal: optional gradient on the final state ({"a": (N, H)} [+ "c"]).
    out: optional arrays ``{"Wax", "Waa", "ba"}`` (+ ``"baa"`` for "gru_torch") to write the
    gradients into (e.g. views of one flat gradient buffer); new arrays if None.
    cancel: as in :func:`forward_sequence` (``out`` is then left half-written).
    dx_out: optional (T, N, D) array for dense inputs, receiving the gradient on the inputs
    ``dx<t> = dz<t> Wax`` (one product after the loop): in a stack of layers, the lower layer's
    gradient on its hidden states (see :mod:`rnnviz.engine.stack`).
    Destroys the cache: each step's cache is overwritten by its ``dz<t>`` (and the PyTorch GRU's
    ``hn<t>`` by ``dhn<t>``).
    Returns ``(grads, dstate0, grad_a_norms, grad_c_norms)``: grads for Wax, Waa, ba (+ baa);
    dstate0 the gradient on the initial state; ``grad_a_norms[t] = ||dL/da<t>||`` (T,) counting
    every path (readout at t and all later steps); ``grad_c_norms`` likewise for LSTM's ``c<t>``.
    """
    Wax, Waa = params["Wax"], params["Waa"]
    cell, A, C, gates = cache.cell, cache.A, cache.C, cache.gates
    T, N, H = A.shape[0] - 1, A.shape[1], A.shape[2]
    if out is None:
        out = {"Wax": np.empty_like(Wax), "Waa": np.empty_like(Waa), "ba": np.empty_like(params["ba"])}
        if cell == "gru_torch":
            out["baa"] = np.empty_like(params["baa"])
    dWax, dWaa, dba = out["Wax"], out["Waa"], out["ba"]
    norms = np.empty(T)
    c_norms = np.empty(T) if cell == "lstm" else None
    dnext = np.zeros((N, H), dtype=A.dtype)                  # dL/da<t> from step t+1
    if dfinal is not None:
        dnext += dfinal["a"]
    if dA_last is not None:
        dnext += dA_last
    dc_next = np.zeros_like(dnext)                           # LSTM: dL/dc<t> from step t+1
    if dfinal is not None and "c" in dfinal:
        dc_next += dfinal["c"]
    # dZ (T, N, G·H) receives dz<t>: the gates' buffer (consumed by then), or for the RNN a buffer
    # of its own, or a<t> itself above SEPARATE_DZ_BYTES (dWaa then summed in the loop)
    in_place = cell == "rnn" and A[1:].nbytes > SEPARATE_DZ_BYTES
    dZ = gates if cell != "rnn" else A[1:] if in_place else None
    fast = N * H <= FACTORED_BPTT_MAX_STEP and not in_place     # the fast path's switch
    if fast and cell == "rnn":
        dZ, dnext = factored.rnn_bptt(dA_out, dnext, A, Waa, cache.activation, norms, lambda: _poll(cancel))
    elif fast and cell == "lstm":
        dnext, dc_next = factored.lstm_bptt(dA_out, dnext, dc_next, gates, C, Waa, norms, c_norms,
                                            lambda: _poll(cancel))
    else:                                                    # the step kernels of cells.py
        if in_place:
            dWaa[...] = 0.0
        elif cell == "rnn":
            dZ = np.empty_like(A[1:])
        for t in range(T - 1, -1, -1):
            _poll(cancel)
            da = dnext if dA_out is None else dA_out[t] + dnext  # total dL/da<t>
            norms[t] = math.sqrt(np.vdot(da, da))
            if cell == "rnn":
                dz, dnext = cells.rnn_step_backward(da, A[t + 1], Waa, cache.activation)
                if in_place:
                    dWaa += dz.T @ A[t]
            elif cell == "lstm":
                dz, dnext, dc_next, dc = cells.lstm_step_backward(da, dc_next, C[t], C[t + 1], gates[t], Waa)
                c_norms[t] = math.sqrt(np.vdot(dc, dc))
            elif cell == "gru":
                dz, dnext = cells.gru_step_backward(da, A[t], gates[t], Waa)
            else:                                            # hn<t> consumed: it takes dhn<t>
                dz, cache.HN[t], dnext = cells.gru_torch_step_backward(da, A[t], gates[t], cache.HN[t], Waa)
            dZ[t] = dz
    if cell == "gru":
        summed_over_time(dZ[..., :2 * H], A[:-1], out=dWaa[:2 * H])
        summed_over_time(dZ[..., 2 * H:], cache.RA, out=dWaa[2 * H:])
    elif cell == "gru_torch":                                # cache.HN now holds dhn<t>
        summed_over_time(dZ[..., :2 * H], A[:-1], out=dWaa[:2 * H])
        summed_over_time(cache.HN, A[:-1], out=dWaa[2 * H:])
        cache.HN.sum(axis=(0, 1), out=out["baa"])
    elif not in_place:
        summed_over_time(dZ, A[:-1], out=dWaa)
    summed_over_time(dZ, cache.x, out=dWax)
    dZ.sum(axis=(0, 1), out=dba)
    if dx_out is not None:                                   # (T·N, G·H) x (G·H, D)
        np.matmul(dZ.reshape(T * N, -1), Wax, out=dx_out.reshape(T * N, -1))
    dstate0 = {"a": dnext}
    if cell == "lstm":
        dstate0["c"] = dc_next
    return out, dstate0, norms, c_norms


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
    return (w / N)[:, None] * np.ones((1, N), dtype=dtype)
