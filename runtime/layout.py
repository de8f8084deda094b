"""Automatic layered layout of a design, left to right (a small Sugiyama-style layout), wrapped
into bands like lines of text when that fits a window better.

`auto_layout` is a pure function: it returns new positions and never moves a node itself, so the
designer can apply them inside one undoable command.

The steps are the classic ones: give every node a layer (its longest path from a source, so every
edge points right), split edges that span several layers into chains of invisible dummy slots (so
a skip connection gets a lane of its own instead of running through the nodes it skips), order each
layer with a few barycenter sweeps to reduce crossings, then centre every layer on its component's
main row and stack the components below each other.

Given the size of the window it will be shown in (`fit`), a long design is cut into bands of
consecutive layers, each band below the previous one, so a 20-layer network fills a wide window
in a few readable rows instead of one row too long to read. Bands end where few edges cross (after
a merge rather than inside a residual block), and the band count is the one that lets the whole
design be shown at the largest zoom.
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
#: Extra space between two bands of a wrapped layout, in rows (the wrapping edges run there).
BAND_GAP = 0.5
#: A band may end this much earlier than its width allows to end where fewer outputs cross.
BAND_SLACK = 0.4
#: Most bands tried when wrapping to fit a window.
MAX_BANDS = 200


def auto_layout(model: GraphModel, node_ids: Iterable[str] | None = None, x_gap: float = 200.0,
                y_gap: float = 110.0, origin: Position | None = None,
                fit: tuple[float, float] | None = None) -> dict[str, Position]:
    """Lay out nodes in layers from left to right, wrapped into bands to fit a window if asked.

    Only edges between the laid-out nodes are considered; other nodes are neither moved nor
    avoided, so laying out a selection tidies it in place.

    Args:
        model: The design (not modified).
        node_ids: The nodes to lay out (unknown ids raise `GraphError`); None for all of them.
        x_gap: Distance between the left edges of consecutive layers.
        y_gap: Distance between the rows of one layer, and between stacked components.
        origin: Where the top-left of the laid-out nodes goes; None keeps their current top-left
            (the smallest x and smallest y among their positions).
        fit: The (width, height) of the window the design will be shown in, in the same units;
            the layers are then wrapped into as many bands as shows the design largest in it
            (one band, no wrapping, when that is as large). None: one band.

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

    shaped = [_rows(members, edges, layer) for members, edges in groups.values()]
    depth = max(layer.values()) - min(layer.values()) + 1
    width = depth if fit is None else _best_band_width(shaped, depth, x_gap, y_gap, fit)
    raw: dict[str, Position] = {}
    top = 0.0
    for rows, lanes, cuts in shaped:
        for (start, end), (first, last) in _bands(lanes, cuts, width):
            for node_id, row in rows.items():
                if start <= layer[node_id] < end:
                    raw[node_id] = ((layer[node_id] - start) * x_gap,
                                    top + (row - first) * y_gap)
            top += (last - first + 1 + BAND_GAP) * y_gap
        if fit is None:  # wrapped components keep a band's gap, room for their network frames
            top -= BAND_GAP * y_gap
    dx = origin[0] - min(x for x, _ in raw.values())
    dy = origin[1] - min(y for _, y in raw.values())
    return {node_id: (raw[node_id][0] + dx, raw[node_id][1] + dy) for node_id in ids}


#: One component's shape: each node's row; each layer's (first, last) row, lanes of long edges
#: included; and how many nodes' outputs cross from each layer to the next, both by layer.
Shaped = tuple[dict[str, int], dict[int, tuple[int, int]], dict[int, int]]


def _bands(lanes: dict[int, tuple[int, int]], cuts: dict[int, int],
           width: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Cut a component's layers into bands of at most `width` layers: ((first layer, end
    layer), (first row, last row)) for each. A band ends a little early where fewer outputs
    cross to the next layer than at its full width (ties: the later layer)."""
    low, high = min(lanes), max(lanes) + 1
    out = []
    start = low
    while start < high:
        end = min(start + width, high)
        if end < high:
            earliest = max(start + 1, start + width - int(width * BAND_SLACK))
            end = min(range(earliest, end + 1), key=lambda e: (cuts.get(e - 1, 0), -e))
        first = min(lanes[lvl][0] for lvl in range(start, end) if lvl in lanes)
        last = max(lanes[lvl][1] for lvl in range(start, end) if lvl in lanes)
        out.append(((start, end), (first, last)))
        start = end
    return out


def _best_band_width(shaped: list[Shaped], depth: int, x_gap: float, y_gap: float,
                     fit: tuple[float, float]) -> int:
    """The band width (in layers) that shows the laid-out components largest in a `fit`-sized
    window, never counting a zoom above 1 as better; ties go to the fewest bands."""
    best, best_scale = depth, -1.0
    tried = set()
    for count in range(1, min(depth, MAX_BANDS) + 1):
        width = math.ceil(depth / count)
        if width in tried:
            continue
        tried.add(width)
        height, widest = 0.0, 0
        for _, lanes, cuts in shaped:
            bands = _bands(lanes, cuts, width)
            height += sum((last - first + 1 + BAND_GAP) * y_gap for _, (first, last) in bands)
            widest = max(widest, *(end - start for (start, end), _ in bands))
        scale = min(1.0, fit[0] / (widest * x_gap), fit[1] / height)
        if scale > best_scale + 1e-9:
            best, best_scale = width, scale
    return best


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


def _rows(order: list[str], pairs: list[tuple[str, str]], layer: dict[str, int]) -> Shaped:
    """Order one connected component's layers and give each node its row (0 is the main row);
    also returns each layer's first and last rows, dummy lanes included, and how many nodes'
    outputs cross from each layer into the next (a long edge's slots carry its source's)."""
    # Items are ints: real nodes first (in topological order), then the dummy slots of long edges.
    index = {node_id: i for i, node_id in enumerate(order)}
    level = [layer[node_id] for node_id in order]
    ups: list[list[int]] = [[] for _ in order]
    downs: list[list[int]] = [[] for _ in order]
    origin = list(range(len(order)))  # the real node whose output an item carries
    for src, dst in pairs:
        prev = index[src]
        for lvl in range(layer[src] + 1, layer[dst]):
            level.append(lvl)
            origin.append(index[src])
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
    lanes: dict[int, tuple[int, int]] = {}
    crossing: dict[int, set[int]] = {}
    for item, lvl in enumerate(level):
        first, last = lanes.get(lvl, (row[item], row[item]))
        lanes[lvl] = (min(first, row[item]), max(last, row[item]))
        if downs[item]:
            crossing.setdefault(lvl, set()).add(origin[item])
    # a band is best cut where one tensor crosses (after a merge), not where a skip runs past
    cuts = {lvl: len(sources) for lvl, sources in crossing.items()}
    return rows, lanes, cuts


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
