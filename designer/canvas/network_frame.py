"""Network frames: each named network of the design drawn as a labelled, rounded frame behind its
nodes' cards (their bounding box plus a margin), with its name and parameter count at the top left.

A frame's body has no shape, so presses, double-clicks and rubber bands inside it reach the
canvas as if it were empty; only its label takes clicks (one selects the network's nodes).
`NetworkFrames` keeps one frame per named network in step with the scene: the scene tells it when
nodes come, go, move or change network, and when a new analysis brings new parameter counts. The
main network ("") has no frame: a design with one network looks as it always did.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from runtime.networks import network_totals
from runtime.present import format_count, format_exact

from .node_item import WIDTH as CARD_WIDTH, fonts

if TYPE_CHECKING:
    from .scene import CanvasScene

MARGIN = 22.0
#: Room above the cards for the label.
LABEL_BAND = 26.0
CORNER = 14.0
#: Muted colours, one per named network in design order (repeating after the last).
FRAME_COLORS = ("#6b93c9", "#c98a5e", "#74a877", "#a882c4", "#c4ad62", "#5fa9a6")
#: Frames sit behind edges (0) and cards (1) and the diff outlines (-1).
FRAME_Z = -10.0


def frame_color(index: int) -> QColor:
    return QColor(FRAME_COLORS[index % len(FRAME_COLORS)])


class NetworkLabel(QGraphicsItem):
    """The frame's name tag: "generator · 1.2k params". A click selects the network's nodes."""

    def __init__(self, frame: NetworkFrame):
        super().__init__(frame)
        self._frame = frame
        self.text = ""
        self._rect = QRectF()
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_text(self, text: str, tooltip: str) -> None:
        if text == self.text:
            return
        self.prepareGeometryChange()
        self.text = text
        metrics = fonts().title_metrics
        self._rect = QRectF(0, 0, metrics.horizontalAdvance(text) + 16, metrics.height() + 6)
        self.setToolTip(tooltip)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        color = self._frame.color
        fill = QColor(color)
        fill.setAlpha(60)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, 6, 6)
        painter.setFont(fonts().title)
        painter.setPen(color.lighter(135))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        scene = self.scene()
        scene.clearSelection()
        for node_id in self._frame.node_ids:
            item = scene.node_items.get(node_id)
            if item is not None:
                item.setSelected(True)
        event.accept()


class NetworkFrame(QGraphicsItem):
    """The rounded frame of one named network; `node_ids` are its nodes (set by NetworkFrames)."""

    def __init__(self, name: str, color: QColor):
        super().__init__()
        self.name = name
        self.color = color
        self.node_ids: list[str] = []
        self._rect = QRectF()
        self.setZValue(FRAME_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.label = NetworkLabel(self)

    @property
    def rect(self) -> QRectF:
        """The frame in scene coordinates (the item sits at the origin)."""
        return QRectF(self._rect)

    def fit(self, cards: list[QRectF]) -> None:
        """Wrap the given card rectangles (scene coordinates)."""
        rect = QRectF()
        for card in cards:
            rect = rect.united(card) if not rect.isNull() else QRectF(card)
        rect.adjust(-MARGIN, -MARGIN - LABEL_BAND, MARGIN, MARGIN)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
            self.label.setPos(rect.topLeft() + QPointF(10, 8))

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.adjusted(-1, -1, 1, 1)

    def shape(self) -> QPainterPath:
        return QPainterPath()  # nothing to hit: the canvas inside the frame stays the canvas

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        fill = QColor(self.color)
        fill.setAlpha(22)
        border = QColor(self.color)
        border.setAlpha(150)
        pen = QPen(border, 1.5)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, CORNER, CORNER)


class NetworkFrames:
    """One `NetworkFrame` per named network of the scene's design, kept in step by the scene."""

    def __init__(self, scene: CanvasScene):
        self._scene = scene
        self.frames: dict[str, NetworkFrame] = {}
        self._network_of: dict[str, str] = {}

    def frame(self, name: str) -> NetworkFrame | None:
        return self.frames.get(name)

    def sync(self) -> None:
        """Match the design's networks: frames made, dropped, recoloured, refitted, relabelled
        (after nodes are added or removed or change network, and after a rebuild)."""
        scene = self._scene
        named = {name: ids for name, ids in scene.model.networks().items() if name}
        for name in [n for n in self.frames if n not in named]:
            frame = self.frames.pop(name)
            if frame.scene() is scene:
                scene.removeItem(frame)
        self._network_of = {}
        for index, (name, ids) in enumerate(named.items()):
            frame = self.frames.get(name)
            if frame is None:
                frame = self.frames[name] = NetworkFrame(name, frame_color(index))
                scene.addItem(frame)
            elif frame.color != frame_color(index):
                frame.color = frame_color(index)
                frame.update()
            frame.node_ids = list(ids)
            self._network_of.update(dict.fromkeys(ids, name))
            self._fit(frame)
        self.relabel()

    def forget(self) -> None:
        """The scene was cleared, and the frames deleted with it."""
        self.frames = {}
        self._network_of = {}

    def needed_for(self, network: str) -> bool:
        """Whether adding or removing a node of `network` can change the frames (a design
        without named networks never pays for them)."""
        return bool(network or self.frames)

    def node_moved(self, node_id: str) -> None:
        """A card moved (a drag in progress, or a NodeMoved event): its frame follows."""
        frame = self.frames.get(self._network_of.get(node_id, ""))
        if frame is not None:
            self._fit(frame)

    def relabel(self) -> None:
        """Names and parameter counts from the scene's latest analysis."""
        analysis = self._scene.analysis
        totals = ({t.name: t for t in network_totals(self._scene.model, analysis)}
                  if analysis is not None else {})
        for name, frame in self.frames.items():
            total = totals.get(name)
            if total is None:
                frame.label.set_text(name, name)
                continue
            frame.label.set_text(
                f"{name}  ·  {format_count(total.params)} params",
                f"network '{name}': {total.nodes} nodes, {format_exact(total.params)} "
                f"parameters ({format_exact(total.trainable_params)} trainable)\n"
                "Click to select its nodes")

    def _fit(self, frame: NetworkFrame) -> None:
        cards = []
        for node_id in frame.node_ids:
            item = self._scene.node_items.get(node_id)
            if item is not None:
                cards.append(QRectF(item.pos(), QPointF(item.x() + CARD_WIDTH,
                                                        item.y() + item.geometry.height)))
        frame.fit(cards)
