"""Benchmark: does a long training run with monitoring keep its memory flat?

Trains a small MLP (2-32-32-2, built with the `GraphModel` API) on `spirals` with the Trainer and
monitoring sampled every 10 steps (`"monitoring": {"every": 10}`, far more often than "auto"
would, to stress it), with the events consumed as the app consumes them (every event, step events
included, serialised to JSON by the shipped `JsonLinesWriter`, here into os.devnull). A probe
callback reads the resident set size (VmRSS from /proc/self/status; `resource` ru_maxrss where
/proc is missing) in `on_batch_end` every 500 steps, after `gc.collect()`, along with Python's
allocated block count, the forward hooks left on the model's modules and the trainer's history
length.

    growth = (RSS after 10,000 steps - RSS after 1,000 steps) / RSS after 1,000 steps
    target: |growth| <= 5 %

Step 1,000 is the baseline, not step 0: by then the allocator, torch's kernels and the optimiser
state have reached their working size. Each run is a fresh child process (so one run's memory does
not carry into the next): the monitored run, then a control with monitoring off (`--no-control`
skips it), which tells growth caused by monitoring from growth of the training loop itself. The
slope of RSS over steps 1,000..10,000 (least squares) is printed as bytes per 1,000 steps and per
monitoring sample. This is a report, not a test: it always exits 0.

Usage: python benchmarks/training_memory.py [--quick] [--steps N] [--no-control]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TARGET = 0.05
BASE_STEP = 1000
PROBE_EVERY = 500
STEPS_PER_EPOCH = 100  # 1,600 training samples / batch 16
MONITOR_EVERY = 10


def rss_bytes() -> int:
    """Resident set size now (VmRSS); the peak from `resource` where /proc is not available."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def design(steps: int, monitoring):
    from runtime.graph import GraphModel

    m = GraphModel(name="Memory spiral MLP")
    m.add_node("Input", {"shape": [2]}, node_id="x")
    m.add_node("Linear", {"out_features": 32}, node_id="fc1")
    m.add_node("ReLU", node_id="relu1")
    m.add_node("Linear", {"out_features": 32}, node_id="fc2")
    m.add_node("ReLU", node_id="relu2")
    m.add_node("Linear", {"out_features": 2}, node_id="fc3")
    m.add_node("Output", node_id="out")
    ids = list(m.nodes)
    for src, dst in zip(ids, ids[1:]):
        m.connect(src, dst)
    m.training = {"dataset": {"name": "spirals", "params": {"n_samples": 2000},
                              "validation_split": 0.2},
                  "batch_size": 16, "epochs": -(-steps // STEPS_PER_EPOCH), "seed": 0,
                  "device": "cpu", "optimizer": {"name": "adam", "lr": 0.003},
                  "monitoring": {"every": monitoring}}
    return m


def child(monitoring, steps: int) -> None:
    """One run in this (fresh) process; prints one JSON line per probe and a summary line."""
    from runtime.training import Callback, JsonLinesWriter, Trainer
    from runtime.training.events import Monitor

    class Probe(Callback):
        def __init__(self):
            self.samples = 0
            self.start = time.perf_counter()

        def on_event(self, trainer, event):
            if isinstance(event, Monitor):
                self.samples += 1

        def on_batch_end(self, trainer, step):
            if step % PROBE_EVERY and step != 1:
                return
            gc.collect()
            hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks)
                        + len(m._backward_hooks) for m in trainer.model.modules())
            print(json.dumps({"step": step, "rss": rss_bytes(), "blocks": sys.getallocatedblocks(),
                              "hooks": hooks, "history": len(trainer.history),
                              "samples": self.samples, "gc_objects": len(gc.get_objects()),
                              "elapsed_s": time.perf_counter() - self.start}), flush=True)

    with open(os.devnull, "w") as sink:
        trainer = Trainer(design(steps, monitoring),
                          callbacks=[JsonLinesWriter(sink, include_steps=True), Probe()])
        end = trainer.fit()
    print(json.dumps({"end": end.status, "steps": end.steps, "peak": peak_rss_bytes()}),
          flush=True)


def run_child(monitoring, steps: int) -> tuple[list[dict], dict]:
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(monitoring),
                           "--steps", str(steps)], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"child run failed:\n{proc.stderr[-4000:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return [r for r in lines if "step" in r and "rss" in r], lines[-1]


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def mib(n: float) -> str:
    return f"{n / 2**20:.2f} MiB"


def report(label: str, probes: list[dict], end: dict, last: int) -> float | None:
    by_step = {p["step"]: p for p in probes}
    print(f"\n[{label}]  ({end['steps']} steps, status {end['end']})")
    print(f"  {'step':>6} {'RSS':>11} {'py blocks':>10} {'gc objects':>10} {'hooks':>5} "
          f"{'history':>7} {'samples':>7} {'elapsed':>8}")
    for p in probes:
        if p["step"] in (1, BASE_STEP, last) or p["step"] % 1000 == 0:
            print(f"  {p['step']:>6} {mib(p['rss']):>11} {p['blocks']:>10} {p['gc_objects']:>10} "
                  f"{p['hooks']:>5} {p['history']:>7} {p['samples']:>7} {p['elapsed_s']:>7.1f}s")
    if BASE_STEP not in by_step or last not in by_step:
        print("  (the run ended before the probe steps)")
        return None
    base, final = by_step[BASE_STEP], by_step[last]
    growth = (final["rss"] - base["rss"]) / base["rss"]
    tail = [(p["step"], p["rss"]) for p in probes if BASE_STEP <= p["step"] <= last]
    per_k = slope(tail) * 1000
    samples = final["samples"] - base["samples"]
    print(f"  RSS step {BASE_STEP}: {mib(base['rss'])}, step {last}: {mib(final['rss'])}: "
          f"{growth * 100:+.2f}% ({(final['rss'] - base['rss']) / 1024:+.0f} KiB); "
          f"peak (VmHWM) {mib(end['peak']) if end.get('peak') else 'n/a'}")
    print(f"  slope over steps {BASE_STEP}..{last}: {per_k / 1024:+.1f} KiB per 1,000 steps"
          + (f", {slope(tail) * (last - BASE_STEP) / samples:+.0f} bytes per monitoring sample "
             f"({samples} samples)" if samples else ""))
    print(f"  Python blocks {base['blocks']} -> {final['blocks']} "
          f"({final['blocks'] - base['blocks']:+d}); gc objects {base['gc_objects']} -> "
          f"{final['gc_objects']} ({final['gc_objects'] - base['gc_objects']:+d}); hooks left on "
          f"modules at the probes: max {max(p['hooks'] for p in probes)}")
    return growth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 3,000 steps instead of 10,000")
    parser.add_argument("--steps", type=int, default=None, help="steps of the long run "
                        "(default 10,000, quick 3,000); RSS is compared with step 1,000")
    parser.add_argument("--no-control", action="store_true",
                        help="skip the control run with monitoring off")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = args.steps or (3000 if args.quick else 10_000)
    steps = max(steps, BASE_STEP + PROBE_EVERY)
    steps -= steps % PROBE_EVERY
    if args.child is not None:
        child(int(args.child) if args.child.isdigit() else args.child, steps)
        return 0
    import torch

    print(f"training_memory: torch {torch.__version__}, {os.cpu_count()} CPUs; MLP 2-32-32-2 on "
          f"spirals (1,600 training samples, batch 16, {STEPS_PER_EPOCH} steps per epoch), "
          f"{steps} steps, monitoring every {MONITOR_EVERY} steps, events serialised by "
          f"JsonLinesWriter into os.devnull{' (QUICK smoke run)' if args.quick else ''}")
    print(f"RSS = VmRSS after gc.collect() in on_batch_end; target |RSS({steps}) / "
          f"RSS({BASE_STEP}) - 1| <= {TARGET:.0%}; each run in a fresh child process")
    probes, end = run_child(MONITOR_EVERY, steps)
    growth = report(f"monitoring every {MONITOR_EVERY} steps", probes, end, steps)
    if not args.no_control:
        c_probes, c_end = run_child("off", steps)
        c_growth = report("control: monitoring off", c_probes, c_end, steps)
        if growth is not None and c_growth is not None:
            print(f"\n  growth with monitoring {growth * 100:+.2f}% vs without "
                  f"{c_growth * 100:+.2f}%: monitoring adds {(growth - c_growth) * 100:+.2f} "
                  "points")
    print("\nsummary")
    if growth is None:
        print(f"FAIL: RSS after {steps} vs {BASE_STEP} steps with monitoring every "
              f"{MONITOR_EVERY}: the run did not reach the probe steps")
    else:
        base = next(p["rss"] for p in probes if p["step"] == BASE_STEP)
        print(f"(the {TARGET:.0%} target is {mib(base * TARGET)} of a {mib(base)} process, most of "
              f"it torch's libraries: a leak of {base * TARGET / (steps // MONITOR_EVERY):.0f} "
              "bytes per monitoring sample would still pass; see the slope above)")
        verdict = "PASS" if abs(growth) <= TARGET else "FAIL"
        print(f"{verdict}: RSS after {steps} vs {BASE_STEP} steps with monitoring every "
              f"{MONITOR_EVERY}: {growth * 100:+.2f}% (target within +-{TARGET:.0%})")
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
