"""The plots dock: live curves of the current run, the selected layer, results and run history.

During a run it repaints on its own clock (REFRESH_MS, ~12 Hz) and only when events arrived, feeding
the visible page's plots one per turn of the event loop; the canvas tint is designer/live_tint.py.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QIODevice, QSaveFile, Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from runtime.registry import REGISTRY

from .plots import NodePlots, OverviewPlots, WeightPlots
from .results_view import ResultsView
from .run_data import RunRecord
from .training_controller import TrainingController

#: Milliseconds between plot refreshes during a run (about 12 per second).
REFRESH_MS = 80
RUN_COLUMNS = ("show", "run", "status", "epochs", "train loss", "val loss", "val metric", "time")


class RunsTable(QTableWidget):
    """Every run of this design: what changed, how it ended; tick to overlay its loss.

    Signals:
        visibility_changed(): a run's overlay box was toggled.
    """

    visibility_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(RUN_COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(RUN_COLUMNS))
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.hidden: set[int] = set()
        self.itemChanged.connect(self._toggled)

    def visible_runs(self) -> set[int]:
        return {int(self.item(r, 1).data(Qt.ItemDataRole.UserRole)) for r in range(self.rowCount())
                if self.item(r, 0).checkState() == Qt.CheckState.Checked}

    def show_runs(self, runs: list[RunRecord]) -> None:
        self.blockSignals(True)
        self.setRowCount(len(runs))
        for row, run in enumerate(runs):
            last = run.epochs[-1] if run.epochs else {}
            metric = next((k for k in last if k.startswith("val_") and k != "val_loss"), None)
            cells = ("", run.label, run.status, str(len(run.epochs)),
                     _num(last.get("train_loss")), _num(last.get("val_loss")),
                     f"{metric[4:]} {_num(last.get(metric))}" if metric else "–",
                     f"{last.get('elapsed_s', 0):.1f} s" if last else "–")
            for column, text in enumerate(cells):
                item = self.item(row, column)
                if item is None:
                    item = QTableWidgetItem()
                    self.setItem(row, column, item)
                item.setText(text)
                item.setToolTip(run.label if column == 1 else "")
            self.item(row, 1).setData(Qt.ItemDataRole.UserRole, run.number)
            box = self.item(row, 0)
            box.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            box.setCheckState(Qt.CheckState.Unchecked if run.number in self.hidden
                              else Qt.CheckState.Checked)
        self.resizeColumnToContents(0)
        self.blockSignals(False)

    def _toggled(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        number = int(self.item(item.row(), 1).data(Qt.ItemDataRole.UserRole))
        if item.checkState() == Qt.CheckState.Checked:
            self.hidden.discard(number)
        else:
            self.hidden.add(number)
        self.visibility_changed.emit()


def _num(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "–"


class TrainingPlots(QWidget):
    """Tabs of plots for the controller's runs.

    Signals:
        exported(str): a file was written (its path), for the status bar.
    """

    exported = Signal(str)

    def __init__(self, controller: TrainingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.node_plots = NodePlots()
        self.overview = OverviewPlots(self.node_plots)
        self.weights = WeightPlots(self.node_plots)
        self.results = ResultsView()
        self.runs = RunsTable()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.overview, "Live")
        self.tabs.addTab(self.weights, "Selected layer")
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.runs, "Runs")

        bar = QHBoxLayout()
        self.caption = QLabel("No run yet: press Train.")
        self.caption.setStyleSheet("color: #8b949e;")
        self.caption.setMinimumWidth(40)  # the buttons keep their room in a narrow window
        bar.addWidget(self.caption, 1)
        self.log_box = QCheckBox("Log loss")
        self.log_box.setToolTip("Show the loss on a logarithmic axis")
        self.log_box.toggled.connect(self._set_log)
        bar.addWidget(self.log_box)
        self.png_button = QPushButton("PNG…")
        self.png_button.setToolTip("Save the visible page of plots as a PNG image")
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button = QPushButton("CSV…")
        self.csv_button.setToolTip("Save the current run's per-epoch metrics as CSV")
        self.csv_button.clicked.connect(self._ask_csv)
        bar.addWidget(self.png_button)
        bar.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)

        self.draws = 0  # redraws of the live page (the responsiveness benchmark counts them)
        self._drawn_version = (-1, -1)
        self._x_fixed_for = -1  # the run whose epoch count fixed the x axes
        # plots repaint at most this often: painting six plots costs more than draining events
        self._refresh = QTimer(self)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(lambda: self.draw(self.controller.current))
        self._staggered: list = []
        self._stagger = QTimer(self)
        self._stagger.setInterval(0)
        self._stagger.timeout.connect(self._next_plot)
        controller.run_started.connect(self._on_started)
        controller.run_updated.connect(lambda run: self._refresh.isActive()
                                       or self._refresh.start())
        controller.run_finished.connect(self._on_finished)
        self.runs.visibility_changed.connect(self._draw_history)
        self.tabs.currentChanged.connect(lambda _: self.draw(self.controller.current,
                                                             force=True))
        self.set_node(None)

    # --- focus ------------------------------------------------------------------------------
    @property
    def node_id(self) -> str | None:
        return self.node_plots.node_id

    def set_node(self, node_id: str | None) -> None:
        """Show this node's activations and weights (the canvas selection)."""
        self.node_plots.set_node(node_id)
        self.weights.hint.setVisible(node_id is None)
        run = self.controller.current
        if run is not None:
            self.node_plots.show_run(run)

    def _set_log(self, on: bool) -> None:
        self.overview.loss.set_log(on)
        self.draw(self.controller.current, force=True)
        self._draw_history()

    # --- drawing ----------------------------------------------------------------------------
    def _on_started(self, run: RunRecord) -> None:
        self.overview.gradients.clear_run()
        self.results.show_report(None)
        self.results.summary.setText("Results appear here when the run ends.")
        self.caption.setText(f"{run.label} — starting…")
        self._drawn_version = (-1, -1)
        self.runs.show_runs(self.controller.runs)
        self._draw_history()
        if self.node_id is None or not any(n["id"] == self.node_id
                                           for n in run.document["nodes"]):
            self.set_node(_first_layer(run))
        self.tabs.setCurrentWidget(self.overview)
        self.draw(run, force=True)

    def draw(self, run: RunRecord | None, force: bool = False) -> None:
        """Feed the visible page's curves from `run` (skipped when nothing changed)."""
        if run is None:
            return
        key = (run.number, run.version)
        if key == self._drawn_version and not force:
            if run.ended:
                self._refresh.stop()
            return
        if self._x_fixed_for != run.number and run.info.get("epochs"):
            self._x_fixed_for = run.number
            shown = [len(r.epochs) for r in self.controller.runs
                     if r.number in self.runs.visible_runs()]
            self.overview.fix_epochs(max([run.info["epochs"], *shown]))
        self._drawn_version = key
        page = self.tabs.currentWidget()
        if page is self.overview:
            o = self.overview
            steps = [o.loss.show_run, o.metric_plot.show_run, o.lr.show_run,
                     o.gradients.show_run, self.node_plots.show_run]
            if force or run.ended:
                for step in steps:
                    step(run)
            else:
                # one plot per turn of the event loop, so its repaint is all that turn does:
                # painting the whole page at once would hold the loop for ~60-100 ms
                self._staggered = [(step, run) for step in steps]
                self._stagger.start()
            self.draws += 1
        elif page is self.weights:
            self.node_plots.show_run(run)
        elif page is self.runs:
            self.runs.show_runs(self.controller.runs)
        self.caption.setText(f"{run.label} — {run.status}")

    def _next_plot(self) -> None:
        if self._staggered:
            step, run = self._staggered.pop(0)
            step(run)
        if not self._staggered:
            self._stagger.stop()

    def _on_finished(self, run: RunRecord) -> None:
        self._refresh.stop()
        self.draw(run, force=True)
        self.runs.show_runs(self.controller.runs)
        self._draw_history()
        if run.report is not None:
            self.results.show_report(run.report)
        elif run.failure is not None:
            self.results.summary.setText(f"No results: the run failed — "
                                         f"{run.failure.get('message')}")

    def _draw_history(self) -> None:
        current = self.controller.current
        earlier = [r for r in self.controller.runs if r is not current]
        self.overview.loss.show_history(earlier, self.runs.visible_runs())

    # --- export -----------------------------------------------------------------------------
    def save_png(self, path: str | Path) -> None:
        """The visible page of plots as a PNG image (written whole or not at all)."""
        file = QSaveFile(str(path))
        if not (file.open(QIODevice.OpenModeFlag.WriteOnly)
                and self.tabs.currentWidget().grab().save(file, "PNG") and file.commit()):
            file.cancelWriting()
            raise OSError(f"{path} could not be written: {file.errorString()}")
        self.exported.emit(str(path))

    def save_csv(self, path: str | Path) -> None:
        """The current run's per-epoch metrics as CSV."""
        run = self.controller.current
        if run is None:
            raise ValueError("there is no run to export yet")
        run.write_csv(path)
        self.exported.emit(str(path))

    def _ask_png(self) -> None:
        self._export(self.save_png, "Save plots", "PNG images (*.png)", ".png")

    def _ask_csv(self) -> None:
        self._export(self.save_csv, "Save metrics", "CSV files (*.csv)", ".csv")

    def _export(self, save, title: str, file_filter: str, suffix: str) -> None:
        window = self.window()
        path = window.ask_save_path(title, file_filter, suffix)
        if not path:
            return
        try:
            save(path)
        except (OSError, ValueError) as err:
            window.show_error("Cannot export", str(err))


def _first_layer(run: RunRecord) -> str | None:
    """The layer to show first: the first one with weights, else the first after the Input."""
    nodes = run.document["nodes"]  # a trained design: every type is registered
    weighted = [n["id"] for n in nodes if REGISTRY.get(n["type"]).has_weights]
    rest = [n["id"] for n in nodes if n["type"] not in ("Input", "Output")]
    return (weighted or rest or [None])[0]
