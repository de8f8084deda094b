"""The settings catalogue: every field of a design's `training` block, declared once.

A `Setting` is a path in the block ("optimizer.lr"), a `ParamSpec` (kind, default, bounds, choices,
doc) and when it applies. Validation and defaults (config.py), the designer's Training form, the
run labels ("lr 0.01 -> 0.1") and the settings table of docs/training.md are all derived from
`SETTINGS`. Choices and "applies when" of optimiser, schedule and loss fields are read from their
own catalogues, so a new optimiser shows up here by itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..data import get_spec
from ..errors import DatasetError, ParamError
from ..present import format_literal
from ..specs import ParamSpec
from .losses import LOSSES, TASKS
from .metrics import metric_problem, task_problem
from .data_feed import LOADING
from .devices import AUTOCAST_DTYPES
from .modes import CORRUPTIONS, GENERATOR_LOSSES, MODES
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULES

DEVICES = ("auto", "cpu", "cuda", "mps")
CLIPPING = ("none", "norm", "value")

#: Form sections, in order.
SECTIONS = ("Data", "Objective", "Optimiser", "Schedule", "Run", "Regularisation",
            "Early stopping", "Augmentation", "Monitoring")


@dataclass(frozen=True)
class When:
    """A setting applies only while another setting has one of `values`."""

    path: str
    values: tuple[Any, ...]

    def __call__(self, block: dict) -> bool:
        try:
            return get_path(block, self.path) in self.values
        except (KeyError, TypeError):
            return False

    def describe(self) -> str:
        shown = ", ".join(format_literal(v).strip('"') for v in self.values)
        return f"`{self.path}` is {shown}"


@dataclass(frozen=True)
class Setting:
    """One field of the training block.

    Attributes:
        path: Where it lives ("optimizer.lr").
        label: The form's row label.
        section: One of `SECTIONS`.
        spec: Kind, default, bounds, choices and doc; None for `dataset.params`, whose fields are
            the chosen dataset's own `ParamSpec`s.
        applies: When it has an effect (None: always).
        short: Its name in run labels ("lr"); settings with one are listed first there.
        check: A further check given the whole (defaults-filled) block; returns a message or None.
        derive: The default computed from the block the user wrote and the defaults-filled one,
            when it depends on other settings (metrics follow the loss).
    """

    path: str
    label: str
    section: str
    spec: ParamSpec | None
    applies: When | None = None
    short: str = ""
    check: Callable[[Any, dict], str | None] | None = None
    derive: Callable[[dict, dict], Any] | None = field(default=None, repr=False)

    @property
    def default(self) -> Any:
        return {} if self.spec is None else self.spec.default

    def applies_to(self, block: dict) -> bool:
        return self.applies is None or self.applies(block)


def set_path(block: dict, path: str, value: Any) -> None:
    """Set the value at a dotted path, creating sections; ValueError when a section along the
    way is not an object."""
    *parents, last = path.split(".")
    node = block
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"'{part}' is not a section of the training block")
    node[last] = value


def get_path(block: dict, path: str) -> Any:
    """The value at a dotted path ("optimizer.lr"); KeyError/TypeError when it is missing."""
    for part in path.split("."):
        block = block[part]
    return block


def _users(catalogue: dict, section: str, key: str) -> When:
    """The setting applies while the section's `name` is an entry of `catalogue` that uses it."""
    return When(f"{section}.name", tuple(name for name, spec in catalogue.items()
                                         if key in spec.uses))


# --- checks that need the rest of the block -------------------------------------------------
def _check_metrics(value: list[str], block: dict) -> str | None:
    problems = [metric_problem(name) or task_problem(name, block.get("loss")) for name in value]
    return next((p for p in problems if p), None)


def _monitorable(block: dict) -> list[str]:
    metrics = block.get("metrics") if isinstance(block.get("metrics"), list) else []
    return ["val_loss", "train_loss"] + [f"{split}_{m}" for m in metrics if isinstance(m, str)
                                         for split in ("val", "train")]


def _check_monitor(value: str, block: dict) -> str | None:
    names = _monitorable(block)
    if value not in names:
        return f"cannot monitor {value!r}: use one of {', '.join(names)}"
    return None


def _check_processes(value: int, block: dict) -> str | None:
    batch = block.get("batch_size")
    if isinstance(batch, int) and 1 <= batch < value:  # a bad batch size is its own problem
        return (f"{value} processes need a batch size of at least {value} (it is {batch}): "
                "each step splits the batch over the processes")
    return None


def _check_dataset_name(value: str, block: dict) -> str | None:
    try:
        get_spec(value)
    except DatasetError as err:
        return str(err)
    return None


def _check_dataset_params(value: Any, block: dict) -> str | None:
    if not isinstance(value, dict):
        return "'params' must be an object"
    try:
        spec = get_spec(block["dataset"]["name"])
    except (DatasetError, TypeError, KeyError):
        return None  # dataset.name reports the unknown dataset
    try:
        spec.check_params(value)
    except DatasetError as err:
        return str(err)
    return None


def _default_metrics(given: dict, merged: dict) -> list[str]:
    name = merged.get("loss")
    loss = LOSSES.get(name) if isinstance(name, str) else None  # reported on its own field
    return list(TASKS[loss.task].default_metrics if loss else ("accuracy",))


def _p(name: str, kind: str, default: Any, doc: str, **bounds: Any) -> ParamSpec:
    return ParamSpec(name, kind, default, doc, **bounds)


_ES_ON = When("early_stopping.enabled", (True,))

SETTINGS: tuple[Setting, ...] = (
    # Data
    Setting("dataset.name", "Dataset", "Data",
            _p("name", "str", "spirals", "The dataset to train on: a name from "
               "docs/datasets.md or one registered with runtime.data.register_dataset."),
            short="dataset", check=_check_dataset_name),
    Setting("dataset.params", "Dataset parameters", "Data", None, check=_check_dataset_params),
    Setting("dataset.validation_split", "Validation share", "Data",
            _p("validation_split", "float", 0.2, "Share of the samples held out to measure "
               "generalisation; 0 for none.", minimum=0.0, maximum=0.9), short="validation"),
    Setting("dataset.classes", "Classes", "Data",
            _p("classes", "str_list", [], "Keep only these classes (names, or indices from 0), "
               "relabelled 0, 1, ... in this order: one dataset split into two tasks, e.g. "
               "pre-train on some classes and fine-tune on the others. Empty for all.",
               max_items=1000), short="classes"),
    Setting("dataset.train_per_class", "Labelled per class", "Data",
            _p("train_per_class", "int", None, "Train on only this many samples of each class "
               "of the training split (a small labelled subset, as fine-tuning often has); the "
               "validation split stays whole. Empty for all.", minimum=1, nullable=True),
            short="per class"),
    Setting("dataset.loading", "Data loading", "Data",
            _p("loading", "choice", "auto", "Where the inputs live while training: memory "
               "holds them whole on the device; stream reads image folders and large NumPy "
               "arrays from disk batch by batch, in worker processes; auto streams only what "
               "would not fit ([datasets.md](datasets.md#data-larger-than-memory)).",
               choices=LOADING), short="loading"),
    Setting("dataset.workers", "Reader processes", "Data",
            _p("workers", "int", "auto", "Processes that read and decode streamed data ahead "
               "of training (0: read in the training process); \"auto\" gives the cores less "
               "one, at most 4, shared by a run's processes.", minimum=0, maximum=64,
               words=("auto",)), short="workers"),
    # Objective
    Setting("mode.name", "Training mode", "Objective",
            _p("name", "choice", "supervised", "What the network learns to produce from "
               "what ([training.md](training.md#training-modes)).", choices=tuple(MODES)),
            short="mode"),
    Setting("mode.corruption", "Corruption", "Objective",
            _p("corruption", "choice", "none", "How the inputs are damaged before the network "
               "sees them: gaussian noise, or masking (values set to zero); none for a plain "
               "autoencoder.", choices=CORRUPTIONS), _users(MODES, "mode", "corruption"),
            short="corruption"),
    Setting("mode.noise", "Corruption level", "Objective",
            _p("noise", "float", 0.3, "Gaussian: the noise's standard deviation; masking: the "
               "share of input values set to zero.", minimum=0.0, maximum=1.0),
            _users(MODES, "mode", "noise"), short="noise"),
    Setting("mode.cd_steps", "Gibbs steps (k)", "Objective",
            _p("cd_steps", "int", 1, "Gibbs sampling steps per update: CD-1 is the classic, "
               "more steps follow the model's distribution further.", minimum=1, maximum=100),
            _users(MODES, "mode", "cd_steps"), short="CD-k"),
    Setting("mode.persistent", "Persistent chain", "Objective",
            _p("persistent", "bool", False, "Persistent contrastive divergence: keep one Gibbs "
               "chain going across batches instead of restarting it at the data."),
            _users(MODES, "mode", "persistent"), short="PCD"),
    Setting("mode.generator_loss", "Generator loss", "Objective",
            _p("generator_loss", "choice", "non_saturating", "non_saturating: the generator "
               "minimises -log D(G(z)), whose gradient is strongest while the discriminator "
               "wins; minimax: it minimises log(1 - D(G(z))), the original game, whose gradient "
               "vanishes then.", choices=GENERATOR_LOSSES),
            _users(MODES, "mode", "generator_loss"), short="G loss"),
    Setting("mode.discriminator_lr", "Discriminator LR", "Objective",
            _p("discriminator_lr", "float", None, "The discriminator's learning rate (its own "
               "optimiser, of the run's kind); empty for the run's learning rate. The schedule "
               "acts on the generator's only.", minimum=0.0, exclusive_minimum=True,
               maximum=10.0, nullable=True), _users(MODES, "mode", "discriminator_lr"),
            short="D lr"),
    Setting("mode.label_smoothing", "Label smoothing", "Objective",
            _p("label_smoothing", "float", 0.0, "One-sided label smoothing: the discriminator's "
               "target for real samples is 1 minus this (fakes stay 0), so it cannot grow "
               "overconfident.", minimum=0.0, maximum=0.5),
            _users(MODES, "mode", "label_smoothing"), short="smoothing"),
    Setting("mode.discriminator_steps", "D steps per G step", "Objective",
            _p("discriminator_steps", "int", 1, "Discriminator updates before each generator "
               "update (the extra ones on other random training batches).", minimum=1,
               maximum=10), _users(MODES, "mode", "discriminator_steps"), short="D steps"),
    Setting("loss", "Loss", "Objective",
            _p("loss", "choice", "cross_entropy", "What training minimises.",
               choices=tuple(LOSSES)), short="loss"),
    Setting("metrics", "Metrics", "Objective",
            _p("metrics", "str_list", ["accuracy"], "Measured every epoch on both splits "
               "(train_<m>, val_<m>); by default those of the loss's task.", max_items=16),
            check=_check_metrics, derive=_default_metrics),
    # Optimiser
    Setting("optimizer.name", "Optimiser", "Optimiser",
            _p("name", "choice", "adam", "How the weights are updated.",
               choices=tuple(OPTIMIZERS)), short="optimizer"),
    Setting("optimizer.lr", "Learning rate", "Optimiser",
            _p("lr", "float", 0.001, "Step size of each update; can also be changed during a "
               "run.", minimum=0.0, exclusive_minimum=True, maximum=10.0), short="lr"),
    Setting("optimizer.momentum", "Momentum", "Optimiser",
            _p("momentum", "float", 0.9, "Share of the previous step carried into the next.",
               minimum=0.0, maximum=1.0), _users(OPTIMIZERS, "optimizer", "momentum"),
            short="momentum"),
    Setting("optimizer.nesterov", "Nesterov", "Optimiser",
            _p("nesterov", "bool", False, "Nesterov momentum: step from where momentum is "
               "heading."), _users(OPTIMIZERS, "optimizer", "nesterov")),
    Setting("optimizer.weight_decay", "Weight decay", "Optimiser",
            _p("weight_decay", "float", 0.0, "L2 penalty on the weights (decoupled for "
               "AdamW).", minimum=0.0), _users(OPTIMIZERS, "optimizer", "weight_decay"),
            short="weight decay"),
    Setting("optimizer.betas", "Betas", "Optimiser",
            _p("betas", "float_list", [0.9, 0.999], "Decay rates of the running averages of "
               "the gradient and of its square.", minimum=0.0, maximum=1.0,
               exclusive_maximum=True, length=2), _users(OPTIMIZERS, "optimizer", "betas")),
    # Schedule
    Setting("schedule.name", "LR schedule", "Schedule",
            _p("name", "choice", "none", "How the learning rate changes over the run.",
               choices=tuple(SCHEDULES)), short="schedule"),
    Setting("schedule.step_size", "Step every (epochs)", "Schedule",
            _p("step_size", "int", 10, "Epochs between decays.", minimum=1),
            _users(SCHEDULES, "schedule", "step_size")),
    Setting("schedule.gamma", "Decay factor", "Schedule",
            _p("gamma", "float", 0.1, "Multiplier at each step.", minimum=0.0,
               exclusive_minimum=True, maximum=1.0), _users(SCHEDULES, "schedule", "gamma")),
    Setting("schedule.factor", "Reduce factor", "Schedule",
            _p("factor", "float", 0.5, "Multiplier when the monitored value stops improving.",
               minimum=0.0, exclusive_minimum=True, maximum=1.0),
            _users(SCHEDULES, "schedule", "factor")),
    Setting("schedule.patience", "Plateau patience", "Schedule",
            _p("patience", "int", 3, "Epochs without improvement before reducing.", minimum=0),
            _users(SCHEDULES, "schedule", "patience")),
    Setting("schedule.warmup_epochs", "Warm-up epochs", "Schedule",
            _p("warmup_epochs", "int", 1, "Epochs of linear warm-up.", minimum=1),
            _users(SCHEDULES, "schedule", "warmup_epochs")),
    Setting("schedule.min_lr", "Minimum LR", "Schedule",
            _p("min_lr", "float", 0.0, "Lowest learning rate.", minimum=0.0),
            _users(SCHEDULES, "schedule", "min_lr")),
    # Run
    Setting("batch_size", "Batch size", "Run",
            _p("batch_size", "int", 64, "Samples per step (1 = stochastic gradient descent), or "
               "\"full\" for the whole training set.", minimum=1, words=("full",)),
            short="batch"),
    Setting("epochs", "Epochs", "Run",
            _p("epochs", "int", 20, "Passes over the training set.", minimum=1, maximum=100_000),
            short="epochs"),
    Setting("seed", "Seed", "Run",
            _p("seed", "int", 0, "Random seed: seeded CPU runs repeat exactly.", minimum=0),
            short="seed"),
    Setting("device", "Device", "Run",
            _p("device", "choice", "auto", "Where to train: auto takes CUDA, then Apple MPS, "
               "then the CPU.", choices=DEVICES), short="device"),
    Setting("threads", "CPU threads", "Run",
            _p("threads", "int", "auto", "CPU threads for training; \"auto\" leaves one core "
               "for the editor.", minimum=1, maximum=256, words=("auto",))),
    Setting("processes", "Processes", "Run",
            _p("processes", "int", 1, "Processes to train on together (torchrun with "
               "DistributedDataParallel; one per GPU when there are GPUs, else CPU processes): "
               "each step splits the batch size over them. Read when a run starts (the "
               "designer, `main.py train`); [distributed.md](distributed.md).", minimum=1,
               maximum=1024), check=_check_processes),
    Setting("init_from", "Start from weights", "Run",
            _p("init_from", "path", None, "A checkpoint (a run's best.pt or last.pt) whose "
               "weights start this design where they fit: same node id, else same type and "
               "shapes ([training.md](training.md#weights-into-new-designs)); or "
               "`preset:NAME`, the trained weights of that preset (pre-trained on the first "
               "run, then reused); empty for random weights. A resumed run ignores it (its "
               "checkpoint has the weights).",
               nullable=True)),
    Setting("init_skip", "Keep fresh", "Run",
            _p("init_skip", "str_list", [], "Layers (node ids) that keep their own initial "
               "weights even where the weights named by Start from weights would fit them: a "
               "new head on a pre-trained body.", max_items=10_000), short="fresh"),
    Setting("mixed_precision", "Mixed precision", "Run",
            _p("mixed_precision", "bool", False, "Compute the forward pass and the loss in a "
               "16-bit type (torch.autocast) where that is safe: faster and lighter on GPUs "
               "with tensor cores. CUDA, and the CPU in bfloat16; elsewhere the run says so "
               "and trains in float32."), short="amp"),
    Setting("mixed_precision_dtype", "16-bit type", "Run",
            _p("mixed_precision_dtype", "choice", "float16", "float16: every CUDA GPU, with a "
               "gradient scaler that skips the few steps whose gradients overflow (the run "
               "warns when it does); bfloat16: float32's range, no scaler, on GPUs from "
               "Ampere on and on the CPU.", choices=AUTOCAST_DTYPES),
            When("mixed_precision", (True,)), short="amp type"),
    # Regularisation
    Setting("regularization.l1", "L1 penalty", "Regularisation",
            _p("l1", "float", 0.0, "Adds this times the sum of |weights| to the loss.",
               minimum=0.0), short="l1"),
    Setting("regularization.max_norm", "Max weight norm", "Regularisation",
            _p("max_norm", "float", None, "Rescale each unit's incoming weights to at most this "
               "norm after every step; empty for none.", minimum=0.0, exclusive_minimum=True,
               nullable=True), short="max norm"),
    Setting("gradient_clipping.mode", "Gradient clipping", "Regularisation",
            _p("mode", "choice", "none", "Clip the gradients' total norm (norm) or each value "
               "(value) before the step.", choices=CLIPPING), short="clipping"),
    Setting("gradient_clipping.value", "Clip at", "Regularisation",
            _p("value", "float", 1.0, "The norm or value limit.", minimum=0.0,
               exclusive_minimum=True), When("gradient_clipping.mode", ("norm", "value")),
            short="clip value"),
    # Early stopping
    Setting("early_stopping.enabled", "Stop early", "Early stopping",
            _p("enabled", "bool", False, "End the run when the monitored value stops improving; "
               "on when the design has an early_stopping block that does not say otherwise."),
            short="early stopping",
            derive=lambda given, merged: isinstance(given.get("early_stopping"), dict)),
    Setting("early_stopping.monitor", "Monitor", "Early stopping",
            _p("monitor", "str", "val_loss", "The value judged: val_loss, train_loss or val_/"
               "train_ + a metric. It also picks the best checkpoint and drives "
               "reduce_on_plateau."), check=_check_monitor),
    Setting("early_stopping.patience", "Patience", "Early stopping",
            _p("patience", "int", 5, "Epochs without improvement before stopping.", minimum=0),
            _ES_ON),
    Setting("early_stopping.min_delta", "Min improvement", "Early stopping",
            _p("min_delta", "float", 0.0, "A change smaller than this is no improvement (for "
               "early stopping and for picking the best checkpoint).", minimum=0.0)),
    # Augmentation
    Setting("augmentation.flip", "Random flip", "Augmentation",
            _p("flip", "bool", False, "Images: flip half the training images left to right."),
            short="flip"),
    Setting("augmentation.shift", "Random shift (px)", "Augmentation",
            _p("shift", "int", 0, "Images: shift each training batch by up to this many "
               "pixels.", minimum=0, maximum=64), short="shift"),
    Setting("augmentation.noise", "Input noise", "Augmentation",
            _p("noise", "float", 0.0, "Adds Gaussian noise of this std to training inputs "
               "(images, sequences, tables).", minimum=0.0), short="input noise"),
    # Monitoring
    Setting("monitoring.every", "Sample every (steps)", "Monitoring",
            _p("every", "int", "auto", "Measure layer statistics every N steps; \"auto\" spaces "
               "them to cost about 3 % of training time, \"off\" never.", minimum=1,
               words=("auto", "off"))),
    Setting("monitoring.histogram_bins", "Histogram bins", "Monitoring",
            _p("histogram_bins", "int", 32, "Bins of the activation, weight and gradient "
               "histograms.", minimum=4, maximum=256)),
    Setting("monitoring.doctor", "Training doctor", "Monitoring",
            _p("doctor", "bool", True, "Diagnose the run as it trains (dead or saturated "
               "units, vanishing or exploding gradients, a learning rate too high or too low, "
               "overfitting...) and send each finding as a `diagnosis` event "
               "([doctor.md](doctor.md)).")),
)

BY_PATH: dict[str, Setting] = {s.path: s for s in SETTINGS}


def defaults() -> dict:
    """The training block with every setting at its declared default (fresh values)."""
    out: dict = {}
    for setting in SETTINGS:
        value = setting.default
        set_path(out, setting.path, list(value) if isinstance(value, list) else (
            dict(value) if isinstance(value, dict) else value))
    return out


def validate(setting: Setting, value: Any, block: dict) -> str | None:
    """Why `value` is not acceptable for `setting` in `block`, or None."""
    if setting.spec is not None:
        try:
            value = setting.spec.validate(value)
        except ParamError as err:
            return str(err)
    return setting.check(value, block) if setting.check else None
