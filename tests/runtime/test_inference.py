"""Trying a trained model (#13): one sample in, the prediction and every layer's output out."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runtime import document
from runtime.compile import compile_model
from runtime.inference import InferenceError, Predictor
from runtime.runs import RunWriter, read_run
from runtime.shapes import infer
from runtime.training.trainer import Trainer

PRESETS = Path(__file__).resolve().parents[2] / "presets"


@pytest.fixture(scope="module")
def spirals_run(tmp_path_factory):
    design = document.load(PRESETS / "mlp-spirals.json")
    design.training = dict(design.training, epochs=2)
    writer = RunWriter.create(design, tmp_path_factory.mktemp("runs"),
                              str(PRESETS / "mlp-spirals.json"))
    trainer = Trainer(design, design.training, [writer], checkpoint_dir=writer.folder)
    trainer.fit()
    return writer.folder, trainer


def test_a_trained_model_predicts_what_the_trainer_evaluated(spirals_run):
    folder, trainer = spirals_run
    predictor = Predictor.from_run(folder)
    # the trainer's model holds the last epoch's weights: compare against last.pt
    last = Predictor.from_checkpoint(read_run(folder).design(), folder / "last.pt")
    idx = trainer.val_idx[:8]
    expected = trainer.predict(trainer.x[idx]).argmax(dim=-1)
    for i, want in zip(idx.tolist(), expected.tolist()):
        prediction = last.predict(trainer.x[i].tolist())  # a plain list is welcome
        assert prediction.predicted == want
        assert prediction.probabilities.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert predictor.predict(trainer.x[0]).probabilities.shape == (trainer.dataset.num_classes,)


def test_every_module_node_has_its_activation_with_the_shape_the_design_says(spirals_run):
    folder, _ = spirals_run
    predictor = Predictor.from_run(folder)
    dataset, val_idx = predictor.validation_data()
    assert dataset.kind == "tabular" and len(val_idx) > 0
    prediction = predictor.predict(dataset.x[val_idx[0]])
    analysis = infer(predictor.design)
    modules = [name for name, _ in predictor.model.named_children()]
    assert modules and set(modules) <= set(prediction.activations)
    for node_id in modules:
        want = analysis.nodes[node_id].outputs["output"].shape
        assert tuple(prediction.activations[node_id].shape) == tuple(want), node_id
        assert not prediction.activations[node_id].requires_grad


def test_a_checkpoint_that_does_not_fit_is_refused_naming_the_node(spirals_run, tmp_path):
    folder, _ = spirals_run
    design = read_run(folder).design()
    state = torch.load(folder / "best.pt", weights_only=True)
    key = next(k for k in state["model"] if k.endswith("weight"))
    node = key.split(".")[0]
    state["model"][key] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(InferenceError, match=rf"{node}: weight .* in the checkpoint"):
        Predictor.from_checkpoint(design, tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InferenceError, match="not a PyTorch checkpoint"):
        Predictor.from_checkpoint(design, tmp_path / "junk.pt")


def test_a_sample_of_the_wrong_size_is_refused(spirals_run):
    predictor = Predictor.from_run(spirals_run[0])
    with pytest.raises(InferenceError, match="one sample of shape"):
        predictor.predict([1.0, 2.0, 3.0])


def test_a_convolution_network_shows_its_feature_maps(tmp_path):
    design = document.load(PRESETS / "lenet-digits.json")
    model = compile_model(design)  # untrained weights fit too
    predictor = Predictor(design, model.state_dict())
    prediction = predictor.predict(torch.rand(predictor.sample_shape))
    convs = [n.id for n in design.nodes.values() if n.type.startswith("Conv")]
    assert convs
    for node_id in convs:
        assert prediction.activations[node_id].dim() == 3  # channels, height, width
    assert prediction.probabilities.shape == (10,)


@pytest.mark.parametrize("preset, node", [("transformer-majority", "encoder1"),
                                          ("attention-reverse", "attention")])
def test_attention_layers_show_where_each_position_looked(preset, node):
    design = document.load(PRESETS / f"{preset}.json")
    predictor = Predictor(design, compile_model(design).state_dict())
    prediction = predictor.predict(torch.zeros(predictor.sample_shape, dtype=torch.int64))
    weights = prediction.attention[node]
    length = predictor.sample_shape[0]
    assert weights.dim() == 3 and weights.shape[1:] == (length, length)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(weights.shape[:2]), atol=1e-5)
    assert set(prediction.attention) <= {n.id for n in design.nodes.values()
                                         if "Attention" in n.type or "Transformer" in n.type}


def test_nodes_match_the_trained_design_until_they_or_their_inputs_change():
    from runtime.inference import nodes_matching

    trained = document.load(PRESETS / "lenet-digits.json")
    model = document.load(PRESETS / "lenet-digits.json")
    everything = set(model.nodes)
    assert nodes_matching(trained, model) == everything
    model.move("conv2", (5.0, 5.0))
    model.set_param("conv1", "trainable", False)  # steers training only: the output is the same
    assert nodes_matching(trained, model) == everything
    model.set_param("fc1", "out_features", 32)  # fc1 and everything after it compute otherwise
    after_fc1 = {"fc1", "relu3", "drop", "fc2", "out"}
    assert nodes_matching(trained, model) == everything - after_fc1
    model.set_param("fc1", "out_features", 64)
    model.remove_node("pool1")  # conv2 lost its input: it and what follows no longer match
    assert nodes_matching(trained, model) == {"image", "conv1", "relu1"}
    other = document.load(PRESETS / "mlp-spirals.json")
    assert nodes_matching(trained, other) == set()


def test_first_filters_are_kernels_or_weight_rows_laid_out_as_the_input():
    from runtime.compile import compile_model
    from runtime.document import load
    from runtime.inference import first_filters

    def filters(preset, limit=32):
        design = load(f"presets/{preset}.json")
        model = compile_model(design)
        return model, first_filters(design, model, limit)

    model, lenet = filters("lenet-digits")
    assert (lenet.node, lenet.total) == ("conv1", 16)
    assert torch.equal(lenet.images, model.conv1.weight.detach().mean(dim=1))
    model, rbm = filters("rbm-digits", limit=5)
    assert (rbm.node, rbm.total, tuple(rbm.images.shape)) == ("rbm", 100, (5, 8, 8))
    assert torch.equal(rbm.images[2].reshape(-1), model.rbm.weight.detach()[2])
    assert filters("mlp-spirals")[1] is None  # two numbers are no picture
    assert filters("lstm-adding")[1] is None  # nor is a recurrent layer's weight


def test_only_an_rbm_reading_the_input_can_dream():
    from runtime.compile import compile_model
    from runtime.document import load
    from runtime.inference import InferenceError, Predictor

    lenet = load("presets/lenet-digits.json")
    predictor = Predictor(lenet, compile_model(lenet).state_dict())
    assert predictor.input_rbm() is None
    with pytest.raises(InferenceError, match="only an RBM reading the Input can dream"):
        predictor.dream(torch.rand(1, 8, 8))
