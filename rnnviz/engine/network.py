"""A recurrent network: specification + parameters, with loss, gradients, prediction and sampling.

Shapes: T time, N batch, D input features (V vocabulary for token inputs), H hidden, K outputs,
G gate blocks (1 RNN, 4 LSTM, 3 for either GRU), L layers. Parameters (name-keyed, the course's
names): ``Wax`` (G·H, D), ``Waa`` (G·H, H), ``ba`` (G·H,), ``Wya`` (K, H), ``by`` (K,); PyTorch's
GRU (cell "gru_torch") also has ``baa`` (H,), the recurrent bias its reset gate multiplies.
A stacked network (``layers`` L ≥ 2) adds, for each layer l = 2 … L, ``Wax[l]`` (G·H, H),
``Waa[l]`` (G·H, H), ``ba[l]`` (G·H,) (+ ``baa[l]``); its states are ``a``, ``c`` (layer 1),
``a[2]``, ``c[2]``, … and the readout reads the top layer (see :mod:`rnnviz.engine.stack`).
A bidirectional network (``bidirectional=True``) adds each layer's reverse direction, named with
``_rev`` (``Wax_rev``, ``Waa_rev[2]`` …; states ``a_rev``, ``c_rev[2]`` …); layers l ≥ 2 read both
directions' states (``Wax[l]`` (G·H, 2H)), and so does the readout: ``Wya`` (K, 2H). Many-to-one
reads ``[→a<T>; ←a<1>]``, each direction's last state (PyTorch's ``h_n``).
See :mod:`rnnviz.engine.cells` for the gate layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.engine import readouts, sequence, stack
from rnnviz.engine.flat import FlatDict
from rnnviz.engine.init import init_params
from rnnviz.engine.sequence import GATE_BLOCKS, Cancellable
from rnnviz.engine.stack import MAX_LAYERS, cell_param_names, direction_key, directions, state_keys

PARAM_NAMES = ("Wax", "Waa", "ba", "Wya", "by")
"""The parameters every cell has; :meth:`NetworkSpec.param_shapes` gives a cell's own (with "baa")."""
READOUTS = ("softmax", "sigmoid", "linear")


@dataclass(frozen=True)
class NetworkSpec:
    """What a network is; every field fixes array shapes or the loss."""

    cell: str                   # "rnn" | "lstm" | "gru" (the course's) | "gru_torch" (PyTorch's)
    input_size: int             # D, or the vocabulary size V for token inputs
    hidden_size: int            # H
    output_size: int            # K
    input_kind: str = "dense"   # "dense": x (T, N, D) float; "tokens": x (T, N) int
    activation: str = "tanh"    # vanilla RNN only: tanh | relu | sigmoid
    readout: str = "softmax"    # softmax + cross-entropy | sigmoid + logistic | linear + squared error
    many_to_one: bool = False   # readout and loss at the last step only
    reduction: str = "mean"     # over time: "mean" or "sum"; always the mean over the batch
    dtype: str = "float64"
    layers: int = 1             # L stacked layers, 1 … MAX_LAYERS; the readout reads the top one
    bidirectional: bool = False  # each layer also reads the sequence backwards (names "_rev")

    def __post_init__(self):
        if self.cell not in GATE_BLOCKS:
            raise ValueError(f"cell must be one of {', '.join(GATE_BLOCKS)} (got {self.cell!r})")
        for name in ("input_size", "hidden_size", "output_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if self.input_kind not in ("dense", "tokens"):
            raise ValueError(f"input_kind must be dense or tokens (got {self.input_kind!r})")
        if self.activation not in ("tanh", "relu", "sigmoid"):
            raise ValueError(f"activation must be tanh, relu or sigmoid (got {self.activation!r})")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be softmax, sigmoid or linear (got {self.readout!r})")
        if self.reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be mean or sum (got {self.reduction!r})")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be float64 or float32 (got {self.dtype!r})")
        if (isinstance(self.layers, bool) or not isinstance(self.layers, (int, np.integer))
                or not 1 <= self.layers <= MAX_LAYERS):
            raise ValueError(f"layers must be a whole number from 1 to {MAX_LAYERS} (got {self.layers!r})")
        if not isinstance(self.bidirectional, (bool, np.bool_)):
            raise ValueError(f"bidirectional must be True or False (got {self.bidirectional!r})")

    @property
    def gate_blocks(self) -> int:
        return GATE_BLOCKS[self.cell]

    @property
    def state_keys(self) -> tuple[str, ...]:
        """Every layer's state keys: ``("a",)``, ``("a", "c")`` for an LSTM, ``("a", "a[2]")`` …"""
        return state_keys(self.cell, self.layers, self.bidirectional)

    @property
    def output_width(self) -> int:
        """Width of what the readout (and layer l ≥ 2) reads: H, or 2H bidirectional."""
        return self.hidden_size * (2 if self.bidirectional else 1)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape, in order: layer 1 (forward, then reverse), layer 2, …, then
        Wya, by."""
        G, D, H, K = self.gate_blocks, self.input_size, self.hidden_size, self.output_size
        shapes = {}
        for layer in range(1, self.layers + 1):
            one = {"Wax": (G * H, D if layer == 1 else self.output_width), "Waa": (G * H, H), "ba": (G * H,),
                   "baa": (H,)}
            for reverse in directions(self.bidirectional):
                shapes.update((direction_key(name, layer, reverse), one[name]) for name in cell_param_names(self.cell))
        return {**shapes, "Wya": (K, self.output_width), "by": (K,)}


@dataclass
class ForwardResult:
    """What a forward pass (and, after ``loss_and_grads``, BPTT) produced.

    outputs: probabilities (softmax, sigmoid) or values (linear): (T, N, K), or (N, K) many-to-one.
    final_state: {"a": (N, H)} (+ "c" for LSTM), copies; a stacked network every layer's
        ("a[2]", "c[2]", …).
    states: (T, N, H) arrays: "a"; LSTM also "c", "f", "i", "o", "cand"; GRU "r", "u", "cand";
        PyTorch GRU "r", "z", "cand" (its n); a stacked network the same for every layer l ≥ 2
        with "[l]" appended ("a[2]", "f[2]", …).
        Empty after ``loss_and_grads`` (BPTT reuses those buffers).
    grad_a_norms: (T,) ``||dL/da<t>||`` over the batch, counting every path; None after ``forward``.
        A stacked network's are layer 1's, the path through every layer and every step.
    grad_c_norms: (T,) ``||dL/dc<t>||`` for LSTM (layer 1's).
    grad_state0: gradient of the loss on the initial state (same keys as final_state).
    layer_grad_a_norms: (L, T) ``||dL/da[l]<t>||`` per layer, bottom first (row 0 is
        ``grad_a_norms``); None after ``forward``.
    layer_grad_c_norms: (L, T) likewise ``||dL/dc[l]<t>||`` for LSTM.
    reverse_grad_a_norms, reverse_grad_c_norms: bidirectional networks, (L, T) the same for each
        layer's reverse direction (t in time order); the fields above are the forward directions'.
        A bidirectional network's states and final_state hold the reverse directions' too
        ("a_rev", "f_rev[2]", …; states in time order, its final state is ←a<1>).
    """

    outputs: np.ndarray
    final_state: dict
    states: dict
    grad_a_norms: np.ndarray | None = None
    grad_c_norms: np.ndarray | None = None
    grad_state0: dict | None = None
    layer_grad_a_norms: np.ndarray | None = None
    layer_grad_c_norms: np.ndarray | None = None
    reverse_grad_a_norms: np.ndarray | None = None
    reverse_grad_c_norms: np.ndarray | None = None


class Network(Cancellable):
    """Holds a :class:`NetworkSpec` and its name-keyed parameters; all numerics are in the kernels.

    ``params`` is a :class:`~rnnviz.engine.flat.FlatDict`: the arrays are views of one buffer,
    ``params.flat``, and gradients come back in the same layout, so optimizers and clipping work
    on all parameters in one array call. Assigning ``params[name] = array`` copies into it.
    """

    def __init__(self, spec: NetworkSpec, params: dict[str, np.ndarray]):
        self.spec = spec
        self.params = FlatDict.from_arrays(check_params(spec, params), spec.dtype)

    @classmethod
    def create(cls, spec: NetworkSpec, rng: np.random.Generator, init: str = "xavier",
               forget_bias: float = 1.0) -> "Network":
        """Fresh weights by the ``init`` scheme (see :func:`rnnviz.engine.init.init_params`)."""
        G, D, H, K = spec.gate_blocks, spec.input_size, spec.hidden_size, spec.output_size
        return cls(spec, init_params(spec.cell, D, H, K, G, rng, init, dtype=np.dtype(spec.dtype),
                                     forget_bias=forget_bias, layers=spec.layers,
                                     bidirectional=spec.bidirectional))

    @property
    def dtype(self) -> np.dtype:
        return self.params.flat.dtype          # the spec's (params are made of it)

    def zero_state(self, N: int) -> dict[str, np.ndarray]:
        """Initial state of zeros: {"a": (N, H)} (+ {"c": (N, H)} for LSTM; every layer's)."""
        H = self.spec.hidden_size
        return {k: np.zeros((N, H), dtype=self.dtype) for k in self.spec.state_keys}

    # ------------------------------------------------------------------ checks
    def _check_x(self, x) -> np.ndarray:
        spec = self.spec
        x = np.asarray(x)
        if spec.input_kind == "tokens":
            if x.ndim != 2 or x.dtype.kind not in "iu":         # integer, not bool
                raise ValueError(f"x must be integer token ids of shape (T, N); got {x.dtype} {x.shape}")
            if x.size and (x.min() < 0 or x.max() >= spec.input_size):
                raise ValueError(f"x holds token ids outside [0, {spec.input_size})")
            x = x.astype(np.intp, copy=False)
        else:
            if x.ndim != 3 or x.shape[2] != spec.input_size:
                raise ValueError(f"x must have shape (T, N, {spec.input_size}); got {x.shape}")
            x = x.astype(self.dtype, copy=False)
            if not np.isfinite(x).all():
                raise ValueError("x holds NaN or infinite values")
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x must have at least one time step and one sequence; got shape {x.shape}")
        return x

    def check_state(self, state0, N: int) -> dict:
        """Validated initial state for N sequences (zeros if None); ``ValueError`` naming the problem."""
        if state0 is None:
            return self.zero_state(N)
        keys = self.spec.state_keys
        if not isinstance(state0, dict) or set(state0) != set(keys):
            raise ValueError(f"state0 must be a dict with keys {list(keys)}")
        H = self.spec.hidden_size
        out = {}
        for k in keys:
            s = np.asarray(state0[k], dtype=self.dtype)
            if s.shape != (N, H):
                raise ValueError(f"state0[{k!r}] must have shape ({N}, {H}); got {s.shape}")
            if not np.isfinite(s).all():
                raise ValueError(f"state0[{k!r}] holds NaN or infinite values")
            out[k] = s
        return out

    def _check_y(self, y, T: int, N: int) -> np.ndarray:
        spec = self.spec
        y = np.asarray(y)
        lead = (N,) if spec.many_to_one else (T, N)
        if spec.readout == "softmax":
            if y.shape != lead or y.dtype.kind not in "iu":
                raise ValueError(f"y must be integer class ids of shape {lead}; got {y.dtype} {y.shape}")
            if y.size and (y.min() < 0 or y.max() >= spec.output_size):
                raise ValueError(f"y holds class ids outside [0, {spec.output_size})")
            return y.astype(np.intp, copy=False)
        shape = lead + (spec.output_size,)
        if y.shape != shape:
            raise ValueError(f"y must have shape {shape}; got {y.shape}")
        y = y.astype(self.dtype, copy=False)
        if not np.isfinite(y).all():
            raise ValueError("y holds NaN or infinite values")
        return y

    def _check_mask(self, mask, T: int):
        if mask is None:
            return None
        if self.spec.many_to_one:
            raise ValueError("mask applies to many-to-many readouts only")
        mask = np.asarray(mask, dtype=self.dtype)
        if mask.shape != (T,) or not np.isfinite(mask).all() or (mask < 0).any():
            raise ValueError(f"mask must be {T} non-negative finite weights, one per time step")
        return mask

    # ------------------------------------------------------------------ forward / backward
    def forward(self, x, state0=None) -> ForwardResult:
        """Outputs and every hidden state for x (T, N, D) or tokens (T, N); no gradients."""
        x = self._check_x(x)
        N = x.shape[1]
        state0 = self.check_state(state0, N)
        spec, p = self.spec, self.params
        A_out, final, caches = self._run_forward(x, state0, self.cancel)
        outputs = readouts.outputs(A_out @ p["Wya"].T + p["by"], spec.readout)
        states = {}
        for layer, pair in enumerate(caches, start=1):
            for reverse, cache in zip(directions(spec.bidirectional), pair):
                states.update((direction_key(k, layer, reverse), v[::-1] if reverse else v)
                              for k, v in _layer_states(cache, spec.hidden_size).items())
        return ForwardResult(outputs, final, states)

    def _run_forward(self, x: np.ndarray, state0: dict, cancel=None):
        """``(A_out, final_state, caches)`` for checked x and state0: what the readout reads (the
        top layer's states (T, N, H), or a<T> (N, H) many-to-one; bidirectional 2H wide), every
        layer's last states, and per layer a tuple of its directions' caches."""
        spec = self.spec
        if spec.bidirectional:
            Y, last, final, caches = stack.forward_bidirectional(self.params, spec.cell, spec.activation,
                                                                 spec.layers, x, state0, cancel)
            return (last if spec.many_to_one else Y), final, caches
        if spec.layers == 1:
            A, final, cache = sequence.forward_sequence(self.params, spec.cell, spec.activation, x, state0, cancel)
            caches = [cache]
        else:
            A, final, caches = stack.forward_stack(self.params, spec.cell, spec.activation, spec.layers, x, state0,
                                                   cancel)
        return (A[-1] if spec.many_to_one else A[1:]), final, [(c,) for c in caches]

    def _forward_loss(self, x, y, state0, mask):
        """Checked forward pass through the readout and loss; returns what the gradient needs."""
        x = self._check_x(x)
        T, N = x.shape[:2]
        state0 = self.check_state(state0, N)
        y = self._check_y(y, T, N)
        mask = self._check_mask(mask, T)
        spec, p = self.spec, self.params
        A_out, final, cache = self._run_forward(x, state0, self.cancel)   # (N, H) or (T, N, H); 2H bidir.
        weights = sequence.loss_weights(T, N, mask, spec.reduction, spec.many_to_one, self.dtype)
        logits = A_out.reshape(-1, spec.output_width) @ p["Wya"].T + p["by"]     # (N or T·N, K)
        logits = logits.reshape(A_out.shape[:-1] + (-1,))
        loss, outputs, dlogits = readouts.loss_and_grad(logits, y, spec.readout, weights)
        return loss, dlogits, A_out, outputs, final, cache

    def loss_and_grads(self, x, y, state0=None, mask=None, out: FlatDict | None = None
                       ) -> tuple[float, dict[str, np.ndarray], ForwardResult]:
        """Loss, gradients of every parameter (a FlatDict laid out like ``params``), and the
        forward result.

        x: (T, N, D) float or (T, N) tokens.  y: see :mod:`rnnviz.engine.readouts`.
        state0: initial state (zeros if None).  mask: (T,) loss weight per step (many-to-many).
        out: a FlatDict laid out like ``params`` (e.g. :meth:`empty_grads`) to write the gradients
        into; the gradients returned are then ``out`` itself, overwritten by the next call that
        gets it (and left half-written if this one raises). A new FlatDict if None.
        Loss = mean over the batch of Σt mask_t·ℓ_t, divided by Σt mask_t if reduction is "mean".
        """
        if out is None:
            grads = self.empty_grads()
        elif (isinstance(out, FlatDict) and out.layout == self.params.layout and out.flat.dtype == self.dtype
              and not np.may_share_memory(out.flat, self.params.flat)):
            grads = out
        else:
            raise ValueError(f"out must be a FlatDict laid out like params, of {self.dtype}, apart from them")
        loss, dlogits, A_out, outputs, final, cache = self._forward_loss(x, y, state0, mask)
        Wya, H = self.params["Wya"], self.spec.output_width
        dlogits2, A_out2 = dlogits.reshape(-1, Wya.shape[0]), A_out.reshape(-1, H)   # (M, K), (M, H)
        np.matmul(dlogits2.T, A_out2, out=grads["Wya"])      # before BPTT, which reuses A's buffer
        dlogits2.sum(axis=0, out=grads["by"])
        dA = (dlogits2 @ Wya).reshape(A_out.shape)           # (N, H) or (T, N, H)
        dA_out, dA_last = (None, dA) if self.spec.many_to_one else (dA, None)
        if self.spec.bidirectional:
            dstate0, layer_a, layer_c, rev_a, rev_c = stack.backward_bidirectional(
                self.params, dA_out, dA_last, cache, grads, self.cancel)
            return loss, grads, ForwardResult(outputs, final, {}, layer_a[0], None if layer_c is None else layer_c[0],
                                              dstate0, layer_a, layer_c, rev_a, rev_c)
        cache = [c for (c,) in cache]
        if self.spec.layers == 1:
            _, dstate0, norms, c_norms = sequence.backward_sequence(
                self.params, dA_out, dA_last, cache[0], out=grads, cancel=self.cancel)
            return loss, grads, ForwardResult(outputs, final, {}, norms, c_norms, dstate0, norms[None],
                                              None if c_norms is None else c_norms[None])
        dstate0, a_norms, c_norms = stack.backward_stack(self.params, dA_out, dA_last, cache, grads,
                                                         self.cancel)
        layer_a = np.stack(a_norms)                                            # (L, T)
        layer_c = None if c_norms[0] is None else np.stack(c_norms)
        return loss, grads, ForwardResult(outputs, final, {}, layer_a[0], None if layer_c is None else layer_c[0],
                                          dstate0, layer_a, layer_c)

    def empty_grads(self) -> FlatDict:
        """An uninitialised FlatDict laid out like ``params``, for ``loss_and_grads(..., out=)``."""
        return FlatDict.empty(self.params.layout, self.params.flat.dtype)

    def loss(self, x, y, state0=None, mask=None) -> float:
        """The loss alone (a forward pass); used by gradient checks."""
        return self._forward_loss(x, y, state0, mask)[0]


def check_params(spec, params: dict) -> dict[str, np.ndarray]:
    """Validate names, shapes, dtype and finiteness against ``spec.param_shapes()`` (a
    :class:`NetworkSpec` or an encoder–decoder's spec); returns contiguous arrays of ``spec.dtype``."""
    if not isinstance(params, dict):
        raise ValueError("params must be a dict of arrays")
    expected = spec.param_shapes()
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"params: missing {missing or 'none'}, unexpected {extra or 'none'}; "
                         f"expected {list(expected)}")
    out = {}
    for name, shape in expected.items():
        arr = np.asarray(params[name])
        if arr.shape != shape:
            raise ValueError(f"params[{name!r}] must have shape {shape}; got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"params[{name!r}] must be floating point; got {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ValueError(f"params[{name!r}] holds NaN or infinite values")
        out[name] = np.ascontiguousarray(arr, dtype=spec.dtype)
    return out


def truncated_bptt(net: Network, x, y, chunk: int, state0=None, mask=None
                   ) -> tuple[float, dict[str, np.ndarray], dict]:
    """Truncated BPTT over a long sequence: chunks of ``chunk`` steps, state carried, gradient not.

    Each chunk starts from the previous chunk's final state, treated as a constant (as min-char-rnn
    does between its 25-character chunks). Returns the summed chunk losses, the summed gradients,
    and the final state. Chunk losses use the network's own reduction over each chunk.
    """
    x = np.asarray(x)
    T = x.shape[0]
    if chunk <= 0:
        raise ValueError("chunk must be a positive number of steps")
    if net.spec.many_to_one:
        raise ValueError("truncated BPTT needs a many-to-many readout")
    if net.spec.bidirectional:
        raise ValueError("truncated BPTT cannot carry a bidirectional network's state: "
                         "the reverse direction reads each chunk from its end")
    total = 0.0
    grads = {k: np.zeros_like(v) for k, v in net.params.items()}
    state = state0
    for start in range(0, T, chunk):
        sl = slice(start, start + chunk)
        m = None if mask is None else np.asarray(mask)[sl]
        loss, g, res = net.loss_and_grads(x[sl], np.asarray(y)[sl], state, m)
        total += loss
        for k in grads:
            grads[k] += g[k]
        state = res.final_state
    return total, grads, state


def sample(net: Network, state0: dict | None, first_token: int, n: int, rng: np.random.Generator,
           temperature: float = 1.0, greedy: bool = False) -> tuple[list[int], dict]:
    """Generate ``n`` tokens from a token-input softmax network, feeding each one back in.

    The first generated token follows ``first_token``. ``temperature`` divides the logits;
    ``greedy`` takes the argmax instead of drawing. Returns the tokens and the final state.
    """
    spec = net.spec
    if spec.input_kind != "tokens" or spec.readout != "softmax" or spec.many_to_one:
        raise ValueError("sampling needs a token-input, many-to-many softmax network")
    if spec.bidirectional:
        raise ValueError("sampling needs a unidirectional network (a bidirectional one reads the future)")
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    state = net.check_state(state0, 1)
    tokens = []
    token = int(first_token)
    x = np.empty((1, 1), dtype=np.intp)
    for _ in range(n):
        x[0, 0] = token
        A_out, state, _ = net._run_forward(x, state)
        logits = A_out[0, 0] @ net.params["Wya"].T + net.params["by"]
        if greedy:
            token = int(np.argmax(logits))
        else:
            cdf = np.cumsum(readouts.softmax(logits.astype(np.float64) / temperature))
            token = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            token = min(token, spec.output_size - 1)
        tokens.append(token)
    return tokens, state


def _layer_states(cache: sequence.SequenceCache, H: int) -> dict[str, np.ndarray]:
    """One layer's (T, N, H) states by key (layer 1's spelling), views of its cache: "a"; LSTM
    "c", "f", "i", "o", "cand"; GRU "r", "u", "cand"; PyTorch GRU "r", "z", "cand" (its n)."""
    states = {"a": cache.A[1:]}
    g = cache.gates
    if cache.cell == "lstm":
        states.update(c=cache.C[1:], f=g[..., :H], i=g[..., H:2 * H], o=g[..., 2 * H:3 * H], cand=g[..., 3 * H:])
    elif cache.cell == "gru":
        states.update(r=g[..., :H], u=g[..., H:2 * H], cand=g[..., 2 * H:])
    elif cache.cell == "gru_torch":
        states.update(r=g[..., :H], z=g[..., H:2 * H], cand=g[..., 2 * H:])
    return states
