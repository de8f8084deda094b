"""Quick add: Tab (or a double-click on empty canvas) opens a search box listing layer types."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from designer import style
from runtime.registry import LayerRegistry
from runtime.specs import LayerSpec

TYPE_ID_ROLE = Qt.ItemDataRole.UserRole


def search_layers(registry: LayerRegistry, query: str) -> list[LayerSpec]:
    """Layer types matching `query` (every word must appear in the title, id, aliases or
    category), best first: exact names, then prefixes, then the rest, each in palette order."""
    words = query.lower().split()
    order = [spec for specs in registry.by_category().values() for spec in specs]
    if not words:
        return order
    ranked = []
    for index, spec in enumerate(order):
        names = [spec.title.lower(), spec.type_id.lower(), *(a.lower() for a in spec.aliases)]
        haystack = " ".join([*names, spec.category.lower()])
        if not all(word in haystack for word in words):
            continue
        whole = " ".join(words)
        if whole in names:
            rank = 0
        elif any(name.startswith(whole) for name in names):
            rank = 1
        elif any(whole in name for name in names):
            rank = 2
        else:
            rank = 3
        ranked.append((rank, index, spec))
    return [spec for _, _, spec in sorted(ranked, key=lambda r: r[:2])]


def _swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(10, 10)
    pixmap.fill(color)
    return QIcon(pixmap)


class QuickAddPopup(QFrame):
    """A frameless popup: a filter line and the matching layer types. Enter or a click emits
    `chosen(type_id)` and closes it; Escape closes it."""

    chosen = Signal(str)

    def __init__(self, registry: LayerRegistry, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.registry = registry
        self.setObjectName("QuickAddPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.line_edit = QLineEdit(self)
        self.line_edit.setPlaceholderText("Add layer: type to search…")
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.line_edit)
        layout.addWidget(self.list)
        self.resize(300, 340)
        bg, text = style.POPUP_BACKGROUND.name(), style.NODE_TEXT.name()
        self.setStyleSheet(
            f"#QuickAddPopup {{ background: {bg}; border: 1px solid {style.NODE_BORDER.name()};"
            f" border-radius: 6px; }}"
            f"QLineEdit {{ background: {style.CANVAS_BACKGROUND.name()}; color: {text};"
            f" border: 1px solid {style.NODE_BORDER.name()}; border-radius: 4px; padding: 4px; }}"
            f"QListWidget {{ background: {bg}; color: {text}; border: none; }}"
            f"QListWidget::item {{ padding: 3px; }}"
            f"QListWidget::item:selected {{ background: {style.PORT_HOVER.name()};"
            f" color: #ffffff; }}")
        self._icons = {c: _swatch(style.category_color(c)) for c in style.CATEGORY_COLORS}
        self.line_edit.textChanged.connect(self._filter)
        self.line_edit.returnPressed.connect(self.accept_current)
        self.line_edit.installEventFilter(self)
        self.list.itemClicked.connect(self._accept_item)
        self._filter("")

    def popup_at(self, global_pos: QPoint) -> None:
        """Show at `global_pos` with an empty filter and the keyboard in the search line."""
        self.line_edit.clear()
        self.move(global_pos)
        self.show()
        self.raise_()
        self.activateWindow()
        self.line_edit.setFocus()

    def type_ids(self) -> list[str]:
        """The type ids listed now, in order (for tests and the main window)."""
        return [self.list.item(i).data(TYPE_ID_ROLE) for i in range(self.list.count())]

    def _filter(self, text: str) -> None:
        self.list.clear()
        for spec in search_layers(self.registry, text):
            item = QListWidgetItem(self._icons.get(spec.category, QIcon()),
                                   f"{spec.title}  ·  {spec.category}")
            item.setData(TYPE_ID_ROLE, spec.type_id)
            item.setToolTip(spec.explanation)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._accept_item(item)

    def _accept_item(self, item: QListWidgetItem) -> None:
        type_id = item.data(TYPE_ID_ROLE)
        self.close()
        self.chosen.emit(type_id)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.line_edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                row = min(max(self.list.currentRow() + step, 0), self.list.count() - 1)
                self.list.setCurrentRow(row)
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(watched, event)
