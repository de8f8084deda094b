"""Benchmark: do building, loading, shape inference and compiling grow linearly with the design?

For three shapes — a chain (Linear/ReLU), ResNet-style skips (Linear -> ReLU -> Add fed by the
block's input too) and wide merges (50 parallel ReLUs into one Add, repeated) — at 1,000 to 10,000
nodes it times, in this process (CPU time, best of `--repeat`):

    build      GraphModel API: add_node + connect for every node and edge (what pasting does)
    load       document.loads of the saved design
    infer      shapes.infer (every node's output shape)
    compile    compile.compile_model (the fx graph and every layer's module)

and prints each step's growth exponent from the smallest to the largest size,
log(t_large / t_small) / log(n_large / n_small): 1.0 is linear; the target is <= 1.1. It also
compares compiling the largest design with `import torch` timed in a fresh interpreter in the same
run (target: less than it). This is a report, not a test: it always exits 0.

Usage: python benchmarks/compile_scale.py [--sizes 1000 2000 5000 10000] [--repeat 3] [--fan 50]
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from runtime import document  # noqa: E402
from runtime.compile import compile_model  # noqa: E402
from runtime.shapes import infer  # noqa: E402
from scale_designs import SHAPES  # noqa: E402

EXPONENT_TARGET = 1.1


def best(fn, repeat: int) -> tuple[float, object]:
    """The smallest CPU time of `repeat` calls, and the last call's result. Each starts after a
    full collection with the survivors frozen, as the app freezes its start-up heap: otherwise
    the collector's passes over whatever earlier sizes left behind are timed too."""
    times, result = [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        gc.freeze()
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
        gc.unfreeze()
    return min(times), result


def import_torch_seconds(repeat: int) -> float:
    code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True).stdout) for _ in range(repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fan", type=int, default=50, help="inputs of each Add, wide design")
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    torch_s = import_torch_seconds(args.repeat)
    print(f"import torch in a fresh interpreter: {torch_s * 1000:.0f} ms\n")
    steps = ("build", "load", "infer", "compile")
    print(f"{'shape':<7}{'nodes':>7}" + "".join(f"{s + ' ms':>12}" for s in steps))
    for name, make in SHAPES.items():
        rows = []
        for n in sizes:
            t_build, model = best(lambda: make(n, args.fan), args.repeat)
            text = document.dumps(model)
            t_load, loaded = best(lambda: document.loads(text), args.repeat)
            t_infer, analysis = best(lambda: infer(loaded), args.repeat)
            t_compile, _ = best(lambda: compile_model(loaded, analysis), args.repeat)
            rows.append((len(model.nodes), t_build, t_load, t_infer, t_compile))
            print(f"{name:<7}{len(model.nodes):>7}" + "".join(
                f"{t * 1000:>12.1f}" for t in (t_build, t_load, t_infer, t_compile)))
        (n0, *small), (n1, *large) = rows[0], rows[-1]
        exps = [math.log(b / a) / math.log(n1 / n0) if a > 0 and b > 0 else float("nan")
                for a, b in zip(small, large)]
        verdict = "PASS" if all(e <= EXPONENT_TARGET for e in exps) else "FAIL"
        print(f"{'':<7}{'exp':>7}" + "".join(f"{e:>12.2f}" for e in exps)
              + f"   target <= {EXPONENT_TARGET}  {verdict}")
        ratio = large[-1] / torch_s
        print(f"{'':<7}compile of {n1:,} nodes = {ratio:.2f} x import torch   target < 1  "
              f"{'PASS' if ratio < 1 else 'FAIL'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
