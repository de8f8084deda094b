"""Contrastive divergence (#14): training a restricted Boltzmann machine to model its data.

An RBM is not trained by backpropagating a loss on its output. Its log-likelihood gradient is
the difference between the data's statistics and the model's own, and CD-k estimates the model's
side from a Gibbs chain of k steps started at the data (Hinton 2002); persistent CD keeps one
chain going across batches instead (Tieleman 2008). Both are the gradient of a surrogate,
F(v_data) - F(v_chain) with the chain's end held constant, so the trainer's ordinary loop, optimiser,
monitoring and checkpoints train an RBM unchanged: this module gives it the forward pass and the
loss. The loss the run reports, and validates on, is the reconstruction error (the MSE between
the data and its mean-field reconstruction), which falls as the RBM learns; the gradient comes
from the surrogate alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from torch.nn import functional as F

from ..errors import TrainingError

if TYPE_CHECKING:
    from .trainer import Trainer

Forward = Callable[[torch.Tensor], torch.Tensor]


def rbm_objective(trainer: "Trainer") -> tuple[Forward, Callable, Forward]:
    """(training forward, loss, evaluation forward) that train the design's RBM by CD-k/PCD.

    Raises:
        TrainingError: the design is not Input -> RBM -> Output, or Bernoulli visible units
            would be fed values outside [0, 1] (the message names the RBM node).
    """
    design, section = trainer.design, trainer.config["mode"]
    node = _the_rbm(design)
    if trainer.config["loss"] != "mse":
        raise TrainingError("contrastive_divergence reports the reconstruction error (the MSE "
                            f"between the data and the RBM's reconstruction) as its loss, not "
                            f"{trainer.config['loss']}: set the loss to mse", "design")
    rbm = getattr(trainer.model, node)
    if not rbm.gaussian_visible:
        x = trainer.dataset.x
        low, high = float(x.min()), float(x.max())
        if low < 0.0 or high > 1.0:
            raise TrainingError(
                f"RBM '{node}' has Bernoulli visible units, which model values in [0, 1], but "
                f"the data runs from {low:.3g} to {high:.3g}: set its visible_units to gaussian "
                "(for standardised data) or scale the data to [0, 1]", "data", node)
    steps, persistent = int(section["cd_steps"]), bool(section["persistent"])
    chain: list[torch.Tensor] = []  # persistent CD: the fantasy particles, batch by batch

    def reconstruct(v: torch.Tensor) -> torch.Tensor:
        return rbm.visible_mean(rbm(v))

    def loss(reconstruction: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        start = chain[0] if persistent and chain and len(chain[0]) == len(v) else v
        end = rbm.gibbs(start, steps)
        if persistent:
            chain[:] = [end]
        surrogate = rbm.free_energy(v).mean() - rbm.free_energy(end).mean()
        error = F.mse_loss(reconstruction, v)
        # the value is the reconstruction error, the gradient the surrogate's (the CD update)
        return error.detach() + (surrogate - surrogate.detach())

    return reconstruct, loss, reconstruct


def _the_rbm(design) -> str:
    """The RBM that reads the Input and feeds the Output, else a TrainingError saying why."""
    from .data_fit import io_nodes

    input_id, output_id = io_nodes(design)
    rbms = [n.id for n in design.nodes.values() if n.type == "RBM"]
    feeding = [e.src for e in design.in_edges(output_id)]
    if len(rbms) != 1 or feeding != rbms or [e.src for e in design.in_edges(rbms[0])] != [
            input_id]:
        found = f"its RBMs: {', '.join(rbms)}" if rbms else "it has no RBM"
        raise TrainingError(
            "contrastive_divergence trains one RBM that reads the Input and feeds the Output "
            f"directly (Input -> RBM -> Output); {found}. To train a deep belief net, pre-train "
            "each RBM in its own design and start the stack from their weights (init_from)",
            "design", rbms[0] if rbms else None)
    return rbms[0]
