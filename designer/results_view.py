"""After a run: how the trained model does on validation data (the trainer's "report" event).

Classification shows a confusion matrix and a grid of validation samples with their predicted
labels (images as pictures, 2-D points over the decision regions, sequences as token rows);
regression shows predictions against targets.
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QTextBrowser,
                               QVBoxLayout, QWidget)

from .plots import NODE_COLORS, Plot, shorten

RIGHT = "#3fb950"
WRONG = "#e5534b"
THUMB = 56  # pixels per side of an image sample
GRID_COLUMNS = 8


class ConfusionMatrix(Plot):
    """Rows are true classes, columns predicted ones; counts written in each cell."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Confusion matrix (validation)", x_label="predicted", y_label="true",
                         parent=parent)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.item.addItem(self.image)
        self.item.invertY(True)
        self.item.setAspectLocked(True)
        self.item.showGrid(x=False, y=False)
        self.texts: list[pg.TextItem] = []
        self.matrix = np.zeros((0, 0))

    def show_matrix(self, matrix: list[list[int]], names: list[str]) -> None:
        self.matrix = np.asarray(matrix, dtype=float)
        n = len(self.matrix)
        for text in self.texts:
            self.item.removeItem(text)
        self.texts.clear()
        if n == 0:
            self.image.clear()
            return
        # colour by row share, so a small class's mistakes show as clearly as a big one's
        rows = self.matrix.sum(axis=1, keepdims=True)
        self.image.setImage(self.matrix / np.maximum(rows, 1), levels=(0, 1))
        if n <= 12:
            font = QFont()
            font.setPointSize(9 if n <= 5 else 7)
            for i in range(n):
                for j in range(n):
                    share = self.matrix[i, j] / max(rows[i, 0], 1)
                    text = pg.TextItem(f"{int(self.matrix[i, j])}", anchor=(0.5, 0.5),
                                       color="#111418" if share > 0.6 else "#e6edf3")
                    text.setFont(font)
                    text.setPos(j + 0.5, i + 0.5)
                    self.item.addItem(text)
                    self.texts.append(text)
        for axis, ticks in zip(("bottom", "left"), confusion_ticks(names, n)):
            self.item.getAxis(axis).setTicks(ticks)
        self.item.setRange(xRange=(0, n), yRange=(0, n), padding=0.02)


def confusion_ticks(names: list[str], n: int) -> tuple[list | None, list | None]:
    """(bottom, left) tick labels of an n-class confusion matrix. Names side by side under the
    columns run together once there are more than a few (ResNet's 8 shapes), so then the columns
    are numbered and the rows say "0 circle": the numbers map columns to names."""
    if n > 20:
        return None, None
    name = [shorten(names[i] if i < len(names) else str(i), 10) for i in range(n)]
    if n <= 4 or all(len(label) <= 3 for label in name):
        both = [[(i + 0.5, name[i]) for i in range(n)]]
        return both, both
    numbered = [[(i + 0.5, f"{i} {name[i]}") for i in range(n)]]
    return [[(i + 0.5, str(i)) for i in range(n)]], numbered


class PredictionScatter(Plot):
    """Regression: predicted against target values, with the ideal y = x line."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Predictions vs targets (validation)", x_label="target",
                         y_label="prediction", parent=parent)
        self.points = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(88, 166, 255, 140))
        self.ideal = self.item.plot([], [], pen=pg.mkPen("#8b949e", width=1,
                                                        style=Qt.PenStyle.DashLine))
        self.item.addItem(self.points)

    def show_points(self, targets: list[float], predictions: list[float]) -> None:
        t, p = np.asarray(targets, dtype=float), np.asarray(predictions, dtype=float)
        self.points.setData(t, p)
        if len(t):
            lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
            self.ideal.setData([lo, hi], [lo, hi])


class DecisionRegions(Plot):
    """2-D classification: the predicted class over the plane, with validation points on top."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Decision regions (validation points)", x_label="x₁", y_label="x₂",
                         parent=parent)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setOpacity(0.45)
        self.item.addItem(self.image)
        self.points = pg.ScatterPlotItem(size=7)
        self.item.addItem(self.points)

    def show_grid(self, grid: dict, samples: list[dict]) -> None:
        classes = np.asarray(grid["classes"], dtype=int)
        colors = np.array([QColor(c).getRgb()[:3] for c in NODE_COLORS], dtype=np.uint8)
        self.image.setImage(colors[classes % len(colors)])
        (x0, x1), (y0, y1) = grid["x_range"], grid["y_range"]
        self.image.setRect(x0, y0, x1 - x0, y1 - y0)
        spots = []
        for s in samples:
            point = s.get("input")
            if not isinstance(point, list) or len(point) < 2:
                continue
            color = NODE_COLORS[int(s["target"]) % len(NODE_COLORS)]
            spots.append({"pos": (point[0], point[1]), "brush": pg.mkBrush(color),
                          "symbol": "o" if s.get("correct") else "x",
                          "pen": pg.mkPen("#111418" if s.get("correct") else WRONG, width=1.5)})
        self.points.setData(spots)
        self.item.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)


class SampleGrid(QScrollArea):
    """Validation images with their predicted labels (green when right, red when wrong)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.inner = QWidget()
        self.grid = QGridLayout(self.inner)
        self.grid.setSpacing(6)
        self.setWidget(self.inner)
        self.cells: list[QWidget] = []

    def show_samples(self, samples: list[dict], names: list[str]) -> None:
        for cell in self.cells:
            cell.deleteLater()
        self.cells.clear()
        for i, s in enumerate(samples):
            cell = QWidget()
            layout = QVBoxLayout(cell)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(1)
            picture = QLabel()
            picture.setPixmap(_thumbnail(s.get("input")))
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption = QLabel(_caption(s, names))
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setToolTip(f"validation sample {s.get('index')}: predicted "
                               f"{_name(s['prediction'], names)}, true {_name(s['target'], names)}")
            layout.addWidget(picture)
            layout.addWidget(caption)
            self.grid.addWidget(cell, i // GRID_COLUMNS, i % GRID_COLUMNS)
            self.cells.append(cell)


class ResultsView(QWidget):
    """The results page: a summary line and the views that fit the run's task and data."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = QLabel("Results appear here when a run ends.")
        self.summary.setWordWrap(True)
        # a design with several Outputs has a report for each: pick which one is shown
        self.output = QComboBox()
        self.output.setToolTip("The Output whose validation results are shown")
        self.output.currentIndexChanged.connect(self._show_chosen)
        self.reports: list[dict] = []
        self.confusion = ConfusionMatrix()
        self.scatter = PredictionScatter()
        self.regions = DecisionRegions()
        self.grid = SampleGrid()
        self.sequences = QTextBrowser()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.output)
        self.output.hide()
        layout.addLayout(top)
        row = QHBoxLayout()
        for widget in (self.confusion, self.scatter, self.regions, self.grid, self.sequences):
            row.addWidget(widget, 1)
            widget.hide()
        layout.addLayout(row, 1)

    def show_reports(self, reports: list[dict]) -> None:
        """The reports of one run (one per Output), with a chooser when there are several."""
        self.reports = list(reports)
        self.output.blockSignals(True)
        self.output.clear()
        self.output.addItems([f"Output {r.get('output')}" for r in self.reports])
        self.output.blockSignals(False)
        self.output.setVisible(len(self.reports) > 1)
        self.show_report(self.reports[0] if self.reports else None)

    def _show_chosen(self, index: int) -> None:
        if 0 <= index < len(self.reports):
            self.show_report(self.reports[index])

    def show_report(self, report: dict | None) -> None:
        for widget in (self.confusion, self.scatter, self.regions, self.grid, self.sequences):
            widget.hide()
        if not report:
            self.summary.setText("No results: the run ended before validation.")
            return
        samples = report.get("samples") or []
        if report.get("task") == "classification":
            names = report.get("class_names") or []
            self.summary.setText(f"{_of_output(report)}Validation accuracy "
                                 f"{report.get('accuracy', 0):.1%} on "
                                 f"{report.get('val_samples')} samples of "
                                 f"{report.get('dataset')}.")
            self.confusion.show_matrix(report.get("confusion") or [], names)
            self.confusion.show()
            if report.get("decision_grid"):
                self.regions.show_grid(report["decision_grid"], samples)
                self.regions.show()
            elif report.get("kind") == "image":
                self.grid.show_samples(samples, names)
                self.grid.show()
            elif samples:
                self.sequences.setHtml(_sequence_html(samples, names))
                self.sequences.show()
            return
        self.summary.setText(
            f"{_of_output(report)}Validation MSE {report.get('mse', float('nan')):.4g} "
            f"(predicting the mean: "
            f"{report.get('baseline_mse', float('nan')):.4g}), MAE "
            f"{report.get('mae', float('nan')):.4g} on {report.get('val_samples')} samples of "
            f"{report.get('dataset')}.")
        scatter = report.get("scatter") or {}
        self.scatter.show_points(scatter.get("target", []), scatter.get("prediction", []))
        self.scatter.show()
        if samples and isinstance(samples[0].get("prediction"), list):
            self.sequences.setHtml(_sequence_html(samples, []))
            self.sequences.show()


def _of_output(report: dict) -> str:
    """"sum: " for a report of one Output of several, else nothing."""
    return f"{report['output']}: " if report.get("output") else ""


def _name(value, names: list[str]) -> str:
    if isinstance(value, list):
        return " ".join(_name(v, names) for v in value)
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _caption(sample: dict, names: list[str]) -> str:
    color = RIGHT if sample.get("correct") else WRONG
    text = html.escape(shorten(_name(sample["prediction"], names), 12))
    if not sample.get("correct"):
        wanted = html.escape(shorten(_name(sample["target"], names), 8))
        text += f" <span style='color:#8b949e'>({wanted})</span>"
    return f"<span style='color:{color}'>{text}</span>"


def _thumbnail(image) -> QPixmap:
    """A (C, H, W) or (H, W) image with values in 0..1 as a THUMB-sized pixmap."""
    array = np.asarray(image if image is not None else [[0.0]], dtype=float)
    if array.ndim == 3:
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array[:3], 0, -1)
    pixels = np.ascontiguousarray(np.clip(array * 255, 0, 255).astype(np.uint8))
    if pixels.ndim == 2:
        h, w = pixels.shape
        img = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        h, w, _ = pixels.shape
        img = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(img.copy()).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.FastTransformation)


def _sequence_html(samples: list[dict], names: list[str]) -> str:
    """Per-sample rows: the target and the prediction, with wrong steps in red."""
    rows = []
    for s in samples[:24]:
        target, prediction = s.get("target"), s.get("prediction")
        if isinstance(target, list) and isinstance(prediction, list):
            cells = []
            for t, p in zip(target, prediction):
                same = t == p if not isinstance(t, float) else abs(t - p) < 0.05
                cells.append(f"<span style='color:{RIGHT if same else WRONG}'>"
                             f"{html.escape(_name(p, names))}</span>")
            predicted = " ".join(cells)
            wanted = html.escape(_name(target, names))
        else:
            ok = s.get("correct", True)
            predicted = (f"<span style='color:{RIGHT if ok else WRONG}'>"
                         f"{html.escape(_name(prediction, names))}</span>")
            wanted = html.escape(_name(target, names))
        source = s.get("input")
        shown = html.escape(_name(source[:32], []) if isinstance(source, list) else "")
        rows.append(f"<tr><td style='color:#8b949e'>{shown}</td><td>{wanted}</td>"
                    f"<td>{predicted}</td></tr>")
    return ("<table cellspacing='6'><tr><th>input</th><th>target</th><th>prediction</th></tr>"
            + "".join(rows) + "</table>")
