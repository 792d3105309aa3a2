"""How many BLAS threads a training step should use.

OpenBLAS spreads even a matrix-vector product over its threads once the matrix has ~10,000
entries (a character model's 100 x 100 recurrent matrix), and a dot product over more than 10,000
values (a norm over all parameters). At batch 1 each such call takes about a microsecond, so
waking, syncing and spinning the second thread costs more than it saves; and when another thread
of the program (the window's) wants that core, a call can wait for its helper thread for
milliseconds. Steps with few hidden values per time step therefore run on one BLAS thread; large
batches (full-batch parity over 10,000 sequences) keep the library's default. A stack of layers
that runs as a wavefront (a thread per layer, each calling the BLAS on one thread, see
:mod:`rnnviz.engine.wavefront`) runs its whole step on one BLAS thread too: the library's helper
threads, spinning after the readout's products, would take the cores the layers' threads need.
"""

from __future__ import annotations

from rnnviz.engine.blas import blas_limit

__all__ = ["ONE_THREAD_MAX_WIDTH", "blas_limit", "blas_threads_for"]

#: batch x gate width (N·G·H) up to which a step runs on one BLAS thread
ONE_THREAD_MAX_WIDTH = 1 << 13


def blas_threads_for(batch: int, hidden: int, gate_blocks: int, wavefront: bool = False) -> int | None:
    """1 for steps too small to gain from BLAS threads or run as a wavefront, None (the library's
    default) otherwise.

    batch: sequences per step (0: the whole training set, always large)."""
    if batch <= 0:
        return None
    return 1 if wavefront or batch * hidden * gate_blocks <= ONE_THREAD_MAX_WIDTH else None
