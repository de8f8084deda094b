"""Losses, metrics, augmentation and OOM reporting."""
import pytest
import torch

from runtime.errors import TrainingError
from runtime.specs import TensorInfo
from runtime.training import Trainer
from runtime.training.augment import augment
from runtime.training.losses import LOSSES, check_compatible, compute_loss
from runtime.training.metrics import MetricAccumulator
from tests.runtime.test_trainer import spiral_mlp


def test_metrics_over_batches():
    acc = MetricAccumulator(["accuracy", "top2_accuracy"], "cross_entropy")
    scores = torch.tensor([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0], [3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    labels = torch.tensor([0, 2, 1, 0])
    acc.update(scores[:2], labels[:2], torch.tensor(1.0))
    acc.update(scores[2:], labels[2:], torch.tensor(3.0))
    result = acc.result()
    assert result["loss"] == pytest.approx(2.0)
    assert result["accuracy"] == pytest.approx(0.25)
    assert result["top2_accuracy"] == pytest.approx(0.75)


def test_regression_metrics():
    acc = MetricAccumulator(["mse", "mae", "r2"], "mse")
    y = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    pred = torch.tensor([[1.5], [2.0], [2.0], [4.0]])
    acc.update(pred, y, torch.tensor(0.0))
    result = acc.result()
    assert result["mse"] == pytest.approx((0.25 + 1.0) / 4)
    assert result["mae"] == pytest.approx(1.5 / 4)
    assert result["r2"] == pytest.approx(1 - 1.25 / 5.0)


def test_per_step_classification_loss_and_accuracy():
    scores = torch.randn(4, 6, 10)
    labels = torch.randint(0, 10, (4, 6))
    expected = torch.nn.functional.cross_entropy(scores.permute(0, 2, 1), labels)
    assert compute_loss("cross_entropy", scores, labels) == pytest.approx(expected.item())
    acc = MetricAccumulator(["accuracy"], "cross_entropy")
    acc.update(scores, labels, expected)
    assert acc.result()["accuracy"] == pytest.approx(
        (scores.argmax(-1) == labels).float().mean().item())


@pytest.mark.parametrize("loss", [name for name, spec in LOSSES.items()
                                  if spec.task in ("multilabel", "regression")])
def test_elementwise_losses_accept_column_targets(loss):
    out = torch.randn(5, 1)
    target = torch.randint(0, 2, (5,)) if loss == "bce" else torch.randn(5, 1)
    assert torch.isfinite(compute_loss(loss, out, target))


def test_kl_div_and_nll():
    scores = torch.randn(5, 3)
    labels = torch.randint(0, 3, (5,))
    kl = compute_loss("kl_div", scores, labels)
    ce = compute_loss("cross_entropy", scores, labels)
    assert kl.item() == pytest.approx(ce.item(), rel=1e-5)  # KL to one-hot = cross-entropy
    log_probs = torch.log_softmax(scores, -1)
    assert compute_loss("nll", log_probs, labels).item() == pytest.approx(ce.item(), rel=1e-5)


def test_incompatible_output_and_targets():
    with pytest.raises(TrainingError, match="needs class labels"):
        check_compatible("cross_entropy", [], TensorInfo((1,)), (1,), torch.float32, None)
    with pytest.raises(TrainingError, match=r"make the last layer produce 1 value"):
        check_compatible("mse", [], TensorInfo((4,)), (1,), torch.float32, None)
    with pytest.raises(TrainingError, match="metric accuracy does not apply to regression"):
        check_compatible("mse", ["accuracy"], TensorInfo((1,)), (1,), torch.float32, None)


def test_image_augmentation():
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 4, 4)
    x[:, :, :, 0] = 1.0  # a bright left column
    flipped = augment(x, {"flip": True, "shift": 0, "noise": 0.0}, "image", gen)
    moved = flipped[:, 0, 0, 3] == 1.0
    assert 10 < moved.sum() < 54 and torch.equal(flipped[~moved], x[~moved])
    shifted = augment(x, {"flip": False, "shift": 1, "noise": 0.0}, "image",
                      torch.Generator().manual_seed(3))
    assert shifted.sum() == x.sum()
    noisy = augment(x, {"flip": False, "shift": 0, "noise": 0.1}, "sequence", gen)
    assert 0.05 < (noisy - x).std() < 0.15
    tokens = torch.ones(3, 5, dtype=torch.int64)
    assert augment(tokens, {"flip": True, "shift": 2, "noise": 1.0}, "sequence", gen) is tokens


def test_out_of_memory_is_reported_with_a_smaller_batch(monkeypatch):
    import dataclasses

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    monkeypatch.setitem(LOSSES, "cross_entropy",
                        dataclasses.replace(LOSSES["cross_entropy"], compute=exhausted))
    with pytest.raises(TrainingError) as info:
        Trainer(spiral_mlp()).fit()
    assert info.value.kind == "oom"
    assert "batch size 32" in str(info.value) and "such as 16" in str(info.value)


def test_check_spacing_adapts_to_the_step_cost():
    from runtime.training.monitor import MonitorSchedule
    from runtime.training.trainer import CHECK_BUDGET, MAX_CHECK_EVERY

    def schedule_for(plain: float, checked: float) -> int:
        s = MonitorSchedule("auto", CHECK_BUDGET, MAX_CHECK_EVERY, min_every=1, start_every=2)
        for step in range(1, 200):
            due = s.due(step)
            s.record(step, checked if due else plain, due)
        return s.every

    assert schedule_for(0.001, 0.0015) == MAX_CHECK_EVERY  # a tiny MLP: checks are sampled
    assert schedule_for(0.001, 0.0012) == 20  # spaced to cost 1 %: 0.2 ms extra every 20 steps
    assert schedule_for(0.050, 0.0502) == 1  # a real network: every batch is checked


def test_a_slow_warm_up_step_does_not_lock_checks_on_every_batch():
    """The first plain step can be slower than the checked ones after it (caches warming up):
    the schedule must not decide on it, and a decision to check every batch is re-measured."""
    from runtime.training.monitor import MonitorSchedule
    from runtime.training.trainer import CHECK_BUDGET, CHECK_REPROBE, MAX_CHECK_EVERY

    s = MonitorSchedule("auto", CHECK_BUDGET, MAX_CHECK_EVERY, min_every=1, start_every=2,
                        reprobe=CHECK_REPROBE)
    plain_seen = 0
    for step in range(1, 400):
        due = s.due(step)
        if not due:
            plain_seen += 1
        # a tiny network: checks cost 50 %, but the first plain step took 3x a checked one
        seconds = 0.0015 if due else (0.0045 if plain_seen == 1 else 0.001)
        s.record(step, seconds, due)
    assert s.every == MAX_CHECK_EVERY

    locked = MonitorSchedule("auto", CHECK_BUDGET, MAX_CHECK_EVERY, min_every=1, start_every=2,
                             reprobe=CHECK_REPROBE)
    locked.every = 1  # as if an early measurement had been misleading
    for step in range(1, 400):
        due = locked.due(step)
        locked.record(step, 0.0015 if due else 0.001, due)
    assert locked.every == MAX_CHECK_EVERY


def test_a_metric_nobody_measured_is_nan_not_zero():
    acc = MetricAccumulator(["accuracy"], "cross_entropy")
    acc.add_loss(0.5, torch.zeros(4))
    result = acc.result()
    assert result["loss"] == 0.5 and result["accuracy"] != result["accuracy"]
