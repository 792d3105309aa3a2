"""Encoder–decoder (sequence to sequence) with optional additive (Bahdanau) attention.

The course's "many-to-many of different lengths": an encoder reads the whole input, then a
decoder writes the output token by token. Shapes: Tx input steps, Ty output steps, N batch,
Vx input vocabulary, Vy output vocabulary, H hidden units (encoder and decoder alike),
A attention units, G gate blocks of the cell (1 RNN, 4 LSTM, 3 for either GRU). Time-major.

The model, in the course's attention-model names:

* Encoder: one recurrent layer (any cell of :mod:`rnnviz.engine.cells`) over the input tokens
  x<1..Tx>, states ``a<t'>`` (Tx, N, H) from a zero (or given) initial state.
* Decoder: a layer of the same cell, states ``s<t>``; ``s<0>`` (and the LSTM's cell state) is the
  encoder's final state. Its input at step t is the previous output token as a one-hot over
  Vy + 1 symbols (the Vy outputs and a start symbol, id ``Vy``, at t = 1) and, with attention,
  the context<t>. In training the previous token is the previous *target* (teacher forcing); at
  test time (``decode``) it is the decoder's own previous output (greedy argmax or a draw).
* Attention (when ``spec.attention``), computed from ``s<t-1>`` before step t:
  ``e<t,t'> = vᵀ tanh(W_s s<t-1> + W_h a<t'>)``, ``α<t,t'> = softmax over t' of e<t,t'>``,
  ``context<t> = Σt' α<t,t'> a<t'>``. ``W_h a<t'>`` is computed once for all t'.
* Readout: ``ŷ<t> = softmax(Wya s<t> + Wyc context<t> + by)``: with attention the context also
  reaches the readout directly (as in Bahdanau et al. 2015), so an aligned input symbol can be
  copied to the output without passing through the decoder's state; without attention
  ``ŷ<t> = softmax(Wya s<t> + by)``.
* Loss: cross-entropy of the targets y<1..Ty>, summed over output steps (``reduction`` "sum") or
  averaged over them ("mean"; with a mask, weighted by it), then averaged over the batch.

Parameters (name-keyed, one flat buffer, rows are examples so ``W x`` is written ``x Wᵀ``):

========== ============== ==============================================================
enc.Wax    (G·H, Vx)      encoder input weights (column v: the one-hot input token v)
enc.Waa    (G·H, H)       encoder recurrent weights
enc.ba     (G·H,)         encoder bias (LSTM forget block starts at ``forget_bias``)
enc.baa    (H,)           PyTorch GRU only: the encoder's recurrent bias of block n
dec.Wax    (G·H, Vy + 1)  decoder input weights of the previous token (column Vy: start)
dec.Wac    (G·H, H)       attention only: decoder input weights of context<t>
dec.Waa    (G·H, H)       decoder recurrent weights
dec.ba     (G·H,)         decoder bias
dec.baa    (H,)           PyTorch GRU only
att.Ws     (A, H)         attention: the query from s<t-1>
att.Wh     (A, H)         attention: the keys from a<t'>
att.v      (A,)           attention: the score vector
Wya        (Vy, H)        readout from s<t>
Wyc        (Vy, H)        attention only: readout from context<t>
by         (Vy,)          readout bias
========== ============== ==============================================================

Gate layout of the ``enc.*`` and ``dec.*`` blocks is the cells' (see :mod:`rnnviz.engine.cells`).
The encoder runs through :mod:`rnnviz.engine.sequence` (its forward and BPTT); the decoder's
input depends on its own previous state through the attention, so it runs step by step here,
calling the same step kernels. Outputs have a fixed length (``spec.output_length`` when
decoding): the tasks here need no end symbol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnviz.engine import cells, readouts, sequence
from rnnviz.engine.flat import FlatDict
from rnnviz.engine.init import init_params
from rnnviz.engine.network import check_params
from rnnviz.engine.sequence import GATE_BLOCKS, STATE_KEYS, Cancellable, Cancelled, summed_over_time

CELL_PARAMS = ("Wax", "Waa", "ba")


@dataclass(frozen=True)
class Seq2SeqSpec:
    """What an encoder–decoder is; every field fixes array shapes or the loss."""

    cell: str                       # "rnn" | "lstm" | "gru" | "gru_torch", encoder and decoder alike
    input_size: int                 # Vx, the input vocabulary
    output_size: int                # Vy, the output vocabulary (the start symbol is one more input)
    hidden_size: int                # H, encoder and decoder
    attention: bool = True          # additive attention and the context input/readout
    output_length: int = 10         # Ty of a free-running decode (training takes Ty from y)
    attention_size: int = 0         # A; 0 means H
    activation: str = "tanh"        # vanilla RNN only: tanh | relu | sigmoid
    reduction: str = "mean"         # over output steps: "mean" or "sum"; always the mean over the batch
    dtype: str = "float64"

    def __post_init__(self):
        if self.cell not in GATE_BLOCKS:
            raise ValueError(f"cell must be one of {', '.join(GATE_BLOCKS)} (got {self.cell!r})")
        for name in ("input_size", "output_size", "hidden_size", "output_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if (isinstance(self.attention_size, bool) or not isinstance(self.attention_size, (int, np.integer))
                or self.attention_size < 0):
            raise ValueError(f"attention_size must be 0 (= hidden_size) or a positive integer "
                             f"(got {self.attention_size!r})")
        if not isinstance(self.attention, (bool, np.bool_)):
            raise ValueError(f"attention must be True or False (got {self.attention!r})")
        if self.activation not in cells.ACTIVATIONS:
            raise ValueError(f"activation must be tanh, relu or sigmoid (got {self.activation!r})")
        if self.reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be mean or sum (got {self.reduction!r})")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be float64 or float32 (got {self.dtype!r})")

    @property
    def gate_blocks(self) -> int:
        return GATE_BLOCKS[self.cell]

    @property
    def start_token(self) -> int:
        """The decoder's input at its first step: one past the output symbols."""
        return self.output_size

    @property
    def att_units(self) -> int:
        """A, the attention's hidden width."""
        return self.attention_size or self.hidden_size

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        G, H, Vx, Vy, A = self.gate_blocks, self.hidden_size, self.input_size, self.output_size, self.att_units
        torch_gru = self.cell == "gru_torch"
        shapes = {"enc.Wax": (G * H, Vx), "enc.Waa": (G * H, H), "enc.ba": (G * H,)}
        if torch_gru:
            shapes["enc.baa"] = (H,)
        shapes["dec.Wax"] = (G * H, Vy + 1)
        if self.attention:
            shapes["dec.Wac"] = (G * H, H)
        shapes.update({"dec.Waa": (G * H, H), "dec.ba": (G * H,)})
        if torch_gru:
            shapes["dec.baa"] = (H,)
        if self.attention:
            shapes.update({"att.Ws": (A, H), "att.Wh": (A, H), "att.v": (A,)})
        shapes["Wya"] = (Vy, H)
        if self.attention:
            shapes["Wyc"] = (Vy, H)
        shapes["by"] = (Vy,)
        return shapes


@dataclass
class Seq2SeqResult:
    """What a forward pass (and, after ``loss_and_grads``, backpropagation) produced.

    outputs: (Ty, N, Vy) softmax probabilities of each output step.
    tokens: (Ty, N) int, the decoder's choice at each step (argmax, or the draws of a sampled
        decode); under teacher forcing the argmax of ``outputs``.
    enc_states: (Tx, N, H) the encoder's ``a<t'>``.  dec_states: (Ty, N, H) the decoder's ``s<t>``.
    attention: (Ty, N, Tx) ``α<t,t'>`` (each row sums to 1 over t'), or None without attention.
    final_state: the encoder's final state {"a": (N, H)} (+ "c" for LSTM), which starts the decoder.
    grad_a_norms: (Tx,) ``||∂L/∂a<t'>||`` over the batch, counting every path (attention at every
        output step, the recurrence, and the decoder's start for t' = Tx); None after ``forward``.
    grad_s_norms: (Ty,) ``||∂L/∂s<t>||`` likewise for the decoder states.
    grad_c_norms: (Tx,) ``||∂L/∂c<t'>||`` of the LSTM encoder's cell states (None for other cells).
    grad_state0: gradient of the loss on the encoder's initial state (keys of ``final_state``).
    """

    outputs: np.ndarray
    tokens: np.ndarray
    enc_states: np.ndarray | None
    dec_states: np.ndarray | None
    attention: np.ndarray | None
    final_state: dict
    grad_a_norms: np.ndarray | None = None
    grad_s_norms: np.ndarray | None = None
    grad_c_norms: np.ndarray | None = None
    grad_state0: dict | None = None


@dataclass
class DecoderCache:
    """The decoder pass, kept for backpropagation (time-major; t indexes output steps 1..Ty as 0..Ty-1).

    tokens_in: (Ty, N) int decoder input tokens (start symbol, then the previous targets or outputs).
    S: (Ty+1, N, H) with S[0] = s<0> (the encoder's final a) and S[t+1] = s<t+1>.
    C: LSTM (Ty+1, N, H) cell states.  gates: (Ty, N, G·H) the step kernels' gates (LSTM, GRUs).
    aux: course GRU (Ty, N, H) Γr * s<t-1>; PyTorch GRU (Ty, N, H) hn<t>.
    ctx: (Ty, N, H) context<t>; alpha: (Ty, Tx, N) α<t,t'>; U: (Ty, Tx, N, A) the attention's
    ``tanh(W_s s<t-1> + W_h a<t'>)``; keys: (Tx, N, A) ``W_h a<t'>``. All None without attention.
    logits: (Ty, N, Vy).
    """

    tokens_in: np.ndarray
    S: np.ndarray
    C: np.ndarray | None
    gates: np.ndarray | None
    aux: np.ndarray | None
    ctx: np.ndarray | None
    alpha: np.ndarray | None
    U: np.ndarray | None
    keys: np.ndarray | None
    logits: np.ndarray


# --------------------------------------------------------------------------- attention kernels
def attention_forward(keys: np.ndarray, s_prev: np.ndarray, enc: np.ndarray, Ws: np.ndarray,
                      v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Additive attention for one output step.

    keys: (Tx, N, A) ``W_h a<t'>``.  s_prev: (N, H) ``s<t-1>``.  enc: (Tx, N, H) ``a<t'>``.
    Ws: (A, H).  v: (A,).
    ``U = tanh(W_s s<t-1> + W_h a<t'>)`` (Tx, N, A); ``e = U v`` (Tx, N);
    ``α = softmax over t' of e`` (Tx, N); ``context = Σt' α a<t'>`` (N, H).
    Returns ``(context, α, U)``; ``(α, U)`` is the cache for backward.
    """
    U = np.tanh(keys + np.dot(s_prev, Ws.T))                   # (Tx, N, A)
    e = np.dot(U, v)                                           # (Tx, N)
    e -= e.max(axis=0)
    alpha = np.exp(e)
    alpha /= alpha.sum(axis=0)
    context = np.einsum("kn,knh->nh", alpha, enc)              # (N, H)
    return context, alpha, U


def attention_backward(dcontext: np.ndarray, alpha: np.ndarray, U: np.ndarray, enc: np.ndarray,
                       v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`attention_forward`.

    dcontext: (N, H).  alpha (Tx, N), U (Tx, N, A): the cache.  enc: (Tx, N, H).  v: (A,).
    Returns ``dpre`` (Tx, N, A), the gradient on ``W_s s<t-1> + W_h a<t'>`` (so ``dkeys = dpre``,
    ``dq = Σt' dpre`` is the gradient on ``W_s s<t-1>``), ``denc`` (Tx, N, H) the gradient on
    ``a<t'>`` through the weights α (not through the keys), ``dv`` (A,), and ``de`` (Tx, N).
    Softmax over t': ``de = α * (dα - Σt' α dα)`` with ``dα<t'> = dcontext · a<t'>``.
    """
    dalpha = np.einsum("nh,knh->kn", dcontext, enc)            # (Tx, N)
    denc = alpha[:, :, None] * dcontext                        # (Tx, N, H)
    de = alpha * (dalpha - (alpha * dalpha).sum(axis=0))       # (Tx, N)
    dv = np.einsum("kn,kna->a", de, U)                         # (A,)
    dpre = de[:, :, None] * v * (1.0 - U * U)                  # (Tx, N, A)
    return dpre, denc, dv, de


# --------------------------------------------------------------------------- one decoder step
def _cell_step_forward(cell: str, activation: str, xw: np.ndarray, t: int, cache: DecoderCache,
                       Waa: np.ndarray, baa: np.ndarray | None) -> None:
    """Decoder step t with input half xw (N, G·H): writes S[t+1] (and the step's gates, C, aux)."""
    S = cache.S
    if cell == "rnn":
        cells.rnn_step_forward(xw, S[t], Waa, activation, out=S[t + 1])
    elif cell == "lstm":
        cells.lstm_step_forward(xw, S[t], cache.C[t], Waa, cache.gates[t], cache.C[t + 1], S[t + 1])
    elif cell == "gru":
        cells.gru_step_forward(xw, S[t], Waa, cache.gates[t], cache.aux[t], S[t + 1])
    else:
        cells.gru_torch_step_forward(xw, S[t], Waa, baa, cache.gates[t], cache.aux[t], S[t + 1])


def _cell_step_backward(cell: str, activation: str, ds: np.ndarray, dc_next: np.ndarray, t: int,
                        cache: DecoderCache, Waa: np.ndarray):
    """Backward of decoder step t. ds: (N, H) total ``∂L/∂s<t>``; dc_next: LSTM's ``∂L/∂c<t>`` from
    step t+1. Returns ``(dz (N, G·H), ds<t-1>, dc<t-1> or None, dhn (PyTorch GRU) or None)``."""
    S = cache.S
    if cell == "rnn":
        dz, ds_prev = cells.rnn_step_backward(ds, S[t + 1], Waa, activation)
        return dz, ds_prev, None, None
    if cell == "lstm":
        dz, ds_prev, dc_prev, _ = cells.lstm_step_backward(ds, dc_next, cache.C[t], cache.C[t + 1],
                                                          cache.gates[t], Waa)
        return dz, ds_prev, dc_prev, None
    if cell == "gru":
        dz, ds_prev = cells.gru_step_backward(ds, S[t], cache.gates[t], Waa)
        return dz, ds_prev, None, None
    dz, dhn, ds_prev = cells.gru_torch_step_backward(ds, S[t], cache.gates[t], cache.aux[t], Waa)
    return dz, ds_prev, None, dhn


def _poll(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled


# --------------------------------------------------------------------------- the model
class Seq2Seq(Cancellable):
    """Holds a :class:`Seq2SeqSpec` and its name-keyed parameters (a
    :class:`~rnnviz.engine.flat.FlatDict`, as :class:`~rnnviz.engine.network.Network` does, so the
    optimizers and clipping work on it unchanged)."""

    def __init__(self, spec: Seq2SeqSpec, params: dict[str, np.ndarray]):
        self.spec = spec
        self.params = FlatDict.from_arrays(check_params(spec, params), spec.dtype)

    @classmethod
    def create(cls, spec: Seq2SeqSpec, rng: np.random.Generator, init: str = "xavier",
               forget_bias: float = 1.0) -> "Seq2Seq":
        """Fresh weights. The encoder's and decoder's cell weights and the readout ``Wya``, ``by``
        follow the ``init`` scheme (:func:`rnnviz.engine.init.init_params`, each layer with its own
        fan-in); ``dec.Wac``, ``att.*`` and ``Wyc`` are Glorot uniform under every scheme."""
        G, H, Vx, Vy, A = spec.gate_blocks, spec.hidden_size, spec.input_size, spec.output_size, spec.att_units
        dtype = np.dtype(spec.dtype)
        enc = init_params(spec.cell, Vx, H, Vy, G, rng, init, dtype=dtype, forget_bias=forget_bias)
        dec = init_params(spec.cell, Vy + 1, H, Vy, G, rng, init, dtype=dtype, forget_bias=forget_bias)

        def glorot(rows, cols, blocks=1):
            limit = math.sqrt(6.0 / (rows + cols))
            return np.concatenate([rng.uniform(-limit, limit, size=(rows, cols)) for _ in range(blocks)])

        params = {}
        for name in spec.param_shapes():
            layer, _, key = name.rpartition(".")
            if layer == "enc":
                params[name] = enc[key]
            elif name == "dec.Wac":
                params[name] = glorot(H, H, G)
            elif layer == "dec":
                params[name] = dec[key]
            elif name in ("att.Ws", "att.Wh"):
                params[name] = glorot(A, H)
            elif name == "att.v":
                params[name] = glorot(A, 1)[:, 0]
            elif name == "Wyc":
                params[name] = glorot(Vy, H)
            else:                                               # Wya, by
                params[name] = dec[name]
        return cls(spec, params)

    @property
    def dtype(self) -> np.dtype:
        return self.params.flat.dtype

    def zero_state(self, N: int) -> dict[str, np.ndarray]:
        """The encoder's initial state of zeros: {"a": (N, H)} (+ {"c": (N, H)} for LSTM)."""
        H = self.spec.hidden_size
        return {k: np.zeros((N, H), dtype=self.dtype) for k in STATE_KEYS[self.spec.cell]}

    def empty_grads(self) -> FlatDict:
        """An uninitialised FlatDict laid out like ``params``, for ``loss_and_grads(..., out=)``."""
        return FlatDict.empty(self.params.layout, self.params.flat.dtype)

    def _layer(self, prefix: str, arrays: dict) -> dict:
        """``{"Wax", "Waa", "ba" (, "baa")}`` of one layer's arrays in ``arrays`` (params or grads)."""
        keys = CELL_PARAMS + (("baa",) if self.spec.cell == "gru_torch" else ())
        return {k: arrays[f"{prefix}.{k}"] for k in keys}

    # ------------------------------------------------------------------ checks
    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.dtype.kind not in "iu":
            raise ValueError(f"x must be integer token ids of shape (Tx, N); got {x.dtype} {x.shape}")
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x must have at least one time step and one sequence; got shape {x.shape}")
        if x.min() < 0 or x.max() >= self.spec.input_size:
            raise ValueError(f"x holds token ids outside [0, {self.spec.input_size})")
        return x.astype(np.intp, copy=False)

    def _check_y(self, y, N: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 2 or y.shape[1] != N or y.shape[0] < 1 or y.dtype.kind not in "iu":
            raise ValueError(f"y must be integer token ids of shape (Ty, {N}) with Ty >= 1; got {y.dtype} {y.shape}")
        if y.min() < 0 or y.max() >= self.spec.output_size:
            raise ValueError(f"y holds token ids outside [0, {self.spec.output_size})")
        return y.astype(np.intp, copy=False)

    def check_state(self, state0, N: int) -> dict:
        """Validated initial encoder state for N sequences (zeros if None)."""
        if state0 is None:
            return self.zero_state(N)
        keys = STATE_KEYS[self.spec.cell]
        if not isinstance(state0, dict) or set(state0) != set(keys):
            raise ValueError(f"state0 must be a dict with keys {list(keys)}")
        H, out = self.spec.hidden_size, {}
        for k in keys:
            s = np.asarray(state0[k], dtype=self.dtype)
            if s.shape != (N, H):
                raise ValueError(f"state0[{k!r}] must have shape ({N}, {H}); got {s.shape}")
            if not np.isfinite(s).all():
                raise ValueError(f"state0[{k!r}] holds NaN or infinite values")
            out[k] = s
        return out

    def _check_mask(self, mask, Ty: int):
        if mask is None:
            return None
        mask = np.asarray(mask, dtype=self.dtype)
        if mask.shape != (Ty,) or not np.isfinite(mask).all() or (mask < 0).any():
            raise ValueError(f"mask must be {Ty} non-negative finite weights, one per output step")
        return mask

    # ------------------------------------------------------------------ forward
    def _encode(self, x, state0):
        """Encoder pass: ``(A (Tx+1, N, H), final state, SequenceCache)``."""
        spec = self.spec
        return sequence.forward_sequence(self._layer("enc", self.params), spec.cell, spec.activation,
                                         x, state0, self.cancel)

    def _decode(self, enc: np.ndarray, final: dict, Ty: int, y=None, greedy: bool = True,
                rng: np.random.Generator | None = None, temperature: float = 1.0
                ) -> tuple[DecoderCache, np.ndarray]:
        """Run the decoder for Ty steps from the encoder's states enc (Tx, N, H) and final state.

        With y (Ty, N) the input at step t is y<t-1> (teacher forcing); without, the decoder's own
        previous output (argmax if ``greedy``, else drawn from softmax(logits / temperature)).
        Returns the cache and the chosen tokens (Ty, N).
        """
        spec, p = self.spec, self.params
        cell, H, G, N = spec.cell, spec.hidden_size, spec.gate_blocks, enc.shape[1]
        dt = self.dtype
        S = np.empty((Ty + 1, N, H), dtype=dt)
        S[0] = final["a"]
        C = None
        if cell == "lstm":
            C = np.empty_like(S)
            C[0] = final["c"]
        gates = np.empty((Ty, N, G * H), dtype=dt) if cell != "rnn" else None
        aux = np.empty((Ty, N, H), dtype=dt) if cell in ("gru", "gru_torch") else None
        ctx = alpha = U = keys = None
        if spec.attention:
            Tx, A = enc.shape[0], spec.att_units
            keys = np.dot(enc, p["att.Wh"].T)                                   # (Tx, N, A)
            ctx = np.empty((Ty, N, H), dtype=dt)
            alpha = np.empty((Ty, Tx, N), dtype=dt)
            U = np.empty((Ty, Tx, N, A), dtype=dt)
        tokens_in = np.empty((Ty, N), dtype=np.intp)
        tokens_in[0] = spec.start_token
        if y is not None:
            tokens_in[1:] = y[:-1]
        chosen = np.empty((Ty, N), dtype=np.intp)
        logits = np.empty((Ty, N, spec.output_size), dtype=dt)
        cache = DecoderCache(tokens_in, S, C, gates, aux, ctx, alpha, U, keys, logits)
        WaxT, Waa, ba = p["dec.Wax"].T, p["dec.Waa"], p["dec.ba"]
        baa = p["dec.baa"] if cell == "gru_torch" else None
        for t in range(Ty):
            _poll(self.cancel)
            xw = np.take(WaxT, tokens_in[t], axis=0)                            # (N, G·H)
            xw += ba
            if spec.attention:
                ctx[t], alpha[t], U[t] = attention_forward(keys, S[t], enc, p["att.Ws"], p["att.v"])
                xw += np.dot(ctx[t], p["dec.Wac"].T)
            _cell_step_forward(cell, spec.activation, xw, t, cache, Waa, baa)
            z = np.dot(S[t + 1], p["Wya"].T)
            if spec.attention:
                z += np.dot(ctx[t], p["Wyc"].T)
            z += p["by"]
            logits[t] = z
            if greedy or y is not None:
                chosen[t] = z.argmax(axis=1)
            else:
                probs = readouts.softmax(z.astype(np.float64) / temperature)
                cdf = np.cumsum(probs, axis=1)
                u = rng.random(N)[:, None] * cdf[:, -1:]
                chosen[t] = np.minimum((cdf <= u).sum(axis=1), spec.output_size - 1)
            if y is None and t + 1 < Ty:
                tokens_in[t + 1] = chosen[t]
        return cache, chosen

    def _result(self, cache: DecoderCache, chosen, A, final) -> Seq2SeqResult:
        att = None if cache.alpha is None else cache.alpha.transpose(0, 2, 1)   # (Ty, N, Tx)
        return Seq2SeqResult(readouts.softmax(cache.logits), chosen, A[1:], cache.S[1:], att, final)

    def forward(self, x, y=None, state0=None, length: int | None = None) -> Seq2SeqResult:
        """Outputs, states and attention for input tokens x (Tx, N); no gradients.

        With targets y (Ty, N), teacher-forced (what training sees); without, a greedy decode of
        ``length`` steps (``spec.output_length`` if None) feeding back its own outputs.
        """
        x = self._check_x(x)
        N = x.shape[1]
        state0 = self.check_state(state0, N)
        if y is not None:
            y = self._check_y(y, N)
            Ty = y.shape[0]
        else:
            Ty = self._check_length(length)
        A, final, _ = self._encode(x, state0)
        cache, chosen = self._decode(A[1:], final, Ty, y)
        return self._result(cache, chosen, A, final)

    def _check_length(self, length) -> int:
        if length is None:
            return self.spec.output_length
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length <= 0:
            raise ValueError(f"length must be a positive integer (got {length!r})")
        return int(length)

    def decode(self, x, greedy: bool = True, rng: np.random.Generator | None = None,
               temperature: float = 1.0, length: int | None = None, state0=None) -> np.ndarray:
        """Output tokens (Ty, N) for input tokens x (Tx, N), each step fed the previous output:
        argmax (``greedy``) or a draw from ``softmax(logits / temperature)`` using ``rng``."""
        if not greedy:
            if not isinstance(rng, np.random.Generator):
                raise ValueError("sampled decoding needs rng, a numpy Generator")
            if not temperature > 0:
                raise ValueError("temperature must be positive")
        x = self._check_x(x)
        Ty = self._check_length(length)
        A, final, _ = self._encode(x, self.check_state(state0, x.shape[1]))
        _, chosen = self._decode(A[1:], final, Ty, None, greedy, rng, temperature)
        return chosen

    # ------------------------------------------------------------------ loss and gradients
    def _forward_loss(self, x, y, state0, mask):
        x = self._check_x(x)
        N = x.shape[1]
        state0 = self.check_state(state0, N)
        y = self._check_y(y, N)
        Ty = y.shape[0]
        mask = self._check_mask(mask, Ty)
        A, final, enc_cache = self._encode(x, state0)
        cache, chosen = self._decode(A[1:], final, Ty, y)
        weights = sequence.loss_weights(Ty, N, mask, self.spec.reduction, False, self.dtype)
        loss, probs, dlogits = readouts.loss_and_grad(cache.logits, y, "softmax", weights)
        return loss, probs, dlogits, chosen, A, final, enc_cache, cache

    def loss(self, x, y, state0=None, mask=None) -> float:
        """The teacher-forced loss alone (a forward pass); used by gradient checks."""
        return self._forward_loss(x, y, state0, mask)[0]

    def loss_and_grads(self, x, y, state0=None, mask=None, out: FlatDict | None = None
                       ) -> tuple[float, FlatDict, Seq2SeqResult]:
        """Teacher-forced loss, the gradient of every parameter (a FlatDict laid out like
        ``params``; ``out`` as in :meth:`Network.loss_and_grads`) and the forward result with the
        per-step gradient norms of the encoder's and decoder's states.

        x: (Tx, N) input tokens.  y: (Ty, N) target tokens.  state0: the encoder's initial state.
        mask: (Ty,) loss weight per output step.
        """
        if out is None:
            grads = self.empty_grads()
        elif (isinstance(out, FlatDict) and out.layout == self.params.layout and out.flat.dtype == self.dtype
              and not np.may_share_memory(out.flat, self.params.flat)):
            grads = out
        else:
            raise ValueError(f"out must be a FlatDict laid out like params, of {self.dtype}, apart from them")
        loss, probs, dlogits, chosen, A, final, enc_cache, cache = self._forward_loss(x, y, state0, mask)
        result = self._result(cache, chosen, A, final)
        result.enc_states = result.enc_states.copy()            # the encoder's BPTT reuses A's buffer
        spec, p = self.spec, self.params
        cell, H = spec.cell, spec.hidden_size
        Ty, N = dlogits.shape[:2]
        S, enc = cache.S, A[1:]

        # readout: logits<t> = s<t> Wyaᵀ + context<t> Wycᵀ + by
        summed_over_time(dlogits, S[1:], out=grads["Wya"])
        dlogits.sum(axis=(0, 1), out=grads["by"])
        dS_out = np.dot(dlogits, p["Wya"])                                     # (Ty, N, H)
        if spec.attention:
            summed_over_time(dlogits, cache.ctx, out=grads["Wyc"])
            dctx_out = np.dot(dlogits, p["Wyc"])                               # (Ty, N, H)
            dkeys = np.zeros_like(cache.keys)                                  # (Tx, N, A)
            denc = np.zeros_like(enc)                                          # (Tx, N, H)
            dWs, dv = grads["att.Ws"], grads["att.v"]
            dWs[...] = 0.0
            dv[...] = 0.0
            Ws, Wac, v = p["att.Ws"], p["dec.Wac"], p["att.v"]

        # the decoder, step by step backwards
        Waa = p["dec.Waa"]
        dZ = np.empty((Ty, N, spec.gate_blocks * H), dtype=self.dtype)
        dHN = np.empty((Ty, N, H), dtype=self.dtype) if cell == "gru_torch" else None
        s_norms = np.empty(Ty)
        dnext = np.zeros((N, H), dtype=self.dtype)                             # ∂L/∂s<t> from step t+1
        dc_next = np.zeros_like(dnext) if cell == "lstm" else None
        for t in range(Ty - 1, -1, -1):
            _poll(self.cancel)
            ds = dS_out[t] + dnext                                             # total ∂L/∂s<t>
            s_norms[t] = math.sqrt(np.vdot(ds, ds))
            dz, dnext, dc_next, dhn = _cell_step_backward(cell, spec.activation, ds, dc_next, t, cache, Waa)
            dZ[t] = dz
            if dHN is not None:
                dHN[t] = dhn
            if spec.attention:                          # context<t> fed the step's input and the readout
                dctx = dctx_out[t] + np.dot(dz, Wac)                          # (N, H)
                dpre, denc_t, dv_t, _ = attention_backward(dctx, cache.alpha[t], cache.U[t], enc, v)
                denc += denc_t
                dv += dv_t
                dkeys += dpre
                dq = dpre.sum(axis=0)                                          # (N, A) on W_s s<t-1>
                dWs += np.dot(dq.T, S[t])
                dnext += np.dot(dq, Ws)

        # the decoder's weights, summed over time as sequence.backward_sequence does
        g = self._layer("dec", grads)
        if cell == "gru":
            summed_over_time(dZ[..., :2 * H], S[:-1], out=g["Waa"][:2 * H])
            summed_over_time(dZ[..., 2 * H:], cache.aux, out=g["Waa"][2 * H:])
        elif cell == "gru_torch":
            summed_over_time(dZ[..., :2 * H], S[:-1], out=g["Waa"][:2 * H])
            summed_over_time(dHN, S[:-1], out=g["Waa"][2 * H:])
            dHN.sum(axis=(0, 1), out=g["baa"])
        else:
            summed_over_time(dZ, S[:-1], out=g["Waa"])
        summed_over_time(dZ, cache.tokens_in, out=g["Wax"])
        dZ.sum(axis=(0, 1), out=g["ba"])
        if spec.attention:
            summed_over_time(dZ, cache.ctx, out=grads["dec.Wac"])
            summed_over_time(dkeys, enc, out=grads["att.Wh"])                  # keys = a<t'> W_hᵀ
            denc += np.dot(dkeys, p["att.Wh"])

        # the encoder: gradients on every a<t'> (attention) and on its final state (s<0>)
        dfinal = {"a": dnext}
        if cell == "lstm":
            dfinal["c"] = dc_next
        _, dstate0, a_norms, c_norms = sequence.backward_sequence(
            self._layer("enc", p), denc if spec.attention else None, None, enc_cache, dfinal=dfinal,
            out=self._layer("enc", grads), cancel=self.cancel)
        result.grad_a_norms, result.grad_s_norms, result.grad_c_norms = a_norms, s_norms, c_norms
        result.grad_state0 = dstate0
        return loss, grads, result
