"""The Runs tab (#13): kept runs read from disk across restarts, overlaid, renamed, deleted,
compared (architecture diff on the canvas) and restored into the editor. Real clicks on the
panel; the run folders are made by training tiny designs headless for one epoch."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from runtime import document
from runtime.design_diff import diff_documents
from runtime.runs import RunWriter, read_run, rename_run, runs_root
from runtime.training.trainer import Trainer

PRESETS = Path(__file__).resolve().parents[2] / "presets"
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier


def train(design_path: Path, name: str, **training) -> Path:
    """One quick headless run of the design at `design_path`, kept where the app looks."""
    design = document.load(design_path)
    design.training = dict(design.training, epochs=1, threads=1, **training)
    writer = RunWriter.create(design, runs_root(design_path), str(design_path), name)
    Trainer(design, design.training, [writer], checkpoint_dir=writer.folder).fit()
    return writer.folder


@pytest.fixture
def designs(tmp_path, monkeypatch):
    """The dying-ReLU lesson and its fix saved in tmp_path, with two runs of the first and one of
    the second (their run folders under $LAYERLAB_RUNS = tmp_path/runs)."""
    monkeypatch.setenv("LAYERLAB_RUNS", str(tmp_path / "runs"))
    broken, fixed = tmp_path / "lesson-dying-relu.json", tmp_path / "lesson-dying-relu-fixed.json"
    shutil.copy(PRESETS / broken.name, broken)
    shutil.copy(PRESETS / fixed.name, fixed)
    first = train(broken, "broken")
    second = train(broken, "broken, lr 0.05",
                   optimizer=dict(document.load(broken).training["optimizer"], lr=0.05))
    other = train(fixed, "fixed")
    return {"broken": broken, "fixed": fixed, "first": first, "second": second, "other": other}


@pytest.fixture
def window(make_window, designs):
    win = make_window((1500, 950))
    win.messages = []
    win.show_error = lambda title, text: win.messages.append((title, text))
    assert win.open_path(designs["broken"])
    panel = win.plots.runs
    panel.messages = []
    panel.show_error = lambda title, text: panel.messages.append((title, text))
    win.plots.tabs.setCurrentWidget(panel)
    win.plots_dock.show()
    win.plots_dock.raise_()
    yield win
    win.trainer.shutdown()


def names(panel) -> list[str]:
    return [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]


def click_row(qtbot, panel, name: str, add: bool = False) -> None:
    row = names(panel).index(name)
    item = panel.table.item(row, 0)
    panel.table.scrollToItem(item)
    qtbot.mouseClick(panel.table.viewport(), LEFT, CTRL if add else Qt.KeyboardModifier(0),
                     panel.table.visualItemRect(item).center())


def test_runs_are_read_from_disk_newest_first_with_what_changed_and_survive_a_restart(
        window, designs, make_window, qtbot):
    panel = window.plots.runs
    assert names(panel) == ["broken, lr 0.05", "broken"]
    row = {COL: panel.table.item(0, i).text()
           for i, COL in enumerate(("run", "design", "date", "status", "epochs", "final",
                                    "changed"))}
    assert row["status"] == "completed" and row["epochs"] == "1"
    assert "val_loss" in row["final"] and "lr 1 → 0.05" in row["changed"]
    assert panel.table.item(1, 6).text() == ""  # the first run has nothing before it
    assert panel.problem_label.isHidden()

    # a folder that is not a readable run is listed as a problem, never a crash
    broken_folder = runs_root(designs["broken"]) / "garbage"
    broken_folder.mkdir()
    (broken_folder / "run.json").write_text("{not json")
    window.close()

    again = make_window((1200, 800))  # "restart": a new window opens the same design
    assert again.open_path(designs["broken"])
    panel = again.plots.runs
    assert names(panel) == ["broken, lr 0.05", "broken"]
    assert not panel.problem_label.isHidden() and "garbage" in panel.problem_label.text()


def test_several_runs_of_two_designs_are_overlaid_by_name(window, designs, qtbot):
    panel, loss = window.plots.runs, window.plots.overview.loss
    panel.ask_runs_path = lambda: str(designs["fixed"])
    qtbot.mouseClick(panel.add_button, LEFT)
    assert names(panel)[0] == "fixed" and len(names(panel)) == 3

    click_row(qtbot, panel, "broken")
    click_row(qtbot, panel, "fixed", add=True)
    assert {i.name for i in panel.selected_infos()} == {"broken", "fixed"}
    labels = {loss.legend.getLabel(c).text for c in loss.history.values()}
    assert labels == {"broken", "fixed"}
    assert all(len(c.xData) == 1 for c in loss.history.values())
    metric = window.plots._metric_history
    assert len(metric) == 2 and all(len(c.xData) == 1 for c in metric.values())

    panel.table.clearSelection()
    click_row(qtbot, panel, "fixed")
    panel.ask_name = lambda current: "fixed, renamed"
    qtbot.mouseClick(panel.rename_button, LEFT)  # the overlay follows the new name
    assert [loss.legend.getLabel(c).text for c in loss.history.values()] == ["fixed, renamed"]
    click_row(qtbot, panel, "broken", add=True)
    assert len(loss.history) == 2

    click_row(qtbot, panel, "fixed, renamed")  # a plain click selects only that one
    assert [panel.record(i).label for i in panel.selected_infos()] == ["fixed, renamed"]
    assert len(loss.history) == 1 and len(metric) == 1


def test_rename_and_delete_ask_and_report_errors(window, designs, qtbot):
    panel = window.plots.runs
    click_row(qtbot, panel, "broken")
    panel.ask_name = lambda current: "baseline"
    qtbot.mouseClick(panel.rename_button, LEFT)
    assert "baseline" in names(panel) and read_run(designs["first"]).name == "baseline"
    panel.ask_name = lambda current: "   "
    qtbot.mouseClick(panel.rename_button, LEFT)
    assert panel.messages and "empty" in panel.messages[-1][1]

    click_row(qtbot, panel, "baseline")
    asked = []
    panel.ask_confirm = lambda title, text: asked.append(text) or False
    qtbot.mouseClick(panel.delete_button, LEFT)
    assert asked and "baseline" in asked[0] and designs["first"].exists()
    panel.ask_confirm = lambda title, text: True
    qtbot.mouseClick(panel.delete_button, LEFT)
    assert not designs["first"].exists() and names(panel) == ["broken, lr 0.05"]

    click_row(qtbot, panel, "broken, lr 0.05")
    shutil.rmtree(designs["second"])  # gone behind the app's back
    qtbot.mouseClick(panel.delete_button, LEFT)
    assert "not a run folder" in panel.messages[-1][1] and names(panel) == []


def test_architecture_diff_is_listed_and_outlined_on_the_canvas(window, designs, qtbot):
    panel, scene = window.plots.runs, window.canvas.canvas
    click_row(qtbot, panel, "broken")  # the same architecture, trained for 1 epoch
    assert panel.diff_label.text() == ("broken → the design now: "
                                       "epochs 1 → 10; threads 1 → auto")
    assert scene.highlighted() == []

    window.open_path(designs["fixed"])  # the design now: LeakyReLU instead of ReLU
    panel.add_root(designs["broken"])
    click_row(qtbot, panel, "broken")
    assert "ReLU → LeakyReLU ×3" in panel.diff_label.text()
    touched = diff_documents(json.loads((designs["first"] / "design.json").read_text()),
                             document.to_dict(window.session.model)).nodes_touched()
    assert scene.highlighted() == sorted(touched) and touched

    added = window.session.add_node("Dropout", (900.0, 900.0))  # the comparison follows edits
    qtbot.waitUntil(lambda: added in scene.highlighted())
    assert "Dropout" in panel.diff_label.text()
    window.session.undo_stack.undo()
    qtbot.waitUntil(lambda: scene.highlighted() == sorted(touched))

    click_row(qtbot, panel, "fixed", add=True)  # two runs: the older one against the newer
    text = panel.diff_label.text()
    assert text.startswith("broken → fixed") and "LeakyReLU" in text

    click_row(qtbot, panel, "fixed")  # the run of this very design: nothing to outline
    assert scene.highlighted() == []


def test_restore_opens_the_runs_design_as_a_new_unsaved_design(window, designs, qtbot):
    panel, session = window.plots.runs, window.session
    window.open_path(designs["fixed"])
    panel.add_root(designs["broken"])
    session.add_node("Dropout", (900.0, 900.0))
    assert session.dirty
    click_row(qtbot, panel, "broken")

    asked = []
    window.ask_unsaved = lambda: asked.append(1) or QMessageBox.StandardButton.Cancel
    qtbot.mouseClick(panel.restore_button, LEFT)
    assert asked and session.path == designs["fixed"] and session.dirty  # cancelled
    window.ask_unsaved = lambda: QMessageBox.StandardButton.Discard
    qtbot.mouseClick(panel.restore_button, LEFT)
    restored = json.loads((designs["first"] / "design.json").read_text())
    assert session.path is None and not session.dirty
    assert session.undo_stack.count() == 0
    assert sorted(session.model.nodes) == sorted(n["id"] for n in restored["nodes"])
    assert "broken" in names(panel)  # its runs stay listed


def test_continue_for_n_epochs_resumes_from_last_pt_as_a_new_run(window, designs, qtbot):
    panel, trainer = window.plots.runs, window.trainer
    click_row(qtbot, panel, "broken")
    panel.resume_epochs.setValue(2)
    qtbot.mouseClick(panel.resume_button, LEFT)
    qtbot.waitUntil(lambda: trainer.current is not None and trainer.current.ended
                    and not trainer.busy, timeout=60_000)
    run = trainer.current
    assert run.status == "completed", run.errors
    assert run.info["start_epoch"] == 2 and [e["epoch"] for e in run.epochs] == [2, 3]
    assert run.folder in [str(i.folder) for i in panel.infos]  # kept beside the run it continued
    assert read_run(run.folder).meta["epochs_run"] == 3
    assert window.session.path == designs["broken"]  # the design in the editor is untouched
    # named after the run it continues, and says which one
    assert run.label == "broken (continued)" == read_run(run.folder).name
    assert read_run(run.folder).meta["continued_from"] == designs["first"].name
    assert "broken (continued)" in names(panel)

    started = []  # continuing the continuation: the name does not pile up suffixes
    trainer.start = lambda **kw: started.append(kw)  # records instead of training
    click_row(qtbot, panel, "broken (continued)")
    qtbot.mouseClick(panel.resume_button, LEFT)
    assert started[-1]["name"] == "broken (continued 2)"
    assert started[-1]["resume"] == str(Path(run.folder) / "last.pt")
    click_row(qtbot, panel, "broken")  # the original again: a name not taken yet
    qtbot.mouseClick(panel.resume_button, LEFT)
    assert started[-1]["name"] == "broken (continued 2)"
    del trainer.start  # trains again

    (designs["second"] / "last.pt").unlink()
    click_row(qtbot, panel, "broken, lr 0.05")
    qtbot.mouseClick(panel.resume_button, LEFT)
    assert "no last.pt" in panel.messages[-1][1] and trainer.current is run


def test_refresh_parses_only_the_runs_that_changed(window, designs, monkeypatch):
    import designer.runs_panel as runs_panel
    import runtime.runs as runs
    panel = window.plots.runs
    panel.table.clearSelection()
    parsed, designs_read, diffs = [], [], []
    read_run_, read_design, diff = runs.read_run, runs.read_design_document, \
        runs_panel.diff_documents
    monkeypatch.setattr(runs, "read_run", lambda f: parsed.append(Path(f)) or read_run_(f))
    monkeypatch.setattr(runs, "read_design_document",
                        lambda f: designs_read.append(Path(f)) or read_design(f))
    monkeypatch.setattr(runs_panel, "diff_documents", lambda a, b: diffs.append(1) or diff(a, b))
    panel.refresh()
    panel.refresh()
    assert parsed == [] and designs_read == [] and diffs == []  # nothing changed on disk
    assert names(panel) == ["broken, lr 0.05", "broken"]
    assert "lr 1 → 0.05" in panel.table.item(0, 6).text()

    rename_run(designs["first"], "renamed elsewhere")  # another window, or the CLI
    parsed.clear()
    panel.refresh()
    assert parsed == [designs["first"]] and designs_read == []
    assert names(panel) == ["broken, lr 0.05", "renamed elsewhere"]
    shutil.rmtree(designs["second"])
    panel.refresh()
    assert names(panel) == ["renamed elsewhere"] and parsed == [designs["first"]]


@pytest.fixture
def lessons(tmp_path, monkeypatch, make_window):
    """The vanishing-gradients lesson (sigmoids) and its fix (ReLUs) saved in tmp_path, one run
    of each, and a window on the first with the second's runs added; nothing is training."""
    monkeypatch.setenv("LAYERLAB_RUNS", str(tmp_path / "runs"))
    paths = {}
    for key, name in (("sigmoid", "lesson-vanishing-gradients.json"),
                      ("relu", "lesson-vanishing-gradients-fixed.json")):
        paths[key] = tmp_path / name
        shutil.copy(PRESETS / name, paths[key])
        paths[key + " run"] = train(paths[key], key)
    win = make_window((1500, 950))
    assert win.open_path(paths["sigmoid"])
    panel = win.plots.runs
    panel.add_root(paths["relu"])
    win.plots.tabs.setCurrentWidget(panel)
    yield win, paths
    win.trainer.shutdown()


def legend_texts(plot) -> list[str]:
    return [label.text for _sample, label in plot.legend.items]


def test_selected_runs_overlay_their_per_layer_gradient_norms(lessons, qtbot):
    window, paths = lessons
    panel, gradients = window.plots.runs, window.plots.overview.gradients
    assert window.trainer.current is None and gradients.history == {}
    click_row(qtbot, panel, "sigmoid")
    click_row(qtbot, panel, "relu", add=True)
    sigmoid, relu = (next(r for r in panel.selected_records() if r.label == name)
                     for name in ("sigmoid", "relu"))
    overlays = {o.label: o for o in gradients.history.values()}
    assert set(overlays) == {"sigmoid", "relu"}
    assert window.plots.caption.text() == "Comparing 2 kept runs (Runs tab)"  # not "no run"
    # 11 weighted layers each: 6 drawn, spread from the first to the last
    for overlay in overlays.values():
        assert list(overlay.curves) == ["fc1", "fc3", "fc5", "fc7", "fc9", "head"]
        assert overlay.layers[0] == "fc1" and len(overlay.layers) == 11
    for run in (sigmoid, relu):
        for node_id, curve in overlays[run.label].curves.items():
            assert curve.yData.tolist() == run.stat(node_id, "grad_norm").y.tolist()
            assert f"{run.label}: {node_id} (layer" in curve.curve.toolTip()
    # the lesson at a glance: the sigmoids' first layer gets almost no gradient, the ReLUs' does
    assert overlays["sigmoid"].curves["fc1"].yData.max() < 1e-6
    assert overlays["relu"].curves["fc1"].yData.min() > 1e-3

    def pen(run, node):
        return overlays[run].curves[node].opts["pen"]
    assert pen("sigmoid", "fc1").color() == pen("relu", "fc1").color()  # same depth, same colour
    assert pen("sigmoid", "fc1").color() != pen("sigmoid", "head").color()
    assert pen("sigmoid", "fc1").style() != pen("relu", "fc1").style()  # a dash per run
    # no live run: the first run's drawn layers are named at their curves' ends, the runs (by
    # their dash) in the legend under the plot
    assert [e.name for e in gradients.labels.entries] == ["fc1", "fc3", "fc5", "fc7", "fc9",
                                                          "head"]
    assert sorted(legend_texts(gradients)) == ["relu (6 of 11 layers)",
                                               "sigmoid (6 of 11 layers)"]

    sample = overlays["relu"].sample  # a run's legend entry hides and shows its curves
    sample.setVisible(False)
    assert not any(c.isVisible() for c in overlays["relu"].curves.values())
    sample.setVisible(True)
    assert all(c.isVisible() for c in overlays["relu"].curves.values())
    gradients.show_run(sigmoid)  # as if a run were live: its layers are named instead
    assert [e.name for e in gradients.labels.entries] == list(sigmoid.gradient_layers())
    assert len(legend_texts(gradients)) == 2
    gradients.clear_run()

    click_row(qtbot, panel, "relu")  # deselected: its curves go
    assert [o.label for o in gradients.history.values()] == ["relu"]
    assert len(gradients.item.listDataItems()) == 6
    panel.ask_name = lambda current: "relu, renamed"
    qtbot.mouseClick(panel.rename_button, LEFT)
    (overlay,) = gradients.history.values()
    assert overlay.label == "relu, renamed" and "relu, renamed (6 of 11 layers)" in \
        legend_texts(gradients)
    assert overlay.curves["fc1"].curve.toolTip().startswith("relu, renamed: fc1")
    assert len(gradients.item.listDataItems()) == 6  # the old curves went
    panel.ask_confirm = lambda title, text: True
    qtbot.mouseClick(panel.delete_button, LEFT)
    assert gradients.history == {} and legend_texts(gradients) == []
    assert gradients.item.listDataItems() == []


def test_added_designs_stay_listed_after_a_restart_until_forgotten(window, designs, qtbot,
                                                                   make_window):
    panel = window.plots.runs
    panel.ask_runs_path = lambda: str(designs["fixed"])
    assert not panel.forget_action.isEnabled()
    qtbot.mouseClick(panel.add_button, LEFT)
    assert "fixed" in names(panel) and panel.forget_action.isEnabled()
    window.trainer.shutdown()
    window.close()

    again = make_window((1500, 950))  # the same settings file: as after a restart
    again.open_path(designs["broken"])
    panel = again.plots.runs
    assert sorted(names(panel)) == ["broken", "broken, lr 0.05", "fixed"]
    panel.forget_action.trigger()  # the add button's menu
    assert sorted(names(panel)) == ["broken", "broken, lr 0.05"]
    assert not panel.forget_action.isEnabled()
    again.trainer.shutdown()
    again.close()
    assert "fixed" not in names(make_window().plots.runs)  # forgotten for good


def test_a_vanished_added_folder_is_forgotten_at_start(window, designs, make_window, tmp_path):
    gone = tmp_path / "gone.runs"
    gone.mkdir()
    window.plots.runs.add_root(gone)
    window.trainer.shutdown()
    window.close()
    gone.rmdir()
    again = make_window((1500, 950))
    assert again.plots.runs.extra_roots == []
    assert again.settings.value("runs/extra_roots", []) in ([], None, "")
    again.trainer.shutdown()
