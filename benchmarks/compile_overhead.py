"""Benchmark: does a compiled design train as fast as the same network written by hand?

For three designs (an MLP, a LeNet-like CNN and an LSTM classifier) this builds the design with the
`GraphModel` API, compiles it with `runtime.compile.compile_model`, writes the equivalent
`nn.Module` by hand, copies the compiled weights into it (`load_state_dict`, strict) and checks that
both compute the same outputs. It then times one training step (forward, cross-entropy loss,
backward) per batch for both, interleaved in alternating order (A B, B A, ...) so that load from
other processes and clock drift hit both alike, and reports medians.

    ratio = median over back-to-back pairs of compiled / hand-written     target: <= 1.03 each

Each sample records both wall-clock and process CPU time. The verdict uses CPU time by default
(`--clock wall` to change): with torch on one thread, CPU time is the work the step does and leaves
out the time other processes hold the cores, which on a shared 2-core machine swings wall-clock
samples by +-50%. The verdict uses the median of the per-pair ratios (each pair measured back to
back): load that comes in phases moves the ratio of the two medians by several percent between
runs (the A/A control shows it), while the paired ratio stays within about 1 % of the truth. The
ratio of medians is printed too. This is a report, not a test: it always exits 0.

Usage: python benchmarks/compile_overhead.py [--quick] [--threads N] [--pairs N] [--clock cpu|wall]
                                            [--no-control] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import re
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
ROOT += os.sep

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from runtime.compile import compile_model  # noqa: E402
from runtime.graph import GraphModel  # noqa: E402

TARGET = 1.03
CLOCKS = {"cpu": "process CPU time: excludes time other processes hold the cores, steadiest on a "
                 "shared machine",
          "wall": "wall-clock time: what a user waits, noisy when other processes run"}


# --- designs (GraphModel API) -----------------------------------------------------------------
def _chain(model: GraphModel, ids: list[str]) -> None:
    for src, dst in zip(ids, ids[1:]):
        model.connect(src, dst)


def mlp_design() -> GraphModel:
    m = GraphModel(name="Bench MLP")
    m.add_node("Input", {"shape": [784]}, node_id="x")
    m.add_node("Linear", {"out_features": 512}, node_id="fc1")
    m.add_node("ReLU", node_id="relu1")
    m.add_node("Linear", {"out_features": 256}, node_id="fc2")
    m.add_node("ReLU", node_id="relu2")
    m.add_node("Linear", {"out_features": 10}, node_id="fc3")
    m.add_node("Output", node_id="out")
    _chain(m, list(m.nodes))
    return m


def cnn_design() -> GraphModel:
    m = GraphModel(name="Bench LeNet")
    m.add_node("Input", {"shape": [1, 28, 28]}, node_id="image")
    m.add_node("Conv2d", {"out_channels": 6, "kernel_size": 5, "padding": 2}, node_id="conv1")
    m.add_node("ReLU", node_id="relu1")
    m.add_node("MaxPool2d", {"kernel_size": 2}, node_id="pool1")
    m.add_node("Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": "valid"},
               node_id="conv2")
    m.add_node("ReLU", node_id="relu2")
    m.add_node("MaxPool2d", {"kernel_size": 2}, node_id="pool2")
    m.add_node("Flatten", node_id="flat")
    m.add_node("Linear", {"out_features": 120}, node_id="fc1")
    m.add_node("ReLU", node_id="relu3")
    m.add_node("Linear", {"out_features": 84}, node_id="fc2")
    m.add_node("ReLU", node_id="relu4")
    m.add_node("Linear", {"out_features": 10}, node_id="fc3")
    m.add_node("Output", node_id="out")
    _chain(m, list(m.nodes))
    return m


def lstm_design() -> GraphModel:
    m = GraphModel(name="Bench LSTM")
    m.add_node("Input", {"shape": [50, 32]}, node_id="seq")
    m.add_node("LSTM", {"hidden_size": 128, "return_sequences": False}, node_id="lstm")
    m.add_node("Linear", {"out_features": 10}, node_id="head")
    m.add_node("Output", node_id="out")
    _chain(m, list(m.nodes))
    return m


# --- the same networks by hand (attribute names = node ids, so state_dicts match) ---------------
class HandMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(512, 256)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x)))))


class HandLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flat(x)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


class HandLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(32, 128, batch_first=True)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


@dataclass
class Case:
    name: str
    design: Callable[[], GraphModel]
    hand: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    inner: int  # training steps per timed sample (amortises timer resolution)
    inner_quick: int


CASES = [
    Case("MLP 784-512-256-10, batch 256", mlp_design, HandMLP, (256, 784), 4, 3),
    Case("CNN LeNet 1x28x28, batch 128", cnn_design, HandLeNet, (128, 1, 28, 28), 2, 2),
    Case("LSTM seq 50 x 32 -> 128 -> Linear, batch 64", lstm_design, HandLSTM, (64, 50, 32), 1, 1),
]


# --- timing -----------------------------------------------------------------------------------
def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()


def time_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int
               ) -> tuple[float, float]:
    """(wall, process CPU) seconds per training step, averaged over `n` back-to-back steps."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        train_step(model, x, y)
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def measure(compiled: nn.Module, hand: nn.Module, x: torch.Tensor, y: torch.Tensor,
            pairs: int, inner: int, warmup: int) -> tuple[list, list]:
    """Samples of (wall, cpu) per step for both models, in alternating order A B, B A, ..."""
    for _ in range(warmup):
        train_step(compiled, x, y)
        train_step(hand, x, y)
    samples_c, samples_h = [], []
    gc.collect()
    gc.disable()
    try:
        for i in range(pairs):
            if i % 2 == 0:
                samples_c.append(time_steps(compiled, x, y, inner))
                samples_h.append(time_steps(hand, x, y, inner))
            else:
                samples_h.append(time_steps(hand, x, y, inner))
                samples_c.append(time_steps(compiled, x, y, inner))
    finally:
        gc.enable()
    return samples_c, samples_h


def check_equivalent(compiled: nn.Module, hand: nn.Module, x: torch.Tensor) -> float:
    """Max |difference| of the two models' outputs and of their gradients (same weights)."""
    y = torch.zeros(x.shape[0], dtype=torch.long)
    worst = 0.0
    outs = []
    for model in (compiled, hand):
        model.zero_grad(set_to_none=True)
        out = model(x)
        F.cross_entropy(out, y).backward()
        outs.append((out.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}))
    (out_c, grads_c), (out_h, grads_h) = outs
    worst = max(worst, (out_c - out_h).abs().max().item())
    for key, grad in grads_c.items():
        worst = max(worst, (grad - grads_h[key]).abs().max().item())
    return worst


def iqr(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def summarise(times_c: list[float], times_h: list[float]) -> dict:
    med_c, med_h = statistics.median(times_c), statistics.median(times_h)
    paired = [c / h for c, h in zip(times_c, times_h)]
    return {"med_c": med_c, "med_h": med_h, "min_c": min(times_c), "min_h": min(times_h),
            "iqr_c": iqr(times_c), "iqr_h": iqr(times_h), "ratio": med_c / med_h,
            "paired": statistics.median(paired), "paired_iqr": iqr(paired)}


def call_overhead(compiled: nn.Module, hand: nn.Module, sample: torch.Tensor,
                  rounds: int, calls: int) -> tuple[float, float]:
    """Median CPU seconds of one no-grad forward on a batch of one (dispatch cost dominates)."""
    times_c, times_h = [], []
    with torch.no_grad():
        for _ in range(max(10, calls // 4)):  # warm up: a batch of one is a new shape
            compiled(sample)
            hand(sample)
        for i in range(rounds):
            for model, times in ((compiled, times_c), (hand, times_h))[:: 1 if i % 2 else -1]:
                start = time.process_time()
                for _ in range(calls):
                    model(sample)
                times.append((time.process_time() - start) / calls)
    return statistics.median(times_c), statistics.median(times_h)


def run_case(case: Case, pairs: int, warmup: int, quick: bool, control: bool) -> dict:
    torch.manual_seed(0)
    compiled = compile_model(case.design())
    hand = case.hand()
    hand.load_state_dict(compiled.state_dict(), strict=True)
    compiled.train()
    hand.train()
    x = torch.randn(case.input_shape)
    y = torch.randint(0, 10, (case.input_shape[0],))
    diff = check_equivalent(compiled, hand, x)
    inner = case.inner_quick if quick else case.inner
    samples_c, samples_h = measure(compiled, hand, x, y, pairs, inner, warmup)
    clocks = {clock: summarise([s[k] for s in samples_c], [s[k] for s in samples_h])
              for k, clock in enumerate(("wall", "cpu"))}
    result = {"name": case.name, "diff": diff, "pairs": pairs, "inner": inner, **clocks,
              "compiled": compiled, "hand": hand, "x": x, "y": y,
              "call": call_overhead(compiled, hand, x[:1], 5 if quick else 15,
                                    50 if quick else 400)}
    if control:  # A/A: the hand-written model against an identical copy = the noise floor
        twin = case.hand()
        twin.load_state_dict(hand.state_dict(), strict=True)
        twin.train()
        samples_a, samples_b = measure(twin, hand, x, y, pairs, inner, warmup)
        result["control"] = {clock: summarise([s[k] for s in samples_a],
                                              [s[k] for s in samples_b])
                             for k, clock in enumerate(("wall", "cpu"))}
    return result


def profile_case(result: dict, steps: int = 20) -> None:
    """Where the compiled model's extra time goes, next to the hand-written one (cProfile)."""
    for label in ("compiled", "hand"):
        model, x, y = result[label], result["x"], result["y"]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            train_step(model, x, y)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(14)
        print(f"    cProfile, {label}, {steps} steps (top 14 by cumulative time):")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        for line in lines[start:]:
            if line.strip():
                line = re.sub(r"\S*[/\\\\]site-packages[/\\\\]", "", line.replace(ROOT, ""))
                print("     " + line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads value (default 1: steadiest on a shared box)")
    parser.add_argument("--pairs", type=int, default=None,
                        help="timed (compiled, hand) pairs per design (default 100, quick 4)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile a design that misses the target (also on by default then)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                        help="clock the verdict uses (default cpu; both are printed)")
    parser.add_argument("--no-control", action="store_true",
                        help="skip the A/A noise-floor run (hand-written vs an identical copy; "
                             "on by default except with --quick)")
    args = parser.parse_args(argv)
    control = not (args.quick or args.no_control)

    torch.set_num_threads(args.threads)
    pairs = args.pairs or (4 if args.quick else 100)
    warmup = 2 if args.quick else 10
    print(f"compile_overhead: torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, {pairs} interleaved pairs per design, warm-up {warmup} steps"
          f"{' (QUICK smoke run: figures are rough)' if args.quick else ''}")
    print("one step = zero_grad + forward + cross-entropy + backward; times are per batch")
    print(f"verdict clock: {args.clock} ({CLOCKS[args.clock]})")
    results = []
    for case in CASES:
        r = run_case(case, pairs, warmup, args.quick, control)
        results.append(r)
        print(f"\n[{r['name']}]  ({r['pairs']} samples x {r['inner']} steps each)")
        print(f"  same weights, max |output/grad difference| = {r['diff']:.2e}")
        for clock in ("cpu", "wall"):
            c = r[clock]
            for label, k in (("compiled    ", "c"), ("hand-written", "h")):
                low, high = c[f"iqr_{k}"]
                print(f"  {clock:>4} {label} median {c[f'med_{k}'] * 1e3:8.3f} ms   IQR "
                      f"{low * 1e3:.3f}-{high * 1e3:.3f}   min {c[f'min_{k}'] * 1e3:.3f}")
            print(f"  {clock:>4} ratio = compiled / hand-written = {c['ratio']:.4f}   (median of "
                  f"paired ratios {c['paired']:.4f}, IQR {c['paired_iqr'][0]:.4f}-"
                  f"{c['paired_iqr'][1]:.4f})")
        call_c, call_h = r["call"]
        print(f"  fixed call cost (batch 1, no grad, CPU): compiled {call_c * 1e6:.1f} us, "
              f"hand-written {call_h * 1e6:.1f} us: {(call_c - call_h) * 1e6:+.1f} us per forward "
              f"= {(call_c - call_h) / r['cpu']['med_h'] * 100:+.2f}% of a training step")
        if "control" in r:
            a = r["control"][args.clock]
            print(f"  noise floor (A/A: hand-written vs an identical copy, same protocol): "
                  f"{args.clock} ratio {a['ratio']:.4f}, paired {a['paired']:.4f} "
                  f"(IQR {a['paired_iqr'][0]:.4f}-{a['paired_iqr'][1]:.4f})")

    failing = [r for r in results if r[args.clock]["ratio"] > TARGET]
    if failing and (args.profile or not args.quick):
        for r in failing:
            print(f"\nprofile of [{r['name']}] (missed the target):")
            profile_case(r)
    elif args.profile:
        for r in results:
            print(f"\nprofile of [{r['name']}]:")
            profile_case(r)

    print(f"\nsummary (ratio = median over pairs of {args.clock} time compiled / hand-written)")
    for r in results:
        ratio = r[args.clock]["paired"]
        other = "wall" if args.clock == "cpu" else "cpu"
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(f"{verdict}: {r['name']}: ratio {ratio:.4f} (target <= {TARGET:.2f}; ratio of "
              f"medians {r[args.clock]['ratio']:.4f}; {other}-clock {r[other]['paired']:.4f})")
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
