"""Attention: multi-head attention, the transformer encoder layer and positional encodings."""
from __future__ import annotations

from ..lazy import lazy_import
from ..specs import (Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec, PortSpec,
                     TensorInfo, fail)
from .rules import reshape_hint

# torch is imported when the first module is built, not to read the catalogue
modules = lazy_import("runtime.layers.modules", globals(), "modules")


def _sequence(kind: str, x: TensorInfo, port: str = "") -> tuple[int, int]:
    if len(x.shape) != 2:
        where = f" on '{port}'" if port else ""
        fail(f"{kind} expects (batch, sequence, features){where} but receives {x.describe()}: "
             f"{reshape_hint(x, 2)}")
    return x.shape


def _heads(kind: str, name: str, heads: int, dim: int) -> None:
    if dim % heads:
        fail(f"{kind}: {name}={heads} must divide the embedding size {dim}: "
             f"use one of {[h for h in range(1, min(dim, 16) + 1) if dim % h == 0]}")


def _attention_rule(ctx: LayerContext) -> Inference:
    query = ctx.inputs["query"]
    length, dim = _sequence("MultiheadAttention", query, "query")
    key = ctx.inputs.get("key", query)
    value = ctx.inputs.get("value", key)
    src_len, kdim = _sequence("MultiheadAttention", key, "key")
    v_len, vdim = _sequence("MultiheadAttention", value, "value")
    if v_len != src_len:
        fail(f"key and value need the same sequence length: {key.describe()} vs {value.describe()}")
    _heads("MultiheadAttention", "num_heads", ctx["num_heads"], dim)
    params = dim * dim + dim * kdim + dim * vdim + 3 * dim + dim * dim + dim
    flops = 2 * (length * dim * dim + src_len * dim * (kdim + vdim)) \
        + 4 * length * src_len * dim + 2 * length * dim * dim
    return Inference({"output": TensorInfo((length, dim))}, params, flops)


def _attention_build(ctx: LayerContext) -> ModuleRecipe:
    query = ctx.inputs["query"]
    key = ctx.inputs.get("key", query)
    value = ctx.inputs.get("value", key)
    return ModuleRecipe(modules.MultiheadAttention, {
        "embed_dim": query.shape[-1], "num_heads": ctx["num_heads"], "dropout": ctx["dropout"],
        "kdim": key.shape[-1], "vdim": value.shape[-1], "causal": ctx["causal"]})


def _encoder_rule(ctx: LayerContext) -> Inference:
    length, dim = _sequence("TransformerEncoderLayer", ctx.x)
    _heads("TransformerEncoderLayer", "nhead", ctx["nhead"], dim)
    ff = ctx["dim_feedforward"]
    params = (4 * dim * dim + 4 * dim) + (dim * ff + ff) + (ff * dim + dim) + 4 * dim
    flops = 2 * length * (4 * dim * dim + 2 * dim * ff) + 4 * length * length * dim
    return Inference({"output": ctx.x}, params, flops)


def _encoder_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(modules.TransformerEncoderLayer, {
        "d_model": ctx.x.shape[-1], "nhead": ctx["nhead"],
        "dim_feedforward": ctx["dim_feedforward"], "dropout": ctx["dropout"],
        "activation": ctx["activation"], "norm_first": ctx["norm_first"], "causal": ctx["causal"]})


def _positional_rule(ctx: LayerContext) -> Inference:
    length, dim = _sequence("PositionalEncoding", ctx.x)
    if length > ctx["max_len"]:
        fail(f"the sequence has {length} positions but max_len is {ctx['max_len']}: "
             f"raise max_len to at least {length}")
    table = ctx["max_len"] * dim  # learned: parameters; sinusoidal: a fixed buffer
    learned = ctx["kind"] == "learned"
    return Inference({"output": ctx.x}, table if learned else 0, length * dim,
                     0 if learned else table)


def _positional_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(modules.PositionalEncoding, {
        "d_model": ctx.x.shape[-1], "max_len": ctx["max_len"], "kind": ctx["kind"]})


_DROPOUT = ParamSpec("dropout", "float", 0.0, "Dropout on the attention weights.", minimum=0.0,
                     maximum=1.0, exclusive_maximum=True)
_CAUSAL = ParamSpec("causal", "bool", False, "Each position may attend only to itself and earlier "
                    "positions (for autoregressive models).")

SPECS = [
    LayerSpec(
        "MultiheadAttention", "Multi-Head Attention", "Attention",
        "Each query position takes a weighted average of the values, weighted by how well the "
        "query matches each key, in several heads at once. Connect only the query for "
        "self-attention, or feed key/value from another sequence for cross-attention.",
        (ParamSpec("num_heads", "int", 4, "Number of attention heads; must divide the embedding "
                   "size.", minimum=1), _DROPOUT, _CAUSAL),
        _attention_rule, _attention_build,
        inputs=(PortSpec("query", "Sequence that asks (batch, L, E); sets the output length."),
                PortSpec("key", "Sequence that is searched (batch, S, kdim); defaults to the "
                         "query.", optional=True),
                PortSpec("value", "Sequence whose vectors are averaged (batch, S, vdim); "
                         "defaults to the key.", optional=True)),
        has_weights=True, aliases=("Attention", "MultiHeadAttention", "MHA"),
        key_params=("num_heads", "causal")),
    LayerSpec(
        "TransformerEncoderLayer", "Transformer Encoder Layer", "Attention",
        "Self-attention followed by a position-wise feed-forward network, each with a residual "
        "connection and layer normalisation. Stack a few after an Embedding and a "
        "PositionalEncoding to build a transformer encoder.",
        (ParamSpec("nhead", "int", 4, "Number of attention heads; must divide d_model.",
                   minimum=1),
         ParamSpec("dim_feedforward", "int", 128, "Hidden size of the feed-forward network.",
                   minimum=1),
         ParamSpec("dropout", "float", 0.1, "Dropout inside the layer.", minimum=0.0,
                   maximum=1.0, exclusive_maximum=True),
         ParamSpec("activation", "choice", "relu", "Activation of the feed-forward network.",
                   choices=("relu", "gelu")),
         ParamSpec("norm_first", "bool", False, "Normalise before attention and feed-forward "
                   "(pre-LN, trains more stably in deep stacks)."),
         _CAUSAL),
        _encoder_rule, _encoder_build, has_weights=True, aliases=("TransformerEncoder",
                                                                   "TransformerBlock"),
        key_params=("nhead", "dim_feedforward")),
    LayerSpec(
        "PositionalEncoding", "Positional Encoding", "Attention",
        "Adds a position-dependent vector to each step so attention, which ignores order, can "
        "tell positions apart. Put it right after the Embedding of a transformer.",
        (ParamSpec("kind", "choice", "sinusoidal", "Fixed sine/cosine waves, or a learned table.",
                   choices=("sinusoidal", "learned")),
         ParamSpec("max_len", "int", 512, "Longest sequence it can encode.", minimum=1)),
        _positional_rule, _positional_build, has_weights=True, aliases=("PositionEmbedding",),
        key_params=("kind",)),
]
