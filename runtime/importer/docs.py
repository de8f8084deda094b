"""The mapping table of docs/import.md, generated from the importer's table (table.py) by
`python -m runtime.docgen`, which fills the `import-table` region with `render`.
"""
from __future__ import annotations

REGION = "import-table"


def render() -> str:
    """The table as Markdown: what each PyTorch module, function and method becomes."""
    from .table import mapping_rows

    lines = ["| PyTorch | LayerLab node | notes |", "|---|---|---|"]
    for torch_name, layer, note in mapping_rows():
        lines.append(f"| `{torch_name}` | {layer} | {note} |")
    return "\n".join(lines)


#: The regions this module fills, in the form docgen's `fill_regions` takes.
REGIONS = {REGION: render}
