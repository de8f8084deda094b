"""designer.background: long work (an export) runs off the GUI thread; the window keeps
handling events meanwhile, and the caller gets the result or the exception as from a call."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QTimer

from designer.background import run_in_background
from runtime.errors import ExportError


def test_the_event_loop_runs_while_the_work_does(qtbot):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    ticks, threads = [], []
    probe = QTimer(interval=20)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    probe.start()

    def work() -> int:
        threads.append(threading.current_thread())
        time.sleep(0.6)
        return 42

    assert run_in_background(parent, "Working…", work) == 42
    probe.stop()
    assert threads[0] is not threading.main_thread()
    assert len(ticks) >= 10  # a frozen GUI thread would have run none


def test_the_works_exception_reaches_the_caller(qtbot):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)

    def work() -> None:
        raise ExportError("node gru: cannot be expressed")

    with pytest.raises(ExportError, match="node gru"):
        run_in_background(parent, "Working…", work)


def test_a_slow_export_from_the_menu_leaves_the_window_painting(make_window, tmp_path,
                                                                 monkeypatch):
    """File ▸ Export runs the exporter on a thread: the window's timers fire while it works, the
    design it exports is a snapshot, and the file is there when export_as returns."""
    from runtime.export_deploy import export_format

    window = make_window()
    fmt = export_format("onnx")
    seen = []

    def slow_write(design, path, checkpoint=None, **options):
        seen.append(design)
        time.sleep(0.5)
        with open(path, "w") as handle:
            handle.write("model")

    import dataclasses

    import designer.main_window as main_window

    slow = dataclasses.replace(fmt, write=slow_write)
    monkeypatch.setattr(main_window, "export_format", lambda name: slow)
    target = tmp_path / "net.onnx"
    monkeypatch.setattr(window, "ask_save_path", lambda *args: str(target))
    ticks = []
    probe = QTimer(interval=20)
    probe.timeout.connect(lambda: ticks.append(1))
    probe.start()
    window.export_as("onnx")
    probe.stop()
    assert target.read_text() == "model" and len(ticks) >= 8
    assert seen[0] is not window.session.model and set(seen[0].nodes) == set(
        window.session.model.nodes)
    assert window.statusBar().currentMessage().startswith(f"Exported {target}")
