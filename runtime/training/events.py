"""The trainer -> worker -> designer/CLI protocol: one frozen dataclass per event.

Each event has a `kind` (its "event" name in JSON) and plain fields; `to_json` gives the dict
written as a JSON line or sent between processes (non-finite numbers become null), `from_json`
reads it back. The field table of docs/training.md is generated from the `doc` metadata here.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: Error kinds: what failed, so the designer knows where to point.
ERROR_KINDS = ("nan", "oom", "data", "design", "crash")
#: How a run can end.
END_STATUSES = ("completed", "stopped", "early_stopped", "failed", "interrupted")


def _f(doc: str, default: Any = dataclasses.MISSING, optional: bool = False) -> Any:
    """A field with its documentation; `optional` fields are left out of the JSON when None."""
    meta = {"doc": doc, "optional": optional}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Event:
    """Base of every event; subclasses set `kind` and `doc`."""

    kind: ClassVar[str] = ""
    doc: ClassVar[str] = ""

    def to_json(self) -> dict:
        """The JSON-ready dict ({"event": kind, ...fields}); non-finite floats become None."""
        out: dict[str, Any] = {"event": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("optional"):
                continue
            out[f.name] = _clean(value)
        return out

    @classmethod
    def from_fields(cls, data: dict) -> "Event":
        """The event of its JSON dict (unknown keys are ignored)."""
        return _construct(cls, data)


@dataclass(frozen=True)
class WorkerStarted(Event):
    kind: ClassVar[str] = "worker_started"
    doc: ClassVar[str] = "The training process is up (sent by the worker)."
    pid: int = _f("The child process id.")
    run_folder: str | None = _f("The run folder it writes ([runs.md](runs.md)), when it keeps "
                                "one.", None, optional=True)


@dataclass(frozen=True)
class FitStart(Event):
    kind: ClassVar[str] = "fit_start"
    doc: ClassVar[str] = "Training is set up and about to run its first batch."
    design: str = _f("The design's name.")
    dataset: str = _f("The dataset's name.")
    device: str = _f("Where it trains (cpu, cuda, ...).")
    epochs: int = _f("The last epoch the run will reach.")
    start_epoch: int = _f("The first epoch (later than 1 when resuming).")
    steps_per_epoch: int = _f("Batches per epoch.")
    batch_size: int = _f("Samples per batch.")
    train_samples: int = _f("Samples in the training split.")
    val_samples: int = _f("Samples in the validation split.")
    params: int = _f("Parameters of the model.")
    trainable_params: int = _f("Parameters that training updates.")
    task: str = _f("The dataset's task (classification or regression).")
    num_classes: int | None = _f("Classes, for classification.")
    lr: float = _f("The starting learning rate.")
    mixed_precision: bool = _f("Whether autocast is on.")
    precision: str = _f("The type the forward pass computes in: float32, or float16 / bfloat16 "
                        "under autocast.", "float32")
    loss: str = _f("The loss.", "")
    metrics: list = _f("The metrics reported per epoch.", [])
    data: str = _f("Where the inputs live while training: in memory, or streamed from disk by "
                   "worker processes ([datasets.md](datasets.md#data-larger-than-memory)).",
                   "data in memory")


@dataclass(frozen=True)
class Step(Event):
    kind: ClassVar[str] = "step"
    doc: ClassVar[str] = "Progress within an epoch, at most 20 per second."
    step: int = _f("Batches run so far.")
    epoch: int = _f("The current epoch.")
    epochs: int = _f("The last epoch.")
    step_in_epoch: int = _f("Batches run in this epoch.")
    steps_per_epoch: int = _f("Batches per epoch.")
    loss: float | None = _f("The batch's loss.")
    lr: float = _f("The learning rate.")
    eta_s: float | None = _f("Seconds left, estimated.")


@dataclass(frozen=True)
class Monitor(Event):
    kind: ClassVar[str] = "monitor"
    doc: ClassVar[str] = ("A monitoring sample: per node the statistics of docs/training.md's "
                          "statistics table.")
    step: int = _f("The sampled step.")
    epoch: int = _f("Its epoch.")
    nodes: dict = _f("Per node id: its activation statistics and histogram; for nodes with "
                     "weights also their node-level parameter statistics and `params`: per "
                     "tensor (`weight`, `bias`, ...) every parameter statistic and histogram.")


@dataclass(frozen=True)
class EpochEnd(Event):
    kind: ClassVar[str] = "epoch_end"
    doc: ClassVar[str] = "An epoch and its validation pass finished."
    epoch: int = _f("The epoch.")
    epochs: int = _f("The last epoch.")
    step: int = _f("Batches run so far.")
    train_loss: float | None = _f("Mean training loss of the epoch.")
    val_loss: float | None = _f("Validation loss (null without a validation split).", None)
    metrics: dict = _f("`train_<m>` and `val_<m>` for each metric, written as top-level "
                       "fields.", {})
    lr: float = _f("The learning rate at the end of the epoch.", 0.0)
    samples_per_s: float = _f("Training throughput so far.", 0.0)
    elapsed_s: float = _f("Seconds since training began.", 0.0)
    eta_s: float | None = _f("Seconds left, estimated.", None)

    def to_json(self) -> dict:
        out = super().to_json()
        metrics = out.pop("metrics")
        lr_at = list(out).index("lr")  # metrics sit after the losses, as they always have
        items = list(out.items())
        return dict(items[:lr_at] + list(metrics.items()) + items[lr_at:])

    @classmethod
    def from_fields(cls, data: dict) -> "EpochEnd":
        names = {f.name for f in dataclasses.fields(cls)}
        metrics = {k: v for k, v in data.items() if k not in names
                   and k.startswith(("train_", "val_"))}
        return _construct(cls, {**data, "metrics": metrics})

    def values(self) -> dict[str, float | None]:
        """Every per-epoch figure by name: train_loss, val_loss and the metrics."""
        return {"train_loss": self.train_loss, "val_loss": self.val_loss, **self.metrics}

    def get(self, name: str) -> float | None:
        return self.values().get(name)


@dataclass(frozen=True)
class LrChanged(Event):
    kind: ClassVar[str] = "lr_changed"
    doc: ClassVar[str] = "The learning rate was changed during the run."
    step: int = _f("The step it takes effect after.")
    lr: float = _f("The new rate.")
    previous_lr: float = _f("The rate before.")


@dataclass(frozen=True)
class Paused(Event):
    kind: ClassVar[str] = "paused"
    doc: ClassVar[str] = "The run holds after a batch (sent by the worker)."
    step: int = _f("The last step run.")


@dataclass(frozen=True)
class Resumed(Event):
    kind: ClassVar[str] = "resumed"
    doc: ClassVar[str] = "A paused run continues (sent by the worker)."
    step: int = _f("The last step run.")


@dataclass(frozen=True)
class RunWarning(Event):
    kind: ClassVar[str] = "warning"
    doc: ClassVar[str] = ("Something worth knowing that does not stop the run (a report that "
                          "could not be computed, a refused learning rate, an output activation "
                          "the loss does not expect).")
    message: str = _f("What happened.")
    node: str | None = _f("The node it concerns, when there is one.", None, optional=True)


@dataclass(frozen=True)
class Preparing(Event):
    kind: ClassVar[str] = "preparing"
    doc: ClassVar[str] = ("Work before the first step that takes a while: pre-training the "
                          "preset whose weights the design starts from (`init_from: "
                          "\"preset:NAME\"`), one event as it starts and one per epoch.")
    message: str = _f("What is being done, e.g. \"pre-training preset X: epoch 3/15\".")
    done: float = _f("The share done, 0 to 1.")


@dataclass(frozen=True)
class Samples(Event):
    kind: ClassVar[str] = "samples"
    doc: ClassVar[str] = ("After an epoch of a generative training mode: what the model "
                          "produces now (contrastive divergence: pictures dreamt by Gibbs "
                          "chains; adversarial: the generator's pictures or 2-D points), so a "
                          "view can show them as it learns.")
    step: int = _f("The last step run.")
    epoch: int = _f("The epoch just ended.")
    title: str = _f("What the samples are, in a phrase.")
    images: list = _f("The samples as pictures: a list of (height, width) rows of values in "
                      "[0, 1].")
    group: str = _f("Which view they belong to: `dreams` (what the model produces) or "
                    "`filters` (what its units respond to); a view keeps the latest of each.",
                    "dreams")
    points: list = _f("Generated 2-D points, [x, y] each (adversarial training on 2-D data), "
                      "drawn over `real`.", [])
    real: list = _f("Real 2-D points, [x, y] each, that `points` are drawn over.", [])


@dataclass(frozen=True)
class Translations(Event):
    kind: ClassVar[str] = "translations"
    doc: ClassVar[str] = ("After an epoch of a seq2seq run: a few validation sources with "
                          "their targets and what the model decodes from them (greedily), and "
                          "where its attention looked, so a view can show it learning.")
    step: int = _f("The last step run.")
    epoch: int = _f("The epoch just ended.")
    pairs: list = _f("Up to 8 validation samples: `source`, `target` and `output` token id "
                     "lists.")
    attention: list | None = _f("For a decoder with attention over the encoder's states: the "
                                "first pair's weights, one row per target step, one column per "
                                "source step (each row sums to 1).", None, optional=True)
    attention_node: str | None = _f("The MultiheadAttention node those weights are from.", None,
                                    optional=True)


#: What a diagnosis event says about its finding.
DIAGNOSIS_STATUSES = ("new", "updated", "withdrawn")


@dataclass(frozen=True)
class Diagnosis(Event):
    kind: ClassVar[str] = "diagnosis"
    doc: ClassVar[str] = ("The training doctor found something, saw it change, or saw it clear "
                          "(docs/doctor.md lists the codes).")
    status: str = _f("`new`, `updated` (new evidence) or `withdrawn` (the condition cleared).")
    step: int = _f("The step it was judged at.")
    finding: dict = _f("The finding: `code`, `severity`, `title`, `explanation`, `node` and/or "
                       "`field`, `evidence`, `fixes` (each `description` and `edits`), `stage`.")


@dataclass(frozen=True)
class Error(Event):
    kind: ClassVar[str] = "error"
    doc: ClassVar[str] = "The run failed; `fit_end` with status failed follows."
    failure: str = _f("What failed: " + ", ".join(f"`{k}`" for k in ERROR_KINDS) + ".")
    message: str = _f("What went wrong and what to change.")
    node: str | None = _f("Where it appeared, when known.", None)
    traceback: str | None = _f("The Python traceback of a crash.", None, optional=True)

    def to_json(self) -> dict:
        out = super().to_json()
        out["kind"] = out.pop("failure")  # "kind" in the file; a Python name clash here
        return {"event": out.pop("event"), "kind": out.pop("kind"), **out}

    @classmethod
    def from_fields(cls, data: dict) -> "Error":
        return cls(failure=data.get("kind", "crash"), message=data.get("message", ""),
                   node=data.get("node"), traceback=data.get("traceback"))

    @classmethod
    def of(cls, err: BaseException) -> "Error":
        """The event of a failure: a TrainingError keeps its kind and node, anything else is a
        crash. The one place an error event is built."""
        failure = getattr(err, "kind", "crash")
        return cls(failure if failure in ERROR_KINDS else "crash", str(err),
                   getattr(err, "node", None))


@dataclass(frozen=True)
class Report(Event):
    kind: ClassVar[str] = "report"
    doc: ClassVar[str] = ("Once, just before `fit_end`, when at least one epoch ran, the run did "
                          "not fail and the validation split is not empty: how the trained model "
                          "does on the validation split. A report that cannot be computed "
                          "becomes a `warning`.")
    task: str = _f("classification or regression.")
    data_kind: str = _f("tabular, image or sequence (written as `kind`).")
    dataset: str = _f("The dataset's name.")
    val_samples: int = _f("Samples judged.")
    samples: list = _f("The first 48 validation samples: `index`, `target`, `prediction`, "
                       "`input` (an image (C,H,W) scaled to 0..1 and strided to about 32×32, a "
                       "table row of ≤ 8 features, or a sequence's first 64 steps; omitted "
                       "otherwise); classification adds `correct` and `confidence` (probability "
                       "of the prediction, mean over steps).")
    class_names: list | None = _f("Classification: the class names.", None, optional=True)
    confusion: list | None = _f("Classification: counts, rows true class, columns predicted, "
                                "over every validation sample (and step).", None, optional=True)
    accuracy: float | None = _f("Classification: share on the diagonal.", None, optional=True)
    decision_grid: dict | None = _f("2-feature tables: `x_range`, `y_range`, `size` (60), "
                                    "`classes` (rows follow y, columns x).", None,
                                    optional=True)
    mse: float | None = _f("Regression: mean squared error.", None, optional=True)
    mae: float | None = _f("Regression: mean absolute error.", None, optional=True)
    baseline_mse: float | None = _f("Regression: the error of always predicting the training "
                                    "targets' mean.", None, optional=True)
    output: str | None = _f("With several Outputs, the one judged (one report each).", None,
                            optional=True)
    scatter: dict | None = _f("Regression: `target` and `prediction`, each sample's first "
                              "value, up to 500 points.", None, optional=True)

    def to_json(self) -> dict:
        out = super().to_json()
        out["kind"] = out.pop("data_kind")
        return out

    @classmethod
    def from_fields(cls, data: dict) -> "Report":
        return _construct(cls, {**data, "data_kind": data.get("kind", "")})


@dataclass(frozen=True)
class FitEnd(Event):
    kind: ClassVar[str] = "fit_end"
    doc: ClassVar[str] = "The run ended; always the last event of a run."
    status: str = _f("How: " + ", ".join(f"`{s}`" for s in END_STATUSES) + ".")
    epochs_run: int | None = _f("Epochs completed.", None)
    steps: int | None = _f("Batches run.", None)
    elapsed_s: float | None = _f("Seconds the run took.", None)
    best: dict | None = _f("The best epoch: `monitor`, `value`, `epoch`.", None)
    final: dict | None = _f("The last `epoch_end`.", None)
    message: str | None = _f("Why it failed or stopped.", None)

    @classmethod
    def failed(cls, message: str) -> "FitEnd":
        """The end of a run that died before it could say so itself."""
        return cls("failed", message=message)


#: Every event type by its JSON name.
EVENTS: dict[str, type[Event]] = {cls.kind: cls for cls in (
    WorkerStarted, Preparing, FitStart, Step, Monitor, EpochEnd, Samples, Translations, LrChanged, Paused,
    Resumed, RunWarning, Diagnosis, Error, Report, FitEnd)}


def from_json(data: dict) -> Event:
    """The event of a JSON dict (as `Event.to_json` wrote it); ValueError for an unknown kind."""
    cls = EVENTS.get(data.get("event"))
    if cls is None:
        raise ValueError(f"unknown event {data.get('event')!r}")
    return cls.from_fields(data)


def _construct(cls: type[Event], data: dict) -> Event:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _clean(value: Any) -> Any:
    """Plain JSON: non-finite floats become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
