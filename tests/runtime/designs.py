"""Small designs shared by the runtime tests, built through the GraphModel API."""
from __future__ import annotations

from runtime.graph import GraphModel


def chain(model: GraphModel, *node_ids: str) -> None:
    """Connect the given nodes one after another."""
    for src, dst in zip(node_ids, node_ids[1:]):
        model.connect(src, dst)


def lenet() -> GraphModel:
    """The classic LeNet-5 on 1x28x28 images (padding 2 on the first conv, as in the paper)."""
    m = GraphModel(name="LeNet-5")
    m.add_node("Input", {"shape": [1, 28, 28]}, (0, 0), "image")
    m.add_node("Conv2d", {"out_channels": 6, "kernel_size": 5, "padding": 2}, (150, 0), "conv1")
    m.add_node("Tanh", {}, (300, 0), "act1")
    m.add_node("AvgPool2d", {"kernel_size": 2}, (450, 0), "pool1")
    m.add_node("Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": "valid"}, (600, 0),
               "conv2")
    m.add_node("Tanh", {}, (750, 0), "act2")
    m.add_node("AvgPool2d", {"kernel_size": 2}, (900, 0), "pool2")
    m.add_node("Flatten", {}, (1050, 0), "flat")
    m.add_node("Linear", {"out_features": 120}, (1200, 0), "fc1")
    m.add_node("Tanh", {}, (1350, 0), "act3")
    m.add_node("Linear", {"out_features": 84}, (1500, 0), "fc2")
    m.add_node("Tanh", {}, (1650, 0), "act4")
    m.add_node("Linear", {"out_features": 10}, (1800, 0), "fc3")
    m.add_node("Output", {}, (1950, 0), "out")
    chain(m, *m.nodes)
    return m


def mlp() -> GraphModel:
    m = GraphModel(name="MLP")
    m.add_node("Input", {"shape": [2]}, node_id="x")
    m.add_node("Linear", {"out_features": 16}, node_id="fc1")
    m.add_node("ReLU", {}, node_id="relu1")
    m.add_node("Linear", {"out_features": 3}, node_id="fc2")
    m.add_node("Output", {}, node_id="out")
    chain(m, "x", "fc1", "relu1", "fc2", "out")
    return m


def residual() -> GraphModel:
    """Conv -> (Conv -> ReLU) + skip -> GlobalAvgPool -> Linear, with an attention-free merge."""
    m = GraphModel(name="Residual block")
    m.add_node("Input", {"shape": [3, 8, 8]}, node_id="x")
    m.add_node("Conv2d", {"out_channels": 4}, node_id="stem")
    m.add_node("Conv2d", {"out_channels": 4}, node_id="conv")
    m.add_node("ReLU", {}, node_id="relu")
    m.add_node("Add", {}, node_id="add")
    m.add_node("GlobalAvgPool", {}, node_id="gap")
    m.add_node("Linear", {"out_features": 2}, node_id="head")
    m.add_node("Output", {}, node_id="out")
    chain(m, "x", "stem", "conv", "relu", "add", "gap", "head", "out")
    m.connect("stem", "add")
    return m


def attention() -> GraphModel:
    """Cross-attention: a query sequence attends over a separate key/value sequence."""
    m = GraphModel(name="Cross attention")
    m.add_node("Input", {"shape": [5, 8]}, node_id="queries")
    m.add_node("Input", {"shape": [7, 6]}, node_id="memory")
    m.add_node("MultiheadAttention", {"num_heads": 2}, node_id="attn")
    m.add_node("Output", {}, node_id="out")
    m.connect("queries", "attn", dst_port="query")
    m.connect("memory", "attn", dst_port="key")
    m.connect("memory", "attn", dst_port="value")
    m.connect("attn", "out")
    return m


def gan() -> GraphModel:
    """Two networks: a generator (noise of 8 -> a 2-D point) and a discriminator (point -> logit),
    each a row of cards 250 apart (room for the edge labels), the discriminator below."""
    m = GraphModel(name="GAN 2-D")
    for net, y, sizes in (("generator", 0, (8, 16, 2)), ("discriminator", 320, (2, 16, 1))):
        prefix = net[0]
        ids = [f"{prefix}_{name}" for name in ("in", "fc1", "relu", "fc2", "out")]
        for i, (node_id, type_id, params) in enumerate(zip(ids, (
                "Input", "Linear", "ReLU", "Linear", "Output"), (
                {"shape": [sizes[0]]}, {"out_features": sizes[1]}, {},
                {"out_features": sizes[2]}, {}))):
            m.add_node(type_id, params, (250 * i, y), node_id, network=net)
        chain(m, *ids)
    return m
