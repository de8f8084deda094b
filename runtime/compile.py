"""GraphModel -> torch.fx.Graph -> GraphModule, whose generated forward calls one submodule per node.

Submodule and state_dict names are the node ids, so a checkpoint reads like the design.
"""
from __future__ import annotations

import builtins
import operator
import re

from torch import fx, nn

from .errors import CompileError, Problem
from .graph import GraphModel
from .layers import modules
from .layers.modules import init_weights
from .names import INPUTS_ATTRIBUTE, identifier_problem
from .networks import is_multi_network, network_title, subgraph
from .shapes import Analysis, infer, inputs_of
from .specs import LayerContext, ModuleRecipe


# An exported file defines LayerLab's helpers (`modules`) next to the network class and relies on
# builtins such as `super`: a class named like one of them would replace it (a design called "LSTM"
# would build itself recursively).
_TAKEN_CLASS_NAMES = frozenset(name for name in (*vars(modules), *vars(builtins))
                               if not name.startswith("__"))


def class_name_problem(name: object) -> str | None:
    """Why `name` cannot name the network class (compiled or exported), or None when it can."""
    problem = identifier_problem(name, "class name")
    if problem is None and name in _TAKEN_CLASS_NAMES:
        problem = (f"class name '{name}' is taken by a Python builtin or a LayerLab helper that "
                   "the exported file defines: choose another name")
    return problem


#: Words a class name leaves out of the design's name ("MLP on digits" -> MLPDigits).
_SMALL_WORDS = frozenset({"a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "the",
                          "to", "with"})
#: Most words a class name takes from the design's name: a title such as "Transfer learning
#: 2b: fine-tuning (body at a tenth of the rate)" is no class name a person writes.
CLASS_NAME_WORDS = 4


def class_name_for(model: GraphModel) -> str:
    """A CamelCase class name derived from the design's name (always a valid identifier): its
    words less asides in parentheses and small words, at most `CLASS_NAME_WORDS` of them; of a
    longer name with two or more words before a colon, those words."""
    def words(text: str) -> list[str]:
        return [w for w in re.findall(r"[A-Za-z0-9]+", text) if w.lower() not in _SMALL_WORDS]

    kept = words(re.sub(r"\([^)]*\)", " ", model.name))
    head = words(model.name.partition(":")[0]) if ":" in model.name else []
    if len(kept) > CLASS_NAME_WORDS and len(head) >= 2:
        kept = head
    kept = kept[:CLASS_NAME_WORDS]
    name = "".join(w[:1].upper() + w[1:] for w in kept) or "Network"
    if name[0].isdigit():
        name = "Net" + name
    if name in _TAKEN_CLASS_NAMES:
        name += "Net"
    return name if class_name_problem(name) is None else "Network"


def compiled_nodes(model: GraphModel) -> list[str]:
    """Ids of the nodes that feed some Output, in topological order (the rest are left out)."""
    needed = model.feeding_outputs()
    return [node_id for node_id in model.topological_order() if node_id in needed]


def recipes(model: GraphModel, analysis: Analysis,
            order: list[str] | None = None) -> dict[str, ModuleRecipe]:
    """The module recipe of every compiled node that has a module (not Input/Output).

    `order` is `compiled_nodes(model)` when the caller already has it.
    """
    out = {}
    for node_id in order if order is not None else compiled_nodes(model):
        node = model.nodes[node_id]
        spec = model.registry.get(node.type)
        if spec.build is not None:
            ctx = LayerContext(node_id, node.params, inputs_of(model, node_id, analysis))
            out[node_id] = spec.build(ctx)
    return out


def build_module(model: GraphModel, node_id: str, recipe: ModuleRecipe) -> nn.Module:
    """Instantiate a node's module and apply its `weight_init` and `trainable` settings."""
    params = model.nodes[node_id].params
    module = recipe.instantiate()
    init_weights(module, params.get("weight_init", "default"))
    if not params.get("trainable", True):
        module.requires_grad_(False)
    return module


def build_graph(model: GraphModel, order: list[str] | None = None) -> fx.Graph:
    """The fx graph: placeholders for Inputs (file order), one call_module per layer, the output."""
    graph = fx.Graph()
    values: dict[tuple[str, str], fx.Node] = {}
    order = order if order is not None else compiled_nodes(model)
    for node_id in _in_file_order(model, order, "Input"):
        values[(node_id, "output")] = graph.placeholder(node_id)
    results: dict[str, fx.Node] = {}
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
            results[node_id] = args[0]
            continue
        call = graph.call_module(node_id, tuple(args), kwargs)
        if len(spec.outputs) == 1:
            values[(node_id, spec.outputs[0].name)] = call
        else:
            # operator.getitem is generated as plain `call[i]`, which exported code can run as is
            for i, port in enumerate(spec.outputs):
                values[(node_id, port.name)] = graph.call_function(operator.getitem, (call, i))
    # the topological order reaches a shallow Output before a deep one: return them in file order
    returned = [results[node_id] for node_id in _in_file_order(model, order, "Output")]
    graph.output(returned[0] if len(returned) == 1 else tuple(returned))
    return graph


def compile_model(model: GraphModel, analysis: Analysis | None = None) -> fx.GraphModule:
    """Build the PyTorch module of a design; `CompileError` lists the design's errors if it has any.

    Nodes that feed no Output are left out. With several Outputs, forward returns a tuple in file
    order; with several Inputs, forward takes them in file order.
    """
    networks = model.networks()
    if len(networks) > 1:
        names = ", ".join(f"'{network_title(n)}'" for n in networks)
        raise CompileError([Problem(
            f"the design holds {len(networks)} networks ({names}): each compiles to its own "
            "module (compile_networks), and training or exporting several networks comes with "
            "the training modes that join them")])
    analysis = analysis or infer(model)
    if not analysis.valid:
        raise CompileError(analysis.errors)
    order = compiled_nodes(model)
    # the loader and the graph model refuse such ids already; a model assembled another way
    # still gets a located error rather than a broken module
    named = [Problem(problem, node_id) for node_id in order
             if (problem := identifier_problem(node_id))]
    if named:
        raise CompileError(named)
    root = nn.Module()
    for node_id, recipe in recipes(model, analysis, order).items():
        root.add_module(node_id, build_module(model, node_id, recipe))
    module = fx.GraphModule(root, build_graph(model, order), class_name=class_name_for(model))
    setattr(module, INPUTS_ATTRIBUTE, [(n, analysis.nodes[n].outputs["output"])
                                       for n in _in_file_order(model, order, "Input")])
    return module


def compile_networks(model: GraphModel) -> dict[str, fx.GraphModule]:
    """One module per network of the design, by network name ("" is the main network).

    Each is compiled from its network's nodes and the edges between them exactly as
    `compile_model` compiles a whole design (a single-network design gives one module, equal to
    `compile_model`'s). `CompileError` lists the design's errors, edges between networks included.
    """
    analysis = infer(model)
    if not analysis.valid:
        raise CompileError(analysis.errors)
    if not is_multi_network(model):
        return {name: compile_model(model, analysis) for name in model.networks()}
    return {name: compile_model(subgraph(model, name)) for name in model.networks()}


class JoinedNetworks(nn.Module):
    """The networks of one design as one module, for a training mode that joins them (a GAN's
    generator and discriminator).

    Its children are the design's layers, named by node id as in a single network's module, so
    checkpoints, monitoring and weight transfer read it the same way; `networks` holds each
    network's own module (sharing those layers), which the mode calls. It has no forward of its
    own: how the networks meet is the mode's business.
    """

    def __init__(self, networks: dict[str, fx.GraphModule]):
        super().__init__()
        for module in networks.values():
            for node_id, layer in module.named_children():
                self.add_module(node_id, layer)
        object.__setattr__(self, "networks", dict(networks))  # not registered twice

    def forward(self, *args):  # noqa: D401 - documented above
        raise TypeError("a design of several networks has no single forward: call one of "
                        f"its networks ({', '.join(map(repr, self.networks))})")


def compile_joined(model: GraphModel) -> JoinedNetworks:
    """Every network of the design compiled (`compile_networks`) and held as one module."""
    return JoinedNetworks(compile_networks(model))


def _in_file_order(model: GraphModel, node_ids: list[str], type_id: str) -> list[str]:
    """The nodes of `type_id` among `node_ids`, in file order (forward's argument/result order)."""
    wanted = set(node_ids)
    return [n.id for n in model.nodes.values() if n.type == type_id and n.id in wanted]
