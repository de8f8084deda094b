"""Render the main window on a preset to a PNG: `python -m designer.screenshot [PRESET] [-o OUT]`.

Runs offscreen unless a display is set, so it works in CI and over SSH. `--train SECONDS` shows a
run under way; `--doctor` the Doctor panel after Check design, its first finding selected;
`--lr-finder` the same after Find learning rate, with the sweep's plot; `--try EPOCHS` trains
that long in this process and draws a 7 in the Try it tab (each layer's output under its card);
`--compare PRESET ...` trains the preset and those others headless (their own training blocks)
and overlays the kept runs in the Training plots, as selecting them in the Runs tab does (loss on
a log axis).
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def render(preset: Path, out: Path, size: tuple[int, int] | None = None,
           select: str | None = None, zoom: float = 0.0, train: float = 0.0,
           doctor: bool = False, lr_finder: bool = False, try_epochs: int = 0,
           compare: list[Path] | None = None) -> Path:
    """Open `preset` in a fresh window (no saved settings) and save a screenshot to `out`.

    The window has its default size unless `size` is given, and shows the design as a user who
    opens it sees it; a `zoom` above that zoom shows part of it larger, around the selected node.

    With `train` > 0, press Train and take the picture after that many seconds of training
    (or when the run ends, if sooner), with the training dock and the live plots shown.
    With `doctor`, run Check design (with `lr_finder`, Find learning rate), wait for it and
    select its first finding (and that finding's node). With `try_epochs`, train that many
    epochs headless, load the run into the Try it tab and draw a 7 on its pad. With `compare`,
    train `preset` and those presets headless and overlay their kept runs in the plots.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    window = scratch_window()
    if size is not None:
        window.resize(*size)
    window.show()
    window.open_preset(preset)
    app.processEvents()
    if try_epochs:  # first: the Try it tab widens the side dock, and the canvas is framed after
        _try_it(app, window, preset, try_epochs)
    window.canvas.show_design()
    node = select or next((n for n, v in window.session.model.nodes.items()
                           if v.type not in ("Input", "Output")), None)
    if node:
        window.canvas.select_nodes([node])
    if window.canvas.zoom() < zoom:  # a long design: show part of it at a readable size
        window.canvas.resetTransform()
        window.canvas.scale(zoom, zoom)
        if node:
            window.canvas.center_on_node(node)
    if compare:
        _compare(app, window, [preset, *compare])
    if train > 0:
        _train_for(app, window, train)
    if doctor or lr_finder:
        _check(app, window, lr_finder)
    for _ in range(5):
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    window.session.undo_stack.setClean()
    window.close()  # ends a run, if one was started
    return out


def scratch_window():
    """A main window with settings and autosave in a fresh temporary folder: nothing the user
    saved (layout, recent files) changes what it shows, and it writes nothing of theirs."""
    from PySide6.QtCore import QSettings

    from .main_window import MainWindow

    scratch = Path(tempfile.mkdtemp(prefix="layerlab-scratch-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    return MainWindow(settings=settings, autosave_dir=scratch / "autosave")


def _train_for(app, window, seconds: float) -> None:
    if not window.train():
        raise SystemExit(f"cannot train: {window.training_panel.message.text()}")
    window.show_side_tab(window.training_panel)
    started = None
    while window.trainer.busy:
        app.processEvents()
        if started is None and window.trainer.current.status == "running":
            started = time.monotonic()
        if started is not None and time.monotonic() - started >= seconds:
            window.trainer.pause()  # hold the picture still while it is taken
            break
        time.sleep(0.005)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)


def _check(app, window, lr_finder: bool) -> None:
    """Run the doctor's check as the user would, wait for it, and show its first finding."""
    panel = window.doctor
    window.show_doctor()
    panel.check(lr_finder=lr_finder)
    while panel.runner.running:
        app.processEvents()
        time.sleep(0.01)
    if not panel.note.isHidden():
        raise SystemExit(panel.note.text())
    first = next((s for s in panel.shown() if s.cleared_at is None), None)
    if first is not None:
        panel.select(first.key)
        if first.finding.node:  # as a click on it does
            window.focus_node(first.finding.node)
        elif first.finding.field:
            window.focus_setting(first.finding.field)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)


def _try_it(app, window, preset: Path, epochs: int) -> None:
    """Train `preset` briefly in this process, try the run and draw a 7 as a user would."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from runtime import document
    from runtime.runs import RunWriter
    from runtime.training.trainer import Trainer

    from .try_inputs import DrawingPad

    design = document.load(preset)
    design.training = dict(design.training, epochs=epochs)
    writer = RunWriter.create(design, Path(tempfile.mkdtemp(prefix="layerlab-try-")), str(preset))
    Trainer(design, design.training, [writer], checkpoint_dir=writer.folder).fit()
    panel = window.try_panel
    if not panel.load_run(writer.folder):
        raise SystemExit(panel.header.text())
    window.show_side_tab(panel)
    pad = panel.editor
    if isinstance(pad, DrawingPad):
        pad.clear()
        h, w = pad.grid.shape
        stroke = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]  # a 7: the bar, then down to the left
        at = [QPoint(int(x * w * pad.cell), int(y * h * pad.cell)) for x, y in stroke]
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, pos=at[0])
        for start, end in zip(at, at[1:]):
            for i in range(1, 9):
                QTest.mouseMove(pad, start + (end - start) * (i / 8))
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=at[-1])
    panel.run_prediction()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)


def _compare(app, window, presets: list[Path]) -> None:
    """Train each preset headless into its runs folder under a scratch LAYERLAB_RUNS, then list
    them all in the Runs tab, select them and show the overlaid curves."""
    from PySide6.QtCore import Qt

    from runtime import document
    from runtime.runs import RunWriter, runs_root
    from runtime.training.trainer import Trainer

    os.environ["LAYERLAB_RUNS"] = tempfile.mkdtemp(prefix="layerlab-compare-")
    folders = []
    for preset in presets:
        design = document.load(preset)
        writer = RunWriter.create(design, runs_root(preset), str(preset))
        Trainer(design, design.training, [writer], base_dir=preset.parent,
                checkpoint_dir=writer.folder).fit()
        folders.append(writer.folder)
    panel = window.plots.runs
    for preset in presets:
        panel.add_root(preset)
    panel.select_folders(folders)
    window.plots.log_box.setChecked(True)  # runs' losses differ by orders of magnitude
    window.plots_dock.show()
    window.plots_dock.raise_()
    window.plots.tabs.setCurrentWidget(window.plots.overview)
    # the curves are the picture: give the plots half the window's height
    window.resizeDocks([window.plots_dock], [window.height() // 2], Qt.Orientation.Vertical)
    for _ in range(30):
        app.processEvents()
        time.sleep(0.01)


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    from .main_window import DEFAULT_PRESET

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("preset", nargs="?", default=str(DEFAULT_PRESET))
    parser.add_argument("-o", "--output", default="docs/images/designer.png")
    parser.add_argument("--select", help="node id to select (its properties are shown)")
    parser.add_argument("--train", type=float, default=0.0, metavar="SECONDS",
                        help="press Train and take the picture after this many seconds")
    parser.add_argument("--zoom", type=float, default=0.0,
                        help="smallest zoom (a design shown smaller is shown in part, larger)")
    parser.add_argument("--doctor", action="store_true",
                        help="run Check design and show its first finding in the Doctor panel")
    parser.add_argument("--lr-finder", action="store_true",
                        help="run Find learning rate and show the sweep in the Doctor panel")
    parser.add_argument("--try", dest="try_epochs", type=int, default=0, metavar="EPOCHS",
                        help="train this many epochs here, then draw a 7 in the Try it tab")
    parser.add_argument("--compare", nargs="+", type=Path, default=[], metavar="PRESET",
                        help="train the preset and these headless and overlay their runs")
    parser.add_argument("--size", type=_size, default=None, metavar="WIDTHxHEIGHT",
                        help="window size in pixels (default: the window's own, 1400x860)")
    args = parser.parse_args(argv)
    print(render(Path(args.preset), Path(args.output), size=args.size, select=args.select,
                 zoom=args.zoom, train=args.train, doctor=args.doctor,
                 lr_finder=args.lr_finder, try_epochs=args.try_epochs,
                 compare=args.compare))
    return 0


if __name__ == "__main__":
    sys.exit(main())
