"""A port: the small circle on a node card where edges start (outputs) and end (inputs)."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from designer import style
from runtime.specs import PortSpec

INPUT, OUTPUT = "in", "out"

RADIUS = 4.5
#: Ports are small to draw but generous to hit.
HIT_RADIUS = 9.0


def add_port_shape(path: QPainterPath, centre: QPointF, variadic: bool,
                   radius: float = RADIUS) -> None:
    """A port's outline: a circle, or a taller pill for a variadic input (it takes several
    edges). Cards draw theirs filled when connected and as a ring when free."""
    if variadic:
        path.addRoundedRect(QRectF(centre.x() - radius, centre.y() - 2 * radius, 2 * radius,
                                   4 * radius), radius, radius)
    else:
        path.addEllipse(centre, radius, radius)


class PortItem(QGraphicsItem):
    """One input or output port of a node; a child of its `NodeItem`.

    Holds only names: the node id (through its parent), the side and the port name. Whether it is
    connected is set by the scene from the model's edges.
    """

    def __init__(self, parent: QGraphicsItem, side: str, port: PortSpec, pos: QPointF):
        super().__init__(parent)
        self.side = side
        self.name = port.name
        self.variadic = port.variadic
        self._connected = False
        self._hover = False
        self._highlight = False
        self.setPos(pos)
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        tip = f"{'input' if side == INPUT else 'output'} '{port.name}'"
        if port.doc:
            tip += f": {port.doc}"
        if port.variadic:
            tip += "\nAccepts several connections (in order)."
        elif port.optional:
            tip += "\nOptional."
        self.setToolTip(tip)

    @property
    def node_id(self) -> str:
        return self.parentItem().node_id  # type: ignore[union-attr]

    def set_connected(self, connected: bool) -> None:
        if connected != self._connected:
            self._connected = connected
            self.parentItem().ports_changed()  # the card draws the port

    @property
    def connected(self) -> bool:
        return self._connected

    def set_highlight(self, on: bool) -> None:
        """Mark this port as the target under the cursor while a connection is dragged."""
        if on != self._highlight:
            self._highlight = on
            self._set_active()

    # --- QGraphicsItem --------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-HIT_RADIUS, -HIT_RADIUS, 2 * HIT_RADIUS, 2 * HIT_RADIUS)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), HIT_RADIUS, HIT_RADIUS)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        # the resting look is drawn by the node card (inside its cached pixmap); the port item
        # draws only while it is hovered or is a connection's target
        if self._hover or self._highlight:
            path = QPainterPath()
            add_port_shape(path, QPointF(0, 0), self.variadic, RADIUS + 1.5)
            painter.setPen(QPen(style.PORT_HOVER, 1.6))
            painter.setBrush(QBrush(style.PORT_HOVER))
            painter.drawPath(path)

    def _set_active(self) -> None:
        active = self._hover or self._highlight
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, not active)
        self.update()

    def hoverEnterEvent(self, event) -> None:  # noqa: N802
        self._hover = True
        self._set_active()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        self._hover = False
        self._set_active()
