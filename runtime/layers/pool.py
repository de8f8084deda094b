"""Pooling: max and average pooling in 1-D and 2-D, and global average pooling."""
from __future__ import annotations

import math

from ..lazy import lazy_import
from ..specs import Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec, TensorInfo, fail
from .rules import as_tuple, expect_spatial, size_param, window_output

# torch is imported when the first module is built, not to read the catalogue
nn = lazy_import("torch.nn", globals(), "nn")
modules = lazy_import("runtime.layers.modules", globals(), "modules")


def _pool_rule(kind: str, dims: int):
    def rule(ctx: LayerContext) -> Inference:
        x = ctx.x
        expect_spatial(kind, x, dims)
        kernel = as_tuple(ctx["kernel_size"], dims)
        stride = as_tuple(ctx["stride"] if ctx["stride"] is not None else ctx["kernel_size"], dims)
        pads = as_tuple(ctx["padding"], dims)
        for p, k in zip(pads, kernel):
            if 2 * p > k:
                fail(f"padding {p} must be at most half the kernel size {k}")
        out_sizes = window_output(kind, x.shape[1:], kernel, stride, pads, (1,) * dims,
                                  str(ctx["padding"]))
        out = TensorInfo((x.shape[0], *out_sizes))
        return Inference({"output": out}, 0, math.prod(out.shape) * math.prod(kernel))
    return rule


def _pool_build(kind: str):
    def build(ctx: LayerContext) -> ModuleRecipe:
        return ModuleRecipe(getattr(nn, kind), {"kernel_size": ctx["kernel_size"], "stride": ctx["stride"],
                                  "padding": ctx["padding"]})
    return build


def _pool_params(dims: int) -> tuple[ParamSpec, ...]:
    return (size_param("kernel_size", 2, "Size of the pooling window.", dims),
            size_param("stride", None, "Step between windows; null means the kernel size "
                       "(non-overlapping windows).", dims, nullable=True),
            size_param("padding", 0, "Implicit padding on each side; at most half the kernel.",
                       dims, minimum=0))


def _pool_spec(kind: str, dims: int, explanation: str, aliases: tuple[str, ...]) -> LayerSpec:
    return LayerSpec(kind, kind, "Pooling", explanation, _pool_params(dims), _pool_rule(kind, dims),
                     _pool_build(kind), aliases=aliases, key_params=("kernel_size", "stride"))


def _global_rule(ctx: LayerContext) -> Inference:
    x = ctx.x
    if len(x.shape) < 2:
        fail(f"GlobalAvgPool averages the spatial dimensions of (batch, channels, ...) but "
             f"receives {x.describe()}, which has none: remove it or Reshape first")
    if ctx["data_format"] == "channels_last":
        out = TensorInfo((x.shape[-1],))
    else:
        out = TensorInfo((x.shape[0],))
    return Inference({"output": out}, 0, math.prod(x.shape))


SPECS = [
    _pool_spec("MaxPool1d", 1, "Keeps the largest value in each window along the sequence, "
               "shrinking it while keeping the strongest responses. Use it after Conv1d layers.",
               ("MaxPooling1D",)),
    _pool_spec("MaxPool2d", 2, "Keeps the largest value in each window of the feature map, "
               "halving height and width with the default 2x2 window. Use it after Conv2d layers "
               "to shrink maps and gain some translation invariance.",
               ("MaxPooling2D", "MaxPool")),
    _pool_spec("AvgPool1d", 1, "Averages each window along the sequence, shrinking it smoothly. "
               "Use it after Conv1d layers when you want to keep overall signal level.",
               ("AveragePooling1D",)),
    _pool_spec("AvgPool2d", 2, "Averages each window of the feature map, shrinking height and "
               "width. Use it as a gentler alternative to max pooling.",
               ("AveragePooling2D", "AvgPool")),
    LayerSpec(
        "GlobalAvgPool", "Global Average Pool", "Pooling",
        "Averages each channel over all its positions, turning (batch, channels, ...) into "
        "(batch, channels) whatever the input size. Use it at the end of a CNN instead of Flatten, "
        "or with channels_last to average a (batch, time, features) sequence over time.",
        (ParamSpec("data_format", "choice", "channels_first", "channels_first averages every "
                   "dimension after the channels (conv maps); channels_last averages every "
                   "dimension before the last (sequences).",
                   choices=("channels_first", "channels_last")),),
        _global_rule,
        lambda ctx: ModuleRecipe(modules.GlobalAvgPool,
                                 {"channels_last": ctx["data_format"] == "channels_last"}),
        aliases=("GlobalAveragePooling2D", "GlobalAveragePooling1D", "AdaptiveAvgPool2d", "GAP"),
        key_params=("data_format",)),
]
