"""The plots dock: live curves of the current run, the selected layer, results and kept runs.

Runs selected in the Runs tab (designer/runs_panel.py, read from their run folders) are overlaid
on the loss, metric and per-layer gradient plots, labelled by run name.

During a run it repaints on its own clock (REFRESH_MS, ~12 Hz) and only when events arrived, feeding
the visible page's plots one per turn of the event loop; the canvas tint is designer/live_tint.py.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QIODevice, QSaveFile, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QPushButton, QTabWidget,
                               QVBoxLayout, QWidget)

from runtime.errors import LayerLabError
from runtime.registry import REGISTRY
from runtime.runs import continued_name, read_run
from runtime.training.config import with_setting

from .plots import RUN_COLORS, NodePlots, OverviewPlots, WeightPlots, _pen, shorten
from .results_view import ResultsView
from .run_data import RunRecord
from .runs_panel import RunsPanel
from .samples_view import SamplesView
from .training_controller import TrainingController

#: Milliseconds between plot refreshes during a run (about 12 per second).
REFRESH_MS = 80
#: The caption while the plots show no run.
NO_RUN = "No run of this design yet"
class TrainingPlots(QWidget):
    """Tabs of plots for the controller's runs.

    Signals:
        exported(str): a file was written (its path), for the status bar.
        node_chosen(str): the user clicked a layer's curve (or its name) in the gradient plot;
            the node id, for the canvas to select.
    """

    exported = Signal(str)
    node_chosen = Signal(str)

    def __init__(self, controller: TrainingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.node_plots = NodePlots()
        self.overview = OverviewPlots(self.node_plots)
        self.overview.gradients.layer_clicked.connect(self.node_chosen)
        self.weights = WeightPlots(self.node_plots)
        self.results = ResultsView()
        self.samples = SamplesView()
        self.runs = RunsPanel(controller.session)
        self._metric_history: dict[int, object] = {}
        self._labels: dict[int, str] = {}  # overlaid run -> the name its curves carry
        self.tabs = QTabWidget()
        self.tabs.addTab(self.overview, "Live")
        self.tabs.addTab(self.weights, "Selected layer")
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.samples, "Samples")
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
        controller.run_updated.connect(self._on_updated)
        controller.run_finished.connect(self._on_finished)
        controller.runs_cleared.connect(self._clear)
        self.runs.selection_changed.connect(self._draw_history)
        self.runs.resume_requested.connect(self.continue_run)
        self.tabs.currentChanged.connect(lambda _: self.draw(self.controller.current,
                                                             force=True))
        self.set_node(None)

    # --- focus ------------------------------------------------------------------------------
    @property
    def node_id(self) -> str | None:
        return self.node_plots.node_id

    def set_node(self, node_id: str | None) -> None:
        """Show this node's activations and weights, and draw its gradient curve thick (the
        canvas selection)."""
        self.node_plots.set_node(node_id)
        self.overview.gradients.set_chosen(node_id)
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
        self.results.show_reports([])
        self.results.summary.setText("Results appear here when the run ends.")
        self.caption.setText(f"{run.label} — starting…")
        self._drawn_version = (-1, -1)
        earlier = [r.folder for r in self.controller.runs[:-1] if r.folder]
        if earlier and not self.runs.selected_infos():
            self.runs.refresh()
            self.runs.select_folders(earlier[-1:])  # compare with the run before, as before
        self._draw_history()
        if self.node_id is None or not any(n["id"] == self.node_id
                                           for n in run.document["nodes"]):
            self.set_node(_first_layer(run))
        self.tabs.setCurrentWidget(self.overview)
        self.draw(run, force=True)

    def _clear(self) -> None:
        """Another design is on screen: the plots, results and samples of the last run go (an
        empty record drawn everywhere), and the time axes follow the next run's data."""
        self._refresh.stop()
        self._stagger.stop()
        self._staggered = []
        empty = RunRecord(0, {"nodes": [], "edges": []})
        o = self.overview
        for show in (o.loss.show_run, o.metric_plot.show_run, o.lr.show_run,
                     o.gradients.show_run, self.node_plots.show_run, self.samples.show_run):
            show(empty)
        o.gradients.clear_run()
        for plot in (o.loss, o.metric_plot, o.lr, o.gradients,
                     *self.node_plots.stat_plots.values()):
            plot.item.enableAutoRange(axis="x")
        self._x_fixed_for = -1
        self._drawn_version = (-1, -1)
        self.set_node(None)
        self.results.show_reports([])
        self.results.summary.setText("Results appear here when a run ends.")
        self.caption.setText(NO_RUN)

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
            shown = [len(r.epochs) for r in self.runs.selected_records()]
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
        elif page is self.samples:
            self.samples.show_run(run)
        self.caption.setText(f"{run.label} — {run.status}")

    def _next_plot(self) -> None:
        if self._staggered:
            step, run = self._staggered.pop(0)
            step(run)
        if not self._staggered:
            self._stagger.stop()

    def _on_updated(self, run: RunRecord) -> None:
        if run.folder and run.folder != self.runs.live_folder:  # its folder now exists
            self.runs.live_folder = run.folder
            self.runs.refresh()
        self._refresh.isActive() or self._refresh.start()

    def _on_finished(self, run: RunRecord) -> None:
        self._refresh.stop()
        self.draw(run, force=True)
        self.runs.live_folder = None
        self.runs.refresh()
        self._draw_history()
        if run.report is not None:
            self.results.show_reports(run.reports)
        elif run.failure is not None:
            self.results.summary.setText(f"No results: the run failed — "
                                         f"{run.failure.get('message')}")

    def continue_run(self, folder: str, extra_epochs: int) -> str | None:
        """Train a kept run on from its last.pt for `extra_epochs` more epochs, as a new run
        beside it named after it, "NAME (continued)" (returns why not, also shown, or None)."""
        try:
            info = read_run(folder)
            design = info.design()
        except LayerLabError as err:
            problem = str(err)
        else:
            if info.checkpoint("last") is None:
                problem = f"{info.name} has no last.pt checkpoint to continue from"
                self.runs.show_error("Cannot continue the run", problem)
                return problem
            design.training = with_setting(design.training, "epochs",
                                           int(info.meta.get("epochs_run") or 0) + extra_epochs)
            siblings = (i.name for i in self.runs.infos if i.folder.parent == info.folder.parent)
            problem = self.controller.start(design=design, resume=str(info.checkpoint("last")),
                                            run_root=info.folder.parent,
                                            design_path=info.meta.get("design_path"),
                                            name=continued_name(info.name, siblings))
        if problem:
            self.runs.show_error("Cannot continue the run", problem)
        return problem

    def _draw_history(self) -> None:
        """Overlay the runs selected in the Runs tab (not the live one) on loss, metric and
        per-layer gradient norms."""
        current = self.controller.current
        records = [r for r in self.runs.selected_records()
                   if current is None or r.folder != current.folder]
        # a renamed run: its curves are made again under the new name
        labels = {r.number: r.label for r in records}
        for number in [n for n, label in self._labels.items() if labels.get(n, label) != label]:
            if number in self.overview.loss.history:
                self.overview.loss.drop(self.overview.loss.history.pop(number))
            if number in self._metric_history:
                self.overview.metric_plot.drop(self._metric_history.pop(number))
        self._labels = labels
        self.overview.loss.show_history(records, {r.number for r in records})
        self.overview.gradients.show_history(records)
        plot = self.overview.metric_plot
        metric = plot.metric_name or next((m for r in records for m in r.metric_names()), "")
        if metric and not plot.metric_name:
            plot.set_title(metric.replace("_", " ").capitalize())
        wanted = {r.number: r for r in records}
        for number in list(self._metric_history):
            if number not in wanted:
                plot.drop(self._metric_history.pop(number))
        for number, run in wanted.items():
            series = run.epoch_series.get(f"val_{metric}") or run.epoch_series.get(
                f"train_{metric}")
            if series is None:
                continue
            curve = self._metric_history.get(number)
            if curve is None:
                color = RUN_COLORS[(number - 1) % len(RUN_COLORS)]
                curve = self._metric_history[number] = plot.curve(
                    shorten(run.label, 34), _pen(color, 1.4, dashed=True))
                curve.setZValue(-1)
            plot.feed(curve, series)
        if current is None:  # what the plots show is the kept runs, not a live one
            count = f"{len(records)} kept run" + ("s" if len(records) > 1 else "")
            self.caption.setText(f"Comparing {count} (Runs tab)" if records else NO_RUN)
        if current is None or not current.info.get("epochs"):
            for p in (self.overview.loss, plot, self.overview.gradients):
                p.item.enableAutoRange(axis="x")
        elif records:
            self.overview.fix_epochs(max([current.info["epochs"],
                                          *(len(r.epochs) for r in records)]))

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
