"""Training history: what the window plots and a session file keeps.

Every recorded step keeps its step number (int64), its loss and min-char-rnn's smoothed loss
(float32, NaN where a task does not define it): 16 bytes a step, 1.6 MB per 100,000 steps.
Gradient rows (``||dL/da<t>||`` per time step, per-parameter gradient norms) are kept for at
most ``max_rows`` steps, evenly spaced (:class:`~rnnviz.training.series.StridedRows`), so memory
for them is bounded however long a run goes. Once rows are thinned, each per-parameter norm is the
largest over the steps its row stands for, so a gradient that spiked for one step stays on record
(the diagnosis's "exploding" rule and the window's plot read it); ``||dL/da<t>||`` is the row's own.
"""

from __future__ import annotations

import csv
import math
from typing import NamedTuple

import numpy as np

from rnnviz.errors import InputError
from rnnviz.training.series import GrowingArray, StridedRows

F32_MAX = float(np.finfo(np.float32).max)

MAX_SAMPLES = 200
"""Text samples kept (the most recent), by a History and by the window's copy of it."""


def as_float32(values) -> np.ndarray:
    """Loss values as ``History`` keeps them: float32, with magnitudes beyond float32's range
    (a finite float64 loss can reach 1e300 just before an update overflows) held at its largest
    finite value rather than turned into infinities. NaN stays NaN."""
    return np.clip(np.asarray(values, dtype=np.float64), -F32_MAX, F32_MAX).astype(np.float32)


def _f32_range(value: float) -> float:
    return math.copysign(F32_MAX, value) if abs(value) > F32_MAX else value


class SeriesBlock(NamedTuple):
    """Copies of what a History recorded over some stretch of training, column by column.

    steps (S,) int64, loss (S,) float32, smooth_loss (S,) float32 or None (undefined throughout);
    gradient rows at the History's stride: grad_steps (R,) int64, grad_a_norms (R, T) float32,
    param_grad_norms (R, P) float32, one column per name in ``param_names``, each the largest norm
    over the steps its row stands for, and param_grad_norms_min (R, P) the smallest.
    """

    steps: np.ndarray
    loss: np.ndarray
    smooth_loss: np.ndarray | None
    grad_steps: np.ndarray
    grad_a_norms: np.ndarray
    param_grad_norms: np.ndarray
    param_names: tuple
    param_grad_norms_min: np.ndarray | None = None    # (R, P) each row's smallest; None: as param_grad_norms


class BlockReader:
    """Hands out, at each :meth:`take`, what a History recorded since the previous one (a reader
    in another thread gets copies, never the History's own arrays). The History must only grow
    meanwhile (one trainer, no reload).

    Rows handed out before are handed out again from the one whose interval now holds the newest
    of them (first in the next block): its peak norms may have grown since, from later steps in
    that interval or, after a thinning, from a row it absorbed."""

    def __init__(self, history: "History"):
        self.history = history
        self.index = len(history)
        rows = history.grad_steps
        self.row_step = int(rows[-1]) if rows.size else -1

    def take(self) -> SeriesBlock | None:
        """The new steps, or None if there are none."""
        history = self.history
        if len(history) == self.index:
            return None
        resend = self.row_step - self.row_step % history.stride if self.row_step >= 0 else 0
        block = history.block_since(self.index, resend - 1)
        self.index += block.steps.size
        if block.grad_steps.size:
            self.row_step = int(block.grad_steps[-1])
        return block


class History:
    """Per-step series (append-only arrays) plus lists of events.

    steps (S,) int64, loss and smooth_loss (S,) float32: one entry per completed step (smooth_loss
    NaN when not defined). ``steps`` and an undefined ``smooth_loss`` are built when read (a new
    array each time); ``loss`` and a defined ``smooth_loss`` are views of what is stored.
    grad_steps (R,), grad_a_norms (R, T), param_grad_norms (R, P) with P = len(param_names).
    evals: [(step, {metric: value})]; setting_changes: [(step, name, old, new)];
    samples: [(step, text)] (the most recent ``max_samples``); ``samples_recorded`` counts every
    sample ever recorded, so a reader finds the new ones with ``samples_since`` even once the list
    is full and stays the same length.
    """

    def __init__(self, param_names, T: int | None = None, max_rows: int = 4096,
                 max_samples: int = MAX_SAMPLES):
        self.param_names = tuple(param_names)
        self.T = T                 # time steps per row; set by the first recorded step if None
        self.max_samples = max_samples
        self._steps = GrowingArray((), np.int64)
        self._loss = GrowingArray((), np.float32)
        self._smooth = GrowingArray((), np.float32)
        self._has_smooth = False       # whether any smooth_loss so far was defined
        # fields "grad_a" (T,) and, over each row's interval, "param_norms" (P,) the largest and
        # "param_norms_min" (P,) the smallest of each parameter's gradient norm
        self._rows = StridedRows(max_rows, peaks={"param_norms"}, troughs={"param_norms_min"})
        self.evals: list[tuple[int, dict]] = []
        self.setting_changes: list[tuple[int, str, object, object]] = []
        self.samples: list[tuple[int, str]] = []
        self.samples_recorded = 0
        # How many held-out items the window's periodic evaluations score (fixed for a run; set by
        # the window the first time it evaluates, not saved: it follows from the settings).
        self.eval_limit: int | None = None

    # ------------------------------------------------------------------ recording
    def record_step(self, step: int, loss: float, smooth_loss: float | None,
                    grad_a_norms: np.ndarray, param_grad_norms: dict[str, float]) -> None:
        """Record one completed step: its loss, smoothed loss (None: undefined), ``grad_a_norms``
        (T,) and the norm of each parameter's gradient (a row is kept if the step is on the stride)."""
        if self.T is None:
            self.T = grad_a_norms.shape[0]
        self._steps.append(step)
        self._loss.append(_f32_range(loss))
        if smooth_loss is None:
            self._smooth.append(np.nan)
        else:
            self._smooth.append(_f32_range(smooth_loss))
            self._has_smooth = self._has_smooth or smooth_loss == smooth_loss
        norms = [param_grad_norms[k] for k in self.param_names]
        self._rows.append(step, {"grad_a": grad_a_norms, "param_norms": norms, "param_norms_min": norms})

    @property
    def max_rows(self) -> int:
        """Most gradient rows kept."""
        return self._rows.max_rows

    @max_rows.setter
    def max_rows(self, value: int) -> None:
        self._rows.max_rows = value

    @property
    def stride(self) -> int:
        """Gradient rows are kept for the steps that are multiples of this."""
        return self._rows.stride

    def record_eval(self, step: int, metrics: dict) -> None:
        self.evals.append((step, dict(metrics)))

    def record_change(self, step: int, name: str, old, new) -> None:
        self.setting_changes.append((step, name, old, new))

    def record_sample(self, step: int, text: str) -> None:
        self.samples.append((step, text))
        self.samples_recorded += 1
        del self.samples[:-self.max_samples]

    def samples_since(self, recorded: int) -> list[tuple[int, str]]:
        """The samples recorded after the first ``recorded`` ones (a past ``samples_recorded``),
        as far as they are still kept."""
        new = min(self.samples_recorded - recorded, len(self.samples))
        return self.samples[len(self.samples) - new:] if new > 0 else []

    # ------------------------------------------------------------------ reading
    @property
    def steps(self) -> np.ndarray:
        return self._steps.values

    @property
    def loss(self) -> np.ndarray:
        return self._loss.values

    @property
    def smooth_loss(self) -> np.ndarray:
        return self._smooth.values

    @property
    def nbytes(self) -> int:
        """Bytes the per-step series hold (unused capacity included)."""
        return self._steps.nbytes + self._loss.nbytes + self._smooth.nbytes

    @property
    def grad_steps(self) -> np.ndarray:
        return self._rows.steps

    @property
    def grad_a_norms(self) -> np.ndarray:
        if "grad_a" not in self._rows.names:
            return np.zeros((0, self.T or 0), np.float32)
        return self._rows.column("grad_a")

    @property
    def _param_norm_rows(self) -> np.ndarray:
        if "param_norms" not in self._rows.names:
            return np.zeros((0, len(self.param_names)), np.float32)
        return self._rows.column("param_norms")

    @property
    def _param_norm_min_rows(self) -> np.ndarray:
        if "param_norms_min" not in self._rows.names:
            return np.zeros((0, len(self.param_names)), np.float32)
        return self._rows.column("param_norms_min")

    @property
    def param_grad_norms(self) -> dict[str, np.ndarray]:
        """Each parameter's gradient norm at the kept rows: the largest over the steps a row stands for."""
        vals = self._param_norm_rows
        return {k: vals[:, j] for j, k in enumerate(self.param_names)}

    @property
    def param_grad_norms_min(self) -> dict[str, np.ndarray]:
        """As :attr:`param_grad_norms`, the smallest over the steps a row stands for."""
        vals = self._param_norm_min_rows
        return {k: vals[:, j] for j, k in enumerate(self.param_names)}

    def __len__(self) -> int:
        return len(self._steps)

    def block_since(self, index: int, after_step: int) -> SeriesBlock:
        """Copies of the per-step series from the ``index``-th recorded step on, and of the
        gradient rows of steps after ``after_step``: what is new since a reader last looked,
        at a cost proportional to that (the window's training thread sends these to the GUI)."""
        index = max(0, index)
        grad_steps, rows = self._rows.rows_after(after_step)
        n = grad_steps.size
        return SeriesBlock(self._steps.tail(index), self._loss.tail(index),
                           self._smooth.tail(index) if self._has_smooth else None,
                           grad_steps, rows.get("grad_a", np.zeros((n, self.T or 0), np.float32)),
                           rows.get("param_norms", np.zeros((n, len(self.param_names)), np.float32)),
                           self.param_names,
                           rows.get("param_norms_min", np.zeros((n, len(self.param_names)), np.float32)))

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict:
        return {
            "steps": self.steps.copy(), "loss": self.loss.copy(), "smooth_loss": self.smooth_loss.copy(),
            "grad_steps": self.grad_steps.copy(), "grad_a_norms": self.grad_a_norms.copy(),
            "param_grad_norms": self._param_norm_rows.copy(), "param_names": list(self.param_names),
            "param_grad_norms_min": self._param_norm_min_rows.copy(),
            "stride": self.stride,
            "evals": [[s, m] for s, m in self.evals],
            "setting_changes": [[s, n, o, v] for s, n, o, v in self.setting_changes],
            "samples": [[s, t] for s, t in self.samples],
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore; ``ValueError`` on anything of the wrong shape or type.

        Loss series of any float dtype are accepted (files before float32 history hold float64)
        and kept as float32 (``as_float32``).
        """
        try:
            steps = np.asarray(d["steps"], dtype=np.int64)
            S = steps.shape[0]
            loss = as_float32(d["loss"])
            smooth = as_float32(d["smooth_loss"])
            grad_steps = np.asarray(d["grad_steps"], dtype=np.int64)
            R = grad_steps.shape[0]
            grad_a = np.asarray(d["grad_a_norms"], dtype=np.float32)
            pnorms = np.asarray(d["param_grad_norms"], dtype=np.float32)
            # (files before the lower envelope was kept: the row's value is all that is known)
            pmins = np.asarray(d.get("param_grad_norms_min", pnorms), dtype=np.float32)
            stride = int(d["stride"])
            if R == 0:
                self.T = None          # no rows yet: the first recorded step sets T
                grad_a = np.zeros((0, 0), np.float32)
            elif self.T is None:
                self.T = grad_a.shape[1] if grad_a.ndim == 2 else -1
            if list(d["param_names"]) != list(self.param_names):
                raise InputError("history parameter names do not match the network")
            if steps.ndim != 1 or loss.shape != (S,) or smooth.shape != (S,):
                raise InputError("history loss series have mismatched lengths")
            if grad_steps.ndim != 1 or grad_a.shape != (R, self.T or 0) \
                    or pnorms.shape != (R, len(self.param_names)) or pmins.shape != pnorms.shape:
                raise InputError("history gradient series have wrong shapes")
            if stride < 1 or stride & (stride - 1):
                raise InputError("history stride must be a power of two")
            evals = [(int(s), {str(k): float(v) for k, v in m.items()}) for s, m in d["evals"]]
            changes = [(int(s), str(n), o, v) for s, n, o, v in d["setting_changes"]]
            samples = [(int(s), str(t)) for s, t in d["samples"]]
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"history is malformed ({exc})") from None
        self._steps = GrowingArray.from_array(steps, np.int64)
        self._loss = GrowingArray.from_array(loss, np.float32)
        self._smooth = GrowingArray.from_array(smooth, np.float32)
        self._has_smooth = not np.isnan(smooth).all()
        columns = {"grad_a": grad_a, "param_norms": pnorms, "param_norms_min": pmins} if R else {}
        self._rows = StridedRows.from_arrays(self._rows.max_rows, stride, grad_steps, columns,
                                             peaks={"param_norms"}, troughs={"param_norms_min"})
        self.evals, self.setting_changes, self.samples = evals, changes, samples[-self.max_samples:]
        self.samples_recorded = len(self.samples)


def write_csv(history: History, path: str) -> None:
    """``history`` as CSV, a row per step: step, loss, smooth_loss (if defined), the global and
    per-parameter gradient norms (on the steps that kept a gradient row; once a long run has
    thinned them, the largest over the steps a row stands for), held-out metrics (``test_*``, on
    the steps that were evaluated). Empty cells where there is no value."""
    steps = np.asarray(history.steps)
    names = list(history.param_grad_norms)
    norms = {n: np.asarray(v, dtype=float) for n, v in history.param_grad_norms.items()}
    grad_row = {int(s): j for j, s in enumerate(np.asarray(history.grad_steps))}
    total = np.sqrt(sum(np.square(v) for v in norms.values())) if norms else None
    by_step: dict[int, dict] = {}
    for step, values in history.evals:
        by_step.setdefault(int(step), {}).update(values)
    metrics = sorted({m for values in by_step.values() for m in values})
    smooth = np.asarray(history.smooth_loss, dtype=float)
    has_smooth = bool(np.isfinite(smooth).any())

    def number(value) -> str:
        return repr(float(value)) if np.isfinite(value) else ""

    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss"] + (["smooth_loss"] if has_smooth else []) + ["grad_norm"] +
                   [f"grad_norm_{n}" for n in names] + [f"test_{m}" for m in metrics])
        for i, step in enumerate(steps):
            step = int(step)
            row = [step, number(history.loss[i])] + ([number(smooth[i])] if has_smooth else [])
            j = grad_row.get(step)
            row.append("" if j is None or total is None else number(total[j]))
            row += ["" if j is None else number(norms[n][j]) for n in names]
            ev = by_step.get(step, {})
            row += [number(ev[m]) if m in ev else "" for m in metrics]
            w.writerow(row)
