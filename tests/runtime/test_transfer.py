"""Weights into new designs: transfer by id and by type and shape, checkpoint safety, init_from,
per-layer learning-rate multipliers (groups, schedules, set_lr, resume), `train --init-from`."""
import json
import pathlib
import shutil

import pytest
import torch

from runtime.cli import run
from runtime.compile import compile_model
from runtime.document import dumps, load, loads, to_dict
from runtime.errors import ParamError, TrainingError
from runtime.graph import GraphModel
from runtime.training import Callback, Trainer, load_checkpoint
from runtime.training.checkpoints import CHECKPOINT_FORMAT, save_checkpoint
from runtime.training.events import EpochEnd, FitStart, LrChanged, Step
from runtime.training.optimizers import base_lr, make_optimizer, multiplier_groups
from runtime.training.schedules import SCHEDULES, RunShape, Schedule
from runtime.training.config import DEFAULTS
from runtime.training.transfer import BY_ID, BY_TYPE, TransferReport, transfer_weights
from tests.runtime.designs import chain
from tests.runtime.test_trainer import Recorder, spiral_mlp

PRESET = pathlib.Path(__file__).resolve().parents[2] / "presets" / "mlp-spirals.json"


def checkpoint_of(design: GraphModel, seed: int = 1) -> dict:
    """A checkpoint of `design` as the trainer writes one (weights from `seed`)."""
    torch.manual_seed(seed)
    model = compile_model(design)
    return {"format": CHECKPOINT_FORMAT, "version": 1, "design": to_dict(design),
            "model": model.state_dict()}


def compiled(design: GraphModel, seed: int = 2) -> torch.nn.Module:
    torch.manual_seed(seed)
    return compile_model(design)


def same(a: torch.nn.Module, b: dict, node: str, source: str | None = None) -> bool:
    """Every tensor of `node` in `a` equals `source`'s (default: the same node) in state `b`."""
    source = source or node
    mine = {k.split(".", 1)[1]: v for k, v in a.state_dict().items() if k.startswith(node + ".")}
    theirs = {k.split(".", 1)[1]: v for k, v in b.items() if k.startswith(source + ".")}
    return mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def renamed(design: GraphModel, names: dict[str, str]) -> GraphModel:
    data = json.loads(dumps(design))
    for node in data["nodes"]:
        node["id"] = names.get(node["id"], node["id"])
    for edge in data["edges"]:
        edge["from"], edge["to"] = names.get(edge["from"], edge["from"]), names.get(edge["to"],
                                                                                  edge["to"])
    return loads(json.dumps(data))


# --- matching ---------------------------------------------------------------------------------
def test_a_full_match_loads_every_node_by_id(tmp_path):
    design = spiral_mlp()
    state = checkpoint_of(design)
    save_checkpoint(state, tmp_path / "last.pt")
    for source in (state, tmp_path / "last.pt", str(tmp_path / "last.pt")):
        model = compiled(design)
        report = transfer_weights(model, design, source)
        assert [(i.node, i.source, i.by) for i in report.loaded] == [
            ("fc1", "fc1", BY_ID), ("fc2", "fc2", BY_ID), ("fc3", "fc3", BY_ID)]
        assert report.skipped == [] and report.unused == []
        assert all(same(model, state["model"], n) for n in ("fc1", "fc2", "fc3"))
        assert report.summary() == "loaded 3 of 3 weighted nodes (3 by id, 0 by type and shape)"
    assert report.source == str(tmp_path / "last.pt")
    assert TransferReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_a_changed_head_is_skipped_with_its_shapes_and_the_body_loads():
    state = checkpoint_of(spiral_mlp())
    design = spiral_mlp()
    design.set_param("fc3", "out_features", 3)
    model = compiled(design)
    before = model.fc3.weight.detach().clone()
    report = transfer_weights(model, design, state)
    assert [i.node for i in report.loaded] == ["fc1", "fc2"]
    assert [s.describe() for s in report.skipped] == [
        "fc3: weight (3, 32) vs (2, 32) in the checkpoint"]
    assert report.unused == ["fc3"]
    assert same(model, state["model"], "fc1") and same(model, state["model"], "fc2")
    assert torch.equal(model.fc3.weight, before)  # the new head keeps its initial weights
    assert report.summary() == ("loaded 2 of 3 weighted nodes (2 by id, 0 by type and shape); "
                                "skipped fc3: weight (3, 32) vs (2, 32) in the checkpoint")


def test_renamed_nodes_load_by_type_and_shape_in_graph_order():
    state = checkpoint_of(spiral_mlp())
    # fc1 (32, 2), fc2 (32, 32), fc3 (2, 32) under other ids
    design = renamed(spiral_mlp(), {"fc1": "body1", "fc2": "body2", "fc3": "head"})
    model = compiled(design)
    report = transfer_weights(model, design, state)
    assert [(i.node, i.source, i.by) for i in report.loaded] == [
        ("body1", "fc1", BY_TYPE), ("body2", "fc2", BY_TYPE), ("head", "fc3", BY_TYPE)]
    assert all(same(model, state["model"], i.node, i.source) for i in report.loaded)
    assert report.unused == []
    assert "(0 by id, 3 by type and shape)" in report.summary()


def test_two_nodes_of_one_shape_pair_up_in_graph_order_each_source_used_once():
    def deep(names):
        m = GraphModel()
        m.add_node("Input", {"shape": [4]}, node_id="x")
        for name in names:
            m.add_node("Linear", {"out_features": 4}, node_id=name)
        m.add_node("Output", node_id="out")
        chain(m, "x", *names, "out")
        return m
    state = checkpoint_of(deep(["a", "b"]))
    design = deep(["p", "q", "r"])  # three layers of the shape, two in the checkpoint
    model = compiled(design)
    report = transfer_weights(model, design, state)
    assert [(i.node, i.source) for i in report.loaded] == [("p", "a"), ("q", "b")]
    assert [s.describe() for s in report.skipped] == [
        "r: no node of type Linear with these shapes in the checkpoint"]


def test_a_node_is_loaded_whole_or_not_at_all():
    state = checkpoint_of(spiral_mlp())
    state["model"]["fc2.bias"] = torch.zeros(5)  # its weight still fits
    design = spiral_mlp()
    model = compiled(design)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = transfer_weights(model, design, state)
    assert [s.describe() for s in report.skipped] == [
        "fc2: bias (32,) vs (5,) in the checkpoint"]
    assert torch.equal(model.fc2.weight, before["fc2.weight"])  # not half a node
    assert torch.equal(model.fc2.bias, before["fc2.bias"])
    # a missing tensor and an extra one are the same: the whole node stays
    design.set_param("fc1", "bias", False)
    report = transfer_weights(compiled(design), design, checkpoint_of(spiral_mlp()))
    assert [s.describe() for s in report.skipped] == ["fc1: bias only in the checkpoint"]


def test_a_type_change_under_one_id_is_skipped_and_nan_weights_never_load():
    state = checkpoint_of(spiral_mlp())
    state["design"]["nodes"][1]["type"] = "Conv1d"  # fc1, same tensors, another layer type
    state["model"]["fc2.weight"][0, 0] = float("nan")
    design = spiral_mlp()
    report = transfer_weights(compiled(design), design, state)
    assert [s.describe() for s in report.skipped] == [
        "fc1: Linear vs Conv1d in the checkpoint",
        "fc2: weight holds NaN/Inf values in the checkpoint"]
    assert [i.node for i in report.loaded] == ["fc3"]


def test_batchnorm_running_statistics_travel_with_their_node():
    def net():
        m = GraphModel()
        m.add_node("Input", {"shape": [4]}, node_id="x")
        m.add_node("Linear", {"out_features": 8}, node_id="fc")
        m.add_node("BatchNorm", node_id="bn")
        m.add_node("Output", node_id="out")
        chain(m, "x", "fc", "bn", "out")
        return m
    torch.manual_seed(0)
    trained = compile_model(net())
    trained.train()
    for _ in range(3):
        trained(torch.randn(16, 4) * 3 + 1)
    state = {"format": CHECKPOINT_FORMAT, "design": to_dict(net()),
             "model": trained.state_dict()}
    assert int(state["model"]["bn.num_batches_tracked"]) == 3
    model = compiled(net())
    report = transfer_weights(model, net(), state)
    assert [i.node for i in report.loaded] == ["fc", "bn"]
    for key in ("running_mean", "running_var", "num_batches_tracked", "weight", "bias"):
        assert torch.equal(getattr(model.bn, key), state["model"][f"bn.{key}"]), key


# --- foreign and malformed checkpoints --------------------------------------------------------
class _Payload:
    """Would create a file if it were ever unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("kind, says", [
    ("plain", "is not a LayerLab checkpoint"),
    ("class", "holds Python objects besides tensors and plain values"),
    ("text", "it is not a PyTorch checkpoint, or it is damaged"),
    ("empty", "the file is empty"),
    ("truncated", "it is not a PyTorch checkpoint, or it is damaged"),
    ("missing", "does not exist"),
    ("no design", "the design it was trained with is missing or unreadable"),
    ("no tensors", "its weights hold 'fc1.weight', which is not a node's tensor"),
])
def test_a_foreign_or_malformed_checkpoint_is_refused_clearly(tmp_path, kind, says):
    design = spiral_mlp()
    path = tmp_path / "weights.pt"
    marker = tmp_path / "pwned"
    good = checkpoint_of(design)
    if kind == "plain":
        torch.save({"a": 1}, path)
    elif kind == "class":
        torch.save({"format": CHECKPOINT_FORMAT, "model": _Payload(str(marker))}, path)
    elif kind == "text":
        path.write_text("fc1.weight = [1, 2, 3]\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        save_checkpoint(good, path)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "no design":
        torch.save({**good, "design": None}, path)
    elif kind == "no tensors":
        torch.save({**good, "model": {"fc1.weight": [1.0, 2.0]}}, path)
    with pytest.raises(TrainingError) as info:
        transfer_weights(compiled(design), design, path)
    assert says in str(info.value) and str(path) in str(info.value)
    assert "weights_only" not in str(info.value)  # never the advice to unpickle it
    assert not marker.exists()


# --- the trainer ------------------------------------------------------------------------------
class FirstStep(Callback):
    """Records the weights and the optimiser state as the first step begins."""

    def on_fit_start(self, trainer, event):
        self.weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        self.optimizer_state = dict(trainer.optimizer.state)


def test_init_from_loads_weights_before_the_first_step_and_starts_a_new_run(tmp_path):
    source = spiral_mlp(epochs=2)
    Trainer(source, checkpoint_dir=tmp_path).fit()
    saved = load_checkpoint(tmp_path / "last.pt")
    design = spiral_mlp(epochs=1)
    design.set_param("fc3", "weight_init", "zeros")  # a fresh head would differ from the saved
    first, rec = FirstStep(), Recorder()
    trainer = Trainer(design, callbacks=[first, rec], init_from=tmp_path / "last.pt")
    assert trainer.fit().status == "completed"
    assert all(torch.equal(first.weights[k], saved["model"][k]) for k in saved["model"])
    assert first.optimizer_state == {}  # not the optimiser: that is resume
    assert [e.epoch for e in rec.of(EpochEnd)] == [1] and rec.of(Step)[0].step == 1
    assert trainer.transfer_report.summary().startswith("loaded 3 of 3 weighted nodes")


def test_init_from_and_resume_together_are_refused(tmp_path):
    with pytest.raises(TrainingError, match="init_from and resume cannot be used together"):
        Trainer(spiral_mlp(), init_from=tmp_path / "a.pt", resume=tmp_path / "b.pt")


def test_init_from_a_checkpoint_where_nothing_fits_is_refused():
    state = checkpoint_of(spiral_mlp(hidden=8))
    state["design"]["nodes"] = [dict(n, type="Conv1d") for n in state["design"]["nodes"]]
    with pytest.raises(TrainingError, match="nothing in the checkpoint fits this design"):
        Trainer(spiral_mlp(), init_from=state).fit()


# --- learning-rate multipliers ----------------------------------------------------------------
def test_old_design_files_get_the_default_multiplier_and_it_round_trips():
    design = load(PRESET)
    assert {n.params["lr_multiplier"] for n in design.nodes.values()
            if "weight_init" in n.params} == {1.0}
    design.set_param("fc1", "lr_multiplier", 0.1)
    assert loads(dumps(design)).nodes["fc1"].params["lr_multiplier"] == 0.1
    for bad in (0, -1.0, "slow"):
        with pytest.raises(ParamError):
            design.set_param("fc1", "lr_multiplier", bad)


def test_multipliers_make_param_groups_at_the_right_rates():
    design = spiral_mlp(epochs=1)  # adam, lr 0.01
    design.set_param("fc1", "lr_multiplier", 0.1)
    design.set_param("fc2", "lr_multiplier", 0.1)
    rec = Recorder()
    trainer = Trainer(design, callbacks=[rec])
    trainer.fit()
    groups = trainer.optimizer.param_groups
    assert [(g["lr_multiplier"], g["lr"]) for g in groups] == [(0.1, 0.01 * 0.1), (1.0, 0.01)]
    names = {id(p): n for n, p in trainer.named_trainable}
    assert [[names[id(p)] for p in g["params"]] for g in groups] == [
        ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], ["fc3.weight", "fc3.bias"]]
    # the events report the base rate
    assert rec.of(FitStart)[0].lr == 0.01 and {e.lr for e in rec.of(EpochEnd)} == {0.01}
    assert {e.lr for e in rec.of(Step)} == {0.01}
    # a design without multipliers has one group, as before
    plain = Trainer(spiral_mlp(epochs=1))
    plain.fit()
    assert [(g["lr_multiplier"], g["lr"]) for g in plain.optimizer.param_groups] == [(1.0, 0.01)]


def _two_groups(lr: float = 1.0, slow: float = 0.1) -> torch.optim.Optimizer:
    named = [("body.weight", torch.nn.Parameter(torch.zeros(1))),
             ("head.weight", torch.nn.Parameter(torch.zeros(1)))]
    return make_optimizer(multiplier_groups(named, {"body": slow}),
                          {**DEFAULTS["optimizer"], "name": "sgd", "momentum": 0.9, "lr": lr})


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_schedule_keeps_the_ratio_between_groups(name):
    optimizer = _two_groups(lr=0.5)
    run_shape = RunShape(0.5, 4, 3, "min")
    settings = {**DEFAULTS["schedule"], "name": name, "step_size": 1, "gamma": 0.5,
                "min_lr": 0.01, "patience": 0, "factor": 0.5, "warmup_epochs": 1}
    schedule = Schedule(optimizer, settings, run_shape)
    seen = set()
    for epoch in range(4):
        for _ in range(3):
            body, head = (g["lr"] for g in optimizer.param_groups)
            assert body == pytest.approx(0.1 * head, rel=1e-9), (name, epoch)
            seen.add(round(head, 12))
            optimizer.step()
            schedule.after_batch()
        schedule.after_epoch(1.0)  # never improves: the plateau schedule lowers the rate
    body, head = (g["lr"] for g in optimizer.param_groups)
    assert body == pytest.approx(0.1 * head, rel=1e-9)
    assert base_lr(optimizer) == head
    if name != "none":
        assert len(seen) > 1, f"{name} never changed the rate"


def test_cosine_ends_each_group_at_min_lr_times_its_multiplier():
    optimizer = _two_groups(lr=1.0)
    schedule = Schedule(optimizer, {**DEFAULTS["schedule"], "name": "cosine", "min_lr": 0.2},
                        RunShape(1.0, 4, 1, "min"))
    for _ in range(4):
        optimizer.step()
        schedule.after_epoch(None)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.02, 0.2])


class SetLr(Callback):
    def on_batch_end(self, trainer, step):
        if step == 3:
            trainer.set_lr(0.05)


def test_set_lr_sets_the_base_rate_and_keeps_the_ratio():
    design = spiral_mlp(epochs=1, schedule={"name": "step", "step_size": 1, "gamma": 0.5})
    design.set_param("fc1", "lr_multiplier", 0.2)
    rec = Recorder()
    trainer = Trainer(design, callbacks=[rec, SetLr()])
    trainer.fit()
    changed = rec.of(LrChanged)
    assert [(e.lr, e.previous_lr) for e in changed] == [(0.05, 0.01)]
    assert rec.of(Step)[-1].lr == 0.05
    groups = trainer.optimizer.param_groups  # after the epoch's step decay
    assert [g["lr"] for g in groups] == pytest.approx([0.05 * 0.2 * 0.5, 0.05 * 0.5])


def test_resume_with_groups_restores_each_parameters_state_by_name(tmp_path):
    design = spiral_mlp(epochs=1)  # 10 steps an epoch
    design.set_param("fc2", "lr_multiplier", 0.5)
    Trainer(design, checkpoint_dir=tmp_path / "1").fit()
    saved = load_checkpoint(tmp_path / "1" / "last.pt")
    assert [g["lr_multiplier"] for g in saved["optimizer"]["param_groups"]] == [1.0, 0.5]

    class Restored(Callback):
        def on_fit_start(self, trainer, event):
            self.state = {n: {k: v.clone() for k, v in trainer.optimizer.state[p].items()}
                          for n, p in trainer.named_trainable}

    restored = Restored()
    more = dict(design.training, epochs=2)
    trainer = Trainer(design, more, callbacks=[restored], resume=tmp_path / "1" / "last.pt")
    assert trainer.fit().status == "completed"
    for index, name in enumerate(saved["trainable"]):
        for key, value in saved["optimizer"]["state"][index].items():
            assert torch.equal(restored.state[name][key], value), (name, key)
    steps = {n: int(trainer.optimizer.state[p]["step"]) for n, p in trainer.named_trainable}
    assert set(steps.values()) == {20}
    assert [(g["lr_multiplier"], g["lr"]) for g in trainer.optimizer.param_groups] == [
        (1.0, 0.01), (0.5, 0.005)]
    # resuming as training straight through with the same groups
    straight = Recorder()
    Trainer(design, more, callbacks=[straight]).fit()
    assert straight.of(EpochEnd)[-1].train_loss == pytest.approx(
        trainer.history[-1].train_loss, rel=1e-5)
    # a multiplier changed since the save: the state still follows the names, the rate the new
    # multiplier
    design.set_param("fc1", "lr_multiplier", 0.25)
    changed = Trainer(design, dict(design.training, epochs=2), resume=tmp_path / "1" / "last.pt")
    assert changed.fit().status == "completed"
    assert sorted((g["lr_multiplier"], g["lr"]) for g in changed.optimizer.param_groups) == [
        (0.25, 0.0025), (0.5, 0.005), (1.0, 0.01)]
    assert {int(changed.optimizer.state[p]["step"]) for _, p in changed.named_trainable} == {20}


# --- the command line -------------------------------------------------------------------------
def test_train_init_from_prints_the_transfer_summary(tmp_path, capsys):
    design = tmp_path / "spirals.json"
    shutil.copy(PRESET, design)
    assert run(["train", str(design), "--epochs", "1", "--checkpoint-dir",
                str(tmp_path / "ckpt")]) == 0
    capsys.readouterr()
    wide = load(PRESET)
    wide.set_param("fc2", "out_features", 96)
    wide_path = tmp_path / "wide.json"
    wide_path.write_text(dumps(wide))
    checkpoint = tmp_path / "ckpt" / "last.pt"
    assert run(["train", str(wide_path), "--epochs", "1", "--init-from", str(checkpoint)]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "init from" in line)
    assert line == (f"{wide_path}: init from {checkpoint}: loaded 1 of 3 weighted nodes (1 by id, "
                    "0 by type and shape); skipped fc2: weight (96, 64) vs (64, 64) in the "
                    "checkpoint, fc3: weight (2, 96) vs (2, 64) in the checkpoint")
    assert "epoch 1/1" in err
    # errors exit 1 with the message
    assert run(["train", str(wide_path), "--init-from", str(design)]) == 1
    assert "cannot read checkpoint" in capsys.readouterr().err
    assert run(["train", str(wide_path), "--init-from", str(checkpoint), "--resume",
                str(checkpoint)]) == 1
    assert "cannot be used together" in capsys.readouterr().err


def test_the_design_s_init_from_setting_starts_it_from_those_weights(tmp_path):
    from runtime.training.config import with_setting
    from runtime.training.trainer import Trainer as T

    source = load(PRESET)
    source.training = dict(source.training, epochs=1)
    T(source, source.training, checkpoint_dir=tmp_path / "ckpt").fit()
    design = load(PRESET)
    design.training = with_setting(dict(design.training, epochs=1), "init_from", "ckpt/last.pt")
    trainer = T(design, design.training, base_dir=tmp_path)  # relative to the design's folder
    trainer._setup()
    assert trainer.transfer_report.summary().startswith("loaded 3 of 3 weighted nodes")
    # a resumed run ignores the setting: its checkpoint holds the weights already
    resumed = T(design, dict(design.training, epochs=2), base_dir=tmp_path,
                resume=tmp_path / "ckpt" / "last.pt")
    resumed._setup()
    assert getattr(resumed, "transfer_report", None) is None
