"""CanvasView: the node-graph editor widget the main window embeds.

It owns a `CanvasScene` and turns mouse, keyboard and drop gestures into `DesignSession` calls.
Nothing here edits the model directly or keeps design state: items move during a drag as live
feedback only, and the drag becomes one `session.move_nodes` on release.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QPainter, QPalette, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsView, QToolTip, QWidget

from designer import style
from designer.session import DesignSession
from runtime.errors import GraphError, ParamError, RegistryError

from designer.dnd import layer_type_from_mime

from .edge_item import EdgeItem
from .live_legend import LiveLegend
from designer.live_stats import LiveStat

from .interactions import ConnectMode, MouseMode, PanMode, commit_moves
from .node_item import NodeItem
from .overview_map import OverviewMap
from .port_item import PortItem
from .quick_add import QuickAddPopup
from .scene import CanvasScene

MIN_SCALE, MAX_SCALE = 0.02, 3.0
ZOOM_STEP = 1.25
#: Wheel zoom per 1/8 degree of rotation: one notch (120) zooms by about 1.2.
WHEEL_BASE = 1.0015
#: The scrollable area; large, so zooming about the cursor can always scroll where it needs to.
SCENE_HALF = 200_000.0
#: Screen pixels around the cursor in which a dragged layer finds an edge to be inserted into.
DROP_TOLERANCE_PX = 8.0
FIT_MARGIN = 40.0


#: Smallest zoom at which a newly opened design is shown whole: its cards, drawn zoomed out,
#: still carry their type and shape in legible text (node_item.DETAIL_LOD). A design that needs
#: less is shown from its start at READABLE_SCALE, with the overview map for the rest.
OVERVIEW_SCALE = 0.4
READABLE_SCALE = 0.75


#: Drawn on an empty canvas.
EMPTY_HINT = ("Drag a layer from the Layers panel and drop it here, or open a ready-made "
              "design with File ▸ Open Preset. Press F1 for the keyboard shortcuts.")


class CanvasView(QGraphicsView):
    """The canvas: shows `session.model` and edits it through the session.

    Signals:
        selection_changed(list): ids of the selected nodes, in file order.
        node_double_clicked(str): a node card was double-clicked (e.g. focus its properties).
        refused(str): an edit was refused; the reason is also shown at the cursor.
    """

    selection_changed = Signal(list)
    node_double_clicked = Signal(str)
    refused = Signal(str)

    def __init__(self, session: DesignSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.canvas = CanvasScene(session, self)
        self.setScene(self.canvas)
        #: The last refused edit's reason (shown as a tooltip at the cursor), or None.
        self.last_refusal: str | None = None
        self._mode: MouseMode | None = None
        self._pressed_node: NodeItem | None = None
        self._space = False
        self._snap = False
        self._last_mouse: QPoint | None = None
        self._drop_edge: EdgeItem | None = None
        self._quick_add: QuickAddPopup | None = None
        self._quick_add_pos = QPointF()
        self._fitted_once = False
        #: The whole design is in view because Fit or opening it put it there: a resize (a dock
        #: growing when training starts) keeps it whole; a zoom, scroll or pan by the user ends it.
        self._whole = False
        self._framing = False  # inside fit_all: its own scrolling does not end `_whole`
        self._legend: LiveLegend | None = None
        self.overview_map = OverviewMap(self)
        self._map_key: tuple | None = None  # the view's transform and scroll when last checked

        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        # cards are cached as pixmaps, so redrawing what a drag uncovers is cheap; Smart picks
        # between a few rects and one bounding rect per frame
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSceneRect(QRectF(-SCENE_HALF, -SCENE_HALF, 2 * SCENE_HALF, 2 * SCENE_HALF))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Highlight, style.RUBBER_BAND_BORDER)
        self.setPalette(palette)
        self.centerOn(0, 0)

        self.canvas.selectionChanged.connect(self._emit_selection)
        self.canvas.sceneRectChanged.connect(self._grow_scrollable_area)
        self.canvas.content_changed.connect(self._content_changed)
        session.model_replaced.connect(self._on_model_replaced)

    # --- public API -----------------------------------------------------------------------
    def zoom(self) -> float:
        """The current scale (1.0 = one scene unit per pixel)."""
        return self.transform().m11()

    def fit_all(self) -> None:
        """Show the whole design (never magnified beyond 100%)."""
        self._framing = True
        try:
            rect = self.canvas.itemsBoundingRect()
            if rect.isEmpty():
                self.setTransform(QTransform())
                self.centerOn(0, 0)
                self._whole = False
                return
            rect.adjust(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
            for _ in range(2):  # again with room below for the colour legend, at that zoom
                self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
                scale = self.zoom()
                clamped = min(max(scale, MIN_SCALE), 1.0)
                if clamped != scale:
                    self.setTransform(QTransform.fromScale(clamped, clamped))
                legend = self._legend
                if legend is None or legend.isHidden():
                    break
                rect.setBottom(rect.bottom() + (legend.height() + 12 - FIT_MARGIN) / clamped)
            self.centerOn(rect.center())
            self._whole = True
        finally:
            self._framing = False

    def show_design(self) -> None:
        """The view for a freshly opened design: all of it if it fits at a legible size,
        otherwise its start (its top-left, where the Input is) at a readable zoom (the overview
        map shows the rest)."""
        self.fit_all()
        rect = self.canvas.itemsBoundingRect()
        if rect.isEmpty() or self.zoom() >= OVERVIEW_SCALE:
            return
        self._framing = True
        try:
            self.setTransform(QTransform.fromScale(READABLE_SCALE, READABLE_SCALE))
            visible = self.mapToScene(self.viewport().rect()).boundingRect()
            # the start: the left end of a row, the top-left of a design wrapped into rows
            y = (rect.center().y() if rect.height() + 2 * FIT_MARGIN <= visible.height()
                 else rect.top() - FIT_MARGIN + visible.height() / 2)
            self.centerOn(rect.left() - FIT_MARGIN + visible.width() / 2, y)
            self._whole = False
        finally:
            self._framing = False

    def zoom_in(self) -> None:
        self._zoom_about(ZOOM_STEP, QPointF(self.viewport().rect().center()))

    def zoom_out(self) -> None:
        self._zoom_about(1 / ZOOM_STEP, QPointF(self.viewport().rect().center()))

    def selected_node_ids(self) -> list[str]:
        """Ids of the selected nodes, in file order."""
        chosen = {i.node_id for i in self.canvas.selectedItems() if isinstance(i, NodeItem)}
        return [node_id for node_id in self.session.model.nodes if node_id in chosen]

    def select_nodes(self, node_ids) -> None:
        """Select exactly these nodes (unknown ids are skipped); emits selection_changed once."""
        self.canvas.blockSignals(True)
        try:
            self.canvas.clearSelection()
            for node_id in node_ids:
                item = self.canvas.node_items.get(node_id)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.canvas.blockSignals(False)
        self._emit_selection()

    def center_on_node(self, node_id: str) -> None:
        """Bring a node into view: centred, unless it is in view already (then nothing moves,
        so a design shown whole stays whole when one of its nodes is chosen)."""
        item = self.canvas.node_items.get(node_id)
        if item is None:
            return
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if not visible.contains(item.sceneBoundingRect()):
            self.centerOn(item.sceneBoundingRect().center())

    # --- live training statistics -----------------------------------------------------------
    @property
    def legend(self) -> LiveLegend:
        """The colour legend shown while nodes are tinted (made on first use)."""
        if self._legend is None:
            self._legend = LiveLegend(self)
            self._legend.hide()
        return self._legend

    def show_live(self, values: dict[str, float | None] | None, stat: LiveStat) -> None:
        """Tint every node by its value of `stat` (nodes without one are left plain); None clears.

        The legend shows the scale while anything is tinted.
        """
        for node_id, item in self.canvas.node_items.items():
            value = values.get(node_id) if values else None
            color = stat.color(value)
            item.set_live(color, stat.format(value) if color is not None else "")
        if values is None:
            self.legend.hide()
            return
        if self.legend.stat is not stat:
            self.legend.set_stat(stat.key)
        if self.legend.isHidden():
            self.legend.show()
            self._place_legend()
            if self._whole:  # make room for it under the design
                self.fit_all()

    def _place_legend(self) -> None:
        if self._legend is not None:
            self._legend.adjustSize()
            self._legend.move(12, self.height() - self._legend.height() - 12)

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._framing = True  # Qt keeps the centre in view by scrolling: not the user's doing
        try:
            super().resizeEvent(event)
        finally:
            self._framing = False
        self._place_legend()
        self.overview_map.place()
        if self._whole:
            self.fit_all()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        super().scrollContentsBy(dx, dy)
        if not self._framing:
            self._whole = False  # the user looked elsewhere

    def showing_whole_design(self) -> bool:
        """Whether Fit (or opening the design) showed all of it and the user has not zoomed,
        scrolled or panned since: a resize then keeps it whole."""
        return self._whole

    def set_overview_map(self, on: bool) -> None:
        """Show the overview map whenever part of the design is out of view (or never)."""
        self.overview_map.enabled_by_user = bool(on)
        self.overview_map.view_moved()

    def layout_design(self, node_ids: list[str] | None = None) -> None:
        """Auto-layout as one undo step: the whole design (node_ids None) wrapped into bands that
        fit this view's shape, then shown whole; or just these nodes, tidied in place."""
        fit = None
        if node_ids is None:
            fit = (max(self.viewport().width() - 2 * FIT_MARGIN, 1.0),
                   max(self.viewport().height() - 2 * FIT_MARGIN, 1.0))
        self.session.auto_layout(node_ids, fit=fit)
        if node_ids is None:
            self.fit_all()

    def empty_hint(self) -> str:
        """What an empty canvas says to do first ("" once the design has a node)."""
        return "" if self.canvas.node_items else EMPTY_HINT

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        super().drawForeground(painter, rect)
        # every scroll and zoom repaints: the overview map's frame follows (checked only when
        # the view moved, not on each repaint of a changed card)
        key = (self.transform(), self.horizontalScrollBar().value(),
               self.verticalScrollBar().value(), self.viewport().size())
        if key != self._map_key:
            self._map_key = key
            self.overview_map.view_moved()
        hint = self.empty_hint()
        if not hint:
            return
        painter.save()
        painter.resetTransform()  # in the viewport's pixels, wherever the scene scrolled
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        painter.setPen(style.EDGE_LABEL)  # light on the dark canvas, like the edge labels
        area = QRectF(self.viewport().rect()).adjusted(40, 40, -40, -40)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), hint)
        painter.restore()

    def set_snap_to_grid(self, on: bool) -> None:
        """Snap dragged nodes to the grid when they are released."""
        self._snap = bool(on)

    def snapped(self, pos: tuple[float, float]) -> tuple[float, float]:
        """`pos` on the grid when snapping is on, else unchanged."""
        if not self._snap:
            return (float(pos[0]), float(pos[1]))
        grid = style.GRID_SIZE
        return (float(round(pos[0] / grid) * grid), float(round(pos[1] / grid) * grid))

    def scene_pos_at_cursor(self) -> QPointF:
        """The scene point under the mouse, or the centre of the view when the mouse is elsewhere
        (where Paste and Quick add put new nodes)."""
        rect = self.viewport().rect()
        pos = self._last_mouse
        if pos is None or not rect.contains(pos):
            pos = self.viewport().mapFromGlobal(QCursor.pos())
            if not rect.contains(pos):
                pos = rect.center()
        return self.mapToScene(pos)

    def add_layer(self, type_id: str, scene_pos: QPointF | None = None) -> str | None:
        """Add a layer with its card centred on `scene_pos` (default: the cursor) and select it.

        Returns the new node id, or None when the session refused (the reason is shown).
        """
        if scene_pos is None:
            scene_pos = self.scene_pos_at_cursor()
        try:
            node_id = self.session.add_node(type_id, self._card_origin(type_id, scene_pos))
        except (GraphError, ParamError, RegistryError) as err:
            self.show_refusal(str(err), QPointF(self.mapFromScene(scene_pos)))
            return None
        self.select_nodes([node_id])
        return node_id

    def delete_selection(self) -> None:
        """Remove the selected nodes (with their edges) and the selected edges: one undo step."""
        selected = self.canvas.selectedItems()
        nodes = [i.node_id for i in selected if isinstance(i, NodeItem)]
        gone = set(nodes)
        edges = list(dict.fromkeys(i.edge for i in selected if isinstance(i, EdgeItem)
                                   and i.edge.src not in gone and i.edge.dst not in gone))
        steps = bool(nodes) + len(edges)
        if not steps:
            return
        stack = self.session.undo_stack
        if steps > 1:
            stack.beginMacro("Delete selection")
        try:
            if nodes:
                self.session.remove_nodes(nodes)
            for edge in edges:
                self.session.disconnect(edge)
        finally:
            if steps > 1:
                stack.endMacro()

    def open_quick_add(self, scene_pos: QPointF | None = None) -> QuickAddPopup:
        """Open the quick-add search at `scene_pos` (default: the cursor); the chosen layer is
        added there."""
        self._quick_add_pos = self.scene_pos_at_cursor() if scene_pos is None else scene_pos
        if self._quick_add is None:
            self._quick_add = QuickAddPopup(self.session.registry, self)
            self._quick_add.chosen.connect(self._quick_add_chosen)
        self._quick_add.popup_at(self.viewport().mapToGlobal(self.mapFromScene(
            self._quick_add_pos)))
        return self._quick_add

    @property
    def quick_add(self) -> QuickAddPopup | None:
        """The quick-add popup (None until first opened)."""
        return self._quick_add

    def show_refusal(self, reason: str, view_pos: QPointF) -> None:
        """Tell the user why an edit was refused: a tooltip at `view_pos` and `refused`."""
        self.last_refusal = reason
        QToolTip.showText(self.viewport().mapToGlobal(view_pos.toPoint()), reason,
                          self.viewport())
        self.refused.emit(reason)

    # --- helpers --------------------------------------------------------------------------
    def _card_origin(self, type_id: str, centre: QPointF) -> tuple[float, float]:
        width, height = self.canvas.node_size(type_id)
        return self.snapped((centre.x() - width / 2, centre.y() - height / 2))

    def _quick_add_chosen(self, type_id: str) -> None:
        self.add_layer(type_id, self._quick_add_pos)
        self.setFocus()

    def _emit_selection(self) -> None:
        self.selection_changed.emit(self.selected_node_ids())

    def _on_model_replaced(self) -> None:
        self._mode = None  # its items went with the old design
        self.restore_cursor()
        self._pressed_node = None
        self._drop_edge = None
        self.show_design()

    def _grow_scrollable_area(self, items_rect: QRectF) -> None:
        # keep a wide margin around the design so zooming about the cursor can always scroll
        wanted = self.sceneRect().united(items_rect.adjusted(-SCENE_HALF / 2, -SCENE_HALF / 2,
                                                             SCENE_HALF / 2, SCENE_HALF / 2))
        if wanted != self.sceneRect():
            framing, self._framing = self._framing, True  # Qt's scrolling, not the user's
            try:
                self.setSceneRect(wanted)
            finally:
                self._framing = framing

    def _content_changed(self) -> None:
        """The design grew by itself (pictures under the cards during a run or in Try it): if
        it was shown whole, it still is once the growing is done."""
        if self._whole and not self._framing:
            visible = self.mapToScene(self.viewport().rect()).boundingRect()
            if not visible.contains(self.canvas.itemsBoundingRect()):
                QTimer.singleShot(0, self._refit_if_whole)

    def _refit_if_whole(self) -> None:
        if self._whole and self._mode is None:  # never under a node the user is dragging
            self.fit_all()

    def _zoom_about(self, factor: float, view_pos: QPointF) -> None:
        self._whole = False
        current = self.zoom()
        target = min(max(current * factor, MIN_SCALE), MAX_SCALE)
        if abs(target - current) < 1e-9:
            return
        to_scene = self.viewportTransform().inverted()[0]
        anchor = to_scene.map(view_pos)
        self.scale(target / current, target / current)
        moved = self.viewportTransform().inverted()[0].map(view_pos) - anchor
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(moved.x() * target))
        v.setValue(v.value() - round(moved.y() * target))

    def restore_cursor(self) -> None:
        if self._space:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()

    def _port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(pos.toPoint()):
            if isinstance(item, PortItem):
                return item
            if isinstance(item, NodeItem):
                return None
        return None

    def _node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos.toPoint()):
            if isinstance(item, NodeItem):
                return item
            if isinstance(item, PortItem):
                return item.parentItem()
        return None

    def _layer_type(self, mime: QMimeData) -> str | None:
        type_id = layer_type_from_mime(mime)
        return type_id if type_id in self.session.registry else None

    def _insertable_edge(self, type_id: str, pos: QPointF) -> EdgeItem | None:
        spec = self.session.registry.get(type_id)
        if not spec.inputs or not spec.outputs or self._node_at(pos) is not None:
            return None
        scene_pos = self.viewportTransform().inverted()[0].map(pos)
        return self.canvas.edge_at(scene_pos, DROP_TOLERANCE_PX / self.zoom())

    def _set_drop_edge(self, item: EdgeItem | None) -> None:
        if item is self._drop_edge:
            return
        if self._drop_edge is not None and self._drop_edge.scene() is self.canvas:
            self._drop_edge.set_drop_target(False)
        self._drop_edge = item
        if item is not None:
            item.set_drop_target(True)

    @property
    def drop_edge(self) -> EdgeItem | None:
        """The edge highlighted as the target of the layer being dragged in, if any."""
        return self._drop_edge

    # --- Qt events ------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._fitted_once:
            self._fitted_once = True
            self.show_design()

    def event(self, event: QEvent) -> bool:
        # Tab would move the keyboard focus to the next widget: here it opens quick add
        if (event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab
                and not event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                             | Qt.KeyboardModifier.AltModifier)):
            self.open_quick_add()
            return True
        return super().event(event)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Leave:
            self._last_mouse = None
        return super().viewportEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                if self._mode is None:
                    self.restore_cursor()
            event.accept()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._mode is None:
            self.delete_selection()
            event.accept()
        elif key == Qt.Key.Key_F and plain:
            self.fit_all()
            event.accept()
        elif key == Qt.Key.Key_Escape:
            if self._mode is not None:
                self._mode.cancel()
                self._mode = None
            else:
                self.canvas.clearSelection()
            event.accept()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._mode is None:
                self.restore_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space = False  # the space key's release may go to another widget
        super().focusOutEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self._last_mouse = event.position().toPoint()
        if self._mode is not None:
            event.accept()
            return
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton
                                                     and self._space):
            self._mode = PanMode(self, event)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton:
            port = self._port_at(event.position())
            if port is not None:
                self._mode = ConnectMode(self, port)
                event.accept()
                return
            self._pressed_node = self._node_at(event.position())
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        self._last_mouse = event.position().toPoint()
        if self._mode is not None:
            self._mode.move(event)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._mode is not None:
            mode, self._mode = self._mode, None
            mode.release(event)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            commit_moves(self, self._pressed_node)
            self._pressed_node = None

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        node = self._node_at(event.position())
        if node is not None:
            self.node_double_clicked.emit(node.node_id)
            event.accept()
            return
        if self.itemAt(event.position().toPoint()) is None and event.button() == \
                Qt.MouseButton.LeftButton:
            self.open_quick_add(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self._zoom_about(WHEEL_BASE ** delta, event.position())
        event.accept()

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._layer_type(event.mimeData()) is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        type_id = self._layer_type(event.mimeData())
        if type_id is None:
            event.ignore()
            return
        self._set_drop_edge(self._insertable_edge(type_id, event.position()))
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_drop_edge(None)
        event.accept()

    def dropEvent(self, event) -> None:  # noqa: N802
        type_id = self._layer_type(event.mimeData())
        self._set_drop_edge(None)
        if type_id is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        pos = event.position()
        scene_pos = self.viewportTransform().inverted()[0].map(pos)
        edge = self._insertable_edge(type_id, pos)
        self.setFocus()
        if edge is None:
            self.add_layer(type_id, scene_pos)
            return
        try:
            node_id = self.session.insert_on_edge(type_id, edge.edge,
                                                  self._card_origin(type_id, scene_pos))
        except (GraphError, ParamError, RegistryError) as err:
            self.show_refusal(str(err), pos)
            return
        self.select_nodes([node_id])
