"""One `main.py` command on a copy of the design, in a process of its own: the window's process
never traces, checks or trains a model (it would freeze the window, or deadlock against the event
loop on a thread). Shared by the pre-flight check and the exports that trace the model."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QProcess

#: main.py, beside the designer package (in a checkout or installed).
MAIN_PY = Path(__file__).resolve().parent.parent / "main.py"


class DesignProcess(QObject):
    """Runs `main.py ARGS` where ARGS name a temporary copy of the design; one at a time.

    A subclass says what the end means: `_ended(code, normal, out, err)` with the command's exit
    code, whether it exited by itself, its standard output and error (the temporary file named
    as the user knows the design); `_could_not_start(reason)`.
    """

    def __init__(self, parent: QObject | None = None, prefix: str = "layerlab-"):
        super().__init__(parent)
        self.process: QProcess | None = None
        self._prefix = prefix
        self._file: Path | None = None
        self._name = ""

    @property
    def running(self) -> bool:
        return self.process is not None

    def _launch(self, document: dict, name: str, args: Callable[[Path], list[str]],
                workdir: Path | None = None) -> None:
        """Write `document` to a temporary file and run `main.py *args(that file)`."""
        self.cancel()
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", prefix=self._prefix,
                                             delete=False, encoding="utf-8")
        with handle:
            handle.write(json.dumps(document, indent=1))
        self._file, self._name = Path(handle.name), name
        process = self.process = QProcess(self)
        if workdir is not None:
            process.setWorkingDirectory(str(workdir))
        process.finished.connect(lambda code, status: self._finished(process, code, status))
        process.errorOccurred.connect(lambda error: self._error(process, error))
        process.start(sys.executable, [str(MAIN_PY), *args(self._file)])

    def cancel(self) -> None:
        """End the command under way; nothing is reported."""
        process, self.process = self.process, None
        if process is not None:
            process.blockSignals(True)
            process.kill()
            process.waitForFinished(5000)
            process.deleteLater()
        self._cleanup()

    def named(self, text: str, shown_as: str) -> str:
        """`text` with the temporary file's path replaced by the design's name."""
        return text.replace(shown_as, self._name)

    def _cleanup(self) -> None:
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None

    def _error(self, process: QProcess, error: QProcess.ProcessError) -> None:
        if process is self.process and error == QProcess.ProcessError.FailedToStart:
            self.process = None
            self._cleanup()
            process.deleteLater()
            self._could_not_start(process.errorString())

    def _finished(self, process: QProcess, code: int, status: QProcess.ExitStatus) -> None:
        if process is not self.process:
            return
        self.process = None
        shown_as = str(self._file)
        self._cleanup()
        out = bytes(process.readAllStandardOutput()).decode("utf-8", "replace")
        err = bytes(process.readAllStandardError()).decode("utf-8", "replace")
        process.deleteLater()
        self._ended(code, status == QProcess.ExitStatus.NormalExit, out,
                    self.named(err, shown_as), shown_as)

    def _ended(self, code: int, normal: bool, out: str, err: str, shown_as: str) -> None:
        raise NotImplementedError

    def _could_not_start(self, reason: str) -> None:
        raise NotImplementedError
