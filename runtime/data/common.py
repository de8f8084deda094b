"""Helpers shared by the dataset loaders: common parameters, seeded randomness, paths, scaling."""
from __future__ import annotations

import math
import stat
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..lazy import lazy_import
from ..specs import ParamSpec
from .base import Dataset

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")

SEED = ParamSpec("seed", "int", 0,
                 "Random seed: the same seed gives the same data. When a design leaves it out, "
                 "the run's seed is used.", minimum=0)
TASK = ParamSpec("task", "choice", "classification",
                 "Whether the labels are classes to predict or numbers to fit.",
                 choices=("classification", "regression"))
TARGET = ParamSpec("target", "choice", "label",
                   "What to predict: the class label, or the input itself (a regression task for "
                   "autoencoders, compared pixel by pixel with the mse loss).",
                   choices=("label", "input"))
TAU = 2 * math.pi


def n_samples(default: int, maximum: int = 1_000_000) -> ParamSpec:
    """The usual `n_samples` parameter."""
    return ParamSpec("n_samples", "int", default, "How many examples to generate.",
                     minimum=2, maximum=maximum)


def noise(default: float, doc: str = "Standard deviation of the Gaussian noise added to "
                                     "each point.") -> ParamSpec:
    """The usual `noise` parameter (a standard deviation, at least 0)."""
    return ParamSpec("noise", "float", default, doc, minimum=0.0, maximum=100.0)


def generator(params: dict[str, Any]) -> torch.Generator:
    """A CPU generator seeded from the dataset's `seed` parameter."""
    return torch.Generator().manual_seed(int(params["seed"]))


def rand(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniform [0, 1) float32 from `gen`."""
    return torch.rand(shape, generator=gen)


def randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """Standard normal float32 from `gen`."""
    return torch.randn(shape, generator=gen)


def balanced_labels(n: int, n_classes: int, gen: torch.Generator) -> torch.Tensor:
    """`n` int64 labels in shuffled order, each class appearing n // n_classes or one more times."""
    return (torch.arange(n) % n_classes)[torch.randperm(n, generator=gen)]


def with_target(dataset: Dataset, target: str) -> Dataset:
    """`dataset` as it is for target "label"; for "input", a copy whose targets are its inputs
    (a reconstruction task), so an autoencoder trains with the ordinary supervised loop."""
    if target == "label":
        return dataset
    return Dataset(dataset.name, dataset.x, dataset.x.clone(), "regression", kind=dataset.kind,
                   notes=dict(dataset.notes))


def standardise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Columns of `x` scaled to mean 0 and standard deviation 1 (constant columns only centred).

    Returns:
        The scaled float32 tensor, and the mean and standard deviation used (so inference can
        scale new inputs the same way).
    """
    x = x.double()
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False) if len(x) > 1 else torch.zeros_like(mean)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return ((x - mean) / std).float(), mean.float(), std.float()


#: The largest data file read (and the largest a compressed one may expand to): a dataset lives
#: in memory, and a path such as /dev/zero would otherwise be read until memory runs out.
MAX_FILE_BYTES = 2 * 1024**3


def resolve(path: str, base_dir: Path | None, what: str = "file", folder: bool = False,
            any_size: bool = False) -> Path:
    """`path` made absolute against `base_dir` (the design's folder), checked to be a folder or
    a regular file of at most `MAX_FILE_BYTES` (`any_size`: a file read piece by piece): a
    FIFO would block the read forever and a device
    such as /dev/zero never ends, so both are refused by name before anything is opened.

    Raises:
        DatasetError: naming the path as given and where it was looked for.
    """
    given = Path(path).expanduser()
    full = given if given.is_absolute() else (base_dir or Path.cwd()) / given
    try:
        info = full.stat()
    except FileNotFoundError:
        where = f" (looked for {full})" if str(full) != path else ""
        raise DatasetError(f"{what} '{path}' does not exist{where}") from None
    except OSError as err:
        raise DatasetError(f"cannot read {what} '{path}': {err.strerror or err}") from None
    if folder and not stat.S_ISDIR(info.st_mode):
        raise DatasetError(f"{what} '{path}' is {_kind(info.st_mode)}, not a folder")
    if not folder:
        if stat.S_ISDIR(info.st_mode):
            raise DatasetError(f"{what} '{path}' is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise DatasetError(f"{what} '{path}' is {_kind(info.st_mode)}, not a regular file: "
                               "only ordinary files are read")
        if not any_size and info.st_size > MAX_FILE_BYTES:
            raise DatasetError(f"{what} '{path}' is {info.st_size / 1024**3:.1f} GiB; data files "
                               f"of up to {MAX_FILE_BYTES // 1024**3} GiB are read")
    return full


def _kind(mode: int) -> str:
    """What a non-regular path is, in words."""
    for test, words in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISREG, "a file")):
        if test(mode):
            return words
    return "not a file or folder"


def list_folder(folder: Path, shown: str) -> list[Path]:
    """The entries of a folder; DatasetError naming it when it cannot be listed."""
    try:
        return list(folder.iterdir())
    except OSError as err:
        raise DatasetError(f"cannot read folder '{shown}': {err.strerror or err}") from None
