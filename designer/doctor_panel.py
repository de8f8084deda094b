"""The Doctor dock: what the training doctor found, why, and one-click fixes.

The findings (static, from the pre-flight check, live from a run) and the check's child process
are designer/doctor_state.py; this is the widget that lists them, explains the selected one and
offers its fixes, each applied as one undo step (designer/doctor_editor.py).
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from runtime.graph import MetaChanged, NodeMoved

from . import style
from .canvas.node_item import DOCTOR_COLORS
from .doctor_editor import apply_fix
from .doctor_state import DoctorFindings, PreflightRunner, Shown, parse_findings
from .plots import TRAIN, Plot
from .run_data import RunRecord
from .session import DesignSession
from .summary import severity_icon as summary_icon


def severity_icon(severity: str, size: int = 12) -> QIcon:
    """A filled circle in the doctor's colour of `severity` (grey for a cleared finding)."""
    color = QColor(DOCTOR_COLORS.get(severity, style.NODE_SUBTEXT))
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.setDevicePixelRatio(2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(color.darker(120))
    painter.setBrush(color)
    painter.drawEllipse(QRectF(1.5, 1.5, size - 3, size - 3))
    painter.end()
    return QIcon(pixmap)


def evidence_lines(evidence: dict) -> list[str]:
    """The measured values as short "key: value" lines."""
    def show(value) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if math.isfinite(value) else str(value)
        if isinstance(value, dict):
            return ", ".join(f"{k} {show(v)}" for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return ", ".join(show(v) for v in value)
        return str(value)

    lines = []
    for key, value in evidence.items():
        text = show(value)
        lines.append(f"{key.replace('_', ' ')}: {text if len(text) <= 150 else text[:149] + '…'}")
    return lines


class FixButton(QPushButton):
    """A push button whose text wraps (a fix's description can be long)."""

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel(text, self)
        self.label.setWordWrap(True)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 5, 10, 5)
        layout.addWidget(self.label)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def text(self) -> str:  # noqa: D102 (the shown text lives in the label)
        return self.label.text()

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.layout().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.layout().minimumSize()


INTRO = ("The doctor reads the design as you edit it and marks what will make training fail or "
         "crawl. Check design goes further: in a separate process it runs one batch through the "
         "network (the initial loss, the gradient reaching each layer) and tries to learn that "
         "batch. During training it watches the run.")


class DoctorPanel(QWidget):
    """The findings list, the selected finding's explanation and fixes, and the check's curve.

    Signals:
        node_activated(str): a finding about this node was clicked (select and frame it).
        field_activated(str): a finding about this training field ("training.optimizer.lr")
            was clicked (show the setting).
        badges_changed(dict): node id -> [(severity, title)], for the canvas badges.
        count_changed(int): how many findings (not cleared) are listed.
        busy_changed(bool): a check started or ended.
    """

    node_activated = Signal(str)
    field_activated = Signal(str)
    badges_changed = Signal(object)
    count_changed = Signal(int)
    busy_changed = Signal(bool)

    def __init__(self, session: DesignSession, controller=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.findings = DoctorFindings(session, self)
        self.runner = PreflightRunner(self)
        self.preflight_result: dict | None = None
        self._live_run: RunRecord | None = None
        self._live_seen = -1
        self._shown: list[Shown] = []
        self._selected_key: tuple | None = None

        self.check_button = QPushButton("Check design")
        self.check_button.setToolTip("Run the pre-flight check: one batch forward and backward "
                                     "and a few dozen steps on it, in a separate process (F7)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the check")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(90)
        self.busy.setTextVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet(f"color: {style.NODE_SUBTEXT.name()};")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (self.check_button, self.cancel_button, self.busy):
            bar.addWidget(widget)
        bar.addWidget(self.status, 1)

        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setIconSize(QSize(12, 12))
        self.list.setSpacing(1)
        self.list.setMinimumWidth(200)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

        self.title = QLabel()
        self.title.setWordWrap(True)
        font = QFont(self.title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.title.setFont(font)
        self.where = QLabel()
        self.where.setStyleSheet(f"color: {style.NODE_SUBTEXT.name()};")
        self.explanation = QLabel(INTRO)
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.evidence = QLabel()
        self.evidence.setWordWrap(True)
        self.evidence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.evidence.setStyleSheet(f"color: {style.NODE_SUBTEXT.name()};")
        self.fix_buttons: list[FixButton] = []
        self.fix_layout = QVBoxLayout()
        self.fix_layout.setSpacing(3)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        details = QWidget()
        column = QVBoxLayout(details)
        column.setContentsMargins(8, 4, 8, 4)
        for widget in (self.note, self.title, self.where, self.explanation, self.evidence):
            column.addWidget(widget)
        column.addLayout(self.fix_layout)
        column.addStretch(1)
        self.details = QScrollArea()
        self.details.setWidgetResizable(True)
        self.details.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.details.setWidget(details)

        self.check_summary = QLabel()
        self.check_summary.setWordWrap(True)
        self.fit_plot = Plot("Learning one batch", x_label="step", y_label="loss")
        self.fit_plot.item.getAxis("left").enableAutoSIPrefix(False)
        self.fit_curve = self.fit_plot.curve(None, pg.mkPen(TRAIN, width=2))
        self.expected_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen("#8b949e", width=1, style=Qt.PenStyle.DashLine),
            label="untrained", labelOpts={"position": 0.85, "color": "#8b949e"})
        self.fit_plot.addItem(self.expected_line)
        self.check_box = QWidget()
        box = QVBoxLayout(self.check_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.check_summary)
        box.addWidget(self.fit_plot, 1)
        self.check_box.setMinimumWidth(220)
        self.check_box.hide()

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget, stretch in ((self.list, 3), (self.details, 5), (self.check_box, 3)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([270, 560, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self.check_button.clicked.connect(self.check)
        self.cancel_button.clicked.connect(self.cancel_check)
        self.list.currentItemChanged.connect(lambda item, _: self._show(item))
        self.list.itemClicked.connect(self._activate)
        self.list.itemActivated.connect(self._activate)
        self.findings.changed.connect(self.refresh)
        self.runner.finished.connect(self._on_checked)
        self.runner.failed.connect(self._on_check_failed)
        session.model_replaced.connect(self._on_model_replaced)
        session.model_event.connect(self._on_model_event)
        if controller is not None:
            controller.run_started.connect(self._follow_run)
            controller.run_updated.connect(self._on_run)
            controller.run_finished.connect(self._on_run)
        self._set_busy(False)
        self.findings.recompute_static(session.analysis)
        self.refresh()

    # --- the list --------------------------------------------------------------------------
    def shown(self) -> list[Shown]:
        """The findings listed, in display order."""
        return list(self._shown)

    def refresh(self) -> None:
        """Rebuild the list from the findings, keeping the selected one selected."""
        shown = self.findings.shown()
        self.badges_changed.emit(self.findings.by_node())  # the canvas may have been rebuilt
        if shown == self._shown and self.list.count():
            return
        self._shown = shown
        keep = self._selected_key
        self.list.blockSignals(True)
        self.list.clear()
        chosen = None
        for shown in self._shown:
            f = shown.finding
            cleared = shown.cleared_at is not None
            item = QListWidgetItem(severity_icon("" if cleared else f.severity),
                                   f"{f.title}\n{shown.where()}", self.list)
            item.setData(Qt.ItemDataRole.UserRole, f.key)
            item.setToolTip(f"{f.severity}: {f.title} ({f.code})")
            if cleared:
                font = item.font()
                font.setStrikeOut(True)
                item.setFont(font)
                item.setForeground(QBrush(style.NODE_SUBTEXT))
            if f.key == keep:
                chosen = item
        if not self._shown:
            item = QListWidgetItem(summary_icon("ok"), "No findings", self.list)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.list.setCurrentItem(chosen)
        self.list.blockSignals(False)
        self._show(chosen)
        self.count_changed.emit(sum(s.cleared_at is None for s in self._shown))

    def item_of(self, key: tuple) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == key:
                return self.list.item(row)
        return None

    def select(self, key: tuple) -> bool:
        """Show this finding (as if the user chose it, without activating its node)."""
        item = self.item_of(key)
        if item is not None:
            self.list.setCurrentItem(item)
        return item is not None

    def _shown_of(self, item: QListWidgetItem | None) -> Shown | None:
        key = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return next((s for s in self._shown if s.key == key), None)

    def _activate(self, item: QListWidgetItem) -> None:
        shown = self._shown_of(item)
        if shown is None:
            return
        if shown.finding.node:
            self.node_activated.emit(shown.finding.node)
        elif shown.finding.field:
            self.field_activated.emit(shown.finding.field)

    # --- the details -----------------------------------------------------------------------
    def _show(self, item: QListWidgetItem | None) -> None:
        shown = self._shown_of(item)
        self._selected_key = shown.key if shown is not None else None
        for button in self.fix_buttons:
            button.deleteLater()
        self.fix_buttons = []
        if shown is None:
            self.title.setText("")
            self.where.setText("")
            self.explanation.setText(INTRO if not self._shown else
                                     "Choose a finding to read what it means and how to fix it.")
            self.evidence.setText("")
            return
        f = shown.finding
        color = style.NODE_SUBTEXT if shown.cleared_at is not None else DOCTOR_COLORS[f.severity]
        self.title.setText(f.title)
        self.title.setStyleSheet(f"color: {QColor(color).name()};")
        self.where.setText(f"{f.severity} · {f.code} · {shown.where()}")
        self.explanation.setText(f.explanation)
        self.evidence.setText("\n".join(evidence_lines(f.evidence)))
        if shown.cleared_at is not None:
            return  # the condition cleared: nothing to fix
        for fix in f.fixes:
            button = FixButton(f"Fix: {fix.description}")
            button.setToolTip("\n".join(edit.describe() for edit in fix.edits)
                              + "\nOne undo step: Edit ▸ Undo reverts it.")
            button.clicked.connect(lambda _=False, fx=fix, key=f.key: self.apply(fx, key))
            self.fix_layout.addWidget(button)
            self.fix_buttons.append(button)

    def apply(self, fix, key: tuple | None = None) -> bool:
        """Apply a fix as one undo step; on failure show why (the design is unchanged)."""
        problem = apply_fix(self.session, fix)
        if problem:
            self.show_note(f"Could not apply “{fix.description}”: {problem}. The design is "
                           "unchanged.", error=True)
            return False
        self.show_note(f"Applied “{fix.description}” (one step: Edit ▸ Undo reverts it). "
                       "Train again to see the difference.")
        if key is not None:
            self.findings.forget(key)
        return True

    def show_note(self, text: str, error: bool = False) -> None:
        self.note.setText(text)
        self.note.setStyleSheet(f"color: {(style.ERROR if error else style.SUCCESS).name()};")
        self.note.setVisible(bool(text))

    # --- the check -------------------------------------------------------------------------
    def check(self) -> None:
        """Start the pre-flight check of the design as it is now."""
        self.show_note("")
        self.runner.start(self.session)
        self._set_busy(True)
        self.status.setText("Checking: one batch forward and backward, then a few dozen steps "
                            "on it…")

    def cancel_check(self) -> None:
        if self.runner.running:
            self.runner.cancel()
            self._set_busy(False)
            self.status.setText("Check cancelled.")

    def _set_busy(self, busy: bool) -> None:
        self.check_button.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.busy.setVisible(busy)
        self.busy_changed.emit(busy)

    def _on_checked(self, data: dict) -> None:
        self._set_busy(False)
        findings = parse_findings(data.get("findings"))
        self.preflight_result = data.get("preflight") or {}
        self._show_check(self.preflight_result, len(findings))
        self.findings.set_preflight(findings)

    def _on_check_failed(self, message: str) -> None:
        self._set_busy(False)
        self.status.setText("")
        self.show_note(f"The check could not run: {message}", error=True)

    def _show_check(self, result: dict, count: int) -> None:
        seconds = result.get("seconds")
        took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        self.status.setText(f"Checked{took}: {count or 'no'} finding{'s' * (count != 1)}.")
        lines = []
        initial, expected = result.get("initial_loss"), result.get("expected_loss")
        if isinstance(initial, (int, float)):
            lines.append(f"Initial loss {initial:.4g}" + (
                f" (an untrained network should give about {expected:.4g})"
                if isinstance(expected, (int, float)) else ""))
        losses = [v for v in result.get("fit_losses") or [] if isinstance(v, (int, float))]
        if len(losses) > 1:
            lines.append(f"Trained on one batch for {len(losses) - 1} steps: loss "
                         f"{losses[0]:.4g} → {losses[-1]:.4g}")
        self.check_summary.setText("\n".join(lines))
        finite = [v if math.isfinite(v) else math.nan for v in losses]
        self.fit_curve.setData(list(range(len(finite))), finite)
        has_expected = isinstance(expected, (int, float)) and math.isfinite(expected)
        self.expected_line.setVisible(has_expected)
        if has_expected:
            self.expected_line.setValue(expected)
        self.fit_plot.setVisible(len(losses) > 1)
        self.check_box.setVisible(bool(lines))

    def clear_check(self) -> None:
        self.preflight_result = None
        self.check_box.hide()
        self.status.setText("")

    # --- the design and the run -------------------------------------------------------------
    def _on_model_replaced(self) -> None:
        self.runner.cancel()  # its answer would be about the design that left
        self._set_busy(False)
        self._live_run, self._live_seen = None, -1
        self._selected_key = None
        self.clear_check()
        self.show_note("")

    def _on_model_event(self, event) -> None:
        cosmetic = isinstance(event, NodeMoved) or (
            isinstance(event, MetaChanged) and event.field in ("name", "description"))
        if self.preflight_result is not None and not cosmetic and not self.runner.running:
            self.status.setText("The design changed since the check: check again to update "
                                "its findings.")

    def _follow_run(self, run: RunRecord) -> None:
        self._live_run, self._live_seen = run, -1
        self._on_run(run)

    def _on_run(self, run: RunRecord) -> None:
        if run is self._live_run and run.diagnosis_count != self._live_seen:
            self._live_seen = run.diagnosis_count
            self.findings.set_live(run)
