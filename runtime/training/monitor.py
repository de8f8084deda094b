"""Sampled monitoring: activation, gradient and weight statistics on chosen steps only.

On a sampled step, forward hooks are attached to every node's module, statistics are reduced on
the device into small tensors, and everything is copied to the CPU in one transfer at the end of
the step. Nothing is kept between samples: hooks are removed and weight snapshots dropped.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable

import torch
from torch import nn

from ..specs import LayerSpec
from .statistics import HISTOGRAMS, of_source

_ACT = of_source("activation")
_PARAM = of_source("parameter")
_UPDATE = of_source("update")
_ACT_HISTS = [h.key for h in HISTOGRAMS.values() if h.source == "activation"]
_PARAM_HISTS = [h for h in HISTOGRAMS.values() if h.source in ("grad", "weight")]


#: A node's output larger than this is measured on an evenly spread sample of about this many
#: values: a conv layer's output holds hundreds of thousands, and statistics and histograms of
#: 2^16 of them differ from the whole by well under a percent, at a fraction of the cost.
SAMPLE_VALUES = 2**16
#: The stride between sampled values is prime, so it never falls in step with a tensor's
#: dimensions (which would measure one channel or one position over and over).
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79,
           83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173,
           179, 181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269,
           271, 277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373,
           379, 383, 389, 397, 401, 409, 419, 421, 431, 433, 439, 443, 449, 457, 461, 463, 467,
           479, 487, 491, 499, 503, 509, 521, 523, 541)


def measured_values(x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """`x` flattened, or an evenly strided sample of about SAMPLE_VALUES of its values; and the
    factor that turns counts over the sample into counts over the whole."""
    flat = x.reshape(-1)
    n = flat.numel()
    if n <= SAMPLE_VALUES:
        return flat, 1.0
    wanted = n // SAMPLE_VALUES
    stride = next((p for p in _PRIMES if p >= wanted), wanted | 1)
    sample = flat[::stride]
    return sample, n / sample.numel()


def _histogram(x: torch.Tensor, bins: int, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Counts in `bins` equal bins between lo and hi, computed on the device without a sync."""
    scaled = ((x - lo) / (hi - lo).clamp_min(1e-12) * bins).long().clamp_(0, bins - 1)
    return torch.bincount(scaled.flatten(), minlength=bins).to(torch.float32)


class MonitorSample:
    """Collects one sampled step's statistics; `finish()` returns the monitor event's `nodes`.

    Each row is packed and unpacked from the statistic specs (statistics.py): the activation
    statistics of a node's output then its histogram; every parameter statistic of a tensor then
    its histograms; the update statistics after the optimiser step.
    """

    def __init__(self, model: nn.Module, node_specs: dict[str, LayerSpec | None], bins: int):
        self.model = model
        self.bins = bins
        self._acts: dict[str, torch.Tensor] = {}
        self._params: dict[str, torch.Tensor] = {}
        self._before: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []
        self._missing: torch.Tensor | None = None
        for node_id, module in model.named_children():
            if node_id in node_specs:
                self._handles.append(module.register_forward_hook(
                    self._hook(node_id, node_specs[node_id])))

    def _hook(self, node_id: str, layer: LayerSpec | None):
        measured = [spec.compute if spec.applies(layer) else None for spec in _ACT]
        by_key = {spec.key: i for i, spec in enumerate(_ACT)}
        edges = [(by_key[h.low], by_key[h.high]) for h in HISTOGRAMS.values()
                 if h.source == "activation"]

        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor) or not output.is_floating_point():
                return
            x, scale = measured_values(output.detach().float())
            stats = [f(x, layer) if f is not None else self._nan(x.device) for f in measured]
            hists = [_histogram(x, self.bins, stats[lo], stats[hi]) for lo, hi in edges]
            if scale != 1.0:  # counts of the whole output, as an unsampled one has
                hists = [h * scale for h in hists]
            self._acts[node_id] = torch.cat([torch.stack(stats), *hists])
        return hook

    def _nan(self, device: torch.device) -> torch.Tensor:
        """A statistic a layer does not have (saturation of a ReLU): one NaN per sample."""
        if self._missing is None or self._missing.device != device:
            self._missing = torch.full((), float("nan"), device=device)
        return self._missing

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @torch.no_grad()
    def after_backward(self) -> None:
        """Gradient and weight statistics, and a snapshot of the weights to measure the update."""
        keys = {spec.key: i for i, spec in enumerate(_PARAM)}
        for name, p in self.model.named_parameters():
            if p.grad is None:
                continue
            g, w = p.grad.detach().float(), p.detach().float()
            stats = [spec.compute(g, w) for spec in _PARAM]
            tensors = {"grad": g, "weight": w}
            hists = [_histogram(tensors[h.source], self.bins, stats[keys[h.low]],
                                stats[keys[h.high]]) for h in _PARAM_HISTS]
            self._params[name] = torch.cat([torch.stack(stats), *hists])
            self._before[name] = p.detach().clone()

    @torch.no_grad()
    def finish(self) -> dict[str, Any]:
        """After the optimiser step: the update statistics, then one transfer to the CPU."""
        self.remove_hooks()
        params = dict(self.model.named_parameters())
        updates = {name: torch.stack([spec.compute((params[name].detach() - before).float(),
                                                   before.float()) for spec in _UPDATE])
                   for name, before in self._before.items()}
        self._before.clear()
        act_names, param_names = list(self._acts), list(self._params)
        # one transfer: activation rows, parameter rows and update rows packed into one tensor
        parts = [self._acts[n] for n in act_names] + [self._params[n] for n in param_names] \
            + [updates[n] for n in param_names]
        values = torch.cat(parts).cpu().tolist() if parts else []
        self._acts.clear()
        self._params.clear()
        rows = _Rows(values)
        nodes: dict[str, dict[str, Any]] = {}
        for name in act_names:
            entry = rows.take(_ACT)
            for key in _ACT_HISTS:
                entry[key] = rows.take_list(self.bins)
            nodes[name] = entry
        tensors: dict[str, dict[str, Any]] = {}
        for name in param_names:
            stats = rows.take(_PARAM)
            for hist in _PARAM_HISTS:
                stats[hist.key] = rows.take_list(self.bins)
            tensors[name] = stats
        for name in param_names:
            tensors[name].update(rows.take(_UPDATE))
        for name, stats in tensors.items():
            node_id, tensor = name.split(".", 1)
            nodes.setdefault(node_id, {}).setdefault("params", {})[tensor] = stats
        for entry in nodes.values():
            if "params" in entry:
                entry.update(_node_values(entry["params"].values()))
        return {"nodes": nodes}


class _Rows:
    """Reads packed statistic values back in the order they were packed."""

    def __init__(self, values: list[float]):
        self.values = values
        self.at = 0

    def take_list(self, n: int) -> list[float]:
        out = self.values[self.at:self.at + n]
        self.at += n
        return out

    def take(self, specs: list) -> dict[str, float | None]:
        """Values by statistic; a non-finite one (no value for this layer) becomes None, as in
        the event's JSON."""
        return {spec.key: (v if math.isfinite(v) else None)
                for spec, v in zip(specs, self.take_list(len(specs)))}


def _node_values(tensors) -> dict[str, float | None]:
    """A node's value of each parameter/update statistic that has a node-level reduction."""
    tensors = list(tensors)
    out: dict[str, float | None] = {}
    for spec in _PARAM + _UPDATE:
        if spec.node is None:
            continue
        values = [t[spec.key] for t in tensors if t.get(spec.key) is not None]
        if not values:
            out[spec.key] = None
        elif spec.node == "norm":
            out[spec.key] = math.sqrt(sum(v * v for v in values))
        else:
            out[spec.key] = max(values)
    return out


class MonitorSchedule:
    """Decides which steps are sampled: every N steps, or 'auto' within a cost budget.

    'auto' measures how much longer a sampled step takes than a plain one and spaces samples so
    monitoring costs about `budget` of training time (never more often than every `min_every`
    steps, and at least every `max_every` steps so plots keep moving). It waits for `MIN_PLAIN`
    plain timings before judging (the first steps warm up), and with `reprobe` a schedule that
    samples every step still runs a plain step every `reprobe` steps, so a spacing decided on a
    slow warm-up step is measured again instead of holding for the rest of the run.
    """

    MIN_PLAIN = 3
    #: 'auto' samples a short run (under SHORT_RUN steps) up to MIN_SAMPLES times, so its plots
    #: draw curves rather than a dot, while a longer run keeps the cost budget (a tiny MLP's
    #: sample costs several steps). Those extra samples may cost FLOOR_SHARE of the run's time,
    #: or FLOOR_SECONDS where that is more: a run of a few seconds is sampled about as often as a
    #: longer one, a run of moments at every step.
    MIN_SAMPLES = 30
    SHORT_RUN = 400
    FLOOR_SHARE = 0.04
    FLOOR_SECONDS = 0.1

    def __init__(self, every: int | str, budget: float = 0.03, max_every: int = 500,
                 min_every: int = 5, start_every: int = 20, reprobe: int = 0,
                 total_steps: int | None = None):
        self.fixed = None if every in ("auto", "off") else int(every)
        self.off = every == "off"
        self.budget = budget
        self.short = bool(total_steps) and total_steps < self.SHORT_RUN
        self.total_steps = total_steps or 0
        self.longest = max_every  # the budget's own limit, which a short run may return to
        if self.short:
            max_every = max(1, min(max_every, self.total_steps // self.MIN_SAMPLES))
            start_every = min(start_every, max_every)
        self.max_every = max_every
        self.min_every = min_every
        self.every = self.fixed or start_every
        self.reprobe = reprobe
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
        if self.reprobe and self.every <= 1 and step % self.reprobe == 0:
            return False
        return step == 1 or step - self._last >= self.every

    def record(self, step: int, seconds: float, sampled: bool) -> None:
        if not sampled:
            self._plain.append(seconds)
            return
        self._last = step
        self._sampled.append(seconds)
        if self.fixed is None and len(self._plain) >= self.MIN_PLAIN and len(self._sampled) > 1:
            plain = _median(self._plain)
            extra = max(_median(list(self._sampled)[1:]) - plain, 0.0)  # the first warms up
            wanted = math.ceil(extra / max(self.budget * plain, 1e-9))
            self.every = int(min(max(wanted, self.min_every), self._widest(plain, extra)))

    def _widest(self, plain: float, extra: float) -> int:
        """The widest spacing allowed: for a short run, the spacing that gives it MIN_SAMPLES
        samples, widened as far as the floor's time allowance needs."""
        if not self.short or extra <= 0:
            return self.max_every
        allowance = max(self.FLOOR_SHARE * self.total_steps * plain, self.FLOOR_SECONDS)
        affordable = max(1.0, allowance / extra)  # samples the allowance pays for
        return min(self.longest, max(self.max_every, math.ceil(self.total_steps / affordable)))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


@torch.no_grad()
def first_non_finite_node(model: nn.Module, x: Any, order: list[str],
                          forward: Callable[[Any], Any] | None = None) -> str | None:
    """Re-run the forward pass (`forward`, or the model's) and name the first node (in graph
    order) with a NaN/Inf output."""
    bad: set[str] = set()
    handles = []
    for name, module in model.named_children():
        def hook(module, inputs, output, name=name):
            if isinstance(output, torch.Tensor) and output.is_floating_point() \
                    and not torch.isfinite(output).all():
                bad.add(name)
        handles.append(module.register_forward_hook(hook))
    try:
        (forward or model)(x)
    finally:
        for handle in handles:
            handle.remove()
    return next((n for n in order if n in bad), None)
