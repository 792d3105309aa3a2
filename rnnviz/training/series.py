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
        self._reserve(self._n + 1)
        self._data[self._n] = row
        self._n += 1

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
    """

    def __init__(self, max_rows: int, dtype=np.float32):
        self.max_rows = max(2, max_rows)
        self.dtype = np.dtype(dtype)
        self.stride = 1
        self._steps = GrowingArray((), np.int64)
        self._fields: dict[str, GrowingArray] = {}

    @property
    def names(self) -> list[str]:
        return list(self._fields)

    def add(self, steps, columns: dict) -> None:
        """Rows at ``steps`` (n,), with ``columns[name]`` (n, *shape) for every field (the first
        call sets the fields; later calls must give the same names)."""
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        columns = {name: np.asarray(v, dtype=self.dtype) for name, v in columns.items()}
        if not self._fields and not len(self._steps):
            self._fields = {name: GrowingArray(v.shape[1:], self.dtype) for name, v in columns.items()}
        elif columns.keys() != self._fields.keys():
            raise ValueError(f"rows must have the fields {self.names}, not {list(columns)}")
        keep = steps % self.stride == 0
        while len(self._steps) + int(keep.sum()) > self.max_rows:
            self._thin()
            keep &= steps % self.stride == 0
        self._steps.extend(steps[keep])
        for name, series in self._fields.items():
            series.extend(columns[name][keep])

    def append(self, step: int, columns: dict) -> None:
        """One row, ``columns[name]`` of the field's shape (what :meth:`add` does for one step, at
        a fraction of its cost: the trainer records a row at every step on the stride)."""
        if step % self.stride:
            return
        if not self._fields and not len(self._steps):
            self._fields = {name: GrowingArray(np.shape(v), self.dtype) for name, v in columns.items()}
        if len(self._steps) >= self.max_rows:
            self._thin()
            if step % self.stride:
                return
        self._steps.append(step)
        for name, series in self._fields.items():
            series.append(columns[name])

    def _thin(self) -> None:
        """Double the stride and drop the rows off it."""
        self.stride *= 2
        kept = self._steps.values % self.stride == 0
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
    def from_arrays(cls, max_rows: int, stride: int, steps, columns: dict, dtype=np.float32) -> "StridedRows":
        """Rows as saved: ``stride`` and the rows it kept (no decimation is applied on loading)."""
        rows = cls(max(max_rows, len(steps)), dtype)
        rows.stride = stride
        rows._steps = GrowingArray.from_array(steps, np.int64)
        rows._fields = {name: GrowingArray.from_array(v, rows.dtype) for name, v in columns.items()}
        return rows
