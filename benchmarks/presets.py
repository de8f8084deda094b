"""Benchmark: does every preset reach its target, and does every lesson show its failure and fix?

Each preset in `presets/` is trained headless with its own training block, in a fresh Python
process (so no preset inherits another's threads, caches or random state), one at a time. For each
one it prints the metric reached (the last epoch's value, not the best one) against its target,
PASS/FAIL, the epochs run, the training seconds (the trainer's `fit_end.elapsed_s`) and the wall
seconds of the whole child process (start-up, imports and data included). Every preset must train
in under 2 minutes on a 2-core CPU.

The lessons come in pairs, a broken preset and its fix. Besides the metric, each pair prints the
statistic that shows the failure, for the broken run next to the fixed one:

    grad_ratio      vanishing gradients: first Linear's gradient norm / last Linear's (median over
                    the monitoring samples)
    peak_grad_norm  exploding gradients (learning rate too high): largest total gradient norm in
                    any monitoring sample, as the monitor sees it (after clipping), and the step
                    where the loss went NaN/Inf, if it did
    dead_fraction   dying ReLU: share of exact zeros over the activation nodes, last sample
    distinct_rows   zero initialisation: how many different rows fc1's weight matrix has at the end
    train_val_gap   overfitting: training accuracy (every training sample, evaluation mode) minus
                    validation accuracy at the end; also the final/min validation loss

The transfer-learning presets start from the weights of `transfer-shapes-pretrain` (four shapes)
to learn four other shapes from five labelled pictures each; each prints `gap_vs_baseline`, its
validation accuracy minus that of the same network trained from scratch on the same pictures
(`transfer-shapes-scratch`), and a table sets the three styles side by side. The children share a
fresh temporary data folder, so the first of them pre-trains (its train seconds include that) and
the others reuse the kept run, as in the app.

The denoising autoencoder prints `damaged_mse`, the validation MSE of its damaged inputs
against the clean targets (what copying the input would score), and `denoised_vs_damaged`, its
own validation MSE over that.

The GAN presets print what their generators make from 2,500 seeded noise vectors: on the ring of
Gaussians `modes_covered` (modes with at least 1 % of the samples within 3 standard deviations)
and `high_quality` (the share of samples that near a mode); on the digits `recognised`, the share
of generated digits that a logistic-regression classifier trained on the real training digits
gives one class with probability 0.9 or more, `classes_seen` (classes with at least 1 % of the
samples recognised as them) and `real_recognised`, the same share for the real validation digits
(the classifier's own confidence, the ceiling). Every adversarial run also ends with
`val_diversity`: the generated samples' spread over the real ones'.

Regression presets also print `baseline_mse`, the validation MSE of predicting the training
targets' mean (per output), which is the line a model has to beat.

TARGETS below is the one place where the targets live; the tests only check that presets load,
compile and run a few steps.

Usage: python benchmarks/presets.py [PRESET ...] [--json FILE]
       (PRESET is a file name in presets/ without .json, e.g. lstm-adding)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "presets"
CHILD_MARK = "PRESET-RESULT "
TIME_LIMIT_S = 120.0


@dataclass(frozen=True)
class Check:
    """`metric op value`, e.g. val_accuracy >= 0.95."""

    metric: str
    op: str  # ">=" or "<="
    value: float

    def passed(self, values: dict) -> bool:
        got = values.get(self.metric)
        if got is None or (isinstance(got, float) and math.isnan(got)):
            return False
        return got >= self.value if self.op == ">=" else got <= self.value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Target:
    """What a preset must reach. The first check is the headline metric; `stat` is shown beside it
    (for a lesson, next to its fix's value); `fix` names a lesson's companion preset."""

    checks: tuple[Check, ...]
    stat: str | None = None
    fix: str | None = None
    extra: tuple[str, ...] = field(default=())  # more values worth printing
    baseline: str | None = None  # a preset whose headline metric this one must beat


#: The value a preset with a `baseline` reports: its headline metric minus the baseline's.
GAP = "gap_vs_baseline"


def _t(*checks: tuple[str, str, float], stat: str | None = None, fix: str | None = None,
       extra: tuple[str, ...] = (), baseline: str | None = None) -> Target:
    return Target(tuple(Check(*c) for c in checks), stat, fix, extra, baseline)


TARGETS: dict[str, Target] = {
    # --- architectures ----------------------------------------------------------------------
    "mlp-spirals": _t(("val_accuracy", ">=", 0.95)),
    "mlp-digits": _t(("val_accuracy", ">=", 0.95)),
    "lenet-digits": _t(("val_accuracy", ">=", 0.97)),
    "resnet-shapes": _t(("val_accuracy", ">=", 0.97)),
    "rnn-adding": _t(("val_mse", ">=", 0.10), stat="baseline_mse"),  # stays near 0.167
    "lstm-adding": _t(("val_mse", "<=", 0.05), stat="baseline_mse"),
    "gru-adding": _t(("val_mse", "<=", 0.05), stat="baseline_mse"),
    "bilstm-reverse": _t(("val_accuracy", ">=", 0.95)),
    "autoencoder-digits": _t(("val_mse", "<=", 0.025), ("mse_vs_baseline", "<=", 0.33),
                             stat="baseline_mse"),
    "rbm-digits": _t(("val_mse", "<=", 0.035), stat="baseline_mse"),
    "dbn-digits-pretrain": _t(("val_mse", "<=", 0.05)),
    "dbn-digits-scratch": _t(("val_accuracy", ">=", 0.7)),
    "dbn-digits": _t(("val_accuracy", ">=", 0.88), (GAP, ">=", 0.04), stat=GAP,
                     baseline="dbn-digits-scratch"),
    "denoising-autoencoder": _t(("val_mse", "<=", 0.025), ("denoised_vs_damaged", "<=", 0.4),
                                stat="damaged_mse"),
    "transformer-majority": _t(("val_accuracy", ">=", 0.95)),
    "attention-reverse": _t(("val_accuracy", ">=", 0.99)),
    "regression-sine": _t(("val_mse", "<=", 0.015), stat="baseline_mse"),
    # several Inputs and Outputs: the sum's classes and the difference's error (guessing the
    # mean gives an mse of about 16.5)
    "digit-pairs": _t(("val_sum_accuracy", ">=", 0.8), ("val_difference_loss", "<=", 3.0),
                      stat="val_difference_loss"),
    # seq2seq: the last state alone gets most tokens but few whole sequences of 10 right;
    # attention gets nearly all of them in the same 15 epochs
    "seq2seq-reverse": _t(("val_generated_accuracy", ">=", 0.6), stat="val_sequence_accuracy"),
    "seq2seq-reverse-attention": _t(("val_sequence_accuracy", ">=", 0.9), (GAP, ">=", 0.5),
                                    stat=GAP, baseline="seq2seq-reverse"),
    "gan-2d": _t(("modes_covered", ">=", 7), ("high_quality", ">=", 0.7), stat="val_diversity",
                 extra=("high_quality",)),
    "dcgan-digits": _t(("recognised", ">=", 0.35), ("classes_seen", ">=", 9),
                       stat="real_recognised", extra=("classes_seen",)),
    # --- transfer learning: pre-train, then three ways to learn new classes from 5 examples ----
    "transfer-shapes-pretrain": _t(("val_accuracy", ">=", 0.95)),
    "transfer-shapes-scratch": _t(("val_accuracy", ">=", 0.5)),
    "transfer-shapes-feature-extraction": _t(("val_accuracy", ">=", 0.72), (GAP, ">=", 0.08),
                                             stat=GAP, baseline="transfer-shapes-scratch"),
    "transfer-shapes-fine-tuning": _t(("val_accuracy", ">=", 0.72), (GAP, ">=", 0.08),
                                      stat=GAP, baseline="transfer-shapes-scratch"),
    # --- lessons: the broken preset must show the failure, its fix must train ----------------
    "lesson-vanishing-gradients": _t(("val_accuracy", "<=", 0.60), ("grad_ratio", "<=", 1e-3),
                                     stat="grad_ratio", fix="lesson-vanishing-gradients-fixed"),
    "lesson-vanishing-gradients-fixed": _t(("val_accuracy", ">=", 0.95), ("grad_ratio", ">=", 0.1),
                                           stat="grad_ratio"),
    "lesson-exploding-gradients": _t(("diverged", ">=", 1), stat="peak_grad_norm",
                                     fix="lesson-exploding-gradients-fixed", extra=("nan_step",)),
    "lesson-exploding-gradients-fixed": _t(("val_mse", "<=", 0.02), stat="peak_grad_norm"),
    "lesson-dying-relu": _t(("val_accuracy", "<=", 0.60), ("dead_fraction", ">=", 0.9),
                            stat="dead_fraction", fix="lesson-dying-relu-fixed"),
    "lesson-dying-relu-fixed": _t(("val_accuracy", ">=", 0.95), ("dead_fraction", "<=", 0.05),
                                  stat="dead_fraction"),
    "lesson-zero-init": _t(("val_accuracy", "<=", 0.75), ("distinct_rows", "<=", 1),
                           stat="distinct_rows", fix="lesson-zero-init-fixed"),
    "lesson-zero-init-fixed": _t(("val_accuracy", ">=", 0.95), ("distinct_rows", ">=", 16),
                                 stat="distinct_rows"),
    "lesson-perceptron-xor": _t(("val_accuracy", "<=", 0.75), stat="train_accuracy_all",
                                fix="lesson-perceptron-xor-fixed"),
    "lesson-perceptron-xor-fixed": _t(("val_accuracy", ">=", 0.93), stat="train_accuracy_all"),
    "lesson-overfitting": _t(("train_accuracy_all", ">=", 0.99), ("train_val_gap", ">=", 0.10),
                             ("val_loss_rise", ">=", 3.0), stat="train_val_gap",
                             fix="lesson-overfitting-fixed",
                             extra=("val_accuracy", "val_loss_rise")),
    "lesson-overfitting-fixed": _t(("val_loss_rise", "<=", 1.5), ("train_val_gap", "<=", 0.05),
                                   stat="train_val_gap", extra=("val_accuracy",)),
    "lesson-gan-mode-collapse": _t(("modes_covered", "<=", 2), ("val_diversity", "<=", 0.5),
                                   stat="val_diversity", fix="lesson-gan-mode-collapse-fixed",
                                   extra=("modes_covered", "high_quality")),
    "lesson-gan-mode-collapse-fixed": _t(("modes_covered", ">=", 7), ("val_diversity", ">=", 0.8),
                                         stat="val_diversity", extra=("high_quality",)),
}


# --- the child: train one preset and measure ----------------------------------------------------
def train_one(name: str) -> dict:
    """Train presets/NAME.json in this process; returns the values the checks read."""
    sys.path.insert(0, str(ROOT))
    import torch

    from runtime.document import load
    from runtime.errors import TrainingError
    from runtime.training import Callback, Trainer
    from runtime.training.events import EpochEnd, Error, Event, FitEnd, Monitor

    class Recorder(Callback):
        def __init__(self) -> None:
            self.monitors: list[Monitor] = []
            self.epochs: list[EpochEnd] = []
            self.error: Error | None = None
            self.error_step: int | None = None
            self.end: FitEnd | None = None

        def on_event(self, trainer, event: Event) -> None:
            if isinstance(event, Monitor):
                self.monitors.append(event)
            elif isinstance(event, EpochEnd):
                self.epochs.append(event)
            elif isinstance(event, Error):
                self.error, self.error_step = event, trainer.step
            elif isinstance(event, FitEnd):
                self.end = event

    design = load(PRESETS / f"{name}.json")
    recorder = Recorder()
    trainer = Trainer(design, callbacks=[recorder], base_dir=PRESETS)
    try:
        trainer.fit()
    except TrainingError:
        pass  # a lesson may fail on purpose; the error event says how
    end = recorder.end
    values: dict = dict(end.final or {}) if end is not None else {}
    values.update(status=end.status if end else None, epochs=end.epochs_run if end else None,
                  train_s=end.elapsed_s if end else None)
    err = recorder.error
    nan = err is not None and err.failure == "nan"
    values["diverged"] = 1.0 if nan else 0.0
    values["nan_step"] = recorder.error_step if nan else None
    if err is not None and not nan:
        values["error"] = err.message
    if not hasattr(trainer, "model"):
        return values
    types = {n.id: n.type for n in design.nodes.values()}
    order = [n for n in design.topological_order() if n in types]
    linears = [n for n in order if types[n] == "Linear"]
    values.update(_monitor_stats([m.nodes for m in recorder.monitors], linears, types))
    if trainer.dataset.task == "regression" and len(trainer.val_idx):
        y = trainer.y.float()
        mean = y[trainer.train_idx].mean(dim=0)
        values["baseline_mse"] = float(((y[trainer.val_idx] - mean) ** 2).mean())
        if values.get("val_mse") is not None:
            values["mse_vs_baseline"] = values["val_mse"] / values["baseline_mse"]
    if getattr(trainer, "_corrupting", False) and len(trainer.val_idx):
        # how far the damaged validation inputs are from their clean targets: what a network
        # that only copied its input would score
        val = trainer.val_idx
        values["damaged_mse"] = float(((trainer.x_eval[val] - trainer.y[val]) ** 2).mean())
        if values.get("val_mse") is not None:
            values["denoised_vs_damaged"] = values["val_mse"] / values["damaged_mse"]
    if getattr(trainer, "mode", None) is not None and trainer.mode.id == "adversarial":
        values.update(gan_scores(trainer))
    if linears and hasattr(trainer.model, linears[0]):
        weight = getattr(trainer.model, linears[0]).weight.detach()
        values["distinct_rows"] = int(len(torch.unique(weight, dim=0)))
    if trainer.dataset.task == "classification" and recorder.epochs and not trainer.dataset.named:
        x, y = trainer.x[trainer.train_idx], trainer.y[trainer.train_idx]
        scores = trainer.predict(x)
        values["train_accuracy_all"] = float((scores.argmax(-1) == y.cpu()).float().mean())
        if values.get("val_accuracy") is not None:
            values["train_val_gap"] = values["train_accuracy_all"] - values["val_accuracy"]
        losses = [e.val_loss for e in recorder.epochs if e.val_loss is not None]
        if losses:
            values["val_loss_rise"] = losses[-1] / max(min(losses), 1e-12)
    return values


#: Generated samples the GAN presets are scored on (from one seeded batch of noise).
GAN_SAMPLES = 2500
#: A mode of the ring counts as covered with at least this share of the samples near it; a
#: sample near a mode (high quality) lies within this many of the ring's standard deviations.
MODE_SHARE = 0.01
NEAR_STDS = 3.0
#: A generated digit is recognised when the classifier gives one class this probability.
CONFIDENT = 0.9


def gan_scores(trainer) -> dict:
    """What a trained GAN's generator makes, scored against the real data: for the ring of
    Gaussians the modes covered and the share of samples near a mode; for digits the share a
    classifier trained on the real digits recognises confidently, and how many classes those
    cover (the real validation digits' share is printed beside it)."""
    import torch

    game = next(c for c in trainer.callbacks if type(c).__name__ == "_Game")
    noise = torch.randn((GAN_SAMPLES, *game.parts.noise_shape),
                        generator=torch.Generator().manual_seed(12345))
    generator = game.parts.generator
    generator.eval()
    with torch.no_grad():
        made = torch.cat([generator(noise[i:i + 500].to(trainer.device)).float().cpu()
                          for i in range(0, len(noise), 500)])
    notes = trainer.dataset.notes
    if "centers" in notes:
        centres, std = torch.tensor(notes["centers"]), float(notes["std"])
        distance, nearest = torch.cdist(made, centres).min(dim=1)
        near = distance <= NEAR_STDS * std
        counts = torch.bincount(nearest[near], minlength=len(centres))
        return {"modes_covered": int((counts >= MODE_SHARE * len(made)).sum()),
                "modes": len(centres), "high_quality": float(near.float().mean())}
    if trainer.dataset.name == "digits":
        return _digit_scores(trainer, made)
    return {}


def _digit_scores(trainer, made) -> dict:
    """A logistic-regression classifier trained on the real training digits judges the fakes."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    from runtime.data import load_dataset

    real = load_dataset(trainer.config.dataset, seed=trainer.config["seed"])  # with labels
    train, val = trainer.train_idx.cpu(), trainer.val_idx.cpu()
    x, y = real.x.flatten(1).numpy(), real.y.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier = LogisticRegression(C=1.0, max_iter=2000).fit(x[train], y[train])
    real_conf = classifier.predict_proba(x[val]).max(axis=1)
    probs = classifier.predict_proba(made.flatten(1).numpy())
    confident = probs.max(axis=1) >= CONFIDENT
    classes = probs.argmax(axis=1)[confident]
    counts = [int((classes == c).sum()) for c in range(probs.shape[1])]
    return {"recognised": float(confident.mean()),
            "classes_seen": int(sum(1 for n in counts if n >= MODE_SHARE * len(made))),
            "real_recognised": float((real_conf >= CONFIDENT).mean()),
            "classifier_val_accuracy": float(classifier.score(x[val], y[val]))}


def _monitor_stats(samples: list[dict], linears: list[str], types: dict[str, str]) -> dict:
    """The lessons' statistics from the `nodes` of the run's monitor events, in order."""
    out: dict = {}
    if not samples:
        return out
    first, last = (linears[0], linears[-1]) if len(linears) > 1 else (None, None)
    ratios = [m[first]["grad_norm"] / m[last]["grad_norm"] for m in samples
              if first and m.get(first, {}).get("grad_norm") is not None
              and m.get(last, {}).get("grad_norm")]
    if ratios:
        out["grad_ratio"] = statistics.median(ratios)
    norms = [math.sqrt(sum(v["grad_norm"] ** 2 for v in m.values()
                           if v.get("grad_norm") is not None)) for m in samples]
    out["peak_grad_norm"] = max(norms)
    acts = [n for n, t in types.items() if t in ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU")]
    dead = [samples[-1][n]["dead_fraction"] for n in acts if n in samples[-1]]
    if dead:
        out["dead_fraction"] = sum(dead) / len(dead)
    return out


# --- the parent: one child process per preset, then the tables ----------------------------------
def run_child(name: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True,
                          text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(CHILD_MARK)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": " | ".join(tail) or f"exit code {proc.returncode}", "wall_s": wall}
    values = json.loads(lines[-1][len(CHILD_MARK):])
    values["wall_s"] = wall
    return values


def add_gaps(results: dict[str, dict]) -> None:
    """`gap_vs_baseline` for each preset whose baseline ran too."""
    for name, values in results.items():
        base = TARGETS[name].baseline
        metric = TARGETS[name].checks[0].metric
        if base in results and values.get(metric) is not None \
                and results[base].get(metric) is not None:
            values[GAP] = values[metric] - results[base][metric]


def verdict(name: str, values: dict) -> bool:
    target = TARGETS[name]
    timely = (values.get("train_s") or math.inf) < TIME_LIMIT_S
    return timely and all(check.passed(values) for check in target.checks)


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.1e}"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def print_tables(results: dict[str, dict]) -> None:
    rows = [("preset", "metric", "reached", "target", "result", "epochs", "train s", "wall s",
             "statistic")]
    for name, values in results.items():
        target = TARGETS[name]
        head = target.checks[0]
        stat = f"{target.stat} {fmt(values.get(target.stat))}" if target.stat else ""
        others = [f"{c.metric} {fmt(values.get(c.metric))} ({c.op} {c.value:g})"
                  for c in target.checks[1:] if c.metric != target.stat]
        if target.stat in [c.metric for c in target.checks[1:]]:
            check = next(c for c in target.checks[1:] if c.metric == target.stat)
            stat += f" ({check.op} {check.value:g})"
        rows.append((name, head.metric, fmt(values.get(head.metric)), f"{head.op} {head.value:g}",
                     "PASS" if verdict(name, values) else "FAIL", fmt(values.get("epochs")),
                     _seconds(values.get("train_s")), _seconds(values.get("wall_s")),
                     "; ".join([s for s in [stat, *others] if s])))
    _print_rows(rows)
    pairs = [(name, TARGETS[name].fix) for name in results if TARGETS[name].fix in results]
    if pairs:
        print()
        rows = [("lesson", "statistic", "broken", "fixed", "broken metric", "fixed metric")]
        for broken, fixed in pairs:
            stat = TARGETS[broken].stat
            b, f = results[broken], results[fixed]
            rows.append((broken.removeprefix("lesson-"), stat, fmt(b.get(stat)), fmt(f.get(stat)),
                         _headline(broken, b), _headline(fixed, f)))
            for key in TARGETS[broken].extra:
                rows.append(("", key, fmt(b.get(key)), fmt(f.get(key)), "", ""))
        _print_rows(rows)
    compared = [name for name in results if TARGETS[name].baseline in results]
    if compared:
        print()
        rows = [("preset against its baseline", "metric", "reached", "baseline", "its value",
                 "gap")]
        for name in compared:
            base, metric = TARGETS[name].baseline, TARGETS[name].checks[0].metric
            rows.append((name, metric, fmt(results[name].get(metric)), base,
                         fmt(results[base].get(metric)), fmt(results[name].get(GAP))))
        _print_rows(rows)
    for name, values in results.items():
        if values.get("error"):
            print(f"\n{name}: {values['error']}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _headline(name: str, values: dict) -> str:
    check = TARGETS[name].checks[0]
    return f"{check.metric} {fmt(values.get(check.metric))}"


def _print_rows(rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="preset file names without .json")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(CHILD_MARK + json.dumps(train_one(args.child)), flush=True)
        return 0
    on_disk = sorted(p.stem for p in PRESETS.glob("*.json"))
    missing = sorted(set(on_disk) - set(TARGETS))
    if missing:
        print(f"presets without a target in TARGETS: {', '.join(missing)}")
    names = args.presets or [n for n in TARGETS if n in on_disk]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown preset(s): {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    results = {}
    with tempfile.TemporaryDirectory() as data:
        os.environ["LAYERLAB_DATA"] = data  # the children's: a fresh pre-training, then reused
        for name in names:
            print(f"training {name} ...", file=sys.stderr, flush=True)
            results[name] = run_child(name)
    add_gaps(results)
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    failed = [n for n in names if not verdict(n, results[n])]
    print(f"\n{len(names) - len(failed)}/{len(names)} presets reached their targets"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
