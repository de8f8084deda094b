"""Shared set-up of the designer tests."""
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from designer.canvas import CanvasView
from designer.main_window import MainWindow
from designer.session import DesignSession

from .trained import train


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Makes a shown main window with its own settings and autosave folder (never the user's),
    which discards unsaved changes instead of asking, and keeps no spare training process
    (`warm=True` for one that does)."""
    def make(size: tuple[int, int] | None = None, warm: bool = False) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        # no spare training process unless a test asks: hundreds of windows would each start
        # one (and import torch in it) a moment after opening
        settings.setValue("training/warm_process", warm)
        win = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave")
        qtbot.addWidget(win)
        if size:
            win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        win.ask_unsaved = lambda: QMessageBox.StandardButton.Discard
        return win
    return make


@pytest.fixture
def session(qtbot):
    """An empty design session (some test modules make their own)."""
    return DesignSession()


@pytest.fixture
def view(qtbot, session):
    """A shown canvas on `session`."""
    v = CanvasView(session)
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """LeNet trained two epochs on the digits (the Try it panel's and the canvas's tests)."""
    return train(tmp_path_factory.mktemp("runs"), "lenet-digits", 2)
