"""Benchmark: what does the live training doctor cost?

For a few presets this trains the same design twice per round, with `monitoring.doctor` on and
off (monitoring "auto" in both: the doctor reads the samples the plots already get), alternating
which goes first, and times each whole fit (set-up, training, validation, events) in process CPU
time. The verdict is the median over rounds of the paired ratio

    overhead = CPU time with the doctor / CPU time without - 1        target <= 2 %

Usage: python benchmarks/doctor_overhead.py [--rounds N] [--epochs N]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from runtime import document  # noqa: E402
from runtime.training.trainer import Trainer  # noqa: E402
from runtime.doctor.preflight import load_data  # noqa: E402

PRESETS = ["mlp-spirals", "lesson-dying-relu", "lenet-digits", "lstm-adding"]
TARGET = 0.02


def fit_seconds(design, block: dict, dataset) -> tuple[float, int]:
    trainer = Trainer(design, block, dataset=dataset)
    start = time.process_time()
    trainer.fit()
    diagnoses = len(trainer.doctor.findings()) if trainer.doctor else 0
    return time.process_time() - start, diagnoses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    print(f"doctor_overhead: {args.rounds} rounds x {args.epochs} epochs per preset, process CPU "
          "time of whole fits, doctor on vs off, monitoring auto in both")
    verdicts = []
    for name in PRESETS:
        design = document.load(os.path.join(ROOT, "presets", f"{name}.json"))
        dataset = load_data(design)
        blocks = {}
        for doctor in (True, False):
            block = copy.deepcopy(design.training)
            block["epochs"] = args.epochs
            block.setdefault("monitoring", {})["doctor"] = doctor
            block["monitoring"]["every"] = "auto"
            blocks[doctor] = block
        fit_seconds(design, blocks[False], dataset)  # warm-up
        ratios, times, found = [], {True: [], False: []}, 0
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            pair = {}
            for doctor in order:
                pair[doctor], n = fit_seconds(design, blocks[doctor], dataset)
                found = max(found, n) if doctor else found
                times[doctor].append(pair[doctor])
            ratios.append(pair[True] / pair[False])
        overhead = statistics.median(ratios) - 1
        verdicts.append((name, overhead))
        print(f"  {name:22s} with doctor {statistics.median(times[True]):6.3f} s, without "
              f"{statistics.median(times[False]):6.3f} s: overhead {overhead:+.2%} "
              f"(paired median; {found} finding(s) in a run)")
    print("\nsummary (target: overhead <= 2 % of training time)")
    for name, overhead in verdicts:
        print(f"{'PASS' if overhead <= TARGET else 'FAIL'}: {name}: {overhead:+.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
