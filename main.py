"""LayerLab entry point (`python main.py` or `layerlab`).

Without arguments (or with just a design file) it opens the designer; with a command
(validate, summary, export, train) it runs headless and never imports Qt.
"""
from __future__ import annotations

import sys

from runtime.cli import run, wants_designer


def main(argv: list[str] | None = None) -> int:
    """Run LayerLab; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if wants_designer(argv):
        from designer.app import run as run_designer
        return run_designer(argv[0] if argv else None)
    return run(argv, prog="layerlab")


if __name__ == "__main__":
    sys.exit(main())
