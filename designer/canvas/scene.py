"""CanvasScene: node, port and edge items mirroring the session's model, redrawn from its events.

The scene never changes the model. It answers three signals of `DesignSession`:

* ``model_event``: one item is created, removed or refreshed (plus the edges of a moved node);
* ``model_replaced``: everything is rebuilt;
* ``analysis_changed``: shapes, badges, edge labels and tooltips are refreshed; items whose text
  did not change are not repainted.

The doctor's findings reach it through `set_findings` (the Doctor panel owns them), the Try it
panel's layer outputs through `set_layer_outputs`.
"""
from __future__ import annotations

import gc
from collections.abc import Mapping

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (QGraphicsPathItem, QGraphicsScene, QGraphicsSceneHelpEvent,
                               QGraphicsView, QToolTip)

from designer import style
from designer.session import DesignSession
from runtime.graph import (Edge, EdgeAdded, EdgeRemoved, GraphModel, NetworkChanged, NodeAdded,
                           NodeMoved, NodeRemoved, ParamChanged)
from runtime.present import format_shape
from runtime.shapes import OK, Analysis, NodeResult

from .edge_item import EdgeItem, fit_crowd
from .labels import compact_shape
from .network_frame import NetworkFrames
from .node_item import LIVE_TAG_H, WIDTH as NODE_WIDTH, NodeItem, card_geometry
from .output_view import LayerOutputItem
from .port_item import INPUT, OUTPUT

#: The outline of nodes an architecture diff touched (the Runs panel).
DIFF_OUTLINE = QColor("#e3b341")

#: Minor grid lines are left out when they would be closer than this many pixels.
MIN_GRID_PIXELS = 7.0
#: Scene units kept around the cards in the scene rectangle (see CanvasScene._keep_room).
SCENE_ROOM = 100_000.0
#: Kept clear above a card for its training value tag (node_item draws it LIVE_TAG_H + 2 high).
LIVE_TAG_ROOM = LIVE_TAG_H + 4
MAJOR_EVERY = 5


class CanvasScene(QGraphicsScene):
    """Items for every node and edge of `session.model`, kept in step with its events.

    Signals:
        content_changed(): pictures under the cards came, went or changed size.
    """

    content_changed = Signal()

    def __init__(self, session: DesignSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[Edge, list[EdgeItem]] = {}
        self._edges_of: dict[str, list[EdgeItem]] = {}
        self._analysis: Analysis | None = None
        self._messages: dict[str, tuple[list[str], list[str]]] = {}
        self._findings: dict[str, list[tuple[str, str]]] = {}
        self._diff_marks: dict[str, QGraphicsPathItem] = {}  # the Runs panel's diff outlines
        self._outputs: dict[str, LayerOutputItem] = {}  # the Try it panel's layer outputs
        self.frames = NetworkFrames(self)  # the named networks' frames
        #: Merge inputs whose edges' curves or labels changed: their labels are checked against
        #: each other's curves once, when the change is complete (`_settle_labels`).
        self._crowds_to_fit: set[tuple[str, str]] = set()
        self._fresh_rect = True  # no rectangle set yet: the first is made to fit the design
        session.model_event.connect(self._on_model_event)
        session.model_replaced.connect(self.rebuild)
        session.analysis_changed.connect(self.apply_analysis)
        self.rebuild()

    def cards_rect(self) -> QRectF:
        """The rectangle around every card, from the model's positions (itemsBoundingRect
        asks each of the ~5 items per node for its bounds: 60 ms at 5,000 nodes)."""
        if not self.node_items:
            return QRectF()
        nodes = self.model.nodes
        xs = [nodes[n].pos[0] for n in self.node_items]
        ys = [nodes[n].pos[1] for n in self.node_items]
        bottom = max(nodes[n].pos[1] + item.geometry.height
                     for n, item in self.node_items.items())
        return QRectF(min(xs), min(ys), max(xs) + NODE_WIDTH - min(xs), bottom - min(ys))

    def _keep_room(self, cards: QRectF | None = None) -> None:
        """Hold the scene rectangle still, with SCENE_ROOM around the cards (or around `cards`,
        one card just placed), growing it only when a card comes near its edge. Left to grow by
        itself, Qt grew it (and rebuilt its whole item index, O(nodes)) on every mouse move that
        dragged a card past the design's edge: 30-50 ms a step on a 5,000-node chain."""
        if cards is None:
            cards = self.cards_rect()
        rect = self.sceneRect()
        inner = rect.adjusted(SCENE_ROOM / 2, SCENE_ROOM / 2, -SCENE_ROOM / 2, -SCENE_ROOM / 2)
        if cards.isEmpty() or inner.contains(cards):
            return
        wanted = cards.adjusted(-SCENE_ROOM, -SCENE_ROOM, SCENE_ROOM, SCENE_ROOM)
        self.setSceneRect(wanted if self._fresh_rect else rect.united(wanted))
        self._fresh_rect = False

    @property
    def model(self) -> GraphModel:
        return self.session.model

    # --- what items read ------------------------------------------------------------------
    @property
    def analysis(self) -> Analysis | None:
        """The latest published analysis (None before one exists)."""
        return self._analysis

    def result(self, node_id: str) -> NodeResult | None:
        """The node's result in the latest published analysis (None before one exists)."""
        return self._analysis.nodes.get(node_id) if self._analysis is not None else None

    def messages(self, node_id: str) -> tuple[list[str], list[str]]:
        """(errors, warnings) about this node in the latest analysis, design-level ones included."""
        return self._messages.get(node_id, ([], []))

    def findings(self, node_id: str) -> list[tuple[str, str]]:
        """The doctor's findings on this node: (severity, title), most severe first."""
        return self._findings.get(node_id, [])

    def set_findings(self, by_node: dict[str, list[tuple[str, str]]]) -> None:
        """Show the doctor's findings as node badges; only nodes whose findings changed
        refresh."""
        before, self._findings = self._findings, {k: list(v) for k, v in by_node.items() if v}
        for node_id in set(before) | set(self._findings):
            item = self.node_items.get(node_id)
            if item is not None and before.get(node_id) != self._findings.get(node_id):
                item.refresh()

    def highlighted(self) -> list[str]:
        """The nodes outlined as touched by an architecture diff (the Runs panel's)."""
        return sorted(self._diff_marks)

    def set_highlight(self, node_ids) -> None:
        """Outline these nodes' cards (an architecture diff's touched nodes); [] clears. Ids the
        design lacks (a node only the other run has) are skipped."""
        for mark in self._diff_marks.values():
            try:
                if mark.scene() is self:
                    self.removeItem(mark)
            except RuntimeError:  # its card was deleted, and the outline with it
                pass
        self._diff_marks = {}
        for node_id in node_ids:
            item = self.node_items.get(node_id)
            if item is None:
                continue
            path = QPainterPath()
            path.addRoundedRect(QRectF(-4, -4, NODE_WIDTH + 8, item.geometry.height + 8), 9, 9)
            mark = QGraphicsPathItem(path, item)  # a child: it moves with the card
            pen = QPen(DIFF_OUTLINE, 3.0)
            pen.setCosmetic(True)
            mark.setPen(pen)
            mark.setZValue(-1)
            mark.setToolTip("changed between the compared designs")
            self._diff_marks[node_id] = mark

    def layer_output(self, node_id: str) -> LayerOutputItem | None:
        """The picture of the node's output for the input tried (the Try it panel's), or None."""
        return self._outputs.get(node_id)

    def set_layer_outputs(self, pictures: Mapping[str, tuple[str, QPixmap, str]]) -> None:
        """Show under each node card its (caption, picture, tooltip); nodes left out lose theirs.

        Kept items only swap their picture, so following a drawing costs a repaint per card.
        """
        for node_id in [n for n in self._outputs if n not in pictures]:
            item = self._outputs.pop(node_id)
            if item.scene() is self:
                self.removeItem(item)
        for node_id, (caption, pixmap, tip) in pictures.items():
            card = self.node_items.get(node_id)
            if card is None:
                continue
            item = self._outputs.get(node_id)
            if item is None or item.parentItem() is not card:
                item = self._outputs[node_id] = LayerOutputItem(card)
            item.show_picture(caption, pixmap, tip, self.room_below(card))
        self.content_changed.emit()  # a view showing the whole design may need to zoom out

    def room_below(self, card: NodeItem, reach: float = 600.0) -> float | None:
        """Free height under a card down to the nearest card below it (the value tag above
        that card included), or None when none is within `reach`: where its picture fits."""
        top = card.y() + card.geometry.height
        area = QRectF(card.x(), top + 1, NODE_WIDTH, reach)
        below = [item.y() - LIVE_TAG_ROOM for item in self.items(area)
                 if isinstance(item, NodeItem) and item is not card and item.y() > top]
        return min(below) - top if below else None

    def shape_description(self, node_id: str, result: NodeResult) -> str:
        """What a node card shows as its shape: its output(s), or what an Output node receives."""
        if len(result.outputs) == 1:
            return format_shape(next(iter(result.outputs.values())))
        if result.outputs:
            return "  ".join(f"{p} {compact_shape(t)}" for p, t in result.outputs.items())
        received = [self._edge_tensor(item.edge) for item in self._edges_of.get(node_id, ())
                    if item.edge.dst == node_id]
        return ", ".join(format_shape(t) for t in received if t is not None)

    def _edge_tensor(self, edge: Edge):
        source = self.result(edge.src)
        if source is None or source.status != OK:
            return None
        return source.outputs.get(edge.src_port)

    # --- building -------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Drop every item and make them again from the model (New/Open)."""
        # tens of thousands of new wrappers would set off the cyclic collector's full passes
        # over the whole heap several times (a second at 5,000 nodes); they have no cycles
        # to find while the items are made, so it waits until they are
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._rebuild()
        finally:
            if enabled:
                gc.enable()

    def _rebuild(self) -> None:
        self.clear()
        self.node_items.clear()
        self.edge_items.clear()
        self._edges_of.clear()
        self._findings = {}  # they were about the design that left; the doctor sends new ones
        self._diff_marks = {}  # clear() removed them with their cards
        self._outputs = {}  # and these
        self.frames.forget()  # and the frames
        self._set_analysis(self.session.analysis)
        for node in self.model.nodes.values():
            self._add_node(node.id, refresh=False)
        for edge in self.model.edges:
            self._add_edge(edge, refresh=False)
        for edge in self.model.edges:  # every port with an edge, in one pass (not per edge,
            for node_id, side, port in ((edge.src, OUTPUT, edge.src_port),  # O(degree) each)
                                        (edge.dst, INPUT, edge.dst_port)):
                port_item = self.node_items[node_id].port(side, port)
                if port_item is not None:
                    port_item.set_connected(True)
        self.frames.sync()
        for item in self.node_items.values():
            item.refresh()
        self._refresh_all_edges()
        self._settle_labels()
        self._keep_room()

    def _add_node(self, node_id: str, refresh: bool = True) -> NodeItem:
        item = NodeItem(self, node_id, QPointF(*self.model.nodes[node_id].pos))
        self.node_items[node_id] = item
        self._edges_of[node_id] = []
        self.addItem(item)
        if refresh:
            item.refresh()
        return item

    def _remove_node(self, node_id: str) -> None:
        for edge_item in list(self._edges_of.get(node_id, ())):
            self._remove_edge_item(edge_item)
        self._edges_of.pop(node_id, None)
        self._outputs.pop(node_id, None)  # a child of the card: it goes with it
        item = self.node_items.pop(node_id, None)
        if item is not None:
            self.removeItem(item)

    def _add_edge(self, edge: Edge, refresh: bool = True) -> EdgeItem:
        item = EdgeItem(self, edge)
        self.edge_items.setdefault(edge, []).append(item)
        self._edges_of[edge.src].append(item)
        self._edges_of[edge.dst].append(item)
        self.addItem(item)
        item.update_path()
        if refresh:  # a rebuild marks every connected port once, after its last edge
            self._update_ports(edge)
            self._refresh_edge(item)
            self._settle_labels()
            self._choose_label_owner(edge.src, edge.src_port)
        return item

    def _remove_edge_item(self, item: EdgeItem) -> None:
        edge = item.edge
        items = self.edge_items.get(edge, [])
        if item in items:
            items.remove(item)
        if not items:
            self.edge_items.pop(edge, None)
        for node_id in (edge.src, edge.dst):
            attached = self._edges_of.get(node_id)
            if attached is not None and item in attached:
                attached.remove(item)
        self.removeItem(item)
        self._update_ports(edge)
        self._crowds_to_fit.add((edge.dst, edge.dst_port))  # the others may have room now
        self._settle_labels()
        self._choose_label_owner(edge.src, edge.src_port)

    def _update_ports(self, edge: Edge) -> None:
        for node_id, side, port in ((edge.src, OUTPUT, edge.src_port),
                                    (edge.dst, INPUT, edge.dst_port)):
            node = self.node_items.get(node_id)
            port_item = node.port(side, port) if node is not None else None
            if port_item is not None:
                port_item.set_connected(any(
                    (e.edge.src_port == port if side == OUTPUT else e.edge.dst_port == port)
                    and (e.edge.src if side == OUTPUT else e.edge.dst) == node_id
                    for e in self._edges_of.get(node_id, ())))

    def _refresh_edge(self, item: EdgeItem) -> bool:
        """Re-read the tensor the edge carries; returns whether its label changed."""
        tensor = self._edge_tensor(item.edge)
        if tensor == item.tensor_shown:
            return False
        item.tensor_shown = tensor
        item.set_label(compact_shape(tensor) if tensor is not None else "")
        return True

    # --- model events ---------------------------------------------------------------------
    def _on_model_event(self, event: object) -> None:
        if isinstance(event, NodeMoved):
            item = self.node_items.get(event.node_id)
            if item is not None and (item.x(), item.y()) != event.new:
                item.setPos(QPointF(*event.new))  # its edges follow via node_item_moved
            if item is not None:
                self._keep_room(item.sceneBoundingRect())
        elif isinstance(event, ParamChanged):
            item = self.node_items.get(event.node_id)
            if item is not None:
                item.refresh()
        elif isinstance(event, EdgeAdded):
            self._add_edge(event.edge)
        elif isinstance(event, EdgeRemoved):
            items = self.edge_items.get(event.edge)
            if items:
                self._remove_edge_item(items[-1])
        elif isinstance(event, NodeAdded):
            self._keep_room(self._add_node(event.node.id).sceneBoundingRect())
            if self.frames.needed_for(event.node.network):
                self.frames.sync()
        elif isinstance(event, NodeRemoved):
            self._remove_node(event.node.id)
            if self.frames.needed_for(event.node.network):
                self.frames.sync()
        elif isinstance(event, NetworkChanged):
            self.frames.sync()

    def node_item_moved(self, node_id: str) -> None:
        """A node item moved (a drag in progress, or a NodeMoved event): its edges and its
        network's frame follow."""
        self.frames.node_moved(node_id)
        groups = set()
        moved = self._edges_of.get(node_id, ())
        for item in moved:
            item.update_path()
            groups.add((item.edge.src, item.edge.src_port))
        self._settle_labels()
        for src, port in groups:
            self._choose_label_owner(src, port)

    def label_moved(self, item: EdgeItem) -> None:
        """An edge's curve or label changed: the labels at its input need checking again."""
        self._crowds_to_fit.add((item.edge.dst, item.edge.dst_port))

    def _settle_labels(self) -> None:
        """Check the labels of every merge input whose edges changed against each other's
        curves (once per input, however many of its edges changed)."""
        crowds, self._crowds_to_fit = self._crowds_to_fit, set()
        for dst, port in crowds:
            into = self.edges_into(dst, port)
            if len(into) > 1:
                fit_crowd(into)

    def edges_into(self, node_id: str, port: str) -> list[EdgeItem]:
        """The edge items ending at one input port (several for a merge input)."""
        return [e for e in self._edges_of.get(node_id, ())
                if e.edge.dst == node_id and e.edge.dst_port == port]

    def _choose_label_owner(self, src: str, port: str) -> None:
        """Edges leaving one output carry the same tensor: label only the first that has room."""
        owner_found = False
        for item in self._edges_of.get(src, ()):
            if item.edge.src == src and item.edge.src_port == port:
                owner = not owner_found and item.label_fits
                item.set_label_owner(owner or not item.label_fits)
                owner_found = owner_found or owner

    # --- analysis -------------------------------------------------------------------------
    def _set_analysis(self, analysis: Analysis) -> None:
        self._analysis = analysis
        messages: dict[str, tuple[list[str], list[str]]] = {}
        for problem in analysis.problems:
            if problem.node is not None:
                errors, warnings = messages.setdefault(problem.node, ([], []))
                (warnings if problem.severity == "warning" else errors).append(problem.message)
        self._messages = messages

    def apply_analysis(self, analysis: Analysis) -> None:
        """Show a new analysis: shapes, badges and edge labels. Only nodes whose result or
        messages changed are refreshed (after a move, none), and only changed items repaint."""
        before, old_messages = self._analysis, self._messages
        self._set_analysis(analysis)
        for node_id, item in self.node_items.items():
            if (before is None or not item.spec.outputs  # an Output card shows what it receives
                    or before.nodes.get(node_id) != analysis.nodes.get(node_id)
                    or old_messages.get(node_id) != self._messages.get(node_id)):
                item.refresh()
        self._refresh_all_edges()
        self.frames.relabel()

    def _refresh_all_edges(self) -> None:
        groups = set()
        for items in self.edge_items.values():
            for item in items:
                if self._refresh_edge(item):
                    groups.add((item.edge.src, item.edge.src_port))
        self._settle_labels()
        for src, port in groups:
            self._choose_label_owner(src, port)

    # --- hit-testing ----------------------------------------------------------------------
    def edge_at(self, point: QPointF, tolerance: float) -> EdgeItem | None:
        """The edge whose curve passes within `tolerance` scene units of `point` (topmost)."""
        area = QRectF(point.x() - tolerance, point.y() - tolerance, 2 * tolerance, 2 * tolerance)
        for item in self.items(area):
            if isinstance(item, EdgeItem) and item.contains_point(point, tolerance):
                return item
        return None

    def node_size(self, type_id: str) -> tuple[float, float]:
        """Width and height of the card of a layer type (to centre new nodes on the cursor)."""
        geo = card_geometry(self.session.registry.get(type_id))
        return float(style.NODE_WIDTH), geo.height

    # --- tooltips -------------------------------------------------------------------------
    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:  # noqa: N802
        """Tooltips of cards and edges are written when asked for, not after every analysis."""
        view = event.widget().parentWidget() if event.widget() is not None else None
        transform = view.transform() if isinstance(view, QGraphicsView) else QTransform()
        for item in self.items(event.scenePos(), Qt.ItemSelectionMode.IntersectsItemShape,
                               Qt.SortOrder.DescendingOrder, transform):
            text = item.tooltip_text() if hasattr(item, "tooltip_text") else item.toolTip()
            if text:
                QToolTip.showText(event.screenPos(), text, event.widget())
                event.accept()
                return
        QToolTip.hideText()
        event.ignore()

    # --- background -----------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, style.CANVAS_BACKGROUND)
        scale = painter.worldTransform().m11()
        grid = float(style.GRID_SIZE)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if grid * scale >= MIN_GRID_PIXELS:
            self._draw_grid(painter, rect, grid, style.GRID_MINOR, skip_every=MAJOR_EVERY)
        major = grid * MAJOR_EVERY
        while major * scale < MIN_GRID_PIXELS:
            major *= MAJOR_EVERY
        self._draw_grid(painter, rect, major, style.GRID_MAJOR)
        painter.restore()

    @staticmethod
    def _draw_grid(painter: QPainter, rect: QRectF, step: float, color,
                   skip_every: int = 0) -> None:
        pen = QPen(color, 0)  # cosmetic: one pixel at any zoom
        painter.setPen(pen)
        first_x = int(rect.left() // step)
        first_y = int(rect.top() // step)
        lines = []
        i = first_x
        while i * step <= rect.right():
            if not skip_every or i % skip_every:
                lines.append(QLineF(i * step, rect.top(), i * step, rect.bottom()))
            i += 1
        j = first_y
        while j * step <= rect.bottom():
            if not skip_every or j % skip_every:
                lines.append(QLineF(rect.left(), j * step, rect.right(), j * step))
            j += 1
        painter.drawLines(lines)
