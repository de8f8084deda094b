"""`main.py train`: progress, JSON lines, checkpoints, resume, exit codes."""
import json

from runtime.cli import run
from runtime.document import save
from runtime.training.events import from_json
from tests.runtime.test_trainer import spiral_mlp


def _design(tmp_path, **training):
    m = spiral_mlp(**training)
    path = tmp_path / "design.json"
    save(m, path)
    return path


def test_train_writes_json_lines_and_checkpoints(tmp_path, capsys):
    path = _design(tmp_path, monitoring={"every": 10})
    metrics = tmp_path / "run.jsonl"
    code = run(["train", str(path), "--epochs", "2", "--metrics-out", str(metrics),
                "--checkpoint-dir", str(tmp_path / "ckpt")])
    assert code == 0
    out, err = capsys.readouterr()
    assert "epoch 2/2" in err and "completed after 2 epoch(s)" in err
    assert err.rstrip().endswith("the last epoch's metrics (JSON, on standard output):")
    assert json.loads(out)["epoch"] == 2
    events = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [from_json(e).to_json() for e in events] == events  # exactly the events' JSON
    epoch_events = [e for e in events if e["event"] == "epoch_end"]
    assert [e["epoch"] for e in epoch_events] == [1, 2]
    assert {"train_loss", "val_loss", "train_accuracy", "val_accuracy"} <= set(epoch_events[0])
    monitor = next(e for e in events if e["event"] == "monitor")
    assert {"grad_norm", "act_mean", "act_std", "dead_fraction"} <= set(monitor["nodes"]["fc1"])
    assert events[-1]["event"] == "fit_end" and events[-1]["status"] == "completed"
    assert (tmp_path / "ckpt" / "last.pt").exists() and (tmp_path / "ckpt" / "best.pt").exists()

    code = run(["train", str(path), "--epochs", "3", "--resume",
                str(tmp_path / "ckpt" / "last.pt")])
    assert code == 0
    assert "epoch 3/3" in capsys.readouterr().err


def test_train_bad_settings_exit_1_with_location(tmp_path, capsys):
    path = _design(tmp_path, optimizer={"name": "adam", "lr": "fast"})
    assert run(["train", str(path)]) == 1
    assert "training.optimizer.lr" in capsys.readouterr().err


def test_train_bad_dataset_exits_1(tmp_path, capsys):
    path = _design(tmp_path, dataset={"name": "npz", "params": {"path": "nowhere.npz"}})
    assert run(["train", str(path)]) == 1
    err = capsys.readouterr().err
    assert "training failed" in err and "nowhere.npz" in err


def test_train_failed_run_exits_1(tmp_path, capsys):
    m = spiral_mlp()
    m.set_param("x", "shape", [3])
    path = tmp_path / "d.json"
    save(m, path)
    assert run(["train", str(path)]) == 1
    assert "dataset gives (batch, 2) but Input expects (3)" in capsys.readouterr().err


def test_spirals_preset_reaches_95_percent(capsys):
    """The README's example: the MLP preset on spirals, from the command line, on the CPU."""
    from pathlib import Path
    preset = Path(__file__).resolve().parents[2] / "presets" / "mlp-spirals.json"
    assert run(["train", str(preset), "--epochs", "20"]) == 0
    final = json.loads(capsys.readouterr().out)
    assert final["val_accuracy"] >= 0.95
