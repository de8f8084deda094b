"""The Samples tab: what a generative model produces as it learns (#14).

Runs in a generative training mode send `samples` events after each epoch (contrastive
divergence: pictures dreamt by Gibbs chains, and what the hidden units respond to); this page
shows the latest of each group as a grid of pictures, so a learner watches the blobs of the first
epochs turn into digits, and the free energy of training against validation data, whose gap
opening up is how an RBM shows overfitting.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from .plots import TRAIN, VAL, Plot
from .run_data import RunRecord
from .try_views import gray_pixmap, grid_of

NO_SAMPLES = ("No samples yet. A generative training mode (contrastive divergence) shows here "
              "what the model produces after each epoch.")
#: The longest side of one sample, in pixels.
SAMPLE_PX = 40
#: The groups a samples event may belong to, in the order shown.
GROUPS = ("dreams", "filters")


class SamplesView(QWidget):
    """The latest samples of a run per group, each a captioned grid of grayscale pictures, and
    the free energy plot when the run reports one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.note = QLabel(NO_SAMPLES, self)
        self.note.setWordWrap(True)
        page = QWidget()
        inner = QVBoxLayout(page)
        self.captions: dict[str, QLabel] = {}
        self.pictures: dict[str, QLabel] = {}
        for group in GROUPS:
            self.captions[group] = QLabel(page)
            self.captions[group].setWordWrap(True)
            self.pictures[group] = QLabel(page)
            self.pictures[group].setAlignment(Qt.AlignmentFlag.AlignLeft)
            inner.addWidget(self.captions[group])
            inner.addWidget(self.pictures[group])
        inner.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidget(page)
        scroll.setWidgetResizable(True)
        self.energy = Plot("Free energy: training vs validation data", legend=True)
        self.energy.setToolTip("Mean free energy of training and validation samples: when the "
                               "validation curve pulls away above the training one, the RBM is "
                               "overfitting (Hinton's practical guide to training RBMs)")
        self.train_energy = self.energy.epoch_curve("train", TRAIN)
        self.val_energy = self.energy.epoch_curve("validation", VAL)
        body = QHBoxLayout()  # the dock is wide and short: pictures beside the plot
        body.addWidget(scroll, 3)
        body.addWidget(self.energy, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(body, 1)
        self.shown: dict[str, dict | None] = {}
        self._show_groups({})
        self.energy.hide()

    def show_run(self, run: RunRecord | None) -> None:
        samples = dict(run.samples) if run is not None else {}
        self._show_groups(samples)
        series = run.epoch_series if run is not None else {}
        has_energy = "train_free_energy" in series
        self.energy.setVisible(has_energy)
        if has_energy:
            self.energy.feed(self.train_energy, series.get("train_free_energy"))
            self.energy.feed(self.val_energy, series.get("val_free_energy"))

    def _show_groups(self, samples: dict[str, dict]) -> None:
        self.note.setVisible(not samples)
        for group in GROUPS:
            event = samples.get(group)
            if event is self.shown.get(group):
                continue  # the same event: nothing to repaint
            self.shown[group] = event
            caption, picture = self.captions[group], self.pictures[group]
            caption.setVisible(event is not None)
            picture.setVisible(event is not None)
            if event is None:
                picture.clear()
                continue
            caption.setText(f"<b>{'Dreams' if group == 'dreams' else 'Filters'}</b>, epoch "
                            f"{event.get('epoch')}: {event.get('title', '')}")
            images = [np.asarray(image, dtype=np.float32) for image in event.get("images") or []]
            if not images:
                picture.clear()
                continue
            cell = max(1, SAMPLE_PX // max(images[0].shape))
            picture.setPixmap(grid_of([gray_pixmap(m, cell) for m in images], 8, 6))
