"""The training dock: Train / Pause / Stop, the learning rate, progress, messages, and the form.

It shows the controller's state and sends the user's commands to it; it keeps no run state.
"""
from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from runtime.graph import MetaChanged
from runtime.present import format_duration

from . import style
from .run_data import RunRecord
from .training_controller import TrainingController
from .training_form import TrainingForm


#: What the panel says while the training process starts (before its first event of the run).
STARTING = ("Starting the training process: loading PyTorch and the data, building the "
            "network…")
#: The progress line is refreshed at most this often while a run trains. Each refresh re-lays out
#: the dock (the status wraps) and repaints it with its form; at the controller's 30 Hz that was
#: the GUI's largest cost, and on two cores the GUI's work is taken from the training process.
PROGRESS_MS = 250


class TrainingPanel(QWidget):
    """Controls and settings of training.

    Signals:
        problem_node(str): a failure names this node (the window selects it on the canvas).
    """

    problem_node = Signal(str)

    def __init__(self, controller: TrainingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("▶ Train")
        self.train_button.setToolTip("Train the design as it is now (F5)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Hold the run after the current batch; press again to "
                                     "resume")
        self.stop_button = QPushButton("■ Stop")
        self.stop_button.setToolTip("End the run after the current batch (Shift+F5)")
        for button in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

        lr_row = QHBoxLayout()
        lr_row.addWidget(QLabel("Learning rate"))
        self.lr_box = QDoubleSpinBox()
        self.lr_box.setDecimals(6)
        self.lr_box.setRange(1e-6, 10.0)
        self.lr_box.setSingleStep(0.0005)
        self.lr_box.setKeyboardTracking(False)
        self.lr_box.setToolTip("The learning rate; during a run, press Apply to send it to the "
                               "run at once (the design keeps its own)")
        lr_row.addWidget(self.lr_box, 1)
        self.lr_button = QPushButton("Apply")
        self.lr_button.setToolTip("Use this learning rate from the next step of the current run")
        lr_row.addWidget(self.lr_button)
        layout.addLayout(lr_row)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("not started")
        layout.addWidget(self.progress)
        self.status = QLabel("Press Train to start.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.stale = QLabel("The design changed after this run started; the run trains the "
                            "design as it was. Train again to use the changes.")
        self.stale.setWordWrap(True)
        self.stale.setStyleSheet(f"color: {style.WARNING.name()};")
        self.stale.hide()
        layout.addWidget(self.stale)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout.addWidget(self.message)

        self.form = TrainingForm(controller.session)
        layout.addWidget(self.form, 1)

        self.train_button.clicked.connect(self.train)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(controller.stop)
        self.lr_button.clicked.connect(self.apply_lr)
        controller.state_changed.connect(self._on_state)
        controller.run_updated.connect(self._on_run)
        self._pending: RunRecord | None = None
        self._shown_at = 0.0
        self._shown_phase: tuple[int, bool] | None = None
        self._later = QTimer(self)  # shows the last update held back by PROGRESS_MS
        self._later.setSingleShot(True)
        self._later.timeout.connect(lambda: self._pending and self._on_run(self._pending))
        controller.run_finished.connect(self._on_finished)
        controller.runs_cleared.connect(self._reset)
        controller.stale_changed.connect(self.stale.setVisible)
        controller.session.model_event.connect(
            lambda event: isinstance(event, MetaChanged) and event.field == "training"
            and self._sync_lr())
        controller.session.model_replaced.connect(self._sync_lr)
        self._sync_lr()
        self._on_state("idle")

    # --- commands ---------------------------------------------------------------------------
    def train(self) -> bool:
        """Start a run; shows why not when the design or its settings have errors."""
        problem = self.controller.start()
        if problem:
            self.show_message(f"Cannot train: {problem}", error=True)
            return False
        self.show_message("")
        return True

    def toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def apply_lr(self) -> None:
        """Send the learning rate to the run (during one), else store it in the design."""
        lr = float(self.lr_box.value())
        if self.controller.busy:
            self.controller.set_lr(lr)
        else:
            self.form.set_field("optimizer.lr", lr)

    def _sync_lr(self) -> None:
        if self.controller.busy:
            return
        try:
            optimizer = self.form.effective().get("optimizer")
        except (TypeError, AttributeError, ValueError):  # a hand-edited block the form flags
            return
        lr = optimizer.get("lr") if isinstance(optimizer, dict) else None  # "optimizer": 0.5
        if isinstance(lr, (int, float)) and not isinstance(lr, bool):  # else the form flags it
            self._show_lr(float(lr))

    def _show_lr(self, lr: float) -> None:
        self.lr_box.blockSignals(True)
        self.lr_box.setValue(lr)
        self.lr_box.blockSignals(False)

    # --- showing ----------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False, result: bool = False) -> None:
        """A note under the progress bar: an error in red, a run's result in the text colour
        (with its headline in bold, as HTML), anything else muted."""
        self.message.setTextFormat(Qt.TextFormat.RichText if result else Qt.TextFormat.PlainText)
        self.message.setText(text)
        color = style.ERROR if error else None if result else style.NODE_SUBTEXT
        self.message.setStyleSheet(f"color: {color.name()};" if color else "")
        self.message.setVisible(bool(text))

    def _on_state(self, state: str) -> None:
        busy = state != "idle"
        self.train_button.setEnabled(not busy)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(busy and state != "stopping")
        self.lr_button.setText("Apply to run" if busy else "Apply")
        if state == "starting":
            self.progress.setRange(0, 0)  # busy: how long start-up takes is not known
            self.progress.setFormat("starting the training process…")
            self.status.setText(STARTING)
        elif state == "stopping":
            self.status.setText("Stopping after the current batch…")
        elif state == "paused":
            self.progress.setFormat(self.progress.format().split(" (paused)")[0] + " (paused)")
        if not busy:
            self.stale.hide()

    def _on_run(self, run: RunRecord) -> None:
        now = time.monotonic()
        wait = self._shown_at + PROGRESS_MS / 1000 - now
        phase = (run.number, bool(run.info))  # a new run or its first step shows at once
        if wait > 0 and run.status == "running" and phase == self._shown_phase:
            self._pending = run
            self._later.isActive() or self._later.start(int(wait * 1000) + 1)
            return
        self._pending, self._shown_at, self._shown_phase = None, now, phase
        self._later.stop()
        info, progress = run.info, run.progress
        if not info and run.preparing:  # e.g. pre-training the preset it starts from
            self.progress.setValue(int(1000 * min(max(run.preparing.get("done", 0.0), 0.0), 1.0)))
            self.progress.setFormat("preparing…")
            self.status.setText(run.preparing.get("message", ""))
            return
        if not info:  # the worker is starting: no epoch or step to show yet
            self.progress.setRange(0, 0)
            self.progress.setFormat("starting the training process…")
            self.status.setText(STARTING)
            return
        self.progress.setRange(0, 1000)
        epochs = info.get("epochs") or progress.get("epochs") or 1
        start = info.get("start_epoch", 1)
        spe = run.steps_per_epoch
        epoch = progress.get("epoch", start)
        in_epoch = progress.get("step_in_epoch", 0)
        done = (epoch - start) * spe + in_epoch
        total = max((epochs - start + 1) * spe, 1)
        self.progress.setValue(int(1000 * min(done / total, 1.0)))
        paused = " (paused)" if run.status == "paused" else ""
        self.progress.setFormat(f"epoch {epoch}/{epochs} · step {in_epoch}/{spe}{paused}")
        rate = run.epochs[-1].get("samples_per_s") if run.epochs else None
        if rate is None and run.step_loss.n > 1 and info:
            elapsed = max(time.monotonic() - run.training_since, 1e-9)
            rate = done * (info.get("batch_size") or 1) / elapsed
        parts = [f"{info.get('device', '?')}",
                 f"{rate:,.0f} samples/s" if rate else "",
                 f"ETA {format_duration(progress.get('eta_s'))}",
                 f"loss {progress['loss']:.4g}" if progress.get("loss") is not None else ""]
        self.status.setText(" · ".join(p for p in parts if p))
        if run.lr_changes:
            self._show_lr(run.lr_changes[-1]["lr"])
        if run.warnings:
            self.show_message(run.warnings[-1])

    def _reset(self) -> None:
        """Another design is on screen: nothing here describes it yet."""
        self._later.stop()  # the held-back update is older than this
        self._pending = None
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("not started")
        self.status.setText("Press Train to start.")
        self.show_message("")

    def _on_finished(self, run: RunRecord) -> None:
        self._later.stop()  # the held-back update is older than this
        self._pending = None
        self.progress.setRange(0, 1000)
        end = run.end or {}
        failure = run.failure
        if failure is not None:
            node = failure.get("node")
            where = f" (at {node})" if node else ""
            self.show_message(f"Training failed{where}: {failure.get('message')}\nThe design is "
                              "unchanged; fix it and press Train again.", error=True)
            if node:
                self.problem_node.emit(node)
            self.progress.setFormat("failed")
        else:
            final = end.get("final") or {}
            best = end.get("best") or {}
            shown = [(k, v) for k, v in final.items()
                     if k.startswith("val_") and isinstance(v, (int, float))]
            # the headline first and in bold: the first metric, else the loss
            shown.sort(key=lambda kv: kv[0] == "val_loss")
            summary = ", ".join((f"<b>{html.escape(k)} {v:.4g}</b>" if i == 0
                                 else f"{html.escape(k)} {v:.4g}")
                                for i, (k, v) in enumerate(shown))
            words = {"completed": "Finished", "stopped": "Stopped",
                     "early_stopped": "Stopped early (no more improvement)"}
            text = (f"{words.get(run.status, run.status)} after {end.get('epochs_run') or 0} "
                    f"epoch(s) in {format_duration(end.get('elapsed_s'))}"
                    + (f": {summary}" if summary else "") + ".")
            if best.get("epoch"):
                text += (f" Best {html.escape(best['monitor'])} {best['value']:.4g} at epoch "
                         f"{best['epoch']}.")
            self.show_message(text, result=True)
            if run.status == "completed":
                self.progress.setValue(1000)
            self.progress.setFormat(words.get(run.status, run.status).split(" (")[0].lower())
        self._sync_lr()

