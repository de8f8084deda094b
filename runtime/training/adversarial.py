"""Adversarial training (#14): a generator and a discriminator trained against each other (a GAN).

The design holds two networks, `generator` (noise of its Input's shape -> a sample) and
`discriminator` (a sample -> one logit, real or fake). Every training step first updates the
discriminator with its own optimiser (real samples labelled real, optionally smoothed to
1 - `label_smoothing`; the generator's samples labelled fake), `discriminator_steps` times, then
returns the discriminator's verdict on the generator's samples, from which the run's ordinary
optimiser, schedule, gradient checks and clipping update the generator (Goodfellow et al. 2014).
The generator's loss is the classic minimax one, log(1 - D(G(z))), or the non-saturating
-log D(G(z)), whose gradient does not vanish while the discriminator wins. Either way the loss
the run reports is -log D(G(z)) (how well the fakes fool the discriminator, in the units of the
validation loss); the minimax loss only changes the gradient.

Per epoch the run also reports the discriminator's loss and its mean verdicts D(x) on real and
D(G(z)) on generated samples (training: averaged over the epoch's steps; validation: on the
validation split against as many fresh fakes), and the generated samples' diversity and
coverage against real data (see `diversity` and `coverage`); the doctor reads them to diagnose
mode collapse. A `samples` event shows generated pictures, or 2-D points over the real data.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from ..errors import TrainingError
from ..lazy import lazy_import, no_grad
from ..networks import is_multi_network, network_title
from .callbacks import Callback
from .events import Samples

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")
F = lazy_import("torch.nn.functional", globals(), "F")

if TYPE_CHECKING:
    from .trainer import Trainer

GENERATOR, DISCRIMINATOR = "generator", "discriminator"
#: Generated samples (from one fixed noise batch) the diversity and coverage are measured on.
PROBE = 512
#: Real samples they are compared with (the validation split, else training samples).
REAL_PROBE = 512
#: A real sample counts as covered when a generated one lies within its distance to its
#: K-th nearest real neighbour (the coverage of Naeem et al. 2020).
COVERAGE_K = 5
#: Pictures and points sent per `samples` event.
PICTURES = 48
POINTS = 512
#: At most this many epochs of a run send their samples (evenly spread, the last included).
MAX_SAMPLE_EPOCHS = 50
HOW_TO_NAME = ("select a network's nodes and use Edit ▸ Make Network from Selection, naming "
               "them generator and discriminator")


def adversarial_prepare(dataset):
    """The dataset as a GAN trains on it: its samples, each labelled real (a target of 1 for
    the discriminator's one logit); its own labels are not used."""
    from ..data.base import Dataset

    return Dataset(dataset.name, dataset.x, torch.ones(len(dataset.x), 1), "regression",
                   kind=dataset.kind, notes=dict(dataset.notes))


def adversarial_objective(trainer: "Trainer") -> tuple[Callable, Callable, Callable]:
    """(training forward, loss, evaluation forward) that train a GAN.

    The training forward updates the discriminator (with its own optimiser, kept in
    `trainer.extra_states`) and returns D(G(z)) for fresh noise; the loss is the generator's,
    and the run's optimiser moves only the generator (`trainer.named_trainable` is narrowed to
    it). The evaluation forward returns D(G(z)) for fresh noise, so the validation loss is the
    generator's loss on samples it did not train on.

    Raises:
        TrainingError: the design does not hold a generator and a discriminator that fit each
            other and the data, or the loss is not bce (the message names the nodes).
    """
    design, config = trainer.design, trainer.config
    parts = _networks(trainer)
    section = config["mode"]
    if config["loss"] != "bce":
        raise TrainingError("adversarial trains the discriminator to tell real from generated "
                            "samples with one logit each, so its loss is binary cross-entropy: "
                            f"set the loss to bce (it is {config['loss']})", "design")
    sample = tuple(trainer.dataset.x.shape[1:])
    if sample != parts.sample_shape:
        raise TrainingError(
            f"the discriminator's Input '{parts.d_input}' takes samples of shape "
            f"{list(parts.sample_shape)} but the dataset's samples have shape {list(sample)}: set "
            f"its shape to {list(sample)} (and the generator's output to match)", "data",
            parts.d_input)
    if not trainer.dataset.x.is_floating_point():
        raise TrainingError("adversarial needs real-valued samples (a generator cannot produce "
                            "token ids): choose a dataset of points or pictures", "data",
                            parts.d_input)
    named = trainer.named_trainable
    g_ids, d_ids = (set(design.networks()[name]) for name in (GENERATOR, DISCRIMINATOR))
    g_named = [(n, p) for n, p in named if n.split(".", 1)[0] in g_ids]
    d_named = [(n, p) for n, p in named if n.split(".", 1)[0] in d_ids]
    for name, held in ((GENERATOR, g_named), (DISCRIMINATOR, d_named)):
        if not held:
            raise TrainingError(f"the {name} has no trainable weights (every layer frozen or "
                                "none with weights): it cannot learn", "design")
    trainer.named_trainable = g_named  # the run's optimiser, schedule and clipping: G only
    from .optimizers import make_optimizer, multiplier_groups

    d_lr = section["discriminator_lr"]
    d_opt = make_optimizer(multiplier_groups(d_named, {
        n.id: n.params.get("lr_multiplier", 1.0) for n in design.nodes.values()}),
        {**config.optimizer, "lr": d_lr if d_lr is not None else config.optimizer["lr"]})
    noise = _Noise(parts.noise_shape, config["seed"])
    trainer.extra_states["discriminator_optimizer"] = d_opt
    trainer.extra_states["noise"] = noise
    game = _Game(trainer, parts, d_opt, noise, [p for _, p in d_named])
    trainer.callbacks.insert(0, game)
    trainer.current_node = parts.g_output
    # the end-of-run report pairs each validation sample with an output: the discriminator's
    # logit on that real sample (which real samples it finds least real), not a verdict on an
    # unrelated fake
    trainer.report_forward = parts.discriminator
    return game.forward, game.loss, game.evaluate


class _Networks:
    """The generator and discriminator of a design: their modules, end nodes and shapes."""

    def __init__(self, trainer: "Trainer"):
        design = trainer.design
        analysis = trainer._analysis
        self.nodes: dict[str, tuple[str, str]] = {}
        for name in (GENERATOR, DISCRIMINATOR):
            ids = design.networks()[name]
            inputs = [n for n in ids if design.nodes[n].type == "Input"]
            outputs = [n for n in ids if design.nodes[n].type == "Output"]
            if len(inputs) != 1 or len(outputs) != 1:
                raise TrainingError(f"the {name} needs exactly one Input and one Output (it has "
                                    f"{len(inputs)} and {len(outputs)})", "design",
                                    (inputs or outputs or ids)[0])
            self.nodes[name] = (inputs[0], outputs[0])
        self.g_input, self.g_output = self.nodes[GENERATOR]
        self.d_input, self.d_output = self.nodes[DISCRIMINATOR]

        def shape(node: str) -> tuple[int, ...]:
            return tuple(analysis.nodes[node].outputs["output"].shape)

        self.noise_shape = shape(self.g_input)
        self.sample_shape = shape(self.d_input)
        made = shape(self.g_output)
        if made != self.sample_shape:
            raise TrainingError(
                f"the generator's Output '{self.g_output}' gives samples of shape {list(made)} "
                f"but the discriminator's Input '{self.d_input}' takes shape "
                f"{list(self.sample_shape)}: change the generator's last layers (or the "
                "discriminator's Input shape) so they agree", "design", self.g_output)
        verdict = shape(self.d_output)
        if math.prod(verdict) != 1:
            raise TrainingError(
                f"the discriminator's Output '{self.d_output}' gives shape {list(verdict)}, but "
                "it must give one value per sample (a logit: real or fake): end it with a "
                "Linear of 1 output feature and no activation (the bce loss applies the "
                "sigmoid)", "design", self.d_output)
        self.generator = trainer.model.networks[GENERATOR]
        self.discriminator = trainer.model.networks[DISCRIMINATOR]


def _networks(trainer: "Trainer") -> _Networks:
    design = trainer.design
    names = list(design.networks())
    if not is_multi_network(design) or set(names) != {GENERATOR, DISCRIMINATOR}:
        shown = ", ".join(f"'{network_title(n)}'" for n in names)
        raise TrainingError(
            "adversarial trains two networks, one named generator (noise -> a sample) and one "
            f"named discriminator (a sample -> one logit); this design has {shown}: {HOW_TO_NAME}",
            "design")
    return _Networks(trainer)


class _Noise:
    """The noise the generator draws from, and the training rows the extra discriminator steps
    take: seeded CPU streams (so runs repeat), whose states checkpoints keep (so a resumed run
    draws what the uninterrupted one would)."""

    def __init__(self, shape: tuple[int, ...], seed: int):
        self.shape = shape
        self.generator = torch.Generator().manual_seed(seed * 7919 + 17)
        self.rows = torch.Generator().manual_seed(seed * 7919 + 202)

    def draw(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randn((n, *self.shape), generator=self.generator).to(device)

    def state_dict(self) -> dict:
        return {"state": self.generator.get_state(), "rows": self.rows.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["state"])
        self.rows.set_state(state["rows"])


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       smoothing: float = 0.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), the real samples' target 1 - `smoothing` (one-sided label
    smoothing, Salimans et al. 2016: the fakes' target stays 0)."""
    return (F.binary_cross_entropy_with_logits(real_logits,
                                               torch.full_like(real_logits, 1.0 - smoothing))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """The generator's loss of D's logits on its samples. Its value is -log D(G(z)) for both
    kinds; `minimax` takes the gradient of log(1 - D(G(z))) instead, which vanishes as D(G(z))
    goes to 0 (a discriminator that wins early starves the generator), `non_saturating` that of
    -log D(G(z)), strongest exactly then."""
    fooled = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind == "non_saturating":
        return fooled
    minimax = -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return fooled.detach() + (minimax - minimax.detach())


class _Game(Callback):
    """The alternating updates, their per-epoch figures and the samples shown."""

    def __init__(self, trainer: "Trainer", parts: _Networks, d_opt: torch.optim.Optimizer,
                 noise: _Noise, d_params: list[torch.Tensor]):
        self.trainer, self.parts, self.d_opt, self.noise = trainer, parts, d_opt, noise
        self.d_params = d_params
        section = trainer.config["mode"]
        self.kind = section["generator_loss"]
        self.smoothing = float(section["label_smoothing"])
        self.d_steps = int(section["discriminator_steps"])
        self.device = trainer.x.device
        seed = trainer.config["seed"]
        # fixed noise: the samples shown and measured each epoch come from the same z
        self.probe_z = torch.randn((PROBE, *parts.noise_shape),
                                   generator=torch.Generator().manual_seed(seed + 101))
        self.eval_noise = torch.Generator()
        self._sums = torch.zeros(4, device=self.device)  # d_loss, D(x), D(G(z)), steps

    # --- the step -------------------------------------------------------------------------
    def forward(self, real: torch.Tensor) -> torch.Tensor:
        """Update the discriminator, then return its logits on fresh generated samples (with
        the generator's graph, for the generator's step)."""
        G, D = self.parts.generator, self.parts.discriminator
        if not torch.is_grad_enabled():  # scoring, not training (the doctor's probe): D stays
            return D(G(self.noise.draw(len(real), real.device)))
        self._d_trains(True)
        for k in range(self.d_steps):
            batch = real if k == self.d_steps - 1 else self._another_batch(len(real))
            z = self.noise.draw(len(batch), real.device)
            if k == self.d_steps - 1:
                fake = G(z)  # kept with its graph: the generator's step scores it again
                fake_for_d = fake.detach()
            else:
                with torch.no_grad():
                    fake_for_d = G(z)
            self.d_opt.zero_grad(set_to_none=True)
            real_logits, fake_logits = D(batch), D(fake_for_d)
            d_loss = discriminator_loss(real_logits, fake_logits, self.smoothing)
            d_loss.backward()
            self.d_opt.step()
            with torch.no_grad():
                self._sums += torch.stack([d_loss.detach(), torch.sigmoid(real_logits).mean(),
                                           torch.sigmoid(fake_logits).mean(),
                                           torch.ones((), device=real.device)])
        # the generator's step needs gradients through D, not for D's own weights
        self._d_trains(False)
        return D(fake)

    def _d_trains(self, on: bool) -> None:
        for p in self.d_params:  # its trainable weights only: frozen layers stay frozen
            p.requires_grad_(on)

    def loss(self, fake_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return generator_loss(fake_logits, self.kind)

    def _another_batch(self, n: int) -> torch.Tensor:
        idx = self.trainer.train_idx
        pick = torch.randint(len(idx), (n,), generator=self.noise.rows).to(idx.device)
        return self.trainer.x[idx[pick]]

    def evaluate(self, real: torch.Tensor) -> torch.Tensor:
        """D(G(z)) for fresh noise, as many as `real` (validation: the generator's loss)."""
        z = torch.randn((len(real), *self.parts.noise_shape), generator=self.eval_noise)
        return self.parts.discriminator(self.parts.generator(z.to(real.device)))

    # --- per epoch ------------------------------------------------------------------------
    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        self._sums.zero_()
        # validation's fakes: fresh each epoch, the same in every run of this seed
        self.eval_noise.manual_seed(trainer.config["seed"] * 104729 + epoch)

    @no_grad
    def on_validation_end(self, trainer: "Trainer", metrics: dict) -> None:
        d_loss, d_real, d_fake, steps = self._sums.tolist()
        extras = trainer.epoch_extras
        if steps:
            extras.update(train_d_loss=d_loss / steps, train_d_real=d_real / steps,
                          train_d_fake=d_fake / steps)
        G, D = self.parts.generator, self.parts.discriminator
        trainer.model.eval()
        if len(trainer.val_idx):
            real = trainer.x[trainer.val_idx[:4096]]
            z = torch.randn((len(real), *self.parts.noise_shape), generator=self.eval_noise)
            real_logits, fake_logits = D(real), D(G(z.to(real.device)))
            extras.update(
                val_d_loss=float(discriminator_loss(real_logits, fake_logits)),
                val_d_real=float(torch.sigmoid(real_logits).mean()),
                val_d_fake=float(torch.sigmoid(fake_logits).mean()))
        made = self.generated()
        reference = self.reference(trainer)
        extras["val_diversity"] = diversity(made, reference)
        extras["val_coverage"] = coverage(made, reference)

    def generated(self, n: int = PROBE) -> torch.Tensor:
        """The generator's samples for the fixed probe noise (evaluation mode), on the CPU."""
        self.parts.generator.eval()
        with torch.no_grad():
            return self.parts.generator(self.probe_z[:n].to(self.device)).float().cpu()

    def reference(self, trainer: "Trainer") -> torch.Tensor:
        idx = trainer.val_idx if len(trainer.val_idx) >= COVERAGE_K + 1 else trainer.train_idx
        return trainer.x[idx[:REAL_PROBE]].float().cpu()

    def on_epoch_end(self, trainer: "Trainer", event) -> None:
        epochs = trainer.config["epochs"]
        every = math.ceil(epochs / MAX_SAMPLE_EPOCHS)  # a long run's log stays small
        if event.epoch % every and event.epoch != epochs:
            return
        made = self.generated()
        title = "the generator's samples from {} fixed noise vectors"
        if self.parts.sample_shape == (2,):
            real = self.reference(trainer)
            trainer.emit(Samples(trainer.step, event.epoch, title.format(POINTS) + ", over "
                                 f"{len(real)} real points", [], "dreams",
                                 points=_rounded(made[:POINTS]), real=_rounded(real)))
            return
        pictures = as_pictures(made[:PICTURES], self.reference(trainer))
        if pictures is not None:
            trainer.emit(Samples(trainer.step, event.epoch, title.format(len(pictures)),
                                 [[[round(float(v), 3) for v in row] for row in image]
                                  for image in pictures]))


def _rounded(points: torch.Tensor) -> list:
    return [[round(float(a), 4), round(float(b), 4)] for a, b in points]


def as_pictures(samples: torch.Tensor, real: torch.Tensor) -> torch.Tensor | None:
    """Samples as (n, height, width) grey pictures in [0, 1], scaled by the real data's range;
    None when they are not pictures (one channel, or a square number of values)."""
    shape = samples.shape[1:]
    if len(shape) == 3 and shape[0] == 1:
        images = samples[:, 0]
    elif len(shape) == 2:
        images = samples
    elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0] and shape[0] >= 16:
        side = math.isqrt(shape[0])
        images = samples.reshape(-1, side, side)
    else:
        return None
    low, high = float(real.min()), float(real.max())
    return ((images - low) / max(high - low, 1e-12)).clamp(0, 1)


def diversity(made: torch.Tensor, real: torch.Tensor) -> float:
    """The generated samples' mean pairwise distance over the real samples': about 1 when the
    generator spreads like the data, falling towards 0 as its samples collapse together."""
    def spread(x: torch.Tensor) -> float:
        flat = x.flatten(1).double()
        d = torch.cdist(flat, flat)
        n = len(flat)
        return float(d.sum() / max(n * (n - 1), 1))

    return spread(made) / max(spread(real), 1e-12)


def coverage(made: torch.Tensor, real: torch.Tensor, k: int = COVERAGE_K) -> float:
    """The share of real samples with a generated sample within their distance to their k-th
    nearest real neighbour (Naeem et al. 2020): falls when whole modes of the data are missed,
    even if the generator's samples still spread among the others."""
    real, made = real.flatten(1).double(), made.flatten(1).double()
    if len(real) <= k:
        return float("nan")
    within = torch.cdist(real, real)
    radius = within.kthvalue(k + 1, dim=1).values  # the 0 to itself comes first
    nearest = torch.cdist(real, made).min(dim=1).values
    return float((nearest <= radius).double().mean())
