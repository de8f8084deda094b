"""Catalogue-wide tests of the training side, parametrised like the layer registry's.

Every optimiser, schedule, loss, metric, monitoring statistic, histogram, event and setting is
exercised from its catalogue entry, so adding one to a catalogue adds its rows here (tables that
must name every entry say so when one is missing).
"""
from __future__ import annotations

import io
import json
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from runtime.document import dumps, loads
from runtime.errors import TrainingConfigError, TrainingError
from runtime.registry import REGISTRY
from runtime.specs import TensorInfo
from runtime.training import DEFAULTS, Callback, Trainer, parse_training
from runtime.training.events import (EVENTS, Diagnosis, EpochEnd, Error, Event, FitEnd, FitStart,
                                     LrChanged,
                                     Monitor, Paused, Preparing, Report, Resumed, Samples,
                                     Step, RunWarning, Translations, WorkerStarted, from_json)
from runtime.training.losses import LOSSES, TASKS, check_compatible, compute_loss, losses_for
from runtime.training.metrics import METRICS, MetricAccumulator
from runtime.training.optimizers import HYPERPARAMETERS, OPTIMIZERS, make_optimizer
from runtime.training.schedules import SCHEDULE_SETTINGS, SCHEDULES, RunShape, Schedule
from runtime.training.settings import BY_PATH, SETTINGS, Setting, get_path
from runtime.training.statistics import HISTOGRAMS, STATISTICS, StatSpec
from tests.runtime.designs import mlp
from tests.runtime.test_trainer import Recorder, spiral_mlp


def names_every_entry(table: dict, catalogue: dict) -> None:
    """A test table keyed by catalogue entry must have a row for each (and no stale rows)."""
    assert set(table) == set(catalogue), "add the new entry's row to this table"


# --- optimisers --------------------------------------------------------------------------------
#: A non-default value of each hyperparameter, and how torch keeps it in a parameter group.
HYPER_VALUES = {"momentum": 0.5, "nesterov": True, "weight_decay": 0.01, "betas": [0.8, 0.9]}
IN_GROUP = {"momentum": 0.5, "nesterov": True, "weight_decay": 0.01, "betas": (0.8, 0.9)}


def test_hyperparameter_tables_name_every_hyperparameter():
    assert set(HYPER_VALUES) == set(IN_GROUP) == set(HYPERPARAMETERS)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_steps_the_weights(name):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = make_optimizer(list(model.parameters()),
                               {**DEFAULTS["optimizer"], "name": name, "lr": 0.05})
    assert isinstance(optimizer, torch.optim.Optimizer)
    assert optimizer.param_groups[0]["lr"] == 0.05
    loss = (model(torch.randn(8, 3)) - torch.randn(8, 2)).pow(2).mean()
    loss.backward()
    optimizer.step()
    for old, new in zip(before, model.parameters()):
        assert torch.isfinite(new).all() and not torch.equal(old, new)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_reads_the_hyperparameters_it_declares(name):
    spec = OPTIMIZERS[name]
    section = {**DEFAULTS["optimizer"], **HYPER_VALUES, "name": name}
    group = spec.build([nn.Parameter(torch.zeros(2))], 0.1, section).param_groups[0]
    for key in spec.uses:
        assert group[key] == IN_GROUP[key], key
    # the form shows a hyperparameter exactly for the optimisers that read it
    for key in HYPERPARAMETERS:
        applies = BY_PATH[f"optimizer.{key}"].applies_to({"optimizer": {"name": name}})
        assert applies == (key in spec.uses), key


# --- schedules ---------------------------------------------------------------------------------
def scheduled(name: str, run: RunShape, **settings) -> tuple[torch.optim.Optimizer, Schedule]:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=run.lr)
    return optimizer, Schedule(optimizer, {**DEFAULTS["schedule"], "name": name, **settings}, run)


def run_epoch(optimizer: torch.optim.Optimizer, schedule: Schedule, steps: int,
              monitored: float | None) -> list[float]:
    """The learning rate of each batch of one epoch. Batches and epochs end as in `Trainer`: the
    optimiser steps, then the schedule; the epoch ends with its monitored value."""
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.after_batch()
    schedule.after_epoch(monitored)
    return rates


def lr_sequence(name: str, epochs: int, steps_per_epoch: int = 1, monitored=(), lr: float = 1.0,
                mode: str = "min", **settings) -> tuple[list[float], float]:
    """The learning rate of every batch of a run under a schedule, and the rate after the run."""
    optimizer, schedule = scheduled(name, RunShape(lr, epochs, steps_per_epoch, mode), **settings)
    rates = [rate for epoch in range(epochs) for rate in run_epoch(
        optimizer, schedule, steps_per_epoch, monitored[epoch] if monitored else None)]
    return rates, optimizer.param_groups[0]["lr"]


def _cosine(epoch: int, epochs: int, min_lr: float) -> float:
    return min_lr + (1 - min_lr) * (1 + math.cos(math.pi * epoch / epochs)) / 2


#: Per schedule: (run settings, the documented rate of each batch, the rate after the run).
SCHEDULE_RUNS = {
    # "The learning rate stays as set."
    "none": ({"epochs": 4}, [1.0] * 4, 1.0),
    # "Multiplies the rate by gamma every step_size epochs."
    "step": ({"epochs": 5, "step_size": 2, "gamma": 0.5}, [1, 1, 0.5, 0.5, 0.25], 0.25),
    # "Lowers the rate along a half cosine to min_lr over the run."
    "cosine": ({"epochs": 4, "min_lr": 0.1}, [_cosine(e, 4, 0.1) for e in range(4)], 0.1),
    # "Multiplies the rate by factor after patience epochs without improvement, down to min_lr."
    "reduce_on_plateau": ({"epochs": 8, "monitored": [1.0] + [0.9] * 7, "factor": 0.5,
                           "patience": 1, "min_lr": 0.2},
                          [1, 1, 1, 1, 0.5, 0.5, 0.25, 0.25], 0.2),
    # "Per step: rises linearly over warmup_epochs, then stays at lr."
    "warmup": ({"epochs": 3, "steps_per_epoch": 3, "warmup_epochs": 2},
               [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1, 1, 1, 1], 1.0),
    "one_cycle": None,  # its own test below
}


def test_schedule_table_names_every_schedule():
    names_every_entry(SCHEDULE_RUNS, SCHEDULES)


@pytest.mark.parametrize("name", [n for n, run in SCHEDULE_RUNS.items() if run is not None])
def test_every_schedule_gives_its_documented_rates(name):
    settings, expected, after = SCHEDULE_RUNS[name]
    rates, final = lr_sequence(name, **settings)
    assert rates == pytest.approx(expected)
    assert final == pytest.approx(after)


def test_one_cycle_warms_up_to_lr_then_anneals_far_below_it():
    rates, _ = lr_sequence("one_cycle", epochs=2, steps_per_epoch=10, lr=0.5)
    peak = rates.index(max(rates))
    assert max(rates) == pytest.approx(0.5) and 0 < peak < len(rates) - 1
    assert all(a < b for a, b in zip(rates[:peak], rates[1:peak + 1]))  # rising to the peak
    assert all(a > b for a, b in zip(rates[peak:-1], rates[peak + 1:]))  # then falling
    assert rates[0] < 0.5 / 10 and rates[-1] < rates[0] / 100


def test_reduce_on_plateau_follows_the_monitored_direction_and_skips_missing_values():
    rising = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert lr_sequence("reduce_on_plateau", 5, monitored=rising, mode="max", patience=0)[1] == 1.0
    assert lr_sequence("reduce_on_plateau", 5, monitored=rising, mode="min", patience=0)[1] < 1.0
    nan = [float("nan")] * 5
    assert lr_sequence("reduce_on_plateau", 5, monitored=nan, patience=0)[1] == 1.0


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_resumes_where_it_left_off(name):
    """A checkpoint's schedule state continues the same rates (the run's length unchanged).
    The form shows a schedule setting exactly for the schedules that read it."""
    settings = {"step_size": 1, "gamma": 0.5, "warmup_epochs": 2, "min_lr": 0.01, "patience": 0}
    run = RunShape(1.0, 4, 3, "min")

    def epochs(optimizer, schedule, count):
        return [rate for _ in range(count) for rate in run_epoch(optimizer, schedule, 3, 1.0)]

    straight = epochs(*scheduled(name, run, **settings), 4)
    optimizer, schedule = scheduled(name, run, **settings)
    resumed = epochs(optimizer, schedule, 2)
    buffer = io.BytesIO()  # as a checkpoint keeps it: loadable with weights_only
    torch.save((schedule.state_dict(), optimizer.state_dict()), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    optimizer, schedule = scheduled(name, run, **settings)
    optimizer.load_state_dict(saved[1])
    schedule.load_state_dict(saved[0], optimizer)
    resumed += epochs(optimizer, schedule, 2)
    assert resumed == pytest.approx(straight)
    for key in SCHEDULE_SETTINGS:
        applies = BY_PATH[f"schedule.{key}"].applies_to({"schedule": {"name": name}})
        assert applies == (key in SCHEDULES[name].uses), key


# --- losses ------------------------------------------------------------------------------------
CLASSES = 6


def task_example(task: str, n: int = 8) -> dict:
    """Outputs (a leaf tensor), targets and what check_compatible is told, for a loss task."""
    gen = torch.Generator().manual_seed(len(task))
    if task == "classification":
        target = torch.randint(0, CLASSES, (n,), generator=gen)
        output, shape, classes = torch.randn(n, CLASSES, generator=gen), (), CLASSES
    elif task == "multilabel":
        target = torch.randint(0, 2, (n, 3), generator=gen).float()
        output, shape, classes = torch.randn(n, 3, generator=gen), (3,), None
    elif task == "regression":
        target = torch.randn(n, 2, generator=gen)
        output, shape, classes = torch.randn(n, 2, generator=gen), (2,), None
    else:  # distribution
        target = torch.softmax(torch.randn(n, CLASSES, generator=gen), dim=-1)
        output, shape, classes = torch.randn(n, CLASSES, generator=gen), (CLASSES,), None
    return {"output": output.requires_grad_(), "target": target, "shape": shape,
            "classes": classes}


def perfect_output(task: str, target: torch.Tensor) -> torch.Tensor:
    """Outputs that every metric of the task scores as perfect."""
    if task == "classification":
        return F.one_hot(target, CLASSES).float() * 10
    if task == "multilabel":
        return (2 * target - 1) * 5
    if task == "distribution":
        return target.log()
    return target.clone()


def compatible(loss: str, metrics: list[str], example: dict, output_shape=None,
               dtype=None) -> None:
    check_compatible(loss, metrics, TensorInfo(output_shape or tuple(example["output"].shape[1:])),
                     example["shape"], dtype or example["target"].dtype, example["classes"])


def test_every_task_has_an_example():
    names_every_entry({task: task_example(task) for task in TASKS}, TASKS)


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_runs_on_an_example_of_its_task(name):
    spec = LOSSES[name]
    example = task_example(spec.task)
    leaf = example["output"]
    output = leaf.log_softmax(-1) if spec.expects == "log-probabilities" else leaf
    compatible(name, list(spec.task_spec.default_metrics), example)
    loss = compute_loss(name, output, example["target"])
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(leaf.grad).all() and leaf.grad.abs().sum() > 0


@pytest.mark.parametrize("name", list(LOSSES))
def test_default_metrics_follow_the_task_of_every_loss(name):
    expected = list(LOSSES[name].task_spec.default_metrics)
    assert parse_training({"loss": name}).metrics == expected
    assert parse_training({"loss": name, "metrics": []}).metrics == []  # what is written stays


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_refuses_an_output_of_the_wrong_size(name):
    spec = LOSSES[name]
    example = task_example(spec.task)
    if spec.task_spec.class_scores and "int64" in spec.target_dtypes:
        # class labels: the Output needs one score per class
        example = {**task_example("classification"), "shape": (), "classes": CLASSES}
    wrong = (math.prod(example["output"].shape[1:]) + 1,)
    with pytest.raises(TrainingError, match=rf"^{name} .*last layer") as info:
        compatible(name, [], example, output_shape=wrong)
    assert info.value.kind == "design"


@pytest.mark.parametrize("name", [n for n, s in LOSSES.items() if "float32" not in s.target_dtypes])
def test_losses_of_class_labels_refuse_real_valued_targets(name):
    example = task_example(LOSSES[name].task)
    with pytest.raises(TrainingError, match=rf"^{name} needs class labels") as info:
        compatible(name, [], example, dtype=torch.float32)
    assert info.value.kind == "data"


def test_kl_div_refuses_a_distribution_of_another_width():
    example = task_example("distribution")
    with pytest.raises(TrainingError, match=r"^kl_div "):
        compatible("kl_div", [], example, output_shape=(CLASSES + 1,))


# --- metrics -----------------------------------------------------------------------------------
METRIC_TASKS = [pytest.param(name, task, id=f"{name}-{task}")
                for name, spec in METRICS.items() for task in spec.tasks]
METRIC_OTHER_TASKS = [(name, task) for name, spec in METRICS.items() for task in TASKS
                      if task not in spec.tasks]


def measure(metric: str, loss: str, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    acc = MetricAccumulator([metric], loss)
    for output, target in pairs:
        acc.update(output.detach(), target, torch.tensor(0.0))
    return acc.result()[metric]


@pytest.mark.parametrize("name, task", METRIC_TASKS)
def test_every_metric_measures_each_of_its_tasks(name, task):
    spec, loss = METRICS[name], losses_for(task)[0]
    metric = spec.example
    example = task_example(task)
    compatible(loss, [metric], example)
    output, target = example["output"], example["target"]
    value = measure(metric, loss, [(output, target)])
    assert math.isfinite(value)
    # the epoch's value does not depend on how the samples were batched
    assert measure(metric, loss, [(output[:3], target[:3]), (output[3:], target[3:])]) == \
        pytest.approx(value)
    best = 1.0 if spec.higher_is_better else 0.0
    assert measure(metric, loss, [(perfect_output(task, target), target)]) == \
        pytest.approx(best, abs=1e-6)
    assert (value <= best + 1e-9) if spec.higher_is_better else (value >= best)


@pytest.mark.parametrize("name, task", METRIC_OTHER_TASKS,
                         ids=[f"{n}-{t}" for n, t in METRIC_OTHER_TASKS])
def test_every_metric_is_refused_for_a_task_it_does_not_list(name, task):
    metric, loss = METRICS[name].example, losses_for(task)[0]
    with pytest.raises(TrainingError, match=rf"^metric {re.escape(metric)} does not apply to "
                                            rf"{task} \({loss} loss\): use "):
        compatible(loss, [metric], task_example(task))


# --- monitoring statistics ---------------------------------------------------------------------
class TensorLog(Callback):
    """Keeps, per step, every node's output, every gradient and the weights before the step: what
    the monitor's statistics are computed from."""

    def __init__(self):
        self.weights: dict[int, dict[str, torch.Tensor]] = {}
        self.grads: dict[int, dict[str, torch.Tensor]] = {}
        self.outputs: dict[int, dict[str, torch.Tensor]] = {}
        self._latest: dict[str, torch.Tensor] = {}

    def _weights(self, trainer) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in trainer.model.named_parameters()}

    def on_fit_start(self, trainer, event):
        self.weights[0] = self._weights(trainer)
        for node_id, module in trainer.model.named_children():
            module.register_forward_hook(
                lambda m, i, out, node_id=node_id: self._latest.__setitem__(node_id,
                                                                            out.detach().clone()))

    def on_batch_end(self, trainer, step):
        self.weights[step] = self._weights(trainer)
        self.grads[step] = {n: p.grad.detach().clone() for n, p in
                            trainer.model.named_parameters()}
        self.outputs[step] = dict(self._latest)


@pytest.fixture(scope="module")
def monitored_run():
    """A short run of an MLP with ReLU and Tanh, monitored on every step."""
    m = spiral_mlp(hidden=8, epochs=1, batch_size=16, monitoring={"every": 1, "histogram_bins": 8},
                   dataset={"name": "spirals", "params": {"n_samples": 64},
                            "validation_split": 0.25})
    rec, log = Recorder(), TensorLog()
    trainer = Trainer(m, callbacks=[rec, log])
    trainer.fit()
    monitors = rec.of(Monitor)
    assert [e.step for e in monitors] == [1, 2, 3]
    layers = {n.id: REGISTRY.get(n.type) for n in m.nodes.values()}
    return monitors, log, layers


def _node_value(spec: StatSpec, values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values)) if spec.node == "norm" else max(values)


@pytest.mark.parametrize("key", list(STATISTICS))
def test_every_statistic_is_reported_as_its_spec_computes_it(key, monitored_run):
    spec = STATISTICS[key]
    monitors, log, layers = monitored_run
    for event in monitors:
        nodes, step = event.nodes, event.step
        assert set(nodes) == {"fc1", "relu1", "fc2", "tanh2", "fc3"}
        for node_id, entry in nodes.items():
            layer = layers[node_id]
            if spec.source == "activation":
                if not spec.applies(layer):
                    assert entry[key] is None, node_id
                    continue
                x = log.outputs[step][node_id].float()
                assert entry[key] == pytest.approx(float(spec.compute(x, layer)), rel=1e-5,
                                                   abs=1e-7), node_id
                continue
            if not layer.has_weights:
                assert key not in entry and "params" not in entry, node_id
                continue
            assert set(entry["params"]) == {"weight", "bias"}
            values = []
            for tensor, stats in entry["params"].items():
                name = f"{node_id}.{tensor}"
                before = log.weights[step - 1][name]
                if spec.source == "parameter":
                    expected = spec.compute(log.grads[step][name], before)
                else:
                    expected = spec.compute(log.weights[step][name] - before, before)
                assert stats[key] == pytest.approx(float(expected), rel=1e-4, abs=1e-9), name
                values.append(stats[key])
            if spec.node is None:
                assert key not in entry, node_id
            else:
                assert entry[key] == pytest.approx(_node_value(spec, values)), node_id
    assert any(spec.applies(layers[n]) for n in monitors[0].nodes)  # measured somewhere


@pytest.mark.parametrize("key", list(HISTOGRAMS))
def test_every_histogram_counts_every_value(key, monitored_run):
    hist = HISTOGRAMS[key]
    monitors, log, _ = monitored_run
    for event in monitors:
        for node_id, entry in event.nodes.items():
            if hist.source == "activation":
                counts, values = [entry[key]], [log.outputs[event.step][node_id]]
            else:
                counts = [stats[key] for stats in entry.get("params", {}).values()]
                values = [log.weights[0][f"{node_id}.{t}"] for t in entry.get("params", {})]
            for hist_counts, tensor in zip(counts, values):
                assert len(hist_counts) == 8 and sum(hist_counts) == tensor.numel()


def test_monitor_events_survive_json(monitored_run):
    for event in monitored_run[0]:
        assert from_json(json.loads(json.dumps(event.to_json()))) == event


# --- events ------------------------------------------------------------------------------------
EVENT_EXAMPLES: dict[str, Event] = {e.kind: e for e in (
    WorkerStarted(pid=4321),
    Preparing(message="pre-training preset transfer-shapes-pretrain: epoch 3/15", done=0.2),
    Samples(step=90, epoch=2, title="16 Gibbs chains of 100 steps",
            images=[[[0.0, 0.5], [1.0, 0.25]]], points=[[0.5, -1.25]], real=[[2.0, 0.0]]),
    Translations(step=90, epoch=2, pairs=[{"source": [1, 2], "target": [2, 1],
                                           "output": [2, 2]}],
                 attention=[[0.25, 0.75], [0.5, 0.5]], attention_node="attend"),
    FitStart(design="MLP", dataset="spirals", device="cpu", epochs=5, start_epoch=2,
             steps_per_epoch=10, batch_size=32, train_samples=320, val_samples=80, params=1234,
             trainable_params=1200, task="classification", num_classes=2, lr=0.01,
             mixed_precision=True, loss="nll", metrics=["accuracy", "top2_accuracy"]),
    Step(step=7, epoch=1, epochs=5, step_in_epoch=7, steps_per_epoch=10, loss=0.5, lr=0.01,
         eta_s=3.5),
    Monitor(step=5, epoch=1, nodes={"fc1": {"act_mean": 0.1, "act_hist": [1.0, 2.0],
                                            "params": {"weight": {"grad_norm": 0.2}}}}),
    EpochEnd(epoch=2, epochs=5, step=20, train_loss=0.4, val_loss=0.45,
             metrics={"train_accuracy": 0.8, "val_accuracy": 0.75}, lr=0.01, samples_per_s=900.0,
             elapsed_s=1.5, eta_s=4.5),
    LrChanged(step=12, lr=0.1, previous_lr=0.01),
    Paused(step=3),
    Resumed(step=3),
    RunWarning(message="nll expects LogSoftmax outputs", node="fc3"),
    Diagnosis(status="new", step=40, finding={
        "code": "dead_units", "severity": "warning", "title": "relu2 is dead (100% zeros)",
        "explanation": "...", "node": "relu2", "field": None,
        "evidence": {"dead_fraction": 1.0}, "fixes": [{"description": "LeakyReLU", "edits": [
            {"op": "replace_node", "node": "relu2", "type": "LeakyReLU"}]}],
        "step": 40, "stage": "live"}),
    Error(failure="nan", message="loss became NaN/Inf", node="fc2", traceback="Traceback ..."),
    Report(task="classification", data_kind="tabular", dataset="spirals", val_samples=2,
           samples=[{"index": 3, "target": 1, "prediction": 1, "correct": True,
                     "confidence": 0.9}],
           class_names=["a", "b"], confusion=[[1, 0], [0, 1]], accuracy=1.0,
           decision_grid={"x_range": [-1.0, 1.0], "y_range": [-1.0, 1.0], "size": 1,
                          "classes": [[0]]},
           mse=0.1, mae=0.2, baseline_mse=0.3, scatter={"target": [1.0], "prediction": [0.9]}),
    FitEnd(status="early_stopped", epochs_run=4, steps=40, elapsed_s=2.5,
           best={"monitor": "val_loss", "value": 0.3, "epoch": 3},
           final={"event": "epoch_end", "epoch": 4}, message="no improvement"),
)}


def test_every_event_has_an_example():
    names_every_entry(EVENT_EXAMPLES, EVENTS)


@pytest.mark.parametrize("kind", list(EVENTS))
def test_every_event_round_trips_through_json(kind):
    event = EVENT_EXAMPLES[kind]
    data = json.loads(json.dumps(event.to_json()))
    assert data["event"] == kind
    assert from_json(data) == event


def test_json_names_that_differ_from_the_fields():
    epoch = EVENT_EXAMPLES["epoch_end"].to_json()
    assert "metrics" not in epoch and epoch["val_accuracy"] == 0.75
    assert list(epoch).index("val_accuracy") < list(epoch).index("lr")  # after the losses
    assert EVENT_EXAMPLES["epoch_end"].get("val_accuracy") == 0.75
    error = EVENT_EXAMPLES["error"].to_json()
    assert error["kind"] == "nan" and "failure" not in error and list(error)[:2] == ["event",
                                                                                   "kind"]
    report = EVENT_EXAMPLES["report"].to_json()
    assert report["kind"] == "tabular" and "data_kind" not in report


def test_optional_fields_are_left_out_and_non_finite_numbers_become_null():
    assert "node" not in RunWarning("w").to_json()
    # a NaN validation loss and no validation split both read null, never a missing field
    assert EpochEnd(1, 1, 1, 0.5).to_json()["val_loss"] is None
    assert EpochEnd(1, 1, 1, 0.5, float("nan")).to_json()["val_loss"] is None
    assert from_json(EpochEnd(1, 1, 1, 0.5, float("nan")).to_json()).values()["val_loss"] is None
    assert "traceback" not in Error("crash", "boom").to_json()
    step = Step(1, 1, 1, 1, 1, float("nan"), 0.1, float("inf")).to_json()
    assert step["loss"] is None and step["eta_s"] is None
    assert json.loads(json.dumps(step, allow_nan=False)) == step
    with pytest.raises(ValueError, match="unknown event 'nope'"):
        from_json({"event": "nope"})


# --- settings ----------------------------------------------------------------------------------
#: Valid non-default values for settings whose kind gives no generic one.
OTHER_VALUES = {"dataset.params": {"n_samples": 123, "noise": 0.05}, "metrics": ["accuracy",
                                                                                 "top2_accuracy"],
                "early_stopping.monitor": "train_accuracy", "dataset.name": "moons",
                "init_from": "spirals.runs/run/best.pt", "dataset.classes": ["1", "0"],
                "dataset.train_per_class": 10, "init_skip": ["fc1"]}


def other_value(setting: Setting):
    """A valid value of `setting` that differs from its default."""
    if setting.path in OTHER_VALUES:
        return OTHER_VALUES[setting.path]
    spec = setting.spec
    default = spec.default
    if spec.kind == "choice":
        return spec.choices[(spec.choices.index(default) + 1) % len(spec.choices)]
    if spec.kind == "bool":
        return not default
    if spec.kind == "int":
        if isinstance(default, str):  # a word such as "auto"
            return int(spec.minimum or 0) + 2
        return default + 1 if spec.maximum is None or default + 1 <= spec.maximum else default - 1
    if spec.kind == "float":
        return 0.25
    if spec.kind == "float_list":
        return [v / 2 for v in default]
    raise AssertionError(f"add a value for {setting.path} to OTHER_VALUES")


def bad_values(setting: Setting) -> list:
    """Values refused by the setting's bounds, choices and list length."""
    spec = setting.spec
    out = []
    if spec.choices:
        out.append("no_such_" + setting.path.split(".")[-1])
    step = 1 if spec.kind == "int" else 0.5
    if spec.minimum is not None:
        low = spec.minimum if spec.exclusive_minimum else spec.minimum - step
        out.append([low, 0.5] if spec.kind == "float_list" else low)
    if spec.maximum is not None:
        high = spec.maximum if spec.exclusive_maximum else spec.maximum + step
        out.append([0.5, high] if spec.kind == "float_list" else high)
    if spec.max_items is not None:
        out.append(["accuracy"] * (spec.max_items + 1))
    return out


def block_with(path: str, value) -> dict:
    """A training block that sets one dotted path."""
    *parents, last = path.split(".")
    block: dict = {}
    node = block
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return block


WRONG_TYPE = {"bool": "yes", "int": "many", "float": "fast", "choice": 3, "str": 3,
              "str_list": "accuracy", "float_list": 0.5, "path": 3}
BOUNDED = [(s.path, bad) for s in SETTINGS if s.spec is not None for bad in bad_values(s)]


@pytest.mark.parametrize("path", list(BY_PATH))
def test_every_setting_round_trips_through_the_design_file(path):
    setting = BY_PATH[path]
    value = other_value(setting)
    model = mlp()
    model.training = block_with(path, value)
    config = parse_training(loads(dumps(model)).training)
    expected = value if setting.spec is None else setting.spec.validate(value)
    assert expected != setting.default
    assert get_path(config.raw, path) == expected
    for other in SETTINGS:  # and nothing else moved
        if other.path != path and other.derive is None:
            assert get_path(config.raw, other.path) == other.default, other.path


@pytest.mark.parametrize("path, bad", BOUNDED, ids=[f"{p}={b!r:.20}" for p, b in BOUNDED])
def test_out_of_range_settings_are_refused_with_their_location(path, bad):
    with pytest.raises(TrainingConfigError) as info:
        parse_training(block_with(path, bad))
    assert [p.location for p in info.value.problems] == [f"training.{path}"]
    assert path.split(".")[-1] in info.value.problems[0].message


@pytest.mark.parametrize("path", list(BY_PATH))
def test_every_setting_refuses_a_value_of_the_wrong_type(path):
    setting = BY_PATH[path]
    bad = "not an object" if setting.spec is None else WRONG_TYPE[setting.spec.kind]
    with pytest.raises(TrainingConfigError) as info:
        parse_training(block_with(path, bad))
    assert [p.location for p in info.value.problems] == [f"training.{path}"]


# --- settings that depend on each other ----------------------------------------------------------
def test_changing_one_early_stopping_field_does_not_switch_early_stopping_on():
    from runtime.training.config import effective_block, with_setting

    block = with_setting({}, "early_stopping.patience", 2)
    assert block == {"early_stopping": {"patience": 2, "enabled": False}}
    assert not effective_block(block)["early_stopping"]["enabled"]
    on = with_setting({"early_stopping": {"patience": 2}}, "early_stopping.min_delta", 0.1)
    assert effective_block(on)["early_stopping"]["enabled"]  # the block the user wrote says so


def test_a_metric_of_another_task_is_refused_with_the_settings():
    with pytest.raises(TrainingConfigError) as info:
        parse_training({"loss": "mse", "metrics": ["mae", "accuracy"]})
    (problem,) = info.value.problems
    assert problem.location == "training.metrics"
    assert "accuracy does not apply to regression (mse loss): use mse, mae, r2" in problem.message


def test_a_dataset_registered_later_is_accepted(monkeypatch):
    import dataclasses

    from runtime.data import DATASETS

    mine = dataclasses.replace(DATASETS["moons"], name="my_moons")
    monkeypatch.setitem(DATASETS, "my_moons", mine)
    assert parse_training({"dataset": {"name": "my_moons"}}).dataset["name"] == "my_moons"


def test_no_hostile_value_of_any_setting_escapes_as_an_untyped_exception():
    """Issue #11: whatever a file holds at any setting's path, parsing the training block ends
    in a valid config or a TrainingConfigError located at a setting."""
    from runtime.training.config import with_setting
    from tests.fuzzing import HOSTILE

    for setting in SETTINGS:
        for value in HOSTILE:
            block = with_setting({}, setting.path, value)
            try:
                parse_training(block)
            except TrainingConfigError as err:
                assert all(p.location.startswith("training") for p in err.problems)
