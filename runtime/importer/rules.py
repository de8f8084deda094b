"""The rules of the import table (table.py): how one call becomes catalogue nodes.

A rule gets a `Site` (the call, its arguments by name, the values they had on an example batch)
and returns the layers to add (`Layer`), or `Same` for a call that changes nothing, or raises
`Refuse` with the reason. Parameters are read by the names of the layer's `ParamSpec`s
(`spec_params`): from the module's attributes, or from the call's keyword arguments, so a
parameter added to a LayerSpec is picked up without a second list. A rule adds only what the
names cannot say (`bias` is "module.bias is not None") and what it must refuse (a Conv2d with
`padding_mode="reflect"` computes something no Conv2d node does).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..registry import REGISTRY
from ..specs import WEIGHT_PARAMS

_WEIGHT_PARAM_NAMES = {p.name for p in WEIGHT_PARAMS}


class Refuse(Exception):
    """A call that no catalogue layer can express; the message says why."""


@dataclass
class Layer:
    """One node to add.

    Attributes:
        type_id: The catalogue layer.
        params: Its parameters (the rest take their defaults).
        inputs: fx nodes feeding it, in port order (a variadic port takes them all).
        ports: The input port of each entry of `inputs`; None: "input" for every one.
        recurrent: An RNN/LSTM/GRU whose `return_sequences` the uses of its result decide.
        tuple_output: The call returns (output, something else): only index 0 is the node's.
        absorbs: A later fx node (a flatten after adaptive pooling) whose value this node's
            output already is.
        part: For one call that becomes several nodes with weights (nn.TransformerEncoder):
            the path of the submodule whose weights this node takes ("layers.0").
        note: Something worth telling the user that does not stop the import.
        chain: A `+` or `*` that joins the same operation feeding only it into one node
            (`a + b + c` is one Add of three inputs, as the layer is meant to be used).
    """

    type_id: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: tuple = ()
    ports: tuple[str, ...] | None = None
    recurrent: bool = False
    tuple_output: bool = False
    absorbs: fx.Node | None = None
    part: str | None = None
    note: str = ""
    chain: bool = False


@dataclass(frozen=True)
class Same:
    """The call returns its input unchanged (nn.Identity, `.contiguous()`, a no-op reshape)."""

    source: fx.Node


@dataclass
class Site:
    """One call being converted.

    Attributes:
        node: The fx node of the call.
        module: The called module (call_module), else None.
        bound: Its arguments by the rule's names (fx nodes or literals).
        values: Every fx node's value on the example batch.
        modules: The traced model's submodules by qualified name.
    """

    node: fx.Node
    module: nn.Module | None
    bound: dict[str, Any]
    values: dict[fx.Node, Any]
    modules: dict[str, nn.Module] = field(default_factory=dict)

    def arg(self, name: str, default: Any = None) -> Any:
        return self.bound.get(name, default)

    def value(self, name: str, default: Any = None) -> Any:
        """The argument as it was on the example batch (a tensor for a tensor argument)."""
        return self.concrete(self.bound.get(name, default))

    def concrete(self, arg: Any) -> Any:
        if isinstance(arg, fx.Node):
            return self.values.get(arg)
        if isinstance(arg, (list, tuple)):
            return type(arg)(self.concrete(a) for a in arg)
        return arg

    @property
    def out(self) -> Any:
        return self.values.get(self.node)

    def tensor(self, name: str = "input") -> fx.Node:
        arg = self.bound.get(name)
        if not isinstance(arg, fx.Node) or not isinstance(self.values.get(arg), torch.Tensor):
            raise Refuse(f"its {name} is not a tensor computed from the model's input")
        return arg


Rule = Callable[[Site], "Layer | Same | list[Layer]"]


# --- reading parameters by the specs' names --------------------------------------------------

def _plain(value: Any) -> Any:
    """A module attribute as a design value: tuples become lists, equal entries one number."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list) and value and all(v == value[0] for v in value) \
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value[0]
    return value


def spec_params(type_id: str, source: Callable[[str], Any]) -> dict[str, Any]:
    """The layer's own parameters (not weight_init/trainable/lr_multiplier) that `source`
    knows: `source(name)` returns the value, or `_MISSING`."""
    params = {}
    for p in REGISTRY.get(type_id).params:
        if p.name in _WEIGHT_PARAM_NAMES:
            continue
        value = source(p.name)
        if value is not _MISSING:
            params[p.name] = _plain(value)
    return params


_MISSING = object()


def _attrs(module: nn.Module) -> Callable[[str], Any]:
    return lambda name: getattr(module, name, _MISSING)


def _kwargs(site: Site) -> Callable[[str], Any]:
    return lambda name: site.value(name) if name in site.bound else _MISSING


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Refuse(message)


# --- modules ---------------------------------------------------------------------------------

def module_rule(type_id: str, extra: Callable[[nn.Module], dict] | None = None,
                checks: Callable[[nn.Module], None] | None = None) -> Rule:
    """A module read attribute by attribute, with `extra` params and `checks` that refuse."""
    def rule(site: Site) -> Layer:
        module = site.module
        if checks:
            checks(module)
        params = spec_params(type_id, _attrs(module))
        if extra:
            params.update(extra(module))
        return Layer(type_id, params, (site.tensor(),))
    return rule


def has_bias(module: nn.Module) -> dict:
    return {"bias": module.bias is not None}


def conv_checks(module: nn.Module) -> None:
    _require(module.padding_mode == "zeros", f"padding_mode='{module.padding_mode}' (LayerLab's "
             "convolutions pad with zeros)")


def pool_stride(module: nn.Module) -> dict:
    # PyTorch stores stride=None as the kernel size; the design says it the short way
    return {"stride": None} if _plain(module.stride) == _plain(module.kernel_size) else {}


def max_pool_checks(module: nn.Module) -> None:
    _require(_plain(module.dilation) == 1, "dilation other than 1")
    _require(not module.ceil_mode, "ceil_mode=True")
    _require(not module.return_indices, "return_indices=True")


def avg_pool_checks(module: nn.Module) -> None:
    _require(not module.ceil_mode, "ceil_mode=True")
    _require(module.count_include_pad or _plain(module.padding) == 0, "count_include_pad=False")
    _require(getattr(module, "divisor_override", None) is None, "divisor_override")


def batchnorm_checks(module: nn.Module) -> None:
    _require(module.affine, "affine=False (LayerLab's BatchNorm learns a scale and shift)")
    _require(module.track_running_stats, "track_running_stats=False")
    _require(module.momentum is not None, "momentum=None (a cumulative average)")


def layernorm_params(module: nn.Module) -> dict:
    affine = module.elementwise_affine
    _require(not affine or module.bias is not None, "bias=False")
    return {"normalized_dims": len(module.normalized_shape), "elementwise_affine": affine}


def softmax_checks(module: nn.Module) -> None:
    _require(module.dim is not None, "no dim (PyTorch's implicit choice is deprecated): "
             "give dim=")


def upsample_params(module: nn.Module) -> dict:
    _require(module.size is None and module.scale_factor is not None,
             "a target size (LayerLab's Upsample takes a scale_factor)")
    _require(not module.recompute_scale_factor, "recompute_scale_factor=True")
    scale = _plain(module.scale_factor)
    _require(not isinstance(scale, list), "different scale factors per dimension")
    return {"scale_factor": float(scale)}


def embedding_rule(site: Site) -> Layer:
    module = site.module
    _require(module.max_norm is None, "max_norm (rescales the table as it reads it)")
    layer = module_rule("Embedding")(site)
    if module.padding_idx is not None:
        layer.note = (f"padding_idx={module.padding_idx} is dropped: it only keeps that row's "
                      "gradient at zero in training; the outputs are the same")
    return layer


def recurrent_rule(type_id: str) -> Rule:
    def rule(site: Site) -> Layer:
        module = site.module
        _require(module.batch_first, f"batch_first=False: LayerLab's {type_id} is batch first; "
                 "build it with batch_first=True and feed (batch, time, features)")
        _require(getattr(module, "proj_size", 0) == 0, "proj_size")
        _require(module.bias, "bias=False")
        _require(_is_zeros(site.arg("hx"), site.values), "a given initial state (LayerLab's "
                 f"{type_id} starts from zeros)")
        params = spec_params(type_id, _attrs(module))
        params.pop("return_sequences", None)  # decided by what the forward takes from it
        return Layer(type_id, params, (site.tensor(),), recurrent=True)
    return rule


def _is_zeros(arg: Any, values: dict) -> bool:
    """No initial state, or one made of zeros (`torch.zeros(layers, x.size(0), hidden)`)."""
    if arg is None:
        return True
    if isinstance(arg, (tuple, list)):
        return all(_is_zeros(a, values) for a in arg)
    value = values.get(arg) if isinstance(arg, fx.Node) else arg
    return isinstance(value, torch.Tensor) and not value.any() and _made_here(arg)


def _made_here(arg: Any) -> bool:
    """The tensor is created in forward (zeros), not computed from the input."""
    if not isinstance(arg, fx.Node):
        return False
    if arg.target in (torch.zeros, torch.zeros_like) or arg.target in ("new_zeros", "zero_"):
        return True
    if arg.op == "call_method" and arg.target in ("to", "cuda", "cpu", "float", "detach",
                                                 "requires_grad_"):
        return _made_here(arg.args[0])
    return False


def attention_rule(site: Site) -> Layer:
    module = site.module
    _require(module.batch_first, "batch_first=False: LayerLab's attention is batch first; build "
             "it with batch_first=True and feed (batch, sequence, features)")
    _require(module.in_proj_bias is not None, "bias=False")
    _require(module.bias_k is None and not module.add_zero_attn, "add_bias_kv or add_zero_attn")
    for name in ("key_padding_mask", "attn_mask"):
        _require(site.arg(name) is None, f"{name} (LayerLab's attention takes no mask)")
    _require(not site.value("is_causal", False), "is_causal=True")
    params = spec_params("MultiheadAttention", _attrs(module))
    params["causal"] = False
    return _qkv(site, Layer("MultiheadAttention", params, tuple_output=True))


def _qkv(site: Site, layer: Layer) -> Layer:
    """Connect the query, the key where it is not the query, and the value where it is not the
    key (LayerLab's attention defaults the key to the query and the value to the key)."""
    query, key, value = (site.arg(n) for n in ("query", "key", "value"))
    inputs, ports = [site.tensor("query")], ["query"]
    if key is not None and key is not query:
        inputs.append(site.tensor("key"))
        ports.append("key")
    if value is not None and value is not (query if key is None else key):
        inputs.append(site.tensor("value"))
        ports.append("value")
    layer.inputs, layer.ports = tuple(inputs), tuple(ports)
    return layer


def encoder_layer_rule(site: Site) -> Layer:
    for name in ("src_mask", "src_key_padding_mask"):
        _require(site.arg(name) is None, f"{name} (LayerLab's encoder layer takes no mask)")
    _require(not site.value("is_causal", False), "is_causal=True")
    return Layer("TransformerEncoderLayer", _encoder_params(site.module), (site.tensor("src"),))


def _encoder_params(module: nn.Module) -> dict:
    _require(getattr(module.self_attn, "batch_first", False), "batch_first=False: LayerLab's "
             "encoder layer is batch first; build it with batch_first=True")
    activation = module.activation
    names = {F.relu: "relu", F.gelu: "gelu", torch.relu: "relu"}
    if isinstance(activation, (nn.ReLU, nn.GELU)) and getattr(activation, "approximate",
                                                                 "none") == "none":
        kind = "gelu" if isinstance(activation, nn.GELU) else "relu"
    else:
        kind = names.get(activation)
    _require(kind is not None, "an activation other than relu or gelu")
    _require(module.norm1.eps == 1e-5 and module.norm2.eps == 1e-5, "layer_norm_eps other than "
             "1e-5")
    _require(module.linear1.bias is not None, "bias=False")
    return {"nhead": module.self_attn.num_heads, "dim_feedforward": module.linear1.out_features,
            "dropout": module.dropout.p, "activation": kind, "norm_first": module.norm_first,
            "causal": bool(getattr(module, "causal", False))}


def encoder_stack_rule(site: Site) -> list[Layer]:
    """nn.TransformerEncoder: one node per layer, and a LayerNorm for its final norm."""
    module = site.module
    for name in ("mask", "src_key_padding_mask"):
        _require(site.arg(name) is None, f"{name} (LayerLab's encoder layer takes no mask)")
    _require(not site.value("is_causal", False), "is_causal=True")
    layers = [Layer("TransformerEncoderLayer", _encoder_params(layer), part=f"layers.{i}")
              for i, layer in enumerate(module.layers)]
    if module.norm is not None:
        norm = module.norm
        _require(isinstance(norm, nn.LayerNorm), f"a final norm {type(norm).__name__}")
        layers.append(Layer("LayerNorm", {**spec_params("LayerNorm", _attrs(norm)),
                                          **layernorm_params(norm)}, part="norm"))
    layers[0].inputs = (site.tensor("src"),)
    return layers


def interpolate_rule(site: Site) -> Layer:
    _require(site.value("size") is None, "a target size (LayerLab's Upsample takes a "
             "scale_factor)")
    scale = _plain(site.value("scale_factor"))
    _require(isinstance(scale, (int, float)), "different scale factors per dimension")
    _require(not site.value("align_corners"), "align_corners=True")
    _require(not site.value("recompute_scale_factor"), "recompute_scale_factor=True")
    _require(not site.value("antialias", False), "antialias=True")
    return Layer("Upsample", {"scale_factor": float(scale),
                              "mode": site.value("mode", "nearest")}, (site.tensor(),))


def reshaped(site: Site, source: fx.Node | None = None) -> Layer | Same:
    """A reshape read from the shapes before and after (view, reshape, flatten, squeeze, ...):
    nothing, a Flatten or a Reshape; refused when it moves values across the batch."""
    source = source if source is not None else site.tensor()
    before, after = site.values[source], site.out
    if not isinstance(after, torch.Tensor):
        raise Refuse("it does not return one tensor")
    if tuple(after.shape) == tuple(before.shape):
        return Same(source)
    if after.dim() == 0 or after.shape[0] != before.shape[0]:
        raise Refuse(f"it reshapes {tuple(before.shape)} to {tuple(after.shape)} on a batch of "
                     f"{before.shape[0]}, mixing samples: keep the batch as dimension 0 "
                     "(x.view(x.size(0), -1))")
    if after.dim() == 2 and before.dim() > 2:
        return Layer("Flatten", {}, (source,))
    return Layer("Reshape", {"shape": list(after.shape[1:])}, (source,))


def adaptive_pool(kind: str) -> Rule:
    """Adaptive pooling to sizes that divide the input: a plain pooling layer; to 1 (average),
    a global average pool (joined with the flatten that usually follows it)."""
    def rule(site: Site) -> Layer | list[Layer]:
        source = site.tensor()
        sizes, out = tuple(site.values[source].shape[2:]), tuple(site.out.shape[2:])
        _require(all(o and s % o == 0 for s, o in zip(sizes, out)),
                 f"output size {out} that does not divide the input {sizes}")
        dims = len(sizes)
        if kind == "Avg" and set(out) == {1}:
            gap = Layer("GlobalAvgPool", {"data_format": "channels_first"}, (source,))
            users = list(site.node.users)
            if len(users) == 1 and _flattens(users[0], site):
                gap.absorbs = users[0]
                return gap
            channels = site.out.shape[1]
            return [gap, Layer("Reshape", {"shape": [channels, *([1] * dims)]})]
        kernel = _plain([s // o for s, o in zip(sizes, out)])
        return Layer(f"{kind}Pool{dims}d", {"kernel_size": kernel, "stride": None}, (source,))
    return rule


def _flattens(user: fx.Node, site: Site) -> bool:
    """`user` turns the pooled (batch, C, 1, 1) into (batch, C)."""
    value = site.values.get(user)
    reshaping = user.target in (torch.flatten, torch.reshape, torch.squeeze) or (
        user.op == "call_method" and user.target in RESHAPE_METHODS) or (
        user.op == "call_module" and isinstance(site.modules.get(user.target), nn.Flatten))
    return (reshaping and isinstance(value, torch.Tensor)
            and tuple(value.shape) == tuple(site.out.shape[:2]))


def unchanged_rule(site: Site) -> Same:
    return Same(site.tensor())


def helper_attention(site: Site) -> Layer:
    params = spec_params("MultiheadAttention", _attrs(site.module))
    return _qkv(site, Layer("MultiheadAttention", params))


def helper_positional(site: Site) -> Layer:
    module = site.module
    return Layer("PositionalEncoding", {"kind": module.kind, "max_len": module.pe.shape[0]},
                 (site.tensor(),))


def helper_rbm(site: Site) -> Layer:
    module = site.module
    return Layer("RBM", {"hidden": module.weight.shape[0], "visible_units":
                         "gaussian" if module.gaussian_visible else "bernoulli"},
                 (site.tensor(),))


def variadic_rule(type_id: str) -> Rule:
    def rule(site: Site) -> Layer:
        xs = site.arg("xs", ())
        inputs = tuple(xs)
        for i, x in enumerate(inputs):
            if not isinstance(x, fx.Node) or not isinstance(site.values.get(x), torch.Tensor):
                raise Refuse(f"its input {i} is not a tensor computed from the model's input")
        params = spec_params(type_id, _attrs(site.module)) if site.module is not None else {}
        return Layer(type_id, params, inputs)
    return rule


def helper_global_pool(site: Site) -> Layer:
    return Layer("GlobalAvgPool", {"data_format": "channels_last" if site.module.channels_last
                                   else "channels_first"}, (site.tensor(),))


# --- functions and methods -------------------------------------------------------------------

def activation_rule(type_id: str) -> Rule:
    def rule(site: Site) -> Layer:
        params = spec_params(type_id, _kwargs(site))
        if type_id in ("Softmax", "LogSoftmax"):
            _require(params.get("dim") is not None, "no dim (PyTorch's implicit choice is "
                     "deprecated): give dim=")
        return Layer(type_id, params, (site.tensor(),))
    return rule


def dropout_rule(site: Site) -> Layer:
    _require(not site.value("training", True), "training=True: it drops values even when the "
             "model is evaluated; pass training=self.training, or use nn.Dropout")
    return Layer("Dropout", spec_params("Dropout", _kwargs(site)), (site.tensor(),))


def merge_rule(type_id: str) -> Rule:
    def rule(site: Site) -> Layer:
        a, b = site.arg("input"), site.arg("other")
        for side in (a, b):
            if not (isinstance(side, fx.Node) and isinstance(site.concrete(side), torch.Tensor)):
                raise Refuse(f"one side is the number {site.concrete(side)!r}, not a tensor: "
                             f"LayerLab's {type_id} combines tensors (no layer adds or scales "
                             "by a constant)")
        _require(site.value("alpha", 1) == 1, "alpha other than 1")
        return Layer(type_id, {}, (a, b), chain=True)
    return rule


def cat_rule(site: Site) -> Layer | Same:
    tensors = site.arg("tensors")
    _require(isinstance(tensors, (list, tuple)), "a tensor list that is not written out")
    if len(tensors) == 1 and isinstance(tensors[0], fx.Node):  # torch.cat([x]) is x (a DenseNet
        return Same(tensors[0])                                 # block's first concatenation)
    rank = site.out.dim()
    dim = site.value("dim", 0)
    _require(dim % rank != 0, "dim=0, the batch dimension")
    for i, x in enumerate(tensors):
        if not isinstance(x, fx.Node) or not isinstance(site.values.get(x), torch.Tensor):
            raise Refuse(f"its tensor {i} is not computed from the model's input")
    return Layer("Concat", {"dim": dim}, tuple(tensors))


def _dims(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    return list(value)


def permute_rule(site: Site) -> Layer | Same:
    source = site.tensor()
    rank = site.values[source].dim()
    dims = site.value("dims")
    if isinstance(dims, int):  # x.permute(0, 2, 1): the dims arrive one by one
        dims = [dims, *site.concrete(site.arg("rest", ()))]
    dims = [d % rank for d in _dims(dims)]
    _require(dims and dims[0] == 0, f"dims {dims} move the batch dimension")
    if dims == list(range(rank)):
        return Same(source)
    return Layer("Permute", {"dims": dims[1:]}, (source,))


def transpose_rule(site: Site) -> Layer | Same:
    source = site.tensor()
    rank = site.values[source].dim()
    a, b = site.value("dim0") % rank, site.value("dim1") % rank
    _require(0 not in (a, b) or a == b, "it swaps the batch dimension")
    dims = list(range(rank))
    dims[a], dims[b] = dims[b], dims[a]
    if a == b:
        return Same(source)
    return Layer("Permute", {"dims": dims[1:]}, (source,))


def mean_rule(site: Site) -> Layer:
    source = site.tensor()
    rank = site.values[source].dim()
    _require(not site.value("keepdim", False), "keepdim=True")
    dims = site.value("dim")
    _require(dims is not None, "a mean over the whole tensor, batch included")
    dims = sorted({d % rank for d in _dims(dims)})
    if rank >= 3 and dims == list(range(2, rank)):
        return Layer("GlobalAvgPool", {"data_format": "channels_first"}, (source,))
    if rank >= 3 and dims == list(range(1, rank - 1)):
        return Layer("GlobalAvgPool", {"data_format": "channels_last"}, (source,))
    raise Refuse(f"a mean over dims {dims}: only the spatial dims (a global average pool) "
                 "have a layer")


def functional_pool(kind: str, dims: int) -> Rule:
    def rule(site: Site) -> Layer:
        _require(not site.value("ceil_mode", False), "ceil_mode=True")
        if kind == "Max":
            _require(_plain(site.value("dilation", 1)) == 1, "dilation other than 1")
            _require(not site.value("return_indices", False), "return_indices=True")
        else:
            _require(site.value("count_include_pad", True) or
                     _plain(site.value("padding", 0)) == 0, "count_include_pad=False")
            _require(site.value("divisor_override") is None, "divisor_override")
        kernel = _plain(site.value("kernel_size"))
        stride = site.value("stride")
        stride = None if stride in (None, [], ()) or _plain(stride) == kernel else _plain(stride)
        return Layer(f"{kind}Pool{dims}d", {"kernel_size": kernel, "stride": stride,
                                            "padding": _plain(site.value("padding", 0))},
                     (site.tensor(),))
    return rule


def same_type_rule(site: Site) -> Same:
    source = site.tensor()
    _require(site.out.dtype == site.values[source].dtype,
             f"it changes the element type to {site.out.dtype} (no layer converts types)")
    return Same(source)


def repeat_rule(site: Site) -> Layer:
    """`x.unsqueeze(1).expand(-1, n, -1)` (or `.repeat(1, n, 1)`): one vector at every step."""
    source = site.tensor()
    before, after = site.values[source], site.out
    unsqueezed = source.op in ("call_method", "call_function") and source.target in (
        "unsqueeze", torch.unsqueeze) and len(source.args) > 1 and source.args[1] in (1, -2)
    _require(unsqueezed and before.dim() == 3 and after.dim() == 3 and before.shape[1] == 1
             and after.shape[2] == before.shape[2], "only x.unsqueeze(1).expand(-1, n, -1) "
             "(one vector repeated at every step) has a layer")
    return Layer("RepeatVector", {"n": after.shape[1]}, (source.args[0],))


def indexing_rule(site: Site) -> Layer:
    raise Refuse("it takes part of a tensor (indexing or slicing), which no LayerLab layer "
                 "does; only the recurrent patterns (out[:, -1, :], h_n[-1]) are understood")


RESHAPE_METHODS = ("view", "reshape", "flatten", "squeeze", "unsqueeze")


def has_attributes(*names: str) -> Callable[[nn.Module], bool]:
    """A test for LayerLab helper copies: the module has these attributes."""
    return lambda module: all(hasattr(module, n) for n in names)
