"""The dataset contract shared by built-in and user datasets."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..specs import ParamSpec

TASKS = ("classification", "regression")


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
