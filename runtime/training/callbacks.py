"""The trainer's callback interface and the callbacks LayerLab ships."""
from __future__ import annotations

import json
import sys
from typing import IO, TYPE_CHECKING

from ..present import format_duration
from .events import Diagnosis, EpochEnd, Event, FitEnd, FitStart, Preparing, RunWarning, Step

if TYPE_CHECKING:
    from .trainer import Trainer


class Callback:
    """Override what you need. `on_event` sees every event the trainer emits (events.py)."""

    def on_fit_start(self, trainer: "Trainer", event: FitStart) -> None: ...
    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None: ...
    def on_batch_end(self, trainer: "Trainer", step: int) -> None: ...
    def on_validation_end(self, trainer: "Trainer", metrics: dict) -> None: ...
    def on_epoch_end(self, trainer: "Trainer", event: EpochEnd) -> None: ...
    def on_fit_end(self, trainer: "Trainer", event: FitEnd) -> None: ...
    def on_exception(self, trainer: "Trainer", error: BaseException) -> None: ...
    def on_event(self, trainer: "Trainer", event: Event) -> None: ...
    def on_idle(self, trainer: "Trainer") -> None:
        """Called repeatedly while the run is paused (poll for resume/stop here)."""


class JsonLinesWriter(Callback):
    """Writes every event except per-step losses as one JSON object per line."""

    def __init__(self, handle: IO[str], include_steps: bool = False):
        self.handle = handle
        self.include_steps = include_steps

    def on_event(self, trainer: "Trainer", event: Event) -> None:
        if isinstance(event, Step) and not self.include_steps:
            return
        self.handle.write(json.dumps(event.to_json(), default=str) + "\n")
        self.handle.flush()


class ProgressPrinter(Callback):
    """A one-line progress bar per epoch on a terminal, and a line per finished epoch."""

    def __init__(self, stream: IO[str] = sys.stderr, width: int = 24):
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()

    def on_fit_start(self, trainer: "Trainer", event: FitStart) -> None:
        self.stream.write(f"training {event.design} on {event.dataset} "
                          f"({event.train_samples} train / {event.val_samples} val samples) "
                          f"on {event.device}, {event.epochs} epochs"
                          + ("" if event.precision == "float32" else
                             f", {event.precision} autocast")
                          + ("" if event.data == "data in memory" else f"; {event.data}")
                          + "\n")

    def on_event(self, trainer: "Trainer", event: Event) -> None:
        if isinstance(event, RunWarning):
            where = f" (node '{event.node}')" if event.node else ""
            self.stream.write(f"warning{where}: {event.message}\n")
            return
        if isinstance(event, Diagnosis):
            self._diagnosis(event)
            return
        if isinstance(event, Preparing):
            self.stream.write(f"{event.message}\n")
            return
        if isinstance(event, Step) and self.tty:
            done = event.step_in_epoch / max(event.steps_per_epoch, 1)
            bar = "#" * int(done * self.width)
            self.stream.write(f"\repoch {event.epoch}/{event.epochs} [{bar:<{self.width}}] "
                              f"loss {event.loss:.4f}  ETA {format_duration(event.eta_s)}   ")
            self.stream.flush()

    def _diagnosis(self, event: Diagnosis) -> None:
        """The doctor's findings as they come: the first fix with a new one, a line when one
        clears."""
        from ..doctor.findings import Finding
        from ..doctor.present import finding_lines, place

        finding = Finding.from_json(event.finding)
        start = "\r" if self.tty else ""
        if event.status == "withdrawn":
            self.stream.write(f"{start}doctor: cleared at step {event.step}: {finding.code} at "
                              f"{place(finding)}\n")
            return
        lines = finding_lines(finding, explain=False)
        if event.status == "new" and finding.fixes:
            lines.append(f"    fix: {finding.fixes[0].description}")
        self.stream.write(start + "doctor: " + "\n".join(lines) + "\n")

    def on_epoch_end(self, trainer: "Trainer", event: EpochEnd) -> None:
        parts = [f"epoch {event.epoch}/{event.epochs}"]
        parts += [f"{k} {v:.4f}" for k, v in event.values().items() if isinstance(v, float)]
        parts.append(f"{event.samples_per_s:.0f} samples/s")
        parts.append(f"ETA {format_duration(event.eta_s)}")
        self.stream.write(("\r" if self.tty else "") + "  ".join(parts) + " " * 8 + "\n")

    def on_fit_end(self, trainer: "Trainer", event: FitEnd) -> None:
        line = f"{event.status} after {event.epochs_run} epoch(s) in " \
               f"{format_duration(event.elapsed_s)}"
        if event.best:
            best = event.best
            line += f"; best {best['monitor']} {best['value']:.4f} at epoch {best['epoch']}"
        if event.message:
            line += f": {event.message}"
        self.stream.write(line + "\n")
