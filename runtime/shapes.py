"""Shape, parameter and cost inference: a pure pass over the design returning per-node results.

One bad node does not hide the others: nodes downstream of an error are "unknown", not errors.
`ShapeInference` follows one design's change events after its first pass, so re-inferring after
an edit re-runs only the edited nodes' shape rules and those downstream whose inputs came out
different; everything else is reused from the previous pass, with results equal to a cold pass.
"""
from __future__ import annotations

import heapq
import os
import weakref
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from .errors import Problem, ShapeError
from .present import format_bytes
from .graph import (Edge, EdgeAdded, EdgeRemoved, Event, GraphModel, MetaChanged,
                    NetworkChanged, NodeAdded, NodeMoved, NodeRemoved, ParamChanged)
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
    """Inference passes over one design at a time, each after the first costing what changed.

    The first pass over a model is cold: every node's shape rule runs. From then on the engine
    follows the model's change events (it subscribes to them, weakly), so the next pass re-runs
    only the rules of nodes whose params or incoming edges changed, then of the nodes after them
    whose inputs came out different, in topological order, and reuses every other result. The
    design-level checks (networks, Input/Output, what feeds an Output) and the memory total are
    kept up to date the same way. Edits must go through the `GraphModel` API, as everywhere;
    a pass over another model, or one that an unseen change reached, is cold.

    Results are shared between the Analyses of successive passes: treat them as read-only.

    Attributes:
        recomputed: Shape rules the last pass ran (every node's on a cold pass).
        cold: Whether the last pass was cold.
    """

    def __init__(self, follow: bool = True):
        """`follow=False` makes every pass cold and leaves the model unsubscribed (`infer`)."""
        self._follow = follow
        self.recomputed = 0
        self.cold = True
        self._model: weakref.ref | None = None
        self._watch: _Watch | None = None
        self._seen = -1  # the model.revision this state accounts for
        self._stale = True  # an event this engine cannot follow: the next pass is cold
        self._results: dict[str, NodeResult] = {}  # rule results (no memory error), file order
        self._rank: dict[str, float] = {}  # a topological order of the current graph
        self._top = 0.0  # the highest rank
        self._lex = True  # `_rank` is the model's own order (problems are listed in it)
        self._dirty: set[str] = set()  # nodes whose params or incoming edges changed
        self._removed: set[str] = set()
        self._reorder = False  # nodes added or removed: `_results` is rebuilt in file order
        self._flagged: set[str] = set()  # nodes with errors or warnings
        self._bytes = 0  # weight and buffer bytes of every node
        self._types: Counter[str] = Counter()
        self._networks: Counter[str] = Counter()
        self._network_problems: list[Problem] = []
        self._networks_stale = False
        self._feeding: set[str] = set()  # Output nodes and all their ancestors
        self._feed_seeds: set[str] = set()  # nodes whose out-edges or type changed
        self._unconnected: list[Problem] = []
        self._unconnected_stale = False

    def run(self, model: GraphModel) -> Analysis:
        """Infer every node of `model`; never raises for a bad design."""
        if (not self._follow or self._stale or self._model is None
                or self._model() is not model or model.revision != self._seen):
            return self._cold(model)
        self.cold = False
        self._refresh_design(model)
        self._refresh_nodes(model)
        return self._analysis(model)

    # --- cold pass ---------------------------------------------------------------------------
    def _cold(self, model: GraphModel) -> Analysis:
        self.cold = True
        order = model.topological_order()
        results: dict[str, NodeResult] = {}
        for node_id in order:
            results[node_id] = _infer_node(model, node_id, results)
        self.recomputed = len(results)
        self._results = {node_id: results[node_id] for node_id in model.nodes}
        self._rank = {node_id: float(i) for i, node_id in enumerate(order)}
        self._top, self._lex = float(len(order)), True
        self._dirty, self._removed, self._reorder = set(), set(), False
        self._flagged = {n for n, r in results.items() if r.errors or r.warnings}
        self._bytes = sum(tensor_bytes(r) for r in results.values())
        self._types = Counter(node.type for node in model.nodes.values())
        self._networks = Counter(node.network for node in model.nodes.values())
        self._network_problems, self._networks_stale = network_problems(model), False
        self._feeding = model.feeding_outputs() if "Output" in self._types else set()
        self._feed_seeds = set()
        self._unconnected = _unconnected(model, self._feeding)
        self._unconnected_stale = False
        self._seen, self._stale = model.revision, False
        if self._follow:
            self._attach(model)
        return self._analysis(model)

    def _attach(self, model: GraphModel) -> None:
        if self._model is not None and self._model() is model:
            return
        old = self._model() if self._model is not None else None
        if old is not None and self._watch is not None:
            old.unsubscribe(self._watch)
        self._model = weakref.ref(model)
        self._watch = _Watch(self, model)
        model.subscribe(self._watch)

    # --- following events ----------------------------------------------------------------------
    def _on_event(self, model: GraphModel, event: Event) -> None:
        if model.revision <= self._seen:
            return  # a cold pass run from an earlier listener of this event already saw it
        self._seen = model.revision
        if self._stale or isinstance(event, (NodeMoved, MetaChanged)):
            return  # stale: the next pass is cold anyway; moves and words change no shape
        if isinstance(event, ParamChanged):
            self._dirty.add(event.node_id)
        elif isinstance(event, (EdgeAdded, EdgeRemoved)):
            edge = event.edge
            self._dirty.add(edge.dst)
            self._feed_seeds.add(edge.src)
            self._networks_stale |= len(self._networks) > 1  # only then can an edge cross
            if isinstance(event, EdgeAdded):
                self._order_edge(model, edge)
            else:
                self._lex = False  # fewer constraints: the model's order may now differ
        elif isinstance(event, NodeAdded):
            self._node_added(model, event.node.id, event.node.type, event.node.network)
        elif isinstance(event, NodeRemoved):
            self._node_removed(event.node.id, event.node.type, event.node.network)
        elif isinstance(event, NetworkChanged):
            self._count_network(event.old, -1)
            self._count_network(event.new, +1)
            self._networks_stale = True
        else:  # an event this engine does not know: be right rather than fast
            self._stale = True

    def _node_added(self, model: GraphModel, node_id: str, type_id: str, network: str) -> None:
        multi = len(self._networks) > 1
        self._types[type_id] += 1
        self._count_network(network, +1)
        self._networks_stale |= multi or len(self._networks) > 1
        self._top += 1.0
        self._rank[node_id] = self._top  # it has no edges yet: last is a valid place
        # appended to the file it also comes last in the model's order; inserted (undo) it may not
        self._lex &= next(reversed(model.nodes)) == node_id
        self._dirty.add(node_id)
        self._feed_seeds.add(node_id)
        self._reorder = self._unconnected_stale = True

    def _node_removed(self, node_id: str, type_id: str, network: str) -> None:
        multi = len(self._networks) > 1
        self._types[type_id] -= 1
        if not self._types[type_id]:
            del self._types[type_id]
        self._count_network(network, -1)
        self._networks_stale |= multi or len(self._networks) > 1
        self._rank.pop(node_id, None)
        self._dirty.discard(node_id)
        self._removed.add(node_id)
        self._feeding.discard(node_id)  # its edges went first, each seeding its source
        self._reorder = self._unconnected_stale = True

    def _count_network(self, network: str, delta: int) -> None:
        self._networks[network] += delta
        if not self._networks[network]:
            del self._networks[network]

    def _order_edge(self, model: GraphModel, edge: Edge) -> None:
        """Keep `_rank` a topological order after `edge` was added: when its source sits after
        its destination, move the source and what reaches it from after the destination to
        just before it (Pearce-Kelly's backward half; a node inserted on an edge moves alone)."""
        rank = self._rank
        if edge.src not in rank or edge.dst not in rank:
            self._stale = True
            return
        limit = rank[edge.dst]
        if rank[edge.src] < limit:
            return  # still an order, and still the model's own: it only lost candidates
        self._lex = False
        moved, stack, floor = {edge.src}, [edge.src], None
        while stack:
            for incoming in model.in_edges(stack.pop()):
                src = incoming.src
                if src in moved:
                    continue
                if rank[src] > limit:
                    moved.add(src)
                    stack.append(src)
                elif floor is None or rank[src] > floor:
                    floor = rank[src]  # a source outside stays before: place the moved above it
        low = limit - 1.0 if floor is None else floor
        step = (limit - low) / (len(moved) + 1)
        new = [low + step * (i + 1) for i in range(len(moved))]
        if not all(a < b for a, b in zip([low, *new], [*new, limit])):
            self._renumber(model)  # the gap is spent (float precision): start from the model's
            return
        for node_id, value in zip(sorted(moved, key=rank.__getitem__), new):
            rank[node_id] = value

    def _renumber(self, model: GraphModel) -> None:
        order = model.topological_order()
        self._rank = {node_id: float(i) for i, node_id in enumerate(order)}
        self._top, self._lex = float(len(order)), True

    # --- an incremental pass -------------------------------------------------------------------
    def _refresh_nodes(self, model: GraphModel) -> None:
        results, rank, nodes = self._results, self._rank, model.nodes
        for node_id in self._removed:
            self._account(node_id, results.pop(node_id, None), None)
        heap = [(rank[n], n) for n in self._dirty if n in nodes]
        heapq.heapify(heap)
        done: set[str] = set()
        while heap:
            _, node_id = heapq.heappop(heap)
            if node_id in done:
                continue
            done.add(node_id)
            old = results.get(node_id)
            new = results[node_id] = _infer_node(model, node_id, results)
            self._account(node_id, old, new)
            if old is None or old.status != new.status or old.outputs != new.outputs:
                for edge in model.out_edges(node_id):
                    heapq.heappush(heap, (rank[edge.dst], edge.dst))
        self.recomputed = len(done)
        if self._reorder:
            self._results = {node_id: results[node_id] for node_id in nodes}
        self._dirty, self._removed, self._reorder = set(), set(), False

    def _account(self, node_id: str, old: NodeResult | None, new: NodeResult | None) -> None:
        self._bytes += (tensor_bytes(new) if new else 0) - (tensor_bytes(old) if old else 0)
        if new is not None and (new.errors or new.warnings):
            self._flagged.add(node_id)
        else:
            self._flagged.discard(node_id)

    def _refresh_design(self, model: GraphModel) -> None:
        if self._networks_stale:
            self._network_problems, self._networks_stale = network_problems(model), False
        if self._feed_seeds and self._refeed(model):
            self._unconnected_stale = True
        if self._unconnected_stale:
            self._unconnected, self._unconnected_stale = _unconnected(model, self._feeding), False

    def _refeed(self, model: GraphModel) -> bool:
        """Bring `_feeding` up to date from the nodes whose out-edges or type changed: a node
        feeds an Output when it is one or one of its successors feeds one. Latest rank first, so
        successors are settled first; only a node whose answer changed asks its sources again."""
        nodes, rank, feeding = model.nodes, self._rank, self._feeding
        heap = [(-rank[n], n) for n in self._feed_seeds if n in nodes]
        heapq.heapify(heap)
        self._feed_seeds = set()
        seen: set[str] = set()
        changed = False
        while heap:
            _, node_id = heapq.heappop(heap)
            if node_id in seen:
                continue
            seen.add(node_id)
            feeds = (nodes[node_id].type == "Output"
                     or any(edge.dst in feeding for edge in model.out_edges(node_id)))
            if feeds == (node_id in feeding):
                continue
            changed = True
            (feeding.add if feeds else feeding.discard)(node_id)
            for edge in model.in_edges(node_id):
                heapq.heappush(heap, (-rank[edge.src], edge.src))
        return changed

    # --- the Analysis ------------------------------------------------------------------------
    def _analysis(self, model: GraphModel) -> Analysis:
        nodes = dict(self._results)
        problems: list[Problem] = []
        if self._flagged:  # listed in the model's topological order, as a cold pass lists them
            flagged = [nodes[n] for n in self._in_model_order(model, self._flagged)]
            problems += [Problem(msg, r.node_id) for r in flagged for msg in r.errors]
            problems += [Problem(msg, r.node_id, severity="warning")
                         for r in flagged for msg in r.warnings]
        problems += _assemble_design_problems(self._network_problems, len(self._networks) > 1,
                                              self._types, self._unconnected)
        available = machine_memory()
        if available and self._bytes > available and nodes:
            ordered = {n: nodes[n] for n in self._in_model_order(model, nodes)}
            problem = _memory_problem(ordered, available)
            if problem is not None:  # on a copy: the stored result stays the rule's
                marked = nodes[problem.node] = replace(nodes[problem.node], status=ERROR)
                marked.errors = [*marked.errors, problem.message]
                problems.append(problem)
        return Analysis(nodes, problems)

    def _in_model_order(self, model: GraphModel, node_ids: Iterable[str]) -> list[str]:
        if not self._lex:
            self._renumber(model)
        return sorted(node_ids, key=self._rank.__getitem__)


class _Watch:
    """The listener a `ShapeInference` puts on the model it follows. It holds the engine weakly
    and unsubscribes itself once the engine is gone or follows another model."""

    def __init__(self, engine: ShapeInference, model: GraphModel):
        self._engine = weakref.ref(engine)
        self._model = weakref.ref(model)

    def __call__(self, event: Event) -> None:
        engine, model = self._engine(), self._model()
        if model is None:
            return
        if engine is None or engine._watch is not self:
            model.unsubscribe(self)
            return
        try:
            engine._on_event(model, event)
        except Exception:  # a slip here must never break the edit itself: infer cold next time
            engine._stale = True


def _infer_node(model: GraphModel, node_id: str, results: dict[str, NodeResult]) -> NodeResult:
    node = model.nodes[node_id]
    spec = model.registry.get(node.type)
    result = NodeResult(node_id, spec.type_id)
    inputs, missing, upstream_bad = _gather_inputs(spec, model.in_edges(node_id), results)
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
    inference, error, warnings = _apply_rule(spec, node_id, node.params, inputs)
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
    problem = _memory_problem(results, machine_memory() if available is None else available)
    if problem is None:
        return []
    largest = results[problem.node]
    largest.status = ERROR
    largest.errors.append(problem.message)
    return [problem]


def _memory_problem(results: dict[str, NodeResult], available: int | None) -> Problem | None:
    """`memory_problems`' finding without marking the node (ties go to the first in order)."""
    total = sum(tensor_bytes(r) for r in results.values())
    if not available or total <= available or not results:
        return None
    largest = max(results.values(), key=tensor_bytes)
    return Problem(f"the model's weights and tables need {format_bytes(total)}, more than this "
                   f"machine's {format_bytes(available)} of memory; '{largest.node_id}' alone "
                   f"holds {format_bytes(tensor_bytes(largest))} "
                   f"({largest.params + largest.buffers:,} values): make it smaller",
                   largest.node_id)


def infer(model: GraphModel) -> Analysis:
    """One cold inference pass (see `ShapeInference` for passes that follow a design's edits)."""
    return ShapeInference(follow=False).run(model)


def inputs_of(model: GraphModel, node_id: str, analysis: Analysis) -> dict[str, Any]:
    """The input tensors of `node_id` as its shape rule and builder see them."""
    spec = model.spec(node_id)
    inputs, _, _ = _gather_inputs(spec, model.in_edges(node_id), analysis.nodes)
    return inputs


def design_problems(model: GraphModel) -> list[Problem]:
    """Problems of the design as a whole: a missing Input or Output (per network when there are
    several), edges between networks, nodes that reach no Output."""
    types = {node.type for node in model.nodes.values()}
    unconnected = _unconnected(model, model.feeding_outputs()) if "Output" in types else []
    return _assemble_design_problems(network_problems(model), is_multi_network(model), types,
                                     unconnected)


def _assemble_design_problems(network: list[Problem], multi: bool, types: Iterable[str],
                              unconnected: list[Problem]) -> list[Problem]:
    """`design_problems` from its parts, which `ShapeInference` keeps up to date edit by edit."""
    problems = list(network)
    if not multi and "Input" not in types:  # with several, network_problems named each's lack
        problems.append(Problem("the design has no Input node: add one (Input/Output group) and "
                                "set the shape of one sample"))
    if "Output" not in types:
        if not multi:
            problems.append(Problem("the design has no Output node: add one and connect the "
                                    "network's prediction to it"))
        return problems
    return problems + unconnected


def _unconnected(model: GraphModel, feeding: set[str]) -> list[Problem]:
    return [Problem("not connected to any Output: it will be left out of the compiled model",
                    node_id, severity="warning") for node_id in model.nodes
            if node_id not in feeding]


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

