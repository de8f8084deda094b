"""Training: the catalogue (settings, optimisers, schedules, losses, metrics, statistics,
events), the loop, callbacks, monitoring and checkpoints.

The names below load on first use (PEP 562), so reading one catalogue (the layer registry reads
the losses for the Output's `loss` choice) does not import the training loop.
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"Callback": "callbacks", "JsonLinesWriter": "callbacks", "ProgressPrinter": "callbacks",
          "DEFAULTS": "config", "TrainingConfig": "config", "parse_training": "config",
          "Trainer": "trainer", "load_checkpoint": "trainer", "pick_device": "devices"}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
