"""Starting on a Linux desktop without Qt's X11 libraries: the missing ones are named with the
command that installs them, before Qt would abort blaming another."""
import subprocess

import pytest

from designer import app, platform_check
from designer.platform_check import xcb_problem

LDD = """\tlibQt6XcbQpa.so.6 => /x/libQt6XcbQpa.so.6 (0x1)
\tlibxcb-cursor.so.0 => /lib/libxcb-cursor.so.0 (0x2)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibweird.so.9 => not found
"""


@pytest.fixture
def ldd(monkeypatch):
    def fake(args, **kwargs):
        assert args[0] == "ldd" and args[1].endswith("libqxcb.so")
        return subprocess.CompletedProcess(args, 0, LDD, "")
    monkeypatch.setattr(platform_check.subprocess, "run", fake)


def test_missing_libraries_are_named_with_the_install_command(ldd):
    problem = xcb_problem({"DISPLAY": ":0"}, "linux")
    assert "missing: libxcb-icccm.so.4, libxcb-keysyms.so.1, libweird.so.9" in problem
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1\n" in problem


@pytest.mark.parametrize("environ, platform", [
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux"),
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux"),
    ({}, "linux"),  # no X server: Qt says so itself
    ({"DISPLAY": ":0"}, "darwin"),
])
def test_nothing_is_checked_where_qt_will_not_load_its_x11_plugin(ldd, environ, platform):
    assert xcb_problem(environ, platform) is None


def test_the_designer_stops_with_the_message_before_qt_starts(monkeypatch, capsys):
    monkeypatch.setattr(app.QApplication, "instance", staticmethod(lambda: None))
    monkeypatch.setattr("designer.platform_check.xcb_problem", lambda: "missing: libx.so.1")
    assert app.run() == 1
    assert "missing: libx.so.1" in capsys.readouterr().err

