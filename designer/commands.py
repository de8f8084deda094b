"""Undo commands: each holds ids and values and calls only the GraphModel API.

Commands are pushed on a QUndoStack by `DesignSession`, which validates an edit before pushing it,
so `redo` never meets an edit the model refuses.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from runtime.graph import Edge, GraphModel, RemovedNode

SET_PARAM_ID = 1001


class AddNode(QUndoCommand):
    def __init__(self, model: GraphModel, type_id: str, params: dict, pos: tuple[float, float],
                 node_id: str, network: str = ""):
        super().__init__(f"Add {node_id}")
        self.model, self.type_id, self.params, self.pos, self.node_id = (
            model, type_id, dict(params), pos, node_id)
        self.network = network

    def redo(self) -> None:
        self.model.add_node(self.type_id, self.params, self.pos, self.node_id,
                            network=self.network)

    def undo(self) -> None:
        self.model.remove_node(self.node_id)


class RemoveNodes(QUndoCommand):
    """Remove nodes with their edges; undo puts every node and edge back where it was."""

    def __init__(self, model: GraphModel, node_ids: list[str]):
        super().__init__(f"Delete {', '.join(node_ids)}" if len(node_ids) < 4
                         else f"Delete {len(node_ids)} nodes")
        self.model, self.node_ids = model, list(node_ids)
        self.removed: list[RemovedNode] = []

    def redo(self) -> None:
        self.removed = [self.model.remove_node(node_id) for node_id in self.node_ids]

    def undo(self) -> None:
        for removed in reversed(self.removed):
            self.model.restore_node(removed)


class Connect(QUndoCommand):
    def __init__(self, model: GraphModel, edge: Edge, index: int | None = None):
        super().__init__(f"Connect {edge.src} → {edge.dst}")
        self.model, self.edge, self.index = model, edge, index

    def redo(self) -> None:
        self.model.connect(self.edge.src, self.edge.dst, self.edge.src_port, self.edge.dst_port,
                           index=self.index)

    def undo(self) -> None:
        self.model.disconnect(self.edge)


class Disconnect(QUndoCommand):
    def __init__(self, model: GraphModel, edge: Edge):
        super().__init__(f"Disconnect {edge.src} → {edge.dst}")
        self.model, self.edge = model, edge
        self.index = -1

    def redo(self) -> None:
        self.index = self.model.disconnect(self.edge)

    def undo(self) -> None:
        self.model.connect(self.edge.src, self.edge.dst, self.edge.src_port, self.edge.dst_port,
                           index=self.index)


class SetParam(QUndoCommand):
    """One parameter edit; consecutive edits of the same field merge into one undo step."""

    def __init__(self, model: GraphModel, node_id: str, name: str, old: Any, new: Any):
        super().__init__(f"Set {node_id}.{name}")
        self.model, self.node_id, self.name, self.old, self.new = model, node_id, name, old, new

    def id(self) -> int:
        return SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not isinstance(other, SetParam) or (other.node_id, other.name) != (self.node_id,
                                                                             self.name):
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.model.set_param(self.node_id, self.name, self.new)

    def undo(self) -> None:
        self.model.set_param(self.node_id, self.name, self.old)


class MoveNodes(QUndoCommand):
    """Move several nodes (one drag, or an auto-layout) as one step."""

    def __init__(self, model: GraphModel, moves: dict[str, tuple[tuple[float, float],
                                                                 tuple[float, float]]],
                 text: str = "Move"):
        super().__init__(text)
        self.model, self.moves = model, dict(moves)

    def redo(self) -> None:
        for node_id, (_, new) in self.moves.items():
            self.model.move(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _) in self.moves.items():
            self.model.move(node_id, old)


class SetTraining(QUndoCommand):
    """Replace the design's training block (edits from the training form merge by field)."""

    def __init__(self, model: GraphModel, old: dict, new: dict, text: str = "Edit training"):
        super().__init__(text)
        self.model, self.old, self.new = model, old, new

    def redo(self) -> None:
        self.model.training = self.new

    def undo(self) -> None:
        self.model.training = self.old


class SetMeta(QUndoCommand):
    """Rename the design or change its description or summary (`field`: "name", "description"
    or "summary")."""

    TEXTS = {"name": "Rename design", "description": "Edit description", "summary": "Edit summary"}

    def __init__(self, model: GraphModel, field: str, old: str, new: str):
        super().__init__(self.TEXTS[field])
        self.model, self.field, self.old, self.new = model, field, old, new

    def redo(self) -> None:
        setattr(self.model, self.field, self.new)

    def undo(self) -> None:
        setattr(self.model, self.field, self.old)


class SetNetwork(QUndoCommand):
    """Move nodes into networks (each node: old network, new network) as one step."""

    def __init__(self, model: GraphModel, changes: dict[str, tuple[str, str]], text: str):
        super().__init__(text)
        self.model, self.changes = model, dict(changes)

    def redo(self) -> None:
        for node_id, (_, new) in self.changes.items():
            self.model.set_network(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _) in self.changes.items():
            self.model.set_network(node_id, old)
