"""The drag-and-drop payload for layers dragged from the palette onto the canvas."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData

#: MIME type of a palette drag; the payload is the layer's type id in UTF-8.
LAYER_MIME = "application/x-layerlab-layer"


def layer_mime_data(type_id: str) -> QMimeData:
    """The drag payload for one layer type (also readable as plain text)."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, QByteArray(type_id.encode("utf-8")))
    mime.setText(type_id)
    return mime


def layer_type_from_mime(mime: QMimeData) -> str | None:
    """The type id a palette drag carries, or None for any other drag."""
    if not mime.hasFormat(LAYER_MIME):
        return None
    return bytes(mime.data(LAYER_MIME).data()).decode("utf-8").strip() or None
