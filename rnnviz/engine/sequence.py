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

import contextlib
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


class Cancellable:
    """A model whose passes poll ``self.cancel``, ``() -> bool`` or None, at every time step; True
    stops the pass with :class:`Cancelled`. Set it with :meth:`cancellable`."""

    cancel = None

    @contextlib.contextmanager
    def cancellable(self, check):
        """Within this block, passes stop with ``Cancelled`` as soon as ``check()`` is True (polled
        once per time step): how a window pauses a full-batch step that takes seconds."""
        previous, self.cancel = self.cancel, check
        try:
            yield self
        finally:
            self.cancel = previous


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
        cells.times_transposed(x.reshape(T * N, -1), Wax, out=out.reshape(T * N, GH))
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
    cache = start_cache(params, cell, activation, x, state0)
    forward_steps(params, cache, lambda t: _poll(cancel))
    return cache.A, final_state(cache), cache


def start_cache(params: dict, cell: str, activation: str, x: np.ndarray, state0: dict,
                project: bool = True) -> SequenceCache:
    """The buffers of a forward pass over x, with a<0> (and c<0>) written in and, if ``project``,
    the input half ``x<t> Waxᵀ + ba`` of every step where the step will write its result (see
    :func:`step_target`); without it, :func:`project_step` must fill step t before it runs.
    Arguments as in :func:`forward_sequence`."""
    Wax, ba = params["Wax"], params["ba"]
    T, (N, H) = x.shape[0], state0["a"].shape
    G = GATE_BLOCKS[cell]
    A = np.empty((T + 1, N, H), dtype=Wax.dtype)
    A[0] = state0["a"]
    C = gates = RA = HN = None
    if cell != "rnn":
        gates = np.empty((T, N, G * H), dtype=Wax.dtype)
    if cell == "lstm":
        C = np.empty_like(A)
        C[0] = state0["c"]
    elif cell == "gru":
        RA = np.empty_like(A[1:])
    elif cell == "gru_torch":
        HN = np.empty_like(A[1:])
    cache = SequenceCache(cell, activation, x, A, C, gates, RA, HN)
    if project:
        input_projection(Wax, ba, x, out=step_target(cache))
    return cache


def step_target(cache: SequenceCache) -> np.ndarray:
    """Where the forward pass writes each step's input half and then its result, in place: the
    hidden states A[1:] (T, N, H) for the RNN, the gates (T, N, G·H) otherwise."""
    return cache.A[1:] if cache.cell == "rnn" else cache.gates


def project_step(params: dict, cache: SequenceCache, t: int) -> None:
    """Step t's input half ``x<t> Waxᵀ + ba`` into :func:`step_target` (for a cache started
    without ``project``, e.g. when x<t> arrives step by step from a layer below)."""
    input_projection(params["Wax"], params["ba"], cache.x[t:t + 1], out=step_target(cache)[t:t + 1])


def forward_steps(params: dict, cache: SequenceCache, before_step) -> None:
    """Run the cell over steps t = 0 … T-1 in place, calling ``before_step(t)`` before each (to poll
    a cancel check; or to wait for x<t> and :func:`project_step` it, when the input arrives step by
    step). Step t's input half is in :func:`step_target` when it runs; it writes ``A[t+1]``
    (+ ``C[t+1]``, and its gates over the input half; ``RA[t]`` / ``HN[t]`` for the GRUs)."""
    cell, A, C, gates, Waa = cache.cell, cache.A, cache.C, cache.gates, params["Waa"]
    tall = cells.tall_form(A.shape[1], Waa.shape[0], Waa.dtype)    # the recurrent product's form
    if cell == "rnn":
        for t, (a_prev, a) in enumerate(zip(A[:-1], A[1:])):       # a holds xw<t> on entry
            before_step(t)
            cells.rnn_step_forward(a, a_prev, Waa, cache.activation, out=a, tall=tall)
        return
    for t in range(len(gates)):                                     # gates[t] holds xw<t> on entry
        before_step(t)
        if cell == "lstm":
            cells.lstm_step_forward(gates[t], A[t], C[t], Waa, gates[t], C[t + 1], A[t + 1], tall)
        elif cell == "gru":
            cells.gru_step_forward(gates[t], A[t], Waa, gates[t], cache.RA[t], A[t + 1], tall)
        else:
            cells.gru_torch_step_forward(gates[t], A[t], Waa, params["baa"], gates[t], cache.HN[t], A[t + 1],
                                         tall)


def final_state(cache: SequenceCache) -> dict:
    """Copies of the last states of a finished forward pass: {"a": (N, H)} (+ "c" for LSTM)."""
    final = {"a": cache.A[-1].copy()}
    if cache.cell == "lstm":
        final["c"] = cache.C[-1].copy()
    return final


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
    dWaa = out["Waa"]
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
            dz, dnext, dc_next = step_backward(Waa, cache, t, da, dc_next, c_norms)
            if in_place:
                dWaa += dz.T @ A[t]
            dZ[t] = dz
    weight_grads(cache, dZ, out, recurrent=not in_place)
    if dx_out is not None:                                   # (T·N, G·H) x (G·H, D)
        np.matmul(dZ.reshape(T * N, -1), Wax, out=dx_out.reshape(T * N, -1))
    dstate0 = {"a": dnext}
    if cell == "lstm":
        dstate0["c"] = dc_next
    return out, dstate0, norms, c_norms


def step_backward(Waa: np.ndarray, cache: SequenceCache, t: int, da: np.ndarray, dc_next: np.ndarray,
                  c_norms: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BPTT through step t with the step kernels of :mod:`rnnviz.engine.cells`.

    da: (N, H) total gradient on a<t>.  dc_next: (N, H) LSTM's gradient on c<t> from step t+1
    (passed through unchanged for the other cells).  c_norms: LSTM's (T,) ``||dL/dc<t>||``, whose
    entry t is written. The PyTorch GRU's ``hn<t>`` in the cache is overwritten by ``dhn<t>``.
    Returns ``(dz<t>, da<t-1>, dc<t-1>)``: (N, G·H), (N, H), (N, H).
    """
    cell, A, C, gates = cache.cell, cache.A, cache.C, cache.gates
    if cell == "rnn":
        dz, dnext = cells.rnn_step_backward(da, A[t + 1], Waa, cache.activation)
    elif cell == "lstm":
        dz, dnext, dc_next, dc = cells.lstm_step_backward(da, dc_next, C[t], C[t + 1], gates[t], Waa)
        c_norms[t] = math.sqrt(np.vdot(dc, dc))
    elif cell == "gru":
        dz, dnext = cells.gru_step_backward(da, A[t], gates[t], Waa)
    else:                                                    # hn<t> consumed: it takes dhn<t>
        dz, cache.HN[t], dnext = cells.gru_torch_step_backward(da, A[t], gates[t], cache.HN[t], Waa)
    return dz, dnext, dc_next


def weight_grads(cache: SequenceCache, dZ: np.ndarray, out: dict, recurrent: bool = True) -> None:
    """After the BPTT loop: ``dWax = Σt dz<t>ᵀ x<t>``, ``dba = Σt dz<t>`` and (if ``recurrent``; the
    in-place RNN sums it in its loop) ``dWaa = Σt dz<t>ᵀ a<t-1>`` into out's arrays (+ the
    PyTorch GRU's ``dbaa``, its ``dWaa`` candidate block from ``dhn<t>`` held in cache.HN).
    dZ: (T, N, G·H) every step's dz<t>."""
    cell, A, H = cache.cell, cache.A, cache.A.shape[2]
    dWaa = out["Waa"]
    if cell == "gru":
        summed_over_time(dZ[..., :2 * H], A[:-1], out=dWaa[:2 * H])
        summed_over_time(dZ[..., 2 * H:], cache.RA, out=dWaa[2 * H:])
    elif cell == "gru_torch":                                # cache.HN now holds dhn<t>
        summed_over_time(dZ[..., :2 * H], A[:-1], out=dWaa[:2 * H])
        summed_over_time(cache.HN, A[:-1], out=dWaa[2 * H:])
        cache.HN.sum(axis=(0, 1), out=out["baa"])
    elif recurrent:
        summed_over_time(dZ, A[:-1], out=dWaa)
    summed_over_time(dZ, cache.x, out=out["Wax"])
    dZ.sum(axis=(0, 1), out=out["ba"])


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
