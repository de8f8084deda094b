"""A guard against a PySide6 reference-count bug that aborts the interpreter.

PySide6 6.12.0's abi3 wheels return ``None`` from void methods (``QPainter.setPen``,
``QGraphicsItem.update``, ``QPointF.setX``, ...) without a new reference. That is harmless on
Python >= 3.12, where ``None`` is immortal, but on 3.11 every such call lowers ``None``'s reference
count by one, and after a few thousand calls (a second of painting a canvas) CPython aborts with
"Fatal Python error: none_dealloc: deallocating None".

`guard_none_refcount` measures whether the installed PySide6 has the bug and, only then, gives
``None`` a reference count no session can use up (what Python 3.12 does by making it immortal).
"""
from __future__ import annotations

import ctypes
import sys

#: Extra references given to None: at a million buggy calls a second, enough for 30,000 years.
_RESERVE = 1 << 60
_applied = False


def pyside_leaks_none() -> bool:
    """Whether a void PySide6 call drops a reference to None (measured, not assumed)."""
    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(100):
        point.setX(1.0)
    return sys.getrefcount(None) < before - 50


def guard_none_refcount() -> bool:
    """Apply the guard once when it is needed; returns whether it is in place."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not pyside_leaks_none():
        return False
    # ob_refcnt is the first field of every object in a release build of CPython 3.11
    ctypes.c_ssize_t.from_address(id(None)).value += _RESERVE
    _applied = True
    return True
