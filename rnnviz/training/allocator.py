"""Keep the memory a training step frees for the next step (glibc's malloc).

A training step allocates its arrays anew: the caches of the forward pass, the gradients of
BPTT, one or two tens of MB for a 2-layer LSTM of 256 units at batch 32. glibc hands arrays of
a few MB back to the system when they are freed (its trim threshold, which it raises only to
twice the largest block freed so far, lies below a whole step's worth), so the next step's
arrays arrive as fresh pages: thousands of page faults per step, each one zero-filled by the
kernel, and a stall for every layer's thread at once when the layers run on threads of their own
(:mod:`rnnviz.engine.wavefront`). Raising the two thresholds once keeps up to
``TRIM_THRESHOLD`` of freed memory for reuse and puts blocks below ``MMAP_THRESHOLD`` on the
heap, where they are reused; larger blocks (a full-batch run over thousands of sequences) are
still mapped and returned as before. ``benchmarks/README.md`` gives the gain.

A user's own setting wins: nothing is changed when the environment tunes malloc already
(``GLIBC_TUNABLES`` naming a ``glibc.malloc`` tunable, or ``MALLOC_TRIM_THRESHOLD_`` /
``MALLOC_MMAP_THRESHOLD_``). On a C library other than glibc (macOS, Windows, musl), nothing.
"""

from __future__ import annotations

import ctypes
import os
import platform

#: bytes of freed memory at the top of the heap kept for reuse (glibc's M_TRIM_THRESHOLD)
TRIM_THRESHOLD = 32 << 20
#: blocks of at least this many bytes are mapped and unmapped on their own (M_MMAP_THRESHOLD)
MMAP_THRESHOLD = 16 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3      # glibc's <malloc.h> parameter numbers
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")

_applied: bool | None = None                        # the outcome of the first call, kept


def user_tunes_malloc(environ=os.environ) -> bool:
    """Whether the environment sets glibc's malloc thresholds itself."""
    return "glibc.malloc." in environ.get("GLIBC_TUNABLES", "") or any(k in environ for k in _USER_SETTINGS)


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds for this process (once; later calls return the
    first call's outcome). True if they are in force, False where nothing was changed."""
    global _applied
    if _applied is None:
        _applied = _set_thresholds()
    return _applied


def _set_thresholds() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or user_tunes_malloc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; the mmap threshold first, so that a refused trim setting
    # leaves glibc's own (dynamic) trimming for blocks that are no longer mapped
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
