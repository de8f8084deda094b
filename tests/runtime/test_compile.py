"""Oracle tests for the compiler: a compiled design equals the nn.Module a PyTorch user would write.

Each case builds a design with the GraphModel API and a hand-written oracle whose attributes are the
node ids, made of plain torch classes (nn.LSTM(batch_first=True), nn.MultiheadAttention, ...) with
outputs sliced by hand. The oracle loads the compiled model's state_dict strictly, so the names and
shapes of every parameter and buffer must agree; then outputs and gradients (w.r.t. the inputs and
every parameter) must agree in float64.

`CASES` is shared with test_export.py.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from runtime.compile import class_name_for, compile_model
from runtime.errors import CompileError
from runtime.graph import GraphModel
from runtime.registry import LayerRegistry
from runtime.shapes import infer
from runtime.specs import (Inference, LayerSpec, ModuleRecipe, ParamSpec, PortSpec, TensorInfo)

from tests.runtime.designs import chain

BATCH = 3


def randn(*shape: int) -> torch.Tensor:
    return torch.randn(BATCH, *shape)


# --- designs and their oracles ---------------------------------------------------------------

def mlp_design() -> GraphModel:
    m = GraphModel(name="mlp")
    m.add_node("Input", {"shape": [6]}, node_id="x")
    m.add_node("Linear", {"out_features": 8}, node_id="fc1")
    m.add_node("ReLU", node_id="act")
    m.add_node("Linear", {"out_features": 3}, node_id="fc2")
    m.add_node("Output", node_id="out")
    chain(m, "x", "fc1", "act", "fc2", "out")
    return m


class MLPOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def lenet_design() -> GraphModel:
    m = GraphModel(name="LeNet")
    m.add_node("Input", {"shape": [1, 14, 14]}, node_id="x")
    m.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": "valid"},
               node_id="conv1")
    m.add_node("BatchNorm", node_id="bn1")
    m.add_node("ReLU", node_id="relu1")
    m.add_node("MaxPool2d", {"kernel_size": 2}, node_id="pool1")
    m.add_node("Conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 0}, node_id="conv2")
    m.add_node("ReLU", node_id="relu2")
    m.add_node("MaxPool2d", {"kernel_size": 2}, node_id="pool2")
    m.add_node("Flatten", node_id="flat")
    m.add_node("Linear", {"out_features": 5}, node_id="fc")
    m.add_node("Output", node_id="out")
    chain(m, "x", "conv1", "bn1", "relu1", "pool1", "conv2", "relu2", "pool2", "flat", "fc", "out")
    return m


class LeNetOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)          # 14 -> 12
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)             # 12 -> 6
        self.conv2 = nn.Conv2d(4, 6, 3)          # 6 -> 4
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)             # 4 -> 2
        self.flat = nn.Flatten()
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flat(x))


def recurrent_design(kind="LSTM", num_layers=1, bidirectional=False, return_sequences=False):
    m = GraphModel(name=f"{kind} net")
    m.add_node("Input", {"shape": [5, 3]}, node_id="x")
    m.add_node(kind, {"hidden_size": 4, "num_layers": num_layers, "bidirectional": bidirectional,
                      "return_sequences": return_sequences}, node_id="rnn")
    m.add_node("Output", node_id="out")
    chain(m, "x", "rnn", "out")
    return m


def recurrent_oracle(kind="LSTM", num_layers=1, bidirectional=False, return_sequences=False):
    hidden = 4

    class RecurrentOracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(3, hidden, num_layers=num_layers,
                                         bidirectional=bidirectional, batch_first=True)

        def forward(self, x):
            out = self.rnn(x)[0]                 # (batch, time, dirs * hidden)
            if return_sequences:
                return out
            if bidirectional:
                # the forward direction ends at the last step, the backward one at step 0
                return torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], dim=-1)
            return out[:, -1]
    return RecurrentOracle


def residual_design() -> GraphModel:
    m = GraphModel(name="residual block")
    m.add_node("Input", {"shape": [3, 5, 5]}, node_id="x")
    m.add_node("Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": "same"},
               node_id="conv_a")
    m.add_node("ReLU", node_id="relu_a")
    m.add_node("Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": 1}, node_id="conv_b")
    m.add_node("Add", node_id="skip")
    m.add_node("ReLU", node_id="relu_out")
    m.add_node("Output", node_id="out")
    chain(m, "x", "conv_a", "relu_a", "conv_b", "skip")
    m.connect("x", "skip")
    chain(m, "skip", "relu_out", "out")
    return m


class ResidualOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 3, 3, padding=1)
        self.relu_a = nn.ReLU()
        self.conv_b = nn.Conv2d(3, 3, 3, padding=1)
        self.relu_out = nn.ReLU()

    def forward(self, x):
        return self.relu_out(self.conv_b(self.relu_a(self.conv_a(x))) + x)


def self_attention_design(causal=False) -> GraphModel:
    m = GraphModel(name="self attention")
    m.add_node("Input", {"shape": [5, 8]}, node_id="x")
    m.add_node("MultiheadAttention", {"num_heads": 2, "causal": causal}, node_id="attn")
    m.add_node("Output", node_id="out")
    m.connect("x", "attn", dst_port="query")
    m.connect("attn", "out")
    return m


def self_attention_oracle(causal=False):
    class SelfAttentionOracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            # an additive -inf mask built by PyTorch itself, not LayerLab's boolean one
            mask = nn.Transformer.generate_square_subsequent_mask(
                x.shape[1], dtype=x.dtype) if causal else None
            return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
    return SelfAttentionOracle


def cross_attention_design() -> GraphModel:
    """Query from one sequence (length 4, 8 features), key and value from another (6, 5)."""
    m = GraphModel(name="cross attention")
    m.add_node("Input", {"shape": [4, 8]}, node_id="dec")
    m.add_node("Input", {"shape": [6, 5]}, node_id="enc")
    m.add_node("MultiheadAttention", {"num_heads": 2}, node_id="attn")
    m.add_node("Output", node_id="out")
    m.connect("dec", "attn", dst_port="query")
    m.connect("enc", "attn", dst_port="key")
    m.connect("attn", "out")
    return m


class CrossAttentionOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, kdim=5, vdim=5, batch_first=True)

    def forward(self, dec, enc):
        return self.attn(dec, enc, enc, need_weights=False)[0]


def key_value_attention_design() -> GraphModel:
    """Separate key (6, 5) and value (6, 7) inputs, value connected before key in the file."""
    m = GraphModel(name="key value attention")
    m.add_node("Input", {"shape": [4, 8]}, node_id="q")
    m.add_node("Input", {"shape": [6, 5]}, node_id="k")
    m.add_node("Input", {"shape": [6, 7]}, node_id="v")
    m.add_node("MultiheadAttention", {"num_heads": 4}, node_id="attn")
    m.add_node("Output", node_id="out")
    m.connect("v", "attn", dst_port="value")
    m.connect("q", "attn", dst_port="query")
    m.connect("k", "attn", dst_port="key")
    m.connect("attn", "out")
    return m


class KeyValueAttentionOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 4, kdim=5, vdim=7, batch_first=True)

    def forward(self, q, k, v):
        return self.attn(q, k, v, need_weights=False)[0]


def value_only_attention_design() -> GraphModel:
    """Key left open (it defaults to the query), value connected: passed to forward by name."""
    m = GraphModel(name="value only attention")
    m.add_node("Input", {"shape": [4, 8]}, node_id="q")
    m.add_node("Input", {"shape": [4, 6]}, node_id="v")
    m.add_node("MultiheadAttention", {"num_heads": 2}, node_id="attn")
    m.add_node("Output", node_id="out")
    m.connect("q", "attn", dst_port="query")
    m.connect("v", "attn", dst_port="value")
    m.connect("attn", "out")
    return m


class ValueOnlyAttentionOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, kdim=8, vdim=6, batch_first=True)

    def forward(self, q, v):
        return self.attn(q, q, v, need_weights=False)[0]


VOCAB, D_MODEL, SEQ = 20, 8, 6


def transformer_design(causal=False, positions="sinusoidal") -> GraphModel:
    m = GraphModel(name="tiny transformer")
    m.add_node("Input", {"shape": [SEQ], "dtype": "int64"}, node_id="tokens")
    m.add_node("Embedding", {"num_embeddings": VOCAB, "embedding_dim": D_MODEL}, node_id="emb")
    m.add_node("PositionalEncoding", {"max_len": 16, "kind": positions}, node_id="pos")
    m.add_node("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 16, "dropout": 0.0,
                                           "causal": causal}, node_id="enc")
    m.add_node("Output", node_id="out")
    chain(m, "tokens", "emb", "pos", "enc", "out")
    return m


def sinusoid_table(max_len: int, d_model: int) -> torch.Tensor:
    """The textbook table in float64: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    table = torch.zeros(max_len, d_model, dtype=torch.float64)
    for p in range(max_len):
        for i in range(0, d_model, 2):
            angle = p / 10000 ** (i / d_model)
            table[p, i] = math.sin(angle)
            if i + 1 < d_model:
                table[p, i + 1] = math.cos(angle)
    return table


def transformer_oracle(causal=False, positions="sinusoidal"):
    class TransformerOracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(VOCAB, D_MODEL)
            if positions == "learned":
                self.pos = nn.Module()
                self.pos.pe = nn.Parameter(torch.zeros(16, D_MODEL))
            else:
                self.register_buffer("table", sinusoid_table(16, D_MODEL), persistent=False)
            self.enc = nn.TransformerEncoderLayer(D_MODEL, 2, 16, dropout=0.0, batch_first=True)

        def forward(self, tokens):
            h = self.emb(tokens)
            table = self.pos.pe if positions == "learned" else self.table.to(h.dtype)
            h = h + table[: h.shape[1]]
            if causal:
                mask = nn.Transformer.generate_square_subsequent_mask(h.shape[1], dtype=h.dtype)
                return self.enc(h, src_mask=mask, is_causal=True)
            return self.enc(h)
    return TransformerOracle


def concat_design() -> GraphModel:
    m = GraphModel(name="two branches")
    m.add_node("Input", {"shape": [4]}, node_id="x")
    m.add_node("Linear", {"out_features": 3}, node_id="left")
    m.add_node("Linear", {"out_features": 2}, node_id="right")
    m.add_node("Tanh", node_id="squash")
    m.add_node("Concat", {"dim": 1}, node_id="cat")
    m.add_node("Output", node_id="out")
    m.connect("x", "left")
    m.connect("x", "right")
    m.connect("right", "squash")
    m.connect("squash", "cat")               # edge order is argument order: right branch first
    m.connect("left", "cat")
    m.connect("cat", "out")
    return m


class ConcatOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.left = nn.Linear(4, 3)
        self.right = nn.Linear(4, 2)
        self.squash = nn.Tanh()

    def forward(self, x):
        return torch.cat([self.squash(self.right(x)), self.left(x)], dim=1)


def two_in_two_out_design() -> GraphModel:
    """Two Inputs, and two Outputs whose file order (main, aux) differs from the order a
    topological sort reaches them in (aux is ready long before the deeper main)."""
    m = GraphModel(name="two heads")
    m.add_node("Output", node_id="main")
    m.add_node("Output", node_id="aux")
    m.add_node("Linear", {"out_features": 1}, node_id="aux_head")
    m.add_node("Input", {"shape": [4]}, node_id="features")
    m.add_node("Input", {"shape": [3]}, node_id="extra")
    m.add_node("Concat", node_id="join")
    m.add_node("Linear", {"out_features": 5}, node_id="mix")
    m.add_node("ReLU", node_id="act")
    m.add_node("Linear", {"out_features": 2}, node_id="head")
    m.connect("features", "join")
    m.connect("extra", "join")
    chain(m, "join", "mix", "act", "head", "main")
    chain(m, "extra", "aux_head", "aux")
    return m


class TwoInTwoOutOracle(nn.Module):
    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(7, 5)
        self.act = nn.ReLU()
        self.head = nn.Linear(5, 2)
        self.aux_head = nn.Linear(3, 1)

    def forward(self, features, extra):
        main = self.head(self.act(self.mix(torch.cat([features, extra], dim=1))))
        return main, self.aux_head(extra)


@dataclass
class Case:
    """A design, example inputs for it (float32, batch first) and its hand-written oracle."""

    build: Callable[[], GraphModel]
    inputs: Callable[[], tuple[torch.Tensor, ...]]
    oracle: type[nn.Module]
    atol: float | None = None  # float64 default unless a float32 constant is involved


CASES = {
    "mlp": Case(mlp_design, lambda: (randn(6),), MLPOracle),
    "lenet": Case(lenet_design, lambda: (randn(1, 14, 14),), LeNetOracle),
    "lstm_last": Case(recurrent_design, lambda: (randn(5, 3),), recurrent_oracle()),
    "lstm_bidirectional_last": Case(lambda: recurrent_design(bidirectional=True),
                                    lambda: (randn(5, 3),), recurrent_oracle(bidirectional=True)),
    "lstm_stacked_bidirectional": Case(
        lambda: recurrent_design(num_layers=2, bidirectional=True), lambda: (randn(5, 3),),
        recurrent_oracle(num_layers=2, bidirectional=True)),
    "lstm_sequences": Case(lambda: recurrent_design(return_sequences=True),
                           lambda: (randn(5, 3),), recurrent_oracle(return_sequences=True)),
    "gru_bidirectional_last": Case(lambda: recurrent_design("GRU", bidirectional=True),
                                   lambda: (randn(5, 3),),
                                   recurrent_oracle("GRU", bidirectional=True)),
    "rnn_stacked_last": Case(lambda: recurrent_design("RNN", num_layers=2),
                             lambda: (randn(5, 3),), recurrent_oracle("RNN", num_layers=2)),
    "residual": Case(residual_design, lambda: (randn(3, 5, 5),), ResidualOracle),
    "self_attention": Case(self_attention_design, lambda: (randn(5, 8),),
                           self_attention_oracle()),
    "causal_attention": Case(lambda: self_attention_design(causal=True), lambda: (randn(5, 8),),
                             self_attention_oracle(causal=True)),
    "cross_attention": Case(cross_attention_design, lambda: (randn(4, 8), randn(6, 5)),
                            CrossAttentionOracle),
    "key_value_attention": Case(key_value_attention_design,
                                lambda: (randn(4, 8), randn(6, 5), randn(6, 7)),
                                KeyValueAttentionOracle),
    "value_only_attention": Case(value_only_attention_design, lambda: (randn(4, 8), randn(4, 6)),
                                 ValueOnlyAttentionOracle),
    # the sinusoid table is computed in float32 by the layer, in float64 by the oracle
    "transformer": Case(transformer_design, lambda: (torch.randint(0, VOCAB, (BATCH, SEQ)),),
                        transformer_oracle(), atol=1e-6),
    "causal_transformer": Case(lambda: transformer_design(causal=True),
                               lambda: (torch.randint(0, VOCAB, (BATCH, SEQ)),),
                               transformer_oracle(causal=True), atol=1e-6),
    "learned_positions_transformer": Case(
        lambda: transformer_design(positions="learned"),
        lambda: (torch.randint(0, VOCAB, (BATCH, SEQ)),), transformer_oracle(positions="learned")),
    "concat": Case(concat_design, lambda: (randn(4),), ConcatOracle),
    "two_in_two_out": Case(two_in_two_out_design, lambda: (randn(4), randn(3)),
                           TwoInTwoOutOracle),
}


def randomize_buffers(module: nn.Module) -> None:
    """Give BatchNorm running statistics non-trivial values so evaluation mode tests them."""
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            sub.running_mean.uniform_(-0.5, 0.5)
            sub.running_var.uniform_(0.5, 2.0)


def as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def run_both(case: Case, train: bool):
    """Compile the design, give the oracle its weights, run both in float64; returns the pair."""
    torch.manual_seed(0)
    compiled = compile_model(case.build()).double()
    randomize_buffers(compiled)
    oracle = case.oracle().double()
    oracle.load_state_dict(compiled.state_dict())  # strict: same names, same shapes
    compiled.train(train)
    oracle.train(train)
    return compiled, oracle


def forward_backward(module: nn.Module, inputs: tuple[torch.Tensor, ...], weights):
    xs = tuple(x.double().requires_grad_() if x.is_floating_point() else x.clone()
               for x in inputs)
    outs = as_tuple(module(*xs))
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    loss.backward()
    return outs, [x.grad for x in xs if x.is_floating_point()]


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", list(CASES))
def test_compiled_model_equals_hand_written_oracle(name, train):
    case = CASES[name]
    compiled, oracle = run_both(case, train)
    inputs = case.inputs()
    with torch.no_grad():
        probe = as_tuple(oracle(*(x.double() if x.is_floating_point() else x for x in inputs)))
    weights = [torch.randn_like(o) for o in probe]
    oracle.load_state_dict(compiled.state_dict())  # undo running-stat updates of the probe
    tol = {} if case.atol is None else {"atol": case.atol, "rtol": 1e-6}

    outs, in_grads = forward_backward(compiled, inputs, weights)
    oracle_outs, oracle_in_grads = forward_backward(oracle, inputs, weights)

    assert len(outs) == len(oracle_outs)
    for got, want in zip(outs, oracle_outs):
        assert got.dtype == torch.float64
        assert_close(got, want, **tol)
    for got, want in zip(in_grads, oracle_in_grads):
        assert got is not None and got.abs().sum() > 0
        assert_close(got, want, **tol)
    oracle_params = dict(oracle.named_parameters())
    compiled_params = dict(compiled.named_parameters())
    assert compiled_params.keys() == oracle_params.keys()
    for key, param in compiled_params.items():
        assert param.grad is not None, key
        assert_close(param.grad, oracle_params[key].grad, **tol, msg=lambda m: f"{key}: {m}")
    # in training mode BatchNorm updates its running statistics the same way
    assert_close(compiled.state_dict(), oracle.state_dict(), **tol)


def test_bidirectional_last_step_is_final_forward_and_first_backward_state():
    """The wrapper's h_n-based selection equals slicing the full sequence output by hand."""
    torch.manual_seed(1)
    seq = compile_model(recurrent_design(bidirectional=True, return_sequences=True))
    last = compile_model(recurrent_design(bidirectional=True))
    last.load_state_dict(seq.state_dict())
    x = randn(5, 3)
    full = seq(x)
    assert full.shape == (BATCH, 5, 8)
    assert_close(last(x), torch.cat([full[:, -1, :4], full[:, 0, 4:]], dim=-1))
    assert not torch.allclose(full[:, -1, 4:], full[:, 0, 4:])  # the distinction matters


@pytest.mark.parametrize("name", ["causal_attention", "causal_transformer"])
def test_causal_models_ignore_later_positions(name):
    torch.manual_seed(2)
    case = CASES[name]
    model = compile_model(case.build()).eval()
    (x,) = case.inputs()
    changed = x.clone()
    if x.dtype == torch.int64:
        changed[:, 3:] = (changed[:, 3:] + 1) % VOCAB
    else:
        changed[:, 3:] = 0.0
    before, after = model(x), model(changed)
    assert_close(before[:, :3], after[:, :3])
    assert not torch.allclose(before[:, 3:], after[:, 3:])
    # and without the causal setting the early positions do see the change
    design = case.build()
    node = "attn" if "attn" in design.nodes else "enc"
    design.set_param(node, "causal", False)
    free = compile_model(design).eval()
    free.load_state_dict(model.state_dict())
    assert not torch.allclose(free(x)[:, :3], free(changed)[:, :3])


def test_sinusoidal_positional_encoding_matches_the_textbook_table():
    torch.manual_seed(3)
    model = compile_model(transformer_design())
    assert model.pos.pe.shape == (16, D_MODEL)
    assert_close(model.pos.pe.double(), sinusoid_table(16, D_MODEL), atol=1e-6, rtol=0)
    assert "pos.pe" not in model.state_dict()  # a fixed table is rebuilt, not stored


# --- structure of the compiled module ----------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_parameter_count_and_state_dict_names_follow_the_design(name):
    design = CASES[name].build()
    compiled = compile_model(design)
    analysis = infer(design)
    assert sum(p.numel() for p in compiled.parameters()) == analysis.total_params
    assert sum(p.numel() for p in compiled.parameters() if p.requires_grad) \
        == analysis.trainable_params
    for node_id, result in analysis.nodes.items():
        own = sum(p.numel() for key, p in compiled.named_parameters()
                  if key.split(".")[0] == node_id)
        assert own == result.params, node_id
    keys = compiled.state_dict().keys()
    assert keys and all(key.split(".")[0] in design.nodes for key in keys)
    layer_ids = [n.id for n in design.nodes.values() if n.type not in ("Input", "Output")]
    assert sorted(child for child, _ in compiled.named_children()) == sorted(layer_ids)


def test_forward_takes_inputs_and_returns_outputs_in_file_order():
    design = two_in_two_out_design()
    compiled = compile_model(design)
    assert [n for n, _ in compiled.layerlab_inputs] == ["features", "extra"]
    assert [t.shape for _, t in compiled.layerlab_inputs] == [(4,), (3,)]
    main, aux = compiled(randn(4), randn(3))
    assert main.shape == (BATCH, 2) and aux.shape == (BATCH, 1)
    assert "def forward(self, features, extra)" in compiled.code


def test_inputs_declared_in_reverse_are_still_taken_in_file_order():
    m = GraphModel(name="reverse")
    m.add_node("Input", {"shape": [2]}, node_id="second_used")
    m.add_node("Input", {"shape": [3]}, node_id="first_used")
    m.add_node("Linear", {"out_features": 2}, node_id="lin")
    m.add_node("Concat", node_id="cat")
    m.add_node("Output", node_id="out")
    chain(m, "first_used", "lin", "cat")
    m.connect("second_used", "cat")
    m.connect("cat", "out")
    compiled = compile_model(m)
    assert "def forward(self, second_used, first_used)" in compiled.code
    a, b = randn(2), randn(3)
    assert_close(compiled(a, b), torch.cat([compiled.lin(b), a], dim=1))


def test_trainable_false_freezes_the_node():
    design = mlp_design()
    design.set_param("fc1", "trainable", False)
    compiled = compile_model(design)
    assert not any(p.requires_grad for p in compiled.fc1.parameters())
    assert all(p.requires_grad for p in compiled.fc2.parameters())
    assert infer(design).trainable_params == sum(p.numel() for p in compiled.fc2.parameters())
    compiled(randn(6)).sum().backward()
    assert compiled.fc1.weight.grad is None and compiled.fc2.weight.grad is not None


def test_init_schemes_are_applied():
    design = mlp_design()
    design.set_param("fc1", "weight_init", "zeros")
    design.set_param("fc2", "weight_init", "orthogonal")
    torch.manual_seed(4)
    compiled = compile_model(design)
    assert not compiled.fc1.weight.any() and not compiled.fc1.bias.any()
    w = compiled.fc2.weight  # (3, 8): orthonormal rows
    assert_close(w @ w.T, torch.eye(3), atol=1e-5, rtol=0)
    assert not compiled.fc2.bias.any()
    lstm = recurrent_design(bidirectional=True)
    lstm.set_param("rnn", "weight_init", "zeros")
    assert not any(p.any() for p in compile_model(lstm).parameters())


def test_default_init_is_pytorchs_own():
    torch.manual_seed(5)
    compiled = compile_model(mlp_design())
    torch.manual_seed(5)
    fresh = nn.Linear(6, 8)
    assert torch.equal(compiled.fc1.weight, fresh.weight)
    assert torch.equal(compiled.fc1.bias, fresh.bias)


def test_nodes_not_feeding_an_output_are_left_out():
    design = mlp_design()
    design.add_node("Input", {"shape": [2]}, node_id="unused_in")
    design.add_node("Linear", {"out_features": 4}, node_id="dangling")
    design.add_node("Linear", {"out_features": 4}, node_id="orphan")
    design.connect("act", "dangling")
    design.connect("unused_in", "orphan")
    analysis = infer(design)
    assert analysis.valid
    assert {p.node for p in analysis.warnings} == {"unused_in", "dangling", "orphan"}
    compiled = compile_model(design)
    names = {name for name, _ in compiled.named_modules()}
    assert not names & {"dangling", "orphan"}
    assert not any(k.startswith(("dangling.", "orphan.")) for k in compiled.state_dict())
    assert "def forward(self, x)" in compiled.code
    assert [n for n, _ in compiled.layerlab_inputs] == ["x"]
    assert compiled(randn(6)).shape == (BATCH, 3)


def test_a_design_with_errors_raises_compile_error_listing_them():
    m = GraphModel(name="broken")
    m.add_node("Input", {"shape": [1, 4, 4]}, node_id="x")
    m.add_node("Conv2d", {"out_channels": 2, "kernel_size": 7, "padding": "valid"},
               node_id="too_big")
    m.add_node("Linear", {"out_features": 2}, node_id="after")
    chain(m, "x", "too_big", "after")
    with pytest.raises(CompileError) as info:
        compile_model(m)
    problems = info.value.problems
    assert [p.node for p in problems] == ["too_big", None]
    assert "kernel 7" in problems[0].message and "no Output" in problems[1].message
    text = str(info.value)
    assert "2 error(s)" in text and "too_big" in text and "no Output" in text
    assert all(p.severity == "error" for p in problems)


def test_warnings_alone_do_not_block_compiling():
    m = GraphModel(name="warned")
    m.add_node("Input", {"shape": [2, 4, 6]}, node_id="x")
    m.add_node("Linear", {"out_features": 2}, node_id="fc")  # acts on the last dim only: warns
    m.add_node("Output", node_id="out")
    chain(m, "x", "fc", "out")
    analysis = infer(m)
    assert analysis.valid and [p.node for p in analysis.warnings] == ["fc"]
    assert compile_model(m)(randn(2, 4, 6)).shape == (BATCH, 2, 4, 2)


def test_generated_code_is_readable():
    compiled = compile_model(lenet_design())
    code = compiled.code
    assert "def forward(self, x)" in code
    for node_id in ("conv1", "bn1", "pool1", "flat", "fc"):
        assert f"self.{node_id}(" in code
    assert code.index("self.conv1(") < code.index("self.bn1(") < code.index("self.fc(")
    assert type(compiled).__name__ == "LeNet"
    # a port after an open optional one is passed by name
    kwargs_code = compile_model(value_only_attention_design()).code
    assert re.search(r"self\.attn\(q, value ?= ?v\)", kwargs_code)


@pytest.mark.parametrize("name, expected", [
    ("two heads", "TwoHeads"), ("my 2nd net!", "My2ndNet"), ("3d unet", "Net3dUnet"),
    ("", "Network"), ("x'); import os; ('", "XImportOs"), ("class", "Class")])
def test_class_name_comes_from_the_design_name(name, expected):
    assert class_name_for(GraphModel(name=name)) == expected


@pytest.mark.parametrize("name", ["LSTM", "add", "concat", "multihead attention", "value error",
                                  "init_weights", "Reshape"])
def test_class_name_never_shadows_a_helper_or_builtin(name):
    import builtins

    from runtime.layers import modules
    result = class_name_for(GraphModel(name=name))
    assert result.isidentifier()
    assert not hasattr(builtins, result) and not hasattr(modules, result)


# --- several outputs from one node -----------------------------------------------------------

def _attention_with_weights_rule(ctx):
    q, k = ctx.inputs["query"], ctx.inputs["key"]
    dim = q.shape[-1]
    return Inference({"output": q, "weights": TensorInfo((q.shape[0], k.shape[0]))},
                     4 * dim * dim + 4 * dim)


ATTENTION_WITH_WEIGHTS = LayerSpec(
    "AttentionWithWeights", "Attention with weights", "Attention",
    "Self-contained test layer: plain nn.MultiheadAttention returning (output, weights).",
    (ParamSpec("num_heads", "int", 2, "Heads.", minimum=1),),
    _attention_with_weights_rule,
    lambda ctx: ModuleRecipe(nn.MultiheadAttention, {"embed_dim": ctx.inputs["query"].shape[-1],
                                                     "num_heads": ctx["num_heads"],
                                                     "batch_first": True}),
    inputs=(PortSpec("query"), PortSpec("key"), PortSpec("value")),
    outputs=(PortSpec("output"), PortSpec("weights")), has_weights=True)


def multi_output_design() -> GraphModel:
    from runtime.registry import REGISTRY
    registry = LayerRegistry()
    for spec in REGISTRY:
        registry.register(spec)
    registry.register(ATTENTION_WITH_WEIGHTS)
    m = GraphModel(registry, name="attention maps")
    m.add_node("Input", {"shape": [5, 8]}, node_id="x")
    m.add_node("AttentionWithWeights", node_id="attn")
    m.add_node("Output", node_id="values")
    m.add_node("Output", node_id="maps")
    for port in ("query", "key", "value"):
        m.connect("x", "attn", dst_port=port)
    m.connect("attn", "maps", src_port="weights")
    m.connect("attn", "values", src_port="output")
    return m


def test_a_node_with_several_outputs_feeds_each_port():
    torch.manual_seed(6)
    compiled = compile_model(multi_output_design()).eval()
    x = randn(5, 8)
    values, maps = compiled(x)
    want_values, want_maps = compiled.attn(x, x, x)
    assert_close(values, want_values)
    assert_close(maps, want_maps)
    assert maps.shape == (BATCH, 5, 5)
    # plain indexing, so the code needs no helper function when exported
    assert "attn[0]" in compiled.code and "attn[1]" in compiled.code
