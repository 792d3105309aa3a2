"""What every task gives the trainer: batches of arrays, held-out metrics, a probe sequence.

Shapes use fixed letters: T time steps, N sequences in a batch, D input features,
V vocabulary (token inputs), K outputs.

Two random streams feed a task. The ``rng`` handed to the constructor drives the training data
only (fresh examples, shuffling); it is saved in ``state_dict`` so the stream continues bit for
bit after a reload. Everything fixed (held-out sets, a fixed training set) comes from generators
derived from ``config.seed`` alone, so it can be rebuilt instead of stored and never draws from
the training stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.errors import InputError

HELD_OUT_KEY = 12345
"""Held-out data comes from ``np.random.default_rng([config.seed, HELD_OUT_KEY])``."""

FIXED_TRAIN_KEY = 1
"""A fixed training set (parity) comes from ``np.random.default_rng([config.seed, FIXED_TRAIN_KEY])``."""

EVAL_BUDGET = 1 << 21
"""Upper bound on T * N * H per held-out batch, so evaluating never holds huge state arrays."""


@dataclass(frozen=True)
class Batch:
    """One batch, time-major.

    x: (T, N, D) float for dense inputs, or (T, N) int64 token ids for token inputs.
    y: targets. softmax readout: int64 class ids, (T, N) many-to-many or (N,) many-to-one;
       sigmoid / linear readout: float, (T, N, K) or (N, K).
    mask: (T,) float loss weight per time step (many-to-many only), or None for all ones.
    reset_state: True when the state carried from the previous batch must be zeroed first.
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray | None = None
    reset_state: bool = True


class Task:
    """Base class of the training tasks; subclasses fill in the class attributes and methods.

    Attributes the trainer reads to build the network (``NetworkSpec``):
        name:          task name, one of ``config.TASKS``
        input_kind:    "dense" (x float (T, N, D)) or "tokens" (x int64 (T, N))
        input_size:    D, or the vocabulary size V for tokens
        output_size:   K
        readout:       "sigmoid" | "softmax" | "linear"
        many_to_one:   True when only the last step has a target
        carries_state: True when the final state of one batch is the next batch's initial state
                       (unless ``batch.reset_state``)
    """

    name: str = ""
    input_kind: str = "dense"
    input_size: int = 0
    output_size: int = 0
    readout: str = "sigmoid"
    many_to_one: bool = False
    carries_state: bool = False

    def __init__(self, config, rng: np.random.Generator, corpus_text: str | None = None):
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        self.config = config
        self.rng = rng
        self.dtype = np.dtype(config.dtype)

    # --- data -------------------------------------------------------------------------------
    def train_batch(self) -> Batch:
        """The next training batch; advances the data position and uses only ``self.rng``."""
        raise NotImplementedError

    def test_batches(self) -> list[Batch]:
        """The fixed held-out set, identical on every call (callers must not modify it)."""
        raise NotImplementedError

    def metrics(self, net, limit: int | None = None) -> dict[str, float]:
        """Held-out metrics of ``net`` (anything with ``forward(x, state0=None).outputs``): on the
        whole held-out set, or with ``limit`` on its first ``limit`` sequences (characters for the
        character model), a fixed subset that also holds the first ``examples``."""
        raise NotImplementedError

    def held_out(self, limit: int | None = None) -> tuple[Batch, ...]:
        """The held-out batches ``metrics`` scores: all of them, or those of the first ``limit``
        sequences (built once per limit)."""
        if limit is None or limit >= self.held_out_size():
            return tuple(self.test_batches())
        limit = max(1, int(limit))
        cache = self.__dict__.setdefault("_subsets", {})
        if limit not in cache:
            cache.clear()                       # one subset per run in practice: keep only the latest
            cache[limit] = tuple(self._subset_batches(limit))
        return cache[limit]

    def held_out_size(self) -> int:
        """How many sequences (characters for the character model) the whole held-out set scores."""
        return int(self.config.n_test)

    def _subset_batches(self, limit: int) -> list[Batch]:
        """The held-out batches of the first ``limit`` sequences (``limit`` < ``held_out_size``)."""
        raise NotImplementedError

    def probe_input(self) -> tuple[np.ndarray, list[str]]:
        """One fixed held-out sequence, x (T, 1, D) or (T, 1), and the T input symbols as text."""
        raise NotImplementedError

    def examples(self, net, k: int = 4) -> list[str]:
        """``k`` readable predictions on held-out examples, one line each."""
        raise NotImplementedError

    def chance_loss(self) -> float | None:
        """The training loss of the best input-independent prediction (the chance level), in the
        loss's own unit and reduction (``config.reduction``: summed or averaged over the scored
        time steps): what a network that ignores its inputs can reach at best, so a curve that
        stays on it has learned nothing from the inputs. None when not known."""
        return None

    # --- resuming ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-able values and arrays that continue the training data stream exactly."""
        return {"task": self.name, "rng": self.rng.bit_generator.state, **self._position()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a ``state_dict``; ``ValueError`` naming the first thing that does not fit."""
        if not isinstance(state, dict):
            raise InputError(f"task state must be a dict, got {type(state).__name__}")
        expected = set(self.state_dict())
        if set(state) != expected:
            missing = sorted(expected - set(state))
            extra = sorted(set(state) - expected)
            raise InputError(f"task state for {self.name!r} has wrong keys "
                             f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})")
        if state["task"] != self.name:
            raise InputError(f"task state is for task {state['task']!r}, not {self.name!r}")
        position = {key: value for key, value in state.items() if key not in ("task", "rng")}
        self._check_position(position)
        rng_state = _checked_rng_state(state["rng"], self.rng)
        self._set_position(position)
        self.rng.bit_generator.state = rng_state

    def _position(self) -> dict:
        """Data pointers beyond the rng state (copies); none by default."""
        return {}

    def _check_position(self, position: dict) -> None:
        """Raise ``ValueError`` if ``position`` (keys already checked) does not fit this task."""

    def _set_position(self, position: dict) -> None:
        """Apply an already checked ``position``."""

    # --- helpers for subclasses -------------------------------------------------------------
    def _held_out_rng(self) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, HELD_OUT_KEY])

    def _fresh_batch_size(self) -> int:
        """Batch size for tasks that draw fresh examples every step (no fixed training set)."""
        n = self.config.batch_size
        if n == 0:
            raise InputError(f"batch_size 0 (full batch) needs a fixed training set, but the {self.name} "
                             "task draws fresh examples every step; set batch_size to 1 or more")
        return n

    def _eval_chunk(self, T: int) -> int:
        """How many held-out sequences of length T go in one evaluation batch."""
        return max(1, EVAL_BUDGET // (T * max(1, self.config.hidden)))


def binary_entropy(p: float) -> float:
    """Entropy in nats of a bit that is 1 with probability ``p``: the cross-entropy of the best
    constant prediction of that bit."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return float(-(p * np.log(p) + (1.0 - p) * np.log1p(-p)))


def check_int(name: str, value, low: int, high: int) -> int:
    """``value`` as an int in [low, high], or ``ValueError`` naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"task state {name} must be a whole number, got {type(value).__name__}")
    if not low <= int(value) <= high:
        raise InputError(f"task state {name} = {int(value)} is outside [{low}, {high}]")
    return int(value)


def check_array(name: str, value, shape: tuple[int, ...], kind: str = "i") -> np.ndarray:
    """A copy of ``value`` if it is an array of ``shape`` and dtype kind ``kind``, else ``ValueError``."""
    if not isinstance(value, np.ndarray):
        raise InputError(f"task state {name} must be an array, got {type(value).__name__}")
    if value.shape != shape:
        raise InputError(f"task state {name} has shape {value.shape}, expected {shape}")
    if value.dtype.kind not in (kind, "u" if kind == "i" else kind):
        raise InputError(f"task state {name} has dtype {value.dtype}, expected integers")
    return value.astype(np.int64, copy=True)


def _checked_rng_state(rng_state, rng: np.random.Generator) -> dict:
    """Validate a saved ``bit_generator.state`` against ``rng`` without touching ``rng``."""
    name = type(rng.bit_generator).__name__
    if not isinstance(rng_state, dict) or rng_state.get("bit_generator") != name:
        found = rng_state.get("bit_generator") if isinstance(rng_state, dict) else type(rng_state).__name__
        raise InputError(f"task state rng must be a {name} state dict, got {found!r}")
    trial = type(rng.bit_generator)()
    try:
        trial.state = rng_state
    except (TypeError, ValueError, KeyError) as err:
        raise InputError(f"task state rng is not a valid {name} state ({err})") from None
    return rng_state


def example_line(shown_input, prediction, target, right: bool, note: str = "") -> str:
    """One example in the format every task shows: ``input → prediction (target) ✓`` (or ✗),
    with an optional note after the mark (``✗ 3/10 symbols``)."""
    return f"{shown_input} → {prediction} ({target}) {'✓' if right else '✗'}" + (f" {note}" if note else "")


def escape_char(ch: str) -> str:
    """A character as a short visible label: newline, tab and space become ``\\n``, ``\\t``, ``␣``."""
    return {"\n": "\\n", "\t": "\\t", " ": "␣", "\r": "\\r"}.get(ch, ch if ch.isprintable() else repr(ch)[1:-1])
