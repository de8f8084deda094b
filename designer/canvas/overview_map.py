"""The overview map: a small picture of the whole design in the canvas's corner, the part in view
outlined; a click or a drag in it moves the view there (as in an image editor's navigator).

It shows itself only while part of the design is out of view. The picture (each card a box in
its category's colour, each edge a line, so skip connections show) is drawn a moment after the
design stops changing, so dragging a node or a running training does not pay for it, and the
design's extent is measured then too: a scroll or a zoom only moves the frame.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from designer import style

from .node_item import PORT_TOP, WIDTH

if TYPE_CHECKING:
    from .view import CanvasView

#: The map's size in pixels, its distance from the canvas's edges, and the margin around the
#: design inside it.
MAP_SIZE = QSize(220, 140)
MAP_MARGIN = 12
INNER_MARGIN = 8.0
#: How long the design must stay unchanged before the picture is redrawn, in milliseconds.
REDRAW_DELAY_MS = 250
FRAME = QColor("#f0c75e")
BACKGROUND = QColor(22, 26, 31, 225)


class OverviewMap(QWidget):
    """The navigator over a `CanvasView`'s bottom-right corner."""

    def __init__(self, view: CanvasView):
        super().__init__(view)
        self.view = view
        self.enabled_by_user = True
        self._picture: QPixmap | None = None
        self._bounds = QRectF()  # the scene rectangle the picture shows
        self._extent = QRectF()  # the cards' bounding rectangle when last drawn
        self._stale = True  # the design changed since
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_DELAY_MS)
        self._redraw.timeout.connect(self.refresh)
        self.setFixedSize(MAP_SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview of the whole design: click or drag to look elsewhere")
        # the model's events, not the scene's `changed` (connecting to that slows every repaint)
        view.session.model_event.connect(self._design_changed)
        view.session.model_replaced.connect(self._design_replaced)
        self.hide()

    # --- what the view calls -----------------------------------------------------------------
    def place(self) -> None:
        """Keep to the bottom-right corner of the view."""
        self.move(self.view.width() - self.width() - MAP_MARGIN,
                  self.view.height() - self.height() - MAP_MARGIN)

    def view_moved(self) -> None:
        """The view scrolled or zoomed: show or hide the map and move its frame."""
        if self._stale and self.enabled_by_user and not self._redraw.isActive():
            self._redraw.start()  # measured and drawn once the view has settled
        wanted = self.enabled_by_user and self._needed()
        if wanted != self.isVisible():
            self.setVisible(wanted)
            if wanted:
                self.place()
                self.raise_()
        elif wanted:
            self.update()

    def refresh(self) -> None:
        """Measure and draw the design again (now, not after the delay)."""
        self._redraw.stop()
        self._stale = False
        canvas = self.view.canvas
        nodes = canvas.model.nodes
        # from the model's positions, one fill per category colour: a Python call per card is
        # what this costs at 5,000 nodes, so as few as possible
        by_color: dict[str, list[QRectF]] = {}
        extent = canvas.cards_rect()
        for node_id, item in canvas.node_items.items():
            x, y = nodes[node_id].pos
            by_color.setdefault(item.spec.category, []).append(
                QRectF(x, y, WIDTH, item.geometry.height))
        if extent.isEmpty():
            self._picture, self._bounds, self._extent = None, QRectF(), QRectF()
            self.view_moved()
            return
        self._extent = extent
        self._bounds = self._fitted(extent)
        picture = QPixmap(self.size() * self.devicePixelRatioF())
        picture.setDevicePixelRatio(self.devicePixelRatioF())
        picture.fill(BACKGROUND)
        painter = QPainter(picture)
        painter.scale(self.width() / self._bounds.width(), self.height() / self._bounds.height())
        painter.translate(-self._bounds.left(), -self._bounds.top())
        edge_pen = QPen(style.EDGE, 1.0)
        edge_pen.setCosmetic(True)
        painter.setPen(edge_pen)
        # from an output's side to an input's side at the first port's height: at this size
        # the exact port makes no difference
        painter.drawLines([QLineF(nodes[e.src].pos[0] + WIDTH, nodes[e.src].pos[1] + PORT_TOP,
                                  nodes[e.dst].pos[0], nodes[e.dst].pos[1] + PORT_TOP)
                           for e in canvas.model.edges if e.src in nodes and e.dst in nodes])
        painter.setPen(Qt.PenStyle.NoPen)
        for category, rects in by_color.items():
            painter.setBrush(style.category_color(category))
            painter.drawRects(rects)
        painter.end()
        self._picture = picture
        self.view_moved()
        self.update()

    def frame(self) -> QRectF:
        """The part of the design in view, in the map's pixels."""
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return self._to_map(visible)

    # --- mouse -------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        self._look_at(event.position())
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._look_at(event.position())
        event.accept()

    def wheelEvent(self, event) -> None:  # noqa: N802
        event.accept()  # not the canvas's zoom: the map stays as it is under the cursor

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._picture is not None:
            painter.drawPixmap(0, 0, self._picture)
        else:
            painter.fillRect(self.rect(), BACKGROUND)
        painter.setPen(QPen(style.NODE_BORDER, 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        if self._picture is not None:
            frame = self.frame().intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
            painter.setPen(QPen(FRAME, 1.5))
            painter.setBrush(QColor(240, 199, 94, 30))
            painter.drawRect(frame)

    # --- helpers -----------------------------------------------------------------------------
    def _design_replaced(self) -> None:
        """Another design: nothing of the last one is shown while this one is measured."""
        self._picture, self._extent = None, QRectF()
        self.hide()
        self._design_changed()

    def _design_changed(self, _event: object = None) -> None:
        self._stale = True
        if self.enabled_by_user:
            self._redraw.start()

    def _needed(self) -> bool:
        """Whether some of the design is out of view."""
        if self._extent.isEmpty():
            return False
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return not visible.contains(self._extent)

    def _fitted(self, items: QRectF) -> QRectF:
        """`items` with a margin, grown to the map's aspect ratio (centred), so the picture is
        not distorted."""
        rect = items.adjusted(-INNER_MARGIN, -INNER_MARGIN, INNER_MARGIN, INNER_MARGIN)
        aspect = self.width() / self.height()
        if rect.width() / rect.height() > aspect:
            grow = rect.width() / aspect - rect.height()
            rect.adjust(0, -grow / 2, 0, grow / 2)
        else:
            grow = rect.height() * aspect - rect.width()
            rect.adjust(-grow / 2, 0, grow / 2, 0)
        return rect

    def _to_map(self, rect: QRectF) -> QRectF:
        sx = self.width() / self._bounds.width() if self._bounds.width() else 1.0
        sy = self.height() / self._bounds.height() if self._bounds.height() else 1.0
        return QRectF((rect.left() - self._bounds.left()) * sx,
                      (rect.top() - self._bounds.top()) * sy, rect.width() * sx,
                      rect.height() * sy)

    def to_scene(self, point: QPointF) -> QPointF:
        """The scene point under a point of the map."""
        return QPointF(self._bounds.left() + point.x() * self._bounds.width() / self.width(),
                       self._bounds.top() + point.y() * self._bounds.height() / self.height())

    def _look_at(self, point: QPointF) -> None:
        if not self._bounds.isEmpty():
            self.view.centerOn(self.to_scene(point))
