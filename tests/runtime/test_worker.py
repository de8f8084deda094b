"""The training worker process: events, commands, stop within 1 s, crashes never hang."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.training.events import (EpochEnd, Error, Event, FitEnd, FitStart, LrChanged,
                                     Monitor, Paused, Resumed, Step, WorkerStarted)
from runtime.worker import TrainingWorker
from tests.runtime.test_trainer import spiral_mlp

ROOT = Path(__file__).resolve().parents[2]


def wait_for(worker, predicate, timeout=60.0):
    """Poll until `predicate(events_so_far)` holds; returns every event seen."""
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events += worker.poll()
        if predicate(events):
            return events
        time.sleep(0.02)
    raise AssertionError(f"timed out; last events: {[e.kind for e in events[-5:]]}")


def has(events: list[Event], kind: type[Event]) -> bool:
    return any(isinstance(e, kind) for e in events)


def first(events: list[Event], kind: type[Event]) -> Event:
    return next(e for e in events if isinstance(e, kind))


def long_run():
    m = spiral_mlp(epochs=1000)
    m.training = {**m.training, "dataset": {"name": "spirals", "params": {"n_samples": 4000}}}
    return m


@pytest.fixture
def worker_factory():
    workers = []

    def make(design, **options):
        worker = TrainingWorker(design, **options)
        workers.append(worker)
        worker.start()
        return worker
    yield make
    for worker in workers:
        worker.close()


def test_a_run_streams_events_to_the_end(worker_factory):
    worker = worker_factory(spiral_mlp(epochs=2))
    events = wait_for(worker, lambda ev: has(ev, FitEnd))
    assert isinstance(events[0], WorkerStarted) and events[0].pid == worker.process.pid
    assert has(events, FitStart) and has(events, Monitor)
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2]
    assert isinstance(events[-1], FitEnd) and events[-1].status == "completed"
    worker.process.join(10)
    assert worker.process.exitcode == 0


def test_a_run_with_a_run_root_is_kept_as_a_run_folder(worker_factory, tmp_path):
    from runtime.runs import read_events, read_run

    worker = worker_factory(spiral_mlp(epochs=2), run_root=tmp_path / "runs",
                            design_path=str(tmp_path / "spirals.json"))
    events = wait_for(worker, lambda ev: has(ev, FitEnd))
    folder = Path(events[0].run_folder)
    assert folder.parent == tmp_path / "runs"
    worker.process.join(10)
    info = read_run(folder)
    assert info.status == "completed" and info.meta["design_path"].endswith("spirals.json")
    assert (folder / "last.pt").is_file() and info.meta["epochs_run"] == 2
    assert [e["event"] for e in read_events(folder)].count("epoch_end") == 2


def test_a_run_folder_that_cannot_be_made_only_warns(worker_factory, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    worker = worker_factory(spiral_mlp(epochs=1), run_root=blocker / "runs")
    events = wait_for(worker, lambda ev: has(ev, FitEnd))
    assert events[0].run_folder is None
    from runtime.training.events import RunWarning
    assert "this run is not kept" in first(events, RunWarning).message
    assert events[-1].status == "completed"


def test_stop_takes_effect_within_a_second(worker_factory):
    worker = worker_factory(long_run())
    wait_for(worker, lambda ev: has(ev, Step))
    started = time.monotonic()
    events = worker.stop(timeout=1.0)
    assert time.monotonic() - started < 1.5
    assert not worker.process.is_alive()
    assert isinstance(events[-1], FitEnd) and events[-1].status == "stopped"


def test_pause_resume_and_learning_rate(worker_factory):
    worker = worker_factory(long_run())
    wait_for(worker, lambda ev: has(ev, Step))
    worker.pause()
    wait_for(worker, lambda ev: has(ev, Paused))
    time.sleep(0.3)
    worker.poll()
    time.sleep(0.5)
    assert not has(worker.poll(), Step), "steps while paused"
    worker.set_lr(0.123)
    worker.resume()
    events = wait_for(worker, lambda ev: has(ev, LrChanged) and has(ev, Step))
    assert has(events, Resumed)
    assert first(events, LrChanged).lr == pytest.approx(0.123)
    later = wait_for(worker, lambda ev: any(isinstance(e, Step) and e.lr == pytest.approx(0.123)
                                            for e in ev))
    assert later


def test_a_bad_dataset_is_reported_not_hung(worker_factory):
    m = spiral_mlp()
    m.training = {**m.training, "dataset": {"name": "csv", "params": {"path": "missing.csv",
                                                                      "label_column": "y"}}}
    worker = worker_factory(m)
    events = wait_for(worker, lambda ev: has(ev, FitEnd))
    error = first(events, Error)
    assert error.failure == "data" and "missing.csv" in error.message
    assert isinstance(events[-1], FitEnd) and events[-1].status == "failed"


def test_a_killed_worker_becomes_an_error_event(worker_factory):
    worker = worker_factory(long_run())
    wait_for(worker, lambda ev: has(ev, Step))
    worker.process.kill()
    events = wait_for(worker, lambda ev: has(ev, FitEnd), timeout=10)
    error = first(events, Error)
    assert error.failure == "crash" and "killed by signal 9" in error.message
    assert isinstance(events[-1], FitEnd) and events[-1].status == "failed"


PARENT_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from runtime.training.events import (EpochEnd, Error, Event, FitEnd, FitStart, LrChanged,
                                     Monitor, Paused, Resumed, Step, WorkerStarted)
from runtime.worker import TrainingWorker
from tests.runtime.test_worker import long_run
if __name__ == "__main__":
    w = TrainingWorker(long_run())
    w.start()
    while not any(e.kind == "step" for e in w.poll()):
        time.sleep(0.05)
    print(w.process.pid, flush=True)
    time.sleep(600)
"""


def test_the_worker_dies_with_its_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT.format(root=str(ROOT)))
    # the killed parent's resource tracker reports its queues' semaphores on stderr: not ours
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        child_pid = int(parent.stdout.readline())
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(child_pid):
            time.sleep(0.05)
        assert not _alive(child_pid), "the worker outlived its parent"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as dead
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_spare_process_takes_the_next_run_and_starts_it_at_once(worker_factory):
    from runtime.worker import SpareProcess
    spare = SpareProcess()  # the run may come before its warm-up ends: it waits its turn
    pid = spare.process.pid
    started = time.monotonic()
    worker = worker_factory(spiral_mlp(epochs=2), spare=spare)
    assert worker.warm and not spare.ready and worker.process.pid == pid
    events = wait_for(worker, lambda ev: has(ev, FitEnd))
    assert events[0].pid == pid  # the spare ran it, no new process
    assert has(events, FitStart) and first(events, FitEnd).status == "completed"
    assert time.monotonic() - started < 30
    worker.process.join(10)
    assert worker.process.exitcode == 0
    again = TrainingWorker(spiral_mlp(epochs=1), spare=spare)  # used: a fresh process instead
    assert not again.warm


def test_an_unused_spare_process_ends_when_closed():
    from runtime.worker import SpareProcess
    spare = SpareProcess()
    assert spare.ready
    spare.close()
    assert not spare.ready and spare.process.exitcode is not None
