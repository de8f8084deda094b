"""ONNX and torch.export (.pt2) exports (#17): presets export, the ONNX model runs in onnxruntime
at two batch sizes and equals the PyTorch model within 1e-4, the .pt2 reloads with
torch.export.load and equals it too; a run's weights go along; a layer the exporter cannot
express is refused with its node named, and nothing is written.

Which presets: the dynamo exporter takes 1-3 s a design, and 20-60 s for a 100-step GRU or RNN
(it traces every step with a symbolic batch), so by default the presets checked are the fewest
that between them use every layer type the presets use (chosen from the presets themselves, so a
preset with a new layer type joins), with sequences of 100 steps shortened to 10 (the same
layers and program, fewer unrolled steps). LAYERLAB_EXPORT_ALL_PRESETS=1 checks every preset
as it is, and every network of the presets of several networks (about 4 minutes).
"""
from __future__ import annotations

import os
from pathlib import Path

import onnx
import onnxruntime
import pytest
import torch
from torch import nn

from runtime import document
from runtime.cli import build_parser, run
from runtime.compile import compile_model
from runtime.errors import ExportError
from runtime.export_deploy import (BATCH_DIM, DESIGN_KEY, FORMATS, export_format,
                                   export_program, formats_markdown, write_onnx, write_pt2)
from runtime.graph import GraphModel
from runtime.networks import network_title
from runtime.registry import REGISTRY, LayerRegistry
from runtime.shapes import infer
from runtime.specs import Inference, LayerSpec, ModuleRecipe
from runtime.training.trainer import Trainer
from tests.runtime.designs import chain
from tests.runtime.test_trainer import spiral_mlp

ROOT = Path(__file__).resolve().parents[2]
PRESETS = {p.stem: document.load(p) for p in sorted(ROOT.glob("presets/*.json"))}
MULTI = [name for name, design in PRESETS.items() if len(design.networks()) > 1]
SINGLE = [name for name in PRESETS if name not in MULTI]
EVERYTHING = os.environ.get("LAYERLAB_EXPORT_ALL_PRESETS") == "1"
BATCHES = (3, 5)  # neither is the batch the program was traced with
SHORT_SEQUENCE = 10


def layer_types(design: GraphModel) -> set[str]:
    """The design's layer types, a bidirectional recurrence counted as a type of its own (ONNX
    has a separate form for it)."""
    return {n.type + (" bidirectional" if n.params.get("bidirectional") else "")
            for n in design.nodes.values()} - {"Input", "Output"}


def covering(names: list[str]) -> list[str]:
    """Few presets that between them use every layer type `names` use: greedily the one that
    adds the most types not yet used, the smaller design on a tie."""
    wanted = set().union(*(layer_types(PRESETS[n]) for n in names))
    chosen: list[str] = []
    used: set[str] = set()
    while used != wanted:
        best = max(names, key=lambda n: (len(layer_types(PRESETS[n]) - used),
                                         -len(PRESETS[n].nodes)))
        chosen.append(best)
        used |= layer_types(PRESETS[best])
    return sorted(chosen)


def shortened(design: GraphModel) -> GraphModel:
    """The design with its sequences of more than SHORT_SEQUENCE steps cut to that many (when
    it still checks: the layers are the same, the exporter unrolls fewer steps)."""
    short = document.loads(document.dumps(design))
    for node in short.nodes.values():
        shape = node.params.get("shape") if node.type == "Input" else None
        if shape and len(shape) == 2 and shape[0] > SHORT_SEQUENCE:
            short.set_param(node.id, "shape", [SHORT_SEQUENCE, shape[1]])
    return short if infer(short).valid else design


CASES = SINGLE if EVERYTHING else covering(SINGLE)


def sample(design: GraphModel, module: nn.Module, batch: int, seed: int = 0) -> list:
    """A batch for each Input of `module`: token ids below the smallest vocabulary."""
    from runtime.names import INPUTS_ATTRIBUTE

    gen = torch.Generator().manual_seed(seed)
    vocab = min((n.params["num_embeddings"] for n in design.nodes.values()
                 if n.type == "Embedding"), default=2)
    return [torch.randint(0, vocab, (batch, *info.shape), generator=gen)
            if info.dtype == "int64" else torch.randn(batch, *info.shape, generator=gen)
            for _, info in getattr(module, INPUTS_ATTRIBUTE)]


def as_tuple(result) -> tuple:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def assert_same_outputs(onnx_path: Path, pt2_path: Path, design: GraphModel,
                        module: nn.Module, outputs: list[str]) -> None:
    """The ONNX model (onnxruntime) and the .pt2 program (torch.export.load) each give
    `module`'s outputs within 1e-4, at two batch sizes."""
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    loaded = torch.export.load(str(pt2_path)).module()
    names = [i.name for i in session.get_inputs()]
    assert [o.name for o in session.get_outputs()] == outputs  # named after the Output nodes
    for batch in BATCHES:
        xs = sample(design, module, batch, seed=batch)
        with torch.no_grad():
            want = as_tuple(module(*xs))
            got_pt2 = as_tuple(loaded(*xs))
        got_onnx = session.run(None, {name: x.numpy() for name, x in zip(names, xs)})
        for expected, from_onnx, from_pt2 in zip(want, got_onnx, got_pt2, strict=True):
            assert from_onnx.shape[0] == batch
            torch.testing.assert_close(torch.from_numpy(from_onnx), expected, atol=1e-4,
                                       rtol=1e-4)
            torch.testing.assert_close(from_pt2, expected, atol=1e-4, rtol=1e-4)


def check_both(design: GraphModel, folder: Path, network: str | None = None) -> None:
    """Export `design` (or its `network`) once, write both files, check them."""
    torch.manual_seed(0)
    deployed = export_program(design, network=network)  # traced once, written twice
    onnx_path = deployed.write_onnx(folder / "net.onnx")
    pt2_path = deployed.write_pt2(folder / "net.pt2")
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == deployed.inputs
    assert all(i.type.tensor_type.shape.dim[0].dim_param == BATCH_DIM for i in model.graph.input)
    embedded = {p.key: p.value for p in model.metadata_props}[DESIGN_KEY]
    assert document.loads(embedded).snapshot() == design.snapshot()
    extra = {DESIGN_KEY: ""}
    torch.export.load(str(pt2_path), extra_files=extra)
    assert document.loads(extra[DESIGN_KEY]).snapshot() == design.snapshot()
    assert_same_outputs(onnx_path, pt2_path, design, deployed.module, deployed.outputs)


@pytest.mark.parametrize("name", CASES)
def test_presets_export_to_onnx_and_pt2_and_compute_what_pytorch_does(name, tmp_path):
    design = PRESETS[name] if EVERYTHING else shortened(PRESETS[name])
    check_both(design, tmp_path)
    assert document.load(ROOT / "presets" / f"{name}.json").snapshot() \
        == PRESETS[name].snapshot()  # shortening worked on a copy


def test_the_presets_checked_use_every_layer_type_of_the_presets():
    assert set().union(*(layer_types(PRESETS[n]) for n in CASES)) \
        == set().union(*(layer_types(PRESETS[n]) for n in SINGLE))
    assert {"GRU", "RNN", "LSTM", "TransformerEncoderLayer", "RBM"} <= \
        set().union(*(layer_types(PRESETS[n]) for n in CASES))


@pytest.mark.parametrize("name", MULTI if EVERYTHING else ["gan-2d"])
def test_a_design_of_several_networks_exports_one_network_at_a_time(name, tmp_path):
    design = PRESETS[name]
    titles = [network_title(n) for n in design.networks()]
    with pytest.raises(ExportError, match="holds 2 networks .*export one at a time"):
        write_onnx(design, tmp_path / "all.onnx")
    with pytest.raises(ExportError, match=f"no network 'nope' in the design .*'{titles[0]}'"):
        write_pt2(design, tmp_path / "all.pt2", network="nope")
    assert list(tmp_path.iterdir()) == []
    for title in titles:
        folder = tmp_path / title
        folder.mkdir()
        check_both(design, folder, network=title)


# --- a run's trained weights --------------------------------------------------------------------
def test_the_trained_weights_go_into_both_files(trained, tmp_path):
    design, path, checkpoint = trained
    reference = compile_model(design).eval()
    reference.load_state_dict(torch.load(checkpoint, weights_only=True)["model"])
    onnx_path, pt2_path = tmp_path / "mlp.onnx", tmp_path / "mlp.pt2"
    # from the CLI, as a user would
    assert run(["export", str(path), "--format", "onnx", "--weights", str(checkpoint),
                "-o", str(onnx_path)]) == 0
    deployed = export_program(design, weights=checkpoint)
    deployed.write_pt2(pt2_path)
    assert_same_outputs(onnx_path, pt2_path, design, reference, ["out"])
    fresh = export_program(design).module  # without weights: freshly initialised, not these
    x = torch.randn(4, 2)
    assert not torch.allclose(fresh(x), reference(x))


def test_weights_of_another_design_are_refused_and_nothing_is_written(trained, tmp_path):
    _, _, checkpoint = trained
    out = tmp_path / "wider.onnx"
    out.write_bytes(b"the previous export")
    with pytest.raises(ExportError, match=r"fc1: weight \(16, 2\) in the design vs \(32, 2\)"):
        write_onnx(spiral_mlp(hidden=16), out, weights=checkpoint)
    assert out.read_bytes() == b"the previous export"  # untouched, no temporary file beside
    assert [p.name for p in tmp_path.iterdir()] == ["wider.onnx"]


def test_one_network_of_a_trained_gan_exports_with_its_trained_weights(tmp_path):
    from runtime.compile import compile_joined

    design = document.loads(document.dumps(PRESETS["gan-2d"]))
    data = design.training["dataset"]
    design.training = dict(design.training, epochs=1, dataset=dict(
        data, params=dict(data["params"], n_samples=1000)))
    Trainer(design, design.training, checkpoint_dir=tmp_path).fit()
    joined = compile_joined(design).eval()
    joined.load_state_dict(torch.load(tmp_path / "last.pt", weights_only=True)["model"])
    generator = joined.networks["generator"]
    out = write_onnx(design, tmp_path / "generator.onnx", weights=tmp_path / "last.pt",
                     network="generator")
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (noise,) = sample(design, generator, 4)
    (got,) = session.run(None, {session.get_inputs()[0].name: noise.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), generator(noise), atol=1e-4,
                                   rtol=1e-4)


# --- layers the exporters cannot express --------------------------------------------------------
class KthValue(nn.Module):
    """The median of three along the last dimension: aten.kthvalue has no ONNX operator."""

    def forward(self, x):
        return torch.kthvalue(x, 2, dim=-1, keepdim=True).values


class SignGate(nn.Module):
    """Branches on its input's values: an exported program cannot hold that."""

    def forward(self, x):
        return x if x.sum() > 0 else -x


def _spec(type_id: str, cls: type) -> LayerSpec:
    return LayerSpec(type_id, type_id, "Core", "A test layer.", (),
                     lambda ctx: Inference({"output": ctx.x}),
                     lambda ctx: ModuleRecipe(cls))


def odd_design(type_id: str, cls: type) -> GraphModel:
    registry = LayerRegistry()
    for spec in REGISTRY:
        registry.register(spec)
    registry.register(_spec(type_id, cls))
    m = GraphModel(registry, name="odd")
    m.add_node("Input", {"shape": [6]}, node_id="x")
    m.add_node("Linear", {"out_features": 3}, node_id="fc")
    m.add_node(type_id, node_id="odd_one")
    m.add_node("ReLU", node_id="relu")
    m.add_node("Output", node_id="out")
    chain(m, "x", "fc", "odd_one", "relu", "out")
    return m


def test_a_layer_onnx_cannot_express_is_refused_with_its_node_named(tmp_path):
    design = odd_design("KthValue", KthValue)
    deployed = export_program(design)  # torch.export takes it: the .pt2 is fine
    deployed.write_pt2(tmp_path / "odd.pt2")
    with pytest.raises(ExportError, match=r"node 'odd_one' \(KthValue\): ONNX cannot express "
                                          r"this layer: ONNX has no operator for aten.kthvalue"):
        deployed.write_onnx(tmp_path / "odd.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.pt2"]


def test_when_the_exporter_names_no_operation_each_layer_is_tried_alone(tmp_path,
                                                                          monkeypatch):
    import runtime.export_deploy as export_deploy

    monkeypatch.setattr(export_deploy, "_node_in_message", lambda *args: None)
    with pytest.raises(ExportError, match=r"node 'odd_one' \(KthValue\): ONNX cannot express "
                                          r"this layer: ONNX has no operator for aten.kthvalue"):
        write_onnx(odd_design("KthValue", KthValue), tmp_path / "odd.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_layer_torch_export_cannot_trace_is_refused_with_its_node_named(tmp_path):
    with pytest.raises(ExportError, match=r"node 'odd_one' \(SignGate\): torch.export cannot "
                                          r"express this layer: .*data-dependent control flow"):
        write_pt2(odd_design("SignGate", SignGate), tmp_path / "odd.pt2")
    assert list(tmp_path.iterdir()) == []


# --- one table of formats -----------------------------------------------------------------------
def test_the_cli_and_the_docs_read_the_one_table_of_formats():
    export = next(a for a in build_parser()._subparsers._group_actions[0].choices["export"]
                  ._actions if a.dest == "format")
    assert export.choices == [f.name for f in FORMATS] == ["py", "onnx", "pt2", "safetensors"]
    assert formats_markdown() in (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    assert export_format("onnx").suffix == ".onnx"
    with pytest.raises(ExportError, match="no export format 'tf' .*py, onnx, pt2, safetensors"):
        export_format("tf")
