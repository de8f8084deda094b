"""A traced module -> planned nodes -> a GraphModel.

Every fx node gets a value: a planned node (its output is that node's), a `Part` of a call that
returns several things (an LSTM's `(out, (h_n, c_n))`), `META` for sizes and devices, or `OTHER`
for tensors not computed from the input. Calls are converted by the table (table.py); a call that
cannot be converted is noted with its source line and the walk goes on, so the refusal lists
every such call at once.
"""
from __future__ import annotations

import ast
import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from ..errors import LayerLabError
from ..graph import GraphModel
from ..layout import auto_layout
from ..names import identifier_problem, slug
from . import TorchImportError
from .rules import Layer, Refuse, Same, Site
from .table import FUNCTIONS, METHODS, Entry, function_name, instead, module_entry
from .trace import LOCATION, where

META = "meta"  # a size, a device, a dtype: feeds reshapes and zeros, never a node
OTHER = "other"  # a tensor not computed from the input (a parameter read in forward, a constant)
REFUSED = "refused"  # a call already reported: its users are not reported again
#: The window an imported design is laid out for (width, height, in design units).
LAYOUT_FIT = (1600.0, 900.0)


class _Skip(Exception):
    """An input was refused already; the call that uses it is not reported twice."""


@dataclass
class Planned:
    """A node to add to the design.

    Attributes:
        node_id, type_id, params: The node.
        inputs: (feeding planned node, input port) in edge order.
        source: The fx node whose value this node's output is (checked after import).
        module: The module whose weights the node takes (None for functions).
        location: Where in the user's source it was called.
        recurrent: Its `return_sequences` is decided by how its result is used.
        use: For recurrent nodes: "seq" or "last" once decided.
        chain: An Add or Multiply of `+`/`*` that takes in another such node feeding only it.
    """

    node_id: str
    type_id: str
    params: dict[str, Any]
    inputs: list[tuple["Planned", str]] = field(default_factory=list)
    source: fx.Node | None = None
    module: nn.Module | None = None
    location: str = ""
    recurrent: bool = False
    use: str | None = None
    chain: bool = False


@dataclass(frozen=True)
class Part:
    """Part of a call's result that is not one tensor yet (a recurrent layer's tuple, its h_n)."""

    planned: Planned
    kind: str
    node: fx.Node


@dataclass
class Plan:
    """The converted nodes, in execution order, and what could not be converted."""

    nodes: list[Planned]
    problems: list[str]
    notes: list[str]


def plan(gm: fx.GraphModule, values: dict[fx.Node, Any], dtypes: list[str]) -> Plan:
    """Convert the traced module `gm`, given its values on an example batch."""
    return _Converter(gm, values, dtypes).run()


def build_design(result: Plan, name: str) -> GraphModel:
    """The design of a problem-free plan, auto-laid out; TorchImportError for bad params."""
    model = GraphModel(name=name)
    problems = []
    for p in result.nodes:
        try:
            model.add_node(p.type_id, p.params, node_id=p.node_id)
        except LayerLabError as err:
            problems.append(f"{p.location}: {p.type_id} '{p.node_id}': {err}")
    if problems:
        raise TorchImportError("the module's layers have settings LayerLab cannot hold:",
                               problems)
    for p in result.nodes:
        for src, port in p.inputs:
            model.connect(src.node_id, p.node_id, "output", port)
    # wrapped into bands for a typical window: a 40-layer ResNet is not one row 8,000 wide
    for node_id, pos in auto_layout(model, fit=LAYOUT_FIT).items():
        model.move(node_id, pos)
    return model


class _Converter:
    def __init__(self, gm: fx.GraphModule, values: dict[fx.Node, Any], dtypes: list[str]):
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.values = values
        self.dtypes = dtypes
        self.env: dict[fx.Node, Any] = {}
        self.nodes: list[Planned] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.absorbed: dict[fx.Node, Planned] = {}
        self.taken: set[str] = set()
        self.module_ids = self._module_ids()
        self.calls: Counter[str] = Counter()

    def run(self) -> Plan:
        placeholders = 0
        for node in self.gm.graph.nodes:
            try:
                if node.op == "placeholder":
                    self.env[node] = self._input(node, placeholders)
                    placeholders += 1
                elif node.op == "output":
                    self._outputs(node)
                else:
                    self.env[node] = self._convert(node)
            except Refuse as err:
                self.problems.append(f"{where(node)}: {self._what(node)}: {err}")
                self.env[node] = REFUSED
            except _Skip:
                self.env[node] = REFUSED
        self._join_chains()
        return Plan(self._feeding_outputs(), self.problems, self.notes)

    def _join_chains(self) -> None:
        """`a + b + c` traces as (a + b) + c: one Add of three inputs, as a design has it."""
        users = Counter(id(src) for p in self.nodes for src, _ in p.inputs)
        for p in self.nodes:
            if not p.chain:
                continue
            joined = []
            for src, port in p.inputs:
                if src.chain and src.type_id == p.type_id and users[id(src)] == 1:
                    joined.extend(src.inputs)
                    src.inputs = []  # feeds nothing now: dropped with the dead nodes
                else:
                    joined.append((src, port))
            p.inputs = joined

    # --- ids -------------------------------------------------------------------------------
    def _module_ids(self) -> dict[str, str]:
        """Node ids for the called modules: the attribute's own name where no other called
        module shares it, else the whole qualified name (features.0 -> features_0)."""
        targets = [n.target for n in self.gm.graph.nodes if n.op == "call_module"]
        last = Counter(t.rsplit(".", 1)[-1] for t in set(targets))
        ids = {}
        for target in dict.fromkeys(targets):
            short = target.rsplit(".", 1)[-1]
            candidate = short if last[short] == 1 and not identifier_problem(short) else \
                target.replace(".", "_")
            if candidate.replace("_", "").isdigit():  # nn.Sequential(...) as the whole model
                kind = type(self.modules[target]).__name__
                candidate = f"{slug(kind)}_{candidate}"
            ids[target] = self._fresh(slug(candidate) if identifier_problem(candidate)
                                      else candidate)
        return ids

    def _fresh(self, stem: str, start: int | None = None) -> str:
        """`stem`, or with `start` `stem_N` from N = start, whichever is free first."""
        n = start or 1
        candidate = stem if start is None else f"{stem}_{n}"
        while candidate in self.taken or identifier_problem(candidate):
            n += 1
            candidate = f"{stem}_{n}"
        self.taken.add(candidate)
        return candidate

    # --- inputs and outputs ----------------------------------------------------------------
    def _input(self, node: fx.Node, index: int) -> Any:
        if index >= len(self.dtypes):
            return META  # an argument left at its default (mask=None): fixed when traced
        value = self.values.get(node)
        if not isinstance(value, torch.Tensor):
            raise Refuse("forward takes an argument that is not a tensor")
        name = str(node.target).lstrip("*")
        node_id = self._fresh(name if not identifier_problem(name) else "input")
        planned = Planned(node_id, "Input", {"shape": list(value.shape[1:]),
                                             "dtype": self.dtypes[index]},
                          source=node, location=where(node))
        self.nodes.append(planned)
        return planned

    def _outputs(self, node: fx.Node) -> None:
        result = node.args[0]
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        if isinstance(result, dict):
            returned = [a for a in result.values() if isinstance(a, fx.Node)]
            place = where(returned[0]) if returned else where(node)
            self.problems.append(f"{place}: forward returns a dict: return a tensor or a "
                                 "tuple of tensors")
            return
        for i, arg in enumerate(results):
            try:
                src = self._tensor(arg)
            except Refuse as err:
                place = where(arg) if isinstance(arg, fx.Node) else where(node)
                self.problems.append(f"{place}: forward's result {i}: {err}")
                continue
            except _Skip:
                continue
            stem = "output" if len(results) == 1 else f"output_{i + 1}"
            self.nodes.append(Planned(self._fresh(stem), "Output", {}, [(src, "input")],
                                      location=where(node)))

    # --- one call --------------------------------------------------------------------------
    def _what(self, node: fx.Node) -> str:
        if node.op == "call_module":
            module = self.modules[node.target]
            kind = type(module)
            prefix = "nn." if getattr(nn, kind.__name__, None) is kind else ""
            return f"{prefix}{kind.__name__} self.{node.target}"
        if node.op == "call_method":
            return f"x.{node.target}()"
        if node.op == "get_attr":
            return f"self.{node.target}"
        return function_name(node.target)

    def _convert(self, node: fx.Node) -> Any:
        if node in self.absorbed:
            return self.absorbed[node]
        if node.op == "get_attr":
            return OTHER
        value = self.values.get(node)
        sources = [self.env.get(a) for a in node.all_input_nodes]
        if all(v is META or v is OTHER for v in sources):
            return OTHER if _holds_tensor(value) else META  # torch.zeros(2, x.size(0), 8)
        if not _holds_tensor(value):
            if any(self.env.get(a) is REFUSED for a in node.all_input_nodes):
                raise _Skip()
            return META
        special = self._parts(node)
        if special is not None:
            return special
        if node.target is operator.getitem and self.env.get(node.args[0]) is REFUSED:
            raise _Skip()  # `out, _ = self.lstm(x)` after the LSTM itself was refused
        entry, module = self._entry(node)
        site = Site(node, module, self._bind(node, entry), self.values, self.modules)
        result = entry.rule(site)
        if isinstance(result, Same):
            return self._tensor(result.source, keep_part=True)
        layers = result if isinstance(result, list) else [result]
        previous = None
        for i, layer in enumerate(layers):
            previous = self._add(node, module, layer, previous, last=i == len(layers) - 1)
        if layers[-1].tuple_output or layers[-1].recurrent:
            return Part(previous, "tuple", node)
        return previous

    def _entry(self, node: fx.Node) -> tuple[Entry, nn.Module | None]:
        if node.op == "call_module":
            module = self.modules[node.target]
            entry = module_entry(module)
            if entry is None:
                raise Refuse("no LayerLab layer does what this module does"
                             + instead(type(module)))
            return entry, module
        table = FUNCTIONS if node.op == "call_function" else METHODS
        entry = table.get(node.target)
        if entry is None:
            raise Refuse("no LayerLab layer does this" + instead(node.target))
        return entry, None

    def _bind(self, node: fx.Node, entry: Entry) -> dict[str, Any]:
        if not entry.names:
            return {"xs": node.args, **node.kwargs}
        bound = dict(zip(entry.names, node.args))
        if len(node.args) > len(entry.names):
            if entry.names[-1] != "rest":
                raise Refuse(f"it is called with {len(node.args)} arguments, more than the "
                             f"{len(entry.names)} understood ({', '.join(entry.names)})")
            bound["rest"] = node.args[len(entry.names) - 1:]
        bound.update(node.kwargs)
        return bound

    def _add(self, node: fx.Node, module: nn.Module | None, layer: Layer,
             previous: Planned | None, last: bool) -> Planned:
        if previous is None:
            inputs = [self._tensor(x) for x in layer.inputs]
        else:
            inputs = [previous]
        ports = layer.ports or ("input",) * len(inputs)
        owner = module if previous is None else None
        if module is not None and layer.part:
            owner = module.get_submodule(layer.part)
        weighted = owner is not None and (any(True for _ in owner.parameters())
                                          or any(True for _ in owner.buffers()))
        node_id = self._node_id(node, previous is None, weighted, layer.type_id, layer.part)
        planned = Planned(node_id, layer.type_id, dict(layer.params), list(zip(inputs, ports)),
                          module=owner if weighted else None, location=where(node),
                          recurrent=layer.recurrent, chain=layer.chain)
        params = list(owner.parameters()) if weighted else []
        if params and not any(p.requires_grad for p in params):
            planned.params["trainable"] = False
        if layer.note:
            self.notes.append(f"{where(node)}: {layer.note}")
        if last and not (layer.tuple_output or layer.recurrent):
            planned.source = node
            if layer.absorbs is not None:
                self.absorbed[layer.absorbs] = planned
                planned.source = layer.absorbs
        self.nodes.append(planned)
        return planned

    def _node_id(self, node: fx.Node, first: bool, weighted: bool, type_id: str,
                 part: str | None = None) -> str:
        """The module's id for its (first) call, with the part's path for a part
        (encoder_layers_0); for a function, the variable its result is assigned to
        (`pooled = x.mean(dim=(2, 3))`); a numbered id of the layer type otherwise."""
        if part:
            if first:
                self.calls[node.target] += 1
            if self.calls[node.target] > 1:
                raise Refuse(f"it is called {self.calls[node.target]} times, and a design "
                             "cannot share one layer's weights between nodes")
            return self._fresh(f"{self.module_ids[node.target]}_{part.replace('.', '_')}")
        if node.op != "call_module" or not first:
            name = _assigned_name(node) if first else None
            if name and name not in self.taken:
                return self._fresh(name)
            return self._fresh(slug(type_id), start=1)
        self.calls[node.target] += 1
        if self.calls[node.target] == 1:
            return self.module_ids[node.target]
        if weighted:
            raise Refuse(f"it is called {self.calls[node.target]} times, and a design cannot "
                         "share one layer's weights between nodes")
        return self._fresh(self.module_ids[node.target], start=self.calls[node.target])

    # --- values ----------------------------------------------------------------------------
    def _tensor(self, arg: Any, keep_part: bool = False) -> Any:
        """The planned node whose output `arg` is; Refuse when it is not one."""
        if not isinstance(arg, fx.Node):
            raise Refuse(f"it takes {arg!r} where a tensor computed from the input is needed")
        value = self.env.get(arg)
        if value is REFUSED:
            raise _Skip()
        if isinstance(value, Planned):
            return value
        if isinstance(value, Part):
            return value if keep_part else self._resolve(value)
        if value is OTHER or value is META or _made_in_forward(arg):
            raise Refuse(f"it uses {self._what(arg)}, a tensor that is not computed from the "
                         "input (a parameter or buffer read in forward, or a tensor made there)")
        raise Refuse(f"it uses {self._what(arg)}, which is not a tensor")

    def _resolve(self, part: Part) -> Planned:
        """A recurrent layer's part used as a tensor: every step, or the final state."""
        planned = part.planned
        if part.kind not in ("seq", "last"):
            kinds = {"tuple": "the whole result tuple", "h": "h_n, the final state of every "
                     "layer and direction", "hc": "the (h_n, c_n) tuple", "c": "c_n, the cell "
                     "state", "h_fwd": "one direction's final state",
                     "h_bwd": "one direction's final state"}
            raise Refuse(f"it uses {kinds.get(part.kind, part.kind)} of {planned.type_id} "
                         f"'{planned.node_id}': a LayerLab {planned.type_id} outputs all steps "
                         "(out) or the last layer's final state (h_n[-1], or both directions "
                         "concatenated)")
        if planned.use is None:
            planned.use = part.kind
            planned.params["return_sequences"] = part.kind == "seq"
            planned.source = part.node
        elif planned.use != part.kind:
            raise Refuse(f"it uses both every step and the final state of {planned.type_id} "
                         f"'{planned.node_id}': a LayerLab {planned.type_id} node outputs one "
                         "of them")
        return planned

    def _parts(self, node: fx.Node) -> Any:
        """Indexing, squeezing and joining the parts of a recurrent or attention result."""
        args = node.args
        parts = [self.env.get(a) for a in node.all_input_nodes]
        if not any(isinstance(p, Part) for p in parts):
            return None
        if node.target is operator.getitem and isinstance(self.env.get(args[0]), Part):
            return self._index(self.env[args[0]], args[1], node)
        if node.target in ("squeeze",) or node.target is torch.squeeze:
            part = self.env.get(args[0])
            if isinstance(part, Part) and part.kind == "h" and _states(part.planned) == 1:
                return Part(part.planned, "last", node)
        if node.target in (torch.cat, torch.concat):
            tensors = args[0] if args else node.kwargs.get("tensors")
            got = [self.env.get(t) for t in tensors] if isinstance(tensors, (list, tuple)) else []
            dim = args[1] if len(args) > 1 else node.kwargs.get("dim", 0)
            if (len(got) == 2 and all(isinstance(g, Part) for g in got)
                    and [g.kind for g in got] == ["h_fwd", "h_bwd"]
                    and got[0].planned is got[1].planned and dim in (1, -1)):
                return Part(got[0].planned, "last", node)
        return None

    def _index(self, part: Part, index: Any, node: fx.Node) -> Any:
        planned = part.planned
        if part.kind == "tuple" and not planned.recurrent:  # attention: (output, weights)
            if index == 0:
                planned.source = node
                return planned
            raise Refuse(f"it uses the attention weights of '{planned.node_id}': the LayerLab "
                         "node outputs only the attended values")
        if part.kind == "tuple":
            if index == 0:
                return Part(planned, "seq", node)
            return Part(planned, "hc" if planned.type_id == "LSTM" else "h", node)
        if part.kind == "hc":
            return Part(planned, "h" if index == 0 else "c", node)
        if part.kind == "h" and isinstance(index, int):
            n = _states(planned)
            i = index % n
            both = planned.params.get("bidirectional", False)
            if not both and i == n - 1:
                return Part(planned, "last", node)
            if both and i == n - 2:
                return Part(planned, "h_fwd", node)
            if both and i == n - 1:
                return Part(planned, "h_bwd", node)
            raise Refuse(f"it takes h_n[{index}] of '{planned.node_id}', which is not the last "
                         "layer's final state (the only one a LayerLab node outputs)")
        if part.kind == "seq" and _last_step(index, self.values[node]):
            if planned.params.get("bidirectional", False):
                raise Refuse(f"it takes the last step of bidirectional '{planned.node_id}', whose "
                             "backward half has read only that step: LayerLab's final state is "
                             "torch.cat((h_n[-2], h_n[-1]), dim=1)")
            return Part(planned, "last", node)
        raise Refuse(f"it indexes {part.kind} of '{planned.node_id}' with {index!r}, which no "
                     "LayerLab layer does")

    def _feeding_outputs(self) -> list[Planned]:
        """The planned nodes that reach an Output (dead calls and unused parts left out)."""
        needed: set[int] = set()
        stack = [p for p in self.nodes if p.type_id == "Output"]
        while stack:
            p = stack.pop()
            if id(p) in needed:
                continue
            needed.add(id(p))
            stack.extend(src for src, _ in p.inputs)
        inputs = [p for p in self.nodes if p.type_id == "Input"]
        return [p for p in self.nodes if id(p) in needed or p in inputs]


#: Variable names that say nothing about the layer (`x = F.relu(self.fc(x))`).
_GENERIC_NAMES = frozenset({"x", "y", "z", "h", "out", "output", "outputs", "result", "res",
                            "inputs", "input", "tmp", "t"})


def _assigned_name(node: fx.Node) -> str | None:
    """`name` when the call is the whole right side of `name = ...` on its line, the name is
    not also read there (`x = F.relu(x)`) and says something; else None."""
    location = node.meta.get(LOCATION)
    if location is None or any(u.meta.get(LOCATION) == location for u in node.users):
        return None  # another call on the same line takes this one's result
    try:
        tree = ast.parse(location.code)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return None
    statement = tree.body[0]
    if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
        return None
    name = statement.targets[0].id
    read = {n.id for n in ast.walk(statement.value) if isinstance(n, ast.Name)}
    if name in read or name in _GENERIC_NAMES or identifier_problem(name):
        return None
    return name


def _states(planned: Planned) -> int:
    return planned.params.get("num_layers", 1) * (2 if planned.params.get("bidirectional")
                                                  else 1)


def _last_step(index: Any, value: Any) -> bool:
    """`out[:, -1, :]` or `out[:, -1]` (the last time step of a (batch, time, hidden) tensor)."""
    if not isinstance(index, tuple) or len(index) not in (2, 3):
        return False
    full = slice(None)
    return index[0] == full and isinstance(index[1], int) and index[1] == -1 and (
        len(index) == 2 or index[2] == full) and isinstance(value, torch.Tensor)


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(_holds_tensor(v) for v in value)
    return False


def _made_in_forward(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target in (torch.zeros, torch.ones, torch.randn,
                                                          torch.rand, torch.tensor)
