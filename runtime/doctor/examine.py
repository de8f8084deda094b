"""All three stages on one design: the static rules and the pre-flight check, then (when asked)
a training run with the live doctor. Used by `main.py doctor --epochs` and benchmarks/doctor.py."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TrainingConfigError, TrainingError
from ..graph import GraphModel
from ..training.callbacks import Callback
from ..training.events import Diagnosis, EpochEnd, FitEnd
from .findings import Finding
from ..training.config import parse_training
from .preflight import Preflight, load_data, preflight
from .static import static_findings


@dataclass
class Examination:
    """What `examine` found.

    Attributes:
        findings: Every distinct finding (pre-flight first, then live in the order published;
            a live finding replaces a pre-flight one with the same code and place).
        preflight: The pre-flight's measurements.
        first_finding_s: Seconds from the start to the first warning or error (None: none).
        final: The last epoch's values (train_loss, val_loss, train_/val_ metrics), {} when
            training did not run.
        fit_status: How the training run ended (None when it did not run).
    """

    findings: list[Finding]
    preflight: Preflight | None = None
    first_finding_s: float | None = None
    final: dict = field(default_factory=dict)
    fit_status: str | None = None


class _Clock(Callback):
    def __init__(self, started: float):
        self.started = started
        self.first: float | None = None
        self.last: EpochEnd | None = None

    def on_event(self, trainer, event) -> None:
        if isinstance(event, Diagnosis) and self.first is None and \
                event.status == "new" and event.finding["severity"] != "info":
            self.first = time.perf_counter() - self.started
        elif isinstance(event, EpochEnd):
            self.last = event


def flat_metrics(event: EpochEnd | None) -> dict:
    if event is None:
        return {}
    return {"train_loss": event.train_loss, "val_loss": event.val_loss, **event.metrics}


#: Monitoring samples per epoch in a diagnosis run (at most every `MAX_EVERY` steps).
SAMPLES_PER_EPOCH = 4
MAX_EVERY = 50


def _sample_every(block: dict, dataset) -> int:
    from ..data import training_split

    config = parse_training(block)
    train_idx, _ = training_split(dataset, config.dataset, config["seed"])
    n = max(1, len(train_idx))
    batch = n if config["batch_size"] == "full" else min(config["batch_size"], n)
    steps = math.ceil(n / batch)
    return max(1, min(steps // SAMPLES_PER_EPOCH, MAX_EVERY))


def examine(design: GraphModel, *, epochs: int | None = 0, steps: int = 30, dataset=None,
            base_dir: str | Path | None = None, lr_finder: bool = False) -> Examination:
    """Diagnose `design`: static + pre-flight, then `epochs` of training with the live doctor
    (None: the design's own epochs; 0: no training)."""
    started = time.perf_counter()
    try:
        parse_training(design.training)
    except TrainingConfigError:  # only the static rules can judge a refused training block
        return Examination(static_findings(design))
    dataset = dataset if dataset is not None else load_data(design, base_dir)
    # with a training run to follow, the sweep also gives the live learning-rate fixes a target
    pre = preflight(design, steps=steps, dataset=dataset, base_dir=base_dir,
                    lr_finder=lr_finder or epochs != 0)
    result = Examination(list(pre.findings), pre)
    if any(f.severity != "info" for f in pre.findings):
        result.first_finding_s = pre.seconds
    blocked = any(f.code == "loss_output_mismatch" and "dataset" in f.evidence
                  for f in pre.findings)
    if epochs == 0 or blocked:
        return result
    from ..training.trainer import Trainer

    block = copy.deepcopy(design.training)
    if epochs is not None:
        block["epochs"] = epochs
    block.setdefault("monitoring", {})["doctor"] = True
    if block["monitoring"].get("every", "auto") == "auto":
        # a diagnosis run samples on a fixed beat: "auto" spaces samples by measured step time,
        # so what the doctor saw (and the benchmark's figures) would vary with the machine
        block["monitoring"]["every"] = _sample_every(block, dataset)
    clock = _Clock(started)
    trainer = Trainer(design, block, [clock], base_dir=base_dir, dataset=dataset)
    trainer.doctor.suggested_lr = pre.suggested_lr
    try:
        end: FitEnd = trainer.fit()
        result.fit_status = end.status
    except TrainingError:
        result.fit_status = "failed"
    result.final = flat_metrics(clock.last)
    if result.first_finding_s is None:
        result.first_finding_s = clock.first
    live = trainer.doctor.findings() if trainer.doctor else []
    keys = {f.key for f in live}
    result.findings = [f for f in result.findings if f.key not in keys] + live
    return result
