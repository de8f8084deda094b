"""The learning-rate finder (Smith 2015, as fastai's lr_find): train a copy of the network for a
few dozen steps while the learning rate grows exponentially, record the smoothed loss, and
suggest a tenth of the rate where the loss is lowest (fastai's "minimum / 10" rule: at the
minimum itself the loss is about to blow up)."""
from __future__ import annotations

import copy
import math

from ..lazy import lazy_import
from ..training.optimizers import make_optimizer

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")

START_LR, END_LR, SWEEP_STEPS = 1e-6, 1.0, 60
#: Stop once the smoothed loss exceeds this multiple of its best.
STOP_FACTOR = 4.0
SMOOTHING = 0.8


def sweep(trainer, steps: int = SWEEP_STEPS) -> tuple[list[tuple[float, float]], float | None]:
    """[(lr, smoothed loss)] and the suggested learning rate (None when the loss never fell).
    The trainer's own model is left untouched. A GAN gets no sweep: its generator's loss is a
    game's score against a discriminator that learns too, with no minimum to find."""
    if trainer.config["mode"]["name"] == "adversarial":
        return [], None
    # the run's own forward and loss (several Outputs, a seq2seq decoder fed the targets), on
    # the trainer's model, whose weights and buffers are put back afterwards
    model = trainer.model
    saved = copy.deepcopy(model.state_dict())
    try:
        return _sweep(trainer, model, steps)
    finally:
        model.load_state_dict(saved)
        for p in model.parameters():
            p.grad = None


def _sweep(trainer, model, steps: int) -> tuple[list[tuple[float, float]], float | None]:
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    settings = dict(trainer.config.optimizer, lr=START_LR)
    optimizer = make_optimizer(params, settings)
    forward, compute = trainer._forward, trainer._loss_fn
    factor = (END_LR / START_LR) ** (1 / max(steps - 1, 1))
    generator = torch.Generator().manual_seed(trainer.config["seed"])
    n = len(trainer.train_idx)
    curve: list[tuple[float, float]] = []
    smooth, best = 0.0, math.inf
    lr = START_LR
    for i in range(steps):
        pick = torch.randint(n, (min(trainer.batch_size, n),), generator=generator)
        idx = trainer.train_idx[pick.to(trainer.train_idx.device)]
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss = compute(forward(trainer.x[idx]), trainer.y[idx])
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        loss.backward()
        optimizer.step()
        smooth = SMOOTHING * smooth + (1 - SMOOTHING) * value
        corrected = smooth / (1 - SMOOTHING ** (i + 1))  # an average started at 0, debiased
        curve.append((lr, corrected))
        best = min(best, corrected)
        if corrected > STOP_FACTOR * best:
            break
        lr *= factor
    return curve, suggest(curve)


def suggest(curve: list[tuple[float, float]]) -> float | None:
    """A tenth of the rate with the lowest smoothed loss; None when the curve is too short or
    the loss never fell below where it started."""
    if len(curve) < 5:
        return None
    low = min(range(len(curve)), key=lambda i: curve[i][1])
    if low < 2 or curve[low][1] >= curve[0][1]:
        return None
    return float(f"{curve[low][0] / 10:.2g}")
