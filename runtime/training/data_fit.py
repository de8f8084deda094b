"""Does a dataset fit a design? One check shared by the trainer (before a run) and the designer
(which shows it next to the training settings while the user edits)."""
from __future__ import annotations

from ..errors import TrainingError
from ..graph import GraphModel
from ..lazy import lazy_import
from ..shapes import Analysis
from .config import TrainingConfig
from .losses import LOSSES, check_compatible

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")


def io_nodes(design: GraphModel) -> tuple[str, str]:
    """The ids of the design's single Input and single Output; TrainingError otherwise."""
    from .outputs import io_lists

    inputs, outputs = io_lists(design)
    if len(inputs) != 1 or len(outputs) != 1:
        raise TrainingError(f"training needs exactly one Input and one Output; this design has "
                            f"{len(inputs)} and {len(outputs)}", "design")
    return inputs[0], outputs[0]


def check_structure(design: GraphModel, config: TrainingConfig) -> None:
    """Refuse (TrainingError) a design whose shape the training mode cannot train, before any
    data are loaded: several networks for a mode that does not join them; no Input or Output
    for supervised training. A mode with its own objective checks the rest when it starts."""
    from ..networks import is_multi_network
    from .modes import mode_of
    from .outputs import io_lists

    mode = mode_of(config)
    if mode.objective is None or (is_multi_network(design) and not mode.joins_networks):
        io_lists(design)  # names the networks, or the missing Input or Output


def check_data_fits(design: GraphModel, analysis: Analysis, dataset, config: TrainingConfig) -> None:
    """Raise a TrainingError (naming the node to change) when the data cannot train the design:
    the sample shape or dtype differs from the Input's, or the targets do not suit the Output and
    the loss. A design of several Inputs or Outputs, or named data, is checked input by input
    and output by output (`outputs.check_named_data`)."""
    from .outputs import check_named_data, is_multi_io, output_loss

    if is_multi_io(design, dataset):
        check_named_data(design, analysis, dataset, config)
        return
    input_id, output_id = io_nodes(design)
    want = analysis.nodes[input_id].outputs["output"]
    if tuple(dataset.sample_shape) != tuple(want.shape):
        got = "(batch, " + ", ".join(map(str, dataset.sample_shape)) + ")"
        raise TrainingError(f"dataset gives {got} but Input expects "
                            f"({', '.join(map(str, want.shape))}): add a Reshape or change "
                            "Input", "data", input_id)
    wanted_dtype = torch.int64 if want.dtype == "int64" else torch.float32
    if dataset.x.dtype != wanted_dtype:
        raise TrainingError(f"dataset gives {str(dataset.x.dtype).replace('torch.', '')} values "
                            f"but Input '{input_id}' is {want.dtype}: change the Input's dtype",
                            "data", input_id)
    out_info = analysis.nodes[output_id].outputs["output"]
    try:
        check_compatible(output_loss(design, output_id, config), config.metrics, out_info, dataset.target_shape,
                         dataset.y.dtype, dataset.num_classes)
    except TrainingError as err:
        err.node = err.node or output_id
        raise


def activation_warning(design: GraphModel, loss: str) -> tuple[str, str | None] | None:
    """(message, node) when the layer feeding an Output does not suit that Output's loss (its
    own, or `loss`, the settings'): Softmax before cross_entropy, raw scores into nll. Legal,
    but it trains badly or silently wrong. The first such Output, else None."""
    from ..layers.core import TRAINING_LOSS

    for output in (n for n in design.nodes.values() if n.type == "Output"):
        own = output.params.get("loss", TRAINING_LOSS)
        spec = LOSSES.get(loss if own == TRAINING_LOSS else own)
        if spec is None:
            continue
        feeding = [e.src for e in design.edges if e.dst == output.id]
        last = design.spec(feeding[0]) if feeding else None
        problem = spec.activation_problem(last)
        if problem:
            return (problem if own == TRAINING_LOSS else f"Output '{output.id}': {problem}",
                    feeding[0] if feeding else output.id)
    return None
