"""Colours, sizes and fonts shared by every designer widget (one place to tune the look)."""
from __future__ import annotations

from PySide6.QtGui import QColor

#: One colour per palette category (header strip of nodes, palette icons, summary rows).
CATEGORY_COLORS = {
    "Input/Output": "#5f6b7a",
    "Core": "#3b7dd8",
    "Convolution": "#8e5cd9",
    "Pooling": "#b0659e",
    "Reshape": "#6c8f3a",
    "Normalization": "#d08a2e",
    "Regularization": "#c0563f",
    "Activation": "#2f9e8f",
    "Embedding": "#b8860b",
    "Recurrent": "#d1495b",
    "Attention": "#e07a1f",
    "Merge": "#4a6fa5",
    "Generative": "#a8508f",
}

CANVAS_BACKGROUND = QColor("#1f2329")
GRID_MINOR = QColor("#262b32")
GRID_MAJOR = QColor("#2e343c")
NODE_BODY = QColor("#2b3038")
NODE_BORDER = QColor("#434a55")
NODE_SELECTED = QColor("#f0c75e")
NODE_TEXT = QColor("#e8eaed")
NODE_SUBTEXT = QColor("#a9b1bc")
SHAPE_TEXT = QColor("#8fd3c7")
ERROR = QColor("#e5534b")
WARNING = QColor("#d29922")
#: Advice that is neither an error nor a warning (the doctor's "info" findings).
INFO = QColor("#58a6ff")
EDGE = QColor("#8b949e")
EDGE_LABEL = QColor("#9da7b3")
PORT = QColor("#c9d1d9")

GRID_SIZE = 20
NODE_WIDTH = 180


def category_color(category: str) -> QColor:
    """The colour of a palette category (grey for anything unknown)."""
    return QColor(CATEGORY_COLORS.get(category, "#5f6b7a"))

# --- canvas (designer/canvas) -----------------------------------------------------------------
NODE_HEADER_TEXT = QColor("#ffffff")
NODE_ID_TEXT = QColor(255, 255, 255, 170)
PORT_HOVER = QColor("#58a6ff")
PORT_BORDER = QColor("#1f2329")
EDGE_SELECTED = QColor("#f0c75e")
EDGE_HOVER = QColor("#c9d1d9")
EDGE_DROP_TARGET = QColor("#58a6ff")
EDGE_LABEL_BACKGROUND = QColor(22, 26, 31, 235)
CONNECT_PREVIEW = QColor("#58a6ff")
RUBBER_BAND = QColor(88, 166, 255, 40)
RUBBER_BAND_BORDER = QColor(88, 166, 255, 160)
POPUP_BACKGROUND = QColor("#2b3038")
LIVE_TAG_TEXT = QColor("#111418")

#: Pixel sizes of the canvas texts, in scene units (they grow and shrink with the zoom).
CANVAS_TITLE_PX = 12
CANVAS_TEXT_PX = 11
CANVAS_LABEL_PX = 10

#: Spacing that leaves room for edge labels between NODE_WIDTH-wide cards (for auto-layout).
LAYOUT_X_GAP = NODE_WIDTH + 90
LAYOUT_Y_GAP = 120

#: "All good" marks in panels (a valid design, no problems).
SUCCESS = QColor("#3fb950")
