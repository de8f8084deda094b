"""The Samples tab: what a generative model produces as it learns (#14).

Runs in a generative training mode send a `samples` event after each epoch (contrastive
divergence: pictures dreamt by Gibbs chains); this page shows the latest as a grid of pictures,
so a learner watches the blobs of the first epochs turn into digits.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from .run_data import RunRecord
from .try_views import grid_of, gray_pixmap

NO_SAMPLES = ("No samples yet. A generative training mode (contrastive divergence) shows here "
              "what the model produces after each epoch.")
#: The longest side of one sample, in pixels.
SAMPLE_PX = 64


class SamplesView(QWidget):
    """The latest samples of a run, as a grid of grayscale pictures with what they are."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel(NO_SAMPLES, self)
        self.caption.setWordWrap(True)
        self.picture = QLabel(self)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea(self)
        scroll.setWidget(self.picture)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(scroll, 1)
        self.shown: dict | None = None

    def show_run(self, run: RunRecord | None) -> None:
        samples = run.samples if run is not None else None
        if samples is self.shown:
            return  # the same event: nothing to repaint
        self.shown = samples
        if not samples or not samples.get("images"):
            self.caption.setText(NO_SAMPLES)
            self.picture.clear()
            return
        images = [np.asarray(image, dtype=np.float32) for image in samples["images"]]
        cell = max(1, SAMPLE_PX // max(images[0].shape))
        self.picture.setPixmap(grid_of([gray_pixmap(m, cell) for m in images], 8, 6))
        self.caption.setText(f"Epoch {samples.get('epoch')}: {samples.get('title', '')}")
