"""The learning-rate schedule catalogue: each schedule is one `ScheduleSpec`, and `Schedule` runs
the chosen one during training (stepping it per batch or per epoch, as its spec says)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from ..lazy import lazy_import

# The catalogue is read without tensors (validation, the form, the docs); what builds or
# computes imports torch on first use.
torch = lazy_import("torch", globals(), "torch")

#: Settings of the `schedule` section a schedule may read (each one a setting).
SCHEDULE_SETTINGS = ("step_size", "gamma", "factor", "patience", "warmup_epochs", "min_lr")


@dataclass(frozen=True)
class RunShape:
    """What a schedule needs to know about the run besides its own settings."""

    lr: float
    epochs: int
    steps_per_epoch: int
    monitor_mode: str  # "min" or "max": which way the monitored value improves


@dataclass(frozen=True)
class ScheduleSpec:
    """One learning-rate schedule.

    Attributes:
        id: Its name in the training block (`schedule.name`).
        title: Shown in the form.
        doc: What it does to the learning rate.
        uses: The `schedule` settings it reads.
        per_step: Steps after every batch (else after every epoch).
        build: (optimizer, schedule section, run) -> a torch scheduler, or None for a constant rate.
        plateau: Steps with the monitored value (ReduceLROnPlateau).
    """

    id: str
    title: str
    doc: str
    uses: tuple[str, ...]
    build: Callable[[torch.optim.Optimizer, dict[str, Any], RunShape], Any]
    per_step: bool = False
    plateau: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.uses) - set(SCHEDULE_SETTINGS)
        if unknown:
            raise ValueError(f"schedule {self.id}: unknown settings {sorted(unknown)}")


def _multipliers(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each param group's learning-rate multiplier (layers fine-tuned at a fraction of the rate)."""
    return [group.get("lr_multiplier", 1.0) for group in optimizer.param_groups]


def _cosine(optimizer, sched, run):
    # in closed form, as a fraction of each group's starting rate, so that every group ends at
    # min_lr times its multiplier and the ratio between groups holds all along (torch's
    # CosineAnnealingLR sends every group to one absolute floor)
    floor = sched["min_lr"] / run.lr
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda epoch: floor + (1 - floor) * (1 + math.cos(math.pi * epoch / run.epochs))
        / 2)


def _warmup(optimizer, sched, run):
    warm = max(sched["warmup_epochs"] * run.steps_per_epoch, 1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warm))


SCHEDULES: dict[str, ScheduleSpec] = {s.id: s for s in (
    ScheduleSpec("none", "Constant", "The learning rate stays as set.", (),
                 lambda optimizer, sched, run: None),
    ScheduleSpec("step", "Step decay", "Multiplies the rate by `gamma` every `step_size` "
                 "epochs.", ("step_size", "gamma"),
                 lambda optimizer, sched, run: torch.optim.lr_scheduler.StepLR(
                     optimizer, sched["step_size"], sched["gamma"])),
    ScheduleSpec("cosine", "Cosine annealing", "Lowers the rate along a half cosine to "
                 "`min_lr` over the run.", ("min_lr",), _cosine),
    ScheduleSpec("reduce_on_plateau", "Reduce on plateau", "Multiplies the rate by `factor` "
                 "after `patience` epochs without improvement of the monitored value (early "
                 "stopping's `monitor`), down to `min_lr`.", ("factor", "patience", "min_lr"),
                 lambda optimizer, sched, run: torch.optim.lr_scheduler.ReduceLROnPlateau(
                     optimizer, mode=run.monitor_mode, factor=sched["factor"],
                     patience=sched["patience"],
                     min_lr=[sched["min_lr"] * m for m in _multipliers(optimizer)]),
                 plateau=True),
    ScheduleSpec("one_cycle", "One cycle", "Per step: warms up to `lr`, then anneals far below "
                 "it (super-convergence).", (),
                 lambda optimizer, sched, run: torch.optim.lr_scheduler.OneCycleLR(
                     optimizer, max_lr=[run.lr * m for m in _multipliers(optimizer)],
                     total_steps=max(run.epochs * run.steps_per_epoch, 2)),
                 per_step=True),
    ScheduleSpec("warmup", "Linear warm-up", "Per step: rises linearly over `warmup_epochs`, "
                 "then stays at `lr`.", ("warmup_epochs",), _warmup, per_step=True),
)}


class Schedule:
    """Runs the chosen schedule: steps it per batch or per epoch, as its spec says.

    An optimiser with several param groups (per-layer learning-rate multipliers) is scheduled
    group by group with the same shape, so the rates keep their ratio: `min_lr` and one-cycle's
    peak are scaled by each group's multiplier too.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, sched: dict[str, Any], run: RunShape):
        self.spec = SCHEDULES[sched["name"]]
        self.multipliers = _multipliers(optimizer)
        self.per_step = self.spec.per_step
        self.scheduler: Any = self.spec.build(optimizer, sched, run)

    def after_batch(self) -> None:
        if self.per_step and self.scheduler is not None:
            self.scheduler.step()

    def after_epoch(self, monitored: float | None) -> None:
        if self.per_step or self.scheduler is None:
            return
        if self.spec.plateau:
            if monitored is not None and math.isfinite(monitored):
                self.scheduler.step(monitored)
        else:
            self.scheduler.step()

    def rescale(self, ratio: float) -> None:
        """Follow a manual learning-rate change: scale the schedule's base rates too."""
        if self.scheduler is not None and hasattr(self.scheduler, "base_lrs"):
            self.scheduler.base_lrs = [lr * ratio for lr in self.scheduler.base_lrs]

    def state_dict(self) -> dict:
        if self.scheduler is None:
            return {}
        state = self.scheduler.state_dict()
        return {**{k: v for k, v in state.items() if not callable(v) and k != "lr_lambdas"},
                "multipliers": list(self.multipliers)}

    def load_state_dict(self, state: dict, optimizer: torch.optim.Optimizer) -> None:
        """Continue from a checkpoint's schedule state.

        The resumed run's own shape decides the rates (it may have more epochs than the run that
        was saved: a cosine then keeps falling, a one-cycle does not step past its end), so the
        schedule is rebuilt by replaying the steps already taken; only a plateau schedule, whose
        course depends on the values it saw, takes its counters from the checkpoint. A learning
        rate changed by hand during the saved run stays changed.
        """
        if self.scheduler is None or not state:
            return
        state = dict(state)
        saved_multiplier = (state.pop("multipliers", None) or [1.0])[0]
        if self.spec.plateau:
            # the counters come from the checkpoint; the floors from this run's settings and groups
            kept = {k: v for k, v in state.items() if k not in ("min_lrs", "_last_lr")}
            self.scheduler.load_state_dict({**self.scheduler.state_dict(), **kept})
            return
        fresh = list(self.scheduler.base_lrs)
        for group, lr in zip(optimizer.param_groups, fresh):
            group["lr"] = lr  # the run's start, as a straight run had it
        with warnings.catch_warnings():  # replaying steps the saved optimiser already took
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(int(state.get("last_epoch", 0))):
                try:
                    self.scheduler.step()
                except ValueError:  # a one-cycle run shortened below the steps done
                    break
        saved = state.get("base_lrs")
        # compared as base rates: the groups may have other multipliers than the saved run's
        saved_base = saved[0] / saved_multiplier if saved else None
        fresh_base = fresh[0] / self.multipliers[0]
        if saved_base and fresh_base > 0 and not math.isclose(saved_base, fresh_base,
                                                              rel_tol=1e-12):
            ratio = saved_base / fresh_base
            self.rescale(ratio)
            for group in optimizer.param_groups:
                group["lr"] *= ratio
