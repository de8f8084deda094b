"""Activation functions as nodes."""
from __future__ import annotations

from ..lazy import lazy_import
from ..specs import Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec
from .rules import batch_dim, numel

# torch is imported when the first module is built, not to read the catalogue
nn = lazy_import("torch.nn", globals(), "nn")


def _elementwise(ctx: LayerContext) -> Inference:
    return Inference({"output": ctx.x}, 0, numel(ctx.x))


def _softmax_rule(kind: str):
    def rule(ctx: LayerContext) -> Inference:
        batch_dim(ctx["dim"], ctx.x, kind)
        return Inference({"output": ctx.x}, 0, 3 * numel(ctx.x))
    return rule


def _activation(type_id: str, explanation: str, params: tuple[ParamSpec, ...] = (),
                aliases: tuple[str, ...] = (), rule=_elementwise, **facts) -> LayerSpec:
    names = [p.name for p in params]

    def build(ctx: LayerContext) -> ModuleRecipe:
        return ModuleRecipe(getattr(nn, type_id), {n: ctx[n] for n in names})
    return LayerSpec(type_id, type_id, "Activation", explanation, params, rule, build,
                     aliases=aliases, key_params=tuple(names), **facts)


_DIM = ParamSpec("dim", "int", -1, "Dimension the probabilities sum to 1 over (PyTorch numbering: "
                 "the batch is 0, -1 is the last).")

SPECS = [
    _activation("ReLU", "Passes positive values and zeroes negative ones. The default choice for "
                "hidden layers; watch for 'dead' units that output zero for every input.",
                output_range=(0.0, None), units_can_die=True),
    _activation("LeakyReLU", "Like ReLU but lets a small slope through for negative inputs, so "
                "units never die completely. Use it when many ReLU units go dead.",
                (ParamSpec("negative_slope", "float", 0.01, "Slope for negative inputs.",
                           minimum=0.0, maximum=1.0),)),
    _activation("ELU", "Like ReLU for positive inputs, with a smooth exponential curve towards "
                "-alpha for negative ones. Use it for faster convergence in deep MLPs.",
                (ParamSpec("alpha", "float", 1.0, "Value the output approaches for very negative "
                           "inputs (as -alpha).", minimum=0.0),)),
    _activation("GELU", "Weights each input by how likely it is to be positive, a smooth ReLU. "
                "The standard activation inside transformers.",
                (ParamSpec("approximate", "choice", "none", "Use the faster tanh approximation.",
                           choices=("none", "tanh")),)),
    _activation("SiLU", "Multiplies each input by its sigmoid (also called Swish), a smooth, "
                "non-monotonic ReLU. Use it in modern CNNs such as EfficientNet.",
                aliases=("Swish",)),
    _activation("Sigmoid", "Squashes values into (0, 1). Use it for probabilities of independent "
                "yes/no outputs; in deep hidden stacks it saturates and gradients vanish.",
                output_range=(0.0, 1.0), saturation=(0.01, 0.99)),
    _activation("Tanh", "Squashes values into (-1, 1), centred on zero. Common inside recurrent "
                "networks; like sigmoid it saturates for large inputs.",
                output_range=(-1.0, 1.0), saturation=(-0.99, 0.99)),
    _activation("Softmax", "Turns a vector of scores into probabilities that sum to 1. Use it "
                "to read out class probabilities; for training with cross-entropy leave it out, "
                "as the loss applies it itself.", (_DIM,), rule=_softmax_rule("Softmax"),
                output_range=(0.0, 1.0)),
    _activation("LogSoftmax", "The logarithm of softmax, computed stably. Pair it with the NLL "
                "loss for classification.", (_DIM,), rule=_softmax_rule("LogSoftmax"),
                output_range=(None, 0.0)),
]
