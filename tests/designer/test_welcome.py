"""The welcome view (#15): every preset as a card with a picture and a one-line summary, a search,
and a click (or Enter) that opens the preset; the design's summary edited in Properties."""
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from designer import welcome
from designer.welcome import MORE, WelcomeDialog, diagram_picture, preset_entries
from runtime.preset_files import PRESETS_DIR

PRESETS = sorted(PRESETS_DIR.glob("*.json"))


@pytest.fixture
def dialog(make_window, qtbot):
    """The welcome view opened from Help ▸ Welcome over a window at its default size."""
    win = make_window()
    win.open_preset(PRESETS_DIR / "mlp-spirals.json")
    action = next(a for a in win.help_menu.actions() if a.text() == "&Welcome…")
    action.trigger()
    view = win.findChild(WelcomeDialog)
    qtbot.waitExposed(view)
    return win, view


def test_every_preset_is_a_card_with_a_summary_in_a_named_group(dialog):
    win, view = dialog
    assert sorted(card.path for card in view.cards) == PRESETS
    assert all(card.summary and card.toolTip() for card in view.cards)
    assert all(entry.group is not MORE for entry in view.entries), "give each preset a group"
    assert view.blank.isVisible() and all(card.isVisible() for card in view.cards)
    # the picture is drawn from the design: not just the background
    card = view.cards[0]
    image = diagram_picture(card.diagram, QSize(200, 100)).toImage()
    assert len({image.pixel(x, y) for x in range(0, 200, 4) for y in range(0, 100, 4)}) > 3


def test_typing_in_the_search_filters_by_name_and_summary(dialog, qtbot):
    win, view = dialog
    QTest.keyClicks(view.search, "lstm")
    names = [card.name for card in view.visible_cards()]
    assert names and all("lstm" in (c.name + c.summary).lower() for c in view.visible_cards())
    assert "MLP on spirals" not in names and not view.blank.isVisible()
    view.search.clear()
    QTest.keyClicks(view.search, "dead fraction")  # words of a summary, not of a name
    assert [c.path.stem for c in view.visible_cards()] == ["lesson-dying-relu"]
    view.search.clear()
    QTest.keyClicks(view.search, "no such network")
    assert not view.visible_cards() and view.empty.isVisible()


def test_clicking_a_card_opens_its_preset_and_closes_the_view(dialog, qtbot):
    win, view = dialog
    card = next(c for c in view.cards if c.path.stem == "lenet-digits")
    view.scroll.ensureWidgetVisible(card)
    QTest.mouseClick(card, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.session.model.name == "LeNet-style CNN on digits")
    assert not view.isVisible() and win.session.path is None  # a preset opens unsaved


def test_enter_in_the_search_opens_the_first_match(dialog, qtbot):
    win, view = dialog
    QTest.keyClicks(view.search, "mode collapse fixed")
    QTest.keyClick(view.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.session.model.name == "Lesson: mode collapse, fixed (GAN)")


def test_enter_on_a_card_opens_it(dialog, qtbot):
    win, view = dialog
    QTest.keyClicks(view.search, "regression")
    QTest.keyClick(view.search, Qt.Key.Key_Down)  # from the search into the cards
    assert QApplication.focusWidget() is view.visible_cards()[0]
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: win.session.model.name == "Regression: fit a sine wave")


def test_the_blank_card_gives_an_empty_design(dialog, qtbot):
    win, view = dialog
    assert win.session.model.nodes
    QTest.mouseClick(view.blank, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.isVisible())
    assert not win.session.model.nodes and win.session.model.name == "Untitled"


def test_first_start_shows_it_once_and_never_by_itself(make_window, qtbot):
    win = make_window()
    assert win.findChild(WelcomeDialog) is None  # tests and screenshots never see it pop up
    shown = win.show_welcome(first_start=True)
    assert shown is not None
    shown.close()
    assert win.show_welcome(first_start=True) is None


def test_file_menu_opens_it(make_window, qtbot):
    win = make_window()
    file_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&File")
    next(a for a in file_menu.actions() if a.text() == "New from Pre&set…").trigger()
    assert win.findChild(WelcomeDialog).isVisible()


def test_groups_come_from_one_declaration(tmp_path):
    for stem in ("lesson-x", "lesson-x-fixed", "transfer-y", "mine"):
        (tmp_path / f"{stem}.json").write_text(
            (PRESETS_DIR / "mlp-spirals.json").read_text(encoding="utf-8").replace(
                "MLP on spirals", f"Preset {stem}"), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")  # skipped, not fatal
    groups = [(e.path.stem, e.group.title) for e in preset_entries(tmp_path)]
    assert groups == [("lesson-x", "Break it and fix it"), ("lesson-x-fixed", "Break it and fix it"),
                      ("transfer-y", "Transfer learning"), ("mine", "More")]


def test_a_long_chain_is_drawn_in_rows():
    boxes = tuple((i * 270.0, 0.0, "Core") for i in range(12))
    places, scale = welcome.wrap_rows(boxes, 240, 110, 0.3)
    assert len({y for _, y in places}) > 1 and scale > 240 / (12 * 270)
    short = tuple((i * 270.0, 0.0, "Core") for i in range(3))
    assert len({y for _, y in welcome.wrap_rows(short, 240, 110, 0.3)[0]}) == 1


def test_the_summary_is_edited_in_properties_with_undo(make_window, qtbot):
    win = make_window()
    win.open_preset(PRESETS_DIR / "mlp-spirals.json")
    panel = win.properties
    win.show_side_tab(panel)
    panel.show_node(None)
    field = panel._design_summary
    assert field.text() == win.session.model.summary != ""
    field.setFocus()
    field.selectAll()
    QTest.keyClicks(field, "Spirals, untangled.")
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert win.session.model.summary == "Spirals, untangled."
    assert win.session.undo_stack.undoText() == "Edit summary"
    win.session.undo_stack.undo()
    assert field.text() == win.session.model.summary != "Spirals, untangled."
