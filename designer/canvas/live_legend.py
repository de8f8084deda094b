"""The colour legend over the canvas while training: which statistic tints the nodes, its scale."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from designer.live_stats import LIVE_STATS, LiveStat

BAR_H = 10


class _ScaleBar(QWidget):
    """A gradient bar of the statistic's colours with its end values and meanings."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.stat: LiveStat = next(iter(LIVE_STATS.values()))
        self.setMinimumSize(230, BAR_H + 30)

    def set_stat(self, stat: LiveStat) -> None:
        self.stat = stat
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRectF(2, 2, self.width() - 4, BAR_H)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for value, color in self.stat.stops:
            gradient.setColorAt(self.stat.position(value), color)
        painter.setPen(QPen(QColor("#0d1117"), 1))
        painter.setBrush(gradient)
        painter.drawRoundedRect(bar, 3, 3)
        painter.setPen(QColor("#c9d1d9"))
        lo, hi = self.stat.stops[0][0], self.stat.stops[-1][0]
        y = bar.bottom() + 13
        painter.drawText(QPointF(bar.left(), y), f"≤{self.stat.format(lo)}")
        right = f"≥{self.stat.format(hi)}"
        painter.drawText(QPointF(bar.right() - painter.fontMetrics().horizontalAdvance(right), y),
                         right)
        painter.setPen(QColor("#8b949e"))
        y += 13
        painter.drawText(QPointF(bar.left(), y), self.stat.spec.too_low)
        painter.drawText(QPointF(bar.right() - painter.fontMetrics().horizontalAdvance(
            self.stat.spec.too_high), y), self.stat.spec.too_high)


class LiveLegend(QWidget):
    """Chooser of the statistic that colours the nodes, and its colour scale.

    Signals:
        stat_changed(str): the user chose another statistic (its key in `LIVE_STATS`).
    """

    stat_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("LiveLegend")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#LiveLegend { background: rgba(22, 26, 31, 225); border-radius: 6px;"
                           " border: 1px solid #3a414b; } QLabel { color: #c9d1d9; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Colour by"))
        self.chooser = QComboBox(self)
        for stat in LIVE_STATS.values():
            self.chooser.addItem(stat.title, stat.key)
        self.chooser.activated.connect(
            lambda index: self._choose(self.chooser.itemData(index)))
        row.addWidget(self.chooser, 1)
        layout.addLayout(row)
        self.bar = _ScaleBar(self)
        layout.addWidget(self.bar)
        self.adjustSize()

    @property
    def stat(self) -> LiveStat:
        return self.bar.stat

    def set_stat(self, key: str) -> None:
        """Show `key`'s scale (without emitting)."""
        self.chooser.setCurrentIndex(self.chooser.findData(key))
        self.bar.set_stat(LIVE_STATS[key])

    def _choose(self, key: str) -> None:
        self.set_stat(key)
        self.stat_changed.emit(key)
