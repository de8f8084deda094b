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
                               QSizePolicy, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from runtime.doctor.lr_finder import END_LR, START_LR
from runtime.graph import MetaChanged, is_cosmetic
from runtime.training.config import effective_block, with_setting

from . import style
from .canvas.node_item import DOCTOR_COLORS
from .doctor_editor import apply_fix
from .doctor_state import PLOT_OF_CODE, DoctorFindings, PreflightRunner, Shown, parse_findings
from .plots import TRAIN, LogAxis, Plot
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


def rate(value: float) -> str:
    """A learning rate as people write it: 0.003, 0.00025, 1e-06."""
    return f"{value:.3g}"


#: The width the check's column takes from the details when it shows a learning-rate sweep.
LR_COLUMN = 480
#: What the plot button of a finding shows, by PLOT_OF_CODE's kind.
PLOT_WORDS = {"gradients": "Show the gradient norms of every layer",
              "activations": "Show this layer's activations",
              "loss": "Show the loss curve"}


class LearningRateView(QWidget):
    """The learning-rate finder's result: the smoothed loss against the learning rate (log axis),
    the suggested rate and the current one marked, and a button that sets the suggestion.

    `show_sweep` reads the check's JSON (preflight.lr_curve, preflight.suggested_lr);
    `set_current` follows the design's learning rate.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.suggested: float | None = None
        self.current: float | None = None
        self.points: list[tuple[float, float]] = []
        self.plot = Plot("Loss against learning rate", y_label="loss (smoothed)")
        item = self.plot.item
        item.setAxisItems({"bottom": LogAxis("bottom")})
        item.getAxis("bottom").setStyle(maxTextLevel=0)  # decades only (see LogAxis)
        item.setLabel("bottom", "learning rate")
        item.setLogMode(x=True)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.getAxis("bottom").enableAutoSIPrefix(False)
        self.curve = self.plot.curve(None, pg.mkPen(TRAIN, width=2))
        self.suggested_line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen(style.SUCCESS, width=2), label="suggested",
            labelOpts={"position": 0.97, "color": style.SUCCESS.name(),
                       "anchors": [(1, 0), (1, 0)]})
        # labels left of their lines (the loss blows up on the right), at different heights
        self.current_line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen("#8b949e", width=1, style=Qt.PenStyle.DashLine), label="now",
            labelOpts={"position": 0.72, "color": "#8b949e", "anchors": [(1, 0), (1, 0)]})
        for line in (self.suggested_line, self.current_line):
            self.plot.addItem(line)
            line.hide()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.use_button = QPushButton()
        self.use_button.setToolTip("Set training.optimizer.lr to the suggested rate (one undo "
                                   "step: Edit ▸ Undo reverts it)")
        self.use_button.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.use_button)

    def show_sweep(self, result: dict) -> None:
        """Show a check's learning-rate sweep (its "preflight" object)."""
        self.points = [(float(lr), float(loss)) for lr, loss in _pairs(result.get("lr_curve"))
                       if lr > 0 and math.isfinite(loss)]
        suggested = result.get("suggested_lr")
        self.suggested = float(suggested) if isinstance(suggested, (int, float)) \
            and not isinstance(suggested, bool) and suggested > 0 else None
        losses = [p[1] for p in self.points]
        self.curve.setData([p[0] for p in self.points], losses)
        if losses:  # the start and the dip in view; a blow-up at the end may leave the top
            low, high = min(losses), min(max(losses), losses[0] + 2 * (losses[0] - min(losses))
                                         + 0.05 * abs(losses[0]))
            self.plot.item.setYRange(low, max(high, low + 1e-6), padding=0.05)
        self.suggested_line.setVisible(self.suggested is not None)
        if self.suggested is not None:
            self.suggested_line.setValue(math.log10(self.suggested))
            _set_label(self.suggested_line, f"suggested {rate(self.suggested)}")
            low = min(self.points, key=lambda p: p[1]) if self.points else None
            self.note.setText(
                f"Suggested learning rate {rate(self.suggested)}" + (
                    f": the loss was lowest at a rate of about {rate(low[0])}, just before it "
                    "blows up; a tenth of that learns quickly and safely." if low else "."))
        else:
            self.note.setText(f"No learning rate to suggest: {self.why_none()}")
        self._update()

    def why_none(self) -> str:
        """Why the sweep suggests nothing (the runtime's rule: the lowest loss must come after
        the first steps and below the starting loss)."""
        points = self.points
        if not points:
            return "the loss was not a finite number from the very first step."
        if len(points) < 5:
            return (f"the loss blew up within {len(points)} steps (by a learning rate of "
                    f"{rate(points[-1][0])}), too soon to tell.")
        return (f"the loss never fell below where it started, at any rate from "
                f"{rate(points[0][0])} to {rate(points[-1][0])}. The findings say what "
                "stops this network from learning.")

    def set_current(self, lr: float | None) -> None:
        """The design's learning rate now (None when the training block does not say one)."""
        self.current = lr
        self._update()

    def _update(self) -> None:
        now = self.current
        self.current_line.setVisible(now is not None and bool(self.points))
        if now is not None:
            self.current_line.setValue(math.log10(now))
            _set_label(self.current_line, f"now {rate(now)}")
        suggested = self.suggested
        self.use_button.setVisible(suggested is not None)
        if suggested is None:
            return
        same = now is not None and math.isclose(now, suggested, rel_tol=1e-9)
        self.use_button.setEnabled(not same)
        self.use_button.setText(f"The learning rate is {rate(suggested)}" if same else
                                f"Use learning rate {rate(suggested)} (now "
                                f"{rate(now) if now is not None else 'not set'})")


def _set_label(line: pg.InfiniteLine, text: str) -> None:
    line.label.setFormat(text)
    line.label.valueChanged()  # pyqtgraph redraws the text only when the value moves


def _pairs(values) -> list[tuple[float, float]]:
    """[[x, y], ...] from JSON, keeping only pairs of numbers."""
    out = []
    for pair in values if isinstance(values, list) else ():
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair):
            out.append((pair[0], pair[1]))
    return out


def design_lr(training: dict) -> float | None:
    """The learning rate a run of this training block would use (None when it is not a
    positive number: the training form reports that)."""
    try:
        lr = effective_block(training)["optimizer"]["lr"]
    except (KeyError, TypeError, AttributeError):
        return None
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) \
        and lr > 0 else None


INTRO = ("The doctor reads the design as you edit it and marks what will make training fail or "
         "crawl. Check design goes further: in a separate process it runs one batch through the "
         "network (the initial loss, the gradient reaching each layer) and tries to learn that "
         "batch. Find learning rate also sweeps the learning rate and suggests one. During "
         "training it watches the run.")


class DoctorPanel(QWidget):
    """The findings list, the selected finding's explanation and fixes, and the check's curve.

    Signals:
        node_activated(str): a finding about this node was clicked (select and frame it).
        field_activated(str): a finding about this training field ("training.optimizer.lr")
            was clicked (show the setting).
        badges_changed(dict): node id -> [(severity, title)], for the canvas badges.
        count_changed(int): how many findings (not cleared) are listed.
        busy_changed(bool): a check started or ended.
        alarmed(): the current run reported its first warning or error (bring the panel
            forward; once per run).
        plot_wanted(str): a live finding was clicked whose measurements a training plot shows
            ("gradients", "activations" or "loss"): turn the plots to it, quietly.
        plot_requested(str): the same, asked for with the finding's plot button: show it.
    """

    node_activated = Signal(str)
    field_activated = Signal(str)
    badges_changed = Signal(object)
    count_changed = Signal(int)
    busy_changed = Signal(bool)
    alarmed = Signal()
    plot_wanted = Signal(str)
    plot_requested = Signal(str)

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
        self._status_text = ""  # the check's word; a failure of the static rules comes first
        self._listed_error: str | None = None
        self._lr_requested = False

        self.check_button = QPushButton("Check design")
        self.check_button.setToolTip("Run the pre-flight check: one batch forward and backward "
                                     "and a few dozen steps on it, in a separate process (F7)")
        self.lr_button = QPushButton("Find learning rate")
        self.lr_button.setToolTip(
            f"Check the design, then train a copy for a few dozen steps while the learning rate "
            f"grows from {rate(START_LR)} to {rate(END_LR)}: plots the loss against the rate and "
            "suggests one")
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
        for widget in (self.check_button, self.lr_button, self.cancel_button, self.busy):
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
        self.plot_button = QPushButton()
        self.plot_button.setToolTip("Training plots ▸ Live")
        self.plot_button.hide()
        self._plot_kind = ""
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
        column.addWidget(self.plot_button, 0, Qt.AlignmentFlag.AlignLeft)
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
        one_batch = QWidget()
        box = QVBoxLayout(one_batch)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.check_summary)
        box.addWidget(self.fit_plot, 1)
        self.lr_view = LearningRateView()
        self.results = QTabWidget()
        self.results.setDocumentMode(True)
        self.results.addTab(one_batch, "One batch")
        self.results.addTab(self.lr_view, "Learning rate")
        self.check_box = QWidget()
        box = QVBoxLayout(self.check_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.results)
        self.check_box.setMinimumWidth(220)
        self._show_lr_tab(False)
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

        self.check_button.clicked.connect(lambda: self.check())
        self.lr_button.clicked.connect(self.find_learning_rate)
        self.lr_view.use_button.clicked.connect(self.use_suggested_lr)
        self.plot_button.clicked.connect(lambda: self.plot_requested.emit(self._plot_kind))
        self.findings.alarmed.connect(self.alarmed)
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
        self._update_status()
        error = self.findings.static_error
        if shown == self._shown and error == self._listed_error and self.list.count():
            return
        self._shown, self._listed_error = shown, error
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
        if not self._shown:  # a clean bill only when the rules ran
            item = QListWidgetItem(summary_icon("error"), "Not checked: the doctor failed on "
                                   "this design", self.list) if error else \
                QListWidgetItem(summary_icon("ok"), "No findings", self.list)
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
        kind = self.plot_kind(shown)
        if kind:
            self.plot_wanted.emit(kind)

    @staticmethod
    def plot_kind(shown: Shown) -> str:
        """The training plot that shows what this finding measured ("" for none): only a live
        finding's, since the plots show the run it came from."""
        return PLOT_OF_CODE.get(shown.finding.code, "") if shown.source == "live" else ""

    # --- the details -----------------------------------------------------------------------
    def _show(self, item: QListWidgetItem | None) -> None:
        shown = self._shown_of(item)
        self._selected_key = shown.key if shown is not None else None
        for button in self.fix_buttons:
            button.deleteLater()
        self.fix_buttons = []
        self._plot_kind = self.plot_kind(shown) if shown is not None else ""
        self.plot_button.setText(PLOT_WORDS.get(self._plot_kind, ""))
        self.plot_button.setVisible(bool(self._plot_kind))
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
    def check(self, lr_finder: bool = False) -> None:
        """Start the pre-flight check of the design as it is now (with `lr_finder`, followed by
        the learning-rate sweep)."""
        self.show_note("")
        self._lr_requested = lr_finder
        self.runner.start(self.session, lr_finder=lr_finder)
        self._set_busy(True)
        self._set_status("Checking: one batch forward and backward, then a few dozen steps on "
                         "it" + (f", then the learning rate from {rate(START_LR)} to "
                                 f"{rate(END_LR)}…" if lr_finder else "…"))

    def find_learning_rate(self) -> None:
        """Check the design and sweep the learning rate (its curve and suggestion are shown in
        the Learning rate tab)."""
        self.check(lr_finder=True)

    def cancel_check(self) -> None:
        if self.runner.running:
            self.runner.cancel()
            self._set_busy(False)
            self._set_status("Check cancelled.")

    def use_suggested_lr(self) -> bool:
        """Set training.optimizer.lr to the finder's suggestion, as one undo step."""
        value = self.lr_view.suggested
        if value is None:
            return False
        try:
            training = with_setting(self.session.model.training, "optimizer.lr", value)
        except (KeyError, TypeError, ValueError) as err:  # a malformed optimizer section
            self.show_note(f"Could not set the learning rate: {err}. Fix the optimizer in the "
                           "Training tab first.", error=True)
            return False
        self.session.set_training(training, f"Set learning rate {rate(value)}")
        self.show_note(f"Set the learning rate to {rate(value)} (one step: Edit ▸ Undo reverts "
                       "it). Train again to see the difference.")
        return True

    def _set_status(self, text: str) -> None:
        self._status_text = text
        self._update_status()

    def _update_status(self) -> None:
        """The status line: a failure of the static rules first (their silence is not a clean
        design), then what the check said."""
        error = self.findings.static_error
        text = self._status_text
        if error:
            text = f"The doctor could not check this design: {error}" + (
                f" — {text}" if text else "")
        self.status.setText(text)
        color = style.ERROR if error else style.NODE_SUBTEXT
        self.status.setStyleSheet(f"color: {color.name()};")

    def _set_busy(self, busy: bool) -> None:
        self.check_button.setEnabled(not busy)
        self.lr_button.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.busy.setVisible(busy)
        self.busy_changed.emit(busy)

    def _on_checked(self, data: dict) -> None:
        self._set_busy(False)
        findings = parse_findings(data.get("findings"))
        self.preflight_result = data.get("preflight") or {}
        self._show_check(self.preflight_result, len(findings))
        if self._lr_requested or _pairs(self.preflight_result.get("lr_curve")):
            self.show_lr_finder(self.preflight_result)
        self.findings.set_preflight(findings)

    def show_lr_finder(self, result: dict) -> None:
        """Show a learning-rate sweep (a check's "preflight" object) in the Learning rate tab."""
        self.lr_view.show_sweep(result)
        self.lr_view.set_current(design_lr(self.session.model.training))
        self._show_lr_tab(True)
        self.check_box.show()
        self.results.setCurrentWidget(self.lr_view)
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if sizes[2] < LR_COLUMN and total > 2 * LR_COLUMN:  # room for the plot
            column = min(LR_COLUMN, int(total * 0.4))
            listed = min(sizes[0], total // 4)
            self.splitter.setSizes([listed, total - listed - column, column])
        suggested = self.lr_view.suggested
        self._set_status(self._status_text + (
            f" Suggested learning rate: {rate(suggested)}." if suggested is not None else
            " No learning rate to suggest."))

    def _show_lr_tab(self, on: bool) -> None:
        self.results.setTabVisible(1, on)
        self.results.tabBar().setVisible(on)
        if not on:
            self.results.setCurrentIndex(0)

    def _on_check_failed(self, message: str) -> None:
        self._set_busy(False)
        self._set_status("")
        self.show_note(f"The check could not run: {message}", error=True)

    def _show_check(self, result: dict, count: int) -> None:
        seconds = result.get("seconds")
        took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        self._set_status(f"Checked{took}: {count or 'no'} finding{'s' * (count != 1)}.")
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
        self._show_lr_tab(False)  # shown again by show_lr_finder when this check swept it

    def clear_check(self) -> None:
        self.preflight_result = None
        self.check_box.hide()
        self._show_lr_tab(False)
        self.lr_view.show_sweep({})
        self._set_status("")

    # --- the design and the run -------------------------------------------------------------
    def _on_model_replaced(self) -> None:
        self.runner.cancel()  # its answer would be about the design that left
        self._set_busy(False)
        self._live_run, self._live_seen = None, -1
        self._selected_key = None
        self.clear_check()
        self.show_note("")

    def _on_model_event(self, event) -> None:
        cosmetic = is_cosmetic(event)
        if isinstance(event, MetaChanged) and event.field == "training":
            self.lr_view.set_current(design_lr(self.session.model.training))
        if self.preflight_result is not None and not cosmetic and not self.runner.running:
            self._set_status("The design changed since the check: check again to update its "
                             "findings.")

    def _follow_run(self, run: RunRecord) -> None:
        self._live_run, self._live_seen = run, -1
        self._on_run(run)

    def _on_run(self, run: RunRecord) -> None:
        if run is self._live_run and run.diagnosis_count != self._live_seen:
            self._live_seen = run.diagnosis_count
            self.findings.set_live(run)
