"""Inputs read on demand instead of held in memory: memory-mapped NumPy arrays and image files.

A `StreamedRows` stands where a dataset's input tensor would: it has the tensor's `shape` and
`dtype`, and indexing it (`rows[idx]`, with an index tensor, array, list, slice or int) reads
those samples and returns them as a CPU tensor. The trainer then decides where the data lives
(`runtime.training.data_feed`): read in full when it fits, else streamed batch by batch through
DataLoader worker processes. Targets are always held in memory: they are small beside inputs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import DatasetError
from ..lazy import lazy_import
from ..present import format_bytes

torch = lazy_import("torch", globals(), "torch")
np = lazy_import("numpy", globals(), "np")

#: Samples read per chunk when a streamed input is read in full.
LOAD_CHUNK = 1024


def available_memory() -> int | None:
    """Bytes of memory the system could give this process now (MemAvailable), else the total
    physical memory, else None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


class StreamedRows:
    """Samples that are read when asked for. Subclasses give `_read(indices)`: a NumPy array of
    those rows, in that order, already of the declared dtype and shape."""

    #: What the rows are read from, for messages ("image folder 'photos'").
    source: str = "streamed data"

    def __init__(self, count: int, sample_shape: Sequence[int], dtype: torch.dtype,
                 rows: np.ndarray | None = None):
        self._count = int(count)
        self.sample_shape = tuple(int(d) for d in sample_shape)
        self.dtype = dtype
        self._rows = rows  # a subset's positions in the whole source, else None

    # --- what code written for a tensor asks --------------------------------------------
    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self.sample_shape))

    def dim(self) -> int:
        return 1 + len(self.sample_shape)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def __len__(self) -> int:
        return self._count if self._rows is None else len(self._rows)

    @property
    def nbytes(self) -> int:
        """Bytes the rows take once read (in their tensor dtype)."""
        values = len(self)
        for d in self.sample_shape:
            values *= d
        return values * self.dtype.itemsize

    def __getitem__(self, key: Any) -> torch.Tensor:
        """The rows `key` picks, read now, as a CPU tensor."""
        indices = self._positions(key)
        out = torch.from_numpy(np.ascontiguousarray(self._read(indices)))
        return out[0] if isinstance(key, int) else out

    def subset(self, key: Any) -> "StreamedRows":
        """The rows `key` picks, still unread (a class selection keeps its data on disk)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._rows = self._positions(key)
        return clone

    def clone(self) -> torch.Tensor:
        """All rows read into memory (what a tensor's clone() gives), refused with the sizes
        when they cannot fit."""
        free = available_memory()
        if free is not None and self.nbytes > free:
            raise DatasetError(f"{self.source}: this needs all {len(self):,} samples in memory "
                               f"({format_bytes(self.nbytes)}), but {format_bytes(free)} is "
                               "available")
        return self.load()

    def load(self, workers: int = 0) -> torch.Tensor:
        """All rows as one tensor, read `LOAD_CHUNK` at a time (through `workers` processes)."""
        out = torch.empty(self.shape, dtype=self.dtype)
        chunks = [np.arange(i, min(i + LOAD_CHUNK, len(self)))
                  for i in range(0, len(self), LOAD_CHUNK)]
        start = 0
        for part in read_in_order(self, chunks, workers):
            out[start:start + len(part)] = part
            start += len(part)
        return out

    # --- for subclasses -------------------------------------------------------------------
    def _read(self, indices: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _positions(self, key: Any) -> np.ndarray:
        """`key` as positions in the whole source (int64, in the order asked)."""
        if isinstance(key, int):
            key = [key]
        if isinstance(key, slice):
            picked = np.arange(len(self))[key]
        else:
            if isinstance(key, torch.Tensor):
                key = key.detach().cpu().numpy()
            picked = np.asarray(key)
            if picked.dtype == bool:
                if picked.shape != (len(self),):
                    raise IndexError(f"a mask of {picked.shape} for {len(self)} rows")
                picked = np.flatnonzero(picked)
            picked = picked.astype(np.int64, copy=False).reshape(-1)
            if picked.size and (picked.min() < -len(self) or picked.max() >= len(self)):
                raise IndexError(f"row index out of range for {len(self)} rows")
            picked = picked % max(1, len(self))
        return picked if self._rows is None else self._rows[picked]


def read_in_order(rows: StreamedRows, chunks: list, workers: int, ahead: int = 2,
                  pin: bool = False) -> Any:
    """Yield `rows[chunk]` for each chunk in order, read by `workers` processes, each `ahead`
    chunks in advance (in this process when 0); `pin`: in page-locked memory, for a fast copy
    to a GPU."""
    workers = min(workers, len(chunks))
    if workers <= 0 or len(chunks) <= 1:
        for chunk in chunks:
            yield rows[chunk]
        return
    loader = torch.utils.data.DataLoader(_ChunkReader(rows), batch_size=None, sampler=chunks,
                                         num_workers=workers, prefetch_factor=ahead,
                                         pin_memory=pin)
    for part in loader:
        yield _checked(part)


class _ChunkReader:
    """A map-style dataset whose items are whole batches: DataLoader's batch_size=None hands a
    worker one chunk of indices and gets the rows back in one read."""

    def __init__(self, rows: StreamedRows):
        self.rows = rows

    def __getitem__(self, chunk: Any) -> Any:
        try:
            return self.rows[chunk]
        except DatasetError as err:  # sent back whole: DataLoader would re-raise it with the
            return _Failed(str(err))  # worker's traceback pasted into its message


class _Failed:
    """A worker's DatasetError on its way back to the process that asked."""

    def __init__(self, message: str):
        self.message = message


def _checked(part: Any) -> torch.Tensor:
    if isinstance(part, _Failed):
        raise DatasetError(part.message)
    return part

    def __len__(self) -> int:
        return len(self.rows)


class MappedRows(StreamedRows):
    """Rows of a memory-mapped NumPy array, converted to `dtype` as they are read (the file
    holds e.g. uint8 pixels; a batch becomes float32)."""

    def __init__(self, array: np.ndarray, dtype: torch.dtype, source: str,
                 scale: float | None = None, trailing: Sequence[int] | None = None):
        shape = tuple(array.shape[1:]) if trailing is None else tuple(trailing)
        super().__init__(len(array), shape, dtype)
        self.array, self.source, self.scale = array, source, scale
        self._numpy_dtype = torch.empty((), dtype=dtype).numpy().dtype  # looked up once

    def __getstate__(self) -> dict:
        """Pickled (for a DataLoader worker started by spawn, as on macOS and Windows) as where
        the array lies in its file, not as its values: a worker maps the file again."""
        state = dict(self.__dict__)
        array = state.pop("array")
        state["mapping"] = (str(array.filename), array.offset, array.dtype.str, array.shape,
                            "F" if array.flags.f_contiguous and not array.flags.c_contiguous
                            else "C")
        return state

    def __setstate__(self, state: dict) -> None:
        filename, offset, dtype, shape, order = state.pop("mapping")
        self.__dict__.update(state)
        self.array = np.memmap(filename, dtype=np.dtype(dtype), mode="r", offset=offset,
                               shape=shape, order=order)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        # a sorted read touches the file in order; the rows are put back in the order asked
        order = np.argsort(indices, kind="stable")
        out = np.empty((len(indices), *self.array.shape[1:]), dtype=self.array.dtype)
        out[order] = self.array[indices[order]]
        out = out.astype(self._numpy_dtype, copy=False)
        if self.scale is not None:
            out *= self.scale
        return out.reshape((len(indices), *self.sample_shape))


class ImageRows(StreamedRows):
    """Images decoded from their files when read (`decode(file)` gives one as a float32 array
    of `sample_shape`, or raises DatasetError naming the file)."""

    def __init__(self, files: list[Path], sample_shape: Sequence[int], source: str,
                 decode: Callable[[Path], np.ndarray]):
        super().__init__(len(files), sample_shape, torch.float32)
        self.files, self.source, self._decode = files, source, decode

    def _read(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((len(indices), *self.sample_shape), dtype=np.float32)
        for i, index in enumerate(indices):
            out[i] = self._decode(self.files[index])
        return out
