"""What the Try it panel shows (#13): class probabilities as bars, and each layer's output for
one sample as small pictures (feature maps, activation strips, attention maps).

The pictures are made here once for both places that show them: the panel's strip (`STRIP`) and
the canvas, under each node card (`CARD`); a `Fit` says how much room they have."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from designer import style
from runtime.lazy import lazy_import

# torch loads in the background once the window is shown (designer.app): importing this
# module must not wait for it
torch = lazy_import("torch", globals(), "torch")

MAX_CHANNELS = 8  # feature maps shown per convolution layer
MAX_STRIP = 128  # activation values shown per dense layer
BEST, OTHER = "#2f81f7", "#7d9cc4"  # the most likely class's bar, and the others'
LABEL_PX = 9  # class names under a card's probability bars


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
                             QColor(BEST if i == best else OTHER))
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


class LayerPicture(NamedTuple):
    """One layer's output for one sample as shown: a caption, a picture and a tooltip."""

    caption: str
    pixmap: QPixmap
    tip: str


@dataclass(frozen=True)
class Fit:
    """How much room the pictures of one layer get: the Try it strip's, or a canvas card's."""

    map_px: int  # the longest side of one feature map (at most; see `fill`)
    columns: int  # feature maps (or attention heads) per row: columns × map_px must fit
    width: int  # the widest a value strip or a heat map may be
    strip_h: int  # the height of a value strip
    map_h: int  # the tallest a steps × features heat map may be
    head_px: int  # the longest side of one head's attention map
    short: bool  # captions short enough for a card
    fill: bool  # maps stretched to map_px exactly (tiles line up), else whole multiples of a pixel


#: The Try it panel's strip: one row per layer, room to spare.
STRIP = Fit(map_px=48, columns=MAX_CHANNELS, width=320, strip_h=14, map_h=72, head_px=96,
            short=False, fill=False)
#: Under a node card on the canvas (a card is 180 pixels wide).
CARD = Fit(map_px=40, columns=4, width=168, strip_h=12, map_h=40, head_px=38, short=True,
           fill=True)


def attention_view(weights: torch.Tensor, fit: Fit = STRIP) -> LayerPicture:
    """Attention weights (heads, queries, keys) as one grayscale map per head (first 4)."""
    a = weights.numpy().astype(np.float32)
    shown = a[:4]
    cell = max(1, min(6, fit.head_px // max(a.shape[1], a.shape[2])))
    maps = [gray_pixmap(m / m.max() if m.max() > 0 else m, cell) for m in shown]
    heads = f"first 4 of {a.shape[0]} heads" if a.shape[0] > 4 else (
        f"{a.shape[0]} heads" if a.shape[0] > 1 else "1 head")
    caption = (f"attention · {heads}" if fit.short
               else f"{heads}: row = position asking, column = position looked at")
    return LayerPicture(caption, grid_of(maps, fit.columns, 8 if not fit.short else 4),
                        "white: where each position looks most (row = position asking, "
                        "column = position looked at)")


def activation_view(t: torch.Tensor, fit: Fit = STRIP) -> LayerPicture:
    """A caption, a picture and a tooltip for one layer's output for one sample."""
    shape = "×".join(map(str, t.shape)) or "1"
    a = t.numpy().astype(np.float32)
    if a.ndim == 3:  # channels, height, width: feature maps, each scaled to its own range
        shown = a[:MAX_CHANNELS]
        gap = 4 if not fit.short else 3
        side = max(a.shape[1], a.shape[2])
        cell = fit.map_px / side if fit.fill else max(1, fit.map_px // side)
        maps = [gray_pixmap(_normalise(m), cell) for m in shown]
        more = a.shape[0] - len(shown)
        if fit.short:
            caption = f"{shape} · +{more} more" if more else f"{shape} · feature maps"
        else:
            caption = (f"{shape} — first {len(shown)} of {a.shape[0]} feature maps"
                       if more else f"{shape} — feature maps")
        return LayerPicture(caption, grid_of(maps, fit.columns, gap),
                            "each map scaled to its own range: white is high")
    if a.ndim == 2:  # steps × features: a heat map, time across
        shown = a[:64, :64].T
        cell = max(1 if fit.short else 2, min(12, fit.width // shown.shape[1]))
        height = min(fit.map_h, shown.shape[0] * cell)  # features squeezed: the steps matter
        caption = f"{shape} · steps across" if fit.short else (
            f"{shape} — steps across, features down")
        return LayerPicture(caption, heat_pixmap(shown, cell, height),
                            "orange above zero, blue below")
    flat = a.reshape(-1)[:MAX_STRIP]
    more = f" (first {MAX_STRIP})" if a.size > MAX_STRIP and not fit.short else ""
    cell = max(1 if fit.short else 3, min(14, fit.width // max(1, flat.size)))
    tip = " ".join(f"{v:.2f}" for v in flat[:32]) + (" …" if flat.size > 32 else "")
    zero = int((flat == 0).sum())
    dead = f", {zero} at zero" if zero and flat.size > 1 else ""
    caption = (f"{shape} values{dead.replace(',', ' ·')}" if fit.short
               else f"{shape} values{more}{dead}")
    return LayerPicture(caption, heat_pixmap(flat[None, :], cell, fit.strip_h), tip)


def probability_view(values: list[float], names: list[str], fit: Fit = CARD) -> LayerPicture:
    """Class probabilities as a row of upright bars, the most likely class in blue, each class's
    name under its bar when every name fits (at most `fit.width` // 3 classes are drawn)."""
    shown = values[:max(1, fit.width // 3)]
    best = int(np.argmax(values))
    step = max(3, min(16, fit.width // len(shown)))
    height = 2 * fit.strip_h
    font = QFont()
    font.setPixelSize(LABEL_PX)
    metrics = QFontMetrics(font)
    labelled = all(metrics.horizontalAdvance(n) <= step for n in names[:len(shown)])
    size = (step * len(shown), height + (LABEL_PX + 6 if labelled else 0))
    # drawn at twice the size: its text stays sharp when the canvas scales it
    picture = QPixmap(2 * size[0], 2 * size[1])
    picture.setDevicePixelRatio(2.0)
    picture.fill(QColor(0, 0, 0, 0))
    painter = QPainter(picture)
    painter.setFont(font)
    for i, p in enumerate(shown):
        bar = max(1.0, height * float(p))
        painter.fillRect(QRectF(i * step + 1, 0, step - 2, height), QColor(128, 128, 128, 50))
        painter.fillRect(QRectF(i * step + 1, height - bar, step - 2, bar),
                         QColor(BEST if i == best else OTHER))
        if labelled:
            painter.setPen(style.NODE_HEADER_TEXT if i == best else style.NODE_SUBTEXT)
            painter.drawText(QRectF(i * step, height + 1, step, LABEL_PX + 5),
                             Qt.AlignmentFlag.AlignCenter, names[i])
    painter.end()
    ranked = sorted(range(len(values)), key=values.__getitem__, reverse=True)[:5]
    return LayerPicture(f"{names[best]} ({values[best]:.0%})", picture,
                        "most likely: " + ", ".join(f"{names[i]} {values[i]:.0%}"
                                                    for i in ranked))


def filters_view(images: torch.Tensor, total: int, node: str, px: int = 32,
                 columns: int = 8) -> LayerPicture:
    """A layer's filters (n, height, width) as a grid of grayscale pictures, each scaled to its
    own range, about `px` pixels a side."""
    a = images.numpy().astype(np.float32)
    side = max(a.shape[1], a.shape[2])
    cell = max(1, px // side)
    maps = [gray_pixmap(_normalise(m), cell) for m in a]
    more = f"the first {len(a)} of {total}" if total > len(a) else f"all {total}"
    return LayerPicture(f"{node}: {more} units, each drawn as the input it responds to most",
                        grid_of(maps, columns), "white: the weights that excite the unit, "
                        "black: those that inhibit it (each picture scaled to its own range)")


def dream_view(dreams: list[tuple[int, torch.Tensor]], px: int = 48) -> LayerPicture:
    """An RBM's Gibbs chain from the input: one picture per number of steps, labelled."""
    pictures = []
    for steps, mean in dreams:
        a = mean.numpy().astype(np.float32)
        a = a.reshape(a.shape[-2], a.shape[-1]) if a.ndim >= 2 else a.reshape(
            math.isqrt(a.size), -1)
        cell = max(1, px // max(a.shape))
        image = gray_pixmap(np.clip(a, 0, 1), cell)
        labelled = QPixmap(image.width(), image.height() + LABEL_PX + 4)
        labelled.fill(QColor(0, 0, 0, 0))
        painter = QPainter(labelled)
        painter.drawPixmap(0, 0, image)
        font = QFont()
        font.setPixelSize(LABEL_PX)
        painter.setFont(font)
        painter.setPen(QColor(110, 119, 129))  # mid grey: readable on light and dark panels
        painter.drawText(QRectF(0, image.height() + 2, image.width(), LABEL_PX + 2),
                         Qt.AlignmentFlag.AlignCenter, f"{steps} step" + "s" * (steps > 1))
        painter.end()
        pictures.append(labelled)
    return LayerPicture("1 step is its reconstruction; longer chains drift towards what the "
                        "model believes digits look like", grid_of(pictures, len(pictures), 8),
                        "block Gibbs sampling from the input: sample the hidden units, then the "
                        "visible ones, again and again (the mean of the visible units shown)")


def _normalise(m: np.ndarray) -> np.ndarray:
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def gray_pixmap(values: np.ndarray, cell: float) -> QPixmap:
    """A 2-D array in 0..1 as a grayscale picture, each value a `cell`-pixel square (a
    fractional `cell` makes some squares a pixel wider than others)."""
    pixels = np.ascontiguousarray((np.clip(values, 0, 1) * 255).astype(np.uint8))
    h, w = pixels.shape
    image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(image).scaled(round(w * cell), round(h * cell))


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


def grid_of(pixmaps: list[QPixmap], columns: int, gap: int = 4) -> QPixmap:
    """Pictures of one size in rows of `columns`, `gap` pixels apart."""
    w, h = pixmaps[0].width(), pixmaps[0].height()
    across, rows = min(columns, len(pixmaps)), -(-len(pixmaps) // columns)
    grid = QPixmap(across * (w + gap) - gap, rows * (h + gap) - gap)
    grid.fill(QColor(0, 0, 0, 0))
    painter = QPainter(grid)
    for i, p in enumerate(pixmaps):
        painter.drawPixmap((i % columns) * (w + gap), (i // columns) * (h + gap), p)
    painter.end()
    return grid
