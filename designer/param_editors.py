"""Parameter editors: one widget class per semantic parameter kind (`EDITORS`).

An editor only turns what the user typed into a value and reports it (`edited`), or reports text
that is not even the right kind of value (`invalid`); it never validates bounds or clamps. The
properties panel hands the value to the session, which validates it with `ParamSpec.validate`.
"""
from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QFileDialog, QHBoxLayout,
                               QLineEdit, QSpinBox, QToolButton, QWidget)

from runtime.specs import ParamSpec

_INT_LIMIT = 2**31 - 1
_LIST_SPLIT = re.compile(r"[,\s]+")
#: Integer lists also take the "x" and "×" of sizes as people type them (1x28x28), between
#: two numbers only (so "1, x" is still refused).
_TIMES = re.compile(r"(?<=\d)\s*[×xX*]\s*(?=[-+]?\d)")
INTS_FORMAT = "integers separated by commas, spaces or x, e.g. 1, 28, 28 or 1x28x28"


class ParseError(ValueError):
    """Text in an editor that is not even the right kind of value ("'x' is not an integer")."""


# --- text <-> value ---------------------------------------------------------------------------
def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ParseError(f"'{text.strip()}' is not an integer") from None


def parse_float(text: str) -> float:
    """A number in any notation Python reads: 0.001, 1e-5, 3."""
    try:
        return float(text.strip())
    except ValueError:
        raise ParseError(f"'{text.strip()}' is not a number") from None


def parse_ints(text: str) -> list[int]:
    """ "1, 28, 28", "1 28 28", "[1, 28, 28]", "1x28x28" or "1×28×28" -> [1, 28, 28]."""
    inner = text.strip().strip("[]()").strip()
    try:
        parts = _LIST_SPLIT.split(_TIMES.sub(",", inner)) if inner else []
        return [parse_int(part) for part in parts if part]
    except ParseError as err:
        raise ParseError(f"{err}: type {INTS_FORMAT}") from None


def parse_floats(text: str) -> list[float]:
    """ "0.9, 0.999" or "[0.9 0.999]" -> [0.9, 0.999]."""
    inner = text.strip().strip("[]()").strip()
    return [parse_float(part) for part in _LIST_SPLIT.split(inner) if part] if inner else []


def parse_names(text: str) -> list[str]:
    """ "accuracy, top5_accuracy" -> ["accuracy", "top5_accuracy"] (commas or spaces)."""
    inner = text.strip().strip("[]()").replace('"', " ").replace("'", " ")
    return [part for part in _LIST_SPLIT.split(inner) if part]


def parse_size(text: str) -> int | list[int]:
    """ "3" -> 3; "3, 5" or "[3]" -> a list (validation checks its length)."""
    stripped = text.strip()
    values = parse_ints(stripped)
    if len(values) == 1 and not stripped.startswith(("[", "(")):
        return values[0]
    return values


def format_value(value: Any) -> str:
    """A parameter value as its editor shows it (lists without brackets, null as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def describe_bounds(spec: ParamSpec) -> str:
    """The allowed values in words, for tooltips ("at least 1", "from 0 to below 1", ...)."""
    lo, hi = spec.minimum, spec.maximum
    if lo is not None and hi is not None:
        rng = f"from {_num(lo)} to {'below ' if spec.exclusive_maximum else ''}{_num(hi)}"
    elif lo is not None:
        rng = f"at least {_num(lo)}"
    elif hi is not None:
        rng = f"{'below' if spec.exclusive_maximum else 'at most'} {_num(hi)}"
    else:
        rng = ""
    if spec.kind in ("int", "float"):
        text = ("An integer" if spec.kind == "int" else "A number") + (f" {rng}" if rng else "")
        if spec.words:
            text += ", or " + " or ".join(f"'{w}'" for w in spec.words)
    elif spec.kind == "int_list":
        count = (f"{spec.min_items} to {spec.max_items}" if spec.max_items is not None
                 else f"at least {spec.min_items}")
        text = f"{count} {INTS_FORMAT}" + (f"; each {rng}" if rng else "")
    elif spec.kind == "float_list":
        text = f"{spec.length} numbers separated by commas" + (f"; each {rng}" if rng else "")
    elif spec.kind == "str_list":
        text = "Names separated by commas" + (
            f" from {', '.join(spec.choices)}" if spec.choices else "")
    elif spec.kind in ("size", "padding"):
        named = ", ".join(f"'{c}'" for c in spec.choices)
        text = (f"{named}, an integer" if named else "An integer") + (
            f" or {spec.length} integers (e.g. {', '.join(['3'] * spec.length)})"
            if spec.length and spec.length > 1 else "") + (f"; each {rng}" if rng else "")
    elif spec.kind == "choice":
        text = "One of " + ", ".join(spec.choices)
    elif spec.kind == "bool":
        text = "On or off"
    else:
        text = "A file path" if spec.kind == "path" else "Text"
    if spec.nullable:
        text += ". Leave empty for none"
    return text + "."


def param_tooltip(spec: ParamSpec) -> str:
    def esc(text: str) -> str:
        return html.escape(text, quote=False)

    return (f"<p style='white-space:normal'><b>{esc(spec.name)}</b><br>{esc(spec.doc)}<br>"
            f"<i>{esc(describe_bounds(spec))}</i></p>")


# --- editors ----------------------------------------------------------------------------------
class ParamEditor(QWidget):
    """One editor for one parameter.

    Signals:
        edited(object): the user entered a value (parsed, not yet validated).
        invalid(str): the user entered text that does not parse; the message says why.

    Attributes:
        widget: The input widget (QSpinBox, QLineEdit, QCheckBox or QComboBox).
    """

    edited = Signal(object)
    invalid = Signal(str)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self.spec = spec
        self.widget: QWidget = self._make_widget()
        self.widget.setToolTip(param_tooltip(spec))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.widget, 1)

    def _make_widget(self) -> QWidget:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show `value` from the model without emitting anything."""
        blocked = self.widget.blockSignals(True)
        try:
            self._show(value)
        finally:
            self.widget.blockSignals(blocked)

    def _show(self, value: Any) -> None:
        raise NotImplementedError


class _SpinBox(QSpinBox):
    """Arrows step inside the spec's bounds; typed numbers are not clamped (validation reports)."""

    def __init__(self, spec: ParamSpec):
        super().__init__()
        self._lo = None if spec.minimum is None else int(spec.minimum)
        self._hi = None if spec.maximum is None else int(spec.maximum) - spec.exclusive_maximum
        self.setRange(-_INT_LIMIT, _INT_LIMIT)
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt override)
        self.interpretText()
        target = self.value() + steps * self.singleStep()
        if self._lo is not None:
            target = max(target, self._lo)
        if self._hi is not None:
            target = min(target, self._hi)
        if target != self.value():
            self.setValue(target)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802 (Qt override)
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self._hi is None or self.value() < self._hi:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        if self._lo is None or self.value() > self._lo:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        # scrolling the panel must not change values under the pointer
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()

    def sizeHint(self):  # noqa: N802 (Qt override)
        hint = super().sizeHint()
        hint.setWidth(min(hint.width(), 120))
        return hint


class IntEditor(ParamEditor):
    """int: a spin box; commits on each arrow step and when typing ends."""

    def _make_widget(self) -> QWidget:
        spin = _SpinBox(self.spec)
        spin.valueChanged.connect(lambda value: self.edited.emit(int(value)))
        return spin

    def _show(self, value: Any) -> None:
        self.widget.setValue(int(value))


class TextEditor(ParamEditor):
    """A line edit that commits when editing finishes; subclasses say how to parse the text."""

    def _make_widget(self) -> QWidget:
        line = QLineEdit()
        if self.spec.nullable:
            line.setPlaceholderText("none")
        line.editingFinished.connect(self._finished)
        return line

    def _finished(self) -> None:
        line: QLineEdit = self.widget
        if not line.isModified():  # Enter then focus-out report one edit, not two
            return
        line.setModified(False)
        text = line.text()
        try:
            value = self.parse(text) if text.strip() else self.empty_value()
        except ParseError as err:
            self.invalid.emit(str(err))
            return
        self.edited.emit(value)

    def empty_value(self) -> Any:
        return None

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def _show(self, value: Any) -> None:
        self.widget.setText(format_value(value))
        self.widget.setModified(False)
        self.widget.setCursorPosition(0)


class NullableIntEditor(TextEditor):
    """int that may be null: a spin box cannot be empty, so a line edit."""

    def parse(self, text: str) -> Any:
        return parse_int(text)


class FloatEditor(TextEditor):
    """float: a line edit, so 1e-5 and 0.000001 are both enterable and shown in full."""

    def parse(self, text: str) -> Any:
        return parse_float(text)


class IntListEditor(TextEditor):
    """int_list: "1, 28, 28", "[1, 28, 28]" or "1x28x28"."""

    def parse(self, text: str) -> Any:
        return parse_ints(text)


class FloatListEditor(TextEditor):
    """float_list: "0.9, 0.999"."""

    def parse(self, text: str) -> Any:
        return parse_floats(text)


class NameListEditor(TextEditor):
    """str_list: "accuracy, top5_accuracy"."""

    def empty_value(self) -> Any:
        return []

    def parse(self, text: str) -> Any:
        return parse_names(text)


class SizeEditor(TextEditor):
    """size: "3" (every dimension) or "3, 5" (one per dimension)."""

    def parse(self, text: str) -> Any:
        return parse_size(text)


class StrEditor(TextEditor):
    def empty_value(self) -> Any:
        return None if self.spec.nullable else ""

    def parse(self, text: str) -> Any:
        return text


class PathEditor(StrEditor):
    """path: a line edit and a "…" button opening a file dialog."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(spec, parent)
        self.browse_button = QToolButton(self)
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose a file")
        self.browse_button.clicked.connect(self._browse)
        self.layout().addWidget(self.browse_button)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Choose {self.spec.name}", self.widget.text())
        if path:
            self.widget.setText(path)
            self.edited.emit(path)


class BoolEditor(ParamEditor):
    def _make_widget(self) -> QWidget:
        box = QCheckBox()
        box.clicked.connect(lambda checked: self.edited.emit(bool(checked)))
        return box

    def _show(self, value: Any) -> None:
        self.widget.setChecked(bool(value))


class _ComboBox(QComboBox):
    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class ChoiceEditor(ParamEditor):
    """choice: a combo box of the declared choices ("none" first when nullable)."""

    def _make_widget(self) -> QWidget:
        combo = _ComboBox()
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if self.spec.nullable:
            combo.addItem("none", None)
        for choice in self.spec.choices:
            combo.addItem(choice, choice)
        combo.activated.connect(lambda index: self.edited.emit(combo.itemData(index)))
        return combo

    def _show(self, value: Any) -> None:
        self.widget.setCurrentIndex(max(self.widget.findData(value), 0))


class _NamesOrNumbers(ParamEditor):
    """An editable combo box: named values to pick, or a number typed in. Subclasses give the
    names and how typed numbers parse; a typed unknown name goes to validation, which lists the
    allowed ones."""

    number_chars = r"\d"

    def _make_widget(self) -> QWidget:
        combo = _ComboBox()
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.addItems(list(self._names()))
        combo.lineEdit().editingFinished.connect(self._finished)
        combo.activated.connect(lambda index: self.edited.emit(combo.itemText(index)))
        return combo

    def _names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def _finished(self) -> None:
        line = self.widget.lineEdit()
        if not line.isModified():
            return
        line.setModified(False)
        text = line.text().strip()
        if not text:
            self.edited.emit(None)
        elif text in self._names() or not re.search(self.number_chars, text):
            self.edited.emit(text)
        else:
            try:
                self.edited.emit(self.parse(text))
            except ParseError as err:
                self.invalid.emit(str(err))

    def _show(self, value: Any) -> None:
        self.widget.setEditText(format_value(value))
        self.widget.lineEdit().setModified(False)


class PaddingEditor(_NamesOrNumbers):
    """padding: the named choices ("same", "valid"), or an integer / integers typed in."""

    number_chars = r"[\d,\[\]]"

    def _names(self) -> tuple[str, ...]:
        return self.spec.choices

    def parse(self, text: str) -> Any:
        return parse_size(text)


class WordsEditor(_NamesOrNumbers):
    """A number or a named value ("full" batch, "auto" threads)."""

    def _names(self) -> tuple[str, ...]:
        return self.spec.words

    def parse(self, text: str) -> Any:
        return parse_int(text) if self.spec.kind == "int" else parse_float(text)


#: The editor class of each parameter kind (the only place a kind meets a widget).
EDITORS: dict[str, type[ParamEditor]] = {
    "int": IntEditor, "float": FloatEditor, "bool": BoolEditor, "choice": ChoiceEditor,
    "int_list": IntListEditor, "float_list": FloatListEditor, "str_list": NameListEditor,
    "size": SizeEditor, "padding": PaddingEditor, "str": StrEditor, "path": PathEditor,
}
#: Kinds whose usual editor cannot show "null" use these when the parameter is nullable.
NULLABLE_EDITORS: dict[str, type[ParamEditor]] = {"int": NullableIntEditor}


def create_editor(spec: ParamSpec, parent: QWidget | None = None) -> ParamEditor:
    """The editor for `spec`, chosen by its kind (a number that also takes words, nullable)."""
    if spec.words:
        return WordsEditor(spec, parent)
    cls = (NULLABLE_EDITORS.get(spec.kind) if spec.nullable else None) or EDITORS[spec.kind]
    return cls(spec, parent)
