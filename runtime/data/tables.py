"""User data as tables and arrays: CSV files and NumPy .npz archives."""
from __future__ import annotations

import csv
import io
import math
import struct
import zipfile
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..lazy import lazy_import
from ..names import did_you_mean
from ..present import format_bytes
from ..specs import ParamSpec
from .base import Dataset, DatasetSpec, NamedTensors, TargetInfo
from .common import TASK, list_folder, resolve, standardise
from .streamed import MappedRows

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")
np = lazy_import("numpy", globals(), "np")

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}


# --- CSV --------------------------------------------------------------------------------------
def _read_rows(path: Path, shown: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows of the file, each with the line it starts on."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"CSV file '{shown}' is not UTF-8 text") from None
    except OSError as err:
        raise DatasetError(f"cannot read CSV file '{shown}': {err.strerror or err}") from None
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows, line = [], 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((line, [cell.strip() for cell in row]))
            line = reader.line_num + 1
    except csv.Error as err:
        raise DatasetError(f"CSV file '{shown}', line {reader.line_num}: {err}") from None
    if not rows:
        raise DatasetError(f"CSV file '{shown}' is empty")
    return rows


def _label_index(spec: str, columns: list[str], shown: str) -> int:
    if spec == "":
        return len(columns) - 1
    if spec in columns:
        return columns.index(spec)
    try:
        index = int(spec)
    except ValueError:
        index = None
    if index is not None and -len(columns) <= index < len(columns):
        return index % len(columns)
    raise DatasetError(f"CSV file '{shown}' has no column '{spec}'{did_you_mean(spec, columns)} "
                       f"(its columns: {', '.join(columns)}; a number counts columns from 0)")


def _numbers(values: tuple[str, ...], name: str, lines: list[int], shown: str,
             hint: str) -> np.ndarray:
    try:
        out = np.array(values, dtype=np.float64)
    except ValueError:
        out = None
    if out is not None and np.isfinite(out).all():
        return out
    for value, line in zip(values, lines):  # only on failure: find the first offender
        try:
            what = "" if np.isfinite(float(value)) else f"the non-finite value '{value}'"
        except ValueError:
            what = "an empty value" if value == "" else f"the non-numeric value '{value}'"
        if what:
            raise DatasetError(f"CSV file '{shown}', line {line}: column '{name}' has {what}; "
                               f"{hint}")
    raise AssertionError("unreachable: a value failed to parse but none was found")


def _csv_labels(values: tuple[str, ...], shown: str, column: str,
                lines: list[int]) -> tuple[torch.Tensor, list[str]]:
    try:
        numeric = np.array(values, dtype=np.float64)
    except ValueError:
        numeric = None
    if numeric is not None and np.isfinite(numeric).all():
        classes, index = np.unique(numeric, return_inverse=True)
        names = [format(c, "g") for c in classes]
    else:
        if "" in values:
            line = lines[values.index("")]
            raise DatasetError(f"CSV file '{shown}', line {line}: the label column '{column}' "
                               "is empty")
        classes, index = np.unique(np.array(values), return_inverse=True)
        names = [str(c) for c in classes]
    if len(names) < 2:
        raise DatasetError(f"CSV file '{shown}': the label column '{column}' has a single value "
                           f"'{names[0]}'; classification needs at least two classes")
    return torch.from_numpy(index.reshape(-1)).long(), names


def _csv(p: dict[str, Any], base_dir: Path | None) -> Dataset:
    shown = p["path"]
    rows = _read_rows(resolve(shown, base_dir, "CSV file"), shown, DELIMITERS[p["delimiter"]])
    if p["header"]:
        columns = rows[0][1]
        rows = rows[1:]
        if not rows:
            raise DatasetError(f"CSV file '{shown}' has a header but no data rows")
    else:
        columns = [str(i) for i in range(len(rows[0][1]))]
    for line, row in rows:
        if len(row) != len(columns):
            raise DatasetError(f"CSV file '{shown}', line {line}: {len(row)} values where the "
                               f"{'header has' if p['header'] else 'first row has'} "
                               f"{len(columns)} columns")
    if len(columns) < 2:
        raise DatasetError(f"CSV file '{shown}' has a single column: it needs at least one "
                           "feature column besides the label")
    label = _label_index(p["label_column"], columns, shown)
    lines = [line for line, _ in rows]
    cells = list(zip(*(row for _, row in rows)))  # column-major
    features = [i for i in range(len(columns)) if i != label]
    hint = "features must be numbers (encode categories as numbers or drop the column)"
    x = np.stack([_numbers(cells[i], columns[i], lines, shown, hint) for i in features], axis=1)
    x_scaled, mean, std = standardise(torch.from_numpy(x))
    notes = {"feature_names": [columns[i] for i in features], "label_column": columns[label],
             "feature_mean": mean.tolist(), "feature_std": std.tolist()}
    if p["task"] == "regression":
        y = _numbers(cells[label], columns[label], lines, shown,
                     "regression targets must be numbers (or set task to classification)")
        return Dataset("csv", x_scaled, torch.from_numpy(y).float()[:, None], "regression",
                       kind="tabular", notes=notes)
    y, names = _csv_labels(cells[label], shown, columns[label], lines)
    return Dataset("csv", x_scaled, y, "classification", num_classes=len(names),
                   class_names=names, kind="tabular", notes=notes)


# --- NPZ / .npy ----------------------------------------------------------------------------
#: Rows checked at a time: a mapped array is scanned without reading it whole into memory.
SCAN_BYTES = 64 * 1024**2
#: An input array larger than this (as training reads it) stays mapped from its file and is
#: read as training needs it; a smaller one is read into memory when the dataset loads.
MAP_ABOVE = 256 * 1024**2


def _scan(array: np.ndarray, key: str, shown: str) -> tuple[float, float]:
    """Check that `array` holds finite numbers float32 can carry; returns its (min, max).
    Reads it in pieces, so a memory-mapped array never has to fit in memory."""
    if array.dtype.kind not in "biuf":
        raise DatasetError(f"NPZ file '{shown}': array '{key}' has dtype {array.dtype}; it must "
                           "be numeric")
    if array.ndim == 0 or len(array) == 0:
        raise DatasetError(f"NPZ file '{shown}': array '{key}' is empty")
    row_bytes = max(1, array[:1].nbytes)
    step = max(1, SCAN_BYTES // row_bytes)
    low, high = math.inf, -math.inf
    for start in range(0, len(array), step):
        part = np.asarray(array[start:start + step])
        if part.dtype.kind == "f" and not np.isfinite(part).all():
            raise DatasetError(f"NPZ file '{shown}': array '{key}' contains NaN or infinite "
                               "values")
        low, high = min(low, float(part.min())), max(high, float(part.max()))
    largest = max(abs(low), abs(high))
    if array.dtype.kind in "iuf" and largest > float(np.finfo(np.float32).max):
        # read as float32 for training: such values would silently become infinite
        raise DatasetError(f"NPZ file '{shown}': array '{key}' holds values beyond float32's "
                           f"range (up to {largest:.3g}); rescale them")
    return low, high


def _mapped_member(path: Path, key: str) -> np.ndarray | None:
    """Array `key` of an .npz archive mapped from the file where it is stored uncompressed
    (numpy.savez), else None (numpy.savez_compressed: it must be inflated to be read)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{key}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as file:
        file.seek(info.header_offset)
        local = file.read(30)  # the member's local header; its name and extra field follow
        if local[:4] != b"PK\x03\x04":
            return None
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        file.seek(info.header_offset + 30 + name_length + extra_length)
        version = np.lib.format.read_magic(file)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(file)
        offset = file.tell()
    if dtype.hasobject or not shape:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


class _Arrays:
    """The named arrays of an .npz archive or of a folder of .npy files, mapped from disk where
    they are stored plainly (`mapped`), else read."""

    def __init__(self, shown: str, base_dir: Path | None):
        self.shown = shown
        given = Path(shown).expanduser()
        full = given if given.is_absolute() else (base_dir or Path.cwd()) / given
        self.folder = full.is_dir()
        # mapped data is read as it is needed: no size limit for it
        self.path = resolve(shown, base_dir, "NPZ file", folder=self.folder, any_size=True)
        if self.folder:
            self.files = sorted(f.stem for f in list_folder(self.path, shown)
                                if f.suffix == ".npy" and f.is_file())
            return
        try:
            with zipfile.ZipFile(self.path) as archive:
                names = archive.namelist()
        except (OSError, zipfile.BadZipFile) as err:
            if self.path.suffix == ".npy":
                raise DatasetError(f"'{shown}' is a single .npy array; give the folder holding "
                                   "one .npy file per array (x.npy, y.npy), or an .npz archive "
                                   "(numpy.savez(path, x=..., y=...))") from None
            raise DatasetError(f"cannot read NPZ file '{shown}': {err}") from None
        self.files = [n[:-4] for n in names if n.endswith(".npy")]

    def _check_inflated_size(self, key: str) -> None:
        """Refuse, before reading it, an array that would fill memory when read whole."""
        from . import common  # read at the call: tests lower the limit

        with zipfile.ZipFile(self.path) as archive:
            info = archive.getinfo(f"{key}.npy")
        if info.file_size > common.MAX_FILE_BYTES:
            plain = info.compress_type == zipfile.ZIP_STORED
            raise DatasetError(
                f"NPZ file '{self.shown}': array '{key}' is {format_bytes(info.file_size)}; "
                f"arrays of up to {format_bytes(common.MAX_FILE_BYTES)} are read into memory"
                + ("" if plain else " and this one is compressed (numpy.savez_compressed): "
                   "save it with numpy.savez, or as .npy files in a folder, so it is read from "
                   "disk as training needs it"))

    def read(self, key: str, mapped: bool) -> np.ndarray:
        """Array `key`: mapped when `mapped` and stored plainly, else read into memory."""
        try:
            if self.folder:
                array = np.load(self.path / f"{key}.npy", mmap_mode="r" if mapped else None,
                                allow_pickle=False)
            else:
                array = _mapped_member(self.path, key) if mapped else None
                if array is None:
                    self._check_inflated_size(key)
                    with np.load(self.path, allow_pickle=False) as archive:
                        array = archive[key]
        except ValueError as err:  # object arrays need pickle, which we never allow
            if "pickle" in str(err):
                raise DatasetError(f"NPZ file '{self.shown}': array '{key}' holds Python "
                                   "objects; save plain numeric arrays") from None
            raise DatasetError(f"cannot read array '{key}' of NPZ file '{self.shown}': "
                               f"{err}") from None
        except (OSError, zipfile.BadZipFile, EOFError, KeyError) as err:
            raise DatasetError(f"cannot read array '{key}' of NPZ file '{self.shown}': "
                               f"{err}") from None
        return array


def _npz(p: dict[str, Any], base_dir: Path | None) -> Dataset:
    shown = p["path"]
    arrays = _Arrays(shown, base_dir)
    inputs, targets = list(p["inputs"]), list(p["targets"])
    repeated = sorted(set(inputs) & set(targets))
    if repeated:
        raise DatasetError(f"NPZ file '{shown}': {', '.join(map(repr, repeated))} is named both "
                           "an input and a target")
    missing = [key for key in (*inputs, *targets) if key not in arrays.files]
    if missing:
        how = ("one .npy file per array, named after it" if arrays.folder else
               "numpy.savez(path, x=inputs, y=targets)")
        raise DatasetError(f"NPZ file '{shown}' has no array named "
                           f"{' or '.join(repr(k) for k in missing)} (it holds: "
                           f"{', '.join(arrays.files) or 'nothing'}); save it with {how}, or "
                           "name its arrays in the inputs and targets params")
    # a single input stays on disk, mapped, and is read as training needs it (streamed when
    # it does not fit in memory); named inputs and the targets are read into memory
    xs = {key: arrays.read(key, mapped=len(inputs) == 1) for key in inputs}
    ys = {key: np.asarray(arrays.read(key, mapped=False)) for key in targets}
    ranges = {key: _scan(a, key, shown) for key, a in (*xs.items(), *ys.items())}
    names = ([str(n) for n in arrays.read("class_names", mapped=False).tolist()]
             if "class_names" in arrays.files else None)
    sizes = {key: len(a) for key, a in (*xs.items(), *ys.items())}
    if len(set(sizes.values())) > 1:
        first = next(iter(sizes))
        other = next(k for k in sizes if sizes[k] != sizes[first])
        raise DatasetError(f"NPZ file '{shown}': '{first}' has {sizes[first]} samples but "
                           f"'{other}' has {sizes[other]}; their first dimensions must match")
    x_tensors, vocab, kind = {}, None, "tabular"
    for key, x in xs.items():
        x_tensors[key], key_vocab, key_kind = _npz_input(x, key, p["tokens"], len(xs) == 1,
                                                         shown, ranges[key])
        vocab = max(vocab or 0, key_vocab or 0) or None
        kind = key_kind if kind == "tabular" else kind
    if len(targets) == 1:  # one target: `task` says what it is
        y_t, info = _npz_target(ys[targets[0]], targets[0], p["task"], names, shown)
        x_data = x_tensors[inputs[0]] if len(inputs) == 1 else NamedTensors(x_tensors)
        return Dataset("npz", x_data, y_t, info.task, info.num_classes, info.class_names,
                       vocab_size=vocab, kind=kind)
    # several targets: integer arrays are classes, real-valued ones values to fit
    parts = {key: _npz_target(y, key, "classification" if y.dtype.kind in "biu"
                              else "regression", None, shown) for key, y in ys.items()}
    first = parts[targets[0]][1]
    return Dataset("npz", x_tensors[inputs[0]] if len(inputs) == 1 else NamedTensors(x_tensors),
                   NamedTensors({key: t for key, (t, _) in parts.items()}), first.task,
                   first.num_classes, first.class_names, vocab, kind,
                   targets={key: info for key, (_, info) in parts.items()})


def _npz_input(x: np.ndarray, key: str, tokens: bool, single: bool, shown: str,
               value_range: tuple[float, float]) -> tuple[Any, int | None, str]:
    """(tensor, vocabulary size for token ids, data kind) of one input array. With `tokens`,
    integer arrays are kept as token ids; the only input must be one. A memory-mapped array
    becomes `MappedRows`, read batch by batch."""
    kind = {3: "sequence", 4: "image"}.get(x.ndim, "tabular")
    low, high = value_range
    itemsize = 8 if tokens and (x.dtype.kind in "biu" or single) else 4
    mapped = isinstance(x, np.memmap) and x.size * itemsize > MAP_ABOVE
    trailing = (1,) if x.ndim == 1 else None  # one value per sample: a feature column
    if tokens and (x.dtype.kind in "biu" or single):
        if x.dtype.kind not in "biu" or low < 0:
            raise DatasetError(f"NPZ file '{shown}': with tokens on, '{key}' must hold "
                               f"non-negative integer token ids (it has dtype {x.dtype}"
                               f"{', smallest ' + str(int(low)) if x.dtype.kind in 'biu' else ''})")
        if mapped:
            return (MappedRows(x, torch.int64, f"NPZ file '{shown}'", trailing=trailing),
                    int(high) + 1, "sequence")
        return torch.from_numpy(x.astype(np.int64)), int(high) + 1, "sequence"
    if mapped:
        return MappedRows(x, torch.float32, f"NPZ file '{shown}'", trailing=trailing), None, kind
    x_t = torch.from_numpy(x.astype(np.float32))
    return (x_t[:, None] if x_t.dim() == 1 else x_t), None, kind


def _npz_target(y: np.ndarray, key: str, task: str, names: list[str] | None, shown: str
                ) -> tuple[torch.Tensor, TargetInfo]:
    """The tensor of one target array and what it is (`task`: classes or values)."""
    if task == "regression":
        y_t = torch.from_numpy(y.astype(np.float32))
        return (y_t[:, None] if y_t.dim() == 1 else y_t), TargetInfo("regression")
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        raise DatasetError(f"NPZ file '{shown}': '{key}' holds fractional values, but "
                           "classification needs integer class indices (or set task to "
                           "regression)")
    if y.min() < 0:
        raise DatasetError(f"NPZ file '{shown}': '{key}' holds negative class indices "
                           f"({y.min()}); classes are numbered from 0")
    k = int(y.max()) + 1
    if names is not None and len(names) < k:
        raise DatasetError(f"NPZ file '{shown}': 'class_names' has {len(names)} entries but "
                           f"'{key}' uses class indices up to {k - 1}")
    return torch.from_numpy(y.astype(np.int64)), TargetInfo(
        "classification", max(k, len(names or [])), names)


_PATH_DOC = "File to read; a relative path is taken from the design file's folder."

SPECS = [
    DatasetSpec(
        "csv", "CSV table",
        "Your own table: one row per example, numeric feature columns (standardised) and a label "
        "column. The way to try a network on data from a spreadsheet.",
        "classification", "tabular",
        (ParamSpec("path", "path", "data.csv", _PATH_DOC),
         ParamSpec("label_column", "str", "", "Name of the column to predict, or its index "
                   "counting from 0 (-1 is the last); empty means the last column."),
         TASK,
         ParamSpec("header", "bool", True, "The first row names the columns."),
         ParamSpec("delimiter", "choice", "comma", "What separates the values on a line.",
                   choices=tuple(DELIMITERS))),
        _csv),
    DatasetSpec(
        "npz", "NumPy arrays (.npz)",
        "Your own arrays saved with numpy.savez(path, x=inputs, y=targets), or as one .npy file "
        "per array in a folder, any shape. The way to bring prepared data (images, sequences, "
        "features) from a notebook; a large input is memory-mapped and read as training needs "
        "it.",
        "classification", "tabular",
        (ParamSpec("path", "path", "data.npz", "The .npz archive, or the folder holding one .npy "
                   "file per array (x.npy, y.npy); a relative path is taken from the design "
                   "file's folder."),
         TASK,
         ParamSpec("tokens", "bool", False, "'x' holds integer token ids for an Embedding layer "
                   "(kept as int64) instead of numbers."),
         ParamSpec("inputs", "str_list", ["x"], "The arrays the network reads; several make "
                   "named inputs, one per Input node of that name.", min_items=1),
         ParamSpec("targets", "str_list", ["y"], "The arrays it predicts; several make named "
                   "targets, one per Output node of that name (integer arrays are classes, "
                   "real-valued ones values; task applies to a single target).", min_items=1)),
        _npz),
]
