"""The dataset catalogue: built-in and user datasets, loaded by name; nothing is ever downloaded.

A design names its data in ``training.dataset``: ``{"name": "spirals", "params": {"noise": 0.1}}``.
`load_dataset` checks the params against the dataset's `ParamSpec`s and returns a `Dataset` (all of
it in memory); `split` draws a seeded train/validation split.

Synthetic 2-D classification (x float32 (N, 2), y int64 (N,); all take n_samples, seed):
    spirals      interleaved spiral arms      noise, n_classes, turns
    moons        two interleaving half moons  noise
    circles      a circle inside a circle     noise, factor
    xor          quadrants labelled by sign   noise
    blobs        Gaussian clusters            centers, cluster_std, n_features, center_box
    gaussian_mixture  ring of Gaussians       modes, radius, std
Synthetic regression (x float32 (N, 1), y float32 (N, 1); n_samples, seed):
    sine         y = sin(frequency x)         noise, frequency, x_range
    polynomial   y = sum c_k x^k              noise, degree, coefficients, x_range
Sequences (n_samples, seed):
    sine_forecast   x (N, L, 1) -> next value y (N, 1)             seq_len, noise, step
    adding_problem  x (N, T, 2) values + markers -> sum y (N, 1)   seq_len
    parity          bits x (N, L, 1) -> odd/even y (N,)            seq_len
    copy            token ids x int64 (N, L) -> y int64 (N, L)     vocab_size, seq_len
    reverse         token ids x int64 (N, L) -> reversed (N, L)    vocab_size, seq_len
    majority        token ids x int64 (N, L) -> most frequent (N,) vocab_size, seq_len
Images (target "input" makes the image its own target, for autoencoders):
    shapes       drawn shapes x (N, 1, size, size) -> y (N,)     n_samples, n_classes, size, noise,
                                                                 target, seed
Real data shipped with scikit-learn (no download):
    digits       8x8 handwritten digits (N, 1, 8, 8) or (N, 64)  flatten, target
    digit_pairs  inputs left, right (N, 1, 8, 8) -> targets sum    n_samples, seed
                 (19 classes), difference (N, 1): named data
    iris, wine, breast_cancer   standardised feature tables     (no params)
User files (relative paths are resolved against the design file's folder):
    csv          a table with a label column   path, label_column, task, header, delimiter
    npz          numpy.savez(x=..., y=...)     path, task, tokens
    idx          MNIST-format IDX (.gz or not) images, labels
    image_folder one sub-folder per class      path, size, grayscale

Run ``python -c "import runtime.data as d; print(d.describe())"`` for every parameter.
"""
from __future__ import annotations

import difflib
from collections.abc import Sized
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..lazy import lazy_import
from ..names import did_you_mean
from . import bundled, image_files, images, sequences, synthetic, tables
from .base import KINDS, TASKS, Dataset, DatasetSpec
from .streamed import StreamedRows

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")

__all__ = ["DATASETS", "Dataset", "DatasetSpec", "KINDS", "TASKS", "describe", "get_spec",
           "load_dataset", "register_dataset", "select_classes", "split", "training_split"]

#: Every dataset by name, in catalogue order.
DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add `spec` to `DATASETS`; a name registered twice is an error."""
    if spec.name in DATASETS:
        raise DatasetError(f"dataset '{spec.name}' is registered twice")
    DATASETS[spec.name] = spec
    return spec


for _spec in (*synthetic.SPECS, *sequences.SPECS, *images.SPECS, *bundled.SPECS, *tables.SPECS,
              *image_files.SPECS):
    register_dataset(_spec)


def get_spec(name: Any) -> DatasetSpec:
    """The spec called `name`, or a `DatasetError` listing the closest names."""
    if not isinstance(name, str) or not name:
        raise DatasetError(f"the dataset needs a name such as 'spirals', got {name!r}")
    if name in DATASETS:
        return DATASETS[name]
    close = difflib.get_close_matches(name.lower(), list(DATASETS), n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise DatasetError(f"unknown dataset '{name}': {hint}Known datasets: {', '.join(DATASETS)}")


def load_dataset(block: dict, base_dir: Path | None = None, seed: int = 0) -> Dataset:
    """Build the dataset a design's ``training.dataset`` block names.

    Args:
        block: ``{"name": ..., "params": {...}}``; other keys (``validation_split``) are ignored,
            and a block-level ``path`` fills a dataset's ``path`` param when params lack one.
        base_dir: Folder that relative file paths are resolved against (the design's folder);
            None means the current directory.
        seed: The run's seed, used for a generated dataset whose params give no ``seed``.

    Raises:
        DatasetError: unknown dataset or parameter, bad value, unreadable file, ...; the message
            names the dataset and the parameter, file, column or line.
    """
    if not isinstance(block, dict):
        raise DatasetError(f"the dataset block must be an object, got {block!r}")
    spec = get_spec(block.get("name"))
    given = block.get("params") or {}
    if not isinstance(given, dict):
        raise DatasetError(f"dataset '{spec.name}': 'params' must be an object, got {given!r}")
    given = dict(given)
    names = spec.param_names()
    if "seed" in names and "seed" not in given:
        given["seed"] = seed
    if "path" in names and "path" not in given and "path" in block:
        given["path"] = block["path"]
    dataset = spec.load(spec.check_params(given), base_dir)
    _check(dataset, spec.name)
    if block.get("classes"):
        dataset = select_classes(dataset, block["classes"])
    return dataset


def select_classes(dataset: Dataset, classes: list) -> Dataset:
    """Only the samples of the named classes (names, or indices as numbers or digit strings),
    relabelled 0, 1, ... in the order given: one dataset split into two tasks (pre-train on
    some classes, fine-tune on the others).

    Raises:
        DatasetError: not a classification dataset with one label per sample, an unknown or
            repeated class, or a class without samples.
    """
    if dataset.named or dataset.task != "classification" or dataset.y.dim() != 1 \
            or not dataset.num_classes:
        raise DatasetError(f"dataset '{dataset.name}': 'classes' picks classes of a "
                           "classification dataset with one label per sample")
    names = dataset.class_names or [str(i) for i in range(dataset.num_classes)]
    picked: list[int] = []
    for wanted in classes:
        if isinstance(wanted, str) and wanted in names:
            index = names.index(wanted)
        elif (isinstance(wanted, int) and not isinstance(wanted, bool)) or (
                isinstance(wanted, str) and wanted.isdigit()):
            index = int(wanted)
            if not 0 <= index < dataset.num_classes:
                raise DatasetError(f"dataset '{dataset.name}': class {wanted!r} is out of range "
                                   f"(it has {dataset.num_classes} classes, 0 to "
                                   f"{dataset.num_classes - 1})")
        else:
            raise DatasetError(f"dataset '{dataset.name}' has no class {wanted!r}"
                               f"{did_you_mean(str(wanted), names)} (its classes: "
                               f"{', '.join(names)})")
        if index in picked:
            raise DatasetError(f"dataset '{dataset.name}': class {wanted!r} is picked twice")
        picked.append(index)
    relabel = torch.full((dataset.num_classes,), -1, dtype=torch.long)
    relabel[torch.tensor(picked)] = torch.arange(len(picked))
    new_y = relabel[dataset.y]
    keep = new_y >= 0
    counts = torch.bincount(new_y[keep], minlength=len(picked))
    empty = [names[picked[i]] for i in range(len(picked)) if counts[i] == 0]
    if empty:
        raise DatasetError(f"dataset '{dataset.name}' has no samples of class "
                           f"{', '.join(map(repr, empty))} (raise n_classes or n_samples?)")
    # rows read from disk stay there: the selection only remembers which
    x = dataset.x.subset(keep) if isinstance(dataset.x, StreamedRows) else dataset.x[keep]
    return Dataset(dataset.name, x, new_y[keep], dataset.task,
                   num_classes=len(picked), class_names=[names[i] for i in picked],
                   vocab_size=dataset.vocab_size, kind=dataset.kind, notes=dict(dataset.notes))


def _check(dataset: Dataset, name: str) -> None:
    if len(dataset) == 0:
        raise DatasetError(f"dataset '{name}' has no samples")
    if dataset.y.shape[0] != dataset.x.shape[0]:
        raise DatasetError(f"dataset '{name}': {dataset.x.shape[0]} inputs but "
                           f"{dataset.y.shape[0]} targets")


def split(dataset: Sized, validation_split: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random train/validation indices (int64 tensors) over `dataset`.

    A split of 0 gives no validation set; any other split keeps at least one sample on each side.

    Raises:
        DatasetError: a split outside [0, 0.9], or too few samples to split.
    """
    if (isinstance(validation_split, bool) or not isinstance(validation_split, (int, float))
            or not 0.0 <= validation_split <= 0.9):
        raise DatasetError(f"validation_split must be a number in [0, 0.9], "
                           f"got {validation_split!r}")
    n = len(dataset)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    if validation_split == 0:
        return order, order[:0]
    if n < 2:
        raise DatasetError(f"cannot hold out a validation set from {n} sample(s)")
    n_val = min(max(1, round(n * validation_split)), n - 1)
    return order[n_val:], order[:n_val]


def training_split(dataset: Dataset, block: dict, seed: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The train/validation indices a (defaults-filled) dataset block asks for: `split` by its
    ``validation_split``, then at most ``train_per_class`` training samples of each class (a
    small labelled subset; the validation split stays whole)."""
    train_idx, val_idx = split(dataset, block["validation_split"], seed)
    per_class = block.get("train_per_class")
    if per_class is None:
        return train_idx, val_idx
    if dataset.named or dataset.task != "classification" or dataset.y.dim() != 1:
        raise DatasetError(f"dataset '{dataset.name}': train_per_class keeps a number of "
                           "samples per class, so it needs a classification dataset with one "
                           "label per sample")
    labels = dataset.y[train_idx]
    # the first `per_class` of each class in the split's (seeded, shuffled) order
    rank = torch.zeros_like(labels)
    for label in labels.unique():
        where = (labels == label).nonzero(as_tuple=True)[0]
        rank[where] = torch.arange(len(where))
    return train_idx[rank < per_class], val_idx


def describe() -> str:
    """Every dataset with its description and parameters, as plain text."""
    out = []
    for spec in DATASETS.values():
        out.append(f"{spec.name} — {spec.title} ({spec.task}, {spec.kind})\n  {spec.description}")
        for p in spec.params:
            out.append(f"    {p.name} ({p.kind}, default {p.default!r}): {p.doc}")
    return "\n".join(out)
