"""User image data: MNIST-style IDX files and folders of pictures with one sub-folder per class."""
from __future__ import annotations

import struct
import zlib
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..lazy import lazy_import
from ..specs import ParamSpec
from .base import Dataset, DatasetSpec
from .common import MAX_FILE_BYTES, list_folder, resolve
from .streamed import ImageRows

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")
np = lazy_import("numpy", globals(), "np")

IDX_IMAGES = 0x00000803  # unsigned bytes, 3 dimensions: count, rows, columns
IDX_LABELS = 0x00000801  # unsigned bytes, 1 dimension: count
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


# --- IDX --------------------------------------------------------------------------------------
def _read_idx(shown: str, base_dir: Path | None, magic: int, what: str) -> np.ndarray:
    path = resolve(shown, base_dir, f"IDX {what} file")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflate.decompress(raw, MAX_FILE_BYTES)
            if inflate.unconsumed_tail:
                raise DatasetError(f"IDX {what} file '{shown}' expands to more than "
                                   f"{MAX_FILE_BYTES // 1024**3} GiB")
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"cannot read IDX {what} file '{shown}': {err}") from None
    if len(raw) < 4:
        raise DatasetError(f"IDX {what} file '{shown}' is too short to be an IDX file "
                           f"({len(raw)} bytes)")
    found = struct.unpack(">I", raw[:4])[0]
    if found != magic:
        other = {IDX_IMAGES: "an images", IDX_LABELS: "a labels"}.get(found)
        hint = f"; it looks like {other} file" if other else ""
        raise DatasetError(f"IDX {what} file '{shown}' has magic number 0x{found:08X}, expected "
                           f"0x{magic:08X} (unsigned bytes, {magic & 0xFF}-D){hint}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"IDX {what} file '{shown}' is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DatasetError(f"IDX {what} file '{shown}' holds {len(raw) - header} bytes of data but "
                           f"its header announces {' x '.join(map(str, dims))} = {expected}")
    if dims[0] == 0:
        raise DatasetError(f"IDX {what} file '{shown}' holds no samples")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _idx(p: dict[str, Any], base_dir: Path | None) -> Dataset:
    images = _read_idx(p["images"], base_dir, IDX_IMAGES, "images")
    labels = _read_idx(p["labels"], base_dir, IDX_LABELS, "labels")
    if len(images) != len(labels):
        raise DatasetError(f"IDX images file '{p['images']}' holds {len(images)} images but labels "
                           f"file '{p['labels']}' holds {len(labels)} labels")
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    k = int(labels.max()) + 1
    return Dataset("idx", x, torch.from_numpy(labels.astype(np.int64)), "classification",
                   num_classes=k, class_names=[str(i) for i in range(k)], kind="image")


# --- image folder -----------------------------------------------------------------------------
def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as err:
        raise DatasetError("reading image folders needs Pillow: pip install pillow") from err
    return Image


def _class_files(root: Path, shown: str) -> tuple[list[str], list[Path], list[int]]:
    entries = list_folder(root, shown)
    if not entries:
        raise DatasetError(f"image folder '{shown}' is empty: add one sub-folder of images per "
                           "class, named after the class")
    classes = sorted(d for d in entries if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        found = f"only '{classes[0].name}'" if classes else "none"
        raise DatasetError(f"image folder '{shown}' needs one sub-folder per class and at least "
                           f"two classes (found {found})")
    files, labels = [], []
    for index, folder in enumerate(classes):
        images = sorted(f for f in list_folder(folder, f"{shown}/{folder.name}")
                        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DatasetError(f"class folder '{folder.name}' in image folder '{shown}' has no "
                               f"images ({', '.join(IMAGE_SUFFIXES)})")
        files += images
        labels += [index] * len(images)
    return [d.name for d in classes], files, labels


def decode_image(file: Path, root: Path, shown: str, size: tuple[int, int],
                 grayscale: bool) -> np.ndarray:
    """One image as float32 (channels, height, width) in [0, 1], resized to `size`."""
    image_lib = _pillow()
    height, width = size
    try:
        with image_lib.open(file) as image:
            pixels = np.asarray(image.convert("L" if grayscale else "RGB").resize(
                (width, height), image_lib.Resampling.BILINEAR), dtype=np.float32)
    except (OSError, ValueError, image_lib.DecompressionBombError) as err:
        name = file.relative_to(root).as_posix()
        raise DatasetError(f"cannot read image '{name}' in image folder '{shown}': "
                           f"{err}") from None
    pixels = pixels[None] if grayscale else pixels.transpose(2, 0, 1)
    return pixels * (1.0 / 255.0)


def _image_folder(p: dict[str, Any], base_dir: Path | None) -> Dataset:
    # the files are listed now and decoded when read: a folder too big for memory streams
    # (runtime.training.data_feed reads it in full when it fits)
    shown = p["path"]
    root = resolve(shown, base_dir, "image folder", folder=True)
    names, files, labels = _class_files(root, shown)
    _pillow()  # missing Pillow is said now, not at the first batch
    size = tuple(p["size"])
    channels = 1 if p["grayscale"] else 3
    x = ImageRows(files, (channels, *size), f"image folder '{shown}'",
                  partial(decode_image, root=root, shown=shown, size=size,
                          grayscale=p["grayscale"]))
    return Dataset("image_folder", x, torch.tensor(labels),
                   "classification", num_classes=len(names), class_names=names, kind="image",
                   notes={"files": len(files)})


SPECS = [
    DatasetSpec(
        "idx", "IDX files (MNIST format)",
        "Images and labels in the IDX format of MNIST and Fashion-MNIST (.gz or not), scaled to "
        "[0, 1]. The way to train on those benchmarks from files you already have.",
        "classification", "image",
        (ParamSpec("images", "path", "train-images-idx3-ubyte.gz", "The images file; a relative "
                   "path is taken from the design file's folder."),
         ParamSpec("labels", "path", "train-labels-idx1-ubyte.gz", "The labels file; a relative "
                   "path is taken from the design file's folder.")),
        _idx),
    DatasetSpec(
        "image_folder", "Image folder",
        "Your own pictures, one sub-folder per class (the folder name is the class name), resized "
        "to one size and scaled to [0, 1] as training reads them, so a folder larger than memory "
        "streams from disk. The way to train a classifier on photos you took.",
        "classification", "image",
        (ParamSpec("path", "path", "images", "The folder holding one sub-folder per class; a "
                   "relative path is taken from the design file's folder."),
         ParamSpec("size", "int_list", [28, 28], "Height and width every image is resized to "
                   "(aspect ratio is not kept).", minimum=1, maximum=1024, min_items=2,
                   max_items=2),
         ParamSpec("grayscale", "bool", True, "Read images as one grey channel instead of three "
                   "colour channels (RGB).")),
        _image_folder),
]
