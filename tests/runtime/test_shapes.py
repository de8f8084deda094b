"""Design-level inference: unconnected inputs, unknown downstream nodes, totals, and re-inference
after edits (random edit sequences compared with cold passes)."""
import gc
import random
from pathlib import Path

import pytest

from benchmarks import inference_speed, scale_designs
from runtime import document, shapes
from runtime.errors import GraphError, ParamError
from runtime.graph import GraphModel
from runtime.shapes import Analysis, ShapeInference, infer
from runtime.specs import ParamSpec
from tests.runtime.designs import chain, lenet, residual


def test_unconnected_input_is_an_error_on_that_node():
    m = GraphModel()
    m.add_node("Input", {"shape": [4]}, node_id="x")
    m.add_node("Linear", node_id="fc")
    m.add_node("Output", node_id="out")
    m.connect("fc", "out")
    analysis = infer(m)
    assert analysis.nodes["fc"].errors == ["input 'input' is not connected: connect a layer's "
                                           "output to it"]
    assert analysis.nodes["out"].status == "unknown" and not analysis.nodes["out"].errors
    assert any(p.node == "x" and p.severity == "warning" and "not connected to any Output"
               in p.message for p in analysis.problems)


def test_merge_needs_two_inputs():
    m = residual()
    m.disconnect(m.in_edges("add")[1])
    assert "needs at least 2 inputs" in infer(m).nodes["add"].errors[0]


def test_downstream_of_an_error_is_unknown_and_independent_errors_all_show():
    m = residual()
    m.set_param("stem", "out_channels", 5)  # skip path 5 channels vs 4 on the main path
    m.add_node("Input", {"shape": [10]}, node_id="side")
    m.add_node("Conv2d", node_id="bad_conv")
    m.add_node("Output", node_id="out2")
    chain(m, "side", "bad_conv", "out2")
    analysis = infer(m)
    assert analysis.nodes["add"].status == "error"
    assert "(batch, 4, 8, 8) vs (batch, 5, 8, 8)" in analysis.nodes["add"].errors[0]
    assert analysis.nodes["gap"].status == analysis.nodes["head"].status == "unknown"
    assert analysis.nodes["bad_conv"].status == "error"
    assert "insert a Reshape" in analysis.nodes["bad_conv"].errors[0]
    assert {p.node for p in analysis.errors} == {"add", "bad_conv"}
    assert not analysis.valid


def test_totals_and_trainable():
    m = lenet()
    analysis = infer(m)
    assert analysis.total_params == analysis.trainable_params == 61706
    m.set_param("conv1", "trainable", False)
    analysis = infer(m)
    assert analysis.trainable_params == 61706 - 156
    assert analysis.total_flops == sum(r.flops for r in analysis.nodes.values()) > 0


def test_reinference_reuses_unchanged_nodes():
    m = lenet()
    engine = ShapeInference()
    engine.run(m)
    assert engine.cold and engine.recomputed == len(m.nodes)
    m.set_param("fc2", "out_features", 50)  # changes fc2 and act4, fc3 (its input size)
    first = engine.run(m)
    assert not engine.cold and engine.recomputed == 3  # out: fc3 still gives 10 features
    assert first.nodes["fc3"].params == 50 * 10 + 10
    assert first.nodes == infer(m).nodes
    m.move("fc1", (5, 5))
    assert engine.run(m).nodes == first.nodes and engine.recomputed == 0


# --- incremental re-inference: every pass equals a cold one ----------------------------------
def _same_as_cold(engine: ShapeInference, m: GraphModel) -> Analysis:
    got, cold = engine.run(m), infer(m)
    assert list(got.nodes) == list(cold.nodes)
    assert got.nodes == cold.nodes
    assert got.problems == cold.problems
    return got


def _new_value(rng: random.Random, spec: ParamSpec, old):
    """Another value of the parameter's kind (the model refuses ones out of bounds)."""
    if spec.kind == "bool":
        return not old
    if spec.kind == "choice":
        return rng.choice(spec.choices)
    if spec.kind == "int" and isinstance(old, int):
        return max(old + rng.choice((-1, 1, 2)), 1)
    if spec.kind == "float" and isinstance(old, float):
        return round(rng.uniform(0.0, 0.9), 2)
    if spec.kind in ("size", "padding") and isinstance(old, int):
        return rng.choice((0, 1, 2, 3))
    return None


TYPES = ("Linear", "ReLU", "Add", "Dropout", "Conv2d", "Flatten", "Output", "BatchNorm")


def _random_edit(rng: random.Random, m: GraphModel, removed: list) -> None:
    ids = list(m.nodes)
    kind = rng.choice(("param", "param", "param", "add", "connect", "connect", "disconnect",
                       "remove", "restore", "insert", "network", "move"))
    try:
        if kind == "param" and ids:
            node_id = rng.choice(ids)
            spec = m.spec(node_id)
            if spec.params:
                param = rng.choice(spec.params)
                value = _new_value(rng, param, m.nodes[node_id].params[param.name])
                if value is not None:
                    m.set_param(node_id, param.name, value)
        elif kind == "add":
            m.add_node(rng.choice(TYPES))
        elif kind == "connect" and len(ids) > 1:
            m.connect(*rng.sample(ids, 2))
        elif kind == "disconnect" and m.edges:
            m.disconnect(rng.choice(m.edges))
        elif kind == "remove" and ids:
            removed.append(m.remove_node(rng.choice(ids)))
        elif kind == "restore" and removed:
            m.restore_node(removed.pop())  # undo: back at its old place in the file
        elif kind == "insert" and m.edges:  # as the designer inserts a layer on an edge
            edge = rng.choice(m.edges)
            index = m.edges.index(edge)
            new = m.add_node("Dropout", network=m.nodes[edge.src].network).id
            m.disconnect(edge)
            m.connect(edge.src, new, edge.src_port)
            m.connect(new, edge.dst, dst_port=edge.dst_port, index=index)
        elif kind == "network" and ids:
            m.set_network(rng.choice(ids), rng.choice(("", "", "critic")))
        elif kind == "move" and ids:
            m.move(rng.choice(ids), (rng.random(), rng.random()))
    except (GraphError, ParamError):
        pass  # a refused edit changes nothing; the pass after it must still agree


PRESETS = sorted((Path(__file__).parents[2] / "presets").glob("*.json"))


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_random_edits_on_presets_infer_as_a_cold_pass(path):
    m = document.load(path)
    rng = random.Random(path.stem)
    engine, removed = ShapeInference(), []
    _same_as_cold(engine, m)
    for step in range(60):
        _random_edit(rng, m, removed)
        if step % 2:  # the designer infers once per burst of edits
            _same_as_cold(engine, m)
            assert not engine.cold  # followed the edits, never fell back to a cold pass
    _same_as_cold(engine, m)


@pytest.mark.parametrize("build", [scale_designs.chain, scale_designs.skips, scale_designs.wide,
                                   lambda n, _: inference_speed.build_design(n)[0]],
                         ids=["chain", "skips", "wide", "resnet"])
def test_random_edits_on_big_designs_infer_as_a_cold_pass(build):
    m = build(300, 12)
    rng = random.Random(7)
    engine, removed = ShapeInference(), []
    _same_as_cold(engine, m)
    for _ in range(40):
        _random_edit(rng, m, removed)
        _same_as_cold(engine, m)
        assert engine.cold is False


def test_an_edit_re_runs_only_what_it_reaches():
    m = inference_speed.build_design(300)[0]
    engine = ShapeInference()
    engine.run(m)
    m.set_param("s0_b0_conv1", "out_channels", 8)  # conv2 of the block restores 16 channels
    _same_as_cold(engine, m)
    assert engine.recomputed == 4  # conv1, bn1, relu1, conv2
    m.set_param("stem_conv", "out_channels", 8)  # the skips carry 8 channels: errors downstream
    analysis = _same_as_cold(engine, m)
    assert not analysis.valid and engine.recomputed > 10
    m.set_param("stem_conv", "out_channels", 16)
    assert _same_as_cold(engine, m).valid
    m.connect("s0_b0_out", "s0_b2_add")  # one more input to a merge: the Add alone
    _same_as_cold(engine, m)
    assert engine.recomputed == 1


def test_memory_error_is_marked_on_a_copy(monkeypatch):
    m = lenet()
    engine = ShapeInference()
    monkeypatch.setattr(shapes, "machine_memory", lambda: 100_000)
    first = _same_as_cold(engine, m)
    assert first.nodes["fc1"].status == "error"
    assert "make it smaller" in first.nodes["fc1"].errors[0]
    monkeypatch.setattr(shapes, "machine_memory", lambda: 10**9)
    m.set_param("fc2", "out_features", 60)
    assert _same_as_cold(engine, m).nodes["fc1"].status == "ok"


def test_following_a_model_is_weak_and_survives_a_pass_inside_an_event():
    m = lenet()
    listeners = len(m._listeners)
    infer(m)
    assert len(m._listeners) == listeners  # a cold one-off pass leaves no listener behind
    early = ShapeInference()
    m.subscribe(lambda event: early.run(m))  # e.g. a widget asking for the analysis at once
    early.run(m)
    engine = ShapeInference()
    engine.run(m)
    m.set_param("fc2", "out_features", 40)
    assert early.run(m).nodes == engine.run(m).nodes == infer(m).nodes
    other = lenet()
    engine.run(other)  # follows the other design now: the first one's listener goes
    m.set_param("fc2", "out_features", 30)
    assert len(m._listeners) == listeners + 2
    del engine
    gc.collect()
    m.set_param("fc2", "out_features", 20)
    assert len(other._listeners) == listeners + 1  # unsubscribes at the next event
    other.set_param("fc2", "out_features", 20)
    assert len(other._listeners) == listeners
