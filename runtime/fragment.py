"""Fragments: part of a design as plain data, for Cut, Copy, Paste and Duplicate.

A fragment holds the selected nodes and the edges between them, written with the node and edge
objects of the design file (docs/design-format.md), so it travels through the system clipboard as
JSON text and pastes into the same design or another one:

    {"format": "layerlab.fragment", "version": 1,
     "nodes": [{"id": "fc1", "type": "Linear", "params": {...}, "pos": [0.0, 0.0]}, ...],
     (a node of a named network also has "network": "generator")
     "edges": [{"from": "fc1", "to": "relu1", "from_port": "output", "to_port": "input"}, ...]}

Every function here is pure: `plan_paste` returns what to add and the designer adds it through the
GraphModel API inside one undoable command.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from . import document
from .errors import DesignFileError, Problem
from .graph import Edge, GraphModel, Node
from .names import did_you_mean, identifier_problem, slug
from .registry import REGISTRY, LayerRegistry

FRAGMENT_FORMAT = "layerlab.fragment"
#: Fragments are made of design-file nodes and edges, so they share the design format's versions
#: (and its migrations): this is the newest one read.
FRAGMENT_VERSION = document.CURRENT_VERSION

_TOP_KEYS = ("format", "version", "nodes", "edges")


@dataclass
class PastePlan:
    """What pasting a fragment adds to a design.

    Attributes:
        nodes: The new nodes, with ids unused in the design, every parameter and offset positions,
            in the fragment's order.
        edges: The fragment's edges between the new nodes, in the fragment's order (which is the
            argument order of merge nodes such as Concat).
        id_map: The new id of each fragment id.
    """

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    id_map: dict[str, str] = field(default_factory=dict)


def copy_fragment(model: GraphModel, node_ids: Iterable[str]) -> dict:
    """The fragment of `node_ids`: those nodes and only the edges between them.

    Args:
        model: The design (not modified).
        node_ids: The selected nodes; unknown ids raise `GraphError`.

    Returns:
        A JSON-ready dict; nodes and edges keep the design's file order, and edges always name
        both ports so the fragment reads the same whatever it is pasted into.
    """
    chosen = {model.node(node_id).id for node_id in node_ids}
    chosen_nodes = [n for n in model.nodes.values() if n.id in chosen]
    nodes = [copy.deepcopy(document.node_dict(n)) for n in chosen_nodes]
    edges = [{"from": e.src, "to": e.dst, "from_port": e.src_port, "to_port": e.dst_port}
             for e in model.edges if e.src in chosen and e.dst in chosen]
    # like a design file, at the oldest version that holds it (older LayerLabs paste it)
    return {"format": FRAGMENT_FORMAT, "version": document.written_version(chosen_nodes),
            "nodes": nodes,
            "edges": edges}


def fragment_to_text(fragment: dict) -> str:
    """The clipboard text of a fragment (JSON)."""
    return json.dumps(fragment, indent=2) + "\n"


def fragment_from_text(text: str, registry: LayerRegistry = REGISTRY) -> dict | None:
    """Read a fragment from clipboard text.

    Args:
        text: Whatever the clipboard holds.
        registry: The layer types the fragment's nodes are checked against.

    Returns:
        The validated fragment (every parameter filled in, edges with both ports, upgraded and
        written at the oldest version that holds it), or None when the text is not a fragment at all (any other text,
        JSON or not).

    Raises:
        DesignFileError: The text claims to be a fragment but is invalid; `problems` lists every
            reason, located like design-file problems (``nodes[0].type``).
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("format") != FRAGMENT_FORMAT:
        return None
    model = _validated(data, registry)
    return copy_fragment(model, model.nodes)


def plan_paste(model: GraphModel, fragment: dict,
               offset: tuple[float, float] = (40.0, 40.0)) -> PastePlan:
    """Plan pasting `fragment` into `model` without changing `model`.

    A node keeps its fragment id when the design does not use it; otherwise it gets a fresh id in
    the style of `GraphModel.new_id` (``linear_3``) that is unused in the design and among the
    pasted nodes. Positions move by `offset`.

    Args:
        model: The design to paste into (not modified).
        fragment: A fragment dict (from `copy_fragment` or `fragment_from_text`); it is validated
            against `model.registry`.
        offset: Added to every pasted position.

    Returns:
        The plan; adding its nodes with ``add_node(type, params, pos, id, network=network)``
        (a node keeps its network) and then its edges with
        ``connect(src, dst, src_port, dst_port)`` recreates the fragment.

    Raises:
        DesignFileError: The fragment is invalid.
    """
    source = _validated(fragment, model.registry)
    taken = set(model.nodes)
    kept = {node_id for node_id in source.nodes if node_id not in taken}
    taken |= kept
    id_map: dict[str, str] = {}
    for node in source.nodes.values():
        new = node.id if node.id in kept else _fresh_id(node.type, taken)
        taken.add(new)
        id_map[node.id] = new
    dx, dy = float(offset[0]), float(offset[1])
    nodes = [Node(id_map[n.id], n.type, copy.deepcopy(n.params), (n.pos[0] + dx, n.pos[1] + dy),
                  n.network) for n in source.nodes.values()]
    edges = [Edge(id_map[e.src], id_map[e.dst], e.src_port, e.dst_port) for e in source.edges]
    return PastePlan(nodes, edges, id_map)


def _validated(fragment: Any, registry: LayerRegistry) -> GraphModel:
    """The fragment as a model, checked by the design-file validator; `DesignFileError` if bad."""
    problems: list[Problem] = []
    if not isinstance(fragment, dict) or fragment.get("format") != FRAGMENT_FORMAT:
        raise DesignFileError([Problem(f"not a LayerLab fragment: 'format' must be "
                                       f"'{FRAGMENT_FORMAT}'", location="format")])
    version = fragment.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(Problem(f"'version' must be a positive integer, got {version!r}",
                                location="version"))
    elif version > FRAGMENT_VERSION:
        problems.append(Problem(f"this fragment was copied from a newer LayerLab (version "
                                f"{version}); this one reads versions up to {FRAGMENT_VERSION}: "
                                "update LayerLab", location="version"))
    for key in fragment:
        if key not in _TOP_KEYS:
            problems.append(Problem(f"unknown key '{key}' in a fragment"
                                    f"{did_you_mean(key, list(_TOP_KEYS))}", location=key))
    if "nodes" not in fragment:
        problems.append(Problem("the fragment has no 'nodes' list", location="nodes"))
    if problems:
        raise DesignFileError(problems)
    design = {"format": document.FORMAT, "version": version, "nodes": fragment["nodes"],
              "edges": fragment.get("edges", [])}
    return document.from_dict(design, registry)


def _fresh_id(type_id: str, taken: set[str]) -> str:
    """Like `GraphModel.new_id`, but avoiding every id in `taken`."""
    stem = slug(type_id)
    n = 1
    while f"{stem}_{n}" in taken or identifier_problem(f"{stem}_{n}"):
        n += 1
    return f"{stem}_{n}"
