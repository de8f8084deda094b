"""Start the designer: `python main.py [FILE]` with no headless command."""
from __future__ import annotations

import gc
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication


def run(path: str | None = None) -> int:
    """Open the main window on `path`, or on the default preset; returns the exit code."""
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
    # Objects alive at start-up never become garbage: freezing them keeps full collections
    # (which otherwise stall an edit now and then on large designs) short.
    gc.collect()
    gc.freeze()
    return app.exec()
