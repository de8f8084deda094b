"""Data-parallel training over several processes: torchrun starts them, DDP keeps them in step.

Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK in the environment) the Trainer joins a process
group (nccl on CUDA, gloo on the CPU) and wraps its model in DistributedDataParallel. Every rank
draws the same seeded permutation each epoch and takes its share of every global batch (the
design's batch size), so the tensor-batched loader keeps its speed; ranks' shares differ by at
most one sample and each rank's loss is weighted by its share, so the averaged gradient is the
global batch's. Losses, metrics and activation statistics are summed across ranks; only rank 0
emits events and writes files. Without torchrun (or with one process) none of this runs.

`python -m runtime.training.distributed DESIGN [train options]` is the entry point torchrun
runs (`main.py train --nproc-per-node N` launches it on this machine; docs/distributed.md).
"""
from __future__ import annotations

import datetime
import math
import os
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import TrainingError
from ..lazy import lazy_import
from .statistics import of_source

torch = lazy_import("torch", globals(), "torch")

#: A collective that waits longer than this has lost a rank: the run fails instead of hanging.
GROUP_TIMEOUT = datetime.timedelta(seconds=60)
#: How rank 0's activation statistics combine with the other ranks' (weighted by samples), as
#: each statistic declares it. A histogram's edges are each rank's own minimum and maximum, so
#: histograms stay rank 0's.
ACTIVATION_COMBINE = {spec.key: spec.combine for spec in of_source("activation")}
MODULE = "runtime.training.distributed"


def lost_peer(err: BaseException) -> bool:
    """Whether `err` (or what caused it) is a collective failing because another rank went
    away: nccl raises DistError; gloo a RuntimeError naming the peer."""
    import torch.distributed as dist

    seen = 0
    while err is not None and seen < 8:
        text = str(err)
        if isinstance(err, dist.DistError) or (isinstance(err, RuntimeError) and "gloo" in text
                                               and "by peer" in text):
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


@dataclass(frozen=True)
class World:
    """Where this process sits among the processes of a run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def active(self) -> bool:
        """Several processes: collectives and DDP are needed."""
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that emits events and writes files."""
        return self.rank == 0


def world(environ: dict | None = None) -> World:
    """This process's place, read from torchrun's environment (one process when it is unset)."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return World()
    try:
        values = {key: int(env.get(key, default)) for key, default in (
            ("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0), ("LOCAL_WORLD_SIZE", 1))}
    except ValueError:
        raise TrainingError("RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE must be whole "
                            "numbers (torchrun sets them)", "design") from None
    if not 0 <= values["RANK"] < values["WORLD_SIZE"]:
        raise TrainingError(f"RANK {values['RANK']} is not below WORLD_SIZE "
                            f"{values['WORLD_SIZE']}", "design")
    return World(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"],
                 max(values["LOCAL_WORLD_SIZE"], 1))


def rank_device(world_: World, device: torch.device) -> torch.device:
    """Each rank on this machine trains on its own GPU (LOCAL_RANK); the CPU is shared."""
    if device.type != "cuda" or not world_.active:
        return device
    count = torch.cuda.device_count()
    if world_.local_rank >= count:
        raise TrainingError(f"local rank {world_.local_rank} has no GPU of its own: this machine "
                            f"has {count}; start at most {count} processes per node", "design")
    torch.cuda.set_device(world_.local_rank)
    return torch.device("cuda", world_.local_rank)


def init_group(world_: World, device: torch.device) -> bool:
    """Join the run's process group: nccl between GPUs, gloo on the CPU. False when this
    process had joined it already (then its owner closes it)."""
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=GROUP_TIMEOUT,
                            device_id=device if device.type == "cuda" else None)
    return True


def close_group(settled: bool = True) -> None:
    """Leave the process group. A rank that `settled` (ended without an error) first waits
    for the others, so no rank shuts its connections while a peer still uses them; after a
    failure a peer may be gone, and waiting for it would hang."""
    import gc

    import torch.distributed as dist

    if dist.is_initialized():
        gc.collect()  # pending work objects and DDP's reducer still reference the group
        if settled:
            dist.barrier()
        dist.destroy_process_group()


def check_batches(train_samples: int, batch: int, world_: World) -> None:
    """Refuse a batch size that leaves a rank without samples in some step."""
    if batch < world_.size:
        raise TrainingError(f"batch size {batch} is smaller than the {world_.size} processes: "
                            f"every process needs at least one sample per step; use a batch size "
                            f"of {world_.size} or more, or fewer processes", "design")
    last = train_samples - (math.ceil(train_samples / batch) - 1) * batch
    if last < world_.size:
        raise TrainingError(f"the last batch of every epoch holds {last} sample"
                            f"{'s' if last != 1 else ''} ({train_samples} training samples, batch "
                            f"size {batch}), fewer than the {world_.size} processes: choose a "
                            "batch size that leaves at least one sample per process", "design")


def share(n: int, world_: World) -> tuple[int, int]:
    """[start, end) of this rank's part of `n` samples: parts differ by at most one."""
    base, extra = divmod(n, world_.size)
    start = world_.rank * base + min(world_.rank, extra)
    return start, start + base + (1 if world_.rank < extra else 0)


def threads_per_process(setting: int | str, world_: World, cores: int | None = None) -> int:
    """CPU threads of one rank: 'auto' divides the cores (less one) among this machine's ranks."""
    if setting != "auto":
        return int(setting)
    cores = cores or os.cpu_count() or 1
    return max(1, min((cores - 1) // world_.local_size, 8))


def wrap(model: Any, device: torch.device) -> Any:
    """The model wrapped in DDP (which averages gradients during backward)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                   else None)


class Reducer:
    """The collectives of one run: one small all_reduce per step, a few per epoch."""

    def __init__(self, world_: World, device: torch.device):
        self.world = world_
        # gloo reduces CPU tensors, nccl GPU tensors
        self.device = device if device.type == "cuda" else torch.device("cpu")

    def _all_reduce(self, values: list[float], op: str = "sum") -> list[float]:
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
        return tensor.tolist()

    def step(self, loss: float, samples: int, stop: bool, paused: bool, every: int,
             lr: float | None) -> tuple[float, bool, bool, int, float | None]:
        """(global mean loss, whether any rank asked to stop, or to pause, and rank 0's
        monitoring spacing and new learning rate).

        Rank 0 alone gets commands (Stop, Pause, a learning rate) and times steps to space
        monitoring samples ('auto'); what it decided travels here, so every rank applies it
        at the same step.
        """
        main = self.world.main
        total, count, stops, pauses, spacing, new_lr = self._all_reduce(
            [loss * samples, float(samples), float(stop), float(paused),
             float(every) if main else 0.0, float(lr) if main and lr is not None else 0.0])
        return total / count, stops > 0, pauses > 0, int(spacing), new_lr if new_lr > 0 else None

    def any(self, flag: bool) -> bool:
        """Whether any rank has `flag` set."""
        return self._all_reduce([float(flag)], "max")[0] > 0

    def accumulator(self, acc: Any) -> None:
        """Sum an epoch's accumulator (MetricAccumulator or HeadsAccumulator) over the ranks."""
        flat = acc.totals()
        if flat:
            acc.set_totals(self._all_reduce(flat))

    def monitor(self, nodes: dict[str, dict], samples: int) -> dict[str, dict]:
        """Activation statistics of every rank's share combined (by `ACTIVATION_COMBINE`);
        gradient, weight and update statistics are the same on every rank after DDP's average."""
        import torch.distributed as dist

        names = sorted(name for name, entry in nodes.items() if "act_mean" in entry)
        keys = list(ACTIVATION_COMBINE)
        row = [float(samples)]
        for name in names:
            row += [_number(nodes[name].get(key)) for key in keys]
        mine = torch.tensor(row, dtype=torch.float64, device=self.device)
        gathered = [torch.empty_like(mine) for _ in range(self.world.size)]
        dist.all_gather(gathered, mine)
        rows = [g.tolist() for g in gathered]
        weights = [r[0] for r in rows]
        for i, name in enumerate(names):
            per_rank = {key: [r[1 + i * len(keys) + k] for r in rows]
                        for k, key in enumerate(keys)}
            nodes[name].update(_combine(per_rank, weights))
        return nodes


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _combine(per_rank: dict[str, list[float]], weights: list[float]) -> dict[str, float | None]:
    """One node's activation statistics from each rank's, weighted by its samples; a statistic a
    layer does not have (NaN on every rank) stays None."""
    total = sum(weights)
    out: dict[str, float | None] = {}
    means = per_rank["act_mean"]
    mean = sum(w * m for w, m in zip(weights, means)) / total
    for key, how in ACTIVATION_COMBINE.items():
        values = per_rank[key]
        if all(math.isnan(v) for v in values):
            out[key] = None
        elif how == "min":
            out[key] = min(values)
        elif how == "max":
            out[key] = max(values)
        elif how == "mean":
            out[key] = sum(w * v for w, v in zip(weights, values)) / total
        else:  # std: from each share's second moment about zero
            second = sum(w * (s * s + m * m) for w, s, m in zip(weights, values, means)) / total
            out[key] = math.sqrt(max(second - mean * mean, 0.0))
    return out


# --- launching --------------------------------------------------------------------------------
def record_failure(err: BaseException) -> None:
    """Leave this rank's error where torchrun's agent reads it, so the launcher can name it."""
    if "TORCHELASTIC_ERROR_FILE" not in os.environ:
        return
    from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

    try:
        ErrorHandler().record_exception(err)
    except OSError:  # the message is on standard error anyway
        pass


def launch(nproc: int, train_args: Sequence[str], err: Any = None,
           entry: Sequence[str] = ("-m", MODULE)) -> int:
    """Train on `nproc` local processes through torchrun's launcher; returns an exit code.

    A failed rank ends the run (the agent stops the others) and its error is printed with its
    rank; Ctrl-C reaches every rank, which end as a single process does. `entry` is what each
    rank's Python runs (this module; a test gives a script).
    """
    ended = launch_run(nproc, train_args, entry)
    if ended.message:
        print(ended.message, file=err or sys.stderr)
    return ended.code


@dataclass(frozen=True)
class Ended:
    """How a launched run ended: its exit code and, when a rank failed, which and why."""

    code: int
    message: str | None = None
    rank: int | None = None


def launch_run(nproc: int, args: Sequence[str],
               entry: Sequence[str] = ("-m", MODULE)) -> Ended:
    """`launch` without printing."""
    import importlib
    import logging

    importlib.import_module("torch.distributed.launcher.api")  # creates the loggers quietened
    # the launcher's own log lines repeat what the failing rank printed and what we summarise
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name.startswith("torch.distributed.elastic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    root = str(Path(__file__).resolve().parents[2])  # the ranks import runtime from here
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root if not path else os.pathsep.join([root, path])
    try:
        return _launch(nproc, args, entry)
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = path


def _launch(nproc: int, train_args: Sequence[str], entry: Sequence[str]) -> Ended:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc,
                          run_id=str(uuid.uuid4()), rdzv_backend="c10d",
                          rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1,
                          start_method="spawn")
    try:
        elastic_launch(config, sys.executable)("-u", *entry, *train_args)
    except ChildFailedError as failed:
        rank, message = describe_failure(failed)
        return Ended(1, message, rank)
    except (KeyboardInterrupt, SignalException):
        return Ended(130)
    return Ended(0)


def describe_failure(failed: Any) -> tuple[int, str]:
    """The rank that failed first and 'training stopped: rank R failed: <its error>', from
    torchrun's ChildFailedError."""
    # the rank that failed first on its own: one that left an error file (a Python error),
    # else one that did not get the SIGTERM the agent sends the survivors, a signal first;
    # the others only lost contact with it
    rank, failure = min(failed.failures.items(), key=lambda item: (
        not os.path.isfile(item[1].error_file), item[1].exitcode == -signal.SIGTERM,
        item[1].exitcode >= 0, item[1].timestamp, item[0]))
    message = failure.message
    if isinstance(message, dict):
        message = message.get("message", "")
    if failure.signal_name() != "<N/A>" and failure.exitcode < 0:
        why = f"was killed by {failure.signal_name()}"
    else:
        why = f"failed (exit code {failure.exitcode})"
    text = str(message or "").strip()
    if text.startswith("Process failed with exitcode") or text.startswith("Signal "):
        text = ""  # the agent's placeholder: the rank left no error file
    if text:
        return rank, f"training stopped: rank {rank} {why}: {text}"
    return rank, f"training stopped: rank {rank} {why}" + ("" if failure.exitcode < 0 else
                                                           " (its output is above)")


def main(argv: Sequence[str] | None = None) -> int:
    """What each rank runs: the `train` command with the same options."""
    from ..cli import run

    argv = list(sys.argv[1:] if argv is None else argv)
    return run(["train", *argv], prog=f"python -m {MODULE}")


if __name__ == "__main__":
    code = main()
    # end without the interpreter's teardown: torch's C++ objects (gloo's threads, the store's
    # client) destroyed at exit have aborted a rank that had finished its work ("terminate
    # called without an active exception", SIGABRT), failing a run that succeeded
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
