"""runtime.present: the one way numbers, durations, shapes and values are written for people."""
import math

import pytest

from runtime.cli import summary_table
from runtime.graph import GraphModel
from runtime.present import (format_bytes, format_count, format_duration, format_exact, format_flops,
                             format_literal, format_outputs, format_shape, format_value)
from runtime.shapes import infer
from runtime.specs import TensorInfo


@pytest.mark.parametrize("n, text", [
    (0, "0"), (12, "12"), (864, "864"), (999, "999"), (1000, "1k"), (1234, "1.23k"),
    (12_345, "12.3k"), (61_706, "61.7k"), (850_000, "850k"), (999_499, "999k"),
    (999_999, "1M"), (4_190_000, "4.19M"), (1_200_000_000, "1.2B"), (1_229_100_000, "1.23B"),
    (2.5e12, "2.5T"), (-12_345, "-12.3k"), (0.5, "0.5"), (None, "?"), (math.nan, "?"),
    (math.inf, "?"),
])
def test_counts(n, text):
    assert format_count(n) == text


@pytest.mark.parametrize("n, text", [
    (12, "12 FLOPs"), (850_000, "850k FLOPs"), (1_200_000_000, "1.2B FLOPs"), (None, "? FLOPs"),
])
def test_flops_use_the_count_style(n, text):
    assert format_flops(n) == text


@pytest.mark.parametrize("n, text", [
    (0, "0"), (864, "864"), (61_706, "61,706"), (1_229_100_000, "1,229,100,000"), (None, "?"),
])
def test_exact_counts(n, text):
    assert format_exact(n) == text


@pytest.mark.parametrize("seconds, text", [
    (0, "0:00"), (4.6, "0:05"), (65, "1:05"), (3599.4, "59:59"), (3600, "1:00:00"),
    (3665, "1:01:05"), (90_000, "25:00:00"), (None, "?"), (math.nan, "?"), (math.inf, "?"),
])
def test_durations(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("info, batch, text", [
    (TensorInfo((8, 28, 28)), True, "(batch, 8, 28, 28)"),
    (TensorInfo((8, 28, 28)), False, "8×28×28"),
    (TensorInfo((12,), "int64"), True, "(batch, 12) int64"),
    (TensorInfo((12,), "int64"), False, "12 int64"),
    (TensorInfo(()), True, "(batch)"),
    (TensorInfo(()), False, "scalar"),
    (None, True, "?"),
])
def test_shapes(info, batch, text):
    assert format_shape(info, batch) == text


def test_the_batch_form_matches_the_shape_in_error_messages():
    info = TensorInfo((16, 5, 5))
    assert format_shape(info) == info.describe()


@pytest.mark.parametrize("value, text", [
    (None, "none"), (True, "yes"), (False, "no"), (3, "3"), (0.001, "0.001"), (1e-5, "1e-05"),
    ([3, 3], "3×3"), ((1, 28, 28), "1×28×28"), ([], "[]"), ("same", "same"),
])
def test_values_for_people(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("value, text", [
    (None, "null"), (True, "true"), (3, "3"), (0.001, "0.001"), ([3, 3], "[3, 3]"),
    ("same", '"same"'),
])
def test_values_as_a_design_file_spells_them(value, text):
    assert format_literal(value) == text


def _wide_model() -> GraphModel:
    model = GraphModel(name="wide")
    model.add_node("Input", {"shape": [4096]}, node_id="x")
    model.add_node("Linear", {"out_features": 300_000}, node_id="fc")
    model.add_node("Output", node_id="y")
    model.connect("x", "fc")
    model.connect("fc", "y")
    return model


def test_outputs_of_a_node_result():
    model = _wide_model()
    model.add_node("Linear", node_id="loose")
    model.add_node("ReLU", node_id="after")
    model.connect("loose", "after")
    analysis = infer(model)
    assert format_outputs(analysis.nodes["fc"]) == "(batch, 300000)"
    assert format_outputs(analysis.nodes["fc"], batch=False) == "300000"
    assert format_outputs(analysis.nodes["loose"]) == "error"
    assert format_outputs(analysis.nodes["after"]) == "?"
    assert format_outputs(None) == "?"


def test_the_cli_summary_writes_counts_in_the_shared_style():
    model = _wide_model()
    analysis = infer(model)
    fc = analysis.nodes["fc"]
    table = summary_table(model, analysis)
    row = next(line for line in table.splitlines() if line.startswith("fc "))
    assert row.split()[-2:] == [format_count(fc.params), format_count(fc.flops)] == ["1.23B",
                                                                                    "2.46B"]
    assert (f"wide: {format_exact(analysis.total_params)} parameters "
            f"({format_exact(analysis.trainable_params)} trainable), "
            f"{format_bytes(analysis.weight_bytes)} of weights, "
            f"{format_flops(analysis.total_flops)} per sample") in table.splitlines()
    assert format_bytes(analysis.weight_bytes) == "4.92 GB"  # 1.23B float32 values
