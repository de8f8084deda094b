"""The short texts the canvas draws: key parameters and compact tensor shapes.

The numbers and values inside them are written by `runtime.present`, like everywhere else.
"""
from __future__ import annotations

from typing import Any

from runtime.present import format_shape, format_value
from runtime.specs import LayerSpec, TensorInfo

#: Short names for parameters shown on node cards ("out 64 · k 3 · s 2"); others show in full.
SHORT_NAMES = {
    "out_channels": "out", "out_features": "out", "kernel_size": "k", "stride": "s",
    "hidden_size": "hidden", "num_layers": "layers", "bidirectional": "bidir",
    "return_sequences": "seq", "num_heads": "heads", "nhead": "heads", "dim_feedforward": "ff",
    "num_embeddings": "vocab", "embedding_dim": "dim", "negative_slope": "slope",
    "scale_factor": "scale", "data_format": "", "dtype": "", "mode": "", "kind": "",
    "approximate": "approx",
}


def key_params_text(spec: LayerSpec, params: dict[str, Any]) -> str:
    """The node's key parameters, e.g. ``out 64 · k 3 · s 2``.

    Flags show their name when on and are left out when off, as are unset (null) values, which
    mean "the default" (a pool's stride); choices show their value alone.
    """
    parts = []
    for name in spec.key_params:
        value = params.get(name)
        if value is None:
            continue
        short = SHORT_NAMES.get(name, name)
        if isinstance(value, bool):
            if value:
                parts.append(short or name)
            continue
        text = format_value(value)
        parts.append(f"{short} {text}" if short else text)
    return " · ".join(parts)


def compact_shape(info: TensorInfo | None) -> str:
    """A tensor without its batch dimension, e.g. ``8×28×28`` (dtype added when not float32)."""
    return "" if info is None else format_shape(info, batch=False)
