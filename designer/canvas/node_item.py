"""A node card: header in the category colour, key parameters, output shape and parameter count.

The item holds only its node id. Everything it draws is read from the model and the latest
analysis when the scene asks it to `refresh`; the strings it keeps are a paint cache of those.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen,
                           QStaticText)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from designer import style
from runtime.present import format_count, format_exact
from runtime.shapes import ERROR, OK, UNKNOWN
from runtime.specs import LayerSpec

from .labels import key_params_text
from .port_item import INPUT, OUTPUT, PortItem, add_port_shape

if TYPE_CHECKING:
    from .scene import CanvasScene

WIDTH = float(style.NODE_WIDTH)
HEADER_H = 24.0
CORNER = 6.0
PAD_X = 10.0
BODY_TOP = HEADER_H + 5.0
LINE_H = 15.0
PORT_TOP = HEADER_H + 16.0
PORT_SPACING = 18.0
BADGE_R = 7.0
PORT_OVERHANG = 8.0
LIVE_TAG_H = 15.0
#: The doctor's badge: a circle on the card's top-left corner, coloured by the worst severity.
DOCTOR_R = 10.0
DOCTOR_CENTRE = QPointF(-2.0, -2.0)
DOCTOR_COLORS = {"error": style.ERROR, "warning": style.WARNING, "info": style.INFO}
#: Below this zoom the badges are drawn large (seen from afar, the badge is what matters).
TEXT_LOD = 0.5
#: Below this zoom the card's own texts would be under 9 px: it is drawn as an overview card
#: instead, its type and shape in screen-sized text as large as the card allows.
DETAIL_LOD = 0.8
#: An overview card's texts, in screen pixels whatever the zoom, and the padding around them.
OVERVIEW_TITLE_PX, OVERVIEW_TEXT_PX, OVERVIEW_PAD = 12, 11, 2.0


class Fonts:
    """The canvas fonts and their metrics (made once, after the QApplication exists)."""

    def __init__(self) -> None:
        self.title = QFont()
        self.title.setPixelSize(style.CANVAS_TITLE_PX)
        self.title.setBold(True)
        self.text = QFont()
        self.text.setPixelSize(style.CANVAS_TEXT_PX)
        self.label = QFont()
        self.label.setPixelSize(style.CANVAS_LABEL_PX)
        self.badge = QFont(self.title)
        self.overview_title = QFont()
        self.overview_title.setPixelSize(OVERVIEW_TITLE_PX)
        self.overview_title.setBold(True)
        self.overview_text = QFont()
        self.overview_text.setPixelSize(OVERVIEW_TEXT_PX)
        self.overview_title_metrics = QFontMetricsF(self.overview_title)
        self.overview_text_metrics = QFontMetricsF(self.overview_text)
        self.title_metrics = QFontMetricsF(self.title)
        self.text_metrics = QFontMetricsF(self.text)
        self.label_metrics = QFontMetricsF(self.label)


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    return Fonts()


@lru_cache(maxsize=4096)
def elide(font: str, text: str, width: float) -> str:
    """`text` cut to `width` pixels of the named canvas font ("title", "text" or "label")."""
    metrics = getattr(fonts(), f"{font}_metrics")
    if metrics.horizontalAdvance(text) <= width:
        return text
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


def header_texts(spec: LayerSpec, node_id: str, badge: bool) -> tuple[str, str]:
    """The header's title and node id, shortened to share the strip (and leave room for a badge)."""
    return _header_texts(spec.title, spec.type_id, node_id, badge)


@lru_cache(maxsize=8192)
def _header_texts(title: str, type_id: str, node_id: str, badge: bool) -> tuple[str, str]:
    f = fonts()
    room = WIDTH - 2 * PAD_X - (2 * BADGE_R + 6 if badge else 0.0)
    id_width = min(f.label_metrics.horizontalAdvance(node_id), room * 0.42)
    id_text = f.label_metrics.elidedText(node_id, Qt.TextElideMode.ElideMiddle, id_width)
    title_room = room - f.label_metrics.horizontalAdvance(id_text) - 8
    if (f.title_metrics.horizontalAdvance(title) > title_room
            and f.title_metrics.horizontalAdvance(type_id) <= title_room):
        title = type_id  # "Batch Normalization" does not fit; "BatchNorm" does
    return elide("title", title, title_room), id_text


def overview_shape(shape: str) -> str:
    """The shape as a zoomed-out card shows it: "16×24×24" for "(batch, 16, 24, 24)" (the
    batch dimension goes without saying), anything else as it is."""
    if shape.startswith("(batch, ") and ")" in shape:
        dims, _, rest = shape[len("(batch, "):].partition(")")
        return "×".join(d.strip() for d in dims.split(",")) + rest
    return shape


class Paint:
    """Pens and brushes of the cards, made once (painting runs for every card on every zoom)."""

    def __init__(self) -> None:
        self.body = QBrush(style.NODE_BODY)
        self.border = QPen(style.NODE_BORDER, 1.0)
        self.selected = QPen(style.NODE_SELECTED, 2.0)
        self.error = QPen(style.ERROR, 1.6)
        self.port = QPen(style.PORT, 1.6)
        self.port_fill = QBrush(style.PORT)
        self.badge_ring = QPen(style.NODE_BODY, 1.2)
        self.headers: dict[str, QBrush] = {}

    def header(self, category: str) -> QBrush:
        brush = self.headers.get(category)
        if brush is None:
            brush = self.headers[category] = QBrush(style.category_color(category))
        return brush


@lru_cache(maxsize=1)
def paints() -> Paint:
    return Paint()


@dataclass(frozen=True)
class CardGeometry:
    """Where things go on the card of one layer type (it depends on the spec only)."""

    height: float
    inputs: dict[str, QPointF]
    outputs: dict[str, QPointF]
    label_inputs: bool
    label_outputs: bool
    text_left: float
    text_right: float
    show_key_params: bool
    show_count: bool
    body: QPainterPath
    outline: QPainterPath


_GEOMETRY: dict[int, tuple[LayerSpec, CardGeometry]] = {}


def card_geometry(spec: LayerSpec) -> CardGeometry:
    """The layout of `spec`'s card: height, port positions and the text column (cached)."""
    cached = _GEOMETRY.get(id(spec))
    if cached is None or cached[0] is not spec:
        cached = _GEOMETRY[id(spec)] = (spec, _card_geometry(spec))
    return cached[1]


def _card_geometry(spec: LayerSpec) -> CardGeometry:
    metrics = fonts().label_metrics
    label_inputs, label_outputs = len(spec.inputs) > 1, len(spec.outputs) > 1
    inputs = {p.name: QPointF(0.0, PORT_TOP + i * PORT_SPACING) for i, p in enumerate(spec.inputs)}
    outputs = {p.name: QPointF(WIDTH, PORT_TOP + i * PORT_SPACING)
               for i, p in enumerate(spec.outputs)}
    text_left, text_right = PAD_X, WIDTH - PAD_X
    if label_inputs:
        text_left += max(metrics.horizontalAdvance(p.name) for p in spec.inputs) + 8
    if label_outputs:
        text_right -= max(metrics.horizontalAdvance(p.name) for p in spec.outputs) + 8
    lines = 1 + bool(spec.key_params) + spec.has_weights
    ports = max(len(spec.inputs), len(spec.outputs), 1)
    height = max(BODY_TOP + lines * LINE_H + 7.0, PORT_TOP + (ports - 1) * PORT_SPACING + 14.0)
    body, outline = QPainterPath(), QPainterPath()
    body.addRoundedRect(QRectF(0, 0, WIDTH, height), CORNER, CORNER)
    outline.addRoundedRect(QRectF(0.5, 0.5, WIDTH - 1, height - 1), CORNER, CORNER)
    return CardGeometry(height, inputs, outputs, label_inputs, label_outputs, text_left,
                        text_right, bool(spec.key_params), spec.has_weights, body, outline)


@lru_cache(maxsize=1)
def header_path() -> QPainterPath:
    """The header strip: a rectangle whose top corners follow the card's rounding."""
    rounded = QPainterPath()
    rounded.addRoundedRect(QRectF(0, 0, WIDTH, HEADER_H + 2 * CORNER), CORNER, CORNER)
    strip = QPainterPath()
    strip.addRect(QRectF(0, 0, WIDTH, HEADER_H))
    return rounded.intersected(strip)


class NodeItem(QGraphicsItem):
    """The card of one node. Holds its id; `refresh` re-reads the model and the analysis."""

    def __init__(self, canvas: CanvasScene, node_id: str, pos: QPointF | None = None):
        super().__init__()
        self.node_id = node_id
        self._canvas = canvas
        self.spec = canvas.model.spec(node_id)
        self.geometry = card_geometry(self.spec)
        if pos is not None:  # before it sends geometry changes: no edges to move yet
            self.setPos(pos)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.ports: dict[tuple[str, str], PortItem] = {}
        for port in self.spec.inputs:
            self.ports[(INPUT, port.name)] = PortItem(self, INPUT, port,
                                                      self.geometry.inputs[port.name])
        for port in self.spec.outputs:
            self.ports[(OUTPUT, port.name)] = PortItem(self, OUTPUT, port,
                                                       self.geometry.outputs[port.name])
        # paint cache, rebuilt by refresh()
        self._title = self._id_text = self._params_text = self._shape_text = ""
        self._count_text = self._overview_shape = ""
        self._shape_color = style.SHAPE_TEXT
        self._status = ""
        self._badge: QColor | None = None
        self._drawn: tuple = ()
        self._texts: list | None = None
        self._overview_texts: tuple | None = None  # (zoom, layout) -> texts, for that zoom
        self._port_paths: tuple[QPainterPath, QPainterPath] | None = None
        self._live: tuple[QColor, str] | None = None  # training statistic: colour and value
        self._doctor = ""  # the worst severity of the doctor's findings on this node, or ""

    # --- reading the model ----------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read params and the latest analysis; repaint only when something shown changed."""
        node = self._canvas.model.nodes[self.node_id]
        spec, geo = self.spec, self.geometry
        result = self._canvas.result(self.node_id)
        errors, warnings = self._canvas.messages(self.node_id)

        params_text = key_params_text(spec, node.params) if geo.show_key_params else ""
        status = result.status if result is not None else ""
        shape_color = style.SHAPE_TEXT
        if result is None:
            shape = "…"
            shape_color = style.NODE_SUBTEXT
        elif status == OK:
            shape = self._canvas.shape_description(self.node_id, result)
        elif status == UNKNOWN:
            shape, shape_color = "?", style.NODE_SUBTEXT
        else:
            shape = errors[0] if errors else "error"
            if shape.startswith(f"{spec.type_id}: "):  # the card already says what it is
                shape = shape[len(spec.type_id) + 2:]
            shape_color = style.ERROR
        count = ""
        if geo.show_count:
            count = (f"{format_count(result.params)} params" if status == OK else "? params")
            if node.params.get("trainable") is False:
                count += " · frozen"
        badge = style.ERROR if (status == ERROR or errors) else (
            style.WARNING if warnings else None)
        severities = [severity for severity, _ in self._canvas.findings(self.node_id)]
        doctor = min(severities, key=list(DOCTOR_COLORS).index, default="")
        if doctor != self._doctor:
            if not doctor or not self._doctor:
                self.prepareGeometryChange()  # the badge sticks out of the card's corner
            self._doctor = doctor
            self.update()
        drawn = (*header_texts(spec, self.node_id, badge is not None),
                 elide("text", params_text, geo.text_right - geo.text_left),
                 elide("text", shape, geo.text_right - geo.text_left),
                 count, shape_color.rgba(), status, None if badge is None else badge.rgba(),
                 overview_shape(shape))
        if drawn != self._drawn:
            self._drawn = drawn
            (self._title, self._id_text, self._params_text, self._shape_text,
             self._count_text) = drawn[:5]
            self._shape_color, self._status, self._badge = shape_color, status, badge
            self._overview_shape = drawn[-1]
            self._texts = self._overview_texts = None
            self.update()

    def tooltip_text(self) -> str:
        """The hover text: what the node is, its output and parameters, every error and warning.

        Made when the tooltip is asked for (see `CanvasScene.helpEvent`), not on every analysis.
        """
        result = self._canvas.result(self.node_id)
        errors, warnings = self._canvas.messages(self.node_id)
        lines = [f"{self.spec.title} — {self.node_id}"]
        if result is not None and result.status == OK:
            shape = self._canvas.shape_description(self.node_id, result)
            if shape:
                lines.append(f"output {shape}" if self.spec.outputs else f"receives {shape}")
            if self.spec.has_weights:
                lines.append(f"{format_exact(result.params)} parameters")
        elif result is not None and result.status == UNKNOWN:
            lines.append("output unknown: fix the layers before this one first")
        lines += [f"✖ {m}" for m in errors]
        lines += [f"⚠ {m}" for m in warnings]
        lines += [f"✚ Doctor ({severity}): {title}"
                  for severity, title in self._canvas.findings(self.node_id)]
        return "\n".join(lines)

    @property
    def status(self) -> str:
        """The analysis status drawn: "ok", "error", "unknown" or "" before the first analysis."""
        return self._status

    @property
    def badge(self) -> str:
        """"error", "warning" or "" — which badge the header shows."""
        if self._badge is None:
            return ""
        return "error" if self._badge == style.ERROR else "warning"

    @property
    def doctor_badge(self) -> str:
        """The doctor's badge: "error", "warning", "info" (its worst finding) or "" for none."""
        return self._doctor

    @property
    def shape_text(self) -> str:
        return self._shape_text

    @property
    def params_text(self) -> str:
        return self._params_text

    @property
    def count_text(self) -> str:
        """The parameter count drawn at the card's foot, e.g. "1.23B params"."""
        return self._count_text

    @property
    def live(self) -> tuple[QColor, str] | None:
        """The live statistic drawn on the card (colour, value text), or None."""
        return self._live

    def set_live(self, color: QColor | None, text: str = "") -> None:
        """Tint the card by a live training statistic and show its value above it (None: clear)."""
        live = None if color is None else (QColor(color), text)
        if live == self._live:
            return
        if (live is None) != (self._live is None):
            self.prepareGeometryChange()  # the value tag sticks out above the card
        self._live = live
        self.update()

    def port(self, side: str, name: str) -> PortItem | None:
        return self.ports.get((side, name))

    def port_scene_pos(self, side: str, name: str) -> QPointF:
        """Where edges attach to a port, in scene coordinates (no item transforms are used)."""
        table = self.geometry.inputs if side == INPUT else self.geometry.outputs
        local = table.get(name)
        if local is None:  # an edge naming a port the spec lacks: attach at the header
            local = QPointF(0.0 if side == INPUT else WIDTH, PORT_TOP)
        return self.pos() + local

    # --- QGraphicsItem --------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802
        # the port circles stick out of both sides of the card
        top = -LIVE_TAG_H - 3.0 if self._live is not None else -1.5
        if self._doctor:
            top = min(top, DOCTOR_CENTRE.y() - 1.6 * DOCTOR_R - 1.0)
        left = min(-PORT_OVERHANG, DOCTOR_CENTRE.x() - 1.6 * DOCTOR_R - 1.0) if self._doctor \
            else -PORT_OVERHANG
        return QRectF(left, top, WIDTH + PORT_OVERHANG - left, self.geometry.height + 1.5 - top)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, WIDTH, self.geometry.height), CORNER, CORNER)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        geo, p = self.geometry, paints()
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        painter.fillPath(geo.body, p.body)
        if self._live is not None:
            wash = QColor(self._live[0])
            wash.setAlpha(70)
            painter.fillPath(geo.body, wash)
        overview = self._overview_layout(lod) if lod < DETAIL_LOD else None
        if overview is not None:
            painter.save()
            painter.setClipPath(geo.body)
            painter.fillRect(QRectF(0, 0, WIDTH, overview[0]), p.header(self.spec.category))
            painter.restore()
        else:
            painter.fillPath(header_path(), p.header(self.spec.category))
        if self._live is not None:
            self._paint_live_tag(painter)
        painter.strokePath(geo.outline, p.selected if self.isSelected()
                           else p.error if self._status == ERROR else p.border)
        if self._port_paths is None:
            self._port_paths = self._make_port_paths()
        connected, free = self._port_paths
        painter.setPen(p.port)
        painter.setBrush(p.port_fill)
        painter.drawPath(connected)
        painter.setBrush(p.body)
        painter.drawPath(free)
        if overview is not None:
            self._paint_overview(painter, lod, *overview)
        if self._badge is not None:
            big = lod < TEXT_LOD  # seen from afar the badge is what matters
            centre = QPointF(WIDTH - PAD_X + 2 - BADGE_R, HEADER_H / 2)
            painter.setPen(Qt.PenStyle.NoPen if big else p.badge_ring)
            painter.setBrush(self._badge)
            radius = BADGE_R * (1.6 if big else 1.0)
            painter.drawEllipse(centre, radius, radius)
            if not big:
                painter.setFont(fonts().badge)
                painter.setPen(style.NODE_HEADER_TEXT if self._badge == style.ERROR
                               else style.NODE_BODY)
                painter.drawText(QRectF(centre.x() - BADGE_R, 0, 2 * BADGE_R, HEADER_H),
                                 Qt.AlignmentFlag.AlignCenter, "!")
        if self._doctor:
            self._paint_doctor_badge(painter, big=lod < TEXT_LOD)
        if overview is not None:
            return
        if self._texts is None:
            self._texts = self._layout_texts()
        f = fonts()
        current = None
        for font, color, at, text in self._texts:
            if font != current:
                painter.setFont(getattr(f, font))
                current = font
            painter.setPen(color)
            painter.drawStaticText(at, text)

    def _overview_layout(self, lod: float) -> tuple[float, bool, bool] | None:
        """How a zoomed-out card is drawn: the height (scene units) of its coloured top, which
        carries the type name in screen-sized text, and whether the name and the shape line
        below it fit; the whole card is the coloured top when the shape has no room."""
        f = fonts()
        title_h = f.overview_title_metrics.height() + 2 * OVERVIEW_PAD
        text_h = f.overview_text_metrics.height() + 2 * OVERVIEW_PAD
        height_px, width_px = self.geometry.height * lod, WIDTH * lod
        title = width_px >= 3 * OVERVIEW_TITLE_PX and height_px >= title_h
        shape = title and height_px >= title_h + text_h and bool(self._overview_shape)
        top = title_h / lod if shape else self.geometry.height
        return top, title, shape

    def _paint_overview(self, painter: QPainter, lod: float, top: float, title: bool,
                        shape: bool) -> None:
        """The zoomed-out card's texts, drawn in screen pixels (the painter scaled by 1/lod)."""
        if not title:
            return
        key = (lod, top, shape)
        if self._overview_texts is None or self._overview_texts[0] != key:
            self._overview_texts = key, self._layout_overview(lod, top, shape)
        f = fonts()
        painter.save()
        painter.scale(1 / lod, 1 / lod)
        for font, color, at, text in self._overview_texts[1]:
            painter.setFont(getattr(f, font))
            painter.setPen(color)
            painter.drawStaticText(at, text)
        painter.restore()

    def _layout_overview(self, lod: float, top: float,
                         shape: bool) -> list[tuple[str, QColor, QPointF, QStaticText]]:
        """Where a zoomed-out card's texts go, in screen pixels from the card's corner."""
        f = fonts()
        room = WIDTH * lod - 2 * OVERVIEW_PAD
        title = self.spec.title
        if f.overview_title_metrics.horizontalAdvance(title) > room:
            title = self.spec.type_id  # "Batch Normalization" does not fit; "BatchNorm" does
        lines = [("overview_title", style.NODE_HEADER_TEXT, 0.0, top * lod, title)]
        if shape:
            lines.append(("overview_text", QColor.fromRgba(self._shape_color.rgba()), top * lod,
                          f.overview_text_metrics.height() + 2 * OVERVIEW_PAD,
                          self._overview_shape))
        texts = []
        for font, color, y, height, text in lines:
            metrics = getattr(f, f"{font}_metrics")
            static = QStaticText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, room))
            static.setTextFormat(Qt.TextFormat.PlainText)
            texts.append((font, color, QPointF(OVERVIEW_PAD, y + (height - metrics.height()) / 2),
                          static))
        return texts

    def _paint_doctor_badge(self, painter: QPainter, big: bool) -> None:
        """A white cross on the severity's colour (the doctor's mark; shape errors use "!")."""
        radius = DOCTOR_R * (1.6 if big else 1.0)
        painter.setPen(QPen(style.CANVAS_BACKGROUND, 1.5))
        painter.setBrush(DOCTOR_COLORS[self._doctor])
        painter.drawEllipse(DOCTOR_CENTRE, radius, radius)
        arm, half = radius * 0.55, radius * 0.17
        x, y = DOCTOR_CENTRE.x(), DOCTOR_CENTRE.y()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.NODE_HEADER_TEXT)
        painter.drawRect(QRectF(x - arm, y - half, 2 * arm, 2 * half))
        painter.drawRect(QRectF(x - half, y - arm, 2 * half, 2 * arm))

    def _paint_live_tag(self, painter: QPainter) -> None:
        color, text = self._live
        painter.fillRect(QRectF(0, HEADER_H, 4, self.geometry.height - HEADER_H - CORNER), color)
        if not text:
            return
        f = fonts()
        width = f.label_metrics.horizontalAdvance(text) + 12
        tag = QRectF(WIDTH - width, -LIVE_TAG_H - 2, width, LIVE_TAG_H)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(tag, 4, 4)
        painter.setFont(f.label)
        painter.setPen(style.LIVE_TAG_TEXT)
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)

    def ports_changed(self) -> None:
        """A port got or lost its last edge: redraw the card (it draws the ports)."""
        self._port_paths = None
        self.update()

    def _make_port_paths(self) -> tuple[QPainterPath, QPainterPath]:
        connected, free = QPainterPath(), QPainterPath()
        for port in self.ports.values():
            add_port_shape(connected if port.connected else free, port.pos(), port.variadic)
        return connected, free

    def _layout_texts(self) -> list[tuple[str, QColor, QPointF, QStaticText]]:
        """Where each text of the card goes (QStaticText keeps its layout between paints)."""
        f, geo = fonts(), self.geometry
        texts = []

        def add(font: str, color: QColor, x: float, top: float, height: float, text: str,
                right: bool = False) -> None:
            if not text:
                return
            metrics = getattr(f, f"{font}_metrics")
            if right:
                x -= metrics.horizontalAdvance(text)
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            texts.append((font, color, QPointF(x, top + (height - metrics.height()) / 2), static))

        badge_space = 2 * BADGE_R + 4 if self._badge is not None else 0.0
        add("title", style.NODE_HEADER_TEXT, PAD_X, 0, HEADER_H, self._title)
        add("label", style.NODE_ID_TEXT, WIDTH - PAD_X - badge_space, 0, HEADER_H, self._id_text,
            right=True)
        y = BODY_TOP
        if geo.show_key_params:
            add("text", style.NODE_SUBTEXT, geo.text_left, y, LINE_H, self._params_text)
            y += LINE_H
        add("text", QColor.fromRgba(self._shape_color.rgba()), geo.text_left, y, LINE_H,
            self._shape_text)
        y += LINE_H
        if geo.show_count:
            add("text", style.NODE_SUBTEXT, geo.text_left, y, LINE_H, self._count_text)
        if geo.label_inputs:
            for name, at in geo.inputs.items():
                add("label", style.NODE_SUBTEXT, at.x() + 8, at.y() - LINE_H / 2, LINE_H, name)
        if geo.label_outputs:
            for name, at in geo.outputs.items():
                add("label", style.NODE_SUBTEXT, at.x() - 8, at.y() - LINE_H / 2, LINE_H, name,
                    right=True)
        return texts

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._canvas.node_item_moved(self.node_id)
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setZValue(2 if value else 1)
        return super().itemChange(change, value)

    # --- selection: shift adds, ctrl toggles (Qt's own), a plain click selects only this --------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.setSelected(True)
            event.setModifiers(event.modifiers() | Qt.KeyboardModifier.ControlModifier)
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift:
            event.setModifiers(event.modifiers() | Qt.KeyboardModifier.ControlModifier)
        super().mouseReleaseEvent(event)
        if shift:
            self.setSelected(True)  # Qt toggled it off on a click without a move: shift only adds
