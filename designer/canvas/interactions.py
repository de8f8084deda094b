"""Mouse gestures on the canvas, one class per mode: panning and dragging out a connection.

Selecting, rubber-band selection and moving nodes are Qt's own (QGraphicsView's RubberBandDrag and
movable items); `commit_moves` turns a finished drag into one undoable `session.move_nodes`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtGui import QMouseEvent

from .edge_item import PreviewEdgeItem
from .node_item import NodeItem
from .port_item import INPUT, OUTPUT, PortItem

if TYPE_CHECKING:
    from .view import CanvasView

#: Pixels around the cursor searched for a port to connect to.
PORT_SLOP = 5


class MouseMode:
    """A gesture in progress: the view forwards moves and the release, then drops the mode."""

    cursor = Qt.CursorShape.ArrowCursor

    def __init__(self, view: CanvasView):
        self.view = view

    def move(self, event: QMouseEvent) -> None:
        """The mouse moved with the button still down."""

    def release(self, event: QMouseEvent) -> None:
        """The button came up: finish the gesture."""

    def cancel(self) -> None:
        """Abandon the gesture (Escape, or the design was replaced)."""


class PanMode(MouseMode):
    """Middle-drag or space+left-drag: the canvas follows the mouse."""

    def __init__(self, view: CanvasView, event: QMouseEvent):
        super().__init__(view)
        self._last = event.position()
        view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, event: QMouseEvent) -> None:
        delta = event.position() - self._last
        self._last = event.position()
        h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        h.setValue(h.value() - round(delta.x()))
        v.setValue(v.value() - round(delta.y()))

    def release(self, event: QMouseEvent) -> None:
        self.view.restore_cursor()

    def cancel(self) -> None:
        self.view.restore_cursor()


class ConnectMode(MouseMode):
    """Dragging from a port: a dashed curve follows the cursor; releasing on a port (or on a card)
    of the other side asks the session to connect, and shows its refusal at the cursor."""

    def __init__(self, view: CanvasView, port: PortItem):
        super().__init__(view)
        self.port = port
        self.anchor = port.scenePos()
        self.preview = PreviewEdgeItem()
        view.scene().addItem(self.preview)
        self._highlighted: PortItem | None = None
        self._follow(self.anchor)

    def move(self, event: QMouseEvent) -> None:
        target = self._port_under(event.position())
        if target is not self._highlighted:
            if self._highlighted is not None:
                self._highlighted.set_highlight(False)
            self._highlighted = target
            if target is not None:
                target.set_highlight(True)
        end = target.scenePos() if target is not None else self.view.mapToScene(
            event.position().toPoint())
        self._follow(end)

    def _follow(self, end: QPointF) -> None:
        if self.port.side == OUTPUT:
            self.preview.set_ends(self.anchor, end)
        else:
            self.preview.set_ends(end, self.anchor)

    def release(self, event: QMouseEvent) -> None:
        self.cancel()
        target = self._port_under(event.position())
        if target is not None:
            other_node, other_side, other_port = target.node_id, target.side, target.name
        else:
            card = self._card_under(event.position())
            if card is None:
                return  # let go on empty canvas: nothing to connect
            other_node, other_side = card.node_id, INPUT if self.port.side == OUTPUT else OUTPUT
            other_port = pick_port(card, other_side)
        if other_side == self.port.side:
            if other_node == self.port.node_id and other_port == self.port.name:
                return  # a click on a port
            reason = (f"both ends are {'outputs' if other_side == OUTPUT else 'inputs'}: "
                      "connect an output (right side) to an input (left side)")
        elif self.port.side == OUTPUT:
            reason = self.view.session.connect(self.port.node_id, other_node, self.port.name,
                                               other_port)
        else:
            reason = self.view.session.connect(other_node, self.port.node_id, other_port,
                                               self.port.name)
        if reason:
            self.view.show_refusal(reason, event.position())

    def cancel(self) -> None:
        if self._highlighted is not None:
            self._highlighted.set_highlight(False)
            self._highlighted = None
        if self.preview.scene() is not None:
            self.preview.scene().removeItem(self.preview)

    def _items_near(self, pos: QPointF) -> list:
        point = pos.toPoint()
        return self.view.items(QRect(point.x() - PORT_SLOP, point.y() - PORT_SLOP,
                                     2 * PORT_SLOP + 1, 2 * PORT_SLOP + 1))

    def _port_under(self, pos: QPointF) -> PortItem | None:
        scene_pos = self.view.mapToScene(pos.toPoint())
        ports = [i for i in self._items_near(pos) if isinstance(i, PortItem) and i is not self.port]
        if not ports:
            return None
        return min(ports, key=lambda p: (p.scenePos() - scene_pos).manhattanLength())

    def _card_under(self, pos: QPointF) -> NodeItem | None:
        for item in self.view.items(pos.toPoint()):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if item is not None:
                return item
        return None


def pick_port(card: NodeItem, side: str) -> str | None:
    """The port of `card` a connection dropped on the card body means: its only one on that side,
    or the first free input; None lets the session explain what is ambiguous."""
    names = [name for (s, name) in card.ports if s == side]
    if len(names) == 1:
        return names[0]
    if side == INPUT:
        free = [name for name in names if not card.ports[(INPUT, name)].connected]
        if free:
            return free[0]
    return None


def commit_moves(view: CanvasView, pressed: NodeItem | None) -> None:
    """After a drag: record where the moved cards went as ONE `session.move_nodes` (one undo
    step), snapped to the grid when snapping is on; then put every card where the model says."""
    model = view.session.model
    items = {i.node_id: i for i in view.scene().selectedItems() if isinstance(i, NodeItem)}
    if pressed is not None and shiboken6.isValid(pressed) and pressed.scene() is view.scene():
        items[pressed.node_id] = pressed
    moves = {}
    for node_id, item in items.items():
        node = model.nodes.get(node_id)
        if node is not None and (item.x(), item.y()) != node.pos:
            moves[node_id] = (node.pos, view.snapped((item.x(), item.y())))
    if not moves:
        return
    view.session.move_nodes(moves)
    for node_id in moves:
        item, node = view.canvas.node_items.get(node_id), model.nodes.get(node_id)
        if item is not None and node is not None and (item.x(), item.y()) != node.pos:
            item.setPos(QPointF(*node.pos))
