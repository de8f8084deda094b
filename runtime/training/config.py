"""The design's `training` block: defaults, validation with located errors, and a typed view.

Every field has a default; every bad value is reported with its location (``training.optimizer.lr``)
and a bad block never starts a run. See docs/design-format.md for the fields.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, TrainingConfigError
from ..names import did_you_mean

LOSSES = ("cross_entropy", "bce", "mse", "l1", "huber", "kl_div", "nll")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "cosine", "reduce_on_plateau", "one_cycle", "warmup")
DEVICES = ("auto", "cpu", "cuda", "mps")
MONITORED = ("val_loss", "train_loss")  # plus val_<metric>/train_<metric>, checked below
_METRIC = re.compile(r"^(accuracy|top([1-9][0-9]?)_accuracy|mse|mae|r2)$")

DEFAULTS: dict[str, Any] = {
    "dataset": {"name": "spirals", "params": {}, "validation_split": 0.2},
    "loss": "cross_entropy",
    "metrics": ["accuracy"],
    "optimizer": {"name": "adam", "lr": 0.001, "momentum": 0.9, "nesterov": False,
                  "weight_decay": 0.0, "betas": [0.9, 0.999]},
    "schedule": {"name": "none", "step_size": 10, "gamma": 0.1, "factor": 0.5, "patience": 3,
                 "warmup_epochs": 1, "min_lr": 0.0},
    "batch_size": 64,
    "epochs": 20,
    "seed": 0,
    "device": "auto",
    "threads": "auto",
    "mixed_precision": False,
    "regularization": {"l1": 0.0, "max_norm": None},
    "gradient_clipping": {"mode": "none", "value": 1.0},
    "early_stopping": {"enabled": False, "monitor": "val_loss", "patience": 5, "min_delta": 0.0},
    "augmentation": {"flip": False, "shift": 0, "noise": 0.0},
    "monitoring": {"every": "auto", "histogram_bins": 32},
}


@dataclass(frozen=True)
class TrainingConfig:
    """A validated training block; `raw` holds it with every default filled in."""

    raw: dict

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def dataset(self) -> dict:
        return self.raw["dataset"]

    @property
    def optimizer(self) -> dict:
        return self.raw["optimizer"]

    @property
    def schedule(self) -> dict:
        return self.raw["schedule"]

    @property
    def metrics(self) -> list[str]:
        return self.raw["metrics"]

    @property
    def monitor_key(self) -> str:
        return self.raw["early_stopping"]["monitor"]

    def with_overrides(self, **changes: Any) -> "TrainingConfig":
        """A copy with top-level fields replaced (e.g. epochs from the command line), re-validated."""
        raw = copy.deepcopy(self.raw)
        raw.update(changes)
        return parse_training(raw)


def merged_with_defaults(block: dict) -> dict:
    """`block` on top of `DEFAULTS`, one level deep for the nested sections."""
    out = copy.deepcopy(DEFAULTS)
    for key, value in block.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key].update(copy.deepcopy(value))
        else:
            out[key] = copy.deepcopy(value)
    return out


def effective_block(block: dict) -> dict:
    """What a run would use, not yet validated: `block` on top of the defaults, with early
    stopping on when the block has an `early_stopping` section that does not say otherwise."""
    raw = merged_with_defaults(block)
    stopping = block.get("early_stopping")
    if isinstance(stopping, dict) and "enabled" not in stopping:
        raw["early_stopping"]["enabled"] = True  # writing the block asks for early stopping
    return raw


def parse_training(block: Any) -> TrainingConfig:
    """Validate a training block; raise `TrainingConfigError` listing every problem."""
    if not isinstance(block, dict):
        raise TrainingConfigError([Problem("'training' must be an object", location="training")])
    checker = _Checker()
    raw = effective_block(block)
    checker.check(raw, block)
    if checker.problems:
        raise TrainingConfigError(checker.problems)
    return TrainingConfig(raw)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(message, location=f"training.{where}"))

    def check(self, raw: dict, given: dict) -> None:
        for key in given:
            if key not in DEFAULTS:
                self.add(key, f"unknown setting '{key}'{did_you_mean(key, list(DEFAULTS))}")
        bad_section = False
        for section, defaults in DEFAULTS.items():
            if isinstance(defaults, dict):
                if not isinstance(raw[section], dict):
                    self.add(section, f"'{section}' must be an object")
                    bad_section = True
                    continue
                for key in raw[section]:
                    if key not in defaults:
                        self.add(f"{section}.{key}", f"unknown setting '{key}' in '{section}'"
                                 f"{did_you_mean(key, list(defaults))}")
        if bad_section:
            return
        self._dataset(raw["dataset"])
        self.choice("loss", raw["loss"], LOSSES)
        self._metrics(raw["metrics"])
        self._optimizer(raw["optimizer"])
        self._schedule(raw["schedule"])
        batch = raw["batch_size"]
        if batch != "full":
            self.integer("batch_size", batch, 1, hint="or \"full\" for the whole training set")
        self.integer("epochs", raw["epochs"], 1, 100_000)
        self.integer("seed", raw["seed"], 0)
        self.choice("device", raw["device"], DEVICES)
        if raw["threads"] != "auto":
            self.integer("threads", raw["threads"], 1, 256, hint="or \"auto\"")
        self.boolean("mixed_precision", raw["mixed_precision"])
        reg = raw["regularization"]
        self.number("regularization.l1", reg["l1"], 0.0)
        if reg["max_norm"] is not None:
            self.number("regularization.max_norm", reg["max_norm"], 0.0, exclusive_min=True)
        clip = raw["gradient_clipping"]
        self.choice("gradient_clipping.mode", clip["mode"], ("none", "norm", "value"))
        self.number("gradient_clipping.value", clip["value"], 0.0, exclusive_min=True)
        self._early_stopping(raw["early_stopping"], raw["metrics"])
        aug = raw["augmentation"]
        self.boolean("augmentation.flip", aug["flip"])
        self.integer("augmentation.shift", aug["shift"], 0, 64)
        self.number("augmentation.noise", aug["noise"], 0.0)
        mon = raw["monitoring"]
        if mon["every"] not in ("auto", "off"):
            self.integer("monitoring.every", mon["every"], 1, hint="or \"auto\" or \"off\"")
        self.integer("monitoring.histogram_bins", mon["histogram_bins"], 4, 256)

    # --- sections -------------------------------------------------------------------------
    def _dataset(self, ds: dict) -> None:
        if not isinstance(ds.get("name"), str) or not ds["name"]:
            self.add("dataset.name", "the dataset needs a 'name' (e.g. \"spirals\")")
        if not isinstance(ds.get("params"), dict):
            self.add("dataset.params", "'params' must be an object")
        self.number("dataset.validation_split", ds.get("validation_split"), 0.0, 0.9)

    def _metrics(self, metrics: Any) -> None:
        if not isinstance(metrics, list):
            self.add("metrics", "'metrics' must be a list such as [\"accuracy\"]")
            return
        for i, name in enumerate(metrics):
            if not isinstance(name, str) or not _METRIC.match(name):
                self.add(f"metrics[{i}]", f"unknown metric {name!r}: use accuracy, "
                         "top5_accuracy (any k), mse, mae or r2")

    def _optimizer(self, opt: dict) -> None:
        self.choice("optimizer.name", opt["name"], OPTIMIZERS)
        self.number("optimizer.lr", opt["lr"], 0.0, 10.0, exclusive_min=True)
        self.number("optimizer.momentum", opt["momentum"], 0.0, 1.0)
        self.boolean("optimizer.nesterov", opt["nesterov"])
        self.number("optimizer.weight_decay", opt["weight_decay"], 0.0)
        betas = opt["betas"]
        if (not isinstance(betas, list) or len(betas) != 2
                or not all(_is_number(b) and 0 <= b < 1 for b in betas)):
            self.add("optimizer.betas", f"'betas' must be two numbers in [0, 1), got {betas!r}")

    def _schedule(self, sched: dict) -> None:
        self.choice("schedule.name", sched["name"], SCHEDULES)
        self.integer("schedule.step_size", sched["step_size"], 1)
        self.number("schedule.gamma", sched["gamma"], 0.0, 1.0, exclusive_min=True)
        self.number("schedule.factor", sched["factor"], 0.0, 1.0, exclusive_min=True)
        self.integer("schedule.patience", sched["patience"], 0)
        self.integer("schedule.warmup_epochs", sched["warmup_epochs"], 1)
        self.number("schedule.min_lr", sched["min_lr"], 0.0)

    def _early_stopping(self, es: dict, metrics: Any) -> None:
        self.boolean("early_stopping.enabled", es["enabled"])
        names = list(MONITORED) + [f"{split}_{m}" for m in (metrics or [])
                                   if isinstance(m, str) for split in ("val", "train")]
        if es["monitor"] not in names:
            self.add("early_stopping.monitor", f"cannot monitor {es['monitor']!r}: use one of "
                     f"{', '.join(names)}")
        self.integer("early_stopping.patience", es["patience"], 0)
        self.number("early_stopping.min_delta", es["min_delta"], 0.0)

    # --- field checks ---------------------------------------------------------------------
    def choice(self, where: str, value: Any, choices: tuple[str, ...]) -> None:
        if value not in choices:
            self.add(where, f"{value!r} is not one of {', '.join(choices)}"
                     f"{did_you_mean(value, list(choices)) if isinstance(value, str) else ''}")

    def boolean(self, where: str, value: Any) -> None:
        if not isinstance(value, bool):
            self.add(where, f"must be true or false, got {value!r}")

    def integer(self, where: str, value: Any, low: int | None = None, high: int | None = None,
                hint: str = "") -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, f"must be an integer{' ' + hint if hint else ''}, got {value!r}")
        elif low is not None and value < low:
            self.add(where, f"must be at least {low}, got {value}")
        elif high is not None and value > high:
            self.add(where, f"must be at most {high}, got {value}")

    def number(self, where: str, value: Any, low: float | None = None, high: float | None = None,
               exclusive_min: bool = False) -> None:
        if not _is_number(value):
            self.add(where, f"must be a number, got {value!r}")
        elif low is not None and (value <= low if exclusive_min else value < low):
            self.add(where, f"must be {'above' if exclusive_min else 'at least'} {low}, got {value}")
        elif high is not None and value > high:
            self.add(where, f"must be at most {high}, got {value}")


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
