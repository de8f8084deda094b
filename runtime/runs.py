"""Run folders: every training run kept on disk as a first-class object.

A run folder holds

    run.json        what the run is: name, design, dates, status, device, duration, final and
                    best metrics (rewritten atomically at the start and the end)
    design.json     the design exactly as trained
    training.json   its effective training block (every default filled in)
    events.jsonl    every event of the run, one JSON object per line (flushed line by line: a
                    crash leaves complete lines and at most one cut last line, which readers skip)
    last.pt best.pt checkpoints (torch.load(weights_only=True)-loadable, written atomically)
    report.json     the end-of-run report (confusion matrix, samples), when there is one
    findings.json   the training doctor's findings

Run folders live next to a saved design (`DESIGN.runs/` beside `DESIGN.json`), or for an unsaved
design in the app's data folder (`runs_home()`). A crash or kill at any moment leaves the
previous checkpoint and every file readable: each is replaced atomically or appended by lines.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from .document import dumps, write_atomic
from .errors import LayerLabError
from .graph import GraphModel
from .names import slug
from .training.callbacks import Callback
from .training.config import effective_block
from .training.events import EpochEnd, Event, FitEnd, FitStart, Report

RUN_FORMAT = "layerlab.run"
RUN_VERSION = 1
META, DESIGN, TRAINING, EVENTS, REPORT, FINDINGS = (
    "run.json", "design.json", "training.json", "events.jsonl", "report.json", "findings.json")
#: The suffix of the folder holding a saved design's runs (`spirals.json` -> `spirals.runs/`).
RUNS_SUFFIX = ".runs"
#: Overrides where unsaved designs' runs go (tests, portable installs).
HOME_ENV = "LAYERLAB_DATA"
#: Overrides where saved designs' runs go (all under one folder).
RUNS_ENV = "LAYERLAB_RUNS"


class RunError(LayerLabError):
    """A run folder that cannot be read, renamed or deleted (the message says why)."""


def runs_home() -> Path:
    """The app data folder for runs of unsaved designs: $LAYERLAB_DATA/runs, else the platform's
    per-user data folder (XDG_DATA_HOME on Linux, Application Support on macOS, APPDATA on
    Windows)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]) / "runs"
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "LayerLab"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "LayerLab"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") \
            / "layerlab"
    return base / "runs"


def runs_root(design_path: str | os.PathLike | None) -> Path:
    """Where the runs of a design live: beside its file, or in the app data folder. With
    $LAYERLAB_RUNS set, every design's runs go under that folder instead (`NAME.runs/` in it):
    for designs in read-only places, and for the tests."""
    if design_path is None:
        return runs_home()
    path = Path(design_path)
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV]) / (path.stem + RUNS_SUFFIX)
    return path.with_name(path.stem + RUNS_SUFFIX)


def _now() -> str:
    # milliseconds: two runs started within one second still sort in the order they began
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def newest_first(runs: "list[RunInfo]") -> "list[RunInfo]":
    """Runs ordered newest first by creation time, then by folder name."""
    def key(run: "RunInfo") -> tuple[float, str]:
        try:
            when = datetime.fromisoformat(run.meta.get("created") or "").timestamp()
        except ValueError:  # a hand-edited or missing time sorts as oldest
            when = 0.0
        return when, run.folder.name

    return sorted(runs, key=key, reverse=True)


def new_run_dir(root: Path, design_name: str) -> Path:
    """A fresh, uniquely named folder under `root` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(design_name or 'design')[:40]}"
    for n in range(1000):
        candidate = root / (stem if n == 0 else f"{stem}-{n + 1}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunError(f"cannot create a run folder under {root}: too many runs this second")


#: "NAME (continued)" or "NAME (continued N)": the name of a run continued from another.
_CONTINUED = re.compile(r"^(?P<base>.*) \(continued(?: (?P<n>\d+))?\)$")


def continued_name(name: str, taken: Iterable[str] = ()) -> str:
    """The name of a run continuing the run called `name`: "NAME (continued)", then
    "NAME (continued 2)" for a continuation of that (never "(continued) (continued)"), the
    number raised past any name in `taken` (its siblings)."""
    match = _CONTINUED.match(name)
    base, n = (match["base"], int(match["n"] or 1) + 1) if match else (name, 1)
    taken = set(taken)
    while True:
        candidate = f"{base} (continued)" if n == 1 else f"{base} (continued {n})"
        if candidate not in taken:
            return candidate
        n += 1


def continuation_of(checkpoint: str | os.PathLike | None) -> "RunInfo | None":
    """The kept run a checkpoint belongs to (a run resumed from it continues that run), or None
    for no checkpoint or one kept outside a run folder."""
    if not checkpoint:
        return None
    try:
        return read_run(Path(checkpoint).parent)
    except RunError:
        return None


def _write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


class RunWriter(Callback):
    """Writes a run folder as the run goes (a trainer callback). Checkpoints go in it too: pass
    `writer.folder` as the trainer's `checkpoint_dir`.

    `continues` is the kept run this one resumes (`continuation_of(checkpoint)`): run.json
    records its id as `continued_from`, and without a `name` the run is named after it
    (`continued_name`, unique among the runs beside it)."""

    def __init__(self, design: GraphModel, folder: Path, design_path: str | None = None,
                 name: str | None = None, continues: RunInfo | None = None):
        start = design.training.get("init_from") if isinstance(design.training, dict) else None
        if isinstance(start, str) and design_path and not Path(start).is_absolute() \
                and not start.startswith("preset:"):  # a preset reference resolves anywhere
            # the kept design lives in the run folder: its weights path must still resolve
            from .document import from_dict, to_dict

            design = from_dict(to_dict(design))
            design.training = dict(design.training, init_from=str(
                (Path(design_path).resolve().parent / start)))
        self.design = design
        self.folder = Path(folder)
        if continues is not None and not name:
            name = continued_name(continues.name,
                                  (r.name for r in list_runs(self.folder.parent)[0]))
        self.meta: dict[str, Any] = {
            "format": RUN_FORMAT, "version": RUN_VERSION, "id": self.folder.name,
            "name": name or design.name or self.folder.name, "design_name": design.name,
            "design_path": str(design_path) if design_path else None, "created": _now(),
            "ended": None, "status": "running", "device": None, "duration_s": None,
            "epochs_run": 0, "final": None, "best": None,
            "continued_from": None if continues is None else continues.id}
        self._events = None
        self._started = time.perf_counter()
        # the design and a description first, so even a run refused before its first step
        # (a dataset that cannot load) leaves a readable folder saying why
        write_atomic(self.folder / DESIGN, dumps(self.design))
        _write_json(self.folder / META, self.meta)

    @classmethod
    def create(cls, design: GraphModel, root: Path, design_path: str | None = None,
               name: str | None = None, continues: RunInfo | None = None) -> "RunWriter":
        return cls(design, new_run_dir(root, design.name), design_path, name, continues)

    def on_fit_start(self, trainer, event: FitStart) -> None:
        self.meta["device"] = event.device
        _write_json(self.folder / TRAINING, effective_block(self.design.training))
        _write_json(self.folder / META, self.meta)

    def on_event(self, trainer, event: Event) -> None:
        if self._events is None:
            self._events = open(self.folder / EVENTS, "a", encoding="utf-8")
        data = event.to_json()
        self._events.write(json.dumps(data, default=str) + "\n")
        self._events.flush()
        if isinstance(event, Report):
            _write_json(self.folder / REPORT, data)
        elif isinstance(event, EpochEnd):
            self.meta["epochs_run"] = event.epoch
        elif isinstance(event, FitEnd):  # the last event: close the run
            self._finish(trainer, event)

    def _finish(self, trainer, event: FitEnd) -> None:
        self._events.close()
        self._events = None
        doctor = getattr(trainer, "doctor", None)
        if doctor is not None:
            _write_json(self.folder / FINDINGS, [f.to_json() for f in doctor.findings()])
        self.meta.update(status=event.status, ended=_now(),
                         duration_s=round(time.perf_counter() - self._started, 3),
                         final={k: v for k, v in (event.final or {}).items()
                                if k not in ("event",)} or None,
                         best=event.best, message=event.message)
        _write_json(self.folder / META, self.meta)


@dataclass
class RunInfo:
    """A run folder as the Runs list shows it."""

    folder: Path
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.folder.name

    @property
    def id(self) -> str:
        """The run's id: its folder's name (what another run's `continued_from` holds)."""
        return self.meta.get("id") or self.folder.name

    @property
    def status(self) -> str:
        status = self.meta.get("status", "unknown")
        return "unfinished" if status == "running" and not self.meta.get("ended") else status

    def design(self) -> GraphModel:
        """The design exactly as it was trained."""
        from .document import load

        return load(self.folder / DESIGN)

    def checkpoint(self, which: str = "best") -> Path | None:
        """best.pt (or last.pt when there is no best), or None."""
        for name in ((f"{which}.pt", "last.pt") if which == "best" else (f"{which}.pt",)):
            if (self.folder / name).is_file():
                return self.folder / name
        return None

    def events(self) -> list[dict]:
        return read_events(self.folder)


def read_run(folder: str | os.PathLike) -> RunInfo:
    """A run folder's description; RunError when it is not a readable run folder."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{folder} is not a run folder (no {META})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(f"cannot read {folder / META}: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise RunError(f"{folder / META} is not a LayerLab run description")
    return RunInfo(folder, meta)


def _stamp(path: Path) -> tuple[int, int, int]:
    """What tells a file's versions apart without reading it. The inode too: an atomic rewrite
    (a new file renamed over the old) within the clock's resolution may keep the time and the
    size, never the inode."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def read_design_document(folder: str | os.PathLike) -> dict | None:
    """A run's design.json as parsed JSON, or None when it cannot be read."""
    try:
        data = json.loads((Path(folder) / DESIGN).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


class RunCache:
    """Run descriptions and kept designs, parsed again only when their file changed.

    A list refreshed on every run update would otherwise reread every run.json (and design.json,
    for what changed) of hundreds of runs; a stat per file tells what changed. A run renamed,
    rewritten or deleted on disk by anyone is seen at the next read.
    """

    def __init__(self) -> None:
        self._runs: dict[Path, tuple[tuple, RunInfo | RunError]] = {}
        self._designs: dict[Path, tuple[tuple, dict | None]] = {}

    def read(self, folder: str | os.PathLike) -> RunInfo:
        """As `read_run`, from the cache while the folder's run.json is unchanged."""
        folder = Path(folder)
        try:
            stamp = _stamp(folder / META)
        except OSError:
            self._runs.pop(folder, None)
            return read_run(folder)  # it says why the folder is not a run
        cached = self._runs.get(folder)
        if cached is None or cached[0] != stamp:
            try:
                cached = self._runs[folder] = (stamp, read_run(folder))
            except RunError as err:  # kept too: an unreadable file is not parsed again either
                cached = self._runs[folder] = (stamp, err)
        if isinstance(cached[1], RunError):
            raise cached[1]
        return cached[1]

    def design_document(self, folder: str | os.PathLike) -> dict | None:
        """As `read_design_document`, the same object while the folder's design.json is
        unchanged (so what is derived from it can be cached by identity)."""
        folder = Path(folder)
        try:
            stamp = _stamp(folder / DESIGN)
        except OSError:
            self._designs.pop(folder, None)
            return None
        cached = self._designs.get(folder)
        if cached is None or cached[0] != stamp:
            cached = self._designs[folder] = (stamp, read_design_document(folder))
        return cached[1]

    def keep_only(self, root: Path, folders: set[Path]) -> None:
        """Forget the folders under `root` that are not among `folders` (deleted runs)."""
        for cache in (self._runs, self._designs):
            for folder in [f for f in cache if f.parent == root and f not in folders]:
                del cache[folder]


def list_runs(root: str | os.PathLike,
              cache: RunCache | None = None) -> tuple[list[RunInfo], list[str]]:
    """The runs under `root`, newest first, and a problem line for each folder that could not
    be read (shown, never fatal). With `cache`, unchanged run folders are not read again."""
    root = Path(root)
    runs, problems = [], []
    if not root.is_dir():
        if cache is not None:
            cache.keep_only(root, set())
        return runs, problems
    seen = set()
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        seen.add(folder)
        try:
            runs.append(cache.read(folder) if cache is not None else read_run(folder))
        except RunError as err:
            problems.append(str(err))
    if cache is not None:
        cache.keep_only(root, seen)
    return newest_first(runs), problems


def read_events(folder: str | os.PathLike) -> list[dict]:
    """Every complete event line of a run (a line cut by a crash, or not JSON, is skipped)."""
    path = Path(folder) / EVENTS
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and "event" in event:
                    out.append(event)
    except FileNotFoundError:
        pass
    return out


def rename_run(folder: str | os.PathLike, name: str) -> RunInfo:
    """Give a run a new display name (the folder keeps its id)."""
    name = name.strip()
    if not name:
        raise RunError("a run's name cannot be empty")
    info = read_run(folder)
    info.meta["name"] = name
    _write_json(info.folder / META, info.meta)
    return info


def delete_run(folder: str | os.PathLike) -> None:
    """Delete a run folder (only a folder that reads as a LayerLab run)."""
    info = read_run(folder)
    shutil.rmtree(info.folder)


def read_findings(folder: str | os.PathLike) -> list[dict]:
    """The doctor's findings kept with a run ([] when there are none or the file is unreadable)."""
    try:
        data = json.loads((Path(folder) / FINDINGS).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return data if isinstance(data, list) else []
