"""The Help menu (#15): the keyboard shortcuts (F1), read from the window's own menus so the list
cannot drift from them, and the documentation that ships with LayerLab."""
from __future__ import annotations

import html
import re
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QMenu, QTextBrowser, QVBoxLayout

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"


def doc_files() -> list[tuple[str, Path]]:
    """(title, path) of README.md and every docs/*.md, the title read from its first heading."""
    found = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        if not path.exists():
            continue
        title = next((line.lstrip("#").strip() for line in path.read_text(
            encoding="utf-8").splitlines() if line.startswith("#")), path.stem)
        found.append((f"{title} ({path.name})", path))
    return found


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every menu command that has a shortcut, in menu order."""
    rows = []

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{where} ▸ {_plain(action.text())}")
            elif not action.isSeparator() and action.shortcuts():
                keys = [k.toString(QKeySequence.SequenceFormat.NativeText)
                        for k in action.shortcuts()]
                shown = [keys[0], *(k for k in keys[1:] if _typeable(k))]
                rows.append((where, _plain(action.text()), ", ".join(shown)))
    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.text()))
    return rows


def _typeable(keys: str) -> bool:
    """Whether a platform's extra binding is one a keyboard has (Ctrl+Ins, not F14 or a
    multimedia "Copy" key)."""
    return "+" in keys or re.fullmatch(r"F([1-9]|1[0-2])|Del|Ins|Esc|Backspace", keys) is not None


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


class ShortcutsDialog(QDialog):
    """Every command's keyboard shortcut, grouped by menu."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 560)
        self.text = QTextBrowser(self)
        rows, last = [], None
        for menu, command, keys in shortcut_rows(window):
            if menu != last:
                rows.append(f"<tr><td colspan='2'><b>{html.escape(menu)}</b></td></tr>")
                last = menu
            rows.append(f"<tr><td>{html.escape(command)}</td>"
                        f"<td><code>{html.escape(keys)}</code></td></tr>")
        self.text.setHtml("<table cellspacing='4'>" + "".join(rows) + "</table><p>On the "
                          "canvas: drag a layer from the Layers panel, drag from an output port "
                          "to an input port to wire them, double-click a card to edit it, "
                          "scroll to zoom.</p>")
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)


def show_shortcuts(window: QMainWindow) -> ShortcutsDialog:
    """Open (or bring forward) the shortcuts list; it stays open beside the window."""
    dialog = getattr(window, "shortcuts_dialog", None)
    if dialog is None:
        dialog = window.shortcuts_dialog = ShortcutsDialog(window)
    dialog.show()
    dialog.raise_()
    return dialog


def add_help_menu(window: QMainWindow) -> QMenu:
    """Help ▸ Keyboard Shortcuts (F1) and the documentation files, opened in the desktop's viewer."""
    menu = window.menuBar().addMenu("&Help")
    shortcuts = QAction("&Keyboard Shortcuts", window)
    shortcuts.setShortcut(QKeySequence("F1"))
    shortcuts.setStatusTip("List every command's keyboard shortcut")
    shortcuts.triggered.connect(lambda: show_shortcuts(window))
    window.addAction(shortcuts)
    menu.addAction(shortcuts)
    docs = menu.addMenu("&Documentation")
    for title, path in doc_files():
        action = docs.addAction(title)
        action.setStatusTip(str(path))
        action.triggered.connect(
            lambda _=False, p=path: QDesktopServices.openUrl(QUrl.fromLocalFile(str(p))))
    return menu
