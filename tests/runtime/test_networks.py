"""Several networks in one design: the model, the file, validation, compiling and counting."""
import json

import pytest
import torch

from runtime import document
from runtime.cli import run, summary_json
from runtime.compile import compile_joined, compile_model, compile_networks
from runtime.document import dumps, loads, save
from runtime.errors import CompileError, DesignFileError, GraphError, TrainingError
from runtime.fragment import copy_fragment, plan_paste
from runtime.graph import GraphModel, NetworkChanged
from runtime.networks import network_totals, subgraph
from runtime.shapes import infer
from runtime.training.data_fit import io_nodes
from tests.runtime.designs import gan, lenet, mlp


def test_networks_name_their_nodes_in_file_order():
    m = gan()
    assert m.networks() == {
        "generator": ["g_in", "g_fc1", "g_relu", "g_fc2", "g_out"],
        "discriminator": ["d_in", "d_fc1", "d_relu", "d_fc2", "d_out"]}
    assert mlp().networks() == {"": ["x", "fc1", "relu1", "fc2", "out"]}
    assert GraphModel().networks() == {"": []}


def test_set_network_emits_an_event_and_refuses_bad_names():
    m = mlp()
    events = []
    m.subscribe(events.append)
    before = m.shape_revision
    assert m.set_network("fc1", "encoder") == ""
    assert events == [NetworkChanged("fc1", "", "encoder")]
    assert m.shape_revision > before  # validation depends on it
    assert m.set_network("fc1", "encoder") == "encoder" and len(events) == 1  # no change, no event
    with pytest.raises(GraphError, match="node 'fc2': network name 'two words' must be an "
                                         "identifier"):
        m.set_network("fc2", "two words")
    with pytest.raises(GraphError, match="Python keyword"):
        m.add_node("ReLU", network="class")
    assert m.nodes["fc2"].network == ""


def test_undoing_a_removal_puts_the_node_back_in_its_network():
    m = gan()
    before = m.snapshot()
    removed = m.remove_node("d_fc1")
    m.restore_node(removed)
    assert m.snapshot() == before
    m.set_network("d_fc1", "")
    assert m.snapshot() != before  # the network is part of what the design is


def test_file_round_trip_keeps_networks_and_writes_the_key_only_when_named(tmp_path):
    m = gan()
    m.set_network("g_relu", "")  # wrong on purpose: the file holds what the model holds
    save(m, tmp_path / "gan.json")
    text = (tmp_path / "gan.json").read_text()
    data = json.loads(text)
    assert data["version"] == document.CURRENT_VERSION == 3
    assert [n.get("network") for n in data["nodes"]][:3] == ["generator", "generator", None]
    assert loads(text) == m
    assert dumps(loads(text)) == text


def test_a_design_without_networks_is_written_at_version_2_byte_for_byte():
    m = lenet()
    text = dumps(m)
    assert json.loads(text)["version"] == 2 and '"network"' not in text
    assert dumps(loads(text)) == text


def test_version_2_file_migrates_to_3_unchanged():
    v2 = json.loads(dumps(mlp()))
    assert v2["version"] == 2
    migrated = document.migrate(json.loads(json.dumps(v2)))
    assert migrated == {**v2, "version": 3}
    assert loads(json.dumps(v2)) == mlp()


@pytest.mark.parametrize("value, message", [
    (7, "network name 7 must be an identifier"),
    ("two words", "network name 'two words' must be an identifier"),
    ("_private", "starts with '_'"),
    ("", "'network' must not be empty: leave the key out for the main network"),
])
def test_a_bad_network_value_names_the_node_and_line(value, message):
    data = json.loads(dumps(gan()))
    data["nodes"][3]["network"] = value
    text = json.dumps(data, indent=2)
    with pytest.raises(DesignFileError) as info:
        loads(text)
    (problem,) = info.value.problems
    assert message in problem.message
    assert problem.node == "g_fc2" and problem.location == "nodes[3].network"
    assert text.splitlines()[problem.line - 1].strip().startswith('"network"')


def test_copy_and_paste_keep_networks():
    m = gan()
    fragment = copy_fragment(m, ["g_fc1", "g_relu"])
    assert fragment["version"] == 3
    assert [n["network"] for n in fragment["nodes"]] == ["generator", "generator"]
    plan = plan_paste(m, fragment)
    assert [n.network for n in plan.nodes] == ["generator", "generator"]
    assert copy_fragment(mlp(), ["fc1"])["version"] == 2
    assert "network" not in copy_fragment(mlp(), ["fc1"])["nodes"][0]


def test_an_edge_between_networks_is_an_error_on_its_destination():
    m = gan()
    m.disconnect(next(e for e in m.edges if e.dst == "d_fc1"))
    m.connect("g_fc2", "d_fc1")
    analysis = infer(m)
    crossing = [p for p in analysis.errors if "crosses" in p.message]
    assert len(crossing) == 1 and crossing[0].node == "d_fc1"
    assert "'g_fc2' (network 'generator')" in crossing[0].message
    assert "joined by the training mode, not by edges" in crossing[0].message
    with pytest.raises(CompileError, match="crosses into network 'discriminator'"):
        compile_networks(m)


def test_each_network_needs_its_own_input_and_output():
    m = gan()
    m.remove_node("d_out")
    m.set_network("g_in", "discriminator")  # the generator loses its Input
    messages = [p.message for p in infer(m).errors if p.node is None]
    assert any("network 'discriminator' has no Output node" in msg for msg in messages)
    assert any("network 'generator' has no Input node" in msg for msg in messages)
    assert not any("the design has no" in msg for msg in messages)


def test_a_single_network_design_is_checked_as_before():
    m = mlp()
    for node_id in m.nodes:
        m.set_network(node_id, "only")  # one named network is still one network
    assert infer(m).valid and not infer(m).warnings
    m.remove_node("x")
    assert [p.message for p in infer(m).errors if p.node is None] == [
        "the design has no Input node: add one (Input/Output group) and set the shape of one "
        "sample"]


def test_compile_networks_matches_compiling_each_subgraph_alone():
    m = gan()
    modules = compile_networks(m)
    assert list(modules) == ["generator", "discriminator"]
    assert type(modules["generator"]).__name__ == "Generator"
    for name, ids in m.networks().items():
        alone = GraphModel(name=name)
        for node_id in ids:
            node = m.nodes[node_id]
            alone.add_node(node.type, node.params, node.pos, node_id)
        for edge in m.edges:
            if edge.src in ids:
                alone.connect(edge.src, edge.dst, edge.src_port, edge.dst_port)
        assert subgraph(m, name) == alone
        reference = compile_model(alone)
        reference.load_state_dict(modules[name].state_dict())
        assert set(modules[name].state_dict()) == {f"{p}_fc{i}.{w}" for p in ids[0][:1]
                                                   for i in (1, 2) for w in ("weight", "bias")}
        x = torch.randn(5, *m.nodes[ids[0]].params["shape"])
        torch.testing.assert_close(modules[name](x), reference(x))
    assert modules["generator"](torch.randn(3, 8)).shape == (3, 2)
    assert modules["discriminator"](torch.randn(3, 2)).shape == (3, 1)


def test_compile_networks_of_a_single_network_design_is_compile_model():
    modules = compile_networks(mlp())
    assert list(modules) == [""]
    assert modules[""].code == compile_model(mlp()).code


def test_joined_networks_hold_every_layer_once_by_node_id():
    joined = compile_joined(gan())
    assert set(joined.networks) == {"generator", "discriminator"}
    assert sorted(name for name, _ in joined.named_children()) == sorted(
        ["g_fc1", "g_relu", "g_fc2", "d_fc1", "d_relu", "d_fc2"])
    # one set of weights: the networks' modules call the joined module's layers
    assert joined.networks["generator"].g_fc1 is joined.g_fc1
    assert len(list(joined.parameters())) == 8
    assert "d_fc2.weight" in joined.state_dict()
    point = joined.networks["generator"](torch.randn(4, 8))
    assert joined.networks["discriminator"](point).shape == (4, 1)
    with pytest.raises(TypeError, match="several networks"):
        joined(torch.randn(4, 8))


def test_compile_model_refuses_several_networks_naming_them():
    m = gan()
    m.set_network("d_in", "")
    with pytest.raises(CompileError, match=r"3 networks \('generator', 'main', 'discriminator'\)"):
        compile_model(m)
    with pytest.raises(GraphError, match="no network 'critic'"):
        subgraph(m, "critic")


def test_supervised_training_names_the_networks_it_cannot_train():
    with pytest.raises(TrainingError, match="supervised training needs one network; this design "
                                            "has 2 \\('generator', 'discriminator'\\)"):
        io_nodes(gan())


def test_parameters_are_counted_per_network():
    m = gan()
    analysis = infer(m)
    totals = {t.name: t for t in network_totals(m, analysis)}
    assert totals["generator"].params == (8 * 16 + 16) + (16 * 2 + 2)
    assert totals["discriminator"].params == (2 * 16 + 16) + (16 * 1 + 1)
    assert totals["generator"].nodes == 5
    assert sum(t.params for t in totals.values()) == analysis.total_params
    doc = summary_json(m, analysis, analysis.problems)
    assert [n["name"] for n in doc["networks"]] == ["generator", "discriminator"]


def test_summary_prints_a_line_per_network(tmp_path, capsys):
    save(gan(), tmp_path / "gan.json")
    assert run(["summary", str(tmp_path / "gan.json")]) == 0
    out = capsys.readouterr().out
    assert "network generator      5 nodes, 178 parameters (178 trainable)" in out
    assert "network discriminator  5 nodes, 65 parameters (65 trainable)" in out
    save(mlp(), tmp_path / "mlp.json")
    run(["summary", str(tmp_path / "mlp.json")])
    assert "network " not in capsys.readouterr().out


def test_export_writes_a_class_per_network_and_refuses_one_class_name_for_them(tmp_path,
                                                                               capsys):
    save(gan(), tmp_path / "gan.json")
    assert run(["export", str(tmp_path / "gan.json"), "--class-name", "Gan",
                "-o", str(tmp_path / "gan.py")]) == 1
    err = capsys.readouterr().err
    assert "export failed" in err and "holds 2 networks, each exported as a class" in err
    assert not (tmp_path / "gan.py").exists()
    assert run(["export", str(tmp_path / "gan.json"), "-o", str(tmp_path / "gan.py")]) == 0
    assert [line for line in (tmp_path / "gan.py").read_text().splitlines()
            if line.startswith("class ")] == ["class Generator(nn.Module):",
                                              "class Discriminator(nn.Module):"]


def test_a_doctors_fix_adds_its_nodes_to_the_network_it_edits():
    from runtime.doctor.apply import ModelEditor, apply_edits
    from runtime.doctor.findings import Edit

    design = gan()
    renamed = apply_edits(ModelEditor(design), (
        Edit("replace_node", "g_relu", type="LeakyReLU", params={}),
        Edit("insert_after", "d_fc1", type="Dropout", params={"p": 0.2})))
    assert design.nodes[renamed["g_relu"]].network == "generator"
    dropout = next(n for n in design.nodes.values() if n.type == "Dropout")
    assert dropout.network == "discriminator"
    assert infer(design).valid  # no edge crosses networks
