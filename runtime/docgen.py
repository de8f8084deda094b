"""Generate docs/layers.md from the layer specs: `python -m runtime.docgen [--check]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .registry import REGISTRY, LayerRegistry
from .specs import LayerSpec, ParamSpec

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "layers.md"


def _value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _allowed(p: ParamSpec) -> str:
    parts = []
    if p.choices:
        parts.append(" \\| ".join(f'"{c}"' for c in p.choices))
    if p.minimum is not None or p.maximum is not None:
        low = "" if p.minimum is None else f"{_value(p.minimum)} ≤ "
        high = "" if p.maximum is None else (f" < {_value(p.maximum)}" if p.exclusive_maximum
                                             else f" ≤ {_value(p.maximum)}")
        parts.append(f"{low}x{high}")
    if p.kind in ("size", "padding"):
        parts.append(f"int or list of {p.length}")
    if p.nullable:
        parts.append("null")
    return "; ".join(parts)


def _spec_section(spec: LayerSpec) -> list[str]:
    lines = [f"### {spec.type_id}", "", f"**{spec.title}** — {spec.explanation}", ""]
    ports = ", ".join(f"`{p.name}`" + (" (optional)" if p.optional else "")
                      + (" (two or more, in edge order)" if p.variadic else "")
                      for p in spec.inputs) or "none"
    lines.append(f"Inputs: {ports}. Outputs: "
                 f"{', '.join(f'`{p.name}`' for p in spec.outputs) or 'none'}. "
                 f"Accepts: {', '.join(spec.input_dtypes)}.")
    if spec.aliases:
        lines.append(f"Also known as: {', '.join(spec.aliases)}.")
    lines.append("")
    if spec.params:
        lines += ["| parameter | kind | default | allowed | meaning |", "|---|---|---|---|---|"]
        for p in spec.params:
            lines.append(f"| `{p.name}` | {p.kind} | `{_value(p.default)}` | {_allowed(p)} | "
                         f"{p.doc} |")
        lines.append("")
    return lines


def render(registry: LayerRegistry = REGISTRY) -> str:
    """The whole catalogue as Markdown."""
    lines = ["# Layer catalogue", "",
             "Generated from the layer specs by `python -m runtime.docgen`; do not edit by hand.",
             "Shapes are written without the batch dimension in design files; dims such as "
             "Softmax's `dim` use PyTorch numbering, where the batch is dimension 0.", ""]
    for category, specs in registry.by_category().items():
        lines += [f"## {category}", ""]
        for spec in specs:
            lines += _spec_section(spec)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/layers.md is out of date instead of writing it")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date: run python -m runtime.docgen", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
