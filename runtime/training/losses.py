"""The loss catalogue: each loss is one `LossSpec` declaring its task, the targets it needs, how
predictions are read from the network's outputs and which output activations it expects or
forbids. The data check, the metrics, the end-of-run report and the docs all read it."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..errors import TrainingError
from ..lazy import lazy_import
from ..specs import LayerSpec, TensorInfo

# The catalogue is read without tensors (validation, the form, the docs); the functions that
# compute import torch on first use.
torch = lazy_import("torch", globals(), "torch")
F = lazy_import("torch.nn.functional", globals(), "F")


@dataclass(frozen=True)
class TaskSpec:
    """What a loss trains the network to do.

    Attributes:
        id: "classification", "multilabel", "regression" or "distribution".
        doc: What the outputs and targets are.
        default_metrics: Metrics a run reports when the design names none.
        class_scores: The Output gives one score per class in its last dimension.
    """

    id: str
    doc: str
    default_metrics: tuple[str, ...]
    class_scores: bool = False


TASKS: dict[str, TaskSpec] = {t.id: t for t in (
    TaskSpec("classification", "One class per sample (or per step): integer class indices as "
             "targets, one raw score per class as outputs.", ("accuracy",), class_scores=True),
    TaskSpec("multilabel", "Independent yes/no answers: 0/1 targets, one logit per answer.",
             ("accuracy",)),
    TaskSpec("regression", "Real-valued targets, compared value by value with the outputs.",
             ("mae",)),
    TaskSpec("distribution", "A probability distribution over classes as the target (class "
             "indices count as one-hot); one raw score per class as outputs.", ("accuracy",),
             class_scores=True),
)}

Prediction = "tuple[torch.Tensor, torch.Tensor | None]"


@dataclass(frozen=True)
class LossSpec:
    """One loss function.

    Attributes:
        id: Its name in the training block (`loss`).
        title: Shown in the form.
        doc: What it measures and when to use it.
        task: A key of `TASKS`.
        target_dtypes: Target element types it accepts ("int64" class labels, "float32" values).
        compute: (output, target) -> the batch's mean loss.
        predict: (output, label shape, confidence wanted) -> predicted classes shaped like the
            labels and, when asked, the probability of each prediction.
        expects: The kind of values (`OUTPUT_KINDS`) the Output must carry (NLL needs
            log-probabilities), read from the output range of the layer feeding it.
        forbids: Kinds of values the Output must not carry (the loss applies the squashing
            itself, so probabilities would be squashed twice).
    """

    id: str
    title: str
    doc: str
    task: str
    target_dtypes: tuple[str, ...]
    compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    predict: Callable[[torch.Tensor, torch.Size, bool], Prediction]
    expects: str | None = None
    forbids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"loss {self.id}: unknown task '{self.task}'")
        unknown = {*self.forbids, self.expects} - {*OUTPUT_KINDS, None}
        if unknown:
            raise ValueError(f"loss {self.id}: unknown output kinds {sorted(unknown)}")

    @property
    def task_spec(self) -> TaskSpec:
        return TASKS[self.task]

    def labels(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """True class indices of `target`: a distribution's largest entry, 0/1 values rounded."""
        if not target.is_floating_point():
            return target
        if self.task != "multilabel" and target.shape == output.shape and output.shape[-1] > 1:
            return target.argmax(dim=-1)
        return target.round().long()

    def label_count(self, target: torch.Tensor) -> int:
        """How many labels a batch of targets holds (a target distribution is one label)."""
        if self.task == "distribution" and target.is_floating_point() and target.dim() > 1:
            return target.numel() // target.shape[-1]
        return target.numel()

    def activation_problem(self, last: LayerSpec | None) -> str | None:
        """Why the layer feeding the Output does not suit this loss, or None (judged by the
        range its outputs fall in, a fact each layer type declares)."""
        kind = output_kind(last)
        name = last.type_id if last is not None else "nothing"
        if kind in self.forbids:
            return (f"{self.id} expects raw scores but the Output is fed by {name}, which gives "
                    f"{kind}: {self.id} applies that squashing itself, so remove the {name} (it "
                    "flattens the gradients)")
        if self.expects and kind != self.expects:
            return (f"{self.id} expects {self.expects} but the Output is fed by {name}: add a "
                    f"{_PRODUCERS[self.expects]} before the Output, or use cross_entropy on raw "
                    "scores")
        return None


# --- how predictions are read -------------------------------------------------------------
def _from_scores(output: torch.Tensor, shape: torch.Size, confidence: bool) -> Prediction:
    """One score per class in the last dimension: the arg-max (softmax probability)."""
    if output.numel() == math.prod(shape):  # one value per label: the nearest class
        return _nearest(output, shape, confidence)
    scores = output.reshape(*shape, output.shape[-1])
    if not confidence:
        return scores.argmax(dim=-1), None
    conf, pred = torch.softmax(scores.float(), dim=-1).max(dim=-1)
    return pred, conf


def _from_logits(output: torch.Tensor, shape: torch.Size, confidence: bool) -> Prediction:
    """One logit per yes/no answer: yes when the logit is above 0."""
    logits = output.reshape(shape)
    pred = (logits > 0).long()
    if not confidence:
        return pred, None
    p = torch.sigmoid(logits.float())
    return pred, torch.where(pred == 1, p, 1 - p)


def _nearest(output: torch.Tensor, shape: torch.Size, confidence: bool) -> Prediction:
    """A real value per label (a regression loss on class labels): the nearest class."""
    return output.reshape(shape).round().long().clamp_min(0), None


# --- loss functions -----------------------------------------------------------------------
def _class_loss(name: str):
    """A class-score loss from torch.nn.functional, by name (looked up when it runs)."""
    def compute(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fn = getattr(F, name)
        if output.dim() == 2 and output.dtype == torch.float32:
            return fn(output, target)  # the common case, without reshapes
        return fn(output.reshape(-1, output.shape[-1]).float(), target.reshape(-1))
    return compute


def _elementwise(name: str):
    """A value-by-value loss from torch.nn.functional, by name (looked up when it runs)."""
    def compute(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fn = getattr(F, name)
        if output.shape != target.shape or output.dtype != target.dtype:
            target = target.to(output.dtype).view_as(output)
        return fn(output, target)
    return compute


def _kl_div(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    log_probs = F.log_softmax(output.float(), dim=-1)
    if target.dtype == torch.int64:
        target = F.one_hot(target, output.shape[-1]).float()
    return F.kl_div(log_probs, target.view_as(log_probs), reduction="batchmean")


#: Kinds of output values a loss may expect or forbid, by the output range that gives them.
OUTPUT_KINDS = {"probabilities": (0.0, 1.0), "log-probabilities": (None, 0.0)}
#: A layer that produces each kind, for advice.
_PRODUCERS = {"probabilities": "Softmax", "log-probabilities": "LogSoftmax"}


def output_kind(layer: LayerSpec | None) -> str | None:
    """"probabilities", "log-probabilities" or None (raw scores) for what `layer` outputs."""
    if layer is None or layer.output_range is None:
        return None
    return next((kind for kind, bounds in OUTPUT_KINDS.items()
                 if tuple(layer.output_range) == bounds), None)


_SQUASHING = ("probabilities",)

LOSSES: dict[str, LossSpec] = {s.id: s for s in (
    LossSpec("cross_entropy", "Cross-entropy", "Classification from raw scores (logits): "
             "applies softmax itself. Also takes per-step scores (batch, L, classes) with "
             "targets (batch, L).", "classification", ("int64",), _class_loss("cross_entropy"),
             _from_scores, forbids=_SQUASHING),
    LossSpec("nll", "Negative log-likelihood", "Classification from log-probabilities: put a "
             "LogSoftmax before the Output.", "classification", ("int64",),
             _class_loss("nll_loss"), _from_scores, expects="log-probabilities"),
    LossSpec("bce", "Binary cross-entropy", "Yes/no answers (one or several per sample) from "
             "logits: applies the sigmoid itself.", "multilabel", ("int64", "float32"),
             _elementwise("binary_cross_entropy_with_logits"), _from_logits,
             forbids=_SQUASHING),
    LossSpec("mse", "Mean squared error", "Regression: the mean of squared differences; large "
             "errors weigh most.", "regression", ("float32", "int64"), _elementwise("mse_loss"),
             _nearest),
    LossSpec("l1", "Mean absolute error", "Regression: the mean of absolute differences; "
             "robust to outliers.", "regression", ("float32", "int64"), _elementwise("l1_loss"),
             _nearest),
    LossSpec("huber", "Huber", "Regression: squared for small errors, absolute for large ones "
             "(beyond 1).", "regression", ("float32", "int64"), _elementwise("huber_loss"),
             _nearest),
    LossSpec("smooth_l1", "Smooth L1", "Regression: like Huber but scaled so its gradient never "
             "exceeds 1 — the box-regression loss of object detectors.", "regression",
             ("float32", "int64"), _elementwise("smooth_l1_loss"), _nearest),
    LossSpec("kl_div", "KL divergence", "Distance from the softmax of the outputs to target "
             "distributions (class indices count as one-hot), e.g. for distillation.",
             "distribution", ("float32", "int64"), _kl_div, _from_scores, forbids=_SQUASHING),
)}


def compute_loss(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean loss of a batch under the loss called `name`."""
    return LOSSES[name].compute(output, target)


def losses_for(task: str) -> list[str]:
    """The names of the losses of one task, for messages."""
    return [name for name, spec in LOSSES.items() if spec.task == task]


def check_compatible(loss: str, metrics: list[str], output: TensorInfo, target_shape: tuple,
                     target_dtype: torch.dtype, num_classes: int | None) -> None:
    """Refuse a run whose Output cannot be compared with the targets; say what to change."""
    from .metrics import task_problem

    spec = LOSSES[loss]
    dtype = str(target_dtype).replace("torch.", "")
    if dtype not in spec.target_dtypes:
        wanted = ("class labels" if spec.target_dtypes == ("int64",) else
                  " or ".join(spec.target_dtypes) + " targets")
        other = "real-valued" if dtype.startswith("float") else "integer"
        raise TrainingError(f"{loss} needs {wanted} but the dataset has {other} targets: use "
                            f"the {', '.join(losses_for('regression'))} loss", "data")
    out = output.describe()
    if spec.task_spec.class_scores:
        if dtype.startswith("float"):  # target distributions: one probability per class
            wanted_shape, num_classes = tuple(target_shape), (target_shape or (1,))[-1]
        else:
            wanted_shape = (*target_shape, num_classes) if num_classes else None
        if wanted_shape and tuple(output.shape) != wanted_shape:
            shape = "(batch, " + ", ".join(map(str, wanted_shape)) + ")"
            raise TrainingError(f"{loss} needs the Output to give {shape}: one score per class "
                                f"for {num_classes} classes, but it gives {out}: set the last "
                                f"layer's size to {num_classes}", "design")
    else:
        if spec.task == "multilabel" and dtype == "int64" and num_classes and num_classes > 2:
            raise TrainingError(f"{loss} is for yes/no targets but the dataset has "
                                f"{num_classes} classes: use cross_entropy", "data")
        numel, target_numel = math.prod(output.shape), math.prod(target_shape)
        if numel != target_numel:
            wanted = "(batch, " + ", ".join(map(str, target_shape or (1,))) + ")"
            raise TrainingError(f"{loss} compares the Output {out} with targets of shape "
                                f"{wanted}: make the last layer produce {target_numel} value(s) "
                                "per sample", "design")
    for name in metrics:
        problem = task_problem(name, loss)
        if problem:
            raise TrainingError(problem, "data")
