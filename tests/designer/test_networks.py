"""Several networks in the designer: made from a selection by the Edit menu's action (one undo
step), drawn as labelled frames that follow their cards, and counted in the Summary panel."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QTransform
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from designer.canvas.node_item import WIDTH
from runtime.graph import GraphModel
from tests.runtime.designs import gan

from .test_canvas import at, drag, header_of, open_design, settle

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def one_network(model: GraphModel) -> GraphModel:
    """`model` with every node back in the main network (the designer's starting point)."""
    for node_id in model.nodes:
        model.set_network(node_id, "")
    return model


def card_rect(view, node_id: str) -> QRectF:
    item = view.canvas.node_items[node_id]
    return QRectF(item.pos(), QPointF(item.x() + WIDTH, item.y() + item.geometry.height))


def frames_wrap_their_cards(view) -> None:
    for name, ids in view.session.model.networks().items():
        if name:
            frame = view.canvas.frames.frame(name).rect
            assert all(frame.contains(card_rect(view, n)) for n in ids), name


@pytest.fixture
def window(make_window):
    win = make_window((1500, 950))
    open_design(win.canvas, one_network(gan()), centre=(500.0, 200.0))
    win.canvas.setTransform(QTransform.fromScale(0.6, 0.6))
    win.canvas.centerOn(QPointF(500.0, 200.0))
    QApplication.processEvents()
    return win


def test_make_network_from_a_clicked_selection_is_one_undo_step(window, qtbot):
    view, session = window.canvas, window.session
    vp = view.viewport()
    QTest.mouseClick(vp, LEFT, NO_MOD, header_of(view, "g_in"))
    for node_id in ("g_fc1", "g_relu", "g_fc2", "g_out"):
        QTest.mouseClick(vp, LEFT, SHIFT, header_of(view, node_id))
    assert view.selected_node_ids() == ["g_in", "g_fc1", "g_relu", "g_fc2", "g_out"]
    asked = []
    window.ask_network_name = lambda suggested: asked.append(suggested) or "generator"
    steps = session.undo_stack.count()
    window.act_make_network.trigger()
    assert asked == ["network_1"]
    assert session.model.networks()["generator"] == ["g_in", "g_fc1", "g_relu", "g_fc2", "g_out"]
    assert session.undo_stack.count() == steps + 1
    settle(qtbot, session)
    frame = view.canvas.frames.frame("generator")
    assert frame is not None and frame.label.text == "generator  ·  178 params"
    frames_wrap_their_cards(view)
    assert not frame.rect.intersects(card_rect(view, "d_in"))
    # the rest is the main network, so two networks: supervised training's one is refused
    assert "main" in window.summary.totals.text() and "generator" in window.summary.totals.text()

    session.undo_stack.undo()
    assert set(session.model.networks()) == {""}
    assert view.canvas.frames.frame("generator") is None
    assert not [i for i in view.canvas.items() if i is frame]
    session.undo_stack.redo()
    assert view.canvas.frames.frame("generator") is not None
    frames_wrap_their_cards(view)


def test_a_bad_name_changes_nothing_and_says_why(window):
    window.canvas.select_nodes(["d_in", "d_fc1"])
    window.ask_network_name = lambda suggested: "two words"
    before = window.session.model.snapshot()
    window.act_make_network.trigger()
    assert window.session.model.snapshot() == before
    assert "must be an identifier" in window.statusBar().currentMessage()


def test_remove_from_network_returns_nodes_to_the_main_network(window, qtbot):
    session = window.session
    session.replace_model(gan())
    window.canvas.select_nodes(["d_relu"])
    window.act_leave_network.trigger()
    assert session.model.nodes["d_relu"].network == ""
    assert session.model.networks()["discriminator"] == ["d_in", "d_fc1", "d_fc2", "d_out"]
    settle(qtbot, session)
    frames_wrap_their_cards(window.canvas)
    # the edges into and out of d_relu now cross networks: errors on their destinations
    crossing = [p.node for p in session.analysis.errors if "crosses" in p.message]
    assert crossing == ["d_relu", "d_fc2"]
    session.undo_stack.undo()
    assert session.model == gan()


def test_the_frame_follows_a_card_dragged_with_the_mouse_and_undo(view, session, qtbot):
    open_design(view, gan(), centre=(500.0, 250.0))
    frame = view.canvas.frames.frame("discriminator")
    before = frame.rect
    start = header_of(view, "d_fc2")
    vp = view.viewport()
    QTest.mousePress(vp, LEFT, NO_MOD, start)
    for i in range(1, 7):
        QTest.mouseMove(vp, start + QPoint(0, 20 * i))
    # live: the model has not moved yet, the frame already has
    assert session.model.nodes["d_fc2"].pos == (750.0, 320.0)
    assert frame.rect.bottom() == pytest.approx(before.bottom() + 120)
    QTest.mouseRelease(vp, LEFT, NO_MOD, start + QPoint(0, 120))
    assert session.model.nodes["d_fc2"].pos == (750.0, 440.0)
    frames_wrap_their_cards(view)
    session.undo_stack.undo()
    assert frame.rect == before


def test_frames_leave_the_canvas_inside_them_to_rubber_bands_and_quick_add(view, session):
    open_design(view, gan(), centre=(500.0, 100.0))
    frame = view.canvas.frames.frame("generator").rect
    start = QPointF(215.0, -30.0)  # between two cards, inside the frame
    assert frame.contains(start) and view.itemAt(at(view, 215, -30)) is None
    drag(view, at(view, 215, -30), at(view, 800, 100))
    assert view.selected_node_ids() == ["g_fc1", "g_relu", "g_fc2"]
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD, at(view, 215, -30))
    assert view.selected_node_ids() == []
    QTest.mouseDClick(view.viewport(), LEFT, NO_MOD, at(view, 215, -30))
    assert view.quick_add is not None and view.quick_add.isVisible()


def test_clicking_a_frame_label_selects_its_network(view, session):
    open_design(view, gan(), centre=(500.0, 200.0))
    label = view.canvas.frames.frame("discriminator").label
    centre = label.mapToScene(label.boundingRect().center())
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD, view.mapFromScene(centre))
    assert view.selected_node_ids() == ["d_in", "d_fc1", "d_relu", "d_fc2", "d_out"]


def test_a_design_without_networks_has_no_frames(view, session):
    open_design(view, one_network(gan()))
    assert view.canvas.frames.frames == {}
    session.add_node("ReLU", (0, 600))
    assert view.canvas.frames.frames == {}


def test_paste_keeps_the_copied_nodes_network_and_frames_them(view, session):
    from runtime.fragment import copy_fragment

    open_design(view, gan())
    pasted = session.paste(copy_fragment(session.model, ["d_fc1", "d_relu"]), (0.0, 200.0))
    assert [session.model.nodes[n].network for n in pasted] == ["discriminator"] * 2
    assert view.canvas.frames.frame("discriminator").node_ids[-2:] == pasted
    frames_wrap_their_cards(view)
    session.undo_stack.undo()
    assert session.model == gan()


def test_a_layer_dropped_on_an_edge_joins_that_edges_network(view, session):
    open_design(view, gan())
    edge = next(e for e in session.model.edges if e.src == "d_fc1")
    node = session.insert_on_edge("Dropout", edge, (300.0, 400.0))
    assert session.model.nodes[node].network == "discriminator"
    assert session.analysis.valid
    session.undo_stack.undo()
    assert node not in session.model.nodes
