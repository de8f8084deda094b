"""runtime.design_diff: what changed between two designs (the Runs tab's architecture diff)."""
import json
from pathlib import Path

import pytest

from runtime import document
from runtime.design_diff import (DesignDiff, EdgeKey, Renamed, diff, diff_documents,
                                 training_changes)

from .designs import chain, mlp, residual

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def lesson(name: str, fixed: bool = False):
    return document.load(PRESETS / f"lesson-{name}{'-fixed' if fixed else ''}.json")


def lesson_diff(name: str) -> DesignDiff:
    return diff(lesson(name), lesson(name, fixed=True))


def copy_of(model):
    return document.from_dict(document.to_dict(model))


# --- the lessons: broken against fixed --------------------------------------------------------
def test_lessons_are_all_covered():
    broken = {p.name.removeprefix("lesson-").removesuffix(".json")
              for p in PRESETS.glob("lesson-*.json") if not p.name.endswith("-fixed.json")}
    assert broken == {"dying-relu", "vanishing-gradients", "exploding-gradients", "zero-init",
                      "overfitting", "perceptron-xor", "gan-mode-collapse"}
    assert all((PRESETS / f"lesson-{n}-fixed.json").exists() for n in broken)


def test_dying_relu_replaces_three_relus_by_leaky_relus():
    d = lesson_diff("dying-relu")
    assert d.removed == ("relu1", "relu2", "relu3")
    assert d.added == ("leakyrelu1", "leakyrelu2", "leakyrelu3")
    assert d.renamed_like == tuple(Renamed(f"relu{i}", f"leakyrelu{i}", "ReLU", "LeakyReLU")
                                   for i in (1, 2, 3))
    assert str(d.renamed_like[0]) == "relu1 → leakyrelu1 (ReLU → LeakyReLU)"
    assert not d.retyped and not d.reparametrised and not d.training
    assert EdgeKey("fc1", "output", "relu1", "input") in d.edges_removed
    assert EdgeKey("fc1", "output", "leakyrelu1", "input") in d.edges_added
    assert d.nodes_touched() == ["leakyrelu1", "leakyrelu2", "leakyrelu3"]
    assert d.labels() == ["ReLU → LeakyReLU ×3"]  # three alike share a label


def test_vanishing_gradients_swaps_sigmoids_for_relus_and_the_initialisation():
    d = lesson_diff("vanishing-gradients")
    assert d.renamed_like == tuple(Renamed(f"sigmoid{i}", f"relu{i}", "Sigmoid", "ReLU")
                                   for i in range(1, 11))
    linears = [f"fc{i}" for i in range(1, 11)] + ["head"]
    assert d.reparametrised == tuple((n, "weight_init", "default", "kaiming_normal")
                                     for n in linears)
    assert not d.retyped and not d.training
    assert set(d.nodes_touched()) == set(linears) | {f"relu{i}" for i in range(1, 11)}
    assert d.nodes_touched()[:3] == ["fc1", "relu1", "fc2"]  # in the design's order
    assert d.labels() == ["Sigmoid → ReLU ×10", "weight_init default → kaiming_normal ×11"]


def test_exploding_gradients_changes_only_the_rate_and_clipping():
    d = lesson_diff("exploding-gradients")
    assert d.training == (("optimizer.lr", 0.3, 0.05), ("gradient_clipping.mode", "none", "norm"))
    assert not (d.added or d.removed or d.retyped or d.reparametrised or d.edges_added
                or d.edges_removed or d.renamed_like)
    assert d.nodes_touched() == []
    assert d.labels() == ["lr 0.3 → 0.05", "clipping none → norm"]  # clip value 1 is the default


def test_zero_init_changes_only_the_initialisation():
    d = lesson_diff("zero-init")
    assert d.reparametrised == tuple((n, "weight_init", "zeros", "default")
                                     for n in ("fc1", "fc2", "head"))
    assert not (d.added or d.removed or d.retyped or d.training)
    assert d.labels() == ["weight_init zeros → default ×3"]


def test_overfitting_adds_two_dropouts_weight_decay_and_early_stopping():
    d = lesson_diff("overfitting")
    assert d.added == ("drop1", "drop2")
    assert d.types["drop1"] == "Dropout"
    assert not (d.removed or d.retyped or d.reparametrised or d.renamed_like)
    assert d.training == (("optimizer.weight_decay", 0.0, 0.02),
                          ("early_stopping.enabled", False, True),
                          ("early_stopping.patience", 5, 30))
    assert d.edges_removed == (EdgeKey("relu1", "output", "fc2", "input"),
                               EdgeKey("relu2", "output", "fc3", "input"))
    # the edges the Dropouts were inserted into are told by "+drop1", not again
    assert d.labels() == ["+drop1 (Dropout)", "+drop2 (Dropout)", "weight decay 0 → 0.02",
                          "early stopping no → yes", "+1 more"]
    assert d.labels(limit=None)[-1] == "early_stopping.patience 5 → 30"


def test_perceptron_xor_inserts_a_hidden_layer_before_the_perceptron():
    d = lesson_diff("perceptron-xor")
    assert d.added == ("hidden", "tanh") and d.types["hidden"] == "Linear"
    assert not (d.removed or d.retyped or d.reparametrised or d.renamed_like or d.training)
    assert d.edges_removed == (EdgeKey("x", "output", "perceptron", "input"),)
    assert d.nodes_touched() == ["hidden", "tanh"]
    assert d.labels() == ["+hidden (Linear)", "+tanh (Tanh)"]


def test_gan_mode_collapse_gives_the_discriminator_the_generators_rate():
    d = lesson_diff("gan-mode-collapse")
    assert d.training == (("mode.discriminator_lr", 0.0001, None),)
    assert not (d.added or d.removed or d.retyped or d.reparametrised or d.edges_added
                or d.edges_removed or d.renamed_like)
    assert d.nodes_touched() == []


def test_fixed_against_broken_is_the_mirror():
    d = diff(lesson("overfitting", fixed=True), lesson("overfitting"))
    assert d.removed == ("drop1", "drop2") and not d.added
    assert d.labels(limit=2) == ["−drop1", "−drop2", "+3 more"]
    back = diff(lesson("dying-relu", fixed=True), lesson("dying-relu"))
    assert back.renamed_like[0] == ("leakyrelu1", "relu1", "LeakyReLU", "ReLU")


# --- what is no change ------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(PRESETS.glob("*.json")), ids=lambda p: p.stem)
def test_a_design_against_itself_is_empty(path):
    model = document.load(path)
    for other in (model, document.load(path), copy_of(model)):
        d = diff(model, other)
        assert d.empty and d == DesignDiff()
        assert d.labels() == [] and d.nodes_touched() == []


def test_moves_name_and_description_are_no_change():
    before = lesson("zero-init")
    after = copy_of(before)
    for i, node_id in enumerate(after.nodes):
        after.move(node_id, (100.0 * i, -40.0))
    after.name, after.description = "Renamed", "Another story."
    assert diff(before, after).empty


@pytest.mark.parametrize("explicit", [
    {"optimizer": {"lr": 0.001, "name": "adam"}, "batch_size": 64, "epochs": 20},
    {"early_stopping": {"enabled": False}},  # a section saying "off" is still off
    {"dataset": {"name": "spirals", "validation_split": 0.2}},
    {"gradient_clipping": {"mode": "none", "value": 1.0}, "regularization": {"max_norm": None}},
])
def test_a_default_written_out_is_no_change(explicit):
    before, after = mlp(), mlp()
    after.training = explicit
    assert diff(before, after).empty
    assert diff(after, before).empty


def test_derived_defaults_and_dataset_parameter_defaults_are_no_change():
    assert training_changes({"loss": "mse"}, {"loss": "mse", "metrics": ["mae"]}) == ()
    moons = {"dataset": {"name": "moons"}}
    assert training_changes(moons, {"dataset": {"name": "moons", "params": {"n_samples": 500}}}) \
        == ()
    changed = {"dataset": {"name": "moons", "params": {"n_samples": 2000}}}
    assert training_changes(moons, changed) == (("dataset.params.n_samples", 500, 2000),)


# --- training ---------------------------------------------------------------------------------
def test_training_labels_use_the_settings_short_names():
    before, after = mlp(), mlp()
    before.training = {"optimizer": {"lr": 0.01}, "metrics": ["accuracy"],
                       "dataset": {"name": "moons", "params": {"n_samples": 400}}}
    after.training = {"optimizer": {"lr": 0.1}, "metrics": ["accuracy", "macro_f1"],
                      "dataset": {"name": "moons", "params": {"n_samples": 2000}},
                      "monitoring": {"doctor": False}}
    d = diff(before, after)
    assert [c.path for c in d.training] == ["dataset.params.n_samples", "metrics", "optimizer.lr",
                                            "monitoring.doctor"]
    # short names first (catalogue order), then dataset parameters, then the rest by path
    assert d.labels(limit=None) == ["lr 0.01 → 0.1", "n_samples 400 → 2000",
                                    "metrics accuracy → accuracy, macro_f1",
                                    "monitoring.doctor yes → no"]


def test_a_broken_training_block_is_compared_as_far_as_it_reads():
    before, after = mlp(), mlp()
    after.training = {"optimizer": "adam", "epochs": "many", "early_stopping": [1],
                      "dataset": {"name": "no-such-set", "params": 5}, "bogus": {"x": 1}}
    d = diff(before, after)
    paths = [c.path for c in d.training]
    assert "optimizer" in paths and "early_stopping" in paths  # a section that is not an object
    assert paths.count("optimizer") == 1
    assert ("epochs", 20, "many") in d.training
    assert ("dataset.name", "spirals", "no-such-set") in d.training
    assert ("dataset.params", {}, 5) in d.training
    assert d.labels(limit=None) and json.dumps(d.to_json())
    assert diff(after, copy_of(after)).empty  # broken the same way: no change
    assert training_changes(["not", "a", "block"], {}) == (("training", ["not", "a", "block"],
                                                            {}),)
    assert training_changes(None, None) == ()


# --- nodes and edges --------------------------------------------------------------------------
def test_retyped_and_reparametrised_nodes():
    before, after = mlp(), mlp()
    after.remove_node("relu1")
    after.add_node("Sigmoid", {}, node_id="relu1", index=2)
    chain(after, "fc1", "relu1", "fc2")
    after.set_param("fc1", "out_features", 32)
    d = diff(before, after)
    assert d.retyped == (("relu1", "ReLU", "Sigmoid"),)
    assert d.reparametrised == (("fc1", "out_features", 16, 32),)
    assert not (d.added or d.removed or d.edges_added or d.edges_removed)
    assert d.nodes_touched() == ["fc1", "relu1"]
    assert d.labels() == ["relu1: ReLU → Sigmoid", "fc1.out_features 16 → 32"]


def test_added_and_removed_nodes_label_with_their_type():
    before, after = mlp(), mlp()
    after.remove_node("relu1")
    after.connect("fc1", "fc2")
    d = diff(before, after)
    assert d.removed == ("relu1",) and not d.renamed_like
    # the new edge fc1 -> fc2 only bridges the removed node: not a label of its own
    assert d.edges_added == (EdgeKey("fc1", "output", "fc2", "input"),)
    assert d.labels() == ["−relu1"]
    back = diff(after, before)
    assert back.labels() == ["+relu1 (ReLU)"] and back.nodes_touched() == ["relu1"]


def test_a_single_replacement_reads_old_id_to_new_type():
    before, after = mlp(), mlp()
    after.remove_node("relu1")
    after.add_node("LeakyReLU", {}, node_id="leakyrelu1")
    chain(after, "fc1", "leakyrelu1", "fc2")
    d = diff(before, after)
    assert d.renamed_like == (("relu1", "leakyrelu1", "ReLU", "LeakyReLU"),)
    assert d.labels() == ["relu1 → LeakyReLU"]
    assert d.nodes_touched() == ["leakyrelu1"]


def test_a_chain_of_replaced_nodes_pairs_from_its_known_ends():
    before, after = mlp(), mlp()
    for m, ids, kind in ((before, ("a1", "a2"), "ReLU"), (after, ("b1", "b2"), "Tanh")):
        m.remove_node("relu1")
        m.add_node(kind, {}, node_id=ids[0])
        m.add_node(kind, {}, node_id=ids[1])
        chain(m, "fc1", *ids, "fc2")
    d = diff(before, after)
    assert d.renamed_like == (("a1", "b1", "ReLU", "Tanh"), ("a2", "b2", "ReLU", "Tanh"))
    assert d.labels() == ["a1 → Tanh", "a2 → Tanh"]  # two alike keep their own labels


def test_a_place_shared_by_two_candidates_pairs_nothing():
    def branches(kind: str, ids: tuple[str, str]):
        m = residual()
        m.remove_node("relu")
        for node_id in ids:
            m.add_node(kind, {}, node_id=node_id)
            chain(m, "conv", node_id, "add")
        return m
    d = diff(branches("ReLU", ("r1", "r2")), branches("Tanh", ("t1", "t2")))
    assert d.removed == ("r1", "r2") and d.added == ("t1", "t2")
    assert d.renamed_like == ()


def test_rewiring_between_kept_nodes_is_labelled():
    before, after = residual(), residual()
    skip = next(e for e in after.edges if e.src == "stem" and e.dst == "add")
    after.disconnect(skip)
    after.connect("x", "add")
    d = diff(before, after)
    assert d.edges_added == (EdgeKey("x", "output", "add", "input"),)
    assert d.edges_removed == (EdgeKey("stem", "output", "add", "input"),)
    assert not d.empty and d.nodes_touched() == []
    assert d.labels() == ["+edge x → add", "−edge stem → add"]


# --- labels and JSON --------------------------------------------------------------------------
def test_labels_stop_at_the_limit_with_a_count_of_the_rest():
    before, after = mlp(), mlp()
    after.set_param("fc1", "out_features", 32)
    after.set_param("fc2", "bias", False)
    after.training = {"optimizer": {"lr": 0.01}, "epochs": 5, "seed": 3}
    d = diff(before, after)
    everything = ["fc1.out_features 16 → 32", "fc2.bias yes → no", "lr 0.001 → 0.01",
                  "epochs 20 → 5", "seed 0 → 3"]
    assert d.labels(limit=None) == everything
    assert d.labels(limit=5) == everything
    assert d.labels() == everything[:4] + ["+1 more"]
    assert d.labels(limit=2) == everything[:2] + ["+3 more"]
    assert d.labels(limit=0) == ["+5 more"]


def test_to_json_and_documents():
    before, after = lesson("overfitting"), lesson("overfitting", fixed=True)
    d = diff_documents(document.to_dict(before), document.to_dict(after))
    assert d == diff(before, after)
    data = json.loads(json.dumps(d.to_json()))
    assert data["empty"] is False
    assert data["added"] == [{"id": "drop1", "type": "Dropout"}, {"id": "drop2", "type": "Dropout"}]
    assert data["edges_removed"][0] == {"from": "relu1", "from_port": "output", "to": "fc2",
                                        "to_port": "input"}
    assert data["training"][0] == {"path": "optimizer.weight_decay", "old": 0.0, "new": 0.02}
    assert data["labels"] == d.labels(limit=None)
    renamed = lesson_diff("dying-relu").to_json()["renamed_like"][0]
    assert renamed == {"old_id": "relu1", "new_id": "leakyrelu1", "old_type": "ReLU",
                       "new_type": "LeakyReLU"}
    assert diff(before, before).to_json()["empty"] is True


def test_nodes_moved_between_networks_are_a_change():
    from tests.runtime.designs import gan

    before, after = gan(), gan()
    after.set_network("g_fc1", "encoder")
    d = diff(before, after)
    assert not d.empty and d.regrouped == (("g_fc1", "generator", "encoder"),)
    assert d.labels() == ["g_fc1: network generator → encoder"]
    assert d.nodes_touched() == ["g_fc1"]
    for node in ("d_fc1", "d_relu", "d_fc2"):
        after.set_network(node, "")
    assert "network discriminator → main ×3" in diff(before, after).labels()
    assert diff(after, after).empty
    assert d.to_json()["regrouped"] == [{"id": "g_fc1", "old": "generator", "new": "encoder"}]
