"""The rules every edge keeps, written once for the graph model and the design-file loader.

An edge joins an output port to an input port. Each end names a port its node has (or none, when
the node has exactly one on that side); a node cannot feed itself; an input port takes one edge
unless it is variadic (a merge's inputs); and a network flows one way, so no edge may close a
cycle. `GraphModel.resolve_edge` raises these messages as `GraphError`; the loader files the same
messages as problems under the edge's JSON location, so a refusal reads the same wherever it
comes from.
"""
from __future__ import annotations

import networkx as nx

from .errors import GraphError
from .specs import LayerSpec, PortSpec

#: The design-file key that names the port at each end of an edge ("from_port" / "to_port").
PORT_KEYS = {"output": "from_port", "input": "to_port"}


def resolve_port(node_id: str, spec: LayerSpec, side: str, name: str | None) -> str:
    """The port one end of an edge uses.

    Args:
        node_id: The node at this end.
        spec: Its layer type.
        side: "output" for the edge's source end, "input" for its destination end.
        name: The port asked for, or None for "the node's only port on that side".

    Returns:
        The port's name.

    Raises:
        GraphError: The node has no port on that side, has several and `name` is None, or has
            none called `name`.
    """
    ports = spec.outputs if side == "output" else spec.inputs
    names = ", ".join(p.name for p in ports)
    if not ports:
        role = "start at" if side == "output" else "end at"
        raise GraphError(f"'{node_id}' ({spec.type_id}) has no {side}s: an edge cannot {role} it")
    if name is None:
        if len(ports) > 1:
            raise GraphError(f"'{node_id}' ({spec.type_id}) has several {side}s ({names}): say "
                             f"which one ('{PORT_KEYS[side]}' in a design file)")
        return ports[0].name
    if all(p.name != name for p in ports):
        raise GraphError(f"'{node_id}' ({spec.type_id}) has no {side} port '{name}' "
                         f"(it has: {names})")
    return name


def edge_problem(graph: nx.MultiDiGraph, src: str, dst: str, dst_port: PortSpec,
                 occupant: str | None) -> str | None:
    """Why the edge src -> dst, its ports resolved, cannot join the edges already in `graph`.

    Args:
        graph: The edges accepted so far, by node id (only reachability is read).
        src: The node the edge leaves.
        dst: The node the edge enters.
        dst_port: The input port of `dst` it feeds.
        occupant: The node already feeding that port, or None when it is free.

    Returns:
        What is wrong and how to fix it, or None when the edge is allowed.
    """
    if src == dst:
        return f"cannot connect '{src}' to itself: a network must flow one way"
    try:
        back = nx.shortest_path(graph, dst, src)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        back = None
    # a cycle first: freeing the port (the fix for the next rule) would not make this edge legal
    if back:
        return (f"connecting '{src}' to '{dst}' would make a cycle ({' -> '.join([src, *back])}): "
                "a network must flow one way")
    if occupant is not None and not dst_port.variadic:
        return (f"input '{dst_port.name}' of '{dst}' is already connected to '{occupant}': a "
                "port takes one input, so remove that edge first")
    return None
