"""Runs training for the designer: starts the worker process, drains its events on a timer.

The GUI never waits on the worker. A ~30 Hz timer takes whatever events have arrived, feeds them
into the current `RunRecord`, and emits `run_updated` once per tick in which something arrived
(the plots repaint on their own, slower clock; see training_plots.py).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from runtime.document import to_dict
from runtime.errors import TrainingConfigError, TrainingError
from runtime.graph import GraphModel, is_cosmetic
from runtime.training.config import parse_training
from runtime.training.data_fit import check_structure
from runtime.runs import runs_root
from runtime.worker import SpareProcess, Stop, TrainingWorker

from .run_data import RunRecord, describe_changes
from .session import DesignSession

#: How often the worker's events are drained, in milliseconds.
DRAIN_INTERVAL_MS = 33
#: Most events taken per tick, so a burst never stalls the event loop.
EVENTS_PER_TICK = 2000
#: How long a Stop waits for the run to end by itself before the process is ended.
STOP_TIMEOUT_S = 2.0
#: How long a finished run's process may take to exit before it is ended.
RETIRE_S = 5.0
#: Idle time before a spare training process is started (after start-up, after each run).
SPARE_DELAY_MS = 1500


class TrainingController(QObject):
    """The training runs of one design session (one at a time) and their history.

    Signals:
        run_started(RunRecord): a new run was created (its worker is starting).
        run_updated(RunRecord): events arrived for the current run (at most once per tick).
        run_finished(RunRecord): the current run ended (completed, stopped or failed).
        state_changed(str): "idle", "starting", "running", "paused" or "stopping".
        stale_changed(bool): the design was edited after the current run started.
    """

    run_started = Signal(object)
    run_updated = Signal(object)
    run_finished = Signal(object)
    state_changed = Signal(str)
    stale_changed = Signal(bool)
    #: Another design was opened and no run goes on: views drop what the last run showed.
    runs_cleared = Signal()

    def __init__(self, session: DesignSession, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.runs: list[RunRecord] = []
        self.worker: TrainingWorker | None = None
        self.stale = False
        self._stopping = False
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)
        self._retiring: list[tuple[TrainingWorker, float]] = []
        self._reaper = QTimer(self)
        self._reaper.setInterval(200)
        self._reaper.timeout.connect(self._reap)
        session.model_event.connect(self._on_design_edited)
        session.model_replaced.connect(self._on_design_replaced)
        #: A training process started ahead of time (set_warm), which the next run takes.
        self.spare: SpareProcess | None = None
        self._warm = False
        self._spare_timer = QTimer(self)
        self._spare_timer.setSingleShot(True)
        self._spare_timer.setInterval(SPARE_DELAY_MS)
        self._spare_timer.timeout.connect(self._prepare_spare)

    # --- a warm training process ------------------------------------------------------------
    def set_warm(self, on: bool) -> None:
        """Keep a training process ready (after a moment of idle, and again after each run),
        so Train starts within a second instead of spawning and importing torch (seconds)."""
        self._warm = bool(on)
        if on:
            self._spare_timer.start()
        else:
            self._spare_timer.stop()
            self._close_spare()

    def _prepare_spare(self) -> None:
        if not self._warm:
            return
        if self.busy:  # not while a run uses the cores; again when it ends
            return
        if self.spare is None or not self.spare.ready:
            self._close_spare()
            self.spare = SpareProcess()

    def _close_spare(self) -> None:
        spare, self.spare = self.spare, None
        if spare is not None:
            spare.close()

    # --- state ----------------------------------------------------------------------------
    @property
    def current(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    @property
    def state(self) -> str:
        run = self.current
        if self.worker is None or run is None or run.ended:
            return "idle"
        if self._stopping:
            return "stopping"
        return "paused" if run.status == "paused" else (
            "running" if run.status == "running" else "starting")

    @property
    def busy(self) -> bool:
        return self.state != "idle"

    # --- starting ---------------------------------------------------------------------------
    def start_problem(self) -> str | None:
        """Why the design cannot be trained now, or None when it can."""
        if self.busy:
            return "a run is already going: stop it first"
        analysis = self.session.analysis
        if analysis.errors:
            first = analysis.errors[0]
            more = len(analysis.errors) - 1
            where = f"{first.node}: " if first.node else ""
            return (f"the design has {len(analysis.errors)} error(s); fix them first — "
                    f"{where}{first.message}" + (f" (and {more} more)" if more else ""))
        model = self.session.model
        try:
            config = parse_training(model.training)
        except TrainingConfigError as err:
            first = err.problems[0]
            return f"the training settings have a problem: {first.location}: {first.message}"
        try:
            check_structure(model, config)
        except TrainingError as err:
            return str(err)
        return None

    def start(self, design: GraphModel | None = None, resume: str | None = None,
              run_root: Path | None = None, design_path: str | None = None,
              name: str | None = None) -> str | None:
        """Start a run of the design as it is now; returns why not (and starts nothing) or None.

        With `design` (a kept run's design) and `resume` (its last.pt), continue that run
        instead, kept under `run_root` beside it (the Runs tab's "Continue for N epochs").
        `name` names the run (its label, and its run folder's name)."""
        if design is None:
            problem = self.start_problem()
            if problem:
                return problem
        elif self.busy:
            return "a run is already going: stop it first"
        model = self.session.model if design is None else design
        document = copy.deepcopy(to_dict(model))
        previous = self.current
        changes = ""
        if previous is not None:
            lr_at_end = previous.lr.last() if previous.lr_changes else None
            changes = describe_changes(previous.document, document, lr_at_end)
        run = RunRecord(len(self.runs) + 1, document, changes)
        run.name = name
        self.runs.append(run)
        base_dir = self.session.path.parent if self.session.path else Path.cwd()
        if design is not None and design_path:  # relative data paths as the run's design had
            base_dir = Path(design_path).parent
        if design_path is None and design is None and self.session.path:
            design_path = str(self.session.path)
        # every run is kept as a run folder: beside a saved design, else in the data folder
        spare, self.spare = self.spare, None
        self.worker = TrainingWorker(model, spare=spare, base_dir=base_dir,
                                     run_root=run_root or runs_root(self.session.path),
                                     design_path=design_path,
                                     **({"resume": str(resume)} if resume else {}),
                                     **({"run_name": name} if name else {}))
        self.worker.start()
        self._stopping = False
        self._set_stale(False)
        self._timer.start()
        self.run_started.emit(run)
        self.state_changed.emit(self.state)
        return None

    # --- commands ---------------------------------------------------------------------------
    def pause(self) -> None:
        if self.worker is not None and self.state == "running":
            self.worker.pause()

    def resume(self) -> None:
        if self.worker is not None and self.state == "paused":
            self.worker.resume()

    def set_lr(self, lr: float) -> None:
        """Send a new learning rate to the running (or paused) run."""
        if self.worker is not None and self.busy:
            self.worker.set_lr(lr)

    def stop(self) -> None:
        """Ask the run to end after its current batch; the timer sees it finish."""
        if self.worker is None or not self.busy:
            return
        self._stopping = True
        self.state_changed.emit(self.state)
        self.worker.send(Stop())
        QTimer.singleShot(int(STOP_TIMEOUT_S * 1000), self._force_stop)

    def _force_stop(self) -> None:
        if self.worker is not None and self._stopping and self.current and not self.current.ended:
            self._finish(self.worker.stop(timeout=0.0))

    def shutdown(self) -> None:
        """End any run now (the window is closing); waits at most a few seconds."""
        worker, self.worker = self.worker, None
        if worker is not None:
            events = worker.stop(timeout=STOP_TIMEOUT_S)
            worker.close()
            if self.current is not None and not self.current.ended:
                self._finish(events)
        for retired, _ in self._retiring:
            retired.close()
        self._retiring.clear()
        self._timer.stop()
        self._spare_timer.stop()
        self._close_spare()

    # --- events -----------------------------------------------------------------------------
    def drain(self) -> None:
        """Take the events that have arrived (never blocks); called by the timer."""
        worker, run = self.worker, self.current
        if worker is None or run is None:
            self._timer.stop()
            return
        events = worker.poll(EVENTS_PER_TICK)
        if not events:
            return
        before = run.status
        run.apply(events)
        if run.ended:
            self._finish([])
            return
        self.run_updated.emit(run)
        if run.status != before:
            self.state_changed.emit(self.state)

    def _finish(self, events: list[dict]) -> None:
        run = self.current
        if run is not None:
            run.apply(events)
            if not run.ended:
                run.status = "stopped"
        self._timer.stop()
        self._stopping = False
        if self.worker is not None:
            self._retire(self.worker)
            self.worker = None
        if run is not None:
            self.run_updated.emit(run)
            self.run_finished.emit(run)
        self.state_changed.emit(self.state)
        if self._warm:  # the next run finds a process ready too
            self._spare_timer.start()

    def _retire(self, worker: TrainingWorker) -> None:
        # the child exits on its own after fit_end; reap it later instead of joining here
        self._retiring.append((worker, time.monotonic()))
        self._reaper.start()

    def _reap(self) -> None:
        for item in list(self._retiring):
            worker, since = item
            if worker.process.exitcode is not None or time.monotonic() - since > RETIRE_S:
                worker.close()  # ends a child that outstayed RETIRE_S
                self._retiring.remove(item)
        if not self._retiring:
            self._reaper.stop()

    def _on_design_edited(self, event: object) -> None:
        cosmetic = is_cosmetic(event)
        if self.busy and not cosmetic:
            self._set_stale(True)

    def _on_design_replaced(self) -> None:
        # another design: earlier runs are not comparable any more
        self.runs = [r for r in self.runs if not r.ended]
        if self.busy:
            self._set_stale(True)
        else:
            self.runs_cleared.emit()

    def _set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            self.stale_changed.emit(stale)
