"""The GUI thread's own copy of a run's history, filled from snapshots (never from live arrays).

Everything here has a bounded size, so the window takes the same memory after a minute or a day
(the Trainer's History keeps every step's loss; this is what is drawn): the loss as at most
32,768 buckets of equal size holding min, max and mean (one step per bucket until the run is
that long; then neighbours merge), gradient statistics for every k-th step (k doubling), and an
image of at most 512 columns. ``pixel_columns`` reduces the loss to what one pixel column of
the plot shows, and ``ema_blocks`` smooths that.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from rnnviz.training.history import MAX_SAMPLES
from rnnviz.training.series import StridedRows

TINY = 1e-30   # gradient norms of exactly zero are drawn at this floor on log axes
GAP_INTERVALS = 3   # held-out points further apart than this many evaluation intervals are not joined
MAX_HORIZONS = 512   # memory horizons kept over training for the why-views


FLOAT_MAX = float(np.finfo(np.float64).max)


def log_norms(norms: np.ndarray) -> np.ndarray:
    """log10 of gradient norms, with zeros and NaN drawn at the floor ``TINY`` and infinities at
    the largest float (two ufuncs: ``fmax`` takes the floor where the norm is NaN)."""
    out = np.fmax(np.asarray(norms, dtype=float), TINY)
    np.minimum(out, FLOAT_MAX, out=out)
    return np.log10(out, out=out)


class LossEnvelope:
    """A per-step series kept as at most ``max_buckets`` buckets of ``size`` consecutive steps
    each (min, max and mean per bucket). ``size`` is 1 until the buffer fills; then neighbouring
    buckets merge and ``size`` doubles. Drawn as the min-max envelope of each pixel column
    (``pixel_columns``), nothing a step did is lost from sight."""

    def __init__(self, max_buckets: int = 1 << 15):
        # 32,768 buckets: 30 times the pixels of a wide plot, so zooming in still shows detail;
        # 1 MB per series, full within a quarter of a minute, flat after that. (2^18 buckets drew
        # no better and kept growing for minutes: 8 MB per series.)
        self.max_buckets = max_buckets - max_buckets % 2
        self.clear()

    def clear(self) -> None:
        self.size = 1
        self.n = 0                                   # full buckets
        self._x = np.empty(self.max_buckets)         # first step of each bucket
        self._lo = np.empty(self.max_buckets)
        self._hi = np.empty(self.max_buckets)
        self._mean = np.empty(self.max_buckets)
        self._part: list = []                        # (step, value) of the bucket being filled
        self.last = None

    def extend(self, steps, values) -> None:
        steps = np.asarray(steps, dtype=float)
        values = np.asarray(values, dtype=float)
        if steps.size == 0:
            return
        self.last = float(values[-1])
        if self._part:
            steps = np.concatenate([[p[0] for p in self._part], steps])
            values = np.concatenate([[p[1] for p in self._part], values])
            self._part = []
        while steps.size >= self.size:
            k = min(steps.size // self.size, self.max_buckets - self.n)
            if k == 0:
                self._merge()
                continue
            take = k * self.size
            block = values[:take].reshape(k, self.size)
            end = self.n + k
            self._x[self.n:end] = steps[:take:self.size]
            with np.errstate(all="ignore"):
                self._lo[self.n:end] = np.nanmin(block, axis=1) if self.size > 1 else block[:, 0]
                self._hi[self.n:end] = np.nanmax(block, axis=1) if self.size > 1 else block[:, 0]
                self._mean[self.n:end] = np.nanmean(block, axis=1) if self.size > 1 else block[:, 0]
            self.n = end
            steps, values = steps[take:], values[take:]
        self._part = list(zip(steps.tolist(), values.tolist()))

    def _merge(self) -> None:
        half = self.n // 2
        with np.errstate(all="ignore"):
            self._lo[:half] = np.fmin(self._lo[0:2 * half:2], self._lo[1:2 * half:2])
            self._hi[:half] = np.fmax(self._hi[0:2 * half:2], self._hi[1:2 * half:2])
            self._mean[:half] = 0.5 * (self._mean[0:2 * half:2] + self._mean[1:2 * half:2])
        self._x[:half] = self._x[0:2 * half:2]
        self.n = half
        self.size *= 2

    # Full buckets only (the partial one is still changing).
    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def lo(self) -> np.ndarray:
        return self._lo[: self.n]

    @property
    def hi(self) -> np.ndarray:
        return self._hi[: self.n]

    @property
    def mean(self) -> np.ndarray:
        return self._mean[: self.n]

    def __len__(self) -> int:
        return self.n


class PixelColumns(NamedTuple):
    """A loss series as a plot shows it: one entry per pixel column that holds any step.

    x (C,): where the column's steps lie on average (exactly the step when it holds one);
    lo, hi (C,): the smallest and largest loss of any step in it; mean (C,): their mean (NaN if
    none is finite); first, last (C,): its first and last step.
    """

    x: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    mean: np.ndarray
    first: np.ndarray
    last: np.ndarray

    def __len__(self) -> int:
        return self.x.size


def pixel_columns(series: LossEnvelope, x0: float, x1: float, width: int, log_x: bool = False) -> PixelColumns:
    """``series`` between steps ``x0`` and ``x1`` cut into ``width`` equal pixel columns (equal in
    log10(step) when ``log_x``; then ``x0`` must be positive). A bucket of several steps goes to the
    column of its middle step. A few array calls whatever the length: one pass to find each
    bucket's column, then one ``reduceat`` per statistic over the runs of equal columns."""
    size = series.size
    start = series.x
    i0 = int(np.searchsorted(start, x0 - (size - 1), side="left"))   # last step >= x0
    i1 = int(np.searchsorted(start, x1, side="right"))               # first step <= x1
    if i1 <= i0 or width < 1 or not x1 > x0:
        empty = np.empty(0)
        return PixelColumns(empty, empty, empty, empty, empty, empty)
    middle = start[i0:i1] + 0.5 * (size - 1)
    if log_x:
        where = (np.log10(np.maximum(middle, x0)) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))
    else:
        where = (middle - x0) / (x1 - x0)
    column = np.clip((where * width).astype(np.int64), 0, width - 1)
    starts = np.flatnonzero(np.concatenate(([True], column[1:] != column[:-1])))
    counts = np.diff(np.append(starts, column.size))
    mean = series.mean[i0:i1]
    finite = np.isfinite(mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.fmin.reduceat(series.lo[i0:i1], starts)
        hi = np.fmax.reduceat(series.hi[i0:i1], starts)
        n_finite = np.add.reduceat(finite, starts)
        column_mean = np.add.reduceat(np.where(finite, mean, 0.0), starts) / n_finite
        column_mean[n_finite == 0] = np.nan
    x = np.add.reduceat(middle, starts) / counts
    first = start[i0:i1][starts]
    last = start[i0:i1][starts + counts - 1] + (size - 1)
    return PixelColumns(x, lo, hi, column_mean, first, last)


class GradientImage:
    """log10 ||dL/da<t>|| over training, at most ``width`` columns wide.

    Each column averages about ``bin_size`` training steps; when the buffer is full, neighbouring
    columns merge and ``bin_size`` doubles, so memory is bounded by ``width x T``. Rows may stand
    for several steps (a reopened session's history keeps every k-th step): they are weighted by
    the steps they stand for.
    """

    def __init__(self, width: int = 512):
        self.width = width - width % 2
        self.clear()

    def clear(self) -> None:
        self.T = None
        self.first_step = None
        self.last_step = None
        self.bin_size = 1
        self._cols = None
        self._n_cols = 0
        self._acc = None
        self._acc_w = 0.0

    def add(self, steps: np.ndarray, log_norms: np.ndarray) -> None:
        """Append rows of ``log_norms`` (n, T) recorded at increasing training ``steps`` (n,)."""
        n = log_norms.shape[0]
        if n == 0:
            return
        T = log_norms.shape[1]
        if self.T != T:
            self.clear()
            self.T = T
            self._cols = np.full((self.width, T), np.nan)
            self._acc = np.zeros(T)
        steps = np.asarray(steps, dtype=float)
        previous = steps[0] - 1 if self.last_step is None else self.last_step
        weights = np.maximum(np.diff(steps, prepend=previous), 1.0)
        if self.first_step is None:
            self.first_step = float(steps[0] - weights[0] + 1)
        self.last_step = float(steps[-1])
        weighted = log_norms * weights[:, None]
        row = 0
        while row < n:
            need = self.bin_size - self._acc_w
            cumulative = np.cumsum(weights[row:row + int(need) + 1])
            take = min(int(np.searchsorted(cumulative, need - 1e-9)) + 1, n - row)
            self._acc += weighted[row:row + take].sum(axis=0)
            self._acc_w += float(cumulative[take - 1])
            row += take
            if self._acc_w >= self.bin_size - 1e-9:
                self._push(self._acc / self._acc_w)

    def _push(self, column) -> None:
        if self._n_cols == self.width:
            half = self.width // 2
            self._cols[:half] = 0.5 * (self._cols[0::2] + self._cols[1::2])
            self._cols[half:] = np.nan
            self._n_cols = half
            self.bin_size *= 2
        self._cols[self._n_cols] = column
        self._n_cols += 1
        self._acc = np.zeros(self.T)
        self._acc_w = 0.0

    def image(self) -> tuple[np.ndarray | None, float, float]:
        """(columns x T image, first step, last step)."""
        if self.T is None or (self._n_cols == 0 and self._acc_w == 0):
            return None, 0.0, 1.0
        img = self._cols[: self._n_cols]
        if self._acc_w:
            img = np.vstack([img, (self._acc / self._acc_w)[None, :]])
        return img, float(self.first_step), float(self.last_step)


class RunData:
    """Plain-Python history of the current run, as the GUI thread knows it."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.loss = LossEnvelope()
        self.smooth_loss = LossEnvelope()     # min-char-rnn's smoothed loss (charlm only)
        # "all" (the global norm) and one column per parameter; 2,048 points span any plot width;
        # each the largest over the steps its point stands for, and in gradient_norms_min the
        # smallest. A point's "all" is the norm of the parameters' largest (smallest) norms: never
        # below (above) the global norm at any of its steps, so the two enclose every step's.
        self.gradient_norms = StridedRows(2048, np.float64, peaks=True)
        self.gradient_norms_min = StridedRows(2048, np.float64, troughs=True)
        self.gradient_image = GradientImage()
        self.latest_grad_a: np.ndarray | None = None
        self.latest_grad_c: np.ndarray | None = None
        # a stacked network's: the latest step's (L, T) norms per layer, and an image over training
        # for every layer l >= 2 (layer 1's is gradient_image), from the rows snapshots bring
        self.latest_layer_grad_a: np.ndarray | None = None
        self.latest_layer_grad_c: np.ndarray | None = None
        self.latest_reverse_grad_a: np.ndarray | None = None   # bidirectional: (L, T) the reverse directions'
        self.layer_images: dict[int, GradientImage] = {}
        self.evals: list[tuple[int, dict]] = []
        self.setting_changes: list[tuple[int, str, object, object]] = []
        self.samples: list[tuple[int, str]] = []
        self.new_samples: list[tuple[int, str]] = []   # not yet shown; the sampling panel drains it
        self.sample_notes: dict[tuple[int, str], dict] = {}   # (step, text) -> temperature, prime, on_demand
        self.step = 0
        self._examples: tuple[str, ...] | None = None
        self.examples_step: int | None = None   # the step the examples were computed at
        self._probe = None
        self.probe_step: int | None = None      # the step the probe was taken at
        self.probe_note: str | None = None      # what the probe sequence is, when known
        self.held_out: int | None = None        # held-out items each evaluation scores (None: unknown)
        self.eval_every: int | None = None      # the interval between evaluations, when known
        self.chance_loss: float | None = None   # the task's chance level (Task.chance_loss)
        self.insight = None      # the latest LiveInsight (the why-views), or None
        self.horizons: list[tuple[int, int | None, int | None]] = []   # (step, horizon, cell path's)
        self.revision = 0        # bumped on every change, so panels can skip redundant redraws

    # The probe and the examples remember the step they were set at (the controller sets them
    # directly while no worker runs; a snapshot brings the step it computed them at).
    @property
    def examples(self) -> tuple[str, ...] | None:
        return self._examples

    @examples.setter
    def examples(self, examples) -> None:
        self._examples, self.examples_step = examples, self.step

    @property
    def probe(self):
        return self._probe

    @probe.setter
    def probe(self, probe) -> None:
        self._probe, self.probe_step, self.probe_note = probe, self.step, None

    @property
    def has_smooth_loss(self) -> bool:
        return self.smooth_loss.last is not None

    # ---- filling ----------------------------------------------------------------------------
    def add_block(self, block, last=None) -> None:
        """Take in a History's :class:`~rnnviz.training.history.SeriesBlock` (new steps, as
        arrays: a few array calls however many steps it holds) and the latest StepResult, whose
        gradient norms over time the gradient panel draws as they are."""
        if block is not None and block.steps.size:
            steps = block.steps.astype(float)
            # float32, as the History keeps them: the live curve is the one a saved session reopens to
            self.loss.extend(steps, block.loss)
            if block.smooth_loss is not None:
                self.smooth_loss.extend(steps, block.smooth_loss)
            self.step = int(steps[-1])
        if block is not None and block.grad_steps.size:
            if block.param_names:
                lows = block.param_grad_norms if block.param_grad_norms_min is None else block.param_grad_norms_min
                for rows, values in ((self.gradient_norms, block.param_grad_norms), (self.gradient_norms_min, lows)):
                    values = values.astype(float)                                  # (R, P)
                    columns = {"all": np.sqrt(np.square(values).sum(axis=1)),
                               **dict(zip(block.param_names, values.T))}
                    rows.add(block.grad_steps, columns)    # a row sent again: its extremes widen
            new = block.grad_steps > (self.gradient_image.last_step or -1)   # the image takes each row once
            if new.any():
                self.gradient_image.add(block.grad_steps[new].astype(float), log_norms(block.grad_a_norms[new]))
            if last is None:     # a reopened session: its latest kept row
                self.latest_grad_a = block.grad_a_norms[-1].astype(float)
        if last is not None:
            self.latest_grad_a = np.asarray(last.grad_a_norms, dtype=float)
            self.latest_grad_c = None if last.grad_c_norms is None else np.asarray(last.grad_c_norms, dtype=float)
            layer_a = getattr(last, "layer_grad_a_norms", None)
            layer_c = getattr(last, "layer_grad_c_norms", None)
            self.latest_layer_grad_a = None if layer_a is None else np.asarray(layer_a, dtype=float)
            self.latest_layer_grad_c = None if layer_c is None else np.asarray(layer_c, dtype=float)
            rev = getattr(last, "reverse_grad_a_norms", None)
            self.latest_reverse_grad_a = None if rev is None else np.asarray(rev, dtype=float)
            self.step = max(self.step, int(last.step))
        self.revision += 1

    def add_layer_rows(self, steps, norms) -> None:
        """A stacked network's per-layer gradient rows: ``norms`` (R, L, T) ||dL/da[l]<t>|| at
        training ``steps`` (R,); layers 2 … L go to their images (layer 1's image is filled from
        the History's rows, which are the same numbers)."""
        if steps is None or not len(steps):
            return
        norms = np.asarray(norms)
        for layer in range(2, norms.shape[1] + 1):
            image = self.layer_images.setdefault(layer, GradientImage())
            new = steps > (image.last_step or -1)
            if new.any():
                image.add(np.asarray(steps[new], dtype=float), log_norms(norms[new, layer - 1]))
        self.revision += 1

    def layer_image(self, layer: int) -> GradientImage | None:
        """The image of log10 ||dL/da[layer]<t>|| over training (layer 1: ``gradient_image``),
        or None if no row of that layer has come yet."""
        return self.gradient_image if layer == 1 else self.layer_images.get(layer)

    def add_snapshot(self, snapshot) -> None:
        self.add_block(snapshot.block, snapshot.last)
        self.add_layer_rows(getattr(snapshot, "layer_grad_steps", None), getattr(snapshot, "layer_grad_a_norms", None))
        self.evals.extend(snapshot.evals)
        self.setting_changes.extend(snapshot.setting_changes)
        self.add_samples(snapshot.samples, getattr(snapshot, "sample_notes", ()))
        self.step = snapshot.step
        if snapshot.probe is not None:
            self._probe = snapshot.probe
            self.probe_step = getattr(snapshot, "probe_step", None) or snapshot.step
            self.probe_note = getattr(snapshot, "probe_note", None)
        if getattr(snapshot, "insight", None) is not None:
            self.set_insight(snapshot.insight)
        if snapshot.examples is not None:
            self._examples = snapshot.examples
            self.examples_step = getattr(snapshot, "examples_step", None) or snapshot.step
        if snapshot.chance_loss is not None:
            self.chance_loss = snapshot.chance_loss
        if getattr(snapshot, "held_out", None):
            self.held_out = snapshot.held_out
        if getattr(snapshot, "eval_every", None):
            self.eval_every = snapshot.eval_every
        self.revision += 1

    def set_insight(self, insight) -> None:
        """The latest why-view numbers; their memory horizons are kept over training (at most
        MAX_HORIZONS, thinned to every other one when full)."""
        self.insight = insight
        if self.horizons and self.horizons[-1][0] >= insight.step:
            self.horizons = [h for h in self.horizons if h[0] < insight.step]
        self.horizons.append((insight.step, insight.horizon, insight.horizon_c))
        if len(self.horizons) > MAX_HORIZONS:
            self.horizons = self.horizons[::2] + ([] if len(self.horizons) % 2 else self.horizons[-1:])
        self.revision += 1

    def drop_insight(self) -> None:
        """No why-view numbers until the next ones (the horizons over training stay)."""
        self.insight = None
        self.revision += 1

    def add_samples(self, samples, notes=()) -> None:
        """New (step, text) samples, with a note ({temperature, prime, on_demand}) for each if known."""
        self.samples.extend(samples)
        self.new_samples.extend(samples)
        del self.samples[:-MAX_SAMPLES]
        del self.new_samples[:-MAX_SAMPLES]
        for sample, note in zip(samples, notes):
            if note:
                self.sample_notes[tuple(sample)] = dict(note)
        if len(self.sample_notes) > 2 * MAX_SAMPLES:
            kept = set(map(tuple, self.samples))
            self.sample_notes = {k: v for k, v in self.sample_notes.items() if k in kept}

    def sample_note(self, step: int, text: str) -> dict:
        """What a sample was drawn with ({temperature, prime, on_demand}), or {} if not known."""
        return self.sample_notes.get((step, text), {})

    def load_history(self, history, step: int, chance_loss: float | None = None) -> None:
        """Start from a Trainer's History (a reopened session) and its task's chance level
        (``trainer.task.chance_loss()``; else it comes with the first snapshot). Called only
        while no worker runs."""
        self.clear()
        self.add_block(history.block_since(0, -1))
        self.evals = [(int(s), dict(m)) for s, m in history.evals]
        self.setting_changes = list(history.setting_changes)
        self.samples = list(history.samples)[-MAX_SAMPLES:]
        self.new_samples = list(self.samples[-3:])
        self.chance_loss = chance_loss
        self.step = int(step)
        self.revision += 1

    # ---- reading ------------------------------------------------------------------------------
    def metric_names(self) -> list[str]:
        names: list[str] = []
        for _, metrics in self.evals:
            for name in metrics:
                if name not in names:
                    names.append(name)
        return names

    def metric_series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        pts = [(s, m[name]) for s, m in self.evals if name in m and m[name] is not None]
        if not pts:
            return np.empty(0), np.empty(0)
        arr = np.asarray(pts, dtype=float)
        return arr[:, 0], arr[:, 1]

    def metric_connect(self, steps: np.ndarray) -> np.ndarray:
        """Which consecutive held-out points a line may join (``connect`` for pyqtgraph, one
        entry per point; the last is ignored): not across a gap of more than ``GAP_INTERVALS``
        evaluation intervals (the "test every" setting, else the usual spacing of the points)."""
        steps = np.asarray(steps, dtype=float)
        if steps.size < 2:
            return np.zeros(steps.size, dtype=bool)
        gaps = np.diff(steps)
        interval = self.eval_every or float(np.median(gaps))
        return np.append(gaps <= GAP_INTERVALS * interval, False)

    def latest_eval(self) -> tuple[int, dict] | None:
        """(step, metrics) of the latest held-out evaluation, or None."""
        return self.evals[-1] if self.evals else None

    def latest_loss(self) -> float | None:
        return self.loss.last


def ema_blocks(values: np.ndarray, beta: float, state=(0.0, 0.0)):
    """Debiased exponential moving average, TensorBoard-style, continuing from ``state``.

    The EMA starts at 0 and is divided by the sum of the weights it has given (1 - beta^(t+1)
    when every value is finite), so early points are not pulled towards zero. Non-finite values
    get no weight. Vectorised in blocks (no Python loop per point), so re-smoothing millions of
    points when the slider moves stays fast. Returns (smoothed values, state to continue from).
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return values.copy(), state
    if beta <= 0:
        return values.copy(), state
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0)
    w = finite.astype(float)
    # Block length such that beta^-L stays below e^30: exact enough in float64.
    block = int(min(8192, max(1, math.floor(30.0 / -math.log(beta)))))
    ema = np.empty(n)
    norm = np.empty(n)
    prev_e, prev_w = state
    for start in range(0, n, block):
        xs, ws = x[start:start + block], w[start:start + block]
        k = np.arange(xs.size, dtype=float)
        inv = beta ** -k
        fwd = beta ** k
        e = beta * fwd * prev_e + (1 - beta) * fwd * np.cumsum(xs * inv)
        ww = beta * fwd * prev_w + (1 - beta) * fwd * np.cumsum(ws * inv)
        ema[start:start + xs.size], norm[start:start + xs.size] = e, ww
        prev_e, prev_w = float(e[-1]), float(ww[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(norm > 0, ema / np.where(norm > 0, norm, 1.0), np.nan)
    return out, (prev_e, prev_w)
