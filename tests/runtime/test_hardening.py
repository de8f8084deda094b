"""Regression tests for issue #11's reproducers: hostile or broken input gets a clear, typed,
located error, never an untyped exception (the loader, the identifier rule, Ctrl-C)."""
import json
import re

import pytest

from runtime.cli import EXIT_INTERRUPTED, run
from runtime.compile import compile_model
from runtime.document import dumps, loads
from runtime.errors import CompileError, DesignFileError, GraphError
from runtime.graph import GraphModel
from tests.runtime.designs import mlp


def design_text(**change) -> dict:
    doc = json.loads(dumps(mlp()))
    doc.update(change)
    return doc


def with_second_node_called(node_id: str) -> dict:
    """The test design's document with its second node (and its edges) renamed."""
    doc = design_text()
    old = doc["nodes"][1]["id"]
    doc["nodes"][1]["id"] = node_id
    for edge in doc["edges"]:
        for end in ("from", "to"):
            if edge[end] == old:
                edge[end] = node_id
    return doc


def problems_of(text: str) -> list:
    with pytest.raises(DesignFileError) as info:
        loads(text)
    return info.value.problems


# --- the loader: one place turns any failure into a located DesignFileError -----------------------
def test_deeply_nested_json_is_a_design_file_error():  # reproducer 1
    (problem,) = problems_of("[" * 100_000)
    assert "nests lists or objects too deeply" in problem.message


def test_an_integer_of_thousands_of_digits_is_a_design_file_error():  # reproducer 2
    (problem,) = problems_of('{"format": "layerlab.design", "version": 2, "nodes": [], "n": '
                             + "9" * 5000 + "}")
    assert "not a usable JSON document" in problem.message


def test_a_position_too_large_for_a_float_is_located():  # reproducer 3
    doc = design_text()
    doc["nodes"][0]["pos"] = [10**400, 0]
    (problem,) = problems_of(json.dumps(doc))
    assert problem.location == "nodes[0].pos" and "finite numbers" in problem.message


def test_a_float_parameter_given_as_a_huge_integer_is_refused():  # reproducer 4
    doc = design_text()
    doc["nodes"].append({"id": "drop", "type": "Dropout", "params": {"p": 10**400}})
    (problem,) = problems_of(json.dumps(doc))
    assert problem.location.endswith("params.p") and problem.node == "drop"
    assert "must be a finite number, got an integer of about 401 digits" in problem.message


def test_a_parameter_nested_hundreds_deep_gets_a_short_message():  # reproducer 5
    value = 0.5
    for _ in range(500):
        value = [value]
    doc = design_text()
    doc["nodes"].append({"id": "drop", "type": "Dropout", "params": {"p": value}})
    (problem,) = problems_of(json.dumps(doc))
    assert problem.location.endswith("params.p") and "[[[[…]]]]" in problem.message
    assert len(problem.message) < 120


def test_a_lone_surrogate_is_refused_where_it_is(capsys):  # reproducer 6
    doc = design_text(name="\ud800")
    (problem,) = problems_of(json.dumps(doc))
    assert problem.location == "name" and "lone UTF-16 surrogate" in problem.message


# --- one identifier rule: what validates, compiles ---------------------------------------------
@pytest.mark.parametrize("node_id", [
    "fc1\n",  # reproducer 7: "$" matched before a final newline
    "training", "_modules", "_parameters", "_buffers", "_forward_hooks",  # reproducer 8
    "_graph", "_code", "meta", "layerlab_inputs",  # reproducer 9
    "_tracer_cls",  # reproducer 10
    "_private", "code", "forward", "class",
])
def test_ids_that_would_break_the_compiled_module_are_refused_everywhere(node_id):  # 20
    problems = problems_of(json.dumps(with_second_node_called(node_id)))
    assert any(p.location == "nodes[1].id" for p in problems)
    with pytest.raises(GraphError):
        GraphModel().add_node("Linear", {"out_features": 2}, node_id=node_id)


def test_compile_refuses_an_id_that_slipped_past_with_its_node():
    from runtime.graph import Edge, Node

    source = mlp()
    old = next(n.id for n in source.nodes.values() if n.type == "Linear")

    def rename(node_id: str) -> str:
        return "training" if node_id == old else node_id
    model = GraphModel()  # assembled without the loader or the model's checks
    model._bulk_load([Node(rename(n.id), n.type, n.params, n.pos) for n in source.nodes.values()],
                     [Edge(rename(e.src), rename(e.dst), e.src_port, e.dst_port)
                      for e in source.edges])
    with pytest.raises(CompileError) as info:
        compile_model(model)
    assert info.value.problems[0].node == "training"


def test_every_id_the_loader_accepts_compiles():
    for node_id in ("hidden", "fc_1", "Layer2", "trainingset", "graph_1"):
        compile_model(loads(json.dumps(with_second_node_called(node_id))))


# --- Ctrl-C ------------------------------------------------------------------------------------
def test_ctrl_c_ends_train_cleanly_with_exit_130(tmp_path, capsys, monkeypatch):  # reproducer 14
    import dataclasses

    from runtime.training.losses import LOSSES

    calls = {"n": 0}
    real = LOSSES["cross_entropy"].compute

    def interrupted(output, target):
        calls["n"] += 1
        if calls["n"] == 40:  # in the second epoch, after a checkpoint
            raise KeyboardInterrupt
        return real(output, target)
    monkeypatch.setitem(LOSSES, "cross_entropy",
                        dataclasses.replace(LOSSES["cross_entropy"], compute=interrupted))
    events = tmp_path / "run.jsonl"
    code = run(["train", "presets/mlp-spirals.json", "--set", "dataset.params.n_samples=1000",
                "--checkpoint-dir", str(tmp_path / "ckpt"), "--metrics-out", str(events)])
    err = capsys.readouterr().err
    assert code == EXIT_INTERRUPTED
    assert re.search(r"interrupted at epoch [2-9], step \d+; last checkpoint .*last.pt", err)
    assert "Traceback" not in err and "AttributeError" not in err
    last = json.loads(events.read_text().splitlines()[-1])
    assert last["event"] == "fit_end" and last["status"] == "interrupted"
    assert (tmp_path / "ckpt" / "last.pt").exists()


# --- dataset reading is bounded ----------------------------------------------------------------
def test_a_fifo_as_a_dataset_is_refused_at_once(tmp_path):  # reproducer 16
    import os
    import threading

    from runtime.data import load_dataset
    from runtime.errors import DatasetError

    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    result = {}

    def read():
        try:
            load_dataset({"name": "csv", "params": {"path": str(fifo), "label_column": "y"}})
        except DatasetError as err:
            result["error"] = str(err)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert "is a named pipe (FIFO), not a regular file" in result["error"]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_by_name(device):  # reproducer 17
    from runtime.data import load_dataset
    from runtime.errors import DatasetError

    with pytest.raises(DatasetError, match=f"'{device}' is a device, not a regular file"):
        load_dataset({"name": "npz", "params": {"path": device}})


def test_an_unreadable_image_folder_is_a_dataset_error(tmp_path, monkeypatch):  # reproducer 18
    from pathlib import Path

    from runtime.data import load_dataset
    from runtime.errors import DatasetError

    (tmp_path / "a").mkdir()

    def denied(self):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(DatasetError, match="cannot read folder '.*': Permission denied"):
        load_dataset({"name": "image_folder", "params": {"path": str(tmp_path)}})


def test_a_too_large_data_file_is_refused_before_reading(tmp_path, monkeypatch):
    from runtime.data import common, load_dataset
    from runtime.errors import DatasetError

    import numpy as np

    path = tmp_path / "big.csv"
    path.write_bytes(b"0" * 2048)
    monkeypatch.setattr(common, "MAX_FILE_BYTES", 1024)
    with pytest.raises(DatasetError, match="data files of up to"):
        load_dataset({"name": "csv", "params": {"path": str(path)}})
    # an array that must be inflated whole is refused by its size; a plain one is mapped
    x, y = np.zeros((64, 8), np.float32), np.zeros(64, np.int64)
    np.savez_compressed(tmp_path / "packed.npz", x=x, y=y)
    with pytest.raises(DatasetError, match="'x' is 2.18 kB.*compressed.*numpy.savez"):
        load_dataset({"name": "npz", "params": {"path": str(tmp_path / "packed.npz")}})
    np.savez(tmp_path / "plain.npz", x=x, y=y[:8])  # y is read whole, and small enough
    with pytest.raises(DatasetError, match="'x' has 64 samples but 'y' has 8"):
        load_dataset({"name": "npz", "params": {"path": str(tmp_path / "plain.npz")}})


# --- out of memory -----------------------------------------------------------------------------
@pytest.mark.parametrize("raised", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
                 "memory: you tried to allocate 137438953472 bytes"),  # reproducer 15
    MemoryError(),
])
def test_cpu_out_of_memory_is_oom_with_the_batch_and_the_largest_layer(raised, monkeypatch):
    import dataclasses

    from runtime.errors import TrainingError
    from runtime.training import Trainer
    from runtime.training.losses import LOSSES

    def exhausted(*args):
        raise raised
    monkeypatch.setitem(LOSSES, "cross_entropy",
                        dataclasses.replace(LOSSES["cross_entropy"], compute=exhausted))
    model = loads(dumps(mlp()))
    model.training = {"dataset": {"name": "spirals", "params": {"n_samples": 200, "n_classes": 3}},
                      "epochs": 1}
    with pytest.raises(TrainingError) as info:
        Trainer(model).fit()
    assert info.value.kind == "oom" and "out of memory on cpu with batch size" in str(info.value)
    from runtime.shapes import infer

    counts = {node_id: result.params for node_id, result in infer(model).nodes.items()}
    largest = max(counts, key=counts.get)  # fc2: 16 x 3 + 3 = 51 parameters, fc1 has 48
    assert info.value.node == largest and f"the largest layer is '{largest}'" in str(info.value)


def test_a_fifo_or_folder_given_as_a_design_is_refused_without_blocking(tmp_path):
    import os

    from runtime.document import load

    fifo = tmp_path / "design.json"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(DesignFileError, match="not a regular file"):
            load(path)


# --- killed saves ------------------------------------------------------------------------------
def test_a_save_removes_what_killed_saves_left_but_not_a_save_under_way(tmp_path):  # 19
    import os
    import time

    import torch

    from runtime.document import STALE_TEMP_S, save
    from runtime.training.checkpoints import save_checkpoint

    for name in ("design.json", "last.pt"):
        old = tmp_path / f".{name}.abc123.tmp"
        fresh = tmp_path / f".{name}.def456.tmp"
        other = tmp_path / ".other.json.abc123.tmp"
        for path in (old, fresh, other):
            path.write_text("half a file")
        past = time.time() - STALE_TEMP_S - 60
        os.utime(old, (past, past))
        os.utime(other, (past, past))
        if name == "design.json":
            save(mlp(), tmp_path / name)
        else:
            save_checkpoint({"format": "layerlab.checkpoint", "w": torch.zeros(2)},
                            tmp_path / name)
        assert not old.exists() and fresh.exists() and other.exists(), name
        assert (tmp_path / name).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == [
        ".design.json.def456.tmp", ".last.pt.def456.tmp", ".other.json.abc123.tmp"]


# --- a memory budget before anything is allocated -------------------------------------------
def _with_linear(out_features: int):
    model = mlp()
    fc = next(n.id for n in model.nodes.values() if n.type == "Linear")
    model.set_param(fc, "out_features", out_features)
    return model, fc


@pytest.mark.parametrize("out_features", [2**31 - 1, 2**40])  # reproducers 11 and 12
def test_a_linear_too_large_for_memory_is_refused_on_its_node(out_features):
    from runtime.shapes import infer

    model, fc = _with_linear(out_features)
    analysis = infer(model)
    errors = [p for p in analysis.errors if "more than this machine's" in p.message]
    assert errors and errors[0].node in model.nodes
    assert analysis.nodes[errors[0].node].status == "error"
    with pytest.raises(CompileError):  # refused before any allocation
        compile_model(model)


def test_an_unbounded_positional_table_is_counted_and_refused():  # reproducer 13
    from runtime.shapes import infer, memory_problems

    model = GraphModel()
    model.add_node("Input", {"shape": [10, 16]}, node_id="seq")
    model.add_node("PositionalEncoding", {"max_len": 10**8, "kind": "sinusoidal"}, node_id="pos")
    model.add_node("Output", node_id="out")
    model.connect("seq", "pos")
    model.connect("pos", "out")
    analysis = infer(model)
    assert analysis.nodes["pos"].buffers == 16 * 10**8 and analysis.nodes["pos"].params == 0
    assert analysis.weight_bytes == 4 * 16 * 10**8
    (problem,) = memory_problems(dict(analysis.nodes), available=2 * 1024**3)
    assert problem.node == "pos" and "6.4 GB" in problem.message


def test_a_design_that_fits_has_no_memory_problem_and_shows_its_weights(capsys):
    from runtime.shapes import infer, memory_problems

    analysis = infer(mlp())
    assert memory_problems(dict(analysis.nodes), available=1024**3) == []
    assert run(["summary", "presets/mlp-spirals.json", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weight_bytes"] == 4 * 4482


# --- the training run's memory, estimated before the first batch -----------------------------
def test_a_run_that_cannot_fit_is_refused_with_the_node_and_a_batch_that_fits(monkeypatch):
    import torch

    from runtime.errors import TrainingError
    from runtime.shapes import infer
    from runtime.training import Trainer, memory

    model = loads(dumps(mlp()))
    model.training = {"dataset": {"name": "spirals", "params": {"n_samples": 400,
                                                                "n_classes": 3}},
                      "batch_size": 256, "epochs": 1}
    analysis = infer(model)
    per_sample = 4 * sum(memory.activation_values(analysis).values())
    available = memory.fixed_bytes(analysis) + 100 * per_sample  # room for 100 samples
    assert memory.fitting_batch(analysis, available) == 100
    with pytest.raises(TrainingError) as info:
        memory.check_fits(analysis, 256, torch.device("cpu"), available)
    assert info.value.kind == "oom" and "a batch size of 100 fits" in str(info.value)
    activations = memory.activation_values(analysis)
    assert info.value.node == max(activations, key=activations.get)
    memory.check_fits(analysis, 100, torch.device("cpu"), available)  # fits: no error

    monkeypatch.setattr(memory, "device_memory", lambda device: available)
    with pytest.raises(TrainingError, match="a batch size of 100 fits"):
        Trainer(model).fit()


def test_validate_refuses_a_batch_that_cannot_fit_with_its_line(tmp_path, capsys, monkeypatch):
    from runtime.training import memory

    model = mlp()
    model.training = {"batch_size": 4096}
    path = tmp_path / "design.json"
    path.write_text(dumps(model))
    monkeypatch.setattr(memory, "device_memory", lambda device: 64 * 1024)
    assert run(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "training.batch_size" in err and "training with batch size 4,096 needs about" in err
    line = int(err.split("line ")[1].split(",")[0])
    assert "batch_size" in path.read_text().splitlines()[line - 1]
    monkeypatch.undo()
    assert run(["validate", str(path)]) == 0


def test_the_summary_shows_the_training_estimate(capsys):
    from runtime.document import load
    from runtime.shapes import infer
    from runtime.training.memory import run_bytes

    assert run(["summary", "presets/lenet-digits.json", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    model = load("presets/lenet-digits.json")
    assert summary["training_bytes"] == run_bytes(infer(model), 64)
    assert run(["summary", "presets/lenet-digits.json"]) == 0
    assert "training with batch size 64 needs about 1.21 MB" in capsys.readouterr().out
