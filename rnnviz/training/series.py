"""Growable per-step series, shared by the trainer's History and the window's copy of a run.

Two pieces and nothing else:

* :class:`GrowingArray`, the one growable buffer: rows appended at the end, capacity doubling
  (so appending is amortised O(1) and at most half the capacity is unused);
* :class:`StridedRows`, the one decimation rule: named rows kept only at steps that are multiples
  of ``stride``, at most ``max_rows`` of them; when full, the rows off the doubled stride are
  dropped, so memory is bounded however long a run goes and the kept rows stay evenly spaced.

Neither may be read while another thread appends (the window reads copies, see ``History.block_since``).
"""

from __future__ import annotations

import numpy as np


class GrowingArray:
    """An append-only array of rows (n, *row_shape); ``values`` is a view of the filled part."""

    def __init__(self, row_shape: tuple[int, ...] = (), dtype=np.float64, capacity: int = 256):
        self._data = np.empty((max(1, capacity),) + tuple(row_shape), dtype=dtype)
        self._n = 0

    def _reserve(self, n: int) -> None:
        if n > self._data.shape[0]:
            grown = np.empty((max(2 * self._data.shape[0], n),) + self._data.shape[1:], self._data.dtype)
            grown[:self._n] = self._data[:self._n]
            self._data = grown

    def append(self, row) -> None:
        n = self._n
        if n == self._data.shape[0]:
            self._reserve(n + 1)
        self._data[n] = row
        self._n = n + 1

    def extend(self, rows) -> None:
        """Append rows (k, *row_shape)."""
        rows = np.asarray(rows)
        k = rows.shape[0]
        self._reserve(self._n + k)
        self._data[self._n:self._n + k] = rows
        self._n += k

    @property
    def values(self) -> np.ndarray:
        return self._data[:self._n]

    def tail(self, start: int) -> np.ndarray:
        """A copy of the rows from index ``start`` on (what is new since a reader last looked)."""
        return self._data[max(0, start):self._n].copy()

    def keep(self, index) -> None:
        """Keep only the rows selected by ``index`` (a mask or indices, in order), in place."""
        kept = self._data[:self._n][index]
        self._n = kept.shape[0]
        self._data[:self._n] = kept

    @property
    def nbytes(self) -> int:
        """Bytes held, unused capacity included."""
        return self._data.nbytes

    def __len__(self) -> int:
        return self._n

    @classmethod
    def from_array(cls, rows: np.ndarray, dtype=None) -> "GrowingArray":
        rows = np.asarray(rows, dtype=dtype)
        g = cls(rows.shape[1:], rows.dtype, capacity=rows.shape[0])
        g.extend(rows)
        return g


class StridedRows:
    """Named rows recorded at increasing training steps, kept only at multiples of ``stride``.

    steps (R,) int64; each field (R, *shape) of ``dtype``, its shape set by the first rows added.
    At most ``max_rows`` rows: when an addition would pass it, the stride doubles and the rows off
    it are dropped (repeatedly if needed). ``stride`` only grows, so a reader can tell which new
    steps will be kept before sending them.

    Fields named in ``peaks`` keep their largest value instead: the row at step s holds the
    elementwise maximum over every step given in [s, s + stride), so a spike between two kept rows
    is never thinned away (a gradient norm that exploded for one step stays in sight). Fields named
    in ``troughs`` keep the smallest likewise (a dip stays in sight). True for either means every
    field; a field in both is an error.
    """

    def __init__(self, max_rows: int, dtype=np.float32, peaks=(), troughs=()):
        self.max_rows = max(2, max_rows)
        self.dtype = np.dtype(dtype)
        if peaks is True and troughs is True:
            raise ValueError("a field keeps either its largest or its smallest value, not both")
        self._all = np.maximum if peaks is True else np.minimum if troughs is True else None
        self.peaks = frozenset() if peaks is True else frozenset(peaks)
        self.troughs = frozenset() if troughs is True else frozenset(troughs)
        if self.peaks & self.troughs:
            raise ValueError(f"fields {sorted(self.peaks & self.troughs)} are in both peaks and troughs")
        self._set_reducers()
        self.stride = 1
        self._steps = GrowingArray((), np.int64)
        self._fields: dict[str, GrowingArray] = {}

    def _set_reducers(self, names=()) -> None:
        """``self._reduce``: each extreme-keeping field's ufunc (np.maximum or np.minimum)."""
        reduce = {**{n: np.maximum for n in self.peaks}, **{n: np.minimum for n in self.troughs}}
        if self._all is not None:
            reduce = {**{n: self._all for n in names}, **reduce}
        self._reduce: dict[str, np.ufunc] = reduce

    @property
    def names(self) -> list[str]:
        return list(self._fields)

    def _start(self, columns: dict, shape) -> None:
        if not self._fields and not len(self._steps):
            self._fields = {name: GrowingArray(shape(v), self.dtype) for name, v in columns.items()}
            self._set_reducers(self._fields)
        elif columns.keys() != self._fields.keys():
            raise ValueError(f"rows must have the fields {self.names}, not {list(columns)}")

    def add(self, steps, columns: dict) -> None:
        """Rows at ``steps`` (n,), increasing, with ``columns[name]`` (n, *shape) for every field (the
        first call sets the fields). Steps at or before the newest kept one may come again (a
        History's reader sends a row again when its extremes may have moved): they only widen the
        peak and trough fields of the kept row whose interval holds them."""
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        columns = {name: np.asarray(v, dtype=self.dtype) for name, v in columns.items()}
        self._start(columns, lambda v: v.shape[1:])
        if steps.size == 0:
            return
        last = int(self._steps.values[-1]) if len(self._steps) else -1
        fresh = steps > last
        while len(self._steps) + int(np.count_nonzero(fresh & (steps % self.stride == 0))) > self.max_rows:
            self._thin()
        kept = self._steps.values                              # (after any thinning)
        last = int(kept[-1]) if kept.size else -1
        start = steps - steps % self.stride                    # the kept step each row belongs to
        first = np.flatnonzero(np.r_[True, start[1:] != start[:-1]])
        old = start[first] <= last                             # groups of rows already kept
        at = np.minimum(np.searchsorted(kept, start[first][old]), max(kept.size - 1, 0))
        found = kept[at] == start[first][old] if kept.size else np.zeros(0, bool)
        new = (steps[first] == start[first]) & ~old            # groups that start a new row
        for name, series in self._fields.items():
            values = columns[name]
            reduce = self._reduce.get(name)
            if reduce is not None:
                values = reduce.reduceat(values, first, axis=0)
                rows = at[found]
                series.values[rows] = reduce(series.values[rows], values[old][found])
            else:
                values = values[first]
            series.extend(values[new])
        self._steps.extend(steps[first][new])

    def append(self, step: int, columns: dict) -> None:
        """One row, ``columns[name]`` of the field's shape (what :meth:`add` does for one step, at
        a fraction of its cost: the trainer records a row at every step)."""
        if step % self.stride == 0 and len(self._steps) >= self.max_rows:
            self._thin()
        if step % self.stride:
            if self._reduce and self._steps._n and step < self._steps._data[self._steps._n - 1] + self.stride:
                for name, reduce in self._reduce.items():
                    series = self._fields[name]
                    newest = series._data[series._n - 1:series._n]   # a view, also for scalar rows
                    reduce(newest, columns[name], out=newest)
            return
        if not self._fields:
            self._start(columns, np.shape)
        self._steps.append(step)
        for name, series in self._fields.items():
            series.append(columns[name])

    def _thin(self) -> None:
        """Double the stride and drop the rows off it (a peak or trough field's kept row first takes
        the extreme of the dropped row in its new interval)."""
        old, self.stride = self.stride, 2 * self.stride
        steps = self._steps.values
        kept = steps % self.stride == 0
        if self._reduce:
            dropped = np.flatnonzero(~kept)
            dropped = dropped[dropped > 0]
            into = dropped - 1
            joins = kept[into] & (steps[dropped] == steps[into] + old)
            for name, reduce in self._reduce.items():
                values = self._fields[name].values
                values[into[joins]] = reduce(values[into[joins]], values[dropped[joins]])
        for series in (self._steps, *self._fields.values()):
            series.keep(kept)

    @property
    def steps(self) -> np.ndarray:
        return self._steps.values

    def column(self, name: str) -> np.ndarray:
        return self._fields[name].values

    def rows_after(self, step: int) -> tuple[np.ndarray, dict]:
        """Copies of the steps and fields of the rows recorded after training step ``step``."""
        first = int(np.searchsorted(self._steps.values, step, side="right"))
        return self._steps.tail(first), {name: s.tail(first) for name, s in self._fields.items()}

    @property
    def nbytes(self) -> int:
        return self._steps.nbytes + sum(s.nbytes for s in self._fields.values())

    def __len__(self) -> int:
        return len(self._steps)

    @classmethod
    def from_arrays(cls, max_rows: int, stride: int, steps, columns: dict, dtype=np.float32,
                    peaks=(), troughs=()) -> "StridedRows":
        """Rows as saved: ``stride`` and the rows it kept (no decimation is applied on loading)."""
        rows = cls(max(max_rows, len(steps)), dtype, peaks, troughs)
        rows.stride = stride
        rows._steps = GrowingArray.from_array(steps, np.int64)
        rows._fields = {name: GrowingArray.from_array(v, rows.dtype) for name, v in columns.items()}
        rows._set_reducers(rows._fields)
        return rows
