"""The forward pass made visible on the canvas (#13): the Try it panel's prediction -> the cards.

Under each node card the canvas shows what that node made of the input tried: feature maps of
convolutions, value strips of dense layers, attention maps, the Output's class probabilities.
Only nodes that still compute what the run computed get one (`runtime.inference.nodes_matching`):
an edit drops the pictures of the nodes it touched and of everything they feed, another design
drops them all, and undoing the edit brings them back.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from runtime.graph import NodeMoved
from runtime.inference import Prediction, nodes_matching

from .canvas.scene import CanvasScene
from .try_panel import TryPanel
from .try_views import CARD, LayerPicture, activation_view, attention_view, probability_view


class TryOnCanvas(QObject):
    """Shows the Try it panel's latest prediction under the canvas cards while `enabled`.

    Args:
        panel: The Try it panel whose `predicted` signal it follows.
        scene: The canvas scene that draws the pictures.
    """

    def __init__(self, panel: TryPanel, scene: CanvasScene, parent: QObject | None = None):
        super().__init__(parent)
        self.panel, self.scene = panel, scene
        self.enabled = True
        self._matching: set[str] | None = None  # None: to be worked out for the next picture
        self._trained = None  # the design the matching was worked out against
        # a paste or an undo macro sends many events: the pictures are re-checked once after them
        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.setInterval(0)
        self._recheck.timeout.connect(self.refresh)
        panel.predicted.connect(self.show_prediction)
        scene.session.model_event.connect(self._on_model_event)
        scene.session.model_replaced.connect(self._on_model_replaced)

    def set_enabled(self, on: bool) -> None:
        """Show the pictures (from the latest prediction, at once) or take them away."""
        self.enabled = bool(on)
        self.refresh()

    def refresh(self) -> None:
        """Show the panel's latest prediction again (after an edit, or being switched on)."""
        self.show_prediction(self.panel.prediction if self.panel.predictor is not None else None)

    def show_prediction(self, prediction: Prediction | None) -> None:
        """Picture each matching node's output for this prediction (None: take them away)."""
        predictor = self.panel.predictor
        if prediction is None or predictor is None or not self.enabled:
            self.scene.set_layer_outputs({})
            return
        if self._matching is None or self._trained is not predictor.design:
            self._trained = predictor.design
            self._matching = nodes_matching(predictor.design, self.scene.model)
        self.scene.set_layer_outputs(self.pictures(prediction, self._matching))

    def pictures(self, prediction: Prediction, nodes: set[str]) -> dict[str, LayerPicture]:
        """The card picture of each of `nodes` the prediction tells about."""
        predictor = self.panel.predictor
        tensors = dict(prediction.activations)
        if predictor.input_id is not None and prediction.sample is not None:
            tensors[predictor.input_id] = prediction.sample
        outputs = [n.id for n in predictor.design.nodes.values() if n.type == "Output"]
        out = outputs[0] if outputs else None  # the model returns its first Output's values
        if out is not None:
            tensors[out] = prediction.output
        pictures = {}
        for node_id, tensor in tensors.items():
            if node_id not in nodes:
                continue
            if node_id in prediction.attention:
                picture = attention_view(prediction.attention[node_id], CARD)
            elif node_id == out and prediction.probabilities is not None:
                probs = prediction.probabilities.tolist()
                names = [self.panel.class_name(i) for i in range(len(probs))]
                picture = probability_view(probs, names, CARD)
            else:
                picture = activation_view(tensor, CARD)
                if node_id == predictor.input_id:  # one picture, not "feature maps"
                    picture = picture._replace(caption=f"{_shape(tensor)} · the input")
            pictures[node_id] = picture._replace(tip=_tip(node_id, tensor, picture.tip))
        return pictures

    def _on_model_event(self, event: object) -> None:
        if isinstance(event, NodeMoved):
            return  # where a card sits changes nothing it computes
        self._matching = None
        if self.enabled and self.panel.prediction is not None:
            self._recheck.start()

    def _on_model_replaced(self) -> None:
        """Another design: its nodes show nothing until the next prediction is checked on it."""
        self._matching = None
        self._recheck.stop()
        self.scene.set_layer_outputs({})


def _shape(tensor) -> str:
    return "×".join(map(str, tensor.shape)) or "1"


def _tip(node_id: str, tensor, what: str) -> str:
    shape = _shape(tensor)
    if not tensor.numel():
        return f"{node_id}: output {shape}, empty"
    values = tensor.float()
    return (f"{node_id}: output {shape}, values {float(values.min()):.3g} … "
            f"{float(values.max()):.3g}\n{what}")
