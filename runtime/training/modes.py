"""The training-mode catalogue: how a design learns, each mode one `ModeSpec`.

A mode decides what the network is asked to produce from what: `supervised` maps inputs to the
dataset's targets; `reconstruction` asks for the input itself, optionally from a corrupted copy
(a denoising autoencoder). The settings catalogue reads `uses` to know which `mode` settings
apply, the Training form shows only those, the docs list the modes, and the trainer, the
doctor's pre-flight and the Try it panel all get their data through `prepare`, so they agree on
the task.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..lazy import lazy_import

# The modes are declared without tensors (validation, the form); corrupting inputs imports torch.
torch = lazy_import("torch", globals(), "torch")

#: Settings a mode may read from the `mode` section (each one a setting in the catalogue).
MODE_SETTINGS = ("corruption", "noise", "cd_steps", "persistent", "generator_loss",
                 "discriminator_lr", "label_smoothing", "discriminator_steps")
#: How `reconstruction` corrupts its inputs.
CORRUPTIONS = ("none", "gaussian", "masking")
#: How `adversarial` scores its generator (`mode.generator_loss`).
GENERATOR_LOSSES = ("non_saturating", "minimax")


@dataclass(frozen=True)
class ModeSpec:
    """One training mode.

    Attributes:
        id: Its name in the training block (`mode.name`).
        title: Shown in the form.
        doc: What it trains the network to do, and for which designs.
        uses: The `mode` settings it reads (see `MODE_SETTINGS`).
        prepare: The dataset as this mode trains on it (e.g. its inputs as targets).
        corrupt: (inputs, mode section, generator) -> the inputs the network sees, for every
            training batch and (drawn once, seeded) for validation; None: inputs as they are.
        objective: trainer -> (training forward, loss, evaluation forward) replacing the
            compiled model's forward and the `loss` setting, for modes that do not learn by
            backpropagating the loss setting through the design (contrastive divergence);
            None: the design's forward and loss. It also checks the design and data suit it.
            It runs before the optimiser is built: it may narrow `trainer.named_trainable` to
            the parameters the run's optimiser moves (a mode that steps others itself keeps
            their optimiser in `trainer.extra_states`, so checkpoints hold it too).
        joins_networks: The design may hold several networks, which this mode joins (the
            trainer's model is then a `JoinedNetworks`); otherwise a design of several
            networks is refused.
    """

    id: str
    title: str
    doc: str
    uses: tuple[str, ...] = ()
    prepare: Callable[[Any], Any] = lambda dataset: dataset
    corrupt: Callable[[torch.Tensor, dict, torch.Generator], torch.Tensor] | None = None
    objective: Callable[[Any], tuple] | None = None
    joins_networks: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.uses) - set(MODE_SETTINGS)
        if unknown:
            raise ValueError(f"mode {self.id}: unknown settings {sorted(unknown)}")

    def corrupts(self, section: dict) -> bool:
        """Whether this mode, with these settings, changes the inputs the network sees."""
        return self.corrupt is not None and section.get("corruption", "none") != "none" \
            and section.get("noise", 0) > 0


def _as_own_target(dataset):
    from ..data.common import with_target

    return with_target(dataset, "input")


def _rbm_objective(trainer):
    from .contrastive import rbm_objective

    return rbm_objective(trainer)


def _gan_prepare(dataset):
    from .adversarial import adversarial_prepare

    return adversarial_prepare(dataset)


def _gan_objective(trainer):
    from .adversarial import adversarial_objective

    return adversarial_objective(trainer)


def _seq2seq_prepare(dataset):
    from .seq2seq import seq2seq_prepare

    return seq2seq_prepare(dataset)


def _seq2seq_objective(trainer):
    from .seq2seq import seq2seq_objective

    return seq2seq_objective(trainer)


def corrupt_inputs(x: torch.Tensor, section: dict, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise of standard deviation `noise`, or masking: each input value set to zero
    with probability `noise` (Vincent et al.'s masking noise). Drawn on the CPU from `generator`
    so seeded runs repeat exactly."""
    if not x.is_floating_point():
        return x  # token ids cannot be corrupted by noise
    noise = float(section["noise"])
    if section["corruption"] == "gaussian":
        return x + noise * torch.randn(x.shape, generator=generator).to(x.device)
    keep = (torch.rand(x.shape, generator=generator) >= noise).to(x.device)
    return x * keep


MODES: dict[str, ModeSpec] = {m.id: m for m in (
    ModeSpec("supervised", "Supervised", "Inputs to the dataset's targets: classes, values or "
             "sequences. Every design with one Input and one Output."),
    ModeSpec("reconstruction", "Reconstruction", "The target is the input itself: an "
             "autoencoder learns to squeeze it through a bottleneck and redraw it. With a "
             "corruption the network sees a damaged copy and must redraw the clean one (a "
             "denoising autoencoder); validation uses one fixed damaged copy, so its loss "
             "measures denoising.", ("corruption", "noise"), _as_own_target, corrupt_inputs),
    ModeSpec("contrastive_divergence", "Contrastive divergence", "Trains restricted "
             "Boltzmann machines to model their data, without labels: Input -> RBM -> Output "
             "(a Flatten may follow an image Input), or a stack Input -> RBM -> ... -> RBM -> "
             "Output trained greedily (a deep belief "
             "net's pre-training: each RBM in turn, for an equal share of the epochs, on the "
             "features of those below it). CD-k runs a Gibbs chain of `cd_steps` steps from "
             "each batch, persistent CD keeps one chain across batches. The loss reported is the "
             "reconstruction error (set `loss` to mse); the weights follow the CD gradient, not "
             "that error's.", ("cd_steps", "persistent"),
             _as_own_target, objective=_rbm_objective),
    ModeSpec("adversarial", "Adversarial (GAN)", "A generator and a discriminator trained "
             "against each other: two networks named generator (noise of its Input's shape -> "
             "a sample) and discriminator (a sample of the data's shape -> one logit), the loss "
             "bce. Each step first updates the discriminator with its own optimiser "
             "(`discriminator_steps` times, at `discriminator_lr`), real samples labelled "
             "1 - `label_smoothing`, generated ones 0; then the run's optimiser updates the "
             "generator by the `generator_loss`. The loss reported is -log D(G(z)); each "
             "epoch also reports the discriminator's loss, D(x), D(G(z)) and the samples' "
             "diversity and coverage of the real data, which fall when the generator "
             "collapses onto a few modes.", ("generator_loss", "discriminator_lr",
                                             "label_smoothing", "discriminator_steps"),
             _gan_prepare, objective=_gan_objective, joins_networks=True),
    ModeSpec("seq2seq", "Sequence to sequence", "An encoder-decoder over token sequences: "
             "two networks named encoder (source tokens -> what it hands on: its last state, or "
             "every step's state for attention) and decoder (the target tokens so far and the "
             "encoder's hand-over -> one score per token for every target step), the loss "
             "cross_entropy. Training feeds the decoder the true target shifted right after a "
             "start token (teacher forcing; the start token is the id after the vocabulary, so "
             "the decoder's Embedding needs one more entry), and so does the validation loss; "
             "each epoch also decodes greedily from the decoder's own predictions: "
             "generated_accuracy (tokens) and sequence_accuracy (whole sequences) measure what "
             "it generates, and the report shows it. The decoder must be causal.",
             prepare=_seq2seq_prepare, objective=_seq2seq_objective, joins_networks=True),
)}


def mode_of(config) -> ModeSpec:
    """The mode a parsed training config names."""
    return MODES[config["mode"]["name"]]


def training_data(config, base_dir=None):
    """The dataset a parsed training config trains on: its dataset block, as its mode sees it.

    Raises:
        DatasetError: the dataset cannot be loaded (the message names it and why).
    """
    from ..data import load_dataset

    dataset = load_dataset(config.dataset, base_dir, seed=config["seed"])
    return mode_of(config).prepare(dataset)
