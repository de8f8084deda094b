"""The LayerLab designer (PySide6). Importing it guards against a PySide6 bug first."""
from .qt_compat import guard_none_refcount

# every Qt widget calls PySide's void methods thousands of times a second: see qt_compat.py
guard_none_refcount()
