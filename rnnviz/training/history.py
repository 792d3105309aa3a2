"""Training history: what the window plots and a session file keeps.

Loss is kept for every step. Gradient rows (``||dL/da<t>||`` per time step, per-parameter gradient
norms) are kept at full resolution up to ``max_rows`` rows; past that every other row is dropped and
the recording stride doubles, so memory stays bounded however long a run goes.
"""

from __future__ import annotations

import numpy as np


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


class History:
    """Per-step series (growing arrays) plus lists of events.

    steps, loss, smooth_loss: (S,) one entry per completed step (smooth_loss NaN when not defined).
    grad_steps (R,), grad_a_norms (R, T), param_grad_norms (R, P) with P = len(param_names).
    evals: [(step, {metric: value})]; setting_changes: [(step, name, old, new)];
    samples: [(step, text)] (the most recent ``max_samples``).
    """

    def __init__(self, param_names, T: int | None = None, max_rows: int = 4096, max_samples: int = 200):
        self.param_names = tuple(param_names)
        self.T = T                 # time steps per row; set by the first recorded step if None
        self.max_rows = max_rows
        self.max_samples = max_samples
        self._steps = GrowingArray((), np.int64)
        self._loss = GrowingArray((), np.float64)
        self._smooth = GrowingArray((), np.float64)
        self._grad_steps = GrowingArray((), np.int64)
        self._grad_a = GrowingArray((T or 0,), np.float32)
        self._param_norms = GrowingArray((len(self.param_names),), np.float32)
        self.stride = 1
        self.evals: list[tuple[int, dict]] = []
        self.setting_changes: list[tuple[int, str, object, object]] = []
        self.samples: list[tuple[int, str]] = []

    # ------------------------------------------------------------------ recording
    def record_step(self, step: int, loss: float, smooth_loss: float | None,
                    grad_a_norms: np.ndarray, param_grad_norms: dict[str, float]) -> None:
        if self.T is None:
            self.T = grad_a_norms.shape[0]
            self._grad_a = GrowingArray((self.T,), np.float32)
        self._steps.append(step)
        self._loss.append(loss)
        self._smooth.append(np.nan if smooth_loss is None else smooth_loss)
        if step % self.stride == 0 and len(self._grad_steps) >= self.max_rows:
            self._decimate()        # doubles the stride; this step may no longer be on it
        if step % self.stride == 0:
            self._grad_steps.append(step)
            self._grad_a.append(grad_a_norms)
            self._param_norms.append([param_grad_norms[k] for k in self.param_names])

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
        del self.samples[:-self.max_samples]

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
    def grad_steps(self) -> np.ndarray:
        return self._grad_steps.values

    @property
    def grad_a_norms(self) -> np.ndarray:
        return self._grad_a.values

    @property
    def param_grad_norms(self) -> dict[str, np.ndarray]:
        vals = self._param_norms.values
        return {k: vals[:, j] for j, k in enumerate(self.param_names)}

    def __len__(self) -> int:
        return len(self._steps)

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict:
        return {
            "steps": self.steps.copy(), "loss": self.loss.copy(), "smooth_loss": self.smooth_loss.copy(),
            "grad_steps": self.grad_steps.copy(), "grad_a_norms": self.grad_a_norms.copy(),
            "param_grad_norms": self._param_norms.values.copy(), "param_names": list(self.param_names),
            "stride": self.stride,
            "evals": [[s, m] for s, m in self.evals],
            "setting_changes": [[s, n, o, v] for s, n, o, v in self.setting_changes],
            "samples": [[s, t] for s, t in self.samples],
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore; ``ValueError`` on anything of the wrong shape or type."""
        try:
            steps = np.asarray(d["steps"], dtype=np.int64)
            S = steps.shape[0]
            loss = np.asarray(d["loss"], dtype=np.float64)
            smooth = np.asarray(d["smooth_loss"], dtype=np.float64)
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
                raise ValueError("history parameter names do not match the network")
            if steps.ndim != 1 or loss.shape != (S,) or smooth.shape != (S,):
                raise ValueError("history loss series have mismatched lengths")
            if grad_steps.ndim != 1 or grad_a.shape != (R, self.T or 0) \
                    or pnorms.shape != (R, len(self.param_names)):
                raise ValueError("history gradient series have wrong shapes")
            if stride < 1 or stride & (stride - 1):
                raise ValueError("history stride must be a power of two")
            evals = [(int(s), {str(k): float(v) for k, v in m.items()}) for s, m in d["evals"]]
            changes = [(int(s), str(n), o, v) for s, n, o, v in d["setting_changes"]]
            samples = [(int(s), str(t)) for s, t in d["samples"]]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"history is malformed ({exc})") from None
        self._steps = GrowingArray.from_array(steps)
        self._loss = GrowingArray.from_array(loss)
        self._smooth = GrowingArray.from_array(smooth)
        self._grad_steps = GrowingArray.from_array(grad_steps)
        self._grad_a = GrowingArray.from_array(grad_a)
        self._param_norms = GrowingArray.from_array(pnorms)
        self.stride = stride
        self.evals, self.setting_changes, self.samples = evals, changes, samples
