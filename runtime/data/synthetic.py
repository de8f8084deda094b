"""Generated 2-D classification and 1-D regression datasets: small, seeded, instant to make."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..lazy import lazy_import
from ..specs import ParamSpec
from .base import Dataset, DatasetSpec
from .common import SEED, TAU, balanced_labels, generator, n_samples, noise, rand, randn

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")


def _classes(name: str, x: torch.Tensor, y: torch.Tensor, k: int, **notes: Any) -> Dataset:
    return Dataset(name, x.float(), y.long(), "classification", num_classes=k,
                   class_names=[f"class {i}" for i in range(k)], kind="tabular", notes=notes)


def _spirals(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, k = generator(p), p["n_samples"], p["n_classes"]
    y = balanced_labels(n, k, gen)
    t = rand(gen, n)  # how far along its arm each point lies
    radius = 0.1 + 0.9 * t
    # noise jitters the angle (in radians), as in the classic CS231n spirals: points stay on
    # their arm's radius, so 0.2 is a moderate setting and 1.0 makes the arms overlap
    angle = t * p["turns"] * TAU + y * (TAU / k) + p["noise"] * randn(gen, n)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return _classes("spirals", x, y, k)


def _moons(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n = generator(p), p["n_samples"]
    y = balanced_labels(n, 2, gen)
    t = rand(gen, n) * math.pi
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    x = torch.where(y[:, None] == 0, upper, lower) - torch.tensor([0.5, 0.25])
    return _classes("moons", x + p["noise"] * randn(gen, n, 2), y, 2)


def _circles(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n = generator(p), p["n_samples"]
    y = balanced_labels(n, 2, gen)
    angle = rand(gen, n) * TAU
    radius = torch.where(y == 0, 1.0, p["factor"])
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return _classes("circles", x + p["noise"] * randn(gen, n, 2), y, 2)


def _xor(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n = generator(p), p["n_samples"]
    x = rand(gen, n, 2) * 2 - 1
    y = (x[:, 0] > 0) ^ (x[:, 1] > 0)
    return _classes("xor", x + p["noise"] * randn(gen, n, 2), y, 2)


def _blobs(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, k, f = generator(p), p["n_samples"], p["centers"], p["n_features"]
    centres = (rand(gen, k, f) * 2 - 1) * p["center_box"]
    y = balanced_labels(n, k, gen)
    x = centres[y] + p["cluster_std"] * randn(gen, n, f)
    return _classes("blobs", x, y, k, centers=centres.tolist())


def _gaussian_mixture(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, k = generator(p), p["n_samples"], p["modes"]
    y = balanced_labels(n, k, gen)
    angle = torch.arange(k) * (TAU / k)
    centres = p["radius"] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    x = centres[y] + p["std"] * randn(gen, n, 2)
    return _classes("gaussian_mixture", x, y, k, centers=centres.tolist(), std=p["std"])


def _regression(name: str, x: torch.Tensor, y: torch.Tensor, **notes: Any) -> Dataset:
    return Dataset(name, x.float(), y.float(), "regression", kind="tabular", notes=notes)


def _sine(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n = generator(p), p["n_samples"]
    x = (rand(gen, n, 1) * 2 - 1) * p["x_range"]
    y = torch.sin(p["frequency"] * x) + p["noise"] * randn(gen, n, 1)
    return _regression("sine", x, y)


def _coefficients(p: dict[str, Any], gen: torch.Generator) -> torch.Tensor:
    text = p["coefficients"].strip()
    if not text:
        return randn(gen, p["degree"] + 1)
    try:
        values = [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise DatasetError(f"dataset 'polynomial', parameter 'coefficients': '{text}' is not a "
                           "comma-separated list of numbers such as \"1, 0, -2\"") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise DatasetError("dataset 'polynomial', parameter 'coefficients': give finite numbers, "
                           "lowest power first, such as \"1, 0, -2\"")
    return torch.tensor(values)


def _polynomial(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n = generator(p), p["n_samples"]
    coefficients = _coefficients(p, gen)
    x = (rand(gen, n, 1) * 2 - 1) * p["x_range"]
    powers = x ** torch.arange(len(coefficients), dtype=torch.float32)  # (N, degree + 1)
    y = powers @ coefficients[:, None] + p["noise"] * randn(gen, n, 1)
    return _regression("polynomial", x, y, coefficients=coefficients.tolist())


_N = n_samples(500, maximum=1_000_000)

SPECS = [
    DatasetSpec(
        "spirals", "Spirals",
        "Points on interleaved spiral arms, one class per arm. Linear models fail here; it shows "
        "what depth and non-linear activations buy, and how the decision boundary bends.",
        "classification", "tabular",
        (_N, noise(0.2, "Standard deviation, in radians, of the jitter added to each point's "
                   "angle along its arm."),
         ParamSpec("n_classes", "int", 2, "Number of spiral arms (one class each).",
                   minimum=2, maximum=10),
         ParamSpec("turns", "float", 1.5, "How many times each arm winds round the centre; more "
                   "turns make the task harder.", minimum=0.25, maximum=5.0),
         SEED),
        _spirals),
    DatasetSpec(
        "moons", "Two moons",
        "Two interleaving half circles. A gentle first non-linear problem: a small hidden layer "
        "separates them.",
        "classification", "tabular", (_N, noise(0.1), SEED), _moons),
    DatasetSpec(
        "circles", "Circles",
        "A small circle inside a larger one. No straight line separates them, so it shows why a "
        "hidden layer (or a feature like x² + y²) is needed.",
        "classification", "tabular",
        (_N, noise(0.05),
         ParamSpec("factor", "float", 0.5, "Radius of the inner circle relative to the outer one.",
                   minimum=0.0, maximum=1.0, exclusive_maximum=True),
         SEED),
        _circles),
    DatasetSpec(
        "xor", "XOR",
        "Points in a square labelled by whether x and y have the same sign. The classic problem a "
        "single neuron cannot solve and two layers can.",
        "classification", "tabular",
        (_N, noise(0.0, "Standard deviation of the jitter added after labelling, which blurs "
                        "the quadrant borders."), SEED),
        _xor),
    DatasetSpec(
        "blobs", "Gaussian blobs",
        "Round clusters around random centres, one class per cluster. Nearly linearly separable: "
        "good for a first softmax classifier and for watching training converge.",
        "classification", "tabular",
        (_N,
         ParamSpec("centers", "int", 3, "Number of clusters (one class each).",
                   minimum=2, maximum=20),
         ParamSpec("cluster_std", "float", 1.0, "Spread (standard deviation) of each cluster; "
                   "larger values make clusters overlap.", minimum=0.0, maximum=100.0),
         ParamSpec("n_features", "int", 2, "Dimensions of each point.", minimum=1, maximum=1000),
         ParamSpec("center_box", "float", 5.0, "Centres are drawn uniformly from "
                   "[-center_box, center_box] in each dimension.", minimum=0.0, maximum=1000.0),
         SEED),
        _blobs),
    DatasetSpec(
        "gaussian_mixture", "Ring of Gaussians",
        "Points from k Gaussians evenly spaced on a circle, the mixture GAN papers test mode "
        "collapse on: a generator must put samples near every centre, and one that collapses "
        "covers only a few. The label is the Gaussian a point came from (centres in the notes).",
        "classification", "tabular",
        (n_samples(2000, maximum=1_000_000),
         ParamSpec("modes", "int", 8, "Number of Gaussians (k), one class each.", minimum=1,
                   maximum=64),
         ParamSpec("radius", "float", 2.0, "Radius of the circle the centres lie on.",
                   minimum=0.0, maximum=100.0),
         ParamSpec("std", "float", 0.05, "Standard deviation of each Gaussian.", minimum=0.0,
                   maximum=100.0),
         SEED),
        _gaussian_mixture),
    DatasetSpec(
        "sine", "Sine wave",
        "Noisy samples of y = sin(frequency * x). The simplest curve-fitting task: watch a network "
        "bend a line into a wave, and see noise set the floor of the loss.",
        "regression", "tabular",
        (_N, noise(0.1, "Standard deviation of the noise added to y."),
         ParamSpec("frequency", "float", 1.0, "Angular frequency of the wave.",
                   minimum=0.01, maximum=100.0),
         ParamSpec("x_range", "float", 2 * math.pi, "x is drawn uniformly from "
                   "[-x_range, x_range].", minimum=0.01, maximum=1000.0),
         SEED),
        _sine),
    DatasetSpec(
        "polynomial", "Polynomial",
        "Noisy samples of a polynomial in x. Good for seeing under- and over-fitting as the "
        "network grows.",
        "regression", "tabular",
        (_N, noise(0.1, "Standard deviation of the noise added to y."),
         ParamSpec("degree", "int", 3, "Degree of the random polynomial (ignored when "
                   "coefficients are given).", minimum=0, maximum=10),
         ParamSpec("coefficients", "str", "", "Comma-separated coefficients, lowest power first "
                   "(\"1, 0, -2\" is 1 - 2x²); empty draws them at random from the seed."),
         ParamSpec("x_range", "float", 1.0, "x is drawn uniformly from [-x_range, x_range].",
                   minimum=0.01, maximum=100.0),
         SEED),
        _polynomial),
]
