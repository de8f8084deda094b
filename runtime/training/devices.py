"""Which device a run trains on: the `device` setting resolved to a torch device.

`device_type` answers without importing torch where the installed build cannot use a GPU on
this machine (a CPU-only wheel off macOS), so checking a design's memory needs stays instant.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TrainingError

if TYPE_CHECKING:
    import torch

#: The build fields of torch/version.py that name a GPU toolkit (None in a CPU-only build).
_GPU_BUILDS = ("cuda", "hip", "rocm", "xpu")


def pick_device(name: str) -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then the CPU; a named device must be available."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise _unavailable("cuda")
    if name == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise _unavailable("mps")
    return torch.device(name)


def device_type(name: str) -> str:
    """The type ("cpu", "cuda", "mps") of the device `pick_device(name)` gives, with the same
    errors; torch is imported only when it could answer otherwise than the CPU."""
    if "torch" in sys.modules or _gpu_possible():
        return pick_device(name).type
    if name in ("cuda", "mps"):
        raise _unavailable(name)
    return "cpu" if name == "auto" else name


def _unavailable(name: str) -> TrainingError:
    missing = "no CUDA GPU is" if name == "cuda" else "Apple MPS is not"
    return TrainingError(f"device '{name}' was asked for but {missing} available: use 'auto' "
                         "or 'cpu'", "design")


@functools.cache
def _gpu_possible() -> bool:
    """Whether torch might find a GPU here: on macOS (MPS), or when its build names a GPU
    toolkit in torch/version.py (read as text: importing it would import torch)."""
    if sys.platform == "darwin":
        return True
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return True  # let torch itself say what is wrong
    try:
        tree = ast.parse((Path(spec.submodule_search_locations[0]) / "version.py").read_text())
    except (OSError, SyntaxError, ValueError):
        return True
    builds = {}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id in _GPU_BUILDS and node.value is not None:
            builds[target.id] = node.value
    if "cuda" not in builds:  # not the file we know: ask torch
        return True
    return any(not (isinstance(v, ast.Constant) and v.value is None) for v in builds.values())


#: The `mixed_precision_dtype` choices, by name.
AUTOCAST_DTYPES = ("float16", "bfloat16")


@dataclass(frozen=True)
class Autocast:
    """How a run computes: `dtype` None trains in float32; `scaled` adds a gradient scaler
    (float16's narrow range underflows small gradients without one). `note` says why a run
    that asked for mixed precision does not get it."""

    dtype: str | None = None
    scaled: bool = False
    note: str | None = None


def autocast_plan(enabled: bool, dtype: str, device: torch.device) -> Autocast:
    """The mixed precision a run gets on `device`: float16 on CUDA (scaled); bfloat16 on CUDA
    where the GPU has it, and on the CPU.

    Raises:
        TrainingError: bfloat16 on a GPU without it.
    """
    if not enabled:
        return Autocast()
    if device.type == "cuda":
        import torch

        if dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
            raise TrainingError(f"mixed_precision_dtype is bfloat16 but this GPU "
                                f"({torch.cuda.get_device_name(device)}) cannot compute in it: "
                                "use float16", "design")
        return Autocast(dtype, scaled=dtype == "float16")
    if device.type == "cpu" and dtype == "bfloat16":
        return Autocast(dtype)
    return Autocast(note=f"mixed precision in {dtype} runs on CUDA"
                    + (" and, in bfloat16, on the CPU" if device.type == "cpu" else "")
                    + f": this run trains in float32 on {device.type}")
