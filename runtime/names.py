"""Validation of names that reach generated code (node ids, exported class names)."""
from __future__ import annotations

import difflib
import functools
import keyword
import re

# \Z, not $: "$" also matches before a final newline, and "fc1\n" is no identifier
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
#: The attribute the compiler gives a compiled model (its Inputs and their tensors).
INPUTS_ATTRIBUTE = "layerlab_inputs"


@functools.cache
def _reserved() -> frozenset[str]:
    # Node ids become attributes of the compiled torch.fx GraphModule (an nn.Module), so they must
    # not shadow anything either has: class attributes ("code", "graph") and the attributes an
    # instance sets in __init__ ("training", "meta"), nor the names the generated code uses.
    from torch import fx, nn

    instance = fx.GraphModule(nn.Module(), fx.Graph())
    return (frozenset(dir(nn.Module)) | frozenset(dir(fx.GraphModule)) | frozenset(dir(instance))
            | {"self", "torch", "nn", "math", INPUTS_ATTRIBUTE})


def identifier_problem(name: object, what: str = "node id") -> str | None:
    """Why `name` cannot be used as a node id (or `what`), or None when it can.

    The one rule for every name that reaches generated code: the file loader, the graph model,
    paste and the compiler all ask it, so a name that passes it compiles.
    """
    if isinstance(name, str) and name.startswith("_"):
        return (f"{what} {name!r} starts with '_': such names are reserved for PyTorch's "
                "internals, so start it with a letter")
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        return (f"{what} {name!r} must be an identifier: a letter followed by letters, digits "
                "or underscores")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{what} '{name}' is a Python keyword: choose another name"
    if name in _reserved():
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
