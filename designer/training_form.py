"""The training form: the design's `training` block as editors, each change one undo step.

The form reads and writes only `session.model.training`. Values are checked by the same
`parse_training` the trainer uses (so the form and a run never disagree); a refused value shows
its message and the field goes back to the stored value. The block keeps only what the user set:
untouched fields stay at their defaults and out of the file.
"""
from __future__ import annotations

import copy
import gc
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QFormLayout, QGroupBox, QLabel, QScrollArea, QVBoxLayout,
                               QWidget)

from runtime.data import DATASETS, get_spec
from runtime.errors import DatasetError, LayerLabError, ParamError, TrainingConfigError
from runtime.graph import MetaChanged
from runtime.specs import ParamSpec
from runtime.training.config import (DEVICES, LOSSES, OPTIMIZERS, SCHEDULES,
                                     effective_block, merged_with_defaults,
                                     parse_training)
from runtime.training.data_fit import check_data_fits, io_nodes

from . import style
from .param_editors import ParamEditor, create_editor
from .session import DesignSession


@dataclass(frozen=True)
class Field:
    """One editable training setting.

    Attributes:
        path: Where it lives in the training block ("optimizer.lr").
        label: The row's label.
        spec: Kind, choices and help text for the editor (validation is `parse_training`'s).
        shown: When the field applies, given the effective block (e.g. momentum only for SGD).
        to_block/from_block: Convert between the editor's value and the stored one.
    """

    path: str
    label: str
    spec: ParamSpec
    shown: Callable[[dict], bool] = lambda block: True
    to_block: Callable[[Any], Any] = lambda value: value
    from_block: Callable[[Any], Any] = lambda value: value


def _spec(kind: str, doc: str, choices: tuple[str, ...] = (), nullable: bool = False,
          minimum: float | None = None) -> ParamSpec:
    return ParamSpec("value", kind, None, doc, choices=choices, nullable=nullable,
                     minimum=minimum)


def _int_or(word: str) -> Callable[[Any], Any]:
    """Parse text as an integer, or keep the named word ("full", "auto")."""
    def convert(text: Any) -> Any:
        text = str(text).strip()
        return int(text) if text.lstrip("-").isdigit() else (text or word)
    return convert


def _schedule_is(*names: str) -> Callable[[dict], bool]:
    return lambda block: block["schedule"]["name"] in names


def _metrics_from_text(text: Any) -> list[str]:
    return [part.strip() for part in str(text or "").replace(";", ",").split(",") if part.strip()]


#: The form's sections and fields, in order.
SECTIONS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Objective", (
        Field("loss", "Loss", _spec("choice", "What training minimises.", LOSSES)),
        Field("metrics", "Metrics", _spec("str", "Comma-separated: accuracy, top5_accuracy, mse, "
                                          "mae, r2."),
              to_block=_metrics_from_text, from_block=lambda v: ", ".join(v)),
    )),
    ("Optimiser", (
        Field("optimizer.name", "Optimiser", _spec("choice", "How weights are updated.",
                                                   OPTIMIZERS)),
        Field("optimizer.lr", "Learning rate", _spec("float", "Step size of each update; "
                                                     "can also be changed during a run.")),
        Field("optimizer.momentum", "Momentum", _spec("float", "Momentum (SGD, RMSprop)."),
              shown=lambda b: b["optimizer"]["name"] in ("sgd", "rmsprop")),
        Field("optimizer.nesterov", "Nesterov", _spec("bool", "Nesterov momentum (SGD)."),
              shown=lambda b: b["optimizer"]["name"] == "sgd"),
        Field("optimizer.weight_decay", "Weight decay", _spec("float", "L2 penalty on weights "
                                                              "(decoupled for AdamW).")),
        Field("schedule.name", "LR schedule", _spec("choice", "How the learning rate changes "
                                                    "over the run.", SCHEDULES)),
        Field("schedule.step_size", "Step every (epochs)", _spec("int", "Epochs between "
                                                                 "decays."),
              shown=_schedule_is("step")),
        Field("schedule.gamma", "Decay factor", _spec("float", "Multiplier at each step."),
              shown=_schedule_is("step")),
        Field("schedule.factor", "Reduce factor", _spec("float", "Multiplier when the monitored "
                                                        "value stops improving."),
              shown=_schedule_is("reduce_on_plateau")),
        Field("schedule.patience", "Plateau patience", _spec("int", "Epochs without "
                                                             "improvement before reducing."),
              shown=_schedule_is("reduce_on_plateau")),
        Field("schedule.warmup_epochs", "Warm-up epochs", _spec("int", "Epochs of linear "
                                                                "warm-up."),
              shown=_schedule_is("warmup")),
        Field("schedule.min_lr", "Minimum LR", _spec("float", "Lowest learning rate."),
              shown=_schedule_is("cosine", "reduce_on_plateau")),
    )),
    ("Run", (
        Field("batch_size", "Batch size", _spec("str", "Samples per step, or \"full\" for the "
                                                "whole training set."),
              to_block=_int_or("full"), from_block=str),
        Field("epochs", "Epochs", _spec("int", "Passes over the training set.")),
        Field("seed", "Seed", _spec("int", "Random seed: the same seed gives the same run.")),
        Field("device", "Device", _spec("choice", "Where to train; auto takes a GPU when there "
                                        "is one.", DEVICES)),
    )),
    ("Regularisation", (
        Field("regularization.l1", "L1 penalty", _spec("float", "Adds this times the sum of "
                                                       "|weights| to the loss.")),
        Field("regularization.max_norm", "Max weight norm", _spec(
            "float", "Rescale each unit's incoming weights to at most this norm after every "
            "step. Empty for none.", nullable=True)),
        Field("gradient_clipping.mode", "Gradient clipping", _spec(
            "choice", "Clip the gradient's global norm, or each value.",
            ("none", "norm", "value"))),
        Field("gradient_clipping.value", "Clip at", _spec("float", "The norm or value limit."),
              shown=lambda b: b["gradient_clipping"]["mode"] != "none"),
    )),
    ("Early stopping", (
        Field("early_stopping.enabled", "Stop early", _spec("bool", "End the run when the "
                                                            "monitored value stops improving.")),
        Field("early_stopping.monitor", "Monitor", _spec("str", "val_loss, train_loss or "
                                                         "val_/train_ + a metric."),
              shown=lambda b: b["early_stopping"]["enabled"]),
        Field("early_stopping.patience", "Patience", _spec("int", "Epochs without improvement "
                                                           "before stopping."),
              shown=lambda b: b["early_stopping"]["enabled"]),
        Field("early_stopping.min_delta", "Min improvement", _spec(
            "float", "A change smaller than this does not count as an improvement."),
              shown=lambda b: b["early_stopping"]["enabled"]),
    )),
)


class _DatasetLoader:
    """Loads datasets in one background thread (loads are rare and can take seconds).

    Python's cyclic garbage collector runs in whichever thread crosses its allocation threshold;
    run in the loader thread, it could free Qt objects away from the GUI thread, which deadlocks
    Qt (seen in the test suite). So collection is paused while a load runs, and the GUI thread
    switches it back on when every load has finished.
    """

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataset-check")
        self.pending: list[Future] = []
        self.timer: QTimer | None = None
        self.collecting = True

    def submit(self, block: dict, base, seed: int) -> Future:
        if not self.pending:
            self.collecting = gc.isenabled()
            gc.disable()
        future = self.pool.submit(_load, block, base, seed)
        self.pending.append(future)
        if self.timer is None:  # made on first use, in the GUI thread
            self.timer = QTimer()
            self.timer.setInterval(50)
            self.timer.timeout.connect(self._reap)
        self.timer.start()
        return future

    def _reap(self) -> None:
        self.pending = [f for f in self.pending if not f.done()]
        if not self.pending:
            self.timer.stop()
            if self.collecting:
                gc.enable()


_LOADER = _DatasetLoader()


def _load(block: dict, base, seed: int) -> Any:
    """The dataset, or the message saying why it cannot be loaded (runs in the loader thread)."""
    from runtime.data import load_dataset

    try:
        return load_dataset(block, base, seed)
    except DatasetError as err:
        return str(err)
    except Exception as err:  # a broken user file must not break the form
        return f"the dataset could not be loaded: {type(err).__name__}: {err}"


def _get(block: dict, path: str) -> Any:
    for part in path.split("."):
        block = block[part]
    return block


def _with(block: dict, path: str, value: Any) -> dict:
    """A copy of `block` with `path` set (sections created as needed)."""
    out = copy.deepcopy(block)
    node = out
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return out


class TrainingForm(QScrollArea):
    """Editors for the training block of `session.model`.

    Signals:
        data_checked(str, bool): the data-vs-design line was recomputed (text, ok).
    """

    data_checked = Signal(str, bool)

    def __init__(self, session: DesignSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setWidgetResizable(True)
        inner = QWidget()
        self.layout_ = QVBoxLayout(inner)
        self.layout_.setContentsMargins(4, 4, 4, 4)
        self.setWidget(inner)
        self.editors: dict[str, ParamEditor] = {}
        self.rows: dict[str, tuple[QFormLayout, QLabel, ParamEditor]] = {}
        self.fields: dict[str, Field] = {}

        self.dataset_box = QGroupBox("Data")
        self.dataset_form = QFormLayout(self.dataset_box)
        self.dataset_combo = create_editor(_spec("choice", "The dataset to train on (see "
                                                 "docs/datasets.md).", tuple(DATASETS)))
        self.dataset_combo.edited.connect(self._dataset_chosen)
        self.dataset_form.addRow("Dataset", self.dataset_combo)
        self.dataset_about = QLabel()
        self.dataset_about.setWordWrap(True)
        self.dataset_about.setStyleSheet("color: #8b949e;")
        self.dataset_form.addRow(self.dataset_about)
        self.param_editors: dict[str, ParamEditor] = {}
        split = Field("dataset.validation_split", "Validation share", _spec(
            "float", "Share of the samples held out to measure generalisation (0 to 0.9)."))
        self._add_field(self.dataset_form, split)
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.dataset_form.addRow(self.fit_label)
        self.layout_.addWidget(self.dataset_box)

        for title, fields in SECTIONS:
            box = QGroupBox(title)
            form = QFormLayout(box)
            for field in fields:
                self._add_field(form, field)
            self.layout_.addWidget(box)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {style.ERROR.name()};")
        self.layout_.addWidget(self.message)
        self.layout_.addStretch(1)

        self._dataset_cache: dict[str, Any] = {}
        self._loading: dict[str, Future] = {}
        self._wanted = ""
        self._check_pending = True
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(50)
        self._poll_timer.timeout.connect(self._poll_loads)
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(150)
        self._fit_timer.timeout.connect(self.check_data)
        self._shown_dataset: str | None = None
        session.model_event.connect(self._on_model_event)
        session.model_replaced.connect(self.refresh)
        session.analysis_changed.connect(lambda _: self._fit_timer.start())
        self.refresh()

    # --- building ---------------------------------------------------------------------------
    def _add_field(self, form: QFormLayout, field: Field) -> None:
        editor = create_editor(field.spec)
        editor.edited.connect(lambda value, f=field: self.set_field(f.path, f.to_block(value)))
        editor.invalid.connect(self.show_message)
        label = QLabel(field.label)
        label.setToolTip(field.spec.doc)
        form.addRow(label, editor)
        self.editors[field.path] = editor
        self.rows[field.path] = (form, label, editor)
        self.fields[field.path] = field

    def _build_dataset_params(self, name: str) -> None:
        for editor in self.param_editors.values():
            self.dataset_form.removeRow(editor)
        self.param_editors.clear()
        try:
            spec = get_spec(name)
        except DatasetError:
            self.dataset_about.setText(f"Unknown dataset '{name}'.")
            return
        self.dataset_about.setText(spec.description)
        for i, param in enumerate(spec.params):
            editor = create_editor(param)
            editor.edited.connect(lambda value, p=param.name: self.set_dataset_param(p, value))
            editor.invalid.connect(self.show_message)
            self.dataset_form.insertRow(2 + i, param.name.replace("_", " "), editor)
            self.param_editors[param.name] = editor
        self._shown_dataset = name

    # --- showing the model ---------------------------------------------------------------------
    def effective(self) -> dict:
        """The training block with every default filled in (what a run would use)."""
        return effective_block(self.session.model.training or {})

    def refresh(self) -> None:
        """Show the model's training block in every editor."""
        try:
            block = self.effective()
        except (TypeError, AttributeError):  # a malformed block from a hand-edited file
            block = merged_with_defaults({})
        name = block["dataset"].get("name")
        self.dataset_combo.set_value(name)
        if name != self._shown_dataset:
            self._build_dataset_params(name)
        given = block["dataset"].get("params") or {}
        for pname, editor in self.param_editors.items():
            try:
                default = get_spec(name).param(pname).default
            except (DatasetError, KeyError):
                default = None
            editor.set_value(given.get(pname, default))
        for path, field in self.fields.items():
            try:
                value = _get(block, path)
            except (KeyError, TypeError):
                continue
            self.editors[path].set_value(field.from_block(value))
            form, label, editor = self.rows[path]
            visible = bool(field.shown(block))
            form.setRowVisible(editor, visible)
        self._fit_timer.start()

    def _on_model_event(self, event: object) -> None:
        if isinstance(event, MetaChanged) and event.field == "training":
            self.refresh()

    # --- editing ------------------------------------------------------------------------------
    def set_field(self, path: str, value: Any) -> bool:
        """Store one setting (one undo step); False, with the reason shown, when refused."""
        block = _with(self.session.model.training or {}, path, value)
        if path.startswith("early_stopping.") and "enabled" not in block["early_stopping"]:
            # writing the block switches early stopping on: keep it as the user sees it
            block["early_stopping"]["enabled"] = bool(self.effective()["early_stopping"]
                                                      ["enabled"])
        if not self._acceptable(block, path):
            self.refresh()
            return False
        self.session.set_training(block, f"Set {self.fields[path].label.lower()}"
                                  if path in self.fields else f"Set {path}")
        return True

    def _dataset_chosen(self, name: str) -> None:
        block = copy.deepcopy(self.session.model.training or {})
        dataset = dict(block.get("dataset") or {})
        if dataset.get("name") == name:
            return
        dataset.update({"name": name, "params": {}})  # another dataset's params do not apply
        block["dataset"] = dataset
        self.session.set_training(block, f"Use dataset {name}")

    def set_dataset_param(self, name: str, value: Any) -> bool:
        dataset_name = self.effective()["dataset"]["name"]
        try:
            get_spec(dataset_name).check_params({name: value})
        except (DatasetError, ParamError) as err:
            self.show_message(str(err))
            self.refresh()
            return False
        block = copy.deepcopy(self.session.model.training or {})
        dataset = block.setdefault("dataset", {"name": dataset_name})
        dataset.setdefault("name", dataset_name)
        dataset.setdefault("params", {})[name] = value
        self.session.set_training(block, f"Set dataset {name}")
        self.show_message("")
        return True

    def _acceptable(self, block: dict, path: str) -> bool:
        try:
            parse_training(block)
        except TrainingConfigError as err:
            mine = [p for p in err.problems if p.location == f"training.{path}"
                    or p.location.startswith(f"training.{path}[")]
            if mine:
                self.show_message(f"{self.fields[path].label if path in self.fields else path}: "
                                  f"{mine[0].message}")
                return False
        self.show_message("")
        return True

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    # --- does the data fit the design? --------------------------------------------------------
    def check_data(self) -> None:
        """Compare the dataset with the Input and Output and show the result.

        Loading a dataset can take seconds (the first scikit-learn import), so it happens in a
        background thread, and only while the form is on screen; the answer arrives as a queued
        signal. Loaded datasets are cached by their settings.
        """
        if not self.isVisible():
            self._check_pending = True
            return
        self._check_pending = False
        try:
            config = parse_training(self.session.model.training or {})
        except TrainingConfigError as err:
            self._show_fit(f"⚠ {err.problems[0].location}: {err.problems[0].message}", False)
            return
        base = self.session.path.parent if self.session.path else None
        key = json.dumps([config.dataset, config["seed"], str(base)], sort_keys=True, default=str)
        if key in self._dataset_cache:
            self._compare(config, self._dataset_cache[key])
            return
        self._show_fit("Loading the dataset to check it against the design…", True)
        self._wanted = key
        if key not in self._loading:
            self._loading[key] = _LOADER.submit(config.dataset, base, config["seed"])
            self._poll_timer.start()

    def _poll_loads(self) -> None:
        # the GUI thread collects finished loads: the loader thread never touches a widget, so
        # a form deleted meanwhile is no problem
        for key, future in list(self._loading.items()):
            if future.done():
                del self._loading[key]
                self._dataset_cache = {key: future.result()}  # keep one: datasets can be large
                if key == self._wanted:
                    self.check_data()
        if not self._loading:
            self._poll_timer.stop()

    def _compare(self, config, dataset: Any) -> None:
        if isinstance(dataset, str):
            self._show_fit(f"⚠ {dataset}", False)
            return
        shape = "(" + ", ".join(map(str, dataset.sample_shape)) + ")"
        about = (f"Data: {len(dataset):,} samples of {shape} "
                 f"{str(dataset.x.dtype).replace('torch.', '')}"
                 + (f", {dataset.num_classes} classes" if dataset.num_classes else ", regression"))
        analysis = self.session.analysis
        if analysis.errors:
            self._show_fit(about + ". Fix the design's errors to check it against the Input.",
                           False)
            return
        try:
            check_data_fits(self.session.model, analysis, dataset, config)
        except LayerLabError as err:
            where = f" ({err.node})" if getattr(err, "node", None) else ""
            self._show_fit(f"{about}.\n⚠ {err}{where}", False)
            return
        input_id, _ = io_nodes(self.session.model)
        wanted = analysis.nodes[input_id].outputs["output"]
        self._show_fit(f"{about} → Input '{input_id}' takes ({', '.join(map(str, wanted.shape))})"
                       f" {wanted.dtype} ✓ fits the Input and Output", True)

    def _show_fit(self, text: str, ok: bool) -> None:
        self.fit_label.setText(text)
        self.fit_label.setStyleSheet(f"color: {(style.SUCCESS if ok else style.WARNING).name()};")
        self.data_checked.emit(text, ok)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._check_pending:
            self._fit_timer.start()
