"""The dataset contract shared by built-in and user datasets."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import DatasetError, ParamError
from ..lazy import lazy_import
from ..names import did_you_mean
from ..specs import ParamSpec

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")

TASKS = ("classification", "regression")
KINDS = ("tabular", "image", "sequence")


class NamedTensors:
    """Several tensors with one sample per row, indexed together: the named inputs or targets of
    a dataset for a design with several Inputs or Outputs (each named after its node).

    `x[idx]` picks the same rows of every tensor, `x["name"]` gives one tensor, so a batch of
    named data moves through the trainer like a single tensor.
    """

    def __init__(self, tensors: dict[str, torch.Tensor]):
        if not tensors:
            raise ValueError("NamedTensors needs at least one tensor")
        sizes = {name: int(t.shape[0]) for name, t in tensors.items()}
        if len(set(sizes.values())) != 1:
            raise DatasetError("named data must have one row per sample in every tensor; got "
                               + ", ".join(f"{name}: {n}" for name, n in sizes.items()))
        self.tensors = dict(tensors)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.tensors[key]
        return NamedTensors({name: t[key] for name, t in self.tensors.items()})

    def __len__(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    @property
    def names(self) -> list[str]:
        return list(self.tensors)

    @property
    def shape(self) -> tuple[int, ...]:
        """(samples,): the one dimension every tensor shares."""
        return (len(self),)

    @property
    def device(self) -> torch.device:
        return next(iter(self.tensors.values())).device

    def to(self, device, non_blocking: bool = False) -> "NamedTensors":
        return NamedTensors({name: t.to(device, non_blocking=non_blocking)
                             for name, t in self.tensors.items()})

    def pin_memory(self) -> "NamedTensors":
        return NamedTensors({name: t.pin_memory() for name, t in self.tensors.items()})

    def map(self, function) -> "NamedTensors":
        """Every tensor through `function` (augmentation, corruption)."""
        return NamedTensors({name: function(t) for name, t in self.tensors.items()})

    def items(self):
        return self.tensors.items()


@dataclass(frozen=True)
class TargetInfo:
    """What one named target of a dataset is: its task, and its classes for classification."""

    task: str
    num_classes: int | None = None
    class_names: list[str] | None = None


@dataclass
class Dataset:
    """A whole dataset in memory (CPU tensors; the trainer moves them to the device once).

    Attributes:
        name: Registry name (e.g. "spirals").
        x: All inputs, shape (N, *sample_shape); float32, or int64 for token sequences.
        y: All targets: int64 class indices (N,) or (N, L) for per-step labels; float32 for
            regression (N, *target_shape).
        task: "classification" or "regression".
        num_classes: Number of classes for classification, else None.
        class_names: Optional readable labels for the classes.
        vocab_size: For int64 token inputs, the number of distinct token ids (for Embedding).
        kind: "tabular", "image" or "sequence": which augmentations make sense.
        targets: For named targets (`y` a `NamedTensors`, one per Output node): each one's task
            and classes; `task`, `num_classes` and `class_names` then describe the first.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    task: str
    num_classes: int | None = None
    class_names: list[str] | None = None
    vocab_size: int | None = None
    kind: str = "tabular"
    notes: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, TargetInfo] | None = None

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape (for named inputs, the first input's)."""
        x = next(iter(self.x.tensors.values())) if isinstance(self.x, NamedTensors) else self.x
        return tuple(x.shape[1:])

    @property
    def target_shape(self) -> tuple[int, ...]:
        y = self.y if isinstance(self.y, torch.Tensor) else next(iter(self.y.tensors.values()))
        return tuple(y.shape[1:])

    @property
    def named(self) -> bool:
        """Whether the inputs or the targets are named (a design with several Inputs/Outputs)."""
        return isinstance(self.x, NamedTensors) or isinstance(self.y, NamedTensors)

    def target(self, name: str) -> "Dataset":
        """The dataset as one named target sees it: its targets, task and classes."""
        info = (self.targets or {})[name]
        return Dataset(f"{self.name}:{name}", self.x, self.y[name], info.task, info.num_classes,
                       info.class_names, self.vocab_size, self.kind, self.notes)

    def __len__(self) -> int:
        return len(self.x) if isinstance(self.x, NamedTensors) else int(self.x.shape[0])

    def describe(self) -> str:
        """"1,797 samples of (1, 8, 8) float32, 10 classes", naming each input and target when
        they are named."""
        def values(t: torch.Tensor) -> str:
            shape = "(" + ", ".join(map(str, t.shape[1:])) + ")"
            return f"{shape} {str(t.dtype).replace('torch.', '')}"

        def target(task: str, classes: int | None) -> str:
            return f"{classes} classes" if classes else task

        if isinstance(self.x, NamedTensors):
            inputs = "inputs " + ", ".join(f"{name} {values(t)}" for name, t in self.x.items())
        else:
            inputs = values(self.x)
        if isinstance(self.y, NamedTensors):
            info = self.targets or {}
            targets = "; targets " + ", ".join(
                f"{name} ({target(info[name].task, info[name].num_classes)})"
                if name in info else name for name in self.y.names)
        else:
            targets = ", " + (f"{self.num_classes} classes" if self.num_classes else "regression")
        return f"{len(self):,} samples of {inputs}{targets}"


@dataclass(frozen=True)
class DatasetSpec:
    """The declaration of a dataset: its name, what it is, its parameters, and its loader.

    `load(params, base_dir)` receives validated params (defaults filled in) and the folder that
    relative paths are resolved against (the design file's folder), and returns a `Dataset` or
    raises `DatasetError` with a message naming the problem.
    """

    name: str
    title: str
    description: str
    task: str
    kind: str
    params: tuple[ParamSpec, ...]
    load: Callable[[dict[str, Any], Path | None], Dataset]

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"dataset '{self.name}': unknown task '{self.task}'")
        if self.kind not in KINDS:
            raise ValueError(f"dataset '{self.name}': unknown kind '{self.kind}'")
        names = self.param_names()
        if len(set(names)) != len(names):
            raise ValueError(f"dataset '{self.name}': duplicate parameter names in {names}")

    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def param(self, name: str) -> ParamSpec:
        """The `ParamSpec` called `name`; KeyError when the dataset has none."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default, as fresh JSON values."""
        return {p.name: list(p.default) if isinstance(p.default, list) else p.default
                for p in self.params}

    def check_params(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every parameter (given values validated, the rest at defaults).

        Raises:
            DatasetError: naming the dataset and the parameter, and for an unknown parameter the
                closest known one.
        """
        values = self.defaults()
        for name, value in given.items():
            if name not in values:
                known = ", ".join(values) or "none"
                raise DatasetError(f"dataset '{self.name}' has no parameter '{name}'"
                                   f"{did_you_mean(name, list(values))} (its parameters: {known})")
            try:
                values[name] = self.param(name).validate(value)
            except ParamError as err:
                raise DatasetError(f"dataset '{self.name}', parameter {err}") from None
        return values
