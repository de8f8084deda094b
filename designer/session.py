"""DesignSession: the open design, its undo stack, file and analysis, as seen by every widget.

Widgets never edit the GraphModel directly: they call the session, which validates the edit and
pushes an undo command. The session re-emits the model's events as a Qt signal, and re-runs shape
inference once per burst of edits (at the next turn of the event loop, or at once when asked for
`analysis`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from runtime import document
from runtime.errors import GraphError
from runtime.graph import Edge, GraphModel, MetaChanged, NodeMoved, network_problem
from runtime.registry import REGISTRY, LayerRegistry
from runtime.shapes import Analysis, ShapeInference

from . import commands, style


class DesignSession(QObject):
    """One open design (the window shows one at a time)."""

    model_event = Signal(object)  # a runtime.graph event (NodeAdded, ParamChanged, ...)
    model_replaced = Signal()  # New/Open swapped the whole design: views rebuild
    analysis_changed = Signal(object)  # an Analysis
    dirty_changed = Signal(bool)
    path_changed = Signal(object)  # Path | None

    def __init__(self, registry: LayerRegistry = REGISTRY, parent: QObject | None = None):
        super().__init__(parent)
        self.registry = registry
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._inference = ShapeInference()
        self._analysis: Analysis | None = None
        self._analysed_revision = -1
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._publish_analysis)
        self.path: Path | None = None
        self.model = GraphModel(registry)
        self.model.subscribe(self._on_model_event)

    # --- the design -------------------------------------------------------------------------
    def replace_model(self, model: GraphModel, path: Path | None = None) -> None:
        """Show another design (New/Open): clears undo history and marks it saved."""
        self.model.unsubscribe(self._on_model_event)
        self.model = model
        model.subscribe(self._on_model_event)
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.path = path
        self._analysis = None
        self.model_replaced.emit()
        self.path_changed.emit(path)
        self.dirty_changed.emit(False)
        self._publish_analysis()

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def analysis(self) -> Analysis:
        """Shape inference of the current design (recomputed if the design changed)."""
        if self._analysis is None or self._analysed_revision != self.model.shape_revision:
            self._analysis = self._inference.run(self.model)
            self._analysed_revision = self.model.shape_revision
        return self._analysis

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    def _on_model_event(self, event: object) -> None:
        self.model_event.emit(event)
        if isinstance(event, NodeMoved) or (isinstance(event, MetaChanged)
                                             and event.field != "training"):
            return  # positions and names do not change shapes
        self._timer.start()

    def _publish_analysis(self) -> None:
        self.analysis_changed.emit(self.analysis)

    # --- edits (each one undoable) ---------------------------------------------------------
    def add_node(self, type_id: str, pos: tuple[float, float],
                 params: dict[str, Any] | None = None, network: str = "") -> str:
        """Add a layer (to `network`, the main one by default); returns its new id. Raises
        GraphError/ParamError for a bad type or params."""
        spec = self.registry.get(type_id)
        values = self.model.validate_params(spec, params or {})
        node_id = self.model.new_id(spec.type_id)
        self.undo_stack.push(commands.AddNode(self.model, spec.type_id, values,
                                              (float(pos[0]), float(pos[1])), node_id, network))
        return node_id

    def remove_nodes(self, node_ids: Iterable[str]) -> None:
        ids = [n for n in node_ids if n in self.model.nodes]
        if ids:
            self.undo_stack.push(commands.RemoveNodes(self.model, ids))

    def connect(self, src: str, dst: str, src_port: str | None = None,
                dst_port: str | None = None) -> str | None:
        """Connect two ports; returns None on success or the reason the edge is refused."""
        try:
            edge = self.model.resolve_edge(src, dst, src_port, dst_port)
        except GraphError as err:
            return str(err)
        self.undo_stack.push(commands.Connect(self.model, edge))
        return None

    def disconnect(self, edge: Edge) -> None:
        if edge in self.model.edges:
            self.undo_stack.push(commands.Disconnect(self.model, edge))

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        """Validate and set a parameter; raises ParamError (nothing changes) when refused."""
        change = self.model.param_change(node_id, name, value)
        if change is not None:
            self.undo_stack.push(commands.SetParam(self.model, node_id, name, *change))

    def move_nodes(self, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
                   text: str = "Move") -> None:
        """Record moves (old, new) as one undo step; the first redo applies them."""
        moves = {k: v for k, v in moves.items() if v[0] != v[1] and k in self.model.nodes}
        if moves:
            self.undo_stack.push(commands.MoveNodes(self.model, moves, text))

    def insert_on_edge(self, type_id: str, edge: Edge, pos: tuple[float, float]) -> str:
        """Add a layer in the middle of an edge: src -> new -> dst, one undo step."""
        spec = self.registry.get(type_id)
        if not spec.inputs or not spec.outputs:
            raise GraphError(f"{spec.title} cannot be inserted into a connection")
        index = self.model.edges.index(edge)
        self.undo_stack.beginMacro(f"Insert {spec.title}")
        try:
            # into the network the edge runs in: an edge can only join nodes of one network
            node_id = self.add_node(type_id, pos, network=self.model.node(edge.src).network)
            self.undo_stack.push(commands.Disconnect(self.model, edge))
            self.undo_stack.push(commands.Connect(
                self.model, Edge(edge.src, node_id, edge.src_port, spec.inputs[0].name)))
            # the old edge's place in the file keeps a merge node's input order
            self.undo_stack.push(commands.Connect(
                self.model, Edge(node_id, edge.dst, spec.outputs[0].name, edge.dst_port), index))
        finally:
            self.undo_stack.endMacro()
        return node_id

    def paste(self, fragment: dict, offset: tuple[float, float] = (40.0, 40.0)) -> list[str]:
        """Add a copied fragment (nodes with their internal edges) as one undo step."""
        from runtime.fragment import plan_paste

        plan = plan_paste(self.model, fragment, offset)
        if not plan.nodes:
            return []
        self.undo_stack.beginMacro(f"Paste {len(plan.nodes)} node(s)")
        try:
            for node in plan.nodes:
                self.undo_stack.push(commands.AddNode(self.model, node.type, node.params,
                                                      node.pos, node.id, node.network))
            for edge in plan.edges:
                self.undo_stack.push(commands.Connect(self.model, edge))
        finally:
            self.undo_stack.endMacro()
        return [node.id for node in plan.nodes]

    def auto_layout(self, node_ids: Iterable[str] | None = None,
                    fit: tuple[float, float] | None = None) -> None:
        """Lay out these nodes (None: all) as one undo step; `fit` (a window's width and height)
        wraps a long design into bands that fit it (runtime.layout.auto_layout)."""
        from runtime.layout import auto_layout

        positions = auto_layout(self.model, node_ids, x_gap=style.LAYOUT_X_GAP,
                                y_gap=style.LAYOUT_Y_GAP, fit=fit)
        self.move_nodes({n: (self.model.nodes[n].pos, pos) for n, pos in positions.items()},
                        "Auto-layout")

    def set_trainable(self, node_ids: Iterable[str], trainable: bool, text: str) -> int:
        """Freeze (or unfreeze) several layers as one undo step; returns how many changed."""
        return self.set_weight_param(node_ids, "trainable", trainable, text)

    def set_weight_param(self, node_ids: Iterable[str], key: str, value, text: str) -> int:
        """Set one parameter of several layers (those that have it) as one undo step; returns
        how many changed."""
        changes = [n for n in node_ids if n in self.model.nodes
                   and key in self.model.nodes[n].params
                   and self.model.nodes[n].params[key] != value]
        if not changes:
            return 0
        self.undo_stack.beginMacro(text)
        try:
            for node_id in changes:
                self.set_param(node_id, key, value)
        finally:
            self.undo_stack.endMacro()
        return len(changes)

    def set_network(self, node_ids: Iterable[str], network: str, text: str | None = None) -> int:
        """Move nodes into `network` ("" is the main one) as one undo step; returns how many
        changed. Raises GraphError (nothing changes) for a name that cannot name a network."""
        problem = network_problem(network)
        if problem:
            raise GraphError(problem)
        changes = {n: (self.model.nodes[n].network, network) for n in node_ids
                   if n in self.model.nodes and self.model.nodes[n].network != network}
        if changes:
            self.undo_stack.push(commands.SetNetwork(
                self.model, changes, text or (f"Make network {network}" if network
                                              else "Remove from network")))
        return len(changes)

    def layers_up_to(self, node_ids: Iterable[str]) -> list[str]:
        """The weighted layers the given nodes depend on, the nodes included, in graph order:
        the 'body' below a point, for feature extraction and fine-tuning."""
        import networkx as nx

        wanted: set[str] = set()
        for node_id in node_ids:
            if node_id in self.model.nodes:
                wanted |= nx.ancestors(self.model.graph, node_id) | {node_id}
        return [n for n in self.model.topological_order() if n in wanted
                and "trainable" in self.model.nodes[n].params]

    def set_meta(self, field: str, value: str) -> None:
        """Rename the design (`field` "name"; blank names are refused by being ignored) or set
        its description or one-line summary, as one undo step."""
        # a summary is one line: a pasted line break would make the file unloadable
        value = " ".join(value.split()) if field == "summary" else value
        value = value.strip() if field == "name" else value
        old = getattr(self.model, field)
        if value != old and (value or field != "name"):
            self.undo_stack.push(commands.SetMeta(self.model, field, old, value))

    def set_training(self, training: dict, text: str = "Edit training") -> None:
        old = self.model.training
        if old != training:
            self.undo_stack.push(commands.SetTraining(self.model, old, training, text))

    # --- files ----------------------------------------------------------------------------
    def new(self, name: str = "Untitled") -> None:
        self.replace_model(GraphModel(self.registry, name=name))

    def open(self, path: str | Path) -> None:
        """Load a design; raises DesignFileError and leaves the current design untouched."""
        model = document.load(path, self.registry)
        self.replace_model(model, Path(path))

    def open_preset(self, path: str | Path) -> None:
        """Load a preset as a new, unsaved design (saving asks where, never over the preset)."""
        model = document.load(path, self.registry)
        self.replace_model(model, None)

    def save(self, path: str | Path | None = None) -> Path:
        """Save atomically (to `path`, or where it came from); marks the design clean."""
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("the design has no file yet: give a path")
        document.save(self.model, target)
        self.undo_stack.setClean()
        if target != self.path:
            self.path = target
            self.path_changed.emit(target)
        return target
