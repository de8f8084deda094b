"""Energy-based and generative layers: the restricted Boltzmann machine."""
from __future__ import annotations

from ..lazy import lazy_import
from ..specs import Inference, LayerContext, LayerSpec, ModuleRecipe, ParamSpec, TensorInfo, fail

# torch is imported when the first module is built, not to read the catalogue
modules = lazy_import("runtime.layers.modules", globals(), "modules")

VISIBLE_UNITS = ("bernoulli", "gaussian")


def _rbm_rule(ctx: LayerContext) -> Inference:
    x = ctx.x
    if len(x.shape) != 1:
        fail(f"RBM reads one vector per sample, got {x.describe()}: insert a Flatten before it")
    visible, hidden = x.shape[0], ctx["hidden"]
    return Inference({"output": TensorInfo((hidden,))}, visible * hidden + visible + hidden,
                     2 * visible * hidden)


def _rbm_build(ctx: LayerContext) -> ModuleRecipe:
    return ModuleRecipe(modules.RBM, {"visible": ctx.x.shape[0], "hidden": ctx["hidden"],
                                      "gaussian_visible": ctx["visible_units"] == "gaussian"})


SPECS = [
    LayerSpec(
        "RBM", "Restricted Boltzmann machine", "Generative",
        "Visible units (its input) and binary hidden units joined by symmetric weights, with no "
        "links inside a layer; it passes on p(h = 1 | v), the hidden units' probabilities. "
        "Trained by contrastive divergence (training mode contrastive_divergence) to model its "
        "data; stacked, RBMs make a deep belief net.",
        (ParamSpec("hidden", "int", 64, "Number of hidden units.", minimum=1),
         ParamSpec("visible_units", "choice", "bernoulli", "Bernoulli visible units model values "
                   "in [0, 1] (pixels); Gaussian ones model standardised real values.",
                   choices=VISIBLE_UNITS)),
        _rbm_rule, _rbm_build, has_weights=True, aliases=("RestrictedBoltzmannMachine",),
        key_params=("hidden",)),
]
