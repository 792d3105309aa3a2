"""Run configuration: one flat dataclass shared by the trainer, CLI, session files and window.

Fields fall in two groups. *Live* fields (``LIVE_FIELDS``) can change between two training steps
without touching any array shape: learning rate, optimizer hyperparameters, clipping, sampling.
Every other field changes what is built (data, shapes, initial weights) and applies on reset.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from rnnviz.engine.cells import ACTIVATIONS as CELL_ACTIVATIONS
from rnnviz.engine.init import SCHEMES
from rnnviz.engine.optim import OPTIMIZERS as OPTIMIZER_CLASSES
from rnnviz.engine.sequence import GATE_BLOCKS
from rnnviz.errors import InputError, SettingError  # noqa: F401  (re-exported: callers import it from here)
from rnnviz.tasks import TASK_INFO

# The choices come from the registries of the layers that implement them, so that a cell, an
# initialiser, an optimizer or a task added there is a choice here, on the command line and in the
# window without a second list to keep in step.
TASKS = tuple(TASK_INFO)
CELLS = tuple(GATE_BLOCKS)
CELL_TITLES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "gru_torch": "PyTorch GRU"}
"""How a sentence names each cell ("gru_torch" computes exactly torch.nn.GRU)."""
ACTIVATIONS = tuple(CELL_ACTIVATIONS)
INITS = tuple(SCHEMES)
OPTIMIZERS = tuple(OPTIMIZER_CLASSES)
CLIP_MODES = ("none", "value", "norm")
REDUCTIONS = ("mean", "sum")
DTYPES = ("float64", "float32")
MAX_SAMPLE_LENGTH = 1_000_000
"""Longest sample, in characters, anything in rnnviz generates (about 20 s of work at batch 1)."""
MAX_PROBE_LENGTH = 200
"""Longest probe text: the window labels every one of its characters."""


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
    probe: str = ""           # charlm: the text whose states the window shows; "" = start of the held-out text
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
            raise InputError(f"unknown setting(s): {', '.join(unknown)}")
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
                raise SettingError(name, f"must be one of {', '.join(allowed)} (got {value!r})")
        positive_ints = ("seq_length", "n_bits", "n_train", "n_test", "n_symbols", "copy_length",
                         "hidden", "sample_every", "sample_length", "eval_every")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise SettingError(name, f"must be a positive whole number (got {value!r})")
        if not isinstance(self.batch_size, int) or self.batch_size < 0:
            raise SettingError("batch_size", f"must be 0 (full batch) or a positive whole number (got {self.batch_size!r})")
        if self.hidden > 4096:
            raise SettingError("hidden", f"must be at most 4096 (got {self.hidden})")
        if self.sample_length > MAX_SAMPLE_LENGTH:
            raise SettingError("sample_length", f"must be at most {MAX_SAMPLE_LENGTH:,} characters (got {self.sample_length:,})")
        if not isinstance(self.probe, str) or len(self.probe) > MAX_PROBE_LENGTH:
            raise SettingError("probe", f"must be a text of at most {MAX_PROBE_LENGTH} characters")
        if self.n_bits > 62:
            raise SettingError("n_bits", f"must be at most 62 (got {self.n_bits})")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise SettingError("seed", f"must be a non-negative whole number (got {self.seed!r})")
        positive_floats = ("lr", "eps", "temperature")
        for name in positive_floats:
            value = getattr(self, name)
            if not _is_finite_number(value) or value <= 0:
                raise SettingError(name, f"must be a positive number (got {value!r})")
        for name in ("momentum", "beta1", "beta2", "rho"):
            value = getattr(self, name)
            if not _is_finite_number(value) or not 0 <= value < 1:
                raise SettingError(name, f"must be in [0, 1) (got {value!r})")
        if not _is_finite_number(self.forget_bias) or abs(self.forget_bias) > 100:
            raise SettingError("forget_bias", f"must be a number between -100 and 100 (got {self.forget_bias!r})")
        if not _is_finite_number(self.clip) or self.clip <= 0:
            raise SettingError("clip", f"must be a positive number (got {self.clip!r})")


LIVE_FIELDS = frozenset({
    "optimizer", "lr", "momentum", "beta1", "beta2", "rho", "eps", "clip_mode", "clip",
    "temperature", "sample_every", "sample_length", "prime", "probe", "eval_every",
})
"""Settings that take effect at the next step without a reset (a new optimizer starts fresh state)."""

#: settings read only in some runs: name -> (is it read by this config?, why not, when it is not)
_CONDITIONAL = {
    "activation": (lambda c: c.cell == "rnn",
                   lambda c: f"the {CELL_TITLES.get(c.cell, c.cell)} has no choice of activation (only --cell rnn)"),
    "forget_bias": (lambda c: c.cell == "lstm", lambda c: "only the LSTM has a forget gate (--cell lstm)"),
    "momentum": (lambda c: c.optimizer == "momentum", lambda c: f"--optimizer {c.optimizer} uses no momentum (only momentum does)"),
    "beta1": (lambda c: c.optimizer == "adam", lambda c: f"--optimizer {c.optimizer} has no beta1 (only adam)"),
    "beta2": (lambda c: c.optimizer == "adam", lambda c: f"--optimizer {c.optimizer} has no beta2 (only adam)"),
    "rho": (lambda c: c.optimizer == "rmsprop", lambda c: f"--optimizer {c.optimizer} has no rho (only rmsprop)"),
    "eps": (lambda c: c.optimizer in ("adagrad", "rmsprop", "adam"),
            lambda c: f"--optimizer {c.optimizer} has no eps (adagrad, rmsprop and adam do)"),
    "clip": (lambda c: c.clip_mode != "none", lambda c: "clipping is off (--clip-mode none); add --clip-mode norm or value"),
}
_CHARLM_ONLY = ("temperature", "sample_every", "sample_length", "prime", "probe")


def unused_settings(config: Config, names) -> dict[str, str]:
    """Of the settings ``names``, those this run never reads, each with the reason (one phrase).

    A setting given but never read is almost always a mistake (``--corpus`` for binary addition,
    ``--momentum`` with Adam), so the command line refuses it rather than ignore it silently."""
    task_settings = {name for info in TASK_INFO.values() for name in info.settings}
    reads = set(TASK_INFO[config.task].settings)
    unused = {}
    for name in names:
        if name in task_settings and name not in reads:
            unused[name] = (f"the {config.task} task does not read it (it reads "
                            f"{', '.join('--' + n.replace('_', '-') for n in TASK_INFO[config.task].settings)})")
        elif name in _CHARLM_ONLY and config.task != "charlm":
            unused[name] = f"only the character model (--task charlm) samples text, not {config.task}"
        elif name in _CONDITIONAL and not _CONDITIONAL[name][0](config):
            unused[name] = _CONDITIONAL[name][1](config)
    return unused


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
        raise SettingError(f.name, f"must be {kind.__name__} (got {value!r})")
    return value
