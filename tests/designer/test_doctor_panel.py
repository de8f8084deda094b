"""The Doctor dock as a learner uses it: findings on the nodes and in the list, clicking one to find
its node or setting, one-click fixes that one Undo reverts, the pre-flight check in a child process
and the live findings of a run."""
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

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
