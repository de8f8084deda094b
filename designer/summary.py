"""The design at a glance: the per-layer summary table, the problems list and the status-bar text.

All three read the session's latest `Analysis` (shape inference) and refresh on `analysis_changed`.
"""
from __future__ import annotations

import html

from PySide6.QtCore import (QAbstractTableModel, QItemSelectionModel, QModelIndex, QPersistentModelIndex,
                            QRectF, QSize, Qt, Signal)
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QListWidget, QListWidgetItem,
                               QTableView, QVBoxLayout, QWidget)

from runtime.errors import Problem
from runtime.graph import GraphModel
from runtime.networks import network_title, network_totals
from runtime.present import format_count, format_exact, format_flops, format_outputs
from runtime.shapes import ERROR, UNKNOWN, Analysis, NodeResult

from .palette import category_icon
from .session import DesignSession
from .style import ERROR as ERROR_COLOR
from .style import SUCCESS, WARNING


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def status_text(analysis: Analysis | None) -> str:
    """One line for the status bar, e.g. "✓ Valid · 61,706 params (61,706 trainable) · 850k FLOPs"."""
    if analysis is None:
        return ""
    errors, warnings = len(analysis.errors), len(analysis.warnings)
    if errors:
        head = "✗ " + _plural(errors, "error")
        if warnings:
            head += ", " + _plural(warnings, "warning")
    else:
        head = "✓ Valid" + (f", {_plural(warnings, 'warning')}" if warnings else "")
    return f"{head} · {_totals(analysis)}"


def _totals(analysis: Analysis) -> str:
    """The design's totals, e.g. "61,706 params (61,706 trainable) · 850k FLOPs".

    The status bar and the line under the summary table say them the same way.
    """
    return (f"{format_exact(analysis.total_params)} params "
            f"({format_exact(analysis.trainable_params)} trainable) · "
            f"{format_flops(analysis.total_flops)}")


def network_lines(model: GraphModel, analysis: Analysis) -> list[str]:
    """With several networks, one line (rich text) per network: its name, layers and parameters;
    else none."""
    totals = network_totals(model, analysis)
    if len(totals) < 2:
        return []
    return [f"<b>{html.escape(network_title(t.name))}</b> · {_plural(t.nodes, 'layer')} · "
            f"{format_exact(t.params)} params ({format_exact(t.trainable_params)} trainable)"
            for t in totals]


def severity_icon(severity: str, size: int = 12) -> QIcon:
    """A filled circle: red for errors, amber for warnings, green for "all good"."""
    color = {"error": ERROR_COLOR, "warning": WARNING}.get(severity, SUCCESS)
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.setDevicePixelRatio(2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(color).darker(120))
    painter.setBrush(QColor(color))
    painter.drawEllipse(QRectF(1.5, 1.5, size - 3, size - 3))
    painter.end()
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Disabled)  # keeps its colour on the "No problems" line
    return icon


class SummaryModel(QAbstractTableModel):
    """Rows of the summary table, one per node in topological order, refreshed in place."""

    COLUMNS = ("Node", "Type", "Output shape", "Params", "FLOPs")
    NODE, TYPE, SHAPE, PARAMS, FLOPS = range(5)

    def __init__(self, session: DesignSession, parent=None):
        super().__init__(parent)
        self.session = session
        self._ids: list[str] = []
        self._analysis: Analysis | None = None

    def node_id(self, row: int) -> str:
        return self._ids[row]

    def row_of(self, node_id: str) -> int:
        """The row showing `node_id`, or -1."""
        try:
            return self._ids.index(node_id)
        except ValueError:
            return -1

    def refresh(self, analysis: Analysis) -> None:
        """Take a new analysis: cells change in place unless nodes were added/removed/reordered."""
        model = self.session.model
        ids = [n for n in model.topological_order() if n in analysis.nodes]
        self._analysis = analysis
        if ids == self._ids:
            if ids:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(ids) - 1, len(self.COLUMNS) - 1))
            return
        self.beginResetModel()
        self._ids = ids
        self.endResetModel()

    # --- QAbstractTableModel ------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section >= self.PARAMS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self._analysis is None:
            return None
        node_id = self._ids[index.row()]
        result = self._analysis.nodes.get(node_id)
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node_id, result, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= self.PARAMS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and result is not None:
            if result.status == ERROR:
                return QBrush(ERROR_COLOR)
            if result.status == UNKNOWN:
                return QBrush(QColor(128, 128, 128))
        if role == Qt.ItemDataRole.DecorationRole and column == self.NODE:
            node = self.session.model.nodes.get(node_id)
            if node is not None and node.type in self.session.registry:
                return category_icon(self.session.registry.get(node.type).category)
        if role == Qt.ItemDataRole.ToolTipRole and result is not None:
            return self._tooltip(result)
        return None

    def _text(self, node_id: str, result: NodeResult | None, column: int) -> str:
        if column == self.NODE:
            return node_id
        if column == self.TYPE:
            return result.type if result else ""
        if column == self.SHAPE:
            return format_outputs(result)
        if result is None or result.status != "ok":
            return ""
        if column == self.PARAMS:
            text = format_count(result.params)
            return text if result.trainable_params == result.params else f"{text} (frozen)"
        return format_count(result.flops)

    @staticmethod
    def _tooltip(result: NodeResult) -> str | None:
        lines = [*result.errors, *result.warnings]
        if result.status == UNKNOWN:
            lines.append("shape unknown: a layer before this one has an error")
        if result.status == "ok":
            lines.insert(0, f"{format_exact(result.params)} params "
                            f"({format_exact(result.trainable_params)} trainable), "
                            f"{format_exact(result.flops)} FLOPs")
        return "\n".join(lines) or None


class SummaryPanel(QWidget):
    """Keras-style summary: a row per layer (node, type, output shape, params, FLOPs) and totals.

    Selecting or double-clicking a row emits `node_activated(node_id)`; `select_node` mirrors the
    canvas selection without emitting.
    """

    node_activated = Signal(str)

    def __init__(self, session: DesignSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.table_model = SummaryModel(session, self)
        self.table = QTableView(self)
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setIconSize(QSize(12, 12))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(SummaryModel.SHAPE, QHeaderView.ResizeMode.Stretch)
        self.totals = QLabel(self)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.totals.setContentsMargins(4, 2, 4, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)

        self._muted = False
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.doubleClicked.connect(lambda index: self._emit_row(index.row()))
        session.analysis_changed.connect(self.refresh)
        self.refresh(session.analysis)

    def refresh(self, analysis: Analysis) -> None:
        """Show `analysis` (connected to `analysis_changed`)."""
        selected = self._selected_id()
        self._muted = True
        try:
            self.table_model.refresh(analysis)
            if selected is not None:
                self._select_row(self.table_model.row_of(selected))
        finally:
            self._muted = False
        count = len(analysis.nodes)
        lines = [f"<b>Total</b> · {_plural(count, 'layer')} · {_totals(analysis)}"]
        lines += network_lines(self.session.model, analysis)
        self.totals.setText("<br>".join(lines))

    def select_node(self, node_id: str | None) -> None:
        """Highlight the row of `node_id` (None clears) without emitting `node_activated`."""
        self._muted = True
        try:
            self._select_row(self.table_model.row_of(node_id) if node_id else -1)
        finally:
            self._muted = False

    def _select_row(self, row: int) -> None:
        selection = self.table.selectionModel()
        if row < 0:
            selection.clear()
            return
        index = self.table_model.index(row, 0)
        selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                  | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def _selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table_model.node_id(rows[0].row()) if rows else None

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._muted and current.isValid():
            self._emit_row(current.row())

    def _emit_row(self, row: int) -> None:
        if 0 <= row < self.table_model.rowCount():
            self.node_activated.emit(self.table_model.node_id(row))


class ProblemsPanel(QWidget):
    """Every problem of the design, errors first; clicking one emits `node_activated(node_id)`."""

    node_activated = Signal(str)

    def __init__(self, session: DesignSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setIconSize(QSize(12, 12))
        self.list.setSpacing(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        self._problems: list[Problem] = []
        self.list.itemClicked.connect(self._on_clicked)
        self.list.itemActivated.connect(self._on_clicked)
        session.analysis_changed.connect(self.refresh)
        self.refresh(session.analysis)

    def count(self) -> int:
        """Number of problems shown (errors and warnings)."""
        return len(self._problems)

    def problems(self) -> list[Problem]:
        """The problems in display order (errors first)."""
        return list(self._problems)

    def refresh(self, analysis: Analysis) -> None:
        """Show the problems of `analysis` (connected to `analysis_changed`)."""
        self._problems = [*analysis.errors, *analysis.warnings]
        self.list.clear()
        if not self._problems:
            item = QListWidgetItem(severity_icon("ok"), "No problems", self.list)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            return
        for problem in self._problems:
            text = f"{problem.node}: {problem.message}" if problem.node else problem.message
            item = QListWidgetItem(severity_icon(problem.severity), text, self.list)
            item.setToolTip(f"{problem.severity}: {text}")
            item.setData(Qt.ItemDataRole.UserRole, problem.node)
            if problem.severity == "error":
                item.setForeground(QBrush(ERROR_COLOR))
            if not problem.node:
                # a problem of the whole design: nothing to jump to
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)

    def _on_clicked(self, item: QListWidgetItem) -> None:
        node = item.data(Qt.ItemDataRole.UserRole)
        if node:
            self.node_activated.emit(node)
