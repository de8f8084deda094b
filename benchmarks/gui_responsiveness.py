"""Benchmark: does the designer stay responsive while a run trains at full speed, and does the
run train as fast with the GUI attached as without it?

One design (by default the LeNet preset on digits) is trained, alternately:

  * headless   `python main.py train DESIGN --metrics-out FILE` in a fresh process, no Qt at all;
  * in the GUI the designer's main window (shown; offscreen unless QT_QPA_PLATFORM says otherwise)
               presses Train: the worker process trains while the window drains its events at
               ~30 Hz into the live plots and tints the canvas by gradient norm.

While the GUI run trains (from its fit_start to its fit_end) a 10 ms QTimer probe records how late
each tick fires: that lateness is the event-loop latency a user would feel. Plot refreshes are
counted as redraws of the live plot page.

    targets  event-loop latency p99 < 50 ms     (probe lateness during training)
             plot refresh rate   >= 10 Hz       (live-page redraws per second of training)
             throughput ratio    >= 0.90        (GUI samples/s / headless samples/s, final
                                                 epoch's average; median over the pairs)

Runs alternate headless / GUI (`--repeats` pairs) so a phase of machine load hits both alike.
This is a report, not a test: it always exits 0.

Usage: python benchmarks/gui_responsiveness.py [--preset presets/lenet-digits.json]
                                               [--epochs 40] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROBE_MS = 10


def headless_rate(design: Path) -> float:
    """Samples/s of the last epoch of `main.py train` in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.jsonl"
        subprocess.run([sys.executable, str(ROOT / "main.py"), "train", str(design),
                        "--metrics-out", str(out)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        events = [json.loads(line) for line in out.read_text().splitlines()]
        epochs = [e for e in events if e["event"] == "epoch_end"]
    return epochs[-1]["samples_per_s"]


def gui_run(design: Path) -> dict:
    """Train `design` from the main window; returns latency, refresh and throughput figures."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from designer.screenshot import scratch_window

    app = QApplication.instance() or QApplication([])
    window = scratch_window()
    window.resize(1500, 950)
    window.show()
    window.session.open_preset(design)
    app.processEvents()
    lateness: list[float] = []
    last = [time.perf_counter()]
    training = [False]

    def probe() -> None:
        now = time.perf_counter()
        if training[0]:
            lateness.append(max(now - last[0] - PROBE_MS / 1000, 0.0) * 1000)
        last[0] = now

    # how long each drain tick (events -> run record -> plots, panel, canvas tint) holds the loop
    ticks: list[float] = []
    drain = window.trainer.drain

    def timed_drain() -> None:
        start = time.perf_counter()
        drain()
        ticks.append((time.perf_counter() - start) * 1000)

    window.trainer._timer.timeout.disconnect()
    window.trainer._timer.timeout.connect(timed_drain)
    timer = QTimer()
    timer.setInterval(PROBE_MS)
    timer.timeout.connect(probe)
    timer.start()
    trainer = window.trainer
    started = draws = None

    def on_update(run) -> None:
        nonlocal started, draws
        if started is None and run.status == "running":
            started, draws = time.perf_counter(), window.plots.draws
            training[0] = True

    # the app's own event loop until the run ends (polling processEvents would add its own load)
    loop = QEventLoop()
    trainer.run_updated.connect(on_update)
    trainer.run_finished.connect(lambda run: loop.quit())
    assert window.train(), window.training_panel.message.text()
    if trainer.busy:
        loop.exec()
    elapsed = time.perf_counter() - (started or time.perf_counter())
    training[0] = False
    timer.stop()
    run = trainer.current
    result = {"status": run.status, "rate": run.epochs[-1]["samples_per_s"] if run.epochs else 0,
              "lateness": lateness, "ticks": ticks, "refresh_hz": (window.plots.draws - (draws or 0))
              / max(elapsed, 1e-9), "seconds": elapsed}
    window.close()
    window.deleteLater()
    app.processEvents()
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=str(ROOT / "presets" / "lenet-digits.json"))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    document = json.loads(Path(args.preset).read_text())
    document["training"]["epochs"] = args.epochs
    with tempfile.TemporaryDirectory() as folder:
        design = Path(folder) / "design.json"
        design.write_text(json.dumps(document))
        print(f"{document['name']}: {args.epochs} epochs, {args.repeats} headless/GUI pairs, "
              f"{os.cpu_count()} cores, QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}")
        ratios, lateness, refresh = [], [], []
        for i in range(args.repeats):
            alone = headless_rate(design)
            gui = gui_run(design)
            ratios.append(gui["rate"] / alone)
            lateness += gui["lateness"]
            refresh.append(gui["refresh_hz"])
            print(f"  pair {i + 1}: headless {alone:,.0f} samples/s, GUI {gui['rate']:,.0f} "
                  f"samples/s (ratio {ratios[-1]:.3f}); GUI run {gui['status']} in "
                  f"{gui['seconds']:.1f} s, probe p50 {percentile(gui['lateness'], 0.5):.1f} ms "
                  f"p99 {percentile(gui['lateness'], 0.99):.1f} ms max "
                  f"{max(gui['lateness'], default=0):.1f} ms, plots {gui['refresh_hz']:.1f} Hz; "
                  f"drain tick p50 {percentile(gui['ticks'], 0.5):.1f} ms p99 "
                  f"{percentile(gui['ticks'], 0.99):.1f} ms")
    p99, hz, ratio = percentile(lateness, 0.99), min(refresh), statistics.median(ratios)
    rows = [("event-loop latency p99", f"{p99:.1f} ms", "< 50 ms", p99 < 50),
            ("plot refresh rate (slowest run)", f"{hz:.1f} Hz", ">= 10 Hz", hz >= 10),
            ("throughput GUI / headless (median)", f"{ratio:.3f}", ">= 0.90", ratio >= 0.90)]
    print()
    for name, value, target, ok in rows:
        print(f"  {name:36s} {value:>10s}   target {target:9s} {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
