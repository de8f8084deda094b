"""A fast, seeded fuzz test (issue #11): mutated presets go through load, inference, the summary
and compile, and the only failures allowed are LayerLab's typed, located errors.

300 mutants run with the suite (seconds); LAYERLAB_FUZZ_CASES=10000 runs more.
"""
import json
import os

import pytest

from runtime.cli import summary_json, summary_table
from runtime.compile import compile_model
from runtime.document import loads
from runtime.errors import DesignFileError, LayerLabError
from runtime.shapes import infer
from tests.fuzzing import COMPILE_LIMIT_BYTES, mutant

@pytest.mark.parametrize("seed", range(int(os.environ.get("LAYERLAB_FUZZ_CASES", "300"))))
def test_a_mutant_fails_only_with_a_typed_located_error(seed):
    text = mutant(seed)
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
