"""Distributed training throughput: 1 process against N processes (torchrun, DDP), side by side.

Each design trains through the real command line (`main.py train`, with `--nproc-per-node N`
for the distributed run), seeded, with the same global batch size, one CPU thread per process
(so N processes use N cores), no run folder. Throughput is the training samples per second of
epochs 2..E from the run's own epoch_end events (epoch 1 holds the warm-up; validation between
epochs counts, as it does in any run). Scaling efficiency = samples/s on N processes / (N x
samples/s on 1 process): 100 % is perfect linear scaling.

For reference the single process also runs with N threads: on a CPU, several threads in one
process are the other way to use N cores.

On a 2-core machine N=2 leaves nothing for the launcher, the editor or the OS, and each step of
a small network is dominated by the all_reduce of its gradients (gloo over loopback TCP), so
expect an efficiency well below 100 % for the small MLP; the larger network's steps are long
enough for the communication to matter less.

Usage: python benchmarks/distributed.py [--nproc N] [--epochs E] [--designs NAME ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.document import save  # noqa: E402
from runtime.graph import GraphModel  # noqa: E402


def _mlp(name: str, hidden: int, layers: int, batch: int, samples: int) -> GraphModel:
    m = GraphModel(name=name)
    m.add_node("Input", {"shape": [2]}, node_id="x")
    previous = "x"
    for i in range(layers):
        m.add_node("Linear", {"out_features": hidden}, node_id=f"fc{i}")
        m.add_node("ReLU", node_id=f"relu{i}")
        m.connect(previous, f"fc{i}")
        m.connect(f"fc{i}", f"relu{i}")
        previous = f"relu{i}"
    m.add_node("Linear", {"out_features": 2}, node_id="head")
    m.add_node("Output", node_id="out")
    m.connect(previous, "head")
    m.connect("head", "out")
    m.training = {"dataset": {"name": "spirals", "params": {"n_samples": samples},
                              "validation_split": 0.1},
                  "batch_size": batch, "optimizer": {"name": "adam", "lr": 0.001}, "seed": 0,
                  "monitoring": {"every": "auto"}}
    return m


DESIGNS = {
    # ~4k parameters: a step is a fraction of a millisecond, the all_reduce is not
    "small-mlp": lambda: _mlp("small MLP", 64, 2, 256, 20000),
    # ~3.2M parameters: long steps, and a 13 MB gradient to average every step
    "wide-mlp": lambda: _mlp("wide MLP", 1024, 4, 512, 4000),
}


def _run(design: Path, folder: Path, tag: str, epochs: int, nproc: int,
         threads: int) -> dict:
    events = folder / f"{tag}.jsonl"
    command = [sys.executable, str(ROOT / "main.py"), "train", str(design), "--no-run",
               "--epochs", str(epochs), "--set", f"threads={threads}",
               "--metrics-out", str(events)]
    if nproc > 1:
        command += ["--nproc-per-node", str(nproc)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{tag} failed:\n{done.stderr[-2000:]}")
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    start = next(e for e in lines if e["event"] == "fit_start")
    ends = [e for e in lines if e["event"] == "epoch_end"]
    first, last = ends[0], ends[-1]
    samples = start["train_samples"] * (len(ends) - 1)
    return {"samples_per_s": samples / (last["elapsed_s"] - first["elapsed_s"]), "wall_s": wall,
            "final_loss": last["train_loss"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=list(DESIGNS))
    args = parser.parse_args()
    n = args.nproc
    print(f"{os.cpu_count()} CPU cores; global batch the same in every run; one thread per "
          f"process unless noted")
    header = (f"{'design':<10} {'1 proc':>10} {f'1 proc x{n} thr':>14} {f'{n} procs':>10} "
              f"{'speed-up':>9} {'efficiency':>10}  {'loss 1 / ' + str(n):>17}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.designs:
            design = folder / f"{name}.json"
            save(DESIGNS[name](), design)
            one = _run(design, folder, f"{name}-1", args.epochs, 1, 1)
            threaded = _run(design, folder, f"{name}-1t", args.epochs, 1, n)
            many = _run(design, folder, f"{name}-{n}", args.epochs, n, 1)
            speedup = many["samples_per_s"] / one["samples_per_s"]
            print(f"{name:<10} {one['samples_per_s']:>10,.0f} {threaded['samples_per_s']:>14,.0f} "
                  f"{many['samples_per_s']:>10,.0f} {speedup:>8.2f}x {speedup / n:>10.0%}  "
                  f"{one['final_loss']:>8.4f} / {many['final_loss']:.4f}")
    print("samples/s of training epochs 2..E (validation included); efficiency = speed-up / "
          f"{n}. The last epoch's training losses are close, not equal: the same global "
          "batches, but sums taken in another order, which training amplifies step by step.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
