"""Training history: what the window plots and a session file keeps.

Loss is kept for every step, as float32 (4 bytes a step; plots and CSV need no more). The recorded
steps are consecutive (a refused step is neither recorded nor counted), so they are kept as the
first step and a count, not as an array (should a step ever not follow the previous one, every
step is kept from then on); min-char-rnn's smoothed loss takes another 4 bytes a step, and only for
tasks that define it. Gradient rows (``||dL/da<t>||`` per time step, per-parameter gradient
norms) are kept at full resolution up to ``max_rows`` rows; past that every other row is dropped and
the recording stride doubles, so memory stays bounded however long a run goes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from rnnviz.errors import InputError

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


class GrowingArray:
    """An append-only array with amortised doubling; ``values`` is a view of the filled part."""

    def __init__(self, row_shape: tuple[int, ...] = (), dtype=np.float64, capacity: int = 1024):
        self._data = np.empty((capacity,) + tuple(row_shape), dtype=dtype)
        self._n = 0

    def append(self, row) -> None:
        if self._n == self._data.shape[0]:
            grown = np.empty((2 * self._n,) + self._data.shape[1:], dtype=self._data.dtype)
            grown[:self._n] = self._data[:self._n]
            self._data = grown
        self._data[self._n] = row
        self._n += 1

    def extend(self, rows: np.ndarray) -> None:
        """Append several rows at once (k, *row_shape)."""
        k = rows.shape[0]
        if self._n + k > self._data.shape[0]:
            grown = np.empty((max(2 * self._data.shape[0], self._n + k),) + self._data.shape[1:],
                             dtype=self._data.dtype)
            grown[:self._n] = self._data[:self._n]
            self._data = grown
        self._data[self._n:self._n + k] = rows
        self._n += k

    @property
    def values(self) -> np.ndarray:
        return self._data[:self._n]

    def keep(self, index) -> None:
        """Keep only the rows selected by ``index`` (in place)."""
        kept = self._data[:self._n][index]
        self._n = kept.shape[0]
        self._data[:self._n] = kept

    def __len__(self) -> int:
        return self._n

    @classmethod
    def from_array(cls, arr: np.ndarray) -> "GrowingArray":
        g = cls(arr.shape[1:], arr.dtype, capacity=max(1024, arr.shape[0]))
        g._data[:arr.shape[0]] = arr
        g._n = arr.shape[0]
        return g


class ChunkedArray:
    """An append-only 1-d array kept in blocks, so appending never copies what is already stored.

    Blocks grow from ``first_block`` up to ``max_block`` elements, so unused capacity is at most
    ``max_block`` elements however long the series gets. ``values`` joins the blocks into one
    array (once; the joined array then replaces them) and returns a view of it, so repeated reads
    cost nothing. Like ``GrowingArray``, it must not be read while another thread appends
    (the window reads the trainer's history only with training stopped).
    """

    def __init__(self, dtype=np.float32, first_block: int = 1024, max_block: int = 1 << 14):
        self.dtype = np.dtype(dtype)
        self.first_block = first_block
        self.max_block = max_block
        self._blocks: list[np.ndarray] = []
        self._last = np.empty(0, self.dtype)   # the block being filled (also _blocks[-1])
        self._fill = 0                          # elements used in _last
        self._n = 0

    def append(self, value) -> None:
        if self._fill == self._last.shape[0]:
            size = min(self.max_block, max(self.first_block, self._n))
            self._last = np.empty(size, self.dtype)
            self._blocks.append(self._last)
            self._fill = 0
        self._last[self._fill] = value
        self._fill += 1
        self._n += 1

    def extend(self, values: np.ndarray) -> None:
        """Append a 1-d array of values (copied into the blocks)."""
        values = np.asarray(values, dtype=self.dtype)
        done, k = 0, values.shape[0]
        while done < k:
            if self._fill == self._last.shape[0]:
                size = min(self.max_block, max(self.first_block, self._n))
                self._last = np.empty(size, self.dtype)
                self._blocks.append(self._last)
                self._fill = 0
            m = min(k - done, self._last.shape[0] - self._fill)
            self._last[self._fill:self._fill + m] = values[done:done + m]
            self._fill += m
            self._n += m
            done += m

    @property
    def values(self) -> np.ndarray:
        if len(self._blocks) > 1:
            joined = np.concatenate(self._blocks[:-1] + [self._last[:self._fill]])
            self._blocks, self._last, self._fill = [joined], joined, joined.shape[0]
        return self._last[:self._fill]

    def tail(self, start: int) -> np.ndarray:
        """A new array of the values from index ``start`` on, copied from the last blocks only (no
        join of the whole series: reading the newest values costs what they hold, not the run's
        length)."""
        remaining = self._n - max(0, start)
        parts = []
        for i in range(len(self._blocks) - 1, -1, -1):
            if remaining <= 0:
                break
            block = self._blocks[i]
            used = self._fill if block is self._last else block.shape[0]   # earlier blocks are full
            take = min(used, remaining)
            parts.append(block[used - take:used])
            remaining -= take
        if not parts:
            return np.empty(0, self.dtype)
        return np.concatenate(parts[::-1]) if len(parts) > 1 else parts[0].copy()

    @property
    def nbytes(self) -> int:
        """Bytes held, unused capacity included."""
        return sum(b.nbytes for b in self._blocks)

    def __len__(self) -> int:
        return self._n

    @classmethod
    def from_array(cls, arr: np.ndarray, dtype=np.float32) -> "ChunkedArray":
        c = cls(dtype)
        joined = np.array(arr, dtype=dtype)   # a copy, exactly as long as arr
        if joined.shape[0]:
            c._blocks, c._last, c._fill, c._n = [joined], joined, joined.shape[0], joined.shape[0]
        return c


class SeriesBlock(NamedTuple):
    """Copies of what a History recorded over some stretch of training, column by column.

    steps (S,) int64, loss (S,) float32, smooth_loss (S,) float32 or None (undefined throughout);
    gradient rows at the History's stride: grad_steps (R,) int64, grad_a_norms (R, T) float32,
    param_grad_norms (R, P) float32, one column per name in ``param_names``.
    """

    steps: np.ndarray
    loss: np.ndarray
    smooth_loss: np.ndarray | None
    grad_steps: np.ndarray
    grad_a_norms: np.ndarray
    param_grad_norms: np.ndarray
    param_names: tuple


class BlockReader:
    """Hands out, at each :meth:`take`, what a History recorded since the previous one (a reader
    in another thread gets copies, never the History's own arrays). The History must only grow
    meanwhile (one trainer, no reload)."""

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
        block = history.block_since(self.index, self.row_step)
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

    PENDING = 256     # steps recorded between moves from lists into the arrays

    def __init__(self, param_names, T: int | None = None, max_rows: int = 4096,
                 max_samples: int = MAX_SAMPLES):
        self.param_names = tuple(param_names)
        self.T = T                 # time steps per row; set by the first recorded step if None
        self.max_rows = max_rows
        self.max_samples = max_samples
        self._first_step = 0                         # steps[0], when the steps are consecutive
        self._step_list: ChunkedArray | None = None  # every step, only once a gap has occurred
        self._loss = ChunkedArray(np.float32)
        self._smooth: ChunkedArray | None = None     # None while every smooth_loss is undefined
        self._grad_steps = GrowingArray((), np.int64)
        self._grad_a = GrowingArray((T or 0,), np.float32)
        self._param_norms = GrowingArray((len(self.param_names),), np.float32)
        self.stride = 1
        self._pend_loss: list[float] = []     # see record_step
        self._pend_smooth: list[float] = []
        self._pend_rows: list[tuple] = []      # (step, grad_a_norms, param norms)
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
        """Record one completed step. ``grad_a_norms`` (T,) and ``param_grad_norms`` are kept by
        reference until the next flush, so the caller must not change them afterwards (a Trainer's
        are new at every step).

        Values wait in Python lists and move into the arrays ``PENDING`` steps at a time (or when
        anything is read): a list append costs a tenth of a numpy element assignment, which at a
        tenth of a millisecond a step is what this bookkeeping would otherwise add to training."""
        if self.T is None:
            self.T = grad_a_norms.shape[0]
            self._grad_a = GrowingArray((self.T,), np.float32)
        n = self._loss._n + len(self._pend_loss)      # len(self), without the call
        if self._step_list is not None:
            self._step_list.append(step)
        elif n == 0:
            self._first_step = int(step)
        elif step != self._first_step + n:   # not the next step: keep every step from now on
            self._flush()
            self._step_list = ChunkedArray.from_array(self.steps, np.int64)
            self._step_list.append(step)
        self._pend_loss.append(loss if -F32_MAX <= loss <= F32_MAX else _f32_range(loss))
        if self._smooth is not None:
            self._pend_smooth.append(np.nan if smooth_loss is None else _f32_range(smooth_loss))
        elif smooth_loss is not None and smooth_loss == smooth_loss:   # the first defined value
            self._flush()
            self._smooth = ChunkedArray.from_array(np.full(n, np.nan), np.float32)
            self._pend_smooth.append(_f32_range(smooth_loss))
        if step % self.stride == 0:
            if self._grad_steps._n + len(self._pend_rows) >= self.max_rows:
                self._flush()
                self._decimate()    # doubles the stride; this step may no longer be on it
            if step % self.stride == 0:
                self._pend_rows.append((step, grad_a_norms, param_grad_norms))
        if len(self._pend_loss) >= self.PENDING:
            self._flush()

    def _flush(self) -> None:
        """Move the values waiting in lists into the arrays."""
        if self._pend_loss:
            self._loss.extend(np.array(self._pend_loss, dtype=np.float32))
            self._pend_loss.clear()
        if self._pend_smooth:
            self._smooth.extend(np.array(self._pend_smooth, dtype=np.float32))
            self._pend_smooth.clear()
        rows = self._pend_rows
        if rows:
            self._grad_steps.extend(np.array([r[0] for r in rows], dtype=np.int64))
            self._grad_a.extend(np.array([r[1] for r in rows], dtype=np.float32).reshape(len(rows), -1))
            names = self.param_names
            self._param_norms.extend(np.array([[r[2][k] for k in names] for r in rows], dtype=np.float32)
                                     .reshape(len(rows), len(names)))
            rows.clear()

    def _decimate(self) -> None:
        self.stride *= 2
        keep = self._grad_steps.values % self.stride == 0
        for series in (self._grad_steps, self._grad_a, self._param_norms):
            series.keep(keep)

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
        self._flush()
        if self._step_list is not None:
            return self._step_list.values
        return np.arange(self._first_step, self._first_step + len(self._loss), dtype=np.int64)

    @property
    def loss(self) -> np.ndarray:
        self._flush()
        return self._loss.values

    @property
    def smooth_loss(self) -> np.ndarray:
        self._flush()
        if self._smooth is None:
            return np.full(len(self._loss), np.nan, np.float32)
        return self._smooth.values

    @property
    def nbytes(self) -> int:
        """Bytes the per-step series hold (unused capacity included); ``steps`` takes none while
        the steps are consecutive, an undefined ``smooth_loss`` none at all."""
        self._flush()
        return sum(a.nbytes for a in (self._step_list, self._loss, self._smooth) if a is not None)

    @property
    def grad_steps(self) -> np.ndarray:
        self._flush()
        return self._grad_steps.values

    @property
    def grad_a_norms(self) -> np.ndarray:
        self._flush()
        return self._grad_a.values

    @property
    def param_grad_norms(self) -> dict[str, np.ndarray]:
        self._flush()
        vals = self._param_norms.values
        return {k: vals[:, j] for j, k in enumerate(self.param_names)}

    def __len__(self) -> int:
        return len(self._loss) + len(self._pend_loss)

    def block_since(self, index: int, after_step: int) -> SeriesBlock:
        """Copies of the per-step series from the ``index``-th recorded step on, and of the
        gradient rows of steps after ``after_step``: what is new since a reader last looked,
        at a cost proportional to that (the window's training thread sends these to the GUI)."""
        self._flush()
        index = max(0, index)
        if self._step_list is not None:
            steps = self._step_list.tail(index)
        else:
            steps = np.arange(self._first_step + index, self._first_step + len(self._loss), dtype=np.int64)
        grad_steps = self._grad_steps.values
        first_row = int(np.searchsorted(grad_steps, after_step, side="right"))
        return SeriesBlock(steps, self._loss.tail(index),
                           None if self._smooth is None else self._smooth.tail(index),
                           grad_steps[first_row:].copy(), self._grad_a.values[first_row:].copy(),
                           self._param_norms.values[first_row:].copy(), self.param_names)

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict:
        self._flush()
        return {
            "steps": self._copy(self._step_list, self.steps), "loss": self.loss.copy(),
            "smooth_loss": self._copy(self._smooth, self.smooth_loss),
            "grad_steps": self.grad_steps.copy(), "grad_a_norms": self.grad_a_norms.copy(),
            "param_grad_norms": self._param_norms.values.copy(), "param_names": list(self.param_names),
            "stride": self.stride,
            "evals": [[s, m] for s, m in self.evals],
            "setting_changes": [[s, n, o, v] for s, n, o, v in self.setting_changes],
            "samples": [[s, t] for s, t in self.samples],
        }

    @staticmethod
    def _copy(stored: ChunkedArray | None, values: np.ndarray) -> np.ndarray:
        return values if stored is None else values.copy()   # derived values are new arrays already

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
                    or pnorms.shape != (R, len(self.param_names)):
                raise InputError("history gradient series have wrong shapes")
            if stride < 1 or stride & (stride - 1):
                raise InputError("history stride must be a power of two")
            evals = [(int(s), {str(k): float(v) for k, v in m.items()}) for s, m in d["evals"]]
            changes = [(int(s), str(n), o, v) for s, n, o, v in d["setting_changes"]]
            samples = [(int(s), str(t)) for s, t in d["samples"]]
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"history is malformed ({exc})") from None
        consecutive = bool(np.all(np.diff(steps) == 1))
        self._first_step = int(steps[0]) if S else 0
        self._step_list = None if consecutive else ChunkedArray.from_array(steps, np.int64)
        self._loss = ChunkedArray.from_array(loss, np.float32)
        self._smooth = None if np.isnan(smooth).all() else ChunkedArray.from_array(smooth, np.float32)
        self._grad_steps = GrowingArray.from_array(grad_steps)
        self._grad_a = GrowingArray.from_array(grad_a)
        self._param_norms = GrowingArray.from_array(pnorms)
        self.stride = stride
        self._pend_loss, self._pend_smooth, self._pend_rows = [], [], []
        self.evals, self.setting_changes, self.samples = evals, changes, samples[-self.max_samples:]
        self.samples_recorded = len(self.samples)
