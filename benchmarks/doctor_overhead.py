"""Benchmark: what does the live training doctor cost?

For a few presets this trains the same design twice per round, with `monitoring.doctor` on and
off (monitoring "auto" in both: the doctor reads the samples the plots already get), alternating
which goes first, and times each whole fit (set-up, training, validation, events) in process CPU
time. Two figures per preset:

    side by side = median over rounds of (CPU time with the doctor / CPU time without) - 1
    accounted    = CPU time spent inside the doctor's hooks / CPU time of the fit with it

The verdict uses the accounted share (target <= 2 %): it is what the doctor itself costs, measured
exactly, while the side-by-side figure of fits lasting a fraction of a second moves by several per
cent with the machine's load (it is printed as the check that nothing outside the hooks got
slower).

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
from runtime.doctor import live  # noqa: E402

HOOKS = ("on_fit_start", "on_epoch_start", "on_event", "on_epoch_end", "on_exception",
         "on_fit_end")
_spent = [0.0]


def _timed(method):
    def run(*args):
        start = time.process_time()
        try:
            return method(*args)
        finally:
            _spent[0] += time.process_time() - start
    return run


for _hook in HOOKS:  # account every call into the doctor (benchmark only)
    setattr(live.LiveDoctor, _hook, _timed(getattr(live.LiveDoctor, _hook)))

PRESETS = ["mlp-spirals", "lesson-dying-relu", "lenet-digits", "lstm-adding"]
TARGET = 0.02


def fit_seconds(design, block: dict, dataset) -> tuple[float, int, float]:
    """(CPU seconds of the fit, findings published, CPU seconds inside the doctor)."""
    trainer = Trainer(design, block, dataset=dataset)
    _spent[0] = 0.0
    start = time.process_time()
    trainer.fit()
    diagnoses = len(trainer.doctor.findings()) if trainer.doctor else 0
    return time.process_time() - start, diagnoses, _spent[0]


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
        ratios, shares, times, found = [], [], {True: [], False: []}, 0
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            pair = {}
            for doctor in order:
                pair[doctor], n, inside = fit_seconds(design, blocks[doctor], dataset)
                if doctor:
                    found = max(found, n)
                    shares.append(inside / pair[doctor])
                times[doctor].append(pair[doctor])
            ratios.append(pair[True] / pair[False])
        overhead, share = statistics.median(ratios) - 1, statistics.median(shares)
        verdicts.append((name, share, overhead))
        print(f"  {name:22s} with doctor {statistics.median(times[True]):6.3f} s, without "
              f"{statistics.median(times[False]):6.3f} s: side by side {overhead:+.2%}; inside "
              f"the doctor {share:.2%} ({found} finding(s) in a run)")
    print("\nsummary (target: the doctor's own CPU time <= 2 % of the fit's)")
    for name, share, overhead in verdicts:
        print(f"{'PASS' if share <= TARGET else 'FAIL'}: {name}: {share:.2%} accounted "
              f"(side by side {overhead:+.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
