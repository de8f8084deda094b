"""Losses and metrics by name, and the check that a design's output fits the data and the loss."""
from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F

from ..errors import TrainingError
from ..specs import TensorInfo

CLASS_LOSSES = ("cross_entropy", "nll")


def compute_loss(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean loss of a batch; class-score losses accept (N, C) or per-step (N, L, C) outputs."""
    if name == "cross_entropy" and output.dim() == 2 and output.dtype == torch.float32:
        return F.cross_entropy(output, target)  # the common case, without reshapes
    if name in ("mse", "l1", "huber") and output.shape == target.shape \
            and output.dtype == target.dtype:
        return {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[name](output, target)
    if name in CLASS_LOSSES:
        scores = output.reshape(-1, output.shape[-1]).float()
        labels = target.reshape(-1)
        return (F.cross_entropy if name == "cross_entropy" else F.nll_loss)(scores, labels)
    if name == "kl_div":
        log_probs = F.log_softmax(output.float(), dim=-1)
        if target.dtype == torch.int64:
            target = F.one_hot(target, output.shape[-1]).float()
        return F.kl_div(log_probs, target.view_as(log_probs), reduction="batchmean")
    target = target.to(output.dtype).view_as(output)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(output, target)
    return {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[name](output, target)


def check_compatible(loss: str, metrics: list[str], output: TensorInfo, target_shape: tuple,
                     target_dtype: torch.dtype, num_classes: int | None) -> None:
    """Refuse a run whose Output cannot be compared with the targets; say what to change."""
    out = output.describe()
    if loss in CLASS_LOSSES or loss == "kl_div":
        if target_dtype != torch.int64 and loss != "kl_div":
            raise TrainingError(f"{loss} needs class labels but the dataset has real-valued "
                                f"targets: use the mse, l1 or huber loss", "data")
        wanted = (*target_shape, num_classes) if num_classes else None
        if wanted and tuple(output.shape) != wanted:
            shape = "(batch, " + ", ".join(map(str, wanted)) + ")"
            raise TrainingError(f"{loss} needs the Output to give {shape}: one score per class "
                                f"for {num_classes} classes, but it gives {out}: set the last "
                                f"layer's size to {num_classes}", "design")
        return
    numel, target_numel = math.prod(output.shape), math.prod(target_shape)
    if loss == "bce" and target_dtype == torch.int64 and num_classes and num_classes > 2:
        raise TrainingError(f"bce is for yes/no targets but the dataset has {num_classes} "
                            "classes: use cross_entropy", "data")
    if numel != target_numel:
        wanted = "(batch, " + ", ".join(map(str, target_shape or (1,))) + ")"
        raise TrainingError(f"{loss} compares the Output {out} with targets of shape {wanted}: "
                            f"make the last layer produce {target_numel} value(s) per sample",
                            "design")
    for name in metrics:
        if name == "accuracy" or name.endswith("_accuracy"):
            if target_dtype != torch.int64 and loss != "bce":
                raise TrainingError(f"metric {name} needs class labels; this dataset is "
                                    "regression: use mse, mae or r2", "data")


class MetricAccumulator:
    """Accumulates the loss and metrics over an epoch.

    `partials` returns a few 0-dim tensors per batch; the trainer reads them back to the CPU in the
    same transfer as the loss (one device sync per step) and hands the numbers to `add`, so the
    running sums are plain Python floats and cost no tensor operations.
    """

    def __init__(self, names: list[str], loss: str):
        self.names = list(names)
        self.loss = loss
        self._topk = {name: (1 if name == "accuracy" else int(re.match(r"top(\d+)", name).group(1)))
                      for name in self.names if name.endswith("accuracy")}
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._loss = 0.0
        self._samples = 0

    def partials(self, output: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
        """0-dim tensors for this batch, in the order `add` expects them."""
        output = output.detach()
        out: list[torch.Tensor] = []
        err = None
        for name in self.names:
            if name in self._topk:
                out.append(self._correct(output, target, self._topk[name]))
                continue
            if err is None:
                err = _difference(output, target)
            if name == "mse":
                out.append(err.pow(2).sum())
            elif name == "mae":
                out.append(err.abs().sum())
            else:  # r2
                y = target.reshape(-1).float()
                out += [err.pow(2).sum(), y.sum(), y.pow(2).sum()]
        return out

    def add_loss(self, loss: float, target: torch.Tensor) -> None:
        """Add one batch's mean loss."""
        n = target.shape[0]
        self._loss += loss * n
        self._samples += n

    def add(self, values: list[float], target: torch.Tensor) -> None:
        """Add one batch's `partials` (as floats) to the metrics.

        The trainer adds every batch's loss but the metric sums of only some batches (see
        `trainer.CHECK_EVERY`), so the metrics keep their own counts.
        """
        values = iter(values)
        count = target.numel()  # labels for accuracy; compared values for regression metrics
        for name in self.names:
            parts = 3 if name == "r2" else 1
            taken = [next(values) for _ in range(parts)]
            old = self._sums.get(name)
            self._sums[name] = taken if old is None else [a + b for a, b in zip(old, taken)]
            self._counts[name] = self._counts.get(name, 0) + count

    def update(self, output: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        """`partials` + `add` with their own device sync (for evaluation and tests)."""
        parts = self.partials(output, target)
        values = torch.stack([loss.detach().float(), *[p.float() for p in parts]]).tolist()
        self.add_loss(values[0], target)
        self.add(values[1:], target)

    def _correct(self, output: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
        if self.loss == "bce":
            predicted = (output > 0).to(target.dtype).view_as(target)
            return (predicted == target).sum()
        scores = output.reshape(-1, output.shape[-1])
        labels = target.reshape(-1)
        if k == 1:
            return (scores.argmax(dim=-1) == labels).sum()
        top = scores.topk(min(k, scores.shape[-1]), dim=-1).indices
        return (top == labels.unsqueeze(-1)).any(dim=-1).sum()

    def result(self) -> dict[str, float]:
        """Mean loss and every metric over what was added since `reset`."""
        out = {"loss": self._loss / max(self._samples, 1)}
        for name in self.names:
            sums, n = self._sums.get(name), self._counts.get(name, 0)
            if not n:
                out[name] = float("nan")  # no batch measured it
            elif name == "r2":
                sse, sy, syy = sums
                sst = syy - sy * sy / n
                out[name] = 1.0 - sse / sst if sst > 0 else float("nan")
            else:
                out[name] = sums[0] / n
        return out


def _difference(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if output.shape == target.shape and output.dtype == target.dtype:
        return output - target
    return output.float().reshape(target.shape[0], -1) - target.float().reshape(target.shape[0], -1)
