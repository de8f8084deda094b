"""Procedurally drawn images of simple shapes: an MNIST-sized image task that needs no download."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..lazy import lazy_import
from ..specs import ParamSpec
from .base import Dataset, DatasetSpec
from .common import (SEED, TARGET, balanced_labels, generator, n_samples, rand, randn,
                     with_target)

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")

Mask = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]

# Each shape is a test on coordinates normalised to the shape's box: (dx, dy) in [-1, 1]², with dy
# pointing down the image. Half-widths below 1 keep areas comparable without being equal.
SHAPES: dict[str, Mask] = {
    "circle": lambda dx, dy: dx * dx + dy * dy <= 1.0,
    "square": lambda dx, dy: torch.maximum(dx.abs(), dy.abs()) <= 0.8,
    "triangle": lambda dx, dy: (dy <= 0.8) & (dx.abs() <= (dy + 1.0) / 1.8),
    "cross": lambda dx, dy: (((dx.abs() <= 0.3) & (dy.abs() <= 1.0))
                             | ((dy.abs() <= 0.3) & (dx.abs() <= 1.0))),
    "horizontal_bar": lambda dx, dy: (dy.abs() <= 0.3) & (dx.abs() <= 1.0),
    "vertical_bar": lambda dx, dy: (dx.abs() <= 0.3) & (dy.abs() <= 1.0),
    "diamond": lambda dx, dy: dx.abs() + dy.abs() <= 1.0,
    "ring": lambda dx, dy: ((dx * dx + dy * dy) <= 1.0) & ((dx * dx + dy * dy) >= 0.45),
}
SHAPE_NAMES = list(SHAPES)


def draw_shapes(labels: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, radius: torch.Tensor,
                intensity: torch.Tensor, size: int) -> torch.Tensor:
    """Draw one filled shape per sample on a black canvas, all samples of a class at once.

    Args:
        labels: (N,) indices into `SHAPE_NAMES`.
        cx, cy, radius: (N,) centre and half-extent in pixels.
        intensity: (N,) brightness of the shape, in [0, 1].
        size: Width and height of the square images.

    Returns:
        (N, 1, size, size) float32 images.
    """
    coords = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    images = torch.zeros(len(labels), size, size)
    for index, name in enumerate(SHAPE_NAMES):
        chosen = (labels == index).nonzero(as_tuple=True)[0]
        if len(chosen) == 0:
            continue
        r = radius[chosen, None, None]
        dx = (coords[None, None, :] - cx[chosen, None, None]) / r
        dy = (coords[None, :, None] - cy[chosen, None, None]) / r
        images[chosen] = SHAPES[name](dx, dy).float() * intensity[chosen, None, None]
    return images[:, None]


def _shapes(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, k, size = generator(p), p["n_samples"], p["n_classes"], p["size"]
    labels = balanced_labels(n, k, gen)
    radius = size * (0.2 + 0.2 * rand(gen, n))  # half-extent: 20-40% of the image side
    # Centres keep the whole shape inside the image.
    cx = radius + rand(gen, n) * (size - 2 * radius)
    cy = radius + rand(gen, n) * (size - 2 * radius)
    intensity = 0.5 + 0.5 * rand(gen, n)
    x = draw_shapes(labels, cx, cy, radius, intensity, size)
    if p["noise"] > 0:
        x = (x + p["noise"] * randn(gen, *x.shape)).clamp_(0.0, 1.0)
    labelled = Dataset("shapes", x, labels, "classification", num_classes=k,
                       class_names=SHAPE_NAMES[:k], kind="image")
    return with_target(labelled, p["target"])


SPECS = [
    DatasetSpec(
        "shapes", "Shapes",
        "Small grey-scale pictures of filled circles, squares, triangles and more, at random "
        "positions, sizes and brightness. An MNIST-like first task for convolutional networks that "
        "is generated instantly.",
        "classification", "image",
        (n_samples(2000, maximum=100_000),
         ParamSpec("n_classes", "int", 3, "How many shape classes, taken in order from: "
                   + ", ".join(SHAPE_NAMES) + ".", minimum=2, maximum=len(SHAPE_NAMES)),
         ParamSpec("size", "int", 28, "Width and height of each image in pixels.",
                   minimum=8, maximum=64),
         ParamSpec("noise", "float", 0.05, "Standard deviation of the pixel noise (0 for clean "
                   "images); values are clipped to [0, 1].", minimum=0.0, maximum=1.0),
         TARGET, SEED),
        _shapes),
]
