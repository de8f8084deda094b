"""The Samples tab: what a generative model produces as it learns (#14).

Runs in a generative training mode send `samples` events after each epoch (contrastive
divergence: pictures dreamt by Gibbs chains, and what the hidden units respond to; adversarial:
the generator's pictures, or its 2-D points over the real data); this page shows the latest of
each group as a grid of pictures or a scatter plot, so a learner watches the blobs of the first
epochs turn into digits. Beside them: the free energy of training against validation data, whose
gap opening up is how an RBM shows overfitting, or a GAN's game: the discriminator's mean verdict
on real and on generated samples, and the generated samples' diversity, which falls when the
generator collapses.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from .plots import TRAIN, VAL, Plot
from .run_data import RunRecord
from .translations_view import TranslationsView
from .try_views import gray_pixmap, grid_of

NO_SAMPLES = ("No samples yet. A generative training mode (contrastive divergence, "
              "adversarial, seq2seq) shows here what the model produces after each epoch.")
#: The real points (grey) under the generated ones (orange), and the diversity curve.
REAL_POINTS = QColor("#8b949e")
DIVERSITY = QColor("#7ee787")
#: The caption column's width beside a scatter plot of points.
POINTS_CAPTION_PX = 240
QWIDGETSIZE_MAX = 16777215  # Qt's QWIDGETSIZE_MAX: no limit
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
        scroll = self.pictures_area = QScrollArea(self)
        scroll.setWidget(page)
        scroll.setWidgetResizable(True)
        self.energy = Plot("Free energy: training vs validation data", legend=True)
        self.energy.setToolTip("Mean free energy of training and validation samples: when the "
                               "validation curve pulls away above the training one, the RBM is "
                               "overfitting (Hinton's practical guide to training RBMs)")
        self.train_energy = self.energy.epoch_curve("train", TRAIN)
        self.val_energy = self.energy.epoch_curve("validation", VAL)
        self.points = Plot("Generated points (orange) over real data (grey)", x_label="x",
                           y_label="y")
        self.points.setAspectLocked(True)
        # the real points larger and the generated ones translucent: where they agree, the
        # grey shows round the orange
        self.real_dots = pg.ScatterPlotItem(size=7, pen=None, brush=pg.mkBrush(REAL_POINTS))
        fake = QColor(VAL)
        fake.setAlpha(170)
        self.fake_dots = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(fake))
        self.points.addItem(self.real_dots)
        self.points.addItem(self.fake_dots)
        self.game = Plot("The game: D(x), D(G(z)) and sample diversity", legend=True)
        self.game.setToolTip("The discriminator's mean verdict on real samples, D(x), and on "
                             "generated ones, D(G(z)), on the validation split: near 0.5 both "
                             "when neither side wins. Diversity: how far apart the generator's "
                             "samples lie over how far apart real ones do; it falls towards 0 "
                             "when the generator collapses onto a few samples")
        self.d_real = self.game.epoch_curve("D(x)", TRAIN)
        self.d_fake = self.game.epoch_curve("D(G(z))", VAL)
        self.diversity = self.game.epoch_curve("diversity", DIVERSITY)
        self.translations = TranslationsView(self)  # a seq2seq run's decoded pairs
        body = QHBoxLayout()  # the dock is wide and short: pictures beside the plot
        body.addWidget(scroll, 3)
        body.addWidget(self.points, 3)
        body.addWidget(self.energy, 2)
        body.addWidget(self.game, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(body, 1)
        layout.addWidget(self.translations, 1)
        self.shown: dict[str, dict | None] = {}
        self._show_groups({})
        self.energy.hide()
        self.game.hide()

    def show_run(self, run: RunRecord | None) -> None:
        samples = dict(run.samples) if run is not None else {}
        self._show_groups(samples)
        if self.translations.show_run(run):
            self.note.hide()
            self.pictures_area.hide()
        else:
            self.pictures_area.show()
        series = run.epoch_series if run is not None else {}
        has_energy = "train_free_energy" in series
        self.energy.setVisible(has_energy)
        if has_energy:
            self.energy.feed(self.train_energy, series.get("train_free_energy"))
            self.energy.feed(self.val_energy, series.get("val_free_energy"))
        has_game = "val_d_real" in series or "train_d_real" in series
        self.game.setVisible(has_game)
        if has_game:
            prefix = "val" if "val_d_real" in series else "train"
            self.game.feed(self.d_real, series.get(f"{prefix}_d_real"))
            self.game.feed(self.d_fake, series.get(f"{prefix}_d_fake"))
            self.game.feed(self.diversity, series.get("val_diversity"))

    def _show_groups(self, samples: dict[str, dict]) -> None:
        self.note.setVisible(not samples)
        dreams = samples.get("dreams") or {}
        has_points = bool(dreams.get("points"))
        self.points.setVisible(has_points)
        # points have only a caption beside the plot: the pictures' column gives it the room
        self.pictures_area.setMaximumWidth(POINTS_CAPTION_PX if has_points else QWIDGETSIZE_MAX)
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
            if event.get("points"):
                self._show_points(event)
            caption.setText(f"<b>{'Samples' if group == 'dreams' else 'Filters'}</b>, epoch "
                            f"{event.get('epoch')}: {event.get('title', '')}")
            images = [np.asarray(image, dtype=np.float32) for image in event.get("images") or []]
            if not images:
                picture.clear()
                continue
            cell = max(1, SAMPLE_PX // max(images[0].shape))
            picture.setPixmap(grid_of([gray_pixmap(m, cell) for m in images], 8, 6))

    def _show_points(self, event: dict) -> None:
        """2-D samples: the generated points over the real ones, on equal axes."""
        for dots, key in ((self.real_dots, "real"), (self.fake_dots, "points")):
            xy = np.asarray(event.get(key) or [], dtype=np.float32).reshape(-1, 2)
            dots.setData(xy[:, 0], xy[:, 1])
