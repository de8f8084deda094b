"""GPU check: every preset trains briefly on CUDA in fp32, fp16 and bf16 and is compared with the CPU.

For each preset (presets/*.json) the script trains through the public `Trainer` API, seeded, with
the preset's own training block and these changes: no validation split (the check is about the
training step; validation and the end-of-run report would only add time), no checkpoints, no
start weights (a preset that starts from another preset's weights would pre-train it first) and a
stop after `--steps` steps (several epochs where an epoch is shorter). Runs per preset:

  cpu        fp32 on the CPU, monitoring off: the reference losses and the CPU throughput
  cpu, rng   the same with the global random stream re-seeded after set-up (--steps-compared
             steps only): when its losses differ, the training step draws random numbers on the
             device (Dropout, an RBM's Gibbs sampling), which CUDA draws differently from the
             CPU, so that preset is compared statistically (below)
  fp32       CUDA, monitoring off;  fp32+mon: CUDA with a monitoring sample every 10 steps and
             the training doctor on (the monitoring overhead is its step time over fp32's)
  fp16       CUDA, `mixed_precision: true` (autocast float16 with the trainer's GradScaler)
  bf16       the same with `mixed_precision_dtype: bfloat16` (no scaler)

Checks (any failure makes the exit status 1):

  losses     the first --steps-compared steps' losses against the CPU's, each as
             |device - cpu| / max(|cpu|, 5 % of the first step's |cpu|). Tolerance: fp32 2e-3
             (cuDNN runs fp32 convolutions in TF32, 10-bit mantissa, by default; summation order
             differs), fp16 1e-2 (10-bit mantissa, fp32 accumulation), bf16 5e-2 (7-bit
             mantissa: ~0.4 % per rounding, compounded through the layers). A step whose update
             the GradScaler skipped (fp16 overflow) ends the comparison there: the CPU did update.
             A preset whose step draws device random numbers gets, on top, 4x the largest gap
             between the two CPU runs (the spread a different random stream alone gives).
  crash      any exception in any run.
  memory     peak GPU memory of the fp32 training steps (torch.cuda.max_memory_allocated, reset
             at each epoch start, minus the dataset the trainer keeps on the device, which the
             estimate leaves out) against `runtime.training.memory.run_bytes` for the run's batch:
             a failure when the peak exceeds 3x the estimate + 128 MiB (cuBLAS/cuDNN workspaces and
             allocator rounding are outside any per-layer estimate), or, for estimates above
             128 MiB, falls below a third of it.

Data placements: a 400-image folder streamed from disk by DataLoader workers (pinned batches,
non-blocking copies) on the device, and on a GPU the spirals data kept in host memory and copied
per batch (the placement 'auto' picks when the GPU is too small for a data set), each compared
with the same data in memory on the CPU (fp32 tolerance).

Throughput is samples per second over the steps after the compared ones (warm-up, cuDNN
choices and per-step loss events), timing only the training steps (from an epoch's start or the
previous step's end to the step's end).

Without a CUDA GPU it says so and exits 0. `--device cpu` runs the same code on the CPU for
a couple of presets (the "device" runs then train on the CPU too, in fp32 and in bf16, which the
trainer autocasts on the CPU; float16 is a CUDA path), which is how its own test exercises it.

Usage: python benchmarks/gpu_check.py [--device cuda|cpu] [--presets NAME ...] [--steps N]
                                      [--steps-compared K] [--budget SECONDS]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from runtime import document  # noqa: E402
from runtime.errors import TrainingError  # noqa: E402
from runtime.shapes import infer  # noqa: E402
from runtime.training import trainer as trainer_module  # noqa: E402
from runtime.training.callbacks import Callback  # noqa: E402
from runtime.training.events import Step  # noqa: E402
from runtime.training.memory import run_bytes  # noqa: E402
from runtime.training.trainer import Trainer  # noqa: E402

PRESETS = Path(__file__).resolve().parents[1] / "presets"
#: Presets of the --device cpu mode when none are named: small and quick on two cores.
CPU_PRESETS = ("mlp-spirals", "lesson-perceptron-xor-fixed")
PRECISIONS = {"fp32": None, "fp16": "float16", "bf16": "bfloat16"}  # mixed_precision_dtype
RTOL = {"fp32": 2e-3, "fp16": 1e-2, "bf16": 5e-2}
STOCHASTIC_SPREAD = 4.0  # x the largest gap between two CPU runs with different random streams
LOSS_FLOOR = 0.05  # of the first step's loss: the scale for losses that fall close to 0
DIVERGE = 10.0  # a reference loss above this many times its first: the run is diverging
MEMORY_FACTOR = 3.0
MEMORY_ALLOWANCE = 128 * 2**20
MONITOR_EVERY = 10
MiB = 2**20


@dataclass
class Run:
    """What one training run showed."""

    losses: dict[int, float] = field(default_factory=dict)  # step -> loss, the compared steps
    skipped_at: int | None = None  # first step whose update the GradScaler skipped
    seconds: float = 0.0  # training-step time after the compared steps
    samples: int = 0
    peak: int | None = None  # bytes, CUDA only
    data_bytes: int = 0  # the dataset (and other tensors) on the device before the first step
    batch: int = 0
    nan_at: int | None = None  # the step whose loss or gradients became NaN/Inf (run ended)
    error: str | None = None  # any other failure

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("nan")


class Probe(Callback):
    """Records per-step losses of the first steps, step times after them and peak memory; stops
    the run after `steps` steps."""

    def __init__(self, run: Run, steps: int, compared: int, reseed: int | None = None):
        self.run, self.steps, self.compared = run, steps, compared
        self.reseed = reseed
        self.mark = 0.0
        self.cuda = False
        self.scale: float | None = None

    def on_fit_start(self, trainer: Trainer, event) -> None:
        self.cuda = trainer.device.type == "cuda"
        self.run.batch = trainer.batch_size
        if self.reseed is not None:  # after the seeded initialisation: only later draws change
            torch.manual_seed(self.reseed)
        if self.cuda:
            torch.cuda.synchronize(trainer.device)
            weights = sum(t.numel() * t.element_size() for t in
                          [*trainer.model.parameters(), *trainer.model.buffers()])
            self.run.data_bytes = torch.cuda.memory_allocated(trainer.device) - weights
        if trainer.scaler is not None:
            self.scale = trainer.scaler.get_scale()
        # a step event per step while the losses are compared (the trainer sends one per 50 ms)
        trainer_module.STEP_EVENT_INTERVAL = 0.0

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(trainer.device)
        self.mark = time.perf_counter()

    def on_batch_end(self, trainer: Trainer, step: int) -> None:
        now = time.perf_counter()
        if step > self.compared:
            self.run.seconds += now - self.mark
            self.run.samples += trainer.batch_size
        if self.cuda:
            peak = torch.cuda.max_memory_allocated(trainer.device)
            self.run.peak = max(self.run.peak or 0, peak)
        if step <= self.compared and trainer.scaler is not None:
            scale = trainer.scaler.get_scale()
            if scale < self.scale and self.run.skipped_at is None:
                self.run.skipped_at = step  # inf/NaN gradients: this update was skipped
            self.scale = scale
        if step == self.compared:
            trainer_module.STEP_EVENT_INTERVAL = STEP_INTERVAL
        if step >= self.steps:
            trainer.request_stop()
        self.mark = time.perf_counter()

    def on_event(self, trainer: Trainer, event) -> None:
        if isinstance(event, Step) and event.step <= self.compared and event.loss is not None:
            self.run.losses[event.step] = event.loss


STEP_INTERVAL = getattr(trainer_module, "STEP_EVENT_INTERVAL", None)


def training_block(design, device: str, precision: str, monitoring: bool) -> dict:
    block = design.training
    block.update(device=device, epochs=100_000, mixed_precision=precision != "fp32",
                 mixed_precision_dtype=PRECISIONS[precision] or "float16",
                 init_from=None, init_skip=[])
    block["dataset"] = dict(block.get("dataset") or {}, validation_split=0.0)
    block["monitoring"] = dict(block.get("monitoring") or {},
                               every=MONITOR_EVERY if monitoring else "off", doctor=monitoring)
    block.pop("early_stopping", None)  # nothing to monitor without a validation split
    return block


def train(path: Path, device: str, precision: str, steps: int, compared: int,
          monitoring: bool = False, reseed: int | None = None, dataset=None) -> tuple[Run, object]:
    """One run; returns what it showed and the dataset it trained on (for the next run)."""
    design = document.load(path)
    run = Run()
    trainer = None
    try:
        trainer = Trainer(design, training_block(design, device, precision, monitoring),
                          callbacks=[Probe(run, steps, compared, reseed)],
                          base_dir=path.parent, dataset=dataset)
        trainer.fit()
    except TrainingError as err:
        if err.kind == "nan":  # a verdict on the run, compared with the CPU's below
            run.nan_at = trainer.step
        else:
            run.error = str(err)
    except Exception as err:  # a crash is a finding: report it in the table
        run.error = f"{type(err).__name__}: {err}"
    finally:
        trainer_module.STEP_EVENT_INTERVAL = STEP_INTERVAL
    return run, trainer.dataset if trainer is not None else dataset


def stable_steps(reference: Run, compared: int) -> int:
    """The compared steps before the reference's loss leaves DIVERGE x its first value: past
    that point training is chaotic and any rounding difference grows without bound."""
    first = abs(reference.losses.get(1, math.inf))
    for step in range(2, compared + 1):
        loss = reference.losses.get(step, math.inf)
        if not abs(loss) <= DIVERGE * first:
            return step - 1
    return compared


def compared_steps(run: Run, reference: Run, compared: int) -> int:
    """How many first steps are comparable: while the reference is stable, up to a step whose
    update the GradScaler skipped (its loss is still comparable, the next are not) and before
    a NaN in either run."""
    last = stable_steps(reference, compared)
    if run.skipped_at is not None:
        last = min(last, run.skipped_at)
    for nan in (run.nan_at, reference.nan_at):
        if nan is not None:
            last = min(last, nan - 1)
    return last


def loss_error(run: Run, reference: Run, compared: int) -> float:
    """Largest relative gap of `run`'s losses to the reference's over the comparable steps."""
    first = abs(reference.losses.get(1, 0.0))
    worst = 0.0
    for step in range(1, compared_steps(run, reference, compared) + 1):
        if step not in run.losses or step not in reference.losses:
            return math.inf  # a step without a loss: it did not run
        scale = max(abs(reference.losses[step]), LOSS_FLOOR * first, 1e-12)
        worst = max(worst, abs(run.losses[step] - reference.losses[step]) / scale)
    return worst


@dataclass
class Row:
    name: str
    cells: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def check_preset(path: Path, device: str, steps: int, compared: int) -> Row:
    row = Row(path.stem)
    # fp16 autocast on the CPU runs oneDNN kernels that lack some layers (LSTM): a CUDA path only
    precisions = list(PRECISIONS) if device == "cuda" else ["fp32", "bf16"]
    cpu, dataset = train(path, "cpu", "fp32", steps, compared)
    runs = {"cpu": cpu}
    if cpu.error is None:
        runs["cpu, rng"], _ = train(path, "cpu", "fp32", compared, compared, reseed=12345,
                                    dataset=dataset)
        for precision in precisions:
            runs[precision], _ = train(path, device, precision, steps, compared,
                                       dataset=dataset)
        runs["fp32+mon"], _ = train(path, device, "fp32", steps, compared, monitoring=True,
                                    dataset=dataset)
    for label, run in runs.items():
        if run.error:
            row.failures.append(f"{label} crashed: {run.error}")
    if row.failures:
        return row
    spread = loss_error(runs["cpu, rng"], cpu, compared)
    stochastic = spread > 0
    # a lesson built to explode: its losses are compared while they stay stable, and a NaN on
    # the device is what the CPU run heads for too
    diverging = stable_steps(cpu, compared) < compared or cpu.nan_at is not None
    row.cells["cpu samples/s"] = f"{cpu.samples_per_s:,.0f}"
    for precision in precisions:
        run = runs[precision]
        row.cells[f"{precision} x cpu"] = f"{run.samples_per_s / cpu.samples_per_s:.2f}"
        error = loss_error(run, cpu, compared)
        tolerance = RTOL[precision] + (STOCHASTIC_SPREAD * spread if stochastic else 0.0)
        notes = [f"n{compared_steps(run, cpu, compared)}"]
        if run.skipped_at:
            notes.append(f"skip@{run.skipped_at}")
        if run.nan_at:
            notes.append(f"nan@{run.nan_at}")
        row.cells[f"{precision} loss err"] = f"{error:.1e} {' '.join(notes)}"
        if not error <= tolerance:
            row.failures.append(f"{precision} losses differ from the CPU's by {error:.2e} "
                                f"(tolerance {tolerance:.2e}): "
                                f"{_losses(run, compared)} vs cpu {_losses(cpu, compared)}")
        if run.nan_at is not None and not diverging:
            row.failures.append(f"{precision}: the loss became NaN/Inf at step {run.nan_at} on "
                                f"{device} while the CPU's stayed finite and stable")
    off, on = runs["fp32"], runs["fp32+mon"]
    row.cells["monitor"] = f"{(off.samples_per_s / on.samples_per_s - 1) * 100:+.0f}%"
    row.cells["rng"] = f"yes ({spread:.0e})" if stochastic else "no"
    if diverging:
        row.cells["rng"] += " diverges"
    estimate = run_bytes(infer(document.load(path)), off.batch)
    if off.peak is None:
        row.cells["peak / estimate"] = f"n/a / {estimate / MiB:.1f} MiB"
    else:
        measured = off.peak - off.data_bytes
        row.cells["peak / estimate"] = (f"{measured / MiB:.1f} / {estimate / MiB:.1f} MiB "
                                        f"(+data {off.data_bytes / MiB:.1f})")
        if measured > MEMORY_FACTOR * estimate + MEMORY_ALLOWANCE:
            row.failures.append(f"peak GPU memory {measured / MiB:.1f} MiB is over "
                                f"{MEMORY_FACTOR:g}x the estimate {estimate / MiB:.1f} MiB + "
                                f"{MEMORY_ALLOWANCE // MiB} MiB")
        elif estimate > MEMORY_ALLOWANCE and measured < estimate / MEMORY_FACTOR:
            row.failures.append(f"peak GPU memory {measured / MiB:.1f} MiB is under a "
                                f"{MEMORY_FACTOR:g}th of the estimate {estimate / MiB:.1f} MiB")
    return row


def check_placements(device: str, steps: int, compared: int, folder: Path) -> Row:
    """The data paths off the device: an image folder streamed by DataLoader workers (pinned
    batches, non-blocking copies) and, on a GPU, a data set kept in host memory and copied per
    batch (what 'auto' picks when the GPU is too small for it), each against the same data held
    in memory on the CPU; fp32 losses within fp32's tolerance."""
    from benchmarks import streaming
    from runtime.training import data_feed

    row = Row("data placements")
    streaming.make_folder(folder / "images", 400)
    paths = {}
    for loading in ("memory", "stream"):
        design = streaming.cnn(folder / "images", loading, 2, 1)
        paths[loading] = folder / f"{loading}.json"
        document.save(design, paths[loading])
    reference, _ = train(paths["memory"], "cpu", "fp32", steps, compared)
    runs = {"stream": train(paths["stream"], device, "fp32", steps, compared)[0]}
    if device == "cuda":
        spirals = PRESETS / "mlp-spirals.json"
        runs["host reference"] = train(spirals, "cpu", "fp32", steps, compared)[0]
        share = data_feed.MEMORY_SHARE
        data_feed.MEMORY_SHARE = 0.0  # no room on the GPU: 'auto' keeps it in host memory
        try:
            runs["host"] = train(spirals, device, "fp32", steps, compared)[0]
        finally:
            data_feed.MEMORY_SHARE = share
    for label, run in [("memory on cpu", reference), *runs.items()]:
        if run.error:
            row.failures.append(f"{label} crashed: {run.error}")
    if row.failures:
        return row
    checks = [("stream", runs["stream"], reference)]
    if "host" in runs:
        checks.append(("host", runs["host"], runs["host reference"]))
    for label, run, ref in checks:
        error = loss_error(run, ref, compared)
        row.cells[label] = (f"{error:.1e} loss err, {run.samples_per_s:,.0f} samples/s "
                            f"({run.samples_per_s / ref.samples_per_s:.2f}x cpu in memory)")
        if not error <= RTOL["fp32"]:
            row.failures.append(f"{label}: losses differ from the CPU's in memory by {error:.2e}"
                                f" (tolerance {RTOL['fp32']:.0e}): {_losses(run, compared)} vs "
                                f"{_losses(ref, compared)}")
    return row


def _losses(run: Run, compared: int) -> str:
    return "[" + ", ".join(f"{run.losses.get(s, float('nan')):.5g}"
                           for s in range(1, compared + 1)) + "]"


COLUMNS = ("cpu samples/s", "fp32 x cpu", "fp16 x cpu", "bf16 x cpu", "monitor",
           "fp32 loss err", "fp16 loss err", "bf16 loss err", "rng", "peak / estimate")



def print_table(rows: list[Row]) -> None:
    width = {c: max(len(c), *(len(r.cells.get(c, "")) for r in rows)) for c in COLUMNS}
    name_width = max(len("preset"), *(len(r.name) for r in rows))
    print(f"{'preset':<{name_width}}  " + "  ".join(f"{c:>{width[c]}}" for c in COLUMNS)
          + "  check")
    for r in rows:
        print(f"{r.name:<{name_width}}  " + "  ".join(f"{r.cells.get(c, '-'):>{width[c]}}"
                                                      for c in COLUMNS)
              + f"  {'FAIL' if r.failures else 'ok'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="where the checked runs train (cpu: test this script without a GPU)")
    parser.add_argument("--presets", nargs="*", help="preset names (default: all; --device cpu: "
                                                     f"{', '.join(CPU_PRESETS)})")
    parser.add_argument("--steps", type=int, default=35, help="steps per run (default 35)")
    parser.add_argument("--steps-compared", type=int, default=5,
                        help="first steps whose losses are compared (default 5)")
    parser.add_argument("--budget", type=float, default=270.0,
                        help="seconds after which the remaining presets are left out (default "
                             "270: the whole check stays under 5 minutes)")
    args = parser.parse_args(argv)
    if STEP_INTERVAL is None:
        print("runtime.training.trainer.STEP_EVENT_INTERVAL is gone: this script reads each "
              "step's loss from step events and needs another way to get them")
        return 1
    if args.steps <= args.steps_compared:
        parser.error("--steps must be above --steps-compared (the steps after them are timed)")
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"no CUDA GPU here (torch {torch.__version__}, torch.cuda.is_available() is "
              "False): nothing checked. `--device cpu` runs the same code on the CPU.")
        return 0
    names = args.presets or (CPU_PRESETS if args.device == "cpu" else
                             [p.stem for p in sorted(PRESETS.glob("*.json"))])
    paths = [PRESETS / f"{name}.json" for name in names]
    missing = [p.stem for p in paths if not p.exists()]
    if missing:
        parser.error(f"no preset {', '.join(missing)} in {PRESETS}")
    where = (torch.cuda.get_device_name() if args.device == "cuda"
             else "the CPU (--device cpu: testing the script)")
    print(f"gpu_check: {len(paths)} presets on {where} against the CPU, torch {torch.__version__}, "
          f"{args.steps} steps per run, losses of the first {args.steps_compared} compared; "
          f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}, "
          f"matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}")
    started = time.perf_counter()
    rows: list[Row] = []
    left_out: list[str] = []
    for path in paths:
        if time.perf_counter() - started > args.budget:
            left_out.append(path.stem)
            continue
        t0 = time.perf_counter()
        rows.append(check_preset(path, args.device, args.steps, args.steps_compared))
        print(f"  {path.stem}: {time.perf_counter() - t0:.1f} s"
              f"{'  FAIL' if rows[-1].failures else ''}", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        placements = check_placements(args.device, args.steps, args.steps_compared,
                                      Path(scratch))
    print(f"  data placements: {time.perf_counter() - t0:.1f} s"
          f"{'  FAIL' if placements.failures else ''}", flush=True)
    print()
    print_table(rows)
    for label in ("stream", "host"):
        print(f"data {label}: {placements.cells.get(label, 'n/a (a GPU-only path)')}")
    failed = [r for r in rows if r.failures]
    print(f"\nthroughput: samples/s on {args.device} / on the CPU (fp32, monitoring off); "
          f"monitor: step time with a sample every {MONITOR_EVERY} steps and the doctor, over "
          "without; loss err: largest relative gap of the first steps' losses to the CPU's "
          f"(tolerance fp32 {RTOL['fp32']:g}, fp16 {RTOL['fp16']:g}, bf16 {RTOL['bf16']:g}, "
          f"plus {STOCHASTIC_SPREAD:g}x the CPU-vs-CPU gap where rng is yes); peak: fp32 "
          "training steps minus the dataset kept on the device, against run_bytes")
    for r in [*failed, placements]:
        for failure in r.failures:
            print(f"FAIL {r.name}: {failure}")
    if left_out:
        print(f"NOT RUN (over the {args.budget:.0f} s budget): {', '.join(left_out)}")
    print(f"{len(rows) - len(failed)} of {len(rows)} presets passed, data placements "
          f"{'FAILED' if placements.failures else 'passed'}, in "
          f"{time.perf_counter() - started:.0f} s")
    return 1 if failed or placements.failures else 0


if __name__ == "__main__":
    sys.exit(main())
