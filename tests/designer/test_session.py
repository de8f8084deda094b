"""DesignSession: every edit is one undo step, undo restores the exact snapshot, files are safe."""
import json

import pytest

from designer.session import DesignSession
from runtime.errors import DesignFileError, ParamError


@pytest.fixture
def session(qtbot):
    s = DesignSession()
    s.add_node("Input", (0, 0), {"shape": [1, 8, 8]})
    s.add_node("Conv2d", (200, 0), {"out_channels": 4})
    s.add_node("ReLU", (400, 0))
    s.add_node("Flatten", (600, 0))
    s.add_node("Linear", (800, 0), {"out_features": 3})
    s.add_node("Output", (1000, 0))
    ids = list(s.model.nodes)
    for src, dst in zip(ids, ids[1:]):
        assert s.connect(src, dst) is None
    s.undo_stack.setClean()
    return s


def _undo_redo_round_trip(session, edit):
    before = session.model.snapshot()
    depth = session.undo_stack.count()
    edit()
    after = session.model.snapshot()
    assert after != before
    assert session.undo_stack.count() == depth + 1, "one edit, one undo step"
    session.undo_stack.undo()
    assert session.model.snapshot() == before
    session.undo_stack.redo()
    assert session.model.snapshot() == after


def test_add_node(session):
    _undo_redo_round_trip(session, lambda: session.add_node("Dropout", (50, 50)))


def test_remove_nodes_with_edges(session):
    _undo_redo_round_trip(session, lambda: session.remove_nodes(["conv2d_1", "relu_1"]))


def test_connect_and_disconnect(session):
    _undo_redo_round_trip(session, lambda: session.disconnect(session.model.edges[2]))
    session.disconnect(session.model.edges[2])
    _undo_redo_round_trip(session, lambda: session.connect("relu_1", "flatten_1"))


def test_move(session):
    _undo_redo_round_trip(session, lambda: session.move_nodes(
        {"relu_1": ((400.0, 0.0), (420.0, 60.0)), "conv2d_1": ((200.0, 0.0), (200.0, 80.0))}))


def test_set_param_merges_consecutive_edits_of_one_field(session):
    before = session.model.snapshot()
    depth = session.undo_stack.count()
    for value in (5, 6, 7):
        session.set_param("conv2d_1", "out_channels", value)
    assert session.undo_stack.count() == depth + 1
    session.set_param("conv2d_1", "kernel_size", 5)
    assert session.undo_stack.count() == depth + 2
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert session.model.snapshot() == before


def test_refused_param_changes_nothing(session):
    before, depth = session.model.snapshot(), session.undo_stack.count()
    with pytest.raises(ParamError, match="at least 1"):
        session.set_param("conv2d_1", "out_channels", 0)
    assert session.model.snapshot() == before
    assert session.undo_stack.count() == depth


def test_refused_connection_gives_the_reason(session):
    depth = session.undo_stack.count()
    assert "cycle" in session.connect("linear_1", "conv2d_1")
    assert "already connected" in session.connect("input_1", "relu_1")
    assert session.undo_stack.count() == depth


def test_insert_on_edge(session):
    edge = session.model.edges[1]  # conv2d_1 -> relu_1
    _undo_redo_round_trip(session, lambda: session.insert_on_edge("BatchNorm", edge, (300, 80)))
    pairs = {(e.src, e.dst) for e in session.model.edges}
    assert {("conv2d_1", "batchnorm_1"), ("batchnorm_1", "relu_1")} <= pairs
    assert ("conv2d_1", "relu_1") not in pairs
    assert session.analysis.valid


def test_insert_keeps_merge_input_order(qtbot):
    s = DesignSession()
    s.add_node("Input", (0, 0), {"shape": [4]})
    s.add_node("Linear", (0, 0), {"out_features": 4})
    s.add_node("Concat", (0, 0))
    s.add_node("Output", (0, 0))
    s.connect("input_1", "linear_1")
    s.connect("linear_1", "concat_1")
    s.connect("input_1", "concat_1")
    s.connect("concat_1", "output_1")
    first = s.model.in_edges("concat_1")[0]
    s.insert_on_edge("ReLU", first, (0, 0))
    assert [e.src for e in s.model.in_edges("concat_1")] == ["relu_1", "input_1"]


def test_analysis_follows_edits(session, qtbot):
    assert session.analysis.nodes["linear_1"].params == 4 * 8 * 8 * 3 + 3
    with qtbot.waitSignal(session.analysis_changed, timeout=2000) as blocker:
        session.set_param("conv2d_1", "out_channels", 2)
    assert blocker.args[0].nodes["linear_1"].params == 2 * 8 * 8 * 3 + 3


def test_dirty_and_save_round_trip(session, tmp_path):
    assert not session.dirty
    session.set_param("linear_1", "out_features", 5)
    assert session.dirty
    path = session.save(tmp_path / "net.json")
    assert not session.dirty and session.path == path
    other = DesignSession()
    other.open(path)
    assert other.model == session.model and not other.dirty


def test_open_malformed_file_keeps_the_design(session, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "layerlab.design", "version": 1,
                               "nodes": [{"id": "a", "type": "Dense"}], "edges": []}))
    before, depth = session.model.snapshot(), session.undo_stack.count()
    with pytest.raises(DesignFileError, match="did you mean 'Linear'"):
        session.open(bad)
    assert session.model.snapshot() == before
    assert session.undo_stack.count() == depth


def test_training_edits_are_undoable(session):
    _undo_redo_round_trip(session, lambda: session.set_training({"epochs": 3}))
