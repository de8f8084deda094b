"""An export that traces the model (ONNX, torch.export) runs as `main.py export` in a process of
its own: tracing a long recurrent network takes up to a minute, and done in the window's process
it froze the window for all of it (on a thread it deadlocked against the event loop importing
torch.distributed). The window stays live, shows progress and can cancel; the exporter writes
atomically, so a cancelled export leaves the old file, or none, and no temporary.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from runtime.export_deploy import ExportFormat

from .doctor_state import MAIN_PY


class ExportJob(QObject):
    """One export at a time, in a separate process.

    Signals:
        finished(str): the file was written; what `main.py export` said about it.
        failed(str): it was refused or could not run; the reason, the design named as the user
            knows it.
    """

    finished = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.process: QProcess | None = None
        self.target: Path | None = None
        self._file: Path | None = None
        self._name = ""
        self._started = 0.0

    @property
    def running(self) -> bool:
        return self.process is not None

    @staticmethod
    def command(design_file: Path, fmt: ExportFormat, path: Path, weights: Path | None,
                network: str | None) -> list[str]:
        return [str(MAIN_PY), "export", str(design_file), "--format", fmt.name, "-o", str(path),
                *(["--weights", str(weights)] if weights is not None else []),
                *(["--network", network] if network else [])]

    def start(self, document: dict, name: str, fmt: ExportFormat, path: str | Path,
              weights: Path | None = None, network: str | None = None) -> None:
        """Export `document` (the design as it is now, `name` to the user) to `path`."""
        self.cancel()
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="layerlab-export-",
                                             delete=False, encoding="utf-8")
        with handle:
            handle.write(json.dumps(document, indent=1))
        self._file, self._name = Path(handle.name), name
        self.target, self._started = Path(path), time.time()
        process = self.process = QProcess(self)
        process.finished.connect(lambda code, status: self._done(process, code, status))
        process.errorOccurred.connect(lambda error: self._error(process, error))
        process.start(sys.executable, self.command(self._file, fmt, self.target, weights,
                                                   network))

    def cancel(self) -> None:
        """End an export under way: its temporary files go, the target stays as it was."""
        process, self.process = self.process, None
        if process is None:
            return
        process.blockSignals(True)
        process.kill()
        process.waitForFinished(5000)
        process.deleteLater()
        self._remove_temporaries()
        self._cleanup()

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

    def _cleanup(self) -> None:
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None

    def _error(self, process: QProcess, error: QProcess.ProcessError) -> None:
        if process is self.process and error == QProcess.ProcessError.FailedToStart:
            self.process = None
            self._cleanup()
            process.deleteLater()
            self.failed.emit(f"the export could not start: {process.errorString()}")

    def _done(self, process: QProcess, code: int, status: QProcess.ExitStatus) -> None:
        if process is not self.process:
            return
        self.process = None
        shown_as = str(self._file)
        self._cleanup()
        err = bytes(process.readAllStandardError()).decode("utf-8", "replace")
        process.deleteLater()
        lines = [line.replace(shown_as, self._name).strip() for line in err.splitlines()
                 if line.strip()]
        if status == QProcess.ExitStatus.NormalExit and code == 0:
            self.finished.emit(lines[-1] if lines else f"wrote {self.target}")
            return
        if status != QProcess.ExitStatus.NormalExit:
            self._remove_temporaries()
        # the problems listed, then "not exported: ..." or "export failed: <reason>"
        message = "\n".join(line.removeprefix("export failed: ") for line in lines[-12:])
        self.failed.emit(message or f"the export ended with exit code {code}")
