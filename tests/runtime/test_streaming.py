"""Data larger than memory: image folders and memory-mapped arrays streamed from disk by
DataLoader workers, chosen automatically, training exactly as the same data held in memory."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from runtime.data import load_dataset, tables
from runtime.data.streamed import ImageRows, MappedRows
from runtime.errors import TrainingError
from runtime.graph import GraphModel
from runtime.training import Trainer
from runtime.training import data_feed
from runtime.training.data_feed import Placement, choose
from runtime.training.events import FitStart

from .test_trainer import Recorder, chain


def _pictures(root: Path, per_class: int = 24, side: int = 10) -> Path:
    """Three classes of grey pictures, each with a bright band in its own place."""
    rng = np.random.default_rng(0)
    for c in range(3):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = (rng.random((side, side)) * 90).astype(np.uint8)
            pixels[3 * c:3 * c + 3] += 160
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i:03}.png")
    return root


def _cnn(dataset: dict, shape: list[int], classes: int, **training) -> GraphModel:
    m = GraphModel(name="small CNN")
    m.add_node("Input", {"shape": shape}, node_id="x")
    m.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3}, node_id="conv")
    m.add_node("ReLU", node_id="relu")
    m.add_node("Flatten", node_id="flat")
    m.add_node("Linear", {"out_features": classes}, node_id="fc")
    m.add_node("Output", node_id="out")
    chain(m, "x", "conv", "relu", "flat", "fc", "out")
    m.training = {"dataset": {**dataset, "validation_split": 0.25}, "epochs": 2,
                  "batch_size": 8, "seed": 1, "threads": 1,
                  "optimizer": {"name": "sgd", "lr": 0.05}, **training}
    return m


def _fit(design: GraphModel, base: Path, **dataset) -> tuple[Trainer, FitStart]:
    design.training = {**design.training,
                       "dataset": {**design.training["dataset"], **dataset}}
    keep = Recorder()
    trainer = Trainer(design, callbacks=[keep], base_dir=base)
    trainer.fit()
    return trainer, next(e for e in keep.events if isinstance(e, FitStart))


def _losses(trainer: Trainer) -> list[tuple[float, float]]:
    return [(e.train_loss, e.val_loss) for e in trainer.history]


def test_a_streamed_image_folder_trains_exactly_as_the_same_images_in_memory(tmp_path):
    _pictures(tmp_path / "pics")
    dataset = {"name": "image_folder", "params": {"path": "pics", "size": [10, 10]}}
    loaded = load_dataset(dataset, tmp_path)
    assert isinstance(loaded.x, ImageRows) and loaded.x.shape == (72, 1, 10, 10)

    memory, said = _fit(_cnn(dataset, [1, 10, 10], 3), tmp_path, loading="memory")
    assert said.data == "data in memory" and isinstance(memory.x, torch.Tensor)
    in_process, said = _fit(_cnn(dataset, [1, 10, 10], 3), tmp_path, loading="stream",
                            workers=0)
    assert said.data == "data streamed from disk (read in the training process)"
    streamed, said = _fit(_cnn(dataset, [1, 10, 10], 3), tmp_path, loading="stream",
                          workers=2)
    assert said.data == "data streamed from disk (2 workers)"
    assert _losses(memory) == _losses(in_process) == _losses(streamed)
    assert memory.history[-1].metrics["val_accuracy"] > 0.5  # it learns the bands
    for name, value in memory.model.state_dict().items():
        assert torch.equal(streamed.model.state_dict()[name], value), name
    # the end-of-run report reads the streamed samples it shows through the same rows
    assert streamed.predict(streamed.x[streamed.val_idx[:5]]).shape == (5, 3)


def test_auto_streams_only_what_does_not_fit(tmp_path, monkeypatch):
    _pictures(tmp_path / "pics", per_class=8)
    dataset = {"name": "image_folder", "params": {"path": "pics", "size": [10, 10]}}
    design = _cnn(dataset, [1, 10, 10], 3, epochs=1)
    _, said = _fit(design, tmp_path, workers=1)
    assert said.data == "data in memory"  # 24 small pictures fit: read once, up front
    rows = load_dataset(dataset, tmp_path).x
    monkeypatch.setattr(data_feed, "available_memory", lambda: rows.nbytes)  # 2x needed
    _, said = _fit(_cnn(dataset, [1, 10, 10], 3, epochs=1), tmp_path, workers=1)
    assert said.data == "data streamed from disk (1 worker)"

    cpu = torch.device("cpu")
    assert choose(torch.zeros(4, 2), cpu, "auto", 2) == Placement("memory")
    assert choose(rows, cpu, "auto", 3) == Placement("stream", 3)
    with pytest.raises(TrainingError, match="'stream', but this dataset is held in memory"):
        choose(torch.zeros(4, 2), cpu, "stream", 2)
    monkeypatch.setattr(data_feed, "available_memory", lambda: rows.nbytes // 2)
    with pytest.raises(TrainingError, match=r"'memory', but the data takes 9.6 kB and 4.8 kB"):
        choose(rows, cpu, "memory", 2)


def test_a_mode_that_needs_the_whole_data_set_refuses_to_stream(tmp_path):
    _pictures(tmp_path / "pics", per_class=4)
    dataset = {"name": "image_folder", "params": {"path": "pics", "size": [10, 10]}}
    design = GraphModel(name="denoiser")
    design.add_node("Input", {"shape": [1, 10, 10]}, node_id="x")
    design.add_node("Conv2d", {"out_channels": 1, "kernel_size": 3, "padding": "same"},
                    node_id="conv")
    design.add_node("Output", node_id="out")
    chain(design, "x", "conv", "out")
    design.training = {"dataset": dataset, "loss": "mse", "epochs": 1,
                       "mode": {"name": "reconstruction", "corruption": "gaussian"}}
    with pytest.raises(TrainingError, match="reconstruction works on the whole data set in "
                                            "memory: set dataset.loading to 'auto' or 'memory'"):
        _fit(design, tmp_path, loading="stream")
    trainer, said = _fit(design, tmp_path, loading="auto")
    assert said.data == "data in memory" and trainer.history


def test_a_broken_image_found_while_streaming_names_the_file(tmp_path):
    root = _pictures(tmp_path / "pics", per_class=8)
    (root / "class1" / "005.png").write_bytes(b"not a picture")
    dataset = {"name": "image_folder", "params": {"path": "pics", "size": [10, 10]}}
    with pytest.raises(TrainingError, match=r"cannot read image 'class1/005\.png' in image "
                                            r"folder 'pics'") as failed:
        _fit(_cnn(dataset, [1, 10, 10], 3), tmp_path, loading="stream", workers=1)
    assert "Traceback" not in str(failed.value)  # the worker's error, not its stack


@pytest.mark.parametrize("layout", ["npz", "npy folder"])
def test_large_arrays_are_mapped_from_disk_and_train_as_in_memory(tmp_path, monkeypatch,
                                                                   layout):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 255, (60, 1, 6, 6)).astype(np.uint8)
    y = (x[:, 0, :3].mean(axis=(1, 2)) > x[:, 0, 3:].mean(axis=(1, 2))).astype(np.int64)
    if layout == "npz":
        np.savez(tmp_path / "data.npz", x=x, y=y)
        path = "data.npz"
    else:
        (tmp_path / "arrays").mkdir()
        np.save(tmp_path / "arrays" / "x.npy", x)
        np.save(tmp_path / "arrays" / "y.npy", y)
        path = "arrays"
    dataset = {"name": "npz", "params": {"path": path}}
    in_memory = load_dataset(dataset, tmp_path)
    assert isinstance(in_memory.x, torch.Tensor)  # small arrays are read when they load
    monkeypatch.setattr(tables, "MAP_ABOVE", 0)
    mapped = load_dataset(dataset, tmp_path)
    assert isinstance(mapped.x, MappedRows) and mapped.x.dtype == torch.float32
    assert torch.equal(mapped.x[torch.tensor([7, 2, 7])], in_memory.x[[7, 2, 7]])
    assert torch.equal(mapped.x.load(), in_memory.x)

    # a worker started by spawn (macOS, Windows) gets the mapping, not the values
    copied = pickle.loads(pickle.dumps(mapped.x.subset(torch.arange(10, 40))))
    assert len(pickle.dumps(mapped.x)) < 2_000 < x.nbytes
    assert torch.equal(copied[[0, 29]], in_memory.x[[10, 39]])

    memory, _ = _fit(_cnn(dataset, [1, 6, 6], 2), tmp_path, loading="memory")
    streamed, said = _fit(_cnn(dataset, [1, 6, 6], 2), tmp_path, loading="stream", workers=1)
    assert said.data == "data streamed from disk (1 worker)"
    assert _losses(memory) == _losses(streamed)


def test_class_selection_keeps_streamed_rows_on_disk(tmp_path):
    _pictures(tmp_path / "pics", per_class=5)
    ds = load_dataset({"name": "image_folder", "params": {"path": "pics", "size": [10, 10]},
                       "classes": ["class2", "class0"]}, tmp_path)
    assert isinstance(ds.x, ImageRows) and len(ds.x) == 10 and ds.y.tolist()[:5] == [1] * 5
    whole = load_dataset({"name": "image_folder", "params": {"path": "pics", "size": [10, 10]}},
                         tmp_path)
    assert torch.equal(ds.x[:], torch.cat([whole.x[0:5], whole.x[10:15]]))
    assert torch.equal(pickle.loads(pickle.dumps(ds.x))[:], ds.x[:])  # as a spawned worker
