"""A finding in words, for the terminal (`main.py doctor`, `main.py train`)."""
from __future__ import annotations

import textwrap

from .findings import Finding

WIDTH = 96


def place(finding: Finding) -> str:
    return finding.node or finding.field or ""


def finding_lines(finding: Finding, explain: bool = True) -> list[str]:
    """The finding: its headline, then (with `explain`) the explanation and the fixes."""
    step = f" (step {finding.step})" if finding.step else ""
    lines = [f"{finding.severity}: {finding.code} at {place(finding)}{step}: {finding.title}"]
    if explain:
        lines += textwrap.wrap(finding.explanation, WIDTH, initial_indent="    ",
                               subsequent_indent="    ")
        for i, fix in enumerate(finding.fixes, 1):
            lines.append(f"    fix {i}: {fix.description}")
    return lines
