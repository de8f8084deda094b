"""Facts about a design's structure the rules share: its weighted layers in forward order, the
layer feeding the Output, what lies between two nodes. Read from the LayerSpecs, never from
type names."""
from __future__ import annotations

from ..graph import GraphModel

#: The parameter that sets a weighted layer's output width, by preference.
WIDTH_PARAMS = ("out_features", "out_channels", "hidden_size", "embedding_dim")


def order(design: GraphModel) -> list[str]:
    return design.topological_order()


def weighted(design: GraphModel) -> list[str]:
    """Weighted layers (those with a weight_init) in forward order."""
    return [n for n in order(design) if design.spec(n).has_weights
            and "weight_init" in design.nodes[n].params]


def output_node(design: GraphModel) -> str | None:
    outputs = [n.id for n in design.nodes.values() if n.type == "Output"]
    return outputs[0] if len(outputs) == 1 else None


def feeding(design: GraphModel, node_id: str) -> list[str]:
    return [e.src for e in design.edges if e.dst == node_id]


def consumers(design: GraphModel, node_id: str) -> list[str]:
    return [e.dst for e in design.edges if e.src == node_id]


def last_before_output(design: GraphModel) -> str | None:
    out = output_node(design)
    if out is None:
        return None
    src = feeding(design, out)
    return src[0] if src else None


def width_param(design: GraphModel, node_id: str) -> str | None:
    params = design.nodes[node_id].params
    return next((p for p in WIDTH_PARAMS if p in params), None)


def last_weighted(design: GraphModel) -> str | None:
    """The weighted layer closest to the Output along its input chain (the head)."""
    node = last_before_output(design)
    weights = set(weighted(design))
    seen = set()
    while node is not None and node not in seen:
        seen.add(node)
        if node in weights:
            return node
        src = feeding(design, node)
        node = src[0] if src else None
    return None


def upstream(design: GraphModel, node_id: str) -> set[str]:
    """Every node `node_id` depends on."""
    import networkx as nx

    return set(nx.ancestors(design.graph, node_id))


def between(design: GraphModel, first: str, last: str) -> list[str]:
    """Nodes on paths from `first` to `last` (both excluded), in forward order."""
    import networkx as nx

    after = set(nx.descendants(design.graph, first))
    before = set(nx.ancestors(design.graph, last))
    return [n for n in order(design) if n in after and n in before]


def hidden_weighted(design: GraphModel) -> list[str]:
    """Weighted layers followed by another weighted layer (not the head)."""
    head = last_weighted(design)
    return [n for n in weighted(design) if n != head]


def of_types(design: GraphModel, predicate) -> list[str]:
    """Nodes whose LayerSpec satisfies `predicate`, in forward order."""
    return [n for n in order(design) if predicate(design.spec(n))]
