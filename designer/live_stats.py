"""The live statistics the canvas can colour nodes by: declared once, read by the canvas tint,
its colour legend and the plots' warning bands.

Scales are fixed, not fitted to the current values, so a colour always means the same thing:
blue is "too small" (vanishing gradients, frozen updates, collapsed activations), green is
healthy and red is "too large" (exploding gradients, updates that overshoot, dead units).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtGui import QColor

LOW = QColor("#4c8ef7")
GOOD = QColor("#3fb950")
HIGH = QColor("#e5534b")
MIDDLE = QColor("#e3b341")


@dataclass(frozen=True)
class LiveStat:
    """One per-node statistic from the trainer's monitor events.

    Attributes:
        key: The field name in a monitor event's node entry (and in `RunRecord.node_stats`).
        title: Shown in the colour-by chooser and the legend.
        log: Whether the colour scale is logarithmic.
        stops: (value, colour) pairs in increasing value, interpolated between.
        low_band, high_band: Values below/above which the plots shade a warning band, or None.
        low_label, high_label: What the ends of the scale mean.
    """

    key: str
    title: str
    log: bool
    stops: tuple[tuple[float, QColor], ...]
    low_band: float | None = None
    high_band: float | None = None
    low_label: str = ""
    high_label: str = ""

    def position(self, value: float) -> float:
        """Where `value` lies on the scale, 0 (first stop) to 1 (last stop), clamped."""
        lo, hi = self.stops[0][0], self.stops[-1][0]
        v = self._t(value)
        return min(max((v - self._t(lo)) / (self._t(hi) - self._t(lo)), 0.0), 1.0)

    def color(self, value: float | None) -> QColor | None:
        """The colour of `value` (None when there is no finite value)."""
        if value is None or not math.isfinite(value):
            return None
        v = self._t(value)
        points = [(self._t(s), c) for s, c in self.stops]
        if v <= points[0][0]:
            return QColor(points[0][1])
        for (a, ca), (b, cb) in zip(points, points[1:]):
            if v <= b:
                return _mix(ca, cb, (v - a) / (b - a))
        return QColor(points[-1][1])

    def format(self, value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "–"
        if self.log:
            return f"{value:.1e}" if value and not 0.01 <= abs(value) < 1000 else f"{value:.3g}"
        return f"{value:.0%}" if self.key.endswith("fraction") else f"{value:.3g}"

    def _t(self, value: float) -> float:
        return math.log10(max(value, 1e-30)) if self.log else value


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                           a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t)


#: Every statistic the canvas can show, in menu order (the first is the default).
LIVE_STATS: dict[str, LiveStat] = {s.key: s for s in (
    LiveStat("grad_norm", "Gradient norm", True,
             ((1e-6, LOW), (1e-3, GOOD), (1.0, GOOD), (100.0, HIGH)),
             low_band=1e-5, high_band=1e2, low_label="vanishing", high_label="exploding"),
    LiveStat("update_ratio", "Update / weight ratio", True,
             ((1e-6, LOW), (1e-3, GOOD), (1e-1, HIGH)),
             low_band=1e-5, high_band=1e-1, low_label="barely learning",
             high_label="overshooting"),
    LiveStat("dead_fraction", "Dead fraction (exact zeros)", False,
             ((0.0, GOOD), (0.5, MIDDLE), (1.0, HIGH)),
             high_band=0.9, low_label="all alive", high_label="dead"),
    LiveStat("act_std", "Activation std", True,
             ((1e-3, LOW), (0.1, GOOD), (3.0, GOOD), (100.0, HIGH)),
             low_band=1e-2, high_band=30.0, low_label="collapsed", high_label="blowing up"),
)}
