"""Training from the designer, driven as a user would: the Train button, pause/resume/stop,
changing the learning rate mid-run, failures, plots, canvas tint, results and run history.

Each test that trains starts a real worker process (about 3 s to import torch), so runs are kept
small and few.
"""
import copy
import os
import signal

import pytest
from PySide6.QtCore import Qt

from designer.main_window import DEFAULT_PRESET
from runtime.document import to_dict

RUN_TIMEOUT_MS = 90_000


@pytest.fixture
def window(make_window):
    win = make_window((1500, 950))
    win.messages = []
    win.show_error = lambda title, text: win.messages.append((title, text))
    win.open_preset(DEFAULT_PRESET)
    yield win
    win.trainer.shutdown()


def small_run(window, epochs=4, **changes):
    """Make the spirals preset quick to train: fewer samples and epochs, one thread."""
    training = copy.deepcopy(window.session.model.training)
    training["dataset"]["params"]["n_samples"] = 400
    training.update({"epochs": epochs, "threads": 1, "monitoring": {"every": 2}, **changes})
    window.session.set_training(training)


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_finished(qtbot, window):
    qtbot.waitUntil(lambda: window.trainer.current is not None and window.trainer.current.ended
                    and not window.trainer.busy, timeout=RUN_TIMEOUT_MS)
    return window.trainer.current


def wait_status(qtbot, window, status):
    qtbot.waitUntil(lambda: window.trainer.current.status == status, timeout=RUN_TIMEOUT_MS)


def test_train_button_runs_to_the_end_and_fills_every_view(window, qtbot, tmp_path):
    small_run(window)
    before = to_dict(window.session.model)
    panel, plots = window.training_panel, window.plots
    click(qtbot, panel.train_button)
    assert window.trainer.busy and not panel.train_button.isEnabled()
    run = wait_finished(qtbot, window)
    assert run.status == "completed" and len(run.epochs) == 4

    # progress bar at the end, the result in the text's colour with its headline in bold
    # (it read as grey, disabled-looking text), curves fed with what the run reported
    assert panel.progress.value() == panel.progress.maximum()
    assert panel.message.text().startswith("Finished after 4 epoch(s)")
    assert "<b>val_accuracy " in panel.message.text() and panel.message.styleSheet() == ""
    overview = plots.overview
    x, y = overview.loss.val.getData()
    assert len(x) == 4 and y[-1] < y[0]
    assert len(overview.loss.steps.getData()[0]) > 4
    assert len(overview.metric_plot.val.getData()[0]) == 4
    assert overview.metric_plot.metric_name == "accuracy"
    assert len(overview.lr.lr.getData()[0]) >= 2
    assert set(overview.gradients.curves) == {"fc1", "fc2", "fc3"}
    assert all(len(c.getData()[0]) >= 2 for c in overview.gradients.curves.values())
    assert plots.draws >= 2

    # a layer clicked in the gradient plot is offered to the canvas; the selected layer's
    # gradient curve is drawn thick (test_plots_legible.py clicks and hovers curves)
    gradients = overview.gradients
    with qtbot.waitSignal(plots.node_chosen) as chosen:
        gradients.layer_clicked.emit("fc2")
    assert chosen.args == ["fc2"]
    plots.set_node("fc2")
    assert gradients.curves["fc2"].opts["pen"].widthF() > gradients.curves["fc1"].opts[
        "pen"].widthF()

    # the canvas is tinted by gradient norm, with its value on every layer with weights
    items = window.canvas.canvas.node_items
    assert items["fc1"].live is not None and items["fc1"].live[1] != ""
    assert items["relu1"].live is None  # no weights, no gradient norm
    assert window.canvas.legend.isVisible() and window.canvas.legend.stat.key == "grad_norm"

    # results: confusion matrix over the validation split, decision regions for 2-D data
    assert plots.results.confusion.matrix.sum() == run.report["val_samples"] == 80
    assert plots.results.regions.isVisibleTo(plots.results)

    # the design is what it was
    assert to_dict(window.session.model) == before

    # exports
    plots.save_png(tmp_path / "plots.png")
    assert (tmp_path / "plots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plots.save_csv(tmp_path / "metrics.csv")
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and "val_accuracy" in rows[0] and len(rows) == 5


def test_selecting_a_node_switches_the_layer_plots_and_tint_follows_the_chooser(window, qtbot):
    small_run(window, epochs=2)
    click(qtbot, window.training_panel.train_button)
    run = wait_finished(qtbot, window)
    view = window.canvas
    item = view.canvas.node_items["relu2"]
    centre = view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert window.plots.node_id == "relu2"
    assert "relu2" in window.plots.node_plots.activations.item.titleLabel.text
    counts = window.plots.node_plots.activations.bars.getData()[1]
    assert sum(counts) == sum(run.latest["relu2"]["act_hist"]) > 0
    # ReLU after training: its dead fraction colours the card once chosen
    window.canvas.legend._choose("dead_fraction")
    assert window.live_tint.stat.key == "dead_fraction"
    assert view.canvas.node_items["relu2"].live is not None


def test_pause_resume_change_lr_then_stop(window, qtbot):
    small_run(window, epochs=500)
    panel = window.training_panel
    click(qtbot, panel.train_button)
    qtbot.waitUntil(lambda: window.trainer.current.step_loss.n > 2, timeout=RUN_TIMEOUT_MS)
    click(qtbot, panel.pause_button)
    wait_status(qtbot, window, "paused")
    assert panel.pause_button.text() == "Resume" and "(paused)" in panel.progress.format()
    panel.lr_box.setValue(0.05)
    click(qtbot, panel.lr_button)
    click(qtbot, panel.pause_button)
    wait_status(qtbot, window, "running")
    run = window.trainer.current
    qtbot.waitUntil(lambda: bool(run.lr_changes), timeout=RUN_TIMEOUT_MS)
    assert run.lr_changes[-1]["lr"] == pytest.approx(0.05)
    qtbot.waitUntil(lambda: run.lr.last() == pytest.approx(0.05), timeout=RUN_TIMEOUT_MS)
    assert window.session.model.training["optimizer"]["lr"] == 0.01  # the design keeps its own
    click(qtbot, panel.stop_button)
    run = wait_finished(qtbot, window)
    assert run.status == "stopped" and panel.train_button.isEnabled()
    assert "Stopped" in panel.message.text()

    # a second run is labelled with what changed since the first (its rate was changed live)
    small_run(window, epochs=1)
    click(qtbot, panel.train_button)
    second = wait_finished(qtbot, window)
    assert second.label.startswith("Run 2: ") and "lr 0.05 → 0.01" in second.label
    assert "epochs 500 → 1" in second.label
    # the run before is overlaid (selected in the Runs tab, rebuilt from its run folder)
    history = window.plots.overview.loss.history
    assert len(history) == 1 and len(next(iter(history.values())).xData) == len(run.epochs)
    assert window.plots.overview.loss.item.viewRange()[0][1] >= len(run.epochs)
    listed = [str(i.folder) for i in window.plots.runs.infos]
    assert run.folder in listed and second.folder in listed


def test_refused_while_the_design_has_errors(window, qtbot):
    edge = window.session.model.edges[0]
    window.session.disconnect(edge)
    assert window.session.analysis.errors
    click(qtbot, window.training_panel.train_button)
    assert window.trainer.worker is None and not window.trainer.runs
    message = window.training_panel.message.text()
    assert message.startswith("Cannot train: the design has") and "error" in message
    window.session.undo_stack.undo()
    assert window.trainer.start_problem() is None


def test_bad_dataset_shows_the_error_and_a_new_run_starts_at_once(window, qtbot, tmp_path):
    small_run(window, epochs=2)
    good = copy.deepcopy(window.session.model.training)
    broken = copy.deepcopy(good)
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\nnan,1,1\n")
    broken["dataset"] = {"name": "csv", "params": {"path": str(tmp_path / "bad.csv"),
                                                    "label_column": "label"}}
    window.session.set_training(broken)
    before = to_dict(window.session.model)
    click(qtbot, window.training_panel.train_button)
    run = wait_finished(qtbot, window)
    assert run.status == "failed"
    message = window.training_panel.message.text()
    assert message.startswith("Training failed") and "bad.csv', line 3" in message
    assert to_dict(window.session.model) == before
    window.session.set_training(good)
    click(qtbot, window.training_panel.train_button)
    assert wait_finished(qtbot, window).status == "completed"


def test_a_killed_worker_is_reported_and_the_design_kept(window, qtbot):
    small_run(window, epochs=500)
    before = to_dict(window.session.model)
    click(qtbot, window.training_panel.train_button)
    qtbot.waitUntil(lambda: window.trainer.current.status == "running", timeout=RUN_TIMEOUT_MS)
    os.kill(window.trainer.worker.process.pid, signal.SIGKILL)
    run = wait_finished(qtbot, window)
    assert run.status == "failed"
    assert "killed by signal 9" in window.training_panel.message.text()
    assert to_dict(window.session.model) == before
    assert window.training_panel.train_button.isEnabled()


def test_nan_names_the_guilty_node_and_selects_it(window, qtbot):
    # a sine regressor with a learning rate far too high: the loss overflows within a few steps
    session = window.session
    session.set_param("x", "shape", [1])
    session.set_param("fc3", "out_features", 1)
    session.set_training({"dataset": {"name": "sine", "params": {"n_samples": 400}},
                          "loss": "mse", "metrics": [], "optimizer": {"name": "sgd", "lr": 5.0},
                          "epochs": 3, "threads": 1})
    click(qtbot, window.training_panel.train_button)
    run = wait_finished(qtbot, window)
    assert run.status == "failed" and run.failure["kind"] == "nan"
    node = run.failure["node"]
    assert node in ("fc1", "fc2", "fc3")
    assert window.canvas.selected_node_ids() == [node]
    message = window.training_panel.message.text()
    assert f"at {node}" in message and "lower the learning rate" in message


def test_closing_the_window_during_a_run_ends_the_worker(window, qtbot):
    small_run(window, epochs=500)
    click(qtbot, window.training_panel.train_button)
    qtbot.waitUntil(lambda: window.trainer.current.status == "running", timeout=RUN_TIMEOUT_MS)
    process = window.trainer.worker.process
    window.close()
    assert not process.is_alive()
    assert window.trainer.current.ended


def test_editing_during_a_run_marks_it_stale(window, qtbot):
    small_run(window, epochs=500)
    click(qtbot, window.training_panel.train_button)
    qtbot.waitUntil(lambda: window.trainer.current.status == "running", timeout=RUN_TIMEOUT_MS)
    assert window.training_panel.stale.isHidden()
    window.session.set_param("fc1", "out_features", 32)
    assert window.trainer.stale and window.training_panel.stale.isVisibleTo(window.training_panel)
    click(qtbot, window.training_panel.stop_button)
    wait_finished(qtbot, window)
    assert window.training_panel.stale.isHidden()


def test_f5_trains_with_the_training_tab_forward_and_honest_progress(window, qtbot):
    small_run(window, epochs=1)
    window.show_side_tab(window.properties)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_F5)
    assert window.trainer.current is not None
    panel = window.training_panel
    assert window.side_tabs.currentWidget() is panel  # the Training tab came forward
    # before the run's first event: a busy bar that says what is happening, no made-up step
    assert panel.progress.maximum() == 0 and "starting" in panel.progress.format()
    assert "loading PyTorch and the data" in panel.status.text()
    assert "step 0/1" not in panel.progress.format()
    assert wait_finished(qtbot, window).status == "completed"
    assert panel.progress.maximum() == 1000 and panel.progress.value() == 1000


def test_pre_training_a_preset_shows_what_it_does_before_the_first_step(window):
    from designer.run_data import RunRecord
    from runtime.training.events import FitStart, Preparing

    run = RunRecord(1, to_dict(window.session.model))
    run.apply([Preparing("pre-training preset transfer-shapes-pretrain: epoch 3/15 "
                         "(val_loss 0.2)", 0.2)])
    window.training_panel._on_run(run)
    panel = window.training_panel
    assert panel.status.text().startswith("pre-training preset transfer-shapes-pretrain")
    assert panel.progress.value() == 200 and panel.progress.format() == "preparing…"
    run.apply([FitStart("d", "spirals", "cpu", 5, 1, 10, 32, 320, 80, 10, 10, "classification",
                        2, 0.01, False, "cross_entropy", ["accuracy"])])
    window.training_panel._on_run(run)  # training began: the usual epoch/step progress
    assert panel.progress.format().startswith("epoch 1/5")


def test_a_generative_run_shows_its_samples_as_it_learns(window, qtbot):
    """The RBM preset trained in the app: after each epoch the Samples tab shows what its Gibbs
    chains dream (16 digits of 8x8)."""
    from designer.main_window import PRESETS_DIR
    from designer.samples_view import NO_SAMPLES

    window.open_preset(PRESETS_DIR / "rbm-digits.json")
    window.session.set_training(dict(window.session.model.training, epochs=2, threads=1))
    plots = window.plots
    plots.tabs.setCurrentWidget(plots.samples)
    assert plots.samples.note.text() == NO_SAMPLES and plots.samples.note.isVisible()
    click(qtbot, window.training_panel.train_button)
    run = wait_finished(qtbot, window)
    dreams, filters = run.samples["dreams"], run.samples["filters"]
    assert run.status == "completed" and dreams["epoch"] == filters["epoch"] == 2
    assert len(dreams["images"]) == 16 and len(filters["images"]) == 32
    bar = plots.tabs.tabBar()  # a run starts on the Live page: the learner opens Samples
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton,
                     pos=bar.tabRect(plots.tabs.indexOf(plots.samples)).center())
    view = plots.samples
    qtbot.waitUntil(lambda: "epoch 2: 16 Gibbs chains" in view.captions["dreams"].text())
    assert "hidden units respond to" in view.captions["filters"].text()
    dreams, filters = view.pictures["dreams"].pixmap(), view.pictures["filters"].pixmap()
    assert dreams.width() > dreams.height() > 0  # two rows of eight
    assert filters.height() > dreams.height()  # four rows
    assert view.energy.isVisible() and len(view.val_energy.getData()[0]) == 2  # an epoch each


def test_opening_another_design_clears_what_the_last_run_showed(window, qtbot):
    """Results belong to their run and design (#15): after training the spirals MLP and
    opening LeNet, nothing on screen still describes the spirals run."""
    from designer.main_window import PRESETS_DIR

    small_run(window, epochs=2)
    click(qtbot, window.training_panel.train_button)
    wait_finished(qtbot, window)
    panel, plots = window.training_panel, window.plots
    assert "Finished" in panel.message.text()
    assert len(plots.overview.loss.val.getData()[0]) == 2
    window.open_preset(PRESETS_DIR / "lenet-digits.json")
    assert window.trainer.current is None
    assert panel.status.text() == "Press Train to start." and not panel.message.isVisible()
    assert panel.progress.format() == "not started" and panel.progress.value() == 0
    for curve in (plots.overview.loss.val, plots.overview.metric_plot.val):
        x = curve.getData()[0]
        assert x is None or len(x) == 0
    assert not plots.overview.gradients.curves and plots.overview.metric_plot.metric_name == ""
    assert plots.results.summary.text().startswith("Results appear here")
    assert plots.caption.text() == "No run of this design yet"


def test_a_warm_window_trains_in_its_spare_process_and_readies_another(make_window, qtbot):
    from designer.training_controller import SPARE_DELAY_MS
    window = make_window(warm=True)
    window.open_preset(DEFAULT_PRESET)
    controller = window.trainer
    qtbot.waitUntil(lambda: controller.spare is not None and controller.spare.ready,
                    timeout=SPARE_DELAY_MS + 5000)
    spare_pid = controller.spare.process.pid
    assert window.train()
    assert controller.worker.warm and controller.worker.process.pid == spare_pid
    assert controller.spare is None  # taken
    window.trainer.stop()
    qtbot.waitUntil(lambda: not controller.busy, timeout=30_000)
    qtbot.waitUntil(lambda: controller.spare is not None, timeout=SPARE_DELAY_MS + 5000)
    next_spare = controller.spare
    assert next_spare.process.pid != spare_pid
    window.act_warm.trigger()  # off: the spare goes, and the setting is kept
    assert controller.spare is None and not next_spare.process.is_alive()
    assert str(window.settings.value("training/warm_process")).lower() == "false"


def test_the_progress_line_follows_a_fast_run_a_few_times_a_second(window, qtbot):
    """Updates arriving faster than PROGRESS_MS are held back and the latest is shown when it
    passes: each refresh re-lays out the dock, which a 30 Hz drain made the GUI's largest cost."""
    from designer.run_data import RunRecord
    from designer.training_panel import PROGRESS_MS
    from runtime.training.events import FitStart, Step

    panel = window.training_panel
    run = RunRecord(1, to_dict(window.session.model))
    run.apply([FitStart("d", "spirals", "cpu", 5, 1, 10, 32, 320, 80, 10, 10, "classification",
                        2, 0.01, False, "cross_entropy", ["accuracy"])])
    panel._on_run(run)  # the first step of a run shows at once
    assert panel.progress.format() == "epoch 1/5 · step 0/10"
    run.apply([Step(3, 1, 5, 3, 10, 0.5, 0.01, None)])
    panel._on_run(run)  # right after: held back...
    assert panel.progress.format() == "epoch 1/5 · step 0/10"
    run.apply([Step(4, 1, 5, 4, 10, 0.4, 0.01, None)])
    panel._on_run(run)
    # ...and the latest shown once PROGRESS_MS has passed, without another event
    qtbot.waitUntil(lambda: panel.progress.format() == "epoch 1/5 · step 4/10",
                    timeout=PROGRESS_MS * 4)
