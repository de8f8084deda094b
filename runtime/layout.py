"""Automatic layered layout of a design, left to right (a small Sugiyama-style layout).

`auto_layout` is a pure function: it returns new positions and never moves a node itself, so the
designer can apply them inside one undoable command.

The steps are the classic ones: give every node a layer (its longest path from a source, so every
edge points right), split edges that span several layers into chains of invisible dummy slots (so
a skip connection gets a lane of its own instead of running through the nodes it skips), order each
layer with a few barycenter sweeps to reduce crossings, then centre every layer on its component's
main row and stack the components below each other.
"""
from __future__ import annotations

import math
from bisect import bisect_right, insort
from typing import Iterable

import networkx as nx

from .graph import GraphModel

Position = tuple[float, float]

#: Ordering sweeps, alternating left-to-right and right-to-left; the best ordering seen is kept.
SWEEPS = 4


def auto_layout(model: GraphModel, node_ids: Iterable[str] | None = None, x_gap: float = 200.0,
                y_gap: float = 110.0, origin: Position | None = None) -> dict[str, Position]:
    """Lay out nodes in layers from left to right.

    Only edges between the laid-out nodes are considered; other nodes are neither moved nor
    avoided, so laying out a selection tidies it in place.

    Args:
        model: The design (not modified).
        node_ids: The nodes to lay out (unknown ids raise `GraphError`); None for all of them.
        x_gap: Distance between the left edges of consecutive layers.
        y_gap: Distance between the rows of one layer, and between stacked components.
        origin: Where the top-left of the laid-out nodes goes; None keeps their current top-left
            (the smallest x and smallest y among their positions).

    Returns:
        The new position of every laid-out node, by id, in file order.
    """
    chosen = set(model.nodes) if node_ids is None else {model.node(i).id for i in node_ids}
    ids = [node_id for node_id in model.nodes if node_id in chosen]
    if not ids:
        return {}
    if origin is None:
        origin = (min(model.nodes[i].pos[0] for i in ids), min(model.nodes[i].pos[1] for i in ids))
    pairs = list(dict.fromkeys((e.src, e.dst) for e in model.edges
                               if e.src in chosen and e.dst in chosen))
    order = [node_id for node_id in model.topological_order() if node_id in chosen]
    layer = _layers(order, pairs)
    # A component is labelled by its first node's place in the file, and stacked in that order.
    rank = {node_id: i for i, node_id in enumerate(ids)}
    component: dict[str, int] = {}
    for members in nx.connected_components(_undirected(ids, pairs)):
        component.update(dict.fromkeys(members, min(rank[m] for m in members)))
    groups: dict[int, tuple[list[str], list[tuple[str, str]]]] = {
        label: ([], []) for label in sorted(set(component.values()))}
    for node_id in order:
        groups[component[node_id]][0].append(node_id)
    for pair in pairs:
        groups[component[pair[0]]][1].append(pair)

    raw: dict[str, Position] = {}
    top = 0.0
    for members, edges in groups.values():
        rows, first, last = _rows(members, edges, layer)
        for node_id, row in rows.items():
            raw[node_id] = (layer[node_id] * x_gap, top + (row - first) * y_gap)
        top += (last - first + 1) * y_gap
    dx = origin[0] - min(x for x, _ in raw.values())
    dy = origin[1] - min(y for _, y in raw.values())
    return {node_id: (raw[node_id][0] + dx, raw[node_id][1] + dy) for node_id in ids}


def _undirected(ids: list[str], pairs: list[tuple[str, str]]) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    graph.add_edges_from(pairs)
    return graph


def _layers(order: list[str], pairs: list[tuple[str, str]]) -> dict[str, int]:
    """Layer of each node: its longest path from a source; sources sit just left of their
    nearest consumer (so a second input used late in the network is drawn next to that use)."""
    preds: dict[str, list[str]] = {node_id: [] for node_id in order}
    succs: dict[str, list[str]] = {node_id: [] for node_id in order}
    for src, dst in pairs:
        preds[dst].append(src)
        succs[src].append(dst)
    layer: dict[str, int] = {}
    for node_id in order:
        layer[node_id] = max((layer[p] + 1 for p in preds[node_id]), default=0)
    for node_id in order:
        if not preds[node_id] and succs[node_id]:
            layer[node_id] = min(layer[s] for s in succs[node_id]) - 1
    return layer


def _rows(order: list[str], pairs: list[tuple[str, str]],
          layer: dict[str, int]) -> tuple[dict[str, int], int, int]:
    """Order one connected component's layers and give each node its row (0 is the main row);
    also returns the component's first and last rows, dummy lanes included."""
    # Items are ints: real nodes first (in topological order), then the dummy slots of long edges.
    index = {node_id: i for i, node_id in enumerate(order)}
    level = [layer[node_id] for node_id in order]
    ups: list[list[int]] = [[] for _ in order]
    downs: list[list[int]] = [[] for _ in order]
    for src, dst in pairs:
        prev = index[src]
        for lvl in range(layer[src] + 1, layer[dst]):
            level.append(lvl)
            ups.append([prev])
            downs.append([])
            downs[prev].append(len(level) - 1)
            prev = len(level) - 1
        downs[prev].append(index[dst])
        ups[index[dst]].append(prev)

    base = min(level)
    layers: list[list[int]] = [[] for _ in range(max(level) - base + 1)]
    for item, lvl in enumerate(level):
        layers[lvl - base].append(item)
    pos = [0] * len(level)
    for items in layers:
        for i, item in enumerate(items):
            pos[item] = i

    best, best_crossings = [list(items) for items in layers], None
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        for items in (layers[1:] if down else layers[-2::-1]):
            _sort_by_barycenter(items, ups if down else downs, pos)
        crossings = sum(_crossings(items, downs, pos) for items in layers[:-1])
        if best_crossings is None or crossings < best_crossings:
            best, best_crossings = [list(items) for items in layers], crossings

    row = [0] * len(level)
    for items in best:
        _place_rows(items, ups, row, real=len(order))
    rows = {order[item]: row[item] for item in range(len(order))}
    return rows, min(row), max(row)


def _place_rows(items: list[int], ups: list[list[int]], row: list[int], real: int) -> None:
    """Centre one layer on the main row, one row per item. A layer with an even number of items
    cannot be centred exactly; it goes half a row up or down, whichever lines its items up best
    with their predecessors. Dummy slots count double: the canvas draws an edge straight from end
    to end, so a skip edge should stay on its ends' row and the branch it skips should step aside
    rather than sit on top of it."""
    centre = -(len(items) - 1) / 2
    best_cost, best_shift = None, 0
    for shift in sorted({math.ceil(centre), math.floor(centre)}, reverse=True):
        cost = sum(abs(i + shift - row[up]) * (1.0 if item < real else 2.0)
                   for i, item in enumerate(items) for up in ups[item])
        if best_cost is None or cost < best_cost:
            best_cost, best_shift = cost, shift
    for i, item in enumerate(items):
        row[item] = i + best_shift


def _sort_by_barycenter(items: list[int], neighbours: list[list[int]], pos: list[int]) -> None:
    """Sort one layer by the mean position of each item's neighbours in the layer just sorted;
    an item without such neighbours keeps its place as its key, and ties keep the current order."""
    key = {item: (sum(pos[n] for n in neighbours[item]) / len(neighbours[item])
                  if neighbours[item] else pos[item]) for item in items}
    items.sort(key=key.__getitem__)
    for i, item in enumerate(items):
        pos[item] = i


def _crossings(items: list[int], downs: list[list[int]], pos: list[int]) -> int:
    """Edge crossings between a layer and the next one (inversions of the edges' lower ends)."""
    ends = sorted((pos[item], pos[d]) for item in items for d in downs[item])
    seen: list[int] = []
    count = 0
    for _, lower in ends:
        count += len(seen) - bisect_right(seen, lower)
        insort(seen, lower)
    return count
