"""The canvas: real mouse, keyboard, wheel and drop events drive the session; the items mirror
the model."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QByteArray, QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import (QDragEnterEvent, QDragMoveEvent, QDropEvent, QFontMetrics, QHelpEvent,
                           QTransform, QWheelEvent)
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from designer import style
from designer.canvas import LAYER_MIME, CanvasView
from designer.canvas.labels import compact_shape, key_params_text
from designer.canvas.port_item import INPUT, OUTPUT
from designer.canvas.quick_add import search_layers
from designer.canvas.view import MAX_SCALE, MIN_SCALE
from designer.session import DesignSession
from designer.summary import SummaryModel
from runtime.cli import summary_table
from runtime.graph import Edge, GraphModel, NodeMoved
from runtime.registry import REGISTRY
from runtime.specs import TensorInfo

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


# --- designs and helpers ---------------------------------------------------------------------
def small_cnn() -> GraphModel:
    """image -> conv -> relu -> flat -> fc -> out, plus an unconnected Linear 'spare'."""
    m = GraphModel(name="small CNN")
    m.add_node("Input", {"shape": [1, 28, 28]}, (0, 0), "image")
    m.add_node("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, (270, 0), "conv")
    m.add_node("ReLU", {}, (540, 0), "relu")
    m.add_node("Flatten", {}, (810, 0), "flat")
    m.add_node("Linear", {"out_features": 10}, (1080, 0), "fc")
    m.add_node("Output", {}, (1350, 0), "out")
    for src, dst in [("image", "conv"), ("conv", "relu"), ("relu", "flat"), ("flat", "fc"),
                     ("fc", "out")]:
        m.connect(src, dst)
    m.add_node("Linear", {"out_features": 4}, (540, 240), "spare")
    return m


def open_design(view: CanvasView, model: GraphModel, centre=(400.0, 60.0)) -> None:
    """Show `model` at 100% with `centre` in the middle of the view."""
    view.session.replace_model(model)
    view.setTransform(QTransform())
    view.centerOn(QPointF(*centre))
    QApplication.processEvents()


def at(view: CanvasView, x: float, y: float) -> QPoint:
    return view.mapFromScene(QPointF(x, y))


def port_at(view: CanvasView, node_id: str, side: str, port: str) -> QPoint:
    return view.mapFromScene(view.canvas.node_items[node_id].port_scene_pos(side, port))


def header_of(view: CanvasView, node_id: str) -> QPoint:
    item = view.canvas.node_items[node_id]
    return view.mapFromScene(item.pos() + QPointF(60, 12))


def drag(view: CanvasView, start: QPoint, end: QPoint, button=LEFT, modifiers=NO_MOD,
         steps: int = 6) -> None:
    vp = view.viewport()
    QTest.mousePress(vp, button, modifiers, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, start + (end - start) * i / steps)
    QTest.mouseRelease(vp, button, modifiers, end)
    QApplication.processEvents()


def mime_for(type_id: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(LAYER_MIME, QByteArray(type_id.encode("utf-8")))
    return mime


def drag_layer_over(view: CanvasView, type_id: str, pos: QPoint) -> QMimeData:
    mime = mime_for(type_id)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPointF(pos), actions, mime, Qt.MouseButton.LeftButton, NO_MOD)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(QPointF(pos), actions, mime, Qt.MouseButton.LeftButton, NO_MOD)
    QApplication.sendEvent(view.viewport(), move)
    assert move.isAccepted()
    return mime


def drop_layer(view: CanvasView, type_id: str, pos: QPoint) -> None:
    mime = drag_layer_over(view, type_id, pos)
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      NO_MOD)
    QApplication.sendEvent(view.viewport(), drop)
    assert drop.isAccepted()
    QApplication.processEvents()


def settle(qtbot, session: DesignSession) -> None:
    """Let the session publish the analysis of the latest edits."""
    with qtbot.waitSignal(session.analysis_changed, timeout=2000):
        pass


# --- drops from the palette ------------------------------------------------------------------
def test_drop_palette_layer_creates_node_centred_at_drop_point(view, session):
    open_design(view, small_cnn())
    target = QPointF(300, 420)
    drop_layer(view, "Conv2d", view.mapFromScene(target))
    new = [n for n in session.model.nodes.values() if n.type == "Conv2d" and n.id != "conv"]
    assert len(new) == 1
    item = view.canvas.node_items[new[0].id]
    centre = item.sceneBoundingRect().center()
    assert abs(centre.x() - target.x()) <= 1.5 and abs(centre.y() - target.y()) <= 1.5
    assert (item.x(), item.y()) == new[0].pos
    assert view.selected_node_ids() == [new[0].id]
    session.undo_stack.undo()
    assert new[0].id not in view.canvas.node_items


def test_drop_refuses_foreign_mime_data(view, session):
    open_design(view, small_cnn())
    mime = QMimeData()
    mime.setText("Conv2d")
    enter = QDragEnterEvent(QPointF(at(view, 300, 420)), Qt.DropAction.CopyAction, mime, LEFT,
                            NO_MOD)
    QApplication.sendEvent(view.viewport(), enter)
    assert not enter.isAccepted()


def test_drop_on_edge_highlights_it_then_inserts_the_layer(view, session):
    open_design(view, small_cnn())
    edge = Edge("conv", "relu")
    item = view.canvas.edge_items[edge][0]
    middle = item.path.pointAtPercent(0.5)
    pos = view.mapFromScene(middle + QPointF(0, 4))  # a little off the curve still counts
    drag_layer_over(view, "BatchNorm", pos)
    assert view.drop_edge is item and item.drop_target
    drop_layer(view, "BatchNorm", pos)
    assert view.drop_edge is None
    new_id = view.selected_node_ids()[0]
    assert session.model.nodes[new_id].type == "BatchNorm"
    edges = session.model.edges
    assert edge not in edges
    assert Edge("conv", new_id) in edges and Edge(new_id, "relu") in edges
    assert Edge("conv", new_id) in view.canvas.edge_items
    session.undo_stack.undo()
    assert edge in session.model.edges and new_id not in view.canvas.node_items


# --- connecting ports ------------------------------------------------------------------------
def test_drag_from_output_to_input_connects(view, session):
    open_design(view, small_cnn())
    drag(view, port_at(view, "flat", OUTPUT, "output"), port_at(view, "spare", INPUT, "input"))
    assert Edge("flat", "spare") in session.model.edges
    assert view.last_refusal is None
    assert Edge("flat", "spare") in view.canvas.edge_items
    assert view.canvas.node_items["spare"].port(INPUT, "input").connected
    session.undo_stack.undo()
    assert Edge("flat", "spare") not in view.canvas.edge_items


def test_drag_from_input_back_to_an_output_connects(view, session):
    open_design(view, small_cnn())
    drag(view, port_at(view, "spare", INPUT, "input"), port_at(view, "relu", OUTPUT, "output"))
    assert Edge("relu", "spare") in session.model.edges


def test_connection_that_makes_a_cycle_is_refused_with_the_reason(view, session):
    open_design(view, small_cnn())
    before = session.model.snapshot()
    refusals = []
    view.refused.connect(refusals.append)
    # fc's output back into conv's input: conv already feeds fc
    drag(view, port_at(view, "fc", OUTPUT, "output"), port_at(view, "conv", INPUT, "input"))
    assert "cycle" in view.last_refusal
    assert refusals == [view.last_refusal]
    assert session.model.snapshot() == before
    assert session.undo_stack.count() == 0


def test_connection_to_an_occupied_input_is_refused(view, session):
    open_design(view, small_cnn())
    before = session.model.snapshot()
    drag(view, port_at(view, "spare", OUTPUT, "output"), port_at(view, "out", INPUT, "input"))
    assert "already connected" in view.last_refusal
    assert session.model.snapshot() == before


def test_output_to_output_is_refused_and_release_on_empty_canvas_does_nothing(view, session):
    open_design(view, small_cnn())
    before = session.model.snapshot()
    drag(view, port_at(view, "spare", OUTPUT, "output"), port_at(view, "relu", OUTPUT, "output"))
    assert "outputs" in view.last_refusal
    view.last_refusal = None
    drag(view, port_at(view, "spare", OUTPUT, "output"), at(view, 900, 400))
    assert view.last_refusal is None
    assert session.model.snapshot() == before
    assert not any(type(i).__name__ == "PreviewEdgeItem" for i in view.canvas.items())


def test_drop_connection_on_a_card_picks_its_input(view, session):
    open_design(view, small_cnn())
    drag(view, port_at(view, "relu", OUTPUT, "output"), header_of(view, "spare"))
    assert Edge("relu", "spare") in session.model.edges


def test_named_ports_and_variadic_merge_input(view, session):
    m = GraphModel()
    m.add_node("Input", {"shape": [5, 8]}, (0, 0), "q")
    m.add_node("Input", {"shape": [7, 8]}, (0, 200), "mem")
    m.add_node("MultiheadAttention", {"num_heads": 2}, (300, 0), "attn")
    m.add_node("Add", {}, (300, 300), "add")
    open_design(view, m, (300, 150))
    drag(view, port_at(view, "q", OUTPUT, "output"), port_at(view, "attn", INPUT, "query"))
    drag(view, port_at(view, "mem", OUTPUT, "output"), port_at(view, "attn", INPUT, "key"))
    assert Edge("q", "attn", "output", "query") in session.model.edges
    assert Edge("mem", "attn", "output", "key") in session.model.edges
    assert view.canvas.node_items["attn"].geometry.label_inputs
    drag(view, port_at(view, "q", OUTPUT, "output"), port_at(view, "add", INPUT, "input"))
    drag(view, port_at(view, "mem", OUTPUT, "output"), port_at(view, "add", INPUT, "input"))
    assert [e.src for e in session.model.in_edges("add")] == ["q", "mem"]
    assert view.last_refusal is None


# --- selecting ---------------------------------------------------------------------------------
def test_rubber_band_selects_the_nodes_it_touches(view, session, qtbot):
    open_design(view, small_cnn())
    seen = []
    view.selection_changed.connect(seen.append)
    drag(view, at(view, 250, -40), at(view, 700, 120))
    assert view.selected_node_ids() == ["conv", "relu"]
    assert seen[-1] == ["conv", "relu"]


def test_click_shift_click_and_ctrl_click_select(view, session):
    open_design(view, small_cnn())
    vp = view.viewport()
    QTest.mouseClick(vp, LEFT, NO_MOD, header_of(view, "conv"))
    assert view.selected_node_ids() == ["conv"]
    QTest.mouseClick(vp, LEFT, Qt.KeyboardModifier.ShiftModifier, header_of(view, "relu"))
    assert view.selected_node_ids() == ["conv", "relu"]
    QTest.mouseClick(vp, LEFT, Qt.KeyboardModifier.ShiftModifier, header_of(view, "relu"))
    assert view.selected_node_ids() == ["conv", "relu"], "shift only adds"
    QTest.mouseClick(vp, LEFT, Qt.KeyboardModifier.ControlModifier, header_of(view, "conv"))
    assert view.selected_node_ids() == ["relu"], "ctrl toggles"
    QTest.mouseClick(vp, LEFT, NO_MOD, header_of(view, "image"))
    assert view.selected_node_ids() == ["image"]
    QTest.mouseClick(vp, LEFT, NO_MOD, at(view, 700, 450))
    assert view.selected_node_ids() == []


def test_select_nodes_and_center_on_node(view, session):
    open_design(view, small_cnn())
    seen = []
    view.selection_changed.connect(seen.append)
    view.select_nodes(["fc", "conv", "nope"])
    assert view.selected_node_ids() == ["conv", "fc"]
    assert seen == [["conv", "fc"]]
    view.center_on_node("out")  # out of view at (1350, 0): centred
    centre = view.mapToScene(view.viewport().rect().center())
    expected = view.canvas.node_items["out"].sceneBoundingRect().center()
    assert abs(centre.x() - expected.x()) < 2 and abs(centre.y() - expected.y()) < 2
    view.fit_all()
    before = view.mapToScene(view.viewport().rect()).boundingRect()
    view.center_on_node("conv")  # in view already: nothing moves, the design stays whole
    assert view.mapToScene(view.viewport().rect()).boundingRect() == before
    assert view.showing_whole_design()


# --- moving --------------------------------------------------------------------------------
def test_dragging_a_node_is_one_undo_step_and_edges_follow(view, session):
    open_design(view, small_cnn())
    moves = []
    session.model_event.connect(lambda e: moves.append(e) if isinstance(e, NodeMoved) else None)
    edge_item = view.canvas.edge_items[Edge("conv", "relu")][0]
    start = header_of(view, "relu")
    vp = view.viewport()
    QTest.mousePress(vp, LEFT, NO_MOD, start)
    for i in range(1, 9):
        QTest.mouseMove(vp, start + QPoint(5 * i, 10 * i))
        # live feedback: the card and its edge move, the model does not
        assert session.model.nodes["relu"].pos == (540.0, 0.0)
    end_of_curve = edge_item.path.pointAtPercent(1.0)
    assert end_of_curve.y() == pytest.approx(view.canvas.node_items["relu"].y() + 40)
    QTest.mouseRelease(vp, LEFT, NO_MOD, start + QPoint(40, 80))
    assert session.model.nodes["relu"].pos == (580.0, 80.0)
    assert session.undo_stack.count() == 1
    assert [(m.node_id, m.new) for m in moves] == [("relu", (580.0, 80.0))]
    item = view.canvas.node_items["relu"]
    assert (item.x(), item.y()) == (580.0, 80.0)
    session.undo_stack.undo()
    assert session.model.nodes["relu"].pos == (540.0, 0.0)
    assert (item.x(), item.y()) == (540.0, 0.0)
    assert edge_item.path.pointAtPercent(1.0) == QPointF(540.0, 40.0)


def test_dragging_a_selection_moves_all_of_it_in_one_step(view, session):
    open_design(view, small_cnn())
    view.select_nodes(["conv", "relu"])
    drag(view, header_of(view, "conv"), header_of(view, "conv") + QPoint(30, 50))
    assert session.model.nodes["conv"].pos == (300.0, 50.0)
    assert session.model.nodes["relu"].pos == (570.0, 50.0)
    assert session.undo_stack.count() == 1


def test_snap_to_grid_on_release(view, session):
    open_design(view, small_cnn())
    view.set_snap_to_grid(True)
    drag(view, header_of(view, "spare"), header_of(view, "spare") + QPoint(13, 27))
    x, y = session.model.nodes["spare"].pos
    assert x % style.GRID_SIZE == 0 and y % style.GRID_SIZE == 0
    assert (x, y) == (560.0, 260.0)
    item = view.canvas.node_items["spare"]
    assert (item.x(), item.y()) == (x, y)


def test_click_without_moving_records_nothing(view, session):
    open_design(view, small_cnn())
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD, header_of(view, "conv"))
    assert session.undo_stack.count() == 0


# --- deleting -------------------------------------------------------------------------------
def test_delete_removes_node_with_its_edges_and_undo_restores_the_snapshot(view, session):
    open_design(view, small_cnn())
    before = session.model.snapshot()
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD, header_of(view, "relu"))
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert "relu" not in session.model.nodes
    assert "relu" not in view.canvas.node_items
    assert not any("relu" in (e.src, e.dst) for e in view.canvas.edge_items)
    assert len(view.canvas.edge_items) == len(session.model.edges) == 3
    session.undo_stack.undo()
    assert session.model.snapshot() == before
    assert set(view.canvas.node_items) == set(session.model.nodes)
    assert set(view.canvas.edge_items) == set(session.model.edges)


def test_backspace_deletes_a_selected_edge(view, session):
    open_design(view, small_cnn())
    item = view.canvas.edge_items[Edge("flat", "fc")][0]
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD,
                     view.mapFromScene(item.path.pointAtPercent(0.3)))
    assert item.isSelected()
    QTest.keyClick(view, Qt.Key.Key_Backspace)
    assert Edge("flat", "fc") not in session.model.edges
    assert Edge("flat", "fc") not in view.canvas.edge_items
    assert not view.canvas.node_items["fc"].port(INPUT, "input").connected
    session.undo_stack.undo()
    assert Edge("flat", "fc") in view.canvas.edge_items


def test_deleting_nodes_and_edges_together_is_one_step(view, session):
    open_design(view, small_cnn())
    before = session.model.snapshot()
    view.select_nodes(["spare"])
    view.canvas.edge_items[Edge("image", "conv")][0].setSelected(True)
    view.delete_selection()
    assert session.undo_stack.count() == 1
    session.undo_stack.undo()
    assert session.model.snapshot() == before


# --- what the cards show --------------------------------------------------------------------
def test_cards_show_key_params_shape_and_edge_labels(view, session):
    open_design(view, small_cnn())
    conv = view.canvas.node_items["conv"]
    assert conv.params_text == "out 8 · k 3 · s 1"
    assert conv.shape_text == "(batch, 8, 28, 28)"
    assert view.canvas.edge_items[Edge("conv", "relu")][0].label == "8×28×28"
    assert view.canvas.edge_items[Edge("flat", "fc")][0].label == "6272"
    assert view.canvas.node_items["out"].shape_text == "(batch, 10)"


def test_param_change_updates_shape_text_and_downstream_edge_label(view, session, qtbot):
    open_design(view, small_cnn())
    session.set_param("conv", "out_channels", 16)
    assert view.canvas.node_items["conv"].params_text.startswith("out 16")
    settle(qtbot, session)
    assert view.canvas.node_items["conv"].shape_text == "(batch, 16, 28, 28)"
    assert view.canvas.node_items["relu"].shape_text == "(batch, 16, 28, 28)"
    assert view.canvas.edge_items[Edge("conv", "relu")][0].label == "16×28×28"
    assert view.canvas.edge_items[Edge("flat", "fc")][0].label == "12544"


def test_error_node_shows_badge_border_and_tooltip_and_downstream_is_unknown(view, session,
                                                                             qtbot):
    open_design(view, small_cnn())
    session.set_param("conv", "kernel_size", 99)  # larger than the padded 28x28 image
    settle(qtbot, session)
    conv = view.canvas.node_items["conv"]
    result = session.analysis.nodes["conv"]
    assert result.status == "error"
    assert conv.status == "error" and conv.badge == "error"
    assert result.errors[0] in conv.tooltip_text()
    hover = view.mapFromScene(conv.pos() + QPointF(90, 12))
    QApplication.sendEvent(view.viewport(), QHelpEvent(QEvent.Type.ToolTip, hover,
                                                       view.viewport().mapToGlobal(hover)))
    assert result.errors[0] in QToolTip.text()
    # every symbol of the tooltip is in the font it is drawn with (a stock Linux font set has
    # no ⛔: it showed as a missing-glyph box)
    metrics = QFontMetrics(QToolTip.font())
    assert all(metrics.inFontUcs4(ord(c)) for c in conv.tooltip_text() if ord(c) > 127)
    relu = view.canvas.node_items["relu"]
    assert relu.status == "unknown" and relu.shape_text == "?"
    assert view.canvas.edge_items[Edge("conv", "relu")][0].label == ""
    session.set_param("conv", "kernel_size", 3)
    settle(qtbot, session)
    assert conv.badge == "" and "✖" not in conv.tooltip_text()


def test_warning_badge_for_a_node_that_reaches_no_output(view, session):
    open_design(view, small_cnn())
    spare = view.canvas.node_items["spare"]
    assert spare.badge in ("warning", "error")
    image = view.canvas.node_items["image"]
    assert image.badge == ""


# --- quick add ------------------------------------------------------------------------------
def test_quick_add_with_tab_typing_and_enter(view, session, qtbot):
    open_design(view, small_cnn())
    spot = at(view, 200, 250)
    QTest.mouseMove(view.viewport(), spot)
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Tab)
    popup = view.quick_add
    assert popup is not None and popup.isVisible()
    qtbot.keyClicks(popup.line_edit, "maxpool")
    listed = popup.type_ids()
    assert set(listed[:2]) == {"MaxPool1d", "MaxPool2d"}
    QTest.keyClick(popup.line_edit, Qt.Key.Key_Down)
    QTest.keyClick(popup.line_edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    new = [n for n in session.model.nodes.values() if n.type == listed[1]]
    assert len(new) == 1
    centre = view.canvas.node_items[new[0].id].sceneBoundingRect().center()
    scene_spot = view.mapToScene(spot)
    assert abs(centre.x() - scene_spot.x()) <= 1.5 and abs(centre.y() - scene_spot.y()) <= 1.5


def test_quick_add_escape_closes_and_double_click_on_empty_canvas_opens_it(view, session):
    open_design(view, small_cnn())
    QTest.mouseDClick(view.viewport(), LEFT, NO_MOD, at(view, 200, 250))
    popup = view.quick_add
    assert popup is not None and popup.isVisible()
    QTest.keyClick(popup.line_edit, Qt.Key.Key_Escape)
    assert not popup.isVisible()
    assert len(session.model.nodes) == 7


def test_double_click_on_a_node_is_reported(view, session, qtbot):
    open_design(view, small_cnn())
    with qtbot.waitSignal(view.node_double_clicked) as blocker:
        QTest.mouseDClick(view.viewport(), LEFT, NO_MOD, header_of(view, "fc"))
    assert blocker.args == ["fc"]


def test_search_layers_ranks_names_and_aliases():
    assert search_layers(REGISTRY, "relu")[0].type_id == "ReLU"
    assert search_layers(REGISTRY, "Dense")[0].type_id == "Linear"
    assert {s.type_id for s in search_layers(REGISTRY, "merge")} == {"Add", "Multiply", "Concat"}
    assert search_layers(REGISTRY, "zzzz") == []
    assert len(search_layers(REGISTRY, "")) == len(REGISTRY)


# --- zoom, pan, fit -------------------------------------------------------------------------
def wheel(view: CanvasView, pos: QPoint, delta: int) -> None:
    event = QWheelEvent(QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0),
                        QPoint(0, delta), Qt.MouseButton.NoButton, NO_MOD,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def test_wheel_zooms_about_the_cursor_and_is_clamped(view, session):
    open_design(view, small_cnn())
    cursor = QPoint(650, 420)
    under = view.mapToScene(cursor)
    wheel(view, cursor, 120)
    assert view.zoom() == pytest.approx(1.0015 ** 120)
    after = view.mapToScene(cursor)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2
    wheel(view, cursor, -240)
    assert view.zoom() < 1.0
    for _ in range(40):
        wheel(view, cursor, 120)
    assert view.zoom() == pytest.approx(MAX_SCALE)
    for _ in range(80):
        wheel(view, cursor, -120)
    assert view.zoom() == pytest.approx(MIN_SCALE)


def test_middle_drag_and_space_drag_pan(view, session):
    open_design(view, small_cnn())
    before = view.mapToScene(QPoint(100, 100))
    drag(view, QPoint(300, 300), QPoint(250, 260), button=Qt.MouseButton.MiddleButton)
    moved = view.mapToScene(QPoint(100, 100)) - before
    assert (round(moved.x()), round(moved.y())) == (50, 40)
    view.setFocus()
    QTest.keyPress(view, Qt.Key.Key_Space)
    before = view.mapToScene(QPoint(100, 100))
    drag(view, header_of(view, "conv"), header_of(view, "conv") + QPoint(-30, 0))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    moved = view.mapToScene(QPoint(100, 100)) - before
    assert round(moved.x()) == 30
    assert session.model.nodes["conv"].pos == (270.0, 0.0), "space+drag pans, not moves"
    assert view.selected_node_ids() == []


def test_fit_all_shows_every_node_and_f_key_fits(view, session):
    open_design(view, small_cnn())
    view.zoom_in()
    view.zoom_in()
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_F)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for item in view.canvas.node_items.values():
        assert visible.contains(item.sceneBoundingRect())
    assert view.zoom() <= 1.0
    z = view.zoom()
    view.zoom_out()
    assert view.zoom() == pytest.approx(z / 1.25)


# --- following the model ---------------------------------------------------------------------
def test_model_replaced_rebuilds_the_items(view, session):
    open_design(view, small_cnn())
    other = GraphModel()
    other.add_node("Input", {"shape": [4]}, (0, 0), "x")
    other.add_node("Output", {}, (300, 0), "y")
    other.connect("x", "y")
    session.replace_model(other)
    assert set(view.canvas.node_items) == {"x", "y"}
    assert set(view.canvas.edge_items) == {Edge("x", "y")}
    assert view.canvas.node_items["y"].shape_text == "(batch, 4)"
    assert all(i.scene() is view.canvas for i in view.canvas.node_items.values())


def test_edits_made_elsewhere_appear_on_the_canvas(view, session, qtbot):
    open_design(view, small_cnn())
    node_id = session.add_node("Dropout", (100, 300))
    assert node_id in view.canvas.node_items
    assert session.connect("image", node_id) is None
    assert Edge("image", node_id) in view.canvas.edge_items
    session.auto_layout()
    for nid, node in session.model.nodes.items():
        item = view.canvas.node_items[nid]
        assert (item.x(), item.y()) == node.pos
    settle(qtbot, session)
    assert view.canvas.node_items[node_id].shape_text == "(batch, 1, 28, 28)"


# --- labels ---------------------------------------------------------------------------------
def test_one_count_reads_the_same_on_the_card_in_the_summary_dock_and_in_the_cli(view, session):
    model = GraphModel(name="wide")
    model.add_node("Input", {"shape": [4096]}, (0, 0), "x")
    model.add_node("Linear", {"out_features": 300_000}, (0, 120), "fc")
    model.add_node("Output", {}, (0, 240), "y")
    model.connect("x", "fc")
    model.connect("fc", "y")
    open_design(view, model)
    table = SummaryModel(session)
    table.refresh(session.analysis)
    row = table.row_of("fc")
    params = table.index(row, SummaryModel.PARAMS).data()
    flops = table.index(row, SummaryModel.FLOPS).data()
    assert params == "1.23B" and flops == "2.46B"
    assert view.canvas.node_items["fc"].count_text == f"{params} params"
    cli_row = next(line for line in summary_table(model, session.analysis).splitlines()
                   if line.startswith("fc "))
    assert cli_row.split()[-2:] == [params, flops]


def test_compact_texts():
    assert compact_shape(TensorInfo((8, 28, 28))) == "8×28×28"
    assert compact_shape(TensorInfo((12,), "int64")) == "12 int64"
    assert compact_shape(TensorInfo(())) == "scalar"
    lstm = REGISTRY.get("LSTM")
    text = key_params_text(lstm, {"hidden_size": 32, "num_layers": 1, "bidirectional": True,
                                  "return_sequences": False})
    assert text == "hidden 32 · layers 1 · bidir"
    assert key_params_text(REGISTRY.get("Input"), {"shape": [1, 28, 28], "dtype": "float32"}) \
        == "shape 1×28×28 · float32"


def test_void_pyside_calls_do_not_use_up_none():
    """PySide6 6.12's void methods drop a reference to None on Python 3.11 (see designer/qt_compat.py); the
    canvas guards against it, or painting would abort the interpreter within seconds."""
    import sys

    from designer.qt_compat import guard_none_refcount

    guard_none_refcount()
    point = QPointF()
    for _ in range(100_000):  # without the guard None would be freed long before the end
        point.setX(1.0)
    assert sys.getrefcount(None) > 10_000


def test_bool_signals_do_not_use_up_true_and_false():
    """Emitting a bool signal to a Python slot drops a reference to the bool in PySide6 6.12 on
    Python 3.11; the guard covers True and False too (the training dock emits many)."""
    import sys

    from PySide6.QtCore import QObject, Signal

    from designer.qt_compat import guard_none_refcount

    class Emitter(QObject):
        changed = Signal(bool)

    guard_none_refcount()
    emitter = Emitter()
    emitter.changed.connect(lambda value: None)
    for _ in range(50_000):  # without the guard False would be freed long before the end
        emitter.changed.emit(False)
        emitter.changed.emit(True)
    assert sys.getrefcount(False) > 10_000 and sys.getrefcount(True) > 10_000


def test_a_long_design_opens_readable_at_its_start(view, session):
    m = GraphModel(name="long chain")
    m.add_node("Input", {"shape": [4]}, (0, 0), "x")
    prev = "x"
    for i in range(20):
        m.add_node("ReLU", {}, (270 * (i + 1), 0), f"r{i}")
        m.connect(prev, f"r{i}")
        prev = f"r{i}"
    session.replace_model(m)
    QApplication.processEvents()
    from designer.canvas.view import READABLE_SCALE
    assert view.zoom() == pytest.approx(READABLE_SCALE)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.canvas.node_items["x"].sceneBoundingRect())
    view.fit_all()  # Fit still shows everything, however small
    assert view.zoom() < READABLE_SCALE


def test_an_empty_canvas_says_how_to_start_and_the_hint_goes_with_the_first_node(view, session,
                                                                                  monkeypatch):
    assert "Drag a layer" in view.empty_hint()
    with_hint = view.viewport().grab().toImage()
    monkeypatch.setattr(view, "empty_hint", lambda: "")
    view.viewport().update()
    without = view.viewport().grab().toImage()
    w, h = with_hint.width(), with_hint.height()
    drawn = sum(with_hint.pixelColor(x, y) != without.pixelColor(x, y)
                for x in range(w // 4, 3 * w // 4, 3) for y in range(h // 2 - 30, h // 2 + 30, 2))
    assert drawn > 50  # the hint's words, in the middle of the canvas
    monkeypatch.undo()
    session.add_node("Input", (0, 0))
    assert view.empty_hint() == ""
