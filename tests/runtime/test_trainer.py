"""The trainer: it learns, repeats under a seed, streams events, stops on NaN, checkpoints."""
import json
import math

import pytest
import torch

from runtime.errors import TrainingConfigError, TrainingError
from runtime.graph import GraphModel
from runtime.training import Callback, Trainer, load_checkpoint, parse_training
from tests.runtime.designs import chain


def spiral_mlp(hidden: int = 32, **training) -> GraphModel:
    m = GraphModel(name="Spiral MLP")
    m.add_node("Input", {"shape": [2]}, node_id="x")
    m.add_node("Linear", {"out_features": hidden}, node_id="fc1")
    m.add_node("ReLU", node_id="relu1")
    m.add_node("Linear", {"out_features": hidden}, node_id="fc2")
    m.add_node("Tanh", node_id="tanh2")
    m.add_node("Linear", {"out_features": 2}, node_id="fc3")
    m.add_node("Output", node_id="out")
    chain(m, "x", "fc1", "relu1", "fc2", "tanh2", "fc3", "out")
    m.training = {"dataset": {"name": "spirals", "params": {"n_samples": 400},
                              "validation_split": 0.25},
                  "epochs": 3, "batch_size": 32, "optimizer": {"name": "adam", "lr": 0.01},
                  **training}
    return m


class Recorder(Callback):
    def __init__(self):
        self.events = []
        self.calls = []

    def on_event(self, trainer, event):
        self.events.append(event)

    def on_fit_start(self, trainer, event):
        self.calls.append("fit_start")

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(f"epoch_start {epoch}")

    def on_validation_end(self, trainer, metrics):
        self.calls.append("validation_end")

    def on_epoch_end(self, trainer, event):
        self.calls.append(f"epoch_end {event['epoch']}")

    def on_fit_end(self, trainer, event):
        self.calls.append("fit_end")

    def on_exception(self, trainer, error):
        self.calls.append(f"exception {type(error).__name__}")

    def of(self, kind):
        return [e for e in self.events if e["event"] == kind]


def test_training_events_and_callbacks():
    rec = Recorder()
    end = Trainer(spiral_mlp(), callbacks=[rec]).fit()
    assert end["status"] == "completed" and end["epochs_run"] == 3
    assert rec.calls[0] == "fit_start" and rec.calls[-1] == "fit_end"
    assert rec.calls[1:5] == ["epoch_start 1", "validation_end", "epoch_end 1", "epoch_start 2"]
    epochs = rec.of("epoch_end")
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr",
                "samples_per_s", "eta_s"):
        assert isinstance(epochs[-1][key], float), key
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    steps = rec.of("step")
    assert steps and all(math.isfinite(s["loss"]) for s in steps)
    json.dumps(rec.events)  # plain, JSON-ready dicts


def test_seeded_cpu_runs_repeat_exactly():
    losses = []
    for _ in range(2):
        rec = Recorder()
        Trainer(spiral_mlp(), callbacks=[rec]).fit()
        losses.append([e["train_loss"] for e in rec.of("epoch_end")])
    assert losses[0] == losses[1]
    rec = Recorder()
    Trainer(spiral_mlp(seed=1), callbacks=[rec]).fit()
    assert [e["train_loss"] for e in rec.of("epoch_end")] != losses[0]


def test_monitoring_reports_every_node_and_parameter():
    rec = Recorder()
    Trainer(spiral_mlp(monitoring={"every": 5, "histogram_bins": 8}), callbacks=[rec]).fit()
    monitors = rec.of("monitor")
    assert len(monitors) >= 3
    nodes = monitors[0]["nodes"]
    assert set(nodes) == {"fc1", "relu1", "fc2", "tanh2", "fc3"}
    relu = nodes["relu1"]
    assert 0.0 <= relu["dead_fraction"] <= 1.0 and relu["saturated_fraction"] is None
    assert len(relu["act_hist"]) == 8 and sum(relu["act_hist"]) == 32 * 32
    assert 0.0 <= nodes["tanh2"]["saturated_fraction"] <= 1.0
    fc1 = nodes["fc1"]
    assert fc1["grad_norm"] > 0 and fc1["weight_norm"] > 0 and fc1["update_ratio"] > 0
    assert set(fc1["params"]) == {"weight", "bias"}
    weight = fc1["params"]["weight"]
    numel = 2 * sum(fc1["params"]["bias"]["grad_hist"])  # 2 inputs times one bias per unit
    assert len(weight["grad_hist"]) == 8 and sum(weight["grad_hist"]) == numel
    assert len(weight["weight_hist"]) == 8 and sum(weight["weight_hist"]) == numel
    assert weight["weight_min"] <= weight["weight_max"]


def test_dead_relus_are_visible():
    m = spiral_mlp(monitoring={"every": 1}, epochs=1)
    m.set_param("fc1", "weight_init", "zeros")  # zero weights and bias: ReLU outputs exact zeros
    rec = Recorder()
    Trainer(m, callbacks=[rec]).fit()
    assert rec.of("monitor")[0]["nodes"]["relu1"]["dead_fraction"] == 1.0


def test_overflowing_network_stops_with_nan_naming_a_node():
    trainer = Trainer(spiral_mlp())
    trainer._setup()
    with torch.no_grad():
        trainer.model.fc3.weight.mul_(1e20).mul_(1e20)  # overflows float32 to inf
    with pytest.raises(TrainingError) as info:
        trainer._fit(0.0)
    assert info.value.kind == "nan" and info.value.node == "fc3"
    assert "NaN/Inf" in str(info.value) and "learning rate" in str(info.value)


def test_too_high_learning_rate_diverges_and_stops():
    m = GraphModel(name="Diverging regression")
    m.add_node("Input", {"shape": [1]}, node_id="x")
    m.add_node("Linear", {"out_features": 16}, node_id="fc1")
    m.add_node("ReLU", node_id="relu")
    m.add_node("Linear", {"out_features": 1}, node_id="fc2")
    m.add_node("Output", node_id="out")
    chain(m, "x", "fc1", "relu", "fc2", "out")
    m.training = {"dataset": {"name": "sine", "params": {"n_samples": 256}}, "loss": "mse",
                  "metrics": ["mse"], "optimizer": {"name": "sgd", "lr": 5.0, "momentum": 0.9},
                  "epochs": 50, "batch_size": 32}
    with pytest.raises(TrainingError) as info:
        Trainer(m).fit()
    assert info.value.kind == "nan" and "lower the learning rate" in str(info.value)


def test_finite_but_huge_outputs_are_blamed_on_divergence_not_the_targets():
    trainer = Trainer(spiral_mlp())
    trainer._setup()
    with torch.no_grad():
        trainer.model.fc3.weight.mul_(1e18)  # outputs ~1e18: finite, their squares are not
    assert "grew so large" in trainer._finite_output_hint(trainer.x[:8])
    assert "learning rate" in trainer._finite_output_hint(trainer.x[:8])
    with torch.no_grad():
        trainer.model.fc3.weight.div_(1e18)
    assert "check the targets" in trainer._finite_output_hint(trainer.x[:8])


def test_nan_in_the_data_names_the_first_node():
    m = spiral_mlp()
    trainer = Trainer(m)
    trainer._setup()
    trainer.x[trainer.train_idx[:5]] = float("nan")
    trainer.config = parse_training({**m.training, "batch_size": "full"})
    trainer.batch_size, trainer.steps_per_epoch = len(trainer.train_idx), 1
    with pytest.raises(TrainingError) as info:
        trainer._fit(0.0)
    assert info.value.kind == "nan" and info.value.node == "fc1"


def test_bad_settings_never_start_a_run():
    m = spiral_mlp(optimizer={"name": "adamm", "lr": -1}, batch_size=0)
    with pytest.raises(TrainingConfigError) as info:
        Trainer(m)
    where = {p.location for p in info.value.problems}
    assert where == {"training.optimizer.name", "training.optimizer.lr", "training.batch_size"}


def test_dataset_shape_must_fit_the_input():
    m = spiral_mlp()
    m.set_param("x", "shape", [1, 2])
    with pytest.raises(TrainingError, match=r"dataset gives \(batch, 2\) but Input expects "
                                            r"\(1, 2\): add a Reshape or change Input") as info:
        Trainer(m).fit()
    assert info.value.node == "x"


def test_output_must_fit_the_loss():
    m = spiral_mlp()
    m.set_param("fc3", "out_features", 3)
    with pytest.raises(TrainingError, match=r"\(batch, 2\).*2 classes.*\(batch, 3\)") as info:
        Trainer(m).fit()
    assert info.value.node == "out"


def test_design_errors_are_refused():
    m = spiral_mlp()
    m.disconnect(m.in_edges("fc2")[0])
    with pytest.raises(TrainingError, match="fc2") as info:
        Trainer(m).fit()
    assert info.value.kind == "design"


def test_stop_from_a_callback():
    class StopAt(Callback):
        def on_batch_end(self, trainer, step):
            if step == 4:
                trainer.request_stop()
    rec = Recorder()
    end = Trainer(spiral_mlp(), callbacks=[StopAt(), rec]).fit()
    assert end["status"] == "stopped" and end["steps"] == 4


def test_set_lr_takes_effect():
    class Change(Callback):
        def on_batch_end(self, trainer, step):
            if step == 2:
                trainer.set_lr(0.5)
    rec = Recorder()
    Trainer(spiral_mlp(), callbacks=[Change(), rec]).fit()
    assert rec.of("lr_changed")[0]["lr"] == 0.5
    assert rec.of("epoch_end")[0]["lr"] == 0.5


def test_early_stopping():
    m = spiral_mlp(epochs=40, optimizer={"name": "sgd", "lr": 1e-6},
                   early_stopping={"enabled": True, "monitor": "val_loss", "patience": 1,
                                   "min_delta": 0.1})
    end = Trainer(m).fit()
    assert end["status"] == "early_stopped" and end["epochs_run"] == 3


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_optimizers(name):
    m = spiral_mlp(optimizer={"name": name, "lr": 0.01}, epochs=1)
    assert Trainer(m).fit()["status"] == "completed"


@pytest.mark.parametrize("schedule", ["step", "cosine", "reduce_on_plateau", "one_cycle",
                                      "warmup"])
def test_schedules_change_the_rate(schedule):
    m = spiral_mlp(schedule={"name": schedule, "step_size": 1, "gamma": 0.5, "patience": 0,
                             "factor": 0.5, "warmup_epochs": 2}, epochs=3)
    rec = Recorder()
    Trainer(m, callbacks=[rec]).fit()
    rates = [e["lr"] for e in rec.of("step")]
    assert len(set(rates)) > 1 or schedule == "reduce_on_plateau"


def test_regularisation_clipping_full_batch_and_augmentation():
    m = spiral_mlp(regularization={"l1": 1e-4, "max_norm": 0.5}, batch_size="full",
                   gradient_clipping={"mode": "value", "value": 0.1},
                   augmentation={"noise": 0.01})
    trainer = Trainer(m)
    end = trainer.fit()
    assert end["steps"] == 3
    w = trainer.model.fc1.weight
    assert (w.norm(dim=1) <= 0.5 + 1e-5).all()


def test_checkpoints_and_resume(tmp_path):
    m = spiral_mlp()
    first = Trainer(m, checkpoint_dir=tmp_path).fit()
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 3 and (tmp_path / "best.pt").exists()
    assert {key.split(".")[0] for key in state["model"]} == {"fc1", "fc2", "fc3"}
    assert state["design"]["nodes"][1]["id"] == "fc1"
    assert torch.load(tmp_path / "best.pt", weights_only=True)["format"] == "layerlab.checkpoint"
    more = dict(m.training, epochs=5)
    rec = Recorder()
    end = Trainer(m, more, callbacks=[rec], resume=tmp_path / "last.pt").fit()
    assert [e["epoch"] for e in rec.of("epoch_end")] == [4, 5]
    assert end["steps"] == first["steps"] * 5 // 3
    # resuming gives the same result as training straight through
    straight = Recorder()
    Trainer(m, more, callbacks=[straight]).fit()
    assert straight.of("epoch_end")[-1]["train_loss"] == pytest.approx(
        rec.of("epoch_end")[-1]["train_loss"], rel=1e-5)


def test_resume_refuses_a_checkpoint_of_another_design(tmp_path):
    Trainer(spiral_mlp(), checkpoint_dir=tmp_path).fit()
    with pytest.raises(TrainingError, match="does not fit this design"):
        Trainer(spiral_mlp(hidden=8), resume=tmp_path / "last.pt").fit()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="cannot read checkpoint"):
        Trainer(spiral_mlp(), resume=tmp_path / "junk.pt").fit()


def test_writing_an_early_stopping_block_turns_it_on():
    assert parse_training({"early_stopping": {"patience": 2}})["early_stopping"]["enabled"]
    assert not parse_training({})["early_stopping"]["enabled"]
    assert not parse_training({"early_stopping": {"enabled": False}})["early_stopping"]["enabled"]
