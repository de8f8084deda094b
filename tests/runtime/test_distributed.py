"""Training on two CPU processes (torchrun, gloo, DDP) against the same run in one process."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from runtime.compile import compile_model
from runtime.document import load, save
from runtime.errors import TrainingError
from runtime.training import Trainer
from runtime.training.checkpoints import load_checkpoint
from runtime.training.distributed import (ACTIVATION_COMBINE, World, _combine, check_batches,
                                          launch, share, world)
from runtime.training.callbacks import Callback
from runtime.training.events import Monitor, from_json
from runtime.training.statistics import of_source
from tests.runtime.test_trainer import spiral_mlp

ROOT = Path(__file__).resolve().parents[2]
# 480 training samples in batches of 49: the last batch holds 39, so the two ranks' shares are
# 25/24 and 20/19, and the loss weighting by share is what makes the runs agree
TRAINING = {"batch_size": 49, "epochs": 3, "seed": 3, "threads": 1,
            "dataset": {"name": "spirals", "params": {"n_samples": 600},
                        "validation_split": 0.2},
            "monitoring": {"every": 4}}
TOLERANCE = {"rel": 1e-5, "abs": 1e-6}


def _design(folder: Path, epochs: int = 3) -> Path:
    path = folder / "design.json"
    save(spiral_mlp(**{**TRAINING, "epochs": epochs}), path)
    return path


class _Keep(Callback):
    def __init__(self):
        self.seen = []

    def on_event(self, trainer, event):
        self.seen.append(event)


def _single(path: Path, checkpoint_dir: Path | None = None, **kwargs) -> Trainer:
    keep = _Keep()
    trainer = Trainer(load(path), callbacks=[keep], base_dir=path.parent,
                      checkpoint_dir=checkpoint_dir, **kwargs)
    trainer.fit()
    trainer.seen = keep.seen
    return trainer


def _train_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "train", *args,
                           "--nproc-per-node", "2", "--no-run"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def _epochs(jsonl: Path) -> list:
    return [from_json(json.loads(line)) for line in jsonl.read_text().splitlines()
            if json.loads(line)["event"] == "epoch_end"]


def _assert_same_epochs(two: list, one: list) -> None:
    assert [e.epoch for e in two] == [e.epoch for e in one]
    for a, b in zip(two, one):
        assert a.train_loss == pytest.approx(b.train_loss, **TOLERANCE)
        assert a.val_loss == pytest.approx(b.val_loss, **TOLERANCE)
        # validation sees every sample in both; the single process measures the training
        # accuracy on only some batches (trainer.CHECK_BUDGET), so that one is not compared
        assert a.metrics["val_accuracy"] == pytest.approx(b.metrics["val_accuracy"], abs=1e-9)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """A 3-epoch run on 2 processes from scratch, and the same run in this process."""
    folder = tmp_path_factory.mktemp("ddp")
    path = _design(folder)
    single = _single(path, folder / "one")
    started = time.perf_counter()
    done = _train_cli(str(path), "--metrics-out", str(folder / "two.jsonl"),
                      "--checkpoint-dir", str(folder / "two"))
    assert done.returncode == 0, done.stderr
    return folder, path, single, done, time.perf_counter() - started


def test_two_processes_follow_the_single_process_loss_curve(two_process_run):
    folder, _, single, done, _ = two_process_run
    _assert_same_epochs(_epochs(folder / "two.jsonl"), single.history)
    # the same weights at the end: every step's averaged gradient was the global batch's
    state = load_checkpoint(folder / "two" / "last.pt")["model"]
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(state[name], value, rtol=1e-5, atol=1e-6)
    # rank 0 alone prints: one progress header and one JSON block
    assert done.stderr.count("training Spiral MLP") == 1
    assert json.loads(done.stdout)["epoch"] == 3


def test_monitoring_is_reduced_and_sampled_on_the_same_steps(two_process_run):
    folder, _, single, _, _ = two_process_run
    lines = [json.loads(line) for line in (folder / "two.jsonl").read_text().splitlines()]
    monitors = [e for e in lines if e["event"] == "monitor"]
    assert [m["step"] for m in monitors] == [1, 5, 9, 13, 17, 21, 25, 29]
    # step 1 sees the same weights and the same global batch as the single process's step 1
    first = next(e for e in single.seen if isinstance(e, Monitor) and e.step == 1)
    for node in ("fc1", "relu1", "tanh2"):
        for key in ACTIVATION_COMBINE:
            mine, theirs = monitors[0]["nodes"][node][key], first.nodes[node][key]
            assert (mine is None) == (theirs is None), (node, key)
            if mine is not None:
                assert mine == pytest.approx(theirs, rel=1e-4, abs=1e-6), (node, key)


def test_two_process_checkpoint_loads_and_resumes_in_one_process(two_process_run, tmp_path):
    folder, path, single, _, _ = two_process_run
    design = load(path)
    model = compile_model(design)
    model.load_state_dict(load_checkpoint(folder / "two" / "last.pt")["model"])
    x = torch.randn(16, 2)
    torch.testing.assert_close(model(x), single.predict(x), rtol=1e-5, atol=1e-6)
    # one process continues the two-process run to epoch 5 as if it had never stopped
    longer = _design(tmp_path, epochs=5)
    resumed = _single(longer, resume=folder / "two" / "last.pt")
    straight = _single(longer)
    _assert_same_epochs(resumed.history[3:], straight.history[3:])


def test_resume_a_single_process_checkpoint_on_two_processes(two_process_run, tmp_path):
    folder, _, _, _, _ = two_process_run
    longer = _design(tmp_path, epochs=5)
    straight = _single(longer)
    # through the launcher in this process (the CLI's own path is tested above)
    code = launch(2, [str(longer), "--resume", str(folder / "one" / "last.pt"), "--no-run",
                      "--metrics-out", str(tmp_path / "resumed.jsonl")])
    assert code == 0
    _assert_same_epochs(_epochs(tmp_path / "resumed.jsonl"), straight.history[3:])


FAULT = """
import os, signal, sys
sys.path.insert(0, {root!r})
from runtime.training import trainer
step = trainer.Trainer._step

def failing(self, *args, **kwargs):
    if self.world.rank == {rank} and self.step == 3:
        if {kill}:
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("injected failure on purpose")
    return step(self, *args, **kwargs)

trainer.Trainer._step = failing
from runtime.training.distributed import main
sys.exit(main())
"""


@pytest.mark.parametrize("rank, kill, expected", [
    (1, False, "rank 1 failed (exit code 1): TrainingError: training crashed: RuntimeError: "
               "injected failure on purpose"),
    (0, True, "rank 0 was killed by SIGKILL")])
def test_a_failing_rank_ends_the_run_with_its_error(tmp_path, capsys, rank, kill, expected):
    path = _design(tmp_path, epochs=50)
    script = tmp_path / "fault.py"
    script.write_text(FAULT.format(root=str(ROOT), rank=rank, kill=kill))
    started = time.perf_counter()
    code = launch(2, [str(path), "--no-run"], entry=[str(script)])
    elapsed = time.perf_counter() - started
    assert code == 1
    err = capsys.readouterr().err
    assert f"training stopped: {expected}" in err
    assert elapsed < 30  # the survivor is stopped, not left waiting for the group's timeout


def test_shares_differ_by_one_and_cover_the_batch():
    for n in (2, 7, 39, 49):
        parts = [share(n, World(r, 3)) for r in range(3)] if n >= 3 else []
        if parts:
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
            sizes = [e - s for s, e in parts]
            assert max(sizes) - min(sizes) <= 1


def test_batches_too_small_for_the_processes_are_refused():
    with pytest.raises(TrainingError, match="batch size 2 is smaller than the 4 processes"):
        check_batches(100, 2, World(0, 4))
    with pytest.raises(TrainingError, match="last batch of every epoch holds 1 sample "):
        check_batches(97, 8, World(0, 2))
    check_batches(98, 8, World(0, 2))


def test_world_is_single_without_torchrun_and_checks_its_environment():
    assert world({}) == World()
    assert world({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
                  "LOCAL_WORLD_SIZE": "2"}) == World(1, 2, 1, 2)
    with pytest.raises(TrainingError, match="RANK 2 is not below WORLD_SIZE 2"):
        world({"RANK": "2", "WORLD_SIZE": "2"})


def test_every_activation_statistic_has_a_combination_rule():
    assert {spec.key for spec in of_source("activation")} == set(ACTIVATION_COMBINE)
    # two equal halves: the pooled std of N(0,1) and N(2,1) is sqrt(2)
    out = _combine({"act_mean": [0.0, 2.0], "act_std": [1.0, 1.0], "dead_fraction": [0.1, 0.3],
                    "saturated_fraction": [float("nan")] * 2, "act_min": [-3.0, -1.0],
                    "act_max": [3.0, 5.0]}, [10.0, 10.0])
    assert out == pytest.approx({"act_mean": 1.0, "act_std": 2 ** 0.5, "dead_fraction": 0.2,
                                 "saturated_fraction": None, "act_min": -3.0, "act_max": 5.0})


def test_the_designer_worker_trains_on_two_processes_pauses_and_stops(tmp_path):
    """`processes: 2` in the design: the worker's child launches the ranks, rank 0's events
    arrive on the usual queue, and Pause / Resume / a learning rate / Stop reach every rank."""
    from runtime.training.events import (EpochEnd, FitEnd, LrChanged, Paused, Resumed,
                                         WorkerStarted)
    from runtime.worker import TrainingWorker

    design = spiral_mlp(**{**TRAINING, "epochs": 200, "processes": 2})
    worker = TrainingWorker(design, base_dir=tmp_path, run_root=str(tmp_path / "runs"))
    worker.start()
    seen, deadline, paused_at = [], time.monotonic() + 90, None
    try:
        while not worker.finished and time.monotonic() < deadline:
            for event in worker.poll():
                seen.append(event)
                if isinstance(event, EpochEnd) and event.epoch == 1:
                    worker.pause()
                elif isinstance(event, Paused):
                    paused_at = time.monotonic()
                elif isinstance(event, Resumed):
                    worker.set_lr(0.0005)
                elif isinstance(event, EpochEnd) and event.lr == 0.0005:
                    seen += worker.stop(timeout=10.0)
            if paused_at is not None and time.monotonic() - paused_at > 1.0:
                worker.resume()
                paused_at = None
            time.sleep(0.02)
    finally:
        worker.close()
    kinds = [type(e).__name__ for e in seen]
    assert "Resumed" in kinds and "Paused" in kinds
    assert [e.lr for e in seen if isinstance(e, LrChanged)] == [0.0005]
    end = next(e for e in seen if isinstance(e, FitEnd))
    assert end.status == "stopped", end.message
    epochs = [e for e in seen if isinstance(e, EpochEnd)]
    assert 1 <= len(epochs) < 200
    folder = Path(next(e for e in seen if isinstance(e, WorkerStarted)).run_folder)
    assert (folder / "last.pt").is_file()
    assert json.loads((folder / "run.json").read_text())["status"] == "stopped"


def test_the_failure_named_is_the_cause_not_the_ranks_stopped_after_it(tmp_path):
    from types import SimpleNamespace

    from runtime.training.distributed import describe_failure

    def failure(exitcode, message="", error_file=None, name="<N/A>"):
        return SimpleNamespace(exitcode=exitcode, message=message, timestamp=100,
                               error_file=str(error_file or tmp_path / "none"),
                               signal_name=lambda: name)
    recorded = tmp_path / "error.json"
    recorded.write_text("{}")
    # the agent SIGTERMs the survivors of a rank that exited on its own
    failed = SimpleNamespace(failures={0: failure(-15, name="SIGTERM"), 1: failure(1)})
    assert describe_failure(failed) == (1, "training stopped: rank 1 failed (exit code 1) "
                                           "(its output is above)")
    failed.failures[2] = failure(1, {"message": "TrainingError: boom"}, recorded)
    assert describe_failure(failed) == (2, "training stopped: rank 2 failed (exit code 1): "
                                           "TrainingError: boom")


def test_the_processes_setting_is_checked_against_the_batch_size(tmp_path, capsys):
    from runtime.cli import run

    path = tmp_path / "design.json"
    save(spiral_mlp(**{**TRAINING, "processes": 8, "batch_size": 4}), path)
    assert run(["validate", str(path)]) == 1
    assert "8 processes need a batch size of at least 8 (it is 4)" in capsys.readouterr().err


def test_an_accumulator_of_several_outputs_sums_over_ranks_like_one_of_the_whole_batch():
    """What Reducer.accumulator does with a design of two Outputs: each rank's totals added
    element by element and set back give the metrics of the whole batch."""
    from runtime.training.outputs import HeadsAccumulator, OutputHead
    from runtime.data.base import NamedTensors

    heads = [OutputHead("digit", "cross_entropy", 1.0, ("accuracy",)),
             OutputHead("size", "mse", 0.5, ("mae",))]
    torch.manual_seed(0)
    logits, sizes = torch.randn(8, 3), torch.randn(8, 1)
    targets = NamedTensors({"digit": torch.randint(0, 3, (8,)), "size": torch.randn(8, 1)})

    def filled(rows: slice) -> HeadsAccumulator:
        acc = HeadsAccumulator(heads)
        acc.update((logits[rows], sizes[rows]), targets.map(lambda t: t[rows]),
                   torch.tensor(0.7 if rows.start == 0 else 0.3))
        return acc

    whole = HeadsAccumulator(heads)
    for rows in (slice(0, 5), slice(5, 8)):
        whole.update((logits[rows], sizes[rows]), targets.map(lambda t: t[rows]),
                     torch.tensor(0.7 if rows.start == 0 else 0.3))
    ranks = [filled(slice(0, 5)), filled(slice(5, 8))]
    summed = [a + b for a, b in zip(ranks[0].totals(), ranks[1].totals())]
    ranks[0].set_totals(summed)
    assert ranks[0].result() == pytest.approx(whole.result())
    assert ranks[0].totals() == pytest.approx(whole.totals())
