"""Names written beside a plot's curves instead of a legend (pyqtgraph, no LayerLab imports).

A legend with one row per curve grows with the curves and takes the plot's room; with 11-25 layers
it pushed the gradient plot's axis out of its panel. `EndLabels` is a narrow column right of the
view box writing each curve's name at the height where the curve ends, in the curve's colour; the
names that would overlap are left out (the chosen one first, then the first and the last, then
ones spread between), and hovering the plot names any curve (`nearest_sample`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy

#: Widest the label column gets, in pixels (longer names are elided).
MAX_LABEL_WIDTH = 84
#: How many lines a name may move away from its curve's end to make room for another.
MAX_SHIFT = 2.5
#: The gap between the view box and a name, where a short line leads to the curve's end.
LEADER = 7.0


@dataclass
class CurveName:
    """One curve named beside the plot."""

    name: str
    color: QColor
    curve: pg.PlotDataItem


def view_data(curve: pg.PlotDataItem) -> tuple[np.ndarray, np.ndarray]:
    """All the curve's points in view coordinates (log10 units on a log axis). Not getData():
    that is clipped to the view and downsampled, so its indices are not the samples'."""
    if curve.xData is None or not len(curve.xData):
        return np.empty(0), np.empty(0)
    x, y = np.asarray(curve.xData, float), np.asarray(curve.yData, float)
    log_x, log_y = curve.opts.get("logMode", (False, False))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.log10(x) if log_x else x), (np.log10(y) if log_y else y)


def last_point(curve: pg.PlotDataItem) -> tuple[float, float] | None:
    """The curve's last finite point in view coordinates."""
    x, y = view_data(curve)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not len(finite):
        return None
    i = finite[-1]
    return float(x[i]), float(y[i])


def priority(count: int, first: int | None = None) -> list[int]:
    """Positions 0..count-1 in the order their names are kept: `first`, then the two ends, then
    the middle of the widest gap left, and so on (names spread over the depth)."""
    order = [] if first is None else [first]
    order += [p for p in (0, count - 1) if p not in order and 0 <= p < count]
    gaps = [(0, count - 1)]
    while gaps:
        gaps.sort(key=lambda g: g[1] - g[0])
        a, b = gaps.pop()
        if b - a < 2:
            continue
        mid = (a + b) // 2
        if mid not in order:
            order.append(mid)
        gaps += [(a, mid), (mid, b)]
    return order + [p for p in range(count) if p not in order]


def place(wanted: list[float], order: Iterable[int], height: float, line: float) -> dict[int, float]:
    """Heights for the names at `wanted` (their curves' ends), tried in `order`: each may move by
    up to MAX_SHIFT lines (its leader line still points at its curve) to stay clear of the ones
    placed before it, else it is left out."""
    placed: dict[int, float] = {}
    shifts = [line * k / 4 * s for k in range(1, int(MAX_SHIFT * 4) + 1) for s in (-1, 1)]
    for i in order:
        y0 = min(max(wanted[i], line / 2), height - line / 2)
        for y in (y0, *(y0 + shift for shift in shifts)):
            if line / 2 <= y <= height - line / 2 and all(abs(y - p) >= line
                                                          for p in placed.values()):
                placed[i] = y
                break
    return placed


class EndLabels(pg.GraphicsWidget):
    """Curve names in a column right of `view`, each level with its curve's end.

    `on_click(name)` is called when a name is clicked.
    """

    def __init__(self, view: pg.ViewBox, on_click: Callable[[str], None] | None = None):
        super().__init__()
        self.view = view
        self.on_click = on_click
        self.entries: list[CurveName] = []
        self.chosen: str | None = None
        self.label_font = QFont()
        self.label_font.setPointSizeF(7.5)
        self.metrics = QFontMetricsF(self.label_font)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self._layout: list[tuple[CurveName, float, float]] = []  # name, curve end y, label y
        self.set_entries([])
        view.sigYRangeChanged.connect(self._moved)
        view.sigResized.connect(self._moved)

    def _moved(self, *_) -> None:
        self.update()

    def detach(self) -> None:
        """Stop following the view (before the plot is torn down)."""
        self.view.sigYRangeChanged.disconnect(self._moved)
        self.view.sigResized.disconnect(self._moved)

    def set_entries(self, entries: list[CurveName]) -> None:
        self.entries = list(entries)
        widest = max((self.metrics.horizontalAdvance(e.name) for e in entries), default=0.0)
        width = 0.0 if not entries else min(MAX_LABEL_WIDTH, LEADER + 3 + math.ceil(widest))
        self.setMinimumWidth(width)
        self.setMaximumWidth(width)
        self.setPreferredWidth(width)
        self.updateGeometry()
        self.update()

    def set_chosen(self, name: str | None) -> None:
        self.chosen = name
        self.update()

    def shown(self) -> dict[str, float]:
        """The names drawn now and their heights in this item's coordinates."""
        return {e.name: y for e, _end, y in self.arrange()}

    def arrange(self) -> list[tuple[CurveName, float, float]]:
        """Which names fit, with the height of their curve's end and their own."""
        entries = [e for e in self.entries if e.curve.isVisible()]
        ends = []
        for entry in entries:
            point = last_point(entry.curve)
            ends.append(None if point is None else
                        self.mapFromScene(self.view.mapViewToScene(QPointF(*point))).y())
        kept = [i for i, end in enumerate(ends) if end is not None]
        names = [entries[i].name for i in kept]
        first = names.index(self.chosen) if self.chosen in names else None
        wanted = [ends[i] for i in kept]
        spots = place(wanted, priority(len(kept), first), self.size().height(),
                      self.metrics.height())
        return [(entries[kept[j]], wanted[j], y) for j, y in spots.items()]

    def paint(self, painter: QPainter, *args) -> None:
        self._layout = self.arrange()
        painter.setFont(self.label_font)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        line = self.metrics.height()
        width = self.size().width()
        for entry, end, y in self._layout:
            strong = entry.name == self.chosen
            color = QColor(entry.color)
            painter.setPen(QPen(color, 1.0))
            top = min(max(end, 0.0), self.size().height())
            painter.drawLine(QPointF(0, top), QPointF(LEADER - 2, y))
            text = self.metrics.elidedText(entry.name, Qt.TextElideMode.ElideRight,
                                           width - LEADER - 1)
            if strong:
                bold = QFont(self.label_font)
                bold.setBold(True)
                painter.setFont(bold)
            painter.drawText(QRectF(LEADER, y - line / 2, width - LEADER, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            painter.setFont(self.label_font)

    def name_at(self, y: float) -> str | None:
        """The name drawn at height `y` (this item's coordinates), if any."""
        line = self.metrics.height()
        return next((e.name for e, _end, ly in self.arrange() if abs(ly - y) <= line / 2), None)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's)
        name = self.name_at(event.pos().y())
        if name is not None and self.on_click is not None:
            self.on_click(name)
            event.accept()
        else:
            event.ignore()


@dataclass
class Sample:
    """The point of a curve nearest the mouse: its curve, index and pixel distance."""

    curve: pg.PlotDataItem
    x: float  # as fed (epochs)
    y: float  # as fed (the value, not its log)
    distance: float  # vertical, in pixels, from the curve drawn at the mouse's x


def nearest_sample(view: pg.ViewBox, curves: Iterable[pg.PlotDataItem],
                   scene_pos: QPointF) -> Sample | None:
    """Of the visible `curves`, the one drawn nearest `scene_pos` at its x, with its sample
    nearest that x; None outside the view box or without data."""
    if not view.sceneBoundingRect().contains(scene_pos):
        return None
    mouse = view.mapSceneToView(scene_pos)
    best: Sample | None = None
    for curve in curves:
        if not curve.isVisible():
            continue
        x, y = view_data(curve)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            continue
        xs, ys = x[ok], y[ok]
        at = float(np.interp(mouse.x(), xs, ys))
        pixel = view.mapViewToScene(QPointF(mouse.x(), at))
        distance = abs(pixel.y() - scene_pos.y())
        if best is None or distance < best.distance:
            i = int(np.argmin(np.abs(xs - mouse.x())))
            index = np.flatnonzero(ok)[i]
            best = Sample(curve, float(curve.xData[index]), float(curve.yData[index]), distance)
    return best
