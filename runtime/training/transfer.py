"""Weights carried into a new design (transfer learning and fine-tuning).

A checkpoint's tensors are loaded node by node: first into the node of the same id, then, for the
design's nodes that have no namesake in the checkpoint, from a checkpoint node of the same layer
type whose tensors all have the same shapes (in graph order, each used once). A node is loaded
whole or not at all: never some of its tensors, never part of a tensor. Buffers (BatchNorm's
running statistics) belong to their node and travel with it. The report says what loaded, what
was skipped and why, and which checkpoint nodes went unused.

Checkpoints are read only through `load_checkpoint` (``torch.load(weights_only=True)``): a foreign
or malformed file is refused with a message, and no pickled code ever runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Mapping

import networkx as nx
import torch
from torch import nn

from ..errors import TrainingError
from ..graph import GraphModel
from .callbacks import Callback
from .checkpoints import load_checkpoint

if TYPE_CHECKING:
    from .events import FitStart
    from .trainer import Trainer

BY_ID = "id"
BY_TYPE = "type and shape"


@dataclass(frozen=True)
class Loaded:
    """A design node that took a checkpoint node's tensors.

    Attributes:
        node: The node in the design.
        source: The node in the checkpoint it was loaded from.
        by: `BY_ID` (same id) or `BY_TYPE` (same layer type, same shapes, another id).
    """

    node: str
    source: str
    by: str


@dataclass(frozen=True)
class Skipped:
    """A design node with weights that kept its own (initial) weights, and why."""

    node: str
    reason: str

    def describe(self) -> str:
        return f"{self.node}: {self.reason}"


@dataclass
class TransferReport:
    """What `transfer_weights` did.

    Attributes:
        source: The checkpoint as the user named it (a path, or "the checkpoint").
        weighted: How many of the design's nodes have tensors (weights or buffers).
        loaded: Nodes loaded, in the design's graph order.
        skipped: Nodes with tensors that were not loaded, in graph order, with the reason.
        unused: Checkpoint nodes with tensors that went into no node, in the checkpoint's order.
    """

    source: str
    weighted: int
    loaded: list[Loaded] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line, e.g. "loaded 6 of 8 weighted nodes (5 by id, 1 by type and shape); skipped
        fc3: weight (10, 32) vs (8, 32) in the checkpoint, ..."."""
        if not self.weighted:
            return "the design has no weights to load"
        by_id = sum(1 for item in self.loaded if item.by == BY_ID)
        text = (f"loaded {len(self.loaded)} of {self.weighted} weighted nodes ({by_id} by id, "
                f"{len(self.loaded) - by_id} by type and shape)")
        if self.skipped:
            text += "; skipped " + ", ".join(item.describe() for item in self.skipped)
        skipped = {item.node for item in self.skipped}
        others = [node for node in self.unused if node not in skipped]  # namesakes said already
        if others:
            text += "; unused from the checkpoint: " + ", ".join(others)
        return text

    def lines(self) -> list[str]:
        """One line per node, for a dialog or a terminal: loaded, then skipped, then unused."""
        out = [f"{item.node} ← {item.source}" + (f" (by {BY_TYPE})" if item.by == BY_TYPE else "")
               for item in self.loaded]
        out += [f"{item.node}: skipped: {item.reason}" for item in self.skipped]
        out += [f"{node} (checkpoint): unused" for node in self.unused]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "weighted": self.weighted,
                "loaded": [{"node": i.node, "source": i.source, "by": i.by} for i in self.loaded],
                "skipped": [{"node": i.node, "reason": i.reason} for i in self.skipped],
                "unused": list(self.unused), "summary": self.summary()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TransferReport":
        return cls(data["source"], data["weighted"],
                   [Loaded(i["node"], i["source"], i["by"]) for i in data["loaded"]],
                   [Skipped(i["node"], i["reason"]) for i in data["skipped"]],
                   list(data["unused"]))


#: Why a node listed in ``training.init_skip`` was not loaded.
KEPT_FRESH = "kept fresh (init_skip)"


def transfer_weights(model: nn.Module, design: GraphModel,
                     source: str | Path | Mapping[str, Any],
                     keep_fresh: Iterable[str] = ()) -> TransferReport:
    """Load the tensors of a checkpoint into `model` (compiled from `design`) wherever they fit.

    Args:
        model: The compiled design (its state_dict is keyed ``nodeid.tensor``).
        design: The design `model` was compiled from (for the nodes' types and graph order).
        source: A checkpoint path (read with `load_checkpoint`), or a loaded checkpoint: a dict
            with ``model`` (a state_dict keyed ``nodeid.tensor``) and ``design`` (the design
            document it was trained with).
        keep_fresh: Nodes that keep their initial weights (a new head): never loaded, and they
            claim no checkpoint node.

    Returns:
        What loaded, what was skipped and why, and what in the checkpoint went unused.

    Raises:
        TrainingError: The checkpoint cannot be read, is not LayerLab's, or is malformed.
    """
    if isinstance(source, (str, Path)):
        name, state = str(source), load_checkpoint(source)
    else:
        name, state = "the checkpoint", source
    tensors, types, order = _read_source(state, name)
    fresh = list(keep_fresh)
    unknown = [node for node in fresh if node not in design.nodes]
    if unknown:
        raise TrainingError(f"init_skip names {', '.join(map(repr, unknown))}, which "
                            f"{'is not a node' if len(unknown) == 1 else 'are not nodes'} of "
                            "this design", "design")
    broken = {node: reason for node in order if (reason := _non_finite(tensors[node]))}
    registry = design.registry
    targets = _by_node(model.state_dict(), set(design.nodes))
    target_order = [n for n in design.topological_order() if n in targets]
    target_order += [n for n in targets if n not in target_order]
    report = TransferReport(name, len(targets))
    chosen: dict[str, Loaded] = {}
    reasons: dict[str, str] = {}
    claimed: set[str] = set()
    pending = []
    for node in target_order:
        node_type = _canonical(registry, design.nodes[node].type)
        if node in fresh:
            reasons[node] = KEPT_FRESH
            continue
        if node not in tensors:
            pending.append((node, node_type))
            continue
        claimed.add(node)  # the namesake is this node's, fitting or not
        source_type = _canonical(registry, types.get(node))
        reason = (f"{node_type} vs {source_type or 'an unknown type'} in the checkpoint"
                  if source_type != node_type else
                  _mismatch(targets[node], tensors[node]) or broken.get(node))
        if reason:
            reasons[node] = reason
        else:
            chosen[node] = Loaded(node, node, BY_ID)
    for node, node_type in pending:
        match = next((s for s in order if s not in claimed and s not in broken
                      and _canonical(registry, types.get(s)) == node_type
                      and _mismatch(targets[node], tensors[s]) is None), None)
        if match is None:
            reasons[node] = f"no node of type {node_type} with these shapes in the checkpoint"
        else:
            claimed.add(match)
            chosen[node] = Loaded(node, match, BY_TYPE)
    weights = {f"{item.node}.{key}": value for item in chosen.values()
               for key, value in tensors[item.source].items()}
    try:
        result = model.load_state_dict(weights, strict=False)
    except RuntimeError as err:  # shapes were checked: only a module's own load hook gets here
        raise TrainingError(f"cannot load {name} into this design: {err}", "design") from None
    if result.unexpected_keys:
        raise TrainingError(f"cannot load {name} into this design: the model has no "
                            f"{', '.join(result.unexpected_keys)}", "design")
    report.loaded = [chosen[n] for n in target_order if n in chosen]
    report.skipped = [Skipped(n, reasons[n]) for n in target_order if n in reasons]
    used = {item.source for item in chosen.values()}
    report.unused = [s for s in order if s not in used]
    return report


class TransferPrinter(Callback):
    """Writes the trainer's transfer summary when training starts (after the weights loaded)."""

    def __init__(self, stream: IO[str], prefix: str = ""):
        self.stream = stream
        self.prefix = prefix

    def on_fit_start(self, trainer: "Trainer", event: "FitStart") -> None:
        report = getattr(trainer, "transfer_report", None)
        if report is not None:
            self.stream.write(f"{self.prefix}init from {report.source}: {report.summary()}\n")


# --- helpers ------------------------------------------------------------------------------------
def _read_source(state: Any, name: str
                 ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, str], list[str]]:
    """The checkpoint's tensors by node, its nodes' types, and its weighted nodes in graph order;
    a clear `TrainingError` for anything that is not the shape our checkpoints have."""
    def refuse(why: str) -> TrainingError:
        return TrainingError(f"{name} is not a usable LayerLab checkpoint: {why}", "data")

    if not isinstance(state, Mapping):
        raise refuse("it is not a table of named entries")
    weights, document = state.get("model"), state.get("design")
    if not isinstance(weights, Mapping) or not weights:
        raise refuse("it holds no model weights")
    for key, value in weights.items():
        if not isinstance(key, str) or "." not in key or not isinstance(value, torch.Tensor):
            raise refuse(f"its weights hold {key!r}, which is not a node's tensor")
    nodes = document.get("nodes") if isinstance(document, Mapping) else None
    if not isinstance(nodes, list) or not all(
            isinstance(n, Mapping) and isinstance(n.get("id"), str)
            and isinstance(n.get("type"), str) for n in nodes):
        raise refuse("the design it was trained with is missing or unreadable")
    types = {n["id"]: n["type"] for n in nodes}
    tensors = _by_node(weights, None)
    order = [n for n in _graph_order(document, [n["id"] for n in nodes]) if n in tensors]
    order += [n for n in tensors if n not in order]
    return tensors, types, order


def _by_node(state: Mapping[str, torch.Tensor],
             nodes: set[str] | None) -> dict[str, dict[str, torch.Tensor]]:
    """``{"fc1.weight": t}`` -> ``{"fc1": {"weight": t}}``, keeping the state_dict's order."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        node, _, rest = key.partition(".")
        if rest and (nodes is None or node in nodes):
            out.setdefault(node, {})[rest] = value
    return out


def _graph_order(document: Mapping[str, Any], ids: list[str]) -> list[str]:
    """The source design's nodes in topological order, ties in file order (file order when its
    edges do not make a graph)."""
    rank = {node: i for i, node in enumerate(ids)}
    graph = nx.DiGraph()
    graph.add_nodes_from(rank)
    edges = document.get("edges")
    try:
        for edge in edges if isinstance(edges, list) else ():
            if edge.get("from") in rank and edge.get("to") in rank:
                graph.add_edge(edge["from"], edge["to"])
        return list(nx.lexicographical_topological_sort(graph, key=rank.__getitem__))
    except (AttributeError, TypeError, nx.NetworkXUnfeasible):
        return ids


def _canonical(registry: Any, type_id: str | None) -> str | None:
    """A layer type by its current id (a checkpoint may predate a rename)."""
    if type_id is None:
        return None
    return registry.resolve(type_id) or type_id


def _mismatch(target: Mapping[str, torch.Tensor], source: Mapping[str, torch.Tensor]) -> str | None:
    """Why `source` cannot replace all of `target` (None when it can)."""
    for key in target:
        if key not in source:
            return f"{key} missing from the checkpoint"
    for key in source:
        if key not in target:
            return f"{key} only in the checkpoint"
    for key, have in target.items():
        given = source[key]
        if tuple(have.shape) != tuple(given.shape):
            return f"{key} {_shape(have)} vs {_shape(given)} in the checkpoint"
        if have.is_floating_point() != given.is_floating_point():
            return f"{key} is {given.dtype} in the checkpoint, {have.dtype} here"
    return None


def _non_finite(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """A checkpoint node holding NaN/Inf is never loaded (a run saved as it diverged)."""
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return f"{key} holds NaN/Inf values in the checkpoint"
    return None


def _shape(tensor: torch.Tensor) -> str:
    dims = tuple(tensor.shape)
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"

