"""Trying a trained model on one input: the prediction and every layer's output for it.

`Predictor` compiles a design, loads a checkpoint's weights into it (every tensor must fit) and
runs single samples on the CPU in evaluation mode, catching each layer's output with forward
hooks so that a panel can show what each layer does to the input. `SampleGenerator` does the
same for a GAN's generator, which has no input to answer: it makes new samples from noise.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import networkx as nx

from .errors import CompileError, LayerLabError, TrainingError
from .graph import GraphModel
from .lazy import lazy_import, no_grad
from .names import INPUTS_ATTRIBUTE
from .training.checkpoints import load_checkpoint

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")
nn = lazy_import("torch.nn", globals(), "nn")


class InferenceError(LayerLabError):
    """A model that cannot be tried: no checkpoint, weights that do not fit, a bad input."""


@dataclass
class Prediction:
    """What the model makes of one sample.

    Attributes:
        output: The Output's values for the sample (batch dimension removed).
        probabilities: Per class, for classification losses (softmax of scores, sigmoid of
            yes/no logits); None for regression.
        predicted: The most likely class (classification) or None.
        activations: Per node id, that node's output for the sample (batch dimension removed,
            detached CPU tensors), in the order the forward pass ran them.
        attention: Per attention node id, its attention weights for the sample, shaped
            (heads, query positions, key positions): where each position looked.
        sample: The sample as the Input gave it to the network (shape and dtype of the Input).
    """

    output: torch.Tensor
    probabilities: torch.Tensor | None = None
    predicted: int | None = None
    activations: dict[str, torch.Tensor] = field(default_factory=dict)
    attention: dict[str, torch.Tensor] = field(default_factory=dict)
    sample: torch.Tensor | None = None


class _Trained:
    """A trained design's loading from a checkpoint or a run folder, and its validation data
    (`Predictor` and `SampleGenerator`). Subclasses take (design, state) and set `design` and
    `folder`."""

    design: GraphModel
    folder: Path | None = None

    @classmethod
    def from_checkpoint(cls, design: GraphModel, path: str | os.PathLike) -> Self:
        """The design with a checkpoint's weights; `InferenceError` when they do not fit."""
        try:
            state = load_checkpoint(path)
        except TrainingError as err:
            raise InferenceError(str(err)) from None
        weights = state.get("model")
        if not isinstance(weights, dict):
            raise InferenceError(f"{path} holds no model weights")
        return cls(design, weights)

    @classmethod
    def from_run(cls, folder: str | os.PathLike, which: str = "best") -> Self:
        """The run folder's design as trained with its best (else last) checkpoint."""
        from .runs import RunError, read_run

        try:
            info = read_run(folder)
            design = info.design()
        except RunError as err:
            raise InferenceError(str(err)) from None
        except Exception as err:  # a design file that no longer loads
            raise InferenceError(f"cannot read the design of run {folder}: {err}") from None
        path = info.checkpoint(which)
        if path is None:
            raise InferenceError(f"run {info.name} has no checkpoint (it ended before the "
                                 "first epoch was saved)")
        predictor = cls.from_checkpoint(design, path)
        predictor.folder = Path(folder)
        return predictor

    def validation_data(self) -> tuple[Any, torch.Tensor]:
        """The run's dataset and its validation indices, split as the trainer split it.

        Raises:
            InferenceError: the dataset cannot be loaded (the message says why).
        """
        from .data import training_split
        from .errors import DatasetError, TrainingConfigError
        from .training.config import parse_training
        from .training.modes import training_data

        base_dir = None
        if self.folder is not None:
            from .runs import read_run

            design_path = read_run(self.folder).meta.get("design_path")
            base_dir = Path(design_path).parent if design_path else None
        try:
            cfg = parse_training(self.design.training)
            dataset = training_data(cfg, base_dir)
            _, val_idx = training_split(dataset, cfg.dataset, cfg["seed"])
        except (DatasetError, TrainingConfigError) as err:
            raise InferenceError(f"cannot load the run's dataset: {err}") from None
        if len(val_idx) == 0:
            val_idx = torch.arange(len(dataset))
        return dataset, val_idx


class Predictor(_Trained):
    """A trained design ready to answer single samples (CPU, evaluation mode).

    Args:
        design: The design exactly as trained.
        state: The model's state_dict (keys ``node_id.param``).
    """

    def __init__(self, design: GraphModel, state: dict[str, torch.Tensor]):
        self.design = design
        try:
            from .compile import compile_model  # imports torch

            self.model = compile_model(design)
        except CompileError as err:
            raise InferenceError(f"the design cannot be compiled: {err}") from None
        load_strict(self.model, state)
        self.model.eval()
        inputs = getattr(self.model, INPUTS_ATTRIBUTE, None) or []
        outputs = [n.id for n in design.nodes.values() if n.type == "Output"]
        if len(inputs) > 1 or len(outputs) > 1:
            raise InferenceError(
                f"Try it draws one input and shows one answer; this design has "
                f"{len(inputs)} Inputs ({', '.join(i for i, _ in inputs)}) and {len(outputs)} "
                f"Outputs ({', '.join(outputs)}): the Results tab shows how each Output does "
                "on the validation data")
        self.input_id = inputs[0][0] if inputs else None
        self.sample_shape: tuple[int, ...] = tuple(inputs[0][1].shape) if inputs else ()
        self.input_dtype = (torch.int64 if inputs and "int" in inputs[0][1].dtype
                            else torch.float32)
        training = design.training if isinstance(design.training, dict) else {}
        self.loss: str = training.get("loss", "cross_entropy")
        self.folder: Path | None = None

    # --- answering ------------------------------------------------------------------------
    def as_input(self, x: Any) -> torch.Tensor:
        """One sample as a tensor of the Input's shape and dtype (lists and arrays welcome)."""
        t = torch.as_tensor(x).to(self.input_dtype)
        if self.sample_shape and tuple(t.shape) != self.sample_shape:
            if t.numel() != _numel(self.sample_shape):
                raise InferenceError(f"the Input takes one sample of shape {self.sample_shape}, "
                                     f"not {tuple(t.shape)}")
            t = t.reshape(self.sample_shape)
        return t

    @no_grad
    def predict(self, x: Any) -> Prediction:
        """The model's answer for ONE sample, with every layer's output for it."""
        sample = self.as_input(x).unsqueeze(0)
        activations: dict[str, torch.Tensor] = {}
        attention: dict[str, torch.Tensor] = {}
        hooks = [module.register_forward_hook(_catcher(name, activations, attention))
                 for name, module in self.model.named_children()]
        try:
            output = self.model(sample)
        finally:
            for hook in hooks:
                hook.remove()
        if isinstance(output, tuple):
            output = output[0]
        output = output.detach().float().cpu()[0]
        return Prediction(output, *self._probabilities(output), activations, attention,
                          sample[0].detach().cpu())

    def input_rbm(self) -> str | None:
        """The RBM that reads the Input, directly or through a Flatten, if there is one (it
        can redraw and dream)."""
        if self.input_id is None:
            return None
        fed = [e.dst for e in self.design.edges if e.src == self.input_id]
        fed += [e.dst for e in self.design.edges
                if e.src in fed and self.design.nodes[e.src].type == "Flatten"]
        return next((n for n in fed if self.design.nodes[n].type == "RBM"), None)

    @no_grad
    def dream(self, x: Any, steps: tuple[int, ...] = (1, 5, 20, 100, 500),
              seed: int = 0) -> list[tuple[int, torch.Tensor]]:
        """What the Input's RBM makes of ONE sample: block Gibbs sampling started from it, the
        visible units' means after each number of `steps` (1 step is its reconstruction, long
        chains wander towards what the model believes data look like). Seeded: the same input
        dreams the same. InferenceError when the Input feeds no RBM."""
        node = self.input_rbm()
        if node is None:
            raise InferenceError("only an RBM reading the Input can dream: this design has none")
        rbm = getattr(self.model, node)
        v = self.as_input(x).reshape(1, -1).float()
        with torch.random.fork_rng(devices=[]):  # its own stream (the model is on the CPU)
            torch.manual_seed(seed)
            out, done = [], 0
            for wanted in sorted(set(steps)):
                if wanted > done + 1:
                    v = rbm.gibbs(v, wanted - done - 1)
                mean = rbm.visible_mean(torch.bernoulli(rbm(v)))  # the last step's mean
                v = mean + torch.randn_like(mean) if rbm.gaussian_visible else torch.bernoulli(mean)
                done = wanted
                out.append((wanted, mean[0].reshape(self.sample_shape).cpu()))
            return out

    def _probabilities(self, output: torch.Tensor) -> tuple[torch.Tensor | None, int | None]:
        from .training.losses import LOSSES

        spec = LOSSES.get(self.loss)
        task = spec.task if spec else "classification"
        if task in ("classification", "distribution"):
            scores = output.reshape(-1, output.shape[-1])[-1] if output.dim() else output
            if self.loss == "nll":  # log-probabilities already
                probs = scores.exp()
            else:
                probs = torch.softmax(scores, dim=-1)
            return probs, int(probs.argmax())
        if task == "multilabel":
            probs = torch.sigmoid(output.reshape(-1))
            if probs.numel() == 1:  # one yes/no answer: P(no), P(yes)
                probs = torch.cat([1 - probs, probs])
            return probs, int(probs.argmax())
        return None, None


class SampleGenerator(_Trained):
    """A trained GAN's generator, ready to make new samples from noise (CPU, evaluation mode).

    Args:
        design: The design as trained (networks `generator` and `discriminator`).
        state: The joined networks' state_dict (keys ``node_id.param``).
    """

    def __init__(self, design: GraphModel, state: dict[str, torch.Tensor]):
        from .compile import compile_joined

        self.design = design
        if "generator" not in design.networks():
            raise InferenceError("this design has no network named generator to make samples")
        try:
            model = compile_joined(design)
        except CompileError as err:
            raise InferenceError(f"the design cannot be compiled: {err}") from None
        load_strict(model, state)
        model.eval()
        self.model = model
        self.generator = model.networks["generator"]
        inputs = getattr(self.generator, INPUTS_ATTRIBUTE)
        self.input_id = inputs[0][0]
        self.noise_shape: tuple[int, ...] = tuple(inputs[0][1].shape)
        self.folder = None

    @no_grad
    def generate(self, n: int, seed: int = 0) -> torch.Tensor:
        """`n` samples from `n` noise vectors drawn with `seed` (the same seed, the same
        samples), on the CPU."""
        z = torch.randn((n, *self.noise_shape), generator=torch.Generator().manual_seed(seed))
        return self.generator(z).float()


def is_adversarial(design: GraphModel) -> bool:
    """Whether the design trains as a GAN (training mode adversarial)."""
    training = design.training if isinstance(design.training, dict) else {}
    mode = training.get("mode")
    return isinstance(mode, dict) and mode.get("name") == "adversarial"


@dataclass(frozen=True)
class Filters:
    """What the units of the first weighted layer respond to, as small pictures.

    Attributes:
        node: That layer's node id.
        images: (n, height, width): a convolution's kernels (averaged over input channels), or
            each unit's incoming weights laid out as the input picture (a Dense layer or an RBM
            reading a flattened image).
        total: How many units the layer has (`images` holds at most the `limit` asked for).
    """

    node: str
    images: torch.Tensor
    total: int


def first_filters(design: GraphModel, model: nn.Module, limit: int = 32) -> Filters | None:
    """The filters of the first weighted layer the Input feeds directly, when they are pictures:
    a Conv2d's kernels, or the weight rows of a Linear or RBM whose input is a (flattened) image
    or a square number of values in a picture-like layout. None otherwise."""
    inputs = [n.id for n in design.nodes.values() if n.type == "Input"]
    if len(inputs) != 1:
        return None
    shape = tuple(design.nodes[inputs[0]].params.get("shape") or ())
    first = {e.dst for e in design.edges if e.src == inputs[0]}
    seen = set()
    for node in design.topological_order():  # skip a Flatten straight after the Input
        if node in first and design.nodes[node].type == "Flatten":
            first |= {e.dst for e in design.edges if e.src == node}
        if node in first and node not in seen:
            seen.add(node)
            weight = getattr(getattr(model, node, None), "weight", None)
            if weight is None:
                continue
            images = _pictures(design.nodes[node].type, weight.detach().float(), shape)
            if images is None:
                return None
            return Filters(node, images[:limit].cpu(), int(images.shape[0]))
    return None


def _pictures(type_id: str, weight: torch.Tensor, shape: tuple) -> torch.Tensor | None:
    if type_id == "Conv2d" and weight.dim() == 4:
        return weight.mean(dim=1)
    if type_id not in ("Linear", "RBM") or weight.dim() != 2:
        return None
    fan_in = weight.shape[1]
    if len(shape) == 3 and shape[0] * shape[1] * shape[2] == fan_in:  # a flattened image
        return weight.reshape(-1, *shape).mean(dim=1)
    side = math.isqrt(fan_in)
    if len(shape) == 1 and side >= 4 and side * side == fan_in:  # e.g. the flattened digits
        return weight.reshape(-1, side, side)
    return None


def nodes_matching(trained: GraphModel, model: GraphModel) -> set[str]:
    """Ids of `model`'s nodes that still compute what they computed in `trained`.

    A node matches when it has the same type, the same parameters (those that only steer
    training, `WEIGHT_PARAMS`, aside) and the same inputs, and every node feeding it matches too:
    only then does a prediction of `trained` describe what the node does (the canvas shows layer
    outputs on these nodes alone).
    """
    from .design_diff import diff
    from .specs import WEIGHT_PARAMS

    training_only = {p.name for p in WEIGHT_PARAMS}
    changes = diff(trained, model)
    changed = set(changes.added) | {r.id for r in changes.retyped} | {
        p.id for p in changes.reparametrised if p.param not in training_only} | {
        e.dst for e in (*changes.edges_added, *changes.edges_removed)}
    try:
        order = model.topological_order()
    except nx.NetworkXUnfeasible:  # a cycle: no forward pass runs through this design
        return set()
    matching: set[str] = set()
    for node_id in order:
        if node_id not in changed and all(
                src in matching for src in model.graph.predecessors(node_id)):
            matching.add(node_id)
    return matching


def _catcher(name: str, into: dict[str, torch.Tensor], attention: dict[str, torch.Tensor]):
    def hook(module: nn.Module, args, output) -> None:
        if isinstance(output, tuple):  # recurrent layers: (outputs, state)
            output = output[0]
        if isinstance(output, torch.Tensor):
            into[name] = output.detach().float().cpu()[0]
        weights = _attention_weights(module, args)
        if weights is not None:
            attention[name] = weights
    return hook


def _attention_weights(module: nn.Module, args: tuple) -> torch.Tensor | None:
    """An attention layer's weights for the sample it just saw, (heads, L, S), or None.

    LayerLab's attention layers ask PyTorch not to return the weights (training is faster
    without them) and the encoder layer takes a fused path in evaluation mode, so the
    attention is recomputed here from the layer's own input with the same weights and mask.
    """
    from .layers import modules

    if isinstance(module, modules.MultiheadAttention):
        query = args[0]
        key = args[1] if len(args) > 1 and args[1] is not None else query
        value = args[2] if len(args) > 2 and args[2] is not None else key
        attn = module
    elif isinstance(module, modules.TransformerEncoderLayer):
        query = key = value = module.norm1(args[0]) if module.norm_first else args[0]
        attn = module.self_attn
    else:
        return None
    mask = (modules.causal_mask(query.shape[1], key.shape[1], query.device)
            if getattr(module, "causal", False) else None)
    _, weights = nn.MultiheadAttention.forward(attn, query, key, value, attn_mask=mask,
                                               need_weights=True, average_attn_weights=False)
    return None if weights is None else weights.detach().float().cpu()[0]


def load_strict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Every tensor of the model from `state`, each the right shape, or an error naming nodes."""
    own = model.state_dict()
    missing = sorted({k.split(".")[0] for k in own if k not in state})
    unexpected = sorted({k.split(".")[0] for k in state if k not in own})
    wrong = [f"{k.split('.')[0]}: {k.split('.', 1)[1]} {tuple(v.shape)} in the design vs "
             f"{tuple(state[k].shape)} in the checkpoint"
             for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if wrong:
        problems.append("shapes differ — " + "; ".join(wrong))
    if missing:
        problems.append("no weights for " + ", ".join(missing))
    if unexpected:
        problems.append("weights for nodes the design lacks: " + ", ".join(unexpected))
    if problems:
        raise InferenceError("the checkpoint does not fit this design: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
