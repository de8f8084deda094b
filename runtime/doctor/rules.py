"""The doctor's rule catalogue: each finding code is declared once here (its meaning, severity,
where it is found and what it is localised to). The checks in static.py, preflight.py and live.py
make findings only with these codes, and docs/doctor.md's table is generated from this."""
from __future__ import annotations

from dataclasses import dataclass

from .findings import SEVERITIES

#: Where a rule can fire: from the design alone, in the pre-flight check, or while training.
STAGES = ("static", "preflight", "live")


@dataclass(frozen=True)
class Rule:
    """One finding code.

    Attributes:
        code: Stable identifier (in JSON, CLI `--fix CODE`, docs).
        title: A few words for lists.
        severity: The usual severity (a check may raise it, e.g. to error when the run cannot
            work at all).
        stages: Where it is detected (`STAGES`).
        when: The condition, for the docs.
        localised: What the finding points at, for the docs.
    """

    code: str
    title: str
    severity: str
    stages: tuple[str, ...]
    when: str
    localised: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES or not set(self.stages) <= set(STAGES):
            raise ValueError(f"rule {self.code}: bad severity or stage")


RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("loss_output_mismatch", "Output and loss do not fit", "error", ("static",),
         "Softmax/Sigmoid/LogSoftmax feeding a loss that applies its own; `nll` without "
         "log-probabilities; `bce` with class indices; a classification loss or metric on a "
         "regression target; an output width different from the number of classes; a "
         "bounded last activation (ReLU, Sigmoid, Tanh) that cannot reach the regression "
         "targets.",
         "the layer feeding the Output, the Output, or `training.loss`"),
    Rule("misplaced_dropout", "Dropout at the output", "warning", ("static",),
         "A Dropout feeds the Output directly: during training it zeroes some of the "
         "predictions themselves, so the loss punishes the network for answers it never "
         "gave.", "that Dropout node"),
    Rule("unnormalised_input", "Input data not normalised", "warning", ("static",),
         "Input features far from zero mean and unit scale (raw 0-255 pixels, features in the "
         "thousands, or features whose scales differ a thousandfold).", "the Input node"),
    Rule("symmetry", "Identical units", "error", ("static", "preflight"),
         "All weights of a layer start equal (zeros or a constant), so every unit computes the "
         "same thing and gets the same gradient forever.", "that layer"),
    Rule("bad_initial_loss", "Unexpected initial loss", "warning", ("preflight",),
         "The first batch's loss is far from what an untrained network should give (ln C for C "
         "balanced classes, the target variance for regression).",
         "the last weighted layer before the Output"),
    Rule("non_finite", "NaN or Inf", "error", ("preflight", "live"),
         "A NaN or Inf appears in an activation, the loss or a gradient.",
         "the first node (in forward order) whose output is not finite, else the loss field"),
    Rule("exploding_gradients", "Exploding gradients", "error", ("preflight", "live"),
         "Gradient norms far above the healthy range, or growing by orders of magnitude during "
         "training.", "the layer with the largest gradient norm where the growth starts"),
    Rule("vanishing_gradients", "Vanishing gradients", "warning", ("preflight", "live"),
         "Early layers' gradients orders of magnitude smaller than the last layer's.",
         "the first weighted layer that stops learning; the saturating activations are named "
         "in the fix"),
    Rule("dead_units", "Dead ReLUs", "warning", ("preflight", "live"),
         "A ReLU-family activation outputs exactly zero for (nearly) every input, so no "
         "gradient passes through it.", "that activation node"),
    Rule("saturation", "Saturated activations", "warning", ("preflight", "live"),
         "Sigmoid/Tanh outputs stuck in their flat ends for most inputs.",
         "that activation node"),
    Rule("lr_too_high", "Learning rate too high", "error", ("preflight", "live"),
         "The loss diverges (grows far above its start, or becomes NaN) or oscillates without "
         "falling.", "`training.optimizer.lr`"),
    Rule("lr_too_low", "Learning rate too low", "warning", ("preflight", "live"),
         "The loss barely moves over many steps while the gradients are healthy, and the "
         "weights change by less than 1e-5 of their size per step.", "`training.optimizer.lr`"),
    Rule("slow_convergence", "Slow convergence", "info", ("live",),
         "The loss falls, but so slowly that the run will end far from where it is heading.",
         "`training.optimizer.lr` (or `training.epochs`)"),
    Rule("stuck_at_chance", "Stuck at chance", "error", ("live",),
         "After the first epochs the loss is still about ln C and the accuracy about 1/C.",
         "the most likely cause found by the other rules, else `training.optimizer.lr`"),
    Rule("cannot_fit_batch", "Cannot learn one batch", "warning", ("preflight",),
         "Trained on a single batch for a few dozen steps, the network cannot drive its loss "
         "down: something blocks learning (a bug, a frozen or dead layer, a tiny rate).",
         "the design's bottleneck node when one is found, else `training.optimizer.lr`"),
    Rule("overfitting", "Overfitting", "warning", ("live",),
         "Validation loss rising well above its best while the training loss keeps falling.",
         "`training.regularization` (and the largest hidden layer)"),
    Rule("underfitting", "Underfitting", "warning", ("live",),
         "Training and validation loss both high and flat: the network is too small or too "
         "constrained for the data.", "the narrowest hidden layer, or `training.regularization`"),
    Rule("mode_collapse", "Mode collapse", "warning", ("live",),
         "Adversarial training: the generator's samples (from a fixed batch of noise) spread "
         "over less than half the distance real samples do (`val_diversity` below 0.5) after "
         "the first tenth of the run, for two epochs running: it makes a few samples whatever "
         "the noise, and covers only part of the data (`val_coverage`).",
         "the generator's Output node; the fix is in `training.mode`"),
)}


def rule(code: str) -> Rule:
    """The rule of a code; KeyError names the known ones."""
    try:
        return RULES[code]
    except KeyError:
        raise KeyError(f"unknown finding code '{code}' (known: {', '.join(RULES)})") from None
