"""The training catalogue as Markdown tables, for the generated parts of docs/training.md.

`python -m runtime.docgen` writes each table between its markers in docs/training.md
(``<!-- generated: settings -->`` ... ``<!-- end generated -->``), so the hand-written prose around
them stays and a new optimiser, loss, metric, schedule, setting, statistic or event shows up in
the docs by itself.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Callable

from ..present import format_literal
from ..specs import ParamSpec
from .events import EVENTS
from .losses import LOSSES, TASKS
from .metrics import METRICS
from .modes import MODES
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULES
from .settings import SETTINGS
from .statistics import HISTOGRAMS, STATISTICS


def allowed_text(p: ParamSpec) -> str:
    """A parameter's allowed values in the docs' notation (`0 < x ≤ 10; "full"`)."""
    parts = []
    if p.choices:
        parts.append(" \\| ".join(f'"{c}"' for c in p.choices))
    if p.minimum is not None or p.maximum is not None:
        low = "" if p.minimum is None else (
            f"{format_literal(p.minimum)} {'<' if p.exclusive_minimum else '≤'} ")
        high = "" if p.maximum is None else (
            f" {'<' if p.exclusive_maximum else '≤'} {format_literal(p.maximum)}")
        parts.append(f"{low}x{high}" + (" each" if p.kind.endswith("_list") else ""))
    if p.kind in ("size", "padding"):
        parts.append(f"int or list of {p.length}")
    if p.kind == "float_list" and p.length:
        parts.append(f"list of {p.length}")
    parts += [f'"{word}"' for word in p.words]
    if p.nullable:
        parts.append("null")
    return "; ".join(parts)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(re.sub(r"(?<!\\)\|", r"\\|", cell) for cell in row) + " |"
              for row in rows]
    return "\n".join(lines)


def _names(names) -> str:
    return ", ".join(f"`{n}`" for n in names) or "—"


def defaults_block() -> str:
    """The training block at its defaults, as a JSON code block."""
    from .config import DEFAULTS

    return "```json\n\"training\": " + json.dumps(DEFAULTS, indent=2) + "\n```"


def settings_table() -> str:
    rows = []
    for s in SETTINGS:
        if s.spec is None:
            rows.append((f"`{s.path}`", "object", "`{}`", "the dataset's parameters",
                         "", "Parameters of the chosen dataset ([datasets.md](datasets.md))."))
            continue
        default = "by the loss's task" if s.derive and s.path == "metrics" else \
            f"`{format_literal(s.spec.default)}`"
        rows.append((f"`{s.path}`", s.spec.kind, default, allowed_text(s.spec),
                     s.applies.describe() if s.applies else "", s.spec.doc))
    return _table(("setting", "kind", "default", "allowed", "applies when", "meaning"), rows)


def optimizers_table() -> str:
    return _table(("optimizer", "reads", "what it does"),
                  [(f"`{o.id}` ({o.title})", _names(("lr", *o.uses)), o.doc)
                   for o in OPTIMIZERS.values()])


def modes_table() -> str:
    return _table(("mode", "reads", "what it trains"),
                  [(f"`{m.id}` ({m.title})", _names(m.uses), m.doc) for m in MODES.values()])


def schedules_table() -> str:
    return _table(("schedule", "steps", "reads", "what it does"),
                  [(f"`{s.id}` ({s.title})", "per batch" if s.per_step else "per epoch",
                    _names(s.uses), s.doc) for s in SCHEDULES.values()])


def losses_table() -> str:
    rows = []
    for loss in LOSSES.values():
        outputs = []
        if loss.expects:
            outputs.append(loss.expects)
        if loss.forbids:
            outputs.append("not " + ", ".join(loss.forbids))
        rows.append((f"`{loss.id}` ({loss.title})", loss.task, ", ".join(loss.target_dtypes),
                     "; ".join(outputs) or "any", loss.doc))
    return _table(("loss", "task", "targets", "Output values", "what it measures"), rows)


def tasks_table() -> str:
    return _table(("task", "default metrics", "outputs and targets"),
                  [(t.id, _names(t.default_metrics), t.doc) for t in TASKS.values()])


def metrics_table() -> str:
    return _table(("metric", "tasks", "better", "what it measures"),
                  [(f"`{m.example}` ({m.title})", ", ".join(m.tasks),
                    "higher" if m.higher_is_better else "lower", m.doc)
                   for m in METRICS.values()])


def statistics_table() -> str:
    rows = []
    for s in STATISTICS.values():
        low, high = s.healthy
        healthy = "" if s.healthy == (None, None) else (
            f"{'' if low is None else f'{low:g} ≤ '}x{'' if high is None else f' ≤ {high:g}'}")
        words = " / ".join(w for w in (s.too_low, s.too_high) if w)
        node = {"norm": "norm over tensors", "max": "largest tensor", None: ""}[s.node]
        rows.append((f"`{s.key}`", s.source, node if s.source != "activation" else "per node",
                     healthy, words, s.doc))
    rows += [(f"`{h.key}`", h.source if h.source == "activation" else "parameter", "",
              "", "", f"{h.title}: counts in equal bins from `{h.low}` to `{h.high}`.")
             for h in HISTOGRAMS.values()]
    return _table(("statistic", "measured on", "node value", "healthy", "too low / too high",
                   "meaning"), rows)


def tint_table() -> str:
    """The canvas colour scales: which values are blue (too small), green, amber and red."""
    from .statistics import tintable

    words = {"low": "blue", "good": "green", "middle": "amber", "high": "red"}
    rows = []
    for s in tintable():
        stops = ", ".join(f"{value:g} {words[word]}" for value, word in s.scale)
        rows.append((s.title, stops, " / ".join(w for w in (s.too_low, s.too_high) if w)))
    return _table(("statistic", "colour at", "blue / red means"), rows)


def events_table() -> str:
    rows = []
    for name, cls in EVENTS.items():
        fields = []
        for f in dataclasses.fields(cls):
            shown = {"failure": "kind", "data_kind": "kind"}.get(f.name, f.name)
            if f.name == "metrics" and name == "epoch_end":
                shown = "train_<m>, val_<m>"
            fields.append(f"`{shown}`: {f.metadata.get('doc', '')}")
        rows.append((f"`{name}`", cls.doc, "<br>".join(fields)))
    return _table(("event", "when", "fields"), rows)


#: docs/training.md's generated regions and what fills each.
REGIONS: dict[str, Callable[[], str]] = {
    "defaults": defaults_block, "settings": settings_table, "modes": modes_table,
    "optimizers": optimizers_table, "schedules": schedules_table,
    "losses": losses_table, "tasks": tasks_table, "metrics": metrics_table,
    "statistics": statistics_table, "tint": tint_table, "events": events_table,
}
