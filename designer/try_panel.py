"""The "Try it" panel (#13): the latest run's weights answer an input the learner makes.

Which input editor appears depends on the run's dataset: a drawing pad for images (and for
tables whose features form a square picture in 0..1, like the flattened digits), a plot to
click for 2-D points, spin boxes for other tables, a line of values for sequences. Every change
runs the one sample through `runtime.inference.Predictor` in this process (one small sample on
the CPU takes a millisecond or two) and shows the class probabilities and, layer by layer, what
the network made of the input: feature maps of convolutions, activation strips of dense layers.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from runtime.inference import InferenceError, Predictor

from .plots import NODE_COLORS

NO_RUN = "Train the design to try it: the Try it panel uses the weights of the latest run."
MAX_CHANNELS = 8  # feature maps shown per convolution layer
MAX_STRIP = 128  # activation values shown per dense layer
MAX_SPINS = 32  # tables wider than this are edited as one line of values
PREDICT_DELAY_MS = 15  # coalesces a burst of mouse moves into one forward pass


# --- input editors ------------------------------------------------------------------------
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
        self.grid = np.clip(np.asarray(values, dtype=np.float32).reshape(self.grid.shape), 0, 1)
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


# --- outputs ------------------------------------------------------------------------------
class ProbabilityBars(QWidget):
    """One bar per class with its name and probability; the most likely class stands out."""

    ROW = 18

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.names: list[str] = []
        self.values: list[float] = []
        self.setMinimumWidth(170)

    def show_probabilities(self, values: list[float], names: list[str]) -> None:
        self.values, self.names = list(values), list(names)
        self.setMinimumHeight(self.ROW * len(values) + 4)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        if not self.values:
            return
        painter = QPainter(self)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        faint = QColor(text)
        faint.setAlpha(150)
        best = int(np.argmax(self.values))
        label_w = min(90, 8 + 7 * max(len(n) for n in self.names))
        bar_w = max(20, self.width() - label_w - 48)
        for i, (name, p) in enumerate(zip(self.names, self.values)):
            y = 2 + i * self.ROW
            painter.setPen(text if i == best else faint)
            painter.drawText(QRectF(0, y, label_w - 6, self.ROW),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            painter.fillRect(QRectF(label_w, y + 3, bar_w, self.ROW - 6), QColor(128, 128, 128, 60))
            painter.fillRect(QRectF(label_w, y + 3, bar_w * p, self.ROW - 6),
                             QColor("#2f81f7" if i == best else "#7d9cc4"))
            painter.drawText(QRectF(label_w + bar_w + 4, y, 44, self.ROW),
                             Qt.AlignmentFlag.AlignVCenter, f"{p:.0%}")


class LayerStrip(QScrollArea):
    """What each layer does to the input: one row per layer with a picture of its output."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.inner = QWidget()
        self.rows = QVBoxLayout(self.inner)
        self.rows.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setWidget(self.inner)
        self.pictures: dict[str, QLabel] = {}
        self.titles: dict[str, QLabel] = {}

    def reset(self) -> None:
        while self.rows.count():
            item = self.rows.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.pictures.clear()
        self.titles.clear()

    def show_activations(self, activations: dict[str, torch.Tensor], titles: dict[str, str],
                         attention: dict[str, torch.Tensor] | None = None) -> None:
        for node_id, tensor in activations.items():
            self._show(node_id, f"<b>{node_id}</b> · {titles.get(node_id, '')} · ",
                       activation_view(tensor))
            if attention and node_id in attention:
                self._show(f"{node_id}:attention", f"<b>{node_id}</b> attention · ",
                           attention_view(attention[node_id]))

    def _show(self, key: str, prefix: str, view: tuple[str, QPixmap, str]) -> None:
        if key not in self.pictures:
            title, picture = QLabel(self.inner), QLabel(self.inner)
            self.rows.addWidget(title)
            self.rows.addWidget(picture)
            self.titles[key], self.pictures[key] = title, picture
        caption, pixmap, tip = view
        self.titles[key].setText(prefix + caption)
        self.pictures[key].setPixmap(pixmap)
        self.pictures[key].setToolTip(tip)


def attention_view(weights: torch.Tensor) -> tuple[str, QPixmap, str]:
    """Attention weights (heads, queries, keys) as one grayscale map per head (first 4)."""
    a = weights.numpy().astype(np.float32)
    shown = a[:4]
    cell = max(1, min(6, 96 // max(a.shape[1], a.shape[2])))
    maps = [gray_pixmap(m / m.max() if m.max() > 0 else m, cell) for m in shown]
    heads = f"first 4 of {a.shape[0]} heads" if a.shape[0] > 4 else (
        f"{a.shape[0]} heads" if a.shape[0] > 1 else "1 head")
    return (f"{heads}: row = position asking, column = position looked at",
            _row_of(maps, 8), "white: where each position looks most")


def activation_view(t: torch.Tensor) -> tuple[str, QPixmap, str]:
    """A caption, a picture and a tooltip for one layer's output for one sample."""
    shape = "×".join(map(str, t.shape)) or "1"
    a = t.numpy().astype(np.float32)
    if a.ndim == 3:  # channels, height, width: feature maps, each scaled to its own range
        shown = a[:MAX_CHANNELS]
        cell = max(1, 48 // max(a.shape[1], a.shape[2]))
        maps = [gray_pixmap(_normalise(m), cell) for m in shown]
        caption = (f"{shape} — first {len(shown)} of {a.shape[0]} feature maps"
                   if a.shape[0] > MAX_CHANNELS else f"{shape} — feature maps")
        return caption, _row_of(maps), "each map scaled to its own range: white is high"
    if a.ndim == 2:  # steps × features: a heat map, time across
        shown = a[:64, :64].T
        cell = max(2, min(12, 320 // shown.shape[1]))
        height = min(72, shown.shape[0] * cell)  # features squeezed: the steps matter here
        return (f"{shape} — steps across, features down", heat_pixmap(shown, cell, height),
                "orange above zero, blue below")
    flat = a.reshape(-1)[:MAX_STRIP]
    more = f" (first {MAX_STRIP})" if a.size > MAX_STRIP else ""
    cell = max(3, min(14, 320 // max(1, flat.size)))
    tip = " ".join(f"{v:.2f}" for v in flat[:32]) + (" …" if flat.size > 32 else "")
    zero = int((flat == 0).sum())
    dead = f", {zero} at zero" if zero and flat.size > 1 else ""
    return f"{shape} values{more}{dead}", heat_pixmap(flat[None, :], cell, 14), tip


def _normalise(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def gray_pixmap(values: np.ndarray, cell: int) -> QPixmap:
    """A 2-D array in 0..1 as a grayscale picture, each value a `cell`-pixel square."""
    pixels = np.ascontiguousarray((np.clip(values, 0, 1) * 255).astype(np.uint8))
    h, w = pixels.shape
    image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(image).scaled(w * cell, h * cell)


def heat_pixmap(values: np.ndarray, cell: int, height: int | None = None) -> QPixmap:
    """A 2-D array as a diverging heat map: orange above zero, blue below, dark at zero."""
    scale = float(np.abs(values).max()) or 1.0
    v = values / scale
    pos, neg = np.clip(v, 0, 1)[..., None], np.clip(-v, 0, 1)[..., None]
    base = np.array([22, 27, 34], dtype=np.float32)
    rgb = base + pos * (np.array([240, 136, 62]) - base) + neg * (np.array([88, 166, 255]) - base)
    rgb = np.ascontiguousarray(rgb.astype(np.uint8))
    h, w = values.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(w * cell, height or h * cell)


def _row_of(pixmaps: list[QPixmap], gap: int = 4) -> QPixmap:
    width = sum(p.width() for p in pixmaps) + gap * (len(pixmaps) - 1)
    row = QPixmap(max(1, width), max(p.height() for p in pixmaps))
    row.fill(QColor(0, 0, 0, 0))
    painter = QPainter(row)
    x = 0
    for p in pixmaps:
        painter.drawPixmap(x, 0, p)
        x += p.width() + gap
    painter.end()
    return row


# --- the panel ----------------------------------------------------------------------------
class TryPanel(QWidget):
    """Try the latest finished run's weights on an input made here.

    Args:
        trainer: The `TrainingController` whose finished runs it follows (None: call
            `load_run` yourself).
    """

    predicted = Signal(object)  # the Prediction, after each forward pass

    def __init__(self, trainer=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.predictor: Predictor | None = None
        self.folder: str | None = None  # the run shown
        self.shown: tuple | None = None  # its folder and checkpoint time: reloaded when resumed
        self.dataset = None
        self.val_idx: torch.Tensor | None = None
        self.sample_number = -1
        self.editor: QWidget | None = None
        self.prediction = None
        self.predict_ms = 0.0
        self._picking = False
        layout = QVBoxLayout(self)
        self.header = QLabel(NO_RUN, self)
        self.header.setWordWrap(True)
        layout.addWidget(self.header)
        top = QHBoxLayout()
        self.editor_box = QVBoxLayout()
        top.addLayout(self.editor_box)
        side = QVBoxLayout()
        self.answer = QLabel(self)
        self.answer.setWordWrap(True)
        self.answer.setStyleSheet("font-size: 15px; font-weight: bold")
        side.addWidget(self.answer)
        self.bars = ProbabilityBars(self)
        side.addWidget(self.bars)
        side.addStretch(1)
        top.addLayout(side, 1)
        layout.addLayout(top)
        buttons = QHBoxLayout()
        self.pick_button = QPushButton("Pick a validation sample", self)
        self.pick_button.clicked.connect(self.pick_sample)
        self.clear_button = QPushButton("Clear", self)
        buttons.addWidget(self.pick_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.sample_label = QLabel(self)
        layout.addWidget(self.sample_label)
        strip_title = QLabel("<b>What each layer does</b> to this input", self)
        layout.addWidget(strip_title)
        self.strip = LayerStrip(self)
        self.strip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout.addWidget(self.strip, 1)
        self._working = [self.pick_button, self.clear_button, strip_title, self.strip,
                         self.sample_label]
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREDICT_DELAY_MS)
        self._timer.timeout.connect(self.run_prediction)
        self._show_working(False)
        self.trainer = trainer
        if trainer is not None:
            trainer.run_finished.connect(self.follow)
            if trainer.current is not None and trainer.current.ended:
                self.follow(trainer.current)

    # --- which weights ----------------------------------------------------------------------
    def follow_selection(self, runs_panel) -> None:
        """Also try the run selected in a Runs list (the first selected one with weights)."""
        def on_selection() -> None:
            for info in runs_panel.selected_infos():
                if info.checkpoint() is not None:
                    self.load_run(info.folder)
                    return
        runs_panel.selection_changed.connect(on_selection)

    def follow(self, run) -> None:
        """Use a finished run's weights (a run without a folder or checkpoint says so)."""
        if getattr(run, "folder", None):
            self.load_run(run.folder)
        else:
            self.show_message(NO_RUN)

    def load_run(self, folder) -> bool:
        """Load a run folder's best weights and its data; False (with a message) if it cannot."""
        if self.predictor is not None and self.shown == _weights_stamp(folder):
            return True  # these very weights are shown: keep the drawing
        try:
            predictor = Predictor.from_run(folder)
            dataset, val_idx = predictor.validation_data()
        except InferenceError as err:
            self.show_message(f"Cannot try this run: {err}")
            return False
        self.predictor, self.dataset, self.val_idx = predictor, dataset, val_idx
        self.folder, self.shown = str(folder), _weights_stamp(folder)
        self.sample_number = -1
        self._titles = {n.id: predictor.design.registry.get(n.type).title
                        for n in predictor.design.nodes.values()}
        self._build_editor()
        self.strip.reset()
        self._show_working(True)
        self.header.setText(f"Trying <b>{_run_name(folder)}</b> ({dataset.name}, best weights)")
        self.pick_sample()
        return True

    def show_message(self, text: str) -> None:
        self.predictor = None
        self._drop_editor()
        self.strip.reset()
        self.bars.show_probabilities([], [])
        self.answer.setText("")
        self.header.setText(text)
        self._show_working(False)

    # --- the input --------------------------------------------------------------------------
    def _build_editor(self) -> None:
        self._drop_editor()
        ds, shape = self.dataset, self.predictor.sample_shape
        side = math.isqrt(math.prod(shape)) if shape else 0
        in_unit_range = bool(ds.x.dtype.is_floating_point and ds.x.min() >= 0 and ds.x.max() <= 1)
        if ds.kind == "image" and len(shape) >= 2:
            editor = DrawingPad(shape[-2], shape[-1], self)
        elif (ds.kind == "tabular" and len(shape) == 1 and side >= 4 and side * side == shape[0]
              and in_unit_range):  # a flattened picture, like the digits table
            editor = DrawingPad(side, side, self)
        elif ds.kind == "tabular" and shape == (2,) and ds.task == "classification":
            val = ds.x[self.val_idx]
            editor = PointPlot(self.predictor, val, ds.y[self.val_idx], self)
        elif ds.kind == "tabular" and len(shape) == 1 and shape[0] <= MAX_SPINS:
            editor = FeatureEditor(shape[0], ds.x.min(dim=0).values.numpy(),
                                   ds.x.max(dim=0).values.numpy(), self)
        else:
            editor = ValuesEditor(shape, not ds.x.dtype.is_floating_point, self)
        self.editor = editor
        self.editor_box.addWidget(editor)
        editor.changed.connect(self._edited)
        self.clear_button.setVisible(isinstance(editor, DrawingPad))
        if isinstance(editor, DrawingPad):
            self.clear_button.clicked.connect(editor.clear)

    def _drop_editor(self) -> None:
        if self.editor is not None:
            try:
                self.clear_button.clicked.disconnect()
            except (RuntimeError, TypeError):
                pass
            self.editor.setParent(None)
            self.editor.deleteLater()
            self.editor = None

    def pick_sample(self) -> None:
        """Show the next validation sample in the editor (and what it really is)."""
        if self.predictor is None or self.val_idx is None or not len(self.val_idx):
            return
        self.sample_number = (self.sample_number + 1) % len(self.val_idx)
        index = int(self.val_idx[self.sample_number])
        self._picking = True
        try:
            self.editor.set_values(self.dataset.x[index].numpy())
        finally:
            self._picking = False
        target = self.dataset.y[index]
        truth = (self._class_name(int(target)) if self.dataset.task == "classification"
                 and target.numel() == 1 else _short(target))
        self.sample_label.setText(f"Validation sample {self.sample_number + 1} of "
                                  f"{len(self.val_idx)} (#{index}): really {truth}")
        self.run_prediction()

    def _edited(self) -> None:
        if not self._picking:
            self.sample_label.setText("Your own input: " + (
                "draw with the left button, erase with the right"
                if isinstance(self.editor, DrawingPad) else "edit it and watch the answer"))
        self._timer.start()

    def run_prediction(self) -> None:
        """One forward pass of the editor's input; updates the answer, bars and layer strip."""
        self._timer.stop()
        if self.predictor is None or self.editor is None or self.editor.grid is None:
            return
        started = time.perf_counter()
        try:
            prediction = self.predictor.predict(self.editor.grid)
        except (InferenceError, RuntimeError, IndexError) as err:
            self.answer.setText(f"Cannot run this input: {err}")
            return
        self.predict_ms = (time.perf_counter() - started) * 1000
        self.prediction = prediction
        if prediction.probabilities is not None:
            probs = prediction.probabilities.tolist()
            names = [self._class_name(i) for i in range(len(probs))]
            self.bars.show_probabilities(probs, names)
            self.answer.setText(f"{self._class_name(prediction.predicted)} "
                                f"({probs[prediction.predicted]:.0%})")
        else:
            self.bars.show_probabilities([], [])
            self.answer.setText(f"Output: {_short(prediction.output)}")
        self.strip.show_activations(prediction.activations, self._titles, prediction.attention)
        self.predicted.emit(prediction)

    def _class_name(self, i: int) -> str:
        names = getattr(self.dataset, "class_names", None) or []
        return names[i] if 0 <= i < len(names) else f"class {i}"

    def _show_working(self, working: bool) -> None:
        for widget in self._working:
            widget.setVisible(working)


def _weights_stamp(folder) -> tuple:
    stamps = []
    for name in ("best.pt", "last.pt"):
        try:
            stamps.append((Path(folder) / name).stat().st_mtime_ns)
        except OSError:
            stamps.append(None)
    return (str(folder), *stamps)


def _run_name(folder) -> str:
    from runtime.runs import RunError, read_run

    try:
        return read_run(folder).name
    except RunError:
        return str(folder)


def _short(t) -> str:
    values = torch.as_tensor(t).reshape(-1).tolist()
    text = ", ".join(f"{v:.3g}" for v in values[:6])
    return text + (" …" if len(values) > 6 else "")
