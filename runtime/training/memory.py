"""How much memory a training run needs, estimated from shape inference before anything is
allocated: a run that cannot fit is refused with the node to shrink and a batch size that fits.

The estimate counts, in float32, every parameter four times (the weights, their gradients and an
optimiser's two moments, as Adam keeps), the buffers once, and every node's output once per
sample in the batch (what backward keeps). It is an estimate, not a bound: frameworks keep some
extra workspace, and small runs are dominated by PyTorch itself.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import TrainingError
from ..present import format_bytes
from ..shapes import BYTES_PER_VALUE, Analysis, machine_memory

if TYPE_CHECKING:
    import torch

#: Values kept per parameter while training: weight, gradient and two optimiser moments.
TRAINING_COPIES = 4


def activation_values(analysis: Analysis) -> dict[str, int]:
    """Per node, the values its outputs hold for one sample."""
    return {node_id: sum(math.prod(t.shape) for t in result.outputs.values())
            for node_id, result in analysis.nodes.items()}


def fixed_bytes(analysis: Analysis) -> int:
    """Memory that does not grow with the batch: parameters (with their training copies) and
    buffers."""
    return BYTES_PER_VALUE * sum(TRAINING_COPIES * r.params + r.buffers
                                 for r in analysis.nodes.values())


def run_bytes(analysis: Analysis, batch: int) -> int:
    """The estimated memory of training with `batch` samples per step."""
    return fixed_bytes(analysis) + BYTES_PER_VALUE * batch * sum(activation_values(analysis)
                                                                 .values())


def device_memory(device: torch.device | str) -> int | None:
    """Memory of the training device this run can use (a torch device or its type, "cpu"), or
    None where it cannot be told. On a GPU: what is free plus what this process holds already
    (another process's memory is not ours to count)."""
    kind = device if isinstance(device, str) else device.type
    if kind == "cuda":
        import torch  # only asked for a CUDA device, which torch has been imported to pick

        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device)
    if kind == "cpu":
        return machine_memory()
    return None


def fitting_batch(analysis: Analysis, available: int) -> int:
    """The largest batch whose estimate fits in `available` bytes (0 when nothing fits)."""
    per_sample = BYTES_PER_VALUE * sum(activation_values(analysis).values())
    room = available - fixed_bytes(analysis)
    if room <= 0:
        return 0
    return room // per_sample if per_sample else 2**31


def check_fits(analysis: Analysis, batch: int, device: torch.device | str,
               available: int | None = None) -> None:
    """Refuse a run whose estimate exceeds the device's memory, naming the node whose outputs
    take the most and a batch size that fits."""
    available = device_memory(device) if available is None else available
    needed = run_bytes(analysis, batch)
    if not available or needed <= available:
        return
    activations = activation_values(analysis)
    largest = max(activations, key=activations.get)
    fits = fitting_batch(analysis, available)
    advice = (f"a batch size of {fits:,} fits" if fits else
              "even one sample does not fit: make the network smaller")
    raise TrainingError(f"training with batch size {batch:,} needs about {format_bytes(needed)} "
                        f"but {device} has {format_bytes(available)}; '{largest}' holds the most "
                        f"per sample ({format_bytes(BYTES_PER_VALUE * activations[largest])}): "
                        f"{advice}", "oom", largest)
