"""GraphModel: the design as plain data over a networkx graph, with typed errors and change events.

The model is the only truth: the designer's canvas subscribes to its events and redraws; undo
commands call its API. Edge order matters (it is the argument order of merge nodes), so edges are
kept in a list; the networkx mirror answers reachability, cycle and ordering questions.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import networkx as nx

from .edge_rules import edge_problem, resolve_port
from .errors import GraphError
from .names import identifier_problem, slug
from .registry import REGISTRY, LayerRegistry
from .specs import LayerSpec


@dataclass
class Node:
    """One layer in the design: id, type, every parameter (defaults filled in), canvas position
    and the network it belongs to ("" is the design's main network, the only one most designs
    have)."""

    id: str
    type: str
    params: dict[str, Any]
    pos: tuple[float, float] = (0.0, 0.0)
    network: str = ""


@dataclass(frozen=True)
class Edge:
    """A connection from an output port to an input port."""

    src: str
    dst: str
    src_port: str = "output"
    dst_port: str = "input"


@dataclass(frozen=True)
class NodeAdded:
    node: Node


@dataclass(frozen=True)
class NodeRemoved:
    node: Node


@dataclass(frozen=True)
class EdgeAdded:
    edge: Edge
    index: int


@dataclass(frozen=True)
class EdgeRemoved:
    edge: Edge
    index: int


@dataclass(frozen=True)
class ParamChanged:
    node_id: str
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class NodeMoved:
    node_id: str
    old: tuple[float, float]
    new: tuple[float, float]


@dataclass(frozen=True)
class NetworkChanged:
    """A node moved into another network ("" is the main one)."""

    node_id: str
    old: str
    new: str


@dataclass(frozen=True)
class MetaChanged:
    """`name`, `description`, `summary` or `training` changed."""

    field: str


Event = (NodeAdded | NodeRemoved | EdgeAdded | EdgeRemoved | ParamChanged | NodeMoved
         | NetworkChanged | MetaChanged)
Listener = Callable[[Event], None]
#: The design's words: editing them changes nothing a network computes or trains.
WORDS = ("name", "description", "summary")


def is_cosmetic(event: Event) -> bool:
    """Whether an edit leaves what the design computes and trains as it was (a move, or its
    name, description or summary): a check or a run of it is still current."""
    return isinstance(event, NodeMoved) or (isinstance(event, MetaChanged)
                                            and event.field in WORDS)


@dataclass
class RemovedNode:
    """What `remove_node` took away, enough to put it back exactly (for undo)."""

    node: Node
    node_index: int
    edges: list[tuple[int, Edge]] = field(default_factory=list)


class GraphModel:
    """A network design: nodes, ordered edges, and the design's name, description, one-line
    summary and training."""

    def __init__(self, registry: LayerRegistry = REGISTRY, name: str = "Untitled",
                 description: str = "", training: dict | None = None, summary: str = ""):
        self.registry = registry
        self._name = name
        self._description = description
        self._summary = summary
        self._training: dict = dict(training or {})
        self._nodes: dict[str, Node] = {}
        self._edges: list[Edge] = []
        # each node's edges in and out, in file order: in_edges and the occupied-port check
        # read these instead of scanning every edge (compile and pasting were O(nodes x edges))
        self._in: dict[str, list[Edge]] = {}
        self._out: dict[str, list[Edge]] = {}
        #: For each id stem ("conv2d"), a number below which every `stem_N` is taken, so adding
        #: the 5,000th node does not try the 4,999 before it (lowered when one is removed).
        self._id_floor: dict[str, int] = {}
        self._graph = nx.MultiDiGraph()
        self._listeners: list[Listener] = []
        self._order: list[str] | None = None  # cached topological order; None after a structural edit
        self.revision = 0  # bumped by every change
        self.shape_revision = 0  # bumped only by changes that can alter shapes (not moves, names)

    # --- events ---------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event)` after every change."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _emit(self, event: Event) -> None:
        self.revision += 1
        if not isinstance(event, (NodeMoved, MetaChanged)):
            self.shape_revision += 1
        if isinstance(event, (NodeAdded, NodeRemoved, EdgeAdded, EdgeRemoved)):
            self._order = None
        for listener in list(self._listeners):
            listener(event)

    # --- design metadata ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value
        self._emit(MetaChanged("name"))

    @property
    def description(self) -> str:
        return self._description

    @description.setter
    def description(self, value: str) -> None:
        self._description = value
        self._emit(MetaChanged("description"))

    @property
    def summary(self) -> str:
        """One line saying what the design shows or teaches (the welcome view's card text)."""
        return self._summary

    @summary.setter
    def summary(self, value: str) -> None:
        self._summary = value
        self._emit(MetaChanged("summary"))

    @property
    def training(self) -> dict:
        """The training block (owned by the trainer; opaque here). Returns a copy."""
        return copy.deepcopy(self._training)

    @training.setter
    def training(self, value: dict) -> None:
        self._training = copy.deepcopy(value)
        self._emit(MetaChanged("training"))

    # --- queries --------------------------------------------------------------------------
    @property
    def nodes(self) -> dict[str, Node]:
        """Nodes by id, in file order. Treat as read-only: edit through the model's methods."""
        return self._nodes

    @property
    def edges(self) -> list[Edge]:
        """Edges in file order (read-only view)."""
        return list(self._edges)

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The networkx mirror (read-only by convention)."""
        return self._graph

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphError(f"there is no node '{node_id}'") from None

    def spec(self, node_id: str) -> LayerSpec:
        return self.registry.get(self.node(node_id).type)

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into `node_id`, in file order (the argument order of merge nodes)."""
        return list(self._in.get(node_id, ()))

    def out_edges(self, node_id: str) -> list[Edge]:
        """Edges out of `node_id`, in file order."""
        return list(self._out.get(node_id, ()))

    def topological_order(self) -> list[str]:
        """Node ids so that every edge goes forward; ties keep file order. Requires no cycle."""
        if self._order is None:
            rank = {node_id: i for i, node_id in enumerate(self._nodes)}
            self._order = list(nx.lexicographical_topological_sort(self._graph,
                                                                   key=rank.__getitem__))
        return list(self._order)

    def feeding_outputs(self) -> set[str]:
        """Ids of the Output nodes and of every node that feeds one (what a compiled model runs)."""
        outputs = [n.id for n in self._nodes.values() if n.type == "Output"]
        needed = set(outputs)
        for out in outputs:
            needed |= nx.ancestors(self._graph, out)
        return needed

    def networks(self) -> dict[str, list[str]]:
        """Network name -> its node ids in file order, networks in order of first appearance.

        A design whose nodes all sit in the main network has one entry, "" (also for no nodes).
        """
        out: dict[str, list[str]] = {}
        for node in self._nodes.values():
            out.setdefault(node.network, []).append(node.id)
        return out or {"": []}

    def new_id(self, type_id: str) -> str:
        """A fresh, valid node id for a node of `type_id` (e.g. ``conv2d_3``)."""
        stem = slug(type_id)
        n = self._id_floor.get(stem, 1)
        while f"{stem}_{n}" in self._nodes or identifier_problem(f"{stem}_{n}"):
            n += 1
        self._id_floor[stem] = n  # every number below is taken: the next search starts here
        return f"{stem}_{n}"

    # --- edits ----------------------------------------------------------------------------
    def add_node(self, type_id: str, params: dict[str, Any] | None = None,
                 pos: Iterable[float] = (0.0, 0.0), node_id: str | None = None,
                 index: int | None = None, network: str = "") -> Node:
        """Add a node; missing params take their defaults. Raises GraphError or ParamError.

        `index` places it in file order (used by undo to restore a removed node where it was);
        `network` names the network it joins ("" is the main one).
        """
        spec = self._spec_for(type_id)
        node_id = node_id or self.new_id(spec.type_id)
        problem = identifier_problem(node_id)
        if problem:
            raise GraphError(problem)
        if node_id in self._nodes:
            raise GraphError(f"node id '{node_id}' is already used")
        _check_network(node_id, network)
        node = Node(node_id, spec.type_id, self.validate_params(spec, params or {}),
                    _pos(pos), network)
        if index is None or index >= len(self._nodes):
            self._nodes[node_id] = node
        else:
            items = list(self._nodes.items())
            items.insert(index, (node_id, node))
            self._nodes = dict(items)
        self._graph.add_node(node_id)
        self._emit(NodeAdded(node))
        return node

    def remove_node(self, node_id: str) -> RemovedNode:
        """Remove a node and its edges; returns what was removed so it can be restored."""
        node = self.node(node_id)
        removed = RemovedNode(node, list(self._nodes).index(node_id))
        touching = set(self._in.get(node_id, ())) | set(self._out.get(node_id, ()))
        for edge in reversed([e for e in self._edges if e in touching]):
            removed.edges.insert(0, (self._edges.index(edge), edge))
            self.disconnect(edge)
        del self._nodes[node_id]
        self._in.pop(node_id, None)
        self._out.pop(node_id, None)
        stem, _, number = node_id.rpartition("_")
        if number.isdigit() and int(number) < self._id_floor.get(stem, 1):
            self._id_floor[stem] = int(number)  # free again: new_id hands it out next
        self._graph.remove_node(node_id)
        self._emit(NodeRemoved(node))
        return removed

    def restore_node(self, removed: RemovedNode) -> None:
        """Undo `remove_node`: the node, at its old place, with its edges at their old places."""
        node = removed.node
        self.add_node(node.type, node.params, node.pos, node.id, removed.node_index,
                      node.network)
        for index, edge in removed.edges:
            self.connect(edge.src, edge.dst, edge.src_port, edge.dst_port, index=index)

    def connect(self, src: str, dst: str, src_port: str | None = None,
                dst_port: str | None = None, index: int | None = None) -> Edge:
        """Add an edge; ports may be omitted where the node has one. Raises GraphError."""
        edge = self.resolve_edge(src, dst, src_port, dst_port)
        at_end = index is None or index >= len(self._edges)
        index = len(self._edges) if index is None else index
        self._edges.insert(index, edge)
        for table, key in ((self._in, edge.dst), (self._out, edge.src)):
            if at_end:
                table.setdefault(key, []).append(edge)
            else:  # an undo putting an edge back in the middle: the slow, rare way
                table[key] = [e for e in self._edges if (e.dst if table is self._in
                                                          else e.src) == key]
        # the mirror only answers reachability and order questions, so it keeps one anonymous
        # parallel edge per occurrence (a merge node may take the same tensor twice)
        self._graph.add_edge(edge.src, edge.dst)
        self._emit(EdgeAdded(edge, index))
        return edge

    def disconnect(self, edge: Edge) -> int:
        """Remove `edge`; returns where it was in the edge list."""
        try:
            index = self._edges.index(edge)
        except ValueError:
            raise GraphError(f"there is no edge {edge.src} -> {edge.dst}") from None
        del self._edges[index]
        self._in[edge.dst].remove(edge)  # equal edges are interchangeable: any one goes
        self._out[edge.src].remove(edge)
        self._graph.remove_edge(edge.src, edge.dst)
        self._emit(EdgeRemoved(edge, index))
        return index

    def param_change(self, node_id: str, name: str, value: Any) -> tuple[Any, Any] | None:
        """What setting one parameter would do, without doing it.

        Returns:
            (old, new) with `new` as the spec validated it (a probability given as 0 becomes
            0.0), or None when the node already holds that value.

        Raises:
            GraphError: There is no node `node_id`.
            ParamError: The layer type has no such parameter or refuses the value.
        """
        node = self.node(node_id)
        new = self.validate_params(self.registry.get(node.type), {name: value})[name]
        old = node.params[name]
        return None if new == old and type(new) is type(old) else (old, new)

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set one parameter after validating it; returns the old value. Raises ParamError."""
        change = self.param_change(node_id, name, value)
        if change is None:
            return self._nodes[node_id].params[name]
        old, new = change
        self._nodes[node_id].params[name] = new
        self._emit(ParamChanged(node_id, name, old, new))
        return old

    def move(self, node_id: str, pos: Iterable[float]) -> None:
        node = self.node(node_id)
        old, node.pos = node.pos, _pos(pos)
        self._emit(NodeMoved(node_id, old, node.pos))

    def set_network(self, node_id: str, network: str) -> str:
        """Move a node into `network` ("" is the main one); returns its old network.

        Raises GraphError for an unknown node or a network name that is not an identifier.
        """
        node = self.node(node_id)
        _check_network(node_id, network)
        old = node.network
        if old != network:
            node.network = network
            self._emit(NetworkChanged(node_id, old, network))
        return old

    # --- helpers --------------------------------------------------------------------------
    def validate_params(self, spec: LayerSpec, params: dict[str, Any]) -> dict[str, Any]:
        """All of `spec`'s params: given values validated, the rest at their defaults."""
        values, problems = spec.check_params(params)
        if problems:
            raise problems[0]
        return values

    def _spec_for(self, type_id: str) -> LayerSpec:
        if type_id not in self.registry:
            raise GraphError(f"unknown layer type '{type_id}'{self.registry.suggestion(type_id)}")
        return self.registry.get(type_id)

    def resolve_edge(self, src: str, dst: str, src_port: str | None = None,
                     dst_port: str | None = None) -> Edge:
        """The edge src -> dst with default ports filled in; GraphError if it is not allowed.

        The rules and their wording live in `runtime.edge_rules`, shared with the file loader.
        """
        src_spec, dst_spec = self.spec(src), self.spec(dst)
        src_port = resolve_port(src, src_spec, "output", src_port)
        dst_port = resolve_port(dst, dst_spec, "input", dst_port)
        occupant = next((e.src for e in self._in.get(dst, ()) if e.dst_port == dst_port), None)
        problem = edge_problem(self._graph, src, dst, dst_spec.input_port(dst_port), occupant)
        if problem:
            raise GraphError(problem)
        return Edge(src, dst, src_port, dst_port)

    def _bulk_load(self, nodes: list[Node], edges: list[Edge]) -> None:
        """Fill an empty model from a validated document without per-edit checks or events."""
        assert not self._nodes, "bulk load is only for a fresh model"
        self._nodes = {n.id: n for n in nodes}
        self._edges = list(edges)
        for edge in self._edges:
            self._in.setdefault(edge.dst, []).append(edge)
            self._out.setdefault(edge.src, []).append(edge)
        self._graph.add_nodes_from(self._nodes)
        self._graph.add_edges_from((e.src, e.dst) for e in edges)

    # --- comparison -----------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Plain-data copy of everything in the design (compares equal iff the designs are equal)."""
        return {"name": self._name, "description": self._description, "summary": self._summary,
                "training": copy.deepcopy(self._training),
                "nodes": [(n.id, n.type, copy.deepcopy(n.params), n.pos, n.network)
                          for n in self._nodes.values()],
                "edges": list(self._edges)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GraphModel) and self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]


def network_problem(network: object) -> str | None:
    """Why `network` cannot name a network, or None when it can ("" is the main network).

    Names follow node ids' rule: the training modes will use them as module names.
    """
    if network == "":
        return None
    return identifier_problem(network, "network name")


def _check_network(node_id: str, network: object) -> None:
    problem = network_problem(network)
    if problem:
        raise GraphError(f"node '{node_id}': {problem}")


def _pos(pos: Iterable[float]) -> tuple[float, float]:
    x, y = pos
    return (float(x), float(y))
