"""Edges: a bezier curve from an output port to an input port, labelled with the tensor it
carries."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPainterPathStroker, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from designer import style
from runtime.graph import Edge
from runtime.present import format_shape

from .node_item import fonts
from .port_item import INPUT, OUTPUT

if TYPE_CHECKING:
    from .scene import CanvasScene

EDGE_WIDTH = 1.6
#: Half-width, in scene units, of the band around a curve that counts as "on the edge" for clicks.
HIT_TOLERANCE = 5.0
LABEL_PAD_X, LABEL_H = 5.0, 15.0
#: Screen width below which edges are drawn with a cosmetic (hairline) pen.
HAIRLINE_PX = 1.5
#: Points tested along a neighbouring curve when looking for room for a label.
LABEL_SAMPLES = 16
#: Below this zoom, labels are left out (unreadable, and costly on big designs).
LABEL_LOD = 0.5


@lru_cache(maxsize=4096)
def label_width(text: str) -> float:
    return fonts().label_metrics.horizontalAdvance(text) + 2 * LABEL_PAD_X


#: A wrapped edge (to the next band of a wrapped layout) runs along the gap this far above its
#: input port (the port sits 40 below its card's top), with corners of this radius.
WRAP_RISE, WRAP_CORNER = 64.0, 20.0


def bezier(start: QPointF, end: QPointF) -> QPainterPath:
    """The curve from an output at `start` to an input at `end`: it leaves and arrives horizontally,
    and bows out further when it has to run backwards. An edge into a band further down and to
    the left (a wrapped layout's next line) is routed like a line break instead: down beside its
    output, left along the gap above its input's row, and down into the input."""
    dx, dy = end.x() - start.x(), end.y() - start.y()
    if dx < -2 * WRAP_CORNER and dy >= WRAP_RISE + 2 * WRAP_CORNER:
        return _wrapped(start, end)
    reach = max(abs(dx) * 0.5, 40.0)
    if dx < 20.0:  # the input is left of the output: swing wide so the curve stays readable
        reach = max(reach, 60.0 + abs(dy) * 0.25)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + reach, start.y()), QPointF(end.x() - reach, end.y()), end)
    return path


def _wrapped(start: QPointF, end: QPointF) -> QPainterPath:
    r, run = WRAP_CORNER, end.y() - WRAP_RISE
    right, left = start.x() + r, end.x() - r
    path = QPainterPath(start)
    path.quadTo(QPointF(right, start.y()), QPointF(right, start.y() + r))
    path.lineTo(right, run - r)
    path.quadTo(QPointF(right, run), QPointF(right - r, run))
    path.lineTo(left + r, run)
    path.quadTo(QPointF(left, run), QPointF(left, run + r))
    path.lineTo(left, end.y() - r)
    path.quadTo(QPointF(left, end.y()), end)
    return path


def _cubic(path: QPainterPath) -> tuple[QPointF, ...] | None:
    """The four control points when `path` is one cubic (every edge but a wrapped one)."""
    if path.elementCount() != 4:
        return None
    return tuple(QPointF(path.elementAt(i).x, path.elementAt(i).y) for i in range(4))


def middle(path: QPainterPath) -> QPointF:
    """The point halfway along an edge's path, where its label goes. A curve from `bezier` is
    symmetric about its middle, so that is halfway between its ends."""
    cubic = _cubic(path)
    if cubic is None:
        return path.pointAtPercent(0.5)
    return (cubic[0] + cubic[3]) / 2


def tail_points(path: QPainterPath) -> list[tuple[float, float]]:
    """LABEL_SAMPLES / 2 + 1 points along the half of an edge's path nearer its input: where the
    edges into one merge input converge, so where their labels could cover another curve.
    Computed from the control points (QPainterPath.pointAtPercent costs 15 µs a call)."""
    cubic = _cubic(path)
    ts = [i / LABEL_SAMPLES for i in range(LABEL_SAMPLES // 2, LABEL_SAMPLES + 1)]
    if cubic is None:
        return [(p.x(), p.y()) for p in (path.pointAtPercent(t) for t in ts)]
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = ((p.x(), p.y()) for p in cubic)
    out = []
    for t in ts:
        u = 1.0 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        out.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return out


def fit_crowd(items: list[EdgeItem]) -> None:
    """The edges into one merge input converge on it: hide each label that another of their
    curves crosses (a 2-unit margin), show the others. One vectorised test of every label
    against every curve, so a 400-input Add costs milliseconds, not seconds."""
    labelled = [i for i, item in enumerate(items) if item.label_clear]
    if not labelled:
        return
    tails = np.array([item.tail for item in items], dtype=float)  # (curves, samples, 2)
    rects = np.array([[r.left() - 2, r.top() - 2, r.right() + 2, r.bottom() + 2]
                      for r in (items[i].label_rect for i in labelled)])  # (labels, 4)
    x, y = tails[None, :, :, 0], tails[None, :, :, 1]
    inside = ((x >= rects[:, 0, None, None]) & (x <= rects[:, 2, None, None])
              & (y >= rects[:, 1, None, None]) & (y <= rects[:, 3, None, None])).any(axis=2)
    inside[np.arange(len(labelled)), labelled] = False  # a label sits on its own curve
    for i, crowded in zip(labelled, inside.any(axis=1)):
        items[i].set_crowded(bool(crowded))


class EdgeItem(QGraphicsItem):
    """One connection. Holds its `Edge` (ids and port names); its path follows the node items."""

    def __init__(self, canvas: CanvasScene, edge: Edge):
        super().__init__()
        self.edge = edge
        self._canvas = canvas
        self._path = QPainterPath()
        self._hit: QPainterPath | None = None
        self._bounds: QRectF | None = None
        self._label = ""
        self._label_text: QStaticText | None = None
        #: The tensor the label shows (set by the scene from the analysis; a paint cache).
        self.tensor_shown = None
        self._label_rect = QRectF()
        self._tail: list[tuple[float, float]] | None = None
        self._label_fits = self._label_clear = False
        self._label_owner = True
        self._hover = False
        self._drop_target = False
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)

    # --- geometry -------------------------------------------------------------------------
    def update_path(self) -> None:
        """Re-read both ends from the node items (called when either node moves)."""
        nodes = self._canvas.node_items
        src, dst = nodes.get(self.edge.src), nodes.get(self.edge.dst)
        if src is None or dst is None:
            return
        self.prepareGeometryChange()
        self._path = bezier(src.port_scene_pos(OUTPUT, self.edge.src_port),
                            dst.port_scene_pos(INPUT, self.edge.dst_port))
        self._bounds = self._hit = None
        self._place_label()

    def set_label(self, text: str) -> None:
        """Show `text` (a compact shape) at the curve's midpoint; "" hides the label."""
        if text != self._label:
            self.prepareGeometryChange()
            self._label = text
            self._label_text = None
            self._place_label()
            self._bounds = self._hit = None
            self.update()

    @property
    def label(self) -> str:
        return self._label

    def tooltip_text(self) -> str:
        """The hover text: which ports it joins and the tensor it carries."""
        edge, tensor = self.edge, self.tensor_shown
        route = f"{edge.src}.{edge.src_port} → {edge.dst}.{edge.dst_port}"
        return route if tensor is None else f"{route}\n{format_shape(tensor)}"

    @property
    def label_visible(self) -> bool:
        """Whether the label is drawn: it is hidden when it would cover either end's card, and
        only one of several edges leaving the same output (same tensor) shows it."""
        return self._label_fits and self._label_owner

    @property
    def label_fits(self) -> bool:
        return self._label_fits

    def set_label_owner(self, on: bool) -> None:
        """Let this edge show the label of its output (the scene picks one edge per output)."""
        if on != self._label_owner:
            self.prepareGeometryChange()
            self._label_owner = on
            self._bounds = self._hit = None
            self.update()

    @property
    def path(self) -> QPainterPath:
        return self._path

    def _place_label(self) -> None:
        """Put the label at the curve's middle, shown if clear of both end cards; the scene then
        checks it against the other curves into the same input (`fit_crowd`)."""
        self._label_fits = self._label_clear = False
        self._tail = None  # worked out if a merge input's labels are checked (`tail`)
        self._canvas.label_moved(self)
        if not self._label:
            return
        width = label_width(self._label)
        mid = middle(self._path)
        self._label_rect = QRectF(mid.x() - width / 2, mid.y() - LABEL_H / 2, width, LABEL_H)
        nodes = self._canvas.node_items
        ends = [nodes[n].sceneBoundingRect() for n in (self.edge.src, self.edge.dst)]
        self._label_clear = not any(r.intersects(self._label_rect) for r in ends)
        self._label_fits = self._label_clear

    @property
    def label_clear(self) -> bool:
        """Whether the label is clear of both end cards (other curves aside)."""
        return self._label_clear and bool(self._label)

    def set_crowded(self, crowded: bool) -> None:
        """Hide the label (another curve into the same input crosses it) or show it again."""
        fits = not crowded and self.label_clear
        if fits != self._label_fits:
            self.prepareGeometryChange()
            self._label_fits = fits
            self._bounds = self._hit = None
            self.update()

    @property
    def tail(self) -> list[tuple[float, float]]:
        """Points along the half of the curve nearer its input (see `tail_points`)."""
        if self._tail is None:
            self._tail = tail_points(self._path)
        return self._tail

    @property
    def label_rect(self) -> QRectF:
        return self._label_rect

    def contains_point(self, point: QPointF, tolerance: float) -> bool:
        """Whether `point` lies within `tolerance` scene units of the curve."""
        if not self._path.controlPointRect().adjusted(-tolerance, -tolerance, tolerance,
                                                      tolerance).contains(point):
            return False
        stroker = QPainterPathStroker()
        stroker.setWidth(2 * tolerance)
        return stroker.createStroke(self._path).contains(point)

    def set_drop_target(self, on: bool) -> None:
        """Highlight the edge a dragged palette layer would be inserted into."""
        if on != self._drop_target:
            self._drop_target = on
            self.update()

    @property
    def drop_target(self) -> bool:
        return self._drop_target

    # --- QGraphicsItem --------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802
        if self._bounds is None:
            pad = HIT_TOLERANCE + 2
            rect = self._path.controlPointRect().adjusted(-pad, -pad, pad, pad)
            if self.label_visible:
                rect = rect.united(self._label_rect.adjusted(-1, -1, 1, 1))
            self._bounds = rect
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._hit is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(2 * HIT_TOLERANCE)
            self._hit = stroker.createStroke(self._path)
            if self.label_visible:
                self._hit.addRect(self._label_rect)
        return self._hit

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if self._drop_target:
            color, width = style.EDGE_DROP_TARGET, 3.2
        elif self.isSelected():
            color, width = style.EDGE_SELECTED, 2.4
        elif self._hover:
            color, width = style.EDGE_HOVER, 2.0
        else:
            color, width = style.EDGE, EDGE_WIDTH
        pen = QPen(color, width)
        if width * lod < HAIRLINE_PX:
            # thinner than this on screen: a cosmetic pen looks the same and takes the raster
            # engine's fast hairline path instead of stroking the curve into a polygon
            pen = QPen(color, max(1.0, width * lod))
            pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if not self.label_visible or lod < LABEL_LOD:
            return
        painter.setPen(QPen(pen.color() if (self._drop_target or self.isSelected())
                            else style.NODE_BORDER, 1.0))
        painter.setBrush(QBrush(style.EDGE_LABEL_BACKGROUND))
        painter.drawRoundedRect(self._label_rect, 4.0, 4.0)
        if self._label_text is None:
            self._label_text = QStaticText(self._label)
            self._label_text.setTextFormat(Qt.TextFormat.PlainText)
        painter.setFont(fonts().label)
        painter.setPen(style.EDGE_LABEL)
        top = (LABEL_H - fonts().label_metrics.height()) / 2
        painter.drawStaticText(self._label_rect.topLeft() + QPointF(LABEL_PAD_X, top),
                               self._label_text)

    def hoverEnterEvent(self, event) -> None:  # noqa: N802
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        self._hover = False
        self.update()


class PreviewEdgeItem(QGraphicsPathItem):
    """The dashed curve drawn while a connection is dragged out of a port."""

    def __init__(self) -> None:
        super().__init__()
        pen = QPen(style.CONNECT_PREVIEW, 1.8, Qt.PenStyle.DashLine)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.setPen(pen)
        self.setZValue(5)

    def set_ends(self, output_end: QPointF, input_end: QPointF) -> None:
        self.setPath(bezier(output_end, input_end))
