"""Sampled monitoring: activation, gradient and weight statistics on chosen steps only.

On a sampled step, forward hooks are attached to every node's module, statistics are reduced on
the device into small tensors, and everything is copied to the CPU in one transfer at the end of
the step. Nothing is kept between samples: hooks are removed and weight snapshots dropped.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

import torch
from torch import nn

SATURATING = {"Sigmoid": (0.01, 0.99), "Tanh": (-0.99, 0.99)}
_ACT_FIELDS = ("act_mean", "act_std", "dead_fraction", "saturated_fraction", "act_min", "act_max")
_PARAM_FIELDS = ("grad_norm", "weight_norm", "grad_min", "grad_max", "weight_min", "weight_max")


def _histogram(x: torch.Tensor, bins: int, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Counts in `bins` equal bins between lo and hi, computed on the device without a sync."""
    scaled = ((x - lo) / (hi - lo).clamp_min(1e-12) * bins).long().clamp_(0, bins - 1)
    return torch.bincount(scaled.flatten(), minlength=bins).to(torch.float32)


class MonitorSample:
    """Collects one sampled step's statistics; `finish()` returns the monitor event payload."""

    def __init__(self, model: nn.Module, node_types: dict[str, str], bins: int):
        self.model = model
        self.node_types = node_types
        self.bins = bins
        self._acts: dict[str, torch.Tensor] = {}
        self._params: dict[str, torch.Tensor] = {}
        self._before: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []
        for node_id, module in model.named_children():
            if node_id in node_types:
                self._handles.append(module.register_forward_hook(self._hook(node_id)))

    def _hook(self, node_id: str):
        bounds = SATURATING.get(self.node_types[node_id])

        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor) or not output.is_floating_point():
                return
            x = output.detach().float()
            lo, hi = x.min(), x.max()
            if bounds is not None:
                saturated = ((x <= bounds[0]) | (x >= bounds[1])).float().mean()
            else:
                saturated = torch.full((), float("nan"), device=x.device)
            stats = torch.stack([x.mean(), x.std(unbiased=False), (x == 0).float().mean(),
                                 saturated, lo, hi])
            self._acts[node_id] = torch.cat([stats, _histogram(x, self.bins, lo, hi)])
        return hook

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @torch.no_grad()
    def after_backward(self) -> None:
        """Gradient statistics, and a snapshot of the weights to measure this step's update."""
        for name, p in self.model.named_parameters():
            if p.grad is None:
                continue
            g, w = p.grad.detach().float(), p.detach().float()
            lo, hi, w_lo, w_hi = g.min(), g.max(), w.min(), w.max()
            stats = torch.stack([g.norm(), w.norm(), lo, hi, w_lo, w_hi])
            self._params[name] = torch.cat([stats, _histogram(g, self.bins, lo, hi),
                                            _histogram(w, self.bins, w_lo, w_hi)])
            self._before[name] = p.detach().clone()

    @torch.no_grad()
    def finish(self) -> dict[str, Any]:
        """After the optimiser step: update/weight ratios, then one transfer to the CPU."""
        self.remove_hooks()
        updates = {}
        params = dict(self.model.named_parameters())
        for name, before in self._before.items():
            updates[name] = (params[name].detach() - before).float().norm()
        self._before.clear()
        act_names, param_names = list(self._acts), list(self._params)
        # one transfer: activation rows, parameter rows and update norms packed into one tensor
        parts = [torch.stack([self._acts[n] for n in act_names]).flatten()] if act_names else []
        if param_names:
            parts.append(torch.stack([self._params[n] for n in param_names]).flatten())
            parts.append(torch.stack([updates[n] for n in param_names]))
        values = torch.cat(parts).cpu().tolist() if parts else []
        act_width, param_width = len(_ACT_FIELDS) + self.bins, len(_PARAM_FIELDS) + 2 * self.bins
        split = len(act_names) * act_width
        flat = [values[i:i + act_width] for i in range(0, split, act_width)]
        flat += [values[i:i + param_width]
                 for i in range(split, split + len(param_names) * param_width, param_width)]
        upd = values[split + len(param_names) * param_width:]
        self._acts.clear()
        self._params.clear()
        nodes: dict[str, dict[str, Any]] = {}
        for name, row in zip(act_names, flat):
            entry = dict(zip(_ACT_FIELDS, row[:6]))
            if math.isnan(entry["saturated_fraction"]):
                entry["saturated_fraction"] = None
            entry["act_hist"] = row[6:]
            nodes[name] = entry
        param_stats: dict[str, dict[str, Any]] = {}
        grad_sq: dict[str, float] = {}
        for name, row, update in zip(param_names, flat[len(act_names):], upd):
            weight_norm = row[1]
            fields = len(_PARAM_FIELDS)
            param_stats[name] = {**dict(zip(_PARAM_FIELDS, row[:fields])),
                                 "grad_hist": row[fields:fields + self.bins],
                                 "weight_hist": row[fields + self.bins:],
                                 "update_ratio": update / weight_norm if weight_norm > 0 else None}
            node_id = name.split(".", 1)[0]
            grad_sq[node_id] = grad_sq.get(node_id, 0.0) + row[0] ** 2
        for name, stats in param_stats.items():
            node = nodes.setdefault(name.split(".", 1)[0], {})
            node.setdefault("params", {})[name.split(".", 1)[1]] = stats
        for node_id, sq in grad_sq.items():
            entry = nodes[node_id]
            entry["grad_norm"] = math.sqrt(sq)
            ratios = [s["update_ratio"] for s in entry["params"].values()
                      if s["update_ratio"] is not None]
            entry["update_ratio"] = max(ratios) if ratios else None
            entry["weight_norm"] = math.sqrt(sum(s["weight_norm"] ** 2
                                                 for s in entry["params"].values()))
        return {"nodes": nodes}


class MonitorSchedule:
    """Decides which steps are sampled: every N steps, or 'auto' within a cost budget.

    'auto' measures how much longer a sampled step takes than a plain one and spaces samples so
    monitoring costs about `budget` of training time (never more often than every 5 steps, and at
    least every `max_every` steps so plots keep moving).
    """

    def __init__(self, every: int | str, budget: float = 0.03, max_every: int = 500,
                 min_every: int = 5, start_every: int = 20):
        self.fixed = None if every in ("auto", "off") else int(every)
        self.off = every == "off"
        self.budget = budget
        self.max_every = max_every
        self.min_every = min_every
        self.every = self.fixed or start_every
        self._plain: deque[float] = deque(maxlen=50)
        self._sampled: deque[float] = deque(maxlen=5)
        self._last = -10**9

    @property
    def adaptive(self) -> bool:
        """Whether the spacing follows measured step times ('auto')."""
        return self.fixed is None and not self.off

    def due(self, step: int) -> bool:
        if self.off:
            return False
        return step == 1 or step - self._last >= self.every

    def record(self, step: int, seconds: float, sampled: bool) -> None:
        if not sampled:
            self._plain.append(seconds)
            return
        self._last = step
        self._sampled.append(seconds)
        if self.fixed is None and self._plain and len(self._sampled) > 1:
            plain = _median(self._plain)
            extra = max(_median(list(self._sampled)[1:]) - plain, 0.0)  # the first warms up
            wanted = math.ceil(extra / max(self.budget * plain, 1e-9))
            self.every = int(min(max(wanted, self.min_every), self.max_every))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


@torch.no_grad()
def first_non_finite_node(model: nn.Module, x: torch.Tensor, order: list[str]) -> str | None:
    """Re-run the forward pass and name the first node (in graph order) with a NaN/Inf output."""
    bad: set[str] = set()
    handles = []
    for name, module in model.named_children():
        def hook(module, inputs, output, name=name):
            if isinstance(output, torch.Tensor) and output.is_floating_point() \
                    and not torch.isfinite(output).all():
                bad.add(name)
        handles.append(module.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return next((n for n in order if n in bad), None)
