"""The end-of-training `report` event: confusion matrix, samples, decision grid, regression fit.

Most tests build the report straight from an `EvaluationContext` (a tiny model, a stand-in dataset
and tensors; no training run), with the expected numbers computed independently; the rest train
through `Trainer` to check that the report agrees with the run's own validation metrics and where
it sits among the run's events.
"""
import io
import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from runtime.cli import run
from runtime.document import save
from runtime.graph import GraphModel
from runtime.training import ProgressPrinter, Trainer
from runtime.training import report as report_module
from runtime.training.events import EpochEnd, FitEnd, Report, RunWarning
from runtime.training.losses import LOSSES
from runtime.training.metrics import MetricAccumulator
from runtime.training.report import EvaluationContext, validation_report
from tests.runtime.test_trainer import Recorder, sine_mlp, spiral_mlp

FAST = {"epochs": 2, "threads": 1, "batch_size": 32}


# --- reports from an evaluation context, without a run ------------------------------------------
@dataclass
class FakeData:
    """What the report reads of a dataset."""

    name: str
    task: str
    kind: str
    num_classes: int | None = None
    class_names: list[str] | None = None


def context(model: nn.Module, data: FakeData, x: torch.Tensor, y: torch.Tensor, loss: str,
            n_val: int | None = None, batch: int = 16) -> EvaluationContext:
    """`model` judged on a shuffled split (the last `n_val` samples of a fixed permutation are
    validation, a quarter by default), in batches of `batch` as `Trainer.evaluation_batches`."""
    model.eval()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n_val = len(x) // 4 if n_val is None else n_val
    train_idx, val_idx = order[:len(x) - n_val], order[len(x) - n_val:]

    def batches(idx):
        for start in range(0, len(idx), batch):
            chosen = idx[start:start + batch]
            yield model(x[chosen]), y[chosen]
    return EvaluationContext(data, LOSSES[loss], x, y, train_idx, val_idx, batches, model)


def accuracy_of(ctx: EvaluationContext, metric_loss: str) -> float:
    """The validation accuracy as the run's metrics measure it, over the same outputs."""
    acc = MetricAccumulator(["accuracy"], metric_loss)
    with torch.no_grad():
        for output, target in ctx.batches(ctx.val_idx):
            acc.update(output, target, torch.tensor(0.0))
    return acc.result()["accuracy"]


def checked(report: Report) -> Report:
    """The report, after checking that it survives its JSON form."""
    assert isinstance(report, Report)
    data = json.loads(json.dumps(report.to_json()))
    assert data["event"] == "report" and data["kind"] == report.data_kind
    return report


def images(n: int, *shape: int) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(1)) * 16


def test_image_samples_are_scaled_images():
    torch.manual_seed(0)
    x = images(80, 1, 8, 8)
    y = torch.arange(80) % 10
    data = FakeData("digits", "classification", "image", 10, [str(i) for i in range(10)])
    ctx = context(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), data, x, y, "cross_entropy")
    report = checked(validation_report(ctx))
    assert report.data_kind == "image" and report.class_names[3] == "3"
    assert report.val_samples == 20 and sum(map(sum, report.confusion)) == 20
    assert report.accuracy == pytest.approx(accuracy_of(ctx, "cross_entropy"), abs=1e-6)
    assert report.decision_grid is None and "decision_grid" not in report.to_json()
    image = report.samples[0]["input"]
    assert len(image) == 1 and len(image[0]) == 8 and len(image[0][0]) == 8
    pixels = [v for row in image[0] for v in row]
    assert min(pixels) == 0.0 and max(pixels) == 1.0


@pytest.mark.parametrize("shape, shown", [((1, 40, 40), (1, 20, 20)), ((3, 70, 70), (3, 24, 24)),
                                          ((40, 40), (1, 20, 20))])
def test_large_images_are_strided_down(shape, shown):
    torch.manual_seed(0)
    x = images(12, *shape)
    data = FakeData("shapes", "classification", "image", 3)
    numel = x[0].numel()
    ctx = context(nn.Sequential(nn.Flatten(), nn.Linear(numel, 3)), data, x,
                  torch.arange(12) % 3, "cross_entropy")
    image = torch.tensor(checked(validation_report(ctx)).samples[0]["input"])
    assert tuple(image.shape) == shown  # a channel-less image gains one channel


def test_regression_reports_errors_a_baseline_and_a_scatter():
    x = torch.linspace(-1, 1, 80).unsqueeze(1)
    y = x.clone()
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.bias.fill_(0.0)  # predicts 2x for a target of x
    ctx = context(model, FakeData("line", "regression", "tabular"), x, y, "mse")
    report = checked(validation_report(ctx))
    val, train = y[ctx.val_idx], y[ctx.train_idx]
    assert report.task == "regression" and report.val_samples == 20
    assert report.mse == pytest.approx(float(val.pow(2).mean()), rel=1e-3)
    assert report.mae == pytest.approx(float(val.abs().mean()), rel=1e-3)
    assert report.baseline_mse == pytest.approx(float((val - train.mean()).pow(2).mean()),
                                                rel=1e-3)
    scatter = report.scatter
    assert scatter["target"] == pytest.approx(val[:, 0].tolist(), rel=1e-3, abs=1e-4)
    assert scatter["prediction"] == pytest.approx([2 * t for t in scatter["target"]], rel=1e-3)
    s = report.samples[0]
    assert s["index"] == int(ctx.val_idx[0])
    assert isinstance(s["target"], float) and isinstance(s["prediction"], float)
    assert "correct" not in s and len(s["input"]) == 1
    assert report.confusion is None and report.decision_grid is None
    assert "confusion" not in report.to_json()


def test_regression_scatter_is_capped_and_samples_span_batches():
    x = torch.linspace(-1, 1, 1600).unsqueeze(1)
    ctx = context(nn.Linear(1, 1), FakeData("line", "regression", "tabular"), x, 3 * x, "mse",
                  n_val=1200, batch=64)
    report = validation_report(ctx, max_samples=100)
    assert 0 < len(report.scatter["target"]) == len(report.scatter["prediction"]) <= 500
    assert [s["index"] for s in report.samples] == ctx.val_idx[:100].tolist()
    assert [s["target"] for s in report.samples] == pytest.approx(
        (3 * x[ctx.val_idx[:100], 0]).tolist(), rel=1e-3, abs=1e-4)


def test_per_step_classification_counts_every_step():
    torch.manual_seed(0)
    x = torch.randint(0, 5, (100, 6))
    y = x.flip(1)
    data = FakeData("reverse", "classification", "sequence", 5)
    model = nn.Sequential(nn.Embedding(5, 8), nn.Linear(8, 5))
    ctx = context(model, data, x, y, "cross_entropy", n_val=20)
    report = checked(validation_report(ctx))
    assert report.data_kind == "sequence" and report.val_samples == 20
    assert len(report.confusion) == 5 and sum(map(sum, report.confusion)) == 20 * 6
    assert report.accuracy == pytest.approx(accuracy_of(ctx, "cross_entropy"), abs=1e-6)
    s = report.samples[0]
    assert len(s["target"]) == len(s["prediction"]) == len(s["input"]) == 6
    assert s["input"] == x[ctx.val_idx[0]].tolist() and s["target"] == y[ctx.val_idx[0]].tolist()
    assert s["correct"] == (s["target"] == s["prediction"])
    assert 0 < s["confidence"] <= 1


def test_binary_bce_follows_the_accuracy_metric():
    torch.manual_seed(0)
    x = torch.randn(80, 2)
    y = (x[:, 0] > 0).long()
    ctx = context(nn.Linear(2, 1), FakeData("blobs", "classification", "tabular", 2), x, y,
                  "bce")
    report = checked(validation_report(ctx))
    assert len(report.confusion) == 2
    assert report.accuracy == pytest.approx(accuracy_of(ctx, "bce"), abs=1e-6)
    assert all(0.5 <= s["confidence"] <= 1 for s in report.samples)
    assert len(report.decision_grid["classes"]) == 60


@pytest.mark.parametrize("axis", [0, 1])
def test_decision_grid_rows_follow_y_and_columns_x(axis):
    x = torch.stack([torch.linspace(-1, 2, 40), torch.linspace(-3, 1, 40)], dim=1)
    y = (x[:, axis] > 0).long()
    model = nn.Linear(2, 2)
    with torch.no_grad():  # class 1 exactly where the chosen feature is positive
        model.weight.zero_()
        model.weight[0, axis], model.weight[1, axis] = -1.0, 1.0
        model.bias.zero_()
    ctx = context(model, FakeData("halves", "classification", "tabular", 2), x, y,
                  "cross_entropy")
    grid = checked(validation_report(ctx)).decision_grid
    assert grid["x_range"][0] < -1 and grid["x_range"][1] > 2
    assert grid["y_range"][0] < -3 and grid["y_range"][1] > 1
    xs = torch.linspace(*grid["x_range"], grid["size"])
    ys = torch.linspace(*grid["y_range"], grid["size"])
    for r, row in enumerate(grid["classes"]):
        for c, predicted in enumerate(row):
            at = float(xs[c] if axis == 0 else ys[r])
            if abs(at) > 1e-3:  # the rounded ranges may move a point across 0 by a hair
                assert predicted == int(at > 0), (r, c)


def test_wide_tables_have_no_sample_inputs_and_classes_default_to_numbers():
    torch.manual_seed(0)
    x = torch.randn(40, 12)
    y = torch.arange(40) % 3
    ctx = context(nn.Linear(12, 3), FakeData("wide", "classification", "tabular"), x, y,
                  "cross_entropy")
    report = checked(validation_report(ctx))
    assert report.class_names == ["0", "1", "2"] and len(report.confusion) == 3
    assert report.decision_grid is None
    assert all("input" not in s for s in report.samples)


def test_an_empty_validation_split_has_no_report():
    ctx = context(nn.Linear(2, 2), FakeData("t", "classification", "tabular", 2),
                  torch.randn(8, 2), torch.zeros(8, dtype=torch.int64), "cross_entropy", n_val=0)
    with pytest.raises(ValueError, match="validation split is empty"):
        validation_report(ctx)


# --- reports of real runs ------------------------------------------------------------------------
def _train(design: GraphModel) -> Recorder:
    rec = Recorder()
    end = Trainer(design, callbacks=[rec]).fit()
    assert end.status == "completed"
    return rec


def _report(rec: Recorder) -> Report:
    reports = rec.of(Report)
    assert len(reports) == 1
    assert [type(e) for e in rec.events[-2:]] == [Report, FitEnd]
    return checked(reports[0])


def test_spirals_confusion_matches_validation_accuracy_and_has_a_decision_grid():
    rec = _train(spiral_mlp(**FAST))
    report = _report(rec)
    final = rec.of(EpochEnd)[-1]
    assert report.task == "classification" and report.data_kind == "tabular"
    assert report.dataset == "spirals" and report.val_samples == 100
    confusion = report.confusion
    assert len(confusion) == 2 and all(len(row) == 2 for row in confusion)
    total = sum(map(sum, confusion))
    assert total == report.val_samples
    diagonal = sum(confusion[i][i] for i in range(2))
    assert diagonal / total == pytest.approx(final.get("val_accuracy"), abs=1e-6)
    assert report.accuracy == pytest.approx(final.get("val_accuracy"), abs=1e-6)
    assert len(report.class_names) == 2
    samples = report.samples
    assert len(samples) == 48
    for s in samples:
        assert s["correct"] == (s["target"] == s["prediction"])
        assert 0.5 <= s["confidence"] <= 1 and len(s["input"]) == 2
    grid = report.decision_grid
    assert grid["size"] == 60 and len(grid["classes"]) == 60
    assert all(len(row) == 60 and set(row) <= {0, 1} for row in grid["classes"])
    assert grid["x_range"][0] < grid["x_range"][1] and grid["y_range"][0] < grid["y_range"][1]


def test_regression_run_reports_its_validation_errors():
    rec = _train(sine_mlp(**FAST, dataset={"name": "sine", "params": {"n_samples": 300},
                                           "validation_split": 0.2}, metrics=["mse", "mae"]))
    report = _report(rec)
    final = rec.of(EpochEnd)[-1]
    assert report.task == "regression" and report.val_samples == 60
    assert report.mse == pytest.approx(final.get("val_mse"), rel=1e-3)
    assert report.mae == pytest.approx(final.get("val_mae"), rel=1e-3)
    assert report.baseline_mse > 0
    assert len(report.scatter["target"]) == len(report.scatter["prediction"]) == 60


def test_a_failing_report_is_a_warning_and_the_run_completes(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(report_module, "_classification", broken)
    rec, console = Recorder(), io.StringIO()
    end = Trainer(spiral_mlp(**{**FAST, "epochs": 1}),
                  callbacks=[rec, ProgressPrinter(console)]).fit()
    assert end.status == "completed" and rec.events[-1] == end
    assert rec.of(Report) == []
    warning = rec.of(RunWarning)
    assert len(warning) == 1 and "boom" in warning[0].message
    assert "warning: could not compute the validation report: RuntimeError: boom" in \
        console.getvalue()


def test_no_report_without_a_validation_split():
    rec = _train(spiral_mlp(**{**FAST, "epochs": 1},
                            dataset={"name": "spirals", "params": {"n_samples": 100},
                                     "validation_split": 0}))
    assert rec.of(Report) == [] and rec.of(RunWarning) == []


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
        assert end.status == "stopped" and len(rec.of(Report)) == reports
