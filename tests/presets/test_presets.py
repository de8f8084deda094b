"""Every preset loads, validates, compiles and trains a few steps, and reads well: a name, a
description, and cards that do not overlap on the canvas.

Whether each preset reaches its target is measured by `benchmarks/presets.py` (minutes of
training), not here; these tests keep every preset runnable in a few seconds each.
"""
from __future__ import annotations

import math
import runpy
from itertools import combinations
from pathlib import Path

import pytest

from runtime.cli import run
from runtime.compile import compile_model, compile_networks
from runtime.data import DATASETS
from runtime.document import dumps, load
from runtime.networks import is_multi_network
from runtime.shapes import infer
from runtime.training import Callback, Trainer, parse_training

ROOT = Path(__file__).resolve().parents[2]
PRESET_FILES = sorted((ROOT / "presets").glob("*.json"))
IDS = [path.stem for path in PRESET_FILES]
# Cards are 180 scene units wide and under 100 tall (designer/style.py, canvas/node_item.py);
# the gaps leave room for the edges' shape labels between them.
CARD_W, CARD_H, GAP_X, GAP_Y = 180.0, 100.0, 40.0, 10.0
STEPS = 3
SMALL_DATASET = 128


def test_the_library_holds_the_architectures_and_lessons():
    assert len(PRESET_FILES) >= 22
    broken = {p for p in IDS if p.startswith("lesson-") and not p.endswith("-fixed")}
    assert len(broken) >= 5 and {f"{p}-fixed" for p in broken} <= set(IDS)


def test_every_preset_has_a_target_in_the_benchmark():
    targets = runpy.run_path(str(ROOT / "benchmarks" / "presets.py"),
                             run_name="preset_benchmark")["TARGETS"]
    assert set(IDS) == set(targets)
    assert all(t.fix in targets for t in targets.values() if t.fix)


def test_names_are_unique_and_descriptions_teach():
    models = [load(path) for path in PRESET_FILES]
    names = [m.name for m in models]
    assert len(set(names)) == len(names)
    for path, model in zip(PRESET_FILES, models):
        assert model.name and model.name != "Untitled", path.name
        assert len(model.description) >= 150, f"{path.name}: say what the preset teaches"
        # the welcome view's card shows the summary on one line beside the picture
        assert 20 <= len(model.summary) <= 90, f"{path.name}: a one-line summary, at most 90"


@pytest.mark.parametrize("path", PRESET_FILES, ids=IDS)
def test_loads_validates_and_compiles(path, capsys):
    model = load(path)
    analysis = infer(model)
    assert analysis.valid and not analysis.warnings, [p.message for p in analysis.problems]
    if is_multi_network(model):  # a GAN: each network compiles to its own module
        compile_networks(model)
    else:
        compile_model(model, analysis)
    parse_training(model.training)
    assert run(["validate", str(path)]) == 0, capsys.readouterr()
    # saved by LayerLab: every parameter listed, and re-saving reproduces the file
    assert path.read_text(encoding="utf-8") == dumps(model)


@pytest.mark.parametrize("path", PRESET_FILES, ids=IDS)
def test_cards_do_not_overlap(path):
    nodes = list(load(path).nodes.values())
    for a, b in combinations(nodes, 2):
        dx, dy = abs(a.pos[0] - b.pos[0]), abs(a.pos[1] - b.pos[1])
        assert dx >= CARD_W + GAP_X or dy >= CARD_H + GAP_Y, f"{a.id} and {b.id} overlap"


class _StopAfter(Callback):
    def __init__(self, steps: int):
        self.steps = steps
        self.epochs: list[dict] = []

    def on_batch_end(self, trainer, step: int) -> None:
        if step >= self.steps:
            trainer.request_stop()

    def on_epoch_end(self, trainer, event) -> None:
        self.epochs.append(event)


@pytest.mark.parametrize("path", PRESET_FILES, ids=IDS)
def test_trains_a_few_steps(path):
    model = load(path)
    dataset = dict(model.training["dataset"])
    if "n_samples" in DATASETS[dataset["name"]].param_names():
        params = dataset["params"]
        dataset["params"] = {**params, "n_samples": min(params.get("n_samples", 10**9),
                                                        SMALL_DATASET)}
    epochs = 1
    if model.training.get("mode", {}).get("name") == "contrastive_divergence":
        epochs = sum(n.type == "RBM" for n in model.nodes.values())  # an epoch per RBM
    config = parse_training({**model.training, "epochs": epochs, "threads": 1,
                             "dataset": dataset})
    stopper = _StopAfter(STEPS)
    end = Trainer(model, config, [stopper], base_dir=path.parent).fit()
    assert end.status in ("stopped", "completed") and end.steps <= STEPS
    assert 1 <= len(stopper.epochs) <= epochs
    assert all(math.isfinite(e.train_loss) for e in stopper.epochs)
