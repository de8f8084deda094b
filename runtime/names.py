"""Validation of names that reach generated code (node ids, exported class names)."""
from __future__ import annotations

import difflib
import functools
import keyword
import re

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@functools.cache
def _reserved() -> frozenset[str]:
    # Node ids become attributes of the compiled torch.fx GraphModule (an nn.Module), so they must
    # not shadow what either defines: a layer called "code" or "graph" breaks compiling.
    from torch import fx, nn
    return frozenset(dir(nn.Module)) | frozenset(dir(fx.GraphModule)) | {"self", "torch", "nn",
                                                                           "math"}


def identifier_problem(name: object, what: str = "node id") -> str | None:
    """Why `name` cannot be used as a node id (or `what`), or None when it can."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        return (f"{what} {name!r} must be an identifier: a letter or underscore followed by "
                "letters, digits or underscores")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{what} '{name}' is a Python keyword: choose another name"
    if name in _reserved() or name.startswith("__"):
        return f"{what} '{name}' is reserved by PyTorch modules: choose another name"
    return None


def slug(text: str) -> str:
    """A lower-case identifier stem made from `text` (for ids of new nodes)."""
    stem = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "node"
    return f"n_{stem}" if stem[0].isdigit() else stem


def did_you_mean(name: str, options: list[str]) -> str:
    """A ": did you mean 'x'?" suffix naming the closest of `options`, or ""."""
    match = difflib.get_close_matches(name, options, n=1)
    return f": did you mean '{match[0]}'?" if match else ""
