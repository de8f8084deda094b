"""File > Import PyTorch Model… (designer/import_dialog.py, #17), typed and clicked like a user."""
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog

from designer.import_dialog import ImportDialog, import_pytorch_model

MODELS = Path(__file__).resolve().parents[1] / "import_models"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def dialog(qtbot):
    view = ImportDialog()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def _type(qtbot, widget, text: str) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    widget.selectAll()
    QTest.keyClicks(widget, text)


def test_typing_a_file_lists_its_module_classes_and_import_gives_the_design(dialog, qtbot,
                                                                           tmp_path):
    _type(qtbot, dialog.path_edit, str(MODELS / "lstm_classifier.py"))
    QTest.keyClick(dialog.path_edit, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.shape_edit.hasFocus()  # Return moves on, no import
    combo = dialog.class_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["RNN", "TextClassifier"]
    assert combo.currentText() == "TextClassifier"  # the last class: usually the whole model
    _type(qtbot, combo.lineEdit(), "RNN")
    assert dialog.keep_edit.text() == str(MODELS / "lstm_classifier_RNN.pt")  # suggested
    _type(qtbot, dialog.keep_edit, str(tmp_path / "rnn.pt"))
    _type(qtbot, dialog.shape_edit, "28,28")
    _type(qtbot, dialog.args_edit, "hidden_size=16")
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    design = dialog.imported.design
    assert design.nodes["lstm"].params["hidden_size"] == 16
    assert design.nodes["x"].params["shape"] == [28, 28]
    # the weights are kept, and the new design starts training from them
    assert (tmp_path / "rnn.pt").is_file()
    assert design.training["init_from"] == str((tmp_path / "rnn.pt").resolve())


def test_refusals_are_listed_with_their_lines_and_the_dialog_stays(dialog, qtbot, tmp_path):
    dialog.ask_model_path = lambda: str(MODELS / "refused.py")
    qtbot.mouseClick(dialog.findChild(type(dialog.import_button), "import_browse"),
                     Qt.MouseButton.LeftButton)
    assert dialog.path_edit.text().endswith("refused.py")
    _type(qtbot, dialog.class_combo.lineEdit(), "UnsupportedOps")
    _type(qtbot, dialog.shape_edit, "8")
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.imported is None
    assert "UnsupportedOps cannot be imported" in dialog.headline.text()
    items = [dialog.problems.item(i).text() for i in range(dialog.problems.count())]
    assert len(items) == 4 and all(item.startswith("refused.py line ") for item in items)
    assert dialog.problems.isVisible()
    dialog.grab().save(str(tmp_path / "import_refused.png"))
    assert (tmp_path / "import_refused.png").stat().st_size > 0


def test_a_bad_shape_is_explained_before_anything_runs(dialog, qtbot):
    _type(qtbot, dialog.path_edit, str(MODELS / "lenet5.py"))
    QTest.keyClick(dialog.path_edit, Qt.Key.Key_Tab)  # leaving the field lists the classes
    assert dialog.class_combo.currentText() == "LeNet5"
    _type(qtbot, dialog.shape_edit, "28 by 28")
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "1,28,28" in dialog.headline.text()
    _type(qtbot, dialog.shape_edit, "1,28,28")
    _type(qtbot, dialog.weights_edit, str(MODELS / "missing.pt"))
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "does not exist" in dialog.headline.text()


def test_the_entry_point_returns_none_when_cancelled_and_the_import_otherwise(qtbot):
    def answer(press_import: bool) -> None:
        view = next(w for w in QApplication.topLevelWidgets()
                    if isinstance(w, ImportDialog) and w.isVisible())
        if press_import:
            view.path_edit.setText(str(MODELS / "mlp_mnist.py"))
            view.refresh_classes()
            QTest.keyClicks(view.shape_edit, "1,28,28")
            qtbot.mouseClick(view.keep_check, Qt.MouseButton.LeftButton)  # no weights file
            assert not view.keep_edit.isEnabled()
            qtbot.mouseClick(view.import_button, Qt.MouseButton.LeftButton)
        else:
            QTest.keyClick(view, Qt.Key.Key_Escape)

    QTimer.singleShot(0, lambda: answer(False))
    assert import_pytorch_model() is None
    QTimer.singleShot(0, lambda: answer(True))
    result = import_pytorch_model()
    assert result is not None and result.design.nodes["classifier"].type == "Linear"
    assert "init_from" not in result.design.training
    assert not list(MODELS.glob("*.pt"))


def test_file_import_opens_the_imported_model_as_a_new_design(make_window, monkeypatch):
    """File ▸ Import PyTorch Model: what the dialog imports opens on the canvas as a new,
    undo-free document (the dialog itself is driven in the tests above)."""
    from pathlib import Path

    from designer import import_dialog
    from runtime.importer import import_file, parse_input

    window = make_window()
    model_file = Path(__file__).parents[1] / "import_models" / "mlp_mnist.py"
    monkeypatch.setattr(import_dialog, "import_pytorch_model", lambda parent: import_file(
        model_file, "NeuralNetwork", [parse_input("1,28,28")]))
    assert window.act_import_torch in window.menuBar().actions()[0].menu().actions()
    window.act_import_torch.trigger()
    model = window.session.model
    assert [n.type for n in model.nodes.values()][:3] == ["Input", "Flatten", "Linear"]
    assert not window.session.analysis.errors and not window.session.undo_stack.canUndo()
    assert window.statusBar().currentMessage().startswith("Imported")
