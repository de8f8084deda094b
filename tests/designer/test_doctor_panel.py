"""The Doctor dock as a learner uses it: findings on the nodes and in the list, clicking one to find
its node or setting, one-click fixes that one Undo reverts, the pre-flight check in a child process
and the live findings of a run, the learning-rate finder, and the panel coming forward when a run
first goes wrong."""
import math
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QSpinBox

from designer.doctor_state import design_for_check
from designer.run_data import RunRecord
from runtime import document
from runtime.doctor import Edit, Finding, Fix
from runtime.training.events import Diagnosis

PRESETS = Path(__file__).resolve().parents[2] / "presets"
LEFT, NO_MOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def softmax_design():
    """mlp-spirals (trained with cross_entropy) with a Softmax 'probs' before its Output."""
    model = document.load(PRESETS / "mlp-spirals.json")
    edge = next(e for e in model.edges if e.dst == "out")
    model.disconnect(edge)
    x, y = model.nodes["fc3"].pos
    model.add_node("Softmax", {}, (x + 240, y), "probs")
    model.connect("fc3", "probs")
    model.connect("probs", "out")
    model.move("out", (x + 480, y))
    return model


@pytest.fixture
def window(make_window):
    win = make_window()
    win.session.replace_model(softmax_design())
    win.show_doctor()
    return win


def codes(panel) -> list[tuple]:
    return [(s.finding.code, s.finding.where, s.source, s.cleared_at) for s in panel.shown()]


def click_finding(qtbot, panel, key) -> None:
    item = panel.item_of(key)
    assert item is not None, f"{key} is not listed: {codes(panel)}"
    panel.list.scrollToItem(item)
    QTest.mouseClick(panel.list.viewport(), LEFT, NO_MOD,
                     panel.list.visualItemRect(item).center())


def fake_finding(code="lr_too_high", node=None, field="training.optimizer.lr",
                 severity="error", title="The loss diverges", fixes=(), stage="preflight"):
    return Finding(code, severity, title, "The steps overshoot. Lower the rate.", node, field,
                   {"loss_growth": 12.5}, tuple(fixes), None, stage)


def test_static_finding_is_badged_selects_its_node_and_one_undo_reverts_its_fix(window, qtbot):
    panel, session = window.doctor, window.session
    key = ("loss_output_mismatch", "probs", None)
    qtbot.waitUntil(lambda: panel.item_of(key) is not None)
    node = window.canvas.canvas.node_items["probs"]
    assert node.doctor_badge == "warning"
    assert "Softmax before cross_entropy" in node.tooltip_text()
    assert all(item.doctor_badge == "" for n, item in window.canvas.canvas.node_items.items()
               if n != "probs")
    assert window.doctor_dock.windowTitle() == "Doctor (1)"

    before = document.to_dict(session.model)
    click_finding(qtbot, panel, key)
    assert window.canvas.selected_node_ids() == ["probs"]
    assert "squashes them" in panel.explanation.text() and "loss: cross_entropy" in \
        panel.evidence.text()
    remove = panel.fix_buttons[0]
    assert remove.text().startswith("Fix: Remove probs")
    qtbot.mouseClick(remove, LEFT)
    assert "probs" not in session.model.nodes
    assert any(e.src == "fc3" and e.dst == "out" for e in session.model.edges)
    qtbot.waitUntil(lambda: panel.item_of(key) is None)
    assert "probs" not in window.canvas.canvas.node_items
    assert session.undo_stack.count() == 1
    assert session.undo_stack.undoText().startswith("Fix: Remove probs")

    window.act_undo.trigger()
    assert document.to_dict(session.model) == before
    qtbot.waitUntil(lambda: panel.item_of(key) is not None)
    assert window.canvas.canvas.node_items["probs"].doctor_badge == "warning"


def test_second_fix_replaces_the_node_and_changes_the_loss_in_one_step(window, qtbot):
    panel, session = window.doctor, window.session
    key = ("loss_output_mismatch", "probs", None)
    qtbot.waitUntil(lambda: panel.item_of(key) is not None)
    click_finding(qtbot, panel, key)
    qtbot.mouseClick(panel.fix_buttons[1], LEFT)
    assert session.model.training["loss"] == "nll"
    assert "LogSoftmax" in [n.type for n in session.model.nodes.values()]
    qtbot.waitUntil(lambda: not panel.shown())
    assert session.undo_stack.count() == 1
    window.act_undo.trigger()
    assert session.model.training["loss"] == "cross_entropy"
    assert session.model.nodes["probs"].type == "Softmax"


def test_a_fix_that_cannot_be_made_leaves_the_design_unchanged(window, qtbot):
    panel, session = window.doctor, window.session
    bad = Fix("Widen fc1 and drop a layer", (Edit("set_param", "fc1", "out_features", 128),
                                            Edit("replace_node", "fc2", type="NoSuchLayer")))
    panel.runner.finished.emit({"findings": [fake_finding(
        "underfitting", node="fc1", field=None, severity="warning", title="Too small",
        fixes=[bad]).to_json()], "preflight": {}})
    before = document.to_dict(session.model)
    click_finding(qtbot, panel, ("underfitting", "fc1", None))
    qtbot.mouseClick(panel.fix_buttons[0], LEFT)
    assert document.to_dict(session.model) == before
    assert session.undo_stack.count() == 0 and not session.undo_stack.canRedo()
    assert "NoSuchLayer" in panel.note.text() and "unchanged" in panel.note.text()
    assert panel.item_of(("underfitting", "fc1", None)) is not None


def test_a_finding_on_a_setting_opens_the_training_tab(window, qtbot):
    panel = window.doctor
    panel.runner.finished.emit({"findings": [fake_finding(fixes=[Fix(
        "Use a rate of 0.001", (Edit("set_training", name="optimizer.lr", value=0.001),))])
        .to_json()], "preflight": {"initial_loss": 2.3, "expected_loss": 0.69,
                                   "fit_losses": [2.3, 5.0, 40.0], "seconds": 1.2}})
    assert not panel.check_box.isHidden() and "2.3" in panel.check_summary.text()
    assert list(panel.fit_curve.getData()[1]) == [2.3, 5.0, 40.0]
    key = ("lr_too_high", None, "training.optimizer.lr")
    assert panel.shown()[0].key == key  # errors before the static warning
    click_finding(qtbot, panel, key)
    assert window.side_tabs.currentWidget() is window.training_panel
    qtbot.mouseClick(panel.fix_buttons[0], LEFT)
    assert window.session.model.training["optimizer"]["lr"] == 0.001
    assert panel.item_of(key) is None  # applied: the check's finding is gone until it reruns


def test_diagnosis_events_add_update_and_withdraw_live_findings(window, qtbot):
    panel, trainer = window.doctor, window.trainer
    run = RunRecord(1, document.to_dict(window.session.model))
    trainer.run_started.emit(run)
    dead = fake_finding("dead_units", node="relu1", field=None, severity="warning",
                        title="relu1 is dead", stage="live")
    key = dead.key

    def feed(status, step, finding):
        run.apply([Diagnosis(status, step, finding.to_json())])
        trainer.run_updated.emit(run)

    feed("new", 40, dead)
    assert ("dead_units", "relu1", "live", None) in codes(panel)
    assert window.canvas.canvas.node_items["relu1"].doctor_badge == "warning"
    feed("updated", 80, Finding(**{**dead.__dict__, "severity": "error",
                                   "title": "relu1 is dead for every input", "step": 80}))
    assert [s.finding.title for s in panel.shown() if s.key == key] == \
        ["relu1 is dead for every input"]
    assert window.canvas.canvas.node_items["relu1"].doctor_badge == "error"
    assert "training, step 80" in panel.item_of(key).text()
    feed("withdrawn", 120, dead)
    assert ("dead_units", "relu1", "live", 120) in codes(panel)
    assert panel.item_of(key).font().strikeOut() and "cleared at step 120" in \
        panel.item_of(key).text()
    assert window.canvas.canvas.node_items["relu1"].doctor_badge == ""
    assert run.diagnoses[key]["status"] == "withdrawn" and run.diagnosis_count == 3


def test_a_new_design_clears_the_checks_and_the_runs_findings(window, qtbot):
    panel = window.doctor
    run = RunRecord(1, document.to_dict(window.session.model))
    window.trainer.run_started.emit(run)
    run.apply([Diagnosis("new", 5, fake_finding("dead_units", node="relu1", field=None,
                                                stage="live").to_json())])
    window.trainer.run_updated.emit(run)
    panel.runner.finished.emit({"findings": [fake_finding().to_json()],
                                "preflight": {"initial_loss": 1.0, "fit_losses": [1.0, 0.5]}})
    assert {s.source for s in panel.shown()} == {"static", "preflight", "live"}
    window.open_preset(PRESETS / "lesson-zero-init.json")
    qtbot.waitUntil(lambda: codes(panel) == [("symmetry", "fc1", "static", None)])
    assert panel.check_box.isHidden() and panel.preflight_result is None
    window.trainer.run_updated.emit(run)  # the old design's run says no more here
    assert [s.source for s in panel.shown()] == ["static"]
    window.new_design()
    qtbot.waitUntil(lambda: not panel.shown())
    assert panel.list.item(0).text() == "No findings"
    assert window.doctor_dock.windowTitle() == "Doctor"


def test_check_design_runs_the_preflight_in_a_child_process(make_window, qtbot):
    window = make_window()
    window.open_preset(PRESETS / "lesson-vanishing-gradients.json")
    window.act_check.trigger()
    panel = window.doctor
    assert panel.runner.running and not window.act_check.isEnabled()
    assert not panel.cancel_button.isHidden()
    qtbot.waitUntil(lambda: not panel.runner.running, timeout=60_000)
    assert panel.note.isHidden(), panel.note.text()
    key = ("vanishing_gradients", "fc1", None)
    assert panel.item_of(key) is not None, codes(panel)
    assert window.canvas.canvas.node_items["fc1"].doctor_badge == "warning"
    assert len(panel.fit_curve.getData()[1]) > 10 and "Initial loss" in \
        panel.check_summary.text()
    assert window.act_check.isEnabled() and panel.cancel_button.isHidden()


def test_a_check_can_be_cancelled(window, qtbot):
    panel = window.doctor
    panel.check()
    temp = panel.runner._file
    assert panel.runner.running and temp.exists()
    qtbot.mouseClick(panel.cancel_button, LEFT)
    assert not panel.runner.running and not temp.exists()
    assert panel.check_button.isEnabled() and "cancelled" in panel.status.text()


def test_check_failure_is_a_message(window, qtbot):
    window.doctor.runner.failed.emit("design.json: cannot diagnose: no dataset")
    assert "no dataset" in window.doctor.note.text() and window.doctor.check_button.isEnabled()


def test_checked_copy_resolves_dataset_paths_against_the_designs_folder(tmp_path):
    doc = document.to_dict(softmax_design())
    doc["training"]["dataset"] = {"name": "csv", "params": {"path": "data/points.csv"}}
    fixed = design_for_check(doc, tmp_path)
    assert fixed["training"]["dataset"]["params"]["path"] == str(tmp_path / "data/points.csv")
    assert doc["training"]["dataset"]["params"]["path"] == "data/points.csv"  # not mutated
    absolute = {**doc, "training": {**doc["training"], "dataset": {
        "name": "csv", "params": {"path": str(tmp_path / "a.csv")}}}}
    assert design_for_check(absolute, Path("/elsewhere")) == absolute
    assert design_for_check(document.to_dict(softmax_design()), tmp_path) == \
        document.to_dict(softmax_design())


def visible_tab(window, dock) -> bool:
    """Is this bottom dock the tab shown (not hidden behind another)?"""
    return dock.widget().isVisible()


def test_find_learning_rate_plots_the_sweep_and_sets_the_rate_in_one_step(make_window, qtbot):
    window = make_window()
    window.open_preset(PRESETS / "mlp-digits.json")
    window.show_doctor()
    panel, session = window.doctor, window.session
    qtbot.mouseClick(panel.lr_button, LEFT)
    assert panel.runner.running and "--lr-finder" in panel.runner.process.arguments()
    assert not panel.check_button.isEnabled() and not panel.lr_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.runner.running, timeout=60_000)
    assert panel.note.isHidden(), panel.note.text()
    view = panel.lr_view
    assert panel.results.currentWidget() is view and view.isVisible()
    xs, ys = view.curve.getData()
    assert len(xs) > 10 and view.plot.item.ctrl.logXCheck.isChecked()
    suggested = view.suggested
    assert suggested is not None and 1e-6 < suggested < 1
    assert view.suggested_line.isVisible()
    assert abs(view.suggested_line.value() - math.log10(suggested)) < 1e-9
    assert f"Suggested learning rate {suggested:.3g}" in view.note.text()
    assert view.use_button.text() == f"Use learning rate {suggested:.3g} (now 0.003)"
    assert f"Suggested learning rate: {suggested:.3g}" in panel.status.text()

    qtbot.mouseClick(view.use_button, LEFT)
    assert session.model.training["optimizer"] == {"name": "adam", "lr": suggested}
    assert session.undo_stack.count() == 1
    assert session.undo_stack.undoText() == f"Set learning rate {suggested:.3g}"
    assert not view.use_button.isEnabled() and "is " in view.use_button.text()
    window.act_undo.trigger()
    assert session.model.training["optimizer"]["lr"] == 0.003
    assert view.use_button.isEnabled() and "(now 0.003)" in view.use_button.text()


def test_a_sweep_without_a_suggestion_says_why(window, qtbot):
    panel = window.doctor
    flat = [[1e-6 * 10 ** (i / 10), 2.3 + i * 0.01] for i in range(40)]
    panel.runner.finished.emit({"findings": [], "preflight": {
        "initial_loss": 2.3, "fit_losses": [2.3, 2.3], "lr_curve": flat, "suggested_lr": None}})
    view = panel.lr_view
    assert panel.results.currentWidget() is view and not panel.results.tabBar().isHidden()
    assert len(view.curve.getData()[0]) == 40
    assert "never fell below where it started" in view.note.text()
    assert view.use_button.isHidden() and not view.suggested_line.isVisible()
    assert "No learning rate to suggest" in panel.status.text()
    panel.show_lr_finder({"lr_curve": [[1e-6, 2.0], [1.3e-6, 9.0]], "suggested_lr": None})
    assert "blew up within 2 steps" in view.note.text()
    panel.show_lr_finder({"lr_curve": [], "suggested_lr": None})
    assert "not a finite number from the very first step" in view.note.text()
    # a check without the sweep shows no Learning rate tab
    panel.runner.finished.emit({"findings": [], "preflight": {"fit_losses": [1.0, 0.5],
                                                              "initial_loss": 1.0}})
    assert panel.results.currentIndex() == 0 and panel.results.tabBar().isHidden()


def test_a_static_rule_that_raises_is_said_not_a_clean_design(window, qtbot, monkeypatch):
    panel, session = window.doctor, window.session
    key = ("loss_output_mismatch", "probs", None)
    qtbot.waitUntil(lambda: panel.item_of(key) is not None)

    def broken(*args, **kwargs):
        raise RuntimeError("rule exploded")

    monkeypatch.setattr("designer.doctor_state.static_findings", broken)
    session.set_param("fc1", "out_features", 24)  # editing goes on
    assert session.model.nodes["fc1"].params["out_features"] == 24
    qtbot.waitUntil(lambda: panel.status.text() ==
                    "The doctor could not check this design: RuntimeError: rule exploded")
    assert panel.list.item(0).text().startswith("Not checked") and not panel.shown()
    monkeypatch.undo()
    window.act_undo.trigger()
    qtbot.waitUntil(lambda: panel.item_of(key) is not None)
    assert "could not check" not in panel.status.text()


def live_warning(code="dead_units", node="relu1", severity="warning"):
    return fake_finding(code, node=node, field=None, severity=severity,
                        title=f"{node}: {code}", stage="live")


def test_a_runs_first_warning_brings_the_doctor_forward_once(window, qtbot):
    trainer = window.trainer

    def start():
        run = RunRecord(len(trainer.runs) + 1, document.to_dict(window.session.model))
        trainer.run_started.emit(run)
        assert visible_tab(window, window.plots_dock)
        return run

    def feed(run, status, step, finding):
        run.apply([Diagnosis(status, step, finding.to_json())])
        trainer.run_updated.emit(run)

    run = start()
    feed(run, "new", 10, live_warning("saturation", "fc1", severity="info"))
    assert visible_tab(window, window.plots_dock)  # advice does not interrupt
    feed(run, "new", 20, live_warning())
    assert visible_tab(window, window.doctor_dock)
    window.plots_dock.raise_()
    feed(run, "new", 30, live_warning("exploding_gradients", "fc2", "error"))
    assert visible_tab(window, window.plots_dock)  # once per run
    assert ("exploding_gradients", "fc2", None) in [s.key for s in window.doctor.shown()]

    # a field in a dock the Doctor would cover keeps the keyboard until the user leaves it
    window.tabifyDockWidget(window.doctor_dock, window.side_dock)
    window.side_dock.raise_()
    window.canvas.select_nodes(["fc1"])
    window.show_side_tab(window.properties)
    field = window.properties.findChild(QLineEdit) or window.properties.findChild(QSpinBox)
    window.activateWindow()
    field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field
                    or QApplication.focusWidget() is field.parent())
    run = start()
    feed(run, "new", 5, live_warning())
    assert visible_tab(window, window.side_dock) and field.hasFocus()
    window.canvas.setFocus()
    qtbot.waitUntil(lambda: visible_tab(window, window.doctor_dock))


def test_clicking_a_live_finding_turns_the_plots_to_it(window, qtbot):
    panel, plots = window.doctor, window.plots
    run = RunRecord(1, document.to_dict(window.session.model))
    window.trainer.run_started.emit(run)
    plots.tabs.setCurrentWidget(plots.runs)
    window.show_doctor()
    run.apply([Diagnosis("new", 40, live_warning("vanishing_gradients", "fc1").to_json())])
    window.trainer.run_updated.emit(run)
    key = ("vanishing_gradients", "fc1", None)
    click_finding(qtbot, panel, key)
    assert window.canvas.selected_node_ids() == ["fc1"] and plots.node_id == "fc1"
    assert plots.tabs.currentWidget() is plots.overview
    assert visible_tab(window, window.doctor_dock)  # quietly: the explanation stays in view
    assert panel.plot_button.text() == "Show the gradient norms of every layer"
    qtbot.mouseClick(panel.plot_button, LEFT)
    assert visible_tab(window, window.plots_dock)
    window.show_doctor()
    click_finding(qtbot, panel, ("loss_output_mismatch", "probs", None))
    assert panel.plot_button.isHidden()  # a finding from the design has no run to plot


def test_opening_another_design_leaves_no_count_or_badge_of_the_last_one(window, qtbot):
    panel = window.doctor
    key = ("loss_output_mismatch", "probs", None)
    qtbot.waitUntil(lambda: panel.item_of(key) is not None)
    assert window.doctor_dock.windowTitle() == "Doctor (1)"
    window.open_preset(PRESETS / "lenet-digits.json")  # a design the doctor has nothing on
    qtbot.waitUntil(lambda: window.doctor_dock.windowTitle() == "Doctor")
    assert panel.item_of(key) is None
    assert all(item.doctor_badge == "" for item in window.canvas.canvas.node_items.values())
    assert window.bottom_tabs.tabText(1) == "Problems"
