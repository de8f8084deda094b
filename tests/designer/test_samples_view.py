"""The Samples tab for adversarial runs (#14): 2-D samples drawn as points over the real data,
pictures as a grid, and the game's curves (D(x), D(G(z)), diversity) beside them."""
from __future__ import annotations

from designer.run_data import RunRecord
from designer.samples_view import SamplesView
from runtime.training.events import EpochEnd, Samples


def epoch(n: int, d_real: float, d_fake: float, diversity: float) -> EpochEnd:
    return EpochEnd(n, 3, 10 * n, 0.9, 0.8, {"train_d_real": d_real, "val_d_real": d_real,
                                              "train_d_fake": d_fake, "val_d_fake": d_fake,
                                              "val_diversity": diversity}, 0.001, 100.0, 1.0,
                    0.0)


def test_points_are_drawn_over_the_real_data_and_the_game_is_plotted(qtbot):
    view = SamplesView()
    qtbot.addWidget(view)
    view.show()
    run = RunRecord(1, {"nodes": [], "edges": []})
    run.apply([epoch(1, 0.6, 0.3, 0.4), epoch(2, 0.55, 0.45, 0.9),
               Samples(20, 2, "the generator's samples from 3 fixed noise vectors", [],
                       points=[[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]],
                       real=[[2.0, 0.0], [0.0, 2.0]])])
    view.show_run(run)
    assert view.points.isVisible() and view.game.isVisible() and not view.energy.isVisible()
    xs, ys = view.fake_dots.getData()
    assert list(xs) == [0.0, 1.0, 0.5] and list(ys) == [1.0, 0.0, 0.5]
    assert len(view.real_dots.getData()[0]) == 2
    assert "epoch 2: the generator's samples" in view.captions["dreams"].text()
    assert list(view.d_fake.getData()[1]) == [0.3, 0.45]
    assert list(view.diversity.getData()[1]) == [0.4, 0.9]
    assert not view.note.isVisible()


def test_pictures_hide_the_points_plot():
    view = SamplesView()
    run = RunRecord(1, {"nodes": [], "edges": []})
    run.apply([Samples(5, 1, "the generator's samples", [[[0.0, 1.0], [1.0, 0.0]]] * 4)])
    view.show_run(run)
    assert view.points.isHidden() and view.game.isHidden()
    assert view.pictures["dreams"].pixmap().width() > 0
    view.show_run(None)
    assert view.note.isVisibleTo(view) and view.points.isHidden()
