"""Tracing a module with torch.fx, remembering where each call is in the user's source.

fx stops at the first data-dependent `if`; this tracer notes it and carries on, so the refusal can
list every one of them.
"""
from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from .table import is_leaf

_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_HERE = str(Path(__file__).resolve().parent)
LOCATION = "layerlab_location"


@dataclass(frozen=True)
class Location:
    """A line of the user's source: file, line number and the code on it."""

    file: str
    line: int
    code: str

    def describe(self) -> str:
        code = f" (`{self.code}`)" if self.code else ""
        return f"{os.path.basename(self.file)} line {self.line}{code}"


def user_location() -> Location | None:
    """The innermost frame of the current stack that is neither torch's nor the importer's."""
    for frame in reversed(traceback.extract_stack()):
        name = str(frame.filename)
        if name.startswith(_TORCH_DIR) or name.startswith(_HERE) or name.startswith("<frozen"):
            continue
        return Location(name, frame.lineno or 0, (frame.line or "").strip())
    return None


def where(node: fx.Node) -> str:
    location = node.meta.get(LOCATION)
    return location.describe() if location else f"fx node {node.name}"


#: What torch.fx's own errors mean in a model, and what to write instead: (a pattern of the
#: error's message, the explanation the refusal gives in its place).
TRACE_ADVICE: tuple[tuple[str, str], ...] = (
    (r"'Proxy' object cannot be interpreted as an integer",
     "a Python loop or range over a size of the input (x.shape[1]): a fixed graph of layers "
     "cannot repeat a step a number of times read from the input; a recurrence over the time "
     "steps is one nn.LSTM, nn.GRU or nn.RNN (batch_first=True) over the whole sequence"),
    (r"^(zeros|ones|empty|full|rand|randn)\(\) takes",
     "a tensor made in forward from a size of the input (a state torch.zeros(x.size(0), "
     "...) for a hand-written step): a design makes no tensors of its own; nn.LSTM, nn.GRU and "
     "nn.RNN start from zeros when called without a state (self.lstm(x))"),
    (r"'len' is not supported",
     "len() of a tensor in forward: the model is traced with a batch of any size, so forward "
     "must take batches (batch_first=True; x.view(x.size(0), -1), not len())"),
    (r"slice indices must be integers",
     "a slice whose length is read from the input (self.pe[:, :x.size(1)]): a table the model "
     "keeps cannot be cut to the input's length in a fixed graph; LayerLab's "
     "PositionalEncoding layer adds positions: import the model without its own and add that "
     "layer in the designer"),
)


def explained(err: BaseException) -> str:
    """The first line of a tracing error, with what it means in the model where it is one of
    `TRACE_ADVICE`'s (fx's own wording suggests fixes, such as torch.fx.wrap, that do not
    make a model importable)."""
    import re

    first = str(err).splitlines()[0] if str(err) else ""
    for pattern, meaning in TRACE_ADVICE:
        if re.search(pattern, first):
            return meaning
    return f"{type(err).__name__}: {first}"


class LoopStop(fx.proxy.TraceError):
    """Tracing stopped at a loop on a traced value (reported as a branch, not an error)."""


class Tracer(fx.Tracer):
    """Keeps the table's modules whole and notes the source line of every call.

    Attributes:
        branches: Where the forward branched on a traced value (data-dependent control flow).
        loops: Those of them that came round again (a `while`); tracing stops at the first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.branches: list[Location | None] = []
        self.loops: list[Location | None] = []

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf(m) or super().is_leaf_module(m, module_qualified_name)

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        node.meta[LOCATION] = user_location()
        return node

    def to_bool(self, obj: fx.Proxy) -> bool:
        # note the branch and follow the `if` side, to find the branches after it too; a
        # `while` on a traced value would follow that side for ever: stop at the second pass
        location = user_location()
        if location in self.branches:
            self.loops.append(location)
            raise LoopStop("a loop whose condition is computed from the input")
        self.branches.append(location)
        return True


class Recorder(fx.Interpreter):
    """Runs a traced module and keeps a copy of every node's value (a copy: an in-place ReLU
    after a BatchNorm would otherwise change what the BatchNorm's value reads)."""

    def __init__(self, module: fx.GraphModule):
        super().__init__(module)
        self.kept: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.kept[n] = _copy(result)
        return result

    def values(self, *inputs: torch.Tensor) -> dict[fx.Node, Any]:
        self.kept = {}
        with torch.no_grad():
            self.run(*inputs)
        return self.kept


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
