"""Small real datasets that ship inside scikit-learn, so they load offline."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..errors import DatasetError
from ..lazy import lazy_import
from ..specs import ParamSpec
from .base import Dataset, DatasetSpec, NamedTensors, TargetInfo
from .common import SEED, TARGET, generator, n_samples, standardise, with_target

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")


def _sklearn_loader(function: str) -> Callable[[], Any]:
    # Imported on first use: scikit-learn takes a while to import and most runs never need it.
    try:
        from sklearn import datasets
    except ImportError as err:
        raise DatasetError("this dataset is read from scikit-learn, which is not installed: "
                           "pip install scikit-learn") from err
    return getattr(datasets, function)


def _digits(p: dict[str, Any], _: Path | None) -> Dataset:
    bunch = _sklearn_loader("load_digits")()
    pixels = torch.from_numpy(bunch.data).float() / 16.0  # the scans use grey levels 0..16
    x = pixels if p["flatten"] else pixels.reshape(-1, 1, 8, 8)
    labelled = Dataset("digits", x, torch.from_numpy(bunch.target).long(), "classification",
                       num_classes=10, class_names=[str(d) for d in range(10)],
                       kind="tabular" if p["flatten"] else "image")
    return with_target(labelled, p["target"])


def _digit_pairs(p: dict[str, Any], _: Path | None) -> Dataset:
    bunch = _sklearn_loader("load_digits")()
    images = torch.from_numpy(bunch.data).float().reshape(-1, 1, 8, 8) / 16.0
    labels = torch.from_numpy(bunch.target).long()
    gen = generator(p)
    left = torch.randint(0, len(images), (p["n_samples"],), generator=gen)
    right = torch.randint(0, len(images), (p["n_samples"],), generator=gen)
    a, b = labels[left], labels[right]
    sums = [str(k) for k in range(19)]
    return Dataset("digit_pairs", NamedTensors({"left": images[left], "right": images[right]}),
                   NamedTensors({"sum": a + b, "difference": (a - b).float()[:, None]}),
                   "classification", 19, sums, kind="image",
                   targets={"sum": TargetInfo("classification", 19, sums),
                            "difference": TargetInfo("regression")})


def _table(name: str, function: str) -> Callable[[dict[str, Any], Path | None], Dataset]:
    def load(p: dict[str, Any], _: Path | None) -> Dataset:
        bunch = _sklearn_loader(function)()
        x, mean, std = standardise(torch.from_numpy(bunch.data))
        names = [str(n) for n in bunch.target_names]
        return Dataset(name, x, torch.from_numpy(bunch.target).long(), "classification",
                       num_classes=len(names), class_names=names, kind="tabular",
                       notes={"feature_names": [str(f) for f in bunch.feature_names],
                              "feature_mean": mean.tolist(), "feature_std": std.tolist()})
    return load


SPECS = [
    DatasetSpec(
        "digits", "Handwritten digits (8x8)",
        "1,797 tiny scans of handwritten digits 0-9, scaled to [0, 1]. A real image task small "
        "enough to train in seconds, as images for convolutions or flattened for dense layers.",
        "classification", "image",
        (ParamSpec("flatten", "bool", False, "Give each digit as 64 numbers (N, 64) instead of an "
                   "8x8 image (N, 1, 8, 8)."), TARGET),
        _digits),
    DatasetSpec(
        "digit_pairs", "Pairs of handwritten digits",
        "Two 8x8 digit scans as inputs named `left` and `right`, with two targets, `sum` (19 "
        "classes) and `difference` (left minus right, a number), for designs with Inputs and "
        "Outputs of those names. Pairs are drawn at random from the 1,797 scans, so a "
        "validation pair is a new combination whose scans may also appear in training pairs.",
        "classification", "image", (n_samples(6000, 100_000), SEED), _digit_pairs),
    DatasetSpec(
        "iris", "Iris flowers",
        "150 flowers of three species described by four measurements (standardised). The classic "
        "first real classification table: a tiny network reaches about 95% accuracy.",
        "classification", "tabular", (), _table("iris", "load_iris")),
    DatasetSpec(
        "wine", "Wine",
        "178 wines from three cultivars described by 13 chemical measurements (standardised). "
        "Shows why scaling features matters and how quickly a small model fits real data.",
        "classification", "tabular", (), _table("wine", "load_wine")),
    DatasetSpec(
        "breast_cancer", "Breast cancer (Wisconsin)",
        "569 tumours described by 30 measurements (standardised), labelled malignant or benign. "
        "A realistic binary task with enough features to show overfitting and regularisation.",
        "classification", "tabular", (), _table("breast_cancer", "load_breast_cancer")),
]
