"""A design with several Inputs and Outputs trained in the app: the per-output curves and one
validation report per Output, chosen in the Results tab."""
import pytest
from PySide6.QtCore import Qt

from designer.main_window import PRESETS_DIR

RUN_TIMEOUT_MS = 90_000


@pytest.fixture
def window(make_window):
    win = make_window((1500, 950))
    win.messages = []
    win.show_error = lambda title, text: win.messages.append((title, text))
    win.open_preset(PRESETS_DIR / "digit-pairs.json")
    yield win
    win.trainer.shutdown()


def test_two_inputs_two_outputs_train_and_report_each_output(window, qtbot):
    training = dict(window.session.model.training, epochs=2, threads=1)
    training["dataset"] = dict(training["dataset"], params={"n_samples": 600})
    window.session.set_training(training)
    qtbot.mouseClick(window.training_panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.trainer.current is not None and window.trainer.current.ended
                    and not window.trainer.busy, timeout=RUN_TIMEOUT_MS)
    run = window.trainer.current
    assert run.status == "completed", window.messages
    # every output's loss and metrics per epoch, and the shared accuracy the Metric plot shows
    for key in ("val_sum_loss", "val_sum_accuracy", "val_difference_loss", "val_accuracy"):
        assert len(run.epoch_series[key]) == 2, key
    assert window.plots.overview.metric_plot.metric_name == "accuracy"
    assert [r["output"] for r in run.reports] == ["sum", "difference"]
    results = window.plots.results
    assert not results.output.isHidden() and results.output.count() == 2
    assert results.summary.text().startswith("sum: Validation accuracy")
    assert not results.grid.isHidden() and results.scatter.isHidden()
    results.output.setCurrentIndex(1)  # the user picks the regression head
    assert results.summary.text().startswith("difference: Validation MSE")
    assert not results.scatter.isHidden() and results.grid.isHidden()
