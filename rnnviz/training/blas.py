"""How many BLAS threads a training step should use.

OpenBLAS spreads even a matrix-vector product over its threads once the matrix has ~10,000
entries (a character model's 100 x 100 recurrent matrix), and a dot product over more than 10,000
values (a norm over all parameters). At batch 1 each such call takes about a microsecond, so
waking, syncing and spinning the second thread costs more than it saves; and when another thread
of the program (the window's) wants that core, a call can wait for its helper thread for
milliseconds. Steps with few hidden values per time step therefore run on one BLAS thread; large
batches (full-batch parity over 10,000 sequences) keep the library's default.
"""

from __future__ import annotations

import functools

#: batch x gate width (N·G·H) up to which a step runs on one BLAS thread
ONE_THREAD_MAX_WIDTH = 1 << 13

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


def blas_threads_for(batch: int, hidden: int, gate_blocks: int) -> int | None:
    """1 for steps too small to gain from BLAS threads, None (the library's default) otherwise.

    batch: sequences per step (0: the whole training set, always large)."""
    if batch <= 0:
        return None
    return 1 if batch * hidden * gate_blocks <= ONE_THREAD_MAX_WIDTH else None


class blas_limit:
    """Run a block with at most ``threads`` BLAS threads (None: as they are); restored after.

    threadpoolctl's own ``limit()`` re-inspects the libraries on every call; this sets the thread
    count through the library controllers found once, and does nothing inside an enclosing ``blas_limit`` that is as strict (a training loop sets
    the limit once; each step inside it then costs nothing). The thread count is global to the
    process, and so is the record of the limit in force.
    """

    __slots__ = ("threads", "_changed", "_outer")

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
