"""Transfer learning from the presets (#13): class subsets and small labelled subsets of a
dataset, layers kept fresh, and `init_from: "preset:NAME"` pre-training once, then reused."""
from __future__ import annotations

import json

import pytest
import torch

from runtime import preset_files
from runtime.data import load_dataset, select_classes, training_split
from runtime.document import dumps, load
from runtime.errors import DatasetError, TrainingError
from runtime.runs import list_runs
from runtime.training import Callback, Trainer, parse_training
from runtime.training.events import FitStart, Preparing
from runtime.training.pretrained import preset_runs_root, preset_weights, resolve_start
from runtime.training.transfer import KEPT_FRESH, transfer_weights
from tests.runtime.test_trainer import spiral_mlp
from tests.runtime.test_transfer import checkpoint_of, compiled, same

SHAPES = {"name": "shapes", "params": {"n_samples": 400, "n_classes": 8, "size": 8}}


# --- datasets: some classes, few labels -----------------------------------------------------
def test_classes_keep_only_those_samples_relabelled_in_the_order_given():
    full = load_dataset(SHAPES)
    picked = load_dataset({**SHAPES, "classes": ["ring", "circle", "3"]})
    assert picked.num_classes == 3 and picked.class_names == ["ring", "circle", "cross"]
    names = full.class_names
    expected = [i for i, y in enumerate(full.y.tolist())
                if names[y] in ("ring", "circle", "cross")]
    assert torch.equal(picked.x, full.x[expected])
    relabel = {names.index("ring"): 0, names.index("circle"): 1, 3: 2}
    assert picked.y.tolist() == [relabel[y] for y in full.y[expected].tolist()]


@pytest.mark.parametrize("classes, message", [
    (["rung"], "has no class 'rung': did you mean 'ring'?"),
    (["9"], "class '9' is out of range (it has 8 classes, 0 to 7)"),
    (["ring", "7"], "class '7' is picked twice"),
])
def test_a_wrong_class_is_named(classes, message):
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("?", r"\?")):
        load_dataset({**SHAPES, "classes": classes})


def test_classes_need_a_classification_dataset():
    with pytest.raises(DatasetError, match="classification dataset"):
        load_dataset({"name": "sine", "classes": ["0"]})
    digits = load_dataset({"name": "digits"})
    assert select_classes(digits, ["5", "6"]).class_names == ["5", "6"]


def test_train_per_class_keeps_that_many_of_each_class_and_the_whole_validation_split():
    dataset = load_dataset(SHAPES)
    block = parse_training({"dataset": {**SHAPES, "train_per_class": 3}}).dataset
    train_idx, val_idx = training_split(dataset, block, seed=0)
    whole_train, whole_val = training_split(
        dataset, parse_training({"dataset": SHAPES}).dataset, seed=0)
    assert torch.equal(val_idx, whole_val)
    assert set(train_idx.tolist()) <= set(whole_train.tolist())
    assert torch.bincount(dataset.y[train_idx], minlength=8).tolist() == [3] * 8
    again, _ = training_split(dataset, block, seed=0)
    assert torch.equal(again, train_idx)  # seeded: the same subset every run


def test_a_trainer_trains_on_the_small_subset():
    design = spiral_mlp(epochs=1, batch_size="full")
    design.training = {**design.training,
                       "dataset": {**design.training["dataset"], "train_per_class": 4}}

    class Start(Callback):
        def on_fit_start(self, trainer, event: FitStart) -> None:
            self.event = event

    start = Start()
    Trainer(design, callbacks=[start]).fit()
    assert start.event.train_samples == 8 and start.event.val_samples == 100


# --- layers kept fresh ------------------------------------------------------------------------
def test_init_skip_keeps_a_head_fresh_even_where_the_checkpoint_fits():
    design = spiral_mlp()
    state = checkpoint_of(design)
    model = compiled(design)
    before = model.fc3.weight.detach().clone()
    report = transfer_weights(model, design, state, keep_fresh=["fc3"])
    assert [i.node for i in report.loaded] == ["fc1", "fc2"]
    assert [(s.node, s.reason) for s in report.skipped] == [("fc3", KEPT_FRESH)]
    assert torch.equal(model.fc3.weight, before) and same(model, state["model"], "fc1")
    with pytest.raises(TrainingError, match="init_skip names 'fc9', which is not a node"):
        transfer_weights(compiled(design), design, state, keep_fresh=["fc9"])


# --- init_from: "preset:NAME" ---------------------------------------------------------------
@pytest.fixture
def presets(tmp_path, monkeypatch):
    """A presets folder of our own with a tiny pre-training preset and a fine-tuning one."""
    folder = tmp_path / "presets"
    folder.mkdir()
    monkeypatch.setattr(preset_files, "PRESETS_DIR", folder)
    monkeypatch.setenv("LAYERLAB_DATA", str(tmp_path / "data"))
    source = spiral_mlp(epochs=2)
    source.name = "Tiny source"
    (folder / "tiny-source.json").write_text(dumps(source), encoding="utf-8")
    return folder


class Events(Callback):
    def __init__(self):
        self.events = []

    def on_event(self, trainer, event) -> None:
        self.events.append(event)


def test_a_preset_pre_trains_once_then_its_kept_run_is_reused(presets):
    design = spiral_mlp(epochs=1, init_from="preset:tiny-source", init_skip=["fc3"])
    events = Events()
    trainer = Trainer(design, callbacks=[events])
    trainer.fit()
    preparing = [e for e in events.events if isinstance(e, Preparing)]
    assert [round(e.done, 2) for e in preparing] == [0.0, 0.5, 1.0]
    assert "pre-training preset tiny-source" in preparing[0].message
    assert "epoch 2/2" in preparing[-1].message and "val_loss" in preparing[-1].message
    runs, _ = list_runs(preset_runs_root("tiny-source"))
    assert len(runs) == 1 and runs[0].status == "completed"
    best = runs[0].checkpoint("best")
    assert trainer.transfer_report.source == str(best)
    assert [i.node for i in trainer.transfer_report.loaded] == ["fc1", "fc2"]
    # the next run starts from the same weights without pre-training again
    events = Events()
    Trainer(spiral_mlp(epochs=1, init_from="preset:tiny-source"), callbacks=[events]).fit()
    assert not [e for e in events.events if isinstance(e, Preparing)]
    assert len(list_runs(preset_runs_root("tiny-source"))[0]) == 1
    assert preset_weights("tiny-source") == best


def test_an_edited_preset_is_pre_trained_again(presets):
    first = preset_weights("tiny-source")
    source = load(presets / "tiny-source.json")
    source.set_param("fc2", "out_features", 16)
    (presets / "tiny-source.json").write_text(dumps(source), encoding="utf-8")
    second = preset_weights("tiny-source")
    assert second != first and second.parent.parent == first.parent.parent
    nodes = json.loads((second.parent / "design.json").read_text())["nodes"]
    assert next(n for n in nodes if n["id"] == "fc2")["params"]["out_features"] == 16


def test_an_unknown_preset_or_a_circle_is_a_clear_error(presets):
    with pytest.raises(TrainingError, match="no preset 'tiny-sourc': did you mean "
                                            "'tiny-source'"):
        Trainer(spiral_mlp(init_from="preset:tiny-sourc")).fit()
    looped = spiral_mlp(epochs=1, init_from="preset:loop")
    looped.name = "Loop"
    (presets / "loop.json").write_text(dumps(looped), encoding="utf-8")
    with pytest.raises(TrainingError, match="in a circle: loop -> loop"):
        preset_weights("loop")


def test_stopping_the_run_stops_its_pre_training(presets):
    design = spiral_mlp(epochs=1, init_from="preset:tiny-source")

    class StopAtOnce(Callback):
        def on_event(self, trainer, event) -> None:
            if isinstance(event, Preparing):
                trainer.request_stop()

    with pytest.raises(TrainingError, match="pre-training preset tiny-source did not complete"):
        Trainer(design, callbacks=[StopAtOnce()]).fit()
    runs, _ = list_runs(preset_runs_root("tiny-source"))
    assert [r.status for r in runs] == ["stopped"]  # kept, but never reused


def test_a_checkpoint_path_is_read_from_the_design_folder(tmp_path):
    assert resolve_start("runs/best.pt", tmp_path) == tmp_path / "runs" / "best.pt"
    assert resolve_start(tmp_path / "a.pt", None) == tmp_path / "a.pt"


def test_the_shipped_fine_tuning_presets_name_a_shipped_preset():
    names = preset_files.preset_names()
    for name in ("transfer-shapes-feature-extraction", "transfer-shapes-fine-tuning"):
        training = load(preset_files.preset_path(name)).training
        source = training["init_from"].removeprefix("preset:")
        assert source in names and training["init_skip"]


def test_a_wrong_init_skip_is_refused_before_any_pre_training(presets):
    events = Events()
    design = spiral_mlp(epochs=1, init_from="preset:tiny-source", init_skip=["fc9"])
    with pytest.raises(TrainingError, match="training.init_skip names 'fc9', which is not a "
                                            "node of this design"):
        Trainer(design, callbacks=[events]).fit()
    assert not [e for e in events.events if isinstance(e, Preparing)]
    assert not list_runs(preset_runs_root("tiny-source"))[0]
