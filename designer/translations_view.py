"""What a seq2seq run generates (#14): source -> output pairs, the attention map, and how many
generated tokens and whole sequences are right, epoch by epoch (the `translations` event and
the run's generated_accuracy / sequence_accuracy)."""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from .plots import TRAIN, VAL, Plot
from .results_view import RIGHT, WRONG
from .run_data import RunRecord

SEQUENCES = QColor("#7ee787")


class TranslationsView(QWidget):
    """The latest pairs a seq2seq run decoded, its attention map and its generation curves."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.pairs = QTextBrowser(self)
        self.pairs.setToolTip("Validation sources, their targets and what the model writes from "
                              "them on its own (greedy decoding): green tokens are right, red "
                              "ones wrong")
        self.attention = Plot("Attention: output step (rows) reads source step (columns)",
                              x_label="source step", y_label="output step")
        self.attention.setToolTip("The first pair's attention weights: each row is one output "
                                  "step, bright where it looked in the source. Reversal draws "
                                  "the anti-diagonal")
        self.map = pg.ImageItem(axisOrder="row-major")
        self.map.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.attention.addItem(self.map)
        self.attention.getPlotItem().invertY(True)
        self.attention.setAspectLocked(True)
        self.generated = Plot("Generated on its own: tokens and whole sequences right",
                              legend=True)
        self.generated.setToolTip("Greedy decoding each epoch: the share of tokens right and of "
                                  "whole sequences right (validation), and tokens on training "
                                  "samples; the Metric plot's accuracy is teacher-forced")
        self.tokens_train = self.generated.epoch_curve("train tokens", TRAIN)
        self.tokens_val = self.generated.epoch_curve("val tokens", VAL)
        self.sequences = self.generated.epoch_curve("val sequences", SEQUENCES)
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.caption)
        left.addWidget(self.pairs, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(left, 3)
        layout.addWidget(self.attention, 2)
        layout.addWidget(self.generated, 3)
        self.shown: dict | None = None
        self.hide()  # until a seq2seq run sends pairs (and out of the window's minimum size)

    def show_run(self, run: RunRecord | None) -> bool:
        """Show the run's latest pairs; False (and hidden) when it sent none."""
        event = run.translations if run is not None else None
        self.setVisible(event is not None)
        if event is None:
            self.shown = None
            return False
        series = run.epoch_series
        self.generated.feed(self.tokens_train, series.get("train_generated_accuracy"))
        self.generated.feed(self.tokens_val, series.get("val_generated_accuracy"))
        self.generated.feed(self.sequences, series.get("val_sequence_accuracy"))
        if event is self.shown:
            return True
        self.shown = event
        pairs = event.get("pairs") or []
        right = sum(p.get("output") == p.get("target") for p in pairs)
        self.caption.setText(f"<b>Decoded</b>, epoch {event.get('epoch')}: {right} of "
                             f"{len(pairs)} validation sequences right")
        self.pairs.setHtml(pairs_html(pairs))
        weights = event.get("attention")
        self.attention.setVisible(weights is not None)
        if weights is not None:
            matrix = np.asarray(weights, dtype=float)
            self.map.setImage(matrix, levels=(0, max(float(matrix.max()), 1e-6)))
            node = event.get("attention_node")
            self.attention.item.setTitle(f"Where {node} looks: output × source step",
                                         size="10pt")
            self.attention.item.setRange(xRange=(0, matrix.shape[1]),
                                         yRange=(0, matrix.shape[0]), padding=0.02)
        return True


def pairs_html(pairs: list[dict]) -> str:
    """One row per pair: the source, the target and the output with each token coloured."""
    rows = []
    for pair in pairs:
        target, output = pair.get("target") or [], pair.get("output") or []
        cells = " ".join(f"<span style='color:{RIGHT if i < len(target) and t == target[i] else WRONG}'>"
                         f"{t}</span>" for i, t in enumerate(output))
        rows.append(f"<tr><td style='color:#8b949e'>{html.escape(_tokens(pair.get('source')))}"
                    f"</td><td>{html.escape(_tokens(target))}</td><td>{cells}</td></tr>")
    return ("<table cellspacing='6'><tr><th align='left'>source</th><th align='left'>target"
            "</th><th align='left'>decoded</th></tr>" + "".join(rows) + "</table>")


def _tokens(values) -> str:
    return " ".join(map(str, values or []))
