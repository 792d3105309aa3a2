"""Forward over time, readout and loss, and backpropagation through time (BPTT).

Shapes: T time steps, N batch, D input features (or V vocabulary for token inputs), H hidden,
G gate blocks (1 RNN, 4 LSTM, 3 GRU), K outputs. Time-major throughout.

Work that does not depend on the recurrence is done for all time steps at once: the input
projection ``x<t> Waxᵀ + ba`` before the loop, the readout and loss after it, and the weight
gradients ``dWax, dba`` (all cells) and ``dWaa`` (LSTM, GRU) after the backward loop. Only the
recurrent matrix products stay inside the time loop.

Memory: the vanilla RNN keeps one (T+1, N, H) buffer. The forward pass writes the input projection
into it and turns it into the hidden states in place; BPTT overwrites ``a<t>`` with ``dz<t>`` as
soon as it is no longer needed. So a full-batch step costs about one copy of the hidden states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.engine import cells
from rnnviz.engine.flat import aligned_empty

GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
#: below this size (bytes of the hidden states; of the gates for the LSTM) BPTT precomputes what
#: it can for all steps at once in extra buffers (vanilla RNN: a separate dZ and dWaa in one
#: product after the loop; LSTM: the gradient-independent factors); above it, it reuses the
#: forward buffers and keeps memory near one copy of them
SEPARATE_DZ_BYTES = 1 << 24
#: LSTM steps with at most this many hidden values (N·H) take the precomputed-factor BPTT
SMALL_STEP = 4096
#: token inputs: for vocabularies up to this size dWax is a product with one-hot rows (BLAS);
#: above it a scatter-add (np.add.at)
ONE_HOT_MAX_V = 512
#: token inputs: up to this many tokens the input projection gathers columns of Wax (else np.take)
FEW_TOKENS = 256
#: one-hot entries per block of that product (bounds its temporary memory)
ONE_HOT_BLOCK = 1 << 20
STATE_KEYS = {"rnn": ("a",), "lstm": ("a", "c"), "gru": ("a",)}
#: vanilla RNN passes whose :class:`Workspace` would take at most this many bytes run in one,
#: kept between passes (a character model's 25-step chunk at batch 1, H = 100: ~180 kB)
WORKSPACE_BYTES = 1 << 21
#: bytes a Workspace spends per time step on its lists of views (four views and two tuples)
WORKSPACE_STEP_BYTES = 800


class Cancelled(Exception):
    """A forward or backward pass stopped early because its ``cancel`` callback returned True."""


@dataclass
class SequenceCache:
    """What BPTT needs from the forward pass (all time-major, (T, N, ·))."""

    cell: str
    activation: str
    x: np.ndarray            # (T, N, D) float or (T, N) int tokens
    A: np.ndarray            # (T+1, N, H): A[0] = a<0>, A[t+1] = a<t+1>
    C: np.ndarray | None     # LSTM (T+1, N, H) cell states
    TC: np.ndarray | None    # LSTM (T, N, H) tanh(c<t>)
    gates: np.ndarray | None  # LSTM (T, N, 4H) [f, i, o, c~]; GRU (T, N, 3H) [r, u, c~]
    RA: np.ndarray | None    # GRU (T, N, H) Γr * a<t-1>


class Workspace:
    """The buffers of a vanilla-RNN training pass of one shape, kept for the next pass of that shape.

    At batch 1 a step's arrays are tiny, and making them (and the two views per time step that
    the loops walk) is a cost of its own, 3-4% of a character model's training step. A workspace
    makes them once: ``A`` (T+1, N, H) hidden states, ``dA`` (T, N, H) gradients on them, ``dZ``
    (T, N, H) pre-activation gradients, ``rec`` (N, H) one step's recurrent product, ``WaaT``
    (H, H) a C-contiguous copy of Waaᵀ, ``onehot``
    (T·N, V) zeros for the dWax product of token inputs, if ``onehot_width`` V is given (every
    pass leaves it zero), and the lists of per-step views
    ``forward_steps`` (a<t-1>, a<t>) and ``backward_steps`` (da<t>, dz<t>) for t = T-1 … 0.
    Nothing in it outlives the pass that uses it: callers hand out copies only.
    """

    @staticmethod
    def nbytes(T: int, N: int, H: int, dtype, onehot_width: int | None = None) -> int:
        """About how much memory a workspace of this shape keeps."""
        values = (3 * T + 2) * N * H + H * H + (T * N * onehot_width if onehot_width else 0)
        return values * np.dtype(dtype).itemsize + T * WORKSPACE_STEP_BYTES

    def __init__(self, T: int, N: int, H: int, dtype, onehot_width: int | None = None):
        self.key = (T, N, H, np.dtype(dtype), onehot_width)
        self.A = aligned_empty((T + 1, N, H), dtype)
        self.dA = aligned_empty((T, N, H), dtype)
        self.dZ = aligned_empty((T, N, H), dtype)
        self.rec = aligned_empty((N, H), dtype)
        self.WaaT = aligned_empty((H, H), dtype)
        self.onehot = None
        if onehot_width is not None:
            self.onehot = aligned_empty((T * N, onehot_width), dtype)
            self.onehot[...] = 0.0
        self.rows = np.arange(T * N)
        self.forward_steps = list(zip(self.A[:-1], self.A[1:]))
        self.backward_steps = list(zip(self.dA[::-1], self.dZ[::-1]))

    def __reduce__(self):
        # copies (copy, deepcopy, pickle) are new workspaces of the same shape: a copied list of
        # views would not view the copied buffers
        T, N, H, dtype, onehot_width = self.key
        return Workspace, (T, N, H, dtype, onehot_width)


def input_projection(Wax: np.ndarray, ba: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``x<t> Waxᵀ + ba`` for every step into ``out`` (T, N, G·H).

    x: (T, N, D) float, or (T, N) int tokens, in which case column ``x<t>`` of Wax is looked up
    (the product with a one-hot vector, without building it).
    """
    T, N, GH = out.shape
    if x.ndim == 2:
        if x.size <= FEW_TOKENS:    # gather columns, then one transposed copy: 2x faster when few
            # the bias is added in the same pass as the transposing copy
            np.add(Wax[:, x.reshape(-1)].T, ba, out=out.reshape(T * N, GH))
            return out
        else:
            np.take(Wax.T, x, axis=0, out=out)
    elif x.shape[2] == 1:
        # one input feature (parity's bit): a broadcast product, exactly what the K = 1 matrix
        # product computes, without BLAS's slow K = 1 path (~4x faster at T·N = 5·10^6)
        np.multiply(x, Wax[:, 0], out=out)
    else:
        np.matmul(x.reshape(T * N, -1), Wax.T, out=out.reshape(T * N, GH))
    out += ba
    return out


def forward_sequence(params: dict, cell: str, activation: str, x: np.ndarray,
                     state0: dict, cancel=None, workspace: Workspace | None = None
                     ) -> tuple[np.ndarray, dict, SequenceCache]:
    """Run the cell over all T steps.

    params: Wax (G·H, D), Waa (G·H, H), ba (G·H,).  x: (T, N, D) or (T, N) tokens.
    state0: {"a": (N, H)} (+ {"c": (N, H)} for LSTM).
    cancel: optional ``() -> bool`` polled at every time step; when it returns True the pass stops
    by raising :class:`Cancelled` (nothing outside this call and its workspace has been changed).
    workspace: vanilla RNN only, a :class:`Workspace` of this shape whose buffers the pass uses
    (A is then ``workspace.A``, valid until the workspace's next pass).
    Returns ``(A, final_state, cache)``: A (T+1, N, H) with A[0] = a<0>; final_state holds copies.
    """
    Wax, Waa, ba = params["Wax"], params["Waa"], params["ba"]
    a0 = state0["a"]
    T, N, H = x.shape[0], a0.shape[0], a0.shape[1]
    G = GATE_BLOCKS[cell]
    dtype = Wax.dtype
    A = workspace.A if workspace is not None else np.empty((T + 1, N, H), dtype=dtype)
    A[0] = a0
    C = TC = gates = RA = None
    # For batches of 16 or more the steps multiply by a C-contiguous copy of Waaᵀ: a plain (NN)
    # product is ~20% faster in OpenBLAS than the transposed (NT) one at N = 64, H = 256.
    if cell == "rnn":
        input_projection(Wax, ba, x, out=A[1:])
        # cells.rnn_step_forward inlined (the loop is the whole cost at batch 1): z += a<t-1> Waaᵀ; g(z)
        # ndarray.dot with an output buffer: ~0.4 us less per call than matmul at batch 1 (~0.15 of
        # it the method over np.dot). Against a C-contiguous Waaᵀ a batch-1 product costs about
        # the same at H = 100 and much less at H = 128 (1.6 against 2.3 us), which repays the
        # copy over a few steps. Ufuncs get ``out`` positionally (no keyword parsing).
        act = cells.ACTIVATIONS[activation]
        add = np.add
        if workspace is not None:
            WaaT, rec, steps = workspace.WaaT, workspace.rec, workspace.forward_steps
            np.copyto(WaaT, Waa.T)
        else:
            WaaT = np.ascontiguousarray(Waa.T) if N >= 16 or T >= 8 else Waa.T
            rec, steps = np.empty((N, H), dtype=dtype), zip(A[:-1], A[1:])
        for a_prev, z in steps:          # views of steps t-1 and t
            if cancel is not None and cancel():
                raise Cancelled
            a_prev.dot(WaaT, rec)
            add(z, rec, z)
            act(z, z)
        final = {"a": A[T].copy()}
    elif cell == "lstm":
        # The f, i, o pre-activations are computed halved (exact: halving a weight halves every
        # product and sum made from it), so each step's gate activations are one tanh over all 4H
        # plus ½·t + ½ on the sigmoid blocks: cells.lstm_step_forward_halved.
        half = np.ones(G * H, dtype=dtype)
        half[:3 * H] = 0.5
        XW = np.empty((T, N, G * H), dtype=dtype)
        if Wax.size <= XW.size:          # halve the (smaller) weights, or else the projection
            input_projection(Wax * half[:, None], ba * half, x, out=XW)
        else:
            input_projection(Wax, ba, x, out=XW)
            XW *= half
        WaaT_half = np.multiply(Waa.T, half, order="C")              # (H, 4H), C-contiguous
        gates = np.empty((T, N, G * H), dtype=dtype)
        C = np.empty((T + 1, N, H), dtype=dtype)
        C[0] = state0["c"]
        TC = np.empty((T, N, H), dtype=dtype)
        for t in range(T):
            if cancel is not None and cancel():
                raise Cancelled
            cells.lstm_step_forward_halved(XW[t], A[t], C[t], WaaT_half, gates[t], C[t + 1], TC[t], A[t + 1])
        final = {"a": A[T].copy(), "c": C[T].copy()}
    else:  # gru
        XW = input_projection(Wax, ba, x, out=np.empty((T, N, G * H), dtype=dtype))
        gates = np.empty((T, N, G * H), dtype=dtype)
        if N >= 16:   # see above
            Waa = np.ascontiguousarray(Waa.T).T
        RA = np.empty((T, N, H), dtype=dtype)
        for t in range(T):
            if cancel is not None and cancel():
                raise Cancelled
            cells.gru_step_forward(XW[t], A[t], Waa, gates[t], RA[t], A[t + 1])
        final = {"a": A[T].copy()}
    return A, final, SequenceCache(cell, activation, x, A, C, TC, gates, RA)


# --------------------------------------------------------------------------- readout and loss
def readout(Wya: np.ndarray, by: np.ndarray, A_out: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``y = g(a Wyaᵀ + by)`` for hidden states A_out (..., H); returns ``(logits, outputs)`` (..., K).

    kind: "softmax" (probabilities over K), "sigmoid" (K independent probabilities) or "linear".
    """
    logits = A_out @ np.ascontiguousarray(Wya.T)     # a plain (NN) product: see readout_loss
    logits += by
    if kind == "softmax":
        out = logits - logits.max(axis=-1, keepdims=True)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
    elif kind == "sigmoid":
        out = cells.sigmoid(logits)
    else:
        out = logits
    return logits, out


def loss_and_dlogits(logits: np.ndarray, outputs: np.ndarray, y: np.ndarray, kind: str,
                     weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted loss and its gradient on the logits.

    logits, outputs: (..., K).  y: int (...) class ids for softmax, float (..., K) otherwise.
    weights: broadcastable to (...): each position's share of the total (mask, 1/N, 1/T).
    Per-position loss: softmax ``-log p[y]``; sigmoid ``-Σk [y log p + (1-y) log(1-p)]``
    (computed from the logits, stable); linear ``Σk (ŷ - y)²``.
    """
    if kind == "softmax":
        flat_out = outputs.reshape(-1, outputs.shape[-1])
        flat_y = y.reshape(-1)
        rows = np.arange(flat_y.size)
        # log p[y] from the logits: stable where p underflows
        flat_logits = logits.reshape(-1, logits.shape[-1])
        mx = flat_logits.max(axis=1)
        logsum = np.log(np.exp(flat_logits - mx[:, None]).sum(axis=1)) + mx
        per = (logsum - flat_logits[rows, flat_y]).reshape(y.shape)
        d = flat_out.copy()
        d[rows, flat_y] -= 1.0
        d = d.reshape(outputs.shape)
    elif kind == "sigmoid":
        per = (np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))).sum(axis=-1)
        d = outputs - y
    else:
        diff = outputs - y
        per = (diff * diff).sum(axis=-1)
        d = 2.0 * diff
    loss = float((per * weights).sum())
    d *= weights[..., None] if np.ndim(weights) else weights
    return loss, d.astype(logits.dtype, copy=False)


def readout_loss(Wya: np.ndarray, by: np.ndarray, A_out: np.ndarray, y: np.ndarray, kind: str,
                 weights) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`readout` then :func:`loss_and_dlogits`, sharing the softmax's work.

    A_out: (M, H) hidden states of the M scored positions.  y, weights: as in
    :func:`loss_and_dlogits`, flattened to M positions (weights may be a scalar).
    Returns ``(loss, outputs (M, K), dlogits (M, K))``. For softmax, ``-log p[y]`` is
    ``log Σ exp(l - max l) - (l[y] - max l)``, stable where p underflows, with no second exp.
    """
    if kind != "softmax":
        logits, outputs = readout(Wya, by, A_out, kind)
        loss, d = loss_and_dlogits(logits, outputs, y, kind, weights)
        return loss, outputs, d
    # (M, K) logits, then probabilities. Against a C-contiguous copy of Wyaᵀ: OpenBLAS's product
    # with a transposed operand takes 21 us at (25, 100) x (100, 95), the copy and plain product 14.
    probs = A_out.dot(np.ascontiguousarray(Wya.T))
    probs += by
    M, K = probs.shape
    target = np.arange(0, M * K, K)     # flat index of each row's target class: 1-D take and
    target += y                         # set are ~1 us faster than [rows, y] indexing
    mx = np.maximum.reduce(probs, axis=1, keepdims=True)   # ndarray.max without its wrapper
    picked = probs.take(target)
    picked -= mx[:, 0]
    probs -= mx
    np.exp(probs, out=probs)
    total = np.add.reduce(probs, axis=1, keepdims=True)
    probs /= total
    per = np.log(total[:, 0])
    per -= picked
    d = probs.copy()
    d.reshape(-1)[target] -= 1.0
    if isinstance(weights, np.ndarray):
        loss = float(np.dot(per, weights))
        d *= weights[:, None]
    else:
        loss = float(np.add.reduce(per)) * weights
        if weights != 1.0:
            d *= weights
    return loss, probs, d


def loss_weights(T: int, N: int, mask: np.ndarray | None, reduction: str, many_to_one: bool,
                 dtype) -> np.ndarray | float:
    """Weight of each (t, n) position in the loss: mean over the batch, sum or mean over time.

    A scalar when every position weighs the same (many-to-one, or no mask), else (T, N).
    """
    if many_to_one:
        return 1.0 / N
    if mask is None:
        return 1.0 / N if reduction == "sum" else 1.0 / (N * T)
    w = np.ones(T, dtype=dtype) if mask is None else np.asarray(mask, dtype=dtype)
    total = w.sum()
    if reduction == "mean":
        if total <= 0:
            raise ValueError("mask must select at least one time step")
        w = w / total
    return (w / N)[:, None] * np.ones((1, N), dtype=dtype)


# --------------------------------------------------------------------------- backward
_vecdot = getattr(np, "vecdot", None)      # NumPy >= 2


def row_sq_norms(rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = Σ_j rows[i, j]²`` for rows (T, M) into out (T,), float64. NumPy >= 2's vecdot
    gufunc takes 1.2 us at (25, 100), einsum 2.7 us."""
    if _vecdot is not None and rows.dtype == out.dtype:
        return _vecdot(rows, rows, out=out)
    out[:] = np.einsum("ij,ij->i", rows, rows)
    return out


def _total_grad(dA_out: np.ndarray | None, t: int, dnext: np.ndarray, sq_norms: np.ndarray) -> np.ndarray:
    """Total ``dL/da<t>`` (N, H): the readout's gradient at t (summed into ``dA_out[t]`` in place)
    plus what step t+1 sent back. Many-to-one (no ``dA_out``): it is ``dnext`` alone, whose squared
    norm is recorded here; otherwise the caller takes all norms from ``dA_out`` after the loop."""
    if dA_out is None:
        sq_norms[t] = np.vdot(dnext, dnext)
        return dnext
    da = dA_out[t]
    da += dnext
    return da


def backward_sequence(params: dict, dA_out: np.ndarray, dA_last: np.ndarray | None,
                      cache: SequenceCache, dfinal: dict | None = None, out: dict | None = None,
                      cancel=None, workspace: Workspace | None = None
                      ) -> tuple[dict, dict, np.ndarray, np.ndarray | None]:
    """Backpropagation through time over the whole cached sequence.

    dA_out: (T, N, H) gradient reaching each ``a<t>`` from the readout (many-to-many), or None.
    dA_last: (N, H) gradient on the last state only (many-to-one), or None.
    dfinal: optional gradient on the final state ({"a": (N, H)} [+ "c"]).
    out: optional arrays ``{"Wax", "Waa", "ba"}`` to write the gradients into (e.g. views of one
    flat gradient buffer); new arrays if None.
    cancel: as in :func:`forward_sequence` (``out`` is then left half-written).
    workspace: the :class:`Workspace` the forward pass ran in, if any (``dA_out`` may be its
    ``dA``).
    Destroys the cache (buffers are reused for the pre-activation gradients), and for the vanilla
    RNN overwrites ``dA_out[t]`` with the total gradient on ``a<t>``.
    Returns ``(grads, dstate0, grad_a_norms, grad_c_norms)``: grads for Wax, Waa, ba;
    dstate0 the gradient on the initial state; ``grad_a_norms[t] = ||dL/da<t>||`` (T,) counting
    every path (readout at t and all later steps); ``grad_c_norms`` likewise for LSTM's ``c<t>``.
    """
    Wax, Waa = params["Wax"], params["Waa"]
    cell, A, x = cache.cell, cache.A, cache.x
    T, N, H = A.shape[0] - 1, A.shape[1], A.shape[2]
    dtype = A.dtype
    norms = np.empty(T, dtype=np.float64)
    c_norms = None
    dnext = np.zeros((N, H), dtype=dtype)
    if dfinal is not None:
        dnext += dfinal["a"]
    if dA_last is not None:
        dnext += dA_last
    if out is None:
        out = {"Wax": np.empty_like(Wax), "Waa": np.empty_like(Waa), "ba": np.empty_like(params["ba"])}
    dWax, dWaa, dba = out["Wax"], out["Waa"], out["ba"]

    if cell == "rnn":
        if A[1:].nbytes <= SEPARATE_DZ_BYTES:
            # Small problems (a character model's chunk): g'(z<t>) for every step in one call, a
            # separate dZ buffer, and dWaa as one product after the loop; per step only
            # ``da += dnext; dz *= da; dnext = dz Waa`` remain.
            dZ = cells.activation_grad(A[1:], cache.activation,
                                       out=np.empty_like(A[1:]) if workspace is None else workspace.dZ)
            if dA_out is None:
                for t in range(T - 1, -1, -1):
                    if cancel is not None and cancel():
                        raise Cancelled
                    norms[t] = np.vdot(dnext, dnext)
                    dnext = cells.rnn_step_backward_from_grad(dnext, dZ[t], Waa)
            else:
                add, mul = np.add, np.multiply
                if workspace is not None and dA_out is workspace.dA:
                    steps = workspace.backward_steps
                else:
                    steps = zip(dA_out[::-1], dZ[::-1])
                for da, dz in steps:     # views of step t, t = T-1 … 0
                    if cancel is not None and cancel():
                        raise Cancelled
                    add(da, dnext, da)       # da += dnext
                    mul(dz, da, dz)          # dz *= da: cells.rnn_step_backward_from_grad, inlined
                    dz.dot(Waa, dnext)
            np.matmul(dZ.reshape(T * N, H).T, A[:-1].reshape(T * N, H), out=dWaa)
        else:
            # Large problems: A[t+1] is overwritten with dz<t> once consumed, so BPTT needs no
            # second (T, N, H) buffer; dWaa is summed inside the loop because a<t> (needed by
            # step t) is about to be overwritten by dz<t-1>.
            dWaa[...] = 0.0
            for t in range(T - 1, -1, -1):
                if cancel is not None and cancel():
                    raise Cancelled
                da = _total_grad(dA_out, t, dnext, norms)
                dnext = cells.rnn_step_backward(da, A[t + 1], Waa, cache.activation, dz_out=A[t + 1])
                dWaa += A[t + 1].T @ A[t]
            dZ = A[1:]
        if dA_out is not None:   # dA_out now holds the total dL/da<t> of every step
            flat = dA_out.reshape(T, N * H)
            row_sq_norms(flat, norms)
        np.sqrt(norms, out=norms)
    elif cell == "lstm":
        c_norms = np.empty(T, dtype=np.float64)
        dc_next = np.zeros((N, H), dtype=dtype)
        if dfinal is not None and "c" in dfinal:
            dc_next += dfinal["c"]
        gates = cache.gates
        if N * H <= SMALL_STEP and gates.nbytes <= SEPARATE_DZ_BYTES:
            # Small steps (a character model at batch 1), where each array call costs more than
            # its arithmetic: every factor that does not depend on the incoming gradient is
            # computed for all steps at once, leaving 7 array calls per step; dz<t> overwrites
            # gates[t] (read only through P, R and Γf, all taken before). Larger steps keep the
            # per-step kernel, whose arrays stay in cache.
            P, R = cells.lstm_backward_factors(gates, cache.C[:-1], cache.TC)
            DC = np.empty((T, N, H), dtype=dtype)        # total dL/dc<t>, for the norms
            dc_prev = np.empty((N, H), dtype=dtype)
            for t in range(T - 1, -1, -1):
                if cancel is not None and cancel():
                    raise Cancelled
                da = _total_grad(dA_out, t, dnext, norms)
                g = gates[t]
                dnext = cells.lstm_step_backward_from_factors(da, dc_next, P[t], R[t], g[:, :H], Waa,
                                                              g, DC[t], dc_prev)
                dc_next, dc_prev = dc_prev, dc_next
            if dA_out is not None:
                flat = dA_out.reshape(T, N * H)
                row_sq_norms(flat, norms)
            np.sqrt(norms, out=norms)
            row_sq_norms(DC.reshape(T, N * H), c_norms)
            np.sqrt(c_norms, out=c_norms)
        else:
            for t in range(T - 1, -1, -1):
                if cancel is not None and cancel():
                    raise Cancelled
                da = dnext if dA_out is None else dA_out[t] + dnext
                norms[t] = np.sqrt(np.vdot(da, da))
                dnext, dc_next, dc = cells.lstm_step_backward(
                    da, dc_next, cache.C[t], gates[t], cache.TC[t], Waa, dz_out=gates[t])
                c_norms[t] = np.sqrt(np.vdot(dc, dc))
        dZ = gates
        G4 = dZ.shape[2]
        np.matmul(dZ.reshape(T * N, G4).T, A[:-1].reshape(T * N, H), out=dWaa)
    else:  # gru
        gates = cache.gates
        for t in range(T - 1, -1, -1):
            if cancel is not None and cancel():
                raise Cancelled
            da = dnext if dA_out is None else dA_out[t] + dnext
            norms[t] = np.sqrt(np.vdot(da, da))
            dnext = cells.gru_step_backward(da, A[t], gates[t], Waa, dz_out=gates[t])
        dZ = gates
        dZ2 = dZ.reshape(T * N, 3 * H)
        dWaa[:2 * H] = dZ2[:, :2 * H].T @ A[:-1].reshape(T * N, H)
        dWaa[2 * H:] = dZ2[:, 2 * H:].T @ cache.RA.reshape(T * N, H)

    GH = dZ.shape[2]
    dZ2 = dZ.reshape(T * N, GH)
    np.add.reduce(dZ2, axis=0, out=dba)     # np.sum without its Python wrapper
    if x.ndim == 2:
        # token inputs: dWax[:, v] = Σ over positions holding token v of dz<t>
        V, ids = Wax.shape[1], x.reshape(-1)
        if V <= ONE_HOT_MAX_V:
            # as a product with one-hot rows, in blocks of at most ~2^20 one-hot entries: for a
            # small vocabulary one BLAS product beats a scatter-add (np.add.at) several times over
            onehot = None if workspace is None else workspace.onehot
            if onehot is not None:          # one block, in the workspace's zeros, left zero after
                rows = workspace.rows
                onehot[rows, ids] = 1.0
                np.matmul(dZ2.T, onehot, out=dWax)
                onehot[rows, ids] = 0.0
            else:
                rows = max(1, ONE_HOT_BLOCK // V)
                for s in range(0, ids.size, rows):
                    block = ids[s:s + rows]
                    onehot = np.zeros((block.size, V), dtype=dtype)
                    onehot[np.arange(block.size), block] = 1.0
                    if s == 0:
                        np.matmul(dZ2[:rows].T, onehot, out=dWax)
                    else:
                        dWax += dZ2[s:s + rows].T @ onehot
        else:
            dWax[...] = 0.0
            np.add.at(dWax.T, ids, dZ2)
    else:
        np.matmul(dZ2.T, x.reshape(T * N, -1), out=dWax)
    dstate0 = {"a": dnext}
    if cell == "lstm":
        dstate0["c"] = dc_next
    return out, dstate0, norms, c_norms
