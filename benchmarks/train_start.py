"""Benchmark: how long after pressing Train does the first training step start?

For every preset (or those named) it starts a run the way the designer does (`TrainingWorker`,
events over queues) and times from the start call to the first `step` event, either in a fresh
process (`--cold`: spawn, import torch and the trainer, build) or handed to a spare process
that was started ahead of time and has finished warming up (the designer keeps one ready while
the user edits; Training > Keep a Training Process Ready). Target: a warm start within 1 s for
every preset. This is a report, not a test: it always exits 0.

Usage: python benchmarks/train_start.py [--cold] [PRESET ...]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TARGET_S = 1.0


def first_step_seconds(name: str, cold: bool) -> tuple[float, str]:
    from runtime import document
    from runtime.preset_files import preset_path
    from runtime.training.events import Error, FitEnd, Step
    from runtime.worker import SpareProcess, TrainingWorker

    path = preset_path(name)
    spare = None
    if not cold:
        spare = SpareProcess()
        spare.warmed.wait(120)
    worker = TrainingWorker(document.load(path), spare=spare, base_dir=path.parent,
                            run_root=tempfile.mkdtemp(prefix="layerlab-start-"))
    start = time.perf_counter()
    worker.start()
    try:
        while True:
            for event in worker.poll():
                if isinstance(event, Step):
                    return time.perf_counter() - start, ""
                if isinstance(event, Error):
                    return float("nan"), event.message
                if isinstance(event, FitEnd):
                    return float("nan"), "ended before a step"
            time.sleep(0.002)
    finally:
        worker.close()


def main() -> int:
    from runtime.preset_files import preset_names

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("presets", nargs="*")
    parser.add_argument("--cold", action="store_true", help="a fresh process per run")
    args = parser.parse_args()
    names = args.presets or preset_names()
    how = "cold (new process)" if args.cold else "warm (spare process)"
    print(f"first training step after Train, {how}; target {TARGET_S:.1f} s warm\n")
    worst = 0.0
    for name in names:
        seconds, problem = first_step_seconds(name, args.cold)
        worst = max(worst, seconds) if seconds == seconds else worst
        verdict = problem or ("PASS" if seconds <= TARGET_S or args.cold else "FAIL")
        print(f"{name:<40} {seconds:6.2f} s   {verdict}")
    print(f"\nslowest: {worst:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
