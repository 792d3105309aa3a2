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

Shapes: T time, N batch, D input features (V vocabulary for token inputs), H hidden, L layers.
"""

from __future__ import annotations

import numpy as np

from rnnviz.engine import sequence, wavefront
from rnnviz.engine.sequence import STATE_KEYS, SequenceCache

MAX_LAYERS = 4


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


def state_keys(cell: str, layers: int) -> tuple[str, ...]:
    """Every layer's state keys in order: ``("a", "c", "a[2]", "c[2]")`` for a 2-layer LSTM."""
    return tuple(layer_key(k, layer) for layer in range(1, layers + 1) for k in STATE_KEYS[cell])


def layer_view(arrays: dict, cell: str, layer: int) -> dict:
    """Layer ``layer``'s parameters (or gradients) of ``arrays`` under layer 1's names, as the
    sequence functions read them: ``arrays`` itself for layer 1, else a dict of its arrays."""
    if layer == 1:
        return arrays
    return {name: arrays[layer_key(name, layer)] for name in cell_param_names(cell)}


def layer_state(state: dict, cell: str, layer: int) -> dict:
    """Layer ``layer``'s entries of a state dict, under layer 1's keys (``{"a": state["a[2]"]}``)."""
    if layer == 1 and len(state) == len(STATE_KEYS[cell]):
        return state
    return {k: state[layer_key(k, layer)] for k in STATE_KEYS[cell]}


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
