"""The live plots stay readable at the default window's panel sizes (#15): distinct layer colours,
no legend eating the gradient plot, hover and click naming a layer, axes whose labels never
overlap, and short panels that keep their x axis."""
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QPainter
from PySide6.QtWidgets import QApplication

from designer.live_stats import format_stat
from designer.plots import (CHOSEN_WIDTH, LAYER_WIDTH, GradientPlot, LearningRatePlot, StatsPlot,
                            depth_color)
from designer.run_data import RunRecord
from runtime.training import events as ev
from runtime.training.statistics import STATISTICS

#: The gradient plot's size in the default 1400x860 window.
DEFAULT_SIZE = (380, 230)


def lab(color) -> np.ndarray:
    """CIELAB of a QColor (D65), to measure how different two colours look."""
    rgb = np.array(color.getRgbF()[:3])
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def layered_run(count: int, epochs: int = 10) -> RunRecord:
    """A run of a chain of `count` Linear layers whose gradient norms are measured each epoch,
    layer k's at 10^-(k/3) times a slow decay (the deeper, the smaller)."""
    names = [f"layer{k}" for k in range(count)]
    nodes = [{"id": "x", "type": "Input"}] + [{"id": n, "type": "Linear"} for n in names]
    edges = [{"source": a, "target": b} for a, b in zip(["x", *names], names)]
    run = RunRecord(1, {"nodes": nodes, "edges": edges})
    run.apply([ev.FitStart("t", "spirals", "cpu", epochs, 1, 1, 8, 8, 0, 10, 10,
                           "classification", 2, 0.1, False)])
    run.apply([ev.Monitor(e, e, {n: {"grad_norm": value(k, e)} for k, n in enumerate(names)})
               for e in range(1, epochs + 1)])
    return run


def value(layer: int, epoch: int) -> float:
    return 10 ** (-layer / 3) * 0.9 ** epoch


@pytest.fixture
def shown(qtbot):
    """Shows a widget at a size and lets it lay out."""
    def show(widget, size=DEFAULT_SIZE):
        qtbot.addWidget(widget)
        widget.resize(*size)
        widget.show()
        qtbot.waitExposed(widget)
        qtbot.wait(20)
        return widget
    return show


def test_neighbouring_layers_get_clearly_different_colours_that_read_on_the_dark_background():
    for count in (11, 25):
        colors = [lab(depth_color(p, count)) for p in range(count)]
        steps = [np.linalg.norm(b - a) for a, b in zip(colors, colors[1:])]
        assert min(steps) > 7.0, count  # CIELAB distance: visibly different side by side
        assert min(c[0] for c in colors) > 40.0  # lightness: not the map's near-black end
    # the first and the last layer are far apart, the same in a shallow and a deep design
    assert np.linalg.norm(lab(depth_color(0, 25)) - lab(depth_color(24, 25))) > 60
    assert depth_color(0, 3) == depth_color(0, 25) and depth_color(2, 3) == depth_color(24, 25)


def test_twenty_layers_leave_the_gradient_plot_its_room_and_its_x_axis(shown):
    plot = shown(GradientPlot())
    plot.show_run(layered_run(20))
    plot.repaint()
    view = plot.item.vb
    assert view.width() >= 0.6 * plot.width()
    assert view.height() >= 0.55 * plot.height()
    bottom = plot.item.getAxis("bottom")
    assert bottom.isVisible() and bottom.mapRectToScene(bottom.boundingRect()).bottom() <= \
        plot.height() + 1  # the x axis's tick labels are inside the widget
    names = plot.labels.shown()
    assert "layer0" in names and "layer19" in names  # the first and the last are named
    heights = sorted(names.values())
    line = plot.labels.metrics.height()
    assert all(b - a >= line - 0.01 for a, b in zip(heights, heights[1:]))  # never overlapping
    assert plot.legend is not None and not plot.legend.isVisible()  # no per-layer legend


def test_names_that_would_overlap_are_left_out_but_the_chosen_one_is_kept(shown):
    plot = shown(GradientPlot())
    run = layered_run(25)
    for k in range(25):  # all curves end at the same value: their names would pile up
        run.node_stats[f"layer{k}"]["grad_norm"].y[-1] = 0.01
    plot.show_run(run)
    plot.set_chosen("layer13")
    plot.repaint()
    names = plot.labels.shown()
    assert "layer13" in names and len(names) < 25
    heights = sorted(names.values())
    assert all(b - a >= plot.labels.metrics.height() - 0.01
               for a, b in zip(heights, heights[1:]))


def point_of(plot: GradientPlot, epoch: float, grad: float):
    """Where a sample is drawn, in the plot's viewport coordinates."""
    scene = plot.item.vb.mapViewToScene(QPointF(epoch, np.log10(grad)))
    return plot.mapFromScene(scene)


def move_mouse(widget, pos) -> None:
    """A real mouse move over `widget` (QTest's does not reach a QGraphicsView offscreen)."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(widget.mapToGlobal(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_hovering_names_the_nearest_layer_and_its_value_at_that_epoch(shown, qtbot):
    plot = shown(GradientPlot())
    plot.show_run(layered_run(11))
    qtbot.wait(50)  # the view takes the data's range when it paints
    move_mouse(plot.viewport(), point_of(plot, 4, value(6, 4)))
    qtbot.waitUntil(lambda: plot.hover_text.isVisible())
    text = plot.hover_text.textItem.toPlainText()
    assert text.startswith("layer6\n") and "epoch 4.00" in text
    assert format_stat(STATISTICS["grad_norm"], value(6, 4)) in text  # as the canvas writes it


def test_clicking_a_curve_or_its_name_emits_its_node_and_choosing_a_node_thickens_its_curve(
        shown, qtbot):
    plot = shown(GradientPlot())
    plot.show_run(layered_run(11))
    qtbot.wait(50)  # the view takes the data's range when it paints
    with qtbot.waitSignal(plot.layer_clicked) as clicked:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=point_of(plot, 5, value(3, 5)))
    assert clicked.args == ["layer3"]
    plot.repaint()
    y = plot.labels.shown()["layer0"]
    where = plot.mapFromScene(plot.labels.mapToScene(QPointF(12, y)))
    with qtbot.waitSignal(plot.layer_clicked) as clicked:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert clicked.args == ["layer0"]

    plot.set_chosen("layer3")
    pens = {n: c.opts["pen"] for n, c in plot.curves.items()}
    assert pens["layer3"].widthF() == CHOSEN_WIDTH and pens["layer3"].color().alpha() == 255
    assert all(p.color().alpha() < 255 for n, p in pens.items() if n != "layer3")  # dimmed
    plot.set_chosen("relu")  # a node without a gradient curve: all drawn as usual
    assert all(c.opts["pen"].widthF() == LAYER_WIDTH and c.opts["pen"].color().alpha() == 255
               for c in plot.curves.values())


def label_rects(axis) -> list:
    """The rectangles the axis draws its tick labels in."""
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [rect for rect, _flags, _text in texts]


@pytest.mark.parametrize("height", [105, 160])  # the default window's is ~105
def test_learning_rate_tick_labels_never_overlap(shown, qtbot, height):
    plot = shown(LearningRatePlot(), (300, height))
    run = RunRecord(1, {"nodes": [], "edges": []})
    run.lr.append(0.0, 0.002)
    run.lr.append(5.0, 0.001)
    plot.show_run(run)
    axis = plot.item.getAxis("left")
    qtbot.waitUntil(lambda: bool(label_rects(axis)), timeout=2000)  # labelled once it follows the view
    rects = sorted(label_rects(axis), key=lambda r: r.top())
    assert all(not a.intersects(b) for a, b in zip(rects, rects[1:]))


def test_short_activation_statistics_keep_their_x_axis_and_name_their_curves(shown):
    plot = shown(StatsPlot("activation"), (305, 115))
    plot.set_subject("block2_conv1")
    title = plot.item.titleLabel.text
    for word in ("block2_conv1", "mean", "std", "dead"):
        assert word in title
    assert plot.legend is None  # the title is the key
    plot.repaint()
    bottom = plot.item.getAxis("bottom")
    assert bottom.mapRectToScene(bottom.boundingRect()).bottom() <= plot.height() + 1
    assert plot.item.vb.height() >= 0.35 * plot.height()


def test_a_flat_learning_rate_in_a_short_plot_still_has_its_value_labelled(shown, qtbot):
    plot = shown(LearningRatePlot(), (300, 80))  # the view box is ~30 px tall
    run = RunRecord(1, {"nodes": [], "edges": []})
    run.lr.append(0.0, 0.02)
    run.lr.append(30.0, 0.02)
    plot.show_run(run)
    axis = plot.item.getAxis("left")

    def labels() -> set[str]:
        image = QImage(10, 10, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        texts = {text for _, _, text in axis.generateDrawSpecs(painter)[2]}
        painter.end()
        return texts

    # pyqtgraph dropped both labels: each reached a pixel past the 28 px plot's top or bottom
    qtbot.waitUntil(lambda: plot.item.vb.height() < 40 and labels() >= {"0", "0.02"},
                    timeout=2000)
