"""Import an existing PyTorch model into editable nodes (`main.py import`, File > Import PyTorch
Model).

The module is traced with torch.fx; every call to a known layer or function becomes a node of the
catalogue by the one table in `table.py`; the design is checked against the module (shapes,
parameter counts, outputs with the module's weights) before it is handed back. What cannot be
expressed is refused with every offending call and its source line; nothing is half-imported.

Loading a model file executes it: it is the user's own code, run as `python FILE.py` would.
"""
from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..errors import LayerLabError

if TYPE_CHECKING:
    from torch import fx, nn

    from ..graph import GraphModel

__all__ = ["ImportResult", "InputSpec", "TorchImportError", "import_file", "import_module",
           "load_class", "model_classes", "parse_args", "parse_input", "read_weights"]

DTYPES = ("float32", "int64")
#: The tracing batch (the check runs another, verify.CHECK_BATCH).
TRACE_BATCH = 2


class TorchImportError(LayerLabError):
    """The module cannot be imported; `problems` lists every reason, each with its source line."""

    def __init__(self, headline: str, problems: list[str]):
        self.headline = headline
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{headline}\n{lines}" if problems else headline)


@dataclass(frozen=True)
class InputSpec:
    """One input of forward: its shape without the batch dimension, and its element type."""

    shape: tuple[int, ...]
    dtype: str = "float32"


def parse_input(text: str) -> InputSpec:
    """"1,28,28" or "12:int64" (token ids for an Embedding); ValueError saying what is wrong."""
    shape_text, _, dtype = text.strip().partition(":")
    dtype = dtype.strip() or "float32"
    if dtype not in DTYPES:
        raise ValueError(f"input type '{dtype}' must be one of {', '.join(DTYPES)}")
    try:
        shape = tuple(int(s) for s in shape_text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise ValueError(f"input shape '{text}' must be sizes separated by commas, e.g. "
                         "1,28,28 (without the batch dimension)") from None
    if not shape or min(shape) < 1:
        raise ValueError(f"input shape '{text}' needs one or more positive sizes, e.g. 1,28,28 "
                         "(without the batch dimension)")
    return InputSpec(shape, dtype)


def parse_args(text: str | Sequence[str] | None) -> tuple[list, dict]:
    """Constructor arguments: a JSON object (keywords), a JSON list (positional), or key=value
    pairs whose values are read as JSON, else as text. ValueError when unreadable."""
    if text is None:
        return [], {}
    items = [text] if isinstance(text, str) else list(text)
    args: list = []
    kwargs: dict = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        if item[0] in "[{":
            try:
                value = json.loads(item)
            except json.JSONDecodeError as err:
                raise ValueError(f"constructor arguments {item!r} are not valid JSON: "
                                 f"{err.msg}") from None
            if isinstance(value, list):
                args.extend(value)
            else:
                kwargs.update(value)
            continue
        # pairs are split at commas that start a new name= (a list value keeps its commas)
        for pair in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", item):
            key, eq, raw = pair.partition("=")
            if not eq or not key.strip().isidentifier():
                raise ValueError(f"constructor argument {pair!r} must be name=value, a JSON "
                                 "object or a JSON list")
            try:
                kwargs[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                kwargs[key.strip()] = raw
    return args, kwargs


@dataclass
class ImportResult:
    """An imported model.

    Attributes:
        design: The design, auto-laid out.
        model: The design compiled, with the module's weights: it computes what the module does.
        notes: Things worth knowing that did not stop the import (weights left out, settings
            that only shape training).
    """

    design: "GraphModel"
    model: "fx.GraphModule"
    notes: list[str] = field(default_factory=list)

    def checkpoint(self) -> dict:
        """The weights as a LayerLab checkpoint (what `train --init-from` and inference load)."""
        from ..document import to_dict
        from ..training.checkpoints import CHECKPOINT_FORMAT

        return {"format": CHECKPOINT_FORMAT, "version": 1, "design": to_dict(self.design),
                "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()}}

    def keep_weights(self, path: str | Path, relative_to: str | Path | None = None) -> None:
        """Write the weights as a checkpoint to `path` (atomically) and make them the design's
        starting weights (its training setting init_from), so training goes on from them.
        The setting names the file relative to `relative_to` (the design's folder) when given."""
        from ..training.checkpoints import save_checkpoint

        path = Path(path)
        save_checkpoint(self.checkpoint(), path)
        value = str(path.resolve())
        if relative_to is not None:
            try:
                folder = Path(relative_to).resolve()
                value = Path(os.path.relpath(path.resolve(), folder)).as_posix()
            except ValueError:  # another drive (Windows): keep the absolute path
                pass
        self.design.training = {**self.design.training, "init_from": value}

    def write(self, design_path: str | Path, weights_path: str | Path | None = None) -> None:
        """The design to `design_path` and, when given, the weights to `weights_path` as its
        starting weights (`keep_weights`; written first, so a failure leaves no design pointing
        at missing weights); both atomic."""
        from ..document import save

        if weights_path is not None:
            self.keep_weights(weights_path, Path(design_path).parent)
        save(self.design, design_path)


def import_module(module: "nn.Module", inputs: Sequence[InputSpec], name: str | None = None
                  ) -> ImportResult:
    """The design of `module` (see the package docstring); TorchImportError when it cannot be
    imported. The module is put in eval mode."""
    import torch
    from torch import fx

    from .convert import build_design, plan
    from .trace import LoopStop, Recorder, Tracer, explained, where
    from .verify import CHECK_BATCH, example_inputs, verify

    name = name or type(module).__name__
    module.eval()
    tracer = Tracer()
    try:
        graph = tracer.trace(module, concrete_args=_defaults(module, len(inputs)))
        failure = None
    except Exception as err:  # fx's own refusal (a loop over a tensor), or the model's bug
        graph, failure = None, err
    branches = [f"{loc.describe() if loc else 'forward'}: forward "
                f"{'loops on' if loc in tracer.loops else 'decides on'} a value computed "
                "from the input (data-dependent control flow), which a fixed graph of layers "
                "cannot express" for loc in dict.fromkeys(tracer.branches)]
    if failure is not None and not isinstance(failure, LoopStop):
        branches.append(f"{_error_location(failure)}{explained(failure)}")
    if branches:
        raise TorchImportError(f"{name} cannot be traced into a fixed graph:", branches)
    in_place = [f"{where(n)}: x.{n.target}() changes a tensor in place, which a graph of "
                "layers cannot express: write x = x + y (not x.add_(y))"
                for n in graph.nodes if n.op == "call_method" and str(n.target).endswith("_")
                and not str(n.target).startswith("_")]
    if in_place:
        raise TorchImportError(f"{name} cannot be imported:", in_place)
    traced = fx.GraphModule(module, graph, class_name=name)
    traced.graph.eliminate_dead_code()  # `out, _ = self.attn(x, x, x)` takes weights it ignores
    traced.recompile()
    placeholders = [n for n in traced.graph.nodes if n.op == "placeholder"]
    required = [n for n in placeholders if not n.args]
    if not required <= placeholders[:len(inputs)] or len(inputs) > len(placeholders):
        names = ", ".join(str(n.target) for n in required)
        raise TorchImportError(f"{name}.forward takes {len(required)} input(s) ({names}) but "
                               f"{len(inputs)} shape(s) were given: give one per input", [])
    shapes, dtypes = [i.shape for i in inputs], [i.dtype for i in inputs]
    vocabulary = min((m.num_embeddings for m in module.modules()
                      if isinstance(m, torch.nn.Embedding)), default=2)
    example = example_inputs(shapes, dtypes, TRACE_BATCH, vocabulary, seed=0)
    try:
        values = Recorder(traced).values(*example)
    except Exception as err:
        raise TorchImportError(f"{name} fails on inputs of shape "
                               f"{', '.join(str((TRACE_BATCH, *s)) for s in shapes)}: "
                               f"{_error_location(err)}{_first_paragraph(err)}", []) from None
    result = plan(traced, values, dtypes)
    if result.problems:
        raise TorchImportError(f"{name} cannot be imported: {len(result.problems)} call(s) "
                               "have no LayerLab equivalent:", result.problems)
    design = build_design(result, name)
    check = example_inputs(shapes, dtypes, CHECK_BATCH, vocabulary, seed=1)
    model = verify(result, design, traced, module, values, check)
    used = {id(p.module) for p in result.nodes if p.module is not None}
    notes = list(result.notes)
    for qualname, sub in module.named_modules():
        own = list(sub.parameters(recurse=False))
        if own and id(sub) not in used and not any(id(m) in used for m in _parents(module,
                                                                                    qualname)):
            notes.append(f"self.{qualname} has weights but forward never calls it: they are "
                         "left out")
    return ImportResult(design, model, notes)


def _defaults(module: "nn.Module", given: int) -> dict | None:
    """forward's arguments after the given inputs, at their defaults (`mask=None`): traced as
    those values, so `if mask is not None` takes the branch the default takes."""
    import inspect

    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    fixed = {p.name: p.default for p in positional[given:] if p.default is not p.empty}
    return fixed or None


def _parents(root: "nn.Module", qualname: str) -> list:
    parts = qualname.split(".")
    return [root.get_submodule(".".join(parts[:i])) for i in range(1, len(parts))]


def _error_location(err: BaseException) -> str:
    """'net.py line 12: code: ' for the innermost user frame of an exception's traceback."""
    from .trace import _HERE, _TORCH_DIR

    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not str(f.filename).startswith((_TORCH_DIR, _HERE, "<frozen"))]
    if not frames:
        return ""
    f = frames[-1]
    code = f" (`{f.line.strip()}`)" if f.line else ""
    return f"{Path(f.filename).name} line {f.lineno}{code}: "


# the file side (loading FILE.py, reading weights) needs the names above
from .loading import import_file, load_class, model_classes, read_weights  # noqa: E402


def _first_paragraph(err: Exception) -> str:
    """The error's own words: torch.fx adds the graph node, "Original traceback" and a pointer to
    its log tools after a blank line, which mean nothing to the model's author."""
    return str(err).split("\n\n")[0].strip() or type(err).__name__
