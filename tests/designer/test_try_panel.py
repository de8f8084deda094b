"""The Try it panel (#13), driven with real mouse events: draw a digit, pick validation samples,
click a 2-D point, and the message shown before any run."""
from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from designer.run_data import RunRecord
from designer.try_inputs import DrawingPad, FeatureEditor, PointPlot, ValuesEditor
from designer.try_panel import NO_RUN, TryPanel
from designer.try_views import LayerStrip
from runtime import document

from .trained import PRESETS, train as _train


@pytest.fixture(scope="module")
def spirals_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("runs"), "mlp-spirals", 2)


def _panel(qtbot, folder=None) -> TryPanel:
    panel = TryPanel()
    qtbot.addWidget(panel)
    panel.resize(520, 760)
    panel.show()
    qtbot.waitExposed(panel)
    if folder is not None:
        assert panel.load_run(folder)
    return panel


def test_without_a_run_the_panel_asks_for_training(qtbot):
    panel = _panel(qtbot)
    assert panel.header.text() == NO_RUN and panel.editor is None
    assert not panel.pick_button.isVisible()


def test_drawing_on_the_pad_changes_the_probabilities_live(qtbot, digits_run):
    panel = _panel(qtbot, digits_run)
    pad = panel.editor
    assert isinstance(pad, DrawingPad) and pad.grid.shape == (8, 8)
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.prediction is not None and not pad.grid.any(), timeout=2000)
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=2000)
    before = list(panel.bars.values)
    cell = pad.cell
    # a vertical stroke down the middle: a "1"
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(4 * cell, cell))
    for row in range(2, 8):
        qtbot.mouseMove(pad, QPoint(4 * cell, row * cell))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(4 * cell, 7 * cell))
    assert pad.grid[:, 3:5].sum() > 6 and pad.grid[:, 0].sum() == 0
    assert panel.sample_label.text().startswith("Your own input")
    qtbot.waitUntil(lambda: panel.bars.values != before, timeout=2000)
    assert sum(panel.bars.values) == pytest.approx(1.0, abs=1e-4)
    assert panel.bars.names == [str(i) for i in range(10)]
    assert panel.predict_ms < 50
    # the right button erases
    drawn = pad.grid.sum()
    qtbot.mousePress(pad, Qt.MouseButton.RightButton, pos=QPoint(4 * cell, 4 * cell))
    qtbot.mouseRelease(pad, Qt.MouseButton.RightButton, pos=QPoint(4 * cell, 4 * cell))
    assert pad.grid.sum() < drawn
    # feature maps of both convolutions, at most 8 each
    strip: LayerStrip = panel.strip
    convs = [n.id for n in panel.predictor.design.nodes.values() if n.type == "Conv2d"]
    assert convs and all(c in strip.pictures for c in convs)
    assert "feature maps" in strip.titles[convs[0]].text()


def test_picking_validation_samples_shows_each_with_a_prediction(qtbot, digits_run):
    panel = _panel(qtbot, digits_run)
    first = panel.editor.grid.copy()
    assert "Validation sample 1 of" in panel.sample_label.text()
    assert panel.answer.text() and len(panel.bars.values) == 10
    qtbot.mouseClick(panel.pick_button, Qt.MouseButton.LeftButton)
    assert "Validation sample 2 of" in panel.sample_label.text()
    assert (panel.editor.grid != first).any()
    assert panel.prediction.predicted == int(max(range(10), key=panel.bars.values.__getitem__))


def test_clicking_the_plane_queries_that_point(qtbot, spirals_run):
    panel = _panel(qtbot, spirals_run)
    plot = panel.editor
    assert isinstance(plot, PointPlot)
    target = plot.to_pixel(0.5, -0.25).toPoint()
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=target)
    assert plot.point == pytest.approx([0.5, -0.25], abs=0.02)
    qtbot.waitUntil(lambda: panel.prediction is not None and not panel._timer.isActive(),
                    timeout=2000)
    expected = panel.predictor.predict(plot.point)
    assert panel.bars.values == pytest.approx(expected.probabilities.tolist())
    assert len(panel.bars.values) == 2


def test_the_main_window_has_a_try_it_tab_that_follows_the_latest_run(make_window, digits_run):
    win = make_window()
    tabs = [win.side_tabs.tabText(i) for i in range(win.side_tabs.count())]
    assert "Try it" in tabs
    assert win.try_panel.header.text() == NO_RUN

    run = RunRecord(1, document.to_dict(document.load(PRESETS / "lenet-digits.json")))
    run.folder, run.status = str(digits_run), "completed"
    assert win.try_panel.trainer is win.trainer  # it listens to run_finished
    win.try_panel.follow(run)
    assert win.try_panel.predictor is not None
    assert isinstance(win.try_panel.editor, DrawingPad)


def test_tokens_are_typed_and_a_bad_line_is_explained(qtbot, tmp_path):
    panel = _panel(qtbot, _train(tmp_path, "transformer-majority", 1, n_samples=300))
    editor = panel.editor
    assert isinstance(editor, ValuesEditor) and editor.integers
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=2000)
    editor.edit.clear()
    qtbot.keyClicks(editor.edit, " ".join(["3"] * 16))
    qtbot.waitUntil(lambda: panel.prediction is not None and not panel._timer.isActive(),
                    timeout=2000)
    assert editor.grid.tolist() == [3] * 16 and len(panel.bars.values) == 5
    assert "encoder1:attention" in panel.strip.pictures  # where each token looked
    assert "heads" in panel.strip.titles["encoder1:attention"].text()
    assert panel.sample_label.text().startswith("Your own input")
    qtbot.keyClicks(editor.edit, " x")
    assert editor.problem.text() == "only whole numbers"


def test_a_table_is_edited_in_spin_boxes_and_a_regression_shows_its_output(qtbot, tmp_path):
    panel = _panel(qtbot, _train(tmp_path, "regression-sine", 1))
    editor = panel.editor
    assert isinstance(editor, FeatureEditor) and len(editor.spins) == 1
    assert panel.answer.text().startswith("Output:") and panel.bars.values == []
    before = panel.answer.text()
    editor.spins[0].setValue(1.5)
    qtbot.waitUntil(lambda: panel.answer.text() != before, timeout=2000)
    expected = panel.predictor.predict([1.5]).output
    assert panel.answer.text() == f"Output: {expected.item():.3g}"


def test_a_run_selected_in_the_runs_list_is_tried(make_window, digits_run, spirals_run):
    win = make_window()
    runs = win.plots.runs
    runs.add_root(spirals_run)
    runs.select_folders([spirals_run])
    assert win.try_panel.folder == str(spirals_run)
    assert isinstance(win.try_panel.editor, PointPlot)


def test_the_first_layers_filters_are_shown_for_picture_inputs(qtbot, digits_run, spirals_run,
                                                               tmp_path):
    panel = _panel(qtbot, digits_run)  # LeNet: conv1's 16 kernels, 3x3 each
    assert panel.filters.isVisible() and "conv1: all 16 units" in panel.filters_title.text()
    picture = panel.filters.pixmap()
    assert picture.width() > picture.height() > 0  # two rows of eight
    rbm = _train(tmp_path, "rbm-digits", 1)  # an RBM on flattened digits: weight rows as 8x8
    assert panel.load_run(rbm)
    assert "rbm: the first 32 of 100 units" in panel.filters_title.text()
    assert panel.filters.pixmap().cacheKey() != picture.cacheKey()
    assert panel.load_run(spirals_run)  # 2-D points are no picture: nothing to draw
    assert not panel.filters.isVisible() and not panel.filters_title.isVisible()
    panel.show_message(NO_RUN)
    assert not panel.filters.isVisible()


def test_an_rbm_redraws_and_dreams_from_the_drawing(qtbot, tmp_path):
    rbm = _train(tmp_path, "rbm-digits", 3)
    panel = _panel(qtbot, rbm)
    assert panel.dreams.isVisible() and "What the RBM dreams" in panel.dream_title.text()
    assert "(its target is the input itself)" in panel.sample_label.text()
    first = panel.dreams.pixmap().toImage()
    pad = panel.editor
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(pad.cell * 4, pad.cell))
    for row in range(2, 8):
        qtbot.mouseMove(pad, QPoint(pad.cell * 4, row * pad.cell))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(pad.cell * 4, 7 * pad.cell))
    qtbot.waitUntil(lambda: panel.dreams.pixmap().toImage() != first, timeout=3000)
    dreams = panel.predictor.dream(panel._input())
    assert [steps for steps, _ in dreams] == [1, 5, 20, 100, 500]
    assert all(t.shape == (64,) and 0 <= float(t.min()) and float(t.max()) <= 1
               for _, t in dreams)
    again = panel.predictor.dream(panel._input())  # seeded: the same drawing dreams the same
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(dreams, again))


def test_a_gan_run_shows_what_its_generator_makes_and_new_noise_redraws(qtbot, tmp_path):
    gan = _train(tmp_path, "lesson-gan-mode-collapse-fixed", 2, n_samples=600)
    panel = _panel(qtbot, gan)
    assert panel.generator is not None and panel.predictor is None and panel.editor is None
    assert "turns random noise (8 values)" in panel.header.text()
    assert panel.generate_button.isVisible() and not panel.pick_button.isVisible()
    assert "2000 generated points" in panel.dream_title.text() and panel.dreams.isVisible()
    first = panel.dreams.pixmap().toImage()
    assert first.width() == first.height() == 256  # 64 bins of 4 pixels
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert "(draw 2)" in panel.dream_title.text() and panel.dreams.pixmap().toImage() != first
    made = panel.generator.generate(5, seed=7)
    assert made.shape == (5, 2) and torch.equal(made, panel.generator.generate(5, seed=7))


def test_a_gan_of_pictures_shows_a_grid_and_an_ordinary_run_hides_the_button(qtbot, tmp_path,
                                                                             spirals_run):
    dcgan = _train(tmp_path, "dcgan-digits", 1)
    panel = _panel(qtbot, dcgan)
    assert "32 generated samples" in panel.dream_title.text()
    grid = panel.dreams.pixmap()
    assert grid.width() == 8 * 40 + 7 * 6 and grid.height() == 4 * 40 + 3 * 6
    assert panel.load_run(spirals_run)
    assert panel.generator is None and not panel.generate_button.isVisible()
    assert panel.editor is not None
