"""The optimiser catalogue: each optimiser is one `OptimizerSpec`.

The settings catalogue reads `uses` to know when a hyperparameter applies (momentum only for SGD and
RMSprop), the form shows only those, the docs list them, and `build` makes the torch optimiser.
Adding an optimiser is one entry here plus its row in the catalogue tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from ..lazy import lazy_import

if TYPE_CHECKING:
    from torch import nn

# The catalogue is read without tensors (validation, the form, the docs); what builds or
# computes imports torch on first use.
torch = lazy_import("torch", globals(), "torch")

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
        build: (parameters, lr, optimizer section, **extra) -> the torch optimiser; `extra`
            goes to the torch class (``fused=True``).
        fused: torch has a fused kernel for it (CPU and CUDA): one kernel updates every
            parameter, 2-3x faster than the default per-tensor loop on small networks, where the
            optimiser step is up to half of a training step.
    """

    id: str
    title: str
    doc: str
    uses: tuple[str, ...]
    build: Callable[..., torch.optim.Optimizer]
    fused: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.uses) - set(HYPERPARAMETERS)
        if unknown:
            raise ValueError(f"optimizer {self.id}: unknown hyperparameters {sorted(unknown)}")


def _sgd(params, lr, opt, **extra):
    return torch.optim.SGD(params, lr=lr, momentum=opt["momentum"],
                           nesterov=opt["nesterov"] and opt["momentum"] > 0,
                           weight_decay=opt["weight_decay"], **extra)


def _adam_like(name: str):
    """An Adam-family optimiser of torch.optim, by class name (looked up when it is built)."""
    def build(params, lr, opt, **extra):
        return getattr(torch.optim, name)(params, lr=lr, betas=tuple(opt["betas"]), weight_decay=opt["weight_decay"],
                   **extra)
    return build


OPTIMIZERS: dict[str, OptimizerSpec] = {s.id: s for s in (
    OptimizerSpec("sgd", "SGD", "Stochastic gradient descent, optionally with (Nesterov) "
                  "momentum. Simple and well understood; needs a tuned learning rate.",
                  ("momentum", "nesterov", "weight_decay"), _sgd, fused=True),
    OptimizerSpec("adam", "Adam", "Adaptive per-weight step sizes from running averages of the "
                  "gradient and its square. A robust default (lr about 1e-3).",
                  ("betas", "weight_decay"), _adam_like("Adam"), fused=True),
    OptimizerSpec("adamw", "AdamW", "Adam with decoupled weight decay, which regularises "
                  "better than Adam's L2 penalty. The usual choice for transformers.",
                  ("betas", "weight_decay"), _adam_like("AdamW"), fused=True),
    OptimizerSpec("rmsprop", "RMSprop", "Divides each step by a running average of the squared "
                  "gradient. A classic for recurrent networks.",
                  ("momentum", "weight_decay"),
                  lambda params, lr, opt, **extra: torch.optim.RMSprop(
                      params, lr=lr, momentum=opt["momentum"], weight_decay=opt["weight_decay"],
                      **extra)),
    OptimizerSpec("adagrad", "Adagrad", "Step sizes shrink with the sum of past squared "
                  "gradients: good for sparse features, but learning can stall on long runs.",
                  ("weight_decay",),
                  lambda params, lr, opt, **extra: torch.optim.Adagrad(
                      params, lr=lr, weight_decay=opt["weight_decay"], **extra), fused=True),
    OptimizerSpec("nadam", "NAdam", "Adam with Nesterov momentum: looks ahead along the "
                  "momentum before stepping, often converging a little faster than Adam.",
                  ("betas", "weight_decay"), _adam_like("NAdam")),
    OptimizerSpec("radam", "RAdam", "Rectified Adam: damps Adam's large, noisy early steps "
                  "without a warm-up schedule.",
                  ("betas", "weight_decay"), _adam_like("RAdam")),
    OptimizerSpec("adamax", "Adamax", "Adam scaled by the largest past gradient instead of "
                  "the mean square: steadier when gradients have outliers.",
                  ("betas", "weight_decay"), _adam_like("Adamax")),
)}


#: Keys of a param group that hold learning rates (the optimiser's own and those schedules add):
#: a group with another multiplier than the one it is restored from scales these.
RATE_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")


def multiplier_groups(named: Iterable[tuple[str, nn.Parameter]],
                      multipliers: Mapping[str, float]) -> list[dict[str, Any]]:
    """Param groups of equal learning-rate multiplier, in the order each multiplier first appears.

    Args:
        named: (name, parameter) pairs; a name starts with its node id (``fc1.weight``).
        multipliers: Node id -> its `lr_multiplier` (nodes not listed train at 1.0).

    Returns:
        Groups for `make_optimizer`: ``{"params", "names", "lr_multiplier"}``.
    """
    groups: dict[float, dict[str, Any]] = {}
    for name, param in named:
        multiplier = float(multipliers.get(name.split(".", 1)[0], 1.0))
        group = groups.setdefault(multiplier, {"params": [], "names": [],
                                               "lr_multiplier": multiplier})
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())


def make_optimizer(params: list[nn.Parameter] | list[dict[str, Any]],
                   opt: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimiser named in a validated `optimizer` section.

    `params` is a list of parameters, or of param groups (dicts with ``params`` and optionally
    ``lr_multiplier``, e.g. from `multiplier_groups`): each group's rate is the section's `lr`
    times its multiplier, and the group keeps its multiplier (so it is saved in the optimiser's
    state and the base rate can be read back). A ``names`` entry is dropped. Optimisers with a
    fused kernel use it: the same update as torch's default, up to float rounding, in one kernel.
    """
    params = list(params)
    if params and isinstance(params[0], dict):
        params = [{**{k: v for k, v in group.items() if k != "names"},
                   "lr": opt["lr"] * group.get("lr_multiplier", 1.0)} for group in params]
    spec = OPTIMIZERS[opt["name"]]
    if spec.fused:
        try:
            return spec.build(params, opt["lr"], opt, fused=True)
        except (RuntimeError, ValueError):
            pass  # a device or dtype its fused kernel does not cover: the per-tensor loop
    return spec.build(params, opt["lr"], opt)


def base_lr(optimizer: torch.optim.Optimizer) -> float:
    """The run's learning rate before any multiplier: what the settings, schedules and events
    call the learning rate (read from a group at multiplier 1 when there is one, exactly)."""
    groups = optimizer.param_groups
    group = next((g for g in groups if g.get("lr_multiplier", 1.0) == 1.0), groups[0])
    return group["lr"] / group.get("lr_multiplier", 1.0)


def load_state_by_name(optimizer: torch.optim.Optimizer, names: list[str], saved: dict[str, Any],
                       saved_names: list[str]) -> None:
    """Load a saved optimiser state matched to the parameters by name, not by position.

    A parameter frozen (or unfrozen) since the save simply has no state (or starts fresh), instead
    of another parameter's momenta landing on it. Each group takes its hyperparameters (rate,
    momentum, a schedule's bookkeeping) from the saved group of the same learning-rate multiplier,
    or, for a multiplier new since the save, from the first saved group with its rates scaled to
    the new multiplier.

    Args:
        optimizer: The fresh optimiser.
        names: Its parameters' names, in its index order (group by group).
        saved: The saved `optimizer.state_dict()`.
        saved_names: The saved parameters' names, in the saved index order.
    """
    old_index = {name: i for i, name in enumerate(saved_names)}
    fresh = optimizer.state_dict()
    saved_groups = saved["param_groups"]
    for group in fresh["param_groups"]:
        multiplier = group.get("lr_multiplier", 1.0)
        source = next((g for g in saved_groups if g.get("lr_multiplier", 1.0) == multiplier),
                      saved_groups[0])
        scale = multiplier / source.get("lr_multiplier", 1.0)
        for key, value in source.items():
            if key in ("params", "lr_multiplier", "param_names"):
                continue
            rate = key in RATE_KEYS and type(value) in (int, float)
            group[key] = value * scale if rate and scale != 1.0 else value
    fresh["state"] = {i: saved["state"][old_index[name]] for i, name in enumerate(names)
                      if name in old_index and old_index[name] in saved["state"]}
    optimizer.load_state_dict(fresh)
