"""The design file: JSON text <-> GraphModel, with validation, migration and atomic saves.

Loading collects every problem (with its JSON location, line and node) before giving up, so a user
fixing a file by hand sees them all at once. See docs/design-format.md for the format.
"""
from __future__ import annotations

import glob
import json
import math
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import networkx as nx
from json_source_map import calculate as source_map

from .edge_rules import PORT_KEYS, edge_problem, resolve_port
from .errors import DesignFileError, GraphError, Problem
from .graph import Edge, GraphModel, Node, network_problem
from .names import did_you_mean, identifier_problem
from .registry import REGISTRY, LayerRegistry
from .specs import LayerSpec

FORMAT = "layerlab.design"
#: Larger files are refused unread (a 10,000-node design is about 3 MB).
MAX_DESIGN_BYTES = 256 * 1024**2
CURRENT_VERSION = 3
#: Version 3 added the nodes' `network`. A design without networks is still written at version 2,
#: which says all it holds: its file stays byte-identical and older LayerLabs keep opening it.
NETWORKS_VERSION = 3


def _v1_weight_init(data: dict) -> dict:
    """Version 2 renamed the weight-initialisation parameter `init` to `weight_init`: `init`
    collided with PyTorch's own constructor arguments (``nn.PReLU(init=...)``). Same meaning."""
    nodes = data.get("nodes")
    for node in nodes if isinstance(nodes, list) else ():
        params = node.get("params") if isinstance(node, dict) else None
        if isinstance(params, dict) and "init" in params and "weight_init" not in params:
            params["weight_init"] = params.pop("init")
    return data


def _v2_networks(data: dict) -> dict:
    """Version 3 lets a node name its network (`network`); every node of an older file sits in
    the main network, which is what a node without the key means. Nothing to change."""
    return data


#: Upgrade steps: MIGRATIONS[n] turns a version-n document into a version n+1 document.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_weight_init, 2: _v2_networks}

_TOP_KEYS = ("format", "version", "name", "description", "summary", "nodes", "edges", "training")
_NODE_KEYS = ("id", "type", "params", "pos", "network")
_EDGE_KEYS = ("from", "to", "from_port", "to_port")

Path_ = tuple[Any, ...]


def location(path: Path_) -> str:
    """Render a JSON path such as ("nodes", 2, "params") as ``nodes[2].params``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Problems:
    """Collects problems while a document is checked."""

    def __init__(self) -> None:
        self.items: list[tuple[Path_, str, str | None]] = []

    def add(self, path: Path_, message: str, node: str | None = None) -> None:
        self.items.append((path, message, node))

    def to_problems(self, text: str | None) -> list[Problem]:
        lines = _line_finder(text)
        return [Problem(message, node, location(path), lines(path)) for path, message, node
                in self.items]


def _line_finder(text: str | None) -> Callable[[Path_], int | None]:
    """Map a JSON path to the 1-based line of its value in `text` (the closest existing parent)."""
    if not text:
        return lambda path: None
    try:
        entries = source_map(text)
    except Exception:  # the source map is a nicety; never let it hide the real problems
        return lambda path: None

    def find(path: Path_) -> int | None:
        parts = list(path)
        while True:
            pointer = "".join(f"/{p}" for p in parts)
            if pointer in entries:
                entry = entries[pointer]
                start = entry.key_start or entry.value_start
                return start.line + 1
            if not parts:
                return None
            parts.pop()
    return find


def migrate(data: dict) -> dict:
    """Upgrade a document of any known version to `CURRENT_VERSION`, one step per version."""
    version = data["version"]
    while version < CURRENT_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["version"] = version
    return data


def loads(text: str, registry: LayerRegistry = REGISTRY, source: str | None = None) -> GraphModel:
    """Parse and validate design-file text; raise `DesignFileError` listing every problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DesignFileError([Problem(f"not valid JSON: {err.msg} (line {err.lineno}, column "
                                       f"{err.colno})", line=err.lineno)], source) from None
    except RecursionError:
        raise DesignFileError([Problem("the JSON nests lists or objects too deeply to be a "
                                       "design file")], source) from None
    except ValueError as err:  # e.g. an integer literal of thousands of digits
        raise DesignFileError([Problem(f"not a usable JSON document: {err}")], source) from None
    return _validated(data, registry, text, source)


def load(path: str | os.PathLike, registry: LayerRegistry = REGISTRY) -> GraphModel:
    """Read a design file; raise `DesignFileError` when it cannot be read or is invalid."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read (and the window) forever
            raise DesignFileError([Problem("cannot read the file: it is not a regular file (a "
                                           "folder, pipe or device)")], str(path))
        if info.st_size > MAX_DESIGN_BYTES:
            raise DesignFileError([Problem(f"cannot read the file: it is {info.st_size:,} bytes, "
                                           f"more than a design file can be "
                                           f"({MAX_DESIGN_BYTES:,})")], str(path))
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise DesignFileError([Problem(f"cannot read the file: {reason}")], str(path)) from None
    return loads(text, registry, str(path))


def from_dict(data: Any, registry: LayerRegistry = REGISTRY) -> GraphModel:
    """Validate an already-parsed document (e.g. from a preset or a clipboard)."""
    return _validated(data, registry, None, None)


def _validated(data: Any, registry: LayerRegistry, text: str | None,
               source: str | None) -> GraphModel:
    """The one place a parsed document becomes a model or a located, typed error: whatever the
    checks below miss (a value too large or too deep to handle) is still a DesignFileError."""
    problems = _Problems()
    try:
        _check_strings(data, problems)
        model = None if problems.items else _from_data(data, registry, problems)
    except (RecursionError, ValueError, TypeError, OverflowError, MemoryError) as err:
        problems.add((), f"the design file holds a value LayerLab cannot handle "
                     f"({type(err).__name__}: {_short(str(err))})")
        model = None
    if problems.items:
        raise DesignFileError(problems.to_problems(text), source)
    return model


def to_dict(model: GraphModel) -> dict:
    """The document of `model`, ready for json.dumps."""
    nodes = [node_dict(n) for n in model.nodes.values()]
    edges = []
    for e in model.edges:
        item: dict[str, str] = {"from": e.src, "to": e.dst}
        if len(model.spec(e.src).outputs) > 1:
            item["from_port"] = e.src_port
        if len(model.spec(e.dst).inputs) > 1:
            item["to_port"] = e.dst_port
        edges.append(item)
    data = {"format": FORMAT, "version": written_version(model.nodes.values()), "name": model.name,
            "description": model.description}
    # only when set: a design without one keeps its bytes, and older LayerLabs (which refuse
    # unknown keys) keep opening it
    if model.summary:
        data["summary"] = model.summary
    return {**data, "nodes": nodes, "edges": edges, "training": model.training}


def node_dict(node: Node) -> dict:
    """A node as the file writes it; `network` only when it is not the main one."""
    item = {"id": node.id, "type": node.type, "params": node.params, "pos": list(node.pos)}
    if node.network:
        item["network"] = node.network
    return item


def written_version(nodes: Iterable[Node]) -> int:
    """The oldest format version that holds these nodes (see NETWORKS_VERSION)."""
    return NETWORKS_VERSION if any(n.network for n in nodes) else 2


def dumps(model: GraphModel) -> str:
    """The design-file text of `model`."""
    return json.dumps(to_dict(model), indent=2) + "\n"


def save(model: GraphModel, path: str | os.PathLike) -> None:
    """Write `model` atomically: a temporary file in the same folder, then a rename over `path`.

    A crash or a full disk leaves the previous file intact.
    """
    write_atomic(path, dumps(model))


#: A temporary file of an atomic write older than this was left by a save that was killed.
STALE_TEMP_S = 600.0


def temp_beside(target: Path) -> str:
    """A new temporary file next to `target` for writing it atomically (the caller renames it
    over `target`); first removes what killed saves of `target` left there."""
    folder = target.parent if str(target.parent) else Path(".")
    cutoff = time.time() - STALE_TEMP_S
    for stale in folder.glob(f".{glob.escape(target.name)}.*.tmp"):
        try:
            if stale.is_file() and stale.stat().st_mtime < cutoff:  # not a save under way
                stale.unlink()
        except OSError:
            continue  # a leftover we cannot remove is no reason to refuse this save
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    return tmp


def replace_atomically(path: str | os.PathLike, save: Callable[[str], object]) -> Path:
    """`save(tmp)` writes a temporary file beside `path`, which then replaces it: readers see the
    old or the new file, never half of one, and a failure leaves the old file and no temporary.
    The new file keeps the old one's permissions (else a plain new file's), not mkstemp's 0600."""
    target = Path(path)
    tmp = temp_beside(target)
    try:
        save(tmp)
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Replace `path` with `text` so that readers see either the old or the new file, never half."""
    def save(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    replace_atomically(path, save)


def _mode_for(target: Path) -> int:
    """The existing file's permission bits, or what a plain new file would get under the umask."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def with_lines(problems: list[Problem], text: str | None) -> list[Problem]:
    """Give problems located by JSON path (``training.optimizer.lr``) the line of that place."""
    lines = _line_finder(text)
    out = []
    for p in problems:
        if p.location and p.line is None:
            path = tuple(int(part) if part.isdigit() else part
                         for part in re.findall(r"[^.\[\]]+", p.location))
            p = Problem(p.message, p.node, p.location, lines(path), p.severity)
        out.append(p)
    return out


def node_problem_locations(model: GraphModel, problems: list[Problem],
                           text: str | None = None) -> list[Problem]:
    """Give node-level problems (from shape inference) their ``nodes[i]`` location and line."""
    index = {node_id: i for i, node_id in enumerate(model.nodes)}
    lines = _line_finder(text)
    out = []
    for p in problems:
        if p.node in index and not p.location:
            path = ("nodes", index[p.node])
            p = Problem(p.message, p.node, location(path), lines(path), p.severity)
        out.append(p)
    return out


# --- validation ------------------------------------------------------------------------------
def _from_data(data: Any, registry: LayerRegistry, problems: _Problems) -> GraphModel | None:
    if not isinstance(data, dict):
        problems.add((), f"a design file must be a JSON object, not {_json_type(data)}")
        return None
    if data.get("format") != FORMAT:
        problems.add(("format",), f"'format' must be '{FORMAT}' (got {data.get('format')!r}): "
                     "this is not a LayerLab design file")
        return None
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.add(("version",), f"'version' must be a positive integer, got {version!r}")
        return None
    if version > CURRENT_VERSION:
        problems.add(("version",), f"this design was written by a newer LayerLab (format version "
                     f"{version}); this one reads versions up to {CURRENT_VERSION}: update LayerLab")
        return None
    data = migrate(dict(data))
    for key in data:
        if key not in _TOP_KEYS:
            problems.add((key,), f"unknown key '{key}'{did_you_mean(key, list(_TOP_KEYS))}")
    meta = {}
    for key, default, kind in (("name", "Untitled", str), ("description", "", str),
                               ("summary", "", str), ("training", {}, dict)):
        value = data.get(key, default)
        if not isinstance(value, kind):
            problems.add((key,), f"'{key}' must be {'a string' if kind is str else 'an object'}, "
                         f"not {_json_type(value)}")
        meta[key] = value
    if isinstance(meta["summary"], str) and "\n" in meta["summary"]:
        problems.add(("summary",), "'summary' must be one line (the description holds the rest)")
    declared: dict[str, LayerSpec | None] = {}
    nodes = _check_nodes(data.get("nodes"), registry, problems, declared)
    edges = _check_edges(data.get("edges", []), declared, problems)
    if problems.items:
        return None
    model = GraphModel(registry, meta["name"], meta["description"], meta["training"],
                       meta["summary"])
    model._bulk_load(list(nodes.values()), [edge for _, edge in edges])
    return model


def _check_nodes(raw: Any, registry: LayerRegistry, problems: _Problems,
                 declared: dict[str, LayerSpec | None]) -> dict[str, Node]:
    """Valid nodes by id; `declared` receives every well-formed id with its spec (None when the
    type is unknown), so edges to a node with a bad param are not reported a second time."""
    nodes: dict[str, Node] = {}
    if not isinstance(raw, list):
        problems.add(("nodes",), "'nodes' must be a list of node objects"
                     if raw is not None else "the file has no 'nodes' list")
        return nodes
    first_seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        path = ("nodes", i)
        if not isinstance(item, dict):
            problems.add(path, f"each node must be an object, not {_json_type(item)}")
            continue
        node_id = item.get("id")
        for key in item:
            if key not in _NODE_KEYS:
                problems.add(path + (key,), f"unknown key '{key}' in a node"
                             f"{did_you_mean(key, list(_NODE_KEYS))}", _str(node_id))
        id_problem = identifier_problem(node_id) if "id" in item else "the node has no 'id'"
        if id_problem:
            problems.add(path + ("id",), id_problem, _str(node_id))
            continue
        if node_id in first_seen:
            problems.add(path + ("id",), f"duplicate node id '{node_id}' (first used by "
                         f"nodes[{first_seen[node_id]}])", node_id)
            continue
        first_seen[node_id] = i
        type_id = item.get("type")
        declared[node_id] = None
        if not isinstance(type_id, str) or type_id not in registry:
            message = ("the node has no 'type'" if type_id is None else
                       f"unknown layer type {type_id!r}"
                       f"{registry.suggestion(type_id) if isinstance(type_id, str) else ''}")
            problems.add(path + ("type",), message, node_id)
            continue
        spec = declared[node_id] = registry.get(type_id)
        params = _check_params(item.get("params", {}), spec, path, node_id, problems)
        pos = item.get("pos", [0.0, 0.0])
        if not _is_position(pos):
            problems.add(path + ("pos",), f"'pos' must be [x, y] finite numbers, got "
                         f"{_short(repr(pos))}", node_id)
            pos = [0.0, 0.0]
        network = item.get("network", "")
        problem = network_problem(network)
        if problem or network == "" and "network" in item:
            problems.add(path + ("network",), problem or "'network' must not be empty: leave the "
                         "key out for the main network", node_id)
            continue
        if params is not None:
            nodes[node_id] = Node(node_id, spec.type_id, params, (float(pos[0]), float(pos[1])),
                                  network)
    return nodes


def _check_params(raw: Any, spec: LayerSpec, path: Path_, node_id: str,
                  problems: _Problems) -> dict | None:
    if not isinstance(raw, dict):
        problems.add(path + ("params",), f"'params' must be an object, not {_json_type(raw)}",
                     node_id)
        return None
    values, errors = spec.check_params(raw)
    for err in errors:
        problems.add(path + ("params", err.param), str(err), node_id)
    return None if errors else values


def _check_edges(raw: Any, declared: dict[str, LayerSpec | None],
                 problems: _Problems) -> list[tuple[int, Edge]]:
    """The valid edges, each with its index in the file.

    Edges are checked in file order by the rules GraphModel applies to each edge it is given
    (`runtime.edge_rules`), so a refusal reads the same in both, and a cycle is reported at the
    edge that closes it.
    """
    if not isinstance(raw, list):
        problems.add(("edges",), "'edges' must be a list of edge objects")
        return []
    edges: list[tuple[int, Edge]] = []
    graph = nx.MultiDiGraph()
    fed: dict[tuple[str, str], str] = {}  # (node, input port) -> the node feeding it
    for i, item in enumerate(raw):
        path = ("edges", i)
        if not isinstance(item, dict):
            problems.add(path, f"each edge must be an object, not {_json_type(item)}")
            continue
        for key in item:
            if key not in _EDGE_KEYS:
                problems.add(path + (key,), f"unknown key '{key}' in an edge"
                             f"{did_you_mean(key, list(_EDGE_KEYS))}")
        ends = {}
        for key, side in (("from", "output"), ("to", "input")):
            node_id = item.get(key)
            port = item.get(PORT_KEYS[side])
            if not isinstance(node_id, str):
                problems.add(path + (key,), f"the edge needs '{key}': the id of a node")
            elif node_id not in declared:
                problems.add(path + (key,), f"edge {key} missing node '{node_id}'"
                             f"{did_you_mean(node_id, list(declared))}")
            elif declared[node_id] is not None:
                try:
                    ends[key] = (node_id, resolve_port(node_id, declared[node_id], side, port))
                except GraphError as err:
                    problems.add(path + (PORT_KEYS[side] if port is not None else key,),
                                 str(err), node_id)
        if len(ends) < 2:
            continue
        (src, src_port), (dst, dst_port) = ends["from"], ends["to"]
        message = edge_problem(graph, src, dst, declared[dst].input_port(dst_port),
                               fed.get((dst, dst_port)))
        if message:
            problems.add(path + ("to",), message, dst)
            continue
        fed.setdefault((dst, dst_port), src)
        graph.add_edge(src, dst)
        edges.append((i, Edge(src, dst, src_port, dst_port)))
    return edges


def _is_position(pos: Any) -> bool:
    if not isinstance(pos, list) or len(pos) != 2:
        return False
    for v in pos:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        try:
            if not math.isfinite(float(v)):
                return False
        except OverflowError:  # an integer too large for a float
            return False
    return True


def _check_strings(data: Any, problems: _Problems) -> None:
    """Every string (keys too) must be real text: JSON's "\\ud800" escape makes a lone surrogate,
    which no file or terminal can write. Walked without recursion, so any depth is fine."""
    stack: list[tuple[Path_, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not _encodable(key):
                    problems.add(path, f"a key {_short(ascii(key))} holds a lone UTF-16 "
                                 "surrogate, which is not text: remove it")
                stack.append((path + (key,), item))
        elif isinstance(value, list):
            stack.extend((path + (i,), item) for i, item in enumerate(value))
        elif isinstance(value, str) and not _encodable(value):
            problems.add(path, f"{_short(ascii(value))} holds a lone UTF-16 surrogate, which is "
                         "not text: remove it")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), "a value")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
