"""Long work off the GUI thread, behind a modal busy dialog.

An export traces the whole network with torch.export (20-60 s for a 100-step recurrent design on
two cores): run on the GUI thread it froze the window, which then stopped repainting and looked
hung. Here the work runs on a thread while a nested event loop keeps the window painted; the
modal dialog keeps the user from editing the design under it. To the caller it is still one call
that returns the work's result or raises its exception.
"""
from __future__ import annotations

import threading
from typing import Callable, TypeVar

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QProgressDialog, QWidget

T = TypeVar("T")

#: The dialog shows only for work that lasts longer than this (a quick export just happens).
SHOW_AFTER_MS = 400
POLL_MS = 30


def run_in_background(parent: QWidget, label: str, work: Callable[[], T]) -> T:
    """`work()` on a thread, the GUI alive meanwhile; its result, or its exception re-raised."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:  # handed to the GUI thread, raised there
            outcome["error"] = err

    dialog = QProgressDialog(label, None, 0, 0, parent)  # no cancel: an export cannot be cut
    dialog.setWindowTitle("Please wait")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(SHOW_AFTER_MS)
    dialog.setAutoClose(False)
    thread = threading.Thread(target=run, name="layerlab-background", daemon=True)
    loop = QEventLoop()
    poll = QTimer(interval=POLL_MS)
    poll.timeout.connect(lambda: thread.is_alive() or loop.quit())
    thread.start()
    poll.start()
    loop.exec()
    poll.stop()
    dialog.reset()
    dialog.deleteLater()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
