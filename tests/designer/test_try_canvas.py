"""The forward pass made visible on the canvas (#13): draw on the Try it pad and each node card
shows its output for that drawing; the View menu switches it off, edits and other designs clear it.
Driven with real mouse and keyboard events where a user would use them."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from designer.try_views import CARD

from .trained import PRESETS, train

CONVS = {"conv1": 16, "conv2": 32}  # their channels
DENSE = ["flat", "fc1", "relu3", "drop", "fc2"]


def _trying(make_window, digits_run):
    win = make_window((1400, 900))
    win.open_preset(PRESETS / "lenet-digits.json")
    assert win.try_panel.load_run(digits_run)
    win.show_side_tab(win.try_panel)
    return win, win.canvas.canvas, win.try_panel


def _settled(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=2000)


def _draw(qtbot, panel, column: int) -> None:
    """Clear the pad and draw a vertical stroke down `column`, as a user would."""
    pad = panel.editor
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    _settled(qtbot, panel)
    cell = pad.cell
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(column * cell, cell))
    for row in range(2, 8):
        qtbot.mouseMove(pad, QPoint(column * cell, row * cell))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(column * cell, 7 * cell))
    _settled(qtbot, panel)


def _tiles(pixmap) -> tuple[int, int]:
    """(columns, rows) of pictures in a grid: runs of opaque pixels between transparent gaps."""
    image = pixmap.toImage().convertToFormat(pixmap.toImage().Format.Format_ARGB32)
    alpha = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine() // 4, 4)[:, :image.width(), 3]

    def runs(filled: np.ndarray) -> int:
        return int(filled[0]) + int(np.sum(filled[1:] & ~filled[:-1]))
    return runs(alpha.any(axis=0)), runs(alpha.any(axis=1))


def _image(scene, node_id: str):
    return scene.layer_output(node_id).pixmap.toImage()


def test_drawing_shows_each_layers_output_under_its_card(make_window, qtbot, digits_run):
    win, scene, panel = _trying(make_window, digits_run)
    _draw(qtbot, panel, 2)
    for node_id, channels in CONVS.items():
        view = scene.layer_output(node_id)
        assert _tiles(view.pixmap) == (4, 2)  # the first 8 feature maps, 4 to a row
        assert view.caption.endswith(f"+{channels - 8} more")
    assert scene.layer_output("pool1").caption.startswith("16×4×4")
    for node_id in DENSE:  # a heat strip of values
        view = scene.layer_output(node_id)
        assert "values" in view.caption and view.pixmap.height() == CARD.strip_h
    assert scene.layer_output("fc1").caption.startswith("64 values")
    answer = panel.class_name(panel.prediction.predicted)
    assert scene.layer_output("out").caption == panel.answer.text() == (
        f"{answer} ({panel.prediction.probabilities.max():.0%})")
    assert scene.layer_output("image").caption == "1×8×8 · the input"
    # attached under the card, never over its text or ports
    card, view = scene.node_items["conv1"], scene.layer_output("conv1")
    assert view.parentItem() is card
    assert view.sceneBoundingRect().top() > card.scenePos().y() + card.geometry.height
    assert view.sceneBoundingRect().width() <= card.geometry.body.boundingRect().width()
    canvas = win.canvas  # hovering the picture tells the node, the shape and the value range
    hover = canvas.mapFromScene(view.sceneBoundingRect().center())
    QApplication.sendEvent(canvas.viewport(), QHelpEvent(
        QEvent.Type.ToolTip, hover, canvas.viewport().mapToGlobal(hover)))
    assert QToolTip.text().startswith("conv1: output 16×8×8, values ") and "…" in QToolTip.text()

    # the views follow a new drawing
    before = {n: _image(scene, n) for n in ("conv1", "fc1", "image")}
    _draw(qtbot, panel, 6)
    assert all(_image(scene, n) != before[n] for n in before)
    assert scene.layer_output("image").caption == "1×8×8 · the input"


def test_the_view_menu_switches_the_layer_outputs_off_and_on(make_window, qtbot, digits_run):
    win, scene, panel = _trying(make_window, digits_run)
    _draw(qtbot, panel, 3)
    view_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&View")
    action = next(a for a in view_menu.actions() if a.text() == "Show Layer &Outputs on Canvas")
    assert action is win.act_layer_outputs and action.isCheckable() and action.isChecked()
    assert scene.layer_output("conv1") is not None
    action.trigger()  # what choosing it in the menu does
    assert not action.isChecked() and all(scene.layer_output(n) is None for n in scene.node_items)
    _draw(qtbot, panel, 5)  # off means no pictures, however the input changes
    assert all(scene.layer_output(n) is None for n in scene.node_items)
    action.trigger()
    assert scene.layer_output("conv1") is not None and scene.layer_output("out") is not None
    panel.show_message("Cannot try this run")  # the panel lost its run: nothing to show
    assert all(scene.layer_output(n) is None for n in scene.node_items)


def test_deleting_a_node_clears_what_no_longer_matches_the_run(make_window, qtbot, digits_run):
    win, scene, panel = _trying(make_window, digits_run)
    _draw(qtbot, panel, 4)
    view = win.canvas
    card = scene.node_items["pool1"]
    at = view.mapFromScene(card.scenePos() + card.boundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert view.selected_node_ids() == ["pool1"]
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert "pool1" not in win.session.model.nodes
    after = ["conv2", "relu2", "pool2", "flat", "fc1", "relu3", "drop", "fc2", "out"]
    qtbot.waitUntil(lambda: all(scene.layer_output(n) is None for n in after), timeout=2000)
    assert all(scene.layer_output(n) is not None for n in ("image", "conv1", "relu1"))
    _draw(qtbot, panel, 2)  # a new drawing does not bring back what no longer matches
    assert scene.layer_output("conv2") is None and scene.layer_output("conv1") is not None
    win.act_undo.trigger()
    qtbot.waitUntil(lambda: all(scene.layer_output(n) is not None for n in after),
                    timeout=2000)


def test_opening_another_design_clears_the_layer_outputs(make_window, qtbot, digits_run):
    win, scene, panel = _trying(make_window, digits_run)
    _draw(qtbot, panel, 4)
    assert scene.layer_output("conv1") is not None
    win.open_preset(PRESETS / "mlp-spirals.json")
    assert scene.node_items and all(scene.layer_output(n) is None for n in scene.node_items)
    _draw(qtbot, panel, 5)  # the digits run tells nothing about the spirals network
    assert all(scene.layer_output(n) is None for n in scene.node_items)
    win.open_preset(PRESETS / "lenet-digits.json")
    assert all(scene.layer_output(n) is None for n in scene.node_items)
    _draw(qtbot, panel, 3)  # the design the run trained again: its pictures come back
    assert scene.layer_output("conv1") is not None


def test_attention_layers_show_where_each_token_looked(make_window, qtbot, tmp_path):
    win = make_window((1400, 900))
    win.open_preset(PRESETS / "transformer-majority.json")
    assert win.try_panel.load_run(train(tmp_path, "transformer-majority", 1, n_samples=300))
    scene, editor = win.canvas.canvas, win.try_panel.editor
    before = _image(scene, "encoder1")
    editor.edit.clear()
    qtbot.keyClicks(editor.edit, " ".join(["3"] * 16))
    _settled(qtbot, win.try_panel)
    for node_id in ("encoder1", "encoder2"):  # one map per head, 4 heads
        view = scene.layer_output(node_id)
        assert view.caption == "attention · 4 heads" and _tiles(view.pixmap) == (4, 1)
    assert _image(scene, "encoder1") != before
    assert scene.layer_output("embed").caption == "16×32 · steps across"
    assert scene.layer_output("tokens").caption == "16 · the input"


def test_the_pictures_are_left_out_when_zoomed_far_out(make_window, qtbot, digits_run):
    win, scene, panel = _trying(make_window, digits_run)
    _draw(qtbot, panel, 3)
    canvas, view = win.canvas, scene.layer_output("conv1")

    def brightest(zoom: float) -> int:
        canvas.resetTransform()
        canvas.scale(zoom, zoom)
        canvas.centerOn(canvas.canvas.node_items["conv1"].sceneBoundingRect().center())
        rect = canvas.mapFromScene(view.sceneBoundingRect()).boundingRect()
        image = canvas.viewport().grab(rect).toImage()
        return max(QColor(image.pixel(x, y)).lightness()
                   for x in range(image.width()) for y in range(image.height()))
    assert brightest(1.0) > 200  # white in the feature maps
    assert brightest(0.3) > 200  # still there when the cards' text is gone
    shown = brightest(0.15)
    view.hide()
    assert shown == brightest(0.15)  # nothing drawn there: the canvas as it is without it


def test_the_try_it_tab_fits_the_default_window_without_overlapping(make_window, qtbot,
                                                                    digits_run):
    win = make_window()  # the window's own default size
    size = (win.width(), win.height())
    win.open_preset(PRESETS / "lenet-digits.json")
    assert win.try_panel.load_run(digits_run)
    win.show_side_tab(win.try_panel)
    _draw(qtbot, win.try_panel, 3)
    QApplication.processEvents()
    assert (win.width(), win.height()) == size  # it grew to 862 px before
    panel = win.try_panel
    pad = panel.editor.geometry()
    button = panel.pick_button.geometry()
    body = panel.scroll_area.widget()
    pad_bottom = panel.editor.mapTo(body, pad.bottomLeft() - pad.topLeft()).y()
    button_top = panel.pick_button.mapTo(body, button.topLeft() - button.topLeft()).y()
    assert pad_bottom <= button_top  # the pad no longer runs over its buttons
    assert panel.strip.height() >= 150  # the layer strip is readable; the tab scrolls instead
