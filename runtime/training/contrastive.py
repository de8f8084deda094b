"""Contrastive divergence (#14): training a restricted Boltzmann machine to model its data.

An RBM is not trained by backpropagating a loss on its output. Its log-likelihood gradient is
the difference between the data's statistics and the model's own, and CD-k estimates the model's
side from a Gibbs chain of k steps started at the data (Hinton 2002); persistent CD keeps one
chain going across batches instead (Tieleman 2008). Both are the gradient of a surrogate,
F(v_data) - F(v_chain) with the chain's end held constant, so the trainer's ordinary loop, optimiser,
monitoring and checkpoints train an RBM unchanged: this module gives it the forward pass and the
loss. The loss the run reports, and validates on, is the reconstruction error (the MSE between
the data and its mean-field reconstruction), which falls as the RBM learns; the gradient comes
from the surrogate alone. A stack of RBMs (a deep belief net) is trained greedily, one RBM after
the other (Hinton, Osindero and Teh 2006).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch
from torch.nn import functional as F

from ..errors import TrainingError
from .callbacks import Callback
from .events import Samples
from .schedules import SCHEDULES

if TYPE_CHECKING:
    from .trainer import Trainer

Forward = Callable[[torch.Tensor], torch.Tensor]
#: Samples shown after each epoch: this many Gibbs chains of this many steps, and filters.
DREAMS = 16
DREAM_STEPS = 100
FILTERS = 32
#: At most this many epochs of a run send their samples (evenly spread, the last included).
MAX_SAMPLE_EPOCHS = 50
#: Training samples whose mean free energy is compared with the validation split's.
FREE_ENERGY_SAMPLES = 1000


def rbm_objective(trainer: "Trainer") -> tuple[Forward, Callable, Forward]:
    """(training forward, loss, evaluation forward) that train the design's RBMs by CD-k/PCD.

    A stack Input -> RBM -> ... -> RBM -> Output is trained greedily, one RBM after the other,
    each for an equal share of the epochs, on the data as the RBMs below it pass it on (their
    hidden probabilities): a deep belief net's pre-training. While RBM i trains, the run's data
    are those features, so its loss, validation and metrics are that RBM's reconstruction error.

    Raises:
        TrainingError: the design is not such a stack, it has fewer epochs than RBMs, the loss
            is not mse, or Bernoulli visible units would be fed values outside [0, 1] (the
            message names the RBM node).
    """
    design, config = trainer.design, trainer.config
    chain = _rbm_chain(design)
    if config["loss"] != "mse":
        raise TrainingError("contrastive_divergence reports the reconstruction error (the MSE "
                            f"between the data and the RBM's reconstruction) as its loss, not "
                            f"{config['loss']}: set the loss to mse", "design")
    if config["epochs"] < len(chain):
        raise TrainingError(f"contrastive_divergence trains the {len(chain)} RBMs one after the "
                            f"other, each for a share of the epochs: give it at least "
                            f"{len(chain)} epochs (it has {config['epochs']})", "design")
    plateau = config["early_stopping"]["enabled"] or SCHEDULES[config.schedule["name"]].plateau
    if len(chain) > 1 and plateau:
        raise TrainingError("early stopping and the reduce-on-plateau schedule compare the loss "
                            "from epoch to epoch, but each RBM of a stack has a loss of its own "
                            f"({', '.join(chain)}): turn them off to train the stack",
                            "design", chain[0])
    rbms = [getattr(trainer.model, node) for node in chain]
    _check_range(chain[0], rbms[0], trainer.dataset.x)
    stages = _Stages(trainer, chain, rbms)
    trainer.callbacks.insert(0, stages)  # before the others hear that an epoch starts
    steps, persistent = int(config["mode"]["cd_steps"]), bool(config["mode"]["persistent"])

    def reconstruct(v: torch.Tensor) -> torch.Tensor:
        rbm = stages.rbm
        with torch.no_grad():  # its error is reported, never differentiated
            return rbm.visible_mean(rbm(v))

    def loss(reconstruction: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        rbm = stages.rbm
        chains = stages.particles
        if persistent and (chains is None or len(chains) < len(v)):
            chains = stages.particles = v.detach().clone()  # the first batch seeds the chains
        start = chains[:len(v)] if persistent else v  # a short last batch runs the first ones
        end = rbm.gibbs(start, steps)
        if persistent:
            chains[:len(v)] = end
        surrogate = rbm.free_energy(v).mean() - rbm.free_energy(end).mean()
        error = F.mse_loss(reconstruction, v)
        # the value is the reconstruction error, the gradient the surrogate's (the CD update)
        return error.detach() + (surrogate - surrogate.detach())

    return reconstruct, loss, reconstruct


class _Stages(Callback):
    """Which RBM trains in each epoch, and the data it trains on (the trainer's x, y and
    validation inputs become the features the RBMs below it pass on)."""

    def __init__(self, trainer: "Trainer", chain: list[str], rbms: list):
        self.chain, self.rbms = chain, rbms
        # the first RBM's data: the inputs as vectors (images through the design's Flatten)
        x, x_eval = (t.flatten(1) for t in (trainer.x, trainer.x_eval))
        trainer.x, trainer.y, trainer.x_eval = x, x, x_eval
        self.data = (x, x_eval)
        self.stage = 0
        self.rbm = rbms[0]
        self.particles: torch.Tensor | None = None  # persistent CD's chains, one per batch row
        trainer.current_node = chain[0]
        self._train_only(0)

    def _train_only(self, stage: int) -> None:
        """Only the RBM of this stage takes gradients: an L1 penalty (or any term over every
        weight) must not move the RBMs below, whose features this stage was computed from."""
        for i, rbm in enumerate(self.rbms):
            rbm.requires_grad_(i == stage)

    def stage_of(self, epoch: int, epochs: int) -> int:
        return min(len(self.chain) - 1, (epoch - 1) * len(self.chain) // epochs)

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        stage = self.stage_of(epoch, trainer.config["epochs"])
        if stage == self.stage:
            return
        self.stage, self.rbm = stage, self.rbms[stage]
        trainer.current_node = self.chain[stage]
        self._train_only(stage)
        self.particles = None  # the next RBM's chains live in its own visible space
        x, x_eval = (self._features(trainer, t, stage) for t in self.data)
        trainer.x, trainer.y, trainer.x_eval = x, x, x_eval
        _check_range(self.chain[stage], self.rbm, x)
        # the best epoch is judged within a stage: the loss before was another RBM's; any
        # epoch of the last stage holds the whole stack trained
        trainer.best = None

    @torch.no_grad()
    def on_validation_end(self, trainer: "Trainer", metrics: dict) -> None:
        """The mean free energy of (up to 1,000) training and the validation samples under the
        RBM training now: the gap between them opening up is how an RBM shows overfitting
        (Hinton's practical guide), as the reconstruction error does not."""
        rbm = self.rbm
        rbm.eval()
        for split, idx in (("train", trainer.train_idx[:FREE_ENERGY_SAMPLES]),
                           ("val", trainer.val_idx)):
            if len(idx):
                trainer.epoch_extras[f"{split}_free_energy"] = float(
                    rbm.free_energy(trainer.x[idx]).mean())

    def on_epoch_end(self, trainer: "Trainer", event) -> None:
        """What the stack dreams now, and what the first RBM's units respond to, when its data
        are pictures (a square number of values in [0, 1]): `samples` events for the plots."""
        pixels = self.data[0]
        side = math.isqrt(pixels.shape[1]) if pixels.dim() == 2 else 0
        if side < 4 or side * side != pixels.shape[1] or self.rbms[0].gaussian_visible:
            return
        epochs = trainer.config["epochs"]
        every = math.ceil(epochs / MAX_SAMPLE_EPOCHS)  # a long run's log stays small
        if event.epoch % every and event.epoch != epochs:
            return
        images = self.dream(trainer, pixels).reshape(-1, side, side).clamp(0, 1)
        trainer.emit(Samples(trainer.step, event.epoch, f"{len(images)} Gibbs chains of "
                             f"{DREAM_STEPS} steps from training samples, drawn down through "
                             f"{'the RBM' if self.stage == 0 else f'{self.stage + 1} RBMs'}",
                             _pictures(images)))
        from ..inference import first_filters  # the weight rows as pictures, as Try it draws

        filters = first_filters(trainer.design, trainer.model, FILTERS)
        weights = filters.images
        low = weights.amin(dim=(1, 2), keepdim=True)
        span = (weights.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-12)
        trainer.emit(Samples(trainer.step, event.epoch, f"what {len(weights)} of "
                             f"{filters.node}'s {filters.total} hidden units respond to (each "
                             "unit's weights as a picture, white exciting)",
                             _pictures((weights - low) / span), "filters"))

    @torch.no_grad()
    def dream(self, trainer: "Trainer", pixels: torch.Tensor) -> torch.Tensor:
        """Gibbs chains in the RBM training now, started from the features of some training
        samples, then passed down to the pixels through the RBMs below (a deep belief net
        generating top-down). Seeded by the run's seed and epoch, so a run repeats."""
        device = trainer.x.device
        # its own random stream (CPU and, on a GPU, that device's): training's is untouched
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(trainer.config["seed"] * 7919 + trainer.epoch)
            idx = trainer.train_idx[torch.randperm(len(trainer.train_idx))[:DREAMS].to(device)]
            v = self._features(trainer, pixels[idx], self.stage)
            v = self.rbm.visible_mean(torch.bernoulli(self.rbm(self.rbm.gibbs(v, DREAM_STEPS))))
            for rbm in reversed(self.rbms[:self.stage]):
                v = rbm.visible_mean(v)  # down through the lower RBMs, with mean values
            return v.cpu()

    @torch.no_grad()
    def _features(self, trainer: "Trainer", x: torch.Tensor, stage: int) -> torch.Tensor:
        """`x` through the first `stage` RBMs (their hidden probabilities), batch by batch."""
        for rbm in self.rbms[:stage]:
            rbm.eval()
        out = []
        for start in range(0, len(x), 4096):
            h = x[start:start + 4096]
            for rbm in self.rbms[:stage]:
                h = rbm(h)
            out.append(h)
        return torch.cat(out)


def _pictures(images: torch.Tensor) -> list:
    return [[[round(float(v), 3) for v in row] for row in image] for image in images]


def _check_range(node: str, rbm, x: torch.Tensor) -> None:
    if rbm.gaussian_visible:
        return
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise TrainingError(
            f"RBM '{node}' has Bernoulli visible units, which model values in [0, 1], but "
            f"the data runs from {low:.3g} to {high:.3g}: set its visible_units to gaussian "
            "(for standardised data) or scale the data to [0, 1]", "data", node)


def _rbm_chain(design) -> list[str]:
    """The RBMs of a stack Input -> RBM -> ... -> RBM -> Output, in order; else a TrainingError
    saying why."""
    from .data_fit import io_nodes

    input_id, output_id = io_nodes(design)
    rbms = [n.id for n in design.nodes.values() if n.type == "RBM"]
    chain, node = [], output_id
    while True:
        feeding = [e.src for e in design.in_edges(node)]
        if len(feeding) != 1:
            break
        node = feeding[0]
        if node == input_id or design.nodes[node].type != "RBM":
            break
        chain.insert(0, node)
    if node != input_id and design.nodes[node].type == "Flatten" and [
            e.src for e in design.in_edges(node)] == [input_id]:
        node = input_id  # images flattened for the first RBM
    if not chain or node != input_id or len(chain) != len(rbms):
        found = f"its RBMs: {', '.join(rbms)}" if rbms else "it has no RBM"
        raise TrainingError(
            "contrastive_divergence trains RBMs stacked from the Input (or a Flatten of it) to "
            "the Output (Input -> RBM -> ... -> RBM -> Output, nothing else); "
            f"{found}. To fine-tune a stack as a classifier, train it here, then start the "
            "classifier from its weights (init_from)", "design", rbms[0] if rbms else None)
    return chain
