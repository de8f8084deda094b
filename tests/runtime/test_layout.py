"""auto_layout: layered left-to-right positions, returned without touching the model."""
import itertools
import time

import pytest

from runtime.errors import GraphError
from runtime.graph import GraphModel
from runtime.layout import auto_layout
from tests.runtime.designs import attention, chain, lenet, mlp, residual

X_GAP, Y_GAP = 200.0, 110.0


def inception() -> GraphModel:
    """One input, four parallel branches of different lengths, concatenated."""
    m = GraphModel()
    m.add_node("Input", {"shape": [3, 8, 8]}, node_id="x")
    m.add_node("Conv2d", {"out_channels": 4, "kernel_size": 1}, node_id="b1")
    m.add_node("Conv2d", {"out_channels": 4, "kernel_size": 1}, node_id="b2a")
    m.add_node("Conv2d", {"out_channels": 4}, node_id="b2b")
    m.add_node("MaxPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, node_id="b3a")
    m.add_node("Conv2d", {"out_channels": 4, "kernel_size": 1}, node_id="b3b")
    m.add_node("Conv2d", {"out_channels": 4, "kernel_size": 5, "padding": 2}, node_id="b4")
    m.add_node("Concat", {"dim": 1}, node_id="cat")
    m.add_node("Output", {}, node_id="out")
    for branch in (["b1"], ["b2a", "b2b"], ["b3a", "b3b"], ["b4"]):
        chain(m, "x", *branch, "cat")
    m.connect("cat", "out")
    return m


def big(size: int = 1000) -> GraphModel:
    """Stacked residual blocks and three-way concat blocks, about `size` nodes."""
    m = GraphModel()
    prev = m.add_node("Input", {"shape": [4, 8, 8]}).id
    while len(m.nodes) < size:
        if len(m.nodes) % 3 == 0:
            conv, relu, add = (m.add_node(t).id for t in ("Conv2d", "ReLU", "Add"))
            chain(m, prev, conv, relu, add)
            m.connect(prev, add)
            prev = add
        else:
            branches = [m.add_node(t).id for t in ("ReLU", "Tanh", "Sigmoid")]
            cat = m.add_node("Concat").id
            for branch in branches:
                chain(m, prev, branch, cat)
            prev = cat
    return m


def two_components() -> GraphModel:
    m = mlp()
    m.add_node("Input", {"shape": [3]}, node_id="y")
    m.add_node("Linear", {"out_features": 2}, node_id="fc_y")
    m.add_node("Sigmoid", {}, node_id="lonely")
    m.connect("y", "fc_y")
    return m


DESIGNS = [lenet, mlp, residual, attention, inception, two_components]


def assert_no_overlap(pos: dict) -> None:
    for (a, pa), (b, pb) in itertools.combinations(pos.items(), 2):
        assert abs(pa[0] - pb[0]) >= X_GAP or abs(pa[1] - pb[1]) >= Y_GAP, (a, b)


@pytest.mark.parametrize("design", DESIGNS, ids=lambda f: f.__name__)
def test_edges_go_left_to_right_and_nodes_do_not_overlap(design):
    m = design()
    pos = auto_layout(m)
    assert list(pos) == list(m.nodes)
    for e in m.edges:
        assert pos[e.src][0] < pos[e.dst][0], e
    assert_no_overlap(pos)


@pytest.mark.parametrize("design", DESIGNS, ids=lambda f: f.__name__)
def test_layout_is_pure_and_deterministic(design):
    m = design()
    before = m.snapshot()
    assert auto_layout(m) == auto_layout(m) == auto_layout(design())
    assert m.snapshot() == before


def test_a_chain_is_one_straight_row_from_the_old_top_left():
    m = lenet()
    m.move("conv1", (-30, -70))
    pos = auto_layout(m)
    assert {y for _, y in pos.values()} == {-70.0}
    assert [x for x, _ in pos.values()] == [-30.0 + i * X_GAP for i in range(len(m.nodes))]


def test_gaps_and_origin_are_honoured():
    pos = auto_layout(mlp(), x_gap=50, y_gap=10, origin=(5, 7))
    assert list(pos.values()) == [(5.0 + 50 * i, 7.0) for i in range(5)]


def test_identity_skip_keeps_its_ends_on_one_row_and_the_branch_steps_aside():
    pos = auto_layout(residual())
    row = pos["stem"][1]
    assert pos["x"][1] == pos["add"][1] == pos["out"][1] == row
    # The skip edge stem -> add is drawn straight along the row; the skipped nodes are off it.
    assert pos["conv"][1] == pos["relu"][1] != row
    assert abs(pos["conv"][1] - row) == Y_GAP


def test_projection_shortcut_goes_on_its_own_row():
    m = residual()
    m.disconnect(m.in_edges("add")[1])
    m.add_node("Conv2d", {"out_channels": 4, "kernel_size": 1}, node_id="proj")
    chain(m, "stem", "proj", "add")
    pos = auto_layout(m)
    assert pos["proj"][0] == pos["conv"][0]
    assert pos["proj"][1] != pos["conv"][1] == pos["relu"][1]


def test_branches_are_ordered_without_crossings():
    pos = auto_layout(inception())
    ys = {b: pos[b][1] for b in ("b1", "b2a", "b2b", "b3a", "b3b", "b4")}
    # Each two-node branch stays on one row, and the four branches sit on four distinct rows
    # in file order.
    assert ys["b2a"] == ys["b2b"] and ys["b3a"] == ys["b3b"]
    assert ys["b1"] < ys["b2a"] < ys["b3a"] < ys["b4"]
    assert pos["x"][1] == pos["cat"][1] == pos["out"][1]


def test_a_late_second_input_sits_next_to_its_consumer():
    m = mlp()
    m.add_node("Input", {"shape": [16]}, node_id="extra")
    m.add_node("Add", {}, node_id="add")
    m.disconnect(m.in_edges("fc2")[0])
    chain(m, "relu1", "add", "fc2")
    m.connect("extra", "add")
    pos = auto_layout(m)
    assert pos["extra"][0] == pos["add"][0] - X_GAP
    assert pos["extra"][1] != pos["relu1"][1]


def test_components_are_stacked_below_each_other():
    m = two_components()
    pos = auto_layout(m)
    first = [pos[i] for i in ("x", "fc1", "relu1", "fc2", "out")]
    assert {y for _, y in first} == {0.0}
    assert pos["y"] == (0.0, Y_GAP) and pos["fc_y"] == (X_GAP, Y_GAP)
    assert pos["lonely"] == (0.0, 2 * Y_GAP)


def test_subset_moves_only_those_nodes_and_keeps_their_top_left():
    m = lenet()
    m.move("fc1", (500, 300))
    m.move("act3", (90, 420))
    pos = auto_layout(m, ["fc2", "act3", "fc1", "act4"])
    assert list(pos) == ["fc1", "act3", "fc2", "act4"]
    assert pos == {"fc1": (90.0, 0.0), "act3": (290.0, 0.0), "fc2": (490.0, 0.0),
                   "act4": (690.0, 0.0)}


def test_subset_ignores_edges_to_unselected_nodes():
    pos = auto_layout(residual(), ["conv", "relu", "gap"], origin=(0, 0))
    assert pos == {"conv": (0.0, 0.0), "relu": (X_GAP, 0.0), "gap": (0.0, Y_GAP)}


def test_empty_model_and_empty_subset():
    assert auto_layout(GraphModel()) == {}
    assert auto_layout(mlp(), []) == {}


def test_unknown_node_is_an_error():
    with pytest.raises(GraphError, match="no node 'nope'"):
        auto_layout(mlp(), ["fc1", "nope"])


def test_a_thousand_nodes_are_fast():
    m = big()
    start = time.perf_counter()
    pos = auto_layout(m)
    elapsed = time.perf_counter() - start
    assert len(pos) == len(m.nodes) >= 1000
    assert all(pos[e.src][0] < pos[e.dst][0] for e in m.edges)
    assert len(set(pos.values())) == len(pos)
    assert elapsed < 1.0  # about 0.07 s on a laptop-class CPU; generous for loaded CI machines


# --- wrapping into bands that fit a window ------------------------------------------------------

def long_chain(length: int = 30) -> GraphModel:
    m = GraphModel()
    prev = m.add_node("Input", {"shape": [8]}).id
    for _ in range(length - 1):
        node = m.add_node("ReLU").id
        m.connect(prev, node)
        prev = node
    return m


def shown_scale(pos: dict, fit: tuple[float, float]) -> float:
    """The zoom at which the laid-out cells (X_GAP by Y_GAP each) fill `fit`."""
    width = max(x for x, _ in pos.values()) - min(x for x, _ in pos.values()) + X_GAP
    height = max(y for _, y in pos.values()) - min(y for _, y in pos.values()) + Y_GAP
    return min(fit[0] / width, fit[1] / height)


def test_a_long_chain_wraps_into_bands_that_fit_a_wide_window():
    m, fit = long_chain(30), (1600.0, 900.0)
    pos = auto_layout(m, fit=fit)
    rows = sorted({y for _, y in pos.values()})
    assert 3 <= len(rows) <= 8  # bands, not one 30-layer row nor one node per row
    order = list(m.topological_order())
    for a, b in zip(order, order[1:]):  # reading order: along a band, then the next band down
        (xa, ya), (xb, yb) = pos[a], pos[b]
        assert (ya == yb and xb == xa + X_GAP) or (yb > ya and xb == min(x for x, _ in
                                                                          pos.values()))
    assert shown_scale(pos, fit) > 2 * shown_scale(auto_layout(m), fit)
    assert_no_overlap(pos)


def test_a_design_that_fits_unwrapped_is_not_wrapped():
    for design in DESIGNS:
        m = design()
        wide, plain = auto_layout(m, fit=(20_000.0, 10_000.0)), auto_layout(m)
        assert {n: x for n, (x, _) in wide.items()} == {n: x for n, (x, _) in plain.items()}
        rows = sorted({y for _, y in plain.values()})  # the same rows, components further apart
        assert [sorted({y for _, y in wide.values()}).index(wide[n][1]) for n in wide] == [
            rows.index(plain[n][1]) for n in wide], design.__name__


def test_a_tall_narrow_window_gets_more_bands_than_a_wide_one():
    m = long_chain(40)
    bands = {fit: len({y for _, y in auto_layout(m, fit=fit).values()})
             for fit in ((1800.0, 600.0), (600.0, 1800.0))}
    assert bands[(600.0, 1800.0)] > bands[(1800.0, 600.0)]


def test_bands_end_after_a_merge_rather_than_inside_a_residual_block():
    m = GraphModel()
    prev = m.add_node("Input", {"shape": [4, 8, 8]}).id
    for _ in range(8):  # blocks of conv -> relu -> add, the add also fed by the block's input
        conv, relu, add = (m.add_node(t).id for t in ("Conv2d", "ReLU", "Add"))
        chain(m, prev, conv, relu, add)
        m.connect(prev, add)
        prev = add
    pos = auto_layout(m, x_gap=X_GAP, y_gap=Y_GAP, fit=(1500.0, 1400.0))
    lefts = min(x for x, _ in pos.values())
    starts = [n for n in m.nodes if pos[n][0] == lefts and m.nodes[n].type != "Input"]
    assert starts  # it wrapped
    # each later band starts with a block's conv: the edges a cut crosses are the Add's one
    # output (twice: into the conv and the next skip), never a skip plus the main path inside
    assert {m.nodes[n].type for n in starts} == {"Conv2d"}
    assert_no_overlap(pos)


def test_wrapping_keeps_components_stacked_and_the_origin():
    m = two_components()
    pos = auto_layout(m, origin=(10.0, 20.0), fit=(450.0, 2000.0))
    assert min(x for x, _ in pos.values()) == 10.0 and min(y for _, y in pos.values()) == 20.0
    assert max(pos[n][1] for n in ("x", "fc1", "relu1", "fc2", "out")) < pos["y"][1]
    assert_no_overlap(pos)
