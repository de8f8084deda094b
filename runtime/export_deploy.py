"""Deployment exports (ONNX and torch.export's .pt2), and the one table of every export format.

Both deployment formats start from one `torch.export` program of the compiled design: its
weights (freshly initialised, or a run's checkpoint), evaluation mode, a dynamic batch dimension,
inputs named after the design's Input nodes. ONNX goes on through PyTorch's own exporter
(`torch.onnx.export`, the dynamo path, which needs the `onnx` and `onnxscript` packages) and is
checked with `onnx.checker`; `.pt2` is the program saved with `torch.export.save`. Both files
carry the design (a LayerLab design document) in their metadata, as the safetensors export does.

A layer that the exporter cannot express is refused with an `ExportError` naming its node: the
failing operation of the program is traced back to the node whose module ran it, and where the
exporter's error does not say, each node's module is exported on its own until one fails.

torch and onnx are imported inside the functions: `import runtime.cli` stays light.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from .document import dumps, replace_atomically
from .errors import ExportError
# the key the design rides under: the .pt2 archive's extra_files, the ONNX model's metadata
from .export_weights import DESIGN_KEY
from .graph import GraphModel
from .networks import network_title

if TYPE_CHECKING:
    from torch import nn
    from torch.export import ExportedProgram

#: The batch size the program is traced with: torch.export specialises a dimension of size 1,
#: so tracing with 2 keeps the batch dimension free for any size.
EXAMPLE_BATCH = 2
#: The name of the dynamic batch dimension (ONNX shows it as the inputs' first dimension).
BATCH_DIM = "batch"


# --- the formats ----------------------------------------------------------------------------------
Writer = Callable[..., Path]


@dataclass(frozen=True)
class ExportFormat:
    """One export format, read by the CLI's `--format`, the app's File > Export menu and the docs.

    Attributes:
        name: The `--format` value.
        suffix: The file's suffix (with the dot).
        label: What the user calls it (menu item, save dialog's filter, docs).
        help: What the file holds and what reads it, one sentence.
        weights: "optional" (fresh weights without a checkpoint) or "required".
        per_network: Takes one network of a design that holds several (`network=`).
        all_networks: Without `network`, a design of several networks is written whole (a
            Python module with a class per network); else one network is picked.
        write: `write(design, path, weights=None[, network=None])`: writes `path` atomically.
        traced: Built by tracing the model (torch.export), which takes up to a minute for a
            long recurrent network: the app runs it in a process of its own.
    """

    name: str
    suffix: str
    label: str
    help: str
    weights: str
    per_network: bool
    write: Writer
    traced: bool = False
    all_networks: bool = False

    @property
    def file_filter(self) -> str:
        """The save dialog's filter, e.g. ``ONNX model (*.onnx)``."""
        return f"{self.label} (*{self.suffix})"


def _write_py(design: GraphModel, path: str | os.PathLike,
              weights: str | os.PathLike | None = None, network: str | None = None) -> Path:
    from .export import write_python

    return write_python(design, path, weights=weights, network=network)[-1]


def _write_safetensors(design: GraphModel, path: str | os.PathLike,
                       weights: str | os.PathLike | None = None) -> Path:
    from .export_weights import write_safetensors

    if weights is None:
        raise ExportError("the safetensors export writes a run's trained weights: give it a "
                          "checkpoint (a run's best.pt or last.pt)")
    return write_safetensors(design, weights, path)


@dataclass
class Deployable:
    """A design's `torch.export` program, written as ONNX, as .pt2 or both (traced once).

    Attributes:
        design: The design it was made from (carried in each file's metadata).
        module: The compiled module that was exported (evaluation mode, its weights): what the
            files must compute.
        program: The exported program, its batch dimension dynamic.
        inputs: The Input ids: the program's arguments, in file order.
        outputs: The Output ids: its results, in file order.
    """

    design: GraphModel
    module: nn.Module
    program: ExportedProgram
    inputs: list[str]
    outputs: list[str]

    def write_onnx(self, path: str | os.PathLike) -> Path:
        """Write the ONNX model (atomically), checked with `onnx.checker`; ExportError naming
        the node whose layer ONNX cannot express."""
        import torch

        try:
            with _quiet():
                onnx_program = torch.onnx.export(self.program, (), dynamo=True,
                                                 input_names=self.inputs,
                                                 output_names=self.outputs)
        except Exception as err:  # the exporter raises many kinds; each becomes a refusal
            raise _refusal("ONNX", self.design, self.module, err, self.program) from None
        if self.inputs:  # the symbol torch.export gave the batch (s0, s3...) gets its name
            onnx_program.rename_axes({onnx_program.model.graph.inputs[0].shape[0]: BATCH_DIM})
        onnx_program.model.metadata_props[DESIGN_KEY] = dumps(self.design)

        def save(tmp: str) -> None:
            import onnx

            # one file: initialisers in a side file would be named after the temporary file
            onnx_program.save(tmp, external_data=False)
            try:
                onnx.checker.check_model(tmp, full_check=True)
            except onnx.checker.ValidationError as err:
                raise ExportError("the ONNX exporter wrote a model that onnx.checker refuses: "
                                  f"{_first_line(err)}") from None

        return replace_atomically(Path(path), save)

    def write_pt2(self, path: str | os.PathLike) -> Path:
        """Write the program with `torch.export.save` (atomically), the design in its
        `extra_files` under `DESIGN_KEY`."""
        import torch

        def save(tmp: str) -> None:
            with open(tmp, "wb") as handle:
                torch.export.save(self.program, handle,
                                  extra_files={DESIGN_KEY: dumps(self.design)})

        return replace_atomically(Path(path), save)


def write_onnx(design: GraphModel, path: str | os.PathLike,
               weights: str | os.PathLike | None = None, network: str | None = None) -> Path:
    """Write `design` as an ONNX model to `path` (atomically: a failure leaves no file).

    Args:
        design: The design (one network, or `network` names one of its networks).
        path: Where to write (conventionally ``.onnx``).
        weights: A run's checkpoint; its weights go into the model (fresh ones without it).
        network: Which network of a design that holds several ("main" for the unnamed one).

    Raises:
        ExportError: a layer ONNX cannot express (its node named), weights that do not fit,
            a design of several networks without `network`.
    """
    return export_program(design, weights, network).write_onnx(path)


def write_pt2(design: GraphModel, path: str | os.PathLike,
              weights: str | os.PathLike | None = None, network: str | None = None) -> Path:
    """Write `design` as a `torch.export` program (`torch.export.save`) to `path` atomically.

    Arguments and refusals as `write_onnx`. `torch.export.load(path).module()` gives back a
    module that takes the Inputs (in file order) and returns the Outputs (in file order).
    """
    return export_program(design, weights, network).write_pt2(path)


#: Every export format, in the order the CLI's help, the File > Export menu and the docs list them.
FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("py", ".py", "Python module",
                 "a Python file defining the design as an nn.Module (a class per network of "
                 "a design of several; needs only torch); with --weights, its trained "
                 "weights in .safetensors beside it",
                 "optional", True, _write_py, all_networks=True),
    ExportFormat("onnx", ".onnx", "ONNX model",
                 "an ONNX model (dynamic batch, inputs and outputs named after the design's "
                 "nodes) for onnxruntime and other ONNX tools",
                 "optional", True, write_onnx, traced=True),
    ExportFormat("pt2", ".pt2", "torch.export program",
                 "a torch.export program (dynamic batch) that torch.export.load gives back "
                 "without the design's code", "optional", True, write_pt2, traced=True),
    ExportFormat("safetensors", ".safetensors", "Trained weights",
                 "the trained weights of --weights by node id, the design in the file's "
                 "metadata", "required", False, _write_safetensors),
)


def export_format(name: str) -> ExportFormat:
    """The format called `name`; ExportError listing the formats otherwise."""
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise ExportError(f"no export format '{name}' (formats: "
                      f"{', '.join(f.name for f in FORMATS)})")


def formats_markdown() -> str:
    """The formats as a Markdown table (docs/export.md holds it; a test keeps them equal)."""
    rows = ["| `--format` | File | What it holds | Trained weights |", "|---|---|---|---|"]
    rows += [f"| `{f.name}` | `{f.suffix}` | {f.help[:1].upper()}{f.help[1:]} | {f.weights} |"
             for f in FORMATS]
    return "\n".join(rows) + "\n"


# --- the program ----------------------------------------------------------------------------------
def deployable(design: GraphModel, weights: str | os.PathLike | None = None,
               network: str | None = None) -> nn.Module:
    """The module to export: the design (or one of its networks) compiled, the checkpoint's
    weights loaded when given (checked as the safetensors export checks them), evaluation mode."""
    from .compile import compile_model, compile_networks

    key = network_key(design, network)
    module = compile_networks(design)[key] if len(design.networks()) > 1 else \
        compile_model(design)
    if weights is not None:
        from .export_weights import checkpoint_tensors

        tensors = checkpoint_tensors(design, weights)  # every tensor of the design, checked
        module.load_state_dict({name: tensors[name] for name in module.state_dict()},
                               strict=True)
    return module.eval()


def export_program(design: GraphModel, weights: str | os.PathLike | None = None,
                   network: str | None = None) -> Deployable:
    """The design's `torch.export` program with a dynamic batch dimension (see `deployable`
    for `weights` and `network`).

    Raises:
        ExportError: as `write_onnx`.
    """
    import torch

    module = deployable(design, weights, network)
    inputs, args = example_inputs(module)
    members = set(design.networks()[network_key(design, network)])
    outputs = [n.id for n in design.nodes.values() if n.type == "Output" and n.id in members]
    batch = torch.export.Dim(BATCH_DIM, min=1)
    try:
        with _quiet():
            program = torch.export.export(module, args,
                                          dynamic_shapes=tuple({0: batch} for _ in args))
    except Exception as err:  # torch.export raises many kinds; each becomes a located refusal
        raise _refusal("torch.export", design, module, err) from None
    return Deployable(design, module, program, inputs, outputs)


def example_inputs(module: nn.Module) -> tuple[list[str], tuple]:
    """The compiled module's Input ids and a batch of `EXAMPLE_BATCH` tensors for each (their
    shape and dtype; token ids are zeros, a valid index for any embedding)."""
    import torch

    from .names import INPUTS_ATTRIBUTE

    declared = getattr(module, INPUTS_ATTRIBUTE)
    tensors = tuple(torch.zeros(EXAMPLE_BATCH, *info.shape, dtype=torch.int64)
                    if info.dtype == "int64" else torch.randn(EXAMPLE_BATCH, *info.shape)
                    for _, info in declared)
    return [node_id for node_id, _ in declared], tensors


def network_key(design: GraphModel, network: str | None) -> str:
    """The key in `design.networks()` of the network to export ("" is the main network): the
    only one, or the one titled `network`; ExportError naming the networks otherwise."""
    networks = design.networks()
    titles = {network_title(name): name for name in networks}
    if network in titles or (network is None and len(networks) == 1):
        return titles.get(network, next(iter(networks)))
    listed = ", ".join(f"'{title}'" for title in titles)
    if network is None:
        raise ExportError(f"the design holds {len(networks)} networks ({listed}): export one "
                          "at a time (--network NAME)")
    raise ExportError(f"no network '{network}' in the design (it holds {listed})")


# --- refusals that name the node ------------------------------------------------------------------
def _refusal(tool: str, design: GraphModel, module: nn.Module, err: Exception,
             program: ExportedProgram | None = None) -> ExportError:
    """An ExportError naming the node whose layer `tool` cannot express, and why."""
    node = _node_in_message(err, program, module)
    reason = _reason(err)
    if node is None:
        node, reason = _culprit(tool, module) or (None, reason)
    if node is None:
        return ExportError(f"{tool} cannot export this design: {reason}")
    type_id = design.nodes[node].type if node in design.nodes else "?"
    return ExportError(f"node '{node}' ({type_id}): {tool} cannot express this layer: {reason}")


def _node_in_message(err: Exception, program: ExportedProgram | None,
                     module: nn.Module) -> str | None:
    """The design node whose module ran the operation the ONNX exporter names ("Error when
    translating node %kthvalue"), read from the program's record of the calling module."""
    if program is None:
        return None
    named = re.findall(r"translating node %(\w+)", _chain_text(err))
    layers = dict(module.named_children())
    for fx_node in program.graph.nodes:
        if fx_node.name in named:
            for path, _ in (fx_node.meta.get("nn_module_stack") or {}).values():
                head = path.split(".")[0]
                if head in layers:
                    return head
    return None


def _culprit(tool: str, module: nn.Module) -> tuple[str, str] | None:
    """The first node (in forward's order) whose module alone `tool` cannot export, and why:
    each layer is run once to catch its inputs, then exported on its own."""
    import torch
    from torch import nn

    calls: dict[str, tuple[tuple, dict]] = {}

    def catcher(name: str) -> Callable:
        return lambda _, args, kwargs: calls.setdefault(name, (args, kwargs)) and None

    hooks = [layer.register_forward_pre_hook(catcher(name), with_kwargs=True)
             for name, layer in module.named_children()]
    try:
        with torch.no_grad():
            module(*example_inputs(module)[1])
    except Exception:  # the module does not even run eagerly: nothing to isolate
        return None
    finally:
        for hook in hooks:
            hook.remove()

    class Alone(nn.Module):
        """One layer, its keyword arguments passed positionally (one dynamic batch for all)."""

        def __init__(self, layer: nn.Module, n_args: int, keys: list[str]):
            super().__init__()
            self.layer, self.n_args, self.keys = layer, n_args, keys

        def forward(self, *tensors):
            return self.layer(*tensors[:self.n_args],
                              **dict(zip(self.keys, tensors[self.n_args:])))

    batch = torch.export.Dim(BATCH_DIM, min=1)
    for name, (args, kwargs) in calls.items():
        alone = Alone(getattr(module, name), len(args), list(kwargs)).eval()
        tensors = (*args, *kwargs.values())
        try:
            with _quiet():
                # forward(*tensors): one entry, for the tuple of them all
                program = torch.export.export(alone, tensors, dynamic_shapes=(
                    tuple({0: batch} for _ in tensors),))
                if tool == "ONNX":
                    torch.onnx.export(program, (), dynamo=True)
        except Exception as err:  # this layer is the one the exporter cannot take
            return name, _reason(err)
    return None


def _reason(err: BaseException) -> str:
    """What the exporter could not do, in one line."""
    text = _chain_text(err)
    missing = re.search(r"No ONNX function found for <OpOverload\(op='([\w.]+)'", text)
    if missing:
        return f"ONNX has no operator for {missing.group(1)}"
    if "data-dependent" in text or "DataDependent" in type(err).__name__:
        return ("its forward branches on the values of its input (data-dependent control "
                "flow), which an exported program cannot hold")
    innermost = err
    while innermost.__cause__ is not None:
        innermost = innermost.__cause__
    return _first_line(innermost)


def _chain_text(err: BaseException) -> str:
    parts = []
    while err is not None:
        parts.append(f"{type(err).__name__}: {err}")
        err = err.__cause__
    return "\n".join(parts)


def _first_line(err: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()  # the exporter colours its text
    return next((line.strip() for line in text.splitlines() if line.strip()),
                type(err).__name__)


# --- plumbing -------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' progress prints, warnings and graph dumps kept off the user's terminal:
    the outcome is reported as a result or an ExportError. (torch logs through handlers of its
    own, so only the process-wide switch reaches them; it is restored at once.)"""
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        # torch.export prints the partial graph of a failed trace to sys.stderr itself
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)


