"""Autosave copies of unsaved designs and their recovery after a crash.

Every minute while a design has unsaved changes, its document is serialised on the GUI thread
(a cheap dict copy) and written atomically by a background thread to the autosave folder, with a
small sidecar naming the file it belongs to. A clean save or a normal close deletes the copy; a
copy still there at the next start means the app did not close normally, so it is offered back.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from runtime.document import write_atomic


@dataclass(frozen=True)
class Recoverable:
    """An autosaved design left behind by a session that did not close normally."""

    design_path: Path
    meta_path: Path
    original: Path | None
    saved_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        name = self.original.name if self.original else "an unsaved design"
        return f"{name} (autosaved {when})"

    def discard(self) -> None:
        for path in (self.design_path, self.meta_path):
            path.unlink(missing_ok=True)


class Autosaver:
    """Writes one session's autosave copy; `folder` holds the copies of every session."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def design_path(self) -> Path:
        return self.folder / f"autosave-{self.token}.json"

    @property
    def meta_path(self) -> Path:
        return self.folder / f"autosave-{self.token}.meta.json"

    def save(self, text: str, original: Path | None) -> threading.Thread:
        """Write `text` in a background thread (atomic); returns the thread (tests join it)."""
        meta = json.dumps({"original": str(original) if original else None,
                           "saved_at": time.time(), "pid": os.getpid()})

        def write() -> None:
            with self._lock:
                self.folder.mkdir(parents=True, exist_ok=True)
                write_atomic(self.design_path, text)
                write_atomic(self.meta_path, meta)
        self._thread = threading.Thread(target=write, name="autosave", daemon=True)
        self._thread.start()
        return self._thread

    def clear(self) -> None:
        """Remove this session's copy (after a clean save or a normal exit)."""
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            self.design_path.unlink(missing_ok=True)
            self.meta_path.unlink(missing_ok=True)


def find_recoverable(folder: Path, exclude: Autosaver | None = None) -> list[Recoverable]:
    """Autosave copies whose session ended without cleaning up, newest first."""
    found = []
    for meta_path in sorted(Path(folder).glob("autosave-*.meta.json")):
        if exclude is not None and meta_path == exclude.meta_path:
            continue
        design_path = meta_path.with_name(meta_path.name.replace(".meta.json", ".json"))
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not design_path.exists() or _pid_alive(meta.get("pid")):
            continue
        original = Path(meta["original"]) if meta.get("original") else None
        found.append(Recoverable(design_path, meta_path, original, float(meta.get("saved_at", 0))))
    return sorted(found, key=lambda r: r.saved_at, reverse=True)


def _pid_alive(pid: object) -> bool:
    """Another running LayerLab owns this copy (do not offer it while that window is open)."""
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
