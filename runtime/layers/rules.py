"""Helpers shared by the shape rules of several layer families."""
from __future__ import annotations

import math
from typing import Any

from ..specs import ParamSpec, TensorInfo, fail

SPATIAL_NAMES = {1: "(batch, channels, length)", 2: "(batch, channels, height, width)",
                 3: "(batch, channels, depth, height, width)"}


def numel(info: TensorInfo) -> int:
    """Elements of one sample."""
    return math.prod(info.shape)


def as_tuple(value: Any, n: int) -> tuple[int, ...]:
    """An int or list param as an n-tuple."""
    return tuple(value) if isinstance(value, list) else (value,) * n


def reshape_hint(x: TensorInfo, want_rank: int) -> str:
    """Advice for feeding `x` to a layer that wants `want_rank` non-batch dims."""
    if want_rank == 3 and len(x.shape) == 1:
        side = math.isqrt(x.shape[0])
        if side * side == x.shape[0]:
            return f"insert a Reshape to (1, {side}, {side}) before it"
    if want_rank == 3 and len(x.shape) == 2:
        return f"insert a Reshape to (1, {x.shape[0]}, {x.shape[1]}) before it"
    if want_rank == 2 and len(x.shape) == 1:
        return f"insert a Reshape to (1, {x.shape[0]}) before it"
    if len(x.shape) > want_rank:
        return "insert a Flatten or Reshape before it"
    return "insert a Reshape before it"


def expect_spatial(kind: str, x: TensorInfo, dims: int) -> None:
    """Refuse `x` unless it is (batch, channels, *dims spatial sizes)."""
    if len(x.shape) != dims + 1:
        fail(f"{kind} expects {SPATIAL_NAMES[dims]} but receives {x.describe()}: "
             f"{reshape_hint(x, dims + 1)}")


def spatial_text(sizes: tuple[int, ...]) -> str:
    return "x".join(map(str, sizes))


def window_output(kind: str, sizes: tuple[int, ...], kernel: tuple[int, ...],
                  stride: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...],
                  padding_text: str) -> tuple[int, ...]:
    """Output spatial sizes of a sliding window (conv or pool), refusing windows that do not fit."""
    out = []
    for size, k, s, p, d in zip(sizes, kernel, stride, padding, dilation):
        reach = d * (k - 1) + 1
        if reach > size + 2 * p:
            what = f"kernel {k}" if d == 1 else f"kernel {k} with dilation {d} (reach {reach})"
            fail(f"{what} is larger than the {spatial_text(sizes)} input with padding "
                 f"{padding_text}: use a smaller kernel, more padding, or a larger input")
        out.append((size + 2 * p - reach) // s + 1)
    return tuple(out)


def padding_text(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def batch_dim(dim: int, x: TensorInfo, what: str) -> int:
    """Index into `x.shape` for a PyTorch dim (batch = 0); refuses the batch and out-of-range dims."""
    rank = x.rank
    n = rank - 1
    valid = f"1..{n} or -{n}..-1" if n > 1 else "1 or -1"
    if not -rank <= dim < rank:
        fail(f"{what} dim {dim} is out of range for a {x.describe()} tensor (valid: {valid})")
    index = dim % rank
    if index == 0:
        fail(f"{what} dim {dim} is the batch dimension: use {valid}")
    return index - 1


def size_param(name: str, default: Any, doc: str, n: int, minimum: int = 1,
               nullable: bool = False) -> ParamSpec:
    return ParamSpec(name, "size", default, doc, minimum=minimum, length=n, nullable=nullable)


def padding_param(n: int, choices: tuple[str, ...] = ("same", "valid"), default: Any = "valid",
                  doc: str | None = None) -> ParamSpec:
    return ParamSpec("padding", "padding", default,
                     doc or "Zeros added around the input: 'same' keeps the size (stride 1), "
                            "'valid' adds none, or a number of pixels per side.",
                     minimum=0, length=n, choices=choices)
