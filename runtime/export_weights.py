"""A run's trained weights as a safetensors file (`main.py export --format safetensors`).

Every tensor of the checkpoint is stored under its node-id key (`conv1.weight`, as the compiled
module names it), and the design itself is embedded in the file's metadata, so the file alone
says what network the weights belong to. safetensors holds only tensors and strings: reading
one can run no code, unlike a pickled `.pt`, which is why the ecosystem (Hugging Face and others)
shares weights this way.
"""
from __future__ import annotations

import json
from pathlib import Path

from .document import dumps, loads, replace_atomically
from .errors import ExportError, LayerLabError
from .graph import GraphModel

#: The metadata keys: what the file is, and the design (a LayerLab design document, as JSON).
FORMAT_KEY, FORMAT = "format", "layerlab.weights"
DESIGN_KEY = "layerlab.design"


def checkpoint_tensors(design: GraphModel, checkpoint: str | Path) -> dict:
    """The checkpoint's weights, checked against the design: every tensor the design's module
    has, each of the right shape, by node-id key; an ExportError naming the nodes otherwise."""
    from .compile import compile_joined, compile_model
    from .inference import InferenceError, load_strict
    from .training.checkpoints import load_checkpoint

    try:
        state = load_checkpoint(checkpoint)
    except LayerLabError as err:
        raise ExportError(str(err)) from None
    module = compile_joined(design) if len(design.networks()) > 1 else compile_model(design)
    try:
        load_strict(module, state.get("model") or {})
    except InferenceError as err:
        raise ExportError(f"{checkpoint}: {err}") from None
    # contiguous copies: safetensors refuses views and tensors sharing memory
    return {key: value.detach().cpu().contiguous().clone()
            for key, value in module.state_dict().items()}


def write_safetensors(design: GraphModel, checkpoint: str | Path, out: str | Path) -> Path:
    """Write the checkpoint's weights for `design` to `out` (atomically: a failure leaves
    whatever was there before), the design in the metadata. Returns `out`."""
    from safetensors.torch import save_file

    tensors = checkpoint_tensors(design, checkpoint)
    metadata = {FORMAT_KEY: FORMAT, DESIGN_KEY: dumps(design)}
    return replace_atomically(out, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def read_safetensors(path: str | Path) -> tuple[dict, GraphModel]:
    """The tensors and the design of a file `write_safetensors` wrote; ExportError if it is
    not one (another tool's safetensors file has no LayerLab design in it)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}
    except (OSError, ValueError, json.JSONDecodeError) as err:
        raise ExportError(f"cannot read {path}: {err}") from None
    if metadata.get(FORMAT_KEY) != FORMAT or DESIGN_KEY not in metadata:
        raise ExportError(f"{path} holds no LayerLab design in its metadata (it was not "
                          "written by LayerLab's safetensors export)")
    return tensors, loads(metadata[DESIGN_KEY])
