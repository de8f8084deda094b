"""#13's 'done when', as a learner does it in one sitting: train LeNet in the app, close the app,
reopen it, find the run, overlay it with another design's run, see the architecture diff,
continue it, draw a digit and watch the prediction and the feature maps, then start a
fine-tuning design from its weights (frozen body) and train it. Real clicks and mouse strokes
wherever a user would use them; file dialogs are answered by the test."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from runtime.runs import read_run
from runtime.training import load_checkpoint

from .test_runs_panel import PRESETS, click_row, names, train

LEFT = Qt.MouseButton.LeftButton
RUN_TIMEOUT_MS = 90_000


def _finished(qtbot, window):
    trainer = window.trainer
    qtbot.waitUntil(lambda: trainer.current is not None and trainer.current.ended
                    and not trainer.busy, timeout=RUN_TIMEOUT_MS)
    assert trainer.current.status == "completed", trainer.current.errors
    return trainer.current


def _quick(window, epochs: int) -> None:
    """One or two epochs on one thread, as one undoable edit of the Training form's block."""
    window.session.set_training(dict(window.session.model.training, epochs=epochs, threads=1))


def _window(make_window):
    win = make_window((1500, 950))
    win.messages = []
    win.show_error = lambda title, text: win.messages.append((title, text))
    return win


def _stroke(qtbot, pad, column: int) -> None:
    cell = pad.cell
    qtbot.mousePress(pad, LEFT, pos=QPoint(column * cell, cell))
    for row in range(2, 8):
        qtbot.mouseMove(pad, QPoint(column * cell, row * cell))
    qtbot.mouseRelease(pad, LEFT, pos=QPoint(column * cell, 7 * cell))


def test_train_reopen_compare_continue_try_and_fine_tune(make_window, qtbot, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("LAYERLAB_RUNS", str(tmp_path / "runs"))
    lenet, mlp = tmp_path / "lenet-digits.json", tmp_path / "mlp-digits.json"
    shutil.copy(PRESETS / lenet.name, lenet)
    shutil.copy(PRESETS / mlp.name, mlp)
    train(mlp, "dense only")  # another design's run, kept beside its file

    # --- train in the app, then close it -----------------------------------------------------
    first = _window(make_window)
    assert first.open_path(lenet)
    _quick(first, 2)
    first.session.save()
    qtbot.mouseClick(first.training_panel.train_button, LEFT)
    trained = _finished(qtbot, first)
    folder = Path(trained.folder)
    assert (folder / "best.pt").is_file() and read_run(folder).status == "completed"
    first.close()
    first.trainer.shutdown()

    # --- reopen: the run is found on disk ----------------------------------------------------
    win = _window(make_window)
    assert win.open_path(lenet)
    panel, scene = win.plots.runs, win.canvas.canvas
    win.plots_dock.show()
    win.plots.tabs.setCurrentWidget(panel)
    name = read_run(folder).name
    assert names(panel) == [name]

    # --- overlay it with another design's run, and see what differs --------------------------
    panel.ask_runs_path = lambda: str(mlp)
    qtbot.mouseClick(panel.add_button, LEFT)
    assert set(names(panel)) == {name, "dense only"}
    click_row(qtbot, panel, name)
    click_row(qtbot, panel, "dense only", add=True)
    overview = win.plots.overview
    assert len(overview.loss.history) == 2  # both runs' curves on the loss plot
    assert len(overview.gradients.history) == 2  # and their per-layer gradient norms
    diff = panel.diff_label.text()
    assert diff.startswith("dense only → LeNet") and "+conv1 (Conv2d)" in diff, diff
    click_row(qtbot, panel, "dense only")  # against the design on the canvas: outlined there
    assert {"conv1", "conv2"} <= set(scene.highlighted())

    # --- continue the run for one more epoch ---------------------------------------------------
    click_row(qtbot, panel, name)
    panel.resume_epochs.setValue(1)
    qtbot.mouseClick(panel.resume_button, LEFT)
    continued = _finished(qtbot, win)
    assert continued.label == f"{name} (continued)" and continued.info["start_epoch"] == 3
    qtbot.waitUntil(lambda: f"{name} (continued)" in names(panel))

    # --- draw a digit and watch the answer and the feature maps ------------------------------
    click_row(qtbot, panel, f"{name} (continued)")
    try_panel = win.try_panel
    win.show_side_tab(try_panel)
    qtbot.waitUntil(lambda: try_panel.folder == continued.folder, timeout=5000)
    qtbot.mouseClick(try_panel.clear_button, LEFT)
    _stroke(qtbot, try_panel.editor, 4)  # a "1"
    qtbot.waitUntil(lambda: not try_panel._timer.isActive() and try_panel.prediction is not None,
                    timeout=5000)
    probabilities = try_panel.prediction.probabilities
    assert probabilities.shape == (10,) and abs(float(probabilities.sum()) - 1) < 1e-5
    assert try_panel.answer.text().endswith("%)")
    conv = scene.layer_output("conv1")
    assert conv is not None and conv.caption.endswith("+8 more")  # 16 maps: the first 8 shown
    before = conv.pixmap.toImage()
    qtbot.mouseClick(try_panel.clear_button, LEFT)
    _stroke(qtbot, try_panel.editor, 2)
    qtbot.waitUntil(lambda: scene.layer_output("conv1").pixmap.toImage() != before, timeout=5000)

    # --- a fine-tuning design from its weights -------------------------------------------------
    win.ask_unsaved = lambda: QMessageBox.StandardButton.Discard
    win.open_preset(PRESETS / "lenet-digits.json")  # a new, unsaved design
    best = Path(continued.folder) / "best.pt"
    win.ask_checkpoint_path = lambda start: str(best)
    shown = []
    win.confirm_weights = lambda source, lines: shown.append(lines) or True
    win.session.set_training(dict(win.session.model.training, init_skip=["fc2"]))  # new head
    win.act_load_weights.trigger()
    assert shown and shown[0][0].startswith("loaded 3 of 4 weighted nodes")
    assert "fc2: skipped: kept fresh (init_skip)" in shown[0]
    assert win.session.model.training["init_from"] == str(best)
    win.canvas.select_nodes(["pool2"])
    win.act_freeze.trigger()  # feature extraction: the convolutions keep what they learned
    assert [win.session.model.nodes[n].params["trainable"] for n in ("conv1", "conv2", "fc1")] \
        == [False, False, True]
    _quick(win, 1)
    qtbot.mouseClick(win.training_panel.train_button, LEFT)
    tuned = _finished(qtbot, win)
    source, result = load_checkpoint(best)["model"], load_checkpoint(
        Path(tuned.folder) / "last.pt")["model"]
    for key in ("conv1.weight", "conv2.weight"):  # loaded, then frozen: unchanged
        assert torch.equal(result[key], source[key])
    assert not torch.equal(result["fc1.weight"], source["fc1.weight"])  # the head trained on
    kept = read_run(tuned.folder).design()
    assert kept.training["init_from"] == str(best)
    win.trainer.shutdown()


def test_file_export_trained_weights_writes_the_selected_run_s_weights(make_window, tmp_path,
                                                                       digits_run, monkeypatch):
    from runtime.export_weights import read_safetensors
    window = make_window()
    messages = []
    monkeypatch.setattr(window, "show_error", lambda title, text: messages.append(text))
    window.open_preset(PRESETS / "lenet-digits.json")
    window.export_weights()  # no run of it yet
    assert messages and "Train the design first" in messages[-1]
    panel = window.plots.runs
    panel.add_root(digits_run)
    panel.select_folders([digits_run])
    assert window.trained_checkpoint().parent == Path(digits_run)
    out = tmp_path / "lenet.safetensors"
    monkeypatch.setattr(window, "ask_save_path", lambda *args: str(out))
    window.act_export_weights.trigger()
    tensors, design = read_safetensors(out)
    assert "conv1.weight" in tensors and design.name == window.session.model.name
    window.open_preset(PRESETS / "mlp-digits.json")  # another design: its nodes do not fit
    panel.add_root(digits_run)
    panel.select_folders([digits_run])
    window.export_weights()
    assert "does not fit this design" in messages[-1]
