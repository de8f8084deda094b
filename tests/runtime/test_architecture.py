"""House rules that keep the engine headless."""
import re
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"


def test_runtime_never_imports_qt_or_the_designer():
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt|pyqtgraph|designer)\b", re.M)
    offenders = [str(p.relative_to(RUNTIME)) for p in RUNTIME.rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
