"""Example uses of every registered layer type, read by the spec-parametrised tests.

Each `Example` is one node: its type, the params it sets (the rest stay at their defaults) and the
tensor on each input port (a list for a variadic port). Adding a layer type means adding at least
one example here; `test_layers.py` fails for a registered type without one. Sizes stay tiny so the
whole suite runs in seconds on a CPU.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.specs import TensorInfo


def f(*shape: int) -> TensorInfo:
    """A float32 tensor of one sample's `shape`."""
    return TensorInfo(tuple(shape))


def ids(*shape: int) -> TensorInfo:
    """An int64 (token id) tensor of one sample's `shape`."""
    return TensorInfo(tuple(shape), "int64")


@dataclass(frozen=True)
class Example:
    """One node of `type` with `params` set, fed `inputs` (port name -> tensor or list of tensors).

    Attributes:
        warns: The shape rule is expected to warn about this use (legal but probably a mistake).
    """

    type: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    warns: bool = False

    @property
    def id(self) -> str:
        return f"{self.type}-{self.name}"


E = Example

EXAMPLES: list[Example] = [
    # --- Input/Output ---------------------------------------------------------------------------
    E("Input", "float-2d", {"shape": [3, 5]}),
    E("Input", "int64-ids", {"shape": [7], "dtype": "int64"}),
    E("Output", "float", {}, {"input": f(4)}),
    E("Output", "int64", {}, {"input": ids(2, 3)}),
    # --- Core -----------------------------------------------------------------------------------
    E("Linear", "default", {}, {"input": f(6)}),
    E("Linear", "sequence-no-bias", {"out_features": 5, "bias": False}, {"input": f(4, 6)}),
    E("Linear", "rank4-warns", {"out_features": 3}, {"input": f(2, 3, 4)}, warns=True),
    E("Dropout", "p0.3", {"p": 0.3}, {"input": f(2, 5)}),
    E("Dropout", "p0", {"p": 0.0}, {"input": f(5)}),
    E("Flatten", "image", {}, {"input": f(2, 3, 4)}),
    E("Flatten", "int64", {}, {"input": ids(2, 3)}),
    E("Reshape", "infer-minus-one", {"shape": [2, -1]}, {"input": f(12)}),
    E("Reshape", "image", {"shape": [1, 3, 4]}, {"input": f(12)}),
    E("Reshape", "int64", {"shape": [3, 4]}, {"input": ids(12)}),
    E("Reshape", "flat-minus-one", {"shape": [-1]}, {"input": f(2, 3)}),
    E("RepeatVector", "vector", {"n": 4}, {"input": f(6)}),
    E("RepeatVector", "int64", {"n": 2}, {"input": ids(3)}),
    E("Permute", "swap", {"dims": [2, 1]}, {"input": f(3, 5)}),
    E("Permute", "rotate-3d", {"dims": [3, 1, 2]}, {"input": f(2, 3, 4)}),
    E("Permute", "int64", {"dims": [2, 1]}, {"input": ids(2, 3)}),
    E("Upsample", "nearest-2d", {}, {"input": f(2, 3, 4)}),
    E("Upsample", "nearest-1d-x3", {"scale_factor": 3.0}, {"input": f(2, 5)}),
    E("Upsample", "linear-1.5", {"scale_factor": 1.5, "mode": "linear"}, {"input": f(2, 5)}),
    E("Upsample", "bilinear", {"mode": "bilinear"}, {"input": f(1, 3, 4)}),
    E("Upsample", "bicubic-1.5", {"scale_factor": 1.5, "mode": "bicubic"}, {"input": f(1, 3, 3)}),
    E("Upsample", "trilinear", {"mode": "trilinear"}, {"input": f(1, 2, 2, 3)}),
    E("Upsample", "nearest-shrink", {"scale_factor": 0.5}, {"input": f(2, 4, 5)}),
    # --- Embedding ------------------------------------------------------------------------------
    E("Embedding", "sequence", {"num_embeddings": 10, "embedding_dim": 4}, {"input": ids(5)}),
    E("Embedding", "grid", {"num_embeddings": 3}, {"input": ids(2, 3)}),
    # --- Convolution ----------------------------------------------------------------------------
    E("Conv1d", "default", {}, {"input": f(2, 8)}),
    E("Conv1d", "stride2-pad1-dilation2", {"out_channels": 4, "stride": 2, "padding": 1,
                                           "dilation": 2}, {"input": f(2, 11)}),
    E("Conv1d", "groups-valid", {"out_channels": 6, "kernel_size": 2, "groups": 2,
                                 "padding": "valid"}, {"input": f(4, 7)}),
    E("Conv2d", "default", {}, {"input": f(3, 6, 6)}),
    E("Conv2d", "stride2-pad1", {"out_channels": 4, "stride": 2, "padding": 1},
      {"input": f(3, 7, 8)}),
    E("Conv2d", "lists-dilation-groups-nobias",
      {"out_channels": 4, "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0],
       "dilation": [1, 2], "groups": 2, "bias": False}, {"input": f(4, 9, 8)}),
    E("Conv2d", "depthwise", {"out_channels": 6, "groups": 3}, {"input": f(3, 5, 5)}),
    E("Conv2d", "valid", {"out_channels": 2, "kernel_size": 3, "padding": "valid"},
      {"input": f(1, 5, 4)}),
    E("Conv2d", "same-even-kernel-dilated", {"out_channels": 2, "kernel_size": 4, "dilation": 2},
      {"input": f(2, 6, 7)}),
    E("ConvTranspose2d", "default", {}, {"input": f(3, 4, 4)}),
    E("ConvTranspose2d", "output-padding", {"out_channels": 2, "kernel_size": 3, "stride": 2,
                                            "padding": 1, "output_padding": 1},
      {"input": f(4, 5, 5)}),
    E("ConvTranspose2d", "groups-dilation-lists",
      {"out_channels": 4, "kernel_size": [3, 2], "stride": [1, 2], "padding": [1, 0],
       "output_padding": [1, 1], "dilation": [2, 1], "groups": 2, "bias": False},
      {"input": f(2, 3, 4)}),
    # --- Pooling --------------------------------------------------------------------------------
    E("MaxPool1d", "default", {}, {"input": f(2, 8)}),
    E("MaxPool1d", "stride2-pad1", {"kernel_size": 3, "stride": 2, "padding": 1},
      {"input": f(2, 9)}),
    E("MaxPool2d", "default", {}, {"input": f(2, 4, 5)}),
    E("MaxPool2d", "lists", {"kernel_size": [3, 2], "stride": [1, 2], "padding": [1, 1]},
      {"input": f(2, 5, 6)}),
    E("AvgPool1d", "default", {}, {"input": f(3, 7)}),
    E("AvgPool1d", "overlap", {"kernel_size": 3, "stride": 1, "padding": 1}, {"input": f(2, 6)}),
    E("AvgPool2d", "default", {}, {"input": f(2, 4, 4)}),
    E("AvgPool2d", "stride-list", {"kernel_size": 2, "stride": [1, 2]}, {"input": f(1, 5, 6)}),
    E("GlobalAvgPool", "channels-first-2d", {}, {"input": f(3, 4, 5)}),
    E("GlobalAvgPool", "channels-first-1d", {}, {"input": f(3, 7)}),
    E("GlobalAvgPool", "channels-last-sequence", {"data_format": "channels_last"},
      {"input": f(6, 4)}),
    E("GlobalAvgPool", "channels-last-2d", {"data_format": "channels_last"},
      {"input": f(3, 5, 2)}),
    # --- Normalization --------------------------------------------------------------------------
    E("BatchNorm", "features", {}, {"input": f(5)}),
    E("BatchNorm", "sequence-warns", {"momentum": 0.2}, {"input": f(3, 7)}, warns=True),
    E("BatchNorm", "image", {"eps": 1e-3}, {"input": f(3, 4, 4)}),
    E("BatchNorm", "volume", {}, {"input": f(2, 2, 3, 3)}),
    E("LayerNorm", "last-dim", {}, {"input": f(6)}),
    E("LayerNorm", "two-dims", {"normalized_dims": 2}, {"input": f(3, 4, 5)}),
    E("LayerNorm", "no-affine", {"elementwise_affine": False}, {"input": f(4, 5)}),
    # --- Activation -----------------------------------------------------------------------------
    E("ReLU", "default", {}, {"input": f(3, 4)}),
    E("LeakyReLU", "slope0.2", {"negative_slope": 0.2}, {"input": f(3, 4)}),
    E("ELU", "alpha0.5", {"alpha": 0.5}, {"input": f(5)}),
    E("GELU", "tanh", {"approximate": "tanh"}, {"input": f(2, 3, 4)}),
    E("SiLU", "default", {}, {"input": f(4)}),
    E("Sigmoid", "default", {}, {"input": f(3, 4)}),
    E("Tanh", "default", {}, {"input": f(3, 4)}),
    E("Softmax", "last", {}, {"input": f(3, 4)}),
    E("Softmax", "dim1", {"dim": 1}, {"input": f(3, 4)}),
    E("LogSoftmax", "dim-2", {"dim": -2}, {"input": f(3, 4)}),
    # --- Recurrent ------------------------------------------------------------------------------
    E("RNN", "default", {"hidden_size": 4}, {"input": f(5, 3)}),
    E("RNN", "relu-stacked-sequences", {"hidden_size": 4, "num_layers": 2, "nonlinearity": "relu",
                                        "dropout": 0.2, "return_sequences": True},
      {"input": f(5, 3)}),
    E("RNN", "dropout-one-layer-warns", {"hidden_size": 3, "dropout": 0.5}, {"input": f(4, 2)},
      warns=True),
    E("LSTM", "default", {"hidden_size": 4}, {"input": f(5, 3)}),
    E("LSTM", "bidirectional-2-layers-last", {"hidden_size": 4, "num_layers": 2,
                                              "bidirectional": True}, {"input": f(5, 3)}),
    E("LSTM", "bidirectional-2-layers-sequences", {"hidden_size": 4, "num_layers": 2,
                                                   "bidirectional": True,
                                                   "return_sequences": True},
      {"input": f(5, 3)}),
    E("GRU", "default", {"hidden_size": 4}, {"input": f(6, 2)}),
    E("GRU", "bidirectional-sequences", {"hidden_size": 3, "bidirectional": True,
                                         "return_sequences": True}, {"input": f(4, 5)}),
    # --- Attention ------------------------------------------------------------------------------
    E("MultiheadAttention", "self", {}, {"query": f(5, 8)}),
    E("MultiheadAttention", "causal-self", {"num_heads": 2, "causal": True}, {"query": f(5, 8)}),
    E("MultiheadAttention", "cross-kdim-vdim", {"num_heads": 4},
      {"query": f(5, 8), "key": f(7, 6), "value": f(7, 10)}),
    E("MultiheadAttention", "cross-key-only", {"num_heads": 2},
      {"query": f(4, 8), "key": f(6, 8)}),
    E("MultiheadAttention", "value-without-key", {"num_heads": 2, "dropout": 0.1},
      {"query": f(5, 8), "value": f(5, 3)}),
    E("MultiheadAttention", "causal-cross-lengths", {"num_heads": 1, "causal": True},
      {"query": f(3, 4), "key": f(6, 5)}),
    E("TransformerEncoderLayer", "default", {"dim_feedforward": 16}, {"input": f(5, 8)}),
    E("TransformerEncoderLayer", "causal-gelu-pre-ln",
      {"nhead": 2, "dim_feedforward": 12, "activation": "gelu", "norm_first": True,
       "causal": True, "dropout": 0.0}, {"input": f(6, 8)}),
    E("PositionalEncoding", "sinusoidal-odd-d-model", {"max_len": 10}, {"input": f(5, 7)}),
    E("PositionalEncoding", "sinusoidal-full-length", {"max_len": 4}, {"input": f(4, 6)}),
    E("PositionalEncoding", "learned", {"kind": "learned", "max_len": 8}, {"input": f(4, 6)}),
    # --- Merge ----------------------------------------------------------------------------------
    E("Add", "same-shape", {}, {"input": [f(3, 4), f(3, 4)]}),
    E("Add", "broadcast-size-1", {}, {"input": [f(3, 4), f(1, 4)]}),
    E("Add", "broadcast-first", {}, {"input": [f(1, 4), f(3, 4)]}),
    E("Add", "three-broadcast", {}, {"input": [f(2, 1, 4), f(2, 3, 4), f(2, 3, 1)]}),
    E("Multiply", "same-shape", {}, {"input": [f(5), f(5)]}),
    E("Multiply", "broadcast", {}, {"input": [f(1, 3), f(2, 3), f(2, 1)]}),
    E("Concat", "dim1", {}, {"input": [f(2, 4), f(3, 4)]}),
    E("Concat", "dim-1", {"dim": -1}, {"input": [f(2, 3), f(2, 5), f(2, 1)]}),
    E("Concat", "dim2", {"dim": 2}, {"input": [f(2, 3, 4), f(2, 1, 4)]}),
    E("Concat", "int64", {}, {"input": [ids(3), ids(2)]}),
    E("RBM", "bernoulli", {"hidden": 5}, {"input": f(6)}),
    E("RBM", "gaussian", {"hidden": 3, "visible_units": "gaussian"}, {"input": f(4)}),
]

#: Types that are expected to have positive FLOPs in every example.
COMPUTE_TYPES = ("Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "RNN", "LSTM", "GRU",
                 "MultiheadAttention", "TransformerEncoderLayer", "PositionalEncoding", "RBM")
