"""The live doctor: a trainer callback that reads the run's own events (monitor samples, epoch
ends, failures) and streams `diagnosis` events as findings appear, change or clear.

It adds no measurements of its own: the monitor samples it reads are the ones the plots get (about
3 % of training time under "auto"), so the doctor's own cost is a little Python per event. A
finding is published once it holds on two consecutive monitor samples (one epoch end for the
epoch rules) and withdrawn after it has been absent for two.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from ..training.callbacks import Callback
from ..training.events import (Diagnosis, EpochEnd, Event, FitEnd, FitStart, Monitor,
                               RunWarning, Step)
from . import anatomy, signals
from .findings import Edit, Finding, Fix
from .static import static_findings
from .suspects import suspects

#: Consecutive observations before a finding is published / withdrawn.
CONFIRM = 2
CLEAR = 2
#: Epoch rules: the loss grown past this multiple of its start is diverging.
DIVERGE_FACTOR = 1.5
#: Oscillation: the loss of this many epochs swinging by more than this share of its mean.
OSCILLATION_EPOCHS = 5
OSCILLATION_AMPLITUDE = 0.2
#: ... while the loss is still at least this share of where it started.
OSCILLATION_FROM = 0.5
#: Overfitting: validation loss this far above its best, this many epochs after it.
OVERFIT_FACTOR = 1.2
OVERFIT_MARGIN = 0.05
OVERFIT_WAIT = 3
#: Stuck at chance: accuracy within this of 1/C, loss at least this share of ln C.
CHANCE_MARGIN = 0.05
CHANCE_LOSS = 0.9
#: Underfitting: classification accuracy below this with a flat loss (relative change per epoch).
UNDERFIT_ACCURACY = 0.8
#: Accuracy at which a misbehaving loss or gradient is only a caution (info).
GOOD_ACCURACY = 0.9
FLAT = 0.02
#: Slow convergence: the loss falling every epoch (by this share at least) at the end of a run
#: that is still far from done (accuracy below this, or a regression error above this share of
#: the targets' variance).
SLOW_STEP = 0.001
SLOW_ACCURACY = 0.9
SLOW_VARIANCE = 0.1
#: Underfitting is judged in the last part of a run only (this share of its epochs done).
UNDERFIT_LATE = 0.7
#: Regression underfits when the training error stays above this share of the targets' variance.
UNDERFIT_VARIANCE = 0.3
#: Mode collapse: generated samples' spread below this share of the real data's, judged from
#: this share of the run's epochs on (at least the third epoch).
COLLAPSE_DIVERSITY = 0.5
COLLAPSE_FROM = 0.1
#: Findings that are causes in themselves; other findings (dead units, vanishing gradients...)
#: can be symptoms of a design choice found by suspects.py, which is then named instead.
ROOT_CAUSES = ("loss_output_mismatch", "symmetry")
#: The cause the stuck-at-chance finding points at, most likely first.
CAUSE_ORDER = ("loss_output_mismatch", "symmetry", "dead_units", "vanishing_gradients",
               "saturation", "exploding_gradients", "lr_too_high", "lr_too_low")


def _guarded(hook):
    """A doctor that fails must not fail the run: it says so once (a `warning` event) and
    stops diagnosing."""
    @functools.wraps(hook)
    def run(self, trainer, *args):
        if self.broken:
            return None
        try:
            return hook(self, trainer, *args)
        except Exception as err:  # noqa: BLE001 - any bug in a rule
            self.broken = True
            trainer.emit(RunWarning(f"the training doctor stopped ({type(err).__name__}: "
                                    f"{err}); training goes on without diagnoses"))
            return None
    return run


class LiveDoctor(Callback):
    """Diagnoses a run as it trains; findings go out as `Diagnosis` events via `trainer.emit`."""

    def __init__(self, suggested_lr: float | None = None) -> None:
        #: The learning-rate finder's suggestion, when a pre-flight check ran one: the learning
        #: rate fixes aim at it.
        self.suggested_lr = suggested_lr
        self.broken = False
        self.active: dict[tuple, Finding] = {}
        self.seen: dict[tuple, Finding] = {}  # every finding published in this run
        self._pending: dict[tuple, int] = {}
        self._candidates: dict[tuple, Finding] = {}  # seen, not yet confirmed
        self._absent: dict[tuple, int] = {}
        self._families: dict[str, set[tuple]] = {}
        self._first_norms: dict[str, float] | None = None
        self._params: dict[str, int] = {}
        self._history: list[EpochEnd] = []
        self._first_loss: float | None = None
        self._last_loss: float | None = None
        self._last_nodes: dict[str, dict] = {}
        self._trainer = None
        self._variance = 0.0

    # --- publishing --------------------------------------------------------------------------
    def _emit(self, status: str, finding: Finding, step: int) -> None:
        self._trainer.emit(Diagnosis(status, step, finding.to_json()))

    def _judge(self, family: str, findings: list[Finding], step: int, confirm: int = CONFIRM,
               clear: int = CLEAR) -> None:
        """Publish what held long enough in `family`, withdraw what stayed away long enough."""
        now = {f.key: f for f in findings}
        for key, finding in now.items():
            self._absent.pop(key, None)
            if key in self.active:
                old = self.active[key]
                self.active[key] = finding
                self.seen[key] = finding
                if old.severity != finding.severity or old.title != finding.title:
                    self._emit("updated", finding, step)
                continue
            self._pending[key] = self._pending.get(key, 0) + 1
            self._candidates[key] = finding
            if self._pending[key] >= confirm:
                self._candidates.pop(key, None)
                self.active[key] = self.seen[key] = finding
                self._emit("new", finding, step)
        for key in self._families.get(family, set()) - set(now):
            self._pending.pop(key, None)
            self._candidates.pop(key, None)
            if key in self.active:
                self._absent[key] = self._absent.get(key, 0) + 1
                if self._absent[key] >= clear:
                    finding = self.active.pop(key)
                    self._absent.pop(key)
                    self._emit("withdrawn", finding, step)
        self._families[family] = set(now) | {k for k in self._families.get(family, set())
                                             if k in self.active}

    def findings(self) -> list[Finding]:
        """Every finding published in this run (withdrawn ones included), in order."""
        return list(self.seen.values())

    # --- trainer hooks -----------------------------------------------------------------------
    @_guarded
    def on_fit_start(self, trainer, event: FitStart) -> None:
        self._trainer = trainer
        self._params = {n: r.params for n, r in trainer._analysis.nodes.items()}
        # the targets' spread, the scale regression errors are judged on (once per run)
        y = trainer.y
        self._variance = float(y.float().var()) if y.numel() > 1 else 0.0

    @_guarded
    def on_epoch_start(self, trainer, epoch: int) -> None:
        if epoch != trainer.start_epoch:
            return
        # the static rules once, after fit_start; an output/loss mismatch is already the run's
        # `warning` event (and a mismatch the data check refuses never reaches training)
        found = [f for f in static_findings(trainer.design, trainer._analysis, trainer.dataset)
                 if f.code != "loss_output_mismatch"]
        self._judge("static", found, trainer.step, confirm=1, clear=10**9)

    def _facts(self, trainer, nodes: dict, step: int) -> signals.Facts:
        return signals.Facts(trainer.design, trainer.config, trainer.dataset, nodes,
                             stage="live", step=step)

    @_guarded
    def on_event(self, trainer, event: Event) -> None:
        if isinstance(event, Monitor):
            self._on_monitor(trainer, event)
        elif isinstance(event, Step):
            if self._first_loss is None:
                self._first_loss = event.loss  # the first step's loss (always sent)
            self._last_loss = event.loss

    def _on_monitor(self, trainer, event: Monitor) -> None:
        nodes = event.nodes
        self._last_nodes = nodes
        norms = {n: v.get("grad_norm") for n, v in nodes.items()
                 if isinstance(v.get("grad_norm"), (int, float))}
        if self._first_norms is None and norms:
            self._first_norms = norms
        facts = self._facts(trainer, nodes, event.step)
        held = frozenset(key[1] for key in self.active)
        found = (signals.dead_findings(facts, held) + signals.saturation_findings(facts, held)
                 + signals.gradient_findings(facts, self._params, self._first_norms))
        if any(k[0] in ("symmetry", "dead_units") for k in self.active) or \
                any(f.code in ("dead_units", "exploding_gradients") for f in found):
            # identical or dead units pass back zero gradients (the cause, not vanishing); next
            # to exploding gradients a small ratio is the others' growth, not a vanishing one
            found = [f for f in found if f.code != "vanishing_gradients"]
        found = [self._caution(f) if f.code == "exploding_gradients" else f for f in found]
        dead = [f for f in found if f.code == "dead_units"]
        if dead and signals.lr(facts.config) >= signals.KILLING_LR * signals.safe_lr(facts.config):
            found.append(signals.rate_killed_units(facts, dead))
        self._judge("nodes", found, event.step)

    @_guarded
    def on_epoch_end(self, trainer, event: EpochEnd) -> None:
        self._history.append(event)
        if self._first_loss is None:
            self._first_loss = self._history[0].train_loss
        facts = self._facts(trainer, self._last_nodes, event.step)
        if self._adversarial(trainer):
            # a GAN's generator loss is a game's score, not a loss that should fall: the loss
            # rules would read its swings as divergence; the game has its own rule
            collapse = self._collapse(trainer, facts)
            self._judge("epochs", [collapse] if collapse else [], event.step)
            return
        found = [f for f in (self._diverging(facts), self._chance(facts),
                             self._overfitting(facts), self._underfitting(facts),
                             self._too_slow(facts)) if f]
        self._judge("epochs", found, event.step, confirm=1)

    @_guarded
    def on_exception(self, trainer, error: BaseException) -> None:
        if getattr(error, "kind", None) != "nan" or self._trainer is None:
            return
        facts = self._facts(trainer, self._last_nodes, trainer.step)
        what = "gradients" if "gradients" in str(error) else "loss"
        # a run that dies gives no second sample: what was seen once is all the evidence left
        for key, finding in list(self._candidates.items()):
            self.active[key] = self.seen[key] = finding
            self._emit("new", finding, trainer.step)
        self._candidates.clear()
        found = [signals.non_finite_finding(facts, getattr(error, "node", None), what)]
        latest = self._history[-1].train_loss if self._history else self._last_loss
        if latest is not None and self._first_loss is not None and \
                latest > DIVERGE_FACTOR * self._first_loss:
            found.append(self._lr_high(facts, f"rose to {latest:.3g}, then became NaN/Inf"))
        self._judge("failure", found, trainer.step, confirm=1)

    @_guarded
    def on_fit_end(self, trainer, event: FitEnd) -> None:
        if event.status == "completed" and self._history and not self._adversarial(trainer):
            facts = self._facts(trainer, self._last_nodes, event.steps or 0)
            found = self._slow_at_end(facts)
            if found:
                self._judge("end", [found], event.steps or 0, confirm=1)

    # --- epoch rules --------------------------------------------------------------------------
    @staticmethod
    def _adversarial(trainer) -> bool:
        return trainer.config["mode"]["name"] == "adversarial"

    def _collapse(self, trainer, facts) -> Finding | None:
        """The generator's samples spread far less than the data: mode collapse."""
        epoch = len(self._history)
        epochs = trainer.config["epochs"]
        diversity = self._history[-1].metrics.get("val_diversity")
        if epoch < max(3, math.ceil(COLLAPSE_FROM * epochs)) or \
                not isinstance(diversity, (int, float)) or diversity >= COLLAPSE_DIVERSITY:
            return None
        coverage = self._history[-1].metrics.get("val_coverage")
        design, config = facts.design, facts.config
        section = config["mode"]
        output = next((n for n in design.networks().get("generator", [])
                       if design.nodes[n].type == "Output"), None)
        lr = signals.lr(config)
        d_lr = section.get("discriminator_lr")
        fixes = []
        if d_lr is not None and d_lr < lr:
            fixes.append(Fix(f"Train the discriminator at the generator's learning rate ({lr:g}, "
                             f"not {d_lr:g})", (Edit("set_training", name="mode.discriminator_lr",
                                                     value=None),)))
        if section.get("generator_loss") == "minimax":
            fixes.append(Fix("Use the non-saturating generator loss", (
                Edit("set_training", name="mode.generator_loss", value="non_saturating"),)))
        if not fixes:  # no setting known to cause it: slow the generator down against D
            fixes.append(Fix(f"Halve the generator's learning rate (to {lr / 2:g})", (
                Edit("set_training", name="optimizer.lr", value=lr / 2),
                Edit("set_training", name="mode.discriminator_lr", value=d_lr if d_lr is not None
                     else lr))))
        covered = (f" and lie near only {coverage:.0%} of the real samples"
                   if isinstance(coverage, (int, float)) and math.isfinite(coverage) else "")
        slower = (f" Here the discriminator learns at {d_lr:g}, {lr / d_lr:.0f}x slower than the "
                  "generator, so the generator jumps to wherever the discriminator is weakest "
                  "before it can react, and all its noise lands there."
                  if d_lr is not None and d_lr < lr else "")
        return Finding(
            "mode_collapse", "warning", "Mode collapse: the generator makes a few samples",
            f"After {epoch} epochs the generator's samples from a fixed batch of noise spread "
            f"over only {diversity:.0%} of the distance real samples do{covered}: whatever the "
            "noise, it makes nearly the same few samples, which fool the discriminator for a "
            "while, instead of the variety of the data." + slower, node=output,
            field="training.mode",
            evidence={"diversity": diversity, "coverage": coverage, "epochs": epoch,
                      "limit": COLLAPSE_DIVERSITY},
            fixes=tuple(fixes), step=facts.step, stage="live")

    def _lr_high(self, facts: signals.Facts, how: str) -> Finding:
        config = facts.config
        losses = [round(e.train_loss, 5) for e in self._history]
        return Finding(
            "lr_too_high", "error", f"Learning rate {signals.lr(config):g} is too high",
            f"The training loss {how} (from {self._first_loss:.3g} at the first step): each step "
            "overshoots the minimum and lands higher up the other side, so the weights are "
            "thrown further every time.", field="training.optimizer.lr",
            evidence={"first_loss": self._first_loss, "epoch_losses": losses,
                      "lr": signals.lr(config)},
            fixes=(signals.lower_lr_fix(config, 10, clip=True),), step=facts.step, stage="live")

    def learning_well(self) -> bool:
        """The task metric is good although the loss or gradients misbehave (a very high
        learning rate that still classifies): the doctor then cautions instead of alarming."""
        if not self._history:
            return False
        accuracy = self._accuracy(self._history[-1])
        if accuracy is not None:
            return accuracy >= GOOD_ACCURACY
        first, last = self._history[0].val_loss, self._history[-1].val_loss
        return first is not None and last is not None and last < 0.5 * first

    def _caution(self, finding: Finding | None) -> Finding | None:
        if finding is not None and finding.severity != "info" and self.learning_well():
            return dataclasses.replace(finding, severity="info")
        return finding

    def _diverging(self, facts) -> Finding | None:
        last = self._history[-1].train_loss
        if self._first_loss is None or not math.isfinite(self._first_loss):
            return None
        # above its start and not coming down (one turbulent first epoch is not divergence)
        rising = len(self._history) >= 2 and last >= self._history[-2].train_loss
        if not math.isfinite(last) or (last > DIVERGE_FACTOR * self._first_loss + 1e-6
                                       and rising):
            return self._caution(self._lr_high(facts, f"grew to {last:.3g}"))
        window = [e.train_loss for e in self._history[-OSCILLATION_EPOCHS:]]
        if len(window) == OSCILLATION_EPOCHS and self._oscillates(window):
            shown = ", ".join(f"{v:.3g}" for v in window)
            return self._caution(self._lr_high(facts, f"swings up and down without settling "
                                                      f"({shown})"))
        return None

    def _oscillates(self, losses: list[float]) -> bool:
        """Up, down, up, down... by large amounts, and no lower than before the window."""
        steps = [b - a for a, b in zip(losses, losses[1:])]
        flips = sum(1 for a, b in zip(steps, steps[1:]) if a * b < 0)
        mean = sum(losses) / len(losses)
        big = all(abs(d) > OSCILLATION_AMPLITUDE * mean for d in steps)
        if self._first_loss is not None and mean < OSCILLATION_FROM * self._first_loss:
            return False  # the noise of a loss near its floor, not a rate thrown about
        earlier = [e.train_loss for e in self._history[:-OSCILLATION_EPOCHS]]
        stalled = not earlier or min(losses) >= min(earlier) * 0.98
        return flips >= len(steps) - 1 and big and stalled

    def _classes(self, trainer) -> int | None:
        ds = trainer.dataset
        return ds.num_classes if ds.task == "classification" and ds.num_classes else None

    def _accuracy(self, event: EpochEnd) -> float | None:
        for key in ("val_accuracy", "train_accuracy"):
            value = event.metrics.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                return value
        return None

    def _cause(self) -> Finding | None:
        ranked = sorted((f for f in self.active.values() if f.code in CAUSE_ORDER),
                        key=lambda f: CAUSE_ORDER.index(f.code))
        return ranked[0] if ranked else None

    def _chance(self, facts) -> Finding | None:
        trainer = self._trainer
        classes = self._classes(trainer)
        epoch = len(self._history)
        if not classes or epoch < min(max(5, trainer.config["epochs"] // 3), 20):
            return None
        event = self._history[-1]
        accuracy = self._accuracy(event)
        chance = 1.0 / classes
        # once published, it clears only past a wider margin: an accuracy wobbling around the
        # threshold (a linear model on XOR) must not flash the finding on and off every epoch
        held = any(k[0] == "stuck_at_chance" for k in self.active)
        margin, loss_share = (2 * CHANCE_MARGIN, CHANCE_LOSS - 0.1) if held else (
            CHANCE_MARGIN, CHANCE_LOSS)
        if held and accuracy is not None:  # and it judges the last few epochs, not one
            recent = [a for a in map(self._accuracy, self._history[-3:]) if a is not None]
            accuracy = sum(recent) / len(recent)
        if accuracy is None or accuracy > chance + margin \
                or event.train_loss < loss_share * math.log(classes):
            return None
        cause = self._cause()
        config = facts.config
        suspect = next(iter(suspects(facts.design, config, classes)), None)
        if cause is not None and suspect is not None and cause.code not in ROOT_CAUSES:
            cause = None  # a design choice (strong decay, frozen layers...) explains symptoms
        if cause is not None:
            suspect = None
        if cause:
            why, node, field_, fixes = (f"The likely cause: {cause.title.lower()}.", cause.node,
                                        cause.field, cause.fixes)
        elif suspect:
            why, node, field_, fixes = (f"The likely cause: {suspect.why}.", suspect.node,
                                        suspect.field, (suspect.fix,))
        else:
            why, node, field_ = (" No layer looks broken, so the learning rate is the first "
                                 "thing to try.", None, "training.optimizer.lr")
            fixes = (signals.lower_lr_fix(config, 10) if signals.lr_is_high(config)
                     else signals.raise_lr_fix(config, self.suggested_lr),)
        return Finding(
            "stuck_at_chance", "error", "Stuck at chance",
            f"After {epoch} epochs the accuracy is {accuracy:.1%}, what guessing gives with "
            f"{classes} classes ({chance:.0%}), and the loss {event.train_loss:.3g} is still "
            f"about ln {classes} = {math.log(classes):.3g}: the network has learnt nothing. "
            + why.strip(), node=node, field=field_,
            evidence={"accuracy": accuracy, "chance": chance, "loss": event.train_loss,
                      "ln_classes": math.log(classes),
                      "cause": cause.code if cause else (suspect.kind if suspect else None)},
            fixes=tuple(fixes), step=facts.step, stage="live")

    def _overfitting(self, facts) -> Finding | None:
        vals = [e.val_loss for e in self._history]
        if any(v is None or not math.isfinite(v) for v in vals) or len(vals) < OVERFIT_WAIT + 2:
            return None
        best = min(range(len(vals)), key=vals.__getitem__)
        now = len(vals) - 1
        if now - best < OVERFIT_WAIT or vals[now] < max(OVERFIT_FACTOR * vals[best],
                                                        vals[best] + OVERFIT_MARGIN):
            return None
        train_best, train_now = self._history[best].train_loss, self._history[now].train_loss
        if train_now >= train_best:
            return None  # both rising: not overfitting (diverging is judged apart)
        design, config = facts.design, facts.config
        hidden = anatomy.hidden_weighted(design)
        after = []
        for node in hidden[:2]:  # Dropout after the activations of the first hidden layers
            nxt = anatomy.consumers(design, node)
            spot = nxt[0] if nxt and design.spec(nxt[0]).category == "Activation" else node
            after.append(Edit("insert_after", spot, type="Dropout", params={"p": 0.5}))
        patience = max(5, config["epochs"] // 10)
        stop = (Edit("set_training", name="early_stopping.enabled", value=True),
                Edit("set_training", name="early_stopping.patience", value=patience))
        fixes = (Fix("Add Dropout (p 0.5) after the first hidden layers, weight decay 0.01 and "
                     f"early stopping (patience {patience})", tuple(after) + (
                         Edit("set_training", name="optimizer.weight_decay", value=0.01),)
                     + stop),
                 Fix("Stop early when the validation loss stops improving", stop))
        return Finding(
            "overfitting", "warning", f"Overfitting since epoch {best + 1}",
            f"The validation loss was lowest at epoch {best + 1} ({vals[best]:.3g}) and has "
            f"risen to {vals[now]:.3g} while the training loss kept falling ({train_best:.3g} "
            f"→ {train_now:.3g}): the network is memorising the training samples, noise "
            "included, instead of learning what generalises.", field="training.regularization",
            evidence={"best_epoch": best + 1, "best_val_loss": vals[best],
                      "val_loss": vals[now], "train_loss": train_now,
                      "factor": OVERFIT_FACTOR}, fixes=fixes, step=facts.step, stage="live")

    def _flat(self, epochs: int = 3) -> bool:
        losses = [e.train_loss for e in self._history[-epochs:]]
        return len(losses) == epochs and all(
            abs(a - b) <= FLAT * max(abs(a), 1e-12) for a, b in zip(losses, losses[1:]))

    def _underfitting(self, facts) -> Finding | None:
        trainer = self._trainer
        epoch = len(self._history)
        # late in the run only: a plateau early on (the adding problem's LSTM sits at the
        # mean's error for a third of its run, then learns) is not yet a verdict
        if epoch < max(5, math.ceil(UNDERFIT_LATE * trainer.config["epochs"])) or \
                not self._flat(4):
            return None
        if self._slowly_falling():
            return None  # still learning: slow convergence (judged at the end), not capacity
        event = self._history[-1]
        classes = self._classes(trainer)
        if classes:
            accuracy = self._accuracy(event)
            if accuracy is None or accuracy >= UNDERFIT_ACCURACY or \
                    accuracy <= 1.0 / classes + CHANCE_MARGIN:
                return None
            measure = f"the accuracy is only {accuracy:.1%}"
        elif trainer.dataset.task == "regression":
            variance = self._variance
            if not variance or event.train_loss < UNDERFIT_VARIANCE * variance:
                return None
            measure = (f"the training error {event.train_loss:.3g} is "
                       f"{event.train_loss / variance:.0%} of the targets' variance")
        else:
            return None
        design = facts.design
        found = suspects(design, facts.config, classes)
        if found:
            suspect = found[0]
            node, field_, why = suspect.node, suspect.field, f": {suspect.why}."
            fixes = tuple(s.fix for s in found)
        else:  # nothing obviously constrained: more capacity
            widths = {}
            for n in anatomy.hidden_weighted(design):
                param = anatomy.width_param(design, n)
                if param and isinstance(design.nodes[n].params.get(param), int):
                    widths[n] = (param, design.nodes[n].params[param])
            if not widths:
                return None
            node, field_ = min(widths, key=lambda n: widths[n][1]), None
            why = f" ({node} has {widths[node][1]} units)."
            fixes = (Fix(f"Double the width of {', '.join(widths)}", tuple(
                Edit("set_param", n, p, w * 2) for n, (p, w) in widths.items())),)
        return Finding(
            "underfitting", "warning", "Underfitting: the loss is high and flat",
            f"After {epoch} epochs the training loss has stopped falling and {measure}, on the "
            "training samples themselves: the network is too small or too constrained to "
            f"represent the pattern{why}", node=node, field=field_,
            evidence={"train_loss": event.train_loss, "epochs": epoch},
            fixes=fixes, step=facts.step, stage="live")

    def _too_slow(self, facts) -> Finding | None:
        """Loss barely moving with healthy gradients and tiny updates: lr too low."""
        epoch = len(self._history)
        if epoch < 5 or self._first_loss is None:
            return None
        last = self._history[-1].train_loss
        drop = (self._first_loss - last) / max(abs(self._first_loss), 1e-12)
        moved = signals.max_update(self._last_nodes)
        if drop >= 0.05 or moved is None or moved >= signals.TINY_UPDATE:
            return None
        config = facts.config
        return Finding(
            "lr_too_low", "warning", f"Learning rate {signals.lr(config):g} is too low",
            f"After {epoch} epochs the training loss has fallen only {drop:.1%}, and each step "
            f"moves the weights by at most {moved:.1e} of their size (healthy is about "
            "1e-3): the gradients are there, the steps are too small.",
            field="training.optimizer.lr",
            evidence={"drop": drop, "update_ratio": moved, "limit": signals.TINY_UPDATE},
            fixes=(signals.raise_lr_fix(config, self.suggested_lr),), step=facts.step,
            stage="live")

    def _slowly_falling(self) -> bool:
        """The loss fell in each of the last epochs: still learning, however slowly."""
        losses = [e.train_loss for e in self._history[-4:]]
        return len(losses) == 4 and all(b < a * (1 - SLOW_STEP)
                                        for a, b in zip(losses, losses[1:]))

    def _slow_at_end(self, facts) -> Finding | None:
        """At the end: still falling steadily, the run ended before it got there."""
        if len(self._history) < 4 or any(k[0] in ("lr_too_low", "stuck_at_chance", "overfitting")
                                         for k in self.active):
            return None  # overfitting: the training set is learnt, a faster rate won't help
        train_accuracy = self._history[-1].metrics.get("train_accuracy")
        if isinstance(train_accuracy, (int, float)) and train_accuracy >= SLOW_ACCURACY:
            return None  # the training loss still falls, but only towards zero on a fitted set
        losses = [e.train_loss for e in self._history[-4:]]
        steady = all(b < a * (1 - SLOW_STEP) for a, b in zip(losses, losses[1:]))
        accuracy = self._accuracy(self._history[-1])
        if accuracy is not None:
            far = accuracy < SLOW_ACCURACY
        else:  # regression: still well above a small share of the targets' variance
            far = self._variance > 0 and losses[-1] > SLOW_VARIANCE * self._variance
        if not steady or not far:
            return None
        config = facts.config
        return Finding(
            "slow_convergence", "info", "Still improving when the run ended",
            f"The training loss was still falling in each of the last epochs "
            f"({', '.join(f'{v:.3g}' for v in losses)}) when the run ended, far from done: a "
            "larger learning rate (or more epochs) gets there.",
            field="training.optimizer.lr", evidence={"last_losses": losses},
            fixes=(signals.raise_lr_fix(config, self.suggested_lr),
                   Fix(f"Train for {config['epochs'] * 2} epochs", (
                       Edit("set_training", name="epochs", value=config["epochs"] * 2),))),
            step=facts.step, stage="live")
