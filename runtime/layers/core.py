"""Input and Output, the dense layer, dropout, embedding and the tensor-shaping layers."""
from __future__ import annotations

import math

from ..lazy import lazy_import
from ..specs import (DTYPES, Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec,
                     PortSpec, TensorInfo, fail)
from ..training.losses import LOSSES
from .rules import numel

# torch is imported when the first module is built, not to read the catalogue
nn = lazy_import("torch.nn", globals(), "nn")
modules = lazy_import("runtime.layers.modules", globals(), "modules")


def _input_rule(ctx: LayerContext) -> Inference:
    return Inference({"output": TensorInfo(tuple(ctx["shape"]), ctx["dtype"])})


#: An Output's `loss` when it uses the training settings' loss.
TRAINING_LOSS = "training"


def _output_rule(ctx: LayerContext) -> Inference:
    return Inference({"output": ctx.x})


def _linear_rule(ctx: LayerContext) -> Inference:
    x = ctx.x
    if len(x.shape) >= 3:
        ctx.warn(f"Linear acts on the last dimension only (size {x.shape[-1]}) of a "
                 f"{x.describe()} tensor: insert a Flatten before it if you meant a fully "
                 "connected layer over the whole sample")
    fan_in, out = x.shape[-1], ctx["out_features"]
    rows = numel(x) // fan_in
    params = fan_in * out + (out if ctx["bias"] else 0)
    return Inference({"output": TensorInfo((*x.shape[:-1], out))}, params, 2 * rows * fan_in * out)


def _linear_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(nn.Linear, {"in_features": ctx.x.shape[-1],
                                    "out_features": ctx["out_features"], "bias": ctx["bias"]})


def _identity_rule(ctx: LayerContext) -> Inference:
    return Inference({"output": ctx.x}, 0, numel(ctx.x))


def _dropout_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(nn.Dropout, {"p": ctx["p"]})


def _flatten_rule(ctx: LayerContext) -> Inference:
    return Inference({"output": TensorInfo((numel(ctx.x),), ctx.x.dtype)})


def _repeat_rule(ctx: LayerContext) -> Inference:
    x = ctx.x
    if len(x.shape) != 1:
        fail(f"RepeatVector repeats one vector per sample (batch, features) but got "
             f"{x.describe()}: add a Flatten before it, or take one step of the sequence")
    return Inference({"output": TensorInfo((ctx["n"], x.shape[0]), x.dtype)})


def _reshape_rule(ctx: LayerContext) -> Inference:
    x, shape = ctx.x, list(ctx["shape"])
    if shape.count(-1) > 1:
        fail("Reshape's shape may contain -1 (infer this size) at most once")
    if 0 in shape:
        fail("Reshape's shape entries must be positive, or -1 once")
    total = numel(x)
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if total % known:
            fail(f"Reshape to ({', '.join(map(str, shape))}) cannot split the {total} values of "
                 f"{x.describe()} evenly: the known sizes multiply to {known}")
        shape[shape.index(-1)] = total // known
    elif known != total:
        fail(f"Reshape to ({', '.join(map(str, shape))}) needs {known} values per sample but the "
             f"input {x.describe()} has {total}: the sizes must multiply to {total}")
    return Inference({"output": TensorInfo(tuple(shape), x.dtype)})


def _permute_rule(ctx: LayerContext) -> Inference:
    x, dims = ctx.x, list(ctx["dims"])
    n = len(x.shape)
    if sorted(dims) != list(range(1, n + 1)):
        fail(f"Permute dims {dims} must list each of 1..{n} once for a {x.describe()} input "
             "(dimension 0 is the batch and stays first)")
    return Inference({"output": TensorInfo(tuple(x.shape[d - 1] for d in dims), x.dtype)})


_UPSAMPLE_MODES = {"nearest": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,),
                   "trilinear": (3,)}


def _upsample_rule(ctx: LayerContext) -> Inference:
    x, mode, scale = ctx.x, ctx["mode"], ctx["scale_factor"]
    spatial = len(x.shape) - 1
    if spatial not in _UPSAMPLE_MODES[mode]:
        ranks = {1: "(batch, channels, length)", 2: "(batch, channels, height, width)",
                 3: "(batch, channels, depth, height, width)"}
        wanted = " or ".join(ranks[r] for r in _UPSAMPLE_MODES[mode])
        fail(f"Upsample mode '{mode}' expects {wanted} but receives {x.describe()}")
    sizes = tuple(math.floor(s * scale) for s in x.shape[1:])
    if min(sizes) < 1:
        fail(f"scale_factor {scale} shrinks {x.describe()} to nothing")
    out = TensorInfo((x.shape[0], *sizes))
    return Inference({"output": out}, 0, numel(out))


def _upsample_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(nn.Upsample, {"scale_factor": ctx["scale_factor"], "mode": ctx["mode"]})


def _embedding_rule(ctx: LayerContext) -> Inference:
    x, dim = ctx.x, ctx["embedding_dim"]
    return Inference({"output": TensorInfo((*x.shape, dim))}, ctx["num_embeddings"] * dim, 0)


def _embedding_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(nn.Embedding, {"num_embeddings": ctx["num_embeddings"],
                                       "embedding_dim": ctx["embedding_dim"]})


SPECS = [
    LayerSpec(
        "Input", "Input", "Input/Output",
        "Where data enters the network; its shape is one sample without the batch dimension. "
        "Use int64 for token ids that feed an Embedding, float32 for everything else.",
        (ParamSpec("shape", "int_list", [2], "Shape of one sample, without the batch dimension.",
                   minimum=1, min_items=1, max_items=4),
         ParamSpec("dtype", "choice", "float32", "Element type of the data.", choices=DTYPES)),
        _input_rule, None, inputs=(), key_params=("shape", "dtype"), input_dtypes=DTYPES),
    LayerSpec(
        "Output", "Output", "Input/Output",
        "Marks a tensor as the network's prediction; the loss compares it with the targets. "
        "A design needs at least one, and several make a model with several outputs: each "
        "compared with the dataset's target of its name, by its own loss, weighted.",
        (ParamSpec("loss", "choice", TRAINING_LOSS, "The loss comparing this output with its "
                   f"targets; '{TRAINING_LOSS}' uses the training settings' loss.",
                   choices=(TRAINING_LOSS, *LOSSES)),
         ParamSpec("loss_weight", "float", 1.0, "How much this output's loss counts in the "
                   "total that training lowers (with several outputs).", minimum=0.0)),
        _output_rule, None, outputs=(), input_dtypes=DTYPES,
        inputs=(PortSpec("input", "The prediction."),)),
    LayerSpec(
        "Linear", "Dense (Linear)", "Core",
        "Multiplies the last dimension by a learned weight matrix and adds a bias, so every output "
        "unit sees every input feature. Use it for MLPs and as the final classifier or regressor "
        "head, after a Flatten when the input is an image.",
        (ParamSpec("out_features", "int", 64, "Number of output units.", minimum=1),
         ParamSpec("bias", "bool", True, "Learn an additive bias per output unit.")),
        _linear_rule, _linear_build, has_weights=True, aliases=("Dense", "FullyConnected", "FC"),
        key_params=("out_features",)),
    LayerSpec(
        "Dropout", "Dropout", "Regularization",
        "During training, zeroes each value with probability p and scales the rest up, so the "
        "network cannot rely on any single unit. Use it against overfitting; it does nothing at "
        "evaluation time.",
        (ParamSpec("p", "float", 0.5, "Probability of zeroing each value.", minimum=0.0,
                   maximum=1.0, exclusive_maximum=True),),
        _identity_rule, _dropout_build, key_params=("p",)),
    LayerSpec(
        "Flatten", "Flatten", "Reshape",
        "Turns each sample into one long vector, keeping the batch dimension. Use it between "
        "convolution/pooling layers and Dense layers.",
        (), _flatten_rule, lambda ctx: ModuleRecipe(nn.Flatten), input_dtypes=DTYPES),
    LayerSpec(
        "Reshape", "Reshape", "Reshape",
        "Rearranges each sample's values into a new shape with the same number of elements. Use "
        "it to turn a flat vector into an image for a Conv2d, or a vector into a sequence.",
        (ParamSpec("shape", "int_list", [-1], "New shape without the batch dimension; one entry "
                   "may be -1 to infer it.", minimum=-1, min_items=1, max_items=4),),
        _reshape_rule, lambda ctx: ModuleRecipe(modules.Reshape, {"shape": list(ctx["shape"])}),
        key_params=("shape",), input_dtypes=DTYPES),
    LayerSpec(
        "RepeatVector", "Repeat Vector", "Reshape",
        "Repeats each sample's vector n times into a sequence (batch, n, features). Use it to "
        "hand one summary (an encoder's last state) to every step of a decoder, as the "
        "encoder-decoder networks without attention do.",
        (ParamSpec("n", "int", 8, "How many steps the sequence has.", minimum=1),),
        _repeat_rule, lambda ctx: ModuleRecipe(modules.RepeatVector, {"n": ctx["n"]}),
        key_params=("n",), aliases=("Repeat", "RepeatVector1d"), input_dtypes=DTYPES),
    LayerSpec(
        "Permute", "Permute", "Reshape",
        "Reorders the dimensions of each sample, e.g. (channels, time) into (time, channels). "
        "Use it to match what the next layer expects: Conv1d wants channels first, RNNs want time "
        "first.",
        (ParamSpec("dims", "int_list", [2, 1], "New order of the non-batch dimensions, numbered "
                   "as PyTorch does (the batch is 0, so these are 1..n).", minimum=1,
                   min_items=1, max_items=4),),
        _permute_rule, lambda ctx: ModuleRecipe(modules.Permute, {"dims": list(ctx["dims"])}),
        key_params=("dims",), input_dtypes=DTYPES),
    LayerSpec(
        "Upsample", "Upsample", "Reshape",
        "Enlarges feature maps by repeating (nearest) or interpolating values. Use it in decoders "
        "and generators as a cheap alternative to transposed convolution.",
        (ParamSpec("scale_factor", "float", 2.0, "Factor by which each spatial size grows.",
                   minimum=0.01, maximum=64.0),
         ParamSpec("mode", "choice", "nearest", "Interpolation method; linear is for 1-D, "
                   "bilinear/bicubic for 2-D, trilinear for 3-D maps.",
                   choices=tuple(_UPSAMPLE_MODES))),
        _upsample_rule, _upsample_build, key_params=("scale_factor", "mode")),
    LayerSpec(
        "Embedding", "Embedding", "Embedding",
        "Looks up a learned vector for each integer token id, turning (batch, length) ids into "
        "(batch, length, embedding_dim) vectors. Use it as the first layer for words, characters "
        "or any categorical input.",
        (ParamSpec("num_embeddings", "int", 16, "Vocabulary size: token ids go from 0 to this "
                   "minus 1.", minimum=1),
         ParamSpec("embedding_dim", "int", 32, "Length of each token's vector.", minimum=1)),
        _embedding_rule, _embedding_build, has_weights=True,
        key_params=("num_embeddings", "embedding_dim"), input_dtypes=("int64",)),
]

