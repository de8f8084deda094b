"""Benchmark: does a compiled design train as fast as the same network written by hand?

For three designs (an MLP, a LeNet-like CNN and an LSTM classifier) this builds the design with the
`GraphModel` API, compiles it with `runtime.compile.compile_model`, writes the equivalent
`nn.Module` by hand, copies the compiled weights into it (`load_state_dict`, strict) and checks that
both compute the same outputs. It then times one training step (forward, cross-entropy loss,
backward) per batch for both, interleaved in alternating order (A B, B A, ...) so that load from
other processes and clock drift hit both alike, and reports medians.

    ratio = median(compiled) / median(hand-written)        target: <= 1.03 for every design

The median of the per-pair ratios (each pair measured back to back) is printed too: it is the more
robust figure on a busy machine. This is a report, not a test: it always exits 0.

Usage: python benchmarks/compile_overhead.py [--quick] [--threads N] [--pairs N] [--profile]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from runtime.compile import compile_model  # noqa: E402
from runtime.graph import GraphModel  # noqa: E402

TARGET = 1.03


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
    Case("MLP 784-512-256-10, batch 256", mlp_design, HandMLP, (256, 784), 10, 3),
    Case("CNN LeNet 1x28x28, batch 128", cnn_design, HandLeNet, (128, 1, 28, 28), 4, 2),
    Case("LSTM seq 50 x 32 -> 128 -> Linear, batch 64", lstm_design, HandLSTM, (64, 50, 32), 2, 1),
]


# --- timing -----------------------------------------------------------------------------------
def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()


def time_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int) -> float:
    """Seconds per training step, averaged over `n` back-to-back steps."""
    start = time.perf_counter()
    for _ in range(n):
        train_step(model, x, y)
    return (time.perf_counter() - start) / n


def measure(compiled: nn.Module, hand: nn.Module, x: torch.Tensor, y: torch.Tensor,
            pairs: int, inner: int, warmup: int) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        train_step(compiled, x, y)
        train_step(hand, x, y)
    times_c, times_h = [], []
    gc.collect()
    gc.disable()
    try:
        for i in range(pairs):
            if i % 2 == 0:
                times_c.append(time_steps(compiled, x, y, inner))
                times_h.append(time_steps(hand, x, y, inner))
            else:
                times_h.append(time_steps(hand, x, y, inner))
                times_c.append(time_steps(compiled, x, y, inner))
    finally:
        gc.enable()
    return times_c, times_h


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


def run_case(case: Case, pairs: int, warmup: int, quick: bool) -> dict:
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
    times_c, times_h = measure(compiled, hand, x, y, pairs, inner, warmup)
    med_c, med_h = statistics.median(times_c), statistics.median(times_h)
    paired = [c / h for c, h in zip(times_c, times_h)]
    return {"name": case.name, "diff": diff, "pairs": pairs, "inner": inner,
            "med_c": med_c, "med_h": med_h, "min_c": min(times_c), "min_h": min(times_h),
            "iqr_c": iqr(times_c), "iqr_h": iqr(times_h),
            "ratio": med_c / med_h, "paired": statistics.median(paired),
            "paired_iqr": iqr(paired), "compiled": compiled, "hand": hand, "x": x, "y": y}


def profile_case(result: dict, steps: int = 20) -> None:
    """Where the compiled model's extra time goes, next to the hand-written one (cProfile)."""
    import cProfile
    import pstats
    for label in ("compiled", "hand"):
        model, x, y = result[label], result["x"], result["y"]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            train_step(model, x, y)
        prof.disable()
        print(f"    cProfile, {label}, {steps} steps (top 12 by cumulative time):")
        stats = pstats.Stats(prof, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(12)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads value (default 1: steadiest on a shared box)")
    parser.add_argument("--pairs", type=int, default=None,
                        help="timed (compiled, hand) pairs per design (default 40, quick 4)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile a design that misses the target (also on by default then)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    pairs = args.pairs or (4 if args.quick else 40)
    warmup = 2 if args.quick else 10
    print(f"compile_overhead: torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, {pairs} interleaved pairs per design, warm-up {warmup} steps"
          f"{' (QUICK smoke run: figures are rough)' if args.quick else ''}")
    print("one step = zero_grad + forward + cross-entropy + backward; times are per batch")
    results = []
    for case in CASES:
        r = run_case(case, pairs, warmup, args.quick)
        results.append(r)
        print(f"\n[{r['name']}]")
        print(f"  same weights, max |output/grad difference| = {r['diff']:.2e}")
        print(f"  compiled     median {r['med_c'] * 1e3:8.3f} ms   IQR {r['iqr_c'][0] * 1e3:.3f}"
              f"-{r['iqr_c'][1] * 1e3:.3f}   min {r['min_c'] * 1e3:.3f}   "
              f"({r['pairs']} samples x {r['inner']} steps)")
        print(f"  hand-written median {r['med_h'] * 1e3:8.3f} ms   IQR {r['iqr_h'][0] * 1e3:.3f}"
              f"-{r['iqr_h'][1] * 1e3:.3f}   min {r['min_h'] * 1e3:.3f}")
        print(f"  ratio = compiled / hand-written = {r['ratio']:.4f}   (median of paired ratios "
              f"{r['paired']:.4f}, IQR {r['paired_iqr'][0]:.4f}-{r['paired_iqr'][1]:.4f})")

    failing = [r for r in results if r["ratio"] > TARGET]
    if failing and (args.profile or not args.quick):
        for r in failing:
            print(f"\nprofile of [{r['name']}] (missed the target):")
            profile_case(r)
    elif args.profile:
        for r in results:
            print(f"\nprofile of [{r['name']}]:")
            profile_case(r)

    print("\nsummary")
    for r in results:
        verdict = "PASS" if r["ratio"] <= TARGET else "FAIL"
        print(f"{verdict}: {r['name']}: ratio {r['ratio']:.4f} (target <= {TARGET:.2f})")
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
