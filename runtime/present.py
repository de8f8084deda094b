"""How LayerLab writes numbers, durations, shapes and parameter values for people (no Qt).

Every surface (the CLI, node cards, the summary dock, the properties panel, tooltips, the docs)
formats through these functions, so one model reads the same everywhere. The conventions:

* counts and FLOPs, compact: three significant digits and a k / M / B / T suffix, no space
  (``864``, ``12.3k``, ``4.19M``, ``1.2B``); FLOPs add the word: ``850k FLOPs``;
* counts in full, where a total is stated: digits grouped by commas (``61,706``);
* memory: three significant digits and a decimal unit (``512 kB``, ``51.5 GB``);
* durations: ``m:ss`` under an hour, ``h:mm:ss`` from one (``1:05``, ``1:01:05``);
* shapes: ``(batch, 8, 28, 28)`` with the batch dimension, ``8×28×28`` without; the dtype is
  named only when it is not float32 (``(batch, 12) int64``);
* anything unknown (None, NaN, infinity): ``?``.
"""
from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .shapes import NodeResult
    from .specs import TensorInfo

UNKNOWN = "?"
_SUFFIXES = ("", "k", "M", "B", "T")


def _known(value: float | None) -> bool:
    if isinstance(value, int):
        return True  # exact, even when too large for a float
    return value is not None and math.isfinite(value)


#: Integers beyond this are written by their order of magnitude (a float cannot hold them all).
_HUGE = 10**15 * 1000**(len(("", "k", "M", "B", "T")) - 1)


def _magnitude(n: int) -> str:
    """A huge integer as "~1e400" without converting it to a float (or to all its digits)."""
    return f"~1e{int(abs(n).bit_length() * math.log10(2))}"


def _three_digits(value: float) -> str:
    """`value` to three significant digits, without trailing zeros (12.30 -> "12.3")."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_count(n: float | None) -> str:
    """A count for scanning: 864, 12.3k, 4.19M, 1.2B ("?" when unknown).

    Args:
        n: The count (parameters, FLOPs, samples, ...).

    Returns:
        Exact digits below 1000, else three significant digits with a k/M/B/T suffix.
    """
    if not _known(n):
        return UNKNOWN
    if isinstance(n, int) and abs(n) >= _HUGE:
        return _magnitude(n)
    if abs(n) < 1000:
        return str(int(n)) if float(n).is_integer() else _three_digits(n)
    value, tier = float(n), 0
    while abs(value) >= 1000 and tier < len(_SUFFIXES) - 1:
        value, tier = value / 1000, tier + 1
    text = _three_digits(value)
    # rounding can carry into the next suffix: 999,999 is "1M", not "1000k"
    if abs(float(text)) >= 1000 and tier < len(_SUFFIXES) - 1:
        value, tier = value / 1000, tier + 1
        text = _three_digits(value)
    return text + _SUFFIXES[tier]


def format_exact(n: float | None) -> str:
    """A count in full with grouped digits, for totals: 61,706 ("?" when unknown)."""
    if not _known(n):
        return UNKNOWN
    if isinstance(n, int):
        return f"{n:,}" if abs(n) < _HUGE else _magnitude(n)
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,}"


def format_flops(n: float | None) -> str:
    """Floating-point operations in the count style: "12 FLOPs", "850k FLOPs", "1.2B FLOPs"."""
    return f"{format_count(n)} FLOPs"


def format_bytes(n: float | None) -> str:
    """Memory in decimal units: "812 bytes", "512 kB", "51.5 GB"."""
    if not _known(n):
        return UNKNOWN
    if isinstance(n, int) and n >= _HUGE:
        return f"{_magnitude(n)} bytes"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{_three_digits(n / size)} {unit}"
    return f"{int(n)} bytes"


def format_duration(seconds: float | None) -> str:
    """Elapsed or remaining time: "0:05", "1:05", "1:01:05" ("?" when unknown)."""
    if not _known(seconds):
        return UNKNOWN
    total = int(round(seconds))
    sign, total = ("-", -total) if total < 0 else ("", total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"


def format_shape(info: TensorInfo | None, batch: bool = True) -> str:
    """A tensor's shape: "(batch, 8, 28, 28)", or "8×28×28" without the batch dimension.

    Args:
        info: The tensor's shape (without batch) and dtype; None gives "?".
        batch: Show the batch dimension, as PyTorch sees the tensor; False gives the compact
            form edge labels use. A rank-0 tensor is "(batch)" or "scalar".

    Returns:
        The shape, followed by the dtype when it is not float32 ("(batch, 12) int64").
    """
    if info is None:
        return UNKNOWN
    dims = [str(d) for d in info.shape]
    if batch:
        text = "(" + ", ".join(["batch", *dims]) + ")"
    else:
        text = "×".join(dims) if dims else "scalar"
    return text if info.dtype == "float32" else f"{text} {info.dtype}"


def format_outputs(result: NodeResult | None, batch: bool = True) -> str:
    """A node's output shape(s) in a table cell: "?" unknown, "error", "—" when it has none.

    Several outputs are joined with "; " in port order.
    """
    if result is None or result.status == "unknown":
        return UNKNOWN
    if result.status == "error":
        return "error"
    if not result.outputs:
        return "—"
    return "; ".join(format_shape(t, batch) for t in result.outputs.values())


def format_value(value: Any) -> str:
    """A parameter value for people (node cards, tooltips): 3×3, 0.001, yes/no, none."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "×".join(format_value(v) for v in value) if value else "[]"
    return str(value)


def format_literal(value: Any) -> str:
    """A parameter value as a design file spells it (the docs): null, true, "same", [3, 3]."""
    return json.dumps(value, ensure_ascii=False)
