"""Recurrent layers: RNN, LSTM and GRU (batch first, last step or all steps)."""
from __future__ import annotations

from ..lazy import lazy_import
from ..specs import Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec, TensorInfo, fail
from .rules import reshape_hint

# torch is imported when the first module is built, not to read the catalogue
modules = lazy_import("runtime.layers.modules", globals(), "modules")

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _recurrent_rule(kind: str):
    gates = _GATES[kind]

    def rule(ctx: LayerContext) -> Inference:
        x = ctx.x
        if len(x.shape) != 2:
            hint = (f"insert a Reshape to ({x.shape[0]}, 1) to read it as {x.shape[0]} steps of "
                    "one feature" if len(x.shape) == 1 else reshape_hint(x, 2))
            fail(f"{kind} expects (batch, time, features) but receives {x.describe()}: {hint}")
        steps, features = x.shape
        hidden, layers = ctx["hidden_size"], ctx["num_layers"]
        dirs = 2 if ctx["bidirectional"] else 1
        if ctx["dropout"] > 0 and layers == 1:
            ctx.warn(f"{kind} dropout acts between stacked layers, so it does nothing with "
                     "num_layers=1: raise num_layers or use a Dropout node")
        params = macs = 0
        for layer in range(layers):
            fan_in = features if layer == 0 else hidden * dirs
            params += dirs * gates * (hidden * fan_in + hidden * hidden + 2 * hidden)
            macs += dirs * gates * hidden * (fan_in + hidden)
        out = (steps, hidden * dirs) if ctx["return_sequences"] else (hidden * dirs,)
        return Inference({"output": TensorInfo(out)}, params, 2 * steps * macs)
    return rule


def _recurrent_build(kind: str):
    def build(ctx: LayerContext) -> ModuleRecipe:
        kwargs = {"input_size": ctx.x.shape[-1], "hidden_size": ctx["hidden_size"],
                  "num_layers": ctx["num_layers"], "bidirectional": ctx["bidirectional"],
                  "dropout": ctx["dropout"], "return_sequences": ctx["return_sequences"]}
        if kind == "RNN":
            kwargs["nonlinearity"] = ctx["nonlinearity"]
        return ModuleRecipe(getattr(modules, kind), kwargs)
    return build


def _recurrent_params(kind: str) -> tuple[ParamSpec, ...]:
    params = (
        ParamSpec("hidden_size", "int", 32, "Size of the hidden state (per direction).",
                  minimum=1),
        ParamSpec("num_layers", "int", 1, "Number of stacked recurrent layers.", minimum=1,
                  maximum=16),
        ParamSpec("bidirectional", "bool", False, "Also read the sequence backwards and "
                  "concatenate both directions' outputs."),
        ParamSpec("dropout", "float", 0.0, "Dropout between stacked layers (needs num_layers > 1).",
                  minimum=0.0, maximum=1.0, exclusive_maximum=True),
        ParamSpec("return_sequences", "bool", False, "true: output every time step (batch, time, "
                  "hidden); false: only the final state (batch, hidden)."),
    )
    if kind == "RNN":
        params += (ParamSpec("nonlinearity", "choice", "tanh", "Activation of the hidden state.",
                             choices=("tanh", "relu")),)
    return params


_EXPLANATIONS = {
    "RNN": "Reads a sequence step by step, updating a hidden state from the previous state and the "
           "current input. Simple, but its gradients vanish over long sequences: compare it with "
           "LSTM and GRU on long-range tasks.",
    "LSTM": "A recurrent layer with a memory cell and input, forget and output gates that decide "
            "what to keep, so information and gradients survive over long sequences. Use it for "
            "text, time series and any sequence with long-range dependencies.",
    "GRU": "A lighter gated recurrent layer with update and reset gates, often as good as an LSTM "
           "with fewer parameters. Use it for sequences when an LSTM is slow or overfits.",
}

SPECS = [
    LayerSpec(kind, kind, "Recurrent", _EXPLANATIONS[kind], _recurrent_params(kind),
              _recurrent_rule(kind), _recurrent_build(kind), has_weights=True,
              aliases={"RNN": ("SimpleRNN",), "LSTM": (), "GRU": ()}[kind],
              key_params=("hidden_size", "num_layers", "bidirectional", "return_sequences"))
    for kind in ("RNN", "LSTM", "GRU")
]
