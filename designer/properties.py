"""The properties panel: the selected layer's parameters, each edited by a widget chosen by its kind.

Editors are generated from the `ParamSpec`s of the node's `LayerSpec` through one mapping from
semantic kind to editor class (`EDITORS`); there is no per-layer code. An editor only parses what
the user typed and reports it; the session validates (`ParamSpec.validate`) and pushes the undo
command. A refused value is never clamped: the reason appears in red under the field and the field
goes back to the model's value.
"""
from __future__ import annotations

import html
from functools import partial
from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (QFrame, QGridLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QScrollArea, QStackedWidget,
                               QVBoxLayout, QWidget)

from runtime.errors import ParamError
from runtime.graph import MetaChanged, NodeRemoved, ParamChanged
from runtime.present import format_exact, format_flops, format_shape
from runtime.shapes import ERROR as STATUS_ERROR
from runtime.shapes import UNKNOWN, Analysis
from runtime.specs import ParamSpec

from .param_editors import EDITORS, ParamEditor, create_editor, param_tooltip
from .session import DesignSession
from .style import ERROR, WARNING, category_color

__all__ = ["EDITORS", "ParamEditor", "PropertiesPanel", "create_editor"]


# --- the panel --------------------------------------------------------------------------------
def _muted(label: QLabel) -> QLabel:
    palette = label.palette()
    text, back = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    mixed = QColor((text.red() * 3 + back.red() * 2) // 5, (text.green() * 3 + back.green() * 2) // 5,
                   (text.blue() * 3 + back.blue() * 2) // 5)
    palette.setColor(QPalette.ColorRole.WindowText, mixed)
    label.setPalette(palette)
    return label


def _label(text: str = "", wrap: bool = False, selectable: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _section(title: str) -> QLabel:
    label = _label(title.upper())
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 0.85)
    font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 108)
    label.setFont(font)
    return _muted(label)


class _ParamRow:
    """The label, editor and (hidden until needed) message of one parameter."""

    def __init__(self, spec: ParamSpec, grid: QGridLayout, row: int, parent: QWidget):
        self.label = _label(spec.name)
        self.label.setToolTip(param_tooltip(spec))
        self.editor = create_editor(spec, parent)
        self.message = _label(wrap=True)
        self.message.setStyleSheet(f"color: {ERROR.name()};")
        self.message.hide()
        self.label.setBuddy(self.editor.widget)
        grid.addWidget(self.label, row, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.editor, row, 1)
        grid.addWidget(self.message, row + 1, 1)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))


class PropertiesPanel(QWidget):
    """Edits the parameters of one node, and shows what shape inference found for it.

    Call `show_node(node_id)` when the selection changes (None for no selection). Edits go through
    `session.set_param`; model changes (undo, another view) flow back into the editors.
    """

    def __init__(self, session: DesignSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._node_id: str | None = None
        self._rows: dict[str, _ParamRow] = {}
        self._status: dict[str, tuple[QLabel, QLabel]] = {}
        self._problem_lines: list[str] = []

        self._stack = QStackedWidget()
        self._stack.addWidget(self._build_empty_page())
        self._node_page: QWidget | None = None

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._stack)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        session.model_event.connect(self._on_model_event)
        session.model_replaced.connect(lambda: self.show_node(None))
        session.analysis_changed.connect(self._on_analysis)
        self.show_node(None)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override): a dock wide enough for the form
        return QSize(320, 480)

    # --- public -----------------------------------------------------------------------------
    @property
    def node_id(self) -> str | None:
        """The node being shown, or None."""
        return self._node_id

    def show_node(self, node_id: str | None) -> None:
        """Show `node_id`'s parameters and status (None or an unknown id: the empty hint)."""
        if node_id is not None and node_id not in self.session.model.nodes:
            node_id = None
        if node_id is not None and node_id == self._node_id and self._node_page is not None:
            return  # the same node again (a re-selection): keep the page and any focused field
        self._node_id = node_id
        if node_id is None:
            self._rows = {}
            self._refresh_empty_page()
            self._stack.setCurrentIndex(0)
            self._drop_node_page()
            return
        # a fresh page, shown at once by the stack (children added to a visible page would
        # only appear at the next turn of the event loop)
        old = self._node_page
        self._node_page = self._build_node_page(node_id)
        self._stack.addWidget(self._node_page)
        self._stack.setCurrentWidget(self._node_page)
        self._drop_page(old)

    def editor(self, name: str) -> ParamEditor:
        """The editor of parameter `name` of the shown node."""
        return self._rows[name].editor

    def message(self, name: str) -> str:
        """The refusal shown under parameter `name` ("" when none)."""
        row = self._rows[name]
        return row.message.text() if not row.message.isHidden() else ""

    def status_lines(self) -> str:
        """The text of the status area (shapes, counts, problems), for tests and accessibility."""
        if self._node_id is None:
            return ""
        lines = [f"{key}: {value.text()}" for key, (_, value) in self._status.items()
                 if not value.isHidden()]
        return "\n".join(lines + self._problem_lines)

    # --- pages ------------------------------------------------------------------------------
    def _build_empty_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(16, 24, 16, 16)
        layout.setSpacing(8)
        self._hint = _muted(_label("Select a layer to edit its parameters", wrap=True))
        self._hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # the design's name and description, edited in place (each edit one undo step)
        self._design_name = QLineEdit()
        self._design_name.setPlaceholderText("Name of the design")
        self._design_name.setToolTip("The design's name: the window title, the file's name "
                                     "field and the exported module's class")
        font = self._design_name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self._design_name.setFont(font)
        self._design_name.editingFinished.connect(self._rename_design)
        self._design_summary = QLineEdit()
        self._design_summary.setPlaceholderText("One line: what it shows or teaches")
        self._design_summary.setToolTip("The design's one-line summary, shown on its card in "
                                        "Help ▸ Welcome")
        self._design_summary.editingFinished.connect(
            lambda: self.session.set_meta("summary", self._design_summary.text()))
        self._design_description = QPlainTextEdit()
        self._design_description.setPlaceholderText("What the design is for, what it teaches")
        self._design_description.setToolTip("Saved with the design (File ▸ Open Preset shows "
                                            "presets' descriptions); kept when you click away")
        self._design_description.installEventFilter(self)
        layout.addWidget(self._hint)
        layout.addSpacing(12)
        layout.addWidget(_section("Design"))
        layout.addWidget(self._design_name)
        layout.addWidget(self._design_summary)
        layout.addWidget(self._design_description, 1)
        return page

    def _rename_design(self) -> None:
        self.session.set_meta("name", self._design_name.text())
        self._refresh_empty_page()  # a refused (blank) name shows the design's name again

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self._design_description and event.type() == QEvent.Type.FocusOut:
            self.session.set_meta("description", self._design_description.toPlainText())
        return super().eventFilter(watched, event)

    def _refresh_empty_page(self) -> None:
        model = self.session.model
        if self._design_name.text() != model.name:
            self._design_name.setText(model.name)
        if self._design_summary.text() != model.summary:
            self._design_summary.setText(model.summary)
            self._design_summary.setCursorPosition(0)  # a long line shows its start
        if self._design_description.toPlainText() != model.description:
            self._design_description.setPlainText(model.description)

    def _drop_node_page(self) -> None:
        page, self._node_page = self._node_page, None
        self._drop_page(page)

    def _drop_page(self, page: QWidget | None) -> None:
        if page is None:
            return
        # mute editors first: a focused field would report "editing finished" as it goes
        for editor in page.findChildren(ParamEditor):
            editor.blockSignals(True)
        self._stack.removeWidget(page)
        page.hide()
        page.deleteLater()

    def _build_node_page(self, node_id: str) -> QWidget:
        node = self.session.model.nodes[node_id]
        spec = self.session.registry.get(node.type)

        strip = QFrame()
        strip.setFixedHeight(4)
        strip.setStyleSheet(f"background: {category_color(spec.category).name()}; border: none;")
        title = _label(spec.title, wrap=True)
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        title.setFont(font)
        subtitle = _muted(_label(f"{spec.type_id} · {node_id} · {spec.category}", wrap=True,
                                  selectable=True))
        explanation = _muted(_label(spec.explanation, wrap=True))

        form = QWidget()
        grid = QGridLayout(form)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        grid.addWidget(_section("Parameters"), 0, 0, 1, 2)
        self._rows = {}
        for i, param in enumerate(spec.params):
            row = _ParamRow(param, grid, 1 + 2 * i, form)
            row.editor.set_value(node.params[param.name])
            row.editor.edited.connect(partial(self._commit, node_id, param.name))
            row.editor.invalid.connect(partial(self._refuse, node_id, param.name))
            self._rows[param.name] = row
        line = grid.rowCount()
        if not spec.params:
            grid.addWidget(_muted(_label("This layer has no parameters.")), line, 0, 1, 2)
            line += 1
        # the status shares the form's grid so its labels line up with the parameter names
        grid.setRowMinimumHeight(line, 10)
        grid.addWidget(_section("Status"), line + 1, 0, 1, 2)
        self._status = {}
        for offset, key in enumerate(("Output", "Params", "FLOPs")):
            name, value = _muted(_label(key)), _label(wrap=True, selectable=True)
            grid.addWidget(name, line + 2 + offset, 0,
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, line + 2 + offset, 1)
            self._status[key] = (name, value)
        self._problems_label = QLabel()
        self._problems_label.setWordWrap(True)
        self._problems_label.setTextFormat(Qt.TextFormat.RichText)
        self._problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self._problems_label, line + 5, 0, 1, 2)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(10, 0, 10, 10)
        layout.setSpacing(6)
        layout.addWidget(strip)
        for widget in (title, subtitle, explanation):
            layout.addWidget(widget)
        layout.addSpacing(4)
        layout.addWidget(form)
        layout.addStretch(1)
        self._show_status(self.session.analysis)
        return page

    def _set_status(self, key: str, text: str | None) -> None:
        name, value = self._status[key]
        value.setText(text or "")
        name.setVisible(text is not None)
        value.setVisible(text is not None)

    def _show_status(self, analysis: Analysis) -> None:
        result = analysis.nodes.get(self._node_id) if self._node_id else None
        if result is None:
            return
        if result.status == UNKNOWN:
            shapes = "unknown until the layers before this one are fixed"
        elif result.status == STATUS_ERROR:
            shapes = "—"
        elif len(result.outputs) == 1:
            shapes = format_shape(next(iter(result.outputs.values())))
        else:
            shapes = "\n".join(f"{port}: {format_shape(t)}" for port, t in result.outputs.items())
        self._set_status("Output", shapes)
        ok = result.status not in (UNKNOWN, STATUS_ERROR)
        spec = self.session.model.spec(self._node_id)
        frozen = "" if result.trainable_params == result.params else ", frozen"
        self._set_status("Params", f"{format_exact(result.params)} "
                         f"({format_exact(result.trainable_params)} trainable{frozen})"
                         if ok and (spec.has_weights or result.params) else None)
        self._set_status("FLOPs", f"{format_flops(result.flops)} per sample"
                         if ok and result.flops else None)
        lines = [(ERROR, "✗", m) for m in result.errors]
        lines += [(WARNING, "⚠", m) for m in result.warnings]
        lines += [(WARNING, "⚠", p.message) for p in analysis.warnings
                  if p.node == self._node_id and p.message not in result.warnings]
        self._problem_lines = [f"{mark} {text}" for _, mark, text in lines]
        self._problems_label.setText("<br>".join(
            f"<span style='color:{color.name()}'>{mark} {html.escape(text)}</span>"
            for color, mark, text in lines))
        self._problems_label.setVisible(bool(lines))

    # --- edits ------------------------------------------------------------------------------
    def _commit(self, node_id: str, name: str, value: Any) -> None:
        if node_id not in self.session.model.nodes:
            return
        try:
            self.session.set_param(node_id, name, value)
        except ParamError as err:
            self._refuse(node_id, name, str(err))
            return
        if node_id == self._node_id and name in self._rows:
            row = self._rows[name]
            row.show_message("")
            # shows the canonical form ("[3, 3]" typed -> "3, 3") even when nothing changed
            row.editor.set_value(self.session.model.nodes[node_id].params[name])

    def _refuse(self, node_id: str, name: str, message: str) -> None:
        if node_id != self._node_id or name not in self._rows:
            return
        row = self._rows[name]
        row.show_message(message)
        row.editor.set_value(self.session.model.nodes[node_id].params[name])

    # --- model -> view ----------------------------------------------------------------------
    def _on_model_event(self, event: object) -> None:
        if isinstance(event, ParamChanged) and event.node_id == self._node_id:
            row = self._rows.get(event.name)
            if row is not None:
                row.editor.set_value(event.new)
                row.show_message("")
        elif isinstance(event, NodeRemoved) and event.node.id == self._node_id:
            self.show_node(None)
        elif isinstance(event, MetaChanged) and self._node_id is None:
            self._refresh_empty_page()

    def _on_analysis(self, analysis: Analysis) -> None:
        if self._node_id is not None:
            self._show_status(analysis)
