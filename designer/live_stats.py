"""The live statistics the canvas can colour nodes by, as the canvas tint, its colour legend and
the plots' warning bands read them. Each is the runtime's `StatSpec` (runtime/training/
statistics.py: scale, healthy range, words) with the scale's words mapped to colours here.

Scales are fixed, not fitted to the current values, so a colour always means the same thing:
blue is "too small" (vanishing gradients, frozen updates, collapsed activations), green is
healthy and red is "too large" (exploding gradients, updates that overshoot, dead units).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtGui import QColor

from runtime.training.statistics import StatSpec, tintable

LOW = QColor("#4c8ef7")
GOOD = QColor("#3fb950")
HIGH = QColor("#e5534b")
MIDDLE = QColor("#e3b341")
#: The colour of each scale word of a `StatSpec`.
COLORS = {"low": LOW, "good": GOOD, "middle": MIDDLE, "high": HIGH}


@dataclass(frozen=True)
class LiveStat:
    """A statistic as the canvas colours it.

    Attributes:
        spec: The runtime's declaration (key, title, scale, healthy range, words).
        stops: (value, colour) pairs in increasing value, interpolated between.
    """

    spec: StatSpec
    stops: tuple[tuple[float, QColor], ...]

    @classmethod
    def of(cls, spec: StatSpec) -> "LiveStat":
        return cls(spec, tuple((value, COLORS[word]) for value, word in spec.scale))

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def log(self) -> bool:
        return self.spec.log

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
        return format_stat(self.spec, value)

    def _t(self, value: float) -> float:
        return math.log10(max(value, 1e-30)) if self.log else value


def format_stat(spec: StatSpec, value: float | None) -> str:
    """A statistic's value as the canvas and legends show it (shares as percentages)."""
    if value is None or not math.isfinite(value):
        return "–"
    if spec.fraction:
        return f"{value:.0%}"
    if spec.log:
        return f"{value:.1e}" if value and not 0.01 <= abs(value) < 1000 else f"{value:.3g}"
    return f"{value:.3g}"


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                           a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t)


#: Every statistic the canvas can show, in menu order (the first is the default).
LIVE_STATS: dict[str, LiveStat] = {s.key: LiveStat.of(s) for s in tintable()}
