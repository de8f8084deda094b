"""Benchmark: does the canvas stay responsive on big designs?

Builds a 500-node design (a chain of Linear -> ReLU -> Add blocks, each Add also fed by the block's
input: a skip connection), lays it out with `runtime.layout.auto_layout` (or on a grid when that
module is missing), opens it in a `CanvasView` offscreen and times, per event, with the event loop
run until the frame is painted:

    drag step      one mouse move of a node drag (items move, edges follow)     target < 50 ms
    drag release   the release: one session.move_nodes + the analysis it triggers  target < 50 ms
    wheel zoom     one wheel notch: at 100%, after fit_all (the whole chain, or as much
                   of it as the smallest zoom shows), and with the design on a grid
                   at 55% (~140 cards drawn with their text)                    target < 50 ms
    param edit     session.set_param + events until the analysis is shown        target < 50 ms
    open 1,000     session.replace_model of a 1,000-node design + first paint    target < 2 s

Then, at scale (`--scale`, default 5,000 nodes), for three shapes — a plain chain, the skip chain
and a wide design of 50-input Adds (each fed by 50 parallel branches) — it times opening the
design with its first paint (target < 2 s) and the steps of dragging a node (the first branch
into a 50-input Add for the wide design, a middle node otherwise; target < 16 ms a step, one
frame at 60 Hz), and the overview map's picture of the design (target < 100 ms).

Like the app should at start-up, it calls `gc.freeze()` once the design is open: otherwise a full
collection of the (torch-sized) heap, about every thousand edits, adds 100-150 ms to one event
(`--no-freeze` shows it).

This is a report, not a test: it prints PASS/FAIL per target and always exits 0.

Usage: python benchmarks/canvas_speed.py [--nodes 500] [--repeat 30] [--scale 5000] [--fan 50]
                                         [--no-freeze]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QTransform, QWheelEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from designer import style  # noqa: E402
from designer.canvas import CanvasView  # noqa: E402
from designer.session import DesignSession  # noqa: E402
from runtime.graph import GraphModel  # noqa: E402
from scale_designs import SHAPES  # noqa: E402

EVENT_TARGET_MS = 50.0
OPEN_TARGET_MS = 2000.0
#: One frame at 60 Hz: a drag step at scale.
FRAME_TARGET_MS = 16.0
#: The overview map's picture, drawn once after the design settles: no noticeable pause.
MAP_TARGET_MS = 100.0


def skip_chain(n_nodes: int) -> GraphModel:
    """Input -> [Linear -> ReLU -> Add(+ block input)] * k -> Output, about `n_nodes` nodes."""
    m = GraphModel(name=f"{n_nodes}-node skip chain")
    m.add_node("Input", {"shape": [64]}, node_id="x")
    prev = "x"
    block = 0
    while len(m.nodes) + 3 < n_nodes:
        block += 1
        fc, act, add = f"fc{block}", f"act{block}", f"add{block}"
        m.add_node("Linear", {"out_features": 64}, node_id=fc)
        m.add_node("ReLU", {}, node_id=act)
        m.add_node("Add", {}, node_id=add)
        m.connect(prev, fc)
        m.connect(fc, act)
        m.connect(act, add)
        m.connect(prev, add)
        prev = add
    while len(m.nodes) < n_nodes - 1:
        node = m.add_node("Dropout", {}, node_id=f"drop{len(m.nodes)}")
        m.connect(prev, node.id)
        prev = node.id
    m.add_node("Output", {}, node_id="out")
    m.connect(prev, "out")
    lay_out(m)
    return m


def lay_out(model: GraphModel) -> None:
    try:
        from runtime.layout import auto_layout
    except ImportError:
        columns = 25
        positions = {node_id: ((i % columns) * style.LAYOUT_X_GAP,
                               (i // columns) * style.LAYOUT_Y_GAP)
                     for i, node_id in enumerate(model.nodes)}
    else:
        positions = auto_layout(model, x_gap=style.LAYOUT_X_GAP, y_gap=style.LAYOUT_Y_GAP)
    for node_id, pos in positions.items():
        model.move(node_id, pos)


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def flush(app: QApplication) -> None:
    """Run the event loop until nothing is pending (the posted repaint included)."""
    app.processEvents()
    app.processEvents()


def report(name: str, samples: list[float], target: float) -> None:
    mean, worst = statistics.fmean(samples), max(samples)
    verdict = "PASS" if worst < target else "FAIL"
    print(f"{name:<46} mean {mean:8.1f} ms   max {worst:8.1f} ms   target < {target:.0f} ms"
          f"   {verdict}")


def wheel(view: CanvasView, pos: QPoint, delta: int) -> None:
    event = QWheelEvent(QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0),
                        QPoint(0, delta), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--scale", type=int, default=5000,
                        help="nodes of the chain, skip and wide designs timed at scale (0: skip)")
    parser.add_argument("--fan", type=int, default=50, help="inputs of each Add, wide design")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the cyclic garbage collector's full passes in the timings")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])

    session = DesignSession()
    view = CanvasView(session)
    view.resize(1400, 900)
    view.show()
    QTest.qWaitForWindowExposed(view)
    model = skip_chain(args.nodes)
    session.replace_model(model)
    flush(app)
    if not args.no_freeze:
        gc.collect()
        gc.freeze()
    print(f"design: {len(model.nodes)} nodes, {len(model.edges)} edges; view 1400x900 offscreen; "
          f"{args.repeat} samples per event\n")

    # --- dragging one node at 100% zoom in the middle of the chain ---------------------------
    middle = list(model.nodes)[len(model.nodes) // 2]
    view.setTransform(QTransform())
    view.center_on_node(middle)
    flush(app)
    item = view.canvas.node_items[middle]
    viewport = view.viewport()
    steps, releases = [], []
    for round_ in range(max(3, args.repeat // 10)):
        start = view.mapFromScene(item.pos() + QPointF(60, 12))
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         start)
        flush(app)
        for i in range(1, 11):
            t = time.perf_counter()
            QTest.mouseMove(viewport, start + QPoint(3 * i, 2 * i * (1 if round_ % 2 else -1)))
            flush(app)
            steps.append(ms_since(t))
        t = time.perf_counter()
        # a move changes no shapes, so the session publishes no new analysis for it
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           start + QPoint(30, 20 * (1 if round_ % 2 else -1)))
        flush(app)
        releases.append(ms_since(t))
    assert session.undo_stack.count() == len(releases), "one undo step per drag"
    report("drag step (item move + repaint)", steps, EVENT_TARGET_MS)
    report("drag release (one move command)", releases, EVENT_TARGET_MS)

    # --- wheel zoom -----------------------------------------------------------------------
    cursor = viewport.rect().center()

    def at_100() -> None:
        view.setTransform(QTransform())
        view.center_on_node(middle)

    def dense() -> None:
        # the same design on a 25-column grid at 55%: many cards in view, all drawn with text
        session.move_nodes({n: (node.pos, ((i % 25) * style.LAYOUT_X_GAP,
                                           (i // 25) * style.LAYOUT_Y_GAP))
                            for i, (n, node) in enumerate(model.nodes.items())}, "Grid")
        view.setTransform(QTransform.fromScale(0.55, 0.55))
        view.centerOn(QPointF(12 * style.LAYOUT_X_GAP, 10 * style.LAYOUT_Y_GAP))

    def cards_in_view() -> int:
        area = view.mapToScene(viewport.rect()).boundingRect()
        return sum(area.intersects(i.sceneBoundingRect()) for i in view.canvas.node_items.values())

    for label, setup in (("wheel zoom step at 100%", at_100),
                         ("wheel zoom step after fit_all", view.fit_all),
                         ("wheel zoom step, dense grid at 55%", dense)):
        setup()
        flush(app)
        label += f" ({cards_in_view()} cards)"
        samples = []
        for i in range(args.repeat):
            t = time.perf_counter()
            wheel(view, cursor, 120 if i % 2 == 0 else -120)
            flush(app)
            samples.append(ms_since(t))
        report(label, samples, EVENT_TARGET_MS)
    session.undo_stack.undo()  # back to the auto-layout

    # --- a parameter edit that changes shapes downstream ----------------------------------
    view.setTransform(QTransform())
    view.center_on_node(middle)
    flush(app)
    fc = next(n for n in list(model.nodes)[len(model.nodes) // 2:] if n.startswith("fc"))
    samples = []
    for i in range(args.repeat):
        published = []
        session.analysis_changed.connect(published.append)
        t = time.perf_counter()
        session.set_param(fc, "out_features", 65 if i % 2 == 0 else 64)
        while not published:
            app.processEvents()
        flush(app)
        samples.append(ms_since(t))
        session.analysis_changed.disconnect(published.append)
    report("param edit (shapes downstream)", samples, EVENT_TARGET_MS)

    # --- opening a 1,000-node design ------------------------------------------------------
    big_samples = []
    for _ in range(3):
        big_view, opened = open_and_paint(app, skip_chain(2 * args.nodes))
        big_samples.append(opened)
        big_view.close()
        big_view.deleteLater()
        flush(app)
    report(f"open {2 * args.nodes:,}-node design + first paint", big_samples, OPEN_TARGET_MS)
    if args.scale:
        print()
        at_scale(app, args.scale, args.fan)
    return 0


def open_and_paint(app: QApplication, model: GraphModel) -> tuple[CanvasView, float]:
    session = DesignSession()
    view = CanvasView(session)
    view.resize(1400, 900)
    view.show()
    QTest.qWaitForWindowExposed(view)
    flush(app)
    t = time.perf_counter()
    session.replace_model(model)
    view.viewport().repaint()
    flush(app)
    return view, ms_since(t)


def drag_steps(app: QApplication, view: CanvasView, node_id: str, steps: int = 20) -> list[float]:
    view.setTransform(QTransform())
    view.center_on_node(node_id)
    flush(app)
    viewport = view.viewport()
    start = view.mapFromScene(view.canvas.node_items[node_id].pos() + QPointF(60, 12))
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    flush(app)
    samples = []
    for i in range(1, steps + 1):
        t = time.perf_counter()
        QTest.mouseMove(viewport, start + QPoint(3 * i, 2 * i))
        flush(app)
        samples.append(ms_since(t))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(3 * steps, 2 * steps))
    flush(app)
    return samples


def at_scale(app: QApplication, nodes: int, fan: int) -> None:
    """Open and drag on chain, skip and wide designs of `nodes` nodes."""
    for name, build in SHAPES.items():
        model = build(nodes, fan)
        lay_out(model)
        view, opened = open_and_paint(app, model)
        if name == "wide":  # the first branch into a fan-input Add
            name = f"wide ({fan}-input Adds)"
            node_id = next(n for n, node in model.nodes.items() if node.type == "ReLU")
        else:
            node_id = list(model.nodes)[len(model.nodes) // 2]
        report(f"{name}: open {len(model.nodes):,} nodes + first paint", [opened],
               OPEN_TARGET_MS)
        # the overview map draws its picture once, a moment after the design opened (and
        # after each edit): timed on its own, so that it does not land in a drag step
        start = time.perf_counter()
        view.overview_map.refresh()
        report(f"{name}: overview map picture", [ms_since(start)], MAP_TARGET_MS)
        report(f"{name}: drag step", drag_steps(app, view, node_id), FRAME_TARGET_MS)
        view.close()
        view.deleteLater()
        flush(app)


if __name__ == "__main__":
    sys.exit(main())
