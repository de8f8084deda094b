"""Tests for the Python exporter: the file is standalone and safe, and equals the compiled model."""
from __future__ import annotations

import ast
import os

import pytest
import torch
from torch import nn

from runtime.compile import class_name_for, compile_model
from runtime.errors import CompileError, ExportError
from runtime.export import export_python, write_python
from runtime.graph import GraphModel

from tests.runtime.test_compile import CASES, mlp_design, multi_output_design, randomize_buffers


def load(source: str, class_name: str) -> type[nn.Module]:
    """Run exported source in a fresh namespace (as `import` would) and return its class."""
    namespace = {"__name__": "exported_network"}
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


def as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def assert_exported_equals_compiled(design: GraphModel, inputs: tuple[torch.Tensor, ...]):
    torch.manual_seed(0)
    compiled = compile_model(design)
    randomize_buffers(compiled)
    source = export_python(design)
    assert imported_modules(source) <= {"torch", "math"}
    assert "runtime" not in source and "layerlab_inputs" not in source
    assert "__import__" not in source and "eval(" not in source and "exec(" not in source
    network = load(source, class_name_for(design))()
    network.load_state_dict(compiled.state_dict())  # strict
    assert network.state_dict().keys() == compiled.state_dict().keys()
    compiled.eval()
    network.eval()
    with torch.no_grad():
        want, got = as_tuple(compiled(*inputs)), as_tuple(network(*inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    # and the exported class trains: gradients reach every trainable parameter
    network.train()
    sum(o.float().sum() for o in as_tuple(network(*inputs))).backward()
    assert all(p.grad is not None for p in network.parameters() if p.requires_grad)
    return source


@pytest.mark.parametrize("name", list(CASES))
def test_exported_module_equals_the_compiled_one(name):
    case = CASES[name]
    source = assert_exported_equals_compiled(case.build(), case.inputs())
    for node_id, node in case.build().nodes.items():
        if node.type not in ("Input", "Output"):
            assert f"self.{node_id} = " in source and f"self.{node_id}(" in source


def test_a_node_with_several_outputs_exports_with_plain_indexing():
    x = torch.randn(2, 5, 8)
    source = assert_exported_equals_compiled(multi_output_design(), (x,))
    assert "nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)" in source


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
                                            ("value error", "ValueErrorNet")])
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
    assert type(network.rnn).__name__ == "LSTM"
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
    assert "init_weights(self.fc1, 'zeros')" in source
    assert "self.fc1.requires_grad_(False)" in source
    cls = load(source, "Mlp")
    torch.manual_seed(7)
    network = cls()  # no state loaded: the settings themselves must act
    assert not network.fc1.weight.any() and not network.fc1.bias.any()
    assert not any(p.requires_grad for p in network.fc1.parameters())
    assert all(p.requires_grad for p in network.fc2.parameters())
    w = network.fc2.weight
    torch.testing.assert_close(w @ w.T, torch.eye(3), atol=1e-5, rtol=0)
    # same seed, same construction order: the exported class starts from the compiled weights
    torch.manual_seed(7)
    compiled = compile_model(design)
    for key, value in compiled.state_dict().items():
        assert torch.equal(value, network.state_dict()[key]), key


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
