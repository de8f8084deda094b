"""Supervised training with several Inputs and Outputs: named data, a loss and weight per Output,
metrics and a validation report per Output, and refusals that name the node to change."""
import math

import pytest
import torch

from runtime.data import load_dataset
from runtime.data.base import NamedTensors
from runtime.document import dumps, loads
from runtime.errors import DatasetError, TrainingError
from runtime.graph import GraphModel
from runtime.training import Callback, Trainer
from runtime.training.events import FitStart, Report
from tests.runtime.designs import chain


def pairs_design(difference_loss: str = "mse", weight: float = 0.1, epochs: int = 2,
                 n_samples: int = 400) -> GraphModel:
    """left, right (1x8x8 digits) -> a shared hidden layer -> sum (19 classes), difference."""
    m = GraphModel(name="pairs")
    for side in ("left", "right"):
        m.add_node("Input", {"shape": [1, 8, 8]}, node_id=side)
        m.add_node("Flatten", node_id=f"{side}_flat")
        chain(m, side, f"{side}_flat")
    m.add_node("Concat", node_id="both")
    m.connect("left_flat", "both")
    m.connect("right_flat", "both")
    m.add_node("Linear", {"out_features": 32}, node_id="hidden")
    m.add_node("ReLU", node_id="relu")
    m.add_node("Linear", {"out_features": 19}, node_id="sum_scores")
    m.add_node("Output", node_id="sum")
    m.add_node("Linear", {"out_features": 1}, node_id="difference_value")
    m.add_node("Output", {"loss": difference_loss, "loss_weight": weight}, node_id="difference")
    chain(m, "both", "hidden", "relu", "sum_scores", "sum")
    chain(m, "relu", "difference_value", "difference")
    m.training = {"dataset": {"name": "digit_pairs", "params": {"n_samples": n_samples},
                              "validation_split": 0.25},
                  "loss": "cross_entropy", "metrics": ["accuracy"], "epochs": epochs,
                  "batch_size": 50, "optimizer": {"name": "adam", "lr": 0.003}, "threads": 1}
    return m


def renamed(model: GraphModel, old: str, new: str) -> GraphModel:
    """The design with node `old` called `new` (edges follow)."""
    text = dumps(model).replace(f'"{old}"', f'"{new}"')
    return loads(text)


class Events(Callback):
    def __init__(self):
        self.events = []

    def on_event(self, trainer, event):
        self.events.append(event)


def test_named_tensors_index_together_and_refuse_ragged_rows():
    named = NamedTensors({"a": torch.arange(6).reshape(3, 2), "b": torch.arange(3)})
    picked = named[torch.tensor([2, 0])]
    assert len(named) == 3 and picked.names == ["a", "b"]
    assert picked["a"].tolist() == [[4, 5], [0, 1]] and picked["b"].tolist() == [2, 0]
    with pytest.raises(DatasetError, match="a: 3, b: 2"):
        NamedTensors({"a": torch.zeros(3), "b": torch.zeros(2)})


def test_digit_pairs_names_its_inputs_and_targets():
    ds = load_dataset({"name": "digit_pairs", "params": {"n_samples": 300, "seed": 1}})
    assert len(ds) == 300 and ds.x.names == ["left", "right"] and ds.y.names == [
        "sum", "difference"]
    assert ds.x["left"].shape == (300, 1, 8, 8) and ds.y["difference"].shape == (300, 1)
    total, difference = ds.y["sum"], ds.y["difference"][:, 0]
    # the two targets describe the same pair: a + b and a - b share their parity
    assert torch.all((total - difference.long()) % 2 == 0)
    assert torch.all(difference.abs() <= total.float())
    assert ds.targets["sum"].num_classes == 19 and ds.targets["difference"].task == "regression"
    assert "inputs left (1, 8, 8) float32" in ds.describe() and "sum (19 classes)" in ds.describe()
    again = load_dataset({"name": "digit_pairs", "params": {"n_samples": 300, "seed": 1}})
    other = load_dataset({"name": "digit_pairs", "params": {"n_samples": 300, "seed": 2}})
    assert torch.equal(again.x["right"], ds.x["right"]) and torch.equal(again.y["sum"], total)
    assert not torch.equal(other.x["left"], ds.x["left"])
    with pytest.raises(DatasetError, match="one label per sample"):
        load_dataset({"name": "digit_pairs", "params": {"n_samples": 50}, "classes": [1, 2]})


def test_each_output_has_its_loss_weight_metrics_and_report():
    events = Events()
    trainer = Trainer(pairs_design(weight=0.25), callbacks=[events])
    end = trainer.fit()
    assert end.status == "completed"
    last = trainer.history[-1]
    for key in ("val_sum_loss", "val_sum_accuracy", "val_difference_loss", "val_accuracy"):
        assert math.isfinite(last.metrics[key]), key
    assert "val_difference_accuracy" not in last.metrics  # accuracy suits the classes only
    assert last.metrics["val_accuracy"] == last.metrics["val_sum_accuracy"]
    # the run's loss is the weighted total of the Outputs' losses
    assert last.val_loss == pytest.approx(last.metrics["val_sum_loss"]
                                          + 0.25 * last.metrics["val_difference_loss"], rel=1e-4)
    reports = [e for e in events.events if isinstance(e, Report)]
    assert [(r.output, r.task) for r in reports] == [("sum", "classification"),
                                                     ("difference", "regression")]
    assert len(reports[0].class_names) == 19 and reports[1].mse == pytest.approx(
        last.metrics["val_difference_loss"], rel=1e-3)
    sums, differences = trainer.predict(trainer.x[trainer.val_idx[:10]])
    assert sums.shape == (10, 19) and differences.shape == (10, 1)
    # the samples show both digits of a pair side by side
    assert torch.tensor(reports[0].samples[0]["input"]).shape == (1, 8, 16)


def test_an_output_weighted_zero_does_not_train_its_head():
    design = pairs_design(weight=0.0, epochs=1)
    trainer = Trainer(design)
    trainer._setup()
    before = trainer.model.difference_value.weight.detach().clone()
    trainer._fit(0.0)
    assert torch.equal(trainer.model.difference_value.weight, before)
    assert not torch.equal(trainer.model.sum_scores.weight.detach(), before[:1].expand(19, -1))


def test_every_output_weighted_zero_is_refused():
    design = pairs_design(weight=0.0)
    design.nodes["sum"].params["loss_weight"] = 0.0
    with pytest.raises(TrainingError, match="every Output's loss_weight is 0") as err:
        Trainer(design).fit()
    assert err.value.node == "sum"


@pytest.mark.parametrize("change, message, node", [
    (lambda m: renamed(m, "left", "first"), "Input 'first' has no data: dataset "
     "'digit_pairs' gives the inputs 'left', 'right'", "first"),
    (lambda m: renamed(m, "difference", "diff"), "Output 'diff' has no target", "diff"),
    (lambda m: m.set_param("right", "shape", [64]) and m, "Input 'right' expects \\(64\\)", "right"),
    (lambda m: m.set_param("difference", "loss", "cross_entropy") and m, "Output 'difference': "
     "cross_entropy needs class labels", "difference"),
    (lambda m: setattr(m, "training", dict(m.training, dataset={"name": "digits"})) or m,
     "2 Inputs \\(left, right\\) but dataset 'digits' gives one unnamed input", "left"),
])
def test_data_that_do_not_fit_name_the_node(change, message, node):
    design = change(pairs_design())
    with pytest.raises(TrainingError, match=message) as err:
        Trainer(design).fit()
    assert err.value.node == node


def test_a_single_output_with_its_own_loss_trains_with_it():
    m = GraphModel(name="sine")
    m.add_node("Input", {"shape": [1]}, node_id="x")
    m.add_node("Linear", {"out_features": 16}, node_id="fc1")
    m.add_node("Tanh", node_id="tanh")
    m.add_node("Linear", {"out_features": 1}, node_id="fc2")
    m.add_node("Output", {"loss": "huber"}, node_id="out")
    chain(m, "x", "fc1", "tanh", "fc2", "out")
    m.training = {"dataset": {"name": "sine", "params": {"n_samples": 200}}, "loss": "mse",
                  "metrics": ["mae"], "epochs": 1}
    events = Events()
    Trainer(m, callbacks=[events]).fit()
    start = next(e for e in events.events if isinstance(e, FitStart))
    assert start.loss == "huber"
    m.set_param("out", "loss", "cross_entropy")
    with pytest.raises(TrainingError, match="Output 'out' sets its loss to cross_entropy") as err:
        Trainer(m).fit()
    assert err.value.node == "out"


def test_a_multi_output_run_resumes_from_its_checkpoint(tmp_path):
    Trainer(pairs_design(epochs=1), checkpoint_dir=tmp_path).fit()
    resumed = Trainer(pairs_design(epochs=2), resume=tmp_path / "last.pt")
    end = resumed.fit()
    assert end.status == "completed" and [e.epoch for e in resumed.history] == [1, 2]


def test_the_learning_rate_finder_sweeps_the_weighted_total_and_restores_the_weights():
    from runtime.doctor.lr_finder import sweep

    trainer = Trainer(pairs_design())
    trainer._setup()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    curve, _ = sweep(trainer, steps=10)
    assert len(curve) >= 5 and all(loss > 0 for _, loss in curve)
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_an_npz_file_names_several_inputs_and_targets(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    features, extra = rng.normal(size=(120, 4)), rng.normal(size=(120, 2))
    label = (features[:, 0] > 0).astype(np.int64)
    value = extra.sum(axis=1)
    np.savez(tmp_path / "data.npz", features=features, extra=extra, label=label, value=value)
    block = {"name": "npz", "params": {"path": "data.npz", "inputs": ["features", "extra"],
                                       "targets": ["label", "value"]}}
    ds = load_dataset(block, tmp_path)
    assert ds.x.names == ["features", "extra"] and ds.y["value"].shape == (120, 1)
    assert ds.targets["label"].num_classes == 2 and ds.targets["value"].task == "regression"
    m = GraphModel(name="two tables")
    m.add_node("Input", {"shape": [4]}, node_id="features")
    m.add_node("Input", {"shape": [2]}, node_id="extra")
    m.add_node("Concat", node_id="both")
    m.add_node("Linear", {"out_features": 2}, node_id="label_scores")
    m.add_node("Output", node_id="label")
    m.add_node("Linear", {"out_features": 1}, node_id="value_fit")
    m.add_node("Output", {"loss": "mse"}, node_id="value")
    m.connect("features", "both")
    m.connect("extra", "both")
    chain(m, "both", "label_scores", "label")
    chain(m, "both", "value_fit", "value")
    m.training = {"dataset": block, "loss": "cross_entropy", "metrics": ["accuracy"],
                  "epochs": 40, "optimizer": {"name": "adam", "lr": 0.05}}
    trainer = Trainer(m, base_dir=tmp_path)
    assert trainer.fit().status == "completed"
    last = trainer.history[-1].metrics
    assert last["val_label_accuracy"] > 0.7 and last["val_value_loss"] < 1.0
    missing = dict(block, params=dict(block["params"], targets=["label", "size"]))
    with pytest.raises(DatasetError, match="no array named 'size' \\(it holds: features, extra, "
                                           "label, value\\)"):
        load_dataset(missing, tmp_path)


def test_an_output_whose_own_loss_does_not_suit_its_last_layer_is_warned_about():
    from runtime.training.data_fit import activation_warning

    design = pairs_design()
    assert activation_warning(design, "cross_entropy") is None
    design.add_node("Softmax", node_id="squash")
    design.disconnect(next(e for e in design.edges if e.dst == "sum"))
    chain(design, "sum_scores", "squash", "sum")
    message, node = activation_warning(design, "cross_entropy")
    assert node == "squash" and "Softmax" in message
    design.set_param("sum", "loss", "nll")  # log-probabilities wanted: Softmax is wrong too
    message, node = activation_warning(design, "cross_entropy")
    assert node == "squash" and message.startswith("Output 'sum': ")
