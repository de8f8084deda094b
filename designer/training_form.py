"""The training form: the design's `training` block as editors, each change one undo step.

The form is generated from the settings catalogue (runtime/training/settings.py) the way the
Properties dock is generated from `ParamSpec`s: one row per setting, grouped by its section, its
editor chosen by its kind, shown only while it applies. It reads and writes only
`session.model.training`. Values are checked by the same `parse_training` the trainer uses (so the
form and a run never disagree); a refused value shows its message and the field goes back to the
stored value. The block keeps only what the user set: untouched fields stay out of the file.
"""
from __future__ import annotations

import copy
import dataclasses
import gc
import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QFormLayout, QGroupBox, QLabel, QScrollArea, QVBoxLayout,
                               QWidget)

from runtime.data import DATASETS, get_spec
from runtime.errors import DatasetError, LayerLabError, ParamError, TrainingConfigError
from runtime.graph import MetaChanged
from runtime.training.config import (effective_block, merged_with_defaults, parse_training,
                                     with_setting)
from runtime.training.data_fit import activation_warning, check_data_fits, io_nodes
from runtime.training.modes import mode_of
from runtime.training.outputs import is_multi_io
from runtime.training.settings import (BY_PATH, SECTIONS, SETTINGS, Setting, get_path,
                                       set_path)

from . import style
from .param_editors import ParamEditor, create_editor
from .session import DesignSession


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
        self.fields: dict[str, Setting] = {}
        self.param_editors: dict[str, ParamEditor] = {}
        self.boxes: dict[str, QGroupBox] = {}
        for section in SECTIONS:
            box = self.boxes[section] = QGroupBox(section)
            form = QFormLayout(box)
            for setting in SETTINGS:
                if setting.section != section:
                    continue
                if setting.spec is None:  # dataset.params: the chosen dataset's own editors
                    self.dataset_form = form
                    continue
                self._add_field(form, setting)
                if setting.path == "dataset.name":
                    self.dataset_combo = self.editors[setting.path]
                    self.dataset_about = QLabel()
                    self.dataset_about.setWordWrap(True)
                    self.dataset_about.setStyleSheet("color: #8b949e;")
                    form.addRow(self.dataset_about)
            self.layout_.addWidget(box)
        self.dataset_box = self.boxes["Data"]
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.dataset_form.addRow(self.fit_label)
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
    def _add_field(self, form: QFormLayout, setting: Setting) -> None:
        if setting.path == "dataset.name":  # a choice of the datasets registered now
            editor = create_editor(dataclasses.replace(setting.spec, kind="choice",
                                                       choices=tuple(DATASETS)))
            editor.edited.connect(self._dataset_chosen)  # its parameters start afresh
        else:
            editor = create_editor(setting.spec)
            editor.edited.connect(lambda value, path=setting.path: self.set_field(path, value))
        editor.invalid.connect(self.show_message)
        label = QLabel(setting.label)
        label.setToolTip(setting.spec.doc)
        form.addRow(label, editor)
        self.editors[setting.path] = editor
        self.rows[setting.path] = (form, label, editor)
        self.fields[setting.path] = setting

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

    def displayed(self) -> dict:
        """What the editors show: the effective block, where each value the settings catalogue
        refuses (a hand-edited file's `"epochs": null`, a `dataset` that is not an object) is
        shown at its default. The data check above the form reports the refused values, each
        with its location; the form never fails on them."""
        try:
            block = self.effective()
        except (TypeError, AttributeError, ValueError):
            block = {}
        shown = merged_with_defaults({})
        for setting in SETTINGS:
            try:
                value = get_path(block, setting.path)
            except (KeyError, TypeError):
                continue
            if setting.spec is None:
                usable = isinstance(value, dict)
            else:
                try:
                    setting.spec.validate(value)
                    usable = True
                except ParamError:
                    usable = False
            if usable:
                set_path(shown, setting.path, value)
        return shown

    def refresh(self) -> None:
        """Show the model's training block in every editor."""
        block = self.displayed()
        name = block["dataset"].get("name")
        if name != self._shown_dataset:
            self._build_dataset_params(name)
        given = block["dataset"].get("params") or {}
        for pname, editor in self.param_editors.items():
            try:
                default = get_spec(name).param(pname).default
            except (DatasetError, KeyError):
                default = None
            try:
                editor.set_value(given.get(pname, default))
            except (TypeError, ValueError, OverflowError):  # reported by the data check
                editor.set_value(default)
        for path, setting in self.fields.items():
            try:
                value = get_path(block, path)
            except (KeyError, TypeError):
                continue
            self.editors[path].set_value(value)
            form, label, editor = self.rows[path]
            form.setRowVisible(editor, setting.applies_to(block))
        self._fit_timer.start()

    def _on_model_event(self, event: object) -> None:
        if isinstance(event, MetaChanged) and event.field == "training":
            self.refresh()

    # --- editing ------------------------------------------------------------------------------
    def set_field(self, path: str, value: Any) -> bool:
        """Store one setting (one undo step); False, with the reason shown, when refused."""
        block = with_setting(self.session.model.training or {}, path, value)
        if not self._acceptable(block, path):
            self.refresh()
            return False
        self.session.set_training(block, f"Set {BY_PATH[path].label.lower()}"
                                  if path in BY_PATH else f"Set {path}")
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
            mine = [p for p in err.problems if p.location == f"training.{path}"]
            if mine:
                self.show_message(f"{BY_PATH[path].label if path in BY_PATH else path}: "
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
        about = f"Data: {dataset.describe()}"
        mode = mode_of(config)
        if mode.objective is not None:  # its own check runs when training starts
            self._show_fit(f"{about}. {mode.title} checks the design against the data when "
                           "training starts.", True)
            return
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
        if is_multi_io(self.session.model, dataset):
            self._show_fit(f"{about} ✓ fits the Inputs and Outputs", True)
            return
        input_id, _ = io_nodes(self.session.model)
        wanted = analysis.nodes[input_id].outputs["output"]
        text = (f"{about} → Input '{input_id}' takes ({', '.join(map(str, wanted.shape))})"
                f" {wanted.dtype} ✓ fits the Input and Output")
        warning = activation_warning(self.session.model, config["loss"])
        if warning is not None:
            self._show_fit(f"{text}.\n⚠ {warning[0]} ({warning[1]})", False)
            return
        self._show_fit(text, True)

    def _show_fit(self, text: str, ok: bool) -> None:
        self.fit_label.setText(text)
        self.fit_label.setStyleSheet(f"color: {(style.SUCCESS if ok else style.WARNING).name()};")
        self.data_checked.emit(text, ok)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._check_pending:
            self._fit_timer.start()
