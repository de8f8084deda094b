"""LayerLab entry point: `python main.py` (or `layerlab`) with a command runs it headless."""
from __future__ import annotations

import sys

from runtime.cli import run


def main(argv: list[str] | None = None) -> int:
    """Run LayerLab; returns the process exit code."""
    return run(sys.argv[1:] if argv is None else argv, prog="layerlab")


if __name__ == "__main__":
    sys.exit(main())
