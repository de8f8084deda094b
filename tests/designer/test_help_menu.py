"""Help: F1 lists every command's shortcut (read from the menus), and the documentation opens
from the Help menu."""
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

from designer import help_menu


def test_f1_lists_the_shortcuts_of_the_menus(make_window, qtbot):
    window = make_window((1200, 800))
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    QTest.keyClick(window, Qt.Key.Key_F1)
    dialog = window.shortcuts_dialog
    qtbot.waitUntil(dialog.isVisible)
    text = dialog.text.toPlainText()
    for command, keys in (("Train", "F5"), ("Undo", "Ctrl+Z"), ("Keyboard Shortcuts", "F1")):
        assert any(row[1] == command and keys in row[2]
                   for row in help_menu.shortcut_rows(window)), command
        assert command in text and keys in text
    assert "Training" in text and "Edit" in text  # grouped by menu


def test_the_documentation_opens_in_the_desktop_viewer(make_window, monkeypatch):
    window = make_window((1200, 800))
    opened = []
    monkeypatch.setattr(help_menu.QDesktopServices, "openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)
    docs = next(a.menu() for a in window.help_menu.actions() if a.menu() is not None)
    titles = [a.text() for a in docs.actions()]
    assert any("training.md" in t for t in titles) and any("README.md" in t for t in titles)
    next(a for a in docs.actions() if "training.md" in a.text()).trigger()
    assert opened == [str(help_menu.DOCS / "training.md")]


def test_no_two_commands_share_a_key(make_window):
    """Two actions on one key make it ambiguous and neither fires (Linux binds Delete to Ctrl+D
    too, Duplicate's key)."""
    window = make_window((1200, 800))
    seen = {}
    for action in window.findChildren(QAction):
        for key in action.shortcuts():
            assert seen.setdefault(key.toString(), action.text()) == action.text(), key.toString()
    assert window.act_duplicate.shortcut().toString() == "Ctrl+D"
    rows = {row[1]: row[2] for row in help_menu.shortcut_rows(window)}
    assert rows["Undo"].startswith("Ctrl+Z") and "F14" not in rows["Undo"]
