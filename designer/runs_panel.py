"""The Runs tab: every kept run of this design (and of designs the user adds), read from disk.

A run folder (runtime/runs.py) outlives the app, so the list is read from `runs_root(path)` each
time the design or its runs change, never from memory; a `RunCache` parses only the run.json and
design.json files that changed since the last refresh. Selecting runs overlays their curves
(the plots ask `selected_records()`), lists what changed in their architecture and outlines the
touched nodes on the canvas; the buttons rename, delete and restore runs. Dialogs go through the
`ask_*`/`show_error` methods, which the tests replace.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView,
                               QInputDialog, QLabel, QMenu, QMessageBox, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout,
                               QWidget)

from runtime.design_diff import diff_documents
from runtime.document import to_dict
from runtime.errors import LayerLabError
from runtime.runs import (DESIGN, META, RUNS_SUFFIX, RunCache, RunError, RunInfo, delete_run,
                          list_runs, newest_first, rename_run, runs_root)

from .run_data import RunRecord
from .session import DesignSession

COLUMNS = ("run", "design", "date", "status", "epochs", "final", "what changed")
#: Run folders parsed once per process (RunCache re-reads a file only when it changed), and
#: (older folder, newer folder) -> (older design, newer design, what changed): the designs are
#: the cache's objects, the same while their files are unchanged.
_SHARED_CACHE = RunCache()
_SHARED_DIFFS: dict[tuple[str, str], tuple[dict | None, dict | None, str]] = {}
MAX_DIFFS = 10_000


def _num(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "–"


def _changes(before: dict | None, after: dict | None) -> str:
    if before is None or after is None:
        return "" if before is None and after is not None else "?"
    try:
        labels = diff_documents(before, after).labels(limit=3)
    except LayerLabError:
        return "?"
    return ", ".join(labels) if labels else "same settings"


def final_text(meta: dict) -> str:
    """A run's final metrics in a few words ("val_loss 0.31, val_accuracy 0.92")."""
    final = meta.get("final") or {}
    keys = [k for k in ("val_loss", "train_loss") if k in final][:1]
    keys += [k for k in final if k.startswith("val_") and k != "val_loss"][:1]
    return ", ".join(f"{k} {_num(final[k])}" for k in keys) or "–"


class RunsPanel(QWidget):
    """The kept runs of the open design and of added designs, newest first.

    Signals:
        selection_changed(): the selected runs changed (the plots redraw their overlay).
        highlight(list): node ids an architecture diff touched (the canvas outlines them).
        restore_requested(str): the user asked to open this design.json in the editor.
        resume_requested(str, int): continue this run folder's last.pt for this many epochs.
    """

    selection_changed = Signal()
    highlight = Signal(list)
    restore_requested = Signal(str)
    resume_requested = Signal(str, int)
    roots_changed = Signal(list)  # the added folders (str), to be remembered across restarts

    def __init__(self, session: DesignSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.extra_roots: list[Path] = []  # .runs folders of other designs the user added
        self.infos: list[RunInfo] = []
        self.problems: list[str] = []
        self.live_folder: str | None = None  # the run going now (drawn live, not overlaid)
        self._numbers: dict[str, int] = {}  # folder -> a stable number (overlay colours)
        self._records: dict[str, tuple[tuple, RunRecord]] = {}
        # shared by every window of the process: a second window (or a reopened one) finds
        # the runs parsed and compared already
        self._cache = _SHARED_CACHE
        self._diffs = _SHARED_DIFFS

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1,
                                                           QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.itemSelectionChanged.connect(self._on_selection)

        # one button: a click adds another design's runs, its menu forgets those added
        self.add_button = QToolButton()
        self.add_button.setText("Add runs…")
        self.add_button.setToolTip("List the runs of another design file or .runs folder too "
                                   "(remembered when the app starts again); the arrow's menu "
                                   "goes back to this design's runs only")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.add_button.setMenu(QMenu(self.add_button))
        self.add_button.menu().addAction("Add runs of another design…", self._ask_add)
        self.forget_action = self.add_button.menu().addAction("Only this design's runs",
                                                              self.forget_roots)
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete…")
        self.restore_button = QPushButton("Restore design")
        self.restore_button.setToolTip("Open the design exactly as this run trained it")
        self.resume_button = QPushButton("Continue for")
        self.resume_button.setToolTip("Train the run on from its last checkpoint: a new run")
        self.resume_epochs = QSpinBox()
        self.resume_epochs.setRange(1, 100000)
        self.resume_epochs.setValue(5)
        self.resume_epochs.setSuffix(" epochs")
        self.resume_button.clicked.connect(self._resume)
        self.add_button.clicked.connect(self._ask_add)
        self.rename_button.clicked.connect(self._ask_rename)
        self.delete_button.clicked.connect(self._ask_delete)
        self.restore_button.clicked.connect(self._restore)
        bar = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.delete_button,
                       self.restore_button, self.resume_button, self.resume_epochs):
            bar.addWidget(button)
        bar.addStretch(1)
        self.diff_label = QLabel("Select a run to compare it with the design; two to compare "
                                 "them. Select several to overlay their curves.")
        self.diff_label.setWordWrap(True)
        self.diff_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label = QLabel("")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #e3b341;")
        self.problem_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.diff_label)
        layout.addWidget(self.problem_label)
        session.path_changed.connect(lambda _path: self.refresh())
        session.model_replaced.connect(lambda: self.highlight.emit([]))
        # a run compared with the design: the comparison follows the design's edits
        session.analysis_changed.connect(lambda _a: len(self.selected_infos()) == 1
                                         and self._show_diff())
        self._update_buttons()
        self.refresh()

    # --- reading ----------------------------------------------------------------------------
    def roots(self) -> list[Path]:
        own = runs_root(self.session.path)
        return [own] + [r for r in self.extra_roots if r != own]

    def refresh(self) -> None:
        """Read the run folders again (keeping the selection by folder)."""
        selected = {str(i.folder) for i in self.selected_infos()}
        infos, problems = [], []
        for root in self.roots():
            try:
                found, trouble = list_runs(root, self._cache)
            except OSError as err:
                found, trouble = [], [f"cannot list {root}: {err}"]
            infos += found
            problems += trouble
        infos = newest_first(infos)
        self.infos, self.problems = infos, problems
        changes = self._what_changed(infos)
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setRowCount(len(infos))
        for row, info in enumerate(infos):
            self._numbers.setdefault(str(info.folder), len(self._numbers) + 1)
            meta = info.meta
            cells = (info.name, meta.get("design_name") or info.folder.parent.name,
                     (meta.get("created") or "")[:16].replace("T", " "), info.status,
                     str(meta.get("epochs_run", "–")), final_text(meta),
                     changes.get(str(info.folder), ""))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(info.folder) if column == 0 else text)
                self.table.setItem(row, column, item)
            self.table.item(row, 0).setData(Qt.ItemDataRole.UserRole, str(info.folder))
        for row, info in enumerate(infos):
            if str(info.folder) in selected:
                self._select_row(row)
        self.table.resizeColumnsToContents()
        self.table.blockSignals(False)
        self.problem_label.setText("\n".join(f"Cannot read: {p}" for p in problems))
        self.problem_label.setVisible(bool(problems))
        self._on_selection()

    def _select_row(self, row: int) -> None:
        model = self.table.selectionModel()
        index = self.table.model().index(row, 0)
        model.select(index, model.SelectionFlag.Select | model.SelectionFlag.Rows)

    def _what_changed(self, infos: list[RunInfo]) -> dict[str, str]:
        """Per folder, what changed from the run before it under the same root."""
        out, by_root, diffs = {}, {}, {}
        for info in infos:
            by_root.setdefault(info.folder.parent, []).append(info)
        for runs in by_root.values():
            older = None
            for info in reversed(runs):  # oldest first
                doc = self._cache.design_document(info.folder)
                if older is None:
                    out[str(info.folder)] = ""
                else:
                    key = (str(older[0]), str(info.folder))
                    cached = self._diffs.get(key)
                    if cached is None or cached[0] is not older[1] or cached[1] is not doc:
                        cached = (older[1], doc, _changes(older[1], doc))
                    diffs[key] = cached
                    out[str(info.folder)] = cached[2]
                older = (info.folder, doc)
        if len(self._diffs) > MAX_DIFFS:  # pairs no panel lists any more
            self._diffs.clear()
        self._diffs.update(diffs)
        return out

    def selected_infos(self) -> list[RunInfo]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.infos[r] for r in rows if r < len(self.infos)]

    def number_of(self, folder: str | Path) -> int:
        return self._numbers.setdefault(str(folder), len(self._numbers) + 1)

    def record(self, info: RunInfo) -> RunRecord | None:
        """The run rebuilt from its events (cached until its events file, name or status
        changes)."""
        key = str(info.folder)
        try:
            stat = (info.folder / "events.jsonl").stat()
            stamp = (stat.st_mtime_ns, stat.st_size, info.name, info.status)
        except OSError:
            stamp = (0, 0, info.name, info.status)
        cached = self._records.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            record = RunRecord.from_folder(info.folder, self.number_of(info.folder))
        except RunError as err:
            self.problems.append(str(err))
            return None
        self._records[key] = (stamp, record)
        return record

    def selected_records(self) -> list[RunRecord]:
        """The selected runs to overlay (the live run is drawn by the plots themselves)."""
        return [r for r in (self.record(i) for i in self.selected_infos()
                            if str(i.folder) != self.live_folder) if r is not None]

    def select_folders(self, folders) -> None:
        """Select these runs (by folder), and only these."""
        wanted = {str(f) for f in folders}
        self.table.clearSelection()
        for row, info in enumerate(self.infos):
            if str(info.folder) in wanted:
                self._select_row(row)

    def add_root(self, path: str | Path) -> None:
        """List the runs of another design: its file, or its `.runs` folder."""
        path = Path(path)
        if path.name == META:  # a run's run.json: its design's runs
            path = path.parent
        root = path if path.is_dir() else runs_root(path)
        if path.is_dir() and not path.name.endswith(RUNS_SUFFIX) and (path / META).exists():
            root = path.parent  # a single run folder: its design's runs
        if root not in self.extra_roots:
            self.extra_roots.append(root)
            self.roots_changed.emit([str(r) for r in self.extra_roots])
        self.refresh()

    def set_roots(self, folders) -> None:
        """List these runs folders besides the design's own (those remembered from the last
        session; folders that no longer exist are dropped)."""
        folders = [str(f) for f in folders]
        self.extra_roots = [Path(f) for f in folders if Path(f).is_dir()]
        if len(self.extra_roots) != len(folders):  # forget the vanished ones for good
            self.roots_changed.emit([str(r) for r in self.extra_roots])
        self.refresh()

    def forget_roots(self) -> None:
        """List the design's own runs only."""
        if self.extra_roots:
            self.extra_roots = []
            self.roots_changed.emit([])
            self.refresh()

    # --- comparing --------------------------------------------------------------------------
    def _on_selection(self) -> None:
        self._update_buttons()
        self._show_diff()
        self.selection_changed.emit()

    def _update_buttons(self) -> None:
        count = len(self.table.selectionModel().selectedRows())
        self.rename_button.setEnabled(count == 1)
        self.restore_button.setEnabled(count == 1)
        self.resume_button.setEnabled(count == 1)
        self.delete_button.setEnabled(count >= 1)
        self.forget_action.setEnabled(bool(self.extra_roots))

    def _show_diff(self) -> None:
        chosen = self.selected_infos()
        if len(chosen) not in (1, 2):
            self.diff_label.setText("Select a run to compare it with the design; two to compare "
                                    "them. Select several to overlay their curves.")
            self.highlight.emit([])
            return
        if len(chosen) == 1:
            before, after = (self._cache.design_document(chosen[0].folder),
                             to_dict(self.session.model))
            title = f"{chosen[0].name} → the design now"
        else:
            newer, older = chosen  # in the table's order: newest first
            before, after = (self._cache.design_document(older.folder),
                             self._cache.design_document(newer.folder))
            title = f"{older.name} → {newer.name}"
        try:
            if before is None or after is None:
                raise RunError("a run's design.json cannot be read")
            changes = diff_documents(before, after)
        except LayerLabError as err:
            self.diff_label.setText(f"{title}: cannot compare: {err}")
            self.highlight.emit([])
            return
        labels = changes.labels(limit=None)
        self.diff_label.setText(f"{title}: " + ("; ".join(labels) if labels else "no changes"))
        self.highlight.emit(list(changes.nodes_touched()))

    # --- editing ----------------------------------------------------------------------------
    def _ask_add(self) -> None:
        path = self.ask_runs_path()
        if path:
            self.add_root(path)

    def _ask_rename(self) -> None:
        chosen = self.selected_infos()
        if len(chosen) != 1:
            return
        name = self.ask_name(chosen[0].name)
        if name is None:
            return
        try:
            rename_run(chosen[0].folder, name)
        except (RunError, OSError) as err:
            self.show_error("Cannot rename the run", str(err))
            return
        self._records.pop(str(chosen[0].folder), None)
        self.refresh()

    def _ask_delete(self) -> None:
        chosen = [i for i in self.selected_infos() if str(i.folder) != self.live_folder]
        if not chosen:
            return
        names = ", ".join(i.name for i in chosen)
        if not self.ask_confirm("Delete runs", f"Delete {len(chosen)} run(s) and their "
                                f"checkpoints for good? {names}"):
            return
        for info in chosen:
            try:
                delete_run(info.folder)
            except (RunError, OSError) as err:
                self.show_error("Cannot delete the run", str(err))
            self._records.pop(str(info.folder), None)
        self.refresh()

    def _restore(self) -> None:
        chosen = self.selected_infos()
        if len(chosen) == 1:
            self.restore_requested.emit(str(chosen[0].folder / DESIGN))

    def _resume(self) -> None:
        chosen = self.selected_infos()
        if len(chosen) != 1:
            return
        if chosen[0].checkpoint("last") is None:
            self.show_error("Cannot continue the run",
                            f"{chosen[0].name} has no last.pt checkpoint to continue from")
            return
        self.resume_requested.emit(str(chosen[0].folder), self.resume_epochs.value())

    # --- questions (tests replace these) ----------------------------------------------------
    def ask_runs_path(self) -> str:
        return QFileDialog.getOpenFileName(self, "Add runs of another design", "",
                                           "Designs (*.json);;All files (*)")[0]

    def ask_name(self, current: str) -> str | None:
        name, ok = QInputDialog.getText(self, "Rename run", "Name:", text=current)
        return name if ok else None

    def ask_confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def show_error(self, title: str, text: str) -> None:
        self.last_message = text
        QMessageBox.warning(self, title, text)
