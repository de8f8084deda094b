"""Merge nodes for skip connections and multi-branch networks: Add, Multiply, Concat."""
from __future__ import annotations

from ..lazy import lazy_import
from ..specs import (DTYPES, Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec, PortSpec,
                     TensorInfo, fail)
from .rules import batch_dim, numel

# torch is imported when the first module is built, not to read the catalogue
modules = lazy_import("runtime.layers.modules", globals(), "modules")

_INPUTS = (PortSpec("input", "Two or more tensors, combined in the order their edges appear in "
                    "the file.", variadic=True, min_count=2),)


def _elementwise_rule(kind: str, fix: str):
    def rule(ctx: LayerContext) -> Inference:
        xs: list[TensorInfo] = ctx.inputs["input"]
        first = xs[0]
        shape = first.shape
        for other in xs[1:]:
            # Compare with the broadcast so far, not just the first input: (1, 4) + (3, 4) + (5, 4)
            # passes every pairwise check against (1, 4) but cannot broadcast.
            if len(other.shape) != len(shape) or any(
                    a != b and 1 not in (a, b) for a, b in zip(shape, other.shape)):
                fail(f"{kind} needs inputs of the same shape (or size 1 to broadcast): "
                     f"{TensorInfo(shape).describe()} vs {other.describe()}: {fix}")
            shape = tuple(max(a, b) for a, b in zip(shape, other.shape))
        out = TensorInfo(shape, first.dtype)
        return Inference({"output": out}, 0, (len(xs) - 1) * numel(out))
    return rule


def _concat_rule(ctx: LayerContext) -> Inference:
    xs: list[TensorInfo] = ctx.inputs["input"]
    first = xs[0]
    index = batch_dim(ctx["dim"], first, "Concat")
    for other in xs[1:]:
        same_rank = len(other.shape) == len(first.shape)
        if not same_rank or any(a != b for i, (a, b) in enumerate(zip(first.shape, other.shape))
                                if i != index):
            fail(f"Concat on dim {ctx['dim']} needs equal sizes on the other dims: "
                 f"{first.describe()} vs {other.describe()}")
        if other.dtype != first.dtype:
            fail(f"Concat inputs must share a dtype: {first.dtype} vs {other.dtype}")
    shape = list(first.shape)
    shape[index] = sum(x.shape[index] for x in xs)
    return Inference({"output": TensorInfo(tuple(shape), first.dtype)})


SPECS = [
    LayerSpec(
        "Add", "Add", "Merge",
        "Adds its inputs element by element. Use it for residual (skip) connections, where a "
        "block's output is added to its input so gradients flow straight through.",
        (), _elementwise_rule("Add", "make both paths produce the same shape (e.g. a 1x1 Conv2d "
                              "or a Linear on the skip path)"),
        lambda ctx: ModuleRecipe(modules.Add), inputs=_INPUTS, aliases=("Sum", "Residual")),
    LayerSpec(
        "Multiply", "Multiply", "Merge",
        "Multiplies its inputs element by element. Use it for gating, e.g. scaling features by "
        "learned weights in (0, 1) from a Sigmoid branch.",
        (), _elementwise_rule("Multiply", "make both paths produce the same shape"),
        lambda ctx: ModuleRecipe(modules.Multiply), inputs=_INPUTS, aliases=("Mul", "Product")),
    LayerSpec(
        "Concat", "Concatenate", "Merge",
        "Joins its inputs along one dimension, e.g. stacking the channels of two branches. Use it "
        "for Inception- and DenseNet-style blocks and U-Net skip connections.",
        (ParamSpec("dim", "int", 1, "Dimension to join along (PyTorch numbering: the batch is 0; "
                   "1 is channels or features, -1 the last)."),),
        _concat_rule, lambda ctx: ModuleRecipe(modules.Concat, {"dim": ctx["dim"]}),
        inputs=_INPUTS, aliases=("Concatenate", "Cat"), key_params=("dim",), input_dtypes=DTYPES),
]
