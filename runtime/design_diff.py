"""What changed between two designs: nodes, edges, parameters and training settings (no Qt).

`diff(before, after)` compares two `GraphModel`s and returns a `DesignDiff`: the nodes added,
removed, retyped or re-parametrised, the edges added or removed, the training settings that
differ, and a best-effort pairing of removed with added nodes that sit in the same place of the
graph (the dying-ReLU lesson replaces `relu1` by `leakyrelu1`). The Runs tab lists it and the
canvas highlights `nodes_touched()`; `labels()` gives the short texts of run labels
("fc1: Sigmoid → ReLU", "lr 0.01 → 0.1") and `to_json()` the form for the CLI.

What is not a change: positions (moving a node), the design's name and description, and a
training setting written out at its default instead of left implicit (the *effective* blocks are
compared, setting by setting from the settings catalogue). A training block that does not parse
is compared as far as it can be read, never raised on.
"""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple

from .graph import GraphModel
from .present import format_literal, format_value
from .training.config import effective_block, merged_with_defaults
from .training.settings import SETTINGS, get_path

ARROW = "→"
MINUS = "−"
#: Identical changes on at least this many nodes share one label ("ReLU → LeakyReLU ×3").
GROUP_AT = 3
_DATASET_PARAMS = "dataset.params"


class Retyped(NamedTuple):
    """A node kept its id but changed type."""

    id: str
    old_type: str
    new_type: str


class ParamChange(NamedTuple):
    """A parameter of a node with the same id and type on both sides."""

    id: str
    param: str
    old: Any
    new: Any


class EdgeKey(NamedTuple):
    """An edge as compared: (src, src_port, dst, dst_port)."""

    src: str
    src_port: str
    dst: str
    dst_port: str


class TrainingChange(NamedTuple):
    """A training setting that differs: its dotted path ("optimizer.lr"; dataset parameters as
    "dataset.params.n_samples"; a whole section when it is not an object on one side)."""

    path: str
    old: Any
    new: Any


class Renamed(NamedTuple):
    """A removed node and an added node in the same place of the graph (same predecessors and
    successors once earlier pairs are mapped): most likely one replaced by the other."""

    old_id: str
    new_id: str
    old_type: str
    new_type: str

    def __str__(self) -> str:
        return f"{self.old_id} {ARROW} {self.new_id} ({self.old_type} {ARROW} {self.new_type})"


class Regrouped(NamedTuple):
    """A node kept its id but moved to another network ("" is the main one)."""

    id: str
    old: str
    new: str


@dataclass(frozen=True)
class DesignDiff:
    """The differences between two designs, `before` and `after`.

    Node ids of `added`, `retyped`, `reparametrised` and `edges_added` are in `after`'s file
    order; `removed` and `edges_removed` in `before`'s; `training` in settings-catalogue order.
    Nodes of a `renamed_like` pair stay listed in `removed` and `added` as well.

    `types` (the type of every node of either side, added and removed ones included) and `order`
    (`after`'s node ids in file order) are context for labels and highlighting; they take no part
    in equality.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retyped: tuple[Retyped, ...] = ()
    reparametrised: tuple[ParamChange, ...] = ()
    edges_added: tuple[EdgeKey, ...] = ()
    edges_removed: tuple[EdgeKey, ...] = ()
    training: tuple[TrainingChange, ...] = ()
    renamed_like: tuple[Renamed, ...] = ()
    regrouped: tuple[Regrouped, ...] = ()
    types: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def empty(self) -> bool:
        """No change at all (moves, name and description do not count)."""
        return not (self.added or self.removed or self.retyped or self.reparametrised
                    or self.edges_added or self.edges_removed or self.training
                    or self.regrouped)

    def nodes_touched(self) -> list[str]:
        """Ids in `after` to highlight: added (the new side of `renamed_like` included),
        retyped and re-parametrised nodes, in `after`'s file order."""
        touched = set(self.added) | {r.id for r in self.retyped} | {
            p.id for p in self.reparametrised} | {r.new_id for r in self.renamed_like} | {
            g.id for g in self.regrouped}
        rank = {node_id: i for i, node_id in enumerate(self.order)}
        return sorted(touched, key=lambda n: (rank.get(n, len(rank)), n))

    def labels(self, limit: int | None = 4) -> list[str]:
        """Short human labels, as run labels show them: type changes ("fc1: Sigmoid → ReLU",
        "relu1 → LeakyReLU"), nodes added ("+drop1 (Dropout)") and removed ("−fc3"), rewired
        edges, parameters ("fc2.out_features 64 → 128"), then training ("lr 0.01 → 0.1").

        The same change on `GROUP_AT` or more nodes is one label ("Sigmoid → ReLU ×10",
        "weight_init default → kaiming_normal ×11"). Past `limit` labels (None: no limit) the
        rest are counted in a final "+N more".
        """
        out = self._node_labels() + [_training_label(c) for c in _label_order(self.training)]
        if limit is not None and len(out) > limit:
            out = out[:max(limit, 0)] + [f"+{len(out) - max(limit, 0)} more"]
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict of every change, with all the labels."""
        return {
            "empty": self.empty,
            "added": [{"id": n, "type": self.types.get(n)} for n in self.added],
            "removed": [{"id": n, "type": self.types.get(n)} for n in self.removed],
            "retyped": [r._asdict() for r in self.retyped],
            "reparametrised": [{**p._asdict(), "old": _plain(p.old), "new": _plain(p.new)}
                               for p in self.reparametrised],
            "edges_added": [_edge_json(e) for e in self.edges_added],
            "edges_removed": [_edge_json(e) for e in self.edges_removed],
            "training": [{"path": t.path, "old": _plain(t.old), "new": _plain(t.new)}
                         for t in self.training],
            "renamed_like": [r._asdict() for r in self.renamed_like],
            "regrouped": [g._asdict() for g in self.regrouped],
            "labels": self.labels(limit=None),
        }

    # --- labels ---------------------------------------------------------------------------
    def _node_labels(self) -> list[str]:
        paired_old = {r.old_id for r in self.renamed_like}
        paired_new = {r.new_id for r in self.renamed_like}
        out: list[str] = []
        # type changes: retyped nodes and renamed pairs of different types
        retypes = [(r.id, r.old_type, r.new_type, False) for r in self.retyped] + [
            (r.old_id, r.old_type, r.new_type, True) for r in self.renamed_like
            if r.old_type != r.new_type]
        out += _grouped(retypes, key=lambda t: (t[1], t[2]),
                        one=lambda t: (f"{t[0]} {ARROW} {t[2]}" if t[3]
                                       else f"{t[0]}: {t[1]} {ARROW} {t[2]}"),
                        many=lambda k, n: f"{k[0]} {ARROW} {k[1]} ×{n}")
        out += [f"{r.old_id} {ARROW} {r.new_id}" for r in self.renamed_like
                if r.old_type == r.new_type]
        added = [n for n in self.added if n not in paired_new]
        out += _grouped(added, key=lambda n: self.types.get(n, "?"),
                        one=lambda n: f"+{n} ({self.types.get(n, '?')})",
                        many=lambda k, n: f"+{n} {k}")
        removed = [n for n in self.removed if n not in paired_old]
        out += _grouped(removed, key=lambda n: self.types.get(n, "?"),
                        one=lambda n: f"{MINUS}{n}", many=lambda k, n: f"{MINUS}{n} {k}")
        out += self._rewired()
        out += _grouped(list(self.regrouped), key=lambda g: (g.old, g.new),
                        one=lambda g: f"{g.id}: network {_network(g.old)} {ARROW} "
                                      f"{_network(g.new)}",
                        many=lambda k, n: f"network {_network(k[0])} {ARROW} {_network(k[1])} "
                                          f"×{n}")
        out += _grouped(list(self.reparametrised),
                        key=lambda p: (p.param, _fmt(p.old), _fmt(p.new)),
                        one=lambda p: f"{p.id}.{p.param} {_fmt(p.old)} {ARROW} {_fmt(p.new)}",
                        many=lambda k, n: f"{k[0]} {k[1]} {ARROW} {k[2]} ×{n}")
        return out

    def _rewired(self) -> list[str]:
        """Edges added or removed between nodes on both sides (a renamed pair counting as one
        node) that change what connects to what. An edge replaced by a path through added nodes
        (a Dropout inserted) or one that replaces a path through removed nodes (a layer taken
        out of a chain) is told by those nodes' labels, not again here."""
        to_new = {r.old_id: r.new_id for r in self.renamed_like}
        to_old = {n: o for o, n in to_new.items()}
        renamed = set(to_new.values())
        inserted = set(self.added) - renamed
        deleted = set(self.removed) - set(to_new)

        def key(e: EdgeKey, mapping: dict[str, str]) -> tuple:
            src, dst = mapping.get(e.src, e.src), mapping.get(e.dst, e.dst)
            return (src, "*" if src in renamed else e.src_port,
                    dst, "*" if dst in renamed else e.dst_port)

        old_keys = {key(e, to_new) for e in self.edges_removed}
        new_keys = {key(e, {}) for e in self.edges_added}
        old_links = _links(self.edges_removed)
        new_links = _links(self.edges_added)
        out = [f"+edge {_edge_text(e)}" for e in self.edges_added
               if key(e, {}) not in old_keys and not {e.src, e.dst} & inserted
               and not _through(old_links, to_old.get(e.src, e.src), to_old.get(e.dst, e.dst),
                                deleted)]
        out += [f"{MINUS}edge {_edge_text(e)}" for e in self.edges_removed
                if key(e, to_new) not in new_keys and not {e.src, e.dst} & deleted
                and not _through(new_links, to_new.get(e.src, e.src),
                                 to_new.get(e.dst, e.dst), inserted)]
        return out


def diff(before: GraphModel, after: GraphModel) -> DesignDiff:
    """What changed from `before` to `after` (see `DesignDiff`)."""
    old_nodes, new_nodes = before.nodes, after.nodes
    added = [n for n in new_nodes if n not in old_nodes]
    removed = [n for n in old_nodes if n not in new_nodes]
    retyped, params, regrouped = [], [], []
    for node_id, node in new_nodes.items():
        old = old_nodes.get(node_id)
        if old is None:
            continue
        if old.network != node.network:
            regrouped.append(Regrouped(node_id, old.network, node.network))
        if old.type != node.type:
            retyped.append(Retyped(node_id, old.type, node.type))
            continue
        for name in [*node.params, *(k for k in old.params if k not in node.params)]:
            was, now = old.params.get(name), node.params.get(name)
            if _plain(was) != _plain(now):
                params.append(ParamChange(node_id, name, was, now))
    old_edges = [_edge_key(e) for e in before.edges]
    new_edges = [_edge_key(e) for e in after.edges]
    old_set, new_set = set(old_edges), set(new_edges)
    types = {n.id: n.type for n in old_nodes.values()}
    types.update({n.id: n.type for n in new_nodes.values()})
    return DesignDiff(
        added=tuple(added), removed=tuple(removed), retyped=tuple(retyped),
        reparametrised=tuple(params),
        edges_added=tuple(e for e in new_edges if e not in old_set),
        edges_removed=tuple(e for e in old_edges if e not in new_set),
        training=training_changes(before.training, after.training),
        renamed_like=_pair_renamed(before, after, removed, added),
        regrouped=tuple(regrouped), types=types, order=tuple(new_nodes))


def _network(name: str) -> str:
    from .networks import network_title

    return network_title(name)


def diff_documents(before: dict, after: dict) -> DesignDiff:
    """`diff` of two design documents (``runtime.document.to_dict`` form, e.g. from a run
    folder); raises DesignFileError when one does not load."""
    from .document import from_dict
    return diff(from_dict(before), from_dict(after))


# --- training -----------------------------------------------------------------------------
def training_changes(before: Any, after: Any) -> tuple[TrainingChange, ...]:
    """The settings whose effective values differ between two training blocks, in catalogue
    order; dataset parameters one by one, with the dataset's defaults filled in.

    A block that does not parse is compared as far as it can be read: a section that is not an
    object on either side is compared as a whole, once ("optimizer": "adam" against a section).
    """
    if not isinstance(before, dict) or not isinstance(after, dict):
        return () if _plain(before) == _plain(after) else (
            TrainingChange("training", before, after),)
    old, new = _effective(before), _effective(after)
    changes: list[TrainingChange] = []
    sections_done: set[str] = set()
    for setting in SETTINGS:
        path = setting.path
        try:
            was, now = get_path(old, path), get_path(new, path)
        except (KeyError, TypeError, IndexError):
            section = path.split(".")[0]
            if section not in sections_done:
                sections_done.add(section)
                was, now = old.get(section), new.get(section)
                if _plain(was) != _plain(now):
                    changes.append(TrainingChange(section, was, now))
            continue
        if path == _DATASET_PARAMS and isinstance(was, dict) and isinstance(now, dict):
            changes += _dataset_param_changes(old, new, was, now)
        elif _plain(was) != _plain(now):
            changes.append(TrainingChange(path, was, now))
    return tuple(changes)


def _effective(block: dict) -> dict:
    """The block a run would use, or as close to it as a malformed block allows."""
    for build in (effective_block, merged_with_defaults):
        try:
            return build(block)
        except Exception:  # noqa: BLE001 - a malformed block is compared as written
            continue
    return copy.deepcopy(block)


def _dataset_param_changes(old: dict, new: dict, was: dict, now: dict) -> list[TrainingChange]:
    old_name, new_name = _dataset_name(old), _dataset_name(new)
    was, now = _with_dataset_defaults(old_name, was), _with_dataset_defaults(new_name, now)
    keys = [*was, *(k for k in now if k not in was)]
    if old_name != new_name:  # another dataset: only the parameters both have compare
        keys = [k for k in keys if k in was and k in now]
    return [TrainingChange(f"{_DATASET_PARAMS}.{k}", was.get(k), now.get(k)) for k in keys
            if _plain(was.get(k)) != _plain(now.get(k))]


def _dataset_name(block: dict) -> Any:
    try:
        return get_path(block, "dataset.name")
    except (KeyError, TypeError):
        return None


def _with_dataset_defaults(name: Any, params: dict) -> dict:
    from .data import get_spec
    try:
        defaults = get_spec(name).defaults()
    except Exception:  # noqa: BLE001 - an unknown dataset: compare what is written
        return dict(params)
    return {**defaults, **params}


#: Short names of training settings in labels; these come first, in catalogue order.
_SHORT = {s.path: s.short for s in SETTINGS if s.short}


def _label_order(changes: Iterable[TrainingChange]) -> list[TrainingChange]:
    """Settings with a short name first (catalogue order), then dataset parameters, then the
    rest by path (the order of the designer's run labels)."""
    order = list(_SHORT)
    return sorted(changes, key=lambda c: (
        (order.index(c.path), "") if c.path in _SHORT else
        (len(order) + (0 if c.path.startswith(_DATASET_PARAMS + ".") else 1), c.path)))


def _training_label(change: TrainingChange) -> str:
    name = _SHORT.get(change.path) or change.path.removeprefix(_DATASET_PARAMS + ".")
    return f"{name} {_fmt(change.old)} {ARROW} {_fmt(change.new)}"


# --- renamed-like pairs -------------------------------------------------------------------
_UNKNOWN = "?"


def _pair_renamed(before: GraphModel, after: GraphModel, removed: list[str],
                  added: list[str]) -> tuple[Renamed, ...]:
    """Pair each removed node with the added node in the same place: the same predecessors and
    successors, where a node on both sides is itself, a node already paired is its partner, and
    any other removed or added neighbour is unknown (at least one neighbour must be known). A
    place shared by several candidates pairs nothing. Repeats until no new pair is found, so a
    chain of replaced nodes pairs from its known end."""
    common = set(before.nodes) & set(after.nodes)
    pairs: dict[str, str] = {}  # old id -> new id
    while True:
        new_ids = set(pairs.values())

        def old_name(n: str) -> str:
            return n if n in common else pairs.get(n, _UNKNOWN)

        def new_name(n: str) -> str:
            return n if n in common or n in new_ids else _UNKNOWN

        olds = _by_place(before, [n for n in removed if n not in pairs], old_name)
        news = _by_place(after, [n for n in added if n not in new_ids], new_name)
        found = {ids[0]: news[place][0] for place, ids in olds.items()
                 if len(ids) == 1 and len(news.get(place, ())) == 1}
        if not found:
            break
        pairs.update(found)
    rank = {n: i for i, n in enumerate(after.nodes)}
    return tuple(Renamed(o, n, before.nodes[o].type, after.nodes[n].type)
                 for o, n in sorted(pairs.items(), key=lambda p: rank[p[1]]))


def _by_place(model: GraphModel, ids: list[str], name) -> dict[tuple, list[str]]:
    """Nodes grouped by their place: (sorted predecessor names, sorted successor names)."""
    preds: dict[str, list[str]] = {n: [] for n in ids}
    succs: dict[str, list[str]] = {n: [] for n in ids}
    for e in model.edges:
        if e.dst in preds:
            preds[e.dst].append(name(e.src))
        if e.src in succs:
            succs[e.src].append(name(e.dst))
    out: dict[tuple, list[str]] = {}
    for n in ids:
        place = (tuple(sorted(preds[n])), tuple(sorted(succs[n])))
        if any(x != _UNKNOWN for side in place for x in side):
            out.setdefault(place, []).append(n)
    return out


# --- helpers ------------------------------------------------------------------------------
def _grouped(items: list, key, one, many) -> list[str]:
    """One label per item, except that items sharing a key at least `GROUP_AT` times share
    one label, placed where the first of them was."""
    counts = Counter(key(item) for item in items)
    out, seen = [], set()
    for item in items:
        k = key(item)
        if counts[k] < GROUP_AT:
            out.append(one(item))
        elif k not in seen:
            seen.add(k)
            out.append(many(k, counts[k]))
    return out


def _links(edges: Iterable[EdgeKey]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in edges:
        out.setdefault(e.src, set()).add(e.dst)
    return out


def _through(links: dict[str, set[str]], src: str, dst: str, interior: set[str]) -> bool:
    """Whether `links` lead from `src` to `dst` through at least one node, all in `interior`
    (the edges of such a path are all added, or all removed, since they touch those nodes)."""
    stack = [n for n in links.get(src, ()) if n in interior]
    seen = set(stack)
    while stack:
        node = stack.pop()
        for nxt in links.get(node, ()):
            if nxt == dst:
                return True
            if nxt in interior and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _edge_key(e) -> EdgeKey:
    return EdgeKey(e.src, e.src_port, e.dst, e.dst_port)


def _edge_text(e: EdgeKey) -> str:
    src = e.src if e.src_port == "output" else f"{e.src}.{e.src_port}"
    dst = e.dst if e.dst_port == "input" else f"{e.dst}.{e.dst_port}"
    return f"{src} {ARROW} {dst}"


def _edge_json(e: EdgeKey) -> dict:
    return {"from": e.src, "from_port": e.src_port, "to": e.dst, "to_port": e.dst_port}


def _plain(value: Any) -> Any:
    """Tuples as lists, so (3, 3) and [3, 3] compare equal and write as JSON."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _fmt(value: Any) -> str:
    """A value in a label: as parameters are shown, lists of names joined by commas, sections
    as the file writes them."""
    if isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        try:
            return format_literal(value)
        except (TypeError, ValueError):
            return str(value)
    return format_value(value)
