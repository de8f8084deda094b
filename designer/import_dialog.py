"""File > Import PyTorch Model…: a model file, its nn.Module class, the input shape, optional
constructor arguments and weights; the import's refusals are listed in the dialog, each with its
source line. On success the dialog holds the import (`imported`) for the main window to open.

The classes are listed by reading the file without running it; Import runs it (the user's own
model code), which the dialog says. The model's weights are kept as a checkpoint (beside the model
file unless the user says otherwise) that the new design starts training from.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QPushButton, QVBoxLayout, QWidget)

from runtime.importer import (ImportResult, InputSpec, TorchImportError, model_classes,
                              parse_args, parse_input)


class ImportDialog(QDialog):
    """The import form. `imported` is the import once Import succeeded (the dialog is accepted).

    The file pickers are methods (`ask_model_path`, `ask_weights_path`) so a test or a caller can
    answer them without a native dialog.
    """

    def __init__(self, parent: QWidget | None = None, start_folder: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch Model")
        self.setObjectName("import_dialog")
        self.start_folder = start_folder
        self.imported: ImportResult | None = None

        self.path_edit = QLineEdit(objectName="import_path")
        self.path_edit.setPlaceholderText("a .py file defining an nn.Module")
        self.path_edit.editingFinished.connect(self.refresh_classes)
        browse = QPushButton("Browse…", objectName="import_browse")
        browse.setAutoDefault(False)  # Return in a field imports; it never opens a picker
        browse.clicked.connect(self._browse_model)
        self.class_combo = QComboBox(objectName="import_class")
        self.class_combo.setEditable(True)  # a class the file makes at run time can be typed
        self.shape_edit = QLineEdit(objectName="import_shape")
        self.shape_edit.setPlaceholderText("1,28,28   (several inputs: 1,28,28; 1,28,28)")
        self.shape_edit.setToolTip("One sample's shape without the batch dimension. Token ids "
                                   "for an Embedding: add :int64 (12:int64). One shape per "
                                   "input of forward, separated by ;")
        self.args_edit = QLineEdit(objectName="import_args")
        self.args_edit.setPlaceholderText('optional: num_classes=10   or   {"num_classes": 10}')
        self.weights_edit = QLineEdit(objectName="import_weights")
        self.weights_edit.setPlaceholderText("optional: a state_dict .pt/.pth or .safetensors")
        weights_browse = QPushButton("Browse…", objectName="import_weights_browse")
        weights_browse.setAutoDefault(False)
        weights_browse.clicked.connect(self._browse_weights)

        self.keep_check = QCheckBox("Keep the weights in:", objectName="import_keep")
        self.keep_check.setChecked(True)
        self.keep_check.setToolTip("Write the model's weights as a LayerLab checkpoint; the new "
                                   "design starts training from them (Start from weights)")
        self.keep_edit = QLineEdit(objectName="import_keep_path")
        self.keep_edit.setPlaceholderText("a .pt file (suggested beside the model file)")
        self.keep_check.toggled.connect(self.keep_edit.setEnabled)
        self.class_combo.currentTextChanged.connect(self._suggest_weights_path)

        form = QFormLayout()
        form.addRow("Model file:", _row(self.path_edit, browse))
        form.addRow("Class:", self.class_combo)
        form.addRow("Input shape:", self.shape_edit)
        form.addRow("Constructor arguments:", self.args_edit)
        form.addRow("Weights:", _row(self.weights_edit, weights_browse))
        form.addRow(self.keep_check, self.keep_edit)

        note = QLabel("Importing runs the model file's code (your model's constructor and "
                      "forward). Import only files you trust.")
        note.setWordWrap(True)
        note.setObjectName("import_note")
        self.headline = QLabel(objectName="import_headline")
        self.headline.setWordWrap(True)
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems = QListWidget(objectName="import_problems")
        self.problems.setWordWrap(True)
        self.problems.setSpacing(2)
        self.problems.setAlternatingRowColors(True)  # one refused call per row, easy to tell
        self.problems.setMinimumHeight(110)
        self._show_problems("", [])

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("Import",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setObjectName("import_button")
        self.import_button.setDefault(True)
        self.buttons.accepted.connect(self.run_import)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.headline)
        layout.addWidget(self.problems, 1)
        layout.addStretch(0)  # takes the room while there is no problem list to show
        layout.addWidget(self.buttons)
        self.resize(640, 360)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Return in the file field lists its classes and moves on to the shape, instead of
        # importing a form that is only half filled
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                self.focusWidget() is self.path_edit:
            self.refresh_classes()
            self.shape_edit.setFocus()
            return
        super().keyPressEvent(event)

    # --- file pickers (replaceable) ----------------------------------------------------------
    def ask_model_path(self) -> str:
        return QFileDialog.getOpenFileName(self, "Import PyTorch Model", self.start_folder,
                                           "Python files (*.py)")[0]

    def ask_weights_path(self) -> str:
        return QFileDialog.getOpenFileName(self, "Weights", self.start_folder,
                                           "Weights (*.pt *.pth *.safetensors)")[0]

    def _browse_model(self) -> None:
        path = self.ask_model_path()
        if path:
            self.path_edit.setText(path)
            self.refresh_classes()

    def _browse_weights(self) -> None:
        path = self.ask_weights_path()
        if path:
            self.weights_edit.setText(path)

    # --- the form ------------------------------------------------------------------------------
    def refresh_classes(self) -> None:
        """Fill the class list with the file's nn.Module subclasses (read, not run); the last
        one, usually the whole model, is chosen."""
        text = self.path_edit.text().strip()
        if not text:
            return
        self.class_combo.clear()
        try:
            names = model_classes(text)
        except (OSError, SyntaxError, UnicodeDecodeError) as err:
            self._show_problems(f"Cannot read {Path(text).name}: {err}", [])
            return
        self.class_combo.addItems(names)
        if names:
            self.class_combo.setCurrentIndex(len(names) - 1)
            self._show_problems("", [])
        else:
            self._show_problems(f"{Path(text).name} defines no nn.Module subclass.", [])

    def inputs(self) -> list[InputSpec]:
        """The input shapes typed, one per input (ValueError saying what is wrong)."""
        parts = [p for p in self.shape_edit.text().split(";") if p.strip()]
        if not parts:
            raise ValueError("Give the input shape without the batch dimension, e.g. 1,28,28.")
        return [parse_input(p) for p in parts]

    def run_import(self) -> bool:
        """Import with what the form says; accept on success, else list the problems."""
        path = self.path_edit.text().strip()
        class_name = self.class_combo.currentText().strip()
        if not path or not class_name:
            self._show_problems("Choose a model file and the class to import.", [])
            return False
        try:
            inputs = self.inputs()
            args, kwargs = parse_args(self.args_edit.text() or None)
        except ValueError as err:
            self._show_problems(str(err), [])
            return False
        weights = self.weights_edit.text().strip() or None
        from runtime.importer import import_file

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            result = import_file(path, class_name, inputs, args, kwargs, weights)
        except TorchImportError as err:
            self._show_problems(err.headline, err.problems)
            return False
        finally:
            QGuiApplication.restoreOverrideCursor()
        keep = self.keep_edit.text().strip() if self.keep_check.isChecked() else ""
        if keep:
            try:
                result.keep_weights(keep)
            except OSError as err:
                self._show_problems(f"Cannot write the weights to {keep}: "
                                    f"{err.strerror or err}", [])
                return False
        self.imported = result
        self.accept()
        return True

    def _suggest_weights_path(self, class_name: str) -> None:
        """Beside the model file, named after it and the class (net_LeNet5.pt)."""
        path = self.path_edit.text().strip()
        if path and class_name.strip():
            model = Path(path)
            self.keep_edit.setText(str(model.with_name(f"{model.stem}_{class_name.strip()}.pt")))

    def _show_problems(self, headline: str, problems: list[str]) -> None:
        self.headline.setText(headline)
        self.headline.setVisible(bool(headline))
        self.problems.clear()
        self.problems.addItems(problems)
        self.problems.setVisible(bool(problems))


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
    return row


def import_pytorch_model(parent: QWidget | None = None,
                         start_folder: str = "") -> ImportResult | None:
    """Show the dialog (modal); the import when the user imported something, else None. The
    main window opens its `design` as a new document."""
    dialog = ImportDialog(parent, start_folder)
    try:
        return dialog.imported if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
