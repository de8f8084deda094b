"""The main window: docks, menus, toolbar and file handling around one DesignSession.

Logic lives in the session, the canvas and the panels; this module wires them and asks the user
questions (through small methods that tests replace).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDockWidget,
                               QFileDialog, QInputDialog, QLabel, QLineEdit, QMainWindow,
                               QMessageBox, QPlainTextEdit, QProgressDialog, QTabWidget,
                               QTextEdit, QToolBar, QWidget)

from runtime.errors import DesignFileError, GraphError, LayerLabError
from runtime.export_deploy import FORMATS, ExportFormat, export_format
from runtime.networks import network_title
from runtime.preset_files import PRESETS_DIR
from runtime.fragment import copy_fragment, fragment_from_text, fragment_to_text
from runtime.graph import MetaChanged

from .autosave import Autosaver, find_recoverable
from .canvas.view import CanvasView
from .doctor_panel import DoctorPanel
from .export_job import ExportJob
from .help_menu import add_help_menu
from .palette import PaletteWidget
from .properties import PropertiesPanel
from .session import DesignSession
from .live_tint import LiveTint
from .summary import ProblemsPanel, SummaryPanel, status_text
from .training_controller import TrainingController
from .training_panel import TrainingPanel
from .training_plots import TrainingPlots
from .try_canvas import TryOnCanvas
from .try_panel import TryPanel
from .welcome import WelcomeDialog

DEFAULT_PRESET = PRESETS_DIR / "mlp-spirals.json"
MAX_RECENT = 10
AUTOSAVE_INTERVAL_MS = 60_000
FILE_FILTER = "LayerLab designs (*.json);;All files (*)"


def _keys(standard: QKeySequence.StandardKey, fallback: str) -> list[QKeySequence]:
    """Qt's platform binding for a standard action, or an explicit one where the platform has none."""
    keys = QKeySequence.keyBindings(standard)
    return keys if keys else [QKeySequence(fallback)]


def _drop_clashing_keys(actions: list[QAction]) -> None:
    """A platform's extra bindings for a standard action give way to another action's own key:
    on Linux, Delete's Ctrl+D would make Duplicate's Ctrl+D ambiguous, so neither would fire."""
    primary = {action.shortcuts()[0].toString() for action in actions if action.shortcuts()}
    for action in actions:
        keys = action.shortcuts()
        if len(keys) > 1:
            action.setShortcuts([keys[0], *(k for k in keys[1:]
                                            if k.toString() not in primary)])


def _as_list(value) -> list[str]:
    """A list kept in QSettings as it reads back (an INI file gives one item as a string)."""
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def preset_files() -> list[tuple[Path, str, str]]:
    """(path, name, description) of every preset, sorted by name."""
    out = []
    for path in sorted(PRESETS_DIR.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append((path, data.get("name") or path.stem, data.get("description", "")))
    return sorted(out, key=lambda item: item[1].lower())


class MainWindow(QMainWindow):
    """LayerLab's window around one design."""

    def __init__(self, session: DesignSession | None = None, settings: QSettings | None = None,
                 autosave_dir: Path | None = None):
        super().__init__()
        self.session = session or DesignSession(parent=self)
        self.settings = settings or QSettings("LayerLab", "LayerLab")
        folder = autosave_dir or Path(QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.AppDataLocation)) / "autosave"
        self.autosaver = Autosaver(folder)
        self.setObjectName("LayerLabMainWindow")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)

        self.canvas = CanvasView(self.session, self)
        self.setCentralWidget(self.canvas)
        self.layer_palette = PaletteWidget(self.session.registry, self)
        self.properties = PropertiesPanel(self.session, self)
        self.summary = SummaryPanel(self.session, self)
        self.problems = ProblemsPanel(self.session, self)
        self._dock("Layers", self.layer_palette, Qt.DockWidgetArea.LeftDockWidgetArea, "PaletteDock")
        self.trainer = TrainingController(self.session, self)
        self.training_panel = TrainingPanel(self.trainer, self)
        # one dock with tabs: Qt leaves a stale tab bar behind when two areas hold tabified docks
        self.side_tabs = QTabWidget(self)
        self.side_tabs.addTab(self.properties, "Properties")
        self.side_tabs.addTab(self.training_panel, "Training")
        self.try_panel = TryPanel(self.trainer, self)  # the latest run's weights on new input
        self.side_tabs.addTab(self.try_panel, "Try it")
        self.side_dock = self._dock("Properties and training", self.side_tabs,
                                    Qt.DockWidgetArea.RightDockWidgetArea, "PropertiesDock")
        self.bottom_tabs = QTabWidget(self)
        self.bottom_tabs.addTab(self.summary, "Model summary")
        self.bottom_tabs.addTab(self.problems, "Problems")
        bottom = self._dock("Summary", self.bottom_tabs, Qt.DockWidgetArea.BottomDockWidgetArea,
                            "SummaryDock")
        self.plots = TrainingPlots(self.trainer, self)
        self.plots_dock = self._dock("Training plots", self.plots,
                                     Qt.DockWidgetArea.BottomDockWidgetArea, "PlotsDock")
        self.tabifyDockWidget(bottom, self.plots_dock)
        self.doctor = DoctorPanel(self.session, self.trainer, self)
        self.export_job = ExportJob(self)  # ONNX / torch.export, in a process of their own
        self.export_progress: QProgressDialog | None = None
        self.doctor_dock = self._dock("Doctor", self.doctor,
                                      Qt.DockWidgetArea.BottomDockWidgetArea, "DoctorDock")
        self.tabifyDockWidget(bottom, self.doctor_dock)
        bottom.raise_()
        self.live_tint = LiveTint(self.canvas, self.trainer, self)
        self.try_canvas = TryOnCanvas(self.try_panel, self.canvas.canvas, self)
        # the canvas gets the room: a short summary strip, narrow side panels
        self.resizeDocks([bottom], [190], Qt.Orientation.Vertical)
        self.status_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.status_label)

        self._make_actions()
        self._make_menus_and_toolbar()
        self._wire()
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave_now)
        self._autosave_timer.start()
        self.resize(1400, 860)
        self._restore_layout()
        self._update_title()
        self._on_analysis(self.session.analysis)

    # --- construction ---------------------------------------------------------------------
    def _setting_action(self, text: str, key: str, apply, tip: str) -> QAction:
        """A checkable action for an on/off preference kept in the settings under `key` (on
        by default): applied now, and applied and kept on every toggle."""
        action = self._action(text, lambda on: (apply(on), self.settings.setValue(key, on)),
                              checkable=True, tip=tip)
        action.setChecked(str(self.settings.value(key, "true")).lower() != "false")
        apply(action.isChecked())
        return action

    def _dock(self, title: str, widget, area, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, keys: list[QKeySequence] | str | None = None,
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if keys:
            action.setShortcuts([QKeySequence(keys)] if isinstance(keys, str) else keys)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})"
                              if not action.shortcut().isEmpty() else tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        K = QKeySequence.StandardKey
        stack = self.session.undo_stack
        self.act_new = self._action("&New", self.new_design, _keys(K.New, "Ctrl+N"),
                                    "Start an empty design")
        self.act_open = self._action("&Open…", self.open_dialog, _keys(K.Open, "Ctrl+O"),
                                     "Open a design file")
        self.act_import_torch = self._action(
            "&Import PyTorch Model…", self.import_pytorch_model,
            tip="Turn an nn.Module class of a .py file into editable nodes, with its weights "
                "(runs the file; docs/import.md)")
        self.act_save = self._action("&Save", self.save, _keys(K.Save, "Ctrl+S"),
                                     "Save the design")
        self.act_save_as = self._action("Save &As…", self.save_as,
                                        _keys(K.SaveAs, "Ctrl+Shift+S"),
                                        "Save the design under a new name")
        # File > Export: one item per format of the one table the CLI and the docs also read
        self.act_export_formats = {fmt.name: self._action(
            f"{fmt.label} ({fmt.suffix})…", lambda _=False, name=fmt.name: self.export_as(name),
            "Ctrl+E" if fmt.name == "py" else None,
            f"Write {fmt.help}" + (" (the run selected in the Runs tab, else the latest)"
                                   if fmt.weights == "required" else
                                   "; with a run, its trained weights or the initial ones"))
            for fmt in FORMATS}
        self.act_export = self.act_export_formats["py"]
        self.act_export.setIconText("Export to Python")  # the toolbar's short name
        self.act_export_weights = self.act_export_formats["safetensors"]
        self.act_quit = self._action("&Quit", self.close, _keys(K.Quit, "Ctrl+Q"))
        self.act_undo = stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts(_keys(K.Undo, "Ctrl+Z"))
        self.act_redo = stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts(_keys(K.Redo, "Ctrl+Shift+Z"))
        self.addActions([self.act_undo, self.act_redo])
        self.act_cut = self._action("Cu&t", self.cut, _keys(K.Cut, "Ctrl+X"))
        self.act_copy = self._action("&Copy", self.copy, _keys(K.Copy, "Ctrl+C"))
        self.act_paste = self._action("&Paste", self.paste, _keys(K.Paste, "Ctrl+V"))
        self.act_duplicate = self._action("&Duplicate", self.duplicate, "Ctrl+D",
                                          "Copy and paste the selection in one go")
        self.act_delete = self._action("&Delete", self.delete_selection,
                                       _keys(K.Delete, "Delete"))
        self.act_select_all = self._action("Select &All", self.select_all,
                                           _keys(K.SelectAll, "Ctrl+A"))
        self.act_zoom_in = self._action("Zoom &In", self.canvas.zoom_in,
                                        _keys(K.ZoomIn, "Ctrl++"))
        self.act_zoom_out = self._action("Zoom &Out", self.canvas.zoom_out,
                                         _keys(K.ZoomOut, "Ctrl+-"))
        self.act_fit = self._action("&Fit Design", self.canvas.fit_all, "Ctrl+0",
                                    "Show the whole design (F on the canvas)")
        self.act_snap = self._action("Snap to &Grid", self.canvas.set_snap_to_grid,
                                     checkable=True)
        self.act_layer_outputs = self._action(
            "Show Layer &Outputs on Canvas", self.try_canvas.set_enabled, checkable=True,
            tip="Under each node, what it makes of the input in the Try it tab")
        self.act_layer_outputs.setChecked(True)
        self.act_warm = self._setting_action(
            "Keep a Training Process &Ready", "training/warm_process", self.trainer.set_warm,
            "Start a training process in the background while you edit, so Train starts "
            "within a second (it holds PyTorch in memory, a few hundred MB)")
        self.act_overview_map = self._setting_action(
            "Overview &Map", "view/overview_map", self.canvas.set_overview_map,
            "A small map of the whole design in the canvas's corner while part of it is out "
            "of view: click or drag in it to look elsewhere")
        self.act_layout = self._action("Auto-&layout", self.auto_layout, "Ctrl+L",
                                       "Arrange the nodes left to right in rows that fit the "
                                       "canvas (the selected nodes only, when several are)")
        self.act_train = self._action("&Train", self.train, "F5",
                                      "Train the design and watch it learn")
        self.act_pause = self._action("&Pause / Resume", self.training_panel.toggle_pause, "F6",
                                      "Hold the run, or continue it")
        self.act_stop = self._action("&Stop", self.trainer.stop, "Shift+F5",
                                     "End the run after the current batch")
        self.act_freeze = self._action("&Freeze Up to Selection", self.freeze_up_to_selection,
                                       tip="Stop training the selected layers and every layer "
                                       "before them (feature extraction from a pre-trained "
                                       "body)")
        self.act_unfreeze = self._action("&Unfreeze All Layers", self.unfreeze_all,
                                         tip="Train every layer again")
        self.act_slow_body = self._action(
            "Slow &Learning Up to Selection…", self.slow_up_to_selection,
            tip="Give the selected layers and every layer before them a smaller learning-rate "
            "multiplier (fine-tuning: a pre-trained body learns slower than a new head)")
        self.act_reset_rates = self._action("&Reset Learning-Rate Multipliers",
                                            self.reset_lr_multipliers,
                                            tip="Every layer learns at the design's rate again")
        self.act_make_network = self._action(
            "Make &Network from Selection…", self.make_network_from_selection,
            tip="Put the selected nodes in a named network (a GAN's generator, an encoder): "
            "drawn as a frame, counted and compiled on its own")
        self.act_leave_network = self._action(
            "Remove from Net&work", self.remove_selection_from_network,
            tip="Put the selected nodes back in the design's main network")
        self.act_load_weights = self._action("Start from &Weights…", self.load_weights,
                                             tip="Start this design from a run's trained "
                                             "weights where they fit (transfer learning)")
        self.act_check = self._action("&Check Design", self.check_design, "F7",
                                      "Find what would make training fail: one batch through "
                                      "the network, in a separate process")
        _drop_clashing_keys(self.findChildren(QAction))
        # Delete and the clipboard keys belong to text fields while one has focus
        for action in (self.act_delete, self.act_cut, self.act_copy, self.act_paste,
                       self.act_select_all, self.act_duplicate):
            self.removeAction(action)
            self.canvas.addAction(action)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _make_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.act_new, self.act_open, self.act_import_torch])
        file_menu.addAction("New from Pre&set…", lambda: self.show_welcome()).setStatusTip(
            "Choose a preset from pictures and one-line summaries (Help ▸ Welcome)")
        self.preset_menu = file_menu.addMenu("Open &Preset")
        self.preset_menu.setToolTipsVisible(True)
        for path, name, description in preset_files():
            action = self.preset_menu.addAction(name)
            action.setToolTip(description)
            action.setStatusTip(description)
            action.triggered.connect(lambda _=False, p=path: self.open_preset(p))
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.act_save, self.act_save_as])
        self.export_menu = file_menu.addMenu("&Export")
        self.export_menu.addActions(list(self.act_export_formats.values()))
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.act_undo, self.act_redo])
        edit_menu.addSeparator()
        edit_menu.addActions([self.act_cut, self.act_copy, self.act_paste, self.act_duplicate,
                              self.act_delete])
        edit_menu.addSeparator()
        edit_menu.addAction(self.act_select_all)
        edit_menu.addSeparator()
        edit_menu.addActions([self.act_make_network, self.act_leave_network])
        edit_menu.addSeparator()
        edit_menu.addActions([self.act_freeze, self.act_unfreeze, self.act_slow_body,
                               self.act_reset_rates])
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.act_zoom_in, self.act_zoom_out, self.act_fit])
        view_menu.addSeparator()
        view_menu.addActions([self.act_snap, self.act_layer_outputs, self.act_overview_map,
                              self.act_layout])
        view_menu.addSeparator()
        train_menu = bar.addMenu("&Training")
        train_menu.addActions([self.act_train, self.act_pause, self.act_stop])
        train_menu.addSeparator()
        train_menu.addAction(self.act_check)
        train_menu.addAction(self.act_load_weights)
        train_menu.addSeparator()
        train_menu.addAction(self.act_warm)
        for dock in self.findChildren(QDockWidget):
            view_menu.addAction(dock.toggleViewAction())
        self.help_menu = add_help_menu(self)
        welcome = QAction("&Welcome…", self)
        welcome.setStatusTip("The start page: every preset with its picture and summary")
        welcome.triggered.connect(lambda: self.show_welcome())
        self.help_menu.insertAction(self.help_menu.actions()[0], welcome)
        toolbar = self.toolbar = QToolBar("Main", self)
        toolbar.setObjectName("MainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addActions([self.act_new, self.act_open, self.act_save])
        toolbar.addSeparator()
        toolbar.addActions([self.act_undo, self.act_redo])
        toolbar.addSeparator()
        toolbar.addActions([self.act_fit, self.act_layout, self.act_export])
        toolbar.addSeparator()
        toolbar.addActions([self.act_check, self.act_train, self.act_pause, self.act_stop])
        self.addToolBar(toolbar)

    def _wire(self) -> None:
        s = self.session
        s.analysis_changed.connect(self._on_analysis)
        s.dirty_changed.connect(lambda _: self._update_title())
        s.path_changed.connect(lambda _: self._update_title())
        s.model_replaced.connect(self._on_model_replaced)
        s.model_event.connect(self._on_model_event)
        self.canvas.selection_changed.connect(self._on_selection)
        self.canvas.refused.connect(lambda reason: self.statusBar().showMessage(reason, 6000))
        self.canvas.node_double_clicked.connect(self._show_properties)
        self.layer_palette.layer_activated.connect(self._add_from_palette)
        self.summary.node_activated.connect(self.focus_node)
        self.problems.node_activated.connect(self.focus_node)
        self.trainer.run_started.connect(self._on_run_started)
        self.trainer.state_changed.connect(self._on_training_state)
        self._on_training_state(self.trainer.state)  # no run yet: Pause and Stop disabled
        self.training_panel.problem_node.connect(self.focus_node)
        self.doctor.node_activated.connect(self.focus_node)
        self.doctor.field_activated.connect(self.focus_setting)
        self.doctor.badges_changed.connect(self.canvas.canvas.set_findings)
        self.doctor.count_changed.connect(
            lambda n: self.doctor_dock.setWindowTitle(f"Doctor ({n})" if n else "Doctor"))
        self.doctor.busy_changed.connect(lambda busy: self.act_check.setEnabled(not busy))
        self.doctor.alarmed.connect(self.bring_doctor_forward)
        self.doctor.plot_wanted.connect(lambda kind: self.show_plot(kind, quiet=True))
        self.doctor.plot_requested.connect(self.show_plot)
        self._doctor_waiting = False  # brought forward once the user stops typing in its way
        app_instance().focusChanged.connect(self._on_focus_changed)
        self.canvas.canvas.set_findings(self.doctor.findings.by_node())
        self.plots.exported.connect(lambda path: self.statusBar().showMessage(f"Saved {path}",
                                                                             4000))
        self.plots.node_chosen.connect(self.focus_node)  # a gradient curve clicked
        self.plots.runs.highlight.connect(self.canvas.canvas.set_highlight)
        self.plots.runs.restore_requested.connect(self.restore_run_design)
        self.try_panel.follow_selection(self.plots.runs)
        # other designs' runs the user added stay listed after a restart
        self.plots.runs.roots_changed.connect(
            lambda folders: self.settings.setValue("runs/extra_roots", folders))
        self.plots.runs.set_roots(_as_list(self.settings.value("runs/extra_roots", [])))

    # --- reactions ------------------------------------------------------------------------
    def _on_analysis(self, analysis) -> None:
        self.status_label.setText(status_text(analysis))
        errors = len(analysis.errors)
        self.bottom_tabs.setTabText(1, f"Problems ({len(analysis.problems)})"
                                    if analysis.problems else "Problems")
        self.status_label.setStyleSheet("color: #e5534b;" if errors else "")

    def _on_selection(self, node_ids: list) -> None:
        self.properties.show_node(node_ids[0] if len(node_ids) == 1 else None)
        if len(node_ids) == 1:
            self.plots.set_node(node_ids[0])

    # --- training -------------------------------------------------------------------------
    def train(self) -> bool:
        """Start a run (F5); the reason is shown in the training dock when refused."""
        started = self.training_panel.train()
        # the Training tab comes forward either way: the run's progress (the plots come forward
        # when the run starts), or why it was refused
        self.show_side_tab(self.training_panel)
        return started

    def load_weights(self) -> None:
        """Training > Start from Weights: preview what would load, then set training.init_from
        as one undoable edit (the weights themselves load when a run starts)."""
        from runtime.compile import compile_model
        from runtime.runs import runs_root
        from runtime.training.config import with_setting
        from runtime.training.transfer import transfer_weights

        path = self.ask_checkpoint_path(str(runs_root(self.session.path)))
        if not path:
            return
        try:
            skip = self.session.model.training.get("init_skip")  # a new head stays fresh
            report = transfer_weights(compile_model(self.session.model), self.session.model,
                                      path, skip if isinstance(skip, list) else ())
        except LayerLabError as err:
            QMessageBox.warning(self, "Start from weights", str(err))
            return
        if not self.confirm_weights(Path(path).name, [report.summary(), *report.lines()]):
            return
        base = self.session.path.parent if self.session.path else None
        shown = Path(path)
        if base is not None:
            try:
                shown = Path(path).resolve().relative_to(base.resolve())
            except ValueError:
                pass  # elsewhere: keep the absolute path
        self.session.set_training(with_setting(self.session.model.training, "init_from",
                                               str(shown)),
                                  f"Start from weights of {Path(path).parent.name}")
        self.statusBar().showMessage(report.summary(), 8000)

    def ask_multiplier(self) -> float | None:
        value, ok = QInputDialog.getDouble(
            self, "Slow learning up to selection", "Learning-rate multiplier for these layers "
            "(1 = the design's rate, 0.1 = ten times slower):", 0.1, 0.0001, 100.0, 4)
        return value if ok else None

    def ask_network_name(self, suggested: str) -> str | None:
        name, ok = QInputDialog.getText(
            self, "Make network from selection", "Network name (a letter, then letters, digits "
            "or underscores; e.g. generator, discriminator, encoder):", QLineEdit.EchoMode.Normal,
            suggested)
        return name.strip() if ok else None

    def ask_checkpoint_path(self, start: str) -> str:
        return QFileDialog.getOpenFileName(self, "Start from weights", start,
                                           "Checkpoints (*.pt);;All files (*)")[0]

    def confirm_weights(self, name: str, lines: list[str]) -> bool:
        answer = QMessageBox.question(self, "Start from weights",
                                      f"From {name}:\n\n" + "\n".join(lines)
                                      + "\n\nStart the next runs from these weights?")
        return answer == QMessageBox.StandardButton.Yes

    def check_design(self) -> None:
        """Run the doctor's pre-flight check (F7) and show the Doctor dock."""
        self.show_doctor()
        self.doctor.check()

    def show_doctor(self) -> None:
        self.doctor_dock.show()
        self.doctor_dock.raise_()
        wanted = max(300, int(self.height() * 0.38))
        if self.doctor_dock.height() < wanted:
            self.resizeDocks([self.doctor_dock], [wanted], Qt.Orientation.Vertical)

    def bring_doctor_forward(self) -> None:
        """Raise the Doctor tab (a run reported its first warning or error) without taking the
        keyboard: while a field that raising would hide has the focus, wait until it loses it."""
        if is_typing(QApplication.focusWidget()) and self._covered_by_doctor(
                QApplication.focusWidget()):
            self._doctor_waiting = True
            return
        self._doctor_waiting = False
        self.doctor_dock.show()
        self.doctor_dock.raise_()

    def _covered_by_doctor(self, widget: QWidget) -> bool:
        """Would raising the Doctor tab hide `widget` (it is in a dock tabbed with it)?"""
        return any(dock.isAncestorOf(widget) for dock in self.tabifiedDockWidgets(self.doctor_dock))

    def _on_focus_changed(self, _old, new) -> None:
        if self._doctor_waiting and not (is_typing(new) and self._covered_by_doctor(new)):
            self.bring_doctor_forward()

    def show_plot(self, kind: str, quiet: bool = False) -> None:
        """Turn the Training plots to the page showing `kind` ("gradients", "activations",
        "loss": all on the Live page; the activations follow the selected node). `quiet`: do not
        raise the plots dock where that would hide the Doctor panel (a tab beside it)."""
        self.plots.tabs.setCurrentWidget(self.plots.overview)
        if quiet and self.plots_dock in self.tabifiedDockWidgets(self.doctor_dock):
            return
        self.plots_dock.show()
        self.plots_dock.raise_()

    def _on_run_started(self, run) -> None:
        self.plots_dock.show()
        self.plots_dock.raise_()
        wanted = max(330, int(self.height() * 0.4))
        if self.plots_dock.height() < wanted:
            self.resizeDocks([self.plots_dock], [wanted], Qt.Orientation.Vertical)

    def _on_training_state(self, state: str) -> None:
        busy = state != "idle"
        self.act_train.setEnabled(not busy)
        self.act_pause.setEnabled(state in ("running", "paused"))
        self.act_stop.setEnabled(busy and state != "stopping")

    def _on_model_event(self, event) -> None:
        if isinstance(event, MetaChanged) and event.field == "name":
            self._update_title()

    def _on_model_replaced(self) -> None:
        self.properties.show_node(None)
        self._update_title()
        QTimer.singleShot(0, self.canvas.show_design)

    def _update_title(self) -> None:
        name = self.session.path.name if self.session.path else self.session.model.name
        self.setWindowTitle(f"{name}[*] — LayerLab")
        self.setWindowModified(self.session.dirty)

    def _add_from_palette(self, type_id: str) -> None:
        self.canvas.add_layer(type_id)

    def show_side_tab(self, page) -> None:
        """Show the side dock at `page` (the properties or the training panel)."""
        self.side_dock.show()
        self.side_dock.raise_()
        self.side_tabs.setCurrentWidget(page)

    def _show_properties(self, node_id: str) -> None:
        self.show_side_tab(self.properties)
        self.properties.setFocus()

    def focus_node(self, node_id: str) -> None:
        if node_id in self.session.model.nodes:
            self.canvas.select_nodes([node_id])
            self.canvas.center_on_node(node_id)

    def focus_setting(self, field: str) -> None:
        """Show a training setting ("training.optimizer.lr") in the Training tab."""
        self.show_side_tab(self.training_panel)
        form = self.training_panel.form
        path = field.removeprefix("training.")
        editor = form.editors.get(path) or next(
            (e for p, e in form.editors.items() if p.startswith(path + ".")), None)
        if editor is not None and editor.isVisible():
            form.ensureWidgetVisible(editor)
            editor.widget.setFocus(Qt.FocusReason.OtherFocusReason)

    # --- edit actions ---------------------------------------------------------------------
    def copy(self) -> bool:
        ids = self.canvas.selected_node_ids()
        if not ids:
            return False
        QGuiApplication.clipboard().setText(fragment_to_text(copy_fragment(self.session.model,
                                                                           ids)))
        return True

    def cut(self) -> None:
        if self.copy():
            self.session.remove_nodes(self.canvas.selected_node_ids())

    def paste(self) -> None:
        try:
            fragment = fragment_from_text(QGuiApplication.clipboard().text())
        except DesignFileError as err:
            self.show_problems("Cannot paste", "The clipboard holds a broken LayerLab "
                               "fragment.", err.problems)
            return
        if fragment is not None:
            self.canvas.select_nodes(self.session.paste(fragment))

    def duplicate(self) -> None:
        ids = self.canvas.selected_node_ids()
        if ids:
            self.canvas.select_nodes(self.session.paste(copy_fragment(self.session.model, ids)))

    def delete_selection(self) -> None:
        self.canvas.delete_selection()

    def select_all(self) -> None:
        self.canvas.select_nodes(list(self.session.model.nodes))

    def freeze_up_to_selection(self) -> None:
        selected = self.canvas.selected_node_ids()
        if not selected:
            self.statusBar().showMessage("Select the last layer to freeze first", 4000)
            return
        layers = self.session.layers_up_to(selected)
        count = self.session.set_trainable(layers, False,
                                           f"Freeze up to {', '.join(selected[:2])}")
        self.statusBar().showMessage(f"Froze {count} layer(s)" if count else
                                     "Those layers are already frozen", 4000)

    def unfreeze_all(self) -> None:
        count = self.session.set_trainable(list(self.session.model.nodes), True,
                                           "Unfreeze all layers")
        self.statusBar().showMessage(f"Unfroze {count} layer(s)" if count else
                                     "No layer is frozen", 4000)

    def slow_up_to_selection(self) -> None:
        selected = self.canvas.selected_node_ids()
        if not selected:
            self.statusBar().showMessage("Select the last layer of the body to slow first", 4000)
            return
        multiplier = self.ask_multiplier()
        if multiplier is None:
            return
        layers = self.session.layers_up_to(selected)
        count = self.session.set_weight_param(
            layers, "lr_multiplier", multiplier,
            f"Learning rate ×{multiplier:g} up to {', '.join(selected[:2])}")
        self.statusBar().showMessage(
            f"{count} layer(s) now learn at {multiplier:g}× the rate" if count else
            f"Those layers already learn at {multiplier:g}× the rate", 4000)

    def reset_lr_multipliers(self) -> None:
        count = self.session.set_weight_param(list(self.session.model.nodes), "lr_multiplier",
                                              1.0, "Reset learning-rate multipliers")
        self.statusBar().showMessage(f"{count} layer(s) learn at the design's rate again"
                                     if count else "Every layer already learns at the "
                                     "design's rate", 4000)

    def make_network_from_selection(self) -> None:
        selected = self.canvas.selected_node_ids()
        if not selected:
            self.statusBar().showMessage("Select the nodes of the network first", 4000)
            return
        model = self.session.model
        named = [n for n in model.networks() if n]
        current = model.nodes[selected[0]].network
        suggested = current or next(f"network_{i}" for i in range(1, len(named) + 2)
                                    if f"network_{i}" not in named)
        name = self.ask_network_name(suggested)
        if not name:
            return
        try:
            count = self.session.set_network(selected, name, f"Make network {name}")
        except GraphError as err:
            self.statusBar().showMessage(f"Cannot make that network: {err}", 8000)
            return
        self.statusBar().showMessage(f"{count} node(s) moved into network '{name}'" if count
                                     else f"Those nodes are already in network '{name}'", 4000)

    def remove_selection_from_network(self) -> None:
        selected = self.canvas.selected_node_ids()
        count = self.session.set_network(selected, "", "Remove from network")
        self.statusBar().showMessage(f"{count} node(s) back in the main network" if count else
                                     "Select nodes of a named network first", 4000)

    def auto_layout(self) -> None:
        selected = self.canvas.selected_node_ids()
        self.canvas.layout_design(selected if len(selected) > 1 else None)


    # --- files ----------------------------------------------------------------------------
    def new_design(self) -> None:
        if self.maybe_save():
            self.session.new()
            self.autosaver.clear()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path = self.ask_open_path()
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a design file; on problems, show them and keep the current design."""
        try:
            self.session.open(path)
        except DesignFileError as err:
            self.show_problems("Cannot open design", f"{Path(path).name} could not be opened.",
                               err.problems)
            return False
        self._add_recent(Path(path))
        self.autosaver.clear()
        return True

    def import_pytorch_model(self) -> None:
        """File ▸ Import PyTorch Model: the dialog traces a class of a .py file into a design,
        which opens as a new document (its weights as the design's starting weights)."""
        from .import_dialog import import_pytorch_model

        if not self.maybe_save():
            return
        result = import_pytorch_model(self)
        if result is not None:
            self.session.replace_model(result.design)
            self.autosaver.clear()
            self.statusBar().showMessage(f"Imported {result.design.name}", 4000)

    def open_preset(self, path: Path) -> None:
        if not self.maybe_save():
            return
        try:
            self.session.open_preset(path)
        except DesignFileError as err:
            self.show_problems("Cannot open preset", f"{path.name} could not be opened.",
                               err.problems)

    def show_welcome(self, first_start: bool = False) -> WelcomeDialog | None:
        """Help ▸ Welcome: the presets as cards; the chosen one opens (the blank card is File ▸
        New). With `first_start`, only the first time these settings see it (None otherwise)."""
        if first_start:
            if self.settings.value("welcome/shown", False, type=bool):
                return None
            self.settings.setValue("welcome/shown", True)
        dialog = WelcomeDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(
            lambda path: self.new_design() if path is None else self.open_preset(path))
        dialog.open()  # window-modal and returns at once: the event loop keeps running
        return dialog

    def restore_run_design(self, design_path: str | Path) -> bool:
        """Open a kept run's design.json as a new, unsaved design (asking to save first, like
        Open); its runs stay listed."""
        if not self.maybe_save():
            return False
        runs = self.plots.runs
        runs.add_root(Path(design_path).parent.parent)  # the restored run's siblings stay in view
        try:
            self.session.open_preset(design_path)
        except DesignFileError as err:
            self.show_problems("Cannot restore the design", f"{design_path} could not be opened.",
                               err.problems)
            return False
        self.autosaver.clear()
        self.statusBar().showMessage(f"Restored the design of {Path(design_path).parent.name}",
                                     4000)
        return True

    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self._save_to(self.session.path)

    def save_as(self) -> bool:
        path = self.ask_save_path("Save design", FILE_FILTER, ".json")
        return self._save_to(Path(path)) if path else False

    def _save_to(self, path: Path) -> bool:
        try:
            self.session.save(path)
        except OSError as err:
            self.show_error("Cannot save", f"{path} could not be written: "
                            f"{err.strerror or err}")
            return False
        self._add_recent(path)
        self.autosaver.clear()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def export_python(self) -> None:
        self.export_as("py")

    def export_weights(self) -> None:
        self.export_as("safetensors")

    def export_as(self, name: str) -> None:
        """File ▸ Export ▸ a format of `runtime.export_deploy.FORMATS`: with a run of the design
        (`trained_checkpoint`), the user chooses its trained weights or the initial ones; for
        a design of several networks, which network (ONNX, .pt2; a Python module holds a class
        per network); then where. Weights of
        another design, or a layer the format cannot express, are refused with the nodes
        named."""
        fmt = export_format(name)
        design = self.session.model
        checkpoint = self.trained_checkpoint()
        if checkpoint is None and fmt.weights == "required":
            self.show_error("No trained weights", "Train the design first, or select one of "
                            "its runs in the Runs tab: its weights are what is exported.")
            return
        if checkpoint is not None and fmt.weights == "optional":
            trained = self.ask_export_weights(fmt, checkpoint)
            if trained is None:
                return
            checkpoint = checkpoint if trained else None
        options = {}
        if fmt.per_network and not fmt.all_networks and len(design.networks()) > 1:
            network = self.ask_network(fmt, [network_title(n) for n in design.networks()])
            if not network:
                return
            options["network"] = network
        path = self.ask_save_path(f"Export {fmt.label}", fmt.file_filter, fmt.suffix)
        if not path:
            return
        weights = (f"the weights of {_run_name(checkpoint)}" if checkpoint is not None
                   else "initial weights")
        done = f"Exported {path} ({fmt.label}, {weights})"
        if fmt.traced:  # up to a minute of tracing: in a process of its own, the window live
            self._export_apart(fmt, path, checkpoint, options.get("network"), done)
            return
        self.statusBar().showMessage(f"Exporting {path}…")
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        QApplication.processEvents()  # the message shows before the exporter holds the thread
        try:
            written = self._written("Cannot export", path, lambda: fmt.write(
                design, path, checkpoint, **options))
        finally:
            QApplication.restoreOverrideCursor()
        if written:
            self.statusBar().showMessage(done, 6000)
        else:
            self.statusBar().clearMessage()

    def _export_apart(self, fmt: ExportFormat, path: str, checkpoint: Path | None,
                      network: str | None, done: str) -> None:
        """Run a traced export as `main.py export` in its own process, behind a progress
        dialog whose Cancel ends it (the file is left as it was)."""
        from runtime.document import to_dict

        job = self.export_job
        name = self.session.path.name if self.session.path else self.session.model.name
        progress = QProgressDialog(f"Exporting {Path(path).name} ({fmt.label})…", "Cancel",
                                   0, 0, self)
        progress.setWindowTitle("Export")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)  # a quick export shows no dialog at all
        self.export_progress = progress

        def ended() -> None:
            for signal, slot in ((job.finished, finished), (job.failed, failed),
                                 (progress.canceled, cancelled)):
                signal.disconnect(slot)
            progress.reset()
            progress.deleteLater()
            self.export_progress = None

        def finished(_said: str) -> None:
            ended()
            self.statusBar().showMessage(done, 6000)

        def failed(reason: str) -> None:
            ended()
            self.statusBar().clearMessage()
            self.show_error("Cannot export", reason)

        def cancelled() -> None:
            job.cancel()
            ended()
            self.statusBar().showMessage(f"Export of {path} cancelled: the file was not written",
                                         6000)
        job.finished.connect(finished)
        job.failed.connect(failed)
        progress.canceled.connect(cancelled)
        self.statusBar().showMessage(f"Exporting {path}…")
        job.start(to_dict(self.session.model), name, fmt, path, checkpoint, network)

    def _written(self, title: str, path: str, write) -> bool:
        """Run `write` (of `path`); a refusal or a file that cannot be written is shown under
        `title`, and False returned."""
        try:
            write()
        except LayerLabError as err:
            self.show_error(title, str(err))
            return False
        except OSError as err:
            self.show_error(title, f"{path} could not be written: {err.strerror or err}")
            return False
        return True

    def trained_checkpoint(self) -> Path | None:
        """The weights to export: the run selected in the Runs tab (one), else the latest run;
        its best.pt, else its last.pt. None when there is no such file."""
        chosen = self.plots.runs.selected_records()
        runs = ([chosen[0]] if len(chosen) == 1 else []) + [
            r for r in (self.trainer.current,) if r is not None]
        for run in runs:
            for name in ("best.pt", "last.pt"):
                if run.folder and (Path(run.folder) / name).is_file():
                    return Path(run.folder) / name
        return None

    def maybe_save(self) -> bool:
        """True when it is fine to replace the design (saved, discarded or unchanged)."""
        if not self.session.dirty:
            return True
        answer = self.ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def autosave_now(self) -> None:
        if self.session.dirty:
            from runtime.document import dumps
            self.autosaver.save(dumps(self.session.model), self.session.path)

    def offer_recovery(self) -> bool:
        """At start-up: offer autosaved designs left by a crash; True if one was restored."""
        for item in find_recoverable(self.autosaver.folder, self.autosaver):
            if self.ask_recover(item.describe()):
                try:
                    self.session.open_preset(item.design_path)
                except DesignFileError as err:
                    self.show_problems("Cannot recover", "The autosaved copy is damaged.",
                                       err.problems)
                    item.discard()
                    continue
                self.session.path = item.original
                self.session.path_changed.emit(item.original)
                self.session.undo_stack.resetClean()  # recovered work is unsaved
                self._update_title()
                item.discard()
                return True
            item.discard()
        return False

    def _add_recent(self, path: Path) -> None:
        recent = [p for p in self.recent_files() if Path(p) != path.resolve()]
        self.settings.setValue("recent_files", [str(path.resolve()), *recent][:MAX_RECENT])

    def recent_files(self) -> list[str]:
        return _as_list(self.settings.value("recent_files", []))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for name in files:
            action = self.recent_menu.addAction(Path(name).name)
            action.setStatusTip(name)
            action.triggered.connect(lambda _=False, p=name: self.maybe_save()
                                     and self.open_path(p))
        if not files:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    # --- questions (tests replace these) --------------------------------------------------
    def ask_unsaved(self) -> QMessageBox.StandardButton:
        buttons = (QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                   | QMessageBox.StandardButton.Cancel)
        return QMessageBox.question(self, "Unsaved changes",
                                    f"Save the changes to {self.windowTitle().split('[*]')[0]}?",
                                    buttons, QMessageBox.StandardButton.Save)

    def ask_open_path(self) -> str:
        return QFileDialog.getOpenFileName(self, "Open design", "", FILE_FILTER)[0]

    def suggested_path(self, suffix: str) -> str:
        """Where a save or export dialog starts: the design's own file with `suffix`, else a
        file named after the design in the current folder ("LeNet-5" -> lenet_5.py)."""
        if self.session.path:
            return str(Path(self.session.path).with_suffix(suffix))
        stem = re.sub(r"[^0-9A-Za-z]+", "_", self.session.model.name).strip("_").lower()
        return str(Path.cwd() / f"{stem or 'design'}{suffix}")

    def ask_save_path(self, title: str, file_filter: str, suffix: str) -> str:
        path = QFileDialog.getSaveFileName(self, title, self.suggested_path(suffix),
                                           file_filter)[0]
        if path and not Path(path).suffix:
            path += suffix
        return path

    def export_weights_box(self, fmt: ExportFormat,
                           checkpoint: Path) -> tuple[QMessageBox, object, object]:
        """The question `ask_export_weights` asks, and its trained and initial buttons."""
        box = QMessageBox(QMessageBox.Icon.Question, f"Export {fmt.label}",
                          f"Export the design with the trained weights of "
                          f"{_run_name(checkpoint)}?", QMessageBox.StandardButton.Cancel, self)
        which = "its best epoch" if checkpoint.name == "best.pt" else "its last epoch"
        box.setInformativeText(
            f"Trained weights: {checkpoint.name}, {which}.\nInitial weights: the freshly "
            "initialised network, untrained.\n\nTo export another run's weights, select it in "
            "the Runs tab first.")
        trained = box.addButton("Trained weights", QMessageBox.ButtonRole.AcceptRole)
        initial = box.addButton("Initial weights", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(trained)
        return box, trained, initial

    def ask_export_weights(self, fmt: ExportFormat, checkpoint: Path) -> bool | None:
        """True: export the run's trained weights; False: the initial ones; None: cancel."""
        box, trained, initial = self.export_weights_box(fmt, checkpoint)
        box.exec()
        clicked = box.clickedButton()
        return True if clicked is trained else False if clicked is initial else None

    def ask_network(self, fmt: ExportFormat, titles: list[str]) -> str | None:
        """Which network of the design to export (a file of `fmt` holds one); None: cancel."""
        title, ok = QInputDialog.getItem(self, f"Export {fmt.label}", "This design holds "
                                         f"{len(titles)} networks and each {fmt.suffix} file "
                                         "holds one. Export:", titles, 0, False)
        return title if ok and title else None

    def ask_recover(self, description: str) -> bool:
        answer = QMessageBox.question(self, "Recover unsaved work",
                                      f"LayerLab did not close normally. Recover {description}?")
        return answer == QMessageBox.StandardButton.Yes

    def show_problems(self, title: str, text: str, problems: list) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self)
        box.setInformativeText("\n".join(f"• {p}" for p in problems[:12])
                               + (f"\n… and {len(problems) - 12} more" if len(problems) > 12
                                  else ""))
        box.setDetailedText("\n".join(str(p) for p in problems))
        self.last_message = box.informativeText()
        box.exec()

    def show_error(self, title: str, text: str) -> None:
        self.last_message = text
        QMessageBox.warning(self, title, text)

    # --- window state ---------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.value("geometry")
        state = self.settings.value("window_state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if not self.maybe_save():
            event.ignore()
            return
        self.trainer.shutdown()  # a run ends with the window
        self.doctor.runner.cancel()
        self.export_job.cancel()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.autosaver.clear()
        event.accept()


def _run_name(checkpoint: Path) -> str:
    """How a checkpoint's run is named to the user: 'run “NAME”' (its folder's name when the
    run description cannot be read)."""
    from runtime.runs import RunError, read_run

    try:
        name = read_run(checkpoint.parent).name
    except RunError:
        name = checkpoint.parent.name
    return f"run “{name}”"


def is_typing(widget: QWidget | None) -> bool:
    """Is `widget` a field the user types in (a line, a text, a spin box, an editable combo)?"""
    return isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)) or (
        isinstance(widget, QComboBox) and widget.isEditable())


def app_instance() -> QApplication:
    return QApplication.instance() or QApplication([])
