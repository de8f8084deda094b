"""Normalisation layers: BatchNorm (1d/2d/3d picked from the input rank) and LayerNorm."""
from __future__ import annotations

import math

from ..lazy import lazy_import
from ..specs import Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec, fail

# torch is imported when the first module is built, not to read the catalogue
nn = lazy_import("torch.nn", globals(), "nn")

#: The torch.nn class for each input rank (batch included).
_BATCHNORM = {1: "BatchNorm1d", 2: "BatchNorm1d", 3: "BatchNorm2d", 4: "BatchNorm3d"}


def _batchnorm_rule(ctx: LayerContext) -> Inference:
    x = ctx.x
    if len(x.shape) not in _BATCHNORM:
        fail(f"BatchNorm accepts (batch, features) up to (batch, channels, depth, height, width) "
             f"but receives {x.describe()}")
    if len(x.shape) == 2:
        ctx.warn(f"BatchNorm treats dimension 1 of {x.describe()} as channels; for a (batch, time, "
                 "features) sequence, LayerNorm is usually what you want")
    # running mean and variance per channel, and the count of batches seen
    return Inference({"output": x}, 2 * x.shape[0], 4 * math.prod(x.shape), 2 * x.shape[0] + 1)


def _batchnorm_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(getattr(nn, _BATCHNORM[len(ctx.x.shape)]), {
        "num_features": ctx.x.shape[0], "eps": ctx["eps"], "momentum": ctx["momentum"]})


def _normalized_shape(ctx: LayerContext) -> list[int]:
    x, k = ctx.x, ctx["normalized_dims"]
    if k > len(x.shape):
        fail(f"normalized_dims {k} exceeds the {len(x.shape)} non-batch dimensions of "
             f"{x.describe()}")
    return list(x.shape[-k:])


def _layernorm_rule(ctx: LayerContext) -> Inference:
    shape = _normalized_shape(ctx)
    params = 2 * math.prod(shape) if ctx["elementwise_affine"] else 0
    return Inference({"output": ctx.x}, params, 5 * math.prod(ctx.x.shape))


def _layernorm_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(nn.LayerNorm, {"normalized_shape": _normalized_shape(ctx),
                                       "eps": ctx["eps"],
                                       "elementwise_affine": ctx["elementwise_affine"]})


_EPS = ParamSpec("eps", "float", 1e-5, "Small number added to the variance for stability.",
                 minimum=0.0, maximum=1.0)

SPECS = [
    LayerSpec(
        "BatchNorm", "Batch Normalization", "Normalization",
        "Normalises each channel to zero mean and unit variance over the batch, then applies a "
        "learned scale and shift; BatchNorm1d or 2d is picked from the input's rank. Use it after "
        "convolutions or dense layers to train deep networks faster and more stably.",
        (_EPS,
         ParamSpec("momentum", "float", 0.1, "How fast the running statistics used at evaluation "
                   "time follow the batch statistics.", minimum=0.0, maximum=1.0)),
        _batchnorm_rule, _batchnorm_build, has_weights=True,
        aliases=("BatchNorm1d", "BatchNorm2d", "BatchNormalization", "BN")),
    LayerSpec(
        "LayerNorm", "Layer Normalization", "Normalization",
        "Normalises the last dimension(s) of each sample to zero mean and unit variance, "
        "independent of the batch. Use it in transformers and recurrent networks, where batch "
        "statistics are unreliable.",
        (_EPS,
         ParamSpec("normalized_dims", "int", 1, "How many trailing dimensions are normalised "
                   "together.", minimum=1, maximum=4),
         ParamSpec("elementwise_affine", "bool", True, "Learn a scale and shift per element.")),
        _layernorm_rule, _layernorm_build, has_weights=True,
        aliases=("LayerNormalization", "LN")),
]
