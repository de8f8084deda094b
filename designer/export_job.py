"""An export that traces the model (ONNX, torch.export) runs as `main.py export` in a process of
its own: tracing a long recurrent network takes up to a minute, and done in the window's process
it froze the window for all of it (on a thread it deadlocked against the event loop importing
torch.distributed). The window stays live, shows progress and can cancel; the exporter writes
atomically, so a cancelled export leaves the old file, or none, and no temporary.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from runtime.export_deploy import ExportFormat

from .design_process import DesignProcess


class ExportJob(DesignProcess):
    """One export at a time, in a separate process.

    Signals:
        finished(str): the file was written; what `main.py export` said about it.
        failed(str): it was refused or could not run; the reason, the design named as the user
            knows it.
    """

    finished = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent, prefix="layerlab-export-")
        self.target: Path | None = None
        self._started = 0.0

    @staticmethod
    def command(design_file: Path, fmt: ExportFormat, path: Path, weights: Path | None,
                network: str | None) -> list[str]:
        return ["export", str(design_file), "--format", fmt.name, "-o", str(path),
                *(["--weights", str(weights)] if weights is not None else []),
                *(["--network", network] if network else [])]

    def start(self, document: dict, name: str, fmt: ExportFormat, path: str | Path,
              weights: Path | None = None, network: str | None = None) -> None:
        """Export `document` (the design as it is now, `name` to the user) to `path`."""
        self.cancel()
        self.target, self._started = Path(path), time.time()
        self._launch(document, name,
                     lambda file: self.command(file, fmt, self.target, weights, network))

    def cancel(self) -> None:
        """End an export under way: its temporary files go, the target stays as it was."""
        was_running = self.running
        super().cancel()
        if was_running:
            self._remove_temporaries()

    def _remove_temporaries(self) -> None:
        """What the killed writer left beside its targets (document.temp_beside's names)."""
        target = self.target
        if target is None:
            return
        for written in (target, target.with_suffix(".safetensors")):
            for tmp in written.parent.glob(f".{written.name}.*.tmp"):
                try:
                    if tmp.stat().st_mtime >= self._started - 1:
                        tmp.unlink()
                except OSError:
                    continue

    def _could_not_start(self, reason: str) -> None:
        self.failed.emit(f"the export could not start: {reason}")

    def _ended(self, code: int, normal: bool, out: str, err: str, shown_as: str) -> None:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        if normal and code == 0:
            self.finished.emit(lines[-1] if lines else f"wrote {self.target}")
            return
        if not normal:
            self._remove_temporaries()
        # the problems listed, then "not exported: ..." or "export failed: <reason>"
        message = "\n".join(line.removeprefix("export failed: ") for line in lines[-12:])
        self.failed.emit(message or f"the export ended with exit code {code}")
