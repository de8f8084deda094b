"""Design-level inference: unconnected inputs, unknown downstream nodes, totals, the cache."""
from runtime.graph import GraphModel
from runtime.shapes import ShapeInference, infer
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
    assert engine.misses == len(m.nodes) and engine.hits == 0
    m.set_param("fc2", "out_features", 50)  # changes fc2 and act4, fc3 (its input size)
    first = engine.run(m)
    assert engine.misses == len(m.nodes) + 3
    assert first.nodes["fc3"].params == 50 * 10 + 10
    assert first.nodes == infer(m).nodes
