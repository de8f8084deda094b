"""The "Try it" panel (#13): the latest run's weights answer an input the learner makes.

Which input editor appears depends on the run's dataset: a drawing pad for images (and for
tables whose features form a square picture in 0..1, like the flattened digits), a plot to
click for 2-D points, spin boxes for other tables, a line of values for sequences. Every change
runs the one sample through `runtime.inference.Predictor` in this process (one small sample on
the CPU takes a millisecond or two) and shows the class probabilities and, layer by layer, what
the network made of the input: feature maps of convolutions, activation strips of dense layers.
A GAN's run has no input to answer: its generator makes new samples from random noise
(`runtime.inference.SampleGenerator`), shown as pictures, or for 2-D data as a density picture
of the points over the real data's, with a button for new noise.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSizePolicy, QVBoxLayout, QWidget)

from runtime.inference import (InferenceError, Predictor, SampleGenerator, first_filters,
                               is_adversarial)
from runtime.lazy import lazy_import
from runtime.runs import RunError, read_run
from runtime.training.adversarial import as_pictures

from .try_inputs import DrawingPad, FeatureEditor, PointPlot, ValuesEditor
from .try_views import LayerStrip, ProbabilityBars, dream_view, filters_view, gray_pixmap, grid_of

# torch loads in the background once the window is shown (designer.app): importing this
# module must not wait for it
torch = lazy_import("torch", globals(), "torch")

NO_RUN = "Train the design to try it: the Try it panel uses the weights of the latest run."
MAX_SPINS = 32  # tables wider than this are edited as one line of values
PROBE_ROWS = 1024  # rows of data streamed from disk that tell its range
PREDICT_DELAY_MS = 15  # coalesces a burst of mouse moves into one forward pass
#: A GAN's samples per click: pictures in rows of 8, or 2-D points drawn as a density picture.
GAN_PICTURES = 32
GAN_POINTS = 2000
DENSITY_BINS = 64
#: The layer strip's least height: one layer's row of feature maps and its caption, readable.
STRIP_MIN_HEIGHT = 170


class TryPanel(QWidget):
    """Try the latest finished run's weights on an input made here.

    Args:
        trainer: The `TrainingController` whose finished runs it follows (None: call
            `load_run` yourself).
    """

    predicted = Signal(object)  # the Prediction after each forward pass; None when it has none

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
        # in a scroll area: at the default window size the pad, the bars, the first layer's
        # filters and the layer strip need more height than the side dock has, and squeezed
        # they overlapped (and the window grew past its default height)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.scroll_area.setWidget(body)
        outer.addWidget(self.scroll_area)
        layout = QVBoxLayout(body)
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
        self.generator: SampleGenerator | None = None  # a GAN's run: no input, new samples
        self.noise_seed = 0
        self.generate_button = QPushButton("New samples", self)
        self.generate_button.setToolTip("Draw new random noise and let the generator turn it "
                                        "into samples")
        self.generate_button.clicked.connect(self.new_samples)
        self.generate_button.hide()
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.clicked.connect(self._clear_drawing)
        buttons.addWidget(self.pick_button)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.generate_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.sample_label = QLabel(self)
        layout.addWidget(self.sample_label)
        self.filters_title = QLabel(self)  # what the first layer's units look for
        self.filters_title.setWordWrap(True)
        layout.addWidget(self.filters_title)
        self.filters = QLabel(self)
        layout.addWidget(self.filters)
        self.filters_title.hide()
        self.filters.hide()
        self.dream_title = QLabel(self)  # an RBM's Gibbs chain from the input
        self.dream_title.setWordWrap(True)
        layout.addWidget(self.dream_title)
        self.dreams = QLabel(self)
        layout.addWidget(self.dreams)
        for label in (self.dream_title, self.dreams):
            label.hide()
        strip_title = QLabel("<b>What each layer does</b> to this input", self)
        layout.addWidget(strip_title)
        self.strip = LayerStrip(self)
        self.strip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.strip.setMinimumHeight(STRIP_MIN_HEIGHT)
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

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's)
        """As wide as its content needs (the dock widens for it, as before the scroll area), as
        short as the dock likes: the content scrolls up and down."""
        body = self.scroll_area.widget().minimumSizeHint()
        return QSize(body.width() + self.scroll_area.verticalScrollBar().sizeHint().width(), 160)

    def load_run(self, folder) -> bool:
        """Load a run folder's best weights and its data; False (with a message) if it cannot."""
        if (self.predictor or self.generator) is not None and \
                self.shown == _weights_stamp(folder):
            return True  # these very weights are shown: keep the drawing
        if _is_gan_run(folder):
            return self._load_generator(folder)
        try:
            predictor = Predictor.from_run(folder)
            dataset, val_idx = predictor.validation_data()
        except InferenceError as err:
            self.show_message(f"Cannot try this run: {err}")
            return False
        self.predictor, self.dataset, self.val_idx = predictor, dataset, val_idx
        self.folder, self.shown = str(folder), _weights_stamp(folder)
        self.generator = None
        self.generate_button.hide()
        self.sample_number = -1
        self._titles = {n.id: predictor.design.registry.get(n.type).title
                        for n in predictor.design.nodes.values()}
        self._build_editor()
        self.strip.reset()
        self._show_working(True)
        self._show_filters()
        self.header.setText(f"Trying <b>{_run_name(folder)}</b> ({dataset.name}, best weights)")
        self.pick_sample()
        return True

    def _show_filters(self) -> None:
        """The first layer's filters, when the input is a picture (a drawing pad)."""
        found = first_filters(self.predictor.design, self.predictor.model) \
            if isinstance(self.editor, DrawingPad) else None
        self.filters_title.setVisible(found is not None)
        self.filters.setVisible(found is not None)
        if found is None:
            self.filters.clear()
            return
        picture = filters_view(found.images, found.total, found.node)
        self.filters_title.setText(f"<b>What the first layer looks for</b> — {picture.caption}")
        self.filters.setPixmap(picture.pixmap)
        self.filters.setToolTip(picture.tip)

    def _show_dreams(self) -> None:
        """For an RBM reading a picture: what it redraws and dreams from this input."""
        shown = isinstance(self.editor, DrawingPad) and self.predictor.input_rbm() is not None
        self.dream_title.setVisible(shown)
        self.dreams.setVisible(shown)
        if not shown:
            return
        picture = dream_view(self.predictor.dream(self._input()))
        self.dream_title.setText(f"<b>What the RBM dreams</b> from this input — "
                                 f"{picture.caption}")
        self.dreams.setPixmap(picture.pixmap)
        self.dreams.setToolTip(picture.tip)

    def _load_generator(self, folder) -> bool:
        """A GAN's run: its generator's samples from random noise, and New samples."""
        try:
            # the last weights: "best" is the lowest generator loss, which a GAN reaches early,
            # while its discriminator is still naive, not when its samples are best
            generator = SampleGenerator.from_run(folder, "last")
            dataset, val_idx = generator.validation_data()
        except InferenceError as err:
            self.show_message(f"Cannot try this run: {err}")
            return False
        self.show_message(f"Trying <b>{_run_name(folder)}</b> ({dataset.name}, last weights): "
                          "a GAN's generator has no input to answer; it turns random noise "
                          f"({'x'.join(map(str, generator.noise_shape))} values) into new "
                          "samples.")
        self.generator, self.dataset, self.val_idx = generator, dataset, val_idx
        self.folder, self.shown = str(folder), _weights_stamp(folder)
        self.noise_seed = 0
        self.generate_button.show()
        self.new_samples()
        return True

    def new_samples(self) -> None:
        """Fresh noise through the generator: pictures, or 2-D points over the real data."""
        if self.generator is None:
            return
        self.noise_seed += 1
        real = self.dataset.x[self.val_idx].float()
        shape = self.generator.noise_shape
        if tuple(real.shape[1:]) == (2,):
            made = self.generator.generate(GAN_POINTS, self.noise_seed)
            picture = _density(made, real)
            what = (f"{GAN_POINTS} generated points (white) over the {len(real)} validation "
                    "points (grey)")
        else:
            images = as_pictures(self.generator.generate(GAN_PICTURES, self.noise_seed), real)
            if images is None:
                self.dream_title.setText("The generator's samples are not pictures or 2-D "
                                         "points, so there is nothing to draw")
                self.dream_title.show()
                return
            cell = max(1, 40 // max(images.shape[1:]))
            picture = grid_of([gray_pixmap(m.numpy(), cell) for m in images], 8, 6)
            what = f"{len(images)} generated samples"
        self.dream_title.setText(f"<b>What the generator makes</b>: {what}, from noise vectors "
                                 f"of {'x'.join(map(str, shape))} values (draw {self.noise_seed})")
        self.dreams.setPixmap(picture)
        self.dream_title.show()
        self.dreams.show()

    def show_message(self, text: str) -> None:
        had_prediction = self.prediction is not None
        self.generator = None
        self.generate_button.hide()
        self.predictor = self.prediction = None
        self._drop_editor()
        self.strip.reset()
        for label in (self.filters_title, self.filters, self.dream_title, self.dreams):
            label.hide()
        self.bars.show_probabilities([], [])
        self.answer.setText("")
        self.header.setText(text)
        self._show_working(False)
        if had_prediction:
            self.predicted.emit(None)

    # --- the input --------------------------------------------------------------------------
    def _build_editor(self) -> None:
        self._drop_editor()
        editor = self.editor = self._new_editor()
        self.editor_box.addWidget(editor)
        editor.changed.connect(self._edited)
        self.clear_button.setVisible(isinstance(editor, DrawingPad))

    def _new_editor(self) -> QWidget:
        """The input editor that suits the data: a drawing pad for pictures, a point plot for
        2-D points, spin boxes for a narrow table, else one line of values."""
        ds, shape = self.dataset, self.predictor.sample_shape
        if ds.kind == "image" and len(shape) >= 2:
            return DrawingPad(shape[-2], shape[-1], self)
        side = math.isqrt(math.prod(shape)) if shape else 0
        # a table's range; data read from disk (a large mapped array) is judged by its first rows
        probe = ds.x if isinstance(ds.x, torch.Tensor) else ds.x[:PROBE_ROWS]
        in_unit_range = bool(ds.x.dtype.is_floating_point and probe.min() >= 0 and probe.max() <= 1)
        if (ds.kind == "tabular" and len(shape) == 1 and side >= 4 and side * side == shape[0]
                and in_unit_range):  # a flattened picture, like the digits table
            return DrawingPad(side, side, self)
        if ds.kind == "tabular" and shape == (2,) and ds.task == "classification":
            return PointPlot(self.predictor, ds.x[self.val_idx], ds.y[self.val_idx], self)
        if ds.kind == "tabular" and len(shape) == 1 and shape[0] <= MAX_SPINS:
            return FeatureEditor(shape[0], probe.min(dim=0).values.numpy(),
                                 probe.max(dim=0).values.numpy(), self)
        return ValuesEditor(shape, not ds.x.dtype.is_floating_point, self)

    def _clear_drawing(self) -> None:
        if isinstance(self.editor, DrawingPad):
            self.editor.clear()

    def _drop_editor(self) -> None:
        if self.editor is not None:
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
        if self.dataset.task == "classification" and target.numel() == 1:
            truth = f": really {self.class_name(int(target))}"
        elif target.shape == self.dataset.x[index].shape and torch.equal(
                target, self.dataset.x[index]):
            truth = " (its target is the input itself)"  # an autoencoder, an RBM
        else:
            truth = f": really {_short(target)}"
        self.sample_label.setText(f"Validation sample {self.sample_number + 1} of "
                                  f"{len(self.val_idx)} (#{index}){truth}")
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
            prediction = self.predictor.predict(self._input())
        except (InferenceError, RuntimeError, IndexError) as err:
            self.answer.setText(f"Cannot run this input: {err}")
            return
        self.predict_ms = (time.perf_counter() - started) * 1000
        self.prediction = prediction
        if prediction.probabilities is not None:
            probs = prediction.probabilities.tolist()
            names = [self.class_name(i) for i in range(len(probs))]
            self.bars.show_probabilities(probs, names)
            self.answer.setText(f"{self.class_name(prediction.predicted)} "
                                f"({probs[prediction.predicted]:.0%})")
        else:
            self.bars.show_probabilities([], [])
            self.answer.setText(f"Output: {_short(prediction.output)}")
        self.strip.show_activations(prediction.activations, self._titles, prediction.attention)
        self._show_dreams()
        self.predicted.emit(prediction)

    def _input(self) -> np.ndarray:
        """The editor's values shaped for the Input (a gray drawing fills every channel)."""
        grid, shape = self.editor.grid, self.predictor.sample_shape
        if isinstance(self.editor, DrawingPad) and len(shape) == 3 and shape[0] > 1:
            return np.broadcast_to(grid, shape).copy()
        return grid

    def class_name(self, i: int) -> str:
        """The dataset's name for class `i` ("class 3" when it has none)."""
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


def _is_gan_run(folder) -> bool:
    """Whether a run folder holds a GAN's run (training mode adversarial)."""
    try:
        return is_adversarial(read_run(folder).design())
    except (RunError, Exception):  # noqa: BLE001 - unreadable: the Predictor's load says why
        return False


def _density(made: torch.Tensor, real: torch.Tensor) -> QPixmap:
    """Generated 2-D points (white) over the real ones (grey) as a picture of counts, in the
    real data's box (y up)."""
    low = real.min(dim=0).values
    span = (real.max(dim=0).values - low).clamp_min(1e-9)
    margin = 0.1 * span

    def counts(points: torch.Tensor) -> np.ndarray:
        at = ((points - low + margin) / (span + 2 * margin) * DENSITY_BINS).long()
        inside = ((at >= 0) & (at < DENSITY_BINS)).all(dim=1)
        grid = np.zeros((DENSITY_BINS, DENSITY_BINS), dtype=np.float32)
        np.add.at(grid, (DENSITY_BINS - 1 - at[inside, 1].numpy(), at[inside, 0].numpy()), 1.0)
        return grid / max(float(grid.max()), 1.0)

    picture = np.maximum(0.35 * (counts(real) > 0), np.sqrt(counts(made)))
    return gray_pixmap(picture, 4)
