"""Spec-parametrised tests over the whole layer registry, and the shape rules' error messages.

Every registered type has examples in `layer_examples.py`. For each example the declared shape rule
must agree with what the built torch module really does on a random batch, the parameter count must
equal the module's, and the params must survive a JSON round trip. The second half checks that bad
designs get messages that name the problem and the fix, on the right node.
"""
from __future__ import annotations

import json
import re

import pytest
import torch

from runtime.compile import build_module, compile_model
from runtime.graph import GraphModel
from runtime.layers.modules import init_weights
from runtime.registry import REGISTRY
from runtime.shapes import ERROR, OK, UNKNOWN, Analysis, infer
from runtime.specs import CATEGORIES, INIT_PARAM, LayerContext, LayerSpec, TensorInfo
from tests.runtime.layer_examples import COMPUTE_TYPES, EXAMPLES, Example

BATCH = 3
NODE = "layer"

# PyTorch's own warning for the RNN example that sets dropout with one layer (our rule warns too).
pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning")

SPECS = list(REGISTRY)
SPEC_IDS = [s.type_id for s in SPECS]
WEIGHTED = [s for s in SPECS if s.has_weights]
ids_of = [e.id for e in EXAMPLES]
MODULE_EXAMPLES = [e for e in EXAMPLES if REGISTRY.get(e.type).build is not None]
WEIGHTED_EXAMPLES = [e for e in MODULE_EXAMPLES if REGISTRY.get(e.type).has_weights]


# --- helpers --------------------------------------------------------------------------------------
def design(example: Example, **extra_params) -> GraphModel:
    """Input node(s) -> the example's node ("layer") -> Output."""
    model = GraphModel(name="example")
    if example.type == "Input":
        model.add_node("Input", {**example.params, **extra_params}, node_id=NODE)
        model.add_node("Output", node_id="out")
        model.connect(NODE, "out")
        return model
    sources = []
    for port, value in example.inputs.items():
        for i, tensor in enumerate(value if isinstance(value, list) else [value]):
            src = f"in_{port}_{i}"
            model.add_node("Input", {"shape": list(tensor.shape), "dtype": tensor.dtype},
                           node_id=src)
            sources.append((src, port))
    model.add_node(example.type, {**example.params, **extra_params}, node_id=NODE)
    for src, port in sources:
        model.connect(src, NODE, dst_port=port)
    if REGISTRY.get(example.type).outputs:
        model.add_node("Output", node_id="out")
        model.connect(NODE, "out")
    return model


def full_params(example: Example) -> dict:
    return GraphModel().validate_params(REGISTRY.get(example.type), example.params)


def context(example: Example) -> LayerContext:
    return LayerContext(NODE, full_params(example), dict(example.inputs))


def random_tensor(info: TensorInfo, high: int = 10) -> torch.Tensor:
    if info.dtype == "int64":
        return torch.randint(0, high, (BATCH, *info.shape))
    return torch.randn(BATCH, *info.shape)


def random_inputs(example: Example) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """Module arguments in port order: positional until an optional port is left open (as the
    compiler does), by keyword after it; a variadic port spreads its tensors positionally."""
    spec = REGISTRY.get(example.type)
    high = full_params(example).get("num_embeddings", 10)
    args: list[torch.Tensor] = []
    kwargs: dict[str, torch.Tensor] = {}
    gap = False
    for port in spec.inputs:
        value = example.inputs.get(port.name)
        if value is None:
            gap = True
        elif port.variadic:
            args.extend(random_tensor(t, high) for t in value)
        elif gap:
            kwargs[port.name] = random_tensor(value, high)
        else:
            args.append(random_tensor(value, high))
    return args, kwargs


def make_module(example: Example, init: str = "default") -> torch.nn.Module:
    spec = REGISTRY.get(example.type)
    module = spec.build(context(example)).instantiate()
    init_weights(module, init)
    return module


def inferred(example: Example):
    return REGISTRY.get(example.type).infer(context(example))


def output_info(example: Example) -> TensorInfo:
    return inferred(example).outputs["output"]


def torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "int64": torch.int64}[name]


def sentences(text: str) -> int:
    """Sentence ends: . ! or ? followed by the end or by a space and a capital (so "e.g. (x" is
    not one)."""
    return len(re.findall(r"[.!?](?=$|\s+[A-Z])", text.strip()))


def node_error(analysis: Analysis, node: str = NODE) -> str:
    result = analysis.nodes[node]
    assert result.status == ERROR, f"expected an error on {node}, got {result}"
    assert len(result.errors) == 1
    return result.errors[0]


def chain(input_shape, *layers, dtype: str = "float32") -> GraphModel:
    """Input(input_shape) -> layers... -> Output; layer i is (type, params) with id n1, n2, ..."""
    model = GraphModel(name="chain")
    model.add_node("Input", {"shape": list(input_shape), "dtype": dtype}, node_id="inp")
    prev = "inp"
    for i, (type_id, params) in enumerate(layers, start=1):
        model.add_node(type_id, params, node_id=f"n{i}")
        model.connect(prev, f"n{i}")
        prev = f"n{i}"
    model.add_node("Output", node_id="out")
    model.connect(prev, "out")
    return model


# --- the examples cover the registry --------------------------------------------------------------
def test_every_registered_type_has_an_example():
    covered = {e.type for e in EXAMPLES}
    missing = sorted(set(REGISTRY.type_ids()) - covered)
    assert not missing, f"add examples to layer_examples.py for: {missing}"
    assert covered <= set(REGISTRY.type_ids()), "examples for unregistered types"
    assert len(set(ids_of)) == len(ids_of), "example ids must be unique"


def test_every_layer_with_weights_has_a_module_example():
    assert {e.type for e in WEIGHTED_EXAMPLES} == {s.type_id for s in WEIGHTED}


# --- declarations ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_spec_declaration_is_complete(spec: LayerSpec):
    assert spec.title.strip()
    assert spec.category in CATEGORIES
    assert sentences(spec.explanation) >= 2, f"needs two sentences: {spec.explanation!r}"
    for param in spec.params:
        assert param.doc.strip(), f"{spec.type_id}.{param.name} has no doc"
        default = param.default
        validated = param.validate(default)
        assert validated == default and type(validated) is type(default), param.name
        if param.kind in ("choice",):
            assert default in param.choices
    for port in (*spec.inputs, *spec.outputs):
        assert port.name and port.doc.strip(), f"{spec.type_id} port {port.name!r} has no doc"
    assert set(spec.key_params) <= set(spec.param_names())
    assert set(spec.input_dtypes) <= {"float32", "int64"} and spec.input_dtypes
    names = spec.param_names()
    if spec.has_weights:
        assert names[-3:] == ["weight_init", "trainable", "lr_multiplier"]
    else:
        assert not {"weight_init", "trainable", "lr_multiplier"} & set(names)
    if spec.type_id in ("Input", "Output"):
        assert spec.build is None
    else:
        assert spec.build is not None and len(spec.outputs) == 1


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_defaults_are_fresh_json_values(spec: LayerSpec):
    first, second = spec.defaults(), spec.defaults()
    assert json.loads(json.dumps(first)) == first
    for name, value in first.items():
        if isinstance(value, list):
            value.append(0)
            assert second[name] != value, f"{name}: defaults share a mutable list"


def test_layers_with_weights_are_declared_so():
    declared = {s.type_id for s in WEIGHTED}
    with_parameters = set()
    for example in MODULE_EXAMPLES:
        if any(True for _ in make_module(example).parameters()):
            with_parameters.add(example.type)
    assert with_parameters <= declared, "these modules have weights but no init/trainable"


# --- shape rule against a real run ----------------------------------------------------------------
@pytest.mark.parametrize("example", EXAMPLES, ids=ids_of)
def test_example_infers_ok_in_a_design(example: Example):
    analysis = infer(design(example))
    result = analysis.nodes[NODE]
    assert result.status == OK, result.errors
    assert not result.errors
    assert bool(result.warnings) == example.warns, result.warnings
    assert analysis.valid, analysis.errors
    if example.type == "Input":
        assert result.outputs["output"] == TensorInfo(tuple(example.params["shape"]),
                                                      example.params.get("dtype", "float32"))
        return
    direct = inferred(example)
    assert result.outputs == dict(direct.outputs)
    assert (result.params, result.flops) == (direct.params, direct.flops)
    if example.type == "Output":
        assert result.outputs["output"] == example.inputs["input"]


@pytest.mark.parametrize("example", MODULE_EXAMPLES, ids=[e.id for e in MODULE_EXAMPLES])
def test_shape_rule_matches_a_real_run(example: Example):
    torch.manual_seed(0)
    module = make_module(example)
    args, kwargs = random_inputs(example)
    out = module(*args, **kwargs)
    info = output_info(example)
    assert tuple(out.shape) == (BATCH, *info.shape)
    assert out.dtype == torch_dtype(info.dtype)


@pytest.mark.parametrize("example", MODULE_EXAMPLES, ids=[e.id for e in MODULE_EXAMPLES])
def test_params_count_matches_the_module(example: Example):
    module = make_module(example)
    assert inferred(example).params == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("example", MODULE_EXAMPLES, ids=[e.id for e in MODULE_EXAMPLES])
def test_buffer_count_matches_the_module(example: Example):
    """Non-parameter tensors (running statistics, position tables) take memory too: the memory
    budget counts them, so the shape rule must declare them."""
    module = make_module(example)
    assert inferred(example).buffers == sum(b.numel() for b in module.buffers())


@pytest.mark.parametrize("example", MODULE_EXAMPLES, ids=[e.id for e in MODULE_EXAMPLES])
def test_compiled_design_runs(example: Example):
    """The compiler's argument passing (positional, keyword after an open port, variadic) agrees
    with the shape rule too."""
    torch.manual_seed(0)
    model = design(example)
    module = compile_model(model)
    inputs = [random_tensor(info, full_params(example).get("num_embeddings", 10))
              for _, info in module.layerlab_inputs]
    out = module(*inputs)
    assert tuple(out.shape) == (BATCH, *output_info(example).shape)


@pytest.mark.parametrize("example", EXAMPLES, ids=ids_of)
def test_flops_are_counted(example: Example):
    flops = inferred(example).flops
    assert isinstance(flops, int) and not isinstance(flops, bool)
    assert flops >= 0
    if example.type in COMPUTE_TYPES:
        assert flops > 0
    if example.type in ("Input", "Output"):
        assert flops == 0


@pytest.mark.parametrize("example", WEIGHTED_EXAMPLES, ids=[e.id for e in WEIGHTED_EXAMPLES])
def test_frozen_layer_has_no_trainable_params(example: Example):
    model = design(example, trainable=False)
    result = infer(model).nodes[NODE]
    assert result.status == OK
    assert result.params == inferred(example).params
    assert result.trainable_params == 0
    trainable = infer(design(example)).nodes[NODE]
    assert trainable.trainable_params == trainable.params
    module = build_module(model, NODE, REGISTRY.get(example.type).build(context(example)))
    assert not any(p.requires_grad for p in module.parameters())


# --- params round-trip ----------------------------------------------------------------------------
@pytest.mark.parametrize("example", EXAMPLES, ids=ids_of)
def test_params_round_trip_through_json(example: Example):
    spec = REGISTRY.get(example.type)
    params = full_params(example)
    assert set(params) == set(spec.param_names())
    again = json.loads(json.dumps(params))
    assert again == params
    for name, value in again.items():
        validated = spec.param(name).validate(value)
        assert validated == params[name] and type(validated) is type(params[name]), name


# --- init schemes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", INIT_PARAM.choices)
@pytest.mark.parametrize("example", WEIGHTED_EXAMPLES, ids=[e.id for e in WEIGHTED_EXAMPLES])
def test_init_scheme(example: Example, scheme: str):
    torch.manual_seed(1)
    before = {n: p.detach().clone() for n, p in make_module(example).named_parameters()}
    torch.manual_seed(1)
    module = make_module(example, scheme)
    args, kwargs = random_inputs(example)
    out = module(*args, **kwargs)
    assert tuple(out.shape) == (BATCH, *output_info(example).shape)
    for name, param in module.named_parameters():
        if scheme == "default":
            assert torch.equal(param, before[name]), f"default init changed {name}"
        elif scheme == "zeros":
            assert not param.any(), f"{name} is not zero"
        elif "bias" in name.rsplit(".", 1)[-1]:
            assert not param.any(), f"bias {name} is not zero under {scheme}"
        elif param.dim() >= 2:
            assert not torch.equal(param, before[name]), f"{scheme} left {name} unchanged"
            assert torch.isfinite(param).all()
        else:
            assert torch.equal(param, before[name]), f"{scheme} changed 1-D scale {name}"


def test_default_init_keeps_pytorch_initialisation():
    torch.manual_seed(2)
    reference = torch.nn.Linear(4, 3)
    torch.manual_seed(2)
    module = make_module(Example("Linear", "x", {"out_features": 3}, {"input": TensorInfo((4,))}))
    assert torch.equal(module.weight, reference.weight) and torch.equal(module.bias,
                                                                        reference.bias)


def test_unknown_init_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown init scheme 'bogus'"):
        init_weights(torch.nn.Linear(2, 2), "bogus")


# --- eval mode and backward -----------------------------------------------------------------------
@pytest.mark.parametrize("example", MODULE_EXAMPLES, ids=[e.id for e in MODULE_EXAMPLES])
def test_eval_mode_and_backward(example: Example):
    torch.manual_seed(3)
    module = make_module(example)
    args, kwargs = random_inputs(example)
    expected = (BATCH, *output_info(example).shape)

    module.eval()
    with torch.no_grad():
        out = module(*args, **kwargs)
    assert tuple(out.shape) == expected
    if out.is_floating_point():
        assert torch.isfinite(out).all()
        again = module(*args, **kwargs)  # eval is deterministic (dropout off, running stats)
        assert torch.allclose(out, again, atol=1e-6)

    module.train()
    for t in [*args, *kwargs.values()]:
        if t.is_floating_point():
            t.requires_grad_(True)
    out = module(*args, **kwargs)
    if not out.is_floating_point():
        assert not list(module.parameters())  # an int64 reshuffle has nothing to learn
        return
    (out * torch.randn_like(out)).sum().backward()
    # a module may keep weights its forward never reads (an RBM's visible bias: its training
    # mode uses it); it names them, and every other weight must get a gradient
    generative = set(getattr(module, "generative_only", ()))
    parameters = [(n, p) for n, p in module.named_parameters() if n not in generative]
    for name, param in parameters:
        assert param.grad is not None, f"no gradient reached {name}"
        assert torch.isfinite(param.grad).all()
    reached = [p.grad for _, p in parameters] + [
        t.grad for t in [*args, *kwargs.values()] if t.is_floating_point()]
    assert any(g is not None and g.abs().sum() > 0 for g in reached), "no gradient flowed"


# --- module details the shape rules rely on -------------------------------------------------------
def test_bidirectional_last_state_is_both_directions_of_the_top_layer():
    torch.manual_seed(4)
    example = Example("LSTM", "x", {"hidden_size": 4, "num_layers": 2, "bidirectional": True},
                      {"input": TensorInfo((5, 3))})
    module = make_module(example)
    x = torch.randn(BATCH, 5, 3)
    last = module(x)
    out, _ = torch.nn.LSTM.forward(module, x)
    assert torch.allclose(last[:, :4], out[:, -1, :4])  # forward direction ends at the last step
    assert torch.allclose(last[:, 4:], out[:, 0, 4:])  # backward direction ends at the first


def test_causal_attention_ignores_later_positions():
    torch.manual_seed(5)
    example = Example("MultiheadAttention", "x", {"num_heads": 2, "causal": True},
                      {"query": TensorInfo((5, 8))})
    module = make_module(example).eval()
    x = torch.randn(1, 5, 8)
    changed = x.clone()
    changed[:, 3:] += 1.0
    assert torch.allclose(module(x)[:, :3], module(changed)[:, :3], atol=1e-6)
    assert not torch.allclose(module(x)[:, 3:], module(changed)[:, 3:])


def test_causal_encoder_layer_ignores_later_positions():
    torch.manual_seed(6)
    example = Example("TransformerEncoderLayer", "x",
                      {"nhead": 2, "dim_feedforward": 8, "dropout": 0.0, "causal": True},
                      {"input": TensorInfo((5, 8))})
    module = make_module(example)
    for mode in (module.train, module.eval):
        mode()
        x = torch.randn(1, 5, 8)
        changed = x.clone()
        changed[:, 3:] += 1.0
        with torch.no_grad():
            assert torch.allclose(module(x)[:, :3], module(changed)[:, :3], atol=1e-5)


def test_sinusoidal_encoding_with_odd_d_model():
    example = Example("PositionalEncoding", "x", {"max_len": 6}, {"input": TensorInfo((4, 5))})
    module = make_module(example)
    x = torch.zeros(1, 4, 5)
    table = module(x)[0]
    assert torch.allclose(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0]))
    assert torch.allclose(table[1, 0], torch.sin(torch.tensor(1.0)))
    assert torch.allclose(table[1, 1], torch.cos(torch.tensor(1.0)))


def test_global_avg_pool_averages_the_right_dims():
    x = torch.arange(24, dtype=torch.float32).reshape(1, 2, 3, 4)
    first = make_module(Example("GlobalAvgPool", "x", {}, {"input": TensorInfo((2, 3, 4))}))
    last = make_module(Example("GlobalAvgPool", "x", {"data_format": "channels_last"},
                               {"input": TensorInfo((2, 3, 4))}))
    assert torch.allclose(first(x), x.mean(dim=(2, 3)))
    assert torch.allclose(last(x), x.mean(dim=(1, 2)))


# --- error messages -------------------------------------------------------------------------------
def test_conv2d_on_flat_input_suggests_a_reshape():
    message = node_error(infer(chain((64,), ("Conv2d", {}))), "n1")
    assert message.startswith("Conv2d expects (batch, channels, height, width) but receives "
                              "(batch, 64)")
    assert "Reshape to (1, 8, 8)" in message


def test_kernel_larger_than_input():
    message = node_error(infer(chain((1, 3, 3), ("Conv2d", {"kernel_size": 5,
                                                              "padding": "valid"}))), "n1")
    assert "kernel 5 is larger than the 3x3 input with padding 'valid'" in message
    assert "smaller kernel" in message


def test_dilated_kernel_larger_than_input_names_its_reach():
    message = node_error(infer(chain((1, 6), ("Conv1d", {"kernel_size": 3, "dilation": 3,
                                                           "padding": 0}))), "n1")
    assert "kernel 3 with dilation 3 (reach 7) is larger than the 6 input with padding 0" in message


def test_pool_window_larger_than_input():
    message = node_error(infer(chain((2, 1, 5), ("MaxPool2d", {}))), "n1")
    assert "kernel 2 is larger than the 1x5 input" in message


def test_pool_padding_over_half_the_kernel():
    message = node_error(infer(chain((2, 8), ("AvgPool1d", {"kernel_size": 2,
                                                              "padding": 2}))), "n1")
    assert "padding 2 must be at most half the kernel size 2" in message


def test_concat_needs_equal_other_dims():
    model = GraphModel()
    model.add_node("Input", {"shape": [8, 4]}, node_id="a")
    model.add_node("Input", {"shape": [8, 5]}, node_id="b")
    model.add_node("Concat", {"dim": 1}, node_id="cat")
    model.connect("a", "cat")
    model.connect("b", "cat")
    message = node_error(infer(model), "cat")
    assert message == "Concat on dim 1 needs equal sizes on the other dims: (batch, 8, 4) vs " \
                      "(batch, 8, 5)"


def test_concat_needs_one_dtype():
    model = GraphModel()
    model.add_node("Input", {"shape": [3]}, node_id="a")
    model.add_node("Input", {"shape": [3], "dtype": "int64"}, node_id="b")
    model.add_node("Concat", {}, node_id="cat")
    model.connect("a", "cat")
    model.connect("b", "cat")
    assert "Concat inputs must share a dtype: float32 vs int64" in node_error(infer(model), "cat")


def test_add_refuses_shapes_that_do_not_broadcast():
    model = GraphModel()
    for name, shape in (("a", [1, 4]), ("b", [3, 4]), ("c", [5, 4])):
        model.add_node("Input", {"shape": shape}, node_id=name)
    model.add_node("Add", {}, node_id="add")
    for name in "abc":
        model.connect(name, "add")
    message = node_error(infer(model), "add")
    # (1, 4) broadcasts with both others, but (3, 4) and (5, 4) do not broadcast together.
    assert message.startswith("Add needs inputs of the same shape (or size 1 to broadcast): "
                              "(batch, 3, 4) vs (batch, 5, 4): ")
    assert "1x1 Conv2d" in message
    model.set_param("a", "shape", [1, 5])
    model.set_param("b", "shape", [3, 5])
    model.set_param("c", "shape", [3, 4])
    message = node_error(infer(model), "add")
    assert "(batch, 3, 5) vs (batch, 3, 4)" in message


def test_merge_needs_two_inputs():
    model = chain((4,), ("Add", {}))
    message = node_error(infer(model), "n1")
    assert message == "Add needs at least 2 inputs on 'input', has 1: connect more layers to it"


def test_same_padding_with_stride_2():
    message = node_error(infer(chain((1, 8, 8), ("Conv2d", {"stride": 2}))), "n1")
    assert "padding 'same' needs stride 1" in message
    assert "kernel_size // 2" in message


def test_groups_must_divide_channels():
    message = node_error(infer(chain((3, 8, 8), ("Conv2d", {"groups": 2}))), "n1")
    assert "groups=2 must divide both in_channels (3) and out_channels (16)" in message


def test_deconv_output_padding_must_be_below_stride():
    message = node_error(infer(chain((2, 4, 4), ("ConvTranspose2d", {"output_padding": 2}))),
                         "n1")
    assert "output_padding 2 must be smaller than stride (2) or dilation (1)" in message


def test_deconv_padding_that_leaves_no_output():
    message = node_error(infer(chain((2, 1, 5), ("ConvTranspose2d", {"kernel_size": 1,
                                                                       "padding": 1}))), "n1")
    assert message.startswith("padding 1 is too large for the 1x5 input: the output would be "
                              "-1x7")
    assert "lower the padding" in message


def test_heads_must_divide_embed_dim():
    model = GraphModel()
    model.add_node("Input", {"shape": [5, 6]}, node_id="inp")
    model.add_node("MultiheadAttention", {"num_heads": 4}, node_id="n1")
    model.connect("inp", "n1", dst_port="query")
    message = node_error(infer(model), "n1")
    assert "num_heads=4 must divide the embedding size 6" in message
    assert "[1, 2, 3, 6]" in message
    message = node_error(infer(chain((5, 6), ("TransformerEncoderLayer", {"nhead": 4}))), "n1")
    assert "nhead=4 must divide the embedding size 6" in message


def test_attention_key_and_value_lengths_must_agree():
    model = GraphModel()
    model.add_node("Input", {"shape": [5, 8]}, node_id="q")
    model.add_node("Input", {"shape": [6, 8]}, node_id="k")
    model.add_node("Input", {"shape": [7, 8]}, node_id="v")
    model.add_node("MultiheadAttention", {}, node_id="mha")
    for port, src in (("query", "q"), ("key", "k"), ("value", "v")):
        model.connect(src, "mha", dst_port=port)
    message = node_error(infer(model), "mha")
    assert "key and value need the same sequence length: (batch, 6, 8) vs (batch, 7, 8)" in message


def test_attention_on_a_flat_key_names_the_port():
    model = GraphModel()
    model.add_node("Input", {"shape": [5, 8]}, node_id="q")
    model.add_node("Input", {"shape": [8]}, node_id="k")
    model.add_node("MultiheadAttention", {}, node_id="mha")
    model.connect("q", "mha", dst_port="query")
    model.connect("k", "mha", dst_port="key")
    message = node_error(infer(model), "mha")
    assert "MultiheadAttention expects (batch, sequence, features) on 'key' but receives " \
           "(batch, 8)" in message


def test_positional_encoding_longer_than_max_len():
    message = node_error(infer(chain((20, 8), ("PositionalEncoding", {"max_len": 16}))), "n1")
    assert "the sequence has 20 positions but max_len is 16" in message
    assert "raise max_len to at least 20" in message


def test_reshape_size_mismatch():
    message = node_error(infer(chain((12,), ("Reshape", {"shape": [5, 3]}))), "n1")
    assert "needs 15 values per sample but the input (batch, 12) has 12" in message
    message = node_error(infer(chain((12,), ("Reshape", {"shape": [5, -1]}))), "n1")
    assert "cannot split the 12 values of (batch, 12) evenly" in message
    message = node_error(infer(chain((12,), ("Reshape", {"shape": [-1, -1]}))), "n1")
    assert "-1 (infer this size) at most once" in message
    message = node_error(infer(chain((12,), ("Reshape", {"shape": [0, 12]}))), "n1")
    assert "must be positive" in message


def test_permute_bad_dims():
    message = node_error(infer(chain((3, 4), ("Permute", {"dims": [1, 1]}))), "n1")
    assert "Permute dims [1, 1] must list each of 1..2 once for a (batch, 3, 4) input" in message
    assert "dimension 0 is the batch" in message
    message = node_error(infer(chain((3, 4), ("Permute", {"dims": [2, 1, 3]}))), "n1")
    assert "must list each of 1..2 once" in message


def test_rnn_on_rank_1_input():
    message = node_error(infer(chain((8,), ("RNN", {}))), "n1")
    assert message.startswith("RNN expects (batch, time, features) but receives (batch, 8)")
    assert "Reshape to (8, 1)" in message
    message = node_error(infer(chain((2, 3, 4), ("GRU", {}))), "n1")
    assert "GRU expects (batch, time, features) but receives (batch, 2, 3, 4)" in message


def test_linear_on_4d_input_is_a_warning():
    analysis = infer(chain((3, 4, 5), ("Linear", {"out_features": 2})))
    result = analysis.nodes["n1"]
    assert result.status == OK and not result.errors
    assert result.outputs["output"] == TensorInfo((3, 4, 2))
    assert analysis.valid
    [warning] = [p for p in analysis.problems if p.node == "n1"]
    assert warning.severity == "warning"
    assert "Linear acts on the last dimension only (size 5)" in warning.message
    assert "Flatten" in warning.message
    assert not infer(chain((4, 5), ("Linear", {}))).warnings  # a sequence is fine


def test_linear_on_int64_input_suggests_an_embedding():
    message = node_error(infer(chain((6,), ("Linear", {}), dtype="int64")), "n1")
    assert "Linear needs floating-point input but receives int64 token ids (batch, 6)" in message
    assert "insert an Embedding" in message


def test_embedding_on_float_input():
    message = node_error(infer(chain((6,), ("Embedding", {}))), "n1")
    assert "Embedding needs integer token ids (int64) but receives float32 (batch, 6)" in message


def test_softmax_over_the_batch_dim():
    message = node_error(infer(chain((4,), ("Softmax", {"dim": 0}))), "n1")
    assert message == "Softmax dim 0 is the batch dimension: use 1 or -1"
    message = node_error(infer(chain((4,), ("LogSoftmax", {"dim": 2}))), "n1")
    assert message == "LogSoftmax dim 2 is out of range for a (batch, 4) tensor (valid: 1 or -1)"
    message = node_error(infer(chain((3, 4), ("LogSoftmax", {"dim": -3}))), "n1")
    assert message == "LogSoftmax dim -3 is the batch dimension: use 1..2 or -2..-1"
    model = GraphModel()
    model.add_node("Input", {"shape": [3, 4]}, node_id="a")
    model.add_node("Concat", {"dim": 0}, node_id="cat")
    model.connect("a", "cat")
    model.connect("a", "cat")
    assert node_error(infer(model), "cat") == "Concat dim 0 is the batch dimension: use 1..2 " \
                                                "or -2..-1"


def test_upsample_mode_needs_matching_rank():
    message = node_error(infer(chain((2, 5), ("Upsample", {"mode": "bilinear"}))), "n1")
    assert "Upsample mode 'bilinear' expects (batch, channels, height, width) but receives " \
           "(batch, 2, 5)" in message


def test_layernorm_normalized_dims_beyond_the_input():
    message = node_error(infer(chain((4,), ("LayerNorm", {"normalized_dims": 2}))), "n1")
    assert "normalized_dims 2 exceeds the 1 non-batch dimensions of (batch, 4)" in message


def test_global_avg_pool_needs_spatial_dims():
    message = node_error(infer(chain((4,), ("GlobalAvgPool", {}))), "n1")
    assert "GlobalAvgPool averages the spatial dimensions" in message


def test_error_node_downstream_is_unknown():
    model = chain((64,), ("Conv2d", {}), ("ReLU", {}), ("Flatten", {}))
    analysis = infer(model)
    assert analysis.nodes["n1"].status == ERROR
    for node in ("n2", "n3", "out"):
        assert analysis.nodes[node].status == UNKNOWN
        assert not analysis.nodes[node].errors and not analysis.nodes[node].outputs
    assert [p.node for p in analysis.errors] == ["n1"]


def test_two_independent_bad_nodes_both_get_errors():
    model = GraphModel()
    model.add_node("Input", {"shape": [64]}, node_id="inp")
    model.add_node("Conv2d", {}, node_id="conv")
    model.add_node("Softmax", {"dim": 0}, node_id="soft")
    model.add_node("ReLU", {}, node_id="relu")
    model.add_node("Add", {}, node_id="add")
    model.add_node("Output", node_id="out")
    for src, dst in (("inp", "conv"), ("inp", "soft"), ("inp", "relu"), ("conv", "add"),
                     ("soft", "add"), ("add", "out")):
        model.connect(src, dst)
    analysis = infer(model)
    assert {p.node for p in analysis.errors} == {"conv", "soft"}
    assert analysis.nodes["relu"].status == OK
    assert analysis.nodes["add"].status == UNKNOWN and not analysis.nodes["add"].errors
    assert not analysis.valid
