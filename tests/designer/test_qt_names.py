"""Our widgets must not hide Qt methods with attributes: PySide calls the Python attribute in
place of the C++ virtual (an attribute called `metric` on a QWidget crashes `grab()`)."""
from PySide6.QtCore import QObject, QSettings, SignalInstance

from designer.main_window import MainWindow


def _qt_base(cls: type) -> type:
    return next(c for c in cls.__mro__ if c.__module__.startswith(("PySide6", "shiboken6")))


def test_no_instance_attribute_shadows_a_qt_name(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave")
    qtbot.addWidget(window)
    clashes = []
    for obj in [window, *window.findChildren(QObject)]:
        cls = type(obj)
        if not cls.__module__.startswith("designer"):
            continue
        qt_names = set(dir(_qt_base(cls)))
        clashes += [f"{cls.__name__}.{name}" for name, value in vars(obj).items()
                    if name in qt_names and not isinstance(value, SignalInstance)]
    assert not clashes
