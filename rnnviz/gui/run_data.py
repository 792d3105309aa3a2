"""The GUI thread's own copy of a run's history, filled from snapshots (never from live arrays).

Every per-step value is kept (for export and exact hover values); the gradient-over-training
image is kept at a bounded resolution so memory stays flat however long a run goes.
"""

from __future__ import annotations

import math

import numpy as np

TINY = 1e-30   # gradient norms of exactly zero are drawn at this floor on log axes


def log_norms(norms: np.ndarray) -> np.ndarray:
    """log10 of gradient norms, with zeros and NaN drawn at the floor ``TINY``."""
    return np.log10(np.maximum(np.nan_to_num(np.asarray(norms, dtype=float), nan=TINY), TINY))


class GrowableArray:
    """A 1-D float array with amortised O(1) appends; ``view`` is the filled part."""

    def __init__(self, capacity: int = 1024):
        self._data = np.empty(capacity)
        self._n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=float).ravel()
        need = self._n + values.size
        if need > self._data.size:
            grown = np.empty(max(need, 2 * self._data.size))
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n:need] = values
        self._n = need

    @property
    def view(self) -> np.ndarray:
        return self._data[: self._n]

    def __len__(self) -> int:
        return self._n


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
        self.steps = GrowableArray()
        self.loss = GrowableArray()
        self.smooth_loss = GrowableArray()
        self.grad_norm = GrowableArray()
        self.param_norms: dict[str, GrowableArray] = {}
        self.param_steps = GrowableArray()
        self.gradient_image = GradientImage()
        self.latest_grad_a: np.ndarray | None = None
        self.latest_grad_c: np.ndarray | None = None
        self.evals: list[tuple[int, dict]] = []
        self.setting_changes: list[tuple[int, str, object, object]] = []
        self.samples: list[tuple[int, str]] = []
        self.new_samples: list[tuple[int, str]] = []   # not yet shown; the sampling panel drains it
        self.examples: tuple[str, ...] | None = None
        self.probe = None
        self.step = 0
        self.has_smooth_loss = False
        self.revision = 0        # bumped on every change, so panels can skip redundant redraws

    # ---- filling ----------------------------------------------------------------------------
    def add_results(self, results) -> None:
        if not results:
            return
        steps = np.fromiter((r.step for r in results), float, len(results))
        self.steps.extend(steps)
        self.loss.extend([r.loss for r in results])
        smooth = [np.nan if r.smooth_loss is None else r.smooth_loss for r in results]
        self.has_smooth_loss = self.has_smooth_loss or results[-1].smooth_loss is not None
        self.smooth_loss.extend(smooth)
        self._add_param_norms(steps, [r.param_grad_norms for r in results])
        grads = np.stack([np.asarray(r.grad_a_norms, dtype=float) for r in results])
        self.gradient_image.add(steps, log_norms(grads))
        self.latest_grad_a = grads[-1]
        last_c = results[-1].grad_c_norms
        self.latest_grad_c = None if last_c is None else np.asarray(last_c, dtype=float)
        self.step = int(steps[-1])
        self.revision += 1

    def _add_param_norms(self, steps, dicts) -> None:
        self.param_steps.extend(steps)
        self.grad_norm.extend([np.sqrt(sum(v * v for v in d.values())) for d in dicts])
        names = list(dicts[0]) if dicts else []
        for name in names:
            if name not in self.param_norms:
                grown = GrowableArray()
                grown.extend(np.full(len(self.param_steps) - len(steps), np.nan))
                self.param_norms[name] = grown
            self.param_norms[name].extend([d.get(name, np.nan) for d in dicts])

    def add_snapshot(self, snapshot) -> None:
        self.add_results(snapshot.results)
        self.evals.extend(snapshot.evals)
        self.setting_changes.extend(snapshot.setting_changes)
        self.add_samples(snapshot.samples)
        if snapshot.probe is not None:
            self.probe = snapshot.probe
        if snapshot.examples is not None:
            self.examples = snapshot.examples
        self.step = snapshot.step
        self.revision += 1

    def add_samples(self, samples) -> None:
        self.samples.extend(samples)
        self.new_samples.extend(samples)
        del self.samples[:-200]

    def load_history(self, history, step: int) -> None:
        """Start from a Trainer's History (a reopened session). Called only while no worker runs."""
        self.clear()
        steps = np.asarray(history.steps, dtype=float)
        if steps.size:
            self.steps.extend(steps)
            self.loss.extend(history.loss)
            self.smooth_loss.extend(history.smooth_loss)
            self.has_smooth_loss = bool(np.isfinite(self.smooth_loss.view).any())
        grad_steps = np.asarray(history.grad_steps, dtype=float)
        if grad_steps.size:
            # Gradient rows are kept for every k-th step in long histories.
            self.param_steps.extend(grad_steps)
            norms = {name: np.asarray(v, dtype=float) for name, v in history.param_grad_norms.items()}
            for name, values in norms.items():
                arr = GrowableArray()
                arr.extend(values)
                self.param_norms[name] = arr
            self.grad_norm.extend(np.sqrt(sum(np.square(v) for v in norms.values())))
            grads = np.asarray(history.grad_a_norms, dtype=float)
            self.gradient_image.add(grad_steps, log_norms(grads))
            self.latest_grad_a = grads[-1]
        self.evals = [(int(s), dict(m)) for s, m in history.evals]
        self.setting_changes = list(history.setting_changes)
        self.samples = list(history.samples)[-200:]
        self.new_samples = list(self.samples[-3:])
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

    def latest_loss(self) -> float | None:
        return float(self.loss.view[-1]) if len(self.loss) else None


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


class SmoothedSeries:
    """The debiased EMA of a growing series, extended incrementally as points arrive."""

    def __init__(self, beta: float = 0.9):
        self.beta = beta
        self.reset()

    def reset(self) -> None:
        self.values = GrowableArray()
        self._state = (0.0, 0.0)

    def set_beta(self, beta: float) -> None:
        if beta != self.beta:
            self.beta = beta
            self.reset()

    def update(self, source: np.ndarray) -> np.ndarray:
        done = len(self.values)
        if source.size < done:
            self.reset()
            done = 0
        if source.size > done:
            tail, self._state = ema_blocks(source[done:], self.beta, self._state)
            self.values.extend(tail)
        return self.values.view
