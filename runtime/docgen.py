"""Generate the docs from the specs: `python -m runtime.docgen [--check]`.

docs/layers.md and docs/datasets.md are generated whole; docs/training.md, docs/doctor.md,
docs/export.md and docs/import.md have generated regions (the training catalogue's tables,
runtime/training/docs.py; the doctor's rules, runtime/doctor/docs.py; the export formats,
runtime/export_deploy.py; the importer's mapping, runtime/importer/docs.py) between hand-written
prose.
"""
from __future__ import annotations

import argparse
import functools
import re
import sys
from pathlib import Path
from typing import Callable

from .present import format_literal
from .registry import REGISTRY, LayerRegistry
from .specs import LayerSpec, ParamSpec
from .training.docs import REGIONS, allowed_text

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC_PATH = DOCS / "layers.md"
DATASETS_PATH = DOCS / "datasets.md"
TRAINING_PATH = DOCS / "training.md"
DOCTOR_PATH = DOCS / "doctor.md"
EXPORT_PATH = DOCS / "export.md"
IMPORT_PATH = DOCS / "import.md"
_REGION = re.compile(r"(<!-- generated: ([\w-]+) -->\n).*?(<!-- end generated -->)", re.S)


def _param_table(params: tuple[ParamSpec, ...]) -> list[str]:
    lines = ["| parameter | kind | default | allowed | meaning |", "|---|---|---|---|---|"]
    for p in params:
        lines.append(f"| `{p.name}` | {p.kind} | `{format_literal(p.default)}` | {allowed_text(p)} | "
                     f"{p.doc} |")
    return lines + [""]


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
        lines += _param_table(spec.params)
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


def render_datasets() -> str:
    """Every dataset with its parameters, as Markdown."""
    from .data import DATASETS
    from .data.common import MAX_FILE_BYTES

    lines = ["# Datasets", "",
             "Generated from the dataset specs by `python -m runtime.docgen`; do not edit by hand.",
             "Name one in a design's `training.dataset` block: "
             '`{"name": "spirals", "params": {"n_samples": 2000}, "validation_split": 0.2}`. '
             "Nothing is downloaded: synthetic sets are generated from their seed, the real ones "
             "ship inside scikit-learn, and file datasets read your own files (relative paths are "
             "resolved against the design file's folder). Files read whole are limited to "
             f"{MAX_FILE_BYTES // 1024**3} GiB; a named pipe, a device such as /dev/zero or a "
             "folder that cannot be listed is refused with its name. Data larger than memory: "
             "[below](#data-larger-than-memory).", ""]
    for name, spec in DATASETS.items():
        lines += [f"## {name}", "", f"**{spec.title}** ({spec.task}, {spec.kind}) — "
                  f"{spec.description}", ""]
        if spec.params:
            lines += _param_table(spec.params)
    lines += _larger_than_memory()
    return "\n".join(lines).rstrip() + "\n"


def _larger_than_memory() -> list[str]:
    from .data.tables import MAP_ABOVE
    from .training.data_feed import MEMORY_SHARE, PREFETCH

    return [
        "## Data larger than memory", "",
        "Two datasets can be larger than memory: an **image folder** (its files are listed when "
        "it loads and decoded as training reads them) and **NumPy arrays** whose single input "
        f"takes more than {MAP_ABOVE // 1024**2} MiB as training reads it (float32, or int64 "
        "token ids): that array is memory-mapped from its file, not read. For a mapped array, "
        "save an uncompressed archive (`numpy.savez`) or a folder with one `.npy` file per "
        "array (`x.npy`, `y.npy`, `class_names.npy`); a compressed archive "
        "(`numpy.savez_compressed`) has to be inflated whole and is refused above the size "
        "limit. Targets are always read into memory: they are small beside inputs.", "",
        "When a run starts, the trainer chooses where the inputs live (`dataset.loading`, "
        "[training.md](training.md)); the training itself is the same, batch for batch:", "",
        "| `loading` | where the inputs live |",
        "|---|---|",
        "| `auto` (default) | in memory when they take at most "
        f"{MEMORY_SHARE:.0%} of the memory available on the training device (for a GPU: its "
        "free memory less the run's own estimate); on a GPU, else in host memory with each "
        "batch copied over; else streamed |",
        "| `memory` | whole on the device, read up front (through the reader processes); refused "
        "when they cannot fit |",
        "| `stream` | on disk: `dataset.workers` reader processes (DataLoader workers; "
        f"\"auto\" is the cores less one, at most 4) each read and decode {PREFETCH} batches "
        "ahead of training, in the order the epoch's shuffle drew |", "",
        "The run's first line says which (`data streamed from disk (2 workers)`), as does the "
        "`data` field of its `fit_start` event. Modes that rework the whole data set at once "
        "(a corruption drawn for validation, contrastive divergence, adversarial and "
        "sequence-to-sequence training) hold it in memory and refuse `stream` by name. A broken "
        "image is found when it is read: while streaming, the run stops at that batch with the "
        "file's name (its checkpoints stay). `benchmarks/streaming.py` measures streaming "
        "50,000 generated images against the in-memory path.", ""]


def fill_regions(text: str, regions: dict[str, Callable[[], str]] = REGIONS) -> str:
    """`text` with every generated region rewritten; ValueError names a region nobody fills."""
    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in regions:
            raise ValueError(f"unknown generated region '{name}'")
        return f"{match.group(1)}{regions[name]()}\n{match.group(3)}"
    return _REGION.sub(fill, text)


def render_regions(path: Path, regions: Callable[[], dict[str, Callable[[], str]]]) -> str:
    """The hand-written doc at `path` with its generated regions brought up to date; `regions`
    gives the region fillers (called late: some import their catalogue)."""
    return fill_regions(path.read_text(encoding="utf-8"), regions())


def _doctor_regions() -> dict[str, Callable[[], str]]:
    from .doctor.docs import REGIONS as DOCTOR_REGIONS

    return DOCTOR_REGIONS


def _export_regions() -> dict[str, Callable[[], str]]:
    from .export_deploy import formats_markdown

    return {"export-formats": formats_markdown}


def _import_regions() -> dict[str, Callable[[], str]]:
    from .importer.docs import REGIONS as IMPORT_REGIONS

    return IMPORT_REGIONS


OUTPUTS: dict[Path, Callable[[], str]] = {
    DOC_PATH: render, DATASETS_PATH: render_datasets,
    **{path: functools.partial(render_regions, path, regions) for path, regions in (
        (TRAINING_PATH, lambda: REGIONS), (DOCTOR_PATH, _doctor_regions),
        (EXPORT_PATH, _export_regions), (IMPORT_PATH, _import_regions))}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a generated doc is out of date instead of writing it")
    args = parser.parse_args(argv)
    stale = 0
    for path, make in OUTPUTS.items():
        text = make()
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is out of date: run python -m runtime.docgen", file=sys.stderr)
                stale = 1
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return stale


if __name__ == "__main__":
    sys.exit(main())
