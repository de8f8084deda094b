"""The Doctor dock: what the training doctor found, why, and one-click fixes.

Findings come from three places and are shown together, worst first:

* static rules, recomputed whenever the design's analysis changes (like shape errors);
* the pre-flight check ("Check design"), run by `PreflightRunner` in a child process
  (`main.py doctor FILE --json`): training never runs in the editor's process;
* the live doctor of the current training run (its `diagnosis` events, kept by the RunRecord).

Everything shown describes the design on screen: a new or opened design clears the check's and the
run's findings, and a finding whose node has gone is not shown. A fix is applied as one undo step
(designer/doctor_editor.py).
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, QProcess, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from runtime.data import get_spec
from runtime.doctor import SEVERITIES, Finding, static_findings
from runtime.doctor.preflight import load_data
from runtime.document import to_dict
from runtime.errors import DatasetError
from runtime.graph import MetaChanged, NodeMoved

from . import style
from .canvas.node_item import DOCTOR_COLORS
from .doctor_editor import apply_fix
from .plots import TRAIN, Plot
from .run_data import RunRecord
from .session import DesignSession
from .summary import severity_icon as summary_icon

#: main.py, which runs the headless check (beside the designer package, in a checkout or installed).
MAIN_PY = Path(__file__).resolve().parent.parent / "main.py"
#: A check that takes longer than this is ended (the pre-flight takes seconds for the presets).
CHECK_TIMEOUT_MS = 180_000
SOURCE_WORDS = {"static": "from the design", "preflight": "from the check", "live": "training"}


@dataclass(frozen=True)
class Shown:
    """A finding as listed: where it came from and, for a live one, the step it cleared at."""

    finding: Finding
    source: str  # "static", "preflight" or "live"
    cleared_at: int | None = None

    @property
    def key(self) -> tuple:
        return self.finding.key

    def where(self) -> str:
        """Where it points and where it came from, e.g. "fc1 · training, step 120"."""
        f = self.finding
        origin = SOURCE_WORDS[self.source]
        if self.cleared_at is not None:
            origin = f"cleared at step {self.cleared_at}"
        elif self.source == "live" and f.step is not None:
            origin += f", step {f.step}"
        return f"{f.where} · {origin}"


class DoctorFindings(QObject):
    """The findings about the design on screen, from its three sources.

    Signals:
        changed(): the list changed (`shown()` and `by_node()` say what it is now).
    """

    changed = Signal()

    def __init__(self, session: DesignSession, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.static: list[Finding] = []
        self.preflight: list[Finding] = []
        self.live: list[Shown] = []
        self._dataset_key: str | None = None
        self._dataset = None
        session.analysis_changed.connect(self.recompute_static)
        session.model_replaced.connect(self.clear_results)

    # --- sources ---------------------------------------------------------------------------
    def dataset(self):
        """The design's dataset (loaded once per dataset block), or None when it cannot load."""
        base = self.session.path.parent if self.session.path else None
        training = self.session.model.training or {}
        key = json.dumps([training.get("dataset"), training.get("seed"), str(base)],
                         sort_keys=True, default=str)
        if key != self._dataset_key:
            self._dataset_key, self._dataset = key, None  # keep one: datasets can be large
            try:
                self._dataset = load_data(self.session.model, base)
            except Exception:  # noqa: BLE001 (a broken dataset is the form's to report)
                self._dataset = None
        return self._dataset

    def recompute_static(self, analysis=None) -> None:
        """Run the static rules on the design as it is now (on every analysis change)."""
        model = self.session.model
        analysis = analysis if analysis is not None else self.session.analysis
        try:
            found = static_findings(model, analysis, self.dataset() if analysis.valid else None)
        except Exception:  # noqa: BLE001 (a rule's bug must not break editing)
            found = []
        self.static = found
        self.changed.emit()  # even when the same: the nodes the others point at may have changed

    def set_preflight(self, findings: list[Finding]) -> None:
        self.preflight = list(findings)
        self.changed.emit()

    def set_live(self, run: RunRecord | None) -> None:
        """Show the live findings of `run` (None: none)."""
        live = []
        for event in (run.diagnoses.values() if run is not None else ()):
            try:
                finding = Finding.from_json(event["finding"])
            except (KeyError, TypeError, ValueError):
                continue
            cleared = event.get("step") if event.get("status") == "withdrawn" else None
            live.append(Shown(finding, "live", cleared))
        if live != self.live:
            self.live = live
            self.changed.emit()

    def clear_results(self) -> None:
        """Forget the check's and the run's findings (another design is on screen)."""
        self.preflight, self.live = [], []
        self.changed.emit()

    def forget(self, key: tuple) -> None:
        """Drop the check's and the run's findings with this key (their fix was applied)."""
        self.preflight = [f for f in self.preflight if f.key != key]
        self.live = [s for s in self.live if s.key != key]
        self.changed.emit()

    # --- reading ---------------------------------------------------------------------------
    def shown(self) -> list[Shown]:
        """Every finding to list, errors first; the design's own (static) findings win over the
        check's and the run's with the same key, a current live finding over the check's."""
        nodes = self.session.model.nodes
        active = [s for s in self.live if s.cleared_at is None]
        cleared = [s for s in self.live if s.cleared_at is not None]
        candidates = ([Shown(f, "static") for f in self.static] + active
                      + [Shown(f, "preflight") for f in self.preflight if f.stage != "static"]
                      + cleared)
        seen, out = set(), []
        for item in candidates:
            if item.key in seen or (item.finding.node and item.finding.node not in nodes):
                continue
            seen.add(item.key)
            out.append(item)
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        return sorted(out, key=lambda s: (s.cleared_at is not None, rank[s.finding.severity]))

    def by_node(self) -> dict[str, list[tuple[str, str]]]:
        """(severity, title) of the current findings on each node, worst first (for badges)."""
        out: dict[str, list[tuple[str, str]]] = {}
        for item in self.shown():
            if item.finding.node and item.cleared_at is None:
                out.setdefault(item.finding.node, []).append((item.finding.severity,
                                                              item.finding.title))
        return out


class PreflightRunner(QObject):
    """Runs `main.py doctor FILE --json` on a copy of the design in a child process.

    Signals:
        finished(dict): the check ran; its JSON ({"findings": [...], "preflight": {...}}).
        failed(str): it could not run (a broken design, a crash, a timeout); the reason.
    """

    finished = Signal(object)  # object: a dict signal would become a QVariantMap, sorted by key
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.process: QProcess | None = None
        self._file: Path | None = None
        self._name = ""  # the design's name, said instead of the temporary file's in messages
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._timed_out)

    @property
    def running(self) -> bool:
        return self.process is not None

    def command(self, design_file: Path) -> list[str]:
        return [str(MAIN_PY), "doctor", str(design_file), "--json"]

    def start(self, session: DesignSession) -> None:
        """Check the design as it is now; relative dataset paths resolve against its folder."""
        self.cancel()
        base = session.path.parent if session.path else Path.cwd()
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="layerlab-doctor-",
                                             delete=False, encoding="utf-8")
        with handle:
            handle.write(json.dumps(design_for_check(to_dict(session.model), base), indent=1))
        self._file = Path(handle.name)
        self._name = session.path.name if session.path else session.model.name or "the design"
        process = self.process = QProcess(self)
        process.setWorkingDirectory(str(base))
        process.finished.connect(lambda code, status: self._done(process, code, status))
        process.errorOccurred.connect(lambda error: self._error(process, error))
        process.start(sys.executable, self.command(self._file))
        self._timer.start(CHECK_TIMEOUT_MS)

    def cancel(self) -> None:
        """End a check under way (nothing is reported)."""
        process, self.process = self.process, None
        if process is not None:
            process.blockSignals(True)
            process.kill()
            process.waitForFinished(2000)
            process.deleteLater()
        self._cleanup()

    def _cleanup(self) -> None:
        self._timer.stop()
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None

    def _timed_out(self) -> None:
        if self.process is not None:
            self.cancel()
            self.failed.emit(f"the check took more than {CHECK_TIMEOUT_MS // 1000} s and was "
                             "ended")

    def _error(self, process: QProcess, error: QProcess.ProcessError) -> None:
        if process is self.process and error == QProcess.ProcessError.FailedToStart:
            self.process = None
            self._cleanup()
            process.deleteLater()
            self.failed.emit(f"the check could not start: {process.errorString()}")

    def _done(self, process: QProcess, code: int, status: QProcess.ExitStatus) -> None:
        if process is not self.process:
            return
        self.process = None
        shown_as = str(self._file)
        self._cleanup()
        out = bytes(process.readAllStandardOutput()).decode("utf-8", "replace")
        err = bytes(process.readAllStandardError()).decode("utf-8", "replace").strip()
        process.deleteLater()
        try:
            data = json.loads(out)
        except ValueError:
            data = None
        if status == QProcess.ExitStatus.NormalExit and isinstance(data, dict) and \
                isinstance(data.get("findings"), list) and code == 0:
            self.finished.emit(data)
            return
        message = (data or {}).get("error") if isinstance(data, dict) else None
        lines = [line.replace(shown_as, self._name)
                 for line in (message or err).splitlines() if line.strip()]
        self.failed.emit(" ".join(lines[-3:]) if lines else
                         f"the check ended with exit code {code}")


def design_for_check(document: dict, base: Path) -> dict:
    """The design document with its dataset's relative file paths made absolute against `base`
    (the design's folder): the check reads a copy in a temporary folder, and `main.py doctor`
    resolves relative paths against the folder of the file it reads."""
    block = (document.get("training") or {}).get("dataset")
    try:
        spec = get_spec(block.get("name")) if isinstance(block, dict) else None
    except DatasetError:
        spec = None
    if spec is None or not isinstance(block.get("params") or {}, dict):
        return document
    params = dict(block.get("params") or {})
    if "path" in block and "path" not in params and "path" in spec.param_names():
        params["path"] = block["path"]  # the block-level spelling load_dataset accepts
    changed = False
    for param in spec.params:
        value = params.get(param.name, param.default)
        if param.kind == "path" and isinstance(value, str) and value \
                and not Path(value).is_absolute():
            params[param.name] = str(base / value)
            changed = True
    if not changed:
        return document
    return {**document, "training": {**document["training"],
                                     "dataset": {**block, "params": params}}}


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
        findings = []
        for entry in data.get("findings") or []:
            try:
                findings.append(Finding.from_json(entry))
            except (KeyError, TypeError, ValueError):
                continue
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
