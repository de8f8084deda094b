"""Tests for the Python exporter: the file is standalone, safe and reads as hand-written
PyTorch (no codegen residue, flake-clean, traceable by torch.fx), and equals the compiled model
given the same weights, for the test designs, every layer example and every preset."""
from __future__ import annotations

import ast
import io
import os
import re

import pytest
import torch
from pyflakes.api import check as pyflakes_check
from pyflakes.reporter import Reporter
from torch import fx, nn

from runtime import document
from runtime.compile import class_name_for, compile_model, compile_networks
from runtime.errors import CompileError, ExportError
from runtime.export import (FUNCTIONAL_FORMS, PYTHON_WEIGHTS_FORMAT, export_python,
                            exported_state_dict, module_paths, write_python)
from runtime.graph import GraphModel
from runtime.networks import network_title, subgraph
from runtime.preset_files import preset_names, preset_path

from tests.runtime.designs import chain
from tests.runtime.layer_examples import Example
from tests.runtime.test_compile import (CASES, lenet_design, mlp_design, multi_output_design,
                                        randomize_buffers)
from tests.runtime.test_layers import MODULE_EXAMPLES, design as example_design, random_tensor

EXPORTED_MODULE = "exported_network"

# PyTorch's own warning for the RNN example that sets dropout with one layer
pytestmark = [pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning"),
              pytest.mark.usefixtures("one_torch_thread")]


def load(source: str, class_name: str) -> type[nn.Module]:
    """Run exported source in a fresh namespace (as `import` would) and return its class."""
    namespace = {"__name__": EXPORTED_MODULE}
    exec(compile(source, "<exported>", "exec"), namespace)
    cls = namespace[class_name]
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    return cls


def imported_modules(source: str) -> set[str]:
    """Top-level package of every import statement anywhere in `source`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            found.add(node.module.split(".")[0])
    return found


def flakes(source: str) -> str:
    """What pyflakes says about `source` (unused imports, undefined names, ...); "" when clean."""
    out, err = io.StringIO(), io.StringIO()
    pyflakes_check(source, "exported.py", Reporter(out, err))
    return out.getvalue() + err.getvalue()


def network_class(source: str) -> ast.ClassDef:
    """The network's class: the file's last statement (the helpers come first)."""
    last = ast.parse(source).body[-1]
    assert isinstance(last, ast.ClassDef)
    return last


def as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


class LeafHelpers(fx.Tracer):
    """Traces as an importer would: LayerLab's helper classes (defined in the file) are leaves
    like torch.nn's layers; the network's own code and nn.Sequential are traced through."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__module__ == EXPORTED_MODULE or super().is_leaf_module(m, qualname)


def assert_reads_as_hand_written(design: GraphModel, source: str, network: nn.Module,
                                 paths: dict[str, str]):
    """No codegen residue; every name in forward means something; clean and traceable.
    `paths`: the design's `module_paths`."""
    assert flakes(source) == ""
    cls = network_class(source)
    text = ast.get_source_segment(source, cls)
    assert not re.search(r"=\s*None\s*$", text, re.M), "a `= None` line"
    assert max(map(len, text.splitlines())) <= 99, "a line longer than a person writes"
    assert not re.search(r"\b(getitem|getattr)_?\d*\b|;", text), "torch.fx residue"
    forward = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "forward")
    allowed = ({"x", "_"} | set(design.nodes) | {p.split(".")[0] for p in paths.values()}
               | {f"{n}_{port.name}" for n in design.nodes for port in design.spec(n).outputs})
    assigned = {t.id for node in ast.walk(forward) if isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Store) for t in [node]}
    assert assigned <= allowed, assigned - allowed
    assert not any(isinstance(n, (ast.If, ast.For, ast.While, ast.IfExp))
                   for n in ast.walk(forward)), "control flow in forward"
    # every layer sits where module_paths says, named after its node
    modules = dict(network.named_modules())
    for node_id, path in paths.items():
        assert path.split(".")[-1] == node_id and path in modules
    # traceable as plain PyTorch: the traced graph calls each layer once, nothing else
    graph = LeafHelpers().trace(network)
    called = [n.target for n in graph.nodes if n.op == "call_module"]
    assert sorted(called) == sorted(paths.values())


def assert_exported_equals_compiled(design: GraphModel, inputs: tuple[torch.Tensor, ...]):
    torch.manual_seed(0)
    compiled = compile_model(design)
    randomize_buffers(compiled)
    source = export_python(design)
    assert imported_modules(source) <= {"torch", "math", "collections"}
    assert "runtime" not in source and "layerlab_inputs" not in source
    assert "__import__" not in source and "eval(" not in source and "exec(" not in source
    network = load(source, class_name_for(design))()
    by_node_id = compiled.state_dict()
    state = exported_state_dict(design, by_node_id)
    network.load_state_dict(state)  # strict
    assert network.state_dict().keys() == state.keys()
    assert_reads_as_hand_written(design, source, network, module_paths(design))
    compiled.eval()
    network.eval()
    with torch.no_grad():
        want, got = as_tuple(compiled(*inputs)), as_tuple(network(*inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    # and the exported class trains: gradients reach the parameters they reach when compiled
    renamed = dict(zip(by_node_id, state))
    assert trained(network, inputs) == {renamed[key] for key in trained(compiled, inputs)}
    return source


def trained(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> set[str]:
    """The names of the parameters one training step's backward pass reaches."""
    module.train()
    outputs = [o for o in as_tuple(module(*inputs)) if o.requires_grad]
    if outputs:  # a layer without weights fed plain inputs has nothing to train
        sum(o.sum() for o in outputs).backward()
    return {name for name, p in module.named_parameters() if p.grad is not None}


def layer(network: nn.Module, design: GraphModel, node_id: str) -> nn.Module:
    return network.get_submodule(module_paths(design)[node_id])


@pytest.mark.parametrize("name", list(CASES))
def test_exported_module_equals_the_compiled_one(name):
    case = CASES[name]
    design = case.build()
    assert_exported_equals_compiled(design, case.inputs())
    paths = module_paths(design)
    compiled = compile_model(design)
    for node_id, module in compiled.named_children():
        # a layer is a module named after its node, or the expression of a weightless one
        assert node_id in paths or (type(module) in FUNCTIONAL_FORMS
                                    and not list(module.state_dict()))


def test_a_node_with_several_outputs_exports_with_plain_indexing():
    x = torch.randn(2, 5, 8)
    source = assert_exported_equals_compiled(multi_output_design(), (x,))
    assert "self.attn = nn.MultiheadAttention(8, 2, batch_first=True)" in source
    assert "attn_output, attn_weights = self.attn(x, x, x)" in source


def test_helpers_are_copied_only_when_used():
    mlp = export_python(mlp_design())
    assert "class " in mlp and mlp.count("class ") == 1  # just the network
    assert "def init_weights" not in mlp
    lstm = export_python(CASES["lstm_bidirectional_last"].build())
    tree = ast.parse(lstm)
    top = [n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
    assert top == ["_SequenceOutput", "LSTM", "LSTMNet"]  # dependencies first, network last


@pytest.mark.parametrize("name, expected", [("two heads", "TwoHeads"), ("LeNet", "LeNet"),
                                            ("3d unet", "Net3dUnet"), ("", "Network"),
                                            ("LSTM", "LSTMNet"), ("add", "AddNet"),
                                            ("value error", "ValueErrorNet"),
                                            ("MLP on digits", "MLPDigits"),
                                            ("Adding problem: GRU", "AddingProblemGRU"),
                                            ("Lesson: dying ReLU (fixed)", "LessonDyingReLU"),
                                            ("Transfer learning 2b: fine-tuning (body at a "
                                             "tenth of the rate)", "TransferLearning2b"),
                                            ("Regression: fit a sine wave to noisy samples",
                                             "RegressionFitSineWave")])
def test_class_name_comes_from_the_design_name(name, expected):
    design = mlp_design()
    design.name = name
    source = export_python(design)
    classes = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
    assert classes == [expected]
    assert expected.isidentifier()
    network = load(source, expected)()
    assert network(torch.randn(2, 6)).shape == (2, 3)


def test_design_named_like_a_helper_still_builds():
    """A class called like a helper it instantiates would construct itself forever."""
    design = CASES["lstm_last"].build()
    design.name = "LSTM"
    source = export_python(design)
    network = load(source, "LSTMNet")()
    assert type(layer(network, design, "rnn")).__name__ == "LSTM"
    assert network(torch.randn(2, 5, 3)).shape == (2, 4)


def test_explicit_class_name_is_used():
    source = export_python(mlp_design(), class_name="My_Net2")
    load(source, "My_Net2")
    assert "class Mlp" not in source


@pytest.mark.parametrize("bad", ["1abc", "class", "import os", "", "a b", "x;y", "None",
                                 "forward", "torch", "super", "print", "Add", "LSTM",
                                 "init_weights", "causal_mask", "_SequenceOutput"])
def test_bad_class_name_is_refused(bad):
    with pytest.raises(ExportError, match="class name"):
        export_python(CASES["lstm_last"].build(), class_name=bad)


def test_code_like_design_name_never_reaches_the_source():
    evil = "x'); import os; ('"
    design = mlp_design()
    design.name = evil
    design.description = "\"\"\"; import os; \"\"\""
    source = export_python(design)
    assert evil not in source and "import os" not in source and "os" not in imported_modules(source)
    assert design.description not in source
    load(source, class_name_for(design))


def test_export_of_a_design_with_errors_lists_them():
    design = mlp_design()
    design.remove_node("out")
    with pytest.raises(CompileError, match="no Output"):
        export_python(design)


class Doubler(nn.Module):
    """A module class that lives in neither torch.nn nor LayerLab's helpers."""

    def forward(self, x):
        return 2 * x


def test_unknown_module_classes_are_refused():
    from runtime.registry import REGISTRY, LayerRegistry
    from runtime.specs import Inference, LayerSpec, ModuleRecipe

    registry = LayerRegistry()
    for spec in REGISTRY:
        registry.register(spec)
    registry.register(LayerSpec("Doubler", "Doubler", "Core", "Test layer.", (),
                                lambda ctx: Inference({"output": ctx.x}),
                                lambda ctx: ModuleRecipe(Doubler)))
    design = GraphModel(registry, name="custom")
    design.add_node("Input", {"shape": [2]}, node_id="x")
    design.add_node("Doubler", node_id="twice")
    design.add_node("Output", node_id="out")
    design.connect("x", "twice")
    design.connect("twice", "out")
    assert torch.equal(compile_model(design)(torch.ones(1, 2)), torch.full((1, 2), 2.0))
    with pytest.raises(ExportError, match="Doubler"):
        export_python(design)


def test_write_python_writes_the_whole_file(tmp_path):
    design = mlp_design()
    target = tmp_path / "net.py"
    write_python(design, target)
    assert target.read_text(encoding="utf-8") == export_python(design)
    assert os.listdir(tmp_path) == ["net.py"]
    load(target.read_text(encoding="utf-8"), "Mlp")


def test_write_python_replaces_an_existing_file(tmp_path):
    target = tmp_path / "net.py"
    target.write_text("old contents that are longer than nothing\n" * 1000)
    write_python(mlp_design(), target, class_name="Replaced")
    text = target.read_text(encoding="utf-8")
    assert "old contents" not in text and "class Replaced(nn.Module)" in text
    assert os.listdir(tmp_path) == ["net.py"]


def test_a_failed_export_leaves_the_target_alone(tmp_path):
    target = tmp_path / "net.py"
    target.write_text("previous export\n")
    with pytest.raises(ExportError):
        write_python(mlp_design(), target, class_name="import os")
    assert target.read_text() == "previous export\n"
    assert os.listdir(tmp_path) == ["net.py"]


def test_a_crash_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_python(mlp_design(), tmp_path / "net.py")
    assert os.listdir(tmp_path) == []


def test_init_and_trainable_settings_are_reproduced():
    design = mlp_design()
    design.set_param("fc1", "weight_init", "zeros")
    design.set_param("fc1", "trainable", False)
    design.set_param("fc2", "weight_init", "orthogonal")
    source = export_python(design)
    fc1 = f"self.{module_paths(design)['fc1']}"
    assert f"init_weights({fc1}, 'zeros')" in source
    assert f"{fc1}.requires_grad_(False)" in source
    cls = load(source, "Mlp")
    torch.manual_seed(7)
    network = cls()  # no state loaded: the settings themselves must act
    fc1, fc2 = layer(network, design, "fc1"), layer(network, design, "fc2")
    assert not fc1.weight.any() and not fc1.bias.any()
    assert not any(p.requires_grad for p in fc1.parameters())
    assert all(p.requires_grad for p in fc2.parameters())
    w = fc2.weight
    torch.testing.assert_close(w @ w.T, torch.eye(3), atol=1e-5, rtol=0)
    # same seed, same construction order: the exported class starts from the compiled weights
    torch.manual_seed(7)
    compiled = compile_model(design)
    exported = network.state_dict()
    for key, value in exported_state_dict(design, compiled.state_dict()).items():
        assert torch.equal(value, exported[key]), key


def test_frozen_recurrent_and_attention_layers_export():
    design = CASES["cross_attention"].build()
    design.set_param("attn", "trainable", False)
    design.set_param("attn", "weight_init", "xavier_uniform")
    network = load(export_python(design), "CrossAttention")()
    assert not any(p.requires_grad for p in network.attn.parameters())
    assert not network.attn.in_proj_bias.any()  # named schemes start biases at zero
    assert network.attn.q_proj_weight.abs().max() > 0


def test_a_design_without_layers_exports():
    design = GraphModel(name="identity")
    design.add_node("Input", {"shape": [4]}, node_id="x")
    design.add_node("Output", node_id="out")
    design.connect("x", "out")
    x = torch.randn(2, 4)
    assert torch.equal(load(export_python(design), "Identity")()(x), x)


def test_written_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "net.py"
    write_python(mlp_design(), target)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    write_python(mlp_design(), target)  # replacing a file keeps its mode
    assert target.stat().st_mode & 0o777 == 0o640


# --- every layer type and every preset ------------------------------------------------------

@pytest.mark.parametrize("example", MODULE_EXAMPLES, ids=[e.id for e in MODULE_EXAMPLES])
def test_every_layer_example_exports_equal_to_the_compiled_layer(example: Example):
    """Constructor arguments (positional, defaults left out) and the expressions that replace
    weightless layers build and compute exactly what the compiled module does."""
    design = example_design(example)
    high = design.nodes["layer"].params.get("num_embeddings", 10)
    torch.manual_seed(1)
    inputs = tuple(random_tensor(info, high)
                   for _, info in compile_model(design).layerlab_inputs)
    assert_exported_equals_compiled(design, inputs)


def _preset(name: str) -> GraphModel:
    return document.load(preset_path(name))


PRESETS = preset_names()
SINGLE_NETWORK = [n for n in PRESETS if len(_preset(n).networks()) == 1]


@pytest.mark.parametrize("name", SINGLE_NETWORK)
def test_every_preset_exports_equal_to_its_compiled_model(name):
    design = _preset(name)
    vocabulary = min((n.params["num_embeddings"] for n in design.nodes.values()
                      if n.type == "Embedding"), default=10)
    torch.manual_seed(2)
    inputs = tuple(random_tensor(info, vocabulary)
                   for _, info in compile_model(design).layerlab_inputs)
    assert_exported_equals_compiled(design, inputs)


MULTI_NETWORK = [n for n in PRESETS if n not in SINGLE_NETWORK]


@pytest.mark.parametrize("name", MULTI_NETWORK)
def test_a_design_of_several_networks_exports_a_class_per_network(name):
    design = _preset(name)
    source = export_python(design)
    assert flakes(source) == ""
    classes = {n.name: ast.get_source_segment(source, n) for n in ast.parse(source).body
               if isinstance(n, ast.ClassDef)}
    networks = compile_networks(design)
    names = [class_name_for(subgraph(design, key)) for key in networks]
    assert names == list(classes)[-len(networks):]  # helpers first, then the networks in order
    namespace_classes = {c: load(source, c) for c in names}
    torch.manual_seed(2)
    for key, compiled in networks.items():
        sub = subgraph(design, key)
        alone = export_python(design, network=network_title(key))
        assert alone == export_python(sub)  # --network: that class alone, as its own design
        assert ast.get_source_segment(alone, network_class(alone)) == classes[class_name_for(sub)]
        inputs = tuple(random_tensor(info, 8) for _, info in compile_model(sub).layerlab_inputs)
        assert_exported_equals_compiled(sub, inputs)
        exported = namespace_classes[class_name_for(sub)]().eval()
        exported.load_state_dict(exported_state_dict(sub, compiled.state_dict()))
        with torch.no_grad():
            for got, want in zip(as_tuple(exported(*inputs)), as_tuple(compiled.eval()(*inputs)),
                                 strict=True):
                assert torch.equal(got, want)


def test_one_class_name_for_several_networks_and_unknown_networks_are_refused():
    design = _preset("gan-2d")
    with pytest.raises(ExportError, match="holds 2 networks, each exported as a class named "
                       "after it: export one network"):
        export_python(design, class_name="Gan")
    assert "class Gan(nn.Module)" in export_python(design, "Gan", network="generator")
    with pytest.raises(ExportError, match="no network 'nope' in the design"):
        export_python(design, network="nope")
    with pytest.raises(ExportError, match="no network 'generator' in the design .*'main'"):
        export_python(mlp_design(), network="generator")


def test_each_networks_weights_go_to_a_file_of_its_own_that_the_docstring_loads(
        tmp_path, monkeypatch):
    from runtime.compile import compile_joined
    from runtime.training.checkpoints import CHECKPOINT_FORMAT

    design = _preset("gan-2d")
    torch.manual_seed(4)
    joined = compile_joined(design).eval()
    checkpoint = tmp_path / "last.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": joined.state_dict()}, checkpoint)
    written = write_python(design, tmp_path / "gan.py", weights=checkpoint)
    assert [p.name for p in written] == ["gan_generator.safetensors",
                                         "gan_discriminator.safetensors", "gan.py"]
    source = (tmp_path / "gan.py").read_text()
    assert max(map(len, source.splitlines())) <= 99
    docstring = ast.get_docstring(ast.parse(source))
    assert "gan_generator.safetensors and gan_discriminator.safetensors" in docstring
    snippet = "\n".join(line[4:] for line in docstring.splitlines() if line.startswith("    "))
    assert "from gan import Generator, Discriminator" in snippet
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    exec(snippet, namespace)  # the docstring's own lines: the import, then the loading
    noise, sample = torch.randn(3, 8), torch.randn(3, 2)
    with torch.no_grad():
        assert torch.equal(namespace["generator"](noise), joined.networks["generator"](noise))
        assert torch.equal(namespace["discriminator"](sample),
                           joined.networks["discriminator"](sample))
    # a checkpoint of another design leaves none of the three files behind
    (tmp_path / "other").mkdir()
    with pytest.raises(ExportError):
        write_python(_preset("dcgan-digits"), tmp_path / "other" / "gan.py", weights=checkpoint)
    assert list((tmp_path / "other").iterdir()) == []


# --- what the file looks like ----------------------------------------------------------------

def preset_source(name: str) -> str:
    return export_python(_preset(name))


def test_constructor_arguments_leave_out_pytorchs_defaults():
    mlp = export_python(mlp_design())
    assert "nn.Linear(6, 8)" in mlp and "nn.Linear(8, 3)" in mlp and "bias" not in mlp
    lenet = export_python(lenet_design())
    assert "nn.Conv2d(1, 4, 3, padding='valid')" in lenet
    # set in the design (the layer's own default is 'same'), so written even though it is
    # PyTorch's default
    assert "nn.Conv2d(4, 6, 3, padding=0)" in lenet
    assert "nn.BatchNorm2d(4)" in lenet and "nn.MaxPool2d(2)" in lenet
    assert "eps=" not in lenet and "momentum=" not in lenet and "stride=" not in lenet
    resnet = preset_source("resnet-shapes")
    assert "nn.Conv2d(1, 16, 3, padding='same', bias=False)" in resnet
    # attention's kdim and vdim default to embed_dim
    self_attention = export_python(CASES["self_attention"].build())
    assert "self.attn = MultiheadAttention(8, 2)\n" in self_attention
    assert "MultiheadAttention(8, 4, kdim=5, vdim=7)" in export_python(
        CASES["key_value_attention"].build())


def test_defaults_a_signature_does_not_show_are_left_out_too():
    # LayerLab's encoder layer takes torch's defaults; nn.RNN reads nonlinearity from **kwargs
    assert "TransformerEncoderLayer(32, 4, dim_feedforward=64))," in preset_source(
        "transformer-majority")
    assert "self.rnn = RNN(2, 32)\n" in preset_source("rnn-adding")


def test_a_learning_rate_multiplier_the_module_cannot_hold_is_said_in_a_comment():
    source = preset_source("transfer-shapes-fine-tuning")
    assert ("# LayerLab trains self.features.conv1, self.features.conv2 at 0.1x the learning "
            "rate\n        # (lr_multiplier)") in source
    assert "lr_multiplier" not in preset_source("lenet-digits")


def test_a_chain_is_named_after_a_prefix_a_reader_can_read():
    source = preset_source("gan-2d")  # g_fc1, g_act1, ...: not `self.g`
    assert source.count("self.layers = nn.Sequential(") == 2 and "self.g = " not in source
    assert "self.block1 = nn.Sequential(" in preset_source("resnet-shapes")


@pytest.mark.parametrize("p, written", [(0.5, "nn.Dropout()"), (0.2, "nn.Dropout(0.2)")])
def test_a_value_equal_to_both_defaults_is_left_out(p, written):
    design = GraphModel(name="drop")
    design.add_node("Input", {"shape": [4]}, node_id="x")
    design.add_node("Dropout", {"p": p}, node_id="drop")
    design.add_node("Output", node_id="out")
    chain(design, "x", "drop", "out")
    source = export_python(design)
    assert f"self.drop = {written}" in source
    assert load(source, "Drop")().drop.p == p


def test_a_long_chain_is_one_sequential_keeping_the_node_ids():
    source = preset_source("lenet-digits")
    assert "self.features = nn.Sequential(OrderedDict([" in source
    assert "self.classifier = nn.Sequential(OrderedDict([" in source
    assert "('conv1', nn.Conv2d(1, 16, 3, padding='same'))," in source
    assert "from collections import OrderedDict" in source
    forward = ast.get_source_segment(source, network_class(source).body[-1])
    assert forward == ("def forward(self, image):\n"
                       "        x = self.features(image)\n"
                       "        x = x.flatten(1)\n"
                       "        return self.classifier(x)")
    paths = module_paths(_preset("lenet-digits"))
    assert paths["conv1"] == "features.conv1" and paths["fc2"] == "classifier.fc2"
    assert "flat" not in paths  # written as x.flatten(1)


def test_residual_blocks_are_named_after_their_nodes_and_merges_are_plain_expressions():
    source = preset_source("resnet-shapes")
    for name in ("stem", "block1", "block2"):
        assert f"self.{name} = nn.Sequential(" in source
    for line in ("block1 = self.block1(stem)", "x = block1 + stem", "x = x.mean(dim=(2, 3))",
                 "return self.head(x)"):
        assert f"        {line}\n" in source + "\n"
    assert "class Add" not in source and "class GlobalAvgPool" not in source


def test_a_short_chain_stays_flat_and_imports_only_what_it_uses():
    design = GraphModel(name="small")
    design.add_node("Input", {"shape": [4]}, node_id="x")
    design.add_node("Linear", {"out_features": 3}, node_id="fc")
    design.add_node("ReLU", node_id="act")
    design.add_node("Output", node_id="out")
    chain(design, "x", "fc", "act", "out")
    source = export_python(design)
    assert "Sequential" not in source and "OrderedDict" not in source
    assert "import math" not in source and "import torch\n" not in source
    assert "x = self.fc(x)\n        return self.act(x)" in source
    assert flakes(source) == ""


def test_merges_name_their_inputs_and_several_outputs_return_a_tuple():
    source = preset_source("digit-pairs")
    assert "x = torch.cat([left_flat, right_flat], dim=1)" in source
    assert "def forward(self, left, right):" in source
    assert "return sum_scores, difference_value" in source
    assert "import torch\n" in source


def test_an_input_named_x_is_not_overwritten_while_still_needed():
    design = GraphModel(name="skip")
    design.add_node("Input", {"shape": [4]}, node_id="x")
    design.add_node("Linear", {"out_features": 4}, node_id="fc")
    design.add_node("Tanh", node_id="act")
    design.add_node("Add", node_id="skip")
    design.add_node("Output", node_id="out")
    chain(design, "x", "fc", "act", "skip", "out")
    design.connect("x", "skip")
    source = export_python(design)
    assert ("        fc = self.fc(x)\n        act = self.act(fc)\n        return act + x\n"
            in source)
    network = load(source, "Skip")()
    x = torch.randn(2, 4)
    assert torch.allclose(network(x), network.act(network.fc(x)) + x)


def test_functional_forms_are_for_layers_without_state():
    seen = set()
    for example in MODULE_EXAMPLES:
        design = example_design(example)
        compiled = compile_model(design)
        if type(compiled.layer) in FUNCTIONAL_FORMS:
            seen.add(type(compiled.layer))
            assert not list(compiled.layer.state_dict())
            assert not design.spec("layer").has_weights  # no weight_init or trainable to lose
            assert "layer" not in module_paths(design)
    assert seen == set(FUNCTIONAL_FORMS)  # each form is exercised by the layer examples


def test_state_dict_keys_are_renamed_for_the_exported_class_and_unknown_ones_refused():
    design = _preset("lenet-digits")
    renamed = exported_state_dict(design, {"conv1.weight": 1, "fc2.bias": 2})
    assert renamed == {"features.conv1.weight": 1, "classifier.fc2.bias": 2}
    with pytest.raises(ExportError, match="no node 'nope'"):
        exported_state_dict(design, {"nope.weight": 0})


def test_weights_beside_the_module_load_into_it_under_its_own_keys(tmp_path, monkeypatch):
    from safetensors import safe_open
    from runtime.training.checkpoints import CHECKPOINT_FORMAT

    design = _preset("lenet-digits")
    torch.manual_seed(3)
    compiled = compile_model(design).eval()
    checkpoint = tmp_path / "last.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": compiled.state_dict()}, checkpoint)
    write_python(design, tmp_path / "lenet.py", weights=checkpoint)
    with safe_open(str(tmp_path / "lenet.safetensors"), framework="pt") as file:
        assert file.metadata()["format"] == PYTHON_WEIGHTS_FORMAT
        assert "features.conv1.weight" in file.keys()
    source = (tmp_path / "lenet.py").read_text()
    snippet = "\n".join(line[4:] for line in ast.get_docstring(ast.parse(source)).splitlines()
                        if line.startswith("    "))
    assert "from lenet import LeNetStyleCNNDigits" in snippet
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    exec(snippet, namespace)  # the docstring's own lines: the import, then the loading
    x = torch.randn(2, *compiled.layerlab_inputs[0][1].shape)
    assert torch.equal(namespace["model"](x), compiled(x))
