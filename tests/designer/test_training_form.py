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


# --- generated from the settings catalogue ----------------------------------------------------
from runtime.training.config import effective_block  # noqa: E402
from runtime.training.settings import SETTINGS, get_path  # noqa: E402

EDITABLE = [s for s in SETTINGS if s.spec is not None]
#: A valid value other than the default, for settings whose kind cannot say which.
OTHER = {"metrics": ["accuracy", "top2_accuracy"], "early_stopping.monitor": "train_loss",
         "dataset.name": "moons", "init_from": "runs/run/best.pt",
         "dataset.classes": ["1", "0"], "dataset.train_per_class": 10, "init_skip": ["fc1"]}


def other_value(setting):
    """A valid, non-default value of `setting` (what a user might pick instead)."""
    spec = setting.spec
    if setting.path in OTHER:
        return OTHER[setting.path]
    if spec.words:
        return spec.words[-1] if spec.default not in spec.words else 3
    if spec.kind == "choice":
        return next(c for c in spec.choices if c != spec.default)
    if spec.kind == "bool":
        return not spec.default
    if spec.kind == "float_list":
        return [0.8, 0.99]
    if spec.kind == "int":
        return spec.default + 1 if spec.maximum is None or spec.default < spec.maximum \
            else spec.default - 1
    if spec.kind == "float":
        value = 0.5 if spec.default in (None, 0.0) else spec.default / 2
        return min(value, spec.maximum) if spec.maximum is not None else value
    raise AssertionError(f"no example value for {setting.path} ({spec.kind})")


@pytest.mark.parametrize("setting", EDITABLE, ids=lambda s: s.path)
def test_every_setting_is_in_the_form_editable_undoable_and_saved(form, setting):
    """A setting declared in the catalogue gets an editor by itself; an edit through it is one
    undo step, saved with the design, and shown while it applies."""
    session = form.session
    assert setting.path in form.editors and form.rows[setting.path][1].text() == setting.label
    for condition in [setting.applies] if setting.applies else []:  # make it apply
        form.set_field(condition.path, condition.values[0])
    block = effective_block(session.model.training)
    assert form.rows[setting.path][0].isRowVisible(form.editors[setting.path])
    before = session.model.training
    value = other_value(setting)
    assert value != get_path(block, setting.path)
    editor = form.editors[setting.path]
    with_signal = editor.edited.emit if setting.path != "dataset.name" else form._dataset_chosen
    with_signal(value)
    assert form.message.text() == ""
    assert get_path(effective_block(session.model.training), setting.path) == value
    assert get_path(effective_block(loads(dumps(session.model)).training), setting.path) == value
    session.undo_stack.undo()
    assert session.model.training == before


def test_settings_that_do_not_apply_are_hidden(form):
    form.set_field("optimizer.name", "adam")
    assert not form.rows["optimizer.momentum"][0].isRowVisible(form.editors["optimizer.momentum"])
    form.set_field("optimizer.name", "sgd")
    assert form.rows["optimizer.momentum"][0].isRowVisible(form.editors["optimizer.momentum"])
    assert not form.rows["optimizer.betas"][0].isRowVisible(form.editors["optimizer.betas"])


def test_number_or_word_settings_take_both(form, qtbot):
    combo = form.editors["batch_size"].widget
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "full")
    qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    assert form.session.model.training["batch_size"] == "full"
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "32")
    qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    assert form.session.model.training["batch_size"] == 32
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "fulll")
    qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    assert "'full'" in form.message.text() and form.session.model.training["batch_size"] == 32
