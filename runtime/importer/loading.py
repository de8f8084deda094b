"""The file side of an import: the classes a .py file defines, running it to get one, reading
weights, and `import_file`, which puts them together."""
from __future__ import annotations

import ast
import importlib.util
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import ImportResult, InputSpec, TorchImportError, _error_location, import_module

if TYPE_CHECKING:
    from torch import nn


def model_classes(path: str | Path) -> list[str]:
    """The classes of a .py file that subclass nn.Module (directly or through another class of
    the file), read without running the file. SyntaxError/OSError as Python raises them."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    # nn.Module, nn.Sequential, and the frameworks' subclasses (LightningModule)
    known_modules = {"Module", "Sequential"}

    def base_names(node: ast.ClassDef) -> list[str]:
        names = []
        for base in node.bases:
            if isinstance(base, ast.Attribute):
                names.append(base.attr)
            elif isinstance(base, ast.Name):
                names.append(base.id)
        return names

    found: list[str] = []
    changed = True
    while changed:
        changed = False
        for class_name, node in classes.items():
            if class_name in found:
                continue
            if any(b in known_modules or b.endswith("Module") or b in found
                   for b in base_names(node)):
                found.append(class_name)
                changed = True
    return [n for n in classes if n in found]


def load_class(path: str | Path, class_name: str) -> Any:
    """Execute FILE.py (the user's code) and return what it calls `class_name`: an nn.Module
    class, or a function that builds one, or a module it built (`model = nn.Sequential(...)`)."""
    path = Path(path)
    if not path.is_file():
        raise TorchImportError(f"{path} does not exist", [])
    module_name = f"layerlab_import_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TorchImportError(f"{path} is not a Python file", [])
    loaded = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.modules[module_name] = loaded
    sys.path.insert(0, folder)  # the model may import the files beside it
    try:
        spec.loader.exec_module(loaded)
    except Exception as err:
        raise TorchImportError(f"running {path.name} failed: {_error_location(err)}"
                               f"{type(err).__name__}: {err}", []) from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    found = getattr(loaded, class_name, None)
    if found is None or not callable(found):
        from ..names import did_you_mean

        raise TorchImportError(f"{path.name} defines no class '{class_name}'"
                               f"{did_you_mean(class_name, _module_class_names(loaded))}", [])
    return found


def _module_class_names(loaded: Any) -> list[str]:
    from torch import nn

    return [k for k, v in vars(loaded).items() if isinstance(v, type) and issubclass(v, nn.Module)]


def read_weights(path: str | Path) -> dict:
    """A state_dict from a .pt/.pth file (torch.save'd, read with weights_only=True, so no
    pickled code runs; a {"state_dict": ...} or {"model": ...} wrapper is unwrapped) or a
    .safetensors file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise TorchImportError(f"weights file {path} does not exist", [])
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise TorchImportError(f"cannot read weights from {path.name}: {str(err).splitlines()[0]}"
                               " (a state_dict saved with torch.save, or a .safetensors file)",
                               []) from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise TorchImportError(f"{path.name} holds no state_dict (a dict of tensors)", [])
    return state


def import_file(path: str | Path, class_name: str, inputs: Sequence[InputSpec],
                args: Sequence[Any] = (), kwargs: dict | None = None,
                weights: str | Path | None = None) -> ImportResult:
    """Run FILE.py, build `class_name(*args, **kwargs)` (or take the module the file built under
    that name), load `weights` into it if given, and import it. TorchImportError says what went
    wrong."""
    from torch import nn

    found = load_class(path, class_name)
    if isinstance(found, nn.Module):  # built by the file itself
        if args or kwargs:
            raise TorchImportError(f"{class_name} is a model the file already built: it takes "
                                   "no constructor arguments", [])
        module = found
    else:
        try:
            module = found(*args, **(kwargs or {}))
        except Exception as err:
            raise TorchImportError(f"{class_name}(...) failed: {_error_location(err)}"
                                   f"{type(err).__name__}: {err}", []) from None
    if not isinstance(module, nn.Module):
        raise TorchImportError(f"{class_name} is not an nn.Module (nor builds one)", [])
    if weights is not None:
        state = read_weights(weights)
        missing, unexpected = _fit(module, state)
        if missing or unexpected:
            problems = ([f"missing: {', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}"]
                        if missing else []) + (
                [f"not in the model: {', '.join(unexpected[:8])}"
                 f"{' …' if len(unexpected) > 8 else ''}"] if unexpected else [])
            raise TorchImportError(f"{Path(weights).name} does not fit {class_name}:", problems)
    return import_module(module, inputs, class_name)


def _fit(module: "nn.Module", state: dict) -> tuple[list[str], list[str]]:
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as err:  # a shape mismatch
        raise TorchImportError(f"the weights do not fit: {str(err).splitlines()[-1].strip()}",
                               []) from None
    return list(result.missing_keys), list(result.unexpected_keys)
