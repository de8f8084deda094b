"""The imported design checked against the module it came from.

Shape inference must give every node the shape its call had and the parameter count of its
module; the compiled design, with the module's weights copied in node by node, must compute what
the module computes (every node's output, then the final outputs, within 1e-5). A difference is an
import error naming the node: a design that silently computes something else is worse than none.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import fx, nn

from ..compile import compile_model
from ..graph import GraphModel
from ..shapes import infer
from . import TorchImportError
from .convert import Plan, Planned
from .trace import Recorder

ATOL = RTOL = 1e-5
#: The batch size of the check: not the tracing batch (2), so a model that hard-codes its batch
#: size in a reshape fails here instead of importing as a design that is wrong for other batches.
CHECK_BATCH = 3


def example_inputs(shapes: Sequence[tuple[int, ...]], dtypes: Sequence[str], batch: int,
                   vocabulary: int, seed: int) -> list[torch.Tensor]:
    """Random inputs: normal floats; token ids below `vocabulary` for int64 inputs."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for shape, dtype in zip(shapes, dtypes):
        if dtype == "int64":
            out.append(torch.randint(0, vocabulary, (batch, *shape), generator=generator))
        else:
            out.append(torch.randn((batch, *shape), generator=generator))
    return out


def verify(result: Plan, design: GraphModel, traced: fx.GraphModule, module: nn.Module,
           values: dict[fx.Node, Any], inputs: list[torch.Tensor]) -> fx.GraphModule:
    """Check `design` against `module` (see the module docstring); returns the compiled design
    with the module's weights. `values` are the traced module's values on the tracing batch,
    `inputs` the check's inputs."""
    analysis = infer(design)
    by_id = {p.node_id: p for p in result.nodes}
    if not analysis.valid:
        raise TorchImportError("the imported design does not pass LayerLab's shape check:",
                               [f"{_where(by_id, e.node)}{e.message}" for e in analysis.errors])
    problems = []
    for p in result.nodes:
        node = analysis.nodes[p.node_id]
        if p.source is not None and p.type_id != "Output":
            want = tuple(values[p.source].shape[1:])
            got = tuple(node.outputs["output"].shape)
            if want != got:
                problems.append(f"{p.location}: {p.type_id} '{p.node_id}' gives {got} in "
                                f"LayerLab but {want} in PyTorch")
        if p.module is not None:
            own = sum(t.numel() for t in p.module.parameters())
            if own != node.params:
                problems.append(f"{p.location}: {p.type_id} '{p.node_id}' has {node.params:,} "
                                f"parameters in LayerLab but {own:,} in PyTorch")
    if problems:
        raise TorchImportError("the imported design differs from the module:", problems)
    compiled = compile_model(design, analysis)
    for p in result.nodes:
        if p.module is None:
            continue
        try:
            compiled.get_submodule(p.node_id).load_state_dict(p.module.state_dict())
        except RuntimeError as err:
            problems.append(f"{p.location}: {p.type_id} '{p.node_id}': its weights do not fit "
                            f"LayerLab's layer: {str(err).splitlines()[0]}")
    if problems:
        raise TorchImportError("the module's weights do not fit the imported design:", problems)
    compiled.eval()
    _compare(result, traced, compiled, module, inputs)
    return compiled


def _compare(result: Plan, traced: fx.GraphModule, compiled: fx.GraphModule,
             module: nn.Module, inputs: list[torch.Tensor]) -> None:
    try:
        ours = Recorder(compiled).values(*inputs)
    except Exception as err:
        raise TorchImportError(f"the imported design fails on a batch of {CHECK_BATCH}: {err}",
                               []) from None
    try:
        theirs = Recorder(traced).values(*inputs)
        with torch.no_grad():
            direct = module(*inputs)
    except Exception as err:
        raise TorchImportError(f"the module fails on a batch of {CHECK_BATCH} (does it fix its "
                               f"batch size?): {err}", []) from None
    by_target = {n.target: n for n in compiled.graph.nodes if n.op == "call_module"}
    for p in result.nodes:
        if p.source is None or p.node_id not in by_target:
            continue
        mine, want = ours[by_target[p.node_id]], theirs[p.source]
        if not _close(mine, want):
            raise TorchImportError(
                f"{p.location}: {p.type_id} '{p.node_id}' computes something else in LayerLab "
                f"than in PyTorch ({_difference(mine, want)}): this call cannot be imported "
                "faithfully", [])
    got = next(n for n in compiled.graph.nodes if n.op == "output")
    mine = ours.get(got.args[0]) if not isinstance(got.args[0], tuple) else tuple(
        ours[a] for a in got.args[0])
    if not _close(mine, direct):
        raise TorchImportError("the imported design's outputs differ from the module's "
                               f"({_difference(mine, direct)})", [])


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.allclose(
            a, b, atol=ATOL, rtol=RTOL, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return False


def _difference(a: Any, b: Any) -> str:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
        if a.dtype != b.dtype:
            return f"{a.dtype} vs {b.dtype}"
        return f"largest difference {(a.double() - b.double()).abs().max().item():.3g}"
    return f"{type(a).__name__} vs {type(b).__name__}"


def _where(by_id: dict[str, Planned], node_id: str | None) -> str:
    p = by_id.get(node_id or "")
    return f"{p.location}: {p.type_id} '{p.node_id}': " if p else ""
