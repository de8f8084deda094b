"""The rules that read measurements: per-node statistics in the monitor's format (the pre-flight
takes one sample, the live doctor the stream), losses and update sizes. Thresholds come from the
statistics catalogue where it declares a healthy range."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..graph import GraphModel
from ..lazy import lazy_import
from ..training.losses import LOSSES
from ..training.statistics import STATISTICS
from . import anatomy
from .findings import Edit, Finding, Fix

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")

#: A ReLU-family node whose outputs are exact zeros this often is dead.
DEAD_LIMIT = 0.95
#: ... and stays dead (for a finding already made) until it falls below this.
DEAD_CLEAR = 0.8
#: A Sigmoid/Tanh node with this share of outputs in its flat ends is saturated.
SATURATED_LIMIT = 0.6
SATURATED_CLEAR = 0.4
#: An early layer whose gradient (per weight) is this much smaller than the largest layer's has
#: stopped learning.
VANISHING_RATIO = 1e-3
#: Gradient norms above the catalogue's healthy range by this factor are exploding.
EXPLODING_FACTOR = 10.0
#: The single-batch fit: a drop below this share means the batch was not learnt.
MIN_FIT_DROP = 0.05
#: Below this drop a design with a structural suspect (a one-unit layer, heavy dropout...) is
#: also reported: it learns the batch, but far less than a healthy network does.
WEAK_FIT_DROP = 0.3
#: ... and growth above this factor means it diverged.
DIVERGE_FACTOR = 1.5
#: Steps that move the weights by less than this share of their size barely learn.
TINY_UPDATE = 1e-5
#: Initial loss beyond this multiple of the expected one (and by more than `BAD_LOSS_MARGIN`).
BAD_LOSS_FACTOR = 3.0
BAD_LOSS_MARGIN = 1.0
#: A learning rate known to work for each optimiser family (the lr fixes aim near it).
SAFE_LR = {"sgd": 0.01, "adagrad": 0.01}
SAFE_LR_DEFAULT = 1e-3
#: Dead ReLUs at a rate this many times the usual one are the rate's doing.
KILLING_LR = 30.0


@dataclass
class Facts:
    """What a rule may read: the design, its training config, the data and measurements."""

    design: GraphModel
    config: Any
    dataset: Any
    nodes: dict[str, dict]
    initial_loss: float | None = None
    output: torch.Tensor | None = None
    target: torch.Tensor | None = None
    stage: str = "preflight"
    step: int | None = None
    suggested_lr: float | None = None  # the learning-rate finder's, when it ran


def _finding(facts: Facts, *args, **kwargs) -> Finding:
    return Finding(*args, step=facts.step, stage=facts.stage, **kwargs)


# --- learning-rate fixes ----------------------------------------------------------------------
def lr(config) -> float:
    return float(config.optimizer["lr"])


def safe_lr(config) -> float:
    return SAFE_LR.get(config.optimizer["name"], SAFE_LR_DEFAULT)


def _round(value: float) -> float:
    """A learning rate people would type: 1, 2, 3 or 5 times a power of ten."""
    exp = math.floor(math.log10(value))
    mantissa = min((1, 2, 3, 5, 10), key=lambda m: abs(math.log(value / (m * 10 ** exp))))
    return float(f"{mantissa * 10 ** exp:.3g}")


def lower_lr_fix(config, factor: float = 10.0, clip: bool = False) -> Fix:
    new = _round(lr(config) / factor)
    edits = [Edit("set_training", name="optimizer.lr", value=new)]
    text = f"Lower the learning rate from {lr(config):g} to {new:g}"
    if clip:
        edits.append(Edit("set_training", name="gradient_clipping.mode", value="norm"))
        edits.append(Edit("set_training", name="gradient_clipping.value", value=1.0))
        text += " and clip the gradient norm at 1"
    return Fix(text, tuple(edits))


def raise_lr_fix(config, suggested: float | None = None) -> Fix:
    """To the learning-rate finder's suggestion when there is one above the current rate, else
    tenfold (at least to a rate known to work for the optimiser)."""
    if suggested and suggested > lr(config):
        return Fix(f"Raise the learning rate from {lr(config):g} to {suggested:g} (the "
                   "learning-rate finder's suggestion)",
                   (Edit("set_training", name="optimizer.lr", value=suggested),))
    new = _round(max(lr(config) * 10, safe_lr(config)))
    return Fix(f"Raise the learning rate from {lr(config):g} to {new:g}",
               (Edit("set_training", name="optimizer.lr", value=new),))


def lr_is_high(config) -> bool:
    return lr(config) >= 10 * safe_lr(config)


# --- per-node statistics ------------------------------------------------------------------------
def _value(nodes: dict, node: str, key: str) -> float | None:
    value = nodes.get(node, {}).get(key)
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def max_update(nodes: dict) -> float | None:
    """The largest update/weight ratio of a monitor sample (None when it measured none)."""
    values = [v.get("update_ratio") for v in nodes.values()]
    values = [r for r in values if isinstance(r, (int, float)) and math.isfinite(r)]
    return max(values) if values else None


def dead_findings(facts: Facts, held: frozenset = frozenset()) -> list[Finding]:
    """`held`: nodes already reported, judged with the lower clearing limit."""
    design, out = facts.design, []
    relus = anatomy.of_types(design, lambda s: s.units_can_die)
    for node in relus:
        dead = _value(facts.nodes, node, "dead_fraction")
        if dead is None or dead < (DEAD_CLEAR if node in held else DEAD_LIMIT):
            continue
        if node == anatomy.last_before_output(design):  # it clips the network's answers
            out.append(_finding(
                facts, "dead_units", "warning", f"{node} is dead",
                f"{dead:.0%} of {node}'s outputs are exactly zero, and {node} gives the network's "
                "answers: a ReLU there cuts off every negative score or value, and the answers "
                "pushed below zero get no gradient back.", node=node,
                evidence={"dead_fraction": round(dead, 4), "limit": DEAD_LIMIT},
                fixes=(Fix(f"Remove {node}: the answers need negative values too",
                           (Edit("remove_node", node),)),)))
            continue
        leaky = tuple(Edit("replace_node", n, type="LeakyReLU", params={"negative_slope": 0.01})
                      for n in relus)
        fixes = [Fix(f"Replace the ReLUs ({', '.join(relus)}) with LeakyReLU, whose small "
                     "negative slope keeps a gradient flowing", leaky)]
        if lr_is_high(facts.config):  # the rate that killed them would do it again
            lower = lower_lr_fix(facts.config, 10)
            fixes = [Fix(f"{fixes[0].description}, and {lower.description[0].lower()}"
                         f"{lower.description[1:]}", leaky + lower.edits),
                     fixes[0], lower]
        out.append(_finding(
            facts, "dead_units", "warning", f"{node} is dead",
            f"{dead:.0%} of {node}'s outputs are exactly zero. A ReLU outputs zero for every "
            "negative input and then passes back no gradient, so a unit pushed below zero for "
            "all inputs (often by a too-large step) never recovers and the layers after it "
            "lose their signal.", node=node,
            evidence={"dead_fraction": round(dead, 4), "limit": DEAD_LIMIT,
                      "lr": lr(facts.config)}, fixes=tuple(fixes)))
    return out


def rate_killed_units(facts: Facts, dead: list[Finding]) -> Finding:
    """Dead ReLUs at a rate far above the optimiser's usual: the rate is the cause."""
    config = facts.config
    nodes = ", ".join(f.node for f in dead)
    return _finding(
        facts, "lr_too_high", "error", f"Learning rate {lr(config):g} is too high",
        f"The learning rate is {lr(config) / safe_lr(config):.0f} times what "
        f"{config.optimizer['name']} usually needs, and its first big steps pushed {nodes} below "
        "zero for every input: those units are dead and the network cannot learn through them.",
        field="training.optimizer.lr",
        evidence={"lr": lr(config), "usual": safe_lr(config), "dead": [f.node for f in dead]},
        fixes=(lower_lr_fix(config, 10),))


def _weighted_feeding(design: GraphModel, node: str) -> str | None:
    """The nearest weighted layer on the path into `node`."""
    seen = set()
    weights = set(anatomy.weighted(design))
    current = anatomy.feeding(design, node)
    while current:
        src = current[0]
        if src in seen:
            return None
        seen.add(src)
        if src in weights:
            return src
        current = anatomy.feeding(design, src)
    return None


def saturation_findings(facts: Facts, held: frozenset = frozenset()) -> list[Finding]:
    design, out = facts.design, []
    saturating = anatomy.of_types(design, lambda s: s.saturation is not None)
    for node in saturating:
        share = _value(facts.nodes, node, "saturated_fraction")
        if share is None or share < (SATURATED_CLEAR if node in held else SATURATED_LIMIT):
            continue
        kind = design.nodes[node].type
        source = anatomy.feeding(design, node)
        fixes = []
        if source:
            fixes.append(Fix(f"Insert a BatchNorm before {node}: it keeps the inputs of the "
                             f"{kind} near zero, where it is steep",
                             (Edit("insert_after", source[0], type="BatchNorm"),)))
        fixes.append(Fix(f"Replace the saturating activations ({', '.join(saturating)}) with ReLU",
                         tuple(Edit("replace_node", n, type="ReLU") for n in saturating)))
        weighted = _weighted_feeding(design, node)
        if weighted and design.nodes[weighted].params.get("weight_init") not in (
                "default", "xavier_uniform", "xavier_normal"):
            fixes.insert(0, Fix(f"Initialise {weighted} with xavier_normal (scaled for {kind})",
                                (Edit("set_param", weighted, "weight_init", "xavier_normal"),)))
        out.append(_finding(
            facts, "saturation", "warning", f"{node} is saturated",
            f"{share:.0%} of {node}'s outputs sit in the flat ends of the {kind} curve, where its "
            "slope is almost zero: those units pass back almost no gradient and barely learn. "
            "Its inputs are too large, from large weights or unnormalised data.", node=node,
            evidence={"saturated_fraction": round(share, 4), "limit": SATURATED_LIMIT},
            fixes=tuple(fixes)))
    return out


def _rms(facts: Facts, node: str, analysis_params: dict[str, int]) -> float | None:
    norm = _value(facts.nodes, node, "grad_norm")
    count = analysis_params.get(node) or 0
    return norm / math.sqrt(count) if norm is not None and count else None


def gradient_findings(facts: Facts, params: dict[str, int],
                      first_norms: dict[str, float] | None = None) -> list[Finding]:
    """Vanishing (early layers' gradients per weight far below the largest) and exploding (a
    gradient norm far above the healthy range, or grown a hundredfold since `first_norms`)."""
    design = facts.design
    weighted = [n for n in anatomy.weighted(design) if params.get(n)]
    rms = {n: _rms(facts, n, params) for n in weighted}
    rms = {n: v for n, v in rms.items() if v is not None}
    out = []
    if len(rms) >= 2:
        top = max(rms.values())
        stalled = [n for n in weighted if n in rms and rms[n] < VANISHING_RATIO * top]
        if stalled and top > 0:
            first = stalled[0]
            saturating = anatomy.of_types(design, lambda s: s.saturation is not None)
            hidden = [n for n in anatomy.hidden_weighted(design)
                      if "weight_init" in design.nodes[n].params]
            init = tuple(Edit("set_param", n, "weight_init", "kaiming_normal") for n in hidden)
            fixes = []
            if saturating:
                fixes.append(Fix(f"Replace {', '.join(saturating)} with ReLU and use "
                                 "kaiming_normal init", tuple(
                                     Edit("replace_node", n, type="ReLU") for n in saturating)
                                 + init))
            fixes.append(Fix("Use kaiming_normal init on the hidden layers", init))
            ratio = rms[first] / top
            cause = (f" Between it and the output sit {len(saturating)} saturating "
                     f"activations ({', '.join(saturating[:4])}{'…' if len(saturating) > 4 else ''})"
                     ", each passing back at most a quarter of the gradient." if saturating
                     else "")
            out.append(_finding(
                facts, "vanishing_gradients", "warning", f"Gradients vanish before {first}",
                f"The gradient reaching {first} is {ratio:.1e} times the largest layer's (per "
                "weight), so its weights hardly change and everything before the last layers "
                f"stops learning.{cause}", node=first,
                evidence={"ratio": ratio, "limit": VANISHING_RATIO,
                          "grad_norms": {n: _value(facts.nodes, n, "grad_norm") for n in weighted}},
                fixes=tuple(f for f in fixes if f.edits)))
    high = STATISTICS["grad_norm"].healthy[1] * EXPLODING_FACTOR
    norms = {n: _value(facts.nodes, n, "grad_norm") for n in weighted}
    norms = {n: v for n, v in norms.items() if v is not None}
    grown = {n: v / first_norms[n] for n, v in norms.items()
             if first_norms and first_norms.get(n) and v > 1.0} if first_norms else {}
    # grown a hundredfold AND large: a tiny first gradient growing to an ordinary size is not
    # an explosion
    exploding = [n for n, v in norms.items() if v > high] + \
        [n for n, g in grown.items() if g > 100 and norms[n] > high / 100]
    if exploding:
        worst = max(set(exploding), key=lambda n: (grown.get(n, 0), norms[n]))
        fixes = (lower_lr_fix(facts.config, 5, clip=True),
                 Fix("Clip the gradient norm at 1", (
                     Edit("set_training", name="gradient_clipping.mode", value="norm"),
                     Edit("set_training", name="gradient_clipping.value", value=1.0))))
        out.append(_finding(
            facts, "exploding_gradients", "error", f"Gradients explode at {worst}",
            f"{worst}'s gradient norm is {norms[worst]:.3g}"
            + (f", {grown[worst]:.0f} times what it was" if worst in grown else "")
            + f" (healthy: below {high:g}). Each step then moves the weights so far that the "
            "next gradient is larger still, until the values overflow to NaN.", node=worst,
            evidence={"grad_norm": norms[worst], "limit": high,
                      "growth": grown.get(worst)}, fixes=fixes))
    return out


# --- losses ---------------------------------------------------------------------------------------
def expected_loss(facts: Facts) -> float | None:
    """What an untrained network's loss should be about, or None when it cannot be told."""
    loss = facts.config["loss"]
    spec = LOSSES[loss]
    y = facts.target
    if spec.task_spec.class_scores and facts.output is not None:
        return math.log(facts.output.shape[-1]) if facts.output.shape[-1] > 1 else None
    if spec.task == "multilabel":
        return math.log(2)
    if y is not None and loss == "mse":
        return float(y.float().pow(2).mean()) + 1.0
    if y is not None and loss == "l1":
        return float(y.float().abs().mean()) + 1.0
    return None


#: Regression targets whose squared mean exceeds their variance this many times sit far from
#: the zero an untrained network predicts.
OFFSET_FACTOR = 10.0


def _offset_targets(facts: Facts) -> Finding | None:
    """Regression targets far from zero: the first steps are spent moving the output bias."""
    if LOSSES[facts.config["loss"]].task != "regression" or facts.target is None:
        return None
    y = facts.target.float()
    mean, var = float(y.mean()), float(y.var()) if y.numel() > 1 else 0.0
    if var <= 0 or mean * mean < OFFSET_FACTOR * var or facts.initial_loss is None:
        return None
    design = facts.design
    head = anatomy.last_weighted(design) or anatomy.last_before_output(design)
    return _finding(
        facts, "bad_initial_loss", "warning", f"Initial loss {facts.initial_loss:.3g}: targets "
        "far from zero", f"The targets average {mean:.3g} with a spread (variance) of only "
        f"{var:.3g}, but an untrained network predicts about 0, so the first loss is "
        f"{facts.initial_loss:.3g} instead of about {var:.3g}. Most of the early training is "
        f"spent moving {head}'s bias to {mean:.3g} before anything else is learnt; with a small "
        "learning rate the whole run can go by on it.", node=head,
        evidence={"initial_loss": facts.initial_loss, "expected": var, "target_mean": mean,
                  "factor": OFFSET_FACTOR},
        fixes=(raise_lr_fix(facts.config, facts.suggested_lr),))


def initial_loss_findings(facts: Facts, expected: float | None) -> list[Finding]:
    loss = facts.initial_loss
    offset = _offset_targets(facts)
    if offset is not None:
        return [offset]
    if loss is None or expected is None or not math.isfinite(loss):
        return []
    if loss <= max(expected * BAD_LOSS_FACTOR, expected + BAD_LOSS_MARGIN):
        return []
    design = facts.design
    head = anatomy.last_weighted(design) or anatomy.last_before_output(design)
    fixes = []
    if head and "weight_init" in design.nodes[head].params:
        fixes.append(Fix(f"Start {head} with small weights (init normal, std 0.05) so the first "
                         "scores are near zero", (Edit("set_param", head, "weight_init",
                                                       "normal"),)))
    input_id = next(n.id for n in design.nodes.values() if n.type == "Input")
    fixes.append(Fix(f"Insert a BatchNorm after {input_id} to standardise the inputs",
                     (Edit("insert_after", input_id, type="BatchNorm"),)))
    return [_finding(
        facts, "bad_initial_loss", "warning", f"Initial loss {loss:.3g}, expected about "
        f"{expected:.3g}", f"Before any training the loss is {loss:.3g}, but an untrained "
        f"network that knows nothing should score about {expected:.3g}"
        + (" (ln C for C equally likely classes)" if LOSSES[facts.config['loss']].task_spec
           .class_scores else "") + ". It starts confidently wrong: its first scores are far "
        f"too large, so early steps are spent undoing the start. {head} makes those scores.",
        node=head, evidence={"initial_loss": loss, "expected": expected,
                             "factor": BAD_LOSS_FACTOR}, fixes=tuple(fixes))]


def fit_findings(facts: Facts, losses: list[float], update_ratios: list[float],
                 causes: list[Finding]) -> list[Finding]:
    """The single-batch fit: diverging, not moving with tiny steps, or not learning."""
    config = facts.config
    field = "training.optimizer.lr"
    first, last = losses[0], losses[-1]
    if len(losses) < 2 or not math.isfinite(first):
        return []
    best = min(losses)
    if not math.isfinite(last) or last > DIVERGE_FACTOR * first + 1e-8:
        # a finite jump on one batch is a caution (big steps can still train on the whole
        # data set); a loss that overflows is certain to fail
        severity = "info" if math.isfinite(last) else "error"
        return [_finding(
            facts, "lr_too_high", severity, f"Learning rate {lr(config):g} is too high",
            f"Trained on one batch, the loss went from {first:.3g} to "
            f"{'NaN/Inf' if not math.isfinite(last) else f'{last:.3g}'} in {len(losses) - 1} "
            "steps instead of falling: each step overshoots the minimum and lands higher up "
            "the other side.", field=field,
            evidence={"losses": [round(v, 5) if math.isfinite(v) else None for v in losses],
                      "lr": lr(config)}, fixes=(lower_lr_fix(config, 10),))]
    drop = (first - best) / max(abs(first), 1e-12)
    if drop >= WEAK_FIT_DROP:
        return []
    if drop >= MIN_FIT_DROP:  # some progress: only a structural cause makes it a finding
        from .suspects import suspects

        classes = facts.dataset.num_classes if facts.dataset is not None else None
        if not suspects(facts.design, config, classes):
            return []
    moved = max(update_ratios) if update_ratios else 0.0
    # tiny steps, or a rate a hundred times below what the optimiser usually needs
    if moved < TINY_UPDATE or lr(config) <= safe_lr(config) / 100:
        return [_finding(
            facts, "lr_too_low", "warning", f"Learning rate {lr(config):g} is too low",
            f"Trained on one batch for {len(losses) - 1} steps the loss fell only {drop:.1%}, "
            f"and each step moved the weights by at most {moved:.1e} of their size (healthy "
            "is about 1e-3). The gradients are there; the steps are just too small.",
            field=field, evidence={"drop": drop, "update_ratio": moved, "limit": TINY_UPDATE,
                                   "lr": lr(config)},
            fixes=(raise_lr_fix(config, facts.suggested_lr),))]
    from .suspects import suspects

    blocking = next((c for c in causes if c.node), None)
    classes = facts.dataset.num_classes if facts.dataset is not None else None
    suspect = next(iter(suspects(facts.design, config, classes)), None)
    if blocking is not None and suspect is not None and blocking.code != "symmetry":
        blocking = None  # a design choice explains symptoms such as vanishing gradients
    if blocking is not None:
        suspect = None
    if blocking:
        why, node, where, fixes = blocking.title.lower(), blocking.node, None, blocking.fixes
    elif suspect:
        why, node, where, fixes = suspect.why, suspect.node, suspect.field, (suspect.fix,)
    else:
        if facts.suggested_lr and facts.suggested_lr >= 3 * lr(config):
            # nothing blocks learning and the finder measured the loss falling faster at
            # higher rates: a hint that the rate is low (a hint: a slow start is not a fault)
            return [_finding(
                facts, "lr_too_low", "info", f"Learning rate {lr(config):g} may be too low",
                f"Trained on one batch for {len(losses) - 1} steps the loss fell only "
                f"{drop:.1%}, and the learning-rate sweep found it falling fastest near "
                f"{facts.suggested_lr * 10:.2g}, whose tenth ({facts.suggested_lr:g}) is "
                f"{facts.suggested_lr / lr(config):.0f} times the current rate.", field=field,
                evidence={"drop": drop, "suggested_lr": facts.suggested_lr,
                          "lr": lr(config)},
                fixes=(raise_lr_fix(config, facts.suggested_lr),))]
        why, node, where, fixes = "", None, field, (raise_lr_fix(config, facts.suggested_lr),)
    # without a cause found the verdict is a hint (plain SGD can be slow on one batch too)
    return [_finding(
        facts, "cannot_fit_batch", "warning" if blocking or suspect else "info",
        "The network cannot learn even one batch",
        f"Trained on a single batch for {len(losses) - 1} steps, the loss fell only {drop:.1%} "
        f"(from {first:.3g} to {best:.3g}). A healthy network memorises one batch quickly; "
        "something blocks learning" + (f": {why}." if why else "."),
        node=node, field=where,
        evidence={"drop": drop, "limit": MIN_FIT_DROP, "update_ratio": moved},
        fixes=tuple(fixes))]


def non_finite_finding(facts: Facts, node: str | None, what: str) -> Finding:
    config = facts.config
    fixes = [lower_lr_fix(config, 10, clip=True)]
    if facts.dataset is not None and facts.dataset.x.is_floating_point():
        from .static import _unnormalised

        raw = _unnormalised(facts.design, facts.dataset)
        if raw is not None:  # huge inputs overflow whatever the rate: normalise them first
            fixes.insert(0, raw.fixes[0])
    return _finding(
        facts, "non_finite", "error", f"NaN/Inf {('in ' + node) if node else 'in the ' + what}",
        f"The {what} became NaN or Inf"
        + (f"; the first node to output it is {node}." if node else ".")
        + " Once one value is NaN every weight it touches becomes NaN too. The usual causes are "
        "a too-large learning rate (values grow until they overflow) or a division or log of "
        "zero.", node=node, field=None if node else "training.optimizer.lr",
        evidence={"where": what, "lr": lr(config)}, fixes=tuple(fixes))
