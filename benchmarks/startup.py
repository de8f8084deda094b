"""Benchmark: do the headless commands and the window wait for `import torch`? (#16 item 1)

Times whole processes, side by side in one run: a bare `python -c "import torch"` (the
yardstick), `main.py validate`, `summary` and `summary --json` on the default preset and on a
big one, and the designer started on the default preset until its first paint with the design
and its shapes on the canvas (offscreen, `LAYERLAB_EXIT_AFTER_PAINT=1`, settings and autosaves
in a temporary folder, the welcome page already seen). The commands run in turn, round after round, and each figure is the
median over the rounds of its ratio to the import of the same round, so a machine that slows
down for a while moves both sides. Targets: validate and both summaries <= 0.25x, the first
paint <= 0.8x (torch may finish loading in the background after it).

Python writes bytecode caches as an installed LayerLab would (PYTHONDONTWRITEBYTECODE is cleared
for the children) and a warm-up round fills them first. This is a report, not a test: it
exits 0 unless a command fails.

Usage: python benchmarks/startup.py [--rounds N] [--preset NAME] [--big NAME]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

COMMAND_TARGET = 0.25
PAINT_TARGET = 0.8


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (the child's user + system) of one run, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def cases(preset: str, big: str) -> list[tuple[str, list[str], float]]:
    """(label, argv, target ratio) of everything timed; the yardstick first."""
    from runtime.preset_files import preset_path

    py = sys.executable
    out = [("import torch", [py, "-c", "import torch"], 0.0)]
    for name in dict.fromkeys((preset, big)):
        path = str(preset_path(name).relative_to(ROOT))
        out += [(f"validate {name}", [py, "main.py", "validate", path], COMMAND_TARGET),
                (f"summary {name}", [py, "main.py", "summary", path], COMMAND_TARGET),
                (f"summary --json {name}", [py, "main.py", "summary", path, "--json"],
                 COMMAND_TARGET)]
    out.append((f"window first paint ({preset})", [py, "main.py"], PAINT_TARGET))
    return out


def main() -> int:
    from designer.main_window import DEFAULT_PRESET

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preset", default=DEFAULT_PRESET.stem, help="the designer opens the "
                        "default preset; this one is for the commands")
    parser.add_argument("--big", default="resnet-shapes")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="layerlab-startup-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(QT_QPA_PLATFORM="offscreen", LAYERLAB_EXIT_AFTER_PAINT="1",
               XDG_CONFIG_HOME=os.path.join(home, "config"),
               XDG_DATA_HOME=os.path.join(home, "data"))
    # a user who has opened LayerLab before: the welcome page is not shown over the preset
    os.makedirs(os.path.join(home, "config", "LayerLab"))
    with open(os.path.join(home, "config", "LayerLab", "LayerLab.conf"), "w") as settings:
        settings.write("[welcome]\nshown=true\n")
    todo = cases(args.preset, args.big)
    for _, argv, _ in todo:  # warm-up: bytecode caches, the welcome page's first showing
        run_once(argv, env)
    walls: dict[str, list[float]] = {label: [] for label, _, _ in todo}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in todo}
    paints: list[str] = []
    for _ in range(args.rounds):
        for label, argv, _ in todo:
            wall, cpu, printed = run_once(argv, env)
            walls[label].append(wall)
            cpus[label].append(cpu)
            if argv[1:] == ["main.py"]:
                paints.append(printed.strip())

    base_wall, base_cpu = walls["import torch"], cpus["import torch"]
    print(f"{args.rounds} rounds on {os.cpu_count()} cores; medians; ratios are to "
          f"`import torch` in the same round")
    print(f"{'':34} {'wall s':>7} {'ratio':>6} {'cpu s':>6} {'ratio':>6}  target")
    for label, _, target in todo:
        wall_ratio = statistics.median(w / b for w, b in zip(walls[label], base_wall))
        cpu_ratio = statistics.median(c / b for c, b in zip(cpus[label], base_cpu))
        verdict = "" if not target else (
            f"<= {target:.2f}x  {'met' if wall_ratio <= target else 'MISSED'}")
        print(f"{label:34} {statistics.median(walls[label]):7.3f} {wall_ratio:5.2f}x "
              f"{statistics.median(cpus[label]):6.3f} {cpu_ratio:5.2f}x  {verdict}")
    print("the window said: " + "; ".join(sorted(set(paints))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
