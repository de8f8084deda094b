"""Benchmark: does the Trainer train as fast as a minimal hand-written PyTorch loop?

For three designs built with the `GraphModel` API (an MLP on `spirals`, a small CNN on `shapes`,
an LSTM on `adding_problem`) this compares, in steps per second:

  * the trainer   `Trainer(design, training_block).fit()`, with `"monitoring": {"every": "off"}`
                  and with the default `"every": "auto"` (two separate fits)
  * a hand loop   the same network written as an `nn.Module` that starts from the compiled
                  model's weights (`load_state_dict`, strict), the same data tensors, train /
                  validation split, batch size, Adam settings and loss; each epoch a shuffled
                  index permutation, then per step `x[idx]`, `y[idx]`, zero_grad, forward, loss,
                  backward, step and `loss.item()`, as a typical loop does
  * the hand loop fed by a per-sample `DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`
                  instead of index batches (what the trainer's tensor indexing saves)

Interleaving. Machines are shared, so the loops alternate epoch by epoch inside each trainer fit:
a callback of the fit runs one epoch of each hand-written loop (each keeps its own model, optimiser
and batch order from epoch to epoch) just before the trainer's epoch on odd epochs and just after
its validation on even epochs, so each trainer epoch has its hand-written twin right next to it
(order A B, B A, ...). Each fit is fresh (same seed: the trainer and the index loop see the same
weights and batches, and their epoch-1 training losses are printed as a check); the "off" and
"auto" fits alternate over several repeats.

What is timed. Only training steps: the callback stamps the clocks in `on_epoch_start` and in
`on_batch_end` of the epoch's last step, so the trainer's validation pass (and the epoch event,
`on_validation_end`) is outside the window; the hand loops run an untimed validation pass after
each epoch too. Epoch 1 (warm-up, and the trainer's first monitoring sample) is left out.

    ratio = median over the epoch pairs (epochs 2..E of every fit) of
            trainer steps/s / steps/s of its hand-loop twin
    targets: ratio >= 0.97 with monitoring off, >= 0.93 with monitoring "auto", for each design

The hand loop uses torch's defaults, as a typical loop does: on the CPU that is Adam's per-tensor
loop, while the trainer asks for torch's fused Adam kernel (`runtime.training.optimizers`). A third
loop, the same hand loop with `fused=True`, is printed beside it: the trainer against that one is
its own overhead alone, the figure to watch when changing the engine.

The verdict uses the paired ratio because the load on a shared machine comes in phases that slow
everything by up to ~1.5x for seconds at a time: the ratio of the two medians (also printed) then
depends on how many epochs of each loop fell into a slow phase, while each pair is measured back to
back. The A/A control (a second, identical hand loop against the first) shows the noise floor of
both: its paired ratio should be ~1.00.

Each window records wall-clock and process CPU time. The verdict uses CPU time by default
(`--clock wall` to change): with torch on one thread CPU time is the work the loop does and leaves
out the time other processes hold the cores. torch threads follow
`runtime.training.trainer.cpu_threads` (the trainer's "auto": 1 on a 2-core machine); the hand
loops run inside the fit, so they use exactly the trainer's setting.

The trainer runs with the design's usual settings: the default metric (accuracy) for the two
classifiers and `["mae"]` for the LSTM (the default, accuracy, does not apply to regression); the
hand loop computes no metric, as the minimal loop it stands for, so the trainer's metric work
counts against it (the breakdown below shows how much).

When a target is missed (or with --profile) the step is taken apart on one batch: the trainer's own
`_step` is timed with one part switched off at a time (a stub metric accumulator, no parameters for
the gradient norm, the torch loss called directly, `torch.autocast` replaced by a null context; the
engine's code is patched only inside this measurement), interleaved with the full `_step`, the
hand-written step and `_train_epoch` with `_step` stubbed out; then a cProfile of a trainer fit is
printed next to one of the hand loop. This is a report, not a test: it always exits 0.

Usage: python benchmarks/training_speed.py [--quick] [--repeats N] [--epochs N]
                                           [--clock cpu|wall] [--no-control] [--profile]
                                           [--design mlp|cnn|lstm ...]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import os
import pstats
import re
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
ROOT += os.sep

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from runtime.compile import compile_model  # noqa: E402
from runtime.data import load_dataset, split  # noqa: E402
from runtime.graph import GraphModel  # noqa: E402
from runtime.training import Callback, Trainer, parse_training  # noqa: E402
from runtime.training.events import EpochEnd, Monitor  # noqa: E402
from runtime.training.monitor import MonitorSample  # noqa: E402
from runtime.training.metrics import MetricAccumulator  # noqa: E402
from runtime.training.trainer import cpu_threads  # noqa: E402

TARGETS = {"off": 0.97, "auto": 0.93}  # issue #16 (#10 asked 0.95 / 0.90)
CLOCKS = {"cpu": "process CPU time: excludes time other processes hold the cores, steadiest on a "
                 "shared machine",
          "wall": "wall-clock time: what a user waits, noisy when other processes run"}
SEED = 0
LR = 0.001


# --- designs (GraphModel API) -----------------------------------------------------------------
def _chain(model: GraphModel) -> None:
    ids = list(model.nodes)
    for src, dst in zip(ids, ids[1:]):
        model.connect(src, dst)


def mlp_design() -> GraphModel:
    m = GraphModel(name="Bench spiral MLP")
    m.add_node("Input", {"shape": [2]}, node_id="x")
    m.add_node("Linear", {"out_features": 64}, node_id="fc1")
    m.add_node("ReLU", node_id="relu1")
    m.add_node("Linear", {"out_features": 64}, node_id="fc2")
    m.add_node("ReLU", node_id="relu2")
    m.add_node("Linear", {"out_features": 2}, node_id="fc3")
    m.add_node("Output", node_id="out")
    _chain(m)
    return m


def cnn_design() -> GraphModel:
    m = GraphModel(name="Bench shapes CNN")
    m.add_node("Input", {"shape": [1, 28, 28]}, node_id="image")
    m.add_node("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, node_id="conv1")
    m.add_node("ReLU", node_id="relu1")
    m.add_node("MaxPool2d", {"kernel_size": 2}, node_id="pool1")
    m.add_node("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, node_id="conv2")
    m.add_node("ReLU", node_id="relu2")
    m.add_node("MaxPool2d", {"kernel_size": 2}, node_id="pool2")
    m.add_node("Flatten", node_id="flat")
    m.add_node("Linear", {"out_features": 3}, node_id="fc")
    m.add_node("Output", node_id="out")
    _chain(m)
    return m


def lstm_design() -> GraphModel:
    m = GraphModel(name="Bench adding LSTM")
    m.add_node("Input", {"shape": [50, 2]}, node_id="seq")
    m.add_node("LSTM", {"hidden_size": 32, "return_sequences": False}, node_id="lstm")
    m.add_node("Linear", {"out_features": 1}, node_id="head")
    m.add_node("Output", node_id="out")
    _chain(m)
    return m


# --- the same networks by hand (attribute names = node ids, so state_dicts match) ---------------
class HandMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 64)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(64, 64)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(64, 2)

    def forward(self, x):
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x)))))


class HandCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(16 * 7 * 7, 3)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flat(x))


class HandLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


@dataclass
class Case:
    key: str
    name: str
    design: Callable[[], GraphModel]
    hand: Callable[[], nn.Module]
    training: dict  # the design's training block (monitoring and epochs are set per fit)
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # the hand loop's loss


CASES = [
    Case("mlp", "MLP 2-64-64-2, spirals 8,000 samples, batch 64", mlp_design, HandMLP,
         {"dataset": {"name": "spirals", "params": {"n_samples": 8000}, "validation_split": 0.2},
          "loss": "cross_entropy", "metrics": ["accuracy"], "batch_size": 64},
         F.cross_entropy),
    Case("cnn", "CNN conv8-pool-conv16-pool-linear, shapes 1x28x28 2,000, batch 64", cnn_design,
         HandCNN,
         {"dataset": {"name": "shapes", "params": {"n_samples": 2000, "size": 28},
                      "validation_split": 0.2},
          "loss": "cross_entropy", "metrics": ["accuracy"], "batch_size": 64},
         F.cross_entropy),
    Case("lstm", "LSTM 32 last step + Linear 1, adding_problem 50x2 3,000, batch 64", lstm_design,
         HandLSTM,
         {"dataset": {"name": "adding_problem", "params": {"n_samples": 3000, "seq_len": 50},
                      "validation_split": 0.2},
          "loss": "mse", "metrics": ["mae"], "batch_size": 64},
         F.mse_loss),
]


def training_block(case: Case, monitoring: str, epochs: int) -> dict:
    """The training block of a fit (device cpu: the hand loops run on the CPU too)."""
    return {**case.training, "epochs": epochs, "seed": SEED, "device": "cpu", "threads": "auto",
            "optimizer": {"name": "adam", "lr": LR, "betas": [0.9, 0.999]},
            "monitoring": {"every": monitoring}}


# --- the hand-written loops -------------------------------------------------------------------
def hand_model(case: Case, design: GraphModel) -> nn.Module:
    """The hand-written network with the weights the trainer's compiled model starts from."""
    torch.manual_seed(SEED)  # the trainer seeds, then compiles: the same initial weights
    compiled = compile_model(design)
    model = case.hand()
    model.load_state_dict(compiled.state_dict(), strict=True)
    return model


class HandLoop:
    """A minimal hand-written training loop, run one epoch at a time; `epochs` holds
    (wall s, cpu s, steps) of each epoch's training steps."""

    def __init__(self, case: Case, design: GraphModel, data: dict, loader: bool,
                 fused: bool = False):
        self.model = hand_model(case, design)
        # torch's default Adam on CPU is the per-tensor loop; `fused` is the kernel the trainer
        # picks (runtime.training.optimizers), so that twin measures the trainer's own overhead
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, betas=(0.9, 0.999),
                                    fused=fused or None)
        self.loss_fn, self.bs = case.loss, data["batch_size"]
        self.x, self.y = data["x"], data["y"]
        self.train_idx, self.val_idx = data["train_idx"], data["val_idx"]
        self.gen = torch.Generator().manual_seed(SEED)  # the trainer's batch order
        self.loader = (DataLoader(TensorDataset(self.x[self.train_idx], self.y[self.train_idx]),
                                  batch_size=self.bs, shuffle=True) if loader else None)
        self.epochs: list[tuple[float, float, int]] = []
        self.first_loss = math.nan

    def epoch(self) -> None:
        model, opt, loss_fn, bs, x, y = self.model, self.opt, self.loss_fn, self.bs, self.x, self.y
        n = len(self.train_idx)
        total, steps = 0.0, 0
        model.train()
        wall, cpu = time.perf_counter(), time.process_time()
        if self.loader is not None:
            for xb, yb in self.loader:
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item() * len(yb)
                steps += 1
        else:
            order = self.train_idx[torch.randperm(n, generator=self.gen)]
            for i in range(math.ceil(n / bs)):
                idx = order[i * bs:(i + 1) * bs]
                xb, yb = x[idx], y[idx]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                steps += 1
        self.epochs.append((time.perf_counter() - wall, time.process_time() - cpu, steps))
        if len(self.epochs) == 1:
            self.first_loss = total / n
        model.eval()  # untimed validation, as the trainer does between its windows
        with torch.no_grad():
            for start in range(0, len(self.val_idx), 1024):
                idx = self.val_idx[start:start + 1024]
                loss_fn(model(x[idx]), y[idx]).item()


class Host(Callback):
    """Times the trainer's training steps per epoch and runs the hand loops' epochs beside them:
    before the trainer's epoch on odd epochs, after its validation on even ones."""

    def __init__(self, loops: dict[str, HandLoop]):
        self.loops = loops
        self.epochs: list[tuple[float, float, int]] = []
        self.samples = 0  # monitoring samples in epochs 2..E
        self.first_loss = math.nan
        self.spe = 0
        self.epoch = 0
        self.start = (0.0, 0.0)

    def _run_loops(self) -> None:
        names = list(self.loops)
        k = self.epoch % len(names)
        for name in names[k:] + names[:k]:
            self.loops[name].epoch()

    def on_fit_start(self, trainer, event):
        self.spe = event.steps_per_epoch

    def on_epoch_start(self, trainer, epoch):
        self.epoch = epoch
        if epoch % 2 == 1:
            self._run_loops()
        self.start = (time.perf_counter(), time.process_time())

    def on_batch_end(self, trainer, step):
        if step % self.spe == 0:
            wall, cpu = time.perf_counter(), time.process_time()
            self.epochs.append((wall - self.start[0], cpu - self.start[1], self.spe))

    def on_validation_end(self, trainer, metrics):
        if self.epoch % 2 == 0:
            self._run_loops()

    def on_event(self, trainer, event):
        if isinstance(event, Monitor) and self.epoch > 1:
            self.samples += 1
        elif isinstance(event, EpochEnd) and event.epoch == 1:
            self.first_loss = event.train_loss


# --- measurement ------------------------------------------------------------------------------
def case_data(case: Case) -> tuple:
    """The dataset, loaded once: the trainer (`dataset=`) and the hand loops share its tensors."""
    cfg = parse_training(training_block(case, "off", 2))
    ds = load_dataset(cfg.dataset, seed=SEED)
    train_idx, val_idx = split(ds, cfg.dataset["validation_split"], SEED)
    n = len(train_idx)
    bs = min(cfg["batch_size"], n)
    return ds, {"x": ds.x, "y": ds.y, "train_idx": train_idx, "val_idx": val_idx,
                "batch_size": bs, "n_train": n, "steps": math.ceil(n / bs)}


def check_equivalent(case: Case, design: GraphModel, data: dict) -> float:
    """Max |output difference| of the compiled and the hand-written model on one batch."""
    torch.manual_seed(SEED)
    compiled = compile_model(design)
    hand = hand_model(case, design)
    xb = data["x"][data["train_idx"][:data["batch_size"]]]
    with torch.no_grad():
        return (compiled(xb) - hand(xb)).abs().max().item()


def fit(case: Case, design: GraphModel, dataset, data: dict, monitoring: str, epochs: int,
        loops: tuple[str, ...]) -> dict:
    """One trainer fit with the hand loops `loops` interleaved; per-epoch records of each."""
    makers = {"hand": lambda: HandLoop(case, design, data, loader=False),
              "twin": lambda: HandLoop(case, design, data, loader=False),
              "fused": lambda: HandLoop(case, design, data, loader=False, fused=True),
              "loader": lambda: HandLoop(case, design, data, loader=True)}
    hand_loops = {name: makers[name]() for name in loops}
    host = Host(hand_loops)
    trainer = Trainer(design, training_block(case, monitoring, epochs), callbacks=[host],
                      dataset=dataset)
    end = trainer.fit()
    if end.status != "completed":
        raise RuntimeError(f"trainer fit ended {end.status}: {end.message}")
    return {"trainer": host.epochs[1:], "samples": host.samples, "first_loss": host.first_loss,
            "every": None if monitoring == "off" else trainer.monitor_schedule.every,
            **{name: loop.epochs[1:] for name, loop in hand_loops.items()},
            "hand_first_loss": hand_loops["hand"].first_loss}


def measure_case(case: Case, repeats: int, epochs: int, control: bool) -> dict:
    design = case.design()
    design.training = training_block(case, "auto", epochs)
    dataset, data = case_data(case)
    diff = check_equivalent(case, design, data)
    loops = {"off": ("hand", "loader", "fused") + (("twin",) if control else ()),
             "auto": ("hand", "fused")}
    fits: dict[str, list[dict]] = {"off": [], "auto": []}
    for r in range(repeats):
        for mode in (("off", "auto") if r % 2 == 0 else ("auto", "off")):
            fits[mode].append(fit(case, design, dataset, data, mode, epochs, loops[mode]))
    return {"case": case, "design": design, "dataset": dataset, "data": data, "diff": diff,
            "fits": fits}


def epochs_of(result: dict, mode: str, loop: str) -> list[tuple[float, float, int]]:
    return [e for f in result["fits"][mode] for e in f[loop]]


def sps(records: list[tuple[float, float, int]], clock: str) -> list[float]:
    """steps/s of each epoch record."""
    k = 0 if clock == "wall" else 1
    return [e[2] / e[k] for e in records]


def ratios(result: dict, mode: str, clock: str, loop: str = "trainer",
           ref: str = "hand") -> tuple[float, float]:
    """(median of the per-epoch paired ratios, ratio of the median steps/s) of `loop` vs the hand
    loop `ref`; the first is the verdict's."""
    a = sps(epochs_of(result, mode, loop), clock)
    h = sps(epochs_of(result, mode, ref), clock)
    return (statistics.median(x / y for x, y in zip(a, h)),
            statistics.median(a) / statistics.median(h))


def iqr(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


# --- profiling --------------------------------------------------------------------------------
def _interleaved(fns: dict[str, Callable[[], object]], calls: dict[str, int], rounds: int,
                 contexts: dict[str, Callable] | None = None) -> dict[str, list[float]]:
    """CPU seconds per call of each function in each round: rounds of `calls[name]` back-to-back
    calls, the functions taken in turn within each round (rotating order) so drifting load hits
    all alike; `contexts[name]` (a context manager factory) is entered around a function's block,
    outside the timer."""
    contexts = contexts or {}
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(-1, rounds):  # round -1 warms up
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, n = fns[name], calls[name]
            with (contexts[name]() if name in contexts else contextlib.nullcontext()):
                start = time.process_time()
                for _ in range(n):
                    fn()
                elapsed = time.process_time() - start
            if r >= 0:
                times[name].append(elapsed / n)
    return times


def _calls_for(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of `fn` take about `seconds` of CPU time."""
    fn()
    start = time.process_time()
    fn()
    return max(2, int(seconds / max(time.process_time() - start, 1e-6)))


@contextlib.contextmanager
def _patched(obj: object, name: str, value: object):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


class _NoMetrics:
    def partials(self, output, target) -> list:
        return []

    def add(self, values, target) -> None:
        pass

    def add_loss(self, loss, target) -> None:
        pass

    def update(self, output, target, loss) -> None:
        pass


def overhead_breakdown(result: dict, rounds: int, block_s: float) -> None:
    """What the trainer's step costs beyond the hand-written one, part by part: each part is
    measured by running the trainer's own `_step` with that part switched off (a stub metric
    accumulator, no parameters for the gradient norm, the torch loss called directly,
    `torch.autocast` replaced by a null context) and taking the difference."""
    case, design, data = result["case"], result["design"], result["data"]
    cfg = parse_training(training_block(case, "off", 2))
    threads = torch.get_num_threads()
    torch.set_num_threads(cpu_threads(cfg["threads"]))
    try:
        model = hand_model(case, design)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        xb = data["x"][data["train_idx"][:data["batch_size"]]]
        yb = data["y"][data["train_idx"][:data["batch_size"]]]

        def hand_step():
            opt.zero_grad(set_to_none=True)
            loss = case.loss(model(xb), yb)
            loss.backward()
            opt.step()
            return loss.item()

        trainer = Trainer(design, training_block(case, "off", 2), dataset=result["dataset"])
        trainer._setup()
        compiled = trainer.model
        acc = MetricAccumulator(cfg.metrics, cfg["loss"])

        def compiled_step():
            trainer.optimizer.zero_grad(set_to_none=True)
            loss = case.loss(compiled(xb), yb)
            loss.backward()
            trainer.optimizer.step()
            return loss.item()

        def sampled_step():
            sample = MonitorSample(compiled, trainer.node_specs,
                                   cfg["monitoring"]["histogram_bins"])
            trainer._step(xb, yb, acc, sample)
            trainer.emit(Monitor(1, 1, sample.finish()["nodes"]))

        # the loop around _step: _train_epoch with _step stubbed out (one no-op callback, as the
        # app always has one) next to the hand loop's own batching
        looper = Trainer(design, training_block(case, "off", 2), dataset=result["dataset"],
                         callbacks=[Callback()])
        looper._setup()
        looper._step = lambda xb, yb, acc, sample, full_check=True: 0.0
        looper._train_started, looper._samples_seen = time.perf_counter(), 0  # as _fit sets
        x, y, train_idx, bs = data["x"], data["y"], data["train_idx"], data["batch_size"]
        steps, gen = data["steps"], torch.Generator().manual_seed(0)

        def hand_batching():
            order = train_idx[torch.randperm(len(train_idx), generator=gen)]
            for i in range(steps):
                idx = order[i * bs:(i + 1) * bs]
                x[idx], y[idx]

        def trainer_step():
            return trainer._step(xb, yb, acc, None)

        import runtime.training.trainer as trainer_module
        no_amp = lambda *args, **kwargs: contextlib.nullcontext()  # noqa: E731
        fns = {"hand": hand_step, "compiled": compiled_step, "trainer": trainer_step,
               "no_metrics": lambda: trainer._step(xb, yb, _NoMetrics(), None),
               "no_norm": trainer_step, "direct_loss": trainer_step, "no_autocast": trainer_step,
               "sampled": sampled_step, "loop": lambda: looper._train_epoch(1),
               "batching": hand_batching}
        contexts = {"no_norm": lambda: _patched(trainer, "trainable", []),
                    "direct_loss": lambda: _patched(trainer_module, "compute_loss",
                                                    lambda name, out, target: case.loss(out,
                                                                                        target)),
                    "no_autocast": lambda: _patched(torch, "autocast", no_amp)}
        step_calls = _calls_for(hand_step, block_s)
        calls = {name: step_calls for name in fns}
        calls["sampled"] = max(2, step_calls // 4)
        calls["loop"] = calls["batching"] = max(2, _calls_for(hand_batching, block_s))
        t = _interleaved(fns, calls, rounds, contexts)
    finally:
        torch.set_num_threads(threads)

    def med(name: str) -> float:
        return statistics.median(t[name])

    def cost(name: str, without: str) -> float:
        """Median over rounds of the difference within a round (steadier than medians' gap)."""
        return statistics.median(a - b for a, b in zip(t[name], t[without]))

    hand = med("hand")
    t_loop = cost("loop", "batching") / steps
    print(f"  per-step CPU time on one batch, each part measured by switching it off in the "
          f"trainer's own _step ({rounds} interleaved rounds of ~{block_s * 1e3:.0f} ms, medians):")
    rows = [("hand-written step (zero_grad, forward, loss, backward, Adam, .item())", hand),
            ("the same step on the compiled model (fx GraphModule)", med("compiled")),
            ("Trainer._step (compiled model + the trainer's checks and metrics)", med("trainer")),
            (f"  in it: MetricAccumulator.update for {cfg.metrics}",
             cost("trainer", "no_metrics")),
            ("  in it: gradient norm for the NaN/Inf check (foreach_norm, stack, vector_norm)",
             cost("trainer", "no_norm")),
            (f"  in it: compute_loss('{cfg['loss']}') vs the torch loss called directly",
             cost("trainer", "direct_loss")),
            ("  in it: torch.autocast(enabled=False) context", cost("trainer", "no_autocast")),
            ("_train_epoch around _step (batch, augment, events, callbacks), minus batching",
             t_loop)]
    for label, value in rows:
        print(f"    {label:<80} {value * 1e6:8.1f} us = {value / hand * 100:6.1f}%")
    parts = sum(value for label, value in rows[3:])
    direct = cost("trainer", "hand") + t_loop
    print(f"    => the trainer's parts above add {parts / hand * 100:.1f}% to a step (expected "
          f"ratio ~{1 / (1 + parts / hand):.3f}); measured directly, Trainer._step + loop vs the "
          f"hand-written step: {direct / hand * 100:+.1f}% (~{1 / (1 + direct / hand):.3f})")
    t_sampled = cost("sampled", "trainer")
    print(f"    one monitoring sample costs {t_sampled * 1e6:.0f} us over a plain step = "
          f"{t_sampled / med('trainer'):.2f} steps ('auto' spaces samples to cost ~3%)")


def profile_fits(result: dict, epochs: int, top: int = 18) -> None:
    """cProfile of one trainer fit (monitoring off) and the hand loop, by own time."""
    case, design, data = result["case"], result["design"], result["data"]

    def trainer_fit():
        Trainer(design, training_block(case, "off", epochs), dataset=result["dataset"]).fit()

    def hand_fit():
        threads = torch.get_num_threads()
        torch.set_num_threads(cpu_threads("auto"))
        try:
            loop = HandLoop(case, design, data, loader=False)
            for _ in range(epochs):
                loop.epoch()
        finally:
            torch.set_num_threads(threads)

    for label, fn in (("trainer fit, monitoring off", trainer_fit),
                      ("hand loop, index batches", hand_fit)):
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
        print(f"    cProfile, {label}, {epochs} epochs incl. validation (top {top} by own time):")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        for line in lines[start:]:
            if line.strip():
                line = re.sub(r"\S*[/\\\\]site-packages[/\\\\]", "", line.replace(ROOT, ""))
                print("     " + line[:140])


# --- report -----------------------------------------------------------------------------------
def report_case(result: dict, clock: str, control: bool) -> None:
    case, data, fits = result["case"], result["data"], result["fits"]
    n_fits, per_fit = len(fits["off"]), len(fits["off"][0]["trainer"])
    print(f"\n[{case.name}]")
    print(f"  {data['n_train']} training samples, {data['steps']} steps per epoch; {n_fits} fits "
          f"per monitoring mode x {per_fit} timed epochs = {n_fits * per_fit} epoch pairs")
    first_t = statistics.median(f["first_loss"] for f in fits["off"])
    first_h = statistics.median(f["hand_first_loss"] for f in fits["off"])
    print(f"  same work: compiled vs hand-written output max |diff| {result['diff']:.2e}; "
          f"epoch-1 train loss trainer {first_t:.6f}, hand loop {first_h:.6f}")
    rows = [("off", "trainer", "trainer, monitoring off"), ("off", "hand", "hand loop (off fits)"),
            ("auto", "trainer", "trainer, monitoring auto"),
            ("auto", "hand", "hand loop (auto fits)"),
            ("off", "loader", "hand loop + DataLoader"),
            ("off", "fused", "hand loop, fused Adam")]
    if control:
        rows.append(("off", "twin", "A/A twin of the hand loop"))
    for clk in ("cpu", "wall"):
        for mode, loop, label in rows:
            values = sps(epochs_of(result, mode, loop), clk)
            low, high = iqr(values)
            line = (f"  {clk:>4} {label:<25} median {statistics.median(values):8.1f} steps/s"
                    f"  IQR {low:8.1f}-{high:8.1f}")
            if loop != "hand":
                paired, of_medians = ratios(result, mode, clk, loop)
                line += f"  ratio {paired:.4f} (of medians {of_medians:.4f})"
            print(line)
    auto = fits["auto"]
    print(f"  monitoring auto: median {statistics.median(f['samples'] for f in auto):.0f} samples "
          f"in {per_fit * data['steps']} timed steps per fit (interval at the end of a fit: every "
          f"{statistics.median(f['every'] for f in auto):.0f} steps)")
    k = 0 if clock == "wall" else 1
    e_loader = statistics.median(e[k] for e in epochs_of(result, "off", "loader"))
    e_index = statistics.median(e[k] for e in epochs_of(result, "off", "hand"))
    e_trainer = statistics.median(e[k] for e in epochs_of(result, "off", "trainer"))
    print(f"  epoch time ({clock}): hand loop + per-sample DataLoader {e_loader * 1e3:.1f} ms vs "
          f"trainer's tensor indexing (monitoring off) {e_trainer * 1e3:.1f} ms: speed-up "
          f"{e_loader / e_trainer:.2f}x (same hand loop with index batches {e_index * 1e3:.1f} "
          f"ms: {e_loader / e_index:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    parser.add_argument("--repeats", type=int, default=None,
                        help="fits per monitoring mode and design (default 5, quick 1)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per fit, the first untimed (default 6, quick 3)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                        help="clock the verdict uses (default cpu; both are printed)")
    parser.add_argument("--no-control", action="store_true",
                        help="skip the A/A twin loop (on by default except with --quick)")
    parser.add_argument("--design", choices=[c.key for c in CASES], action="append",
                        help="only these designs (repeatable; default all)")
    parser.add_argument("--profile", action="store_true",
                        help="profile every design (one that misses a target is profiled "
                             "anyway, except with --quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    epochs = max(2, args.epochs or (3 if args.quick else 6))
    control = not (args.quick or args.no_control)
    threads = cpu_threads(parse_training({})["threads"])
    torch.set_num_threads(threads)
    print(f"training_speed: torch {torch.__version__}, torch threads {threads} (the trainer's "
          f"'auto' = cpu_threads('auto'); the hand loops run inside its fits), {os.cpu_count()} "
          f"CPUs, {repeats} fit(s) per monitoring mode, {epochs} epochs per fit"
          f"{' (QUICK smoke run: figures are rough)' if args.quick else ''}")
    print("timed: training steps of epochs 2..E, validation excluded for every loop; epochs of "
          "the trainer and the hand loops interleaved; ratio = median over epoch pairs of "
          "trainer / hand loop steps/s")
    print(f"verdict clock: {args.clock} ({CLOCKS[args.clock]})")
    results = []
    for case in [c for c in CASES if not args.design or c.key in args.design]:
        result = measure_case(case, repeats, epochs, control)
        results.append(result)
        report_case(result, args.clock, control)

    def missed(r: dict) -> bool:
        return any(ratios(r, mode, args.clock)[0] < target for mode, target in TARGETS.items())

    for r in results:
        if args.profile or (missed(r) and not args.quick):
            print(f"\nprofile of [{r['case'].name}]{' (missed a target)' if missed(r) else ''}:")
            overhead_breakdown(r, 7 if args.quick else 41, 0.025)
            profile_fits(r, 3)

    print(f"\nsummary (ratio = median over epoch pairs of {args.clock}-clock steps/s of the "
          "trainer / of its hand-written twin loop, index batches)")
    other = "wall" if args.clock == "cpu" else "cpu"
    for r in results:
        for mode, target in TARGETS.items():
            paired, of_medians = ratios(r, mode, args.clock)
            verdict = "PASS" if paired >= target else "FAIL"
            print(f"{verdict}: {r['case'].name}, monitoring {mode}: ratio {paired:.4f} "
                  f"(target >= {target:.2f}; ratio of medians {of_medians:.4f}; {other}-clock "
                  f"{ratios(r, mode, other)[0]:.4f}); against the hand loop with the trainer's "
                  f"fused Adam (its overhead alone): {ratios(r, mode, args.clock, ref='fused')[0]:.4f}")
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
