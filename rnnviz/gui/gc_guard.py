"""While a training thread runs, Python's cyclic garbage collector runs only in the GUI thread.

Left to itself, the collector runs in whichever thread allocates when its thresholds are crossed,
and a training thread allocating at every step is usually that thread. If it then frees a
reference cycle holding Qt objects (a replaced plot item, a closed dialog), their C++ destructors
run in the training thread. With PySide6 that can deadlock: the destructor takes a Qt lock and
then waits for the GIL, while the GUI thread holds the GIL and waits for that lock (seen in
``benchmarks/gui_latency.py``-style runs that open windows one after another). pyqtgraph's
``GarbageCollector`` turns automatic collection off and collects, generation by generation, from a
timer in the GUI thread; it is switched on from the first training thread's start until the last
one has finished, and automatic collection is restored after.

Call ``hold`` and ``release`` from the GUI thread only.
"""

from __future__ import annotations

import gc

INTERVAL = 0.5          # seconds between the GUI thread's checks (a young-generation pass is ~1 ms)

_holders = 0
_collector = None       # pyqtgraph.util.garbage_collector.GarbageCollector, made on first use
_was_enabled = True


def hold() -> None:
    """A training thread is about to start."""
    global _holders, _collector, _was_enabled
    if _holders == 0:
        _was_enabled = gc.isenabled()
        if _collector is None:
            from pyqtgraph.util.garbage_collector import GarbageCollector  # noqa: PLC0415
            _collector = GarbageCollector(interval=INTERVAL)   # disables gc and starts its timer
        else:
            gc.disable()
            _collector.timer.start()
    _holders += 1


def release() -> None:
    """A training thread has finished."""
    global _holders
    if _holders == 0:
        return
    _holders -= 1
    if _holders == 0:
        _collector.timer.stop()
        if _was_enabled:
            gc.enable()
