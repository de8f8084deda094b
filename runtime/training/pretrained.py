"""Where a design's starting weights come from (`training.init_from`).

A checkpoint path (a run's best.pt or last.pt) is read relative to the design's folder. A preset
reference, ``preset:NAME``, names the preset whose trained weights start the design: the best
checkpoint of its latest completed run trained from exactly the preset as it ships, pre-trained
here first when there is none. So a fine-tuning preset starts from a pre-trained body without a
weights file in the repository and without any download: the first run pre-trains (seconds for
the shipped presets), the next ones reuse it. Those runs are kept like any other, in
``presets/NAME.runs`` under the app's data folder (`preset_runs_root`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from ..errors import LayerLabError, TrainingError
from .callbacks import Callback
from .events import EpochEnd, Event, FitStart, Preparing

if TYPE_CHECKING:
    from ..graph import GraphModel
    from .trainer import Trainer

PRESET_PREFIX = "preset:"


def resolve_start(value: str | Path, base_dir: Path | None, outer: "Trainer | None" = None,
                  registry=None) -> Path:
    """The checkpoint file `value` (an init_from setting or --init-from) names.

    Args:
        value: A checkpoint path, or ``preset:NAME``.
        base_dir: The design's folder, for a relative path (None: the working directory).
        outer: The trainer that will start from these weights: it hears `Preparing` events
            while a preset pre-trains, and a stop it is asked for stops the pre-training.
        registry: The layer registry the preset's design is read with.
    """
    text = str(value)
    if text.startswith(PRESET_PREFIX):
        return preset_weights(text[len(PRESET_PREFIX):].strip(), outer, registry)
    path = Path(value)
    return path if path.is_absolute() or base_dir is None else base_dir / path


def preset_runs_root(name: str) -> Path:
    """Where the runs that pre-train preset `name` for others are kept."""
    from ..runs import RUNS_SUFFIX, runs_home

    return runs_home() / "presets" / f"{name}{RUNS_SUFFIX}"


def preset_weights(name: str, outer: "Trainer | None" = None, registry=None,
                   _chain: tuple[str, ...] = ()) -> Path:
    """The best checkpoint of preset `name`, trained first when no completed run of it as it
    ships is kept. A TrainingError says why when there is no such preset, it cannot be read,
    its pre-training fails or is stopped, or presets start from each other in a circle."""
    from .. import document
    from ..preset_files import preset_path
    from ..runs import DESIGN, list_runs

    if name in _chain:
        raise TrainingError("presets start from each other in a circle: "
                            + " -> ".join([*_chain, name]), "design")
    try:
        path = preset_path(name)
        design = document.load(path, registry) if registry is not None else document.load(path)
    except LayerLabError as err:
        raise TrainingError(f"init_from {PRESET_PREFIX}{name}: {err}", "design") from None
    kept = document.dumps(design)
    root = preset_runs_root(name)
    for run in list_runs(root)[0]:  # newest first
        best = run.checkpoint("best")
        if run.meta.get("status") == "completed" and best is not None \
                and _read(run.folder / DESIGN) == kept:
            return best
    return _pretrain(name, path, design, root, outer, (*_chain, name))


def _pretrain(name: str, path: Path, design: "GraphModel", root: Path,
              outer: "Trainer | None", chain: tuple[str, ...]) -> Path:
    start = design.training.get("init_from") if isinstance(design.training, dict) else None
    init_from = None
    if isinstance(start, str) and start.startswith(PRESET_PREFIX):  # a chain of presets
        init_from = preset_weights(start[len(PRESET_PREFIX):].strip(), outer, design.registry,
                                   chain)
    # the pre-training draws from its own random streams: the run waiting for it draws the
    # same numbers whether it pre-trained first or found the weights kept
    with torch.random.fork_rng(devices=_cuda_devices()):
        return _train_preset(name, path, design, root, outer, init_from)


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def _train_preset(name: str, path: Path, design: "GraphModel", root: Path,
                  outer: "Trainer | None", init_from) -> Path:
    from ..runs import RunWriter
    from .trainer import Trainer

    writer = RunWriter.create(design, root, str(path), name=f"{design.name} (pre-training)")
    relay = _Relay(name, outer.emit if outer is not None else None, outer)
    trainer = Trainer(design, design.training, [writer, relay], base_dir=path.parent,
                      checkpoint_dir=writer.folder, init_from=init_from)
    try:
        end = trainer.fit()
    except TrainingError as err:  # its node is the preset's, not this design's
        raise TrainingError(f"pre-training preset {name} failed: {err} (its run is in "
                            f"{writer.folder})", err.kind) from None
    best = writer.folder / "best.pt"
    if end.status != "completed" or not best.is_file():
        why = end.message or end.status
        raise TrainingError(f"pre-training preset {name} did not complete ({why}), so there "
                            f"are no weights to start from; its run is in {writer.folder}",
                            "design")
    return best


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class _Relay(Callback):
    """Tells the waiting run how the pre-training goes, and stops it when that run is stopped."""

    def __init__(self, name: str, emit: Callable[[Event], None] | None,
                 outer: "Trainer | None"):
        self.name = name
        self.send = emit
        self.outer = outer
        self.epochs = 0

    def on_fit_start(self, trainer: "Trainer", event: FitStart) -> None:
        self.epochs = event.epochs
        self._say(f"pre-training preset {self.name} (its weights start this design; kept for "
                  f"the next runs): {event.epochs} epochs on {event.dataset}", 0.0)

    def on_event(self, trainer: "Trainer", event: Event) -> None:
        if self.outer is not None and self.outer._stop:
            trainer.request_stop()
        if isinstance(event, EpochEnd):
            shown = {k: v for k, v in event.values().items()
                     if k.startswith("val_") and v is not None}
            text = ", ".join(f"{k} {v:.4g}" for k, v in shown.items())
            self._say(f"pre-training preset {self.name}: epoch {event.epoch}/{self.epochs}"
                      + (f" ({text})" if text else ""), event.epoch / max(self.epochs, 1))

    def _say(self, message: str, done: float) -> None:
        if self.send is not None:
            self.send(Preparing(message, done))
