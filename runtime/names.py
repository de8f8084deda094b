"""Validation of names that reach generated code (node ids, exported class names)."""
from __future__ import annotations

import difflib
import keyword
import re

# \Z, not $: "$" also matches before a final newline, and "fc1\n" is no identifier
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
#: The attribute the compiler gives a compiled model (its Inputs and their tensors).
INPUTS_ATTRIBUTE = "layerlab_inputs"


#: Attribute names of a compiled model that a node id would shadow: the public names of
#: torch.nn.Module, torch.fx.GraphModule and a GraphModule instance (class attributes such as
#: "code" and "graph", what __init__ sets such as "training" and "meta"), plus the names the
#: generated code uses. Names starting with "_" are refused on their own. Written out rather
#: than read from torch so that loading a design does not import it; a test compares it with the
#: installed torch's.
RESERVED_NAMES = frozenset({
    "T_destination", "add_module", "add_submodule", "apply", "bfloat16", "buffers",
    "call_super_init", "children", "code", "compile", "cpu", "cuda",
    "delete_all_unused_submodules", "delete_submodule", "double", "dump_patches", "eval",
    "extra_repr", "float", "forward", "get_buffer", "get_extra_state", "get_parameter",
    "get_submodule", "graph", "half", "ipu", "load_state_dict", "meta", "modules", "mtia",
    "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
    "print_readable", "recompile", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "shape_env", "share_memory", "state_dict", "to",
    "to_empty", "to_folder", "train", "training", "type", "xpu", "zero_grad",
    "self", "torch", "nn", "math", INPUTS_ATTRIBUTE})


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
    if name in RESERVED_NAMES:
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
