"""A fast, seeded fuzz test (issue #11): mutated presets go through load, inference, the summary
and compile, and the only failures allowed are LayerLab's typed, located errors.

300 mutants run with the suite (seconds); LAYERLAB_FUZZ_CASES=10000 runs more.
"""
import json
import os
import random
from pathlib import Path

import pytest

from runtime.cli import summary_json, summary_table
from runtime.compile import compile_model
from runtime.document import loads
from runtime.errors import DesignFileError, LayerLabError
from runtime.shapes import infer

PRESETS = sorted((Path(__file__).resolve().parents[2] / "presets").glob("*.json"))
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


def _mutate(text: str, rng: random.Random) -> str:
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


@pytest.mark.parametrize("seed", range(int(os.environ.get("LAYERLAB_FUZZ_CASES", "300"))))
def test_a_mutant_fails_only_with_a_typed_located_error(seed):
    rng = random.Random(seed)
    source = PRESETS[seed % len(PRESETS)].read_text(encoding="utf-8")
    text = _mutate(source, rng)
    try:
        model = loads(text)
    except DesignFileError as err:
        assert err.problems and all(p.message for p in err.problems)
        return
    analysis = infer(model)  # never raises: problems are values
    json.dumps(summary_json(model, analysis, analysis.problems))  # what `summary` prints
    summary_table(model, analysis)
    if analysis.valid and analysis.weight_bytes <= COMPILE_LIMIT_BYTES:
        try:
            compile_model(model, analysis)
        except LayerLabError:
            pass
