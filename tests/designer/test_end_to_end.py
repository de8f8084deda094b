"""The issue's 'done when', as a user does it: open a preset, build a small CNN from scratch by
dropping layers and wiring ports with the mouse, read every shape and the parameter count, fix
an error from its message, undo, save and reopen."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from designer.main_window import preset_files
from runtime.document import load
from tests.designer.test_canvas import at, drag, drop_layer, port_at

CTRL = Qt.KeyboardModifier.ControlModifier


def type_into(qtbot, line_edit, text: str) -> None:
    line_edit.setFocus()
    line_edit.selectAll()
    QTest.keyClicks(line_edit, text)
    QTest.keyClick(line_edit, Qt.Key.Key_Return)
    QApplication.processEvents()


@pytest.fixture
def window(make_window):
    return make_window((780, 580))


def test_build_a_cnn_from_scratch(window, qtbot, tmp_path):
    # open a preset from the menu, then start a new design
    window.preset_menu.actions()[0].trigger()
    assert window.session.model.name == preset_files()[0][1]
    window.act_new.trigger()
    assert not window.session.model.nodes
    view = window.canvas
    view.resetTransform()
    view.centerOn(600, 0)
    layers = ["Input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "Output"]
    for i, type_id in enumerate(layers):
        drop_layer(view, type_id, at(view, 80 + i * 200, -60 + 120 * (i % 2)))
    ids = list(window.session.model.nodes)
    assert [window.session.model.nodes[n].type for n in ids] == layers
    # wire every output port to the next input port with the mouse
    for src, dst in zip(ids, ids[1:]):
        view.resetTransform()
        view.centerOn(view.canvas.node_items[src].pos())
        QApplication.processEvents()
        drag(view, port_at(view, src, "out", "output"), port_at(view, dst, "in", "input"))
    assert [(e.src, e.dst) for e in window.session.model.edges] == list(zip(ids, ids[1:]))

    # set the input shape in the properties panel, as a user types it
    view.select_nodes([ids[0]])
    type_into(qtbot, window.properties.editor("shape").widget, "1, 28, 28")
    qtbot.waitUntil(lambda: window.session.analysis.valid)
    analysis = window.session.analysis
    assert analysis.nodes[ids[3]].outputs["output"].describe() == "(batch, 16, 14, 14)"
    assert analysis.nodes[ids[5]].params == 16 * 14 * 14 * 64 + 64
    assert window.summary.table_model.rowCount() == 7
    assert "Valid" in window.status_label.text()

    # make a mistake: a 40x40 kernel cannot slide over 28x28; the message says what to change
    view.select_nodes([ids[1]])
    type_into(qtbot, window.properties.editor("kernel_size").widget, "40")
    padding = window.properties.editor("padding").widget
    padding.setFocus()
    padding.setCurrentText("valid")
    QTest.keyClick(padding, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.problems.count() > 0)
    problem = window.session.analysis.errors[0]
    assert problem.node == ids[1] and "kernel 40 is larger than the 28x28 input" in problem.message
    # fix it by following the message: a smaller kernel
    type_into(qtbot, window.properties.editor("kernel_size").widget, "5")
    qtbot.waitUntil(lambda: window.session.analysis.valid)
    assert window.session.analysis.nodes[ids[1]].outputs["output"].shape == (16, 24, 24)

    # undo anything: back to the 40 kernel (the error), then redo the fix
    view.setFocus()
    QTest.keyClick(view.viewport(), Qt.Key.Key_Z, CTRL)
    assert window.session.model.nodes[ids[1]].params["kernel_size"] == 40
    QTest.keyClick(view.viewport(), Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.model.nodes[ids[1]].params["kernel_size"] == 5

    # save with the shortcut and reopen
    target = tmp_path / "my_cnn.json"
    window.ask_save_path = lambda *args: str(target)
    QTest.keyClick(view.viewport(), Qt.Key.Key_S, CTRL)
    assert target.exists() and not window.isWindowModified()
    saved = window.session.model.snapshot()
    window.act_new.trigger()
    assert window.open_path(target)
    assert window.session.model.snapshot() == saved == load(target).snapshot()
