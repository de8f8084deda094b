"""Importing PyTorch models into designs (runtime/importer, #17).

Oracle tests: the model files under tests/import_models are plain PyTorch written without
LayerLab; every preset is exported to Python and imported back. Each import is compared with the
module it came from here again (parameter counts, output shapes, outputs with the same weights),
independently of the importer's own check.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from runtime.compile import compile_model, compiled_nodes
from runtime.document import load
from runtime.export import export_python
from runtime.importer import (ImportResult, InputSpec, TorchImportError, import_file,
                              import_module, load_class, model_classes, parse_args, parse_input)
from runtime.importer import docs as import_docs
from runtime.importer.command import add_import_parser, run_import
from runtime.inference import load_strict
from runtime.networks import subgraph
from runtime.shapes import infer
from runtime.training.checkpoints import load_checkpoint
from runtime.training.transfer import transfer_weights
from tests.runtime.test_layers import MODULE_EXAMPLES, design as example_design

MODELS = Path(__file__).resolve().parents[1] / "import_models"
PRESETS = sorted((Path(__file__).resolve().parents[2] / "presets").glob("*.json"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _instance(file: str, class_name: str, seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    module = load_class(MODELS / file, class_name)(**kwargs)
    _shift_statistics(module, seed)
    return module.eval()


def _shift_statistics(module: nn.Module, seed: int) -> None:
    """Running statistics away from 0 and 1, so a BatchNorm imported wrong shows."""
    generator = torch.Generator().manual_seed(seed)
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            sub.running_mean.copy_(torch.randn(sub.running_mean.shape, generator=generator))
            sub.running_var.copy_(torch.rand(sub.running_var.shape, generator=generator) + 0.5)


def _batch(inputs: list[InputSpec], batch: int = 4, vocabulary: int = 2) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(123)
    return [torch.randint(0, vocabulary, (batch, *i.shape), generator=generator)
            if i.dtype == "int64" else torch.randn((batch, *i.shape), generator=generator)
            for i in inputs]


def _assert_same_as(result: ImportResult, module: nn.Module, inputs: list[InputSpec],
                    vocabulary: int = 2) -> None:
    """Parameter count, output shapes and outputs of the design equal the module's."""
    analysis = infer(result.design)
    assert analysis.valid
    assert analysis.total_params == sum(p.numel() for p in module.parameters())
    xs = _batch(inputs, vocabulary=vocabulary)
    with torch.no_grad():
        want = module(*xs)
        got = result.model(*xs)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    outputs = [n for n in result.design.nodes.values() if n.type == "Output"]
    assert len(got) == len(want) == len(outputs)
    for node, g, w in zip(outputs, got, want):
        assert tuple(analysis.nodes[node.id].outputs["output"].shape) == tuple(w.shape[1:])
        assert torch.allclose(g, w, atol=1e-5, rtol=1e-5)


def _types(result: ImportResult) -> list[str]:
    design = result.design
    return [design.nodes[n].type for n in compiled_nodes(design)
            if design.nodes[n].type not in ("Input", "Output")]


# --- models written without LayerLab ----------------------------------------------------------

TUTORIALS = [
    ("mlp_mnist.py", "NeuralNetwork", ["1,28,28"],
     ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Linear", "LogSoftmax"]),
    ("lenet5.py", "LeNet5", ["1,28,28"],
     ["Conv2d", "Tanh", "MaxPool2d", "Conv2d", "Tanh", "MaxPool2d", "Flatten", "Linear", "ReLU",
      "Linear", "ReLU", "Linear"]),
    ("vgg_small.py", "VGG", ["3,32,32"],
     ["Conv2d", "BatchNorm", "ReLU"] * 2 + ["MaxPool2d"] + ["Conv2d", "BatchNorm", "ReLU"] * 2
     + ["MaxPool2d", "Conv2d", "BatchNorm", "ReLU", "MaxPool2d", "AvgPool2d", "Flatten",
        "Linear", "ReLU", "Dropout", "Linear"]),
    ("resnet_small.py", "ResNet", ["3,16,16"], None),
    ("lstm_classifier.py", "RNN", ["28,28"], ["LSTM", "Linear"]),
    ("lstm_classifier.py", "TextClassifier", ["12:int64"],
     ["Embedding", "LSTM", "Dropout", "Linear"]),
]


@pytest.mark.parametrize("file,class_name,shapes,types", TUTORIALS,
                         ids=[f"{c[0]}:{c[1]}" for c in TUTORIALS])
def test_tutorial_models_import_with_their_shapes_counts_and_outputs(file, class_name, shapes,
                                                                     types):
    module = _instance(file, class_name)
    inputs = [parse_input(s) for s in shapes]
    result = import_module(module, inputs)
    _assert_same_as(result, module, inputs, vocabulary=100)
    if types is not None:
        assert _types(result) == types


def test_the_residual_network_keeps_its_blocks_and_skips():
    module = _instance("resnet_small.py", "ResNet")
    result = import_module(module, [InputSpec((3, 16, 16))])
    types = _types(result)
    assert types.count("Add") == 4 and types.count("Conv2d") == 10
    assert types[-2:] == ["GlobalAvgPool", "Linear"]  # AdaptiveAvgPool2d(1) + flatten: one node
    design = result.design
    # the second block's add takes the block's input straight from the first block's relu
    add = [n for n in compiled_nodes(design) if design.nodes[n].type == "Add"][1]
    assert sorted(e.src for e in design.in_edges(add)) == ["layer1_0_relu_2", "layer1_1_bn2"]
    # a reused weightless module gives a node per call; ids from the attribute paths
    assert {"conv1", "bn1", "fc", "layer1_0_relu", "layer1_0_relu_2",
            "layer2_0_downsample_0"} <= set(design.nodes)


def test_recurrent_patterns_set_return_sequences():
    rnn = import_module(_instance("lstm_classifier.py", "RNN"), [InputSpec((28, 28))])
    lstm = rnn.design.nodes["lstm"].params
    assert (lstm["num_layers"], lstm["hidden_size"], lstm["return_sequences"]) == (2, 64, False)
    text = import_module(_instance("lstm_classifier.py", "TextClassifier"),
                         [InputSpec((12,), "int64")])
    assert text.design.nodes["lstm"].params["bidirectional"] is True
    assert text.design.nodes["text"].params == {"shape": [12], "dtype": "int64"}


PATTERNS = [("GRURegressor", ["5,3"]), ("SequenceTagger", ["7,4"]),
            ("TinyTransformer", ["6:int64"]), ("Decoder", ["8"]), ("TwoTowers", ["1,8,8", "1,8,8"]),
            ("GlobalPoolNet", ["2,5,5"]), ("EncoderStack", ["5,16"]), ("OptionalMask", ["4"]),
            ("ThreeWaySum", ["4"]), ("DenseFeatures", ["2,6,6"])]


@pytest.mark.parametrize("class_name,shapes", PATTERNS, ids=[p[0] for p in PATTERNS])
def test_patterns_import_and_compute_the_same(class_name, shapes):
    module = _instance("patterns.py", class_name)
    inputs = [parse_input(s) for s in shapes]
    result = import_module(module, inputs)
    _assert_same_as(result, module, inputs, vocabulary=20)


def test_pattern_details():
    tagger = import_module(_instance("patterns.py", "SequenceTagger"), [InputSpec((7, 4))])
    nodes = tagger.design.nodes
    assert nodes["rnn"].params["return_sequences"] is True
    assert nodes["rnn"].params["nonlinearity"] == "relu"
    assert [n.params["dims"] for n in nodes.values() if n.type == "Permute"] == [[2, 1], [2, 1]]
    towers = import_module(_instance("patterns.py", "TwoTowers"),
                           [InputSpec((1, 8, 8)), InputSpec((1, 8, 8))])
    # functions take the name of the variable they are assigned to
    assert towers.design.nodes["joined"].type == "Concat"
    assert towers.design.nodes["hidden"].type == "SiLU"
    assert [n.id for n in towers.design.nodes.values() if n.type == "Input"] == ["left", "right"]
    dense = import_module(_instance("patterns.py", "DenseFeatures"), [InputSpec((2, 6, 6))])
    concats = [n for n in dense.design.nodes.values() if n.type == "Concat"]
    assert [len(dense.design.in_edges(n.id)) for n in concats] == [2, 3, 4]  # cat([x]) is x
    transformer = import_module(_instance("patterns.py", "TinyTransformer"),
                                [InputSpec((6,), "int64")])
    attention = transformer.design.in_edges("attn")
    assert [(e.src, e.dst_port) for e in attention] == [("encoder", "query")]  # self-attention
    assert transformer.design.nodes["encoder"].params["activation"] == "gelu"
    total = import_module(_instance("patterns.py", "ThreeWaySum"), [InputSpec((4,))]).design
    adds = [n.id for n in total.nodes.values() if n.type == "Add"]
    assert len(adds) == 1 and [e.src for e in total.in_edges(adds[0])] == ["a", "b", "c"]
    stack = import_module(_instance("patterns.py", "EncoderStack"), [InputSpec((5, 16))])
    assert [(n.id, n.type) for n in stack.design.nodes.values()][1:4] == [
        ("encoder_layers_0", "TransformerEncoderLayer"),
        ("encoder_layers_1", "TransformerEncoderLayer"), ("encoder_norm", "LayerNorm")]
    assert stack.design.nodes["encoder_layers_1"].params["norm_first"] is True


# --- refusals -----------------------------------------------------------------------------------

def _line(code: str) -> int:
    lines = (MODELS / "refused.py").read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.strip() == code)


def _refusal(class_name: str, *shape: int) -> TorchImportError:
    with pytest.raises(TorchImportError) as caught:
        import_module(_instance("refused.py", class_name), [InputSpec(shape)])
    return caught.value


def test_unsupported_calls_are_all_listed_with_their_lines():
    err = _refusal("UnsupportedOps", 8)
    assert len(err.problems) == 4
    for code, what in [("x = self.norm(x)", "nn.GroupNorm self.norm"),
                       ("x = F.hardswish(x)", "F.hardswish"), ("x = x * 2", "the number 2"),
                       ("return torch.clamp(x, 0, 1)", "torch.clamp")]:
        line = f"refused.py line {_line(code)} (`{code}`)"
        assert any(p.startswith(line) and what in p for p in err.problems), (code, err.problems)


def test_data_dependent_control_flow_lists_every_branch():
    err = _refusal("DataDependent", 8)
    assert [p.split(":")[0] for p in err.problems] == [
        f"refused.py line {_line(code)} (`{code[:-1]}" for code in (
            "if x.sum() > 0:", "if x.mean() < 1:", "while x.norm() > 1:")]
    assert all("data-dependent control flow" in p for p in err.problems)  # a loop ends too


@pytest.mark.parametrize("class_name,shape,words", [
    ("SharedWeights", (8,), "share one layer's weights"),
    ("BothLSTMOutputs", (3, 4), "both every step and the final state"),
    ("MixesBatch", (8,), "mixing samples"),
])
def test_what_a_design_cannot_hold_is_refused(class_name, shape, words):
    err = _refusal(class_name, *shape)
    assert len(err.problems) == 1 and words in err.problems[0]
    assert re.match(r"refused\.py line \d+ \(`", err.problems[0])


@pytest.mark.parametrize("class_name,shape,words", [
    ("ChannelDropout", (1, 8, 8), "nn.Dropout2d self.drop: no LayerLab layer does what this "
     "module does; LayerLab's Dropout drops single values, not whole channels: nn.Dropout "
     "imports as one"),
    ("SqueezeExcite", (4, 5, 5), "x.expand_as(): no LayerLab layer does this; broadcasting "
     "does it: write x * s"),
    ("StepsThroughTime", (5, 4), "a tensor made in forward from a size of the input"),
    ("TutorialPositions", (6,), "a slice whose length is read from the input"),
])
def test_common_tutorial_calls_are_refused_saying_what_to_write_instead(class_name, shape,
                                                                         words):
    dtype = "int64" if class_name == "TutorialPositions" else "float32"
    with pytest.raises(TorchImportError) as caught:
        import_module(_instance("refused.py", class_name), [InputSpec(shape, dtype)])
    assert any(words in p for p in caught.value.problems), caught.value.problems
    assert all("torch.fx.wrap" not in p and "Proxy" not in p for p in caught.value.problems)


def test_a_design_that_fails_layerlab_s_shape_check_is_refused_naming_the_node(monkeypatch):
    from runtime.errors import Problem
    from runtime.importer import verify
    from runtime.shapes import infer

    def failing(design):
        analysis = infer(design)
        analysis.problems.append(Problem("made up for the test", node="fc"))
        return analysis
    monkeypatch.setattr(verify, "infer", failing)
    with pytest.raises(TorchImportError, match="does not pass LayerLab's shape check") as caught:
        import_module(nn.Sequential(OrderedDict(fc=nn.Linear(8, 2))), [InputSpec((8,))])
    (problem,) = caught.value.problems
    assert problem.endswith("Linear 'fc': made up for the test"), problem


def test_a_node_that_computes_something_else_is_an_error_naming_it():
    # a class named like LayerLab's Add helper is taken for one; the check finds it subtracts
    err = _refusal("LooksLikeAdd", 8)
    line = _line("return self.merge(self.fc(x), x)")
    assert str(err).startswith(f"refused.py line {line} (`return self.merge(self.fc(x), x)`): "
                               "Add 'merge' computes something else in LayerLab than in PyTorch")


def test_a_forward_with_more_inputs_than_shapes_is_refused():
    with pytest.raises(TorchImportError, match="takes 2 input"):
        import_module(_instance("patterns.py", "TwoTowers"), [InputSpec((1, 8, 8))])


def test_a_model_that_fails_on_the_given_shape_says_why_in_its_own_words():
    """torch.fx appends the graph node, "Original traceback" and a pointer to its log tools; the
    user reads torch's message only."""
    with pytest.raises(TorchImportError) as caught:
        import_module(nn.Sequential(nn.Flatten(), nn.Linear(8, 2)), [InputSpec((1, 28, 28))])
    message = str(caught.value)
    assert "fails on inputs of shape (2, 1, 28, 28)" in message and "cannot be multiplied" in message
    assert "Original traceback" not in message and "tlparse" not in message


# --- round trip of every preset -------------------------------------------------------------------

def _preset_networks() -> list:
    cases = []
    for path in PRESETS:
        design = load(path)
        names = list(design.networks())
        for name in names:
            cases.append(pytest.param(path, name if len(names) > 1 else None,
                                      id=f"{path.stem}{':' + name if len(names) > 1 else ''}"))
    return cases


@pytest.mark.parametrize("path,network", _preset_networks())
def test_every_preset_round_trips_through_python(path, network, tmp_path):
    whole = load(path)
    # a design of several networks exports a class per network; --network picks one
    design = whole if network is None else subgraph(whole, network)
    file = tmp_path / "exported.py"
    file.write_text(export_python(whole, class_name="Exported", network=network))
    torch.manual_seed(0)
    module = load_class(file, "Exported")()
    _shift_statistics(module, 0)
    module.eval()
    order = compiled_nodes(design)
    inputs = [InputSpec(tuple(n.params["shape"]), n.params["dtype"])
              for n in design.nodes.values() if n.type == "Input" and n.id in order]
    result = import_module(module, inputs)
    imported = result.design
    before, after = infer(design), infer(imported)

    def layers(model, analysis):
        return [(model.nodes[n].type, analysis.nodes[n].output_shape(), analysis.nodes[n].params)
                for n in compiled_nodes(model) if model.nodes[n].type not in ("Input", "Output")]

    assert layers(imported, after) == layers(design, before)
    assert [n.params for n in imported.nodes.values() if n.type == "Input"] == [
        {"shape": list(i.shape), "dtype": i.dtype} for i in inputs]
    assert sum(n.type == "Output" for n in imported.nodes.values()) == sum(
        design.nodes[n].type == "Output" for n in order)
    vocabulary = min((n.params["num_embeddings"] for n in design.nodes.values()
                      if n.type == "Embedding"), default=2)
    _assert_same_as(result, module, inputs, vocabulary)
    # the layers' settings come back too, not only their shapes; not weight_init (the weights
    # themselves come along) nor lr_multiplier (a training setting the module does not hold)
    for node_id in order:
        node = design.nodes[node_id]
        if node.type in ("Input", "Output") or node_id not in imported.nodes:
            continue
        kept = {k: v for k, v in node.params.items() if k not in ("weight_init", "lr_multiplier")}
        assert {k: imported.nodes[node_id].params[k] for k in kept} == kept, node_id


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")  # an example that warns
@pytest.mark.parametrize("example", MODULE_EXAMPLES, ids=[e.id for e in MODULE_EXAMPLES])
def test_every_layer_example_round_trips_through_python(example, tmp_path):
    design = example_design(example)
    file = tmp_path / "exported.py"
    file.write_text(export_python(design, class_name="Exported"))
    torch.manual_seed(0)
    module = load_class(file, "Exported")().eval()
    _shift_statistics(module, 0)
    inputs = [InputSpec(tuple(n.params["shape"]), n.params["dtype"])
              for n in design.nodes.values() if n.type == "Input"]
    result = import_module(module, inputs)
    before, after = _types_of(design), _types(result)
    if before == ["Reshape"] and example.params.get("shape") == [-1]:
        before = ["Flatten"]  # the same thing; written as x.flatten(1) it comes back as one
    assert after == before
    assert infer(result.design).total_params == infer(design).total_params
    vocabulary = min((n.params["num_embeddings"] for n in design.nodes.values()
                      if n.type == "Embedding"), default=2)
    _assert_same_as(result, module, inputs, vocabulary)


def _types_of(design) -> list[str]:
    return [design.nodes[n].type for n in compiled_nodes(design)
            if design.nodes[n].type not in ("Input", "Output")]


# --- weights, checkpoints, files and the command ---------------------------------------------

def test_weights_come_from_a_state_dict_or_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    trained = _instance("lenet5.py", "LeNet5", seed=7)
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    torch.save({"state_dict": trained.state_dict()}, tmp_path / "wrapped.pth")
    save_file(trained.state_dict(), tmp_path / "w.safetensors")
    inputs = [InputSpec((1, 28, 28))]
    for name in ("w.pt", "wrapped.pth", "w.safetensors"):
        result = import_file(MODELS / "lenet5.py", "LeNet5", inputs, weights=tmp_path / name)
        _assert_same_as(result, trained, inputs)
    other = _instance("lenet5.py", "LeNet5", num_classes=5).state_dict()
    torch.save(other, tmp_path / "other.pt")
    with pytest.raises(TorchImportError, match="fc3"):
        import_file(MODELS / "lenet5.py", "LeNet5", inputs, weights=tmp_path / "other.pt")


def test_the_checkpoint_loads_into_the_saved_design(tmp_path):
    module = _instance("vgg_small.py", "VGG", seed=3)
    inputs = [InputSpec((3, 32, 32))]
    result = import_module(module, inputs)
    result.write(tmp_path / "vgg.json", tmp_path / "vgg.pt")
    design = load(tmp_path / "vgg.json")
    compiled = compile_model(design)
    load_strict(compiled, load_checkpoint(tmp_path / "vgg.pt")["model"])
    compiled.eval()
    x = _batch(inputs)[0]
    with torch.no_grad():
        assert torch.allclose(compiled(x), module(x), atol=1e-5, rtol=1e-5)
    # what `train --init-from vgg.pt` does: every node with weights takes its own
    fresh = compile_model(design)
    report = transfer_weights(fresh, design, tmp_path / "vgg.pt")
    assert not report.skipped and len(report.loaded) == report.weighted == 12
    fresh.eval()
    with torch.no_grad():
        assert torch.allclose(fresh(x), module(x), atol=1e-5, rtol=1e-5)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_import_parser(parser.add_subparsers(dest="command"))
    return run_import(parser.parse_args(["import", *argv]))


def test_the_command_writes_the_design_and_weights(tmp_path, capsys):
    out = tmp_path / "mlp.json"
    code = _run([f"{MODELS / 'mlp_mnist.py'}:NeuralNetwork", "--input-shape", "1,28,28",
                 "--args", "hidden=32", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "imported NeuralNetwork" in capsys.readouterr().out
    design = load(out)
    assert design.nodes["linear_relu_stack_0"].params["out_features"] == 32
    load_strict(compile_model(design), load_checkpoint(tmp_path / "mlp.pt")["model"])
    assert design.training["init_from"] == "mlp.pt"  # training starts from the imported weights
    bare = tmp_path / "bare.json"
    assert _run([f"{MODELS / 'lenet5.py'}:LeNet5", "--input-shape", "1,28,28", "--no-weights",
                 "-o", str(bare)]) == 0
    assert "init_from" not in load(bare).training and not (tmp_path / "bare.pt").exists()
    elsewhere = tmp_path / "weights" / "lenet.pt"
    elsewhere.parent.mkdir()
    assert _run([f"{MODELS / 'lenet5.py'}:LeNet5", "--input-shape", "1,28,28",
                 "--weights-out", str(elsewhere), "-o", str(bare)]) == 0
    assert load(bare).training["init_from"] == "weights/lenet.pt" and elsewhere.is_file()


def test_the_command_reports_refusals_and_misuse(tmp_path, capsys):
    out = tmp_path / "x.json"
    assert _run([f"{MODELS / 'refused.py'}:UnsupportedOps", "--input-shape", "8",
                 "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("refused.py line") == 4 and not out.exists()
    assert _run([f"{MODELS / 'lenet5.py'}:LeNet5", "--input-shape", "1,two",
                 "-o", str(out)]) == 2
    assert "1,28,28" in capsys.readouterr().err
    assert _run([f"{MODELS / 'lenet5.py'}", "--input-shape", "1,28,28", "-o", str(out)]) == 2
    assert _run([f"{MODELS / 'lenet5.py'}:LeNet", "--input-shape", "1,28,28",
                 "-o", str(out)]) == 1
    assert "did you mean 'LeNet5'" in capsys.readouterr().err


def test_a_file_may_build_the_model_itself_or_in_a_function(tmp_path):
    file = tmp_path / "built.py"
    file.write_text("from torch import nn\n"
                    "model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))\n"
                    "def make(width=4):\n"
                    "    return nn.Sequential(nn.Linear(3, width), nn.ReLU())\n")
    built = import_file(file, "model", [InputSpec((3,))])
    assert [(n.id, n.type) for n in built.design.nodes.values()] == [
        ("input", "Input"), ("linear_0", "Linear"), ("tanh_1", "Tanh"), ("linear_2", "Linear"),
        ("output", "Output")]
    made = import_file(file, "make", [InputSpec((3,))], kwargs={"width": 6})
    assert infer(made.design).total_params == 3 * 6 + 6
    with pytest.raises(TorchImportError, match="takes no constructor arguments"):
        import_file(file, "model", [InputSpec((3,))], kwargs={"width": 6})


def test_arguments_and_shapes_parse():
    assert parse_input("1,28,28") == InputSpec((1, 28, 28))
    assert parse_input("12:int64") == InputSpec((12,), "int64")
    for bad in ("", "0,3", "3:float16"):
        with pytest.raises(ValueError):
            parse_input(bad)
    assert parse_args(['{"a": 1}', "b=2,c=text", "[3]"]) == ([3], {"a": 1, "b": 2, "c": "text"})
    assert parse_args("layers=[2, 2],width=8") == ([], {"layers": [2, 2], "width": 8})
    with pytest.raises(ValueError):
        parse_args(["novalue"])


def test_model_classes_are_listed_without_running_the_file(tmp_path):
    assert model_classes(MODELS / "lstm_classifier.py") == ["RNN", "TextClassifier"]
    file = tmp_path / "net.py"
    file.write_text("raise SystemExit('ran')\nfrom torch import nn\n"
                    "class Block(nn.Module):\n    pass\nclass Net(Block):\n    pass\n"
                    "class Helper:\n    pass\n"
                    "class Lit(pl.LightningModule):\n    pass\n")
    assert model_classes(file) == ["Block", "Net", "Lit"]


def test_the_command_line_starts_without_torch():
    code = ("import sys, runtime.importer.command; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True).stdout
    assert out.strip() == "False"


def test_the_mapping_table_in_the_docs_is_generated_from_the_importer_table():
    from runtime.docgen import IMPORT_PATH, OUTPUTS

    text = IMPORT_PATH.read_text(encoding="utf-8")
    assert OUTPUTS[IMPORT_PATH]() == text, "run python -m runtime.docgen"
    assert import_docs.render() in text and "| `nn.Conv2d` | Conv2d |" in text
