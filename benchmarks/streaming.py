"""Streaming an image folder from disk against the same kind of images held in memory.

Generates a folder of 50,000 small PNG pictures (10 classes, 28 x 28 grey; kept between runs
under --folder), then trains one small CNN on it:

- **stream**: the whole folder, `dataset.loading: stream`, the images decoded by DataLoader
  worker processes a few batches ahead (`--workers`; 'auto' is the cores less one, at most 4);
- **stream, no workers**: the same, read in the training process (what workers save);
- **memory**: a subset that fits (`--subset` images per class), read once up front and then
  indexed in memory: the fastest path, the ceiling for streaming.

Throughput is training samples per second from the run's first batch to its end (validation
included, as in any run), medians of `--repeat` runs; the in-memory run's up-front read is
printed on its own. Streaming is at its ceiling when decoding a batch on the workers takes less
time than training it; on a 2-core machine the one worker shares the cores with training.

Usage: python benchmarks/streaming.py [--images 50000] [--subset 500] [--workers auto]
                                      [--epochs 1] [--repeat 1] [--folder DIR]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from runtime.graph import GraphModel  # noqa: E402
from runtime.training import Trainer  # noqa: E402
from runtime.training.callbacks import Callback  # noqa: E402
from runtime.training.events import FitEnd, FitStart  # noqa: E402

CLASSES = 10
SIDE = 28


def make_folder(root: Path, images: int) -> Path:
    """`images` pictures in CLASSES sub-folders: noise with a bright bar whose place is the
    class, so the network has something to learn. Reused when already complete."""
    from PIL import Image

    per_class = images // CLASSES
    marker = root / f".complete-{per_class}"
    if marker.exists():
        return root
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for c in range(CLASSES):
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = (rng.random((SIDE, SIDE)) * 100).astype(np.uint8)
            pixels[2 * c + 4:2 * c + 7, 4:24] += 150
            Image.fromarray(pixels).save(folder / f"{i:05}.png")
    marker.touch()
    print(f"generated {per_class * CLASSES:,} images in {time.perf_counter() - started:.0f} s "
          f"under {root}")
    return root


def subset_folder(root: Path, per_class: int) -> Path:
    """The first `per_class` images of each class, linked into a folder of their own."""
    sub = root.parent / f"{root.name}-first{per_class}"
    for c in range(CLASSES):
        (sub / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            link = sub / f"class{c}" / f"{i:05}.png"
            if not link.exists():
                os.link(root / f"class{c}" / f"{i:05}.png", link)
    return sub


def cnn(folder: Path, loading: str, workers: int | str, epochs: int) -> GraphModel:
    m = GraphModel(name="stream CNN")
    nodes = [("Input", {"shape": [1, SIDE, SIDE]}, "x"),
             ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "same"}, "conv1"),
             ("ReLU", {}, "relu1"), ("MaxPool2d", {"kernel_size": 2}, "pool1"),
             ("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": "same"}, "conv2"),
             ("ReLU", {}, "relu2"), ("MaxPool2d", {"kernel_size": 2}, "pool2"),
             ("Flatten", {}, "flat"), ("Linear", {"out_features": CLASSES}, "fc"),
             ("Output", {}, "out")]
    for kind, params, node in nodes:
        m.add_node(kind, params, node_id=node)
    for (_, _, a), (_, _, b) in zip(nodes, nodes[1:]):
        m.connect(a, b)
    m.training = {"dataset": {"name": "image_folder",
                              "params": {"path": str(folder), "size": [SIDE, SIDE]},
                              "validation_split": 0.02, "loading": loading,
                              "workers": workers},
                  "epochs": epochs, "batch_size": 128, "seed": 0,
                  "optimizer": {"name": "adam", "lr": 0.002},
                  "monitoring": {"every": "off"}}
    return m


class _Clock(Callback):
    def __init__(self):
        self.created = time.perf_counter()
        self.start = self.end = None
        self.samples = 0
        self.data = ""
        self.accuracy = None

    def on_event(self, trainer, event):
        if isinstance(event, FitStart):
            self.start = time.perf_counter()
            self.samples = event.train_samples * (event.epochs - event.start_epoch + 1)
            self.data = event.data
        elif isinstance(event, FitEnd):
            self.end = time.perf_counter()
            self.accuracy = (event.final or {}).get("val_accuracy")


def run(folder: Path, loading: str, workers: int | str, epochs: int) -> _Clock:
    clock = _Clock()
    Trainer(cnn(folder, loading, workers, epochs), callbacks=[clock]).fit()
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--subset", type=int, default=500, help="images per class in memory")
    parser.add_argument("--workers", default="auto")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--folder", type=Path,
                        default=Path(tempfile.gettempdir()) / "layerlab-stream-bench")
    args = parser.parse_args()
    workers = args.workers if args.workers == "auto" else int(args.workers)
    root = make_folder(args.folder, args.images)
    sub = subset_folder(root, args.subset)

    cases = [(f"stream ({args.images:,} images)", root, "stream", workers),
             (f"stream, no workers ({args.images:,})", root, "stream", 0),
             (f"memory ({args.subset * CLASSES:,} images)", sub, "memory", workers)]
    run(sub, "memory", 0, 1)  # warm-up: imports and first-call costs outside the timings
    rates: dict[str, list[float]] = {name: [] for name, *_ in cases}
    notes: dict[str, str] = {}
    for _ in range(args.repeat):
        for name, folder, loading, count in cases:
            clock = run(folder, loading, count, args.epochs)
            rates[name].append(clock.samples / (clock.end - clock.start))
            setup = clock.start - clock.created
            notes[name] = (f"{clock.data}; set-up (listing, reading) {setup:.1f} s; "
                           f"val_accuracy {clock.accuracy:.3f}")
    print(f"\n{'path':<34} {'samples/s':>10}   notes")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in medians.items():
        print(f"{name:<34} {rate:>10,.0f}   {notes[name]}")
    stream, bare, memory = medians.values()
    print(f"\nstreaming / in memory: {stream / memory:.2f}   "
          f"(workers / reading in the training process: {stream / bare:.2f}x)   "
          f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
