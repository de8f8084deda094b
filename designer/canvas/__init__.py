"""The node-graph canvas: a view of the session's model that edits it only through the session.

`CanvasView` is the widget to embed; `LAYER_MIME` is the drag-and-drop type the palette uses (its
data is the layer's type id in UTF-8).
"""
from designer.dnd import LAYER_MIME

from .view import CanvasView

__all__ = ["LAYER_MIME", "CanvasView"]
