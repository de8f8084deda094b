"""Start the designer: `python main.py [FILE]` with no headless command.

The window paints without waiting for `import torch` (seconds on a small machine): nothing on
the way to the first paint needs a tensor, and torch is imported on a background thread right
after it, while the user reads the design. Whatever needs torch before that thread is done (Try
it, the doctor, export) imports it too and Python makes it wait for the import in progress.

`LAYERLAB_EXIT_AFTER_PAINT=1` makes the designer exit as soon as its first paint is done,
saying whether torch was loaded by then (benchmarks/startup.py times the whole process).
"""
from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from runtime.lazy import import_in_background

#: Environment variable: quit right after the first paint, saying what it showed (benchmarks).
EXIT_AFTER_PAINT = "LAYERLAB_EXIT_AFTER_PAINT"
#: Imported on the background thread after the first paint: what Try it, the doctor, export and
#: the compile check import first.
PRELOAD = ("torch", "runtime.compile")


def run(path: str | None = None) -> int:
    """Open the main window on `path`, or on the default preset; returns the exit code."""
    # start-up makes objects that live as long as the window: collecting them on the way only
    # delays the first paint (they are collected, then frozen, once it is done)
    gc.disable()
    try:
        return _start(path)
    finally:
        gc.enable()  # for a caller that goes on (tests), should the window never have painted


def _start(path: str | None) -> int:
    from .main_window import DEFAULT_PRESET, MainWindow
    from .platform_check import xcb_problem

    if QApplication.instance() is None:
        problem = xcb_problem()  # Qt would abort, blaming the wrong library
        if problem:
            print(problem, file=sys.stderr)
            return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("LayerLab")
    app.setOrganizationName("LayerLab")
    app.setStyle("Fusion")
    window = MainWindow()
    window.show()
    if not window.offer_recovery():
        if path:
            window.open_path(Path(path))
        elif DEFAULT_PRESET.exists():
            window.open_preset(DEFAULT_PRESET)
            window.show_welcome(first_start=True)  # over the default preset, once per user
    after_first_paint(window.canvas.viewport(), (lambda: _exit_after_paint(window))
                      if os.environ.get(EXIT_AFTER_PAINT) else _after_first_paint)
    return app.exec()


def _after_first_paint() -> None:
    # Objects alive at start-up never become garbage: freezing them keeps full collections
    # (which otherwise stall an edit now and then on large designs) short.
    gc.collect()
    gc.freeze()
    gc.enable()
    import_in_background(*PRELOAD)


class _PaintWatch(QObject):
    """Calls `then` once, at the first turn of the event loop after `widget` has painted."""

    def __init__(self, widget: QWidget, then) -> None:
        super().__init__(widget)
        self.then = then
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self.then)  # this paint runs to its end first
        return False


def after_first_paint(widget: QWidget, then) -> None:
    """Run `then()` once `widget` has painted for the first time."""
    _PaintWatch(widget, then)


def _exit_after_paint(window) -> None:
    cards = len(window.canvas.scene().node_items)
    shapes = sum(bool(result.outputs) for result in window.session.analysis.nodes.values())
    torch = "loaded" if "torch" in sys.modules else "not loaded"
    print(f"first paint done: {cards} node cards, {shapes} with output shapes; torch {torch}",
          flush=True)
    os._exit(0)  # at once: tearing the window down is not part of starting up
