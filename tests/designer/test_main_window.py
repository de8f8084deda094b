"""The main window as a user drives it: menus and shortcuts, files, clipboard, autosave."""
import json

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMessageBox

from designer.main_window import MainWindow, preset_files
from runtime.document import load


@pytest.fixture
def window(make_window):
    win = make_window()
    win.messages = []
    win.show_problems = lambda title, text, problems: win.messages.append(
        (title, [str(p) for p in problems]))
    win.show_error = lambda title, text: win.messages.append((title, [text]))
    yield win
    win.ask_unsaved = lambda: QMessageBox.StandardButton.Discard


def _build_small_cnn(session):
    ids = [session.add_node(t, (i * 240, 0), p) for i, (t, p) in enumerate([
        ("Input", {"shape": [1, 28, 28]}), ("Conv2d", {"out_channels": 8}), ("ReLU", {}),
        ("MaxPool2d", {}), ("Flatten", {}), ("Linear", {"out_features": 10}), ("Output", {})])]
    for src, dst in zip(ids, ids[1:]):
        assert session.connect(src, dst) is None
    return ids


def test_presets_are_listed_with_descriptions(window):
    presets = preset_files()
    assert presets and all(description for _, _, description in presets)
    names = [a.text() for a in window.preset_menu.actions()]
    assert names == [name for _, name, _ in presets]
    assert window.preset_menu.actions()[0].toolTip() == presets[0][2]


def test_open_preset_then_title_and_dirty_mark(window, qtbot):
    path, name, _ = preset_files()[0]
    window.open_preset(path)
    assert window.session.model.name == name and not window.isWindowModified()
    assert window.windowTitle().startswith(name)
    window.session.add_node("ReLU", (0, 300))
    assert window.isWindowModified()


def test_save_and_reopen(window, tmp_path):
    _build_small_cnn(window.session)
    target = tmp_path / "cnn.json"
    window.ask_save_path = lambda *args: str(target)
    assert window.save()
    assert window.windowTitle().startswith("cnn.json") and not window.isWindowModified()
    assert load(target) == window.session.model
    window.session.new()
    assert window.open_path(target)
    assert window.session.model == load(target)
    assert window.recent_files()[0] == str(target.resolve())


def test_malformed_file_shows_every_problem_and_keeps_the_design(window, tmp_path):
    _build_small_cnn(window.session)
    before = window.session.model.snapshot()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "layerlab.design", "version": 1, "nodes": [
        {"id": "a", "type": "Dense"}, {"id": "b", "type": "Linear",
                                       "params": {"out_features": 0}}], "edges": []}))
    assert not window.open_path(bad)
    title, problems = window.messages[-1]
    assert title == "Cannot open design" and len(problems) == 2
    assert "did you mean 'Linear'" in problems[0] and "nodes[1].params.out_features" in problems[1]
    assert window.session.model.snapshot() == before


def test_unsaved_changes_ask_before_replacing(window):
    window.session.add_node("ReLU", (0, 0))
    window.ask_unsaved = lambda: QMessageBox.StandardButton.Cancel
    window.new_design()
    assert "relu_1" in window.session.model.nodes
    window.ask_unsaved = lambda: QMessageBox.StandardButton.Discard
    window.new_design()
    assert not window.session.model.nodes


def test_close_with_unsaved_changes_can_be_cancelled(window):
    window.session.add_node("ReLU", (0, 0))
    window.ask_unsaved = lambda: QMessageBox.StandardButton.Cancel
    assert not window.close() and window.isVisible()
    window.ask_unsaved = lambda: QMessageBox.StandardButton.Discard
    assert window.close()


def test_copy_paste_and_duplicate_with_shortcuts(window, qtbot):
    ids = _build_small_cnn(window.session)
    window.canvas.setFocus()
    window.canvas.select_nodes(ids[1:3])
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert "layerlab.fragment" in QGuiApplication.clipboard().text()
    before = len(window.session.model.nodes)
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(window.session.model.nodes) == before + 2
    pasted = window.canvas.selected_node_ids()
    assert len(pasted) == 2 and not set(pasted) & set(ids)
    internal = [e for e in window.session.model.edges if e.src in pasted and e.dst in pasted]
    assert len(internal) == 1
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(window.session.model.nodes) == before + 4
    window.session.undo_stack.undo()
    window.session.undo_stack.undo()
    assert len(window.session.model.nodes) == before


def test_cut_then_undo_restores(window, qtbot):
    ids = _build_small_cnn(window.session)
    before = window.session.model.snapshot()
    window.canvas.select_nodes([ids[2]])
    window.cut()
    assert ids[2] not in window.session.model.nodes
    window.session.undo_stack.undo()
    assert window.session.model.snapshot() == before


def test_select_all_and_delete_undo(window, qtbot):
    _build_small_cnn(window.session)
    before = window.session.model.snapshot()
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.canvas.selected_node_ids()) == 7
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_Delete)
    assert not window.session.model.nodes
    qtbot.keyClick(window.canvas.viewport(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.session.model.snapshot() == before


def test_selection_shows_properties_and_problems_focus_the_node(window, qtbot):
    ids = _build_small_cnn(window.session)
    window.canvas.select_nodes([ids[1]])
    assert window.properties.node_id == ids[1]
    window.session.set_param(ids[1], "padding", "valid")
    window.session.set_param(ids[3], "kernel_size", 40)
    qtbot.waitUntil(lambda: window.problems.count() > 0)
    window.problems.node_activated.emit(ids[3])
    assert window.canvas.selected_node_ids() == [ids[3]]
    assert "error" in window.status_label.text().lower() or "✗" in window.status_label.text()


def test_auto_layout_is_one_undo_step(window):
    ids = _build_small_cnn(window.session)
    for i, node_id in enumerate(ids):
        window.session.move_nodes({node_id: (window.session.model.nodes[node_id].pos,
                                             (0.0, i * 7.0))})
    before = window.session.model.snapshot()
    window.auto_layout()
    pos = [window.session.model.nodes[n].pos for n in ids]
    # wrapped to the canvas like lines of text: reading order is the chain's order
    assert sorted(pos, key=lambda p: (p[1], p[0])) == pos and len(set(pos)) == len(pos)
    window.session.undo_stack.undo()
    assert window.session.model.snapshot() == before


def test_the_toolbar_s_auto_layout_fits_the_design_to_the_canvas(window, qtbot):
    from designer.canvas.view import OVERVIEW_SCALE
    ids = _build_small_cnn(window.session)
    for _ in range(2):  # a longer chain: 13 nodes
        ids += _build_small_cnn(window.session)[1:]
    window.session.connect(ids[6], ids[7])
    button = window.toolbar.widgetForAction(window.act_layout)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    view = window.canvas
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.canvas.itemsBoundingRect()) and view.zoom() >= OVERVIEW_SCALE
    assert len({window.session.model.nodes[n].pos[1] for n in ids}) > 1  # in rows


def test_the_overview_map_setting_is_kept(make_window, qtbot):
    window = make_window()
    assert window.act_overview_map.isChecked()  # on by default
    window.act_overview_map.trigger()
    assert not window.canvas.overview_map.enabled_by_user
    again = make_window()  # the same settings file
    assert not again.act_overview_map.isChecked()
    assert not again.canvas.overview_map.enabled_by_user


def test_clicking_a_layer_s_gradient_curve_selects_its_node(window):
    ids = _build_small_cnn(window.session)
    window.plots.node_chosen.emit(ids[1])
    assert window.canvas.selected_node_ids() == [ids[1]]
    assert window.properties.node_id == ids[1]


def test_save_and_export_dialogs_propose_a_file_named_after_the_design(window, tmp_path,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    window.session.model.name = "LeNet-5 (small)"
    assert window.suggested_path(".py") == str(tmp_path / "lenet_5_small.py")
    asked = []
    monkeypatch.setattr("designer.main_window.QFileDialog.getSaveFileName",
                        lambda parent, title, start, file_filter: asked.append(start) or ("", ""))
    window.export_python()
    assert asked == [str(tmp_path / "lenet_5_small.py")]
    target = tmp_path / "mine.json"
    window.ask_save_path = lambda *args: str(target)
    assert window.save()
    assert window.suggested_path(".py") == str(tmp_path / "mine.py")  # beside the saved file


def test_export_to_python(window, tmp_path):
    _build_small_cnn(window.session)
    target = tmp_path / "net.py"
    window.ask_save_path = lambda *args: str(target)
    window.export_python()
    assert "class Untitled(nn.Module)" in target.read_text()


def test_autosave_and_recovery(window, qtbot, tmp_path):
    ids = _build_small_cnn(window.session)
    window.autosave_now()
    window.autosaver._thread.join(5)
    assert window.autosaver.design_path.exists()
    # a new window after a "crash": the copy of the first session is offered back
    settings = QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat)
    second = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(second)
    second.ask_unsaved = lambda: QMessageBox.StandardButton.Discard
    offered = []
    second.ask_recover = lambda description: offered.append(description) or True
    assert second.offer_recovery()
    assert offered and "autosaved" in offered[0]
    assert set(second.session.model.nodes) == set(ids) and second.session.dirty
    assert not window.autosaver.design_path.exists()
    second.session.undo_stack.setClean()
    # a clean save removes this session's copy
    window.ask_save_path = lambda *args: str(tmp_path / "saved.json")
    window.autosave_now()
    window.autosaver._thread.join(5)
    window.save()
    assert not window.autosaver.design_path.exists()


def test_window_layout_is_restored(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings=settings, autosave_dir=tmp_path / "a")
    qtbot.addWidget(first)
    first.show()
    first.resize(760, 560)  # the offscreen screen is 800x600
    first.findChild(QDockWidget, "PropertiesDock").hide()
    first.close()
    second = MainWindow(settings=settings, autosave_dir=tmp_path / "a")
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (760, 560)
    assert not second.findChild(QDockWidget, "PropertiesDock").isVisible()
    assert second.findChild(QDockWidget, "PaletteDock").isVisible()


def test_screenshot_script(tmp_path):
    from designer.screenshot import render
    from designer.main_window import DEFAULT_PRESET
    from PySide6.QtGui import QImage
    out = render(DEFAULT_PRESET, tmp_path / "shot.png")
    assert out.stat().st_size > 10_000
    assert QImage(str(out)).size().toTuple() == (1400, 860)  # what a user first sees


def test_the_designer_opens_a_fifo_with_a_message_and_keeps_its_design(make_window, tmp_path,
                                                                       monkeypatch):
    """Issue #11: a FIFO froze the window on File > Open."""
    import os

    fifo = tmp_path / "design.json"
    os.mkfifo(fifo)
    window = make_window()
    shown = []
    monkeypatch.setattr(window, "show_problems", lambda *args: shown.append(args))
    before = window.session.model.snapshot()
    assert window.open_path(fifo) is False
    assert shown and "not a regular file" in str(shown[0][2][0])
    assert window.session.model.snapshot() == before


def test_fifty_malformed_files_each_get_a_message_and_the_design_stays(window, tmp_path):
    """Issue #11: malformed files made File > Open fail silently or kill the app."""
    from tests.fuzzing import mutant

    _build_small_cnn(window.session)
    before = window.session.model.snapshot()
    refused = 0
    seed = 0
    while refused < 50:
        path = tmp_path / f"mutant-{seed}.json"
        path.write_text(mutant(seed), encoding="utf-8", errors="surrogatepass")
        seed += 1
        shown = len(window.messages)
        if window.open_path(path):  # a mutation the loader accepts is a design like any other
            window.session.replace_model(loads_snapshot(before), None)
            continue
        refused += 1
        title, problems = window.messages[-1]
        assert len(window.messages) == shown + 1 and title == "Cannot open design" and problems
        assert window.session.model.snapshot() == before


def loads_snapshot(snapshot: dict):
    """The design a snapshot describes (to put the test's design back after an accepted file)."""
    from runtime.graph import Edge, GraphModel, Node

    model = GraphModel(name=snapshot["name"], description=snapshot["description"],
                       training=snapshot["training"])
    model._bulk_load([Node(i, t, dict(p), pos, network)
                      for i, t, p, pos, network in snapshot["nodes"]],
                     [Edge(e.src, e.dst, e.src_port, e.dst_port) for e in snapshot["edges"]])
    return model


def test_start_up_on_a_bad_file_opens_the_app_with_the_message(tmp_path, monkeypatch, qtbot):
    """`python main.py FILE` on a malformed file used to exit; now the window opens and says why."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    import designer.app as app_module
    from designer.main_window import MainWindow

    bad = tmp_path / "bad.json"
    bad.write_text("[" * 100_000)
    shown, windows = [], []

    class Recording(MainWindow):
        def __init__(self):
            settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
            super().__init__(settings=settings, autosave_dir=tmp_path / "autosave")
            self.show_problems = lambda title, text, problems: shown.append((title, problems))
            windows.append(self)

    monkeypatch.setattr("designer.main_window.MainWindow", Recording)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    assert app_module.run(str(bad)) == 0
    qtbot.addWidget(windows[0])
    assert shown and shown[0][0] == "Cannot open design"
    assert "nests lists or objects too deeply" in str(shown[0][1][0])
    assert windows[0].isVisible()


def test_freeze_up_to_the_selection_is_one_undo_step(window, qtbot):
    lenet = next(path for path, _, _ in preset_files() if path.name == "lenet-digits.json")
    window.session.open_preset(lenet)
    model = window.session.model
    weighted = [n for n in model.topological_order() if "trainable" in model.nodes[n].params]
    body = weighted[:-1]  # everything but the head
    window.canvas.select_nodes([body[-1]])
    window.act_freeze.trigger()
    assert [model.nodes[n].params["trainable"] for n in weighted] == \
        [False] * len(body) + [True]
    assert window.session.undo_stack.undoText().startswith("Freeze up to")
    window.session.undo_stack.undo()  # one step undoes every layer
    assert all(model.nodes[n].params["trainable"] for n in weighted)
    window.session.undo_stack.redo()
    window.act_unfreeze.trigger()
    assert all(model.nodes[n].params["trainable"] for n in weighted)
    window.canvas.select_nodes([])
    window.act_freeze.trigger()  # nothing selected: a hint, no change
    assert "Select the last layer" in window.statusBar().currentMessage()


def test_slow_learning_up_to_the_selection_is_one_undo_step(window, monkeypatch):
    lenet = next(path for path, _, _ in preset_files() if path.name == "lenet-digits.json")
    window.session.open_preset(lenet)
    model = window.session.model
    weighted = [n for n in model.topological_order() if "lr_multiplier" in model.nodes[n].params]
    body = weighted[:-1]
    window.canvas.select_nodes([body[-1]])
    monkeypatch.setattr(window, "ask_multiplier", lambda: 0.1)
    window.act_slow_body.trigger()
    assert [model.nodes[n].params["lr_multiplier"] for n in weighted] == \
        [0.1] * len(body) + [1.0]
    assert window.session.undo_stack.undoText().startswith("Learning rate ×0.1 up to")
    window.session.undo_stack.undo()  # one step undoes every layer
    assert all(model.nodes[n].params["lr_multiplier"] == 1.0 for n in weighted)
    window.session.undo_stack.redo()
    window.act_reset_rates.trigger()
    assert all(model.nodes[n].params["lr_multiplier"] == 1.0 for n in weighted)
    monkeypatch.setattr(window, "ask_multiplier", lambda: None)  # cancelled: no change
    window.act_slow_body.trigger()
    assert all(model.nodes[n].params["lr_multiplier"] == 1.0 for n in weighted)


def test_start_from_weights_previews_then_sets_init_from_as_one_undo_step(window, tmp_path):
    from runtime.document import save
    from runtime.training.trainer import Trainer

    spirals = next(path for path, _, _ in preset_files() if path.name == "mlp-spirals.json")
    source = load(spirals)
    source.training = dict(source.training, epochs=1)
    Trainer(source, source.training, checkpoint_dir=tmp_path / "ckpt").fit()
    design = load(spirals)
    design.set_param("fc3", "out_features", 2)
    save(design, tmp_path / "mine.json")
    window.session.open(tmp_path / "mine.json")
    shown = []
    window.ask_checkpoint_path = lambda start: str(tmp_path / "ckpt" / "last.pt")
    window.confirm_weights = lambda name, lines: shown.extend(lines) or True
    window.act_load_weights.trigger()
    assert shown and any("loaded" in line for line in shown)
    assert window.session.model.training["init_from"] == "ckpt/last.pt"  # beside the design
    assert window.session.undo_stack.undoText() == "Start from weights of ckpt"
    window.session.undo_stack.undo()
    assert "init_from" not in window.session.model.training
    # a file that is not a checkpoint is a message, and nothing changes
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    window.ask_checkpoint_path = lambda start: str(tmp_path / "bad.pt")
    warned = []
    import designer.main_window as mw
    original = mw.QMessageBox.warning
    mw.QMessageBox.warning = lambda *args: warned.append(args[2])
    try:
        window.act_load_weights.trigger()
    finally:
        mw.QMessageBox.warning = original
    assert warned and "bad.pt" in warned[0]
    assert "init_from" not in window.session.model.training


def test_a_training_block_whose_optimizer_is_not_an_object_does_not_break_the_panel(window, qtbot):
    """A fuzzed file's "optimizer": 0.5 crashed the learning-rate box's sync in the event loop."""
    window.session.set_training({"optimizer": 0.5})
    qtbot.wait(50)  # the sync runs from the event loop; pytest-qt fails the test on an exception
    assert window.session.model.training == {"optimizer": 0.5}


def test_pause_and_stop_are_disabled_before_any_run(window):
    """Nothing to pause or stop yet: only Train is offered (#15)."""
    assert window.act_train.isEnabled()
    assert not window.act_pause.isEnabled() and not window.act_stop.isEnabled()
