"""One probe sequence run through a network in float64, kept for the insight computations.

Shapes: T time steps, D input features (V vocabulary for token inputs, taken as one-hot vectors),
H hidden units, K outputs, S the recurrent state's size (H for RNN and GRU, 2H for the LSTM,
whose state is the stack ``[a<t>; c<t>]``).

Every insight function takes a :class:`Trace`: the network's own forward pass
(:meth:`rnnviz.engine.Network.forward`) on one sequence, from a given initial state (zeros by
default), with the weights copied to float64, so that what is explained is what the engine
computes, at the precision finite differences can check.

A stacked network (L layers) is analysed one layer l at a time: the trace's state, weights and
one-step Jacobians are layer l's, ``a[l]<t>`` (and ``c[l]<t>``), and ``layers`` holds every
layer's own trace so that output gradients and saliency can go through every layer (see
:func:`rnnviz.insight.saliency.output_gradients`). Nothing flows down a stack: layer l reads
layer l-1's state at the same step and never the other way round, so the product of layer l's
own one-step Jacobians ``∂a[l]<t>/∂a[l]<t-1>`` (the lower layers' states held fixed) *is* the
total derivative ``∂a[l]<τ>/∂a[l]<s>``: a change of a[l]<s> leaves every lower layer as it was.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from rnnviz.engine import Network
from rnnviz.engine.stack import cell_param_names, layer_key, layer_state, split_key
from rnnviz.errors import InputError
from rnnviz.training.config import is_encoder_decoder


@dataclass(frozen=True)
class Trace:
    """A network's forward pass over one sequence, float64.

    cell, activation, readout: from the network's spec.
    params: the float64 weights by name (``Wax`` (G·H, D), ``Waa`` (G·H, H), ``ba``, ``Wya`` (K, H), ``by``).
    x: (T, D) the input vectors (one-hot rows for token inputs).
    tokens: (T,) token ids for token inputs, else None.
    state0: {"a": (H,)} (+ "c" for the LSTM): the initial state.
    states: (T, H) arrays: "a"; LSTM also "c", "f", "i", "o", "cand"; GRU "r", "u", "cand";
        PyTorch GRU "r", "z", "cand" (its n).
    output_steps: (n,) the time steps τ that have a target, ascending.
    targets: one per output step: class ids (n,) for softmax, (n, K) values for sigmoid and
        linear readouts; None when no targets were given (then ``output_steps`` is empty).
    layer: the layer analysed (1 = the bottom one, reading x); for a stacked network ``params``
        (besides ``Wya``, ``by``), ``state0`` and ``states`` are that layer's under layer 1's names,
        and ``Wax`` is (G·H, H): it reads layer l-1's a[l-1]<t>.
    layers: a stacked network's traces of every layer, bottom first (each with the layer's input
        as its ``x``: x for layer 1, a[l-1] (T, H) above); () for a 1-layer network.
    """

    cell: str
    activation: str
    readout: str
    params: dict
    x: np.ndarray
    tokens: np.ndarray | None
    state0: dict
    states: dict
    output_steps: np.ndarray
    targets: np.ndarray | None
    layer: int = 1
    layers: tuple = ()

    @property
    def top_a(self) -> np.ndarray:
        """(T, H) the states the readout reads: a<t>, or a stacked network's top layer's a[L]<t>."""
        return self.layers[-1].states["a"] if self.layers else self.states["a"]

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def H(self) -> int:
        return self.states["a"].shape[1]

    @property
    def state_size(self) -> int:
        """S: 2H for the LSTM ([a; c]), H otherwise."""
        return 2 * self.H if self.cell == "lstm" else self.H

    def previous(self, key: str) -> np.ndarray:
        """(T, H) the state ``key`` ("a" or "c") one step earlier: row t holds ``key<t-1>``."""
        return np.concatenate([self.state0[key][None, :], self.states[key][:-1]], axis=0)


def not_analysable(config) -> str | None:
    """None if the why-views can analyse the network of run settings ``config``, else the one line
    saying why not. Their Jacobians, saliency and read-outs follow recurrent layers from an input
    to an output of the same sequence, forwards in time: a bidirectional network's readout also
    reads a direction that runs from the end of the sequence, and an encoder–decoder joins two
    networks through attention."""
    if is_encoder_decoder(config.task):
        return (f"the {config.task} task trains an encoder–decoder; the why-views and 'rnnviz explain' "
                "analyse networks that read and write one sequence. Its hidden-state panel shows the "
                "encoder's and decoder's states and the attention matrix")
    if getattr(config, "bidirectional", False):
        return BIDIRECTIONAL_REFUSAL
    return None


BIDIRECTIONAL_REFUSAL = ("the why-views analyse networks that read the sequence forwards; this network is "
                         "bidirectional (its output also reads a layer running from the end of the sequence)")


def check_analysable(network: Network, layer: int | None = None) -> int:
    """The layer to analyse (``layer``, default the top one), or ``InputError`` for a network the
    why-views cannot analyse (see :func:`not_analysable`) or a layer it does not have."""
    if not isinstance(network, Network):
        raise InputError("the why-views analyse networks that read and write one sequence, "
                         f"not a {type(network).__name__}")
    if getattr(network.spec, "bidirectional", False):
        raise InputError(BIDIRECTIONAL_REFUSAL)
    layers = network.spec.layers
    if layer is None:
        return layers
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= layers:
        which = "layer 1 only" if layers == 1 else f"layers 1 to {layers}"
        raise InputError(f"layer {layer} does not exist: this network has {which}")
    return int(layer)


def float64_network(network: Network) -> Network:
    """``network`` itself when it is float64, else a float64 copy of it (same weights, widened)."""
    if network.spec.dtype == "float64":
        return network
    spec = dataclasses.replace(network.spec, dtype="float64")
    return Network(spec, {k: np.asarray(v, dtype=np.float64) for k, v in network.params.items()})


def run_trace(network: Network, x, targets=None, output_steps=None, state0: dict | None = None,
              layer: int | None = None) -> Trace:
    """Run ``network`` over one sequence in float64 and keep what the insight functions need.

    x: tokens (T,) or (T, 1) for token inputs; (T, D) or (T, 1, D) for dense inputs.
    targets: None, or one target per output step: class ids for softmax, (n, K) values (or (n,)
        when K = 1) for sigmoid and linear readouts.
    output_steps: the steps τ the targets belong to; default every step for a many-to-many
        network (the last one for many-to-one).
    state0: {"a": (H,)} (+ "c") initial state (a stacked network: every layer's, "a[2]", …);
        zeros if None.
    layer: the layer to analyse (1 … L; default the top one, L).
    ``ValueError`` naming the problem for inputs of the wrong shape; ``InputError`` for a network
    that cannot be analysed or a layer it does not have (:func:`check_analysable`).
    """
    layer = check_analysable(network, layer)
    net = float64_network(network)
    spec = net.spec
    x = np.asarray(x)
    if spec.input_kind == "tokens":
        if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)):
            raise ValueError(f"x must be token ids of shape (T,) or (T, 1); got {x.shape}")
        tokens = x.reshape(-1).astype(np.intp)
        x_in = tokens[:, None]                                                     # (T, 1)
    else:
        tokens = None
        if x.ndim == 3 and x.shape[1] == 1:
            x = x[:, 0, :]
        if x.ndim != 2 or x.shape[1] != spec.input_size:
            raise ValueError(f"x must have shape (T, {spec.input_size}); got {x.shape}")
        x_in = x[:, None, :]                                                       # (T, 1, D)
    H = spec.hidden_size
    keys = spec.state_keys
    s0 = {k: np.zeros(H) for k in keys} if state0 is None else {
        k: np.asarray(state0[k], dtype=np.float64).reshape(H) for k in keys}
    result = net.forward(x_in, {k: v[None, :] for k, v in s0.items()})
    states = {k: np.array(v[:, 0, :], dtype=np.float64) for k, v in result.states.items()}   # (T, H)
    T = states["a"].shape[0]
    if tokens is not None:
        dense = np.zeros((T, spec.input_size))
        dense[np.arange(T), tokens] = 1.0                                          # one-hot (T, V)
    else:
        dense = np.array(x, dtype=np.float64)
    if output_steps is None:
        output_steps = [T - 1] if spec.many_to_one else range(T)
    steps = np.asarray(list(output_steps) if targets is not None else [], dtype=np.intp)
    if targets is not None:
        targets = np.asarray(targets)
        if spec.readout == "softmax":
            targets = targets.reshape(-1).astype(np.intp)
        else:
            targets = targets.astype(np.float64).reshape(len(steps), spec.output_size)
        if len(targets) != len(steps):
            raise ValueError(f"{len(targets)} targets for {len(steps)} output steps")
        if len(steps) and (steps.min() < 0 or steps.max() >= T or np.any(np.diff(steps) <= 0)):
            raise ValueError(f"output steps must be ascending steps in [0, {T})")
        if spec.many_to_one and len(steps) and set(steps.tolist()) != {T - 1}:
            raise ValueError("a many-to-one network has an output at its last step only")
    params = {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}
    if spec.layers == 1:
        return Trace(spec.cell, spec.activation, spec.readout, params, dense, tokens, s0, states,
                     steps, targets)
    readout = {"Wya": params["Wya"], "by": params["by"]}
    stack = []
    layer_input = dense
    for k in range(1, spec.layers + 1):       # each layer's own trace, its input as x, no outputs
        mine = {key: value for key, value in states.items() if split_key(key)[1] == k}
        layer_states = {split_key(key)[0]: value for key, value in mine.items()}
        stack.append(Trace(spec.cell, spec.activation, spec.readout,
                           {**{n: params[layer_key(n, k)] for n in cell_param_names(spec.cell)}, **readout}, layer_input, None,
                           layer_state(s0, spec.cell, k), layer_states, np.zeros(0, np.intp), None,
                           layer=k))
        layer_input = layer_states["a"]
    chosen = stack[layer - 1]
    return Trace(spec.cell, spec.activation, spec.readout, chosen.params, dense, tokens, chosen.state0,
                 chosen.states, steps, targets, layer=layer, layers=tuple(stack))
