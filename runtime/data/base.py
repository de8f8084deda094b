"""The dataset contract shared by built-in and user datasets."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import DatasetError, ParamError
from ..names import did_you_mean
from ..specs import ParamSpec

TASKS = ("classification", "regression")
KINDS = ("tabular", "image", "sequence")


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

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def target_shape(self) -> tuple[int, ...]:
        return tuple(self.y.shape[1:])

    def __len__(self) -> int:
        return int(self.x.shape[0])


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
