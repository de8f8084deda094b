"""The layer palette: every registered layer, grouped by category, searchable and draggable.

Everything shown comes from the `LayerSpec`s in the registry (title, category, explanation,
aliases), so a new layer appears here without any palette code.
"""
from __future__ import annotations

import html
from functools import lru_cache

from PySide6.QtCore import QMimeData, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QDrag, QFont, QFontMetrics, QIcon, QKeyEvent, QPainter,
                           QPixmap)
from PySide6.QtWidgets import (QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from runtime.registry import REGISTRY, LayerRegistry
from runtime.specs import LayerSpec

from .dnd import LAYER_MIME, layer_mime_data  # noqa: F401 (LAYER_MIME re-exported)
from .style import NODE_BODY, NODE_TEXT, category_color

ICON_SIZE = 14
_TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
_SPEC_ROLE = Qt.ItemDataRole.UserRole + 2


@lru_cache(maxsize=None)
def category_icon(category: str, size: int = ICON_SIZE) -> QIcon:
    """A rounded square in the category's colour (cached: one per category)."""
    icon = QIcon()
    for ratio in (1, 2):
        pixmap = QPixmap(size * ratio, size * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = category_color(category)
        painter.setPen(color.darker(130))
        painter.setBrush(color)
        painter.drawRoundedRect(QRectF(1.5, 1.5, size - 3, size - 3), 3, 3)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def layer_tooltip(spec: LayerSpec) -> str:
    """Rich-text tooltip: title, type id, aliases and the spec's explanation (wrapped by Qt)."""
    def esc(text: str) -> str:
        return html.escape(text, quote=False)

    parts = [f"<b>{esc(spec.title)}</b> &nbsp;<code>{esc(spec.type_id)}</code>",
             esc(spec.explanation)]
    if spec.aliases:
        parts.append(f"<i>Also known as {esc(', '.join(spec.aliases))}</i>")
    return "<p style='white-space:normal'>" + "<br>".join(parts) + "</p>"


def drag_pixmap(spec: LayerSpec) -> QPixmap:
    """A small picture of the entry shown under the cursor while dragging."""
    font = QFont()
    font.setBold(True)
    width = QFontMetrics(font).horizontalAdvance(spec.title) + 34
    pixmap = QPixmap(QSize(max(width, 90), 26))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    rect = QRectF(pixmap.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
    body = QColor(NODE_BODY)
    body.setAlpha(230)
    color = category_color(spec.category)
    painter.setPen(color)
    painter.setBrush(body)
    painter.drawRoundedRect(rect, 5, 5)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRoundedRect(QRectF(6, 6, ICON_SIZE, ICON_SIZE), 3, 3)
    painter.setPen(NODE_TEXT)
    painter.setFont(font)
    painter.drawText(rect.adjusted(26, 0, -6, 0),
                     Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, spec.title)
    painter.end()
    return pixmap


class _LayerTree(QTreeWidget):
    """The tree of layers; builds the drag payload from the entry's type id."""

    enter_pressed = Signal(QTreeWidgetItem)

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt override)
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 (Qt override)
        type_ids = [item.data(0, _TYPE_ROLE) for item in items if item.data(0, _TYPE_ROLE)]
        return layer_mime_data(type_ids[0]) if type_ids else QMimeData()

    def startDrag(self, supported_actions) -> None:  # noqa: N802 (Qt override)
        item = self.currentItem()
        spec = item.data(0, _SPEC_ROLE) if item else None
        if spec is None:
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        pixmap = drag_pixmap(spec)
        drag.setPixmap(pixmap)
        drag.setHotSpot(QPoint(12, pixmap.height() // 2))
        drag.exec(Qt.DropAction.CopyAction)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        # handled here rather than through itemActivated, whose trigger differs between styles
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem():
            self.enter_pressed.emit(self.currentItem())
            return
        super().keyPressEvent(event)


class _SearchBox(QLineEdit):
    """Down or Enter hands the keyboard to the list; Escape clears the search."""

    to_list = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.to_list.emit()
            return
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


class PaletteWidget(QWidget):
    """Searchable tree of layer types, grouped by category in palette order.

    Drag an entry onto the canvas (MIME `LAYER_MIME`, payload the type id), or double-click it /
    press Enter to emit `layer_activated(type_id)`.

    Attributes:
        search_box: The filter line edit.
        tree: The QTreeWidget of categories and layers.
    """

    layer_activated = Signal(str)

    def __init__(self, registry: LayerRegistry = REGISTRY, parent: QWidget | None = None):
        super().__init__(parent)
        self.registry = registry
        self.search_box = _SearchBox(self)
        self.search_box.setPlaceholderText("Search layers…")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setToolTip("Filter by name, type id or alias (Down or Enter: go to the list)")
        self.tree = _LayerTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search_box)
        layout.addWidget(self.tree)

        self._categories: dict[str, QTreeWidgetItem] = {}
        self._entries: dict[str, QTreeWidgetItem] = {}
        self._populate()

        self.search_box.textChanged.connect(self.set_filter)
        self.search_box.to_list.connect(self._focus_list)
        self.tree.itemDoubleClicked.connect(self._activate)
        self.tree.enter_pressed.connect(self._activate)

    def _populate(self) -> None:
        header_font = QFont(self.font())
        header_font.setBold(True)
        for category, specs in self.registry.by_category().items():
            header = QTreeWidgetItem(self.tree, [category])
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            header.setFont(0, header_font)
            header.setForeground(0, category_color(category).lighter(105))
            self._categories[category] = header
            for spec in specs:
                entry = QTreeWidgetItem(header, [spec.title])
                entry.setIcon(0, category_icon(spec.category))
                entry.setToolTip(0, layer_tooltip(spec))
                entry.setData(0, _TYPE_ROLE, spec.type_id)
                entry.setData(0, _SPEC_ROLE, spec)
                entry.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                               | Qt.ItemFlag.ItemIsDragEnabled)
                self._entries[spec.type_id] = entry
            header.setExpanded(True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override): the dock's starting width
        return QSize(230, 480)

    # --- public -----------------------------------------------------------------------------
    def item_for(self, type_id: str) -> QTreeWidgetItem:
        """The tree entry of a layer type (KeyError when not in the palette)."""
        return self._entries[type_id]

    def category_item(self, category: str) -> QTreeWidgetItem:
        return self._categories[category]

    def visible_type_ids(self) -> list[str]:
        """Type ids of the entries the current search shows, in palette order."""
        return [type_id for type_id, item in self._entries.items()
                if not item.isHidden() and not item.parent().isHidden()]

    def set_filter(self, text: str) -> None:
        """Show only layers whose title, type id or an alias contains `text` (any case)."""
        query = text.strip().lower()
        for header in self._categories.values():
            shown = 0
            for i in range(header.childCount()):
                item = header.child(i)
                spec: LayerSpec = item.data(0, _SPEC_ROLE)
                names = (spec.title, spec.type_id, *spec.aliases)
                match = not query or any(query in name.lower() for name in names)
                item.setHidden(not match)
                shown += match
            header.setHidden(shown == 0)
            if shown:
                header.setExpanded(True)
        current = self.tree.currentItem()
        if current is not None and (current.isHidden() or current.parent() is None):
            self.tree.setCurrentItem(None)

    # --- private ----------------------------------------------------------------------------
    def _focus_list(self) -> None:
        visible = self.visible_type_ids()
        if not visible:
            return
        current = self.tree.currentItem()
        if current is None or current.isHidden() or current.parent() is None:
            self.tree.setCurrentItem(self._entries[visible[0]])
        self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _activate(self, item: QTreeWidgetItem) -> None:
        type_id = item.data(0, _TYPE_ROLE)
        if type_id:
            self.layer_activated.emit(type_id)
