"""The end-of-training `report` event: confusion matrix, samples, decision grid, regression fit."""
import io
import json

import pytest

from runtime.cli import run
from runtime.document import save
from runtime.graph import GraphModel
from runtime.training import ProgressPrinter, Trainer
from runtime.training import report as report_module
from tests.runtime.designs import chain
from tests.runtime.test_trainer import Recorder, spiral_mlp

FAST = {"epochs": 2, "threads": 1, "batch_size": 32}


def _train(design: GraphModel) -> Recorder:
    rec = Recorder()
    end = Trainer(design, callbacks=[rec]).fit()
    assert end["status"] == "completed"
    return rec


def _report(rec: Recorder) -> dict:
    reports = rec.of("report")
    assert len(reports) == 1
    assert [e["event"] for e in rec.events[-2:]] == ["report", "fit_end"]
    json.dumps(reports[0])  # JSON-ready
    return reports[0]


def _sequential(name: str, nodes: list[tuple[str, dict]], **training) -> GraphModel:
    m = GraphModel(name=name)
    ids = []
    for i, (kind, params) in enumerate(nodes):
        ids.append(f"n{i}")
        m.add_node(kind, params, node_id=ids[-1])
    chain(m, *ids)
    m.training = {**FAST, **training}
    return m


def test_spirals_confusion_matches_validation_accuracy_and_has_a_decision_grid():
    rec = _train(spiral_mlp(**FAST))
    report = _report(rec)
    final = rec.of("epoch_end")[-1]
    assert report["task"] == "classification" and report["kind"] == "tabular"
    assert report["dataset"] == "spirals" and report["val_samples"] == 100
    confusion = report["confusion"]
    assert len(confusion) == 2 and all(len(row) == 2 for row in confusion)
    total = sum(map(sum, confusion))
    assert total == report["val_samples"]
    diagonal = sum(confusion[i][i] for i in range(2))
    assert diagonal / total == pytest.approx(final["val_accuracy"], abs=1e-6)
    assert report["accuracy"] == pytest.approx(final["val_accuracy"], abs=1e-6)
    assert len(report["class_names"]) == 2
    samples = report["samples"]
    assert len(samples) == 48
    for s in samples:
        assert s["correct"] == (s["target"] == s["prediction"])
        assert 0.5 <= s["confidence"] <= 1 and len(s["input"]) == 2
    grid = report["decision_grid"]
    assert grid["size"] == 60 and len(grid["classes"]) == 60
    assert all(len(row) == 60 and set(row) <= {0, 1} for row in grid["classes"])
    assert grid["x_range"][0] < grid["x_range"][1] and grid["y_range"][0] < grid["y_range"][1]


def test_image_samples_are_scaled_images():
    m = _sequential("digits", [
        ("Input", {"shape": [1, 8, 8]}), ("Flatten", {}), ("Linear", {"out_features": 10}),
        ("Output", {})],
        dataset={"name": "digits", "validation_split": 0.1}, epochs=1, batch_size=256)
    report = _report(_train(m))
    assert report["kind"] == "image" and report["class_names"][3] == "3"
    assert sum(map(sum, report["confusion"])) == report["val_samples"]
    assert "decision_grid" not in report
    image = report["samples"][0]["input"]
    assert len(image) == 1 and len(image[0]) == 8 and len(image[0][0]) == 8
    pixels = [v for row in image[0] for v in row]
    assert min(pixels) == 0.0 and max(pixels) == 1.0


def test_large_images_are_strided_down():
    m = _sequential("shapes MLP", [
        ("Input", {"shape": [1, 40, 40]}), ("Flatten", {}), ("Linear", {"out_features": 3}),
        ("Output", {})],
        dataset={"name": "shapes", "params": {"n_samples": 60, "size": 40},
                 "validation_split": 0.2}, epochs=1)
    image = _report(_train(m))["samples"][0]["input"]
    assert len(image) == 1 and len(image[0]) == 20 and len(image[0][0]) == 20


def test_regression_reports_errors_a_baseline_and_a_scatter():
    m = _sequential("sine MLP", [
        ("Input", {"shape": [1]}), ("Linear", {"out_features": 16}), ("Tanh", {}),
        ("Linear", {"out_features": 1}), ("Output", {})],
        dataset={"name": "sine", "params": {"n_samples": 300}, "validation_split": 0.2},
        loss="mse", metrics=["mse", "mae"])
    rec = _train(m)
    report = _report(rec)
    final = rec.of("epoch_end")[-1]
    assert report["task"] == "regression" and report["val_samples"] == 60
    assert report["mse"] == pytest.approx(final["val_mse"], rel=1e-3)
    assert report["mae"] == pytest.approx(final["val_mae"], rel=1e-3)
    assert report["baseline_mse"] > 0
    scatter = report["scatter"]
    assert len(scatter["target"]) == len(scatter["prediction"]) == 60
    s = report["samples"][0]
    assert isinstance(s["target"], float) and isinstance(s["prediction"], float)
    assert "correct" not in s and len(s["input"]) == 1
    assert "confusion" not in report and "decision_grid" not in report


def test_per_step_classification_counts_every_step():
    m = _sequential("reverse", [
        ("Input", {"shape": [6], "dtype": "int64"}),
        ("Embedding", {"num_embeddings": 5, "embedding_dim": 8}),
        ("Linear", {"out_features": 5}), ("Output", {})],
        dataset={"name": "reverse", "params": {"n_samples": 100, "vocab_size": 5, "seq_len": 6},
                 "validation_split": 0.2})
    rec = _train(m)
    report = _report(rec)
    assert report["kind"] == "sequence" and report["val_samples"] == 20
    confusion = report["confusion"]
    assert len(confusion) == 5 and sum(map(sum, confusion)) == 20 * 6
    assert report["accuracy"] == pytest.approx(rec.of("epoch_end")[-1]["val_accuracy"], abs=1e-6)
    s = report["samples"][0]
    assert len(s["target"]) == len(s["prediction"]) == len(s["input"]) == 6
    assert s["correct"] == (s["target"] == s["prediction"])
    assert 0 < s["confidence"] <= 1


def test_a_failing_report_is_a_warning_and_the_run_completes(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(report_module, "_classification", broken)
    rec, console = Recorder(), io.StringIO()
    end = Trainer(spiral_mlp(**{**FAST, "epochs": 1}),
                  callbacks=[rec, ProgressPrinter(console)]).fit()
    assert end["status"] == "completed" and rec.events[-1] == end
    assert rec.of("report") == []
    warning = rec.of("warning")
    assert len(warning) == 1 and "boom" in warning[0]["message"]
    assert "warning: could not compute the validation report: RuntimeError: boom" in \
        console.getvalue()


def test_no_report_without_a_validation_split():
    rec = _train(spiral_mlp(**{**FAST, "epochs": 1},
                            dataset={"name": "spirals", "params": {"n_samples": 100},
                                     "validation_split": 0}))
    assert rec.of("report") == [] and rec.of("warning") == []


def test_train_metrics_out_writes_the_report(tmp_path, capsys):
    path = tmp_path / "design.json"
    save(spiral_mlp(**{**FAST, "epochs": 1}), path)
    metrics = tmp_path / "run.jsonl"
    assert run(["train", str(path), "--metrics-out", str(metrics)]) == 0
    events = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [e["event"] for e in events[-2:]] == ["report", "fit_end"]
    assert "confusion" in events[-2]
    out, err = capsys.readouterr()
    assert "report" not in err and "confusion" not in out


def test_binary_bce_follows_the_accuracy_metric():
    m = spiral_mlp(**FAST, loss="bce")
    m.set_param("fc3", "out_features", 1)
    rec = _train(m)
    report = _report(rec)
    assert len(report["confusion"]) == 2
    assert report["accuracy"] == pytest.approx(rec.of("epoch_end")[-1]["val_accuracy"], abs=1e-6)
    assert all(0.5 <= s["confidence"] <= 1 for s in report["samples"])
    assert len(report["decision_grid"]["classes"]) == 60


def test_stopped_runs_report_only_after_an_epoch():
    class StopAt(Recorder):
        def __init__(self, step):
            super().__init__()
            self.step = step

        def on_epoch_start(self, trainer, epoch):
            if self.step == 0:
                trainer.request_stop()  # before any batch: nothing was trained

        def on_batch_end(self, trainer, step):
            if step >= self.step:
                trainer.request_stop()

    for stop_step, reports in ((0, 0), (12, 1)):  # 10 steps per epoch
        rec = StopAt(stop_step)
        end = Trainer(spiral_mlp(**FAST), callbacks=[rec]).fit()
        assert end["status"] == "stopped" and len(rec.of("report")) == reports
