"""Live training plots (pyqtgraph): loss, metrics, learning rate, per-layer gradients, and the
selected layer's activations and weights; kept runs selected in the Runs tab are overlaid on the
loss and the gradients here (and on the metric by training_plots.py).

Every curve is created once and then only fed with `setData`; a plot redraws only when its run's
`version` moved since it last drew. Legends live in their own column beside the data, never over it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from runtime.errors import TrainingError
from runtime.training.metrics import metric_spec
from runtime.training.statistics import HISTOGRAMS, STAT_GROUPS, STATISTICS

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


class LogAxis(pg.AxisItem):
    """A log axis that labels only decades, or 1-2-5 steps when less than a decade is shown
    (pyqtgraph labels every minor tick then, and the labels overlap)."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802,N803 (pyqtgraph's)
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        major = [(s, t) for s, t in ticks if s is not None and len(t)]
        minor = [v for s, t in ticks if s is None for v in t]
        if major:
            return major + ([(None, minor)] if minor else [])
        labelled = [v for v in minor if round(10 ** (v - math.floor(v))) in (1, 2, 5)]
        return [(None, labelled), (None, [v for v in minor if v not in labelled])]


class Plot(pg.PlotWidget):
    """A plot with a title, axis labels and an optional legend beside (not over) the data."""

    def __init__(self, title: str, x_label: str = "epoch", y_label: str = "",
                 legend: bool = False, log_y: bool = False, parent: QWidget | None = None):
        super().__init__(parent=parent, axisItems={"left": LogAxis("left")})
        self.item = self.getPlotItem()
        self.item.getAxis("left").setStyle(maxTextLevel=0)  # see LogAxis
        if log_y:
            self.item.setLogMode(y=True)
        self.item.setTitle(title, size="10pt")
        self.item.setLabel("bottom", x_label)
        if y_label:
            self.item.setLabel("left", y_label)
        self.item.showGrid(x=True, y=True, alpha=0.15)
        self.item.setMenuEnabled(True)  # right click: pyqtgraph's own export and axis options
        self.setMinimumSize(100, 50)
        self.legend: pg.LegendItem | None = None
        self._fed: dict[int, tuple] = {}  # per curve: which series and how many points it has
        if legend:
            self.legend = pg.LegendItem(offset=None, labelTextSize="8pt", labelTextColor="#c9d1d9",
                                        brush=pg.mkBrush(22, 26, 31, 200))
            # fixed size, so the legend keeps its natural height instead of spreading its rows
            self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.item.layout.addItem(self.legend, 2, 3, alignment=Qt.AlignmentFlag.AlignTop)
            self.item.layout.setColumnStretchFactor(1, 10)

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

    def curve(self, name: str | None, pen, **opts) -> pg.PlotDataItem:
        item = self.item.plot([], [], pen=pen, **opts)
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
        if name and self.legend is not None:
            self.legend.addItem(item, name)
        return item

    def epoch_curve(self, name: str, color: QColor) -> pg.PlotDataItem:
        """A per-epoch curve: a line with a dot at each epoch."""
        return self.curve(name, _pen(color, 2.0), symbol="o", symbolSize=4, symbolBrush=color,
                          symbolPen=None)

    def drop(self, curve: pg.PlotDataItem) -> None:
        """Remove a curve from the plot and its legend."""
        if self.legend is not None:
            self.legend.removeItem(curve)
        self.item.removeItem(curve)
        self._fed.pop(id(curve), None)  # a later curve may get the same id


class LossPlot(Plot):
    """Train (per step and per epoch) and validation loss, with earlier runs overlaid."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Loss", legend=True, parent=parent)
        self.steps = self.curve(None, _pen(TRAIN, 1.0, alpha=70))
        self.train = self.epoch_curve("train", TRAIN)
        self.val = self.epoch_curve("validation", VAL)
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
        super().__init__("Metric", legend=True, parent=parent)
        self.train = self.epoch_curve("train", TRAIN)
        self.val = self.epoch_curve("validation", VAL)
        self.metric_name = ""  # not "metric": that would hide QPaintDevice.metric()

    def show_run(self, run: RunRecord) -> None:
        names = run.metric_names()
        metric = names[0] if names else ""
        if metric != self.metric_name:
            self.metric_name = metric
            self.item.setTitle(_metric_title(metric), size="10pt")
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


#: Colours of layers by depth, first layer to last: a ramp that reads on the dark background and
#: stays apart from the blue and red bands.
DEPTH_STOPS = ("#39c5cf", "#7ee787", "#e3b341", "#f778ba")
#: Line styles telling the overlaid runs apart in the gradient plot, where colour tells layers.
RUN_DASHES = (Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine,
              Qt.PenStyle.DashDotDotLine)
#: Most layers of one overlaid run drawn in the gradient plot, spread from the first to the last.
MAX_OVERLAID_LAYERS = 6


def depth_color(position: int, count: int) -> QColor:
    """The colour of layer `position` of `count` (0 nearest the input). It depends on the
    relative depth only, so the first and last layers of a shallow and a deep design match."""
    t = (position / (count - 1) if count > 1 else 0.0) * (len(DEPTH_STOPS) - 1)
    i = min(int(t), len(DEPTH_STOPS) - 2)
    a, b = QColor(DEPTH_STOPS[i]), QColor(DEPTH_STOPS[i + 1])
    mix = t - i
    return QColor.fromRgbF(*(x + (y - x) * mix for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


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
    (`depth_color`); clicking a legend entry hides or shows that layer. Kept runs selected in
    the Runs tab are overlaid thinner, one dash style per run, each layer in the colour of its
    depth, at most MAX_OVERLAID_LAYERS of each; hovering a curve names its run and layer.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Gradient norm per layer", legend=True, log_y=True, parent=parent)
        stat = STATISTICS["grad_norm"]
        low_band, high_band = stat.healthy
        self.setToolTip(f"Blue band: {stat.too_low} gradients (below {low_band:g}). Red "
                        f"band: {stat.too_high} (above {high_band:g}). A layer's colour is its "
                        "depth, first layer teal to last pink. Dashed: runs selected in the Runs "
                        "tab, one dash per run. Click a legend entry to hide or show it.")
        add_bands(self, low_band, high_band, log=True)
        self.curves: dict[str, pg.PlotDataItem] = {}  # the live run's, by node id
        self.history: dict[int, RunOverlay] = {}  # overlaid kept runs, by run number
        self.key: list[tuple[pg.PlotDataItem, str]] = []  # legend-only layer colours

    def show_run(self, run: RunRecord) -> None:
        layers = run.gradient_layers()
        added = False
        for node_id in layers:
            if node_id not in self.curves:
                self.curves[node_id] = self.curve(node_id, _pen(QColor(), 1.8))
                added = True
            self.feed(self.curves[node_id], run.stat(node_id, "grad_norm"), log=True)
        if added:  # the depth colours depend on how many layers there are
            for position, node_id in enumerate(layers):
                self.curves[node_id].setPen(_pen(depth_color(position, len(layers)), 1.8))
                self.curves[node_id].curve.setToolTip(
                    f"{node_id} (layer {position + 1} of {len(layers)}), this run")
            if self.history:
                self._relegend()

    def clear_run(self) -> None:
        for curve in self.curves.values():
            self.drop(curve)
        self.curves.clear()
        if self.history:
            self._relegend()

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
        self._relegend()

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
        name = shorten(run.label, 30) + ("" if len(shown) == len(layers)
                                         else f" ({len(shown)} of {len(layers)} layers)")
        sample = pg.PlotDataItem(pen=_pen("#c9d1d9", 1.4, style=dash))
        # clicking the run's legend entry hides or shows all its curves
        sample.visibleChanged.connect(lambda: [c.setVisible(sample.isVisible())
                                               for c in curves.values()])
        return RunOverlay(run.label, dash, layers, shown, curves, sample, name)

    def _relegend(self) -> None:
        """The legend again: the live run's layers; without them, the depth colours of the
        first overlaid run's layers; then one entry per overlaid run, drawn in its dash."""
        self.legend.clear()
        for node_id, curve in self.curves.items():
            self.legend.addItem(curve, node_id)
        self.key = []
        if not self.curves and self.history:
            first = next(iter(self.history.values()))
            self.key = [(pg.PlotDataItem(pen=_pen(depth_color(p, len(first.layers)), 1.8)),
                         first.layers[p]) for p in first.shown]
        for k, (sample, name) in enumerate(self.key):
            self.legend.addItem(sample, name)
            # clicking it hides or shows the k-th drawn layer (this depth) of every run
            sample.visibleChanged.connect(lambda k=k, s=sample: [
                list(o.curves.values())[k].setVisible(s.isVisible())
                for o in self.history.values() if k < len(o.curves)])
        for overlay in self.history.values():
            self.legend.addItem(overlay.sample, overlay.legend_name)


class HistogramPlot(Plot):
    """A histogram drawn as steps (counts in equal bins between a minimum and a maximum)."""

    def __init__(self, title: str, color: QColor, parent: QWidget | None = None):
        super().__init__(title, x_label="value", y_label="count", parent=parent)
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

    A group with a single statistic shades its healthy range.
    """

    def __init__(self, group: str, parent: QWidget | None = None):
        spec = STAT_GROUPS[group]
        super().__init__(spec.title, legend=True, log_y=spec.log, parent=parent)
        self.group = group
        self.log = spec.log
        stats = [s for s in STATISTICS.values() if s.group == group]
        self.curves = {s.key: self.curve(s.short or s.title, _pen(STAT_COLORS[i % 6], 1.8))
                       for i, s in enumerate(stats)}
        if len(stats) == 1 and stats[0].healthy != (None, None):
            add_bands(self, *stats[0].healthy, log=spec.log)

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
        for key, plot in self.stat_plots.items():
            plot.item.setTitle(f"{name}: {STAT_GROUPS[key].title.lower()}", size="10pt")

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
        grid = QGridLayout(self)
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setSpacing(4)
        grid.addWidget(self.loss, 0, 0, 2, 1)
        grid.addWidget(self.metric_plot, 0, 1)
        grid.addWidget(self.lr, 1, 1)
        grid.addWidget(self.gradients, 0, 2, 2, 1)
        grid.addWidget(node_plots.activations, 0, 3)
        grid.addWidget(node_plots.act_stats, 1, 3)
        self.node_plots = node_plots
        for column, stretch in enumerate((5, 4, 5, 4)):
            grid.setColumnStretch(column, stretch)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)

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

