"""Export a design as a standalone Python file that imports only torch.

The class's `__init__` is written from the same `ModuleRecipe`s the compiler instantiates, its
`forward` is the code torch.fx generated for the compiled model, and the helper classes LayerLab
needs are copied from `runtime/layers/modules.py`. No user string reaches the code unless it is a
validated identifier (node ids, the class name); the source is parsed before it is written.
"""
from __future__ import annotations

import ast
import inspect
import os
import textwrap
from pathlib import Path
from typing import Any

from torch import nn

from .compile import class_name_for, class_name_problem, compile_model, recipes
from .document import write_atomic
from .errors import ExportError
from .graph import GraphModel
from .layers import modules
from .shapes import infer


def export_python(model: GraphModel, class_name: str | None = None,
                  weights_file: str | None = None) -> str:
    """Source of a module defining `class_name` (default: from the design's name).

    With `weights_file` (a safetensors file's name, beside the module), the module's docstring
    says how to load those trained weights into the class.

    Raises `ExportError` for a class name that is not a usable identifier (a keyword, a builtin or
    one of the helpers the file defines) and `CompileError` when the design has errors.
    """
    class_name = class_name_for(model) if class_name is None else class_name
    problem = class_name_problem(class_name)
    if problem:
        raise ExportError(problem)
    analysis = infer(model)
    compiled = compile_model(model, analysis)
    node_recipes = recipes(model, analysis)
    init_lines = []
    helpers: set[str] = set()
    for node_id, recipe in node_recipes.items():
        init_lines.append(f"self.{node_id} = {_constructor(recipe.cls, recipe.kwargs, helpers)}")
        params = model.nodes[node_id].params
        if params.get("weight_init", "default") != "default":
            helpers.add("init_weights")
            init_lines.append(f"init_weights(self.{node_id}, {params['weight_init']!r})")
        if not params.get("trainable", True):
            init_lines.append(f"self.{node_id}.requires_grad_(False)")
    forward = textwrap.indent(compiled.code.strip("\n"), "    ").rstrip() + "\n"
    body = textwrap.indent("\n".join(init_lines) or "pass", " " * 8)
    docstring = "A network exported by LayerLab: an nn.Module that needs only PyTorch."
    if weights_file:
        docstring += (
            f"\n\nIts trained weights are in {weights_file} beside this file, under the names of"
            f"\nthe layers below (safetensors: pip install safetensors):\n\n"
            f"    from safetensors.torch import load_file\n\n"
            f"    model = {class_name}()\n"
            f"    model.load_state_dict(load_file({weights_file!r}))\n    model.eval()\n")
    parts = [
        f'"""{docstring}"""',
        "import math\n\nimport torch\nfrom torch import nn",
        *_helper_sources(helpers),
        f"class {class_name}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"{body}\n\n{forward}",
    ]
    source = "\n\n\n".join(parts)
    try:
        ast.parse(source)
    except SyntaxError as err:
        raise ExportError(f"the generated code does not parse ({err.msg}, line {err.lineno}); "
                          "this is a LayerLab bug, please report it") from err
    return source


def write_python(model: GraphModel, path: str | os.PathLike, class_name: str | None = None,
                 weights: str | os.PathLike | None = None) -> None:
    """Export to `path` atomically. With `weights` (a run's checkpoint), its trained weights go
    to a safetensors file beside it (`net.py` -> `net.safetensors`), written first, so a
    checkpoint that does not fit the design leaves no module behind."""
    weights_file = None
    if weights is not None:
        from .export_weights import write_safetensors

        target = Path(path).with_suffix(".safetensors")
        write_safetensors(model, weights, target)
        weights_file = target.name
    write_atomic(path, export_python(model, class_name, weights_file))


def _constructor(cls: type, kwargs: dict[str, Any], helpers: set[str]) -> str:
    if getattr(nn, cls.__name__, None) is cls:
        name = f"nn.{cls.__name__}"
    elif getattr(modules, cls.__name__, None) is cls:
        name = cls.__name__
        helpers.add(name)
    else:
        raise ExportError(f"cannot export module class {cls.__qualname__}")
    args = ", ".join(f"{key}={_literal(value)}" for key, value in kwargs.items())
    return f"{name}({args})"


def _literal(value: Any) -> str:
    if isinstance(value, (bool, int, float, str)) or value is None:
        text = repr(value)
        ast.literal_eval(text)  # only plain literals reach the generated code
        return text
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    raise ExportError(f"cannot write {value!r} as a Python literal")


def _helper_sources(names: set[str]) -> list[str]:
    """Sources of the helpers in `modules` that `names` need, with their own dependencies."""
    defined = {name: obj for name, obj in vars(modules).items()
               if (inspect.isclass(obj) or inspect.isfunction(obj))
               and getattr(obj, "__module__", None) == modules.__name__}
    wanted, queue = set(), list(names)
    while queue:
        name = queue.pop()
        if name in wanted:
            continue
        wanted.add(name)
        tree = ast.parse(textwrap.dedent(inspect.getsource(defined[name])))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in defined:
                queue.append(node.id)
    ordered = sorted(wanted, key=lambda n: inspect.getsourcelines(defined[n])[1])
    return [inspect.getsource(defined[n]).rstrip() for n in ordered]
