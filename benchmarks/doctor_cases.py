"""The training doctor's labelled suite: faulty designs with the finding each must produce, their
corrected counterparts, and healthy controls (issue #12).

A `Case` is one fault: a design that trains badly (or cannot train), the finding `code` the
doctor must report, `where` it must point (a node id, or a training path such as
"training.optimizer.lr"; a tuple lists every acceptable answer), and the `counterpart`: the
design corrected by hand, trained with the same `epochs`, whose final validation metric a fix
must reach. A `Control` is a healthy design on which the doctor must stay silent (info findings
are allowed). `benchmarks/doctor.py` runs the doctor over both; `--verify` there retrains each
fault and its counterpart without the doctor to show that the labels are true.

The faults follow the kinds in DeepDiagnosis, AUTOTRAINER and UMLAUT's benchmarks: wrong
loss/activation pairs, unnormalised data, learning rates far too high or low, saturated
sigmoids, dead ReLUs, deep sigmoid stacks, zero initialisation, overfitting and underfitting
set-ups. Every case trains in seconds on a laptop CPU (a few hundred to 2,000 samples, small
networks; the presets used as faults keep their own data, the longest about 10 s). The built-in tables (iris, wine, breast_cancer) are standardised when loaded, so the
unnormalised-data faults read NumPy files with the raw values (scikit-learn's bundled wine and
digits), written once to a cache folder in the system's temporary directory.

Import it as a module (`from benchmarks.doctor_cases import CASES, CONTROLS`) with the
repository root on sys.path.
"""
from __future__ import annotations

import glob
import os
import tempfile
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from runtime.document import load
from runtime.graph import GraphModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = os.path.join(ROOT, "presets")

Where = str | tuple[str, ...]


# --- the records ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One labelled fault.

    Attributes:
        name: Unique, kebab-case.
        code: The finding code the doctor must report (a key of `runtime.doctor.rules.RULES`).
        where: The node id or training path ("training.optimizer.lr") that finding must name;
            a tuple lists every acceptable answer.
        design: Builds the faulty design (a fresh GraphModel per call).
        counterpart: Builds the corrected design (same data and budget), or None.
        epochs: The training budget for the design, its counterpart and a fixed design.
        notes: What is wrong, what it does to training, and which paper's fault kind it is.
        also: Other (code, where) answers that are also right (a NaN run that is equally a
            too-high learning rate); the benchmark counts them, marked, beside strict recall.
        invalid: The run is refused before training today (a loss the targets do not suit);
            the doctor must still report it as a finding.
        quick: In `benchmarks/doctor.py --quick` (one case per code at least).
    """

    name: str
    code: str
    where: Where
    design: Callable[[], GraphModel]
    counterpart: Callable[[], GraphModel] | None
    epochs: int
    notes: str
    also: tuple[tuple[str, Where], ...] = ()
    invalid: bool = False
    quick: bool = False

    @property
    def wheres(self) -> tuple[str, ...]:
        return _tuple(self.where)

    def accepted(self) -> dict[str, tuple[str, ...]]:
        """Every acceptable code with its acceptable places, the case's own code first."""
        out = {self.code: self.wheres}
        for code, where in self.also:
            out.setdefault(code, ())
            out[code] = out[code] + _tuple(where)
        return out


@dataclass(frozen=True)
class Control:
    """A healthy design: the doctor must report no warning or error on it.

    Attributes:
        name: Unique, kebab-case ("preset:<file stem>" for the presets).
        design: Builds it.
        epochs: Its training budget (the design's own unless noted).
        notes: Why it is healthy, and anything a rule could mistake for a fault.
    """

    name: str
    design: Callable[[], GraphModel]
    epochs: int
    notes: str = ""


def _tuple(where: Where) -> tuple[str, ...]:
    return (where,) if isinstance(where, str) else tuple(where)


# --- building designs -------------------------------------------------------------------------
Layer = tuple[str, str, dict]  # (node id, layer type, params)


def net(name: str, layers: list[Layer], training: dict, description: str = "") -> GraphModel:
    """A chain of layers, each feeding the next (Input first, Output last)."""
    model = GraphModel(name=name, description=description)
    for i, (node_id, type_id, params) in enumerate(layers):
        model.add_node(type_id, params, (160.0 * i, 0.0), node_id=node_id)
    ids = [node_id for node_id, _, _ in layers]
    for src, dst in zip(ids, ids[1:]):
        model.connect(src, dst)
    model.training = training
    return model


def dense(widths: list[int], act: str | None = "ReLU", init: str = "default", start: int = 1,
          act_params: dict | None = None, prefix: str = "fc") -> list[Layer]:
    """Hidden layers fc<i> (Linear) each followed by an activation named after its type
    (relu<i>, sigmoid<i>, ...); act None for none."""
    out: list[Layer] = []
    for i, width in enumerate(widths, start):
        out.append((f"{prefix}{i}", "Linear", {"out_features": width, "weight_init": init}))
        if act:
            out.append((f"{act.lower()}{i}", act, dict(act_params or {})))
    return out


def head(classes: int, init: str = "default", node_id: str = "head") -> list[Layer]:
    return [(node_id, "Linear", {"out_features": classes, "weight_init": init})]


def inp(*shape: int, node_id: str = "x", dtype: str = "float32") -> list[Layer]:
    return [(node_id, "Input", {"shape": list(shape), "dtype": dtype})]


OUT: list[Layer] = [("out", "Output", {})]


def train(dataset: str, params: dict | None = None, *, loss: str = "cross_entropy",
          metrics: list[str] | None = None, lr: float = 1e-3, optimizer: str = "adam",
          epochs: int = 20, batch_size: int | str = 64, validation_split: float = 0.2,
          **extra: Any) -> dict:
    """A training block; `extra` adds top-level sections (schedule, regularization, ...) and
    `optimizer` may be a dict of further optimiser fields via extra["opt"]."""
    opt = {"name": optimizer, "lr": lr, **extra.pop("opt", {})}
    block = {"dataset": {"name": dataset, "params": dict(params or {}),
                         "validation_split": validation_split},
             "loss": loss, "optimizer": opt, "batch_size": batch_size, "epochs": epochs,
             "seed": 0, **extra}
    if metrics is not None:
        block["metrics"] = metrics
    return block


def preset(stem: str) -> GraphModel:
    return load(os.path.join(PRESETS, f"{stem}.json"))


# --- raw data files (the built-in tables are standardised when loaded) --------------------------
CACHE = os.path.join(tempfile.gettempdir(), "layerlab-doctor-cases")


def _write_npz(path: str, **arrays: Any) -> None:
    import numpy as np

    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(path))
    os.close(fd)
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # atomic: parallel builders never read half a file


def raw_file(kind: str) -> str:
    """Absolute path of a cached .npz holding raw, unscaled data:

    "wine"    scikit-learn's 178 wines, 13 features as measured (proline 278..1680, magnesium
              70..162, hue 0.48..1.71), 3 classes
    "digits"  the 1,797 8x8 digits as 0..255 grey levels (N, 64), 10 classes: pixels never
              divided by 255
    """
    import numpy as np
    from sklearn import datasets

    path = os.path.join(CACHE, f"{kind}-raw-v1.npz")
    if not os.path.exists(path):
        if kind == "wine":
            bunch = datasets.load_wine()
            x = bunch.data.astype(np.float32)
        elif kind == "digits":
            bunch = datasets.load_digits()
            x = np.round(bunch.data * (255.0 / 16.0)).astype(np.float32)
        else:
            raise KeyError(kind)
        _write_npz(path, x=x, y=bunch.target.astype(np.int64))
    return path


def with_training(build: Callable[[], GraphModel], *changes: tuple[str, Any],
                  drop: tuple[str, ...] = ()) -> Callable[[], GraphModel]:
    """A builder of `build()` with training settings changed: ("optimizer.lr", 0.01), ...;
    `drop` removes top-level sections (back to their defaults)."""
    def make() -> GraphModel:
        model = build()
        block = {k: v for k, v in model.training.items() if k not in drop}
        for path, value in changes:
            *parents, last = path.split(".")
            section = block
            for part in parents:
                section[part] = dict(section.get(part) or {})
                section = section[part]
            section[last] = value
        model.training = block
        return model
    return make


def with_params(build: Callable[[], GraphModel],
                **params: dict[str, Any]) -> Callable[[], GraphModel]:
    """A builder of `build()` with node parameters changed: fc1={"weight_init": "default"}."""
    def make() -> GraphModel:
        model = build()
        for node_id, values in params.items():
            for name, value in values.items():
                model.set_param(node_id, name, value)
        return model
    return make


def every_weighted(build: Callable[[], GraphModel], **values: Any) -> Callable[[], GraphModel]:
    """A builder of `build()` with the same parameters set on every node that has weights."""
    def make() -> GraphModel:
        model = build()
        for node in list(model.nodes.values()):
            if model.spec(node.id).has_weights:
                for name, value in values.items():
                    model.set_param(node.id, name, value)
        return model
    return make


def without(build: Callable[[], GraphModel], node_id: str) -> Callable[[], GraphModel]:
    """A builder of `build()` with a pass-through node removed and its neighbours joined."""
    def make() -> GraphModel:
        model = build()
        srcs = [e.src for e in model.edges if e.dst == node_id]
        dsts = [e.dst for e in model.edges if e.src == node_id]
        model.remove_node(node_id)
        for src in srcs:
            for dst in dsts:
                model.connect(src, dst)
        return model
    return make


def inserted(build: Callable[[], GraphModel], after: str, node_id: str, type_id: str,
             params: dict | None = None) -> Callable[[], GraphModel]:
    """A builder of `build()` with a node put between `after` and everything it feeds."""
    def make() -> GraphModel:
        model = build()
        dsts = [e for e in model.edges if e.src == after]
        x, y = model.node(after).pos
        model.add_node(type_id, params or {}, (x + 80.0, y + 60.0), node_id=node_id)
        for edge in dsts:
            model.disconnect(edge)
            model.connect(node_id, edge.dst)
        model.connect(after, node_id)
        return model
    return make


def swap(model: GraphModel, node_id: str, type_id: str, params: dict | None = None,
         new_id: str | None = None) -> None:
    """Replace one node by another type in place, keeping its place and edges (and its id
    unless `new_id` is given)."""
    srcs = [e.src for e in model.edges if e.dst == node_id]
    dsts = [e.dst for e in model.edges if e.src == node_id]
    pos = model.node(node_id).pos
    model.remove_node(node_id)
    new_id = new_id or node_id
    model.add_node(type_id, params or {}, pos, node_id=new_id)
    for src in srcs:
        model.connect(src, new_id)
    for dst in dsts:
        model.connect(new_id, dst)


def replaced(build: Callable[[], GraphModel], node_id: str, type_id: str,
             params: dict | None = None, new_id: str | None = None) -> Callable[[], GraphModel]:
    """A builder of `build()` with one node swapped for another type (see `swap`)."""
    def make() -> GraphModel:
        model = build()
        swap(model, node_id, type_id, params, new_id)
        return model
    return make


# === the faults ===============================================================================
# Each builder returns a fresh design; a counterpart is built from its fault with one of the
# helpers above, so the two differ only in the correction.

def _spirals3(loss: str = "cross_entropy") -> dict:
    return train("spirals", {"n_samples": 1500, "n_classes": 3}, loss=loss, lr=0.01, epochs=30)


def _cnn(classes: int = 10, init: str = "default") -> list[Layer]:
    conv = {"kernel_size": 3, "padding": "same", "weight_init": init}
    return [("conv1", "Conv2d", {"out_channels": 8, **conv}), ("relu1", "ReLU", {}),
            ("pool1", "MaxPool2d", {"kernel_size": 2}),
            ("conv2", "Conv2d", {"out_channels": 16, **conv}), ("relu2", "ReLU", {}),
            ("pool2", "MaxPool2d", {"kernel_size": 2}), ("flat", "Flatten", {}),
            *head(classes, init)]


# --- loss_output_mismatch ---------------------------------------------------------------------
def softmax_ce() -> GraphModel:
    return net("Softmax before cross_entropy",
               inp(2) + dense([64, 64]) + head(3) + [("softmax", "Softmax", {})] + OUT,
               _spirals3())


def softmax_ce_cnn() -> GraphModel:
    return net("CNN with Softmax before cross_entropy",
               inp(1, 8, 8) + _cnn() + [("softmax", "Softmax", {})] + OUT,
               train("digits", lr=0.003, epochs=10))


def sigmoid_bce() -> GraphModel:
    return net("Sigmoid before bce",
               inp(30) + dense([16]) + head(1) + [("sigmoid", "Sigmoid", {})] + OUT,
               train("breast_cancer", loss="bce", lr=0.01, epochs=10))


def sigmoid_ce() -> GraphModel:
    return net("Sigmoid before cross_entropy",
               inp(2) + dense([32, 32]) + head(2) + [("sigmoid", "Sigmoid", {})] + OUT,
               train("moons", {"n_samples": 1000}, lr=0.01, epochs=10))


def logsoftmax_ce() -> GraphModel:
    return net("LogSoftmax before cross_entropy",
               inp(2) + dense([64, 64]) + head(3) + [("logsoftmax", "LogSoftmax", {})] + OUT,
               _spirals3())


def nll_raw() -> GraphModel:
    return net("nll on raw scores", inp(2) + dense([64, 64]) + head(3) + OUT, _spirals3("nll"))


def softmax_nll() -> GraphModel:
    return net("Softmax before nll",
               inp(2) + dense([64, 64]) + head(3) + [("softmax", "Softmax", {})] + OUT,
               _spirals3("nll"))


def bce_classes() -> GraphModel:
    return net("bce on three classes", inp(2) + dense([32]) + head(3) + OUT,
               train("blobs", {"n_samples": 600, "centers": 3}, loss="bce", lr=0.01,
                     epochs=15))


def ce_regression() -> GraphModel:
    return net("cross_entropy on a regression target", inp(1) + dense([64, 64], "Tanh")
               + head(1) + OUT,
               train("sine", {"n_samples": 1000}, lr=0.01, epochs=20, batch_size=32))


def width_classes() -> GraphModel:
    return net("Two outputs for three classes", inp(2) + dense([64, 64]) + head(2) + OUT,
               _spirals3())


def accuracy_regression() -> GraphModel:
    return net("Accuracy measured on a regression", inp(1) + dense([64, 64], "Tanh") + head(1)
               + OUT, train("sine", {"n_samples": 1000}, loss="mse", metrics=["accuracy"],
                            lr=0.01, epochs=20, batch_size=32))


def sigmoid_regression() -> GraphModel:
    return net("Sigmoid on a regression output",
               inp(1) + dense([64, 64], "Tanh") + head(1) + [("sigmoid_out", "Sigmoid", {})]
               + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", lr=0.01, epochs=30,
                     batch_size=32))


# --- misplaced_dropout ------------------------------------------------------------------------
def dropout_regression() -> GraphModel:
    return net("Dropout on a regression output",
               inp(1) + dense([64, 64], "Tanh") + head(1) + [("drop_out", "Dropout", {"p": 0.5})]
               + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", lr=0.01, epochs=30,
                     batch_size=32))


def dropout_scores() -> GraphModel:
    return net("Dropout on the class scores",
               inp(2) + dense([64, 64]) + head(3) + [("drop_out", "Dropout", {"p": 0.5})] + OUT,
               _spirals3())


# --- unnormalised_input -----------------------------------------------------------------------
def raw_wine() -> GraphModel:
    return net("Raw wine features", inp(13) + dense([32]) + head(3) + OUT,
               train("npz", {"path": raw_file("wine")}, optimizer="sgd", lr=0.01, epochs=30,
                     batch_size=16))


def raw_pixels() -> GraphModel:
    return net("Raw 0-255 pixels", inp(64) + dense([64]) + head(10) + OUT,
               train("npz", {"path": raw_file("digits")}, optimizer="sgd", lr=0.01,
                     epochs=10))


def far_blobs() -> GraphModel:
    return net("Blobs a thousand units out", inp(2) + dense([32, 32]) + head(4) + OUT,
               train("blobs", {"n_samples": 1000, "centers": 4, "center_box": 1000.0,
                               "cluster_std": 100.0}, lr=0.01, epochs=20))


def _normalised(build: Callable[[], GraphModel]) -> Callable[[], GraphModel]:
    return inserted(build, "x", "norm", "BatchNorm")


# --- symmetry ---------------------------------------------------------------------------------
def zeros_relu() -> GraphModel:
    return net("Zero-initialised ReLU MLP",
               inp(2) + dense([32, 32], init="zeros") + head(2, "zeros") + OUT,
               train("moons", {"n_samples": 1000}, lr=0.01, epochs=15))


def zeros_cnn() -> GraphModel:
    return net("Zero-initialised CNN", inp(1, 8, 8) + _cnn(init="zeros") + OUT,
               train("digits", lr=0.003, epochs=10))


# --- bad_initial_loss -------------------------------------------------------------------------
def target_offset() -> GraphModel:
    return net("Targets around 20", inp(1) + dense([32, 32]) + head(1) + OUT,
               train("polynomial", {"n_samples": 800, "coefficients": "20, 2"}, loss="mse",
                     lr=1e-3, epochs=20, batch_size=32))


def he_linear(optimizer: str = "adam", lr: float = 1e-3) -> GraphModel:
    return net("Twelve linear layers with He init",
               inp(2) + dense([64] * 12, None, init="kaiming_normal") + head(3, "kaiming_normal")
               + OUT,
               train("blobs", {"n_samples": 1000, "centers": 3}, optimizer=optimizer, lr=lr,
                     epochs=20))


HE_LINEAR_NODES = tuple(f"fc{i}" for i in range(1, 13)) + ("head",)


# --- non_finite -------------------------------------------------------------------------------
def sgd_nan_sine() -> GraphModel:
    return net("SGD at 0.5 on a sine", inp(1) + dense([64, 64]) + head(1) + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", optimizer="sgd", lr=0.5,
                     epochs=20, batch_size=32))


def deep_relu_nan() -> GraphModel:
    return net("Deep He-initialised ReLU net, SGD at 0.05",
               inp(1) + dense([64] * 8, init="kaiming_normal") + head(1) + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", optimizer="sgd", lr=0.05,
                     epochs=20, batch_size=32))


def big_targets_relu() -> GraphModel:
    return net("Targets in the hundreds, ReLU, SGD", inp(1) + dense([64, 64]) + head(1) + OUT,
               train("polynomial", {"n_samples": 1000, "coefficients": "0, 0, 0, 20",
                                    "x_range": 3.0}, loss="mse", optimizer="sgd", lr=0.01,
                     epochs=20, batch_size=32))


# --- exploding_gradients ----------------------------------------------------------------------
def deep_tanh_sgd() -> GraphModel:
    return net("Four Tanh layers, SGD at 0.2",
               inp(1) + dense([64] * 4, "Tanh") + head(1) + OUT,
               train("polynomial", {"n_samples": 1000, "degree": 3}, loss="mse",
                     optimizer="sgd", lr=0.2, epochs=20, batch_size=32))


CLIP = (("gradient_clipping", {"mode": "norm", "value": 1.0}),)


# --- vanishing_gradients ----------------------------------------------------------------------
def small_init_tanh() -> GraphModel:
    return net("Eight Tanh layers with tiny init",
               inp(2) + dense([32] * 8, "Tanh", init="normal") + head(2, "normal") + OUT,
               train("moons", {"n_samples": 1000}, optimizer="sgd", lr=0.01, epochs=20))


def deep_sigmoid_digits() -> GraphModel:
    return net("Six Sigmoid layers on digits",
               inp(64) + dense([64] * 6, "Sigmoid") + head(10) + OUT,
               train("digits", {"flatten": True}, optimizer="sgd", lr=0.05, epochs=15))


def _relu_he(build: Callable[[], GraphModel], count: int) -> Callable[[], GraphModel]:
    """The sigmoid/tanh stack with ReLU and He init (the vanishing-gradients lesson's fix)."""
    def make() -> GraphModel:
        model = build()
        for i in range(1, count + 1):
            for act in ("sigmoid", "tanh"):
                if f"{act}{i}" in model.nodes:
                    swap(model, f"{act}{i}", "ReLU", new_id=f"relu{i}")
        for node in model.nodes.values():
            if model.spec(node.id).has_weights:
                model.set_param(node.id, "weight_init", "kaiming_normal")
        return model
    return make


# --- dead_units -------------------------------------------------------------------------------
def relu_logits() -> GraphModel:
    return net("ReLU on the class scores",
               inp(2) + dense([64, 64]) + head(2) + [("relu_out", "ReLU", {})] + OUT,
               train("spirals", {"n_samples": 1500}, lr=0.01, epochs=30))


def relu_regression() -> GraphModel:
    return net("ReLU on a regression output",
               inp(1) + dense([64, 64], "Tanh") + head(1) + [("relu_out", "ReLU", {})] + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", lr=0.01, epochs=30,
                     batch_size=32))


def sgd_dead_spirals() -> GraphModel:
    return net("ReLU MLP with SGD at 0.5", inp(2) + dense([64, 64, 64]) + head(2) + OUT,
               train("spirals", {"n_samples": 1500}, optimizer="sgd", lr=0.5, epochs=30))


def adam_dead_circles() -> GraphModel:
    return net("ReLU MLP with Adam at 0.3", inp(2) + dense([32, 32, 32]) + head(2) + OUT,
               train("circles", {"n_samples": 1000}, lr=0.3, epochs=15))


def _leaky(build: Callable[[], GraphModel], count: int) -> Callable[[], GraphModel]:
    def make() -> GraphModel:
        model = build()
        for i in range(1, count + 1):
            swap(model, f"relu{i}", "LeakyReLU", new_id=f"leakyrelu{i}")
        return model
    return make


# --- saturation -------------------------------------------------------------------------------
def raw_wine_tanh() -> GraphModel:
    return net("Raw wine features into Tanh", inp(13) + dense([32], "Tanh") + head(3) + OUT,
               train("npz", {"path": raw_file("wine")}, lr=1e-3, epochs=30, batch_size=16))


def sigmoid_high_lr() -> GraphModel:
    return net("Sigmoid MLP with Adam at 0.5",
               inp(2) + dense([32, 32], "Sigmoid") + head(2) + OUT,
               train("moons", {"n_samples": 1000}, lr=0.5, epochs=20))


def tanh_high_lr() -> GraphModel:
    return net("Tanh regression with Adam at 0.1",
               inp(1) + dense([64, 64], "Tanh") + head(1) + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", lr=0.1, epochs=30, batch_size=32))


# --- lr_too_high ------------------------------------------------------------------------------
def adam_high_spirals() -> GraphModel:
    return net("Adam at 0.3 on spirals", inp(2) + dense([64, 64]) + head(2) + OUT,
               train("spirals", {"n_samples": 1500}, lr=0.3, epochs=30))


def sgd_high_digits() -> GraphModel:
    return net("SGD at 2.0 on digits", inp(64) + dense([128]) + head(10) + OUT,
               train("digits", {"flatten": True}, optimizer="sgd", lr=2.0, epochs=10))


def rmsprop_high_circles() -> GraphModel:
    return net("RMSprop at 0.1 on circles", inp(2) + dense([32, 32]) + head(2) + OUT,
               train("circles", {"n_samples": 1000}, optimizer="rmsprop", lr=0.1, epochs=20))


# --- lr_too_low -------------------------------------------------------------------------------
def adam_tiny_spirals() -> GraphModel:
    return net("Adam at 1e-6 on spirals", inp(2) + dense([64, 64]) + head(2) + OUT,
               train("spirals", {"n_samples": 1500}, lr=1e-6, epochs=20))


def sgd_tiny_digits() -> GraphModel:
    return net("Plain SGD at 1e-5 on digits", inp(64) + dense([128]) + head(10) + OUT,
               train("digits", {"flatten": True}, optimizer="sgd", lr=1e-5, epochs=10,
                     opt={"momentum": 0.0}))


def adam_tiny_sine() -> GraphModel:
    return net("Adam at 1e-6 on a sine", inp(1) + dense([64, 64], "Tanh") + head(1) + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", lr=1e-6, epochs=20,
                     batch_size=32))


# --- slow_convergence -------------------------------------------------------------------------
def sgd_slow_digits() -> GraphModel:
    return net("Plain SGD at 0.005 on digits", inp(64) + dense([128]) + head(10) + OUT,
               train("digits", {"flatten": True}, optimizer="sgd", lr=0.005, epochs=10,
                     opt={"momentum": 0.0}))


def adam_slow_moons() -> GraphModel:
    return net("Adam at 1e-4 on moons", inp(2) + dense([32, 32]) + head(2) + OUT,
               train("moons", {"n_samples": 1000}, lr=1e-4, epochs=20))


def sgd_slow_sine() -> GraphModel:
    return net("Plain SGD at 0.003 on a sine", inp(1) + dense([64, 64], "Tanh") + head(1) + OUT,
               train("sine", {"n_samples": 1000}, loss="mse", optimizer="sgd", lr=0.003,
                     epochs=20, batch_size=32, opt={"momentum": 0.0}))


# --- stuck_at_chance --------------------------------------------------------------------------
def linear_circles() -> GraphModel:
    return net("A linear model on circles", inp(2) + head(2) + OUT,
               train("circles", {"n_samples": 1000}, lr=0.01, epochs=20))


def heavy_dropout() -> GraphModel:
    return net("Dropout 0.9 twice",
               inp(2) + dense([64]) + [("drop1", "Dropout", {"p": 0.9})]
               + dense([64], start=2) + [("drop2", "Dropout", {"p": 0.9})] + head(3) + OUT,
               _spirals3())


# --- cannot_fit_batch -------------------------------------------------------------------------
def bottleneck_digits() -> GraphModel:
    return net("One-unit ReLU bottleneck on digits",
               inp(64) + dense([64]) + [("bottleneck", "Linear", {"out_features": 1}),
                                        ("relu_b", "ReLU", {})]
               + dense([64], start=2) + head(10) + OUT,
               train("digits", {"flatten": True}, lr=0.003, epochs=15))


def frozen_body() -> GraphModel:
    frozen = {"out_features": 64, "trainable": False}
    return net("Hidden layers left frozen",
               inp(64) + [("fc1", "Linear", frozen), ("relu1", "ReLU", {}),
                          ("fc2", "Linear", frozen), ("relu2", "ReLU", {})] + head(10) + OUT,
               train("digits", {"flatten": True}, lr=0.003, epochs=15))


def sgd_tiny_moons() -> GraphModel:
    return net("Plain SGD at 1e-4 on moons", inp(2) + dense([64, 64]) + head(2) + OUT,
               train("moons", {"n_samples": 1000}, optimizer="sgd", lr=1e-4, epochs=20,
                     opt={"momentum": 0.0}))


# --- overfitting ------------------------------------------------------------------------------
def _big(inputs: int, classes: int, block: dict, name: str) -> GraphModel:
    return net(name, inp(inputs) + dense([256, 256, 256]) + head(classes) + OUT, block)


def overlap_blobs() -> GraphModel:
    return _big(2, 3, train("blobs", {"n_samples": 400, "centers": 3, "cluster_std": 2.5},
                            lr=0.003, epochs=200, validation_split=0.75, batch_size=16),
                "Big net on 100 overlapping blobs")


def noisy_circles() -> GraphModel:
    return _big(2, 2, train("circles", {"n_samples": 400, "noise": 0.2, "factor": 0.6},
                            lr=0.003, epochs=200, validation_split=0.75, batch_size=16),
                "Big net on 100 noisy circles")


def _regularised(build: Callable[[], GraphModel]) -> Callable[[], GraphModel]:
    """The overfitting lesson's fix: Dropout 0.5 after the first two hidden layers, weight
    decay 0.01 and early stopping (patience 30)."""
    make = inserted(inserted(build, "relu1", "drop1", "Dropout", {"p": 0.5}),
                    "relu2", "drop2", "Dropout", {"p": 0.5})
    return with_training(make, ("optimizer.weight_decay", 0.01),
                         ("early_stopping", {"monitor": "val_loss", "patience": 30}))


OVERFIT_FIELDS = ("training.regularization", "training.regularization.l1",
                  "training.regularization.max_norm", "training.optimizer.weight_decay",
                  "training.early_stopping", "training.early_stopping.enabled")


# --- underfitting -----------------------------------------------------------------------------
def linear_spirals() -> GraphModel:
    return net("A linear model on spirals", inp(2) + head(3) + OUT,
               train("spirals", {"n_samples": 1500, "n_classes": 3, "turns": 1.0}, lr=0.01,
                     epochs=30))


def tiny_hidden() -> GraphModel:
    return net("Two units per hidden layer on spirals", inp(2) + dense([2, 2]) + head(3) + OUT,
               _spirals3())


def heavy_weight_decay() -> GraphModel:
    return with_training(lambda: net("Weight decay 1.0", inp(2) + dense([64, 64]) + head(3)
                                     + OUT, _spirals3()),
                         ("optimizer.weight_decay", 1.0))()


def heavy_l1() -> GraphModel:
    return with_training(lambda: net("L1 penalty 0.05", inp(2) + dense([64, 64]) + head(3)
                                     + OUT, _spirals3()),
                         ("regularization", {"l1": 0.05}))()


def bottleneck_spirals() -> GraphModel:
    return net("One-unit ReLU bottleneck on spirals",
               inp(2) + dense([64]) + [("bottleneck", "Linear", {"out_features": 1}),
                                       ("relu_b", "ReLU", {})]
               + dense([64], start=2) + head(3) + OUT, _spirals3())




def _hidden_layer(build: Callable[[], GraphModel], width: int = 16) -> Callable[[], GraphModel]:
    """A linear model given one hidden ReLU layer (fc1, relu1) after its Input."""
    return inserted(inserted(build, "x", "fc1", "Linear", {"out_features": width}),
                    "fc1", "relu1", "ReLU")


def xor_dead() -> GraphModel:
    return net("ReLU MLP with Adam at 1.0 on XOR", inp(2) + dense([32, 32]) + head(2) + OUT,
               train("xor", {"n_samples": 1000}, lr=1.0, epochs=20))


# === the suite ================================================================================
LR = "training.optimizer.lr"

CASES: list[Case] = [
    # --- loss_output_mismatch (UMLAUT's and DeepDiagnosis's wrong loss/activation pairs) -------
    Case("softmax-before-cross-entropy", "loss_output_mismatch", "softmax", softmax_ce,
         without(softmax_ce, "softmax"), 30,
         "cross_entropy applies softmax itself, so the scores are squashed twice: the "
         "gradients are flattened and the val loss ends at 0.57 (0.011 without the Softmax).",
         quick=True),
    Case("softmax-before-cross-entropy-cnn", "loss_output_mismatch", "softmax", softmax_ce_cnn,
         without(softmax_ce_cnn, "softmax"), 10,
         "The same double softmax at the end of a small CNN on digits images."),
    Case("sigmoid-before-bce", "loss_output_mismatch", "sigmoid", sigmoid_bce,
         without(sigmoid_bce, "sigmoid"), 10,
         "bce reads logits and applies the sigmoid itself; a Sigmoid output is always > 0, so "
         "every prediction is 'yes' (accuracy = share of the positive class)."),
    Case("sigmoid-before-cross-entropy", "loss_output_mismatch", "sigmoid", sigmoid_ce,
         without(sigmoid_ce, "sigmoid"), 10,
         "Sigmoid squashes the class scores into (0, 1) before cross_entropy's softmax: the "
         "loss stalls far above zero."),
    Case("logsoftmax-before-cross-entropy", "loss_output_mismatch", "logsoftmax", logsoftmax_ce,
         without(logsoftmax_ce, "logsoftmax"), 30,
         "cross_entropy applies log-softmax itself. Numerically harmless (log-softmax is "
         "idempotent), so it trains like its counterpart; reported because the loss expects "
         "raw scores."),
    Case("nll-on-raw-scores", "loss_output_mismatch", ("head", "out", "training.loss"), nll_raw,
         inserted(nll_raw, "head", "logsoftmax", "LogSoftmax"), 30,
         "nll expects log-probabilities; on raw scores it rewards making the true class's "
         "score unboundedly large: the loss runs to -2e6 and accuracy stays at chance."),
    Case("softmax-before-nll", "loss_output_mismatch", "softmax", softmax_nll,
         replaced(softmax_nll, "softmax", "LogSoftmax", new_id="logsoftmax"), 30,
         "nll needs log-probabilities but gets probabilities: the loss is -p(true class), "
         "whose gradient vanishes for confident mistakes."),
    Case("bce-with-class-indices", "loss_output_mismatch", "training.loss", bce_classes,
         with_training(bce_classes, ("loss", "cross_entropy")), 15,
         "bce is for yes/no targets; the dataset has three classes. Refused before training "
         "today; the doctor must report it as a finding.", invalid=True),
    Case("cross-entropy-on-regression", "loss_output_mismatch", "training.loss", ce_regression,
         with_training(ce_regression, ("loss", "mse"), ("metrics", ["mse"])), 20,
         "A classification loss on real-valued sine targets. Refused before training today.",
         invalid=True),
    Case("output-width-not-classes", "loss_output_mismatch", ("head", "out"), width_classes,
         with_params(width_classes, head={"out_features": 3}), 30,
         "Two output units for three spiral arms. Refused before training today.",
         invalid=True),
    Case("accuracy-on-regression", "loss_output_mismatch", "training.metrics",
         accuracy_regression, with_training(accuracy_regression, ("metrics", ["mse"])), 20,
         "Accuracy asked of a sine regression; the settings refuse it today.", invalid=True),
    Case("sigmoid-on-regression-output", "loss_output_mismatch", "sigmoid_out",
         sigmoid_regression, without(sigmoid_regression, "sigmoid_out"), 30,
         "A Sigmoid output can only say 0..1, but half the sine's targets are negative: the "
         "loss has a floor far above the noise (UMLAUT's wrong last-layer activation).",
         also=(("saturation", "sigmoid_out"),)),
    # --- misplaced_dropout (NeuraLint/UMLAUT: a regulariser in the wrong place) ----------------
    Case("dropout-on-regression-output", "misplaced_dropout", "drop_out", dropout_regression,
         without(dropout_regression, "drop_out"), 30,
         "Dropout 0.5 right before the Output zeroes half of a regressor's predictions during "
         "training: val loss 0.13 instead of 0.016.", quick=True),
    Case("dropout-on-class-scores", "misplaced_dropout", "drop_out", dropout_scores,
         without(dropout_scores, "drop_out"), 30,
         "Dropout 0.5 on the class scores: training fights the noise it adds (val loss 0.15 "
         "instead of 0.011, accuracy 0.99)."),
    # --- unnormalised_input (DeepDiagnosis/AUTOTRAINER: missing preprocessing) -----------------
    Case("raw-wine-features", "unnormalised_input", "x", raw_wine, _normalised(raw_wine), 30,
         "Wine's 13 measurements as measured (proline up to 1,680, hue below 2) with SGD: "
         "the first step's loss is in the hundreds and accuracy stays at chance. The "
         "counterpart puts a BatchNorm after the Input.", quick=True),
    Case("raw-pixel-values", "unnormalised_input", "x", raw_pixels,
         inserted(raw_pixels, "x", "norm", "LayerNorm"), 10,
         "Digits as 0-255 grey levels, never divided by 255; SGD cannot train from the first "
         "huge logits (accuracy at chance). The counterpart standardises each image with a "
         "LayerNorm after the Input: a BatchNorm there also reaches 0.96 accuracy, but pixels "
         "that are almost always 0 get a running variance near 0, and its validation loss "
         "climbs from 0.78 to 2.6 at evaluation time."),
    Case("far-apart-blobs", "unnormalised_input", "x", far_blobs, _normalised(far_blobs), 20,
         "Blob features in the hundreds to thousands. Adam copes partly (about 0.92 vs 0.96), "
         "but the first losses are huge; a static finding even when training limps on."),
    # --- symmetry (zero or constant initialisation) --------------------------------------------
    Case("lesson-zero-init", "symmetry", ("fc1", "fc2", "head"),
         partial(preset, "lesson-zero-init"), partial(preset, "lesson-zero-init-fixed"), 30,
         "The zero-init lesson: every Linear starts at zero, so each layer acts like one unit "
         "and accuracy stalls near 60% on circles.", quick=True),
    Case("zero-init-relu-mlp", "symmetry", ("fc1", "fc2", "head"), zeros_relu,
         every_weighted(zeros_relu, weight_init="default"), 15,
         "All-zero weights with ReLU: every hidden output is 0, so no gradient reaches the "
         "hidden layers at all and only the head's bias learns."),
    Case("zero-init-cnn", "symmetry", ("conv1", "conv2", "head"), zeros_cnn,
         every_weighted(zeros_cnn, weight_init="default"), 10,
         "A CNN whose kernels all start at zero: identical (and silent) channels."),
    # --- bad_initial_loss ----------------------------------------------------------------------
    Case("regression-target-offset", "bad_initial_loss", "head", target_offset,
         with_training(target_offset, ("optimizer.lr", 0.01)), 20,
         "Targets around 20 (y = 20 + 2x) while an untrained net outputs ~0: the first loss "
         "is ~400 against a target variance of ~1.3, and at lr 1e-3 the whole budget goes into "
         "moving the output bias. There is no bias-init parameter, so the counterpart raises "
         "the learning rate to 0.01.", quick=True),
    Case("he-init-linear-stack", "bad_initial_loss", "head", he_linear,
         every_weighted(he_linear, weight_init="xavier_normal"), 20,
         "Twelve Linear layers with no activation and He (kaiming) init, which doubles the "
         "variance per layer: logits start around +-70 and the first loss is ~12 instead of "
         "ln 3. Adam recovers partly; Xavier init is the counterpart.",
         also=(("exploding_gradients", HE_LINEAR_NODES),)),
    # --- non_finite -----------------------------------------------------------------------------
    Case("sgd-divergence-sine", "non_finite", LR, sgd_nan_sine,
         with_training(sgd_nan_sine, ("optimizer.lr", 0.05)), 20,
         "SGD (momentum 0.9) at 0.5 on a small ReLU regressor: gradients are NaN by step 4.",
         also=(("lr_too_high", LR), ("exploding_gradients", ("fc1", "fc2", "head", LR))),
         quick=True),
    Case("deep-relu-sgd-overflow", "non_finite", LR, deep_relu_nan,
         with_training(deep_relu_nan, ("optimizer.lr", 0.002)), 20,
         "Eight He-initialised ReLU layers with SGD momentum at 0.05: the outputs reach 3e19 "
         "and the loss overflows at step 3.",
         also=(("lr_too_high", LR),
               ("exploding_gradients", tuple(f"fc{i}" for i in range(1, 9)) + ("head", LR)))),
    Case("large-targets-relu-sgd", "non_finite",
         (LR, "training.gradient_clipping", "training.gradient_clipping.mode"), big_targets_relu,
         with_training(big_targets_relu, *CLIP), 20,
         "Targets up to +-540 (y = 20x^3, x in [-3, 3]) give gradients near 1e3 and SGD hits "
         "NaN at step 4. The real cure is scaling the targets, which LayerLab cannot do yet; "
         "the counterpart clips the gradient norm at 1.",
         also=(("exploding_gradients", ("fc1", "fc2", "head", LR)), ("lr_too_high", LR))),
    # --- exploding_gradients ----------------------------------------------------------------
    Case("lesson-exploding-gradients", "exploding_gradients", ("fc1", "fc2", "fc3", LR),
         partial(preset, "lesson-exploding-gradients"),
         partial(preset, "lesson-exploding-gradients-fixed"), 30,
         "The exploding-gradients lesson: SGD at 0.3 with momentum; gradient norms grow to "
         "1e18 and the loss overflows within the first epoch.",
         also=(("lr_too_high", LR), ("non_finite", (LR, "fc1", "fc2", "fc3"))), quick=True),
    Case("he-init-linear-stack-sgd", "exploding_gradients", HE_LINEAR_NODES,
         partial(he_linear, "sgd", 0.01),
         every_weighted(partial(he_linear, "sgd", 0.01), weight_init="xavier_normal"), 20,
         "The He-initialised linear stack with SGD: gradient norms of 100-700 at step 1 and "
         "NaN in fc2 at step 4.",
         also=(("non_finite", ("fc2", LR)), ("lr_too_high", LR))),
    Case("deep-tanh-sgd-cubic", "exploding_gradients",
         ("fc1", "fc2", "fc3", "fc4", "head", LR), deep_tanh_sgd,
         with_training(deep_tanh_sgd, ("optimizer.lr", 0.02)), 20,
         "Four Tanh layers on a cubic with SGD (momentum 0.9) at 0.2: the gradient norms sit "
         "near 1 for 25 steps, then grow to 1e16 within 15 steps and turn NaN in epoch 2.",
         also=(("lr_too_high", LR), ("non_finite", (LR, "fc1", "fc2", "fc3", "fc4", "head")))),
    # --- vanishing_gradients -----------------------------------------------------------------
    Case("lesson-vanishing-gradients", "vanishing_gradients", ("fc1", "sigmoid1"),
         partial(preset, "lesson-vanishing-gradients"),
         partial(preset, "lesson-vanishing-gradients-fixed"), 30,
         "The vanishing-gradients lesson: ten Sigmoid layers; fc1's gradient is ~1e-10, about "
         "a billion times smaller than head's, and accuracy stays at 50%.", quick=True),
    Case("small-init-deep-tanh", "vanishing_gradients", ("fc1", "tanh1"), small_init_tanh,
         every_weighted(small_init_tanh, weight_init="xavier_normal"), 20,
         "Eight Tanh layers initialised with std 0.05: the signal shrinks layer by layer and "
         "fc1's gradient (1e-5) is 300x below head's; stuck at chance. Xavier init fixes it."),
    Case("deep-sigmoid-digits", "vanishing_gradients", ("fc1", "sigmoid1"), deep_sigmoid_digits,
         _relu_he(deep_sigmoid_digits, 6), 15,
         "Six Sigmoid layers on digits with SGD: fc1's gradient is 1e5 times below head's and "
         "accuracy stays at chance (0.09). ReLU with He init is the counterpart."),
    Case("plain-rnn-adding", "vanishing_gradients", "rnn", partial(preset, "rnn-adding"),
         partial(preset, "lstm-adding"), 20,
         "The plain-RNN adding-problem preset: the gradient that would teach it to remember "
         "the first marked number fades over ~75 steps (vanishing through time), so it stays "
         "at the mean's MSE of 0.167. Its counterpart is the LSTM preset (same data, budget).",
         also=(("underfitting", ("rnn", "head")),)),
    # --- dead_units ----------------------------------------------------------------------------
    Case("lesson-dying-relu", "dead_units", ("relu2", "relu3", "relu1"),
         partial(preset, "lesson-dying-relu"), partial(preset, "lesson-dying-relu-fixed"), 10,
         "The dying-ReLU lesson: Adam at 1.0; relu2 and relu3 output zero for every input "
         "after the first steps and accuracy stays at chance.",
         also=(("lr_too_high", LR),), quick=True),
    Case("relu-on-class-scores", "dead_units", "relu_out", relu_logits,
         without(relu_logits, "relu_out"), 30,
         "A ReLU after the head clips every negative class score to 0; scores pushed below 0 "
         "never come back (85% zeros), accuracy 0.70 instead of 1.0.",
         also=(("loss_output_mismatch", "relu_out"),)),
    Case("relu-on-regression-output", "dead_units", "relu_out", relu_regression,
         without(relu_regression, "relu_out"), 30,
         "A ReLU on a sine regressor's output cannot produce the negative half of the wave; "
         "its unit is zero for most inputs (val loss 0.38 vs 0.015).",
         also=(("loss_output_mismatch", "relu_out"),)),
    Case("sgd-high-lr-dead-relus", "dead_units", ("relu3", "relu2"), sgd_dead_spirals,
         with_training(sgd_dead_spirals, ("optimizer.lr", 0.05)), 30,
         "SGD with momentum at 0.5 kills the deeper ReLUs (relu3 100% zeros, relu2 98%); "
         "accuracy at chance.", also=(("lr_too_high", LR),)),
    Case("adam-high-lr-dead-relus", "dead_units", ("relu2", "relu3", "relu1"),
         adam_dead_circles, _leaky(adam_dead_circles, 3), 15,
         "Adam at 0.3 on circles: relu2 and relu3 die within the first epoch and accuracy "
         "stays at 50%. The counterpart keeps the rate and uses LeakyReLU, as the lesson does.",
         also=(("lr_too_high", LR),)),
    # --- saturation ------------------------------------------------------------------------
    Case("raw-features-into-tanh", "saturation", "tanh1", raw_wine_tanh,
         _normalised(raw_wine_tanh), 30,
         "Raw wine features (up to 1,680) into a Tanh layer: 99% of its outputs sit at +-1 "
         "from the first step, accuracy 0.58.", also=(("unnormalised_input", "x"),), quick=True),
    Case("sigmoid-high-lr", "saturation", "sigmoid2", sigmoid_high_lr,
         with_training(sigmoid_high_lr, ("optimizer.lr", 0.05)), 20,
         "Adam at 0.5 drives a Sigmoid MLP's second layer fully into saturation (100% of "
         "outputs below 0.01 or above 0.99); accuracy at chance.",
         also=(("lr_too_high", LR),)),
    Case("tanh-high-lr-regression", "saturation", ("tanh2", "tanh1"), tanh_high_lr,
         with_training(tanh_high_lr, ("optimizer.lr", 0.01)), 30,
         "Adam at 0.1 on a Tanh sine regressor saturates tanh2 (98%) and tanh1 (68%): val "
         "loss 0.22 instead of ~0.01.", also=(("lr_too_high", LR),)),
    # --- lr_too_high -----------------------------------------------------------------------
    Case("adam-lr-0.3-spirals", "lr_too_high", LR, adam_high_spirals,
         with_training(adam_high_spirals, ("optimizer.lr", 0.01)), 30,
         "Adam at 0.3: the loss jumps to 2.2 in the first epoch and oscillates; accuracy "
         "0.58 instead of 1.0.", quick=True),
    Case("sgd-lr-2-digits", "lr_too_high", LR, sgd_high_digits,
         with_training(sgd_high_digits, ("optimizer.lr", 0.05)), 10,
         "SGD (momentum 0.9) at 2.0 on digits: the loss diverges and accuracy falls to "
         "chance (0.09)."),
    Case("rmsprop-lr-0.1-circles", "lr_too_high", LR, rmsprop_high_circles,
         with_training(rmsprop_high_circles, ("optimizer.lr", 0.003)), 20,
         "RMSprop at 0.1: a first-epoch loss of 55 and a network that ends at 0.86 accuracy "
         "(1.0 at 0.003)."),
    # --- lr_too_low ------------------------------------------------------------------------
    Case("adam-lr-1e-6-spirals", "lr_too_low", LR, adam_tiny_spirals,
         with_training(adam_tiny_spirals, ("optimizer.lr", 0.01)), 20,
         "Adam at 1e-6: the loss moves by 0.001 in 20 epochs.", quick=True),
    Case("sgd-lr-1e-5-digits", "lr_too_low", LR, sgd_tiny_digits,
         with_training(sgd_tiny_digits, ("optimizer.lr", 0.1)), 10,
         "Plain SGD at 1e-5 on digits: the loss stays at ln 10."),
    Case("adam-lr-1e-6-sine", "lr_too_low", LR, adam_tiny_sine,
         with_training(adam_tiny_sine, ("optimizer.lr", 0.01)), 20,
         "Adam at 1e-6 on a regression: the loss moves from 0.51 to 0.49."),
    # --- slow_convergence ------------------------------------------------------------------
    Case("sgd-slow-digits", "slow_convergence", (LR, "training.epochs"), sgd_slow_digits,
         with_training(sgd_slow_digits, ("optimizer.lr", 0.1)), 10,
         "Plain SGD at 0.005: the loss falls steadily but only from 2.31 to 2.21 in the "
         "budget (accuracy 0.40; 0.92 at 0.1).", also=(("lr_too_low", LR),), quick=True),
    Case("adam-slow-moons", "slow_convergence", (LR, "training.epochs"), adam_slow_moons,
         with_training(adam_slow_moons, ("optimizer.lr", 0.01)), 20,
         "Adam at 1e-4 on moons: the loss falls from 0.67 to 0.54, far from the ~0 it reaches "
         "at 0.01.", also=(("lr_too_low", LR),)),
    Case("sgd-slow-sine", "slow_convergence", (LR, "training.epochs"), sgd_slow_sine,
         with_training(sgd_slow_sine, ("optimizer.lr", 0.1)), 20,
         "Plain SGD at 0.003 on a sine: val loss 0.15 after the budget, falling slowly.",
         also=(("lr_too_low", LR),)),
    # --- stuck_at_chance -------------------------------------------------------------------
    Case("linear-model-circles", "stuck_at_chance", ("head",), linear_circles,
         _hidden_layer(linear_circles), 20,
         "No straight line separates the circles: a linear model stays at loss ln 2 and 50% "
         "accuracy. A hidden layer is the cure.", also=(("underfitting", "head"),), quick=True),
    Case("heavy-dropout", "stuck_at_chance", ("drop1", "drop2"), heavy_dropout,
         with_params(heavy_dropout, drop1={"p": 0.1}, drop2={"p": 0.1}), 30,
         "Dropout 0.9 twice: the loss stays at ln 3 and accuracy at 1/3.",
         also=(("underfitting", ("drop1", "drop2")),)),
    Case("xor-adam-lr-1", "stuck_at_chance", ("relu1", "relu2", LR), xor_dead,
         with_training(xor_dead, ("optimizer.lr", 0.01)), 20,
         "Adam at 1.0 on XOR: the ReLUs die in the first steps and the run sits at chance; "
         "the likely cause is the rate (or the dead units it leaves).",
         also=(("dead_units", ("relu1", "relu2")), ("lr_too_high", LR))),
    # --- cannot_fit_batch ------------------------------------------------------------------
    Case("one-unit-bottleneck-digits", "cannot_fit_batch", ("bottleneck", "relu_b"),
         bottleneck_digits, with_params(bottleneck_digits, bottleneck={"out_features": 32}),
         15,
         "Ten digit classes squeezed through one ReLU unit: 30 steps on one batch only take "
         "the loss from 2.41 to 1.76 (a healthy net reaches 0.58); accuracy 0.48.",
         also=(("underfitting", ("bottleneck", "relu_b")),), quick=True),
    Case("frozen-hidden-layers", "cannot_fit_batch", ("fc1", "fc2"), frozen_body,
         with_params(frozen_body, fc1={"trainable": True}, fc2={"trainable": True}), 15,
         "Both hidden layers left frozen (trainable: false), as after transfer learning: only "
         "the head learns; one batch barely moves (2.30 -> 2.17), accuracy 0.74 vs 0.96.",
         also=(("underfitting", ("fc1", "fc2")),)),
    Case("sgd-lr-1e-4-one-batch", "cannot_fit_batch", LR, sgd_tiny_moons,
         with_training(sgd_tiny_moons, ("optimizer.lr", 0.3)), 20,
         "Plain SGD at 1e-4: not even one batch's loss moves in 30 steps.",
         also=(("lr_too_low", LR),)),
    # --- overfitting -----------------------------------------------------------------------
    Case("lesson-overfitting", "overfitting", OVERFIT_FIELDS + ("fc1", "fc2", "fc3"),
         partial(preset, "lesson-overfitting"), partial(preset, "lesson-overfitting-fixed"),
         300,
         "The overfitting lesson: 130,000 weights on 100 noisy moons for 300 epochs; val loss "
         "bottoms at 0.31 (epoch 4) and ends at 2.15 while training loss reaches 0.01.",
         quick=True),
    Case("big-net-overlapping-blobs", "overfitting", OVERFIT_FIELDS + ("fc1", "fc2", "fc3"),
         overlap_blobs, _regularised(overlap_blobs), 200,
         "Three 256-unit layers on 100 overlapping blobs for 200 epochs: val loss 0.71 -> "
         "4.1, accuracy 0.57 (0.66 regularised)."),
    Case("big-net-noisy-circles", "overfitting", OVERFIT_FIELDS + ("fc1", "fc2", "fc3"),
         noisy_circles, _regularised(noisy_circles), 200,
         "The same big net on 100 noisy circles: val loss 0.45 -> 1.6, accuracy 0.71 "
         "(0.77 regularised)."),
    # --- underfitting ----------------------------------------------------------------------
    Case("linear-model-spirals", "underfitting", "head", linear_spirals,
         _hidden_layer(linear_spirals, 64), 30,
         "A linear model on three spiral arms (one turn): loss 1.06 against ln 3 = 1.10, "
         "accuracy 0.32; one hidden layer of 64 ReLUs reaches 0.91.",
         also=(("stuck_at_chance", "head"),), quick=True),
    Case("lesson-perceptron-xor", "underfitting", "perceptron",
         partial(preset, "lesson-perceptron-xor"), partial(preset, "lesson-perceptron-xor-fixed"),
         40, "The perceptron lesson: one Linear layer on XOR draws one straight boundary and "
         "stalls near two thirds accuracy (0.645); a hidden layer of Tanh units reaches 0.96.",
         also=(("stuck_at_chance", "perceptron"), ("cannot_fit_batch", "perceptron"))),
    Case("two-unit-hidden-layers", "underfitting", ("fc1", "fc2"), tiny_hidden,
         with_params(tiny_hidden, fc1={"out_features": 64}, fc2={"out_features": 64}), 30,
         "Hidden layers of two units cannot bend around three spiral arms: accuracy 0.41 "
         "(1.0 with 64 units)."),
    Case("one-unit-bottleneck-spirals", "underfitting", ("bottleneck", "relu_b"),
         bottleneck_spirals, with_params(bottleneck_spirals, bottleneck={"out_features": 32}),
         30, "A one-unit ReLU bottleneck between two 64-unit layers: accuracy 0.67 vs 1.0.",
         also=(("cannot_fit_batch", ("bottleneck", "relu_b")),)),
    Case("weight-decay-1", "underfitting", "training.optimizer.weight_decay", heavy_weight_decay,
         with_training(heavy_weight_decay, ("optimizer.weight_decay", 0.0)), 30,
         "Adam's L2 penalty at 1.0 pins every weight near zero: loss ln 3, accuracy 1/3.",
         also=(("stuck_at_chance", "training.optimizer.weight_decay"),)),
    Case("l1-penalty-0.05", "underfitting", ("training.regularization.l1",
                                             "training.regularization"), heavy_l1,
         with_training(heavy_l1, drop=("regularization",)), 30,
         "An L1 penalty of 0.05 outweighs the data: loss ln 3, accuracy 1/3.",
         also=(("stuck_at_chance", ("training.regularization.l1", "training.regularization")),)),
    # --- mode collapse (adversarial training) ------------------------------------------------
    Case("lesson-gan-mode-collapse", "mode_collapse", "sample",
         partial(preset, "lesson-gan-mode-collapse"),
         partial(preset, "lesson-gan-mode-collapse-fixed"), 30,
         "The GAN lesson: a discriminator learning 10x slower than its generator (0.0001 vs "
         "0.001) lets the generator pile every sample onto one spot of the ring of 8 Gaussians "
         "(val_diversity ~0.2, one mode covered); at the generator's rate it covers all 8.",
         quick=True),
    Case("gan-fast-generator", "mode_collapse", "sample",
         with_training(partial(preset, "lesson-gan-mode-collapse-fixed"), ("optimizer.lr", 0.005),
                       ("mode.discriminator_lr", 0.0005)),
         partial(preset, "lesson-gan-mode-collapse-fixed"), 30,
         "The generator's rate raised to 0.005 with the discriminator's at 0.0005: the "
         "generator outruns it and collapses to a point off the ring (val_diversity ~0.05, no "
         "mode covered); both at 0.001 cover the ring."),
]


# === the healthy controls =====================================================================
#: Presets that are faults of the suite (with their fixed version as counterpart), not controls.
FAULT_PRESETS = ("lesson-dying-relu", "lesson-exploding-gradients", "lesson-overfitting",
                 "lesson-perceptron-xor", "lesson-vanishing-gradients", "lesson-zero-init",
                 "rnn-adding", "lesson-gan-mode-collapse")


def _preset_controls() -> list[Control]:
    out = []
    for path in sorted(glob.glob(os.path.join(PRESETS, "*.json"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in FAULT_PRESETS:
            continue
        out.append(Control(f"preset:{stem}", partial(preset, stem),
                           preset(stem).training.get("epochs", 20), PRESET_NOTES.get(stem, "")))
    return out


PRESET_NOTES = {
    "lesson-dying-relu-fixed": "LeakyReLU at the broken lesson's Adam rate of 1.0: it trains to "
                               "~0.99 accuracy, but its training loss swings (11 at epoch 10) "
                               "while validation is fine, which a rate rule may mistake for "
                               "divergence.",
    "autoencoder-digits": "A Sigmoid output for pixel targets in [0, 1] with mse is right; many "
                          "pixels are 0, so that Sigmoid sits near its lower bound by design.",
    "lstm-adding": "Adding-problem targets have mean ~1 and variance 0.167: the first loss is "
                   "~7x the variance without anything being wrong; the loss is flat at the "
                   "mean's 0.167 for the first epochs before the LSTM catches on.",
    "gru-adding": "As lstm-adding.",
    "lesson-overfitting-fixed": "Stops early (patience 30) at about epoch 140 of 300.",
}


def iris_mlp() -> GraphModel:
    return net("MLP on iris", inp(4) + dense([16]) + head(3) + OUT,
               train("iris", lr=0.01, epochs=50, batch_size=16))


def wine_mlp() -> GraphModel:
    return net("MLP on standardised wine", inp(13) + dense([32]) + head(3) + OUT,
               train("wine", lr=0.003, epochs=15, batch_size=16))


def logistic_bce() -> GraphModel:
    return net("Logistic regression with bce", inp(30) + head(1) + OUT,
               train("breast_cancer", loss="bce", lr=0.01, epochs=30))


def logsoftmax_nll() -> GraphModel:
    return net("LogSoftmax with nll",
               inp(2) + dense([64, 64]) + head(3) + [("logsoftmax", "LogSoftmax", {})] + OUT,
               _spirals3("nll"))


def shallow_sigmoid() -> GraphModel:
    return net("Two Sigmoid layers on moons",
               inp(2) + dense([32, 32], "Sigmoid") + head(2) + OUT,
               train("moons", {"n_samples": 1000}, lr=0.01, epochs=30))


def linear_blobs() -> GraphModel:
    return net("A linear model on separable blobs", inp(2) + head(3) + OUT,
               train("blobs", {"n_samples": 600, "centers": 3}, lr=0.01, epochs=20))


def small_cnn() -> GraphModel:
    return net("Small CNN on digits", inp(1, 8, 8) + _cnn() + OUT,
               train("digits", lr=0.003, epochs=10))


def sgd_momentum_moons() -> GraphModel:
    return net("SGD with momentum on moons", inp(2) + dense([32, 32], "LeakyReLU") + head(2)
               + OUT, train("moons", {"n_samples": 1000}, optimizer="sgd", lr=0.05, epochs=20))


def tanh_polynomial() -> GraphModel:
    return net("Tanh regressor on a cubic", inp(1) + dense([64, 64], "Tanh") + head(1) + OUT,
               train("polynomial", {"n_samples": 1000, "degree": 3}, loss="mse", lr=0.01,
                     epochs=30, batch_size=32))


def raw_wine_batchnorm() -> GraphModel:
    return _normalised(raw_wine)()


def dropout_digits() -> GraphModel:
    return net("Dropout MLP on digits with weight decay",
               inp(64) + dense([128]) + [("drop1", "Dropout", {"p": 0.3})] + head(10) + OUT,
               train("digits", {"flatten": True}, lr=0.003, epochs=20,
                     opt={"weight_decay": 1e-4}))


def xor_mlp() -> GraphModel:
    return net("MLP on XOR", inp(2) + dense([16]) + head(2) + OUT,
               train("xor", {"n_samples": 1000}, lr=0.01, epochs=20))


CONTROLS: list[Control] = _preset_controls() + [
    Control("iris-mlp", iris_mlp, 50, "150 standardised flowers; a tiny MLP reaches ~0.97."),
    Control("wine-mlp-standardised", wine_mlp, 15,
            "The built-in (standardised) wine table; at lr 0.003 for 15 epochs the validation "
            "loss is still falling at the end (at 0.01 for 30 it overfits from epoch 5)."),
    Control("logistic-regression-bce", logistic_bce, 30,
            "bce with one logit and 0/1 targets: the right pairing. A linear model suits this "
            "table (~0.97), so it is not underfitting."),
    Control("logsoftmax-with-nll", logsoftmax_nll, 30, "nll on log-probabilities: correct."),
    Control("shallow-sigmoid-mlp", shallow_sigmoid, 30,
            "Two Sigmoid hidden layers are shallow enough to train (~0.97 on moons)."),
    Control("linear-model-blobs", linear_blobs, 20,
            "Blobs are linearly separable: a linear model is the right size here."),
    Control("small-cnn-digits", small_cnn, 10, "The CNN of the CNN fault cases, done right."),
    Control("sgd-momentum-leakyrelu", sgd_momentum_moons, 20, "SGD 0.05 with momentum 0.9."),
    Control("tanh-regression-cubic", tanh_polynomial, 30, "A cubic, fitted to its noise floor."),
    Control("raw-wine-with-batchnorm", raw_wine_batchnorm, 30,
            "Raw wine features, but a BatchNorm right after the Input standardises them: the "
            "unnormalised-input fix must not still be reported."),
    Control("dropout-digits", dropout_digits, 20, "Dropout 0.3 and a little weight decay."),
    Control("xor-mlp", xor_mlp, 20, "One hidden layer of 16 solves XOR."),
]
