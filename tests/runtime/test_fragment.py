"""Fragments: copy a selection, carry it as clipboard text, plan its paste without touching the model."""
import json

import networkx as nx
import pytest

from runtime.errors import DesignFileError, GraphError
from runtime.fragment import (FRAGMENT_FORMAT, PastePlan, copy_fragment, fragment_from_text,
                              fragment_to_text, plan_paste)
from runtime.graph import GraphModel
from tests.runtime.designs import attention, lenet, mlp, residual


def apply(model: GraphModel, plan: PastePlan) -> None:
    """What the designer's paste command does with a plan."""
    for node in plan.nodes:
        model.add_node(node.type, node.params, node.pos, node.id)
    for edge in plan.edges:
        model.connect(edge.src, edge.dst, edge.src_port, edge.dst_port)


def concat_block() -> GraphModel:
    """Three branches into a Concat, wired in an order different from the nodes' file order."""
    m = GraphModel()
    m.add_node("Input", {"shape": [4]}, (0, 0), "x")
    for name in ("a", "b", "c"):
        m.add_node("Linear", {"out_features": 2}, (100, 0), name)
    m.add_node("Concat", {"dim": 1}, (200, 0), "cat")
    for name in ("a", "b", "c"):
        m.connect("x", name)
    for name in ("c", "a", "b"):
        m.connect(name, "cat")
    return m


def structure(model: GraphModel, ids: list[str], rename: dict[str, str] | None = None) -> tuple:
    """Nodes (type, params) and edges in order, of the subgraph `ids`, under a renaming."""
    rename = rename or {i: i for i in ids}
    nodes = [(rename[i], model.nodes[i].type, model.nodes[i].params) for i in ids]
    edges = [(rename[e.src], rename[e.dst], e.src_port, e.dst_port) for e in model.edges
             if e.src in rename and e.dst in rename]
    return nodes, edges


def test_copy_keeps_inner_edges_and_drops_edges_crossing_the_selection():
    m = residual()
    frag = copy_fragment(m, ["relu", "stem", "add", "conv"])
    assert frag["format"] == FRAGMENT_FORMAT and frag["version"] == 2
    assert [n["id"] for n in frag["nodes"]] == ["stem", "conv", "relu", "add"]
    assert frag["edges"] == [
        {"from": "stem", "to": "conv", "from_port": "output", "to_port": "input"},
        {"from": "conv", "to": "relu", "from_port": "output", "to_port": "input"},
        {"from": "relu", "to": "add", "from_port": "output", "to_port": "input"},
        {"from": "stem", "to": "add", "from_port": "output", "to_port": "input"}]
    assert frag["nodes"][1] == {"id": "conv", "type": "Conv2d", "params": m.nodes["conv"].params,
                                "pos": [0.0, 0.0]}


def test_copy_is_a_detached_json_ready_copy():
    m = lenet()
    frag = copy_fragment(m, ["image", "conv1"])
    assert json.loads(json.dumps(frag)) == frag
    frag["nodes"][0]["params"]["shape"].append(99)
    assert m.nodes["image"].params["shape"] == [1, 28, 28]


def test_copy_of_an_unknown_node_is_an_error():
    with pytest.raises(GraphError, match="no node 'ghost'"):
        copy_fragment(mlp(), ["fc1", "ghost"])


def test_copy_keeps_edge_order_and_ports():
    frag = copy_fragment(concat_block(), ["a", "b", "c", "cat"])
    assert [(e["from"], e["to"]) for e in frag["edges"]] == [("c", "cat"), ("a", "cat"),
                                                             ("b", "cat")]
    frag = copy_fragment(attention(), ["queries", "memory", "attn"])
    assert [e["to_port"] for e in frag["edges"]] == ["query", "key", "value"]


@pytest.mark.parametrize("design", [lenet, residual, attention, concat_block])
def test_text_round_trip(design):
    m = design()
    frag = copy_fragment(m, m.nodes)
    assert fragment_from_text(fragment_to_text(frag)) == frag


@pytest.mark.parametrize("text", ["", "hello", "conv1 -> relu", "[1, 2]", "42", "null",
                                  '{"nodes": []}', '{"format": "layerlab.design", "version": 1}'])
def test_text_that_is_not_a_fragment_gives_none(text):
    assert fragment_from_text(text) is None


def test_reading_text_fills_defaults_and_ports():
    text = json.dumps({"format": FRAGMENT_FORMAT, "version": 1,
                       "nodes": [{"id": "r", "type": "ReLU"},
                                 {"id": "fc", "type": "Linear", "params": {"out_features": 3}}],
                       "edges": [{"from": "r", "to": "fc"}]})
    frag = fragment_from_text(text)
    assert frag["nodes"][1]["params"]["bias"] is True and frag["nodes"][1]["pos"] == [0.0, 0.0]
    assert frag["edges"] == [{"from": "r", "to": "fc", "from_port": "output", "to_port": "input"}]


@pytest.mark.parametrize("change, location, words", [
    (lambda f: f["nodes"][1].update(type="Dense"), "nodes[1].type", "unknown layer type 'Dense'"),
    (lambda f: f["nodes"][1]["params"].update(out_features=0), "nodes[1].params.out_features",
     "at least 1"),
    (lambda f: f["edges"].append({"from": "fc1", "to": "ghost"}), "edges[4].to",
     "missing node 'ghost'"),
    (lambda f: f["edges"].append({"from": "fc2", "to": "x"}), "edges[4].to", "has no inputs"),
    (lambda f: f["edges"].append({"from": "x", "to": "fc2"}), "edges[4].to",
     "already connected to 'relu1'"),
    (lambda f: f["nodes"].append(dict(f["nodes"][0])), "nodes[5].id", "duplicate node id 'x'"),
    (lambda f: f.update(version=99), "version", "newer LayerLab"),
    (lambda f: f.update(version="1"), "version", "positive integer"),
    (lambda f: f.update(edgs=[]), "edgs", "did you mean 'edges'"),
    (lambda f: f.pop("nodes"), "nodes", "no 'nodes' list"),
    (lambda f: f.update(nodes={}), "nodes", "must be a list"),
])
def test_malformed_fragment_names_the_problem(change, location, words):
    frag = copy_fragment(mlp(), ["x", "fc1", "relu1", "fc2", "out"])
    change(frag)
    with pytest.raises(DesignFileError) as info:
        fragment_from_text(fragment_to_text(frag))
    assert any(p.location == location and words in p.message for p in info.value.problems), \
        info.value.problems
    with pytest.raises(DesignFileError):
        plan_paste(mlp(), frag)


def test_a_cyclic_fragment_is_refused():
    frag = copy_fragment(mlp(), ["fc1", "relu1", "fc2"])
    frag["edges"].append({"from": "fc2", "to": "fc1", "from_port": "output", "to_port": "input"})
    with pytest.raises(DesignFileError, match="cycle"):
        plan_paste(GraphModel(), frag)


def test_paste_renames_clashing_ids_and_offsets_positions():
    m = lenet()
    frag = copy_fragment(m, ["conv1", "act1", "pool1"])
    frag["nodes"][1]["id"] = "tanh_fresh"
    frag["edges"][0]["to"] = frag["edges"][1]["from"] = "tanh_fresh"
    before = m.snapshot()
    plan = plan_paste(m, frag, offset=(10, -5))
    assert m.snapshot() == before
    assert plan.id_map == {"conv1": "conv2d_1", "tanh_fresh": "tanh_fresh",
                           "pool1": "avgpool2d_1"}
    assert [n.pos for n in plan.nodes] == [(160.0, -5.0), (310.0, -5.0), (460.0, -5.0)]
    assert [(e.src, e.dst) for e in plan.edges] == [("conv2d_1", "tanh_fresh"),
                                                    ("tanh_fresh", "avgpool2d_1")]


def test_fresh_ids_avoid_kept_ids_of_the_fragment_itself():
    m = GraphModel()
    m.add_node("ReLU", node_id="relu_1")
    frag = copy_fragment(m, ["relu_1"])
    frag["nodes"].append({"id": "relu_2", "type": "ReLU", "params": {}, "pos": [0, 0]})
    plan = plan_paste(m, frag)
    assert plan.id_map == {"relu_1": "relu_3", "relu_2": "relu_2"}


@pytest.mark.parametrize("design, ids", [
    (residual, ["stem", "conv", "relu", "add"]),
    (concat_block, ["a", "b", "c", "cat"]),
    (attention, ["queries", "memory", "attn", "out"]),
    (lenet, ["fc1", "act3", "fc2"]),
])
def test_applying_a_plan_recreates_the_selection_up_to_renaming(design, ids):
    m = design()
    plan = plan_paste(m, copy_fragment(m, ids))
    apply(m, plan)
    assert set(plan.id_map.values()).isdisjoint(ids)
    assert structure(m, [plan.id_map[i] for i in ids]) == structure(m, ids, plan.id_map)
    original = m.graph.subgraph(ids)
    pasted = m.graph.subgraph(plan.id_map.values())
    assert nx.is_isomorphic(original, pasted)
    for old, new in plan.id_map.items():
        assert m.nodes[new].pos == (m.nodes[old].pos[0] + 40, m.nodes[old].pos[1] + 40)


def test_paste_into_another_design_through_the_clipboard_text():
    source = concat_block()
    target = mlp()
    text = fragment_to_text(copy_fragment(source, source.nodes))
    plan = plan_paste(target, fragment_from_text(text), offset=(0, 0))
    assert plan.id_map == {"x": "input_1", "a": "a", "b": "b", "c": "c", "cat": "cat"}
    apply(target, plan)
    assert structure(target, list(plan.id_map.values())) == structure(source, list(source.nodes),
                                                                      plan.id_map)
    assert [n.pos for n in plan.nodes] == [n.pos for n in source.nodes.values()]


def test_paste_into_another_design_renames_what_clashes():
    target = mlp()
    source = lenet()
    plan = plan_paste(target, copy_fragment(source, ["fc1", "act3", "fc2"]))
    assert plan.id_map == {"fc1": "linear_1", "act3": "act3", "fc2": "linear_2"}
    apply(target, plan)
    assert [e for e in target.edges if e.src == "linear_1"][0].dst == "act3"


def test_pasting_twice_gives_distinct_ids():
    m = residual()
    frag = copy_fragment(m, ["conv", "relu", "add"])
    first = plan_paste(m, frag)
    assert plan_paste(m, frag) == first  # planning alone changes nothing
    apply(m, first)
    second = plan_paste(m, frag)
    apply(m, second)
    new = list(first.id_map.values()) + list(second.id_map.values())
    assert len(set(new)) == 6 and set(new).isdisjoint(["conv", "relu", "add"])
    assert len(m.nodes) == 8 + 6 and len(m.edges) == 8 + 2 * 2
