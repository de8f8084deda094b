"""Designs beyond one Input and one Output trained in the app: several Inputs and Outputs (the
per-output curves and one validation report per Output, chosen in the Results tab) and seq2seq
(the Samples tab's decoded pairs, attention map and generation curves)."""
import pytest
from PySide6.QtCore import Qt

from designer.main_window import PRESETS_DIR

RUN_TIMEOUT_MS = 90_000


@pytest.fixture
def window_on(make_window):
    """A window on a preset, with its training shrunk to `epochs` and `n_samples`."""
    windows = []

    def open_preset(name: str, n_samples: int, epochs: int = 2):
        win = make_window((1500, 950))
        win.messages = []
        win.show_error = lambda title, text: win.messages.append((title, text))
        win.open_preset(PRESETS_DIR / f"{name}.json")
        training = dict(win.session.model.training, epochs=epochs, threads=1)
        training["dataset"] = dict(training["dataset"], params=dict(
            training["dataset"].get("params") or {}, n_samples=n_samples))
        win.session.set_training(training)
        windows.append(win)
        return win
    yield open_preset
    for win in windows:
        win.trainer.shutdown()


def train(window, qtbot):
    """Press Train and wait for the run to end."""
    qtbot.mouseClick(window.training_panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.trainer.current is not None and window.trainer.current.ended
                    and not window.trainer.busy, timeout=RUN_TIMEOUT_MS)
    run = window.trainer.current
    assert run.status == "completed", window.messages
    return run


def test_two_inputs_two_outputs_train_and_report_each_output(window_on, qtbot):
    window = window_on("digit-pairs", 600)
    run = train(window, qtbot)
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


def test_the_samples_tab_shows_decoded_pairs_and_the_attention_map(window_on, qtbot):
    window = window_on("seq2seq-reverse-attention", 400)
    plots = window.plots
    run = train(window, qtbot)
    assert run.translations["epoch"] == 2 and len(run.translations["pairs"]) == 8
    bar = plots.tabs.tabBar()  # the learner opens the Samples tab
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton,
                     pos=bar.tabRect(plots.tabs.indexOf(plots.samples)).center())
    view = plots.samples.translations
    qtbot.waitUntil(lambda: view.isVisible() and "epoch 2" in view.caption.text())
    assert not plots.samples.note.isVisible()
    text = view.pairs.toPlainText()
    first = run.translations["pairs"][0]
    assert " ".join(map(str, first["source"])) in text and "decoded" in text
    assert view.attention.isVisible() and view.map.image.shape == (10, 10)
    assert "Where attend looks" in view.attention.item.titleLabel.text
    assert len(view.sequences.getData()[0]) == 2  # a point per epoch


def test_a_gan_trained_in_the_app_shows_its_points_and_the_game(window_on, qtbot):
    window = window_on("gan-2d", 1000)
    run = train(window, qtbot)
    assert run.samples["dreams"]["epoch"] == 2 and run.samples["dreams"]["points"]
    plots = window.plots
    bar = plots.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton,
                     pos=bar.tabRect(plots.tabs.indexOf(plots.samples)).center())
    view = plots.samples
    qtbot.waitUntil(lambda: view.points.isVisible() and view.game.isVisible())
    assert len(view.fake_dots.getData()[0]) == len(run.samples["dreams"]["points"])
    assert len(view.d_real.getData()[0]) == 2  # D(x) per epoch
    assert not view.translations.isVisible()


def test_confusion_matrix_labels_stay_apart_with_many_long_class_names(qtbot):
    """ResNet's 8 shape names ran together under the columns: the columns are numbered and the
    rows name the classes; a few short names stay as they are."""
    from designer.results_view import ConfusionMatrix, confusion_ticks

    names = ["circle", "square", "triangle", "cross", "ring", "star", "diamond", "plus"]
    bottom, left = confusion_ticks(names, 8)
    assert [label for _, label in bottom[0]] == [str(i) for i in range(8)]
    assert left[0][2] == (2.5, "2 triangle")
    assert confusion_ticks(["cat", "dog"], 2) == ([[(0.5, "cat"), (1.5, "dog")]],) * 2
    assert confusion_ticks([str(d) for d in range(10)], 10)[0][0][9] == (9.5, "9")
    view = ConfusionMatrix()
    qtbot.addWidget(view)
    view.show_matrix([[1 if i == j else 0 for j in range(8)] for i in range(8)], names)
    assert view.item.getAxis("bottom")._tickLevels[0][3] == (3.5, "3")
