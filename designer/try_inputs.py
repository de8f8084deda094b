"""The Try it panel's input editors (#13): each holds one sample as `grid` (a numpy array, or
None while the input is incomplete), takes one with `set_values` and says `changed` on edits."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QDoubleSpinBox, QGridLayout, QLabel, QLineEdit, QVBoxLayout,
                               QWidget)

from runtime.inference import Predictor
from runtime.lazy import lazy_import

from .plots import NODE_COLORS
from .try_views import gray_pixmap

# torch loads in the background once the window is shown (designer.app): importing this
# module must not wait for it
torch = lazy_import("torch", globals(), "torch")


class DrawingPad(QWidget):
    """A grid of pixels in 0..1 drawn with the mouse: left button draws, right button erases."""

    changed = Signal()

    def __init__(self, height: int, width: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid = np.zeros((height, width), dtype=np.float32)
        self.cell = max(6, 224 // max(height, width))
        self.setFixedSize(width * self.cell + 1, height * self.cell + 1)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the left mouse button, erase with the right one")
        self._last: QPointF | None = None
        self._value = 1.0
        # a pen about a sixteenth of the picture wide, with a soft edge
        self.radius = max(height, width) / 16

    def set_values(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float32)
        if values.ndim == 3:  # channels first: colour pictures are drawn in gray
            values = values.mean(axis=0)
        self.grid = np.clip(values.reshape(self.grid.shape), 0, 1)
        self.update()
        self.changed.emit()

    def clear(self) -> None:
        self.set_values(np.zeros_like(self.grid))

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        self._value = 1.0 if event.button() == Qt.MouseButton.LeftButton else 0.0
        self._last = None
        self._stroke(event.position())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            self._stroke(event.position())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._last = None

    def _stroke(self, pos: QPointF) -> None:
        point = QPointF(pos.x() / self.cell, pos.y() / self.cell)
        start = self._last or point
        steps = max(1, int(math.hypot(point.x() - start.x(), point.y() - start.y()) * 3))
        for i in range(1, steps + 1):  # fast moves leave no gaps
            t = i / steps
            self._dab(start.x() + (point.x() - start.x()) * t,
                      start.y() + (point.y() - start.y()) * t)
        self._last = point
        self.update()
        self.changed.emit()

    def _dab(self, x: float, y: float) -> None:
        h, w = self.grid.shape
        ys, xs = np.mgrid[0:h, 0:w]
        distance = np.hypot(xs + 0.5 - x, ys + 0.5 - y)
        if self._value:
            core = np.clip(1.5 - (distance - self.radius), 0, 1) * 0.8
            core[distance <= self.radius + 0.5] = 1.0
            self.grid = np.maximum(self.grid, core.astype(np.float32))
        else:
            self.grid[distance <= self.radius + 1.0] = 0.0

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawPixmap(0, 0, gray_pixmap(self.grid, self.cell))
        painter.setPen(QPen(QColor(60, 66, 74), 1))
        h, w = self.grid.shape
        for i in range(w + 1):
            painter.drawLine(i * self.cell, 0, i * self.cell, h * self.cell)
        for j in range(h + 1):
            painter.drawLine(0, j * self.cell, w * self.cell, j * self.cell)


class PointPlot(QWidget):
    """The plane of a 2-D classification: predicted regions, validation points, a queried point."""

    changed = Signal()
    SIZE = 240

    def __init__(self, predictor: Predictor, x: torch.Tensor, y: torch.Tensor,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedSize(self.SIZE, self.SIZE)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Click to ask the model about a point")
        lo, hi = x.min(dim=0).values, x.max(dim=0).values
        pad = (hi - lo) * 0.08
        self.lo, self.hi = (lo - pad).tolist(), (hi + pad).tolist()
        self.samples, self.targets = x.tolist(), y.tolist()
        self.point = [(self.lo[0] + self.hi[0]) / 2, (self.lo[1] + self.hi[1]) / 2]
        self.regions = self._regions(predictor, 80)

    def _regions(self, predictor: Predictor, n: int) -> QPixmap:
        xs = torch.linspace(self.lo[0], self.hi[0], n)
        ys = torch.linspace(self.hi[1], self.lo[1], n)  # top row is the largest y
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)
        with torch.no_grad():
            out = predictor.model(grid).float()
        classes = (out.argmax(dim=-1) if out.dim() == 2 and out.shape[-1] > 1
                   else (out.reshape(-1) > 0).long()).reshape(n, n).numpy()
        colors = np.array([QColor(c).getRgb()[:3] for c in NODE_COLORS], dtype=np.uint8)
        rgb = np.ascontiguousarray((colors[classes % len(colors)] * 0.45).astype(np.uint8))
        image = QImage(rgb.data, n, n, 3 * n, QImage.Format.Format_RGB888).copy()
        return QPixmap.fromImage(image).scaled(self.SIZE, self.SIZE,
                                               Qt.AspectRatioMode.IgnoreAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation)

    def to_pixel(self, x: float, y: float) -> QPointF:
        return QPointF((x - self.lo[0]) / (self.hi[0] - self.lo[0]) * self.SIZE,
                       (self.hi[1] - y) / (self.hi[1] - self.lo[1]) * self.SIZE)

    def to_data(self, pos: QPointF) -> list[float]:
        return [self.lo[0] + pos.x() / self.SIZE * (self.hi[0] - self.lo[0]),
                self.hi[1] - pos.y() / self.SIZE * (self.hi[1] - self.lo[1])]

    def set_values(self, values) -> None:
        self.point = [float(v) for v in np.asarray(values).reshape(-1)[:2]]
        self.update()
        self.changed.emit()

    @property
    def grid(self) -> np.ndarray:
        return np.asarray(self.point, dtype=np.float32)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.set_values(self.to_data(event.position()))

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.drawPixmap(0, 0, self.regions)
        for (px, py), target in zip(self.samples, self.targets):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(NODE_COLORS[int(target) % len(NODE_COLORS)]))
            painter.drawEllipse(self.to_pixel(px, py), 2.5, 2.5)
        painter.setPen(QPen(QColor("white"), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        centre = self.to_pixel(*self.point)
        painter.drawEllipse(centre, 7, 7)
        painter.drawLine(centre + QPointF(-11, 0), centre + QPointF(11, 0))
        painter.drawLine(centre + QPointF(0, -11), centre + QPointF(0, 11))


class FeatureEditor(QWidget):
    """One spin box per feature of a table row."""

    changed = Signal()

    def __init__(self, count: int, lo: np.ndarray, hi: np.ndarray,
                 parent: QWidget | None = None):
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.spins: list[QDoubleSpinBox] = []
        for i in range(count):
            spin = QDoubleSpinBox(self)
            span = max(float(hi[i] - lo[i]), 1.0)
            spin.setRange(float(lo[i]) - span, float(hi[i]) + span)
            spin.setDecimals(3)
            spin.setSingleStep(span / 20)
            spin.valueChanged.connect(lambda _v: self.changed.emit())
            layout.addWidget(QLabel(f"x{i + 1}"), i // 2, 2 * (i % 2))
            layout.addWidget(spin, i // 2, 2 * (i % 2) + 1)
            self.spins.append(spin)

    @property
    def grid(self) -> np.ndarray:
        return np.array([s.value() for s in self.spins], dtype=np.float32)

    def set_values(self, values) -> None:
        flat = np.asarray(values, dtype=float).reshape(-1)
        for spin, value in zip(self.spins, flat):
            spin.blockSignals(True)
            spin.setValue(float(value))
            spin.blockSignals(False)
        self.changed.emit()


class ValuesEditor(QWidget):
    """A line of space-separated values: token ids, or a sequence's numbers row by row."""

    changed = Signal()

    def __init__(self, shape: tuple[int, ...], integers: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.shape, self.integers = shape, integers
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        count = math.prod(shape)
        what = "token ids" if integers else "numbers"
        layout.addWidget(QLabel(f"{count} {what}, separated by spaces:"))
        self.edit = QLineEdit(self)
        self.edit.textChanged.connect(self._parse)
        layout.addWidget(self.edit)
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #e5534b")
        layout.addWidget(self.problem)
        self.values: np.ndarray | None = None

    @property
    def grid(self) -> np.ndarray | None:
        return self.values

    def set_values(self, values) -> None:
        flat = np.asarray(values).reshape(-1)
        self.edit.setText(" ".join(str(int(v)) if self.integers else f"{float(v):.3g}"
                                   for v in flat))

    def _parse(self, text: str) -> None:
        try:
            numbers = [int(t) if self.integers else float(t) for t in text.split()]
        except ValueError:
            self.problem.setText("only " + ("whole numbers" if self.integers else "numbers"))
            return
        count = math.prod(self.shape)
        if len(numbers) != count:
            self.problem.setText(f"{len(numbers)} of {count} values")
            return
        self.problem.setText("")
        self.values = np.asarray(numbers).reshape(self.shape)
        self.changed.emit()
