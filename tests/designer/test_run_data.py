"""RunRecord (what a run reported, as series) and the run labels: plain Python, no Qt needed."""
import math

from designer.run_data import NODE_STATS, RunRecord, Series, describe_changes
from runtime.training import events as ev
from runtime.training.statistics import STATISTICS


def doc(lr=0.01, units=64, extra_node=False, **training):
    nodes = [{"id": "x", "type": "Input", "params": {"shape": [2]}},
             {"id": "fc1", "type": "Linear", "params": {"out_features": units}}]
    if extra_node:
        nodes.append({"id": "drop", "type": "Dropout", "params": {"p": 0.5}})
    return {"format": "layerlab.design", "version": 2, "nodes": nodes,
            "edges": [{"from": "x", "to": "fc1"}],
            "training": {"optimizer": {"name": "adam", "lr": lr}, **training}}


def fit_start(steps_per_epoch: int = 1, epochs: int = 2) -> ev.FitStart:
    return ev.FitStart("t", "spirals", "cpu", epochs, 1, steps_per_epoch, 8, 80, 20, 10, 10,
                       "classification", 2, 0.01, False)


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
        ev.WorkerStarted(1),
        fit_start(steps_per_epoch=10, epochs=2),
        ev.Step(5, 1, 2, 5, 10, 0.9, 0.01, None),
        ev.Monitor(5, 1, {"fc1": {"grad_norm": 0.5, "act_std": 1.0}}),
        ev.LrChanged(6, 0.1, 0.01),
        ev.EpochEnd(1, 2, 10, 0.8, 0.7, {"train_accuracy": 0.6, "val_accuracy": 0.65}, 0.1,
                    100.0, 1.0, 1.0),
        ev.Paused(10),
    ])
    assert run.status == "paused" and not run.ended
    assert list(run.step_loss.x) == [0.5]
    # fit_start's rate, then the change by hand at step 6 drawn as a step: old and new there
    assert list(run.lr.y) == [0.01, 0.01, 0.1] and list(run.lr.x) == [0.0, 0.6, 0.6]
    assert run.stat("fc1", "grad_norm").last() == 0.5 and run.current("fc1", "act_std") == 1.0
    assert run.current("fc1", "dead_fraction") is None
    assert list(run.epoch_series["val_loss"].y) == [0.7] and run.metric_names() == ["accuracy"]
    run.apply([ev.Error("nan", "boom", "fc1"), ev.FitEnd("failed")])
    assert run.ended and run.failure["node"] == "fc1"


def test_every_per_node_statistic_is_kept_as_a_series():
    """The record keeps each statistic the catalogue plots over time, whatever it is."""
    kept = [s.key for s in STATISTICS.values() if s.per_node and s.group is not None]
    assert list(NODE_STATS) == kept and "weight_std" in kept
    run = RunRecord(1, doc())
    run.apply([fit_start(), ev.Monitor(1, 1, {"fc1": {key: 0.25 for key in kept}})])
    for key in kept:
        assert run.stat("fc1", key).last() == 0.25


def test_warnings_keep_the_node_they_name():
    run = RunRecord(1, doc())
    run.apply([ev.RunWarning("cross_entropy expects raw scores", "soft")])
    assert run.warnings == ["cross_entropy expects raw scores (node 'soft')"]


def test_csv_has_one_row_per_epoch(tmp_path):
    run = RunRecord(1, doc())
    run.apply([fit_start(), ev.EpochEnd(1, 2, 1, 0.5, None, {}, 0.1, 10.0, 1.0, 1.0),
               ev.EpochEnd(2, 2, 2, 0.25, 0.3, {}, 0.1, 10.0, 2.0, 0.0)])
    run.write_csv(tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().splitlines() == [
        "epoch,epochs,step,train_loss,val_loss,lr,samples_per_s,elapsed_s,eta_s",
        "1,2,1,0.5,,0.1,10.0,1.0,1.0", "2,2,2,0.25,0.3,0.1,10.0,2.0,0.0"]


def test_labels_say_what_changed():
    # the labels are runtime.design_diff's (tested there in full); the run record's adapter
    # adds the rate a run ended with and "same settings"
    assert describe_changes(doc(), doc(lr=0.1)) == "lr 0.01 → 0.1"
    assert describe_changes(doc(), doc(units=128)) == "fc1.out_features 64 → 128"
    assert describe_changes(doc(), doc(extra_node=True)) == "+drop (Dropout)"
    assert describe_changes(doc(extra_node=True), doc()) == "−drop"
    assert describe_changes(doc(), doc()) == "same settings"
    # a default written out is not a change; a rate changed during the run is
    assert describe_changes(doc(), doc(epochs=20)) == "same settings"
    assert describe_changes(doc(), doc(), lr_override=0.5) == "lr 0.5 → 0.01"
    many = describe_changes(doc(), doc(lr=0.1, units=8, epochs=3, batch_size=8), limit=2)
    assert many == "fc1.out_features 64 → 8, lr 0.01 → 0.1, +2 more"
