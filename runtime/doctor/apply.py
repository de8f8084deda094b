"""Applying a fix: its edits run against an `Editor`, so the same code edits a GraphModel here
(headless `doctor --fix`, the benchmark) and pushes undoable commands in the designer (one macro
per fix)."""
from __future__ import annotations

from typing import Any, Protocol

from ..document import from_dict, to_dict
from ..errors import GraphError
from ..graph import Edge, GraphModel
from ..training.config import with_setting
from .findings import Edit, Fix


class Editor(Protocol):
    """The primitive edits a fix is made of."""

    @property
    def model(self) -> GraphModel: ...

    def add_node(self, type_id: str, params: dict[str, Any], pos: tuple[float, float],
                 network: str = "") -> str: ...

    def remove_node(self, node_id: str) -> None: ...

    def connect(self, src: str, dst: str, src_port: str, dst_port: str) -> None: ...

    def disconnect(self, edge: Edge) -> None: ...

    def set_param(self, node_id: str, name: str, value: Any) -> None: ...

    def set_training(self, block: dict) -> None: ...


class ModelEditor:
    """Edits a GraphModel directly."""

    def __init__(self, model: GraphModel):
        self._model = model

    @property
    def model(self) -> GraphModel:
        return self._model

    def add_node(self, type_id: str, params: dict[str, Any], pos: tuple[float, float],
                 network: str = "") -> str:
        return self._model.add_node(type_id, params, pos, network=network).id

    def remove_node(self, node_id: str) -> None:
        self._model.remove_node(node_id)

    def connect(self, src: str, dst: str, src_port: str, dst_port: str) -> None:
        self._model.connect(src, dst, src_port, dst_port)

    def disconnect(self, edge: Edge) -> None:
        self._model.disconnect(edge)

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        self._model.set_param(node_id, name, value)

    def set_training(self, block: dict) -> None:
        self._model.training = block


def apply_edits(editor: Editor, edits: tuple[Edit, ...] | list[Edit]) -> dict[str, str]:
    """Run the edits in order; returns {old id: new id} for the nodes replaced. Raises GraphError
    (or ParamError) naming the edit when one cannot be made."""
    renamed: dict[str, str] = {}
    for edit in edits:
        node = renamed.get(edit.node, edit.node) if edit.node else None
        if node is not None and node not in editor.model.nodes:
            raise GraphError(f"the fix edits node '{edit.node}', which is not in the design")
        if edit.op == "set_param":
            editor.set_param(node, edit.name, edit.value)
        elif edit.op == "set_training":
            editor.set_training(with_setting(editor.model.training, edit.name, edit.value))
        elif edit.op == "replace_node":
            renamed[edit.node] = _replace(editor, node, edit.type, edit.params or {})
        elif edit.op == "remove_node":
            _bypass(editor, node)
        else:
            _insert_after(editor, node, edit.type, edit.params or {})
    return renamed


def _port(names: list[str], wanted: str) -> str:
    return wanted if wanted in names else names[0]


def _replace(editor: Editor, node_id: str, type_id: str, params: dict[str, Any]) -> str:
    """Swap a node for one of another type at the same place, with the same connections."""
    model = editor.model
    old = model.node(node_id)
    spec = model.registry.get(type_id)
    ins = [p.name for p in spec.inputs]
    outs = [p.name for p in spec.outputs]
    edges = [e for e in model.edges if node_id in (e.src, e.dst)]
    if any(e.dst == node_id for e in edges) and not ins or \
            any(e.src == node_id for e in edges) and not outs:
        raise GraphError(f"{spec.title} cannot take the place of '{node_id}' (ports differ)")
    editor.remove_node(node_id)
    new_id = editor.add_node(spec.type_id, params, old.pos, old.network)
    for e in edges:
        if e.dst == node_id:
            editor.connect(e.src, new_id, e.src_port, _port(ins, e.dst_port))
        else:
            editor.connect(new_id, e.dst, _port(outs, e.src_port), e.dst_port)
    return new_id


def _insert_after(editor: Editor, node_id: str, type_id: str, params: dict[str, Any]) -> str:
    """Put a new node between `node_id` and everything it feeds."""
    model = editor.model
    spec = model.registry.get(type_id)
    if not spec.inputs or not spec.outputs:
        raise GraphError(f"{spec.title} cannot be inserted after '{node_id}'")
    out_edges = [e for e in model.edges if e.src == node_id]
    x, y = model.node(node_id).pos
    new_id = editor.add_node(spec.type_id, params, (x + 40.0, y + 40.0),
                             model.node(node_id).network)  # in the network it joins
    port = out_edges[0].src_port if out_edges else model.spec(node_id).outputs[0].name
    for e in out_edges:
        editor.disconnect(e)
        editor.connect(new_id, e.dst, spec.outputs[0].name, e.dst_port)
    editor.connect(node_id, new_id, port, spec.inputs[0].name)
    return new_id


def _bypass(editor: Editor, node_id: str) -> None:
    """Take a one-input node out of its chain: what fed it feeds its consumers."""
    model = editor.model
    ins = [e for e in model.edges if e.dst == node_id]
    outs = [e for e in model.edges if e.src == node_id]
    if len(ins) != 1:
        raise GraphError(f"'{node_id}' has {len(ins)} inputs, so it cannot simply be taken out")
    editor.remove_node(node_id)
    for e in outs:
        editor.connect(ins[0].src, e.dst, ins[0].src_port, e.dst_port)


def apply_fix(design: GraphModel, fix: Fix) -> GraphModel:
    """A copy of `design` with the fix applied (the original is untouched)."""
    copy = from_dict(to_dict(design), design.registry)
    apply_edits(ModelEditor(copy), fix.edits)
    return copy
