"""The optimiser catalogue: each optimiser is one `OptimizerSpec`.

The settings catalogue reads `uses` to know when a hyperparameter applies (momentum only for SGD and
RMSprop), the form shows only those, the docs list them, and `build` makes the torch optimiser.
Adding an optimiser is one entry here plus its row in the catalogue tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

#: Hyperparameters an optimiser may read from the `optimizer` section (each one a setting).
HYPERPARAMETERS = ("momentum", "nesterov", "weight_decay", "betas")


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimiser.

    Attributes:
        id: Its name in the training block (`optimizer.name`).
        title: Shown in the form.
        doc: One or two sentences: what it does and when to pick it.
        uses: The `optimizer` hyperparameters it reads besides `lr` (see `HYPERPARAMETERS`).
        build: (parameters, lr, optimizer section) -> the torch optimiser.
    """

    id: str
    title: str
    doc: str
    uses: tuple[str, ...]
    build: Callable[[list[nn.Parameter], float, dict[str, Any]], torch.optim.Optimizer]

    def __post_init__(self) -> None:
        unknown = set(self.uses) - set(HYPERPARAMETERS)
        if unknown:
            raise ValueError(f"optimizer {self.id}: unknown hyperparameters {sorted(unknown)}")


def _sgd(params, lr, opt):
    return torch.optim.SGD(params, lr=lr, momentum=opt["momentum"],
                           nesterov=opt["nesterov"] and opt["momentum"] > 0,
                           weight_decay=opt["weight_decay"])


def _adam_like(cls):
    def build(params, lr, opt):
        return cls(params, lr=lr, betas=tuple(opt["betas"]), weight_decay=opt["weight_decay"])
    return build


OPTIMIZERS: dict[str, OptimizerSpec] = {s.id: s for s in (
    OptimizerSpec("sgd", "SGD", "Stochastic gradient descent, optionally with (Nesterov) "
                  "momentum. Simple and well understood; needs a tuned learning rate.",
                  ("momentum", "nesterov", "weight_decay"), _sgd),
    OptimizerSpec("adam", "Adam", "Adaptive per-weight step sizes from running averages of the "
                  "gradient and its square. A robust default (lr about 1e-3).",
                  ("betas", "weight_decay"), _adam_like(torch.optim.Adam)),
    OptimizerSpec("adamw", "AdamW", "Adam with decoupled weight decay, which regularises "
                  "better than Adam's L2 penalty. The usual choice for transformers.",
                  ("betas", "weight_decay"), _adam_like(torch.optim.AdamW)),
    OptimizerSpec("rmsprop", "RMSprop", "Divides each step by a running average of the squared "
                  "gradient. A classic for recurrent networks.",
                  ("momentum", "weight_decay"),
                  lambda params, lr, opt: torch.optim.RMSprop(
                      params, lr=lr, momentum=opt["momentum"], weight_decay=opt["weight_decay"])),
    OptimizerSpec("adagrad", "Adagrad", "Step sizes shrink with the sum of past squared "
                  "gradients: good for sparse features, but learning can stall on long runs.",
                  ("weight_decay",),
                  lambda params, lr, opt: torch.optim.Adagrad(
                      params, lr=lr, weight_decay=opt["weight_decay"])),
    OptimizerSpec("nadam", "NAdam", "Adam with Nesterov momentum: looks ahead along the "
                  "momentum before stepping, often converging a little faster than Adam.",
                  ("betas", "weight_decay"), _adam_like(torch.optim.NAdam)),
    OptimizerSpec("radam", "RAdam", "Rectified Adam: damps Adam's large, noisy early steps "
                  "without a warm-up schedule.",
                  ("betas", "weight_decay"), _adam_like(torch.optim.RAdam)),
    OptimizerSpec("adamax", "Adamax", "Adam scaled by the largest past gradient instead of "
                  "the mean square: steadier when gradients have outliers.",
                  ("betas", "weight_decay"), _adam_like(torch.optim.Adamax)),
)}


def make_optimizer(params: list[nn.Parameter], opt: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimiser named in a validated `optimizer` section."""
    return OPTIMIZERS[opt["name"]].build(params, opt["lr"], opt)
