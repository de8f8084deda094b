"""Losses and metrics by name, and the check that a design's output fits the data and the loss."""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F

from ..errors import TrainingError
from ..specs import TensorInfo

CLASS_LOSSES = ("cross_entropy", "nll")


def compute_loss(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean loss of a batch; class-score losses accept (N, C) or per-step (N, L, C) outputs."""
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
    numel = 1
    for s in output.shape:
        numel *= s
    target_numel = 1
    for s in target_shape:
        target_numel *= s
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
    """Sums what the metrics need over an epoch on the device; one transfer at the end."""

    def __init__(self, names: list[str], loss: str, device: torch.device):
        self.names = list(names)
        self.loss = loss
        self.device = device
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._loss = torch.zeros((), device=self.device, dtype=torch.float64)
        self._batches = 0
        self._count = 0

    def _add(self, key: str, value: torch.Tensor) -> None:
        value = value.detach().to(torch.float64)
        self._sums[key] = self._sums[key] + value if key in self._sums else value

    def update(self, output: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        self._loss += loss.detach().to(torch.float64) * target.shape[0]
        self._count += target.shape[0]
        output = output.detach()
        for name in self.names:
            if name == "accuracy" or name.endswith("_accuracy"):
                k = 1 if name == "accuracy" else int(re.match(r"top(\d+)", name).group(1))
                self._add(name, self._correct(output, target, k))
                self._add(name + "#n", torch.tensor(float(target.numel()), device=self.device))
            else:
                err = output.float().reshape(target.shape[0], -1) - \
                    target.float().reshape(target.shape[0], -1)
                if name == "mse":
                    self._add(name, err.pow(2).sum())
                elif name == "mae":
                    self._add(name, err.abs().sum())
                elif name == "r2":
                    y = target.float().reshape(-1)
                    self._add("r2#sse", err.pow(2).sum())
                    self._add("r2#sy", y.sum())
                    self._add("r2#syy", y.pow(2).sum())
                self._add(name + "#n", torch.tensor(float(err.numel()), device=self.device))

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
        """Mean loss and every metric over what was seen since `reset` (one device sync)."""
        keys = list(self._sums)
        values = torch.stack([self._loss, *[self._sums[k] for k in keys]]).cpu().tolist()
        sums = dict(zip(keys, values[1:]))
        out = {"loss": values[0] / max(self._count, 1)}
        for name in self.names:
            n = max(sums.get(name + "#n", 0.0), 1.0)
            if name == "r2":
                sst = sums["r2#syy"] - sums["r2#sy"] ** 2 / n
                out[name] = 1.0 - sums["r2#sse"] / sst if sst > 0 else float("nan")
            else:
                out[name] = sums.get(name, 0.0) / n
        return out
