"""GraphModel: edits, refusals with reasons, events, undo support and equality."""
import pytest

from runtime.errors import GraphError, ParamError
from runtime.graph import EdgeAdded, GraphModel, NodeAdded, NodeRemoved, ParamChanged
from tests.runtime.designs import chain, mlp, residual


def test_add_node_fills_defaults_and_makes_ids():
    m = GraphModel()
    node = m.add_node("Conv2d", {"out_channels": 8})
    assert node.id == "conv2d_1"
    assert node.params["out_channels"] == 8
    assert node.params["kernel_size"] == 3 and node.params["weight_init"] == "default"
    assert m.add_node("Conv2d").id == "conv2d_2"


@pytest.mark.parametrize("bad_id, words", [("1x", "identifier"), ("class", "keyword"),
                                           ("forward", "reserved"), ("a-b", "identifier"),
                                           ("code", "reserved"), ("graph", "reserved")])
def test_bad_node_ids_are_refused(bad_id, words):
    with pytest.raises(GraphError, match=words):
        GraphModel().add_node("ReLU", node_id=bad_id)


def test_unknown_type_suggests_the_closest():
    with pytest.raises(GraphError, match="did you mean 'Linear'"):
        GraphModel().add_node("Dense")


def test_bad_param_is_refused_and_nothing_changes():
    m = mlp()
    before = m.snapshot()
    with pytest.raises(ParamError, match="'out_features' must be at least 1, got 0"):
        m.set_param("fc1", "out_features", 0)
    with pytest.raises(ParamError, match="must be an integer, got true"):
        m.set_param("fc1", "out_features", True)
    with pytest.raises(ParamError, match="did you mean 'out_features'"):
        m.set_param("fc1", "out_feature", 3)
    assert m.snapshot() == before


@pytest.mark.parametrize("src, dst, port, reason", [
    ("fc1", "fc1", None, "itself"),
    ("fc2", "fc1", None, "cycle"),
    ("x", "relu1", None, "already connected"),
    ("x", "fc1", "key", "no input port 'key'"),
    ("out", "fc1", None, "has no outputs"),
])
def test_impossible_connections_are_refused_with_reason(src, dst, port, reason):
    m = mlp()
    before = m.snapshot()
    with pytest.raises(GraphError, match=reason):
        m.resolve_edge(src, dst, dst_port=port)
    with pytest.raises(GraphError, match=reason):
        m.connect(src, dst, dst_port=port)
    assert m.snapshot() == before


def test_variadic_inputs_keep_edge_order():
    m = residual()
    assert [e.src for e in m.in_edges("add")] == ["relu", "stem"]


def test_events_report_every_change():
    m = GraphModel()
    events = []
    m.subscribe(events.append)
    m.add_node("Input", {"shape": [4]}, node_id="x")
    m.add_node("Linear", node_id="fc")
    m.connect("x", "fc")
    m.set_param("fc", "out_features", 3)
    m.remove_node("fc")
    kinds = [type(e) for e in events]
    assert kinds[:4] == [NodeAdded, NodeAdded, EdgeAdded, ParamChanged]
    assert NodeRemoved in kinds
    assert events[3] == ParamChanged("fc", "out_features", 64, 3)


def test_remove_then_restore_gives_back_the_same_design():
    m = residual()
    before = m.snapshot()
    removed = m.remove_node("stem")
    assert "stem" not in m.nodes and all("stem" not in (e.src, e.dst) for e in m.edges)
    m.restore_node(removed)
    assert m.snapshot() == before


def test_topological_order_keeps_file_order_for_ties():
    m = GraphModel()
    for node_id in ("b", "a", "c"):
        m.add_node("Input", {"shape": [2]}, node_id=node_id)
    m.add_node("Concat", node_id="cat")
    m.add_node("Output", node_id="out")
    for src in ("a", "b", "c"):
        m.connect(src, "cat")
    chain(m, "cat", "out")
    assert m.topological_order() == ["b", "a", "c", "cat", "out"]


def test_move_and_equality():
    a, b = mlp(), mlp()
    assert a == b
    b.move("fc1", (10, 20))
    assert a != b and b.nodes["fc1"].pos == (10.0, 20.0)



def test_a_merge_may_take_the_same_tensor_twice_and_lose_one_copy():
    m = residual()
    m.connect("stem", "add")  # add(relu, stem, stem)
    edge = m.in_edges("add")[-1]
    m.disconnect(edge)
    assert [e.src for e in m.in_edges("add")] == ["relu", "stem"]
    assert m.graph.number_of_edges("stem", "add") == 1  # the mirror kept the other copy
    with pytest.raises(GraphError, match="cycle"):
        m.resolve_edge("head", "stem")


def test_moves_and_the_design_s_words_are_cosmetic_other_edits_are_not():
    from runtime.graph import (EdgeAdded, MetaChanged, NodeMoved, ParamChanged, WORDS,
                               is_cosmetic)
    m = GraphModel()
    seen = []
    m.subscribe(seen.append)
    m.add_node("Input", {"shape": [4]}, (0, 0), "x")
    m.add_node("ReLU", {}, (200, 0), "r")
    m.connect("x", "r")
    m.move("r", (300, 0))
    m.name, m.description, m.summary = "n", "d", "s"
    m.set_param("x", "shape", [5])
    m.training = {"epochs": 2}
    cosmetic = [e for e in seen if is_cosmetic(e)]
    assert {type(e) for e in cosmetic} == {NodeMoved, MetaChanged}
    assert {e.field for e in cosmetic if isinstance(e, MetaChanged)} == set(WORDS)
    assert not any(is_cosmetic(e) for e in seen if isinstance(e, (EdgeAdded, ParamChanged)))
    assert not is_cosmetic(MetaChanged("training"))


def test_new_ids_take_the_lowest_free_number_even_after_removals():
    m = GraphModel()
    ids = [m.add_node("ReLU").id for _ in range(5)]
    assert ids == [f"relu_{i}" for i in range(1, 6)]
    m.remove_node("relu_2")
    m.remove_node("relu_4")
    assert m.add_node("ReLU").id == "relu_2"
    assert m.add_node("ReLU").id == "relu_4"
    assert m.add_node("ReLU").id == "relu_6"
    m.add_node("ReLU", node_id="relu_7")  # taken by hand: skipped
    assert m.add_node("ReLU").id == "relu_8"
