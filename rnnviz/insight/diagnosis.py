"""The diagnosis line: statistics of a run turned into plain sentences, each naming the failure,
its evidence and one thing to try, and, where that thing is a setting, the change itself
(``Finding.change``, e.g. ``{"cell": "lstm"}``) so the window can apply it.

Every rule reads only what it is given (:class:`RunStats`; None skips a rule) and fires on a
documented threshold, defined below. :func:`diagnose` returns :class:`Finding` objects; each one's
``line`` is the sentence shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VANISHING_RATIO = 1e-4
"""Vanishing: the gradient reaching the first step is below this fraction of the gradient at the
output step it came from."""
EXPLODING_FACTOR = 100.0
"""Exploding: a step's gradient norm above this multiple of the run's median gradient norm ..."""
EXPLODING_MIN_NORM = 10.0
"""... and above this absolute norm."""
CHANCE_TOLERANCE = 0.03
"""At chance: the training loss (mean over ``CHANCE_WINDOW`` steps) within this fraction of the
chance level ..."""
CHANCE_WINDOW = 50
CHANCE_MIN_STEPS = 200
"""... for at least this many of the latest steps."""
DEAD_FRACTION = 0.1
"""Dead ReLU units: at least this fraction of the hidden units is 0 on the whole probe."""
SATURATED_FRACTION = 0.5
"""Saturated: tanh (or sigmoid) units spend at least this fraction of their time saturated."""
FORGET_CLOSED_FRACTION = 0.5
"""Forget gates saturated closed: on average Γf < 0.1 for at least this fraction of the time."""
HELD_OUT_MARGIN = 0.05
"""Worse than chance: the held-out loss exceeds the chance level by more than this fraction of it
(an untrained network sits at about the chance level, a little above or below)."""
SUGGESTED_FORGET_BIAS = 2.0
"""The forget bias suggested when an LSTM forgets too soon (one more than the current, at least this)."""
SUGGESTED_CLIP = 5.0
"""The gradient-norm threshold suggested when clipping is off (min-char-rnn's)."""


@dataclass
class RunStats:
    """What the rules read; every field may be None when not known.

    output_gradient: (T,) ‖∂L<τ>/∂a<t>‖ for t = 0 … τ, from one output step τ (the last), or
        the gradient of the whole loss on every step (``grad_a_norms``).
    losses: (S,) training losses per step, with ``steps`` (S,); chance_loss in the same unit,
        ``chance_label`` how to write it (e.g. "ln 2").
    grad_norms: (R,) global gradient norms before clipping, at ``grad_steps`` (R,); ``clipping``
        whether clipping is on.
    memory_horizon: lag in steps (None: beyond the probe); ``probe_length``; ``needed_lag``:
        how far back the task needs to reach.
    dead_units / hidden_size: ReLU units dead on the probe; saturated_fraction: of tanh/sigmoid
        units; forget_closed: the LSTM forget gates' mean left-saturated fraction.
    held_out: the held-out loss, ``held_out_chance`` its chance level, ``held_out_unit`` its name
        (e.g. "bits per character"), ``held_out_chance_label`` (e.g. "guessing uniformly").
    lr, forget_bias: the current settings, from which a suggested change is computed (None: no
        change is suggested that depends on them).
    """

    cell: str = "rnn"
    activation: str = "tanh"
    output_gradient: np.ndarray | None = None
    losses: np.ndarray | None = None
    steps: np.ndarray | None = None
    chance_loss: float | None = None
    chance_label: str | None = None
    grad_norms: np.ndarray | None = None
    grad_steps: np.ndarray | None = None
    clipping: bool | None = None
    memory_horizon: int | None = None
    probe_length: int | None = None
    needed_lag: int | None = None
    dead_units: int | None = None
    hidden_size: int | None = None
    saturated_fraction: float | None = None
    forget_closed: float | None = None
    held_out: float | None = None
    held_out_chance: float | None = None
    held_out_unit: str = "loss"
    held_out_chance_label: str = "chance"
    lr: float | None = None
    forget_bias: float | None = None


@dataclass(frozen=True)
class Finding:
    """One diagnosis: ``kind`` (a short key), ``summary`` (the failure and its evidence), ``advice``
    (one thing to try), ``evidence`` (the numbers behind it) and ``change``: settings that try it
    ({Config field: value}; empty when the advice is not one setting)."""

    kind: str
    summary: str
    advice: str
    evidence: dict = field(default_factory=dict)
    change: dict = field(default_factory=dict)

    @property
    def line(self) -> str:
        return f"{self.summary} — try {self.advice}"


def _num(x: float) -> str:
    """A number for a sentence: 3 significant digits, thousands separated, 1e-6 style when tiny."""
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
        return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _halve_lr(s: RunStats) -> dict:
    return {} if s.lr is None else {"lr": float(f"{s.lr / 2:.3g}")}


def _more_forget_bias(s: RunStats) -> dict:
    if s.forget_bias is None:
        return {}
    return {"forget_bias": max(SUGGESTED_FORGET_BIAS, float(s.forget_bias) + 1.0)}


def _remedy(s: RunStats) -> tuple[str, dict]:
    """The usual remedy for a memory too short: a gated cell for the vanilla RNN, a larger forget
    bias for the LSTM."""
    if s.cell == "rnn":
        return "an LSTM or a GRU", {"cell": "lstm"}
    if s.cell == "lstm":
        return "a larger forget bias, or more training", _more_forget_bias(s)
    return "more training", {}


def vanishing(s: RunStats) -> Finding | None:
    g = s.output_gradient
    if g is None or len(g) < 2 or not np.isfinite(g).all() or g[-1] <= 0:
        return None
    ratio = float(g[0] / g[-1])
    if ratio >= VANISHING_RATIO:
        return None
    advice = {"rnn": "an LSTM, orthogonal initialisation or shorter sequences",
              "lstm": "a larger forget bias or shorter sequences"}.get(s.cell, "shorter sequences or more training")
    change = {"rnn": {"cell": "lstm"}, "lstm": _more_forget_bias(s)}.get(s.cell, {})
    # steps numbered from 1, as the window shows them: g[0] is step 1, g[-1] the output's step τ + 1
    return Finding("vanishing", f"vanishing: the gradient reaching step 1 is {_num(ratio)} of step {len(g)}",
                   advice, {"ratio": ratio, "steps": len(g)}, change)


def short_memory(s: RunStats) -> Finding | None:
    if s.needed_lag is None or s.probe_length is None:
        return None
    horizon = s.memory_horizon
    if horizon is None or horizon >= s.needed_lag:
        return None
    advice, change = _remedy(s)
    return Finding("short memory", f"short memory: the memory horizon is {horizon} steps, the task needs "
                   f"{s.needed_lag}", advice, {"horizon": horizon, "needed": s.needed_lag}, change)


def exploding(s: RunStats) -> Finding | None:
    g = s.grad_norms
    if g is None or len(g) == 0:
        return None
    g = np.asarray(g, dtype=float)
    finite = g[np.isfinite(g)]
    median = float(np.median(finite)) if finite.size else 0.0
    worst = int(np.argmax(np.where(np.isfinite(g), g, np.inf)))
    peak = float(g[worst])
    if not (peak > EXPLODING_FACTOR * median and peak > EXPLODING_MIN_NORM):
        return None
    step = int(s.grad_steps[worst]) if s.grad_steps is not None else worst + 1
    if s.clipping is False:
        return Finding("exploding", f"exploding: ‖g‖ spiked to {_num(peak)} at step {step:,} — clipping is off",
                       "clipping by norm (e.g. 5)", {"peak": peak, "step": step, "median": median},
                       {"clip_mode": "norm", "clip": SUGGESTED_CLIP})
    return Finding("exploding", f"exploding: ‖g‖ spiked to {_num(peak)} at step {step:,} "
                   f"({_num(peak / max(median, 1e-300))}× the median)", "a smaller learning rate",
                   {"peak": peak, "step": step, "median": median}, _halve_lr(s))


def at_chance(s: RunStats) -> Finding | None:
    if s.losses is None or s.chance_loss is None or s.chance_loss <= 0:
        return None
    loss = np.asarray(s.losses, dtype=float)
    if len(loss) < CHANCE_MIN_STEPS:
        return None
    window = min(CHANCE_WINDOW, len(loss))
    mean = np.convolve(loss, np.ones(window) / window, mode="valid")         # (S - window + 1,)
    near = np.abs(mean - s.chance_loss) <= CHANCE_TOLERANCE * s.chance_loss
    if not near[-1]:
        return None
    away = np.flatnonzero(~near)
    run = len(near) - (away[-1] + 1 if away.size else 0) + window - 1       # trailing steps near chance
    if run < CHANCE_MIN_STEPS:
        return None
    label = s.chance_label or _num(s.chance_loss)
    advice = ("an LSTM or a GRU, or shorter sequences" if s.cell == "rnn"
              else "shorter sequences first, or a different learning rate")
    return Finding("at chance", f"loss at chance ({label}) for {run:,} steps: nothing learnt from the inputs",
                   advice, {"steps": run, "chance": s.chance_loss, "loss": float(mean[-1])},
                   {"cell": "lstm"} if s.cell == "rnn" else {})


def dead_relu(s: RunStats) -> Finding | None:
    if s.activation != "relu" or s.cell != "rnn" or not s.dead_units or not s.hidden_size:
        return None
    if s.dead_units < DEAD_FRACTION * s.hidden_size:
        return None
    return Finding("dead units", f"{s.dead_units} of {s.hidden_size} ReLU units dead (0 at every step of the probe)",
                   "a smaller learning rate, clipping, or tanh", {"dead": s.dead_units, "units": s.hidden_size},
                   {"activation": "tanh"})


def saturated(s: RunStats) -> Finding | None:
    if s.saturated_fraction is None or s.saturated_fraction < SATURATED_FRACTION:
        return None
    where = "candidate c~" if s.cell != "rnn" else f"{s.activation} units"
    return Finding("saturated", f"saturated: the {where} sit in the flat part {_num(100 * s.saturated_fraction)}% "
                   "of the time, passing little gradient", "a smaller learning rate or a smaller initialisation",
                   {"fraction": s.saturated_fraction}, _halve_lr(s))


def forget_closed(s: RunStats) -> Finding | None:
    if s.forget_closed is None or s.forget_closed < FORGET_CLOSED_FRACTION:
        return None
    return Finding("forget gates closed", f"forget gates saturated closed: Γf < 0.1 {_num(100 * s.forget_closed)}% "
                   "of the time, so the cell forgets at every step", "a larger forget bias (e.g. 2)",
                   {"fraction": s.forget_closed}, _more_forget_bias(s))


def held_out_worse(s: RunStats) -> Finding | None:
    if s.held_out is None or s.held_out_chance is None or not np.isfinite(s.held_out_chance):
        return None
    if not s.held_out > s.held_out_chance * (1.0 + HELD_OUT_MARGIN) and np.isfinite(s.held_out):
        return None
    return Finding("held-out worse than chance",
                   f"held-out {_num(s.held_out)} {s.held_out_unit} is worse than {s.held_out_chance_label} "
                   f"({_num(s.held_out_chance)})",
                   "more steps if training has just begun, else a smaller learning rate or clipping",
                   {"held_out": s.held_out, "chance": s.held_out_chance}, _halve_lr(s))


RULES = (at_chance, held_out_worse, exploding, vanishing, short_memory, dead_relu, saturated, forget_closed)


def diagnose(stats: RunStats) -> list[Finding]:
    """Every rule of ``RULES`` that fires on ``stats``, in that order."""
    return [f for f in (rule(stats) for rule in RULES) if f is not None]
