"""The training form: edits are undoable and saved with the design, refused values say why, and
the dataset is checked against the Input and Output."""
import gc

import pytest
from PySide6.QtCore import Qt

from designer.main_window import DEFAULT_PRESET
from designer.session import DesignSession
from designer.training_form import TrainingForm
from runtime.document import dumps, loads


@pytest.fixture
def form(qtbot):
    session = DesignSession()
    session.open_preset(DEFAULT_PRESET)
    widget = TrainingForm(session)
    qtbot.addWidget(widget)
    widget.resize(360, 900)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def type_into(qtbot, editor, text):
    line = editor.widget
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def test_shows_the_design_settings(form):
    assert form.editors["optimizer.lr"].widget.text() == "0.01"
    assert form.editors["epochs"].widget.value() == 40
    assert form.dataset_combo.widget.currentText() == "spirals"
    assert form.param_editors["noise"].widget.text() == "0.2"


def test_an_edit_is_one_undo_step_and_saved_with_the_design(form, qtbot):
    session = form.session
    type_into(qtbot, form.editors["optimizer.lr"], "0.05")
    assert session.model.training["optimizer"]["lr"] == 0.05
    assert loads(dumps(session.model)).training["optimizer"]["lr"] == 0.05
    session.undo_stack.undo()
    assert session.model.training["optimizer"]["lr"] == 0.01
    assert form.editors["optimizer.lr"].widget.text() == "0.01"  # the form follows undo


def test_a_refused_value_says_why_and_changes_nothing(form, qtbot):
    before = dict(form.session.model.training)
    type_into(qtbot, form.editors["optimizer.lr"], "-1")
    assert form.session.model.training == before
    assert "Learning rate" in form.message.text() and "above 0" in form.message.text()
    assert form.editors["optimizer.lr"].widget.text() == "0.01"


def test_fields_follow_the_choices_they_depend_on(form):
    rows = lambda path: form.rows[path][0].isRowVisible(form.rows[path][2])  # noqa: E731
    assert not rows("optimizer.momentum") and not rows("schedule.step_size")
    form.set_field("optimizer.name", "sgd")
    form.set_field("schedule.name", "step")
    assert rows("optimizer.momentum") and rows("schedule.step_size")


def test_early_stopping_fields_keep_it_as_shown(form):
    form.set_field("early_stopping.patience", 7)
    assert form.session.model.training["early_stopping"] == {"patience": 7, "enabled": False}
    form.set_field("early_stopping.enabled", True)
    assert form.effective()["early_stopping"]["enabled"] is True


def test_another_dataset_drops_the_old_params_and_warns_when_it_does_not_fit(form, qtbot):
    form.dataset_combo.edited.emit("digits")
    dataset = form.session.model.training["dataset"]
    assert dataset["name"] == "digits" and dataset["params"] == {}
    assert "flatten" in form.param_editors and "noise" not in form.param_editors
    with qtbot.waitSignal(form.data_checked, timeout=30_000,
                          check_params_cb=lambda text, ok: not text.startswith("Loading")) as got:
        form.check_data()
    text, ok = got.args
    assert not ok and "Input expects (2)" in text
    form.session.undo_stack.undo()
    with qtbot.waitSignal(form.data_checked, timeout=30_000,
                          check_params_cb=lambda text, ok: not text.startswith("Loading")) as got:
        form.check_data()
    assert got.args[1] and "fits the Input and Output" in got.args[0]
    # garbage collection, paused while the loader thread ran, is back on
    qtbot.waitUntil(gc.isenabled, timeout=5_000)


def test_a_bad_dataset_param_is_refused_with_its_name(form):
    assert not form.set_dataset_param("noise", -1.0)
    assert "noise" in form.message.text()
    assert form.session.model.training["dataset"]["params"]["noise"] == 0.2
