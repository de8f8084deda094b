"""The designs the scale benchmarks grow from 1,000 to 10,000 nodes, without positions or Qt:
a chain (Linear/ReLU), ResNet-style skips (Linear -> ReLU -> Add fed by the block's input too)
and wide merges (`fan` parallel ReLUs into one Add, repeated). Each takes (nodes, fan)."""
from __future__ import annotations

from runtime.graph import GraphModel


def chain(n: int, _fan: int) -> GraphModel:
    m = GraphModel(name=f"{n}-node chain")
    prev = m.add_node("Input", {"shape": [16]}, node_id="x").id
    while len(m.nodes) < n - 1:
        linear = len(m.nodes) % 2 == 1
        node = m.add_node("Linear" if linear else "ReLU", {"out_features": 16} if linear else {})
        m.connect(prev, node.id)
        prev = node.id
    m.add_node("Output", {}, node_id="out")
    m.connect(prev, "out")
    return m


def skips(n: int, _fan: int) -> GraphModel:
    m = GraphModel(name=f"{n}-node skips")
    prev = m.add_node("Input", {"shape": [16]}, node_id="x").id
    while len(m.nodes) + 4 <= n:
        fc, act, add = (m.add_node(t, {"out_features": 16} if t == "Linear" else {}).id
                        for t in ("Linear", "ReLU", "Add"))
        m.connect(prev, fc)
        m.connect(fc, act)
        m.connect(act, add)
        m.connect(prev, add)
        prev = add
    m.add_node("Output", {}, node_id="out")
    m.connect(prev, "out")
    return m


def wide(n: int, fan: int) -> GraphModel:
    m = GraphModel(name=f"{n}-node wide merges")
    prev = m.add_node("Input", {"shape": [16]}, node_id="x").id
    while len(m.nodes) + fan + 2 <= n:
        add = m.add_node("Add").id
        for _ in range(fan):
            branch = m.add_node("ReLU").id
            m.connect(prev, branch)
            m.connect(branch, add)
        prev = add
    m.add_node("Output", {}, node_id="out")
    m.connect(prev, "out")
    return m


SHAPES = {"chain": chain, "skips": skips, "wide": wide}
