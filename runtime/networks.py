"""Several networks in one design: each a named group of nodes (a GAN's generator and
discriminator, an encoder and a decoder), checked, counted and compiled on its own.

A node's `network` is "" for the design's main network. A design whose nodes all sit in one network
is a single-network design everywhere (validation, compiling, training). Networks are joined by the
training mode (the generator's sample goes into the discriminator), never by edges, so an edge
between two networks is an error.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import GraphError, Problem
from .graph import GraphModel, Node

if TYPE_CHECKING:
    from .shapes import Analysis

MAIN = ""


def network_title(name: str) -> str:
    """How a network is named to the user: its name, or "main" for the unnamed one."""
    return name or "main"


def is_multi_network(model: GraphModel) -> bool:
    """Whether the design holds more than one network."""
    return len(model.networks()) > 1


def subgraph(model: GraphModel, network: str) -> GraphModel:
    """A design of `network`'s nodes alone (in the main network) and the edges between them.

    Named after the network (the design's own name for the main network), so a compiled module's
    class reads `Generator`. Shares nothing with `model`.
    """
    networks = model.networks()
    if network not in networks:
        names = ", ".join(repr(n) for n in networks)
        raise GraphError(f"the design has no network {network!r} (it has {names})")
    ids = set(networks[network])
    sub = GraphModel(model.registry, network or model.name, model.description, model.training)
    nodes = [Node(n.id, n.type, copy.deepcopy(n.params), n.pos) for n in model.nodes.values()
             if n.id in ids]
    sub._bulk_load(nodes, [e for e in model.edges if e.src in ids and e.dst in ids])
    return sub


def network_problems(model: GraphModel) -> list[Problem]:
    """Edges between networks, and (with several networks) a network without Input or Output.

    A design with one network has none of these problems.
    """
    problems = []
    nodes = model.nodes
    for edge in model.edges:
        src, dst = nodes[edge.src].network, nodes[edge.dst].network
        if src != dst:
            problems.append(Problem(
                f"the edge from '{edge.src}' (network '{network_title(src)}') crosses into "
                f"network '{network_title(dst)}': networks are joined by the training mode, not "
                "by edges; remove the edge or put both nodes in one network", edge.dst))
    networks = model.networks()
    if len(networks) > 1:
        for name, ids in networks.items():
            types = {nodes[node_id].type for node_id in ids}
            for type_id, what in (("Input", "an Input node: add one to it and set the shape of "
                                            "one sample"),
                                  ("Output", "an Output node: add one to it and connect the "
                                             "network's result to it")):
                if type_id not in types:
                    problems.append(Problem(f"network '{network_title(name)}' has no {type_id} "
                                            f"node; each network needs {what}"))
    return problems


@dataclass(frozen=True)
class NetworkTotals:
    """One network's size: its name ("" for the main one), node count and parameters."""

    name: str
    nodes: int
    params: int
    trainable_params: int
    flops: int


def network_totals(model: GraphModel, analysis: Analysis) -> list[NetworkTotals]:
    """Per-network totals from one analysis of the whole design, networks in design order."""
    out = []
    for name, ids in model.networks().items():
        results = [analysis.nodes[n] for n in ids if n in analysis.nodes]
        out.append(NetworkTotals(name, len(ids), sum(r.params for r in results),
                                 sum(r.trainable_params for r in results),
                                 sum(r.flops for r in results)))
    return out
