"""File ▸ Export (#17): one item per format of runtime.export_deploy.FORMATS; with a run of the
design the user chooses its trained weights or the initial ones; a design of several networks
asks which network; the files load in their own tools. Dialogs are answered by the test."""
from __future__ import annotations

from pathlib import Path

import onnxruntime
import pytest
import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QPushButton

from runtime.compile import compile_model
from runtime.export_deploy import FORMATS, export_format
from runtime.training import load_checkpoint

from .trained import PRESETS, train


@pytest.fixture(scope="module")
def spirals_run(tmp_path_factory) -> Path:
    """mlp-spirals trained one epoch: a run folder with best.pt."""
    return train(tmp_path_factory.mktemp("runs"), "mlp-spirals", 1)


@pytest.fixture
def window(make_window, monkeypatch):
    win = make_window()
    win.messages = []
    monkeypatch.setattr(win, "show_error", lambda title, text: win.messages.append(text))
    return win


def run_name(folder: Path) -> str:
    from runtime.runs import read_run

    return read_run(folder).name


def _never(*args):
    raise AssertionError("asked a question it should not ask")


def _record_starts(window) -> list[tuple]:
    """What the window hands to its export process, recorded instead of run."""
    started = []

    def start(document, name, fmt, path, weights=None, network=None):
        started.append((fmt, path, weights, network))
        window.export_job.finished.emit("recorded")  # the window closes its progress dialog
    window.export_job.start = start
    return started


def _export(qtbot, window, name: str) -> None:
    """File ▸ Export ▸ `name`, waiting for the export's own process where it has one."""
    window.act_export_formats[name].trigger()
    qtbot.waitUntil(lambda: not window.export_job.running, timeout=120_000)


def test_file_export_lists_every_format_of_the_one_table(window):
    actions = window.export_menu.actions()
    assert [a.text() for a in actions] == [f"{f.label} ({f.suffix})…" for f in FORMATS]
    assert actions == list(window.act_export_formats.values())
    assert window.act_export is window.act_export_formats["py"]
    assert window.act_export.shortcut().toString() == "Ctrl+E"
    file_menu = window.menuBar().actions()[0].menu()
    assert window.export_menu.menuAction() in file_menu.actions()


def test_without_a_run_onnx_is_written_with_the_initial_weights_unasked(window, tmp_path,
                                                                        qtbot):
    window.open_preset(PRESETS / "mlp-spirals.json")
    out = tmp_path / "spirals.onnx"
    window.ask_export_weights = _never
    window.ask_save_path = lambda title, file_filter, suffix: (
        str(out) if (title, file_filter, suffix) == ("Export ONNX model",
                                                     "ONNX model (*.onnx)", ".onnx") else "")
    _export(qtbot, window, "onnx")
    assert window.messages == []
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"]
    assert session.run(None, {"x": torch.randn(6, 2).numpy()})[0].shape == (6, 2)
    assert "initial weights" in window.statusBar().currentMessage()


def test_with_a_run_the_user_chooses_its_trained_weights_or_the_initial_ones(
        window, spirals_run, tmp_path, qtbot):
    window.open_preset(PRESETS / "mlp-spirals.json")
    panel = window.plots.runs
    panel.add_root(spirals_run)
    panel.select_folders([spirals_run])
    checkpoint = window.trained_checkpoint()
    assert checkpoint == Path(spirals_run) / "best.pt"
    # the question names the run, trained weights by default
    box, trained, initial = window.export_weights_box(export_format("pt2"), checkpoint)
    assert box.text() == ("Export the design with the trained weights of "
                          f"run “{run_name(spirals_run)}”?")
    assert "select it in the Runs tab" in box.informativeText()
    assert box.defaultButton() is trained and initial.text() == "Initial weights"

    reference = compile_model(window.session.model).eval()
    reference.load_state_dict(load_checkpoint(checkpoint)["model"])
    x = torch.randn(5, 2)
    answers = iter([True, False, None])
    window.ask_export_weights = lambda fmt, path: next(answers)
    saved = []
    window.ask_save_path = lambda *args: saved.append(tmp_path / f"{len(saved)}.pt2") or \
        str(saved[-1])
    _export(qtbot, window, "pt2")  # the run's weights, written by main.py export
    assert torch.allclose(torch.export.load(str(saved[0])).module()(x), reference(x), atol=1e-6)
    assert run_name(spirals_run) in window.statusBar().currentMessage()
    started = _record_starts(window)
    _export(qtbot, window, "pt2")  # the initial weights: no checkpoint goes to the export
    assert started == [(export_format("pt2"), str(saved[1]), None, None)]
    _export(qtbot, window, "pt2")  # cancelled: no dialog, no file
    assert len(saved) == 2 and len(started) == 1 and window.messages == []


def test_a_python_module_takes_the_run_s_weights_beside_it_and_its_docstring_loads_them(
        window, spirals_run, tmp_path, qtbot, monkeypatch):
    import ast

    from safetensors.torch import load_file

    window.open_preset(PRESETS / "mlp-spirals.json")
    window.plots.runs.add_root(spirals_run)
    window.plots.runs.select_folders([spirals_run])
    window.ask_export_weights = lambda fmt, path: True
    window.ask_save_path = lambda *args: str(tmp_path / "spirals.py")
    _export(qtbot, window, "py")
    assert window.messages == []
    source = (tmp_path / "spirals.py").read_text()
    assert "load_file('spirals.safetensors')" in ast.get_docstring(ast.parse(source))
    namespace: dict = {}
    exec(compile(source, "spirals.py", "exec"), namespace)
    network_class = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)][-1]
    model = namespace[network_class]()
    model.load_state_dict(load_file(tmp_path / "spirals.safetensors"))
    reference = compile_model(window.session.model).eval()
    reference.load_state_dict(load_checkpoint(Path(spirals_run) / "best.pt")["model"])
    x = torch.randn(5, 2)
    assert torch.equal(model.eval()(x), reference(x))
    assert run_name(spirals_run) in window.statusBar().currentMessage()


def test_a_design_of_several_networks_asks_which_network_where_a_file_holds_one(window, tmp_path, qtbot):
    window.open_preset(PRESETS / "gan-2d.json")
    asked = []
    window.ask_network = lambda fmt, titles: asked.append(titles) or "generator"
    out = tmp_path / "generator.onnx"
    window.ask_save_path = lambda *args: str(out)
    started = _record_starts(window)  # what main.py export --network does: test_cli's
    _export(qtbot, window, "onnx")
    assert asked == [["generator", "discriminator"]]
    assert started == [(export_format("onnx"), str(out), None, "generator")]
    window.ask_network = lambda fmt, titles: None  # cancelled: nothing asked after it
    window.ask_save_path = _never
    _export(qtbot, window, "pt2")
    assert window.messages == []
    # a Python module holds them all, a class each: nothing to ask
    window.ask_network = _never
    window.ask_save_path = lambda *args: str(tmp_path / "gan.py")
    _export(qtbot, window, "py")
    source = (tmp_path / "gan.py").read_text()
    assert "class Generator(nn.Module)" in source and "class Discriminator(nn.Module)" in source
    assert window.messages == []


def test_a_traced_export_runs_apart_the_window_stays_live_and_cancel_leaves_no_file(
        window, tmp_path, qtbot):
    window.open_preset(PRESETS / "mlp-spirals.json")
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "spirals.onnx"
    out.write_bytes(b"the previous export")
    window.ask_save_path = lambda *args: str(out)
    window.act_export_formats["onnx"].trigger()
    assert window.export_job.running  # tracing happens in main.py export, not in this process
    ticks = []
    QTimer.singleShot(50, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: bool(ticks), timeout=2000)  # the event loop runs meanwhile
    qtbot.waitUntil(lambda: window.export_progress.isVisible(), timeout=5000)
    (out.parent / ".spirals.onnx.k3x9.tmp").write_bytes(b"half an export")  # the writer's
    qtbot.mouseClick(window.export_progress.findChild(QPushButton), Qt.MouseButton.LeftButton)
    assert not window.export_job.running and window.messages == []
    assert "cancelled" in window.statusBar().currentMessage()
    assert out.read_bytes() == b"the previous export"  # as it was, and nothing left beside it
    assert [p.name for p in out.parent.iterdir()] == ["spirals.onnx"]


def test_a_refused_traced_export_names_the_design_not_its_temporary_copy(window, tmp_path,
                                                                         qtbot):
    window.open_preset(PRESETS / "mlp-spirals.json")
    window.ask_save_path = lambda *args: str(tmp_path / "missing" / "spirals.pt2")
    _export(qtbot, window, "pt2")
    (message,) = window.messages
    assert "missing" in message and "layerlab-export-" not in message, message
    assert not (tmp_path / "missing").exists()
