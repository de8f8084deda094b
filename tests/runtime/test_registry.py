"""The layer registry: one declaration per id, renamed ids, lookups and suggestions."""
import json

import pytest

from runtime.document import loads
from runtime.errors import RegistryError
from runtime.layers import ALL_SPECS
from runtime.registry import REGISTRY, LayerRegistry
from runtime.specs import CATEGORIES


def _fresh() -> LayerRegistry:
    registry = LayerRegistry()
    for spec in ALL_SPECS:
        registry.register(spec)
    return registry


def test_duplicate_ids_are_an_error():
    registry = _fresh()
    with pytest.raises(RegistryError, match="registered twice"):
        registry.register(REGISTRY.get("Linear"))


def test_required_types_are_all_registered():
    required = """Input Output Linear Conv1d Conv2d ConvTranspose2d MaxPool1d MaxPool2d AvgPool1d
    AvgPool2d GlobalAvgPool Flatten Reshape Permute Upsample Dropout BatchNorm LayerNorm ReLU
    LeakyReLU ELU GELU SiLU Sigmoid Tanh Softmax LogSoftmax Embedding RNN LSTM GRU
    MultiheadAttention TransformerEncoderLayer PositionalEncoding Add Multiply Concat""".split()
    assert set(required) <= set(REGISTRY.type_ids())
    assert REGISTRY.get("Linear").title == "Dense (Linear)"


def test_by_category_follows_palette_order():
    groups = REGISTRY.by_category()
    assert list(groups) == [c for c in CATEGORIES if c in groups]
    assert sum(len(specs) for specs in groups.values()) == len(REGISTRY)


def test_renamed_ids_are_followed_by_the_loader():
    registry = _fresh()
    registry.rename("Dense", "Linear")
    with pytest.raises(RegistryError):
        registry.rename("ReLU", "Linear")  # still a live type
    doc = {"format": "layerlab.design", "version": 1, "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [3]}}, {"id": "fc", "type": "Dense"},
        {"id": "out", "type": "Output"}], "edges": [{"from": "x", "to": "fc"},
                                                    {"from": "fc", "to": "out"}]}
    model = loads(json.dumps(doc), registry)
    assert model.nodes["fc"].type == "Linear"


@pytest.mark.parametrize("name, expected", [("dense", "Linear"), ("Conv2D", "Conv2d"),
                                            ("BatchNorm2d", "BatchNorm"), ("lstm", "LSTM"),
                                            ("MaxPoool2d", "MaxPool2d"), ("qwertyuiop", None)])
def test_closest_name(name, expected):
    assert REGISTRY.closest(name) == expected


def test_unknown_type_lookup_error_suggests():
    with pytest.raises(RegistryError, match="did you mean 'Linear'"):
        REGISTRY.get("FullyConnected_")


@pytest.mark.parametrize("type_id, name", [("Linear", "out_features"), ("Dropout", "p"),
                                           ("Input", "shape"), ("Linear", "bias")])
def test_null_for_a_required_param_is_a_param_error(type_id, name):
    from runtime.errors import ParamError
    with pytest.raises(ParamError, match="must not be null"):
        REGISTRY.get(type_id).param(name).validate(None)
