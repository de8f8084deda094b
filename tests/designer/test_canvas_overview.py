"""A canvas you can read from afar: zoomed-out cards keep their type and shape legible, wrapped
layouts fit the window, wrapped edges run between the bands, and the overview map navigates."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QApplication

from designer.canvas.edge_item import WRAP_CORNER, WRAP_RISE, bezier
from designer.canvas.node_item import DETAIL_LOD, NodeItem, overview_shape
from designer.canvas.view import OVERVIEW_SCALE, READABLE_SCALE
from runtime.graph import GraphModel
from runtime.preset_files import preset_names, preset_path

LEFT = Qt.MouseButton.LeftButton


def long_chain(length: int = 24) -> GraphModel:
    """Input -> Linear/ReLU pairs -> Output, all on one row (as a hand-placed design may be)."""
    m = GraphModel(name="long chain")
    m.add_node("Input", {"shape": [16]}, (0, 0), "x")
    prev = "x"
    for i in range(length):
        node = m.add_node("Linear" if i % 2 == 0 else "ReLU",
                          {"out_features": 16} if i % 2 == 0 else {}, (270 * (i + 1), 0),
                          f"n{i}").id
        m.connect(prev, node)
        prev = node
    m.add_node("Output", {}, (270 * (length + 1), 0), "y")
    m.connect(prev, "y")
    return m


def card_pixels(view, node_id: str):
    """The card's pixels as the viewport shows them."""
    rect = view.mapFromScene(view.canvas.node_items[node_id].sceneBoundingRect()).boundingRect()
    return view.viewport().grab(rect).toImage()


def changed_pixels(a, b) -> int:
    return sum(a.pixelColor(x, y) != b.pixelColor(x, y)
               for x in range(min(a.width(), b.width())) for y in range(min(a.height(),
                                                                           b.height())))


def test_the_compact_shape_of_a_zoomed_out_card_leaves_the_batch_out():
    assert overview_shape("(batch, 16, 24, 24)") == "16×24×24"
    assert overview_shape("(batch, 12) int64") == "12 int64"
    assert overview_shape("?") == "?"


@pytest.mark.parametrize("zoom", [0.5, 0.7])
def test_a_zoomed_out_card_draws_its_type_in_screen_sized_text(view, session, zoom,
                                                               monkeypatch):
    session.replace_model(long_chain(2))
    QApplication.processEvents()
    view.setTransform(QTransform.fromScale(zoom, zoom))
    view.centerOn(view.canvas.node_items["n0"].sceneBoundingRect().center())
    item = view.canvas.node_items["n0"]
    top, title, shape = item._overview_layout(zoom)
    assert title and zoom < DETAIL_LOD
    with_text = card_pixels(view, "n0")
    monkeypatch.setattr(NodeItem, "_paint_overview", lambda *args: None)
    item.update()
    without = card_pixels(view, "n0")
    assert changed_pixels(with_text, without) > 60  # "Dense (Linear)" at 12 px, not a blur


def test_a_tiny_card_is_a_coloured_box_without_text(view, session):
    session.replace_model(long_chain(2))
    item = view.canvas.node_items["n0"]
    assert item._overview_layout(0.1) == (item.geometry.height, False, False)
    top, title, shape = item._overview_layout(DETAIL_LOD - 0.01)
    assert title and shape and top < item.geometry.height  # the shape has a line of its own


def test_a_forward_edge_is_a_curve_and_a_wrapped_edge_runs_along_the_gap_above_its_input():
    forward = bezier(QPointF(0, 0), QPointF(200, 30))
    assert forward.elementCount() == 4  # one cubic
    start, end = QPointF(1000, 0), QPointF(0, 300)
    path = bezier(start, end)
    rect = path.boundingRect()
    assert rect.right() == pytest.approx(start.x() + WRAP_CORNER)
    assert rect.left() == pytest.approx(end.x() - WRAP_CORNER)
    assert rect.top() == pytest.approx(0) and rect.bottom() == pytest.approx(300)
    run = path.pointAtPercent(0.5)
    assert run.y() == pytest.approx(end.y() - WRAP_RISE)  # the long stretch is in the gap
    assert path.pointAtPercent(0.0) == start and path.pointAtPercent(1.0) == end


def test_auto_layout_wraps_a_long_design_to_the_view_and_shows_it_whole(view, session):
    session.replace_model(long_chain(24))
    QApplication.processEvents()
    before = session.model.snapshot()
    view.layout_design()
    QApplication.processEvents()
    rows = {node.pos[1] for node in session.model.nodes.values()}
    assert len(rows) > 1
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.canvas.itemsBoundingRect())
    assert view.zoom() >= OVERVIEW_SCALE
    session.undo_stack.undo()
    assert session.model.snapshot() == before


def test_auto_layout_of_a_selection_tidies_it_in_place_without_wrapping(view, session):
    session.replace_model(long_chain(24))
    chosen = [f"n{i}" for i in range(8)]
    view.layout_design(chosen)
    assert len({session.model.nodes[n].pos[1] for n in chosen}) == 1


def test_the_overview_map_shows_while_part_of_the_design_is_out_of_view(view, session, qtbot):
    session.replace_model(long_chain(24))
    QApplication.processEvents()
    assert view.zoom() == pytest.approx(READABLE_SCALE)  # too long to show whole, legibly
    overview = view.overview_map
    qtbot.waitUntil(overview.isVisible)
    assert overview.geometry().right() < view.width() and overview.geometry().bottom() < \
        view.height()
    # a click on the far end of the map's picture brings the end of the design into view
    end = view.canvas.node_items["y"].sceneBoundingRect().center()
    on_map = QPointF((end.x() - overview._bounds.left()) * overview.width()
                     / overview._bounds.width(),
                     (end.y() - overview._bounds.top()) * overview.height()
                     / overview._bounds.height())
    assert overview.to_scene(on_map).x() == pytest.approx(end.x())
    qtbot.mouseClick(overview, LEFT, pos=on_map.toPoint())
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(end)
    view.fit_all()  # everything in view: no map
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not overview.isVisible())


def test_the_overview_map_can_be_turned_off(view, session, qtbot):
    session.replace_model(long_chain(24))
    QApplication.processEvents()
    qtbot.waitUntil(view.overview_map.isVisible)
    view.set_overview_map(False)
    assert not view.overview_map.isVisible()
    view.centerOn(QPointF(3000, 0))
    QApplication.processEvents()
    assert not view.overview_map.isVisible()
    view.set_overview_map(True)
    assert view.overview_map.isVisible()


def test_the_overview_map_drags_the_view_along(view, session, qtbot):
    session.replace_model(long_chain(24))
    QApplication.processEvents()
    overview = view.overview_map
    qtbot.waitUntil(overview.isVisible)
    start = view.mapToScene(view.viewport().rect().center())
    middle = QPoint(overview.width() // 2, overview.height() // 2)
    qtbot.mousePress(overview, LEFT, pos=middle)
    qtbot.mouseMove(overview, middle + QPoint(40, 0))
    qtbot.mouseRelease(overview, LEFT, pos=middle + QPoint(40, 0))
    moved = view.mapToScene(view.viewport().rect().center())
    assert moved.x() > start.x() + 100


# --- labels at a merge input -----------------------------------------------------------------
def fan_in(branches: int) -> GraphModel:
    """x -> `branches` ReLUs stacked in a column -> one Add -> out."""
    m = GraphModel(name="fan in")
    m.add_node("Input", {"shape": [8]}, (0, 0), "x")
    m.add_node("Add", {}, (600, 0), "add")
    for j in range(branches):
        m.add_node("ReLU", {}, (300, 60 * j), f"b{j}")
        m.connect("x", f"b{j}")
        m.connect(f"b{j}", "add")
    m.add_node("Output", {}, (900, 0), "out")
    m.connect("add", "out")
    return m


def test_a_label_crossed_by_another_curve_into_the_same_input_is_hidden_until_it_clears(view,
                                                                                        session):
    from runtime.graph import Edge
    m = GraphModel(name="two into one")
    m.add_node("Input", {"shape": [8]}, (0, 0), "x")
    m.add_node("ReLU", {}, (300, 0), "a")
    m.add_node("ReLU", {}, (300, 16), "b")  # its curve runs right along a's
    m.add_node("Add", {}, (900, 300), "add")
    for src, dst in (("x", "a"), ("x", "b"), ("a", "add"), ("b", "add")):
        m.connect(src, dst)
    session.replace_model(m)
    QApplication.processEvents()
    into_a = view.canvas.edge_items[Edge("a", "add")][0]
    assert into_a.label and into_a.label_clear
    assert not into_a.label_visible  # b's curve crosses it
    session.move_nodes({"b": ((300, 16), (300, 700))})  # b's curve now arrives from below
    assert into_a.label_visible
    session.undo_stack.undo()
    assert not into_a.label_visible


def test_moving_one_branch_of_a_wide_merge_checks_that_input_once(view, session, monkeypatch):
    import designer.canvas.scene as scene_module
    session.replace_model(fan_in(120))
    QApplication.processEvents()
    checked = []
    real = scene_module.fit_crowd
    monkeypatch.setattr(scene_module, "fit_crowd", lambda items: (checked.append(len(items)),
                                                                  real(items)))
    view.canvas.node_items["b7"].setPos(QPointF(320, 430))  # as a drag step does
    assert checked == [120]  # one vectorised check of the 120 edges into the Add, not 120


def test_opening_another_design_never_shows_the_last_one_s_map(view, session, qtbot):
    session.replace_model(long_chain(24))
    QApplication.processEvents()
    qtbot.waitUntil(view.overview_map.isVisible)
    session.replace_model(long_chain(2))  # fits: no map, and none of the long chain's
    assert not view.overview_map.isVisible()
    qtbot.wait(400)
    assert not view.overview_map.isVisible()


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_opens_whole_and_legible_in_the_default_window(make_window, name):
    window = make_window()  # the window's own default size
    window.open_preset(preset_path(name))
    QApplication.processEvents()
    view = window.canvas
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert view.zoom() >= OVERVIEW_SCALE
    assert visible.contains(view.canvas.itemsBoundingRect()), name


def test_a_design_shown_whole_stays_whole_when_the_canvas_shrinks_until_the_user_moves(view,
                                                                                       session,
                                                                                       qtbot):
    session.replace_model(long_chain(6))
    QApplication.processEvents()
    view.fit_all()

    def whole() -> bool:
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        return visible.contains(view.canvas.itemsBoundingRect())

    assert whole() and view.showing_whole_design()
    view.resize(view.width(), view.height() // 2)  # e.g. the plots dock grows on Train
    QApplication.processEvents()
    assert whole()
    view.zoom_in()  # the user's own zoom: left as they set it
    assert not view.showing_whole_design()
    zoom = view.zoom()
    view.resize(view.width(), view.height() + 100)
    QApplication.processEvents()
    assert view.zoom() == pytest.approx(zoom)


def test_a_wrapped_design_too_big_to_show_legibly_opens_at_its_top_left(view, session):
    m = long_chain(60)
    from designer import style
    from runtime.layout import auto_layout
    for node_id, pos in auto_layout(m, x_gap=style.LAYOUT_X_GAP, y_gap=style.LAYOUT_Y_GAP,
                                    fit=(1600.0, 900.0)).items():
        m.move(node_id, pos)
    session.replace_model(m)
    QApplication.processEvents()
    assert view.zoom() == pytest.approx(READABLE_SCALE)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.canvas.node_items["x"].sceneBoundingRect())  # the Input


def test_a_whole_design_stays_whole_when_pictures_grow_under_its_cards(view, session, qtbot):
    from PySide6.QtGui import QPixmap
    session.replace_model(long_chain(6))
    QApplication.processEvents()
    view.fit_all()
    picture = QPixmap(160, 3000)  # taller than the view shows: it must zoom out for it
    picture.fill()
    view.canvas.set_layer_outputs({"y": ("caption", picture, "tip")})

    def whole() -> bool:
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        return visible.contains(view.canvas.itemsBoundingRect())

    qtbot.waitUntil(whole)
    assert view.showing_whole_design()


def test_a_picture_under_a_card_shrinks_to_end_above_the_next_card_down(view, session):
    from PySide6.QtGui import QPixmap
    from designer.canvas.scene import LIVE_TAG_ROOM
    m = GraphModel(name="two rows")
    m.add_node("Input", {"shape": [16]}, (0, 0), "x")
    m.add_node("ReLU", {}, (0, 240), "below")  # the next row down
    m.add_node("ReLU", {}, (400, 0), "alone")  # nothing under it
    m.connect("x", "below")
    session.replace_model(m)
    picture = QPixmap(160, 160)
    picture.fill()
    view.canvas.set_layer_outputs({"x": ("x", picture, ""), "alone": ("alone", picture, "")})
    squeezed, free = view.canvas.layer_output("x"), view.canvas.layer_output("alone")
    bottom = squeezed.sceneBoundingRect().bottom()
    assert bottom <= 240 - LIVE_TAG_ROOM + 0.5  # clear of the card below and its value tag
    assert squeezed.sceneBoundingRect().height() < free.sceneBoundingRect().height()
    assert free.sceneBoundingRect().height() > 160  # room enough: full size
