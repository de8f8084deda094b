"""Runs trained briefly in the test process, for the Try it tests (the panel and the canvas)."""
from __future__ import annotations

from pathlib import Path

from runtime import document
from runtime.runs import RunWriter
from runtime.training.trainer import Trainer

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def train(root: Path, preset: str, epochs: int = 1, **dataset_params) -> Path:
    """Train `preset` for `epochs` into a run folder under `root`; returns the folder."""
    design = document.load(PRESETS / f"{preset}.json")
    design.training = dict(design.training, epochs=epochs)
    if dataset_params:
        data = design.training["dataset"]
        design.training["dataset"] = dict(data, params=dict(data["params"], **dataset_params))
    writer = RunWriter.create(design, root, str(PRESETS / f"{preset}.json"))
    Trainer(design, design.training, [writer], checkpoint_dir=writer.folder).fit()
    return writer.folder
