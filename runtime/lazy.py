"""Modules imported on first use, so that reading a catalogue does not wait for `import torch`.

Loading a design, checking it and inferring its shapes never touch a tensor, yet torch takes
seconds to import; the catalogues (layers, losses, metrics, optimisers, schedules, data sets)
declare their entries at import time and only their build/compute functions need torch. A module
writes ``torch = lazy_import("torch", globals(), "torch")`` where it would write ``import torch``:
the first attribute read imports the real module and rebinds the global to it, so later reads
cost nothing extra (the training loop's hot path sees the plain module).
"""
from __future__ import annotations

import functools
import importlib
import sys
import threading
from types import ModuleType
from typing import Any, Callable, MutableMapping


class LazyModule:
    """Stands for a module in one namespace until an attribute of it is first read.

    Args:
        name: The module's full name ("torch.nn.functional").
        namespace: The globals of the module that uses it (rebound on first use).
        alias: The global name it is bound to there ("F").
    """

    def __init__(self, name: str, namespace: MutableMapping[str, Any], alias: str) -> None:
        self._lazy_name = name
        self._lazy_namespace = namespace
        self._lazy_alias = alias

    def _lazy_load(self) -> ModuleType:
        """Import the module and put it in the namespace in place of this stand-in. (Named so
        that no module's own attribute is hidden by it: a method called `load` made the first
        `torch.load(...)` or `np.load(...)` through a stand-in call this instead.)"""
        module = importlib.import_module(self._lazy_name)
        if self._lazy_namespace.get(self._lazy_alias) is self:
            self._lazy_namespace[self._lazy_alias] = module
        return module

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_lazy_"):  # not yet set (copying, unpickling): no import for that
            raise AttributeError(attr)
        return getattr(self._lazy_load(), attr)

    def __repr__(self) -> str:
        return f"<module {self._lazy_name!r}, imported on first use>"


def lazy_import(name: str, namespace: MutableMapping[str, Any], alias: str) -> Any:
    """The module `name` if it is already imported, else a `LazyModule` bound as `alias`.

    Typed `Any` so that code written against the module reads the same either way.
    """
    module = sys.modules.get(name)
    return module if module is not None else LazyModule(name, namespace, alias)


def no_grad(function: Callable[..., Any]) -> Callable[..., Any]:
    """`@torch.no_grad()` for a module that must not import torch when it is imported: torch is
    imported at the first call."""
    @functools.wraps(function)
    def without_gradients(*args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.no_grad():
            return function(*args, **kwargs)
    return without_gradients


_background: dict[str, threading.Event] = {}
_background_lock = threading.Lock()


def import_in_background(*names: str) -> None:
    """Import `names`, in order, on a daemon thread, unless that was asked for already.

    For the designer: its window paints first and imports torch meanwhile. A caller on another
    thread that needs one of them sooner just imports it: Python makes it wait for the import
    in progress, it never sees half a module.
    """
    with _background_lock:
        wanted = [name for name in names if name not in _background]
        for name in wanted:
            _background[name] = threading.Event()
    if not wanted:
        return

    def load() -> None:
        for name in wanted:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - whoever needs it imports it again and reports
                pass
            _background[name].set()
    threading.Thread(target=load, name="layerlab-import", daemon=True).start()


def imported(name: str) -> bool:
    """Whether importing `name` now would not wait: `import_in_background` has finished with it
    (if that failed, importing it again says why), or it is imported and not in the background.
    """
    event = _background.get(name)
    return event.is_set() if event is not None else name in sys.modules
