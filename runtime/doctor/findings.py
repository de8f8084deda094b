"""A finding is data: what is wrong, where (a node or a training field), why, the numbers that show
it, and fixes that are design edits. The doctor's rules make them; the CLI prints them, the trainer
streams them as `diagnosis` events and the designer lists them and applies their fixes."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("error", "warning", "info")
#: The design edits a fix can make (see apply.py).
EDIT_OPS = ("set_param", "replace_node", "insert_after", "remove_node", "set_training")


@dataclass(frozen=True)
class Edit:
    """One design edit.

    Attributes:
        op: One of `EDIT_OPS`.
        node: The node edited (set_param, replace_node, insert_after, remove_node: the node is
            taken out and what fed it feeds its consumers).
        name: The parameter (set_param) or the training-block path such as "optimizer.lr"
            (set_training).
        value: The new value (set_param, set_training).
        type: The layer type of the new node (replace_node, insert_after).
        params: Its parameters; the rest take their defaults.
    """

    op: str
    node: str | None = None
    name: str | None = None
    value: Any = None
    type: str | None = None
    params: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.op not in EDIT_OPS:
            raise ValueError(f"unknown edit '{self.op}'")

    def describe(self) -> str:
        """The edit in words, for fix previews and undo-menu texts."""
        shown = ", ".join(f"{k} {v}" for k, v in (self.params or {}).items())
        shown = f" ({shown})" if shown else ""
        if self.op == "set_param":
            return f"{self.node}: {self.name} = {self.value!r}"
        if self.op == "replace_node":
            return f"{self.node} -> {self.type}{shown}"
        if self.op == "insert_after":
            return f"insert {self.type}{shown} after {self.node}"
        if self.op == "remove_node":
            return f"remove {self.node} (its input goes straight on)"
        return f"training.{self.name} = {self.value!r}"

    def to_json(self) -> dict:
        return {k: v for k, v in (("op", self.op), ("node", self.node), ("name", self.name),
                                  ("value", self.value), ("type", self.type),
                                  ("params", self.params)) if v is not None}

    @classmethod
    def from_json(cls, data: dict) -> "Edit":
        return cls(**{k: data.get(k) for k in ("op", "node", "name", "value", "type", "params")})


@dataclass(frozen=True)
class Fix:
    """A remedy: a short description and the edits that implement it (applied as one step)."""

    description: str
    edits: tuple[Edit, ...]

    def to_json(self) -> dict:
        return {"description": self.description, "edits": [e.to_json() for e in self.edits]}

    @classmethod
    def from_json(cls, data: dict) -> "Fix":
        return cls(data["description"], tuple(Edit.from_json(e) for e in data["edits"]))


@dataclass(frozen=True)
class Finding:
    """One diagnosis.

    Attributes:
        code: A key of `rules.RULES` (stable, documented in docs/doctor.md).
        severity: "error" (the run cannot work), "warning" (it trains badly) or "info".
        title: One line naming the problem and the place.
        explanation: 2-4 sentences a learner understands: what happens, why, what the numbers
            show.
        node: The guilty node's id, when the problem sits in the network.
        field: The training-block path ("training.optimizer.lr"), when it sits in the settings.
        evidence: The measured values and the thresholds they crossed.
        fixes: Remedies, the most likely to help first.
        step: The training step it was found at (None before training).
        stage: "static", "preflight" or "live": where it was found.
    """

    code: str
    severity: str
    title: str
    explanation: str
    node: str | None = None
    field: str | None = None
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)
    fixes: tuple[Fix, ...] = ()
    step: int | None = None
    stage: str = "static"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"finding {self.code}: unknown severity '{self.severity}'")
        if self.node is None and self.field is None:
            raise ValueError(f"finding {self.code}: needs a node or a field")

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """What makes two findings the same one (updated rather than repeated)."""
        return (self.code, self.node, self.field)

    @property
    def where(self) -> str:
        return self.node or self.field or ""

    def to_json(self) -> dict:
        return {"code": self.code, "severity": self.severity, "title": self.title,
                "explanation": self.explanation, "node": self.node, "field": self.field,
                "evidence": self.evidence, "fixes": [f.to_json() for f in self.fixes],
                "step": self.step, "stage": self.stage}

    @classmethod
    def from_json(cls, data: dict) -> "Finding":
        return cls(data["code"], data["severity"], data["title"], data["explanation"],
                   data.get("node"), data.get("field"), dict(data.get("evidence") or {}),
                   tuple(Fix.from_json(f) for f in data.get("fixes") or ()), data.get("step"),
                   data.get("stage", "static"))
