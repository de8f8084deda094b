"""Optimisers and learning-rate schedules by name, plus the regularisers applied around a step."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def make_optimizer(params: list[nn.Parameter], opt: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimiser named in the training block's `optimizer` section."""
    name, lr, wd = opt["name"], opt["lr"], opt["weight_decay"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=opt["momentum"],
                               nesterov=opt["nesterov"] and opt["momentum"] > 0, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(opt["betas"]), weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(opt["betas"]), weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=opt["momentum"], weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")


class Schedule:
    """Wraps a torch scheduler and knows whether it steps per batch or per epoch."""

    def __init__(self, optimizer: torch.optim.Optimizer, sched: dict[str, Any], lr: float,
                 epochs: int, steps_per_epoch: int, monitor_mode: str):
        name = sched["name"]
        self.name = name
        self.per_step = name in ("one_cycle", "warmup")
        self.scheduler: Any = None
        if name == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(optimizer, sched["step_size"],
                                                             sched["gamma"])
        elif name == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=epochs, eta_min=sched["min_lr"])
        elif name == "reduce_on_plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=monitor_mode, factor=sched["factor"],
                patience=sched["patience"], min_lr=sched["min_lr"])
        elif name == "one_cycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=lr, total_steps=max(epochs * steps_per_epoch, 2))
        elif name == "warmup":
            warm = max(sched["warmup_epochs"] * steps_per_epoch, 1)
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: min(1.0, (step + 1) / warm))

    def after_batch(self) -> None:
        if self.per_step and self.scheduler is not None:
            self.scheduler.step()

    def after_epoch(self, monitored: float | None) -> None:
        if self.per_step or self.scheduler is None:
            return
        if self.name == "reduce_on_plateau":
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
        return {k: v for k, v in state.items() if not callable(v) and k != "lr_lambdas"}

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict({**self.scheduler.state_dict(), **state})


def l1_penalty(params: list[nn.Parameter]) -> torch.Tensor:
    """Sum of absolute weights (biases excluded), the L1 regulariser."""
    return sum(p.abs().sum() for p in params if p.dim() > 1)


@torch.no_grad()
def apply_max_norm(named_params: list[tuple[str, nn.Parameter]], max_norm: float) -> None:
    """Rescale each output unit's incoming weight vector to norm <= max_norm."""
    for name, p in named_params:
        if p.dim() > 1 and name.endswith("weight"):
            flat = p.view(p.shape[0], -1)
            norms = flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
            flat.mul_(norms.clamp(max=max_norm) / norms)
