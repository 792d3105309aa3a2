"""Name-keyed arrays that are views of one flat buffer.

A network's parameters, its gradients and an optimizer's slots all have the same layout: the
arrays ``Wax, Waa, ba, Wya, by`` back to back in one 1-D buffer. Keeping them there lets an
update, a clip or a norm over all parameters be one array call instead of one per parameter,
which matters when each array call costs more than its arithmetic (a character model at batch 1).
"""

from __future__ import annotations

import functools
import math

import numpy as np


#: byte alignment of the buffers made here: a cache line. NumPy's own allocations are 16-byte
#: aligned, so without it where the weights start within a cache line, and with it the speed of
#: the products that read them, would vary from run to run with the allocator's state
ALIGN = 64


def aligned_empty(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` whose data starts on an ``ALIGN``-byte boundary (C order)."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


class FlatDict(dict):
    """``{name: array}`` whose arrays are reshaped views of consecutive slices of ``self.flat``.

    ``d[name] = value`` copies ``value`` into the existing view (same shape required), so the dict
    and the buffer can never disagree; names cannot be added or removed. ``layout`` is the tuple of
    ``(name, shape)`` pairs: two FlatDicts with equal layouts index their buffers alike.
    """

    __slots__ = ("flat", "layout")

    def __init__(self, flat: np.ndarray, layout):
        layout = _layout(layout)
        flat = np.asarray(flat)
        total = _spans(layout)[-1][3]
        if flat.ndim != 1 or flat.size != total or not flat.flags.c_contiguous:
            raise ValueError(f"flat must be a contiguous 1-D array of {total} values")
        self._fill(flat, layout)

    def _fill(self, flat: np.ndarray, layout: tuple) -> None:
        dict.__init__(self, [(name, flat[a:b].reshape(shape)) for name, shape, a, b in _spans(layout)[:-1]])
        self.flat = flat
        self.layout = layout

    @classmethod
    def empty(cls, layout, dtype) -> "FlatDict":
        """Uninitialised arrays laid out by ``layout``: a dict ``{name: shape}`` or a FlatDict's
        ``layout`` (the faster form, for a buffer made at every training step)."""
        layout = _layout(layout)
        d = dict.__new__(cls)
        d._fill(aligned_empty(_spans(layout)[-1][3], dtype), layout)
        return d

    @classmethod
    def zeros(cls, shapes, dtype) -> "FlatDict":
        """Zeros laid out by ``shapes``: a dict ``{name: shape}`` or a FlatDict's ``layout``."""
        d = cls.empty(shapes, dtype)
        d.flat[...] = 0
        return d

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], dtype=None) -> "FlatDict":
        """A copy of ``arrays`` (in their order) in one new buffer."""
        d = cls.empty({k: np.shape(v) for k, v in arrays.items()},
                      dtype if dtype is not None else np.result_type(*arrays.values()))
        for k, v in arrays.items():
            d[k] = v
        return d

    def copy(self) -> "FlatDict":
        d = dict.__new__(FlatDict)
        d._fill(self.flat.copy(), self.layout)
        return d

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return FlatDict, (self.flat, self.layout)

    def __setitem__(self, name, value):
        if name not in self:
            raise KeyError(f"{name!r} is not one of {list(self)}")
        view = dict.__getitem__(self, name)
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"{name!r} must have shape {view.shape}; got {value.shape}")
        view[...] = value

    def update(self, other=(), **kw):
        for k, v in dict(other, **kw).items():
            self[k] = v

    def _fixed(self, *args, **kw):
        raise TypeError("a FlatDict's names are fixed")

    __delitem__ = pop = popitem = clear = setdefault = _fixed


def _layout(layout) -> tuple:
    """``((name, shape), ...)`` from a dict of shapes; a tuple layout is returned as it is."""
    if isinstance(layout, tuple):
        return layout
    return tuple((name, tuple(int(n) for n in shape)) for name, shape in dict(layout).items())


@functools.lru_cache(maxsize=64)
def _spans(layout) -> tuple:
    """``((name, shape, start, stop), ..., (None, None, None, total))`` for a layout."""
    spans, start = [], 0
    for name, shape in layout:
        n = math.prod(shape)
        spans.append((name, shape, start, start + n))
        start += n
    return tuple(spans) + ((None, None, None, start),)


def flat_of(arrays, layout) -> np.ndarray | None:
    """The flat buffer behind ``arrays`` if it is a FlatDict with this layout, else None."""
    if isinstance(arrays, FlatDict) and (arrays.layout is layout or arrays.layout == layout):
        return arrays.flat
    return None
