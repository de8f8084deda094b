"""What one training run has reported, kept as growing series for the plots (no Qt here).

The controller feeds worker events (runtime/training/events.py) into a `RunRecord`, which keeps
their JSON forms (so a record is plain data) and grows series for the plots. Series are numpy
buffers that double when full, and `Series.x`/`.y` are views of the filled part, so handing them
to pyqtgraph's `setData` costs no copy and later appends never disturb a view already drawn.
"""
from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from runtime.design_diff import diff_documents
from runtime.document import from_dict, write_atomic
from runtime.errors import LayerLabError
from runtime.runs import DESIGN, read_run
from runtime.training import events as ev
from runtime.training.config import with_setting
from runtime.training.statistics import node_series

#: Per-node statistics kept over time (from the trainer's monitor events).
NODE_STATS = tuple(node_series())
#: Status of a run that has ended.
ENDED = ev.END_STATUSES


class Series:
    """An (x, y) series that grows by appending."""

    def __init__(self, capacity: int = 256):
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0

    def append(self, x: float, y: float | None) -> None:
        if self.n == len(self._x):
            self._x = np.concatenate([self._x, np.empty(len(self._x))])
            self._y = np.concatenate([self._y, np.empty(len(self._y))])
        self._x[self.n] = x
        self._y[self.n] = math.nan if y is None else y
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.n]

    def last(self) -> float | None:
        return float(self._y[self.n - 1]) if self.n else None

    def __len__(self) -> int:
        return self.n


class RunRecord:
    """One run: its settings, what it reported, and where it stands.

    Args:
        number: 1 for the first run of this design in the session, 2 for the next, ...
        document: The design (``runtime.document.to_dict``) as it was when the run started.
        changes: What differs from the previous run ("lr 0.01 -> 0.1"), or "" for the first.
    """

    def __init__(self, number: int, document: dict, changes: str = ""):
        self.number = number
        self.document = document
        self.changes = changes
        self.status = "starting"
        self.folder: str | None = None  # its run folder, once the worker says
        self.training_since = time.monotonic()  # reset when training begins (fit_start)
        self.info: dict[str, Any] = {}  # the fit_start event
        self.preparing: dict | None = None  # the latest preparing event, before fit_start
        self.samples: dict[str, dict] = {}  # per group, the latest samples event
        self.translations: dict | None = None  # a seq2seq run's latest decoded pairs
        self.progress: dict[str, Any] = {}  # the latest step or epoch_end event
        self.step_loss = Series()
        self.lr = Series(64)
        self.epochs: list[dict] = []
        self.epoch_series: dict[str, Series] = {}  # "train_loss", "val_accuracy", ... per epoch
        self.node_stats: dict[str, dict[str, Series]] = {}
        self.latest: dict[str, dict] = {}  # per node, the last monitor entry (histograms)
        self.monitor_step = 0
        self.errors: list[dict] = []
        self.warnings: list[str] = []
        self.lr_changes: list[dict] = []
        self.report: dict | None = None  # the first Output's (the only one's, usually)
        self.reports: list[dict] = []  # one per Output, in the design's order
        self.end: dict | None = None
        #: The doctor's findings: per (code, node, field), the latest diagnosis event about it
        #: (status "new", "updated" or "withdrawn"), in the order they were first found.
        self.diagnoses: dict[tuple, dict] = {}
        self.diagnosis_count = 0  # diagnosis events taken in, so views redraw only when needed
        self.version = 0  # bumped on every change, so views redraw only when needed
        self.name: str | None = None  # a kept run's own name (from its folder), shown as label
        self._depth_order: list[str] | None = None

    # --- reading ----------------------------------------------------------------------------
    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return f"Run {self.number}" + (f": {self.changes}" if self.changes else "")

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def steps_per_epoch(self) -> int:
        return int(self.info.get("steps_per_epoch") or 1)

    def epoch_of(self, step: float) -> float:
        """A step number as a (fractional) epoch, the x axis every plot shares."""
        return step / self.steps_per_epoch

    def stat(self, node_id: str, name: str) -> Series | None:
        return self.node_stats.get(node_id, {}).get(name)

    def depth_order(self) -> list[str]:
        """The design's node ids, every edge going forward (ties keep file order); file order
        for a kept design this version cannot load."""
        if self._depth_order is None:
            try:
                self._depth_order = from_dict(self.document).topological_order()
            except LayerLabError:
                self._depth_order = [n["id"] for n in self.document.get("nodes", [])]
        return self._depth_order

    def gradient_layers(self) -> list[str]:
        """The nodes whose gradient norm was measured, input side first: the plots colour a
        layer by its place in this list, so layers at the same depth match across runs."""
        return [n for n in self.depth_order() if "grad_norm" in self.node_stats.get(n, {})]

    def current(self, node_id: str, name: str) -> float | None:
        """The latest value of one node statistic (None if never measured)."""
        value = self.latest.get(node_id, {}).get(name)
        return None if value is None or not math.isfinite(value) else float(value)

    def metric_names(self) -> list[str]:
        """Metric names reported per epoch besides the loss ("accuracy", "mse", ...)."""
        names = []
        for key in self.epoch_series:
            base = key.split("_", 1)[1]
            if key.startswith(("train_", "val_")) and base != "loss" and base not in names:
                names.append(base)
        return names

    @property
    def failure(self) -> dict | None:
        return self.errors[-1] if self.errors else None

    @classmethod
    def from_folder(cls, folder: str | Path, number: int = 0) -> "RunRecord":
        """A kept run rebuilt from its run folder (runtime.runs): events.jsonl replayed through
        the same handlers as live events. RunError when the folder is not a readable run;
        event lines of kinds this version does not know are skipped."""
        info = read_run(folder)
        try:
            document = json.loads((info.folder / DESIGN).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            document = {"nodes": [], "edges": []}
        run = cls(number, document)
        run.name = info.name
        run.folder = str(info.folder)
        run.replay(info.events())
        if not run.ended:  # no end was written: still going, or the app or machine stopped
            run.status = info.status
        return run

    def replay(self, events: Iterable[dict]) -> None:
        """Take in events in their JSON form (a run folder's events.jsonl)."""
        for event in events:
            cls = ev.EVENTS.get(event.get("event"))
            handler = _HANDLERS.get(cls)
            if handler is not None:
                handler(self, event)
                self.version += 1

    # --- feeding ----------------------------------------------------------------------------
    def apply(self, events: Iterable[ev.Event]) -> None:
        """Take in worker events (in arrival order)."""
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event.to_json())
                self.version += 1

    def _on_worker_started(self, event: dict) -> None:
        self.status = "starting"
        self.folder = event.get("run_folder")  # where the run is kept (None: not kept)

    def _on_preparing(self, event: dict) -> None:
        self.preparing = event

    def _on_samples(self, event: dict) -> None:
        self.samples[event.get("group", "dreams")] = event

    def _on_translations(self, event: dict) -> None:
        self.translations = event

    def _on_fit_start(self, event: dict) -> None:
        self.info = event
        self.training_since = time.monotonic()  # not counting the worker's start-up
        self.status = "running"
        if event.get("lr") is not None:
            self.lr.append(0.0, event["lr"])

    def _on_step(self, event: dict) -> None:
        self.progress = event
        x = self.epoch_of(event["step"])
        self.step_loss.append(x, event.get("loss"))
        if event.get("lr") is not None and event["lr"] != self.lr.last():
            self.lr.append(x, event["lr"])

    def _on_epoch_end(self, event: dict) -> None:
        self.epochs.append(event)
        self.progress = {**self.progress, **event, "step_in_epoch": self.steps_per_epoch}
        x = float(event["epoch"])
        for key, value in event.items():
            if key.startswith(("train_", "val_")) and (value is None
                                                       or isinstance(value, (int, float))):
                self.epoch_series.setdefault(key, Series(64)).append(x, value)

    def _on_monitor(self, event: dict) -> None:
        self.monitor_step = event["step"]
        x = self.epoch_of(event["step"])
        for node_id, entry in event.get("nodes", {}).items():
            stats = self.node_stats.setdefault(node_id, {})
            for name in NODE_STATS:
                if name in entry:
                    stats.setdefault(name, Series(64)).append(x, entry[name])
            self.latest[node_id] = entry

    def _on_lr_changed(self, event: dict) -> None:
        self.lr_changes.append(event)
        x = self.epoch_of(event["step"])
        old = self.lr.last()
        if old is not None:  # a change by hand is a jump: drawn as a step, not a ramp
            self.lr.append(x, old)
        self.lr.append(x, event["lr"])

    def _on_paused(self, event: dict) -> None:
        if not self.ended:
            self.status = "paused"

    def _on_resumed(self, event: dict) -> None:
        if not self.ended:
            self.status = "running"

    def _on_warning(self, event: dict) -> None:
        node = event.get("node")
        self.warnings.append(event.get("message", "") + (f" (node '{node}')" if node else ""))

    def _on_diagnosis(self, event: dict) -> None:
        finding = event.get("finding") or {}
        key = (finding.get("code"), finding.get("node"), finding.get("field"))
        self.diagnoses[key] = event
        self.diagnosis_count += 1

    def _on_error(self, event: dict) -> None:
        self.errors.append(event)

    def _on_report(self, event: dict) -> None:
        self.reports.append(event)
        self.report = self.reports[0]

    def _on_fit_end(self, event: dict) -> None:
        self.end = event
        self.status = event.get("status") or "failed"

    # --- export -----------------------------------------------------------------------------
    def write_csv(self, path: str | Path) -> None:
        """The per-epoch metrics as CSV (one row per epoch), written atomically."""
        columns: list[str] = []
        for event in self.epochs:
            columns += [k for k in event if k != "event" and k not in columns]
        lines = _CsvLines()
        writer = csv.writer(lines, lineterminator="\n")
        writer.writerow(columns)
        for event in self.epochs:
            writer.writerow(["" if event.get(c) is None else event.get(c) for c in columns])
        write_atomic(Path(path), "".join(lines.rows))


#: Which handler takes each event type (events the record does not keep are ignored).
_HANDLERS = {
    ev.WorkerStarted: RunRecord._on_worker_started, ev.Preparing: RunRecord._on_preparing,
    ev.FitStart: RunRecord._on_fit_start, ev.Samples: RunRecord._on_samples,
    ev.Translations: RunRecord._on_translations,
    ev.Step: RunRecord._on_step, ev.EpochEnd: RunRecord._on_epoch_end,
    ev.Monitor: RunRecord._on_monitor, ev.LrChanged: RunRecord._on_lr_changed,
    ev.Paused: RunRecord._on_paused, ev.Resumed: RunRecord._on_resumed,
    ev.RunWarning: RunRecord._on_warning, ev.Diagnosis: RunRecord._on_diagnosis,
    ev.Error: RunRecord._on_error,
    ev.Report: RunRecord._on_report, ev.FitEnd: RunRecord._on_fit_end,
}


class _CsvLines:
    """A file-like sink for csv.writer that keeps the text in memory."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def write(self, text: str) -> None:
        self.rows.append(text)


# --- what changed between two runs ----------------------------------------------------------
def describe_changes(before: dict, after: dict, lr_override: float | None = None,
                     limit: int = 3) -> str:
    """What differs between two design documents, e.g. "lr 0.01 → 0.1, fc1: Sigmoid → ReLU"
    (runtime.design_diff's labels: training settings compared with their defaults filled in,
    replaced nodes paired, positions ignored). `lr_override` is the learning rate the previous
    run ended with when it was changed during that run."""
    if lr_override is not None:
        before = dict(before, training=with_setting(before.get("training") or {},
                                                    "optimizer.lr", lr_override))
    try:
        labels = diff_documents(before, after).labels(limit=limit)
    except LayerLabError:  # a document that does not load: say so rather than fail the run
        return "changed"
    return ", ".join(labels) if labels else "same settings"
