"""The metric catalogue: each metric is one `MetricSpec` (the tasks it applies to, the per-batch
sums it needs and how they make the value), and `MetricAccumulator`, which sums them over an
epoch with one device sync per step."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..errors import TrainingError
from ..lazy import lazy_import
from .losses import LOSSES, LossSpec

# The catalogue is read without tensors (validation, the form, the docs); what computes imports
# torch on first use.
torch = lazy_import("torch", globals(), "torch")


@dataclass(frozen=True)
class Batch:
    """What a metric sees of one batch: outputs, targets, the loss that reads them and, for a
    parametric metric (top-k accuracy), its argument. `error` is computed once and shared."""

    output: torch.Tensor
    target: torch.Tensor
    loss: LossSpec
    arg: int | None = None

    def error(self) -> torch.Tensor:
        output, target = self.output, self.target
        if output.shape == target.shape and output.dtype == target.dtype:
            return output - target
        n = target.shape[0]
        return output.float().reshape(n, -1) - target.float().reshape(n, -1)


@dataclass(frozen=True)
class MetricSpec:
    """One metric.

    Attributes:
        id: Its name (`metrics` entries); a parametric metric's family name ("topk_accuracy").
        title: Shown in plots and the form.
        doc: What it measures.
        tasks: Loss tasks (`losses.TASKS`) it applies to.
        parts: Batch -> `width` 0-dim tensors to sum over the epoch (on the device, no sync).
        value: (sums, count of compared values) -> the metric.
        higher_is_better: Which way early stopping and the best checkpoint judge it.
        pattern: For a parametric family, the regex of its names with the argument as group 1.
        example: A valid name, for docs and messages.
        width: How many tensors `parts` returns.
        per_label: Averaged over labels (a target distribution counts once), not over values.
    """

    id: str
    title: str
    doc: str
    tasks: tuple[str, ...]
    parts: Callable[[Batch], list[torch.Tensor]]
    value: Callable[[list[float], int], float]
    higher_is_better: bool
    pattern: str | None = None
    example: str = ""
    width: int = 1
    per_label: bool = False

    def __post_init__(self) -> None:
        if not self.example:
            object.__setattr__(self, "example", self.id)

    def arg(self, name: str) -> int | None:
        """The argument in `name` (5 in "top5_accuracy"), or None for a plain metric."""
        match = re.fullmatch(self.pattern, name) if self.pattern else None
        return int(match.group(1)) if match else None

    def matches(self, name: str) -> bool:
        return name == self.id if self.pattern is None else bool(re.fullmatch(self.pattern,
                                                                              name))


def _correct(batch: Batch) -> list[torch.Tensor]:
    labels = batch.loss.labels(batch.output, batch.target)
    if batch.arg in (None, 1):
        pred, _ = batch.loss.predict(batch.output, labels.shape, False)
        return [(pred == labels.view_as(pred)).sum()]
    scores = batch.output.reshape(-1, batch.output.shape[-1])
    top = scores.topk(min(batch.arg, scores.shape[-1]), dim=-1).indices
    return [(top == labels.reshape(-1).unsqueeze(-1)).any(dim=-1).sum()]


def _r2(sums: list[float], n: int) -> float:
    sse, sy, syy = sums
    sst = syy - sy * sy / n
    return 1.0 - sse / sst if sst > 0 else float("nan")


def _mean(sums: list[float], n: int) -> float:
    return sums[0] / n


_LABELLED = ("classification", "multilabel", "distribution")

METRICS: dict[str, MetricSpec] = {s.id: s for s in (
    MetricSpec("accuracy", "Accuracy", "Share of predictions that equal the true class "
               "(arg-max of the scores; logit > 0 for yes/no answers).", _LABELLED, _correct,
               _mean, True, per_label=True),
    MetricSpec("topk_accuracy", "Top-k accuracy", "Share of samples whose true class is among "
               "the k highest scores; write k in the name, e.g. top5_accuracy.",
               ("classification", "distribution"), _correct, _mean, True,
               pattern=r"top([1-9][0-9]?)_accuracy", example="top5_accuracy", per_label=True),
    MetricSpec("mse", "Mean squared error", "Mean of squared differences between outputs and "
               "targets.", ("regression",), lambda b: [b.error().pow(2).sum()], _mean, False),
    MetricSpec("mae", "Mean absolute error", "Mean of absolute differences between outputs and "
               "targets.", ("regression",), lambda b: [b.error().abs().sum()], _mean, False),
    MetricSpec("r2", "R²", "Coefficient of determination: 1 is perfect, 0 is no better than "
               "predicting the mean.", ("regression",),
               lambda b: [b.error().pow(2).sum(), b.target.reshape(-1).float().sum(),
                          b.target.reshape(-1).float().pow(2).sum()], _r2, True, width=3),
)}


def metric_spec(name: str) -> MetricSpec:
    """The spec of a metric name ("top5_accuracy" -> the top-k family); TrainingError if none."""
    for spec in METRICS.values():
        if spec.matches(name):
            return spec
    raise TrainingError(f"unknown metric {name!r}: use "
                        f"{', '.join(s.example for s in METRICS.values())}", "design")


def metric_problem(name: object) -> str | None:
    """Why `name` is not a metric, or None."""
    if not isinstance(name, str):
        return f"a metric is a name such as \"accuracy\", got {name!r}"
    try:
        metric_spec(name)
    except TrainingError as err:
        return str(err)
    return None


def task_problem(name: str, loss: str) -> str | None:
    """Why the metric `name` does not apply to the task of `loss`, or None (unknown names and
    losses are reported on their own fields)."""
    spec = LOSSES.get(loss) if isinstance(loss, str) else None
    try:
        metric = metric_spec(name)
    except TrainingError:
        return None
    if spec is None or spec.task in metric.tasks:
        return None
    fitting = [m.example for m in METRICS.values() if spec.task in m.tasks]
    return f"metric {name} does not apply to {spec.task} ({loss} loss): use {', '.join(fitting)}"


def higher_is_better(monitor: str) -> bool:
    """Whether a monitored value ("val_loss", "val_accuracy") improves upwards."""
    base = monitor.split("_", 1)[1] if "_" in monitor else monitor
    if base == "loss":
        return False
    try:
        return metric_spec(base).higher_is_better
    except TrainingError:
        return False


class MetricAccumulator:
    """Accumulates the loss and metrics over an epoch.

    `partials` returns a few 0-dim tensors per batch; the trainer reads them back to the CPU in the
    same transfer as the loss (one device sync per step) and hands the numbers to `add`, so the
    running sums are plain Python floats and cost no tensor operations.
    """

    def __init__(self, names: list[str], loss: str):
        self.names = list(names)
        self.loss = LOSSES[loss]
        self._specs = [(name, metric_spec(name)) for name in self.names]
        self._args = {name: spec.arg(name) for name, spec in self._specs}
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, list[float]] = {}
        self._counts: dict[str, int] = {}
        self._loss = 0.0
        self._samples = 0

    def partials(self, output: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
        """0-dim tensors for this batch, in the order `add` expects them."""
        output = output.detach()
        out: list[torch.Tensor] = []
        for name, spec in self._specs:
            out += spec.parts(Batch(output, target, self.loss, self._args[name]))
        return out

    def add_loss(self, loss: float, target: torch.Tensor) -> None:
        """Add one batch's mean loss."""
        n = target.shape[0]
        self._loss += loss * n
        self._samples += n

    def add(self, values: list[float], target: torch.Tensor) -> None:
        """Add one batch's `partials` (as floats) to the metrics.

        The trainer adds every batch's loss but the metric sums of only some batches (see
        `trainer.CHECK_BUDGET`), so the metrics keep their own counts.
        """
        position = 0
        values_count = target.numel()  # compared values, for regression metrics
        labels_count = self.loss.label_count(target)
        for name, spec in self._specs:
            count = labels_count if spec.per_label else values_count
            taken = values[position:position + spec.width]
            position += spec.width
            old = self._sums.get(name)
            self._sums[name] = taken if old is None else [a + b for a, b in zip(old, taken)]
            self._counts[name] = self._counts.get(name, 0) + count

    def update(self, output: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        """`partials` + `add` with their own device sync (for evaluation and tests)."""
        parts = self.partials(output, target)
        values = torch.stack([loss.detach().float(), *[p.float() for p in parts]]).tolist()
        self.add_loss(values[0], target)
        self.add(values[1:], target)

    def totals(self) -> list[float]:
        """The running sums as one flat list of fixed length (a distributed run adds the
        ranks' lists element by element): loss sum, samples, then per metric its count and
        sums (zeros where no batch measured it)."""
        out = [self._loss, float(self._samples)]
        for name, spec in self._specs:
            out += [float(self._counts.get(name, 0)), *self._sums.get(name, [0.0] * spec.width)]
        return out

    def set_totals(self, values: list[float]) -> None:
        """Replace the running sums by `values`, laid out as `totals` returns them."""
        self._loss, self._samples = values[0], int(round(values[1]))
        at = 2
        for name, spec in self._specs:
            count = int(round(values[at]))
            self._sums.pop(name, None)
            self._counts.pop(name, None)
            if count:
                self._counts[name] = count
                self._sums[name] = list(values[at + 1:at + 1 + spec.width])
            at += 1 + spec.width

    def result(self) -> dict[str, float]:
        """Mean loss and every metric over what was added since `reset`."""
        out = {"loss": self._loss / max(self._samples, 1)}
        for name, spec in self._specs:
            sums, n = self._sums.get(name), self._counts.get(name, 0)
            out[name] = spec.value(sums, n) if n else float("nan")  # nan: no batch measured it
        return out
