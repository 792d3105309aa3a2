"""Run configuration: one flat dataclass shared by the trainer, CLI, session files and window.

Fields fall in two groups. *Live* fields (``LIVE_FIELDS``) can change between two training steps
without touching any array shape: learning rate, optimizer hyperparameters, clipping, sampling.
Every other field changes what is built (data, shapes, initial weights) and applies on reset.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

TASKS = ("parity", "addition", "charlm", "copy", "adding")
CELLS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
INITS = ("small", "uniform", "xavier", "orthogonal", "identity")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
CLIP_MODES = ("none", "value", "norm")
REDUCTIONS = ("mean", "sum")
DTYPES = ("float64", "float32")


@dataclass
class Config:
    """Everything that defines a run. Defaults are min-char-rnn's setting on the built-in corpus."""

    # --- task (applies on reset) ---
    task: str = "charlm"
    seq_length: int = 25      # parity: bits T; charlm: chunk length; adding: length T; copy: lag
    n_bits: int = 8           # addition: width of each number in bits
    n_train: int = 10_000     # parity: size m of the fixed training set
    n_test: int = 1_000       # held-out examples (parity, addition, copy, adding)
    n_symbols: int = 8        # copy: alphabet size
    copy_length: int = 10     # copy: how many symbols must be recalled
    corpus: str | None = None  # charlm: path to a UTF-8 text file; None = built-in corpus
    # --- model (applies on reset) ---
    cell: str = "rnn"
    activation: str = "tanh"  # vanilla RNN hidden activation
    hidden: int = 100
    init: str = "small"
    forget_bias: float = 1.0  # LSTM: initial bias of the forget gate (higher: longer memory at first)
    reduction: str = "sum"    # loss over time: "sum" (min-char-rnn) or "mean"
    dtype: str = "float64"
    seed: int = 0
    batch_size: int = 1       # sequences per step; 0 = the whole training set (full batch)
    # --- optimisation (live) ---
    optimizer: str = "adagrad"  # changing it live starts the new optimizer's state from zero
    lr: float = 0.1
    momentum: float = 0.9     # momentum SGD
    beta1: float = 0.9        # Adam
    beta2: float = 0.999      # Adam
    rho: float = 0.9          # RMSProp decay
    eps: float = 1e-8         # Adagrad / RMSProp / Adam
    clip_mode: str = "value"
    clip: float = 5.0
    # --- display and sampling (live) ---
    temperature: float = 1.0
    sample_every: int = 100
    sample_length: int = 200
    prime: str = ""
    eval_every: int = 100
    preset: str | None = field(default=None, compare=False)

    def replace(self, **changes) -> "Config":
        """A validated copy with ``changes`` applied."""
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        """Build from plain data (a preset or a session file); unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                kwargs[f.name] = _coerce(f, data[f.name])
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting that is out of range."""
        choices = {
            "task": TASKS, "cell": CELLS, "activation": ACTIVATIONS, "init": INITS,
            "optimizer": OPTIMIZERS, "clip_mode": CLIP_MODES, "reduction": REDUCTIONS, "dtype": DTYPES,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        positive_ints = ("seq_length", "n_bits", "n_train", "n_test", "n_symbols", "copy_length",
                         "hidden", "sample_every", "sample_length", "eval_every")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive whole number (got {value!r})")
        if not isinstance(self.batch_size, int) or self.batch_size < 0:
            raise ValueError(f"batch_size must be 0 (full batch) or a positive whole number (got {self.batch_size!r})")
        if self.hidden > 4096:
            raise ValueError(f"hidden must be at most 4096 (got {self.hidden})")
        if self.n_bits > 62:
            raise ValueError(f"n_bits must be at most 62 (got {self.n_bits})")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative whole number (got {self.seed!r})")
        positive_floats = ("lr", "eps", "temperature")
        for name in positive_floats:
            value = getattr(self, name)
            if not _is_finite_number(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number (got {value!r})")
        for name in ("momentum", "beta1", "beta2", "rho"):
            value = getattr(self, name)
            if not _is_finite_number(value) or not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1) (got {value!r})")
        if not _is_finite_number(self.forget_bias) or abs(self.forget_bias) > 100:
            raise ValueError(f"forget_bias must be a number between -100 and 100 (got {self.forget_bias!r})")
        if not _is_finite_number(self.clip) or self.clip <= 0:
            raise ValueError(f"clip must be a positive number (got {self.clip!r})")


LIVE_FIELDS = frozenset({
    "optimizer", "lr", "momentum", "beta1", "beta2", "rho", "eps", "clip_mode", "clip",
    "temperature", "sample_every", "sample_length", "prime", "eval_every",
})
"""Settings that take effect at the next step without a reset (a new optimizer starts fresh state)."""

RESET_FIELDS = frozenset(f.name for f in dataclasses.fields(Config)) - LIVE_FIELDS - {"preset"}
"""Settings that change data, shapes or initial weights: they apply on reset."""


def _is_finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _coerce(f: dataclasses.Field, value):
    """Accept ints for float fields (JSON writes 1.0 as 1); reject anything else of the wrong type."""
    default = f.default
    if isinstance(default, bool):
        kind = bool
    elif isinstance(default, int):
        kind = int
    elif isinstance(default, float):
        kind = float
    else:
        kind = str  # str or optional str
    if value is None and f.default is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{f.name} must be {kind.__name__} (got {value!r})")
    return value
