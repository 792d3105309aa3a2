"""Stacked (deep) recurrent layers: forward layer by layer, BPTT top layer first.

A network of L layers (1 to 4) runs the same cell L times over the sequence. Layer 1 reads the
input x<t>; layer l ≥ 2 reads the hidden states of layer l-1 as its dense input (D = H)::

    a[1]<t> = cell(x<t>,       a[1]<t-1>)
    a[l]<t> = cell(a[l-1]<t>,  a[l]<t-1>)          l = 2 … L
    ŷ<t>    = readout(Wya a[L]<t> + by)              the readout reads the top layer

Names follow the course's superscript [l]: layer 1 keeps the plain names (``Wax``, ``Waa``,
``ba``, ``baa``; states ``a``, ``c``), so a one-layer network is exactly the network of
:mod:`rnnviz.engine.sequence`; layer l ≥ 2 appends ``[l]`` (``Wax[2]`` (G·H, H), ``Waa[2]``,
``ba[2]``, ``baa[2]``; states ``a[2]``, ``c[2]``).

Backward runs the layers from the top down. Each layer's BPTT is :func:`sequence.backward_sequence`
with the gradient on its dense input ``dx<t> = dz<t> Wax`` asked for (one product after its time
loop); that gradient is the lower layer's ``dA_out``, the gradient reaching its hidden states from
above, as the readout's is for the top layer. The lower layer's hidden states are the upper
layer's input: the upper layer's ``dWax`` reads them at the end of its own BPTT, before the lower
layer's BPTT overwrites any cache, so the order top-down is also what keeps the buffers shared.

Bidirectional layers (``bidirectional=True``, :func:`forward_bidirectional`): every layer has a
forward direction, named as above, and a reverse direction that reads the sequence from t = T down
to t = 1. The reverse direction's names append ``_rev`` to the base name, before the layer index:
``Wax_rev``, ``Waa_rev``, ``ba_rev`` (+ ``baa_rev``), ``Wax_rev[2]`` …; its states ``a_rev``,
``c_rev``, ``a_rev[2]`` …  Each layer's output is the two directions' states side by side::

    →a[l]<t> = cell(u[l]<t>, →a[l]<t-1>)          t = 1 … T, from →a[l]<0> (state "a[l]")
    ←a[l]<t> = cell(u[l]<t>, ←a[l]<t+1>)          t = T … 1, from ←a[l]<T+1> (state "a_rev[l]")
    u[1]<t> = x<t>,  u[l]<t> = [→a[l-1]<t>; ←a[l-1]<t>]  (2H wide, l ≥ 2)
    ŷ<t> = readout(Wya [→a[L]<t>; ←a[L]<t>] + by)        Wya (K, 2H)

Many-to-one reads each direction's last state, as PyTorch users read ``h_n`` (not ``output[-1]``,
whose reverse half has seen only x<T>): ``ŷ = readout(Wya [→a[L]<T>; ←a[L]<1>] + by)``.
Each direction is the ordinary :func:`sequence.forward_sequence` / ``backward_sequence`` pass; the
reverse direction runs it on the time-reversed input ``u[::-1]``, so its cache, its norms and its
"final" state (←a<1>) are in its own reading order. The reverse direction's initial state gets its
gradient like the forward one's (a trainer starts it from zeros for every sequence).

Shapes: T time, N batch, D input features (V vocabulary for token inputs), H hidden, L layers.
"""

from __future__ import annotations

import numpy as np

from rnnviz.engine import sequence, wavefront
from rnnviz.engine.sequence import STATE_KEYS, SequenceCache

MAX_LAYERS = 4
#: appended to a base name (``Wax``, ``a``) for the reverse direction of a bidirectional layer
REVERSE = "_rev"


def layer_key(name: str, layer: int) -> str:
    """The name of parameter or state ``name`` of layer ``layer`` (1-based): ``"Wax"`` for layer
    1, ``"Wax[2]"`` for layer 2 (the course's superscript [l])."""
    return name if layer == 1 else f"{name}[{layer}]"


def split_key(key: str) -> tuple[str, int]:
    """Inverse of :func:`layer_key`: ``"c[3]"`` -> ``("c", 3)``, ``"a"`` -> ``("a", 1)``."""
    if key.endswith("]") and "[" in key:
        name, _, layer = key[:-1].partition("[")
        if layer.isdigit():
            return name, int(layer)
    return key, 1


def cell_param_names(cell: str) -> tuple[str, ...]:
    """One layer's parameter names (layer 1's spelling)."""
    return ("Wax", "Waa", "ba", "baa") if cell == "gru_torch" else ("Wax", "Waa", "ba")


def direction_key(name: str, layer: int, reverse: bool) -> str:
    """The name of ``name`` in layer ``layer``, direction forward (``"Wax[2]"``) or reverse
    (``"Wax_rev[2]"``)."""
    return layer_key(name + REVERSE if reverse else name, layer)


def directions(bidirectional: bool) -> tuple[bool, ...]:
    """The ``reverse`` flags of a layer's directions: ``(False,)`` or ``(False, True)``."""
    return (False, True) if bidirectional else (False,)


def state_keys(cell: str, layers: int, bidirectional: bool = False) -> tuple[str, ...]:
    """Every layer's state keys in order: ``("a", "c", "a[2]", "c[2]")`` for a 2-layer LSTM;
    bidirectional, each layer's forward then reverse keys (``("a", "a_rev", "a[2]", "a_rev[2]")``)."""
    return tuple(direction_key(k, layer, rev) for layer in range(1, layers + 1)
                 for rev in directions(bidirectional) for k in STATE_KEYS[cell])


def layer_view(arrays: dict, cell: str, layer: int, reverse: bool = False) -> dict:
    """Layer ``layer``'s parameters (or gradients) of ``arrays`` under layer 1's names, as the
    sequence functions read them: ``arrays`` itself for layer 1, else a dict of its arrays."""
    if layer == 1 and not reverse:
        return arrays
    return {name: arrays[direction_key(name, layer, reverse)] for name in cell_param_names(cell)}


def layer_state(state: dict, cell: str, layer: int, reverse: bool = False) -> dict:
    """Layer ``layer``'s entries of a state dict, under layer 1's keys (``{"a": state["a[2]"]}``)."""
    if layer == 1 and not reverse and len(state) == len(STATE_KEYS[cell]):
        return state
    return {k: state[direction_key(k, layer, reverse)] for k in STATE_KEYS[cell]}


def forward_stack(params: dict, cell: str, activation: str, layers: int, x: np.ndarray, state0: dict,
                  cancel=None) -> tuple[np.ndarray, dict, list[SequenceCache]]:
    """Run the ``layers`` layers over all T steps, each over the whole sequence in turn.

    params: every layer's parameters (see the module docstring).  x: (T, N, D) or (T, N) tokens.
    state0: every layer's initial state (:func:`state_keys`), each (N, H).
    Returns ``(A, final_state, caches)``: A (T+1, N, H) the top layer's states with A[0] its
    a<0>; final_state every layer's last states (copies); caches one per layer, bottom first
    (layer l's ``A`` is layer l+1's input, shared, not copied).
    """
    if wavefront.chosen(cell, layers, *state0["a"].shape):    # the same passes, a layer per thread
        return wavefront.forward_stack_wavefront(params, cell, activation, layers, x, state0, cancel)
    caches, final, inputs = [], {}, x
    for layer in range(1, layers + 1):
        A, last, cache = sequence.forward_sequence(layer_view(params, cell, layer), cell, activation, inputs,
                                                   layer_state(state0, cell, layer), cancel)
        final.update((layer_key(k, layer), v) for k, v in last.items())
        caches.append(cache)
        inputs = A[1:]                                                 # (T, N, H) the next layer's x
    return A, final, caches


def backward_stack(params: dict, dA_out: np.ndarray | None, dA_last: np.ndarray | None,
                   caches: list[SequenceCache], out: dict, cancel=None
                   ) -> tuple[dict, list[np.ndarray], list[np.ndarray | None]]:
    """BPTT through depth and time, top layer first.

    dA_out: (T, N, H) gradient from the readout on every top-layer ``a[L]<t>``, or None.
    dA_last: (N, H) gradient on the top layer's last state only (many-to-one), or None.
    caches: :func:`forward_stack`'s (destroyed, as by :func:`sequence.backward_sequence`).
    out: arrays of every layer's parameters to write the gradients into (e.g. the network's
    flat gradient buffer); the readout's entries are not touched.
    Returns ``(dstate0, grad_a_norms, grad_c_norms)``: the gradient on every layer's initial
    state, and per layer (bottom first) ``||dL/da[l]<t>||`` (T,) counting every path through
    depth and time (and ``||dL/dc[l]<t>||`` for LSTM, else None).
    """
    layers = len(caches)
    cell = caches[0].cell
    A = caches[0].A                                            # (T+1, N, H)
    if wavefront.chosen(cell, layers, A.shape[1], A.shape[2], A[1:].nbytes):    # a layer per thread
        return wavefront.backward_stack_wavefront(params, dA_out, dA_last, caches, out, cancel)
    dstate0, a_norms, c_norms = {}, [None] * layers, [None] * layers
    for layer in range(layers, 0, -1):
        cache = caches[layer - 1]
        dx = np.empty(cache.x.shape, dtype=cache.A.dtype) if layer > 1 else None   # (T, N, H)
        _, d0, a_norms[layer - 1], c_norms[layer - 1] = sequence.backward_sequence(
            layer_view(params, cell, layer), dA_out, dA_last, cache, out=layer_view(out, cell, layer),
            cancel=cancel, dx_out=dx)
        dstate0.update((layer_key(k, layer), v) for k, v in d0.items())
        dA_out, dA_last = dx, None                      # the gradient reaching layer l-1 from above
    if layers > 1:
        dstate0 = {k: dstate0[k] for k in state_keys(cell, layers)}     # bottom layer first
    return dstate0, a_norms, c_norms


# ---------------------------------------------------------------------- bidirectional layers
def forward_bidirectional(params: dict, cell: str, activation: str, layers: int, x: np.ndarray,
                          state0: dict, cancel=None
                          ) -> tuple[np.ndarray, np.ndarray, dict, list[tuple[SequenceCache, SequenceCache]]]:
    """Run ``layers`` bidirectional layers (see the module docstring) over all T steps.

    params: every layer's parameters, both directions (layer l ≥ 2's ``Wax`` are (G·H, 2H)).
    x: (T, N, D) or (T, N) tokens.  state0: every key of :func:`state_keys` (bidirectional), (N, H).
    Returns ``(Y, last, final_state, caches)``: Y (T, N, 2H) the top layer's ``[→a<t>; ←a<t>]`` in
    time order; last (N, 2H) ``[→a<T>; ←a<1>]``, what a many-to-one readout reads; final_state
    every direction's last state (the reverse direction's is ←a<1>); caches one ``(forward,
    reverse)`` pair per layer, bottom first, the reverse cache in reversed time.
    """
    caches, final, inputs = [], {}, x
    for layer in range(1, layers + 1):
        pair, halves = [], []
        for reverse in (False, True):
            seq = np.ascontiguousarray(inputs[::-1]) if reverse else inputs        # (T, N, D)
            A, last, cache = sequence.forward_sequence(layer_view(params, cell, layer, reverse), cell, activation,
                                                       seq, layer_state(state0, cell, layer, reverse), cancel)
            final.update((direction_key(k, layer, reverse), v) for k, v in last.items())
            pair.append(cache)
            halves.append(A[:0:-1] if reverse else A[1:])          # (T, N, H) in time order
        caches.append(tuple(pair))
        inputs = np.concatenate(halves, axis=-1)                   # (T, N, 2H) the next layer's x
    H = inputs.shape[-1] // 2
    last = np.concatenate([inputs[-1, :, :H], inputs[0, :, H:]], axis=-1)      # (N, 2H)
    return inputs, last, final, caches


def backward_bidirectional(params: dict, dY: np.ndarray | None, dlast: np.ndarray | None,
                           caches: list[tuple[SequenceCache, SequenceCache]], out: dict, cancel=None
                           ) -> tuple[dict, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """BPTT through both directions of every layer, top layer first.

    dY: (T, N, 2H) gradient from the readout on the top layer's output, or None.
    dlast: (N, 2H) gradient on ``[→a<T>; ←a<1>]`` (many-to-one), or None.
    caches: :func:`forward_bidirectional`'s (destroyed).  out: arrays of every direction's
    parameters to write the gradients into (the readout's are not touched).
    Returns ``(dstate0, a_norms, c_norms, rev_a_norms, rev_c_norms)``: the gradient on every
    direction's initial state; (L, T) ``||dL/da[l]<t>||`` of the forward directions and of the
    reverse ones (both indexed by t in time order), and likewise for an LSTM's ``c`` (else None).
    """
    layers = len(caches)
    cell = caches[0][0].cell
    H = caches[0][0].A.shape[-1]
    dstate0, norms = {}, {}
    for layer in range(layers, 0, -1):
        dx_total = None
        for reverse in (False, True):
            cache = caches[layer - 1][reverse]
            half = slice(H, None) if reverse else slice(None, H)
            d_out = None if dY is None else np.ascontiguousarray(dY[::-1, :, half] if reverse else dY[:, :, half])
            d_last = None if dlast is None else dlast[:, half].copy()
            dx = np.empty(cache.x.shape, dtype=cache.A.dtype) if layer > 1 else None   # (T, N, 2H)
            _, d0, a_n, c_n = sequence.backward_sequence(
                layer_view(params, cell, layer, reverse), d_out, d_last, cache,
                out=layer_view(out, cell, layer, reverse), cancel=cancel, dx_out=dx)
            dstate0.update((direction_key(k, layer, reverse), v) for k, v in d0.items())
            norms[layer, reverse] = (a_n[::-1], None if c_n is None else c_n[::-1]) if reverse else (a_n, c_n)
            if dx is not None:
                dx_total = dx if dx_total is None else dx_total + dx[::-1]     # both read u[l]<t>
        dY, dlast = dx_total, None                        # the gradient reaching layer l-1 from above
    dstate0 = {k: dstate0[k] for k in state_keys(cell, layers, True)}
    stacked = [[np.stack([norms[layer, rev][i] for layer in range(1, layers + 1)])
                if norms[1, rev][i] is not None else None for i in (0, 1)] for rev in (False, True)]
    return dstate0, stacked[0][0], stacked[0][1], stacked[1][0], stacked[1][1]
