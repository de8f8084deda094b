"""The end-of-training report: how the trained model does on the validation split.

The trainer emits it once, as the `report` event, so the designer can draw a confusion matrix (or a
predicted-vs-target plot), a grid of validation samples with their predictions and, for 2-D
points, the decision regions. It travels through a multiprocessing queue, so everything is a plain
list or a rounded number and the per-sample parts are capped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import torch

from .events import Report
from ..data.base import NamedTensors
from .losses import LossSpec

MAX_STEPS = 64  # sequences, per-step labels and long regression outputs are cut to this length
MAX_TABULAR_FEATURES = 8  # wider rows are not worth drawing as a sample's input
IMAGE_SIDE = 32  # larger images are strided down to about this size
SCATTER_POINTS = 500
GRID_SIZE = 60
GRID_PADDING = 0.1


@dataclass(frozen=True)
class EvaluationContext:
    """What the report reads: a trained model, its data and its loss (no trainer needed).

    Attributes:
        dataset: The `Dataset` (name, task, kind, class names, number of classes).
        loss: How predictions are read from the outputs.
        x, y: Every sample and target, on the model's device.
        train_idx, val_idx: The split.
        batches: idx -> (output, target) per batch, in order, in evaluation mode.
        forward: A batch of inputs -> outputs, in evaluation mode (for the decision grid).
    """

    dataset: Any
    loss: LossSpec
    x: torch.Tensor
    y: torch.Tensor
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    batches: Callable[[torch.Tensor], Iterable[tuple[torch.Tensor, torch.Tensor]]]
    forward: Callable[[torch.Tensor], torch.Tensor]

    @property
    def device(self) -> torch.device:
        return self.x.device


@torch.no_grad()
def validation_report(ctx: EvaluationContext, max_samples: int = 48,
                      output: str | None = None) -> Report:
    """The `report` event for a trained model, over the whole validation split.

    Args:
        ctx: The model, data and loss to judge (for one Output of several: its targets, loss
            and outputs alone).
        max_samples: How many validation samples (the first of the split) to include one by one.
        output: The Output node judged, for a design with several (None: the only one).

    Raises:
        ValueError: the validation split is empty.
    """
    ds, idx = ctx.dataset, ctx.val_idx
    if len(idx) == 0:
        raise ValueError("the validation split is empty")
    shown = idx[:max(max_samples, 0)]
    fields: dict[str, Any] = {}
    if ds.task == "classification":
        k = _num_classes(ctx)
        fields.update(_classification(ctx, shown, k))
        if _is_2d_table(ctx):
            fields["decision_grid"] = _decision_grid(ctx, k)
    else:
        fields.update(_regression(ctx, shown))
    inputs = _inputs(ctx.x[shown], ds.kind) if len(shown) else None
    for sample, shown_input in zip(fields["samples"], inputs or ()):
        sample["input"] = shown_input
    return Report(task=ds.task, data_kind=ds.kind, dataset=ds.name, val_samples=len(idx),
                  output=output, **fields)


# --- classification ---------------------------------------------------------------------------
def _classification(ctx: EvaluationContext, shown: torch.Tensor, k: int) -> dict:
    ds, loss = ctx.dataset, ctx.loss
    confusion = torch.zeros(k * k, dtype=torch.int64, device=ctx.device)
    preds, confs, labels_kept = [], [], []
    kept = 0
    for output, target in _outputs(ctx, ctx.val_idx):
        labels = loss.labels(output, target)
        pred, conf = loss.predict(output, labels.shape, True)
        pred = pred.clamp_max(k - 1)  # a regression loss's nearest class stays in range
        valid = (labels >= 0) & (labels < k)  # a stray label must not change the matrix's size
        confusion += torch.bincount((labels * k + pred)[valid], minlength=k * k)
        if kept < len(shown):
            take = len(shown) - kept
            preds.append(pred[:take].cpu())
            confs.append(conf[:take].float().cpu() if conf is not None else None)
            labels_kept.append(labels[:take].cpu())
            kept += len(pred[:take])
    matrix = confusion.reshape(k, k).cpu()
    total = int(matrix.sum())
    names = list(ds.class_names) if ds.class_names else [str(i) for i in range(k)]
    samples = []
    if preds:
        pred, label = torch.cat(preds), torch.cat(labels_kept)
        conf = torch.cat(confs) if confs[0] is not None else None
        for i in range(len(shown)):
            sample = {"index": int(shown[i]), "target": _ints(label[i]),
                      "prediction": _ints(pred[i]), "correct": bool((pred[i] == label[i]).all())}
            if conf is not None:
                sample["confidence"] = round(float(conf[i].mean()), 4)
            samples.append(sample)
    return {"class_names": names, "confusion": matrix.tolist(),
            "accuracy": round(int(matrix.diagonal().sum()) / total, 6) if total else None,
            "samples": samples}


def _num_classes(ctx: EvaluationContext) -> int:
    ds = ctx.dataset
    if ds.num_classes:
        return int(ds.num_classes)
    if ctx.loss.task == "multilabel":
        return 2
    return int(ctx.y.max()) + 1


# --- regression ---------------------------------------------------------------------------------
def _regression(ctx: EvaluationContext, shown: torch.Tensor) -> dict:
    train_y = ctx.y[ctx.train_idx].float()
    mean = train_y.reshape(len(train_y), -1).mean(dim=0)  # per output value, from training data
    sse = sae = base_sse = 0.0
    count = 0
    firsts_t, firsts_p, kept_t, kept_p = [], [], [], []
    kept = 0
    for output, target in _outputs(ctx, ctx.val_idx):
        out = output.reshape(len(output), -1)
        y = target.float().reshape(len(target), -1)
        err = out - y
        sums = torch.stack([err.pow(2).sum(), err.abs().sum(), (y - mean).pow(2).sum()]).tolist()
        sse, sae, base_sse = sse + sums[0], sae + sums[1], base_sse + sums[2]
        count += y.numel()
        firsts_t.append(y[:, 0].cpu())
        firsts_p.append(out[:, 0].cpu())
        if kept < len(shown):
            take = len(shown) - kept
            kept_t.append(y[:take, :MAX_STEPS].cpu())
            kept_p.append(out[:take, :MAX_STEPS].cpu())
            kept += len(y[:take])
    first_t, first_p = torch.cat(firsts_t), torch.cat(firsts_p)
    every = max(1, math.ceil(len(first_t) / SCATTER_POINTS))
    samples = []
    if kept_t:
        target, pred = torch.cat(kept_t), torch.cat(kept_p)
        samples = [{"index": int(shown[i]), "target": _values(target[i]),
                    "prediction": _values(pred[i])} for i in range(len(shown))]
    return {"mse": _sig(sse / count), "mae": _sig(sae / count),
            "baseline_mse": _sig(base_sse / count),
            "scatter": {"target": _sig_list(first_t[::every][:SCATTER_POINTS]),
                        "prediction": _sig_list(first_p[::every][:SCATTER_POINTS])},
            "samples": samples}


# --- the decision grid of 2-D points ------------------------------------------------------------
def _is_2d_table(ctx: EvaluationContext) -> bool:
    x = ctx.x
    return (isinstance(x, torch.Tensor) and ctx.dataset.kind == "tabular" and x.is_floating_point() and x.dim() == 2
            and x.shape[1] == 2)


def _decision_grid(ctx: EvaluationContext, k: int) -> dict:
    x = ctx.x.float()
    lo, hi = x.min(dim=0).values, x.max(dim=0).values
    pad = torch.where(hi > lo, (hi - lo) * GRID_PADDING, torch.ones_like(lo))
    lo, hi = (lo - pad).tolist(), (hi + pad).tolist()
    xs = torch.linspace(lo[0], hi[0], GRID_SIZE, device=ctx.device)
    ys = torch.linspace(lo[1], hi[1], GRID_SIZE, device=ctx.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # rows follow y, columns follow x
    points = torch.stack([gx, gy], dim=-1).reshape(-1, 2).to(ctx.x.dtype)
    output = ctx.forward(points).float()
    pred, _ = ctx.loss.predict(output, torch.Size([len(points)]), False)
    pred = pred.clamp_max(k - 1)
    return {"x_range": [_sig(lo[0]), _sig(hi[0])], "y_range": [_sig(lo[1]), _sig(hi[1])],
            "size": GRID_SIZE, "classes": pred.reshape(GRID_SIZE, GRID_SIZE).tolist()}


# --- sample inputs ------------------------------------------------------------------------------
def _inputs(x: torch.Tensor, kind: str) -> list | None:
    """The shown samples' inputs in a drawable form, or None when there is nothing worth drawing."""
    if isinstance(x, NamedTensors):  # several Inputs: pictures side by side, else the first
        parts = [x[name] for name in x.names]
        pictures = all(t.dim() == 4 and t.shape[1:3] == parts[0].shape[1:3] for t in parts)
        x = torch.cat(parts, dim=-1) if pictures and kind == "image" else parts[0]
    x = x.cpu()
    if kind == "image" and x.is_floating_point() and x.dim() in (3, 4):
        if x.dim() == 3:
            x = x.unsqueeze(1)  # (N, H, W) -> one channel
        stride = max(1, math.ceil(max(x.shape[-2:]) / IMAGE_SIDE))
        x = x[..., ::stride, ::stride].double()
        flat = x.reshape(len(x), -1)
        lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
        span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        scaled = (x - lo.view(-1, 1, 1, 1)) / span.view(-1, 1, 1, 1)
        return (torch.round(scaled * 100) / 100).tolist()  # 100 grey levels are plenty to draw
    if kind == "tabular" and x.dim() == 2 and x.shape[1] <= MAX_TABULAR_FEATURES:
        return [_sig_list(row) for row in x]
    if kind == "sequence" and x.dim() in (2, 3):
        x = x[:, :MAX_STEPS]
        if x.dim() == 3 and x.shape[2] == 1:
            x = x[:, :, 0]  # one value per step: a plain list
        return x.tolist() if not x.is_floating_point() else [_sig_list(row) for row in x]
    return None


# --- helpers ------------------------------------------------------------------------------------
def _outputs(ctx: EvaluationContext,
             idx: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(output as float32, target) per batch of `idx`, in order, as validation computes them."""
    for output, target in ctx.batches(idx):
        yield output.float(), target


def _ints(t: torch.Tensor) -> int | list[int]:
    return int(t) if t.dim() == 0 else t.reshape(-1)[:MAX_STEPS].tolist()


def _values(t: torch.Tensor) -> float | list[float]:
    return _sig(float(t[0])) if t.numel() == 1 else _sig_list(t)


def _sig(value: float, digits: int = 4) -> float:
    """`value` to a few significant digits: small in JSON, exact enough to plot or read."""
    return float(f"{value:.{digits}g}")


def _sig_list(t: torch.Tensor, digits: int = 4) -> list:
    return [_sig(v, digits) for v in t.reshape(-1).tolist()] if t.dim() <= 1 else \
        [_sig_list(row, digits) for row in t]
