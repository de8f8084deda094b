"""Checkpoint files: a dict of tensors and plain values, written atomically, read safely."""
from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

from ..document import temp_beside
from ..errors import TrainingError
from ..lazy import lazy_import

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")

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
    """Read a checkpoint safely (weights_only=True: no pickled code runs).

    Raises:
        TrainingError: The file is missing, unreadable, not a PyTorch file of tensors and plain
            values, or not LayerLab's; the message says which.
    """
    try:
        with warnings.catch_warnings():  # torch's notes on foreign pickles; the message says it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainingError(f"checkpoint {path} does not exist", "data") from None
    except Exception as err:
        raise TrainingError(f"cannot read checkpoint {path}: {_unreadable(path, err)}",
                            "data") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path} is not a LayerLab checkpoint (it lacks the format mark that "
                            "LayerLab's last.pt and best.pt carry)", "data")
    return state


def _unreadable(path: str | Path, err: Exception) -> str:
    """Why torch could not read a file, in words (its own messages suggest weights_only=False,
    which LayerLab never does, or are a bare KeyError)."""
    if isinstance(err, OSError) and err.strerror and not Path(path).is_file():
        return err.strerror
    if isinstance(err, pickle.UnpicklingError) and "unsupported global" in str(err).lower():
        return ("it holds Python objects besides tensors and plain values, and reading those "
                "could run code: LayerLab only reads checkpoints it wrote")
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        return "the file is empty"
    return "it is not a PyTorch checkpoint, or it is damaged (cut short while copying?)"
