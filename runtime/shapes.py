"""Shape, parameter and cost inference: a pure pass over the design returning per-node results.

One bad node does not hide the others: nodes downstream of an error are "unknown", not errors.
`ShapeInference` keeps a cache keyed by (type, params, input tensors), so re-inferring after one
edit recomputes only the nodes whose inputs or params changed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .errors import Problem, ShapeError
from .present import format_bytes
from .graph import Edge, GraphModel
from .networks import is_multi_network, network_problems
from .specs import Inference, LayerContext, LayerSpec, TensorInfo

OK, ERROR, UNKNOWN = "ok", "error", "unknown"


@dataclass
class NodeResult:
    """What inference found for one node.

    Attributes:
        status: "ok", "error" (this node is wrong) or "unknown" (an upstream node is wrong).
        outputs: Output port -> tensor, when ok.
        params, trainable_params: Parameter counts of the node's module.
        buffers: Elements of its non-parameter tensors.
        flops: Forward FLOPs for a batch of one.
        errors, warnings: Messages about this node.
    """

    node_id: str
    type: str
    status: str = OK
    outputs: dict[str, TensorInfo] = field(default_factory=dict)
    params: int = 0
    trainable_params: int = 0
    buffers: int = 0
    flops: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def output_shape(self) -> Any:
        """JSON form: one shape ([null, 8, 4]) or a list of shapes for several outputs, or None."""
        shapes = [t.as_list() for t in self.outputs.values()]
        if not shapes:
            return None
        return shapes[0] if len(shapes) == 1 else shapes


@dataclass
class Analysis:
    """The result of one inference pass over a design."""

    nodes: dict[str, NodeResult]
    problems: list[Problem]

    @property
    def valid(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.nodes.values())

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.nodes.values())

    @property
    def total_flops(self) -> int:
        return sum(r.flops for r in self.nodes.values())

    @property
    def weight_bytes(self) -> int:
        """Memory the built model's parameters and buffers take (float32)."""
        return sum(tensor_bytes(r) for r in self.nodes.values())


class ShapeInference:
    """Runs inference passes, reusing per-node results whose inputs did not change."""

    def __init__(self, max_cache: int = 20_000):
        self._cache: dict[tuple, tuple[Inference | None, str | None, tuple[str, ...]]] = {}
        self._max_cache = max_cache
        self.hits = 0
        self.misses = 0

    def run(self, model: GraphModel) -> Analysis:
        """Infer every node of `model`; never raises for a bad design."""
        incoming: dict[str, list[Edge]] = {node_id: [] for node_id in model.nodes}
        for edge in model.edges:
            incoming[edge.dst].append(edge)
        results: dict[str, NodeResult] = {}
        for node_id in model.topological_order():
            results[node_id] = self._infer_node(model, node_id, incoming[node_id], results)
        problems = [Problem(msg, r.node_id) for r in results.values() for msg in r.errors]
        problems += [Problem(msg, r.node_id, severity="warning")
                     for r in results.values() for msg in r.warnings]
        problems += design_problems(model)
        problems += memory_problems(results)
        return Analysis({node_id: results[node_id] for node_id in model.nodes}, problems)

    def _infer_node(self, model: GraphModel, node_id: str, edges: list[Edge],
                    results: dict[str, NodeResult]) -> NodeResult:
        node = model.nodes[node_id]
        spec = model.registry.get(node.type)
        result = NodeResult(node_id, spec.type_id)
        inputs, missing, upstream_bad = _gather_inputs(spec, edges, results)
        if missing:
            result.status, result.errors = ERROR, missing
            return result
        if upstream_bad:
            result.status = UNKNOWN
            return result
        dtype_error = _dtype_problem(spec, inputs)
        if dtype_error:
            result.status, result.errors = ERROR, [dtype_error]
            return result
        key = (spec.type_id, _freeze(node.params), _freeze(inputs))
        cached = self._cache.get(key)
        if cached is None:
            self.misses += 1
            cached = _apply_rule(spec, node_id, node.params, inputs)
            if len(self._cache) >= self._max_cache:
                self._cache.clear()
            self._cache[key] = cached
        else:
            self.hits += 1
        inference, error, warnings = cached
        result.warnings = list(warnings)
        if error is not None:
            result.status, result.errors = ERROR, [error]
            return result
        result.outputs = dict(inference.outputs)
        result.params, result.flops = inference.params, inference.flops
        result.buffers = inference.buffers
        result.trainable_params = inference.params if node.params.get("trainable", True) else 0
        return result


#: Bytes of one stored value (weights and buffers are float32).
BYTES_PER_VALUE = 4


def tensor_bytes(result: NodeResult) -> int:
    return (result.params + result.buffers) * BYTES_PER_VALUE


def machine_memory() -> int | None:
    """Bytes of physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def memory_problems(results: dict[str, NodeResult],
                    available: int | None = None) -> list[Problem]:
    """Refuse, before anything is allocated, a design whose weights and tables alone do not fit
    in this machine's memory (compiling would try to allocate them). The error sits on the node
    that holds the most, which is also marked as an error so the canvas shows it."""
    available = machine_memory() if available is None else available
    total = sum(tensor_bytes(r) for r in results.values())
    if not available or total <= available or not results:
        return []
    largest = max(results.values(), key=tensor_bytes)
    message = (f"the model's weights and tables need {format_bytes(total)}, more than this "
               f"machine's {format_bytes(available)} of memory; '{largest.node_id}' alone holds "
               f"{format_bytes(tensor_bytes(largest))} ({largest.params + largest.buffers:,} "
               "values): make it smaller")
    largest.status = ERROR
    largest.errors.append(message)
    return [Problem(message, largest.node_id)]


def infer(model: GraphModel) -> Analysis:
    """One inference pass without a cache (see `ShapeInference` for repeated passes)."""
    return ShapeInference().run(model)


def inputs_of(model: GraphModel, node_id: str, analysis: Analysis) -> dict[str, Any]:
    """The input tensors of `node_id` as its shape rule and builder see them."""
    spec = model.spec(node_id)
    inputs, _, _ = _gather_inputs(spec, model.in_edges(node_id), analysis.nodes)
    return inputs


def design_problems(model: GraphModel) -> list[Problem]:
    """Problems of the design as a whole: a missing Input or Output (per network when there are
    several), edges between networks, nodes that reach no Output."""
    problems = network_problems(model)
    types = {node.type for node in model.nodes.values()}
    single = not is_multi_network(model)  # else network_problems named what each one lacks
    if single and "Input" not in types:
        problems.append(Problem("the design has no Input node: add one (Input/Output group) and "
                                "set the shape of one sample"))
    if "Output" not in types:
        if single:
            problems.append(Problem("the design has no Output node: add one and connect the "
                                    "network's prediction to it"))
        return problems
    feeding = model.feeding_outputs()
    for node_id in model.nodes:
        if node_id not in feeding:
            problems.append(Problem("not connected to any Output: it will be left out of the "
                                    "compiled model", node_id, severity="warning"))
    return problems


def _gather_inputs(spec: LayerSpec, edges: list[Edge], results: dict[str, NodeResult]
                   ) -> tuple[dict[str, Any], list[str], bool]:
    inputs: dict[str, Any] = {}
    missing: list[str] = []
    upstream_bad = False
    for port in spec.inputs:
        feeding = [e for e in edges if e.dst_port == port.name]
        if port.variadic and len(feeding) < port.min_count:
            missing.append(f"{spec.type_id} needs at least {port.min_count} inputs on "
                           f"'{port.name}', has {len(feeding)}: connect more layers to it")
            continue
        if not feeding:
            if not port.optional:
                what = "the prediction" if spec.type_id == "Output" else "a layer's output"
                missing.append(f"input '{port.name}' is not connected: connect {what} to it")
            continue
        tensors = []
        for edge in feeding:
            source = results[edge.src]
            if source.status != OK or edge.src_port not in source.outputs:
                upstream_bad = True
            else:
                tensors.append(source.outputs[edge.src_port])
        inputs[port.name] = tensors if port.variadic else (tensors[0] if tensors else None)
    return inputs, missing, upstream_bad


def _dtype_problem(spec: LayerSpec, inputs: dict[str, Any]) -> str | None:
    for value in inputs.values():
        for tensor in value if isinstance(value, list) else [value]:
            if tensor.dtype in spec.input_dtypes:
                continue
            if tensor.dtype == "int64":
                return (f"{spec.type_id} needs floating-point input but receives int64 token ids "
                        f"{tensor.describe()}: insert an Embedding before it, or set the Input's "
                        "dtype to float32")
            return (f"{spec.type_id} needs integer token ids (int64) but receives "
                    f"{tensor.dtype} {tensor.describe()}: set the Input's dtype to int64")
    return None


def _apply_rule(spec: LayerSpec, node_id: str, params: dict, inputs: dict
                ) -> tuple[Inference | None, str | None, tuple[str, ...]]:
    ctx = LayerContext(node_id, params, inputs)
    try:
        inference = spec.infer(ctx)
    except ShapeError as err:
        return None, str(err), tuple(ctx.warnings)
    except Exception as err:  # a rule bug must not take the editor down; report it on the node
        return None, f"internal error in the {spec.type_id} shape rule: {err!r}", ()
    return inference, None, tuple(ctx.warnings)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
