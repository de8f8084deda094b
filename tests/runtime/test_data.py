"""The dataset catalogue: every dataset loads with the declared shapes and dtypes, generated data is
seeded, the tasks mean what they say, user files round-trip, and every bad input gets a message that
names the problem (dataset, parameter, file, column, line or key)."""
from __future__ import annotations

import gzip
import math
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import runtime.data as data
from runtime.data import DATASETS, Dataset, load_dataset, register_dataset, split
from runtime.data.base import KINDS, TASKS
from runtime.data.images import SHAPE_NAMES, draw_shapes
from runtime.errors import DatasetError

FILE_DATASETS = {"csv", "npz", "idx", "image_folder"}


def expected(name: str) -> tuple:
    """(sample shape, x dtype, target shape, y dtype) of a built-in dataset loaded by `small`."""
    return {
        "spirals": ((2,), torch.float32, (), torch.int64),
        "moons": ((2,), torch.float32, (), torch.int64),
        "circles": ((2,), torch.float32, (), torch.int64),
        "xor": ((2,), torch.float32, (), torch.int64),
        "blobs": ((2,), torch.float32, (), torch.int64),
        "gaussian_mixture": ((2,), torch.float32, (), torch.int64),
        "sine": ((1,), torch.float32, (1,), torch.float32),
        "polynomial": ((1,), torch.float32, (1,), torch.float32),
        "sine_forecast": ((20, 1), torch.float32, (1,), torch.float32),
        "adding_problem": ((50, 2), torch.float32, (1,), torch.float32),
        "parity": ((10, 1), torch.float32, (), torch.int64),
        "copy": ((10,), torch.int64, (10,), torch.int64),
        "reverse": ((10,), torch.int64, (10,), torch.int64),
        "majority": ((16,), torch.int64, (), torch.int64),
        "shapes": ((1, 28, 28), torch.float32, (), torch.int64),
        "digits": ((1, 8, 8), torch.float32, (), torch.int64),
        "iris": ((4,), torch.float32, (), torch.int64),
        "wine": ((13,), torch.float32, (), torch.int64),
        "breast_cancer": ((30,), torch.float32, (), torch.int64),
    }[name]


#: Datasets of named inputs and targets (for several Inputs/Outputs): test_multi_io.py covers them.
NAMED = {"digit_pairs"}
BUILT_IN = [name for name in DATASETS if name not in FILE_DATASETS and name not in NAMED]
SEEDED = [name for name in BUILT_IN if "seed" in DATASETS[name].param_names()]


def small(name: str, **params) -> dict:
    if "n_samples" in DATASETS[name].param_names():
        params.setdefault("n_samples", 60)
    return {"name": name, "params": params}


@pytest.fixture(scope="module")
def loaded() -> dict[str, Dataset]:
    return {name: load_dataset(small(name)) for name in BUILT_IN}


# --- the catalogue --------------------------------------------------------------------------------
def test_catalogue_holds_every_required_dataset():
    required = """spirals moons circles xor blobs gaussian_mixture sine polynomial sine_forecast
    adding_problem
    parity copy reverse majority shapes digits digit_pairs iris wine breast_cancer csv npz idx
    image_folder""".split()
    assert list(DATASETS) == required


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(DatasetError, match="'spirals' is registered twice"):
        register_dataset(DATASETS["spirals"])


@pytest.mark.parametrize("name", list(DATASETS))
def test_specs_describe_themselves(name):
    spec = DATASETS[name]
    assert spec.task in TASKS and spec.kind in KINDS and spec.title
    sentences = re.findall(r"[.!?](?:\s|$)", spec.description)
    assert 1 <= len(sentences) <= 2, spec.description
    assert name in data.__doc__
    for p in spec.params:
        assert p.validate(p.default) == p.default and p.doc.endswith(".")


# --- every built-in dataset loads with the declared shapes, dtypes and classes -----------------
@pytest.mark.parametrize("name", BUILT_IN)
def test_loads_with_defaults(name, loaded):
    ds = loaded[name]
    sample, x_dtype, target, y_dtype = expected(name)
    spec = DATASETS[name]
    assert ds.name == name and ds.task == spec.task
    assert ds.sample_shape == sample and ds.x.dtype == x_dtype
    assert ds.target_shape == target and ds.y.dtype == y_dtype
    assert len(ds) == (60 if "n_samples" in spec.param_names() else len(ds)) == len(ds.y)
    assert torch.isfinite(ds.x.float()).all() and torch.isfinite(ds.y.float()).all()
    if ds.task == "classification":
        assert ds.num_classes >= 2 and len(ds.class_names) == ds.num_classes
        assert 0 <= ds.y.min() and ds.y.max() < ds.num_classes
    else:
        assert ds.num_classes is None
    if ds.x.dtype == torch.int64:
        assert ds.vocab_size and 0 <= ds.x.min() and ds.x.max() < ds.vocab_size


@pytest.mark.parametrize("name", SEEDED)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b = load_dataset(small(name, seed=3)), load_dataset(small(name, seed=3))
    c = load_dataset(small(name, seed=4))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


def test_the_runs_seed_is_used_unless_the_params_give_one():
    run_3 = load_dataset(small("moons"), seed=3)
    assert torch.equal(run_3.x, load_dataset(small("moons", seed=3)).x)
    assert not torch.equal(run_3.x, load_dataset(small("moons"), seed=4).x)
    assert torch.equal(load_dataset(small("moons", seed=9), seed=3).x,
                       load_dataset(small("moons", seed=9), seed=4).x)


# --- generated tasks mean what they say -----------------------------------------------------------
def test_adding_problem_targets_are_the_sum_of_the_marked_values():
    ds = load_dataset(small("adding_problem", n_samples=500, seq_len=30))
    values, markers = ds.x[..., 0], ds.x[..., 1]
    assert torch.equal(markers.sum(dim=1), torch.full((500,), 2.0))
    assert (markers[:, :15].sum(dim=1) == 1).all()  # one marker in each half
    assert torch.allclose(ds.y[:, 0], (values * markers).sum(dim=1))
    mean_predictor_mse = ((ds.y - ds.y.mean()) ** 2).mean().item()
    assert 0.12 < mean_predictor_mse < 0.21  # about 1/6


def test_reverse_and_copy_targets():
    rev = load_dataset(small("reverse", vocab_size=7, seq_len=6))
    assert torch.equal(rev.y, rev.x.flip(1)) and rev.vocab_size == rev.num_classes == 7
    copy = load_dataset(small("copy", vocab_size=5))
    assert torch.equal(copy.y, copy.x)


def test_majority_label_is_the_single_most_frequent_token():
    for params in ({"n_samples": 500}, {"n_samples": 300, "vocab_size": 30, "seq_len": 3}):
        ds = load_dataset(small("majority", **params))
        counts = torch.nn.functional.one_hot(ds.x, ds.num_classes).sum(dim=1)
        first, second = counts.topk(2, dim=1).values.unbind(dim=1)
        assert (first > second).all()  # ties were broken, so every label is certain
        assert torch.equal(ds.y, counts.argmax(dim=1)) and ds.vocab_size == ds.num_classes
    assert set(ds.y.tolist()) == set(range(30))  # tie-breaking favours no token


@pytest.mark.parametrize("name, params", [("digits", {"flatten": True}), ("shapes", {})])
def test_target_input_makes_a_reconstruction_task(name, params):
    labelled = load_dataset(small(name, **params))
    ds = load_dataset(small(name, target="input", **params))
    assert ds.task == "regression" and ds.num_classes is None
    assert torch.equal(ds.x, labelled.x) and torch.equal(ds.y, ds.x) and ds.y is not ds.x
    assert ds.kind == labelled.kind


def test_parity_labels_count_the_ones():
    ds = load_dataset(small("parity", n_samples=300, seq_len=7))
    assert set(ds.x.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(ds.y, ds.x[..., 0].long().sum(dim=1) % 2)
    assert 0.3 < ds.y.float().mean() < 0.7


def test_noise_free_regressions_follow_their_formula():
    sine = load_dataset(small("sine", noise=0.0, frequency=2.0))
    assert torch.allclose(sine.y, torch.sin(2.0 * sine.x), atol=1e-5)
    poly = load_dataset(small("polynomial", noise=0.0, coefficients="1, 0, -2"))
    assert torch.allclose(poly.y, 1 - 2 * poly.x ** 2, atol=1e-5)
    assert poly.notes["coefficients"] == [1.0, 0.0, -2.0]
    assert len(load_dataset(small("polynomial", degree=5)).notes["coefficients"]) == 6


def test_sine_forecast_target_continues_the_window():
    step = 0.3
    ds = load_dataset(small("sine_forecast", noise=0.0, step=step, seq_len=8))
    # sin(a + 2s) = 2 cos(s) sin(a + s) - sin(a): the next value follows from the last two.
    following = 2 * math.cos(step) * ds.x[:, -1, 0] - ds.x[:, -2, 0]
    assert torch.allclose(ds.y[:, 0], following, atol=1e-5)


def test_two_d_classes_have_their_geometry():
    circles = load_dataset(small("circles", noise=0.0, factor=0.3, n_samples=100))
    radius = circles.x.norm(dim=1)
    assert torch.allclose(radius[circles.y == 0], torch.tensor(1.0))
    assert torch.allclose(radius[circles.y == 1], torch.tensor(0.3))
    xor = load_dataset(small("xor", n_samples=200))
    assert torch.equal(xor.y.bool(), (xor.x[:, 0] > 0) ^ (xor.x[:, 1] > 0))
    spirals = load_dataset(small("spirals", n_classes=5, n_samples=100))
    assert spirals.num_classes == 5 and torch.equal(torch.bincount(spirals.y), torch.full((5,), 20))
    blobs = load_dataset(small("blobs", centers=4, n_features=3, cluster_std=0.01))
    assert blobs.sample_shape == (3,) and blobs.num_classes == 4
    centres = torch.tensor(blobs.notes["centers"])
    assert (blobs.x - centres[blobs.y]).abs().max() < 0.1
    ring = load_dataset(small("gaussian_mixture", modes=6, radius=3.0, std=0.01))
    centres = torch.tensor(ring.notes["centers"])
    assert ring.num_classes == 6 and torch.allclose(centres.norm(dim=1), torch.full((6,), 3.0))
    assert (ring.x - centres[ring.y]).norm(dim=1).max() < 0.1


def test_shapes_are_balanced_and_distinguishable():
    ds = load_dataset(small("shapes", n_samples=800, n_classes=len(SHAPE_NAMES), size=20))
    assert ds.sample_shape == (1, 20, 20) and ds.class_names == SHAPE_NAMES and ds.kind == "image"
    assert torch.equal(torch.bincount(ds.y), torch.full((len(SHAPE_NAMES),), 100))
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    # Same centre, size and brightness: each class draws a different set of pixels.
    k = len(SHAPE_NAMES)
    same = [torch.full((k,), v) for v in (14.0, 14.0, 10.0, 1.0)]
    drawn = draw_shapes(torch.arange(k), *same, size=28)[:, 0] > 0
    areas = drawn.sum(dim=(1, 2))
    assert areas[SHAPE_NAMES.index("circle")] != areas[SHAPE_NAMES.index("square")]
    assert all(not torch.equal(drawn[i], drawn[j]) for i in range(k) for j in range(i))
    assert (areas > 20).all()
    clean = load_dataset(small("shapes", noise=0.0))
    assert (clean.x.flatten(1).amax(dim=1) >= 0.5).all()  # every image shows its shape


def test_ten_thousand_shapes_generate_quickly():
    start = time.perf_counter()
    ds = load_dataset({"name": "shapes", "params": {"n_samples": 10_000}})
    # Generous for shared CI machines: ~0.05-0.3 s; a per-pixel or per-sample loop takes far longer.
    assert time.perf_counter() - start < 3.0 and ds.x.shape == (10_000, 1, 28, 28)


# --- real data shipped with scikit-learn ----------------------------------------------------------
def test_real_datasets(loaded):
    digits = loaded["digits"]
    assert len(digits) == 1797 and digits.num_classes == 10 and digits.kind == "image"
    assert digits.x.min() == 0.0 and digits.x.max() == 1.0
    flat = load_dataset({"name": "digits", "params": {"flatten": True}})
    assert flat.sample_shape == (64,) and torch.equal(flat.x, digits.x.flatten(1))
    for name, n in (("iris", 150), ("wine", 178), ("breast_cancer", 569)):
        ds = loaded[name]
        assert len(ds) == n and len(ds.notes["feature_names"]) == ds.sample_shape[0]
        assert torch.allclose(ds.x.mean(dim=0), torch.zeros(ds.sample_shape), atol=1e-4)
        assert torch.allclose(ds.x.std(dim=0, unbiased=False), torch.ones(ds.sample_shape),
                              atol=1e-4)
    assert loaded["iris"].class_names == ["setosa", "versicolor", "virginica"]


# --- parameters and names -------------------------------------------------------------------------
@pytest.mark.parametrize("block, words", [
    ({"name": "spiral"}, ["unknown dataset 'spiral'", "'spirals'", "moons"]),
    ({"name": "Iris"}, ["'iris'"]),
    ({"params": {}}, ["needs a name"]),
    ({"name": "spirals", "params": {"noize": 0.1}},
     ["'spirals'", "no parameter 'noize'", "did you mean 'noise'"]),
    ({"name": "spirals", "params": {"noise": "lots"}}, ["'spirals'", "'noise'", "number"]),
    ({"name": "spirals", "params": {"n_classes": 1}}, ["'spirals'", "'n_classes'", "at least 2"]),
    ({"name": "shapes", "params": {"n_classes": 99}}, ["'shapes'", "'n_classes'", "at most 8"]),
    ({"name": "copy", "params": {"seq_len": 2.5}}, ["'copy'", "'seq_len'", "integer"]),
    ({"name": "digits", "params": {"flatten": "yes"}}, ["'digits'", "'flatten'", "true or false"]),
    ({"name": "image_folder", "params": {"size": [28]}}, ["'image_folder'", "'size'"]),
    ({"name": "polynomial", "params": {"coefficients": "1, x"}}, ["'coefficients'", "'1, x'"]),
    ({"name": "moons", "params": [1]}, ["'moons'", "'params' must be an object"]),
])
def test_bad_names_and_params_are_named(block, words):
    with pytest.raises(DatasetError) as err:
        load_dataset(block)
    for word in words:
        assert word in str(err.value)


# --- train/validation split -----------------------------------------------------------------------
def test_split_is_a_seeded_partition():
    ds = load_dataset(small("moons", n_samples=100))
    train, val = split(ds, 0.2, seed=1)
    assert train.dtype == val.dtype == torch.int64 and (len(train), len(val)) == (80, 20)
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(100))
    again = split(ds, 0.2, seed=1)
    assert torch.equal(train, again[0]) and torch.equal(val, again[1])
    assert not torch.equal(val, split(ds, 0.2, seed=2)[1])
    all_train, none = split(ds, 0, seed=1)
    assert len(all_train) == 100 and len(none) == 0
    assert [len(part) for part in split(range(3), 0.1, seed=0)] == [2, 1]
    for bad in (-0.1, 0.95, "0.2", True):
        with pytest.raises(DatasetError, match=r"validation_split .*\[0, 0.9\]"):
            split(ds, bad, seed=0)
    with pytest.raises(DatasetError, match="1 sample"):
        split(range(1), 0.5, seed=0)


# --- CSV ------------------------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv_block(path: str, **params) -> dict:
    return {"name": "csv", "params": {"path": path, **params}}


def test_csv_classification_round_trip(tmp_path):
    write(tmp_path / "flowers.csv", "length,width,species\n1,10,rose\n2,20,tulip\n\n3,30,rose\n"
          "4,40,daisy\n")
    ds = load_dataset(csv_block("flowers.csv", label_column="species"), base_dir=tmp_path)
    assert ds.x.shape == (4, 2) and ds.x.dtype == torch.float32
    assert ds.class_names == ["daisy", "rose", "tulip"] and ds.num_classes == 3
    assert ds.y.tolist() == [1, 2, 1, 0]
    assert torch.allclose(ds.x.mean(dim=0), torch.zeros(2), atol=1e-6)
    assert torch.allclose(ds.x.std(dim=0, unbiased=False), torch.ones(2), atol=1e-6)
    assert ds.notes["feature_names"] == ["length", "width"]
    assert ds.notes["feature_mean"] == [2.5, 25.0]
    by_index = load_dataset(csv_block(str(tmp_path / "flowers.csv"), label_column="-1"))
    assert torch.equal(by_index.y, ds.y)
    write(tmp_path / "grades.csv", "grade,score\n10,0.5\n2,1.5\n10,2.5\n")
    numeric = load_dataset(csv_block("grades.csv", label_column="0"), base_dir=tmp_path)
    assert numeric.class_names == ["2", "10"] and numeric.y.tolist() == [1, 0, 1]  # numeric order
    assert numeric.x.shape == (3, 1)


def test_csv_regression_without_header_and_other_delimiters(tmp_path):
    write(tmp_path / "r.csv", "0.5;1;2.5\n1.5;2;4.5\n2.5;3;6.5\n")
    ds = load_dataset({"name": "csv", "path": "r.csv",  # block-level path, as the trainer allows
                       "params": {"task": "regression", "header": False,
                                  "delimiter": "semicolon"}}, base_dir=tmp_path)
    assert ds.task == "regression" and ds.y.dtype == torch.float32
    assert ds.y[:, 0].tolist() == [2.5, 4.5, 6.5] and ds.x.shape == (3, 2)
    assert ds.notes["feature_names"] == ["0", "1"]


@pytest.mark.parametrize("text, params, words", [
    ("a,b,label\n1,2,x\n", {"label_column": "lable"},
     ["no column 'lable'", "did you mean 'label'", "a, b, label"]),
    ("a,b,label\n1,2,x\n", {"label_column": "7"}, ["no column '7'", "a, b, label"]),
    ("a,b,label\n1,2,x\n3,oops,y\n", {}, ["line 3", "column 'b'", "'oops'"]),
    ("a,b,label\n1,2,x\n3,,y\n", {}, ["line 3", "column 'b'", "empty value"]),
    ("a,b,label\n1,2,x\n3,nan,y\n", {}, ["line 3", "column 'b'", "'nan'"]),
    ("a,b,label\n1,2,0.5\n3,4,high\n", {"task": "regression"}, ["line 3", "column 'label'",
                                                                "'high'"]),
    ("a,b,label\n1,2,x\n3,4\n", {}, ["line 3", "2 values", "3 columns"]),
    ("", {}, ["is empty"]),
    ("\n  \n", {}, ["is empty"]),
    ("a,b,label\n", {}, ["no data rows"]),
    ("a,b,label\n1,2,x\n3,4,x\n", {}, ["single value 'x'", "two classes"]),
    ("label\n1\n2\n", {}, ["single column"]),
])
def test_csv_errors_name_the_problem(tmp_path, text, params, words):
    write(tmp_path / "data.csv", text)
    with pytest.raises(DatasetError) as err:
        load_dataset(csv_block("data.csv", **params), base_dir=tmp_path)
    message = str(err.value)
    assert "data.csv" in message
    for word in words:
        assert word in message


def test_missing_files_name_the_path(tmp_path):
    with pytest.raises(DatasetError, match=r"CSV file 'nope\.csv' does not exist.*looked for"):
        load_dataset(csv_block("nope.csv"), base_dir=tmp_path)
    with pytest.raises(DatasetError, match="is a folder"):
        load_dataset(csv_block("."), base_dir=tmp_path)


# --- NPZ ------------------------------------------------------------------------------------------
def test_npz_round_trip(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(4, 2, 3)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 2, 1, 2]),
             class_names=np.array(["a", "b", "c"]))
    ds = load_dataset({"name": "npz", "params": {"path": "d.npz"}}, base_dir=tmp_path)
    assert ds.x.dtype == torch.float32 and torch.equal(ds.x, torch.from_numpy(x).float())
    assert ds.y.tolist() == [0, 2, 1, 2] and ds.class_names == ["a", "b", "c"]
    assert ds.kind == "sequence" and ds.num_classes == 3
    np.savez(tmp_path / "r.npz", x=np.ones(5), y=np.linspace(0, 1, 5))
    reg = load_dataset({"name": "npz", "params": {"path": "r.npz", "task": "regression"}},
                       base_dir=tmp_path)
    assert reg.sample_shape == (1,) and reg.target_shape == (1,) and reg.y.dtype == torch.float32
    np.savez(tmp_path / "t.npz", x=np.array([[1, 4], [0, 2]]), y=np.array([[4, 1], [2, 0]]))
    tokens = load_dataset({"name": "npz", "params": {"path": "t.npz", "tokens": True}},
                          base_dir=tmp_path)
    assert tokens.x.dtype == torch.int64 and tokens.vocab_size == 5 and tokens.num_classes == 5


@pytest.mark.parametrize("arrays, params, words", [
    ({"x": np.ones((3, 2))}, {}, ["no array named 'y'", "holds: x"]),
    ({"inputs": np.ones(3)}, {}, ["'x' or 'y'", "holds: inputs"]),
    ({"x": np.ones((3, 2)), "y": np.zeros(4, dtype=int)}, {}, ["'x' has 3 samples", "'y' has 4"]),
    ({"x": np.ones((3, 2)), "y": np.array([0.5, 1, 0])}, {}, ["'y'", "fractional"]),
    ({"x": np.ones((3, 2)), "y": np.array([0, -1, 0])}, {}, ["'y'", "negative"]),
    ({"x": np.array(["a", "b"]), "y": np.array([0, 1])}, {}, ["'x'", "numeric"]),
    ({"x": np.array([np.nan, 1]), "y": np.array([0, 1])}, {}, ["'x'", "NaN"]),
    ({"x": np.array([1e39, 1.0]), "y": np.array([0, 1])}, {}, ["'x'", "float32's range"]),
    ({"x": np.zeros((0, 2)), "y": np.zeros(0)}, {}, ["'x'", "empty"]),
    ({"x": np.ones((2, 2)), "y": np.array([0, 1])}, {"tokens": True}, ["token ids", "float64"]),
])
def test_npz_errors_name_the_key(tmp_path, arrays, params, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError) as err:
        load_dataset({"name": "npz", "params": {"path": "bad.npz", **params}}, base_dir=tmp_path)
    assert "bad.npz" in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_npz_refuses_non_archives(tmp_path):
    write(tmp_path / "text.npz", "not a zip")
    with pytest.raises(DatasetError, match="cannot read NPZ file 'text.npz'"):
        load_dataset({"name": "npz", "params": {"path": "text.npz"}}, base_dir=tmp_path)
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(DatasetError, match="single .npy array"):
        load_dataset({"name": "npz", "params": {"path": "one.npy"}}, base_dir=tmp_path)


# --- IDX ------------------------------------------------------------------------------------------
def idx_bytes(array: np.ndarray, magic: int | None = None, count: int | None = None) -> bytes:
    dims = list(array.shape)
    if count is not None:
        dims[0] = count
    magic = magic if magic is not None else 0x0800 | array.ndim
    return struct.pack(f">I{array.ndim}I", magic, *dims) + array.astype(np.uint8).tobytes()


def idx_pair(tmp_path: Path, gz: bool = False, n: int = 5, **images_kw) -> dict:
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (n, 4, 3)), np.arange(n) % 3
    suffix = ".gz" if gz else ""
    pack = gzip.compress if gz else bytes
    (tmp_path / f"img{suffix}").write_bytes(pack(idx_bytes(images, **images_kw)))
    (tmp_path / f"lab{suffix}").write_bytes(pack(idx_bytes(labels)))
    return {"name": "idx", "params": {"images": f"img{suffix}", "labels": f"lab{suffix}"},
            "_images": images, "_labels": labels}


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    block = idx_pair(tmp_path, gz)
    ds = load_dataset(block, base_dir=tmp_path)
    assert ds.x.shape == (5, 1, 4, 3) and ds.x.dtype == torch.float32 and ds.kind == "image"
    assert torch.allclose(ds.x[:, 0], torch.from_numpy(block["_images"] / 255.0).float())
    assert ds.y.tolist() == block["_labels"].tolist() and ds.num_classes == 3


def test_idx_errors_name_the_file(tmp_path):
    block = idx_pair(tmp_path, magic=0x00000801)
    with pytest.raises(DatasetError, match=r"'img' has magic number 0x00000801.*labels file"):
        load_dataset(block, base_dir=tmp_path)
    block = idx_pair(tmp_path, count=6)
    with pytest.raises(DatasetError, match=r"'img' holds 60 bytes .* 6 x 4 x 3 = 72"):
        load_dataset(block, base_dir=tmp_path)
    block = idx_pair(tmp_path)
    (tmp_path / "lab").write_bytes(idx_bytes(np.arange(4)))
    with pytest.raises(DatasetError, match=r"'img' holds 5 images but labels file 'lab' holds 4"):
        load_dataset(block, base_dir=tmp_path)
    (tmp_path / "img").write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="'img' is too short"):
        load_dataset(block, base_dir=tmp_path)
    (tmp_path / "img").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DatasetError, match="cannot read IDX images file 'img'"):
        load_dataset(block, base_dir=tmp_path)


# --- image folder ---------------------------------------------------------------------------------
def image_folder(tmp_path: Path, per_class: int = 2) -> Path:
    from PIL import Image
    root = tmp_path / "pics"
    for name, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (10 + i, 12), colour).save(root / name / f"{i}.png")
    (root / "cats" / "notes.txt").write_text("not an image")
    return root


def test_image_folder_round_trip(tmp_path):
    image_folder(tmp_path)
    block = {"name": "image_folder", "params": {"path": "pics", "size": [6, 5]}}
    grey = load_dataset(block, base_dir=tmp_path)
    assert grey.x.shape == (4, 1, 6, 5) and grey.x.dtype == torch.float32
    assert grey.class_names == ["cats", "dogs"] and grey.y.tolist() == [0, 0, 1, 1]
    pixels = grey.x[:]  # the images are decoded when read
    assert pixels.shape == (4, 1, 6, 5) and 0.0 <= pixels.min() and pixels.max() <= 1.0
    block["params"]["grayscale"] = False
    rgb = load_dataset(block, base_dir=tmp_path)
    assert rgb.x.shape == (4, 3, 6, 5)
    assert torch.allclose(rgb.x[0][:, 2, 2], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(rgb.x[[3]][0, :, 2, 2], torch.tensor([0.0, 0.0, 1.0]))


def test_image_folder_errors_name_the_folder_or_file(tmp_path):
    def fails(pattern: str, path: str = "pics") -> None:
        with pytest.raises(DatasetError, match=pattern):
            load_dataset({"name": "image_folder", "params": {"path": path}},
                         base_dir=tmp_path).x.load()  # a broken file is found when read

    (tmp_path / "pics").mkdir()
    fails("image folder 'pics' is empty")
    (tmp_path / "pics" / "only").mkdir()
    fails(r"at least two classes \(found only 'only'\)")
    (tmp_path / "pics" / "other").mkdir()
    fails("class folder 'only' in image folder 'pics' has no images")
    root = image_folder(tmp_path / "b")
    (root / "dogs" / "broken.png").write_bytes(b"definitely not a png")
    fails(r"cannot read image 'dogs/broken\.png'", path="b/pics")
    write(tmp_path / "file.png", "x")
    fails("'file.png' is a file, not a folder", path="file.png")
    fails("'missing' does not exist", path="missing")
