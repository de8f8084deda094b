"""Adversarial training (#14): a generator and a discriminator, each with its own optimiser;
the two generator losses, label smoothing, seeded and resumable runs, a GAN that learns, the
designs and data it refuses (naming the nodes), and the doctor's mode-collapse rule."""
from __future__ import annotations

import copy
import json

import pytest
import torch
from torch.nn import functional as F

from runtime.document import load, loads, to_dict
from runtime.errors import TrainingError
from runtime.training import Callback, Trainer
from runtime.training.adversarial import (coverage, discriminator_loss, diversity,
                                          generator_loss)
from runtime.training.events import Diagnosis, EpochEnd, FitStart, Samples, from_json
from tests.runtime.designs import gan

BLOB = {"name": "blobs", "params": {"n_samples": 600, "centers": 2, "cluster_std": 0.3,
                                    "center_box": 0.0}}


def training(**changes) -> dict:
    block = {"mode": {"name": "adversarial"}, "loss": "bce", "metrics": [], "epochs": 2,
             "batch_size": 64, "dataset": BLOB, "threads": 1,
             "optimizer": {"name": "adam", "lr": 0.002, "betas": [0.5, 0.999]}}
    for key, value in changes.items():
        block[key] = {**block[key], **value} if isinstance(value, dict) and key in block \
            else value
    return block


def gan_design(**changes):
    design = gan()
    design.training = training(**changes)
    return design


class Events(Callback):
    def __init__(self) -> None:
        self.events: list = []

    def on_event(self, trainer, event) -> None:
        self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def fit(design, **kwargs) -> tuple[Trainer, Events]:
    events = Events()
    trainer = Trainer(design, callbacks=[events], **kwargs)
    trainer.fit()
    return trainer, events


# --- the losses ---------------------------------------------------------------------------------
def test_the_generator_losses_share_a_value_but_not_a_gradient():
    # the discriminator is sure the fakes are fake (D(G(z)) ~ 0.0025) and unsure (0.5)
    logits = torch.tensor([[-6.0], [0.0]], requires_grad=True)
    grads = {}
    for kind in ("non_saturating", "minimax"):
        loss = generator_loss(logits, kind)
        assert float(loss.detach()) == pytest.approx(float(F.softplus(-logits.detach()).mean()))  # -log D(G(z))
        grads[kind], = torch.autograd.grad(loss, logits)
    d = torch.sigmoid(logits.detach())
    # d/dl of -log sigmoid(l) is -(1 - D); of log(1 - sigmoid(l)) it is -D (per sample, / 2)
    assert torch.allclose(grads["non_saturating"], -(1 - d) / 2)
    assert torch.allclose(grads["minimax"], -d / 2)
    # where the discriminator wins, the minimax gradient all but vanishes
    assert abs(float(grads["minimax"][0])) < 0.01 * abs(float(grads["non_saturating"][0]))


def test_one_sided_label_smoothing_moves_only_the_real_target():
    real, fake = torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.5], [-3.0]])
    smoothed = discriminator_loss(real, fake, 0.1)
    expected = (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.9))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    assert float(smoothed) == pytest.approx(float(expected))
    assert float(smoothed) != pytest.approx(float(discriminator_loss(real, fake)))
    # with smoothing the best verdict on a real sample is 0.9, not certainty
    logit = torch.zeros(1, 1, requires_grad=True)
    optimiser = torch.optim.SGD([logit], lr=1.0)
    for _ in range(300):
        optimiser.zero_grad()
        discriminator_loss(logit, torch.full((1, 1), -20.0), 0.1).backward()
        optimiser.step()
    assert float(torch.sigmoid(logit.detach())) == pytest.approx(0.9, abs=1e-3)


def test_diversity_and_coverage_see_collapse():
    torch.manual_seed(0)
    real = torch.randn(200, 2)
    assert diversity(torch.randn(200, 2), real) == pytest.approx(1.0, abs=0.15)
    assert coverage(torch.randn(400, 2), real) > 0.6
    collapsed = torch.full((200, 2), 0.3) + 0.01 * torch.randn(200, 2)
    assert diversity(collapsed, real) < 0.05
    assert coverage(collapsed, real) < 0.1


# --- runs ---------------------------------------------------------------------------------------
def test_each_network_has_its_own_optimiser():
    design = gan_design(mode={"discriminator_lr": 0.0004})
    trainer, events = fit(design)
    g_params = {id(p) for n in ("g_fc1", "g_fc2") for p in getattr(trainer.model, n).parameters()}
    d_params = {id(p) for n in ("d_fc1", "d_fc2") for p in getattr(trainer.model, n).parameters()}
    moved = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    d_opt = trainer.extra_states["discriminator_optimizer"]
    moved_d = {id(p) for group in d_opt.param_groups for p in group["params"]}
    assert moved == g_params and moved_d == d_params
    assert [g["lr"] for g in d_opt.param_groups] == [0.0004]
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [0.002]
    assert all(d_opt.state[p]["step"] > 0 for group in d_opt.param_groups
               for p in group["params"])
    end = events.of(EpochEnd)[-1]
    for key in ("train_d_loss", "val_d_loss", "train_d_real", "val_d_real", "train_d_fake",
                "val_d_fake", "val_diversity", "val_coverage"):
        assert isinstance(end.get(key), float), key
    assert 0 < end.get("val_d_real") < 1 and 0 < end.get("val_d_fake") < 1
    # fit_start counts both networks' weights as trainable, not only the run optimiser's
    start = events.of(FitStart)[0]
    assert start.trainable_params == start.params == sum(
        p.numel() for p in trainer.model.parameters())


@pytest.mark.parametrize("d_steps", [1, 3])
def test_the_discriminator_steps_per_generator_step(d_steps):
    trainer, _ = fit(gan_design(mode={"discriminator_steps": d_steps}))
    d_opt = trainer.extra_states["discriminator_optimizer"]
    g_steps = {float(trainer.optimizer.state[p]["step"]) for p in trainer.trainable}
    d_counts = {float(d_opt.state[p]["step"]) for g in d_opt.param_groups for p in g["params"]}
    assert g_steps == {float(trainer.step)} and d_counts == {float(d_steps * trainer.step)}


def test_a_tiny_gan_learns_where_the_data_is():
    # one blob moved to (1.5, -1); the untrained generator's samples sit near the origin
    from runtime.data import load_dataset

    design = gan_design(epochs=40, dataset={"name": "blobs", "params": {
        "n_samples": 1000, "centers": 2, "cluster_std": 0.2, "center_box": 0.0}})
    target = torch.tensor([1.5, -1.0])
    data = load_dataset(design.training["dataset"])
    data.x = data.x + target
    events = Events()
    trainer = Trainer(design, callbacks=[events], dataset=data)
    trainer.fit()
    first = torch.tensor(events.of(Samples)[0].points)
    game = next(c for c in trainer.callbacks if type(c).__name__ == "_Game")
    made = game.generated()
    assert float((first.mean(0) - target).norm()) > 0.5  # one epoch in: still far
    assert float((made.mean(0) - target).norm()) < 0.25
    assert 0.3 < diversity(made, data.x) < 3.0  # spread out, not one point


def test_seeded_runs_repeat_and_seeds_differ():
    a, _ = fit(gan_design())
    b, _ = fit(gan_design())
    c, _ = fit(gan_design(seed=3))
    state = {k: v.clone() for k, v in a.model.state_dict().items()}
    assert all(torch.equal(state[k], v) for k, v in b.model.state_dict().items())
    assert not all(torch.equal(state[k], v) for k, v in c.model.state_dict().items())
    assert [e.to_json() for e in a.history][-1]["val_d_loss"] == \
        [e.to_json() for e in b.history][-1]["val_d_loss"]


@pytest.mark.parametrize("d_steps", [1, 2])
def test_checkpoints_keep_both_optimisers_and_a_resumed_run_matches(tmp_path, d_steps):
    mode = {"discriminator_steps": d_steps}
    whole, _ = fit(gan_design(epochs=3, mode=mode))
    first, _ = fit(gan_design(epochs=2, mode=mode), checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert set(state["extra"]) == {"discriminator_optimizer", "noise"}
    assert state["extra"]["discriminator_optimizer"]["state"]  # Adam's moments for D
    assert len(state["trainable"]) == 4  # the generator's two weights and biases
    resumed, _ = fit(gan_design(epochs=3, mode=mode), resume=tmp_path / "last.pt")
    assert resumed.start_epoch == 3
    for key, value in whole.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[key], value), key
    d_whole = whole.extra_states["discriminator_optimizer"].state_dict()["state"]
    d_resumed = resumed.extra_states["discriminator_optimizer"].state_dict()["state"]
    assert all(torch.allclose(d_whole[i]["exp_avg"], d_resumed[i]["exp_avg"]) for i in d_whole)


def test_two_d_samples_are_points_over_the_data():
    _, events = fit(gan_design())
    samples = events.of(Samples)
    assert [s.epoch for s in samples] == [1, 2]
    last = samples[-1]
    assert last.images == [] and len(last.points) == 512 and len(last.real) > 10
    assert all(len(p) == 2 for p in last.points + last.real)
    assert from_json(last.to_json()) == last


def test_minimax_and_non_saturating_runs_differ():
    a, _ = fit(gan_design())
    b, _ = fit(gan_design(mode={"generator_loss": "minimax"}))
    assert not torch.equal(a.model.g_fc1.weight, b.model.g_fc1.weight)


# --- refusals -----------------------------------------------------------------------------------
def refusal(design, **kwargs) -> TrainingError:
    with pytest.raises(TrainingError) as caught:
        Trainer(design, **kwargs).fit()
    return caught.value


def test_a_single_network_is_refused_with_how_to_name_them():
    design = load("presets/mlp-spirals.json")
    design.training = training()
    err = refusal(design)
    assert "generator" in str(err) and "Make Network from Selection" in str(err)


def test_networks_with_other_names_are_refused():
    data = to_dict(gan())
    for node in data["nodes"]:
        if node.get("network") == "generator":
            node["network"] = "maker"
    design = loads(json.dumps(data))
    design.training = training()
    err = refusal(design)
    assert "'maker'" in str(err) and "named generator" in str(err)


def test_a_generator_output_that_does_not_fit_the_discriminator_is_refused():
    design = gan_design()
    design.set_param("g_fc2", "out_features", 3)
    err = refusal(design)
    assert "'g_out'" in str(err) and "[3]" in str(err) and "'d_in'" in str(err) \
        and "[2]" in str(err)
    assert err.node == "g_out"


def test_a_discriminator_of_several_outputs_is_refused():
    design = gan_design()
    design.set_param("d_fc2", "out_features", 2)
    err = refusal(design)
    assert "'d_out'" in str(err) and "one value" in str(err) and err.node == "d_out"


def test_data_of_another_shape_is_refused():
    design = gan_design(dataset={"name": "blobs", "params": {"n_features": 3}})
    err = refusal(design)
    assert "'d_in'" in str(err) and "[3]" in str(err) and err.node == "d_in"


def test_a_loss_other_than_bce_is_refused():
    err = refusal(gan_design(loss="mse"))
    assert "set the loss to bce" in str(err)


# --- the doctor ---------------------------------------------------------------------------------
def lesson(name: str, epochs: int):
    design = load(f"presets/{name}.json")
    design.training = {**design.training, "epochs": epochs, "threads": 1,
                       "monitoring": {"doctor": True}}
    return design


def collapse_findings(events: Events) -> list[dict]:
    return [d.finding for d in events.of(Diagnosis)
            if d.finding["code"] == "mode_collapse" and d.status == "new"]


def test_the_doctor_finds_mode_collapse_on_the_generator_output():
    _, events = fit(lesson("lesson-gan-mode-collapse", 6))
    found = collapse_findings(events)
    assert found, [d.finding["code"] for d in events.of(Diagnosis)]
    finding = found[0]
    assert finding["node"] == "sample" and finding["evidence"]["diversity"] < 0.5
    edits = finding["fixes"][0]["edits"]
    assert [(e["op"], e["name"], e.get("value")) for e in edits] == [
        ("set_training", "mode.discriminator_lr", None)]


def test_the_doctor_is_quiet_on_a_healthy_gan():
    _, events = fit(lesson("lesson-gan-mode-collapse-fixed", 6))
    assert [d.finding["code"] for d in events.of(Diagnosis)] == []
    assert copy.copy(events.of(EpochEnd)[-1].get("val_diversity")) > 0.5


def test_the_pre_flight_check_of_a_gan_sweeps_no_learning_rate():
    from runtime.doctor.preflight import preflight

    result = preflight(gan_design(), lr_finder=True)
    assert result.lr_curve == [] and result.suggested_lr is None
    assert [f.code for f in result.findings if f.severity != "info"] == []


def test_the_report_shows_the_discriminators_verdict_on_each_real_sample():
    from runtime.training.events import Report

    trainer, events = fit(gan_design())
    report = events.of(Report)[-1]
    first = report.samples[0]
    x = trainer.x[first["index"]][None]
    with torch.no_grad():
        logit = float(trainer.model.networks["discriminator"](x))
    assert first["target"] == 1.0 and first["prediction"] == pytest.approx(logit, abs=1e-3)
