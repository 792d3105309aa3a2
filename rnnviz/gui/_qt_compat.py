"""Work around PySide6 6.12.0 on Python < 3.12, which drops references to None, True and False.

That wheel hands out ``None`` (and, on some paths, ``True``/``False``) without taking a reference,
which is harmless from Python 3.12 on, where these objects are immortal. On Python 3.11 every
call such as ``QPainter.drawLine`` lowers None's reference count by one, and after a few
thousand calls the interpreter aborts with "Fatal Python error: none_dealloc" (or
"bool_dealloc"). When (and only when) the leak is measured, these singletons are made
effectively immortal, as they are on 3.12, by raising their reference counts far out of reach.
Fixed wheels (6.11.x) and Python >= 3.12 are left alone.
"""

from __future__ import annotations

import sys

_PINNED = False


def none_refcount_leaks() -> bool:
    """True if a void PySide6 method call lowers None's reference count."""
    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(64):
        point.setX(1.0)
    return sys.getrefcount(None) <= before - 32


def apply() -> bool:
    """Pin None's reference count if this PySide6 needs it; returns whether it did."""
    global _PINNED
    if _PINNED or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _PINNED
    if not none_refcount_leaks():
        return False
    import ctypes

    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))   # ob_refcnt: first field of an object
        before = sys.getrefcount(singleton)
        refcount.value += 1 << 60
        if sys.getrefcount(singleton) - before != 1 << 60:  # pragma: no cover - unexpected layout
            refcount.value -= 1 << 60
            return False
    _PINNED = True
    return True


apply()
