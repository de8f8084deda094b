"""Live training plots (pyqtgraph): loss, metrics, learning rate, per-layer gradients, and the
selected layer's activations and weights; kept runs selected in the Runs tab are overlaid on the
loss and the gradients here (and on the metric by training_plots.py).

Every curve is created once and then only fed with `setData`; a plot redraws only when its run's
`version` moved since it last drew. Nothing is drawn over the data: curves are named in the title
(train, validation, statistics), in a legend under the plot (kept runs), or, in the gradient
plot, at their right ends (plot_labels.py), so the plots keep their axes at the default window
size.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import (QGraphicsItem, QGridLayout, QHBoxLayout, QLabel, QSizePolicy,
                               QVBoxLayout, QWidget)

from runtime.errors import TrainingError
from runtime.training.metrics import metric_spec
from runtime.training.statistics import HISTOGRAMS, STAT_GROUPS, STATISTICS

from .live_stats import format_stat
from .plot_labels import CurveName, EndLabels, Sample, nearest_sample
from .run_data import RunRecord, Series

# no antialiasing: plots repaint many times a second during training
pg.setConfigOptions(background="#161a1f", foreground="#c9d1d9", antialias=False)

TRAIN = QColor("#58a6ff")
VAL = QColor("#f0883e")
LR = QColor("#d2a8ff")
#: Colours of categories (Tableau 10): classes in the results and the Try it tab.
NODE_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
               "#ff9da7", "#9c755f", "#bab0ac")
#: Colours of earlier runs overlaid on the loss plot.
RUN_COLORS = ("#8b949e", "#7ee787", "#ff7b72", "#d2a8ff", "#ffa657", "#79c0ff")
BAND_LOW = QColor(76, 142, 247, 38)
BAND_HIGH = QColor(229, 83, 75, 38)


def _pen(color: QColor | str, width: float = 1.6, dashed: bool = False,
         alpha: int = 255, style: Qt.PenStyle | None = None) -> pg.QtGui.QPen:
    c = QColor(color)
    c.setAlpha(alpha)
    pen = pg.mkPen(c, width=width)
    if dashed or style is not None:
        pen.setStyle(style or Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    return pen


#: Tick labels: smaller than the text around them, so short panels keep room for their data.
TICK_FONT = QFont()
TICK_FONT.setPointSizeF(8)
#: Plots shorter than this (pixels) drop the x axis's title ("epoch"): the ticks say enough, and
#: the title's line is a fifth of such a plot.
COMPACT_HEIGHT = 170


#: How far (pixels) a vertical axis's tick label may reach past the plot's top or bottom.
LABEL_OVERHANG = 8


class LogAxis(pg.AxisItem):
    """An axis whose labels never overlap: a vertical one keeps a tick label only a text line
    away from the last (a short panel drew 0.001 over 0.002), and a log axis labels only
    decades, or 1-2-5 steps when less than a decade is shown (pyqtgraph labels every minor
    tick then, and the labels overlap)."""

    def boundingRect(self):  # noqa: N802 (Qt's)
        # with the grid on, pyqtgraph drops a label reaching past the plot's top or bottom by a
        # pixel: a 32 px learning-rate plot lost both of its labels, 0 and 0.02
        rect = super().boundingRect()
        if self.orientation in ("left", "right"):
            return rect.adjusted(0, -LABEL_OVERHANG, 0, LABEL_OVERHANG)
        return rect

    def tickValues(self, minVal, maxVal, size):  # noqa: N802,N803 (pyqtgraph's)
        ticks = super().tickValues(minVal, maxVal, size)
        if self.orientation not in ("left", "right") or not ticks or maxVal == minVal:
            return ticks
        gap = QFontMetricsF(self.style.get("tickFont") or QFont()).height() + 2
        per_unit = size / abs(maxVal - minVal)
        spacing, values = ticks[0]
        kept: list[float] = []
        dropped: list[float] = []
        for value in sorted(values):
            (kept if not kept or (value - kept[-1]) * per_unit >= gap else dropped).append(value)
        if not dropped:
            return ticks
        # the dropped values stay as unlabelled ticks (and grid lines) one level down
        return [(spacing, kept), (spacing, dropped), *ticks[1:]]

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802,N803 (pyqtgraph's)
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        major = [(s, t) for s, t in ticks if s is not None and len(t)]
        minor = [v for s, t in ticks if s is None for v in t]
        if major:
            return major + ([(None, minor)] if minor else [])
        labelled = [v for v in minor if round(10 ** (v - math.floor(v))) in (1, 2, 5)]
        return [(None, labelled), (None, [v for v in minor if v not in labelled])]


class Plot(pg.PlotWidget):
    """A plot with a title, axis labels and an optional legend beside (not over) the data:
    `legend=True` in a column right of it, `legend="below"` under the x axis; either is hidden
    while empty."""

    def __init__(self, title: str, x_label: str = "epoch", y_label: str = "",
                 legend: bool | str = False, log_y: bool = False,
                 parent: QWidget | None = None):
        super().__init__(parent=parent, axisItems={"left": LogAxis("left")})
        self.item = self.getPlotItem()
        # labels of the first level only, and as many as LogAxis keeps a line apart: pyqtgraph's
        # own limit (labels may fill 80 % of the axis) left a 32 px learning-rate plot none
        self.item.getAxis("left").setStyle(maxTextLevel=0, textFillLimits=[(0, 1.0)])
        for side in ("left", "bottom", "right", "top"):
            axis = self.item.getAxis(side)
            axis.setStyle(tickFont=TICK_FONT)
            # an axis repaints with every new point though its ticks rarely change: kept as a
            # pixmap (redrawn when pyqtgraph regenerates its ticks) it costs a blit, halving the
            # time a training plot takes to repaint
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        if log_y:
            self.item.setLogMode(y=True)
        #: (name, colour) of curves named in the title instead of a legend (`curve(key=True)`).
        self.title_key: list[tuple[str, str]] = []
        self.set_title(title)
        self.item.setLabel("bottom", x_label)
        if y_label:
            self.item.setLabel("left", y_label)
        self.item.showGrid(x=True, y=True, alpha=0.15)
        self.item.setMenuEnabled(True)  # right click: pyqtgraph's own export and axis options
        self.setMinimumSize(100, 50)
        self.legend: pg.LegendItem | None = None
        self._fed: dict[int, tuple] = {}  # per curve: which series and how many points it has
        if legend == "below":  # under the x axis, one name a row: long names cost no width
            self.legend = pg.LegendItem(offset=None, labelTextSize="8pt", labelTextColor="#c9d1d9",
                                        verSpacing=-6, frame=False)
            self.legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            self.item.layout.addItem(self.legend, 4, 1, alignment=Qt.AlignmentFlag.AlignHCenter)
        elif legend:
            self.legend = pg.LegendItem(offset=None, labelTextSize="8pt", labelTextColor="#c9d1d9",
                                        brush=pg.mkBrush(22, 26, 31, 200))
            # fixed size, so the legend keeps its natural height instead of spreading its rows
            self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.item.layout.addItem(self.legend, 2, 3, alignment=Qt.AlignmentFlag.AlignTop)
            self.item.layout.setColumnStretchFactor(1, 10)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's)
        super().resizeEvent(event)
        if "item" not in self.__dict__ or self.closed:
            return  # pyqtgraph resizes while it builds the widget and after it emptied it
        bottom = self.item.getAxis("bottom")
        wanted = bool(bottom.labelText) and self.height() >= COMPACT_HEIGHT
        if bottom.label.isVisible() != wanted:
            bottom.showLabel(wanted)

    def set_title(self, text: str) -> None:
        """Title the plot; curves named in the title follow the text, each in its colour."""
        self.title_text = text
        words = " · ".join(f"<span style='color: {color}'>{html.escape(word)}</span>"
                           for word, color in self.title_key)
        self.item.setTitle(html.escape(text) + (f"&nbsp;&nbsp;{words}" if words else ""),
                           size="10pt")

    def _fit_legend(self) -> None:
        """An empty legend is hidden, so it leaves its column to the data."""
        if self.legend is not None:
            self.legend.setVisible(bool(self.legend.items))

    def feed(self, curve: pg.PlotDataItem, series: Series | None, log: bool = False) -> None:
        """Give `curve` the series' points, unless it already has all of them (no repaint)."""
        stamp = (id(series), len(series) if series is not None else 0, log)
        if self._fed.get(id(curve)) == stamp:
            return
        self._fed[id(curve)] = stamp
        if series is None or not len(series):
            curve.setData([], [])
        else:
            curve.setData(series.x, _positive(series.y) if log else series.y)

    def curve(self, name: str | None, pen, key: bool = False, **opts) -> pg.PlotDataItem:
        """A curve named `name` in the legend, or with `key` in the title (no room taken)."""
        item = self.item.plot([], [], pen=pen, **opts)
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
        if name and key:
            self.title_key.append((name, QColor(pen.color()).name()))
            self.set_title(self.title_text)
        elif name and self.legend is not None:
            self.legend.addItem(item, name)
        self._fit_legend()
        return item

    def epoch_curve(self, name: str, color: QColor, key: bool = False) -> pg.PlotDataItem:
        """A per-epoch curve: a line with a dot at each epoch."""
        return self.curve(name, _pen(color, 2.0), key=key, symbol="o", symbolSize=4,
                          symbolBrush=color, symbolPen=None)

    def drop(self, curve: pg.PlotDataItem) -> None:
        """Remove a curve from the plot and its legend."""
        if self.legend is not None:
            self.legend.removeItem(curve)
        self.item.removeItem(curve)
        self._fed.pop(id(curve), None)  # a later curve may get the same id
        self._fit_legend()


class LossPlot(Plot):
    """Train (per step and per epoch) and validation loss, with earlier runs overlaid."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Loss", legend="below", parent=parent)
        self.steps = self.curve(None, _pen(TRAIN, 1.0, alpha=70))
        # named in the title: the legend beside the plot is for kept runs, and hidden without
        self.train = self.epoch_curve("train", TRAIN, key=True)
        self.val = self.epoch_curve("validation", VAL, key=True)
        self.history: dict[int, pg.PlotDataItem] = {}

    def set_log(self, on: bool) -> None:
        self.item.setLogMode(y=on)

    def show_run(self, run: RunRecord) -> None:
        log = self.item.ctrl.logYCheck.isChecked()
        self.feed(self.steps, run.step_loss, log)
        self.feed(self.train, run.epoch_series.get("train_loss"), log)
        self.feed(self.val, run.epoch_series.get("val_loss"), log)

    def show_history(self, runs: list[RunRecord], visible: set[int]) -> None:
        """Overlay earlier runs' validation (else training) loss, labelled with what changed."""
        wanted = {r.number: r for r in runs if r.number in visible}
        for number in list(self.history):
            if number not in wanted:
                self.drop(self.history.pop(number))
        for number, run in wanted.items():
            series = run.epoch_series.get("val_loss") or run.epoch_series.get("train_loss")
            if series is None:
                continue
            curve = self.history.get(number)
            if curve is None:
                color = RUN_COLORS[(number - 1) % len(RUN_COLORS)]
                curve = self.history[number] = self.curve(shorten(run.label, 34),
                                                          _pen(color, 1.4, dashed=True))
                curve.setZValue(-1)
            self.feed(curve, series, self.item.ctrl.logYCheck.isChecked())


class MetricPlot(Plot):
    """One metric (accuracy, mse, ...) for train and validation per epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Metric", legend="below", parent=parent)
        self.train = self.epoch_curve("train", TRAIN, key=True)
        self.val = self.epoch_curve("validation", VAL, key=True)
        self.metric_name = ""  # not "metric": that would hide QPaintDevice.metric()

    def show_run(self, run: RunRecord) -> None:
        names = run.metric_names()
        metric = names[0] if names else ""
        if metric != self.metric_name:
            self.metric_name = metric
            self.set_title(_metric_title(metric))
        for curve, split in ((self.train, "train"), (self.val, "val")):
            self.feed(curve, run.epoch_series.get(f"{split}_{metric}"))


class LearningRatePlot(Plot):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Learning rate", parent=parent)
        self.lr = self.curve(None, _pen(LR, 2.0), stepMode=None)

    def show_run(self, run: RunRecord) -> None:
        x, y = run.lr.x, run.lr.y
        if len(x):  # hold the last value up to the present step
            end = max(run.epoch_of(run.progress.get("step", 0)), float(x[-1]))
            x, y = np.append(x, end), np.append(y, y[-1])
        self.lr.setData(x, y, stepMode=None)
        finite = y[np.isfinite(y)] if len(y) else y
        if len(finite):  # from zero, so a constant rate is a readable flat line
            self.item.setYRange(0, float(finite.max()) * 1.15, padding=0)


#: Colours of layers by depth, first layer to last: a perceptually uniform rainbow (colorcet's
#: CET-R1, blue-green-yellow-red-pink), so neighbouring layers differ as much as the map allows,
#: from a light enough blue that the first layer reads on the dark background.
DEPTH_MAP = pg.colormap.get("CET-R1")
DEPTH_RANGE = (0.08, 1.0)
#: Line styles telling the overlaid runs apart in the gradient plot, where colour tells layers.
RUN_DASHES = (Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine,
              Qt.PenStyle.DashDotDotLine)
#: Most layers of one overlaid run drawn in the gradient plot, spread from the first to the last.
MAX_OVERLAID_LAYERS = 6
#: Pen widths of the live run's layer curves: as drawn, the chosen layer's, the others' then.
LAYER_WIDTH, CHOSEN_WIDTH, DIMMED_ALPHA = 1.8, 3.4, 80
#: How near (pixels) a click must be to a curve to choose its layer.
CLICK_DISTANCE = 12.0


def depth_color(position: int, count: int) -> QColor:
    """The colour of layer `position` of `count` (0 nearest the input). It depends on the
    relative depth only, so the first and last layers of a shallow and a deep design match."""
    t = position / (count - 1) if count > 1 else 0.0
    low, high = DEPTH_RANGE
    return DEPTH_MAP.map(low + (high - low) * t, mode="qcolor")


def spread(count: int, most: int) -> list[int]:
    """At most `most` of the positions 0..count-1, evenly spread, the first and last included."""
    if count <= most:
        return list(range(count))
    return sorted({round(k * (count - 1) / (most - 1)) for k in range(most)})


@dataclass
class RunOverlay:
    """One kept run's gradient curves in the gradient plot."""

    label: str  # the run's label when drawn (a rename draws it again)
    dash: Qt.PenStyle
    layers: tuple[str, ...]  # every layer with a gradient norm, input side first
    shown: list[int]  # the positions in `layers` drawn
    curves: dict[str, pg.PlotDataItem]  # node id -> its curve
    sample: pg.PlotDataItem  # not plotted: the run's legend entry, showing its dash
    legend_name: str


class GradientPlot(Plot):
    """Per-layer gradient norm over time on a log scale, with vanishing/exploding bands.

    The live run draws one solid curve per node with weights, coloured by its depth
    (`depth_color`) and named at its right end (`EndLabels`, names that would overlap left out);
    hovering the plot names the nearest curve and its value at that epoch; clicking a curve or
    its name emits `layer_clicked`; `set_chosen` draws one layer's curve thick, the rest dimmed.
    Kept runs selected in the Runs tab are overlaid thinner, one dash style per run (named in a
    legend under the plot), each layer in the colour of its depth, at most MAX_OVERLAID_LAYERS of
    each.

    Signals:
        layer_clicked(str): the node id of the curve (or curve name) clicked.
    """

    layer_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Gradient norm per layer", legend="below", log_y=True, parent=parent)
        stat = STATISTICS["grad_norm"]
        self.stat = stat
        low_band, high_band = stat.healthy
        self.setToolTip(f"Blue band: {stat.too_low} gradients (below {low_band:g}). Red "
                        f"band: {stat.too_high} (above {high_band:g}). A layer's colour is its "
                        "depth, first layer blue, then green, yellow, red, last pink. Hover for "
                        "a layer's name and value; click a curve to select its layer. Dashed: "
                        "runs selected in the Runs tab, one dash per run.")
        add_bands(self, low_band, high_band, log=True)
        self.curves: dict[str, pg.PlotDataItem] = {}  # the live run's, by node id
        self.colors: dict[str, QColor] = {}  # the live run's layers' depth colours
        self.history: dict[int, RunOverlay] = {}  # overlaid kept runs, by run number
        self.chosen: str | None = None
        self.labels = EndLabels(self.item.vb, on_click=self.layer_clicked.emit)
        self.item.layout.addItem(self.labels, 2, 3)
        self._fit_legend()  # only with overlaid runs
        # what the mouse is over: a dot on the nearest curve's sample and its name and value
        self.hover_dot = pg.ScatterPlotItem(size=7, pen=pg.mkPen("#0d1117", width=1))
        self.hover_text = pg.TextItem(anchor=(0, 1), fill=pg.mkBrush(22, 26, 31, 225))
        for item in (self.hover_dot, self.hover_text):
            item.setZValue(20)
            item.setVisible(False)
            self.item.vb.addItem(item, ignoreBounds=True)  # not a data item: drawn in log10 units
        self.scene().sigMouseMoved.connect(self._hover)
        self.scene().sigMouseClicked.connect(self._clicked)

    def show_run(self, run: RunRecord) -> None:
        layers = run.gradient_layers()
        added = False
        for node_id in layers:
            if node_id not in self.curves:
                self.curves[node_id] = self.curve(None, _pen(QColor(), LAYER_WIDTH))
                added = True
            self.feed(self.curves[node_id], run.stat(node_id, "grad_norm"), log=True)
        if added:  # the depth colours depend on how many layers there are
            self.colors = {node_id: depth_color(position, len(layers))
                           for position, node_id in enumerate(layers)}
            self.curves = {node_id: self.curves[node_id] for node_id in layers}  # depth order
            self._restyle()
            self._relabel()
        self.labels.update()

    def clear_run(self) -> None:
        for curve in self.curves.values():
            self.drop(curve)
        self.curves.clear()
        self.colors.clear()
        self._relabel()

    def set_chosen(self, node_id: str | None) -> None:
        """Draw this node's gradient curves thick and the other layers' dimmed (None, or a node
        without a curve: all as usual)."""
        self.chosen = node_id
        self._restyle()
        self.labels.set_chosen(node_id)

    def _restyle(self) -> None:
        chosen = self.chosen if self.chosen in self.curves else None
        for node_id, curve in self.curves.items():
            color = self.colors.get(node_id, QColor("#c9d1d9"))
            if chosen is None:
                curve.setPen(_pen(color, LAYER_WIDTH))
            elif node_id == chosen:
                curve.setPen(_pen(color, CHOSEN_WIDTH))
            else:
                curve.setPen(_pen(color, LAYER_WIDTH * 0.8, alpha=DIMMED_ALPHA))
            curve.setZValue(2 if node_id == chosen else 0)
        for overlay in self.history.values():
            for node_id, curve in overlay.curves.items():
                pen = QPen(curve.opts["pen"])
                pen.setWidthF(2.6 if node_id == self.chosen else 1.2)
                curve.setPen(pen)

    def show_history(self, runs: list[RunRecord]) -> None:
        """Overlay these kept runs' per-layer gradient norms (curves of runs no longer listed
        go; a renamed run's are drawn again under its new name)."""
        wanted = {}
        for run in runs:
            layers = tuple(run.gradient_layers())
            if layers:
                wanted[run.number] = (run, layers, RUN_DASHES[len(wanted) % len(RUN_DASHES)])
        for number, overlay in list(self.history.items()):
            run, layers, dash = wanted.get(number, (None, (), None))
            if run is None or (overlay.label, overlay.dash, overlay.layers) != (run.label, dash,
                                                                               layers):
                for curve in self.history.pop(number).curves.values():
                    self.drop(curve)
        for number, (run, layers, dash) in wanted.items():
            if number not in self.history:
                self.history[number] = self._overlay(run, layers, dash)
            for node_id, curve in self.history[number].curves.items():
                self.feed(curve, run.stat(node_id, "grad_norm"), log=True)
        self.history = {n: self.history[n] for n in wanted}  # the Runs tab's order
        self._restyle()
        self._relegend()
        self._relabel()

    def _overlay(self, run: RunRecord, layers: tuple[str, ...], dash: Qt.PenStyle) -> RunOverlay:
        shown = spread(len(layers), MAX_OVERLAID_LAYERS)
        curves = {}
        for position in shown:
            node_id = layers[position]
            curve = curves[node_id] = self.curve(
                None, _pen(depth_color(position, len(layers)), 1.2, alpha=210, style=dash))
            curve.setZValue(-1)  # under the live run
            curve.curve.setToolTip(f"{run.label}: {node_id} "
                                   f"(layer {position + 1} of {len(layers)})")
        name = shorten(run.label, 34) + ("" if len(shown) == len(layers)
                                         else f" ({len(shown)} of {len(layers)} layers)")
        sample = pg.PlotDataItem(pen=_pen("#c9d1d9", 1.4, style=dash))
        # clicking the run's legend entry hides or shows all its curves
        sample.visibleChanged.connect(lambda: [c.setVisible(sample.isVisible())
                                               for c in curves.values()])
        return RunOverlay(run.label, dash, layers, shown, curves, sample, name)

    def _relegend(self) -> None:
        """The legend under the plot: one entry per overlaid run, drawn in its dash."""
        self.legend.clear()
        for overlay in self.history.values():
            self.legend.addItem(overlay.sample, overlay.legend_name)
        self._fit_legend()

    def _relabel(self) -> None:
        """Name the live run's curves at their ends; without a live run, the first overlaid
        run's (its layers' depth colours are every run's)."""
        if self.curves:
            entries = [CurveName(n, self.colors[n], c) for n, c in self.curves.items()]
        elif self.history:
            first = next(iter(self.history.values()))
            entries = [CurveName(first.layers[p], depth_color(p, len(first.layers)),
                                 first.curves[first.layers[p]]) for p in first.shown]
        else:
            entries = []
        self.labels.set_entries(entries)

    def _named_curves(self) -> dict[pg.PlotDataItem, str]:
        """Every curve drawn with what hovering it says: the layer, and the run if kept."""
        named = {curve: node_id for node_id, curve in self.curves.items()}
        for overlay in self.history.values():
            named.update({c: f"{overlay.label}: {n}" for n, c in overlay.curves.items()})
        return named

    def _node_of(self, curve: pg.PlotDataItem) -> str | None:
        for node_id, c in self.curves.items():
            if c is curve:
                return node_id
        return next((n for o in self.history.values() for n, c in o.curves.items()
                     if c is curve), None)

    def sample_at(self, scene_pos: QPointF) -> Sample | None:
        """The sample of the curve drawn nearest `scene_pos` (scene coordinates)."""
        return nearest_sample(self.item.vb, self._named_curves(), scene_pos)

    def _hover(self, scene_pos: QPointF) -> None:
        sample = self.sample_at(scene_pos)
        if sample is None:
            self.hover_dot.setVisible(False)
            self.hover_text.setVisible(False)
            return
        name = self._named_curves()[sample.curve]
        color = sample.curve.opts["pen"].color()
        color.setAlpha(255)
        y = math.log10(sample.y) if sample.y > 0 else float("nan")
        self.hover_dot.setData([sample.x], [y], brush=pg.mkBrush(color))
        self.hover_text.setText(f"{name}\nepoch {sample.x:.2f} · {format_stat(self.stat, sample.y)}",
                                color=color)
        (x0, x1), (y0, y1) = self.item.vb.viewRange()
        # the text on the side of the point with room for it
        self.hover_text.setAnchor((1 if sample.x > (x0 + x1) / 2 else 0,
                                   0 if y > (y0 + y1) / 2 else 1))
        self.hover_text.setPos(sample.x, y)
        self.hover_dot.setVisible(True)
        self.hover_text.setVisible(True)

    def close(self) -> bool:
        # pyqtgraph empties the scene here; nothing may call into its deleted items after
        self.scene().sigMouseMoved.disconnect(self._hover)
        self.scene().sigMouseClicked.disconnect(self._clicked)
        self.labels.detach()
        return super().close()

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's)
        super().leaveEvent(event)
        self.hover_dot.setVisible(False)
        self.hover_text.setVisible(False)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        sample = self.sample_at(event.scenePos())
        if sample is not None and sample.distance <= CLICK_DISTANCE:
            node_id = self._node_of(sample.curve)
            if node_id is not None:
                self.layer_clicked.emit(node_id)


class HistogramPlot(Plot):
    """A histogram drawn as steps (counts in equal bins between a minimum and a maximum)."""

    def __init__(self, title: str, color: QColor, parent: QWidget | None = None):
        super().__init__(title, x_label="value", y_label="count", parent=parent)
        # counts are whole numbers: "4000", not "4" under a rotated "count (x0.001)" cut off
        self.item.getAxis("left").enableAutoSIPrefix(False)
        fill = QColor(color)
        fill.setAlpha(110)
        self.bars = self.item.plot([0, 1], [0], stepMode="center", fillLevel=0,
                                   brush=pg.mkBrush(fill), pen=_pen(color, 1.2))
        self._shown: list[float] | None = None
        self.zero_line = pg.InfiniteLine(0, angle=90, pen=_pen("#8b949e", 1, dashed=True))
        self.item.addItem(self.zero_line, ignoreBounds=True)

    def show_counts(self, counts: list[float] | None, lo: float | None, hi: float | None) -> None:
        if counts is self._shown and counts is not None:
            return  # the same monitor sample: nothing to repaint
        self._shown = counts
        if not counts or lo is None or hi is None or not (math.isfinite(lo)
                                                          and math.isfinite(hi)):
            self.bars.setData([0, 1], [0], stepMode="center")
            return
        if hi <= lo:
            hi = lo + 1e-6
        edges = np.linspace(lo, hi, len(counts) + 1)
        self.bars.setData(edges, np.asarray(counts), stepMode="center")


def add_bands(plot: Plot, low: float | None, high: float | None, log: bool) -> None:
    """Shade the values below `low` (blue) and above `high` (red): outside the healthy range."""
    def y(value: float) -> float:
        return math.log10(value) if log else value  # a log axis works in log10 units
    far = 30.0 if log else 1e30
    spans = []
    if low is not None and (low > 0 or not log):
        spans.append(((-far, y(low)), BAND_LOW))
    if high is not None and (high > 0 or not log):
        spans.append(((y(high), far), BAND_HIGH))
    for span, brush in spans:
        band = pg.LinearRegionItem(span, orientation="horizontal", brush=pg.mkBrush(brush),
                                   pen=pg.mkPen(None), movable=False)
        band.setZValue(-10)
        plot.item.addItem(band, ignoreBounds=True)


#: Colours of the series in a statistics plot, in the group's catalogue order.
STAT_COLORS = ("#58a6ff", "#3fb950", "#e5534b", "#e3b341", "#d2a8ff", "#f0883e")


class StatsPlot(Plot):
    """A node's statistics over time: the catalogue's statistics of one group on one axis.

    The title is the key: the node's name, then each statistic's short name in its curve's
    colour (a legend took a third of this short panel and covered its x axis). A group with a
    single statistic says its title instead and shades its healthy range.
    """

    def __init__(self, group: str, parent: QWidget | None = None):
        spec = STAT_GROUPS[group]
        super().__init__(spec.title, log_y=spec.log, parent=parent)
        self.group = group
        self.log = spec.log
        stats = [s for s in STATISTICS.values() if s.group == group]
        # several statistics are named in the title (one is the title)
        self.curves = {s.key: self.curve(s.short or s.title, _pen(STAT_COLORS[i % 6], 1.8),
                                         key=len(stats) > 1)
                       for i, s in enumerate(stats)}
        self.setToolTip(f"{spec.title}: " + ", ".join(s.title for s in stats))
        if len(stats) == 1 and stats[0].healthy != (None, None):
            add_bands(self, *stats[0].healthy, log=spec.log)
        self.set_subject(None)

    def set_subject(self, name: str | None) -> None:
        """Title the plot for this node (None: no layer selected, the statistics' names only)."""
        title = STAT_GROUPS[self.group].title
        if name is None:  # the key alone: "no layer selected" would push it out of a short plot
            self.set_title("" if self.title_key else title)
            return
        name = shorten(name, 18)
        self.set_title(f"{name}:" if self.title_key else f"{name}: {title.lower()}")

    def show_node(self, run: RunRecord | None, node_id: str | None) -> None:
        for key, curve in self.curves.items():
            series = run.stat(node_id, key) if run is not None and node_id else None
            self.feed(curve, series, self.log)


class NodePlots(QWidget):
    """The selected node's live activation histogram and statistics, and its weights."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.node_id: str | None = None
        colors = {"activation": "#3fb950", "weight": "#d2a8ff", "grad": "#f0883e"}
        #: One histogram per catalogue histogram (act_hist, weight_hist, grad_hist).
        self.histograms = {h.key: HistogramPlot(h.title, QColor(colors[h.source]))
                           for h in HISTOGRAMS.values()}
        self.activations = self.histograms["act_hist"]
        self.weights = self.histograms["weight_hist"]
        self.gradients = self.histograms["grad_hist"]
        #: One plot over time per statistic group but gradients (drawn per layer, GradientPlot).
        self.stat_plots = {key: StatsPlot(key) for key in STAT_GROUPS if key != "gradient"}
        self.act_stats = self.stat_plots["activation"]
        self.update_ratio = self.stat_plots["update"]

    def set_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        name = node_id or "no layer selected"
        for key, plot in self.histograms.items():
            plot.item.setTitle(f"{HISTOGRAMS[key].title} of {name}", size="10pt")
        for plot in self.stat_plots.values():
            plot.set_subject(node_id)

    def show_run(self, run: RunRecord | None) -> None:
        entry = run.latest.get(self.node_id, {}) if run is not None and self.node_id else {}
        weight = (entry.get("params") or {}).get("weight") or {}
        for key, plot in self.histograms.items():
            spec = HISTOGRAMS[key]
            source = entry if spec.source == "activation" else weight
            plot.show_counts(source.get(key), source.get(spec.low), source.get(spec.high))
        for plot in self.stat_plots.values():
            plot.show_node(run, self.node_id)


class OverviewPlots(QWidget):
    """Everything that moves during training on one page."""

    def __init__(self, node_plots: NodePlots, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss = LossPlot()
        self.metric_plot = MetricPlot()
        self.lr = LearningRatePlot()
        self.gradients = GradientPlot()
        # four columns, each split in its own proportions: the metric needs more height than
        # the learning rate, the activation statistics as much as their histogram
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 2)
        row.setSpacing(4)
        columns = ([(self.loss, 1)], [(self.metric_plot, 3), (self.lr, 2)],
                   [(self.gradients, 1)], [(node_plots.activations, 1), (node_plots.act_stats, 1)])
        for stretch, plots in zip((5, 4, 5, 4), columns):
            column = QVBoxLayout()
            column.setSpacing(4)
            for plot, share in plots:
                column.addWidget(plot, share)
            row.addLayout(column, stretch)
        self.node_plots = node_plots

    def fix_epochs(self, epochs: int) -> None:
        """Show the whole run's length on the time axes from the start: the axes then stay put
        while points arrive (cheaper to repaint, and the plots show how far the run has come)."""
        for plot in (self.loss, self.metric_plot, self.lr, self.gradients,
                     *self.node_plots.stat_plots.values()):
            plot.item.setXRange(0, epochs, padding=0.02)
            plot.item.disableAutoRange(axis="x")


class WeightPlots(QWidget):
    """The selected layer's weights: histograms of weights and gradients, update ratio."""

    def __init__(self, node_plots: NodePlots, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        shown = [node_plots.weights, node_plots.gradients,
                 *(plot for key, plot in node_plots.stat_plots.items() if key != "activation")]
        for column, plot in enumerate(shown):
            layout.addWidget(plot, 0, column)
        self.hint = QLabel("Select a layer with weights on the canvas to see them here.")
        self.hint.setStyleSheet("color: #8b949e;")
        layout.addWidget(self.hint, 1, 0, 1, len(shown))


def _metric_title(name: str) -> str:
    """A metric's title from the catalogue ("Top-k accuracy (top5)" for a family member)."""
    if not name:
        return "Metric"
    try:
        spec = metric_spec(name)
    except TrainingError:
        return name
    return spec.title if spec.pattern is None else f"{spec.title} (k = {spec.arg(name)})"


def _positive(values: np.ndarray) -> np.ndarray:
    """Values with non-positive entries as NaN, so a log axis skips them instead of failing."""
    out = np.array(values, dtype=float)
    out[~(out > 0)] = np.nan
    return out


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[:width - 1] + "…"

