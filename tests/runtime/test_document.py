"""Design files: every load error names its location, line and node; saves are atomic and lossless."""
import json
import os

import pytest

from runtime import document
from runtime.document import CURRENT_VERSION, dumps, load, loads, save
from runtime.errors import DesignFileError, GraphError
from tests.runtime.designs import attention, lenet, mlp, residual


def _doc(nodes, edges, **extra):
    return {"format": "layerlab.design", "version": 1, "name": "t", "nodes": nodes,
            "edges": edges, **extra}


def _problems(data_or_text):
    text = data_or_text if isinstance(data_or_text, str) else json.dumps(data_or_text, indent=2)
    with pytest.raises(DesignFileError) as info:
        loads(text)
    return info.value.problems


BASE_NODES = [{"id": "x", "type": "Input", "params": {"shape": [4]}},
              {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
              {"id": "out", "type": "Output"}]
BASE_EDGES = [{"from": "x", "to": "fc"}, {"from": "fc", "to": "out"}]


def test_minimal_file_loads_with_defaults():
    model = loads(json.dumps(_doc(BASE_NODES, BASE_EDGES)))
    assert model.nodes["fc"].params["bias"] is True
    assert model.nodes["x"].pos == (0.0, 0.0)
    assert model.training == {}
    assert model.summary == ""
    assert "summary" not in json.loads(dumps(model))  # an unset summary keeps the file as it was


@pytest.mark.parametrize("design", [lenet, mlp, residual, attention])
def test_save_load_round_trip(tmp_path, design):
    model = design()
    model.training = {"epochs": 3, "optimizer": {"name": "adam"}}
    model.description = "a design\nwith two lines"
    model.summary = "One line on what it shows."
    path = tmp_path / "d.json"
    save(model, path)
    assert load(path) == model
    assert dumps(load(path)) == path.read_text()


def test_not_json_gives_line_and_column():
    (p,) = _problems('{"format": "layerlab.design",\n  "version": 1,\n  "nodes": [,]}')
    assert "not valid JSON" in p.message and p.line == 3 and "column" in p.message


@pytest.mark.parametrize("change, words", [
    ({"format": "keras"}, "this is not a LayerLab design file"),
    ({"version": 99}, "newer LayerLab"),
    ({"version": "1"}, "positive integer"),
])
def test_wrong_format_or_version(change, words):
    data = {**_doc(BASE_NODES, BASE_EDGES), **change}
    (p,) = _problems(data)
    assert words in p.message


def test_not_an_object():
    (p,) = _problems("[1, 2]")
    assert "must be a JSON object" in p.message


def test_unknown_type_names_node_location_line_and_closest_name():
    nodes = [*BASE_NODES[:1], {"id": "fc", "type": "Dense"}, BASE_NODES[2]]
    text = json.dumps(_doc(nodes, BASE_EDGES), indent=2)
    problems = _problems(text)
    p = problems[0]
    assert p.node == "fc" and p.location == "nodes[1].type"
    assert "unknown layer type 'Dense': did you mean 'Linear'?" in p.message
    assert text.splitlines()[p.line - 1].strip().startswith('"type": "Dense"')


@pytest.mark.parametrize("params, location, words", [
    ({"out_feature": 3}, "nodes[1].params.out_feature", "did you mean 'out_features'"),
    ({"out_features": "ten"}, "nodes[1].params.out_features", "must be an integer, got 'ten'"),
    ({"out_features": 0}, "nodes[1].params.out_features", "must be at least 1, got 0"),
    ({"out_features": 2.5}, "nodes[1].params.out_features", "must be an integer"),
    ({"bias": "yes"}, "nodes[1].params.bias", "must be true or false"),
    ({"weight_init": "he"}, "nodes[1].params.weight_init", "must be one of 'default'"),
])
def test_bad_params(params, location, words):
    nodes = [BASE_NODES[0], {"id": "fc", "type": "Linear", "params": params}, BASE_NODES[2]]
    problems = _problems(_doc(nodes, BASE_EDGES))
    assert [(p.location, p.node) for p in problems] == [(location, "fc")]
    assert words in problems[0].message and problems[0].line is not None


def test_every_problem_is_reported_at_once():
    nodes = [BASE_NODES[0],
             {"id": "fc", "type": "Linear", "params": {"out_features": -1, "bias": 3}},
             {"id": "drop", "type": "Dropout", "params": {"p": 1.0}},
             {"id": "fc", "type": "ReLU"}, {"id": "out", "type": "Output"}]
    problems = _problems(_doc(nodes, BASE_EDGES))
    assert {p.location for p in problems} == {
        "nodes[1].params.out_features", "nodes[1].params.bias", "nodes[2].params.p", "nodes[3].id"}
    assert any("duplicate node id 'fc' (first used by nodes[1])" in p.message for p in problems)
    assert any("'p' must be below 1, got 1" in p.message for p in problems)


@pytest.mark.parametrize("node_id", ["1abc", "my-node", "class", "forward", 7])
def test_bad_ids(node_id):
    nodes = [{"id": node_id, "type": "ReLU"}, *BASE_NODES]
    (p,) = _problems(_doc(nodes, BASE_EDGES))
    assert p.location == "nodes[0].id"


def test_edge_to_missing_node_and_port():
    edges = [*BASE_EDGES, {"from": "x", "to": "ghost"}, {"from": "fc", "to": "out",
                                                         "to_port": "query"}]
    problems = _problems(_doc(BASE_NODES, edges))
    assert problems[0].location == "edges[2].to" and "missing node 'ghost'" in problems[0].message
    assert problems[1].location == "edges[3].to_port"
    assert "has no input port 'query'" in problems[1].message


def test_port_with_two_inputs():
    edges = [*BASE_EDGES, {"from": "x", "to": "out"}]
    (p,) = _problems(_doc(BASE_NODES, edges))
    assert p.location == "edges[2].to" and p.node == "out"
    assert "input 'input' of 'out' is already connected to 'fc'" in p.message


def test_ambiguous_port_must_be_named():
    nodes = [{"id": "q", "type": "Input", "params": {"shape": [3, 4]}},
             {"id": "attn", "type": "MultiheadAttention", "params": {"num_heads": 2}},
             {"id": "out", "type": "Output"}]
    (p,) = _problems(_doc(nodes, [{"from": "q", "to": "attn"}, {"from": "attn", "to": "out"}]))
    assert "several inputs (query, key, value)" in p.message and p.location == "edges[0].to"


@pytest.mark.parametrize("design, edge, location", [
    (mlp, {"from": "x", "to": "relu1"}, "edges[4].to"),  # occupied input port
    (mlp, {"from": "fc1", "to": "fc1"}, "edges[4].to"),  # self loop
    (mlp, {"from": "fc2", "to": "fc1"}, "edges[4].to"),  # cycle
    (mlp, {"from": "x", "to": "fc1", "to_port": "key"}, "edges[4].to_port"),  # no such port
    (mlp, {"from": "out", "to": "fc2"}, "edges[4].from"),  # no outputs at all
    (attention, {"from": "queries", "to": "attn"}, "edges[4].to"),  # which input?
])
def test_the_loader_and_the_model_refuse_an_edge_in_the_same_words(design, edge, location):
    model = design()
    with pytest.raises(GraphError) as refused:
        model.resolve_edge(edge["from"], edge["to"], edge.get("from_port"), edge.get("to_port"))
    data = document.to_dict(model)
    data["edges"].append(edge)
    (p,) = _problems(data)
    assert p.message == str(refused.value)
    assert p.location == location and p.line is not None


def test_cycle_is_reported_with_its_path():
    nodes = [*BASE_NODES, {"id": "relu", "type": "ReLU"}]
    edges = [{"from": "x", "to": "fc"}, {"from": "fc", "to": "relu"},
             {"from": "relu", "to": "out"}]
    loads(json.dumps(_doc(nodes, edges)))  # fine without the back edge
    nodes = [BASE_NODES[0], {"id": "a", "type": "Concat"}, {"id": "b", "type": "ReLU"},
             BASE_NODES[2]]
    edges = [{"from": "x", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "a"},
             {"from": "b", "to": "out"}]
    (p,) = _problems(_doc(nodes, edges))
    assert "cycle" in p.message and ("a -> b -> a" in p.message or "b -> a -> b" in p.message)
    assert p.location.startswith("edges[")


def test_unknown_keys_and_bad_types_of_sections():
    problems = _problems({**_doc(BASE_NODES, BASE_EDGES), "nodez": [], "training": []})
    messages = " | ".join(p.message for p in problems)
    assert "unknown key 'nodez': did you mean 'nodes'?" in messages
    assert "'training' must be an object" in messages


@pytest.mark.parametrize("summary, words", [(3, "'summary' must be a string, not a number"),
                                            ("two\nlines", "'summary' must be one line")])
def test_a_bad_summary_is_named(summary, words):
    (p,) = _problems(_doc(BASE_NODES, BASE_EDGES, summary=summary))
    assert p.location == "summary" and words in p.message


def test_summary_is_written_after_the_description():
    model = loads(json.dumps(_doc(BASE_NODES, BASE_EDGES, description="d", summary="s")))
    assert model.summary == "s"
    assert list(json.loads(dumps(model)))[3:5] == ["description", "summary"]


def test_missing_input_and_output_still_load_but_fail_validation():
    """Work in progress can be saved and reopened; validation reports what is missing."""
    from runtime.shapes import infer
    model = loads(json.dumps(_doc([{"id": "fc", "type": "Linear"}], [])))
    messages = [p.message for p in infer(model).errors]
    assert any("no Input node" in m for m in messages)
    assert any("no Output node" in m for m in messages)


def test_unreadable_file(tmp_path):
    with pytest.raises(DesignFileError, match="cannot read the file"):
        load(tmp_path / "missing.json")


def test_migration_runs_one_step_per_version(monkeypatch):
    """A version-1 file goes through the migration chain when the current version is newer."""
    def v2_to_v3(data):
        for node in data["nodes"]:
            if node["type"] == "OldLinear":
                node["type"] = "Linear"
        return data
    calls = []
    monkeypatch.setattr(document, "CURRENT_VERSION", 4)
    monkeypatch.setitem(document.MIGRATIONS, 3, lambda data: calls.append(data["version"]) or
                        v2_to_v3(data))
    nodes = [BASE_NODES[0], {"id": "fc", "type": "OldLinear", "params": {"init": "zeros"}},
             BASE_NODES[2]]
    model = loads(json.dumps(_doc(nodes, BASE_EDGES)))  # a version-1 file: three steps
    assert calls == [3]  # the last step saw the document the earlier ones upgraded
    assert model.nodes["fc"].type == "Linear"
    assert model.nodes["fc"].params["weight_init"] == "zeros"
    assert CURRENT_VERSION == 3


def test_version_1_init_opens_as_weight_init_with_the_same_meaning():
    """Version 2 renamed `init` (which collides with PyTorch's own `init` arguments)."""
    nodes = [BASE_NODES[0], {"id": "fc", "type": "Linear", "params": {"out_features": 3,
                                                                      "init": "orthogonal"}},
             BASE_NODES[2]]
    model = loads(json.dumps(_doc(nodes, BASE_EDGES)))
    assert model.nodes["fc"].params["weight_init"] == "orthogonal"
    assert "init" not in model.nodes["fc"].params
    saved = json.loads(dumps(model))
    assert saved["version"] == 2  # no networks: the oldest version that holds it
    assert saved["nodes"][1]["params"]["weight_init"] == "orthogonal"


def test_version_2_file_with_init_is_refused_with_a_suggestion():
    doc = _doc([BASE_NODES[0], {"id": "fc", "type": "Linear", "params": {"init": "zeros"}},
                BASE_NODES[2]], BASE_EDGES)
    doc["version"] = 2
    with pytest.raises(DesignFileError, match="no parameter .init.: it is now called .weight_init."):
        loads(json.dumps(doc))


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "design.json"
    save(mlp(), path)
    original = path.read_text()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save(lenet(), path)
    assert path.read_text() == original
    assert os.listdir(tmp_path) == ["design.json"]

