"""RunRecord (what a run reported, as series) and the run labels: plain Python, no Qt needed."""
import math

from designer.run_data import RunRecord, Series, describe_changes


def doc(lr=0.01, units=64, extra_node=False, **training):
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [2]}},
             {"id": "fc1", "type": "Linear", "params": {"out_features": units}}]
    if extra_node:
        nodes.append({"id": "drop", "type": "Dropout", "params": {"p": 0.5}})
    return {"nodes": nodes, "edges": [{"from": "x", "to": "fc1"}],
            "training": {"optimizer": {"name": "adam", "lr": lr}, **training}}


def test_series_grow_and_views_stay_valid():
    s = Series(capacity=2)
    s.append(0, 1.0)
    view = s.y
    for i in range(1, 10):
        s.append(i, None if i == 5 else float(i))
    assert list(view) == [1.0] and len(s) == 10 and math.isnan(s.y[5]) and s.last() == 9.0


def test_events_become_series():
    run = RunRecord(1, doc())
    run.apply([
        {"event": "worker_started", "pid": 1},
        {"event": "fit_start", "steps_per_epoch": 10, "epochs": 2, "lr": 0.01, "device": "cpu"},
        {"event": "step", "step": 5, "epoch": 1, "loss": 0.9, "lr": 0.01},
        {"event": "monitor", "step": 5, "nodes": {"fc1": {"grad_norm": 0.5, "act_std": 1.0}}},
        {"event": "lr_changed", "step": 6, "lr": 0.1, "previous_lr": 0.01},
        {"event": "epoch_end", "epoch": 1, "step": 10, "train_loss": 0.8, "val_loss": 0.7,
         "train_accuracy": 0.6, "val_accuracy": 0.65, "samples_per_s": 100.0},
        {"event": "paused", "step": 10},
    ])
    assert run.status == "paused" and not run.ended
    assert list(run.step_loss.x) == [0.5] and list(run.lr.y) == [0.01, 0.1]
    assert run.stat("fc1", "grad_norm").last() == 0.5 and run.current("fc1", "act_std") == 1.0
    assert run.current("fc1", "dead_fraction") is None
    assert list(run.epoch_series["val_loss"].y) == [0.7] and run.metric_names() == ["accuracy"]
    run.apply([{"event": "error", "kind": "nan", "node": "fc1", "message": "boom"},
               {"event": "fit_end", "status": "failed"}])
    assert run.ended and run.failure["node"] == "fc1"


def test_csv_has_one_row_per_epoch(tmp_path):
    run = RunRecord(1, doc())
    run.apply([{"event": "fit_start", "steps_per_epoch": 1},
               {"event": "epoch_end", "epoch": 1, "train_loss": 0.5, "val_loss": None},
               {"event": "epoch_end", "epoch": 2, "train_loss": 0.25, "val_loss": 0.3}])
    run.write_csv(tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().splitlines() == [
        "epoch,train_loss,val_loss", "1,0.5,", "2,0.25,0.3"]


def test_labels_say_what_changed():
    assert describe_changes(doc(), doc(lr=0.1)) == "lr 0.01 -> 0.1"
    assert describe_changes(doc(), doc(units=128)) == "fc1.out_features 64 -> 128"
    assert describe_changes(doc(), doc(extra_node=True)) == "+drop"
    assert describe_changes(doc(extra_node=True), doc()) == "-drop"
    assert describe_changes(doc(), doc()) == "same settings"
    # a default written out is not a change; a rate changed during the run is
    assert describe_changes(doc(), doc(epochs=20)) == "same settings"
    assert describe_changes(doc(), doc(), lr_override=0.5) == "lr 0.5 -> 0.01"
    many = describe_changes(doc(), doc(lr=0.1, units=8, epochs=3, batch_size=8), limit=2)
    assert many == "lr 0.01 -> 0.1, batch 64 -> 8 (+2 more)"
