"""Limits on the BLAS library's threads for a block of work, restored after.

The thread count of the BLAS (OpenBLAS for numpy's wheels) is global to the process. The
engine limits it to one thread while its layers run on threads of their own (see
:mod:`rnnviz.engine.wavefront`); the trainer limits it for small steps (see
:mod:`rnnviz.training.blas`, which says when).
"""

from __future__ import annotations

import functools

_in_force: int | None = None     # the limit of the innermost active blas_limit, if any


@functools.lru_cache(maxsize=1)
def _blas_libraries() -> tuple:
    """threadpoolctl's controllers of the BLAS libraries loaded (numpy's), found once."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:            # threadpoolctl is a dependency, but the engine works without it
        return ()
    import numpy  # noqa: F401 - its BLAS must be loaded before threadpoolctl looks

    return tuple(lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas")


class blas_limit:
    """Run a block with at most ``threads`` BLAS threads (None: as they are); restored after.

    threadpoolctl's own ``limit()`` re-inspects the libraries on every call; this sets the thread
    count through the library controllers found once, and does nothing inside an enclosing ``blas_limit`` that is as strict (a training loop sets
    the limit once; each step inside it then costs nothing). The thread count is global to the
    process, and so is the record of the limit in force.
    """

    __slots__ = ("_changed", "_outer", "threads")

    def __init__(self, threads: int | None):
        self.threads = threads
        self._changed = ()
        self._outer = None

    def __enter__(self):
        global _in_force
        self._outer = _in_force
        if self.threads is not None and not (_in_force is not None and _in_force <= self.threads):
            _in_force = self.threads
            changed = []
            for lib in _blas_libraries():
                current = lib.get_num_threads()
                if current is not None and current > self.threads:
                    lib.set_num_threads(self.threads)
                    changed.append((lib, current))
            self._changed = tuple(changed)
        return self

    def __exit__(self, *exc):
        global _in_force
        for lib, previous in self._changed:
            lib.set_num_threads(previous)
        self._changed = ()
        _in_force = self._outer
        return False


def blas_threads() -> int | None:
    """The BLAS libraries' thread count now (the largest of them); None if threadpoolctl finds none."""
    counts = [lib.get_num_threads() for lib in _blas_libraries()]
    counts = [c for c in counts if c is not None]
    return max(counts) if counts else None
