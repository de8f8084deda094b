"""Rules decidable from the design and its dataset alone: instant, re-run on every edit like the
shape pass. Mismatched output and loss, unnormalised inputs, weights that start identical."""
from __future__ import annotations

import math
import weakref

from ..errors import TrainingError
from ..graph import GraphModel
from ..lazy import lazy_import
from ..shapes import Analysis, infer
from ..training.config import TrainingConfigError, parse_training
from ..training.data_fit import check_data_fits
from ..training.losses import LOSSES, TASKS, losses_for, output_kind
from ..training.modes import mode_of
from . import anatomy
from .findings import Edit, Finding, Fix

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")

#: Input features beyond these are "far from unit scale" (standardised data has mean 0, std 1).
MEAN_LIMIT = 5.0
STD_LIMIT = 10.0
#: ... or features whose spreads differ by more than this factor.
SPREAD_RATIO = 1000.0
#: The default loss of each task (the fix for a loss that does not fit the targets).
TASK_LOSS = {"classification": "cross_entropy", "regression": "mse", "multilabel": "bce",
             "distribution": "kl_div"}


def static_findings(design: GraphModel, analysis: Analysis | None = None,
                    dataset=None) -> list[Finding]:
    """The static rules' findings (none while the design has shape errors or its training
    block is invalid: those are reported as such)."""
    analysis = analysis or infer(design)
    if not analysis.valid or anatomy.output_node(design) is None:
        return []
    try:
        config = parse_training(design.training)
    except TrainingConfigError as err:
        return _metric_findings(design, err)
    if mode_of(config).objective is not None:
        # a mode with its own objective (contrastive divergence) reads neither the Output's
        # activation nor the loss setting the way these rules do: the mode checks its own fit
        return _symmetry(design)
    found = [f for f in (_activation_mismatch(design, config["loss"]),
                         _dropout_at_output(design)) if f]
    if dataset is not None:
        mismatch = _data_mismatch(design, analysis, dataset, config)
        found += [f for f in (mismatch, None if mismatch else _unreachable(design, dataset,
                                                                           config),
                              _unnormalised(design, dataset)) if f]
    found += _symmetry(design)
    return found


# --- loss_output_mismatch --------------------------------------------------------------------
def _activation_mismatch(design: GraphModel, loss: str) -> Finding | None:
    spec = LOSSES[loss]
    last = anatomy.last_before_output(design)
    if last is None:
        return None
    layer = design.spec(last)
    problem = spec.activation_problem(layer)
    kind = output_kind(layer)
    if problem is None and kind == "log-probabilities" and "probabilities" in spec.forbids:
        return Finding(
            "loss_output_mismatch", "info", f"{layer.type_id} before {loss} is redundant",
            f"{loss} applies log-softmax itself, and {last} ({layer.type_id}) already did: "
            "applying it twice changes nothing (log-softmax of log-probabilities gives them "
            "back), so the layer only costs time and hides what the loss expects.", node=last,
            evidence={"loss": loss, "layer": layer.type_id},
            fixes=(Fix(f"Remove {last}", (Edit("remove_node", last),)),
                   Fix("Keep it and train with nll", (
                       Edit("set_training", name="loss", value="nll"),))))
    if problem is None and spec.task_spec.class_scores and layer.output_range \
            and layer.output_range[0] is not None and kind is None:
        low = layer.output_range[0]
        return Finding(
            "loss_output_mismatch", "warning", f"{layer.type_id} clips the class scores",
            f"The class scores pass through {last} ({layer.type_id}), which never outputs less "
            f"than {low:g}. {loss} needs scores that can go below the others' to say 'not this "
            "class'; clipped scores get no gradient, so those classes stop learning.", node=last,
            evidence={"loss": loss, "layer": layer.type_id, "output_range": list(
                layer.output_range)},
            fixes=(Fix(f"Remove {last}: {loss} takes raw scores", (Edit("remove_node", last),)),))
    if problem is None:
        return None
    if kind in spec.forbids:
        fixes = [Fix(f"Remove {last}: {loss} applies the squashing itself",
                     (Edit("remove_node", last),))]
        if kind == "probabilities" and spec.task == "classification":
            fixes.append(Fix(f"Replace {last} by LogSoftmax and train with nll",
                             (Edit("replace_node", last, type="LogSoftmax"),
                              Edit("set_training", name="loss", value="nll"))))
        explanation = (f"{loss} turns raw scores into {kind} itself, but {last} "
                       f"({layer.type_id}) already squashes them into [0, 1]. Squashed twice, "
                       "the scores can barely move the loss: the gradients become tiny, "
                       "training crawls and the loss cannot go below a floor far above zero.")
        return Finding("loss_output_mismatch", "warning", f"{layer.type_id} before {loss}",
                       explanation, node=last, evidence={"loss": loss, "layer": layer.type_id,
                                                         "gives": kind}, fixes=tuple(fixes))
    fixes = (Fix("Train with cross_entropy on the raw scores",
                 (Edit("set_training", name="loss", value="cross_entropy"),)),
             Fix(f"Insert a LogSoftmax after {last}",
                 (Edit("insert_after", last, type="LogSoftmax"),)))
    explanation = (f"{loss} expects {spec.expects} (values ≤ 0 from a LogSoftmax), but {last} "
                   f"({layer.type_id}) gives raw scores. nll simply takes minus the score of "
                   "the right class, so the network can push the loss below zero without "
                   "limit by making scores large: the loss falls while nothing is learnt.")
    return Finding("loss_output_mismatch", "error", f"{loss} on raw scores from {last}",
                   explanation, node=last, evidence={"loss": loss, "layer": layer.type_id,
                                                     "expects": spec.expects}, fixes=fixes)


def _data_mismatch(design: GraphModel, analysis: Analysis, dataset, config) -> Finding | None:
    """The data check the trainer runs, as a finding with fixes."""
    try:
        check_data_fits(design, analysis, dataset, config)
    except TrainingError as err:
        message = str(err)
    else:
        return None
    loss = config["loss"]
    spec = LOSSES[loss]
    target_dtype = str(dataset.y.dtype).replace("torch.", "")
    head = anatomy.last_weighted(design)
    width = anatomy.width_param(design, head) if head else None
    classes = dataset.num_classes
    evidence = {"loss": loss, "dataset": dataset.name, "dataset_task": dataset.task,
                "target_dtype": target_dtype, "classes": classes}
    input_id = next(n.id for n in design.nodes.values() if n.type == "Input")
    if tuple(dataset.sample_shape) != tuple(analysis.nodes[input_id].outputs["output"].shape):
        return Finding("loss_output_mismatch", "error", "Input shape differs from the data",
                       message + ".", node=input_id, evidence={
                           **evidence, "sample_shape": list(dataset.sample_shape)},
                       fixes=(Fix("Set the Input's shape to the data's",
                                  (Edit("set_param", input_id, "shape",
                                        list(dataset.sample_shape)),)),))
    if target_dtype not in spec.target_dtypes or \
            (spec.task == "multilabel" and classes and classes > 2):
        task = "regression" if target_dtype.startswith("float") else dataset.task
        new_loss = TASK_LOSS.get(task, losses_for(task)[0])
        edits = [Edit("set_training", name="loss", value=new_loss),
                 Edit("set_training", name="metrics", value=list(TASKS[task].default_metrics))]
        if TASKS[task].class_scores and head and width and classes:
            edits.insert(0, Edit("set_param", head, width, classes))
        return Finding("loss_output_mismatch", "error", f"{loss} does not fit {dataset.name}'s "
                       "targets", f"{message}. The loss decides what the network learns to "
                       f"output; {dataset.name} has {task} targets.", field="training.loss",
                       evidence=evidence,
                       fixes=(Fix(f"Train with {new_loss}", tuple(edits)),))
    if _metric_problem(config):
        task = spec.task
        return Finding("loss_output_mismatch", "error", "A metric does not fit the loss",
                       message + ".", field="training.metrics", evidence=evidence,
                       fixes=(Fix(f"Measure {', '.join(TASKS[task].default_metrics)}",
                                  (Edit("set_training", name="metrics",
                                        value=list(TASKS[task].default_metrics)),)),))
    # the Output's size: the head layer must give one value (or score) per target/class
    want = classes if spec.task_spec.class_scores else max(1, math.prod(dataset.target_shape))
    fixes = (Fix(f"Set {head}'s {width} to {want}", (Edit("set_param", head, width, want),)),) \
        if head and width and want else ()
    return Finding("loss_output_mismatch", "error", f"Output size does not fit {loss}",
                   message + ".", node=head or anatomy.output_node(design),
                   evidence={**evidence, "wanted_width": want}, fixes=fixes)


def _metric_findings(design: GraphModel, err: TrainingConfigError) -> list[Finding]:
    """A training block refused only for metrics that do not fit the loss's task: the loss/
    output mismatch it is (other refusals are settings problems, reported as such)."""
    problems = err.problems
    loss = design.training.get("loss") if isinstance(design.training, dict) else None
    if not problems or loss not in LOSSES or \
            any(p.location != "training.metrics" for p in problems):
        return []
    task = LOSSES[loss].task
    wanted = list(TASKS[task].default_metrics)
    return [Finding("loss_output_mismatch", "error", f"A metric does not fit {loss}",
                    "; ".join(p.message for p in problems) + f". {loss} is a {task} loss, and "
                    "a metric can only judge the kind of answer the loss trains for.",
                    field="training.metrics", evidence={"loss": loss, "task": task},
                    fixes=(Fix(f"Measure {', '.join(wanted)}", (
                        Edit("set_training", name="metrics", value=wanted),)),))]


def _metric_problem(config) -> bool:
    from ..training.metrics import task_problem

    return any(task_problem(m, config["loss"]) for m in config.metrics)


#: A bounded last activation is wrong when more than this share of the targets lies outside.
OUT_OF_RANGE = 0.05


def _unreachable(design: GraphModel, dataset, config) -> Finding | None:
    """A regression Output fed by a layer whose values cannot reach the targets (ReLU before
    targets that go negative, Sigmoid before targets beyond 1), read from the layer's declared
    output range."""
    spec = LOSSES[config["loss"]]
    last = anatomy.last_before_output(design)
    if spec.task != "regression" or last is None or not dataset.y.is_floating_point():
        return None
    layer = design.spec(last)
    if layer.output_range is None:
        return None
    low, high = layer.output_range
    y = dataset.y.float()
    outside = torch.zeros_like(y, dtype=torch.bool)
    if low is not None:
        outside |= y < low - 1e-6
    if high is not None:
        outside |= y > high + 1e-6
    share = float(outside.float().mean()) if y.numel() else 0.0
    if share <= OUT_OF_RANGE:
        return None
    bounds = f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
    return Finding(
        "loss_output_mismatch", "warning", f"{last} cannot reach the targets",
        f"The Output is fed by {last} ({layer.type_id}), whose values always lie in {bounds}, "
        f"but {share:.0%} of {dataset.name}'s targets lie outside (from {float(y.min()):.3g} "
        f"to {float(y.max()):.3g}). Those targets can never be predicted: the loss has a floor "
        "and the gradients push against the bound.", node=last,
        evidence={"output_range": [low, high], "outside_share": round(share, 4),
                  "target_min": float(y.min()), "target_max": float(y.max()),
                  "limit": OUT_OF_RANGE},
        fixes=(Fix(f"Remove {last}: a regression head outputs raw values",
                   (Edit("remove_node", last),)),))


# --- misplaced_dropout -----------------------------------------------------------------------
def _dropout_at_output(design: GraphModel) -> Finding | None:
    last = anatomy.last_before_output(design)
    if last is None or design.nodes[last].type != "Dropout":
        return None
    p = design.nodes[last].params.get("p")
    return Finding(
        "misplaced_dropout", "warning", f"{last} drops the predictions",
        f"{last} sits right before the Output, so during training it sets {p:.0%} of the "
        "network's answers to zero (and scales the rest up). The loss then blames the network "
        "for outputs it never produced. Dropout belongs between hidden layers.", node=last,
        evidence={"p": p}, fixes=(Fix(f"Remove {last}", (Edit("remove_node", last),)),))


# --- unnormalised_input ----------------------------------------------------------------------
#: Rows the input statistics are estimated from (a strided sample of larger datasets).
SCALE_ROWS = 10_000
#: Rows read from data streamed from disk (decoding 10,000 photos would take minutes).
STREAMED_SCALE_ROWS = 256
_SCALES: dict[int, dict] = {}  # by id of a live tensor (tensors compare by value, not identity)


def input_scale(x: torch.Tensor) -> dict[str, float]:
    """Per-feature mean and spread of a data tensor (features: every dimension but the batch,
    pooled over positions for images and sequences so pixels count as one feature). Estimated
    from at most `SCALE_ROWS` rows and remembered per tensor: the designer asks on every edit."""
    cached = _SCALES.get(id(x))
    if cached is None:
        rows = SCALE_ROWS if isinstance(x, torch.Tensor) else STREAMED_SCALE_ROWS
        cached = _SCALES[id(x)] = _scale(x[::max(1, len(x) // rows)] if len(x) else x)
        weakref.finalize(x, _SCALES.pop, id(x), None)
    return cached


def _scale(x: torch.Tensor) -> dict[str, float]:
    x = x.float()
    if x.dim() > 2 and x.dim() == 4:  # images (N, C, H, W): a feature per channel
        per = x.transpose(0, 1).reshape(x.shape[1], -1)
    elif x.dim() == 3:  # sequences (N, T, F): a feature per last-dimension entry
        per = x.reshape(-1, x.shape[-1]).T
    else:
        per = x.reshape(x.shape[0], -1).T
    means, stds = per.mean(dim=1), per.std(dim=1, unbiased=False)
    live = stds[stds > 0]
    peaks = per.abs().amax(dim=1)
    return {"max_abs_mean": float(means.abs().max()), "max_std": float(stds.max()),
            "spread_ratio": float(live.max() / live.min()) if len(live) else 1.0,
            # many features on one scale (pixels): most reach the same peak value
            "shared_scale": bool(len(peaks) >= 16 and peaks.median() > 0
                                 and peaks.max() < 2 * peaks.median())}


def _unnormalised(design: GraphModel, dataset) -> Finding | None:
    if dataset.x.is_floating_point() is False:
        return None  # token ids, not measurements
    stats = input_scale(dataset.x)
    too = (stats["max_abs_mean"] > MEAN_LIMIT or stats["max_std"] > STD_LIMIT
           or stats["spread_ratio"] > SPREAD_RATIO)
    if not too:
        return None
    input_id = next(n.id for n in design.nodes.values() if n.type == "Input")
    already = [n for n in anatomy.consumers(design, input_id)
               if design.spec(n).category == "Normalization"]
    if already:
        return None
    if dataset.kind == "image" or stats["shared_scale"]:
        # pixels (or any features in one unit): per-sample LayerNorm over the whole input (a
        # BatchNorm per pixel divides the near-constant border pixels by a variance of almost
        # zero, and blows up on the validation images where they are not)
        dims = len(dataset.sample_shape)
        norm = Edit("insert_after", input_id, type="LayerNorm",
                    params={"normalized_dims": dims, "elementwise_affine": False})
        text = f"Insert a LayerNorm after {input_id} (scales each sample to mean 0, std 1)"
    else:
        norm = Edit("insert_after", input_id, type="BatchNorm")
        text = f"Insert a BatchNorm after {input_id} (standardises each feature)"
    return Finding(
        "unnormalised_input", "warning", f"{dataset.name}'s features are far from unit scale",
        f"The inputs reach a mean of {stats['max_abs_mean']:.3g} and a spread (std) of "
        f"{stats['max_std']:.3g}, while networks train best on features with mean 0 and std "
        "about 1. Large inputs make the first layer's outputs huge, which saturates Sigmoid/Tanh "
        "units and makes the loss jump; features of very different scales make one feature "
        "dominate. Standardise the data, or let a normalisation layer do it.",
        node=input_id, evidence={**{k: round(v, 4) for k, v in stats.items()
                                    if not isinstance(v, bool)},
                                 "limits": {"max_abs_mean": MEAN_LIMIT, "max_std": STD_LIMIT,
                                            "spread_ratio": SPREAD_RATIO}},
        fixes=(Fix(text, (norm,)),))


# --- symmetry --------------------------------------------------------------------------------
def _symmetry(design: GraphModel) -> list[Finding]:
    """Hidden layers whose weights all start at zero: their units stay identical forever (a
    zero-initialised head alone is harmless: its units get different errors)."""
    hidden = [n for n in anatomy.hidden_weighted(design)
              if design.nodes[n].params.get("weight_init") == "zeros"]
    if not hidden:
        return []
    every = [n for n in anatomy.weighted(design) if design.nodes[n].params.get("weight_init")
             == "zeros"]
    first = hidden[0]
    width = anatomy.width_param(design, first)
    units = design.nodes[first].params.get(width) if width else None
    return [Finding(
        "symmetry", "error", f"{first}'s units all start identical",
        f"Every weight of {first} starts at zero, so its {units or 'many'} units compute the same "
        "output and receive the same gradient at every step: they stay copies of each other "
        "forever and the layer works like a single unit. "
        + (f"The same holds for {', '.join(hidden[1:])}. " if len(hidden) > 1 else "")
        + "Random initial weights break the symmetry.",
        node=first, evidence={"weight_init": "zeros", "layers": hidden, "units": units},
        fixes=(Fix("Use the default random init on " + ", ".join(every),
                   tuple(Edit("set_param", n, "weight_init", "default") for n in every)),))]
