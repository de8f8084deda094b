"""Typed errors and the problem record every check in LayerLab returns.

Errors are values with an address: a `Problem` names the node (when there is one), the place in the
design file (a JSON path such as ``nodes[2].params.kernel_size``, plus a line when known) and a
message that says what to change.
"""
from __future__ import annotations

import re

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a design or design file.

    Attributes:
        message: What is wrong and, where possible, how to fix it.
        node: The id of the node it concerns, or None.
        location: JSON path inside the design file (``nodes[2].params.p``), or "" for the whole file.
        line: 1-based line in the file where the location starts, when known.
        severity: "error" blocks compiling and training; "warning" is legal but probably a mistake.
    """

    message: str
    node: str | None = None
    location: str = ""
    line: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.location:
            where.append(self.location)
        if self.node is not None:
            where.append(f"node '{self.node}'")
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{self.severity}: {self.message}"

    def as_dict(self) -> dict:
        """JSON-ready form: the ``errors`` entries of ``summary --json``."""
        return {"node": self.node, "location": self.location, "line": self.line,
                "severity": self.severity, "message": self.message}


class LayerLabError(Exception):
    """Base class of every error LayerLab raises on purpose."""


class RegistryError(LayerLabError):
    """A layer type was declared twice, or looked up under a name nobody declared."""


class ParamError(LayerLabError):
    """A parameter value has the wrong type or is out of range.

    Attributes:
        param: The parameter's name.
    """

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


class ShapeError(LayerLabError):
    """Raised by a shape rule when a layer cannot accept its inputs; the message says what to change."""


class GraphError(LayerLabError):
    """An edit the graph model refuses (unknown node, occupied port, cycle, ...)."""


class DesignFileError(LayerLabError):
    """A design file could not be loaded; `problems` lists every reason, each with its location."""

    def __init__(self, problems: list[Problem], path: str | None = None):
        self.problems = list(problems)
        self.path = path
        head = f"{path}: " if path else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s) in the design file:\n{lines}")


class CompileError(LayerLabError):
    """The design has errors, so it cannot be turned into a PyTorch module."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"the design has {len(self.problems)} error(s):\n{lines}")


class ExportError(LayerLabError):
    """Exporting a design failed (bad class name, generated code that does not parse, ...)."""


class DatasetError(LayerLabError):
    """A dataset cannot be built or read: missing file, wrong column, mismatched lengths, ..."""


class TrainingConfigError(LayerLabError):
    """The design's training block is invalid; `problems` lists each bad field with its location."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the training settings:\n{lines}")


class TrainingError(LayerLabError):
    """A run failed: NaN/Inf, out of memory, a shape mismatch between data and design, ...

    Attributes:
        kind: "nan", "oom", "data", "design" or "crash".
        node: The node where the problem appeared, when known.
    """

    def __init__(self, message: str, kind: str = "crash", node: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.node = node


class PeerLost(TrainingError):
    """This rank stopped because another rank of the run failed or vanished: the launcher
    reports that rank's error, not this consequence."""

    def __init__(self, cause: BaseException):
        # gloo's text: "[.../pair.cc:553] Connection closed by peer [ip]:port. This is ..."
        text = re.sub(r"^\[[^\]]*\]\s*", "", str(cause).splitlines()[0] if str(cause) else "")
        super().__init__("another process of this run failed or was stopped, so this one "
                         f"stopped too ({text.split('. This is')[0] or type(cause).__name__})",
                         "crash")
