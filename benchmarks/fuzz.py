"""Fuzz the design-file path (issue #11): mutated presets through load, inference, the summary and
compile, and a sample through the real command line.

    python benchmarks/fuzz.py                  # 10,000 mutants in-process, 200 through the CLI
    python benchmarks/fuzz.py --cases 2000 --cli 50

In-process, every case is timed and the process runs under an address-space limit (its size after
start-up plus `--memory-gib`), so a mutant that tries to allocate too much raises MemoryError and
is counted instead of taking the machine down. It prints the cases by outcome — refused with a
typed error, loaded (and compiled when valid and small), untyped exception, memory blow-up, over
the time limit — and exits 1 unless the last three are all zero. The CLI sample runs `validate`
and `summary --json` on mutants in fresh processes and requires exit codes 0/1/2 and no traceback.
Mutants come from tests/fuzzing.py, the generator the suite's fast fuzz test uses.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.cli import summary_json, summary_table  # noqa: E402
from runtime.compile import compile_model  # noqa: E402
from runtime.document import loads  # noqa: E402
from runtime.errors import DesignFileError, LayerLabError  # noqa: E402
from runtime.shapes import infer  # noqa: E402
from tests.fuzzing import COMPILE_LIMIT_BYTES, mutant  # noqa: E402

SLOW_S = 1.0


def run_case(text: str) -> str:
    """The outcome of one mutant: "refused", "loaded", "compiled", or the untyped exception."""
    try:
        model = loads(text)
    except DesignFileError:
        return "refused"
    analysis = infer(model)
    json.dumps(summary_json(model, analysis, analysis.problems))
    summary_table(model, analysis)
    if analysis.valid and analysis.weight_bytes <= COMPILE_LIMIT_BYTES:
        try:
            compile_model(model, analysis)
        except LayerLabError:
            return "refused at compile"
        return "compiled"
    return "loaded"


def limit_memory(extra_gib: float) -> str:
    """Cap the address space at the current size plus `extra_gib`; returns what was set."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as status:
            size = next(int(line.split()[1]) * 1024 for line in status
                        if line.startswith("VmSize:"))
        cap = size + int(extra_gib * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        return f"address space capped at {cap / 1024**3:.1f} GiB"
    except (ImportError, OSError, StopIteration, ValueError) as err:
        return f"no memory cap ({err or 'not available here'})"


def fuzz_in_process(cases: int, seed0: int) -> Counter:
    outcomes: Counter = Counter()
    slowest = (0.0, -1)
    for seed in range(seed0, seed0 + cases):
        text = mutant(seed)
        start = time.perf_counter()
        try:
            outcome = run_case(text)
        except MemoryError:
            outcome = "MEMORY BLOW-UP"
        except Exception as err:  # what the harness is looking for
            outcome = f"UNTYPED {type(err).__name__}"
            print(f"  seed {seed}: {type(err).__name__}: {str(err)[:160]}")
        seconds = time.perf_counter() - start
        slowest = max(slowest, (seconds, seed))
        if seconds > SLOW_S:
            outcomes["OVER 1 S"] += 1
            print(f"  seed {seed}: {seconds:.2f} s ({outcome})")
        outcomes[outcome] += 1
    print(f"  slowest case: seed {slowest[1]}, {slowest[0] * 1000:.0f} ms")
    return outcomes


def fuzz_cli(cases: int, seed0: int, workers: int) -> Counter:
    outcomes: Counter = Counter()
    with tempfile.TemporaryDirectory() as folder:
        def one(seed: int) -> str:
            path = Path(folder) / f"mutant-{seed}.json"
            path.write_text(mutant(seed), encoding="utf-8", errors="surrogatepass")
            command = ["validate", str(path)] if seed % 2 else ["summary", "--json", str(path)]
            done = subprocess.run([sys.executable, str(ROOT / "main.py"), *command], cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)
            if "Traceback" in done.stderr or "Traceback" in done.stdout:
                print(f"  seed {seed} ({command[0]}): traceback\n{done.stderr[-600:]}")
                return "TRACEBACK"
            if done.returncode not in (0, 1, 2):
                return f"EXIT {done.returncode}"
            return f"exit {done.returncode}"
        with ThreadPoolExecutor(workers) as pool:
            outcomes.update(pool.map(one, range(seed0, seed0 + cases)))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="mutants run in-process")
    parser.add_argument("--cli", type=int, default=200, help="mutants run through main.py")
    parser.add_argument("--seed", type=int, default=1_000_000,
                        help="first mutant (the suite's fast test uses 0..299)")
    parser.add_argument("--memory-gib", type=float, default=4.0,
                        help="address space allowed beyond the start-up size")
    args = parser.parse_args(argv)
    print(f"fuzz: {args.cases:,} mutants in-process from seed {args.seed}; "
          f"{limit_memory(args.memory_gib)}")
    start = time.perf_counter()
    inner = fuzz_in_process(args.cases, args.seed)
    print(f"  {time.perf_counter() - start:.1f} s")
    for outcome, count in sorted(inner.items()):
        print(f"  {outcome:22s} {count:6,}")
    bad = sum(count for outcome, count in inner.items()
              if outcome.startswith(("UNTYPED", "MEMORY", "OVER")))
    if args.cli:
        print(f"cli: {args.cli} mutants through main.py validate / summary --json")
        outer = fuzz_cli(args.cli, args.seed + args.cases, workers=max(os.cpu_count() or 1, 1))
        for outcome, count in sorted(outer.items()):
            print(f"  {outcome:22s} {count:6,}")
        bad += sum(count for outcome, count in outer.items()
                   if outcome.startswith(("TRACEBACK", "EXIT")))
    print("PASS: no untyped exception, memory blow-up, slow case or traceback" if not bad
          else f"FAIL: {bad} case(s) above")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
