"""The regularisers applied around an optimiser step: the L1 penalty and the max-norm constraint."""
from __future__ import annotations

import torch
from torch import nn


def l1_penalty(params: list[nn.Parameter]) -> torch.Tensor:
    """Sum of absolute weights (biases excluded), the L1 regulariser."""
    return sum(p.abs().sum() for p in params if p.dim() > 1)


@torch.no_grad()
def apply_max_norm(named_params: list[tuple[str, nn.Parameter]], max_norm: float) -> None:
    """Rescale each output unit's incoming weight vector to norm <= max_norm."""
    for name, p in named_params:
        if p.dim() > 1 and name.endswith("weight"):
            flat = p.view(p.shape[0], -1)
            norms = flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
            flat.mul_(norms.clamp(max=max_norm) / norms)
