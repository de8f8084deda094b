"""What a node did to the input tried (#13): a small picture of its output under its card.

The scene pushes a caption, a picture and a tooltip into the item (`CanvasScene.set_layer_outputs`);
the item knows nothing about tensors. It is a child of the card, so it moves with it and goes
when the card goes.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from designer import style

from .node_item import TEXT_LOD, WIDTH, NodeItem, fonts

#: Between the card and its picture: clear of the outline an architecture diff draws (4 px).
GAP = 7.0
PAD = 5.0
CAPTION_H = 14.0
#: Smallest a picture is shrunk to fit above the next card down (below, it overlaps that card).
MIN_SHRINK = 0.4
#: Below this zoom the picture is a dot of a few pixels: nothing is drawn.
PICTURE_LOD = 0.2
BACKGROUND = QColor(22, 26, 31, 235)


class LayerOutputItem(QGraphicsItem):
    """A caption and a picture of one node's output for the input tried, under the node's card."""

    def __init__(self, card: NodeItem):
        super().__init__(card)
        self.node_id = card.node_id
        self.caption = ""
        self.pixmap = QPixmap()
        self.tip = ""
        self._height = 0.0
        self._size = (0.0, 0.0)  # the picture as drawn
        # clicks and drags go to the canvas behind it (a rubber band), as on empty canvas
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setPos(0.0, card.geometry.height + GAP)

    def show_picture(self, caption: str, pixmap: QPixmap, tip: str,
                     room: float | None = None) -> None:
        """Show another picture (the size changes only when the picture's height does), never
        wider than the card and, given the `room` below the card (to the next card down),
        shrunk to fit it, down to MIN_SHRINK of its size."""
        size = pixmap.deviceIndependentSize()
        w, h = size.width(), size.height()
        if w > WIDTH - 2 * PAD:  # never wider than the card: squeezed, not cut
            w, h = WIDTH - 2 * PAD, h * (WIDTH - 2 * PAD) / w
        if room is not None and h > 0:
            fits = (room - GAP - CAPTION_H - 2 * PAD) / h
            if fits < 1.0:
                w, h = w * max(fits, MIN_SHRINK), h * max(fits, MIN_SHRINK)
        self._size = (w, h)
        height = CAPTION_H + h + 2 * PAD
        if height != self._height:
            self.prepareGeometryChange()
            self._height = height
        self.caption, self.pixmap, self.tip = caption, pixmap, tip
        self.update()

    def tooltip_text(self) -> str:
        """The hover text (see `CanvasScene.helpEvent`)."""
        return self.tip

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(0.0, 0.0, WIDTH, self._height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < PICTURE_LOD:
            return
        painter.setPen(QPen(style.NODE_BORDER, 1.0))
        painter.setBrush(BACKGROUND)
        painter.drawRoundedRect(self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        if lod >= TEXT_LOD:  # like the card's own text
            painter.setFont(fonts().label)
            painter.setPen(style.NODE_SUBTEXT)
            painter.drawText(QRectF(PAD, PAD - 2, WIDTH - 2 * PAD, CAPTION_H),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self.caption)
        w, h = self._size
        if self.pixmap.devicePixelRatio() > 1 or (w, h) != self.pixmap.deviceIndependentSize(
                ).toTuple():  # drawn finer than shown (text), or shrunk: smoothed
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(QRectF(QPointF((WIDTH - w) / 2, PAD + CAPTION_H), QPointF(
            (WIDTH + w) / 2, PAD + CAPTION_H + h)), self.pixmap, QRectF(self.pixmap.rect()))
