"""Mutated design files for the fuzz test and benchmarks/fuzz.py (issue #11): byte flips,
truncations and structure-aware mutations of the presets, reproducible from a seed."""
from __future__ import annotations

import json
import random
from pathlib import Path

PRESETS = sorted((Path(__file__).resolve().parents[1] / "presets").glob("*.json"))
#: Values a hostile or broken file may hold where another value belongs.
HOSTILE = [None, True, -1, 0, 2**31, 10**400, 1e308, -1e308, 0.5, "", "\ud800", "x" * 10_000,
           [], {}, [[[[[1]]]]], {"a": {"b": {}}}, "training", "__class__", "fc1\n", [-3, 0],
           [10**30, 1], "same", "kaiming_normal"]
#: Largest model a mutant may compile here (a valid but huge design is the budget's business).
COMPILE_LIMIT_BYTES = 64 * 1024**2


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, path + (i,))


def mutate(text: str, rng: random.Random) -> str:
    """One mutant: a byte flip, a truncation, or a value replaced, deleted or duplicated."""
    how = rng.random()
    if how < 0.2:
        i = rng.randrange(len(text))
        return text[:i] + chr(rng.randrange(32, 127)) + text[i + 1:]
    if how < 0.3:
        return text[:rng.randrange(len(text))]
    data = json.loads(text)
    path = rng.choice([p for p in _paths(data) if p])
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if how < 0.8:
        parent[key] = rng.choice(HOSTILE)
    elif how < 0.9:
        del parent[key]
    elif isinstance(parent, list):
        parent.insert(key, parent[key])
    else:
        parent[key] = [parent[key], parent[key]]
    return json.dumps(data)


def mutant(seed: int) -> str:
    """The design-file text of mutant number `seed` (one mutation of one preset)."""
    rng = random.Random(seed)
    source = PRESETS[seed % len(PRESETS)].read_text(encoding="utf-8")
    return mutate(source, rng)
