"""A guard against PySide6 reference-count bugs that abort the interpreter.

PySide6 6.12.0's abi3 wheels return ``None`` from void methods (``QPainter.setPen``,
``QGraphicsItem.update``, ``QPointF.setX``, ...) without a new reference, and pass ``True`` /
``False`` to Python slots of a ``bool`` signal (``toggled``, ``cleanChanged``, our own
``Signal(bool)``) without one. That is harmless on Python >= 3.12, where these objects are
immortal, but on 3.11 every such call lowers their reference count by one, and after a few
thousand calls CPython aborts with "Fatal Python error: none_dealloc: deallocating None" (or
"bool_dealloc: deallocating True or False").

`guard_none_refcount` measures whether the installed PySide6 has each bug and, only then, gives
the object a reference count no session can use up (what Python 3.12 does by making it immortal).
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


def pyside_leaks_bools() -> bool:
    """Whether emitting a bool signal to a Python slot drops a reference to the bool."""
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        changed = Signal(bool)

    probe = Probe()
    probe.changed.connect(lambda value: None)
    before = sys.getrefcount(True)
    for _ in range(100):
        probe.changed.emit(True)
    return sys.getrefcount(True) < before - 50


def guard_none_refcount() -> bool:
    """Apply the guards once where needed; returns whether any is in place."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    leaking = ([None] if pyside_leaks_none() else []) + \
        ([True, False] if pyside_leaks_bools() else [])
    for obj in leaking:
        # ob_refcnt is the first field of every object in a release build of CPython 3.11
        ctypes.c_ssize_t.from_address(id(obj)).value += _RESERVE
    _applied = bool(leaking)
    return _applied
