"""The training-mode catalogue (#14): supervised, and reconstruction with and without a
corruption (a denoising autoencoder)."""
from __future__ import annotations

import pytest
import torch

from runtime.doctor.static import static_findings
from runtime.document import load
from runtime.shapes import infer
from runtime.training import Callback, Trainer, parse_training
from runtime.training.modes import MODES, corrupt_inputs, mode_of, training_data
from runtime.training.settings import SETTINGS
from tests.runtime.test_trainer import spiral_mlp

DIGITS = {"name": "digits", "params": {"flatten": True}, "validation_split": 0.2}


def test_every_mode_setting_applies_only_to_the_modes_that_read_it():
    for setting in (s for s in SETTINGS if s.path.startswith("mode.") and s.path != "mode.name"):
        key = setting.path.split(".", 1)[1]
        for mode in MODES.values():
            block = parse_training({"mode": {"name": mode.id}}).raw
            assert setting.applies_to(block) == (key in mode.uses), (setting.path, mode.id)


def test_supervised_is_the_default_and_leaves_the_data_alone():
    config = parse_training({"dataset": DIGITS})
    assert mode_of(config).id == "supervised"
    data = training_data(config)
    assert data.task == "classification" and data.y.dtype == torch.int64


def test_reconstruction_trains_on_the_inputs_as_targets():
    config = parse_training({"dataset": DIGITS, "mode": {"name": "reconstruction"}})
    data = training_data(config)
    assert data.task == "regression" and torch.equal(data.y, data.x)
    assert not mode_of(config).corrupts(config["mode"])  # no corruption by default
    again = mode_of(config).prepare(data)  # idempotent: a prepared dataset passed back in
    assert torch.equal(again.y, data.x)


@pytest.mark.parametrize("kind", ["masking", "gaussian"])
def test_corruption_damages_the_inputs_by_the_level_asked(kind):
    x = torch.rand(2000, 64) + 0.5  # no zeros of its own
    section = {"corruption": kind, "noise": 0.3}
    damaged = corrupt_inputs(x, section, torch.Generator().manual_seed(0))
    if kind == "masking":
        assert abs(float((damaged == 0).float().mean()) - 0.3) < 0.01
        kept = damaged != 0
        assert torch.equal(damaged[kept], x[kept])
    else:
        assert abs(float((damaged - x).std()) - 0.3) < 0.01
    same = corrupt_inputs(x, section, torch.Generator().manual_seed(0))
    assert torch.equal(same, damaged)  # seeded: a run repeats
    tokens = torch.randint(0, 5, (10, 4))
    assert corrupt_inputs(tokens, section, torch.Generator()) is tokens


def denoiser(**mode):
    design = load("presets/denoising-autoencoder.json")
    design.training = dict(design.training, epochs=2, mode={"name": "reconstruction", **mode})
    return design


def test_a_denoiser_sees_damaged_inputs_and_is_scored_on_clean_targets():
    seen = []

    class Inputs(Callback):
        def on_fit_start(self, trainer, event) -> None:
            forward = trainer._forward

            def recording(x):
                seen.append(x.detach().clone())
                return forward(x)
            trainer._forward = recording

    trainer = Trainer(denoiser(corruption="masking", noise=0.5), callbacks=[Inputs()])
    trainer.fit()
    clean_zeros = float((trainer.x == 0).float().mean())  # digits are half black already
    expected = 1 - (1 - clean_zeros) * (1 - 0.5)  # and half of the rest are masked
    assert abs(float((seen[0] == 0).float().mean()) - expected) < 0.05
    val = trainer.val_idx
    assert torch.equal(trainer.y[val], trainer.x[val])  # the targets are the clean inputs
    damaged = trainer.x_eval[val]
    assert not torch.equal(damaged, trainer.x[val])
    # validation is scored on one fixed damaged copy: the same every run
    again = Trainer(denoiser(corruption="masking", noise=0.5))
    again.fit()
    assert torch.equal(again.x_eval, trainer.x_eval)
    assert again.history[-1].val_loss == trainer.history[-1].val_loss


def test_without_corruption_validation_reads_the_inputs_themselves():
    trainer = Trainer(denoiser())
    trainer.fit()
    assert trainer.x_eval is trainer.x


def test_the_doctor_reads_the_task_of_the_mode():
    design = denoiser(corruption="gaussian")  # mse on digits: right for reconstruction
    from runtime.doctor.preflight import load_data

    data = load_data(design)
    assert static_findings(design, infer(design), data) == [] and data.task == "regression"
    design.training = dict(design.training, mode={"name": "supervised"})  # mse on labels
    assert [f.code for f in static_findings(design, infer(design), load_data(design))] == [
        "loss_output_mismatch"]


def test_an_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(Exception, match="'name' must be one of 'supervised', 'reconstruction', "
                                        "'contrastive_divergence', 'adversarial' or 'seq2seq'"):
        parse_training({"mode": {"name": "gan"}})
    with pytest.raises(Exception, match="'noise' must be at most 1"):
        parse_training({"mode": {"name": "reconstruction", "noise": 2}})


def test_supervised_runs_are_unchanged():
    trainer = Trainer(spiral_mlp(epochs=1))
    trainer.fit()
    assert trainer.x_eval is trainer.x and trainer.mode.id == "supervised"
