"""The training doctor: finds what is wrong with a design or a run, names the guilty node or
training field, explains it and offers fixes that are design edits.

    static_findings(design, analysis, dataset)   instant rules, re-run on every edit
    preflight(design)                            + one forward/backward and a single-batch fit
    LiveDoctor                                   a trainer callback: `diagnosis` events live
    examine(design, epochs=...)                  all three (the CLI and the benchmark)
    apply_fix(design, fix)                       a fixed copy of the design
"""
from .apply import Editor, ModelEditor, apply_edits, apply_fix
from .examine import Examination, examine
from .findings import EDIT_OPS, SEVERITIES, Edit, Finding, Fix
from .preflight import Preflight, preflight
from .rules import RULES, STAGES, Rule, rule
from .live import LiveDoctor
from .static import static_findings

__all__ = ["EDIT_OPS", "Edit", "Editor", "Examination", "Finding", "Fix", "LiveDoctor",
           "ModelEditor", "Preflight", "RULES",
           "Rule", "SEVERITIES", "STAGES", "apply_edits", "apply_fix", "examine", "preflight", "rule",
           "static_findings"]
