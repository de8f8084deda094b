"""Checkpoint files: a dict of tensors and plain values, written atomically, read safely."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..document import temp_beside
from ..errors import TrainingError

CHECKPOINT_FORMAT = "layerlab.checkpoint"


def save_checkpoint(state: dict, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves half a checkpoint."""
    tmp = temp_beside(path)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint safely (weights_only=True: no pickled code runs)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainingError(f"checkpoint {path} does not exist", "data") from None
    except Exception as err:
        raise TrainingError(f"cannot read checkpoint {path}: {err}", "data") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path} is not a LayerLab checkpoint", "data")
    return state
