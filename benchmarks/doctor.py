"""Benchmark: does the training doctor find, localise and fix the faults of a labelled suite, and
stay silent on healthy designs? (issue #12)

The suite is `benchmarks/doctor_cases.py`: faulty designs, each labelled with the finding code
the doctor must report and where it must point (a node id or a training path), with a corrected
counterpart trained on the same data for the same budget; and healthy controls (every preset
except the broken lessons, plus small designs of our own). For each fault case, one at a time in
this process:

  * `examine(design, epochs=case.epochs)` runs the doctor: static rules, the pre-flight check
    and a training run of the case's budget with the live doctor attached;
  * detected    its findings contain the case's code (strict), or one of the other answers the
                case accepts (`Case.also`, e.g. lr_too_high for a run that diverged to NaN;
                counted in the headline figure and marked "~" in the table);
  * localised   one of those findings names (node or field) a place the case accepts;
  * fixed       that finding's first fix is applied (`apply_fix(design, fix)`, a copy), the copy
                is retrained with the same budget and its final validation metric compared with
                the counterpart's: classification accuracy >= counterpart - 0.05, or regression
                val_loss <= 1.5 x counterpart + 1e-3. Cases without a counterpart, without a
                finding or whose finding has no fix are counted apart and shown;
  * time to first finding   `result.first_finding_s`: seconds from the start of `examine` to
                the first warning or error.

Each control runs through `examine` with its own budget; every warning or error on it is a false
alarm (info findings are allowed) and is listed. The counterparts run through `examine` too (their
final metric is the bar for the fixes); their warnings and errors are listed for information.

    targets: recall >= 95 %, localisation >= 85 %, fix success >= 70 %, 0 false alarms

The metrics are final-epoch values (not the best epoch), the same for counterpart and fixed run.
Everything is seeded, so a repeated run gives the same figures; the times vary with the machine.

`--verify` checks the labels without the doctor: each fault and its counterpart are trained with a
plain `Trainer` and their final metrics printed side by side (a refused run shows its message),
so anyone can see that each fault really trains badly and its counterpart well. `--quick` takes
one or more cases per code (those marked `quick`) and four controls; `--case NAME ...` runs only
those cases (and no controls unless `--control NAME ...` names some). The full run takes about six
minutes on a 2-core laptop CPU, `--quick` under one. This is a report, not a test: it always exits
0.

`--suite holdout` runs `benchmarks/doctor_holdout.py` instead: faults and controls written
without looking at the doctor's rules or thresholds, so its figures are a held-out measurement
(the main suite's may flatter the doctor, whose rules were tuned on it).

Usage: python benchmarks/doctor.py [--suite main|holdout] [--quick] [--verify] [--case NAME ...]
                                   [--control NAME ...] [--no-controls] [--list]
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.doctor_cases import Case, Control  # noqa: E402
from runtime.graph import GraphModel  # noqa: E402

TARGETS = {"recall": 0.95, "localisation": 0.85, "fix": 0.70}
ACCURACY_SLACK = 0.05
LOSS_FACTOR, LOSS_SLACK = 1.5, 1e-3
SUITES = {"main": "benchmarks.doctor_cases", "holdout": "benchmarks.doctor_holdout"}
QUICK_CONTROLS = ("preset:mlp-spirals", "preset:regression-sine",
                  "preset:lesson-dying-relu-fixed", "raw-wine-with-batchnorm")


# --- measuring a run ----------------------------------------------------------------------------
def metric_of(final: dict | None) -> tuple[str, float | None]:
    """The figure a fix is judged by: final val_accuracy for classification, else val_loss."""
    final = final or {}
    if "val_accuracy" in final:
        return "val_accuracy", _number(final["val_accuracy"])
    return "val_loss", _number(final.get("val_loss"))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def reaches(name: str, value: float | None, bar: float | None) -> bool:
    """Whether a fixed run's metric is within tolerance of the counterpart's."""
    if value is None or bar is None:
        return False
    if name == "val_accuracy":
        return value >= bar - ACCURACY_SLACK
    return value <= LOSS_FACTOR * bar + LOSS_SLACK


def show_metric(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"acc {value:.3f}" if name == "val_accuracy" else f"loss {value:.3g}"


def train_plain(design: GraphModel, epochs: int) -> dict:
    """Train without the doctor: {"status", "final", "message", "seconds"}."""
    from runtime.training import Trainer

    block = {**design.training, "epochs": epochs}
    started = time.perf_counter()
    status, message, trainer = "completed", "", None
    try:
        trainer = Trainer(design, block)  # refuses a bad training block
        status = trainer.fit().status
    except Exception as err:  # noqa: BLE001 - a refused or diverging run is a result here
        status, message = "failed", _one_line(err)
    history = trainer.history if trainer is not None else []
    final = history[-1].values() if history else {}
    return {"status": status, "final": final, "message": message,
            "seconds": time.perf_counter() - started}


# --- the doctor run of one case ------------------------------------------------------------------
@dataclass
class Outcome:
    case: Case
    seconds: float = 0.0
    error: str = ""
    codes: list[str] = field(default_factory=list)
    detected: str = ""          # "", "strict" or the accepted alternative code
    localised: bool = False
    finding: Any = None          # the finding whose fix is tried
    first_s: float | None = None
    fix: str = "n/a"  # ok, missed, error (of apply_fix), no-fix, no-counterpart, no-finding, crashed
    fix_detail: str = ""
    counterpart: tuple[str, float | None] = ("", None)
    counterpart_alarms: list[str] = field(default_factory=list)
    fixed: tuple[str, float | None] = ("", None)
    broken: tuple[str, float | None] = ("", None)


def _place(finding: Any) -> str:
    return finding.node or finding.field or ""


def _places(finding: Any) -> set[str]:
    return {p for p in (finding.node, finding.field) if p}


def _alarm(finding: Any) -> str:
    return f"{finding.severity} {finding.code} @ {_place(finding)}: {finding.title}"


def pick_finding(case: Case, findings: list) -> tuple[str, bool, Any]:
    """(how it was detected, localised?, the finding whose fix to try): the case's own code
    first, then its accepted alternatives; within a code, a finding at an accepted place."""
    for code, places in case.accepted().items():
        of_code = [f for f in findings if f.code == code]
        if not of_code:
            continue
        placed = [f for f in of_code if _places(f) & set(places)]
        how = "strict" if code == case.code else code
        return how, bool(placed), (placed or of_code)[0]
    return "", False, None


def run_case(case: Case, counterparts: dict[str, tuple]) -> Outcome:
    from runtime.doctor import apply_fix, examine

    out = Outcome(case)
    design = case.design()
    started = time.perf_counter()
    try:
        result = examine(design, epochs=case.epochs)
    except Exception as err:  # noqa: BLE001 - a crash in the doctor is reported, not fatal
        out.seconds = time.perf_counter() - started
        out.error = f"examine raised {type(err).__name__}: {_one_line(err)}"
        out.fix = "crashed"
        return out
    out.seconds = time.perf_counter() - started
    findings = list(result.findings)
    out.codes = sorted({f.code for f in findings})
    out.first_s = result.first_finding_s
    out.broken = metric_of(result.final)
    out.detected, out.localised, out.finding = pick_finding(case, findings)
    if out.finding is None:
        out.fix = "no-finding"
        return out
    if case.counterpart is None:
        out.fix = "no-counterpart"
        return out
    if not out.finding.fixes:
        out.fix = "no-fix"
        return out
    if case.name not in counterparts:
        counterparts[case.name] = examine_counterpart(case)
    out.counterpart, out.counterpart_alarms = counterparts[case.name]
    fix = out.finding.fixes[0]
    try:
        fixed = apply_fix(design, fix)
    except Exception as err:  # noqa: BLE001
        out.fix = "error"
        out.fix_detail = f"apply_fix raised {type(err).__name__}: {_one_line(err)}"
        return out
    run = train_plain(fixed, case.epochs)
    out.fixed = metric_of(run["final"])
    name, bar = out.counterpart
    out.fix = "ok" if reaches(out.fixed[0], out.fixed[1], bar) and out.fixed[0] == name \
        else "missed"
    out.fix_detail = fix.description + (f" ({run['message'][:80]})" if run["message"] else "")
    return out


def examine_counterpart(case: Case) -> tuple[tuple[str, float | None], list[str]]:
    from runtime.doctor import examine

    try:
        result = examine(case.counterpart(), epochs=case.epochs)
    except Exception as err:  # noqa: BLE001
        return ("", None), [f"examine raised {type(err).__name__}: {_one_line(err)}"]
    alarms = [_alarm(f) for f in result.findings if f.severity in ("warning", "error")]
    return metric_of(result.final), alarms


def run_control(control: Control) -> tuple[float, list[str], list[str], str]:
    """(seconds, alarms, infos, error) of the doctor on a healthy design."""
    from runtime.doctor import examine

    started = time.perf_counter()
    try:
        result = examine(control.design(), epochs=control.epochs)
    except Exception as err:  # noqa: BLE001
        return (time.perf_counter() - started, [], [],
                f"examine raised {type(err).__name__}: {_one_line(err)}")
    seconds = time.perf_counter() - started
    alarms = [_alarm(f) for f in result.findings if f.severity in ("warning", "error")]
    infos = [f"{f.code} @ {_place(f)}" for f in result.findings if f.severity == "info"]
    return seconds, alarms, infos, ""


# --- reports -------------------------------------------------------------------------------------
def _where(case: Case) -> str:
    shown = "|".join(case.wheres)
    return shown if len(shown) <= 28 else shown[:25] + "..."


def report_cases(outcomes: list[Outcome], controls: list[tuple]) -> None:
    print(f"\n{'case':34s} {'expected @ where':56s} {'det':4s} {'loc':4s} {'fix':15s} "
          f"{'1st s':>6s} {'run s':>6s}  found")
    for o in outcomes:
        c = o.case
        det = "yes" if o.detected == "strict" else ("~" if o.detected else "NO")
        loc = "yes" if o.localised else ("-" if not o.detected else "NO")
        first = f"{o.first_s:.2f}" if o.first_s is not None else "-"
        print(f"{c.name:34s} {c.code + ' @ ' + _where(c):56s} {det:4s} {loc:4s} {o.fix:15s} "
              f"{first:>6s} {o.seconds:6.1f}  {', '.join(o.codes) or o.error or '-'}")
        if o.detected and not o.localised:
            print(f"{'':34s}   named {_place(o.finding)!r}, accepted: {', '.join(c.wheres)}")
        if o.detected and o.detected != "strict":
            print(f"{'':34s}   found the accepted alternative {o.detected}")
        if o.fix in ("ok", "missed", "error"):
            print(f"{'':34s}   fix: {o.fix_detail}; fixed {show_metric(*o.fixed)} vs "
                  f"counterpart {show_metric(*o.counterpart)} (unfixed {show_metric(*o.broken)})")
    alarms = [(c, o) for c, o in ((o.case, o) for o in outcomes) if o.counterpart_alarms]
    if alarms:
        print("\nwarnings/errors on counterparts (for information; not a target):")
        for c, o in alarms:
            for a in o.counterpart_alarms:
                print(f"  {c.name}: {a}")
    if controls:
        print(f"\n{'control':44s} {'run s':>6s}  warnings/errors (info)")
        for control, seconds, alarm_list, infos, error in controls:
            shown = "; ".join(alarm_list) if alarm_list else (error or "none")
            extra = f"  (info: {', '.join(infos)})" if infos else ""
            print(f"{control.name:44s} {seconds:6.1f}  {shown}{extra}")


def summary(outcomes: list[Outcome], controls: list[tuple], wall: float) -> None:
    n = len(outcomes)
    if n:
        strict = sum(o.detected == "strict" for o in outcomes)
        detected = sum(bool(o.detected) for o in outcomes)
        localised = sum(o.localised for o in outcomes)
        tried = [o for o in outcomes if o.fix in ("ok", "missed", "error")]
        fixed = sum(o.fix == "ok" for o in tried)
        apart = {k: sum(o.fix == k for o in outcomes)
                 for k in ("no-finding", "no-fix", "no-counterpart", "crashed")}
        firsts = [o.first_s for o in outcomes if o.first_s is not None]
        print(f"\nsummary over {n} fault case(s) and {len(controls)} control(s):")
        _figure("detection recall", detected, n, TARGETS["recall"],
                f"strict (the case's own code) {strict}/{n} = {strict / n:.0%}")
        _figure("localisation", localised, n, TARGETS["localisation"])
        if tried:
            _figure("fix success", fixed, len(tried), TARGETS["fix"],
                    "not tried: " + ", ".join(f"{v} {k}" for k, v in apart.items()))
        else:
            shown = ", ".join(f"{v} {k}" for k, v in apart.items())
            print(f"  fix success: no fix tried ({shown})")
        if firsts:
            print(f"  time to first finding: median {statistics.median(firsts):.2f} s, max "
                  f"{max(firsts):.2f} s ({len(firsts)} case(s) with a warning or error)")
        errors = [o for o in outcomes if o.error]
        if errors:
            print(f"  doctor crashed on {len(errors)} case(s): "
                  + ", ".join(o.case.name for o in errors))
    if controls:
        alarms = sum(len(c[2]) for c in controls)
        verdict = "PASS" if alarms == 0 else "FAIL"
        print(f"  false alarms: {alarms} warning/error finding(s) on {len(controls)} healthy "
              f"control(s) (target 0) {verdict}")
    print(f"  wall time {wall / 60:.1f} min")


def _figure(name: str, hits: int, total: int, target: float, extra: str = "") -> None:
    share = hits / total
    verdict = "PASS" if share >= target else "FAIL"
    print(f"  {name}: {hits}/{total} = {share:.0%} (target >= {target:.0%}) {verdict}"
          + (f"; {extra}" if extra else ""))


# --- --verify: the labels, without the doctor ----------------------------------------------------
def verify(cases: list[Case]) -> None:
    print(f"{'case':34s} {'code':22s} {'fault run':30s} {'counterpart':22s} {'s':>5s}")
    for case in cases:
        started = time.perf_counter()
        broken = train_plain(case.design(), case.epochs)
        if broken["status"] == "failed":
            shown = "refused/failed: " + broken["message"][:60]
        else:
            shown = _shown(broken["final"])
        cp = train_plain(case.counterpart(), case.epochs) if case.counterpart else None
        cp_shown = ("failed: " + cp["message"][:60] if cp and cp["status"] == "failed"
                    else _shown(cp["final"]) if cp else "-")
        print(f"{case.name:34s} {case.code:22s} {shown:30s} {cp_shown:22s} "
              f"{time.perf_counter() - started:5.1f}", flush=True)


def _shown(final: dict) -> str:
    name, value = metric_of(final)
    loss = _number(final.get("val_loss"))
    extra = f" (loss {loss:.3g})" if name == "val_accuracy" and loss is not None else ""
    return show_metric(name, value) + extra


# --- main -----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="main",
                        help="which suite: main (doctor_cases.py) or holdout (doctor_holdout.py)")
    parser.add_argument("--quick", action="store_true", help="one case per code, four controls")
    parser.add_argument("--verify", action="store_true",
                        help="train each fault and its counterpart without the doctor")
    parser.add_argument("--case", nargs="*", default=[], help="only these cases (names)")
    parser.add_argument("--control", nargs="*", default=[], help="only these controls")
    parser.add_argument("--no-controls", action="store_true", help="skip the controls")
    parser.add_argument("--list", action="store_true", help="list the suite and stop")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # torch/sklearn chatter would bury the table
    suite = importlib.import_module(SUITES[args.suite])
    CASES, CONTROLS = suite.CASES, suite.CONTROLS  # noqa: N806 - the suite's constants
    quick_controls = getattr(suite, "QUICK_CONTROLS", QUICK_CONTROLS)

    cases = [c for c in CASES if (not args.case or c.name in args.case)
             and (not args.quick or c.quick or args.case)]
    controls = [c for c in CONTROLS if (not args.control or c.name in args.control)
                and (not args.quick or c.name in quick_controls or args.control)]
    if args.case and not args.control:
        controls = []
    if args.no_controls:
        controls = []
    unknown = set(args.case) - {c.name for c in CASES} | \
        set(args.control) - {c.name for c in CONTROLS}
    if unknown:
        print(f"unknown case/control: {', '.join(sorted(unknown))}")
    if args.list:
        for c in CASES:
            print(f"{c.name:34s} {c.code:22s} {'|'.join(c.wheres)}"
                  f"{'  (quick)' if c.quick else ''}")
        for c in CONTROLS:
            print(f"control {c.name}")
        return 0
    started = time.perf_counter()
    if args.verify:
        verify(cases)
        print(f"\nwall time {(time.perf_counter() - started) / 60:.1f} min")
        return 0
    try:
        importlib.import_module("runtime.doctor")
    except ImportError as err:
        print(f"the doctor is not available ({err}); `--verify` runs without it")
        return 0
    print(f"{len(cases)} fault case(s), {len(controls)} control(s); targets: recall >= "
          f"{TARGETS['recall']:.0%}, localisation >= {TARGETS['localisation']:.0%}, fix success "
          f">= {TARGETS['fix']:.0%}, 0 false alarms", flush=True)
    counterparts: dict[str, tuple] = {}
    outcomes = []
    for case in cases:
        outcome = run_case(case, counterparts)
        outcomes.append(outcome)
        print(f"  {case.name}: {', '.join(outcome.codes) or outcome.error or 'no findings'} "
              f"({outcome.seconds:.1f} s)", flush=True)
    control_rows = []
    for control in controls:
        seconds, alarms, infos, error = run_control(control)
        control_rows.append((control, seconds, alarms, infos, error))
        print(f"  control {control.name}: {len(alarms)} alarm(s) ({seconds:.1f} s)", flush=True)
    report_cases(outcomes, control_rows)
    summary(outcomes, control_rows, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
