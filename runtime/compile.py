"""GraphModel -> torch.fx.Graph -> GraphModule, whose generated forward calls one submodule per node.

Submodule and state_dict names are the node ids, so a checkpoint reads like the design.
"""
from __future__ import annotations

import re

import networkx as nx
from torch import fx, nn

from .errors import CompileError
from .graph import GraphModel
from .layers.modules import init_weights
from .names import identifier_problem
from .shapes import Analysis, infer, inputs_of
from .specs import LayerContext, ModuleRecipe


def class_name_for(model: GraphModel) -> str:
    """A CamelCase class name derived from the design's name (always a valid identifier)."""
    words = re.findall(r"[A-Za-z0-9]+", model.name)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
    if name[0].isdigit():
        name = "Net" + name
    return name if identifier_problem(name, "class name") is None else "Network"


def compiled_nodes(model: GraphModel) -> list[str]:
    """Ids of the nodes that feed some Output, in topological order (the rest are left out)."""
    outputs = [n.id for n in model.nodes.values() if n.type == "Output"]
    needed = set(outputs)
    for out in outputs:
        needed |= nx.ancestors(model.graph, out)
    return [node_id for node_id in model.topological_order() if node_id in needed]


def recipes(model: GraphModel, analysis: Analysis) -> dict[str, ModuleRecipe]:
    """The module recipe of every compiled node that has a module (not Input/Output)."""
    out = {}
    for node_id in compiled_nodes(model):
        node = model.nodes[node_id]
        spec = model.registry.get(node.type)
        if spec.build is not None:
            ctx = LayerContext(node_id, node.params, inputs_of(model, node_id, analysis))
            out[node_id] = spec.build(ctx)
    return out


def build_module(model: GraphModel, node_id: str, recipe: ModuleRecipe) -> nn.Module:
    """Instantiate a node's module and apply its `init` and `trainable` settings."""
    params = model.nodes[node_id].params
    module = recipe.instantiate()
    init_weights(module, params.get("init", "default"))
    if not params.get("trainable", True):
        module.requires_grad_(False)
    return module


def build_graph(model: GraphModel) -> fx.Graph:
    """The fx graph: placeholders for Inputs (file order), one call_module per layer, the output."""
    graph = fx.Graph()
    values: dict[tuple[str, str], fx.Node] = {}
    order = compiled_nodes(model)
    for node_id in order:
        if model.nodes[node_id].type == "Input":
            values[(node_id, "output")] = graph.placeholder(node_id)
    results = []
    for node_id in order:
        spec = model.spec(node_id)
        if spec.type_id == "Input":
            continue
        args: list[fx.Node] = []
        kwargs: dict[str, fx.Node] = {}
        edges = model.in_edges(node_id)
        open_port_before = False  # after an unconnected optional port, pass the rest by name
        for port in spec.inputs:
            feeding = [values[(e.src, e.src_port)] for e in edges if e.dst_port == port.name]
            if port.variadic:
                args.extend(feeding)
            elif not feeding:
                open_port_before = True
            elif open_port_before:
                kwargs[port.name] = feeding[0]
            else:
                args.append(feeding[0])
        if spec.type_id == "Output":
            results.append(args[0])
            continue
        call = graph.call_module(node_id, tuple(args), kwargs)
        if len(spec.outputs) == 1:
            values[(node_id, spec.outputs[0].name)] = call
        else:
            for i, port in enumerate(spec.outputs):
                values[(node_id, port.name)] = graph.call_function(_getitem, (call, i))
    graph.output(results[0] if len(results) == 1 else tuple(results))
    return graph


def compile_model(model: GraphModel, analysis: Analysis | None = None) -> fx.GraphModule:
    """Build the PyTorch module of a design; `CompileError` lists the design's errors if it has any.

    Nodes that feed no Output are left out. With several Outputs, forward returns a tuple in file
    order; with several Inputs, forward takes them in file order.
    """
    analysis = analysis or infer(model)
    if not analysis.valid:
        raise CompileError(analysis.errors)
    root = nn.Module()
    for node_id, recipe in recipes(model, analysis).items():
        root.add_module(node_id, build_module(model, node_id, recipe))
    module = fx.GraphModule(root, build_graph(model), class_name=class_name_for(model))
    module.layerlab_inputs = [(n, analysis.nodes[n].outputs["output"])
                              for n in compiled_nodes(model) if model.nodes[n].type == "Input"]
    return module


def _getitem(value, index):
    return value[index]
