"""The trainer: it learns, repeats under a seed, streams events, stops on NaN, checkpoints."""
import io
import json
import math

import pytest
import torch

from runtime.errors import TrainingConfigError, TrainingError
from runtime.graph import GraphModel
from runtime.training import Callback, ProgressPrinter, Trainer, load_checkpoint, parse_training
from runtime.training.events import (EVENTS, EpochEnd, Event, FitEnd, FitStart, LrChanged, Monitor,
                                     Step, RunWarning)
from runtime.training.optimizers import OPTIMIZERS
from runtime.training.schedules import SCHEDULES
from tests.runtime.designs import chain, mlp


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


def sine_mlp(**training) -> GraphModel:
    """A small regression MLP for the `sine` dataset (mse loss): one value in, one out."""
    m = mlp()
    m.set_param("x", "shape", [1])
    m.set_param("fc2", "out_features", 1)
    m.training = {"dataset": {"name": "sine", "params": {"n_samples": 256}}, "loss": "mse",
                  "epochs": 2, "batch_size": 32, **training}
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
        self.calls.append(f"epoch_end {event.epoch}")

    def on_fit_end(self, trainer, event):
        self.calls.append("fit_end")

    def on_exception(self, trainer, error):
        self.calls.append(f"exception {type(error).__name__}")

    def of(self, kind: type[Event]) -> list:
        """The recorded events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]


def test_training_events_and_callbacks():
    rec = Recorder()
    end = Trainer(spiral_mlp(), callbacks=[rec]).fit()
    assert isinstance(end, FitEnd) and end.status == "completed" and end.epochs_run == 3
    assert rec.events[-1] == end
    assert rec.calls[0] == "fit_start" and rec.calls[-1] == "fit_end"
    assert rec.calls[1:5] == ["epoch_start 1", "validation_end", "epoch_end 1", "epoch_start 2"]
    epochs = rec.of(EpochEnd)
    assert [e.epoch for e in epochs] == [1, 2, 3]
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        assert isinstance(epochs[-1].get(key), float), key
    for key in ("lr", "samples_per_s", "eta_s"):
        assert isinstance(getattr(epochs[-1], key), float), key
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert end.final == epochs[-1].to_json()
    steps = rec.of(Step)
    assert steps and all(math.isfinite(s.loss) for s in steps)
    assert all(type(e) is EVENTS[e.kind] for e in rec.events)
    json.dumps([e.to_json() for e in rec.events])  # plain, JSON-ready dicts


def test_seeded_cpu_runs_repeat_exactly():
    losses = []
    for _ in range(2):
        rec = Recorder()
        Trainer(spiral_mlp(), callbacks=[rec]).fit()
        losses.append([e.train_loss for e in rec.of(EpochEnd)])
    assert losses[0] == losses[1]
    rec = Recorder()
    Trainer(spiral_mlp(seed=1), callbacks=[rec]).fit()
    assert [e.train_loss for e in rec.of(EpochEnd)] != losses[0]


def test_monitoring_reports_every_node_and_parameter():
    rec = Recorder()
    Trainer(spiral_mlp(monitoring={"every": 5, "histogram_bins": 8}), callbacks=[rec]).fit()
    monitors = rec.of(Monitor)
    assert len(monitors) >= 3
    nodes = monitors[0].nodes
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
    assert rec.of(Monitor)[0].nodes["relu1"]["dead_fraction"] == 1.0


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
    m = sine_mlp(metrics=["mse"], optimizer={"name": "sgd", "lr": 5.0, "momentum": 0.9},
                 epochs=50)
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
    assert end.status == "stopped" and end.steps == 4


def test_set_lr_takes_effect():
    class Change(Callback):
        def on_batch_end(self, trainer, step):
            if step == 2:
                trainer.set_lr(0.5)
    rec = Recorder()
    Trainer(spiral_mlp(), callbacks=[Change(), rec]).fit()
    assert rec.of(LrChanged)[0].lr == 0.5
    assert rec.of(EpochEnd)[0].lr == 0.5


def test_early_stopping():
    m = spiral_mlp(epochs=40, optimizer={"name": "sgd", "lr": 1e-6},
                   early_stopping={"enabled": True, "monitor": "val_loss", "patience": 1,
                                   "min_delta": 0.1})
    end = Trainer(m).fit()
    assert end.status == "early_stopped" and end.epochs_run == 3


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers(name):
    m = spiral_mlp(optimizer={"name": name, "lr": 0.01}, epochs=1)
    assert Trainer(m).fit().status == "completed"


@pytest.mark.parametrize("schedule", [name for name in SCHEDULES if name != "none"])
def test_schedules_change_the_rate(schedule):
    m = spiral_mlp(schedule={"name": schedule, "step_size": 1, "gamma": 0.5, "patience": 0,
                             "factor": 0.5, "warmup_epochs": 2}, epochs=3)
    rec = Recorder()
    Trainer(m, callbacks=[rec]).fit()
    rates = [e.lr for e in rec.of(Step)]
    assert len(set(rates)) > 1 or schedule == "reduce_on_plateau"


def test_regularisation_clipping_full_batch_and_augmentation():
    m = spiral_mlp(regularization={"l1": 1e-4, "max_norm": 0.5}, batch_size="full",
                   gradient_clipping={"mode": "value", "value": 0.1},
                   augmentation={"noise": 0.01})
    trainer = Trainer(m)
    end = trainer.fit()
    assert end.steps == 3
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
    assert [e.epoch for e in rec.of(EpochEnd)] == [4, 5]
    assert end.steps == first.steps * 5 // 3
    # resuming gives the same result as training straight through
    straight = Recorder()
    Trainer(m, more, callbacks=[straight]).fit()
    assert straight.of(EpochEnd)[-1].train_loss == pytest.approx(
        rec.of(EpochEnd)[-1].train_loss, rel=1e-5)


def test_a_resumed_mixed_precision_run_keeps_its_loss_scale(tmp_path):
    """fp16's GradScaler (CUDA only: a CPU scaler stands in here) is saved with the checkpoint
    and restored on resume, instead of starting again at 65536 and skipping steps to find it."""
    m = spiral_mlp(epochs=1)
    trainer = Trainer(m, checkpoint_dir=tmp_path)
    trainer._setup()
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    trainer.scaler.scale(torch.tensor(1.0))  # the scaler makes its scale on first use
    trainer.scaler.update(new_scale=512.0)
    torch.save(trainer.checkpoint_state(), tmp_path / "amp.pt")
    resumed = Trainer(m, dict(m.training, epochs=2), resume=tmp_path / "amp.pt")
    resumed._setup()  # resumes without a scaler (none on the CPU); now with one:
    resumed.scaler = torch.amp.GradScaler("cpu")
    resumed._load_checkpoint(tmp_path / "amp.pt")
    assert resumed.scaler.get_scale() == 512.0
    assert load_checkpoint(tmp_path / "amp.pt")["scaler"]["scale"] == 512.0


def test_mixed_precision_autocasts_bfloat16_on_the_cpu_and_says_when_it_cannot():
    def run(**training):
        seen = Recorder()
        trainer = Trainer(spiral_mlp(epochs=2, seed=4, **training), callbacks=[seen])
        trainer.fit()
        start = next(e for e in seen.events if isinstance(e, FitStart))
        warnings = [e.message for e in seen.events if isinstance(e, RunWarning)]
        return trainer, start, warnings

    plain, start, warnings = run()
    assert start.precision == "float32" and not start.mixed_precision and not warnings
    bf16, start, warnings = run(mixed_precision=True, mixed_precision_dtype="bfloat16")
    assert start.precision == "bfloat16" and start.mixed_precision and not warnings
    assert bf16.scaler is None  # bfloat16 has float32's range: nothing to scale
    losses = [e.train_loss for e in bf16.history]
    assert all(math.isfinite(v) for v in losses)
    assert losses != [e.train_loss for e in plain.history]  # it did compute in bfloat16
    fp16, start, warnings = run(mixed_precision=True)  # float16: a CUDA path
    assert start.precision == "float32" and warnings == [
        "mixed precision in float16 runs on CUDA and, in bfloat16, on the CPU: this run trains "
        "in float32 on cpu"]
    assert [e.train_loss for e in fp16.history] == [e.train_loss for e in plain.history]


def test_steps_skipped_by_the_float16_scaler_are_reported():
    trainer = Trainer(spiral_mlp(epochs=1))
    seen = Recorder()
    trainer.callbacks.append(seen)
    trainer.start_epoch = 1
    trainer._warn_skipped_steps(1, 65536.0, 1024.0)  # a fresh scaler finding its level
    trainer._warn_skipped_steps(3, 65536.0, 8192.0)  # three halvings: three overflowed steps
    trainer._warn_skipped_steps(4, 8192.0, 16384.0)  # grown back: nothing to say
    (warning,) = [e for e in seen.events if isinstance(e, RunWarning)]
    assert warning.message.startswith("epoch 3: at least 3 steps skipped: their float16 "
                                      "gradients overflowed (the loss scale fell from 65536 to "
                                      "8192)") and "bfloat16" in warning.message


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


# --- defects fixed by issue #10 ---------------------------------------------------------------
def test_a_regression_design_without_metrics_reports_its_tasks_metrics():
    rec = Recorder()
    end = Trainer(sine_mlp(), callbacks=[rec]).fit()
    assert end.status == "completed" and end.epochs_run == 2
    assert rec.of(FitStart)[0].metrics == ["mae"]
    final = rec.of(EpochEnd)[-1]
    assert set(final.metrics) == {"train_mae", "val_mae"}
    assert all(math.isfinite(value) for value in final.values().values())


def test_resuming_after_a_layer_was_frozen_or_unfrozen(tmp_path):
    m = spiral_mlp(epochs=1)  # 10 steps per epoch
    Trainer(m, checkpoint_dir=tmp_path / "1").fit()
    saved = load_checkpoint(tmp_path / "1" / "last.pt")
    m.set_param("fc1", "trainable", False)
    frozen = Trainer(m, dict(m.training, epochs=2), checkpoint_dir=tmp_path / "2",
                     resume=tmp_path / "1" / "last.pt")
    assert frozen.fit().status == "completed"
    weights = frozen.model.state_dict()
    assert torch.equal(weights["fc1.weight"], saved["model"]["fc1.weight"])
    assert torch.equal(weights["fc1.bias"], saved["model"]["fc1.bias"])
    assert not torch.equal(weights["fc2.weight"], saved["model"]["fc2.weight"])
    assert not torch.equal(weights["fc3.weight"], saved["model"]["fc3.weight"])
    steps = {name: int(frozen.optimizer.state[p]["step"]) for name, p in frozen.named_trainable}
    assert steps == dict.fromkeys(["fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"], 20)
    # and back: fc1 trains again, its optimiser state starting afresh
    m.set_param("fc1", "trainable", True)
    thawed = Trainer(m, dict(m.training, epochs=3), resume=tmp_path / "2" / "last.pt")
    assert thawed.fit().status == "completed"
    assert not torch.equal(thawed.model.fc1.weight, weights["fc1.weight"])
    steps = {name: int(thawed.optimizer.state[p]["step"]) for name, p in thawed.named_trainable}
    assert steps == {"fc1.weight": 10, "fc1.bias": 10, "fc2.weight": 30, "fc2.bias": 30,
                     "fc3.weight": 30, "fc3.bias": 30}


def test_a_checkpoint_without_parameter_names_needs_the_layers_frozen_as_they_were(tmp_path):
    m = spiral_mlp(epochs=1)
    Trainer(m, checkpoint_dir=tmp_path).fit()
    state = load_checkpoint(tmp_path / "last.pt")
    del state["trainable"]  # as written before names were kept
    torch.save(state, tmp_path / "old.pt")
    more = dict(m.training, epochs=2)
    assert Trainer(m, more, resume=tmp_path / "old.pt").fit().status == "completed"
    m.set_param("fc1", "trainable", False)
    with pytest.raises(TrainingError, match="predates") as info:
        Trainer(m, more, resume=tmp_path / "old.pt").fit()
    assert info.value.kind == "design"


@pytest.mark.parametrize("loss, last, node, says", [
    ("cross_entropy", "Softmax", "last", "remove the Softmax"),
    # judged by the layer's declared output range, not its name: Sigmoid gives probabilities too
    ("cross_entropy", "Sigmoid", "last", "Sigmoid, which gives probabilities"),
    ("nll", None, "fc3", "add a LogSoftmax before the Output"),
    ("nll", "LogSoftmax", None, None),
    ("cross_entropy", None, None, None),
    ("cross_entropy", "LogSoftmax", None, None),  # log-softmax again changes nothing
])
def test_an_output_activation_the_loss_does_not_expect_is_a_warning(loss, last, node, says):
    m = spiral_mlp(epochs=1, loss=loss)
    if last:
        m.disconnect(m.in_edges("out")[0])
        m.add_node(last, node_id="last")
        chain(m, "fc3", "last", "out")
    rec, console = Recorder(), io.StringIO()
    assert Trainer(m, callbacks=[rec, ProgressPrinter(console)]).fit().status == "completed"
    warnings = rec.of(RunWarning)
    if node is None:
        assert warnings == []
        return
    assert [w.node for w in warnings] == [node]
    assert warnings[0].message.startswith(loss) and says in warnings[0].message
    assert isinstance(rec.events[0], FitStart) and rec.events[1] is warnings[0]
    assert f"warning (node '{node}'): {warnings[0].message}" in console.getvalue()


# --- known defects ------------------------------------------------------------------------------
# Schedule.load_state_dict lays the checkpoint's scheduler state over the new run's, so the
# schedule keeps the old run's length (OneCycleLR total_steps, CosineAnnealingLR T_max).
def test_resuming_one_cycle_with_more_epochs(tmp_path):
    m = spiral_mlp(epochs=1, schedule={"name": "one_cycle"})
    Trainer(m, checkpoint_dir=tmp_path).fit()
    rec = Recorder()
    end = Trainer(m, dict(m.training, epochs=2), callbacks=[rec],
                  resume=tmp_path / "last.pt").fit()
    assert end.status == "completed" and [e.epoch for e in rec.of(EpochEnd)] == [2]


def test_resuming_cosine_with_more_epochs_keeps_lowering_the_rate(tmp_path):
    m = spiral_mlp(epochs=2, schedule={"name": "cosine"}, optimizer={"name": "adam", "lr": 0.01})
    Trainer(m, checkpoint_dir=tmp_path).fit()
    rec = Recorder()
    trainer = Trainer(m, dict(m.training, epochs=4), callbacks=[rec], resume=tmp_path / "last.pt")
    trainer.fit()
    rates = [e.lr for e in rec.of(EpochEnd)]
    assert all(a >= b for a, b in zip(rates, rates[1:])), rates
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_auto_monitoring_samples_a_short_run_often_enough_to_draw_curves():
    from runtime.training.monitor import MonitorSchedule

    class Monitors(Callback):
        steps: list = []

        def on_event(self, trainer, event) -> None:
            if type(event).__name__ == "Monitor":
                self.steps.append(event.step)

    seen = Monitors()
    seen.steps = []
    Trainer(spiral_mlp(epochs=15, batch_size="full"), callbacks=[seen]).fit()  # 15 steps
    assert seen.steps == list(range(1, 16))  # a dot per step, not one dot for the run
    for steps in (MonitorSchedule.SHORT_RUN, 100_000):  # longer runs keep the cost budget
        longer = MonitorSchedule("auto", total_steps=steps)
        assert longer.max_every == 500 and longer.every == 20
    assert MonitorSchedule("auto", total_steps=300).max_every == 10


def test_a_short_runs_extra_samples_stay_within_their_time_allowance():
    from runtime.training.monitor import MonitorSchedule

    def settle(total_steps: int, plain: float, extra: float) -> int:
        schedule = MonitorSchedule("auto", total_steps=total_steps)
        for step in range(1, 6):
            schedule.record(step, plain, False)
        for step in (6, 7, 8):
            schedule.record(step, plain + extra, True)
        return schedule.every

    # moments in all (15 steps of 1 ms, samples 2 ms dearer): every step is sampled
    assert settle(15, 0.001, 0.002) == 1
    # 150 steps of 10 ms whose samples cost a step more: 0.1 s pays for 10 samples, not 30
    assert settle(150, 0.010, 0.010) == 15
    # 300 steps of 0.1 s: 4 % of the run (1.2 s) pays for 30 samples of 0.04 s
    assert settle(300, 0.1, 0.04) == 10
    assert settle(5_000, 0.010, 0.010) == 34  # a long run: the 3 % budget alone


def test_large_outputs_are_measured_on_an_evenly_spread_sample():
    from runtime.training.monitor import SAMPLE_VALUES, measured_values

    small = torch.arange(100.0).reshape(10, 10)
    whole, scale = measured_values(small)
    assert torch.equal(whole, small.flatten()) and scale == 1.0  # measured whole
    big = torch.arange(64 * 8 * 28 * 28, dtype=torch.float32).reshape(64, 8, 28, 28)
    sample, scale = measured_values(big)
    assert SAMPLE_VALUES // 2 < sample.numel() <= SAMPLE_VALUES * 2
    assert sample.numel() * scale == pytest.approx(big.numel())
    # the prime stride reaches every channel about equally often
    channels = (sample.long() // (28 * 28)) % 8
    counts = torch.bincount(channels, minlength=8).float()
    assert counts.min() > 0.9 * counts.mean()
    assert sample.mean() == pytest.approx(big.mean(), rel=1e-3)


def test_gradients_whose_norm_overflows_name_their_node():
    """Every gradient value finite but the norm past float range (sgd at lr 5 on a sine): the
    failure names the layer, as a NaN gradient would."""
    from runtime.errors import TrainingError

    design = sine_mlp(loss="mse", metrics=[], optimizer={"name": "sgd", "lr": 5.0}, epochs=3,
                      monitoring={"every": 1})
    with pytest.raises(TrainingError, match="became NaN/Inf") as caught:
        Trainer(design).fit()
    assert caught.value.kind == "nan" and caught.value.node in design.nodes
