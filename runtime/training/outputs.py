"""Several Inputs and Outputs in supervised training (#14): the dataset names its inputs and
targets after the design's Input and Output nodes, each Output is compared with its own target
by its own loss (its `loss` param, or the training settings' loss) and weight, and every metric
is measured on each output whose loss it suits.

A design with one Input and one Output trains as before; this module only steps in when the
design has several of either or the dataset's data are named.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..data.base import NamedTensors
from ..errors import TrainingError
from ..graph import GraphModel
from ..layers.core import TRAINING_LOSS
from ..lazy import lazy_import
from ..networks import network_title
from .losses import LOSSES, LossSpec, check_compatible
from .metrics import MetricAccumulator, metric_spec

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")


@dataclass(frozen=True)
class OutputHead:
    """One Output node as training sees it: its name (the target it is compared with), its loss
    and the weight of that loss in the total, and the metrics that suit the loss."""

    node: str
    loss: str
    weight: float
    metrics: tuple[str, ...]

    @property
    def spec(self) -> LossSpec:
        return LOSSES[self.loss]


def io_lists(design: GraphModel) -> tuple[list[str], list[str]]:
    """The design's Input and Output node ids, in file order (the compiled forward's argument and
    result order). TrainingError for a design of several networks, or without Input or Output."""
    networks = design.networks()
    if len(networks) > 1:
        names = ", ".join(f"'{network_title(name)}'" for name in networks)
        raise TrainingError(f"supervised training needs one network; this design has "
                            f"{len(networks)} ({names}): a mode that trains them together "
                            "joins them", "design")
    inputs = [n.id for n in design.nodes.values() if n.type == "Input"]
    outputs = [n.id for n in design.nodes.values() if n.type == "Output"]
    if not inputs or not outputs:
        raise TrainingError(f"training needs at least one Input and one Output; this design has "
                            f"{len(inputs)} and {len(outputs)}", "design")
    return inputs, outputs


def output_loss(design: GraphModel, output_id: str, config) -> str:
    """The loss an Output is trained with: its own `loss` param, or the training settings'."""
    own = design.nodes[output_id].params.get("loss", TRAINING_LOSS)
    return config["loss"] if own == TRAINING_LOSS else own


def is_multi_io(design: GraphModel, dataset) -> bool:
    """Whether training needs named data: several Inputs or Outputs, or named data given."""
    inputs, outputs = io_lists(design)
    return len(inputs) > 1 or len(outputs) > 1 or dataset.named


def output_heads(design: GraphModel, config) -> list[OutputHead]:
    """Every Output with its loss, weight and metrics, in file order.

    Raises:
        TrainingError: every Output's weight is 0 (nothing to train), naming the first.
    """
    _, outputs = io_lists(design)
    heads = []
    for node in outputs:
        loss = output_loss(design, node, config)
        task = LOSSES[loss].task
        metrics = tuple(m for m in config.metrics if task in metric_spec(m).tasks)
        heads.append(OutputHead(node, loss, float(design.nodes[node].params.get(
            "loss_weight", 1.0)), metrics))
    if all(head.weight == 0 for head in heads):
        raise TrainingError("every Output's loss_weight is 0, so no loss trains the network: "
                            "give at least one Output a positive weight", "design", outputs[0])
    return heads


def check_named_data(design: GraphModel, analysis, dataset, config) -> None:
    """Refuse (naming the node) data that do not fit a design of several Inputs or Outputs: each
    Input needs the dataset's input of its name (or the dataset's one unnamed input, when the
    design has one Input), each Output the target of its name, of a fitting shape and type."""
    inputs, outputs = io_lists(design)
    x, y = dataset.x, dataset.y
    given = x.names if isinstance(x, NamedTensors) else None
    if given is None and len(inputs) > 1:
        raise TrainingError(f"the design has {len(inputs)} Inputs ({', '.join(inputs)}) but "
                            f"dataset '{dataset.name}' gives one unnamed input: use a dataset "
                            "with named inputs (one per Input, named after it)", "data",
                            inputs[0])
    for node in inputs:
        if given is not None and node not in given:
            raise TrainingError(f"Input '{node}' has no data: dataset '{dataset.name}' gives "
                                f"the inputs {', '.join(map(repr, given))}; rename the Input "
                                "after the input it should read", "data", node)
        data = x[node] if given is not None else x
        want = analysis.nodes[node].outputs["output"]
        if tuple(data.shape[1:]) != tuple(want.shape):
            raise TrainingError(f"dataset input '{node}' gives (batch, "
                                f"{', '.join(map(str, data.shape[1:]))}) but Input '{node}' "
                                f"expects ({', '.join(map(str, want.shape))}): change the "
                                "Input's shape", "data", node)
        wanted_dtype = torch.int64 if want.dtype == "int64" else torch.float32
        if data.dtype != wanted_dtype:
            raise TrainingError(f"dataset input '{node}' gives "
                                f"{str(data.dtype).replace('torch.', '')} values but Input "
                                f"'{node}' is {want.dtype}: change the Input's dtype", "data",
                                node)
    targets = y.names if isinstance(y, NamedTensors) else None
    if targets is None:
        raise TrainingError(f"the design has {len(outputs)} Outputs ({', '.join(outputs)}) but "
                            f"dataset '{dataset.name}' gives one unnamed target: use a dataset "
                            "with named targets (one per Output, named after it)", "data",
                            outputs[0])
    for head in output_heads(design, config):
        node = head.node
        if node not in targets:
            raise TrainingError(f"Output '{node}' has no target: dataset '{dataset.name}' "
                                f"gives the targets {', '.join(map(repr, targets))}; rename the "
                                "Output after the target it predicts", "data", node)
        view = dataset.target(node)
        try:
            check_compatible(head.loss, list(head.metrics),
                             analysis.nodes[node].outputs["output"], view.target_shape,
                             view.y.dtype, view.num_classes)
        except TrainingError as err:
            raise TrainingError(f"Output '{node}': {err}", err.kind, node) from None


def heads_forward(model, input_names: list[str] | None) -> Callable:
    """The model's forward taking a batch of named inputs (None: one plain tensor)."""
    forward = model.forward
    if input_names is None:
        return forward
    return lambda x: forward(*(x[name] for name in input_names))


def _as_tuple(outputs) -> tuple:
    return outputs if isinstance(outputs, tuple) else (outputs,)


def heads_loss(heads: list[OutputHead]) -> Callable:
    """(outputs, named targets) -> the weighted sum of the Outputs' losses."""
    parts = [(head.node, head.spec.compute, head.weight) for head in heads]

    def loss(outputs, targets: NamedTensors) -> torch.Tensor:
        return sum(weight * compute(out, targets[name])
                   for out, (name, compute, weight) in zip(_as_tuple(outputs), parts))
    return loss


class HeadsAccumulator:
    """`MetricAccumulator`'s contract for several outputs: the total loss, and per Output its loss
    (`<output>_loss`) and metrics (`<output>_<metric>`); a metric measured on several outputs
    also appears unprefixed as their mean, so `val_accuracy` can be monitored."""

    def __init__(self, heads: list[OutputHead]):
        self.heads = heads
        self._each = [MetricAccumulator(list(head.metrics), head.loss) for head in heads]
        # how many values each head's partials hold: its loss and its metrics' parts
        self._widths = [1 + sum(metric_spec(m).width for m in head.metrics) for head in heads]
        self._loss = 0.0
        self._samples = 0

    def partials(self, outputs, targets: NamedTensors) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for head, acc, output in zip(self.heads, self._each, _as_tuple(outputs)):
            target = targets[head.node]
            out.append(head.spec.compute(output.detach(), target).detach())
            out += acc.partials(output, target)
        return out

    def add_loss(self, loss: float, targets) -> None:
        n = len(targets)
        self._loss += loss * n
        self._samples += n

    def add(self, values: list[float], targets: NamedTensors) -> None:
        position = 0
        for head, acc, width in zip(self.heads, self._each, self._widths):
            taken = values[position:position + width]
            position += width
            target = targets[head.node]
            acc.add_loss(taken[0], target)
            acc.add(taken[1:], target)

    def totals(self) -> list[float]:
        """`MetricAccumulator.totals` for several outputs: the total loss sum and samples, then
        each Output's totals (a distributed run adds the ranks' lists element by element)."""
        out = [self._loss, float(self._samples)]
        for acc in self._each:
            out += acc.totals()
        return out

    def set_totals(self, values: list[float]) -> None:
        """Replace the running sums by `values`, laid out as `totals` returns them."""
        self._loss, self._samples = values[0], int(round(values[1]))
        at = 2
        for acc in self._each:
            width = len(acc.totals())
            acc.set_totals(values[at:at + width])
            at += width

    def update(self, outputs, targets: NamedTensors, loss: torch.Tensor) -> None:
        parts = self.partials(outputs, targets)
        values = torch.stack([loss.detach().float(), *[p.float() for p in parts]]).tolist()
        self.add_loss(values[0], targets)
        self.add(values[1:], targets)

    def result(self) -> dict[str, float]:
        each = {f"{head.node}_{name}": value for head, acc in zip(self.heads, self._each)
                for name, value in acc.result().items()}
        shared: dict[str, list[float]] = {}
        for head, acc in zip(self.heads, self._each):
            for name in head.metrics:
                shared.setdefault(name, []).append(each[f"{head.node}_{name}"])
        # the shared metrics first: views that show one metric show those
        return {"loss": self._loss / max(self._samples, 1),
                **{name: sum(values) / len(values) for name, values in shared.items()}, **each}


def own_loss_config(design: GraphModel, config):
    """The config of a one-Output design whose Output sets its own loss: that loss in place of
    the settings' (re-checked, so the metrics and monitored value must suit it)."""
    from ..errors import TrainingConfigError
    from .config import parse_training

    _, outputs = io_lists(design)
    own = output_loss(design, outputs[0], config)
    if own == config["loss"]:
        return config
    try:
        return parse_training({**config.raw, "loss": own})
    except TrainingConfigError as err:
        raise TrainingError(f"Output '{outputs[0]}' sets its loss to {own}, which the training "
                            f"settings do not suit: {err}", "design", outputs[0]) from None
