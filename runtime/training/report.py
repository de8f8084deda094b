"""The end-of-training report: how the trained model does on the validation split.

The trainer emits it once, as the `report` event, so the designer can draw a confusion matrix (or a
predicted-vs-target plot), a grid of validation samples with their predictions and, for 2-D
points, the decision regions. It travels through a multiprocessing queue, so everything is a plain
list or a rounded number and the per-sample parts are capped.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterator

import torch

if TYPE_CHECKING:
    from .trainer import Trainer

MAX_STEPS = 64  # sequences, per-step labels and long regression outputs are cut to this length
MAX_TABULAR_FEATURES = 8  # wider rows are not worth drawing as a sample's input
IMAGE_SIDE = 32  # larger images are strided down to about this size
SCATTER_POINTS = 500
GRID_SIZE = 60
GRID_PADDING = 0.1


@torch.no_grad()
def validation_report(trainer: "Trainer", max_samples: int = 48) -> dict:
    """The `report` event for a trained model, over the whole validation split.

    Args:
        trainer: A trainer after `fit` has set it up (model, x, y, train_idx, val_idx, dataset).
        max_samples: How many validation samples (the first of the split) to include one by one.

    Raises:
        ValueError: the validation split is empty.
    """
    ds, idx = trainer.dataset, trainer.val_idx
    if len(idx) == 0:
        raise ValueError("the validation split is empty")
    trainer.model.eval()
    report: dict[str, Any] = {"event": "report", "task": ds.task, "kind": ds.kind,
                              "dataset": ds.name, "val_samples": len(idx)}
    shown = idx[:max(max_samples, 0)]
    if ds.task == "classification":
        k = _num_classes(trainer)
        report.update(_classification(trainer, shown, k))
        if _is_2d_table(trainer):
            report["decision_grid"] = _decision_grid(trainer, k)
    else:
        report.update(_regression(trainer, shown))
    inputs = _inputs(trainer.x[shown], ds.kind) if len(shown) else None
    for sample, shown_input in zip(report["samples"], inputs or ()):
        sample["input"] = shown_input
    return report


# --- classification ---------------------------------------------------------------------------
def _classification(trainer: "Trainer", shown: torch.Tensor, k: int) -> dict:
    ds, loss = trainer.dataset, trainer.config["loss"]
    confusion = torch.zeros(k * k, dtype=torch.int64, device=trainer.device)
    preds, confs, labels_kept = [], [], []
    kept = 0
    for output, target in _outputs(trainer, trainer.val_idx):
        labels = _labels(output, target, loss)
        pred, conf = _predicted_classes(output, labels.shape, loss, k)
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


def _num_classes(trainer: "Trainer") -> int:
    ds = trainer.dataset
    if ds.num_classes:
        return int(ds.num_classes)
    if trainer.config["loss"] == "bce":
        return 2
    return int(trainer.y.max()) + 1


def _labels(output: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """True class indices; kl_div may train on class distributions, whose largest entry counts."""
    if not target.is_floating_point():
        return target
    if loss != "bce" and target.shape == output.shape and output.shape[-1] > 1:
        return target.argmax(dim=-1)
    return target.round().long()


def _predicted_classes(output: torch.Tensor, shape: torch.Size, loss: str,
                       k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Predicted classes shaped like the labels, and the model's confidence in each.

    Follows the accuracy metric (objectives.MetricAccumulator): bce outputs are logits of class 1,
    class losses give one score per class in the last dimension (also per step).
    """
    if loss == "bce":
        logits = output.reshape(shape)
        pred = (logits > 0).long()
        p = torch.sigmoid(logits)
        return pred, torch.where(pred == 1, p, 1 - p)
    if output.numel() != math.prod(shape):
        probs = torch.softmax(output.reshape(*shape, output.shape[-1]), dim=-1)
        conf, pred = probs.max(dim=-1)
        return pred, conf
    # a regression loss on class labels: the nearest class
    return output.reshape(shape).round().long().clamp(0, k - 1), None


# --- regression ---------------------------------------------------------------------------------
def _regression(trainer: "Trainer", shown: torch.Tensor) -> dict:
    train_y = trainer.y[trainer.train_idx].float()
    mean = train_y.reshape(len(train_y), -1).mean(dim=0)  # per output value, from training data
    sse = sae = base_sse = 0.0
    count = 0
    firsts_t, firsts_p, kept_t, kept_p = [], [], [], []
    kept = 0
    for output, target in _outputs(trainer, trainer.val_idx):
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
def _is_2d_table(trainer: "Trainer") -> bool:
    x = trainer.x
    return (trainer.dataset.kind == "tabular" and x.is_floating_point() and x.dim() == 2
            and x.shape[1] == 2)


def _decision_grid(trainer: "Trainer", k: int) -> dict:
    x = trainer.x.float()
    lo, hi = x.min(dim=0).values, x.max(dim=0).values
    pad = torch.where(hi > lo, (hi - lo) * GRID_PADDING, torch.ones_like(lo))
    lo, hi = (lo - pad).tolist(), (hi + pad).tolist()
    xs = torch.linspace(lo[0], hi[0], GRID_SIZE, device=trainer.device)
    ys = torch.linspace(lo[1], hi[1], GRID_SIZE, device=trainer.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # rows follow y, columns follow x
    points = torch.stack([gx, gy], dim=-1).reshape(-1, 2).to(trainer.x.dtype)
    with trainer._autocast():
        output = trainer.model(points).float()
    pred, _ = _predicted_classes(output, torch.Size([len(points)]), trainer.config["loss"], k)
    return {"x_range": [_sig(lo[0]), _sig(hi[0])], "y_range": [_sig(lo[1]), _sig(hi[1])],
            "size": GRID_SIZE, "classes": pred.reshape(GRID_SIZE, GRID_SIZE).tolist()}


# --- sample inputs ------------------------------------------------------------------------------
def _inputs(x: torch.Tensor, kind: str) -> list | None:
    """The shown samples' inputs in a drawable form, or None when there is nothing worth drawing."""
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
def _outputs(trainer: "Trainer", idx: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(output as float32, target) per batch of `idx`, in order, as validation computes them."""
    for output, target in trainer.evaluation_batches(idx):
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
