"""Training in a child process, and the message protocol between it and the parent (the GUI).

The child is started with the `spawn` method and runs a `Trainer`. Events (runtime/training/
events.py) travel to the parent as their JSON dicts on one queue and come out of `poll()` as event
objects again; commands travel to the child as the small dataclasses below on another. The child polls for commands after every batch (and
while paused), exits when its parent dies, and any crash reaches the parent as an "error" event:
`TrainingWorker.poll()` never blocks and never hangs on a dead child.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .document import from_dict, to_dict
from .graph import GraphModel
from .training.events import Error, Event, FitEnd, Paused, Resumed, RunWarning, WorkerStarted, \
    from_json

#: The child's last message on the event queue (not an event: it only says the queue is done).
_DONE = {"event": "worker_done"}
#: Between batches the child looks for commands at most this often: a look at the queue costs
#: ~20 us (a lock and a pipe poll), 3 % of a small MLP's step, and a Stop or Pause arriving
#: 20 ms later is not felt.
COMMAND_POLL_S = 0.02


@dataclass(frozen=True)
class Pause:
    """Hold training after the current batch."""


@dataclass(frozen=True)
class Resume:
    """Continue a paused run."""


@dataclass(frozen=True)
class Stop:
    """End the run after the current batch (it reports fit_end with status "stopped")."""


@dataclass(frozen=True)
class SetLearningRate:
    """Use `lr` from the next step on."""

    lr: float


Command = Pause | Resume | Stop | SetLearningRate


class _ChildLink:
    """The child's side: forwards events, applies commands (a trainer callback)."""

    def __init__(self, events: Any, commands: Any):
        self.events = events
        self.commands = commands
        self._next_poll = 0.0

    # Callback interface (duck-typed to keep the child's imports small until it trains)
    def on_event(self, trainer, event: Event) -> None:
        self.events.put(event.to_json())

    def on_batch_end(self, trainer, step: int) -> None:
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + COMMAND_POLL_S
            self.drain(trainer)

    def on_idle(self, trainer) -> None:
        self.drain(trainer)

    def drain(self, trainer) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, Stop):
                trainer.request_stop()
            elif isinstance(command, Pause):
                trainer.pause()
                self.events.put(Paused(trainer.step).to_json())
            elif isinstance(command, Resume):
                trainer.resume()
                self.events.put(Resumed(trainer.step).to_json())
            elif isinstance(command, SetLearningRate):
                try:
                    trainer.set_lr(command.lr)
                except ValueError as err:
                    self.events.put(RunWarning(str(err)).to_json())

    def __getattr__(self, name: str):
        if name.startswith("on_"):
            return lambda *args: None
        raise AttributeError(name)


def _exit_with_parent() -> None:
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        from multiprocessing.connection import wait
        wait([parent.sentinel])
        os._exit(3)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_main(document: dict, options: dict, events: Any, commands: Any) -> None:
    _exit_with_parent()
    options = dict(options)
    run_root, design_path = options.pop("run_root", None), options.pop("design_path", None)
    run_name = options.pop("run_name", None)
    writer = None
    try:
        design = from_dict(document)
        if run_root is not None:  # the run kept as a run folder, checkpoints included
            from .runs import RunWriter, continuation_of

            # a resumed kept run: the new run says which run it continues
            writer = RunWriter.create(design, Path(run_root), design_path, run_name,
                                      continuation_of(options.get("resume")))
            options.setdefault("checkpoint_dir", str(writer.folder))
    except BaseException as err:  # a folder that cannot be made: the run goes on unkept
        events.put(WorkerStarted(os.getpid()).to_json())
        events.put(RunWarning(f"this run is not kept: cannot create its run folder under "
                              f"{run_root}: {err}").to_json())
    else:
        events.put(WorkerStarted(os.getpid(), str(writer.folder) if writer else None)
                   .to_json())
    processes = _processes(document, options)
    if processes > 1:  # the ranks train; this process launches them and relays
        _launch_ranks(processes, document, options, events, commands, writer, run_name,
                      design_path)
        return
    try:
        from .errors import TrainingError
        from .training import Trainer

        link = _ChildLink(events, commands)
        trainer = Trainer(from_dict(document), callbacks=[link] + ([writer] if writer else []),
                          **options)
        link.drain(trainer)  # a stop or pause sent before the run began
        try:
            trainer.fit()
        except TrainingError:
            pass  # the trainer already sent the error and fit_end events
    except BaseException as err:  # anything else must still reach the parent
        events.put(Error("crash", f"the training process failed: {type(err).__name__}: {err}",
                         traceback=traceback.format_exc()).to_json())
    finally:
        events.put(_DONE)
        events.close()
        events.join_thread()


def _processes(document: dict, options: dict) -> int:
    """The run's `processes` setting (1 when it is missing or invalid: the trainer reports
    an invalid block itself)."""
    config = options.get("config")
    block = document.get("training") if config is None else getattr(config, "raw", config)
    value = block.get("processes", 1) if isinstance(block, dict) else 1
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


class _ConnEvents:
    """A connection to the launching process, as the event queue `_ChildLink` puts into."""

    def __init__(self, conn: Any):
        self.conn = conn

    def put(self, data: dict) -> None:
        self.conn.send(data)


class _ConnCommands:
    """... and as the command queue it reads from."""

    def __init__(self, conn: Any):
        self.conn = conn

    def get_nowait(self) -> Any:
        if not self.conn.poll():
            raise queue.Empty
        return self.conn.recv()


def _launch_ranks(processes: int, document: dict, options: dict, events: Any, commands: Any,
                  writer: Any, run_name: str | None, design_path: str | None) -> None:
    """Train on `processes` local ranks through torchrun: rank 0 connects back here, its events
    go on to the parent's queue and the parent's commands go to it. A run that fails on another
    rank ends with that rank's error (rank 0 only saw its peer vanish)."""
    import json
    import secrets
    import tempfile
    from multiprocessing.connection import Listener

    from .training.distributed import Ended, launch_run

    authkey = secrets.token_bytes(16)
    listener = Listener(("127.0.0.1", 0), authkey=authkey)
    held: list[dict] = []  # rank 0's error and fit_end, until the launcher says who failed
    finished = threading.Event()

    def relay() -> None:
        try:
            conn = listener.accept()
        except OSError:  # closed: no rank connected
            return

        def forward_commands() -> None:
            while not finished.is_set():
                try:
                    command = commands.get(timeout=0.1)
                except queue.Empty:
                    continue
                except (EOFError, OSError):
                    return
                try:
                    conn.send(command)
                except OSError:
                    return
        threading.Thread(target=forward_commands, name="rank0-commands", daemon=True).start()
        while True:
            try:
                data = conn.recv()
            except (EOFError, OSError):
                return
            if data.get("event") == "error" or (data.get("event") == "fit_end"
                                                and data.get("status") == "failed"):
                held.append(data)
            else:
                events.put(data)

    thread = threading.Thread(target=relay, name="rank0-events", daemon=True)
    thread.start()
    job = {"document": document, "options": options, "address": list(listener.address),
           "authkey": authkey.hex(), "run_folder": str(writer.folder) if writer else None,
           "run_name": run_name, "design_path": design_path}
    try:
        with tempfile.TemporaryDirectory(prefix="layerlab-ranks-") as folder:
            path = Path(folder) / "job.json"
            path.write_text(json.dumps(job), encoding="utf-8")
            ended = launch_run(processes, [str(path)], ("-m", "runtime.worker"))
    except BaseException as err:  # noqa: BLE001 - the parent must hear of it
        ended = Ended(1, f"the launcher failed: {type(err).__name__}: {err}")
    finally:
        listener.close()
        thread.join(2.0)  # rank 0's last events
        finished.set()
    if held and (ended.code == 0 or ended.rank in (0, None)):
        for data in held:  # rank 0's own failure, as it reported it (node, kind)
            events.put(data)
        return
    if ended.code == 0:
        return
    failure = ended.message or (f"training on {processes} processes ended with exit code "
                                f"{ended.code}")
    events.put(Error("crash", failure).to_json())
    events.put(FitEnd("failed", message=failure).to_json())


def _rank_main(job_path: str) -> int:
    """One rank of a run the designer started on several processes (`python -m runtime.worker
    JOB`): rank 0 sends its events to the launching process and takes its commands."""
    import json
    from multiprocessing.connection import Client

    from .errors import PeerLost, TrainingError
    from .training import Trainer
    from .training.distributed import record_failure, world

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    callbacks: list[Any] = []
    conn = None
    if world().main:
        conn = Client(tuple(job["address"]), authkey=bytes.fromhex(job["authkey"]))
        callbacks.append(_ChildLink(_ConnEvents(conn), _ConnCommands(conn)))
        if job["run_folder"]:
            from .runs import RunWriter, continuation_of

            callbacks.append(RunWriter(from_dict(job["document"]), Path(job["run_folder"]),
                                       job["design_path"], job["run_name"],
                                       continuation_of(job["options"].get("resume"))))
    try:
        trainer = Trainer(from_dict(job["document"]), callbacks=callbacks, **job["options"])
        if conn is not None:
            callbacks[0].drain(trainer)  # a stop or pause sent before the run began
        trainer.fit()
    except TrainingError as err:
        if not isinstance(err, PeerLost):  # what the launcher names as the cause
            record_failure(err)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if conn is not None:
            conn.close()
    return 0


def _warm_up() -> None:
    """What the first step of any run would otherwise wait for: torch, the trainer and run
    folders, the bundled data sets (scikit-learn), and torch._dynamo, which building the first
    optimizer imports (2 s of the 4.6 s LeNet's first step took on 2 cores)."""
    import importlib

    import torch

    for name in ("runtime.runs", "runtime.training.trainer", "runtime.data.bundled",
                 "sklearn.datasets"):
        importlib.import_module(name)
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def _spare_main(jobs: Any, events: Any, commands: Any, warmed: Any) -> None:
    """A spare child: import what a run needs while nobody waits, then run the job it is given
    (None: exit unused)."""
    _exit_with_parent()
    try:
        _warm_up()
    except BaseException:  # noqa: BLE001 - a run given to it reports any failure itself
        pass
    warmed.set()
    job = jobs.get()
    if job is not None:
        _child_main(*job, events, commands)


class SpareProcess:
    """A training process started ahead of time, so a run starts without waiting for a new
    process to spawn and import torch (seconds on a small machine).

    It imports the trainer and waits; `TrainingWorker(..., spare=this)` hands it the run.
    A spare serves one run; `close()` ends one that was never used.
    """

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.jobs = ctx.Queue()
        self.events = ctx.Queue()
        self.commands = ctx.Queue()
        #: Set once it has imported everything (a run given earlier waits for that).
        self.warmed = ctx.Event()
        self.process = ctx.Process(target=_spare_main, name="layerlab-training-spare",
                                   daemon=True, args=(self.jobs, self.events, self.commands,
                                                      self.warmed))
        self.process.start()
        self.used = False

    @property
    def ready(self) -> bool:
        """Alive and not yet given a run."""
        return not self.used and self.process.is_alive()

    def close(self) -> None:
        """End an unused spare (a used one belongs to its TrainingWorker)."""
        if self.used:
            return
        self.used = True
        if self.process.is_alive():
            self.jobs.put(None)
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1.0)
        for q in (self.jobs, self.events, self.commands):
            q.close()


class TrainingWorker:
    """The parent's handle on a training child process.

    Args:
        design: The design to train; it is copied, so later edits do not reach the run.
        **options: Passed to `Trainer` (config, base_dir, checkpoint_dir, resume), except
            `run_root` (keep the run as a run folder under it, runtime/runs.py),
            `design_path` (recorded in the run folder) and `run_name` (the run's name there;
            by default the design's, or for a resumed kept run "NAME (continued)").
    """

    def __init__(self, design: GraphModel, spare: SpareProcess | None = None, **options: Any):
        self.document = to_dict(design)
        self.options = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()}
        self._spare = spare if spare is not None and spare.ready else None
        if self._spare is not None:  # the run goes to a process that is already up
            self._spare.used = True
            self._events, self._commands = self._spare.events, self._spare.commands
            self.process = self._spare.process
        else:
            ctx = mp.get_context("spawn")
            self._events = ctx.Queue()
            self._commands = ctx.Queue()
            self.process = ctx.Process(target=_child_main, name="layerlab-training",
                                       daemon=True, args=(self.document, self.options,
                                                          self._events, self._commands))
        self.finished = False  # fit_end (or a crash report) has been delivered
        self._done = False  # the child said goodbye

    @property
    def warm(self) -> bool:
        """Whether the run went to a spare process started ahead of time."""
        return self._spare is not None

    def start(self) -> None:
        if self._spare is not None:
            self._spare.jobs.put((self.document, self.options))
        else:
            self.process.start()

    @property
    def running(self) -> bool:
        return self.process.is_alive() and not self.finished

    def send(self, command: Command) -> None:
        if self.process.is_alive():
            self._commands.put(command)

    def pause(self) -> None:
        self.send(Pause())

    def resume(self) -> None:
        self.send(Resume())

    def set_lr(self, lr: float) -> None:
        self.send(SetLearningRate(float(lr)))

    def poll(self, limit: int = 10_000) -> list[Event]:
        """Every event that has arrived (up to `limit`), without blocking.

        If the child died without finishing, an "error" event (kind "crash") and a "fit_end"
        event (status "failed") are appended, so a caller never waits on a dead run.
        """
        out: list[Event] = []
        while len(out) < limit:
            try:
                data = self._events.get_nowait()
            except (queue.Empty, EOFError, OSError):
                break
            if data == _DONE:
                self._done = True
                continue
            event = from_json(data)
            if isinstance(event, FitEnd):
                self.finished = True
            out.append(event)
        if not out and not self.finished and self.process.exitcode is not None:
            out += self._lost_child_events()
        return out

    def _lost_child_events(self) -> list[Event]:
        # one more drain: the child may have written just before exiting
        late = []
        while True:
            try:
                late.append(self._events.get(timeout=0.2))
            except (queue.Empty, EOFError, OSError):
                break
        events = [from_json(data) for data in late if data != _DONE]
        if any(isinstance(e, FitEnd) for e in events):
            self.finished = True
            return events
        code = self.process.exitcode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        self.finished = True
        return events + [
            Error("crash", f"the training process {how} before finishing (out of memory or "
                  "killed?); the design is unchanged and a new run can start"),
            FitEnd.failed("worker died")]

    def stop(self, timeout: float = 1.0) -> list[Event]:
        """Ask the run to stop; if it has not ended within `timeout` seconds, end the process.

        Returns the events that arrived meanwhile (ending with fit_end).
        """
        events: list[Event] = []
        if self.process.is_alive():
            self._commands.put(Stop())
            self.process.join(timeout)
            events += self.poll()
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2.0)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(2.0)
        events += self.poll()
        if not self.finished:
            self.finished = True
            events.append(FitEnd("stopped", message="stopped"))
        return events

    def close(self) -> None:
        """Stop the child if needed and release the queues."""
        self.stop()
        self._events.close()
        self._commands.close()


if __name__ == "__main__":
    import sys

    # through the imported module: commands unpickle as runtime.worker's classes, not __main__'s
    from runtime.worker import _rank_main as rank_main

    sys.exit(rank_main(sys.argv[1]))
