"""Restricted Boltzmann machines trained by contrastive divergence (#14): the update is CD-k's,
persistent CD keeps its chain, the reported loss is the reconstruction error, and designs or data
an RBM cannot train on are refused with the node named."""
from __future__ import annotations

import json

import pytest
import torch

from runtime.document import load, loads
from runtime.errors import TrainingError
from runtime.layers.modules import RBM
from runtime.training import Callback, Trainer, parse_training
from runtime.training.contrastive import rbm_objective

PRESET = "presets/rbm-digits.json"


def rbm_design(**training) -> "object":
    design = load(PRESET)
    design.training = {**design.training, "epochs": 2, **training}
    return design


def test_the_loss_gradient_is_the_cd_update():
    torch.manual_seed(0)
    rbm = RBM(6, 4)
    v = torch.bernoulli(torch.full((5, 6), 0.4))
    torch.manual_seed(1)
    end = rbm.gibbs(v, 2)
    torch.manual_seed(1)  # the objective's own chain draws the same samples

    class Fake:  # what rbm_objective reads of a trainer
        design = loads(json.dumps({
            "format": "layerlab.design", "version": 2, "name": "r", "nodes": [
                {"id": "x", "type": "Input", "params": {"shape": [6]}},
                {"id": "rbm", "type": "RBM", "params": {"hidden": 4}},
                {"id": "out", "type": "Output", "params": {}}],
            "edges": [{"from": "x", "to": "rbm"}, {"from": "rbm", "to": "out"}]}))
        config = parse_training({"mode": {"name": "contrastive_divergence", "cd_steps": 2},
                                 "loss": "mse", "metrics": ["mse"], "epochs": 1})
        model = torch.nn.Module()
        dataset = type("D", (), {"x": v})()
        x = x_eval = v
        callbacks: list = []

    Fake.model.rbm = rbm
    forward, loss_fn, _ = rbm_objective(Fake)
    loss = loss_fn(forward(v), v)
    loss.backward()
    # CD-k: <v h>_data - <v h>_chain, with hidden probabilities; the gradient is its negative
    update = (rbm(v).T @ v - rbm(end).T @ end).detach() / len(v)
    assert torch.allclose(-rbm.weight.grad, update, atol=1e-6)
    assert torch.allclose(-rbm.visible_bias.grad, (v - end).mean(0), atol=1e-6)
    with torch.no_grad():
        expected = float(((rbm.visible_mean(rbm(v)) - v) ** 2).mean())
    assert float(loss.detach()) == pytest.approx(expected)


def test_training_lowers_the_reconstruction_error_below_the_average_digit():
    trainer = Trainer(rbm_design(epochs=5))
    end = trainer.fit()
    first, last = trainer.history[0].val_loss, trainer.history[-1].val_loss
    val = trainer.val_idx
    average = float(((trainer.y[val] - trainer.y[trainer.train_idx].mean(0)) ** 2).mean())
    assert last < first and last < 0.6 * average
    assert end.final["val_mse"] == pytest.approx(last)  # the loss is the reconstruction error
    # the reported outputs are reconstructions of the input, the size of the input
    assert trainer.predict(trainer.x[:3]).shape == (3, 64)


def test_persistent_cd_continues_its_chains_across_batches_and_epochs(monkeypatch):
    calls = []
    real = RBM.gibbs

    def recording(self, v, steps=1):
        end = real(self, v, steps)
        if steps == 1:  # CD-1's chains, not the 100-step dreams sent after each epoch
            calls.append((v.clone(), end.clone()))
        return end
    monkeypatch.setattr(RBM, "gibbs", recording)
    trainer = Trainer(rbm_design(epochs=2, batch_size=64, mode={
        "name": "contrastive_divergence", "persistent": True}))
    trainer.fit()
    per_epoch = trainer.steps_per_epoch
    assert len(trainer.train_idx) % 64  # a short last batch in each epoch
    train_calls = calls[:2 * per_epoch]
    for (_, end), (start, _) in zip(train_calls, train_calls[1:]):
        rows = min(len(end), len(start))  # each batch starts where the chains were left
        assert torch.equal(start[:rows], end[:rows])
    assert len(train_calls[per_epoch][0]) == 64  # epoch 2 goes on from the chains, all 64
    calls.clear()
    Trainer(rbm_design(epochs=1, batch_size=64)).fit()  # plain CD: each chain starts at data
    assert not torch.equal(calls[1][0], calls[0][1])


def test_data_outside_zero_one_needs_gaussian_visible_units():
    design = rbm_design(dataset={"name": "wine", "validation_split": 0.2})  # standardised
    design.set_param("pixels", "shape", [13])
    with pytest.raises(TrainingError, match=r"RBM 'rbm' has Bernoulli visible units, which "
                                            r"model values in \[0, 1\], but the data runs from"):
        Trainer(design).fit()
    design.set_param("rbm", "visible_units", "gaussian")
    end = Trainer(design).fit()
    assert end.status == "completed"


def test_a_design_that_is_not_input_rbm_output_is_refused():
    design = rbm_design()
    design.add_node("Sigmoid", node_id="squash")
    design.disconnect(design.in_edges("out")[0])
    design.connect("rbm", "squash")
    design.connect("squash", "out")
    with pytest.raises(TrainingError, match=r"trains RBMs stacked from the Input \(or a "
                                            r"Flatten of it\) to the Output \(Input -> RBM -> "
                                            r"... -> RBM -> Output, nothing else\); its RBMs: "
                                            r"rbm") as caught:
        Trainer(design).fit()
    assert caught.value.node == "rbm"


def test_the_loss_must_be_the_reconstruction_mse():
    with pytest.raises(TrainingError, match="set the loss to mse"):
        Trainer(rbm_design(loss="bce", metrics=["accuracy"])).fit()


def stack(epochs: int = 4):
    """A deep belief net's pre-training: two RBMs stacked on the digits."""
    design = rbm_design(epochs=epochs)
    design.add_node("RBM", {"hidden": 20}, node_id="rbm2")
    design.disconnect(design.in_edges("out")[0])
    design.connect("rbm", "rbm2")
    design.connect("rbm2", "out")
    return design


def test_a_stack_is_trained_greedily_one_rbm_after_the_other():
    snapshots = []

    class Weights(Callback):
        def on_epoch_end(self, trainer, event) -> None:
            snapshots.append({n: getattr(trainer.model, n).weight.detach().clone()
                              for n in ("rbm", "rbm2")})

    trainer = Trainer(stack(), callbacks=[Weights()])
    trainer.fit()
    changed = [[not torch.equal(before[n], after[n]) for n in ("rbm", "rbm2")]
               for before, after in zip(snapshots, snapshots[1:])]
    assert changed == [[True, False], [False, True], [False, True]]  # epochs 2, 3, 4
    snapshots.clear()
    design = stack()  # an L1 penalty reaches every weight: it must not move resting RBMs
    design.training = {**design.training, "regularization": {"l1": 1e-4}}
    Trainer(design, callbacks=[Weights()]).fit()
    assert [not torch.equal(snapshots[i]["rbm"], snapshots[i + 1]["rbm"])
            for i in range(3)] == [True, False, False]
    # the second half trains rbm2 on rbm's hidden probabilities: 100 features, not 64 pixels
    pixels = next(c for c in trainer.callbacks if type(c).__name__ == "_Stages").data[0]
    assert trainer.x.shape[1] == 100 and torch.equal(trainer.y, trainer.x)
    with torch.no_grad():
        torch.testing.assert_close(trainer.x, trainer.model.rbm(pixels))
    assert trainer.history[-1].val_loss < trainer.history[2].val_loss  # rbm2 learns


def test_a_stack_needs_an_epoch_per_rbm():
    with pytest.raises(TrainingError, match="give it at least 2 epochs"):
        Trainer(stack(epochs=1)).fit()


def test_each_epoch_sends_what_the_model_dreams_when_its_data_are_pictures():
    from runtime.training.events import Samples

    class Dreams(Callback):
        def __init__(self):
            self.events = []

        def on_event(self, trainer, event) -> None:
            if isinstance(event, Samples):
                self.events.append(event)

    dreams = Dreams()
    trainer = Trainer(stack(epochs=2), callbacks=[dreams])
    trainer.fit()
    assert [(e.epoch, e.group) for e in dreams.events] == [
        (1, "dreams"), (1, "filters"), (2, "dreams"), (2, "filters")]
    for event in dreams.events:
        images = torch.tensor(event.images)
        assert images.shape == ((16, 8, 8) if event.group == "dreams" else (32, 8, 8))
        assert 0 <= images.min() and images.max() <= 1
    assert "through 2 RBMs" in dreams.events[2].title  # the stack dreams top-down
    filters = torch.tensor(dreams.events[3].images)  # rbm's first units' weights, rescaled
    weights = trainer.model.rbm.weight.detach()[:32].reshape(32, 8, 8)
    low = weights.amin(dim=(1, 2), keepdim=True)
    rescaled = (weights - low) / (weights.amax(dim=(1, 2), keepdim=True) - low)
    assert torch.allclose(filters, rescaled, atol=1e-3)  # rounded to 3 decimals
    again = Dreams()
    Trainer(stack(epochs=2), callbacks=[again]).fit()
    assert again.events[2].images == dreams.events[2].images  # seeded: a run repeats
    tables = Dreams()  # standardised wine is no picture: nothing to show
    design = rbm_design(dataset={"name": "wine", "validation_split": 0.2}, epochs=1)
    design.set_param("pixels", "shape", [13])
    design.set_param("rbm", "visible_units", "gaussian")
    Trainer(design, callbacks=[tables]).fit()
    assert tables.events == []


def test_each_epoch_reports_the_free_energy_of_training_and_validation_data():
    trainer = Trainer(stack(epochs=4))
    end = trainer.fit()
    for event in trainer.history:
        assert {"train_free_energy", "val_free_energy"} <= set(event.metrics)
    last = trainer.history[-1]  # rbm2's, on rbm's features of the same samples
    rbm2 = trainer.model.rbm2
    with torch.no_grad():
        expected = float(rbm2.free_energy(trainer.x[trainer.val_idx]).mean())
    assert last.metrics["val_free_energy"] == pytest.approx(expected, rel=1e-5)
    assert end.final["val_free_energy"] == last.metrics["val_free_energy"]


def test_a_stack_judges_its_best_epoch_within_the_last_stage_and_refuses_plateaus():
    trainer = Trainer(stack(epochs=4))
    trainer.fit()
    assert trainer.best["epoch"] in (3, 4)  # rbm2's epochs: the whole stack is trained then
    error = trainer._nan_error("loss", trainer.x[:2])  # a NaN now names the RBM training
    assert error.node == "rbm2" and error.kind == "nan"
    for block in ({"early_stopping": {"enabled": True}},
                  {"schedule": {"name": "reduce_on_plateau"}}):
        with pytest.raises(TrainingError, match="each RBM of a stack has a loss of its own "
                                                r"\(rbm, rbm2\)"):
            Trainer(stack(epochs=4), {**stack(epochs=4).training, **block}).fit()


def test_few_labels_per_class_need_labels():
    design = load("presets/denoising-autoencoder.json")  # its targets are its inputs
    design.training = {**design.training, "epochs": 1,
                       "dataset": {**design.training["dataset"], "train_per_class": 10}}
    with pytest.raises(TrainingError, match="train_per_class keeps a number of samples per "
                                            "class") as caught:
        Trainer(design).fit()
    assert caught.value.kind == "data"


def test_a_long_run_sends_samples_on_at_most_fifty_epochs(monkeypatch):
    from runtime.training import contrastive
    from runtime.training.events import Samples

    monkeypatch.setattr(contrastive, "MAX_SAMPLE_EPOCHS", 2)
    epochs = []

    class Dreams(Callback):
        def on_event(self, trainer, event) -> None:
            if isinstance(event, Samples) and event.group == "dreams":
                epochs.append(event.epoch)

    Trainer(rbm_design(epochs=5), callbacks=[Dreams()]).fit()
    assert epochs == [3, 5]  # every third epoch, and the last


def test_images_reach_the_first_rbm_through_a_flatten():
    from runtime.inference import Predictor
    from runtime.training.events import Samples

    design = rbm_design(dataset={"name": "digits", "validation_split": 0.2}, epochs=2)
    design.set_param("pixels", "shape", [1, 8, 8])  # the digits as images, not 64 numbers
    design.add_node("Flatten", node_id="flat")
    design.disconnect(design.in_edges("rbm")[0])
    design.connect("pixels", "flat")
    design.connect("flat", "rbm")
    groups = []

    class Groups(Callback):
        def on_event(self, trainer, event) -> None:
            if isinstance(event, Samples):
                groups.append(event.group)

    trainer = Trainer(design, callbacks=[Groups()])
    end = trainer.fit()
    assert end.status == "completed" and trainer.x.shape[1:] == (64,)
    assert groups == ["dreams", "filters"] * 2  # 8x8 pictures: the views work as before
    predictor = Predictor(design, trainer.model.state_dict())
    assert predictor.input_rbm() == "rbm"
    assert predictor.dream(torch.rand(1, 8, 8))[0][1].shape == (1, 8, 8)
