"""The welcome view (#15): every preset as a card (a miniature of its diagram, its name and its
one-line summary), grouped, with a search box, and a blank design. Choosing a card opens it.

The groups are declared once, in `GROUPS`; a preset no group claims (one a user dropped into the
folder) is listed under "More". The pictures are drawn from the designs themselves and cached.
"""
from __future__ import annotations

import fnmatch
import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetrics, QKeyEvent, QPainter, QPainterPath, QPalette,
                           QPen, QPixmap)
from PySide6.QtWidgets import (QDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from runtime import document
from runtime.errors import DesignFileError
from runtime.preset_files import PRESETS_DIR

from . import style


@dataclass(frozen=True)
class Group:
    """A heading of the welcome view and the preset file stems it holds (fnmatch patterns, in
    the order the cards appear; the presets one pattern matches are sorted by name)."""

    title: str
    blurb: str
    patterns: tuple[str, ...]


GROUPS: tuple[Group, ...] = (
    Group("Start here", "Small networks that train in seconds: press Train and watch.",
          ("mlp-spirals", "regression-sine", "mlp-digits")),
    Group("Break it and fix it", "Each lesson comes twice: train the broken one, see what goes "
          "wrong, then open its fix.", ("lesson-*",)),
    Group("Vision", "Convolutions, residual blocks and a network with two inputs.",
          ("lenet-digits", "resnet-shapes", "digit-pairs")),
    Group("Sequences", "Recurrent cells, attention, transformers and encoder-decoders.",
          ("rnn-adding", "lstm-adding", "gru-adding", "bilstm-reverse", "attention-reverse",
           "transformer-majority", "seq2seq-reverse", "seq2seq-reverse-attention")),
    Group("Generative and unsupervised", "Networks that learn without labels, redraw or invent.",
          ("autoencoder-digits", "denoising-autoencoder", "rbm-digits", "dbn-*", "gan-2d",
           "dcgan-digits")),
    Group("Transfer learning", "Pre-train once, then learn new shapes from five pictures each.",
          ("transfer-*",)),
)
MORE = Group("More", "Other designs in the presets folder.", ("*",))


@dataclass(frozen=True)
class Diagram:
    """What a card's picture shows: each node's position and category, and the edges."""

    boxes: tuple[tuple[float, float, str], ...]
    edges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class PresetEntry:
    """One card: a preset file, its name, summary and description, its group and picture."""

    path: Path
    name: str
    summary: str
    description: str
    group: Group
    diagram: Diagram

    def matches(self, words: list[str]) -> bool:
        """Whether every word (lower case) is in the name or the summary."""
        text = f"{self.name} {self.summary}".lower()
        return all(word in text for word in words)


_ENTRIES: dict[Path, tuple[int, PresetEntry | None]] = {}


def group_of(stem: str) -> tuple[Group, int]:
    """The group a preset file's stem belongs to, and its pattern's rank in that group."""
    for group in GROUPS:
        for rank, pattern in enumerate(group.patterns):
            if fnmatch.fnmatchcase(stem, pattern):
                return group, rank
    return MORE, 0


def preset_entries(folder: Path = PRESETS_DIR) -> list[PresetEntry]:
    """Every preset that loads, in group order (cached per file until it changes)."""
    found = []
    for path in folder.glob("*.json"):
        stamp = path.stat().st_mtime_ns
        cached = _ENTRIES.get(path)
        if cached is None or cached[0] != stamp:
            cached = _ENTRIES[path] = (stamp, _entry(path))
        if cached[1] is not None:
            found.append(cached[1])
    order = {group.title: i for i, group in enumerate((*GROUPS, MORE))}
    return sorted(found, key=lambda e: (order[e.group.title], group_of(e.path.stem)[1],
                                        e.name.lower()))


def _entry(path: Path) -> PresetEntry | None:
    try:
        model = document.load(path)
    except (DesignFileError, OSError):
        return None  # a broken file is File ▸ Open Preset's to report, not the welcome view's
    ids = list(model.nodes)
    boxes = tuple((*model.nodes[i].pos, model.spec(i).category) for i in ids)
    index = {node_id: i for i, node_id in enumerate(ids)}
    edges = tuple((index[e.src], index[e.dst]) for e in model.edges)
    # a design saved without a summary (one a user added) shows its description's first sentence
    summary = model.summary or model.description.split(". ")[0]
    return PresetEntry(path, model.name, summary, model.description,
                       group_of(path.stem)[0], Diagram(boxes, edges))


# --- pictures -------------------------------------------------------------------------------
#: A node's box in scene units: the canvas card's width, and about a card's height.
BOX_W, BOX_H = float(style.NODE_WIDTH), 64.0
HEADER_FRACTION = 0.38
_PICTURES: dict[tuple, QPixmap] = {}


def diagram_picture(diagram: Diagram, size: QSize, ratio: float = 1.0) -> QPixmap:
    """A miniature of the design on the canvas's background: boxes in their category colours
    where the nodes stand, joined by the edges (cached per diagram, size and pixel ratio)."""
    key = (diagram, size.width(), size.height(), ratio)
    if key not in _PICTURES:
        _PICTURES[key] = _draw(diagram, size, ratio)
    return _PICTURES[key]


def wrap_rows(boxes: tuple[tuple[float, float, str], ...], width: float, height: float,
              most: float, gap: float = BOX_H) -> tuple[list[tuple[float, float]], float]:
    """Node positions for a `width` x `height` picture, and their scale (at most `most`): a
    design much wider than the picture (a long chain) is cut between columns into up to four
    rows, read like lines of text, when that draws its boxes much larger. Within a row the nodes
    keep their places."""
    columns = sorted({x for x, _, _ in boxes})
    ys = [y for _, y, _ in boxes]
    tall = max(ys) - min(ys) + BOX_H

    def rows_of(k: int) -> list[float]:
        """The left edge of each of `k` rows, cut between columns (about as many in each)."""
        return [columns[round(i * len(columns) / k)] for i in range(k)]

    def scale(k: int) -> float:
        starts = rows_of(k) + [columns[-1] + BOX_W]
        wide = max(b - a for a, b in zip(starts, starts[1:]))
        return min(width / wide, height / (k * tall + (k - 1) * gap), most)

    # another row must draw the boxes markedly larger: a short chain reads best on one line
    best = max(range(1, min(4, len(columns)) + 1), key=lambda k: scale(k) * 0.7 ** (k - 1))
    starts = rows_of(best)
    out = []
    for x, y, _ in boxes:
        row = max(i for i, start in enumerate(starts) if x >= start)
        out.append((x - starts[row], y + row * (tall + gap)))
    return out, scale(best)


def _draw(diagram: Diagram, size: QSize, ratio: float) -> QPixmap:
    pixmap = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(style.CANVAS_BACKGROUND)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    w, h = size.width(), size.height()
    if not diagram.boxes:
        _draw_blank(painter, w, h)
        painter.end()
        return pixmap
    margin = 10.0
    # one scale for both axes, capped so a three-node design does not draw giant boxes
    places, scale = wrap_rows(diagram.boxes, w - 2 * margin, h - 2 * margin, 0.3)
    left, top = min(x for x, _ in places), min(y for _, y in places)
    width = max(x for x, _ in places) - left + BOX_W
    height = max(y for _, y in places) - top + BOX_H
    scale = min(scale, (w - 2 * margin) / width, (h - 2 * margin) / height)
    dx = (w - width * scale) / 2 - left * scale
    dy = (h - height * scale) / 2 - top * scale

    def box(i: int) -> QRectF:
        x, y = places[i]
        return QRectF(x * scale + dx, y * scale + dy, BOX_W * scale, BOX_H * scale)

    painter.setPen(QPen(style.EDGE, max(1.0, 3.0 * scale)))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for src, dst in diagram.edges:
        painter.drawPath(_edge_path(box(src), box(dst), BOX_H * scale))
    corner = max(1.5, 6.0 * scale)
    painter.setPen(QPen(style.NODE_BORDER, 1.0))
    for i, (_, _, category) in enumerate(diagram.boxes):
        rect = box(i)
        painter.setBrush(style.NODE_BODY)
        painter.drawRoundedRect(rect, corner, corner)
        header = QPainterPath()
        header.addRoundedRect(rect, corner, corner)
        strip = QPainterPath()
        strip.addRect(QRectF(rect.left(), rect.top(), rect.width(), rect.height() * HEADER_FRACTION))
        painter.fillPath(header.intersected(strip), style.category_color(category))
    painter.end()
    return pixmap


def _edge_path(a: QRectF, b: QRectF, gap: float) -> QPainterPath:
    """An edge from `a`'s right side to `b`'s left; one that goes back to the start of the
    next row runs through the gap between the rows."""
    start = QPointF(a.right(), a.top() + a.height() * 0.6)
    end = QPointF(b.left(), b.top() + b.height() * 0.6)
    path = QPainterPath(start)
    if end.x() >= start.x() or abs(end.y() - start.y()) < a.height():
        bend = max(abs(end.x() - start.x()) / 2, 4.0)
        path.cubicTo(start + QPointF(bend, 0), end - QPointF(bend, 0), end)
        return path
    mid = (a.bottom() + b.top()) / 2 if b.top() > a.bottom() else a.bottom() + gap / 2
    r = min(gap / 2, 6.0)
    path.quadTo(QPointF(start.x() + r, start.y()), QPointF(start.x() + r, start.y() + r))
    path.lineTo(start.x() + r, mid - r)
    path.quadTo(QPointF(start.x() + r, mid), QPointF(start.x(), mid))
    path.lineTo(end.x(), mid)
    path.quadTo(QPointF(end.x() - r, mid), QPointF(end.x() - r, mid + r))
    path.lineTo(end.x() - r, end.y() - r)
    path.quadTo(QPointF(end.x() - r, end.y()), end)
    return path


def _draw_blank(painter: QPainter, w: int, h: int) -> None:
    """An empty canvas: a dashed outline with a plus."""
    pen = QPen(style.EDGE, 1.5, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    rect = QRectF(w / 2 - 45, h / 2 - 28, 90, 56)
    painter.drawRoundedRect(rect, 6, 6)
    painter.setPen(QPen(style.NODE_TEXT, 2.5))
    c = rect.center()
    painter.drawLine(c - QPointF(10, 0), c + QPointF(10, 0))
    painter.drawLine(c - QPointF(0, 10), c + QPointF(0, 10))


# --- cards ----------------------------------------------------------------------------------
CARD_W, PICTURE_H, PAD = 264, 120, 8
NAME_LINES, SUMMARY_LINES = 2, 3


def _wrap(text: str, metrics: QFontMetrics, width: int, max_lines: int) -> list[str]:
    """`text` broken into at most `max_lines` lines of `width` pixels, the last one elided."""
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and metrics.horizontalAdvance(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(line)
    if words or (lines and metrics.horizontalAdvance(lines[-1]) > width):
        lines[-1] = metrics.elidedText(" ".join([lines[-1], *words]), Qt.TextElideMode.ElideRight,
                                       width)
    return lines


class PresetCard(QWidget):
    """A clickable card: the picture, the name in bold and the summary (the description in its
    tooltip). A click, Enter, Return or Space chooses it."""

    chosen = Signal(object)  # the preset's Path, or None for a blank design

    def __init__(self, name: str, summary: str, diagram: Diagram, path: Path | None = None,
                 tooltip: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.name, self.summary, self.diagram, self.path = name, summary, diagram, path
        self.matches = True  # whether the search leaves it (isHidden is True until it is laid out)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover)
        # as rich text, which Qt wraps: a plain description would be one screen-wide line
        self.setToolTip(f"<p>{html.escape(tooltip)}</p>" if tooltip else "")
        self.setAccessibleName(name)
        self.setAccessibleDescription(summary)
        self.name_font = QFont(self.font())
        self.name_font.setBold(True)
        self.line_h = QFontMetrics(self.font()).lineSpacing()
        name_h = QFontMetrics(self.name_font).lineSpacing()
        self.setFixedSize(CARD_W, PAD + PICTURE_H + 8 + NAME_LINES * name_h + 4
                          + SUMMARY_LINES * self.line_h + PAD + 2)

    def choose(self) -> None:
        self.chosen.emit(self.path)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.choose()
        else:
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.choose()
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        hovered = self.underMouse()
        focused = self.hasFocus()
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        border = palette.color(QPalette.ColorRole.Highlight) if focused or hovered else \
            palette.color(QPalette.ColorRole.Mid)
        painter.setPen(QPen(border, 2.0 if focused else 1.0))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(frame, 8, 8)
        inner = CARD_W - 2 * PAD
        picture = QRectF(PAD, PAD, inner, PICTURE_H)
        clip = QPainterPath()
        clip.addRoundedRect(picture, 5, 5)
        painter.save()
        painter.setClipPath(clip)
        painter.drawPixmap(picture.topLeft(), diagram_picture(
            self.diagram, QSize(inner, PICTURE_H), self.devicePixelRatioF()))
        painter.restore()
        y = PAD + PICTURE_H + 8
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.setFont(self.name_font)
        name_metrics = QFontMetrics(self.name_font)
        for line in _wrap(self.name, name_metrics, inner - 4, NAME_LINES):
            painter.drawText(QPointF(PAD + 2, y + name_metrics.ascent()), line)
            y += name_metrics.lineSpacing()
        y += 4
        painter.setFont(self.font())
        text, back = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
        painter.setPen(QColor((text.red() * 2 + back.red()) // 3, (text.green() * 2 + back.green()) // 3,
                              (text.blue() * 2 + back.blue()) // 3))
        metrics = QFontMetrics(self.font())
        for line in _wrap(self.summary, metrics, inner - 4, SUMMARY_LINES):
            painter.drawText(QPointF(PAD + 2, y + metrics.ascent()), line)
            y += self.line_h


# --- the view -------------------------------------------------------------------------------
BLANK_NAME = "Blank design"
BLANK_SUMMARY = "An empty canvas: drag layers in from the palette and connect them."


class _Section(QWidget):
    """A group's heading and blurb over a grid of its cards, re-flowed to the width."""

    def __init__(self, group: Group, cards: list[PresetCard]):
        super().__init__()
        self.group, self.cards, self.columns = group, cards, 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 12)
        layout.setSpacing(2)
        title = QLabel(group.title)
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        title.setFont(font)
        blurb = QLabel(group.blurb)
        blurb.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addSpacing(6)
        self.grid = QGridLayout()
        self.grid.setSpacing(12)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout.addLayout(self.grid)

    def flow(self, columns: int) -> None:
        """Lay the visible cards out `columns` to a row; hide the section when none is visible."""
        visible = [card for card in self.cards if card.matches]
        for card in self.cards:
            self.grid.removeWidget(card)
            card.setVisible(card.matches)
        for i, card in enumerate(visible):
            self.grid.addWidget(card, i // columns, i % columns)
        self.columns = columns
        self.setVisible(bool(visible))


class WelcomeDialog(QDialog):
    """The start page: a search box over the presets' cards, grouped, and a blank design.

    Emits `chosen(path)` (None for a blank design) and closes when a card is chosen.
    """

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None, folder: Path = PRESETS_DIR):
        super().__init__(parent)
        self.setWindowTitle("Welcome to LayerLab")
        self.setObjectName("WelcomeDialog")
        # four cards to a row with no room to spare, within a smaller window
        room = parent.size() if parent is not None else QSize(1156, 780)
        self.resize(min(1156, max(640, room.width() - 40)), min(780, max(480, room.height() - 40)))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 18, 20, 14)
        outer.setSpacing(10)
        heading = QLabel("Welcome to LayerLab")
        font = heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.7)
        heading.setFont(font)
        intro = QLabel("Open a preset to see a network built, train it, then change it. "
                       "Every preset is a design file you can edit and save as your own.")
        intro.setWordWrap(True)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search presets by name or summary (e.g. gan, lstm, "
                                       "overfitting)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(420)
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._choose_first)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.search)
        outer.addLayout(top)
        outer.addWidget(intro)

        self.entries = preset_entries(folder)
        self.cards: list[PresetCard] = []
        self.blank = PresetCard(BLANK_NAME, BLANK_SUMMARY, Diagram((), ()),
                                tooltip="Start a new, empty design (File ▸ New)")
        self.sections: list[_Section] = []
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 4, 8, 0)
        column.setSpacing(6)
        by_group: dict[str, list[PresetEntry]] = {}
        for entry in self.entries:
            by_group.setdefault(entry.group.title, []).append(entry)
        for i, (title, entries) in enumerate(by_group.items()):
            cards = [PresetCard(e.name, e.summary, e.diagram, e.path, e.description)
                     for e in entries]
            self.cards += cards
            section = _Section(entries[0].group, ([self.blank] if i == 0 else []) + cards)
            self.sections.append(section)
            column.addWidget(section)
        self.empty = QLabel("No preset matches. Clear the search to see them all.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()
        column.addWidget(self.empty)
        column.addStretch(1)
        for card in [self.blank, *self.cards]:
            card.chosen.connect(self._choose)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setWidget(body)
        outer.addWidget(self.scroll, 1)
        bottom = QHBoxLayout()
        hint = QLabel("Help ▸ Welcome shows this page again. Hover a card for the whole story.")
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        close.clicked.connect(self.reject)
        bottom.addWidget(hint)
        bottom.addStretch(1)
        bottom.addWidget(close)
        outer.addLayout(bottom)
        self.search.setFocus()

    def visible_cards(self) -> list[PresetCard]:
        """The preset cards the search leaves (the blank design not included), in order."""
        return [card for card in self.cards if card.matches]

    def _choose(self, path: Path | None) -> None:
        self.accept()
        self.chosen.emit(path)

    def _choose_first(self) -> None:
        cards = self.visible_cards()
        if cards:
            cards[0].choose()

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for card, entry in zip(self.cards, self.entries):
            card.matches = entry.matches(words)
        self.blank.matches = not words
        self._flow(force=True)
        self.empty.setVisible(not self.visible_cards())

    def _flow(self, force: bool = False) -> None:
        width = self.scroll.viewport().width() - 8
        columns = max(1, (width + 12) // (CARD_W + 12))
        for section in self.sections:
            if force or section.columns != columns:
                section.flow(columns)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        # Enter chooses the focused card or the first match; it must not "accept" the dialog
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return
        if event.key() == Qt.Key.Key_Down and self.search.hasFocus():
            cards = [c for c in [self.blank, *self.cards] if c.matches]
            if cards:
                cards[0].setFocus()
            return
        super().keyPressEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self._flow()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._flow()
