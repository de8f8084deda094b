"""Colours the canvas by a live training statistic: the controller's runs -> the canvas nodes."""
from __future__ import annotations

from PySide6.QtCore import QObject

from .canvas.view import CanvasView
from runtime.training.statistics import DEFAULT_TINT

from .live_stats import LIVE_STATS, LiveStat
from .run_data import RunRecord
from .training_controller import TrainingController


class LiveTint(QObject):
    """Tints every node by the chosen statistic when a run reports new monitor values.

    The legend over the canvas chooses the statistic; a new run or another design clears the tint.
    """

    def __init__(self, canvas: CanvasView, controller: TrainingController,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.controller = controller
        self.stat: LiveStat = LIVE_STATS[DEFAULT_TINT]
        self._shown: tuple[int, int] | None = None  # (run, monitor step) drawn last
        controller.run_started.connect(lambda run: self.clear())
        controller.run_updated.connect(self.update_from)
        controller.session.model_replaced.connect(self.clear)
        canvas.legend.stat_changed.connect(self.choose)

    def clear(self) -> None:
        self._shown = None
        self.canvas.show_live(None, self.stat)

    def update_from(self, run: RunRecord) -> None:
        """Re-tint from `run` if it has monitor values newer than those shown."""
        key = (run.number, run.monitor_step)
        if key == self._shown or not run.latest:
            return
        self._shown = key
        values = {node_id: run.current(node_id, self.stat.key)
                  for node_id in self.controller.session.model.nodes}
        self.canvas.show_live(values, self.stat)

    def choose(self, key: str) -> None:
        """Colour by another statistic (a key of `LIVE_STATS`)."""
        self.stat = LIVE_STATS[key]
        self._shown = None
        if self.controller.current is not None:
            self.update_from(self.controller.current)
