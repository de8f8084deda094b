"""Data augmentation applied to a batch on the device: flips, shifts and noise."""
from __future__ import annotations

from typing import Any

import torch


def augment(x: torch.Tensor, settings: dict[str, Any], kind: str,
            generator: torch.Generator) -> torch.Tensor:
    """Augment a training batch. Images (N, C, H, W) get flip/shift/noise; sequences get noise.

    Random draws use `generator` (on the CPU) so seeded runs repeat exactly.
    """
    if not x.is_floating_point():
        return x
    if kind == "image" and x.dim() == 4:
        if settings["flip"]:
            flip = torch.rand(x.shape[0], generator=generator) < 0.5
            x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
        shift = settings["shift"]
        if shift:
            dy, dx = (torch.randint(-shift, shift + 1, (2,), generator=generator)).tolist()
            x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    if settings["noise"] > 0 and kind in ("image", "sequence", "tabular"):
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        x = x + settings["noise"] * noise
    return x
