"""The one table from PyTorch to the catalogue: which module, function or method becomes which node.

Each entry names its catalogue layer and the rule (rules.py) that reads the call's parameters by
the layer's `ParamSpec` names; `mapping_rows` gives the table to docs/import.md (docs.py).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .rules import (RESHAPE_METHODS, Rule, activation_rule, adaptive_pool, attention_rule,
                    avg_pool_checks, batchnorm_checks, cat_rule, conv_checks, dropout_rule,
                    embedding_rule, encoder_layer_rule, encoder_stack_rule, functional_pool,
                    has_attributes, has_bias, helper_attention, helper_global_pool,
                    helper_positional, helper_rbm, indexing_rule, interpolate_rule,
                    layernorm_params, max_pool_checks, mean_rule, merge_rule, module_rule,
                    permute_rule, pool_stride, recurrent_rule, repeat_rule, reshaped,
                    same_type_rule, softmax_checks, transpose_rule, unchanged_rule,
                    upsample_params, variadic_rule)


@dataclass(frozen=True)
class Entry:
    """One row of the table.

    Attributes:
        layer: The catalogue layer it becomes (for the docs; "" where the shapes decide, as for
            a reshape that may be a Flatten, a Reshape or nothing).
        rule: Turns a call into layers.
        names: For functions and methods: the positional parameters' names, the tensor first.
        note: What the docs say besides the layer (conditions, refusals).
    """

    layer: str
    rule: Rule
    names: tuple[str, ...] = ("input",)
    note: str = ""


_RECURRENT_NOTE = ("batch_first, starting from zeros; `out, _ = rnn(x)` gives all steps, "
                   "`out[:, -1, :]`, `h_n[-1]` or `torch.cat((h_n[-2], h_n[-1]), 1)` the final "
                   "state")

#: Modules by exact class (a subclass may change forward, so it is traced into instead).
MODULES: dict[type, Entry] = {
    nn.Linear: Entry("Linear", module_rule("Linear", has_bias)),
    nn.Conv1d: Entry("Conv1d", module_rule("Conv1d", has_bias, conv_checks),
                     note="padding_mode 'zeros' only"),
    nn.Conv2d: Entry("Conv2d", module_rule("Conv2d", has_bias, conv_checks),
                     note="padding_mode 'zeros' only"),
    nn.ConvTranspose2d: Entry("ConvTranspose2d",
                              module_rule("ConvTranspose2d", has_bias, conv_checks)),
    nn.MaxPool1d: Entry("MaxPool1d", module_rule("MaxPool1d", pool_stride, max_pool_checks),
                        note="no dilation, ceil_mode or return_indices"),
    nn.MaxPool2d: Entry("MaxPool2d", module_rule("MaxPool2d", pool_stride, max_pool_checks),
                        note="no dilation, ceil_mode or return_indices"),
    nn.AvgPool1d: Entry("AvgPool1d", module_rule("AvgPool1d", pool_stride, avg_pool_checks),
                        note="no ceil_mode or divisor_override"),
    nn.AvgPool2d: Entry("AvgPool2d", module_rule("AvgPool2d", pool_stride, avg_pool_checks),
                        note="no ceil_mode or divisor_override"),
    nn.AdaptiveAvgPool1d: Entry("GlobalAvgPool", adaptive_pool("Avg"),
                                note="output size 1 (with the flatten after it: one node); "
                                "a size dividing the input: AvgPool1d"),
    nn.AdaptiveAvgPool2d: Entry("GlobalAvgPool", adaptive_pool("Avg"),
                                note="output size 1 (with the flatten after it: one node); "
                                "a size dividing the input: AvgPool2d"),
    nn.AdaptiveMaxPool1d: Entry("MaxPool1d", adaptive_pool("Max"),
                                note="a size dividing the input"),
    nn.AdaptiveMaxPool2d: Entry("MaxPool2d", adaptive_pool("Max"),
                                note="a size dividing the input"),
    nn.BatchNorm1d: Entry("BatchNorm", module_rule("BatchNorm", checks=batchnorm_checks),
                          note="affine, with running statistics"),
    nn.BatchNorm2d: Entry("BatchNorm", module_rule("BatchNorm", checks=batchnorm_checks),
                          note="affine, with running statistics"),
    nn.BatchNorm3d: Entry("BatchNorm", module_rule("BatchNorm", checks=batchnorm_checks),
                          note="affine, with running statistics"),
    nn.LayerNorm: Entry("LayerNorm", module_rule("LayerNorm", layernorm_params)),
    nn.ReLU: Entry("ReLU", module_rule("ReLU")),
    nn.LeakyReLU: Entry("LeakyReLU", module_rule("LeakyReLU")),
    nn.ELU: Entry("ELU", module_rule("ELU")),
    nn.GELU: Entry("GELU", module_rule("GELU")),
    nn.SiLU: Entry("SiLU", module_rule("SiLU")),
    nn.Sigmoid: Entry("Sigmoid", module_rule("Sigmoid")),
    nn.Tanh: Entry("Tanh", module_rule("Tanh")),
    nn.Softmax: Entry("Softmax", module_rule("Softmax", checks=softmax_checks), note="dim given"),
    nn.LogSoftmax: Entry("LogSoftmax", module_rule("LogSoftmax", checks=softmax_checks),
                         note="dim given"),
    nn.Dropout: Entry("Dropout", module_rule("Dropout")),
    nn.Flatten: Entry("Flatten", reshaped, note="or Reshape, from the shapes"),
    nn.Unflatten: Entry("Reshape", reshaped),
    nn.Identity: Entry("", unchanged_rule, note="left out (it changes nothing)"),
    nn.Upsample: Entry("Upsample", module_rule("Upsample", upsample_params),
                       note="scale_factor, not size"),
    nn.Embedding: Entry("Embedding", embedding_rule,
                        note="no max_norm; padding_idx only shapes training, and is dropped"),
    nn.RNN: Entry("RNN", recurrent_rule("RNN"), ("input", "hx"), _RECURRENT_NOTE),
    nn.LSTM: Entry("LSTM", recurrent_rule("LSTM"), ("input", "hx"), _RECURRENT_NOTE),
    nn.GRU: Entry("GRU", recurrent_rule("GRU"), ("input", "hx"), _RECURRENT_NOTE),
    nn.MultiheadAttention: Entry("MultiheadAttention", attention_rule,
                                 names=("query", "key", "value", "key_padding_mask",
                                        "need_weights", "attn_mask", "average_attn_weights",
                                        "is_causal"),
                                 note="batch_first, no masks; `out, _ = attn(q, k, v)`"),
    nn.TransformerEncoderLayer: Entry("TransformerEncoderLayer", encoder_layer_rule,
                                      names=("src", "src_mask", "src_key_padding_mask",
                                             "is_causal"),
                                      note="batch_first, relu or gelu, no masks"),
    nn.TransformerEncoder: Entry("TransformerEncoderLayer", encoder_stack_rule,
                                 names=("src", "mask", "src_key_padding_mask", "is_causal"),
                                 note="one node per layer (and a LayerNorm for its norm); "
                                 "no masks"),
}


#: LayerLab's own helpers (runtime/layers/modules.py), by class name: an exported design holds
#: copies of them, which are other classes with the same names. `test` tells a copy from a
#: user's class that merely shares the name.
HELPERS: dict[str, tuple[Callable[[nn.Module], bool], Entry]] = {
    "GlobalAvgPool": (has_attributes("channels_last"), Entry("GlobalAvgPool", helper_global_pool)),
    "Reshape": (has_attributes("shape"), Entry("Reshape", module_rule("Reshape"))),
    "RepeatVector": (has_attributes("n"), Entry("RepeatVector", module_rule("RepeatVector"))),
    "Permute": (has_attributes("dims"), Entry("Permute", module_rule("Permute"))),
    "RNN": (lambda m: isinstance(m, nn.RNN) and hasattr(m, "return_sequences"),
            Entry("RNN", module_rule("RNN"))),
    "LSTM": (lambda m: isinstance(m, nn.LSTM) and hasattr(m, "return_sequences"),
             Entry("LSTM", module_rule("LSTM"))),
    "GRU": (lambda m: isinstance(m, nn.GRU) and hasattr(m, "return_sequences"),
            Entry("GRU", module_rule("GRU"))),
    "MultiheadAttention": (lambda m: isinstance(m, nn.MultiheadAttention) and hasattr(m, "causal"),
                           Entry("MultiheadAttention", helper_attention,
                                 names=("query", "key", "value"))),
    "TransformerEncoderLayer": (lambda m: isinstance(m, nn.TransformerEncoderLayer)
                                and hasattr(m, "causal"),
                                Entry("TransformerEncoderLayer", encoder_layer_rule,
                                      names=("src",))),
    "PositionalEncoding": (has_attributes("kind", "pe"),
                           Entry("PositionalEncoding", helper_positional)),
    "Add": (lambda m: not list(m.parameters()), Entry("Add", variadic_rule("Add"), names=())),
    "Multiply": (lambda m: not list(m.parameters()),
                 Entry("Multiply", variadic_rule("Multiply"), names=())),
    "Concat": (has_attributes("dim"), Entry("Concat", variadic_rule("Concat"), names=())),
    "RBM": (has_attributes("visible_bias", "gaussian_visible"), Entry("RBM", helper_rbm)),
}

_SHAPED = Entry("", reshaped, note="Flatten, Reshape or nothing, read from the shapes; the batch "
                "must stay dimension 0")

#: Functions by identity (torch.relu and F.relu are different objects; both are listed).
FUNCTIONS: dict[Callable, Entry] = {
    F.relu: Entry("ReLU", activation_rule("ReLU"), ("input", "inplace")),
    torch.relu: Entry("ReLU", activation_rule("ReLU")),
    F.leaky_relu: Entry("LeakyReLU", activation_rule("LeakyReLU"),
                        ("input", "negative_slope", "inplace")),
    F.elu: Entry("ELU", activation_rule("ELU"), ("input", "alpha", "inplace")),
    F.gelu: Entry("GELU", activation_rule("GELU"), ("input", "approximate")),
    F.silu: Entry("SiLU", activation_rule("SiLU"), ("input", "inplace")),
    torch.sigmoid: Entry("Sigmoid", activation_rule("Sigmoid")),
    F.sigmoid: Entry("Sigmoid", activation_rule("Sigmoid")),
    torch.tanh: Entry("Tanh", activation_rule("Tanh")),
    F.tanh: Entry("Tanh", activation_rule("Tanh")),
    F.softmax: Entry("Softmax", activation_rule("Softmax"), ("input", "dim")),
    torch.softmax: Entry("Softmax", activation_rule("Softmax"), ("input", "dim")),
    F.log_softmax: Entry("LogSoftmax", activation_rule("LogSoftmax"), ("input", "dim")),
    torch.log_softmax: Entry("LogSoftmax", activation_rule("LogSoftmax"), ("input", "dim")),
    F.dropout: Entry("Dropout", dropout_rule, ("input", "p", "training", "inplace"),
                     note="training=self.training"),
    torch.flatten: Entry("", reshaped, ("input", "start_dim", "end_dim"), _SHAPED.note),
    torch.reshape: Entry("", reshaped, ("input", "shape"), _SHAPED.note),
    torch.squeeze: Entry("", reshaped, ("input", "dim"), _SHAPED.note),
    torch.unsqueeze: Entry("", reshaped, ("input", "dim"), _SHAPED.note),
    torch.permute: Entry("Permute", permute_rule, ("input", "dims"), "the batch stays first"),
    torch.transpose: Entry("Permute", transpose_rule, ("input", "dim0", "dim1"),
                           "the batch stays first"),
    operator.add: Entry("Add", merge_rule("Add"), ("input", "other"), "two tensors"),
    torch.add: Entry("Add", merge_rule("Add"), ("input", "other", "alpha"), "two tensors"),
    operator.mul: Entry("Multiply", merge_rule("Multiply"), ("input", "other"), "two tensors"),
    torch.mul: Entry("Multiply", merge_rule("Multiply"), ("input", "other"), "two tensors"),
    operator.getitem: Entry("—", indexing_rule, ("input", "index"),
                            "refused, except the recurrent patterns (`out[:, -1, :]`, "
                            "`h_n[-1]`) and taking the output of `out, _ = attn(...)`"),
    torch.cat: Entry("Concat", cat_rule, ("tensors", "dim"), "not along the batch"),
    torch.concat: Entry("Concat", cat_rule, ("tensors", "dim"), "not along the batch"),
    torch.mean: Entry("GlobalAvgPool", mean_rule, ("input", "dim", "keepdim"),
                      "over the spatial dims (or the time steps)"),
    F.max_pool1d: Entry("MaxPool1d", functional_pool("Max", 1), (
        "input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")),
    F.max_pool2d: Entry("MaxPool2d", functional_pool("Max", 2), (
        "input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")),
    F.avg_pool1d: Entry("AvgPool1d", functional_pool("Avg", 1), (
        "input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    F.avg_pool2d: Entry("AvgPool2d", functional_pool("Avg", 2), (
        "input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
        "divisor_override")),
    F.interpolate: Entry("Upsample", interpolate_rule, ("input", "size", "scale_factor", "mode",
                                                    "align_corners", "recompute_scale_factor",
                                                    "antialias"), "scale_factor, not size"),
    F.adaptive_avg_pool1d: Entry("GlobalAvgPool", adaptive_pool("Avg"), ("input", "output_size")),
    F.adaptive_avg_pool2d: Entry("GlobalAvgPool", adaptive_pool("Avg"), ("input", "output_size")),
}

#: Tensor methods by name (`x.relu()`, `x.view(...)`); `self` is the tensor.
METHODS: dict[str, Entry] = {
    "relu": Entry("ReLU", activation_rule("ReLU")),
    "sigmoid": Entry("Sigmoid", activation_rule("Sigmoid")),
    "tanh": Entry("Tanh", activation_rule("Tanh")),
    "softmax": Entry("Softmax", activation_rule("Softmax"), ("input", "dim")),
    "log_softmax": Entry("LogSoftmax", activation_rule("LogSoftmax"), ("input", "dim")),
    **{name: Entry("", reshaped, ("input", "rest"), _SHAPED.note) for name in RESHAPE_METHODS},
    "permute": Entry("Permute", permute_rule, ("input", "dims", "rest"), "the batch stays first"),
    "transpose": Entry("Permute", transpose_rule, ("input", "dim0", "dim1"),
                       "the batch stays first"),
    "expand": Entry("RepeatVector", repeat_rule, ("input", "rest"), "after x.unsqueeze(1)"),
    "repeat": Entry("RepeatVector", repeat_rule, ("input", "rest"), "after x.unsqueeze(1)"),
    "contiguous": Entry("", unchanged_rule, note="left out"),
    "to": Entry("", same_type_rule, note="left out when the element type stays"),
    "float": Entry("", same_type_rule, note="left out when the element type stays"),
    "add": Entry("Add", merge_rule("Add"), ("input", "other", "alpha"), "two tensors"),
    "mul": Entry("Multiply", merge_rule("Multiply"), ("input", "other"), "two tensors"),
    "mean": Entry("GlobalAvgPool", mean_rule, ("input", "dim", "keepdim"),
                  "over the spatial dims (or the time steps)"),
}


#: Calls with no LayerLab equivalent that tutorials often write, and what to write instead
#: (the refusal says it; so does docs/import.md). Modules by class, functions by object,
#: methods by name.
_CHANNEL_DROPOUT = ("LayerLab's Dropout drops single values, not whole channels: nn.Dropout "
                    "imports as one (the same at inference)")
INSTEAD: dict[Any, str] = {
    nn.Dropout1d: _CHANNEL_DROPOUT,
    nn.Dropout2d: _CHANNEL_DROPOUT,
    nn.GroupNorm: "LayerLab normalises with BatchNorm or LayerNorm",
    nn.LSTMCell: "a cell stepped through time in a Python loop: one nn.LSTM(batch_first=True) "
                 "over the whole sequence imports as an LSTM layer",
    nn.GRUCell: "a cell stepped through time in a Python loop: one nn.GRU(batch_first=True) "
                "over the whole sequence imports as a GRU layer",
    "expand_as": "broadcasting does it: write x * s (or x + s) without expand_as",
    "view_as": "write x.view(x.size(0), ...) with the shape written out",
}


def instead(target: Any) -> str:
    """`; <what to write instead>` for a call in `INSTEAD`, else ""."""
    try:
        hint = INSTEAD.get(target)
    except TypeError:  # an unhashable target is in no table
        hint = None
    return f"; {hint}" if hint else ""


def helper_entry(module: nn.Module) -> Entry | None:
    """The entry of a LayerLab helper (or an exported copy of one), else None."""
    found = HELPERS.get(type(module).__name__)
    if found is None or type(module).__module__.startswith("torch."):
        return None
    test, entry = found
    return entry if test(module) else None


def module_entry(module: nn.Module) -> Entry | None:
    return MODULES.get(type(module)) or helper_entry(module)


def is_leaf(module: nn.Module) -> bool:
    """Calls the tracer keeps whole: the table's modules and LayerLab's helpers."""
    return module_entry(module) is not None


def function_name(target: Any) -> str:
    """How users write a traced function (`F.relu`, `torch.cat`, `+`)."""
    symbols = {operator.add: "+", operator.mul: "*", operator.getitem: "[] (indexing)",
               operator.sub: "-", operator.truediv: "/", operator.matmul: "@",
               operator.neg: "unary -", operator.pow: "**"}
    if target in symbols:
        return symbols[target]
    name = getattr(target, "__name__", repr(target))
    if getattr(F, name, None) is target:
        return f"F.{name}"
    if getattr(torch, name, None) is target:
        return f"torch.{name}"
    return f"{getattr(target, '__module__', None) or '?'}.{name}"


def mapping_rows() -> list[tuple[str, str, str]]:
    """(PyTorch, LayerLab node, notes) for every entry, in the table's order (for the docs)."""
    rows = [(f"nn.{cls.__name__}", entry.layer or "—", entry.note)
            for cls, entry in MODULES.items()]
    rows += [(function_name(fn), entry.layer or "—", entry.note)
             for fn, entry in FUNCTIONS.items()]
    rows += [(f"x.{name}()", entry.layer or "—", entry.note) for name, entry in METHODS.items()]
    rows += [(f"{name} (LayerLab helper)", entry.layer, "") for name, (_, entry) in
             HELPERS.items()]
    rows += [(f"x.{target}()" if isinstance(target, str) else f"nn.{target.__name__}"
              if isinstance(target, type) else function_name(target), "refused", hint)
             for target, hint in INSTEAD.items()]
    return rows
