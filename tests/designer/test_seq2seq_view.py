"""A seq2seq preset trained in the app: the Samples tab shows the decoded pairs, the attention
map and the generation curves as it learns."""
import pytest
from PySide6.QtCore import Qt

from designer.main_window import PRESETS_DIR

RUN_TIMEOUT_MS = 90_000


@pytest.fixture
def window(make_window):
    win = make_window((1500, 950))
    win.messages = []
    win.show_error = lambda title, text: win.messages.append((title, text))
    win.open_preset(PRESETS_DIR / "seq2seq-reverse-attention.json")
    yield win
    win.trainer.shutdown()


def test_the_samples_tab_shows_decoded_pairs_and_the_attention_map(window, qtbot):
    training = dict(window.session.model.training, epochs=2, threads=1)
    training["dataset"] = dict(training["dataset"], params=dict(
        training["dataset"]["params"], n_samples=400))
    window.session.set_training(training)
    plots = window.plots
    qtbot.mouseClick(window.training_panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.trainer.current is not None and window.trainer.current.ended
                    and not window.trainer.busy, timeout=RUN_TIMEOUT_MS)
    run = window.trainer.current
    assert run.status == "completed", window.messages
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
