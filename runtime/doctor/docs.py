"""The rule catalogue as Markdown, for docs/doctor.md's generated region."""
from __future__ import annotations

from .findings import EDIT_OPS
from .rules import RULES


def rules_table() -> str:
    lines = ["| code | severity | found | when | localised to |", "|---|---|---|---|---|"]
    for r in RULES.values():
        lines.append(f"| `{r.code}` | {r.severity} | {', '.join(r.stages)} | {r.when} | "
                     f"{r.localised} |")
    return "\n".join(lines)


def edits_list() -> str:
    return ", ".join(f"`{op}`" for op in EDIT_OPS)


REGIONS = {"doctor_rules": rules_table, "doctor_edits": edits_list}
