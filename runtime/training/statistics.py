"""The monitoring-statistic catalogue: each statistic is one `StatSpec`.

The monitor computes and packs its rows from these specs (so adding one cannot shift another), the
run record keeps the per-node ones as series, and the designer's plots, canvas tint and legend
iterate over them. Healthy ranges and the words for "too low"/"too high" live here, not in the GUI.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..specs import LayerSpec

if TYPE_CHECKING:  # the statistics compute on tensors they are given: the catalogue needs no torch
    import torch

#: Where a statistic is measured.
SOURCES = ("activation", "parameter", "update")
#: Colour words of a tint scale; the designer maps each to a colour.
SCALE_WORDS = ("low", "good", "middle", "high")


@dataclass(frozen=True)
class StatGroup:
    """Statistics drawn together in one plot of the selected layer."""

    key: str
    title: str
    log: bool


STAT_GROUPS: dict[str, StatGroup] = {g.key: g for g in (
    StatGroup("gradient", "Gradient norm per layer", True),
    StatGroup("activation", "Activation statistics", False),
    StatGroup("update", "Update / weight ratio", True),
    StatGroup("weight", "Weight spread", True),
)}


def _always(layer: LayerSpec | None) -> bool:
    return True


#: How an activation statistic of several processes' shares combines (`StatSpec.combine`).
COMBINE = ("mean", "std", "min", "max")


@dataclass(frozen=True)
class StatSpec:
    """One monitoring statistic.

    Attributes:
        key: Its field name in a monitor event (and in the run record's series).
        title: Shown in the colour-by chooser, legends and docs.
        doc: What it measures and what healthy looks like.
        source: "activation" (a node's output: compute(x, layer)), "parameter" (each parameter
            tensor after backward: compute(grad, weight)) or "update" (each parameter after the
            optimiser step: compute(change, weight before)).
        compute: Reduces tensors to a 0-dim tensor on the device (no sync).
        node: For parameter/update statistics: how a node's tensors combine into the node's value
            ("norm": root of the sum of squares, "max"), or None when only kept per tensor.
        group: The plot it is drawn in (`STAT_GROUPS`), or None when it is not plotted over time.
        short: Its legend label in that plot.
        log: Read on a logarithmic scale.
        fraction: A share of units, shown as a percentage.
        healthy: (low, high) outside which the value is a warning (None: no bound on that side).
        too_low, too_high: What a value below/above the healthy range means.
        scale: Canvas tint stops (value, one of `SCALE_WORDS`) in increasing value; empty when the
            canvas cannot be coloured by it.
        applies: Whether a layer type has this statistic (saturation only for saturating layers).
        combine: For activation statistics: how the values of a run's processes (each measured
            on its share of the batch) make the batch's ("mean" weighted by samples, "std" from
            the shares' means and spreads, "min", "max"); see training/distributed.py.
    """

    key: str
    title: str
    doc: str
    source: str
    compute: Callable[..., torch.Tensor]
    node: str | None = None
    group: str | None = None
    short: str = ""
    log: bool = False
    fraction: bool = False
    healthy: tuple[float | None, float | None] = (None, None)
    too_low: str = ""
    too_high: str = ""
    scale: tuple[tuple[float, str], ...] = ()
    applies: Callable[[LayerSpec | None], bool] = _always
    combine: str = ""

    def __post_init__(self) -> None:
        if (self.source == "activation") != (self.combine in COMBINE):
            raise ValueError(f"statistic {self.key}: an activation statistic says how processes "
                             f"combine it (one of {COMBINE}), and only it")
        if self.source not in SOURCES:
            raise ValueError(f"statistic {self.key}: unknown source '{self.source}'")
        if self.group is not None and self.group not in STAT_GROUPS:
            raise ValueError(f"statistic {self.key}: unknown group '{self.group}'")
        if any(word not in SCALE_WORDS for _, word in self.scale):
            raise ValueError(f"statistic {self.key}: scale words must be {SCALE_WORDS}")

    @property
    def per_node(self) -> bool:
        """Kept as a series per node (activation statistics and node-level parameter ones)."""
        return self.source == "activation" or self.node is not None


def _saturated(x: torch.Tensor, layer: LayerSpec | None) -> torch.Tensor:
    low, high = layer.saturation  # applies() guarantees it
    return ((x <= low) | (x >= high)).float().mean()


def _update_ratio(change: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    # all-zero weights give inf or nan, which the monitor reports as null (no ratio)
    return change.norm() / before.norm()


STATISTICS: dict[str, StatSpec] = {s.key: s for s in (
    # --- a node's output ----------------------------------------------------------------------
    StatSpec("act_mean", "Activation mean", "Mean of the node's outputs.", "activation",
             lambda x, layer: x.mean(), group="activation", short="mean", combine="mean"),
    StatSpec("act_std", "Activation std", "Spread of the node's outputs: near zero means the "
             "signal collapsed, very large means it is blowing up.", "activation",
             lambda x, layer: x.std(unbiased=False), group="activation", short="std", log=True,
             combine="std",
             healthy=(1e-2, 30.0), too_low="collapsed", too_high="blowing up",
             scale=((1e-3, "low"), (0.1, "good"), (3.0, "good"), (100.0, "high"))),
    StatSpec("dead_fraction", "Dead fraction (exact zeros)", "Share of outputs that are exactly "
             "zero; for ReLU-like layers a high share means dead units.", "activation",
             lambda x, layer: (x == 0).float().mean(), group="activation", short="dead",
             combine="mean",
             fraction=True, healthy=(None, 0.9), too_low="all alive", too_high="dead",
             scale=((0.0, "good"), (0.5, "middle"), (1.0, "high"))),
    StatSpec("saturated_fraction", "Saturated fraction", "Share of outputs in the flat ends of a "
             "saturating activation (Sigmoid, Tanh), where gradients vanish.", "activation",
             _saturated, group="activation", short="saturated", fraction=True, combine="mean",
             healthy=(None, 0.5), too_low="responsive", too_high="saturated",
             applies=lambda layer: layer is not None and layer.saturation is not None),
    StatSpec("act_min", "Activation minimum", "Smallest output (the activation histogram's left "
             "edge).", "activation", lambda x, layer: x.min(), combine="min"),
    StatSpec("act_max", "Activation maximum", "Largest output (the activation histogram's right "
             "edge).", "activation", lambda x, layer: x.max(), combine="max"),
    # --- each parameter tensor, after backward ------------------------------------------------
    StatSpec("grad_norm", "Gradient norm", "Size of the gradient; per node, the norm over its "
             "tensors. Tiny means vanishing gradients, huge means exploding ones.", "parameter",
             lambda g, w: g.norm(), node="norm", group="gradient", log=True,
             healthy=(1e-5, 1e2), too_low="vanishing", too_high="exploding",
             scale=((1e-6, "low"), (1e-3, "good"), (1.0, "good"), (100.0, "high"))),
    StatSpec("weight_norm", "Weight norm", "Size of the weights; per node, the norm over its "
             "tensors.", "parameter", lambda g, w: w.norm(), node="norm", log=True),
    StatSpec("weight_std", "Weight spread (std)", "Standard deviation of a tensor's weights; per "
             "node, its widest tensor. Zero means every weight is equal (no symmetry breaking); "
             "above 1 the signal grows layer by layer.", "parameter",
             lambda g, w: w.std(unbiased=False), node="max", group="weight", short="std",
             log=True, healthy=(1e-4, 1.0), too_low="symmetric", too_high="too large",
             scale=((1e-5, "low"), (1e-2, "good"), (0.3, "good"), (3.0, "high"))),
    StatSpec("grad_min", "Gradient minimum", "Smallest gradient entry (histogram edge).",
             "parameter", lambda g, w: g.min()),
    StatSpec("grad_max", "Gradient maximum", "Largest gradient entry (histogram edge).",
             "parameter", lambda g, w: g.max()),
    StatSpec("weight_min", "Weight minimum", "Smallest weight (histogram edge).", "parameter",
             lambda g, w: w.min()),
    StatSpec("weight_max", "Weight maximum", "Largest weight (histogram edge).", "parameter",
             lambda g, w: w.max()),
    # --- each parameter tensor, after the optimiser step --------------------------------------
    StatSpec("update_ratio", "Update / weight ratio", "How far one step moved the weights, "
             "relative to their size (‖Δw‖/‖w‖); per node, the largest. About 1e-3 is healthy.",
             "update", _update_ratio, node="max", group="update", short="‖Δw‖/‖w‖", log=True,
             healthy=(1e-5, 1e-1), too_low="barely learning", too_high="overshooting",
             scale=((1e-6, "low"), (1e-3, "good"), (1e-1, "high"))),
)}


@dataclass(frozen=True)
class HistogramSpec:
    """A histogram sent with each monitor sample: counts in equal bins between two statistics."""

    key: str
    title: str
    source: str  # "activation" (the output), "grad" or "weight" (a parameter tensor)
    low: str  # the statistic giving the left edge
    high: str  # ... and the right edge


HISTOGRAMS: dict[str, HistogramSpec] = {h.key: h for h in (
    HistogramSpec("act_hist", "Activations", "activation", "act_min", "act_max"),
    HistogramSpec("weight_hist", "Weights", "weight", "weight_min", "weight_max"),
    HistogramSpec("grad_hist", "Weight gradients", "grad", "grad_min", "grad_max"),
)}


def of_source(source: str) -> list[StatSpec]:
    """The statistics measured at one place, in catalogue order (the monitor's row order)."""
    return [s for s in STATISTICS.values() if s.source == source]


def node_series() -> list[str]:
    """Keys of the statistics kept over time per node (run record, plots, tint)."""
    return [s.key for s in STATISTICS.values() if s.per_node and s.group is not None]


#: The statistic the canvas is coloured by until the user picks another.
DEFAULT_TINT = "grad_norm"


def tintable() -> list[StatSpec]:
    """Statistics the canvas can colour nodes by (those with a scale), default first."""
    specs = [s for s in STATISTICS.values() if s.scale]
    return sorted(specs, key=lambda s: s.key != DEFAULT_TINT)
