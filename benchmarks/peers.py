"""Benchmark: LayerLab's trainer beside PyTorch Lightning and Keras 3 (torch backend) (#16 item 4).

The three networks of `training_speed.py` (an MLP on `spirals`, a small CNN on `shapes`, an LSTM
on `adding_problem`), the same data, batch size, Adam (lr 1e-3) and loss, trained on the CPU with
the trainer's thread count, each framework as its documentation shows it:

  * LayerLab      `Trainer(design, training).fit()` with monitoring off and with the default
                  'auto' (its fused Adam kernel, as a user gets it)
  * hand loop     the minimal PyTorch loop of `training_speed.py` (index batches, torch's
                  default Adam): the yardstick, ratio 1.00
  * Lightning     a `LightningModule` around the same hand-written network, a `DataLoader` of a
                  `TensorDataset` (shuffled), `Trainer(logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False)`: its fastest settings
  * Keras 3       the same layers in `keras.Sequential` on the torch backend, `model.fit(x, y,
                  batch_size, epochs, verbose=0)`

Only training epochs are timed (each framework's epoch-start and epoch-end hooks; no
validation), epoch 1 (warm-up) left out; each figure is the median steps/s of epochs 2..E over
the repeats, the frameworks taking turns so a slow phase of the machine hits all alike. Ratios are
to the hand loop. Lightning and Keras are optional (`pip install -e ".[peers]"`): a missing one is
skipped with a message. This is a report, not a test: it always exits 0.

Usage: python benchmarks/peers.py [--repeats N] [--epochs N] [--design mlp|cnn|lstm ...]
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from typing import Callable

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported, if it is
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from training_speed import (CASES, LR, SEED, Case, HandLoop, case_data,  # noqa: E402
                            training_block)
from runtime.training import Callback, Trainer, parse_training  # noqa: E402
from runtime.training.trainer import cpu_threads  # noqa: E402

Epochs = list[float]  # seconds of each timed epoch


class _EpochClock(Callback):
    """LayerLab: times each epoch's training steps (validation excluded)."""

    def __init__(self) -> None:
        self.seconds: Epochs = []
        self.spe = 0
        self.start = 0.0

    def on_fit_start(self, trainer, event):
        self.spe = event.steps_per_epoch

    def on_epoch_start(self, trainer, epoch):
        self.start = time.perf_counter()

    def on_batch_end(self, trainer, step):
        if step % self.spe == 0:
            self.seconds.append(time.perf_counter() - self.start)


def layerlab(case: Case, design, dataset, data: dict, epochs: int, monitoring: str) -> Epochs:
    clock = _EpochClock()
    end = Trainer(design, training_block(case, monitoring, epochs), callbacks=[clock],
                  dataset=dataset).fit()
    if end.status != "completed":
        raise RuntimeError(f"LayerLab fit ended {end.status}: {end.message}")
    return clock.seconds


def hand(case: Case, design, dataset, data: dict, epochs: int) -> Epochs:
    loop = HandLoop(case, design, data, loader=False)
    for _ in range(epochs):
        loop.epoch()
    return [wall for wall, _, _ in loop.epochs]


def lightning(case: Case, design, dataset, data: dict, epochs: int) -> Epochs:
    import warnings

    import lightning as L

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # its tips and notices
    warnings.filterwarnings("ignore", module="lightning")

    from training_speed import hand_model

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = hand_model(case, design)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return case.loss(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=LR)

    class Clock(L.Callback):
        def __init__(self):
            self.seconds: Epochs = []

        def on_train_epoch_start(self, trainer, module):
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.seconds.append(time.perf_counter() - self.start)

    idx = data["train_idx"]
    loader = DataLoader(TensorDataset(data["x"][idx], data["y"][idx]),
                        batch_size=data["batch_size"], shuffle=True)
    clock = Clock()
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[clock], num_sanity_val_steps=0)
    threads = torch.get_num_threads()
    trainer.fit(Module(), loader)
    torch.set_num_threads(threads)  # Lightning may change it
    return clock.seconds


def keras_model(case: Case):
    import keras
    from keras import layers

    if case.key == "mlp":
        return keras.Sequential([keras.Input((2,)), layers.Dense(64, activation="relu"),
                                 layers.Dense(64, activation="relu"), layers.Dense(2)])
    if case.key == "cnn":
        return keras.Sequential([
            keras.Input((28, 28, 1)), layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2), layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3)])
    return keras.Sequential([keras.Input((50, 2)), layers.LSTM(32), layers.Dense(1)])


def keras_fit(case: Case, design, dataset, data: dict, epochs: int) -> Epochs:
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: Epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    keras.utils.set_random_seed(SEED)
    model = keras_model(case)
    classify = case.key != "lstm"
    model.compile(optimizer=keras.optimizers.Adam(LR),
                  loss=(keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                        if classify else "mse"))
    idx = data["train_idx"]
    x, y = data["x"][idx].numpy(), data["y"][idx].numpy()
    if case.key == "cnn":
        x = x.transpose(0, 2, 3, 1)  # Keras's default channels-last layout
    if not classify:
        y = y.reshape(-1, 1)
    clock = Clock()
    model.fit(x, y, batch_size=data["batch_size"], epochs=epochs, shuffle=True, verbose=0,
              callbacks=[clock])
    return clock.seconds


def available(module: str) -> str | None:
    """None when `module` imports, else why not (the benchmark then skips it)."""
    try:
        __import__(module)
    except ImportError as err:
        return f"{module} is not installed ({err}); pip install -e \".[peers]\" to compare with it"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit, the first untimed")
    parser.add_argument("--design", choices=[c.key for c in CASES], action="append")
    args = parser.parse_args(argv)
    epochs = max(2, args.epochs)
    threads = cpu_threads(parse_training({})["threads"])
    torch.set_num_threads(threads)
    runners: dict[str, Callable[..., Epochs]] = {
        "LayerLab, monitoring off": lambda *a: layerlab(*a, monitoring="off"),
        "LayerLab, monitoring auto": lambda *a: layerlab(*a, monitoring="auto"),
        "hand loop": hand}
    for name, module, runner in (("Lightning", "lightning", lightning),
                                 ("Keras 3 (torch backend)", "keras", keras_fit)):
        why = available(module)
        if why:
            print(f"skipped {name}: {why}")
        else:
            runners[name] = runner
    print(f"peers: torch {torch.__version__}, {threads} torch thread(s), {os.cpu_count()} CPUs, "
          f"{args.repeats} fit(s) per framework, {epochs} epochs each (epoch 1 untimed); "
          "steps/s of training epochs, ratio to the hand loop")
    for case in [c for c in CASES if not args.design or c.key in args.design]:
        design = case.design()
        design.training = training_block(case, "off", epochs)
        dataset, data = case_data(case)
        rates: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        for r in range(args.repeats):
            for name in names[r % len(names):] + names[:r % len(names)]:
                torch.manual_seed(SEED)
                seconds = runners[name](case, design, dataset, data, epochs)[1:]
                rates[name] += [data["steps"] / s for s in seconds]
                torch.set_num_threads(threads)
        base = statistics.median(rates["hand loop"])
        print(f"\n[{case.name}] {data['steps']} steps per epoch")
        for name, values in rates.items():
            median = statistics.median(values)
            print(f"  {name:<28} {median:9.1f} steps/s   ratio {median / base:5.2f}")
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
