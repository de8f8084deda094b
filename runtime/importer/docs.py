"""The mapping table of docs/import.md, generated from the importer's table (table.py).

`python -m runtime.importer.docs` rewrites the generated region; `--check` exits 1 when it is out
of date. The region uses docgen's markers, so docgen can take it over with one line.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "import.md"
REGION = "import-table"
_REGION = re.compile(r"(<!-- generated: import-table -->\n).*?(<!-- end generated -->)", re.S)


def render() -> str:
    """The table as Markdown: what each PyTorch module, function and method becomes."""
    from .table import mapping_rows

    lines = ["| PyTorch | LayerLab node | notes |", "|---|---|---|"]
    for torch_name, layer, note in mapping_rows():
        lines.append(f"| `{torch_name}` | {layer} | {note} |")
    return "\n".join(lines)


#: The regions this module fills, in the form docgen's `fill_regions` takes.
REGIONS = {REGION: render}


def updated(text: str) -> str:
    """`text` with its generated region replaced by `render()` (as docgen's `fill_regions`
    writes a region); ValueError if it has none."""
    if not _REGION.search(text):
        raise ValueError(f"no '<!-- generated: {REGION} -->' region")
    return _REGION.sub(lambda m: f"{m.group(1)}{render()}\n{m.group(2)}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is out of date")
    args = parser.parse_args(argv)
    text = DOC_PATH.read_text(encoding="utf-8")
    new = updated(text)
    if args.check:
        if new != text:
            print(f"{DOC_PATH} is out of date: run python -m runtime.importer.docs",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        from ..document import write_atomic

        write_atomic(DOC_PATH, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
