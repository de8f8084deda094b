"""Where a run's inputs live while it trains, and how each batch reaches the device.

Three placements, chosen when the run starts (`choose`; the `dataset.loading` setting can force
one):

- **memory**: the whole inputs on the training device (in host memory for a CPU run), read in
  full first when they are a `StreamedRows` (through DataLoader workers); a batch is an index
  into them. The fastest, and what every built-in dataset uses.
- **host** (a GPU run whose inputs fit in host memory but not on the GPU): the inputs stay in
  host memory and each batch is copied to the GPU.
- **stream**: the inputs stay on disk (a memory-mapped array, image files) and DataLoader worker
  processes read the next batches while the current one trains.

Targets are always held whole on the device: they are small beside the inputs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

from ..data.base import NamedTensors
from ..data.streamed import StreamedRows, available_memory, read_in_order
from ..errors import TrainingError
from ..lazy import lazy_import
from ..present import format_bytes

# the settings catalogue reads LOADING without torch
torch = lazy_import("torch", globals(), "torch")

#: The `dataset.loading` choices.
LOADING = ("auto", "memory", "stream")
#: Share of the memory available now that inputs held in memory may take ('auto'); the rest is
#: for the model, its activations and everything else on the machine.
MEMORY_SHARE = 0.5
#: Batches each worker reads ahead while streaming.
PREFETCH = 4


def data_bytes(x: Any) -> int:
    """Bytes the inputs take in memory."""
    if isinstance(x, StreamedRows):
        return x.nbytes
    if isinstance(x, NamedTensors):
        return sum(t.element_size() * t.numel() for _, t in x.items())
    return x.element_size() * x.numel()


def worker_count(setting: int | str, processes_here: int = 1) -> int:
    """Reader processes for streaming: 'auto' gives this machine's cores less one (at most 4)
    to this machine's training processes, at least one each."""
    if setting != "auto":
        return int(setting)
    return max(1, min(4, (os.cpu_count() or 1) - 1) // max(1, processes_here))


def _free_on(device: torch.device) -> int | None:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return available_memory()


@dataclass(frozen=True)
class Placement:
    """Where the inputs live: "memory", "host" or "stream", and the reader processes."""

    where: str
    workers: int = 0

    def describe(self) -> str:
        """For the run's header: 'data in memory', 'data streamed from disk (2 workers)'."""
        if self.where == "stream":
            readers = (f"{self.workers} worker{'s' if self.workers != 1 else ''}"
                       if self.workers else "read in the training process")
            return f"data streamed from disk ({readers})"
        return "data in host memory, copied per batch" if self.where == "host" else \
            "data in memory"


def choose(x: Any, device: torch.device, loading: str, workers: int,
           reserved: int = 0) -> Placement:
    """The placement of inputs `x` for a run on `device` ('auto': in memory when they take at
    most `MEMORY_SHARE` of the memory free there, after `reserved` bytes for the model).

    Raises:
        TrainingError: 'memory' asked for data that cannot fit; 'stream' for data that is not
            read from disk.
    """
    size = data_bytes(x)
    streamed = isinstance(x, StreamedRows)
    if loading == "stream":
        if not streamed:
            raise TrainingError("dataset.loading is 'stream', but this dataset is held in "
                                "memory when it loads (only image folders and large NumPy "
                                "arrays are read from disk): use 'auto' or 'memory'", "data")
        return Placement("stream", workers)
    if loading == "memory" or not streamed and device.type != "cuda":
        free = available_memory() if streamed else None
        if free is not None and size > free:
            raise TrainingError(f"dataset.loading is 'memory', but the data takes "
                                f"{format_bytes(size)} and {format_bytes(free)} of memory is "
                                "available: use 'auto' or 'stream' to read it from disk as "
                                "training needs it", "data")
        return Placement("memory", workers if streamed else 0)
    free = _free_on(device)
    if free is None or size <= MEMORY_SHARE * (free - (reserved if device.type == "cuda" else 0)):
        return Placement("memory", workers if streamed else 0)
    if device.type == "cuda":
        host = available_memory()
        if not streamed or (host is not None and size <= MEMORY_SHARE * host):
            return Placement("host", workers if streamed else 0)
    return Placement("stream", workers)


class OnDevice:
    """Inputs that live off the device (host memory or disk), indexed like a device tensor:
    `x[idx]` gives those rows on the device. What the report, the doctor and the training
    modes read single batches through."""

    def __init__(self, rows: Any, device: torch.device):
        self.rows, self.device = rows, device
        self.shape, self.dtype = rows.shape, rows.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: Any) -> torch.Tensor:
        if isinstance(idx, torch.Tensor):
            idx = idx.cpu()
        return self.rows[idx].to(self.device, non_blocking=True)

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def dim(self) -> int:
        return len(self.shape)


class Feed:
    """The inputs and targets of a run as the trainer reads them.

    `x` is what `trainer.x` becomes (a device tensor, or `OnDevice`); `batches(chunks)` yields
    (inputs, targets) on the device for each index tensor in `chunks`, reading ahead when the
    inputs stream."""

    def __init__(self, x: Any, y: Any, device: torch.device, placement: Placement):
        self.device, self.placement = device, placement
        if placement.where == "memory":
            if isinstance(x, StreamedRows):
                x = x.load(placement.workers)
            self.x = x.to(device)
        elif placement.where == "host":
            self.x = OnDevice(x.load(placement.workers) if isinstance(x, StreamedRows) else x,
                              device)
        else:
            self.x = OnDevice(x, device)
        self.y = y.to(device)

    def batches(self, chunks: list[torch.Tensor], x: Any = None,
                y: Any = None) -> Iterator[tuple[Any, Any]]:
        """(inputs, targets) of each chunk of row indices, in order, from `x` and `y` (default:
        the feed's own; a training mode may have replaced them, e.g. with a corrupted copy)."""
        x = self.x if x is None else x
        y = self.y if y is None else y
        if not isinstance(x, OnDevice):  # on the device: a batch is an index
            for idx in chunks:
                yield x[idx], y[idx]
            return
        if self.placement.where == "host":
            for idx in chunks:
                yield x.rows[idx.cpu()].to(self.device, non_blocking=True), y[idx]
            return
        # stream: workers read the next chunks while this one trains
        read = read_in_order(x.rows, [idx.cpu() for idx in chunks], self.placement.workers,
                             PREFETCH, pin=self.device.type == "cuda")
        for idx, part in zip(chunks, read):
            yield part.to(self.device, non_blocking=True), y[idx]
