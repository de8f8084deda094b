"""The doctor's fixes in the designer: `SessionEditor` makes a fix's edits through the session, so
each is an undo command, and `apply_fix` wraps them in one macro ("Fix: ...") that one Undo
reverts. A fix that cannot be made leaves the design as it was and no trace on the undo stack."""
from __future__ import annotations

from typing import Any

from runtime.doctor import Fix, apply_edits
from runtime.errors import GraphError, LayerLabError
from runtime.graph import Edge, GraphModel

from .session import DesignSession


class SessionEditor:
    """The `runtime.doctor.apply.Editor` protocol on a DesignSession: every edit is pushed on its
    undo stack (inside the caller's macro)."""

    def __init__(self, session: DesignSession):
        self.session = session

    @property
    def model(self) -> GraphModel:
        return self.session.model

    def add_node(self, type_id: str, params: dict[str, Any], pos: tuple[float, float],
                 network: str = "") -> str:
        return self.session.add_node(type_id, pos, params, network)

    def remove_node(self, node_id: str) -> None:
        if node_id not in self.session.model.nodes:
            raise GraphError(f"there is no node '{node_id}'")
        self.session.remove_nodes([node_id])

    def connect(self, src: str, dst: str, src_port: str, dst_port: str) -> None:
        refused = self.session.connect(src, dst, src_port, dst_port)
        if refused:
            raise GraphError(refused)

    def disconnect(self, edge: Edge) -> None:
        self.session.disconnect(edge)

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        self.session.set_param(node_id, name, value)

    def set_training(self, block: dict) -> None:
        self.session.set_training(block)


def apply_fix(session: DesignSession, fix: Fix) -> str | None:
    """Apply `fix` as one undo step named "Fix: <description>".

    Returns None when it was applied, else why not; then the design is unchanged and the undo
    stack holds no step for it (a partly made fix is undone and dropped).
    """
    stack = session.undo_stack
    before = stack.index()
    stack.beginMacro(f"Fix: {fix.description}")
    try:
        apply_edits(SessionEditor(session), fix.edits)
    except (LayerLabError, KeyError, ValueError, TypeError) as err:
        stack.endMacro()
        _drop_last_step(session, before)
        return str(err) or type(err).__name__
    stack.endMacro()
    if stack.index() == before + 1 and stack.command(before).childCount() == 0:
        _drop_last_step(session, before)  # nothing changed: no empty step on the stack
    return None


def _drop_last_step(session: DesignSession, before: int) -> None:
    """Undo the step pushed after index `before` and delete it from the stack (Qt deletes an
    obsolete command when it is redone), so Redo does not offer a fix that failed."""
    stack = session.undo_stack
    if stack.index() != before + 1:
        return
    stack.undo()
    stack.command(before).setObsolete(True)
    stack.redo()
