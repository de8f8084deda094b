"""The pre-flight check: the static rules, then one forward/backward pass on a batch (the
initial loss against what an untrained network should give, NaNs, dead or saturated units and
the gradient reaching every layer), then a few dozen steps on that one batch (a network that
cannot learn a single batch will not learn the data), a memory estimate and, when asked, a
learning-rate sweep. Seconds for the presets."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TrainingError
from ..graph import GraphModel
from ..lazy import lazy_import
from ..shapes import infer
from ..training.config import parse_training
from ..training.memory import device_memory, run_bytes
from ..training.optimizers import make_optimizer
from . import anatomy, signals
from .findings import Finding
from .static import static_findings

# torch is imported when a tensor is first needed, not with this module
torch = lazy_import("torch", globals(), "torch")

#: Samples in the pre-flight batch (the run's batch size when smaller).
PROBE_BATCH = 256
#: Steps of the single-batch fit.
FIT_STEPS = 30


@dataclass
class Preflight:
    """What the pre-flight check found and measured."""

    findings: list[Finding]
    initial_loss: float | None = None
    expected_loss: float | None = None
    fit_losses: list[float] = field(default_factory=list)
    grad_norms: dict[str, float] = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    lr_curve: list[tuple[float, float]] = field(default_factory=list)
    suggested_lr: float | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"findings": [f.to_json() for f in self.findings],
                "initial_loss": self.initial_loss, "expected_loss": self.expected_loss,
                "fit_losses": self.fit_losses, "grad_norms": self.grad_norms,
                "memory": self.memory, "lr_curve": [list(p) for p in self.lr_curve],
                "suggested_lr": self.suggested_lr, "seconds": round(self.seconds, 3)}


def load_data(design: GraphModel, base_dir: str | Path | None = None):
    """The design's dataset as its training mode sees it (TrainingError when it cannot be
    loaded)."""
    from ..errors import DatasetError
    from ..training.modes import training_data

    config = parse_training(design.training)
    try:
        return training_data(config, base_dir)
    except DatasetError as err:
        raise TrainingError(str(err), "data") from None


def preflight(design: GraphModel, *, steps: int = FIT_STEPS, dataset=None,
              base_dir: str | Path | None = None, lr_finder: bool = False) -> Preflight:
    """Run the pre-flight check. Raises TrainingError only when the design cannot be set up for
    training at all for a reason that is not a finding (no dataset, an invalid design)."""
    started = time.perf_counter()
    analysis = infer(design)
    dataset = dataset if dataset is not None else load_data(design, base_dir)
    found = static_findings(design, analysis, dataset)
    result = Preflight(found)
    if any(f.code == "loss_output_mismatch" and "dataset" in f.evidence for f in found):
        result.seconds = time.perf_counter() - started
        return result  # the data cannot even be fed: nothing to run
    from ..training.trainer import Trainer

    trainer = Trainer(design, design.training, dataset=dataset, base_dir=base_dir)
    threads = torch.get_num_threads()
    try:
        from ..training.trainer import cpu_threads

        torch.set_num_threads(cpu_threads(trainer.config["threads"]))
        trainer._setup()
        initial = copy.deepcopy(trainer.model.state_dict())
        from .lr_finder import sweep

        def suggestion() -> float | None:
            if not result.lr_curve:
                trainer.model.load_state_dict(initial)  # the sweep starts untrained, as a run
                result.lr_curve, result.suggested_lr = sweep(trainer)
            return result.suggested_lr
        if lr_finder:
            suggestion()
        _probe(trainer, result, steps, {n: r.params for n, r in analysis.nodes.items()},
               suggestion)
    finally:
        torch.set_num_threads(threads)
    result.memory = {"device": str(trainer.device), "batch_size": trainer.batch_size,
                     "estimated_bytes": run_bytes(analysis, trainer.batch_size),
                     "available_bytes": device_memory(trainer.device)}
    result.findings = _merged(result.findings)
    result.seconds = time.perf_counter() - started
    return result


def _merged(findings: list[Finding]) -> list[Finding]:
    """One finding per (code, node, field): the first kept."""
    seen, out = set(), []
    for f in findings:
        if f.key not in seen:
            seen.add(f.key)
            out.append(f)
    return out


def _probe(trainer, result: Preflight, steps: int, params: dict[str, int],
           suggestion=lambda: None) -> None:
    """`suggestion()` runs the learning-rate finder on demand (for a rate to raise to)."""
    """One monitored forward/backward/step on a batch, then `steps` more on the same batch."""
    from ..training.monitor import MonitorSample, first_non_finite_node  # imports torch

    design, cfg = trainer.design, trainer.config
    n = min(PROBE_BATCH, trainer.batch_size, len(trainer.train_idx))
    idx = trainer.train_idx[torch.randperm(len(trainer.train_idx),
                                           generator=trainer.generator)[:n]]
    xb, yb = trainer.x[idx], trainer.y[idx]
    model = trainer.model
    # the run's own forward and loss: a training mode may replace both (contrastive divergence)
    forward, compute = trainer._forward, trainer._loss_fn
    model.train()
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], cfg.optimizer)
    sample = MonitorSample(model, trainer.node_specs, bins=4)
    try:
        output = forward(xb)
        loss = compute(output, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        sample.after_backward()
    finally:
        sample.remove_hooks()
    result.initial_loss = float(loss.detach())
    # with several Outputs no one output and target tell what the first loss should be
    single = isinstance(output, torch.Tensor) and isinstance(yb, torch.Tensor)
    facts = signals.Facts(design, cfg, trainer.dataset, {}, result.initial_loss,
                          output.detach() if single else None, yb if single else None,
                          stage="preflight")
    order = design.topological_order()
    if not math.isfinite(result.initial_loss):
        node = first_non_finite_node(model, xb, order)
        result.findings.append(signals.non_finite_finding(facts, node, "loss"))
        return
    optimizer.step()
    facts.nodes = sample.finish()["nodes"]
    result.grad_norms = {k: v["grad_norm"] for k, v in facts.nodes.items()
                         if v.get("grad_norm") is not None}
    bad_grads = [k for k in anatomy.weighted(design) if k in facts.nodes
                 and "grad_norm" in facts.nodes[k] and facts.nodes[k]["grad_norm"] is None]
    if bad_grads:
        result.findings.append(signals.non_finite_finding(facts, bad_grads[-1], "gradients"))
        return
    result.expected_loss = signals.expected_loss(facts)
    causes = (signals.initial_loss_findings(facts, result.expected_loss)
              + signals.dead_findings(facts) + signals.saturation_findings(facts)
              + signals.gradient_findings(facts, params))
    if any(f.code == "symmetry" for f in result.findings):
        # zero-initialised layers pass back zero gradients: that is the symmetry, not vanishing
        causes = [f for f in causes if f.code != "vanishing_gradients"]
    result.findings += causes
    if cfg["mode"]["name"] == "adversarial":
        return  # the generator's loss is a game's score: on one batch it need not fall
    # can the network learn this one batch? (the first step above was its first step)
    losses = [result.initial_loss]
    ratios: list[float] = [signals.max_update(facts.nodes) or 0.0]
    for _ in range(steps):
        with torch.no_grad():
            losses.append(float(compute(forward(xb), yb)))
        if not math.isfinite(losses[-1]):
            break
        before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
        optimizer.zero_grad(set_to_none=True)
        compute(forward(xb), yb).backward()
        optimizer.step()
        after = [p.detach() for p in model.parameters() if p.requires_grad]
        change = math.sqrt(sum(float((a - b).pow(2).sum()) for a, b in zip(after, before)))
        size = math.sqrt(sum(float(b.pow(2).sum()) for b in before))
        ratios.append(change / size if size > 0 else 0.0)
    result.fit_losses = losses
    symmetric = [f for f in result.findings if f.code == "symmetry"]
    found = signals.fit_findings(facts, losses, ratios, symmetric + causes)
    if any(f.field == "training.optimizer.lr" and f.code != "lr_too_high" for f in found):
        facts.suggested_lr = suggestion()  # a rate to raise to, measured rather than guessed
        found = signals.fit_findings(facts, losses, ratios, symmetric + causes)
    result.findings += found

