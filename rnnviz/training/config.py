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
from rnnviz.engine.stack import MAX_LAYERS
from rnnviz.errors import InputError, SettingError  # noqa: F401  (re-exported: callers import it from here)
from rnnviz.tasks import TASK_CLASSES, TASK_INFO

# The choices come from the registries of the layers that implement them, so that a cell, an
# initialiser, an optimizer or a task added there is a choice here, on the command line and in the
# window without a second list to keep in step.
TASKS = tuple(TASK_INFO)
ENCODER_DECODER_TASKS = tuple(name for name in TASK_INFO if getattr(TASK_CLASSES[name], "encoder_decoder", False))
"""The tasks whose model is an encoder–decoder (:class:`rnnviz.engine.seq2seq.Seq2Seq`)."""


def is_encoder_decoder(task: str) -> bool:
    """Does the task ``task`` train an encoder–decoder rather than a :class:`~rnnviz.engine.Network`?"""
    return task in ENCODER_DECODER_TASKS


CELLS = tuple(GATE_BLOCKS)
CELL_TITLES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "gru_torch": "PyTorch GRU"}
"""How a sentence names each cell ("gru_torch" computes exactly torch.nn.GRU)."""
ACTIVATIONS = tuple(CELL_ACTIVATIONS)
INITS = tuple(SCHEMES)
OPTIMIZERS = tuple(OPTIMIZER_CLASSES)
CLIP_MODES = ("none", "value", "norm")
REDUCTIONS = ("mean", "sum")
DTYPES = ("float64", "float32")
CHOICES = {
    "task": TASKS, "cell": CELLS, "activation": ACTIVATIONS, "init": INITS, "optimizer": OPTIMIZERS,
    "clip_mode": CLIP_MODES, "reduction": REDUCTIONS, "dtype": DTYPES,
}
"""The settings that take one of a few names, and those names."""
CHOICE_TITLES = {
    "task": {"parity": "XOR parity (many-to-one)", "addition": "Binary addition",
             "charlm": "Character language model", "copy": "Copy: recall symbols after a lag",
             "adding": "Adding problem (long memory)",
             "reversal": "Reversal (encoder–decoder)", "dates": "Dates to ISO (encoder–decoder)"},
    "cell": {"rnn": "RNN (vanilla)", "lstm": "LSTM", "gru": "GRU", "gru_torch": "GRU (PyTorch)"},
    "optimizer": {"sgd": "SGD", "momentum": "SGD + momentum", "adagrad": "Adagrad", "rmsprop": "RMSProp",
                  "adam": "Adam"},
    "clip_mode": {"none": "none", "value": "by value (each entry)", "norm": "by global norm"},
}
"""How the window shows some choices (a choice not listed is shown by its name)."""
MAX_SAMPLE_LENGTH = 1_000_000
"""Longest sample, in characters, anything in rnnviz generates (about 20 s of work at batch 1)."""
MAX_PROBE_LENGTH = 200
"""Longest probe text: the window labels every one of its characters."""


def setting(default, help: str, label: str):
    """A Config field with its help text and its label: the one text the command line's ``--help``,
    the window's tooltips and :func:`field_help` show, and the words the window's controls and its
    setting-change markers name it by (:func:`field_label`)."""
    return field(default=default, metadata={"help": help, "label": label})


@dataclass
class Config:
    """Everything that defines a run. Defaults are min-char-rnn's setting on the built-in corpus."""

    # --- task (applies on reset) ---
    task: str = setting("charlm", "The problem the network learns. Changing it rebuilds the data and the network.", "Task")
    seq_length: int = setting(25, "Time steps of a sequence; what they are depends on the task: the bits T of "
                              "parity, the chunk length of the character model, the lag of copy, the length T "
                              "of the adding problem, the symbols to reverse.", "Sequence length")
    n_bits: int = setting(8, "Binary addition: width in bits of each number added; the sum must fit in the "
                          "same width.", "Number width (bits)")
    n_train: int = setting(10_000, "Parity: size of the fixed training set. More data generalises better, but "
                           "each full-batch step is slower.", "Training sequences")
    n_test: int = setting(1_000, "Held-out examples for the test metric on the cost plot (never trained on).", "Test sequences")
    n_symbols: int = setting(8, "Alphabet size of the copy and reversal tasks; more symbols means more to remember per "
                            "position.", "Alphabet size")
    copy_length: int = setting(10, "Copy: how many symbols must be recalled after the lag.", "Symbols to recall")
    corpus: str | None = setting(None, "Character model: a plain UTF-8 text file to learn from. Empty: the "
                                 "built-in corpus of Python standard-library source code.", "Corpus file")
    # --- model (applies on reset) ---
    cell: str = setting("rnn", "The recurrent cell. RNN: one tanh layer, whose gradients vanish or explode over "
                        "time. LSTM and GRU add gates that let gradients flow across many steps. gru is the "
                        "course's GRU; gru_torch is PyTorch's nn.GRU (reset gate after the recurrent "
                        "product), which exports to PyTorch.", "Cell")
    activation: str = setting("tanh", "The vanilla RNN's hidden activation: tanh is centred at 0; relu can "
                              "explode; sigmoid saturates.", "Activation")
    hidden: int = setting(100, "Hidden units H: the size of the memory a<t>. Bigger learns more but steps slower.", "Hidden units H")
    layers: int = setting(1, f"Stacked recurrent layers, 1 to {MAX_LAYERS}: layer 2 reads layer 1's hidden states "
                          "a<t> as its input, and so on; the output reads the top layer. Deeper stacks model "
                          "text better (char-rnn uses 2 or 3) but each layer adds the time of one more, and "
                          "the gradient must also travel down through them.", "Layers")
    bidirectional: bool = setting(False, "Each layer also reads the sequence backwards, from its last step to its "
                                  "first, and the output at step t sees both directions' states: the whole "
                                  "input, past and future. For tasks whose answer may depend on later inputs "
                                  "(parity, addition, copy, adding); not for the character model, which would "
                                  "read the very character it must predict.", "Bidirectional")
    init: str = setting("small", "How the weights start: small is N(0, 0.01²) as in min-char-rnn; xavier "
                        "scales by fan-in; orthogonal and identity start the recurrent matrix with every "
                        "singular value 1, so gradients neither vanish nor explode at first.", "Initialiser")
    forget_bias: float = setting(1.0, "LSTM: the forget gate's initial bias. 1 keeps σ(1) ≈ 73% of the cell "
                                 "state per step, so memories fade within tens of steps until training learns "
                                 "to keep them; 3 keeps σ(3) ≈ 95% from the start, which long lags need.", "Forget-gate bias")
    attention: bool = setting(True, "Encoder–decoder tasks (reversal, dates): additive (Bahdanau) attention. "
                              "The decoder looks back at every encoder state a<t'> through weights α<t,t'> "
                              "(the attention matrix) instead of reading the whole input from the encoder's "
                              "final state alone.", "Attention")
    reduction: str = setting("sum", "How the loss combines time steps: sum (min-char-rnn; gradients scale "
                             "with the sequence length, which matters for clipping) or mean.", "Loss over time")
    dtype: str = setting("float64", "Precision of the arrays: float32 is faster and takes half the memory; "
                         "float64 is exact enough for gradient checks.", "Precision")
    seed: int = setting(0, "Random seed of the weights and the data: the same seed gives bit-identical runs.", "Seed")
    batch_size: int = setting(1, "Sequences per training step; 0 trains on the whole training set at once "
                              "(full-batch gradient descent). Bigger batches give smoother but slower steps.", "Batch size")
    # --- optimisation (live) ---
    optimizer: str = setting("adagrad", "The update rule. Changing it during training starts the new "
                             "optimizer's memory from zero.", "Optimizer")
    lr: float = setting(0.1, "Learning rate: the step size of each update. Too large and the loss jumps or "
                        "becomes non-finite; too small and nothing moves.", "Learning rate")
    momentum: float = setting(0.9, "SGD with momentum: the fraction of the previous update carried into the next.", "Momentum")
    beta1: float = setting(0.9, "Adam: decay of the running mean of the gradients (momentum).", "β1")
    beta2: float = setting(0.999, "Adam: decay of the running mean of the squared gradients (per-weight step size).", "β2")
    rho: float = setting(0.9, "RMSProp: decay of the running mean of the squared gradients.", "Decay ρ")
    eps: float = setting(1e-8, "Adagrad, RMSProp, Adam: added to the denominator so that steps stay finite "
                         "when gradients are tiny.", "ε")
    clip_mode: str = setting("value", "Gradient clipping. value: clamp every gradient entry to ±threshold "
                             "(min-char-rnn); norm: rescale all gradients when their global norm exceeds the "
                             "threshold; none: no protection against exploding gradients.", "Clipping")
    clip: float = setting(5.0, "Clipping threshold: per entry for value clipping, the global norm for norm "
                          "clipping. Drawn as a dashed line on the parameter-gradient plot.", "Clip threshold")
    # --- display and sampling (live) ---
    temperature: float = setting(1.0, "Sampling temperature of the character model: below 1 picks likely "
                                 "characters (repetitive text), above 1 more random ones. Does not change training.", "Temperature")
    sample_every: int = setting(100, "Draw a sample from the character model every this many training steps.", "Sample every (steps)")
    sample_length: int = setting(200, "Characters per sample.", "Sample length")
    prime: str = setting("", "Character model: the text a sample continues (empty: a sample starts after a "
                         "newline).", "Prime")
    probe: str = setting("", "Character model: the text whose hidden states the window shows (empty: the start "
                         "of the held-out text).", "Probe text")
    eval_every: int = setting(100, "Evaluate the held-out metric every this many steps.", "Test every (steps)")
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
        for name, allowed in CHOICES.items():
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
        if isinstance(self.layers, bool) or not isinstance(self.layers, int) or not 1 <= self.layers <= MAX_LAYERS:
            raise SettingError("layers", f"must be a whole number from 1 to {MAX_LAYERS} (got {self.layers!r})")
        if not isinstance(self.bidirectional, bool):
            raise SettingError("bidirectional", f"must be true or false (got {self.bidirectional!r})")
        if self.bidirectional:
            refusal = bidirectional_refusal(self.task)
            if refusal:
                raise SettingError("bidirectional", refusal)
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
        if not isinstance(self.attention, bool):
            raise SettingError("attention", f"must be true or false (got {self.attention!r})")
        if not _is_finite_number(self.clip) or self.clip <= 0:
            raise SettingError("clip", f"must be a positive number (got {self.clip!r})")


def bidirectional_refusal(task: str) -> str | None:
    """Why the task ``task`` cannot train a bidirectional network (the rest of a sentence that
    starts with "bidirectional"), or None when it can."""
    if task == "charlm":
        return ("cannot be used with the character model (charlm): the reverse direction would read the "
                "next character, the one it must predict (and it cannot carry state from chunk to chunk)")
    if is_encoder_decoder(task):
        return f"cannot be used with the {task} task: its encoder and decoder are one direction each"
    if getattr(TASK_CLASSES[task], "carries_state", False):
        return (f"cannot be used with the {task} task: it carries the state from batch to batch, and the "
                "reverse direction starts at each sequence's end")
    return None


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
    "layers": (lambda c: not is_encoder_decoder(c.task),
               lambda c: f"the {c.task} task's encoder and decoder are one layer each (stacked layers: the other tasks)"),
    "bidirectional": (lambda c: bidirectional_refusal(c.task) is None,
                      lambda c: f"a bidirectional network {bidirectional_refusal(c.task)}"),
    "attention": (lambda c: is_encoder_decoder(c.task),
                  lambda c: f"only the encoder–decoder tasks ({', '.join(ENCODER_DECODER_TASKS)}) attend, not {c.task}"),
    "clip": (lambda c: c.clip_mode != "none", lambda c: "clipping is off (--clip-mode none); add --clip-mode norm or value"),
}
SAMPLING_SETTINGS = ("temperature", "sample_every", "sample_length", "prime", "probe")
"""The settings only the character model reads: it alone samples text and takes a probe text."""


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
        elif name in SAMPLING_SETTINGS and config.task != "charlm":
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


def field_label(name: str) -> str:
    """The words the window names the Config field ``name`` by (its own name if it has none)."""
    return _FIELDS[name].metadata.get("label", name) if name in _FIELDS else name


def field_help(name: str) -> str:
    """The help text of the Config field ``name`` ("" for none)."""
    return _FIELDS[name].metadata.get("help", "") if name in _FIELDS else ""


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
