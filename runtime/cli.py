"""Headless command line: validate, summary and export a design file (no Qt).

Exit codes: 0 success, 1 the file or design has problems, 2 command-line misuse.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .document import load, loads, node_problem_locations, with_lines
from .errors import CompileError, DesignFileError, ExportError, Problem
from .export_deploy import FORMATS, ExportFormat, export_format
from .graph import GraphModel
from .importer.command import add_import_parser, run_import
from .networks import network_title, network_totals
from .present import format_count, format_exact, format_flops, format_outputs, format_bytes
from .shapes import Analysis, infer

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C (128 + SIGINT)
COMMANDS = ("validate", "summary", "export", "import", "train", "doctor", "runs", "settings")


def build_parser(prog: str = "layerlab") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="LayerLab: build neural networks visually and watch them learn. "
        "Without a command it opens the designer (on FILE, or on the default preset); the "
        "commands below work headless on a design file (.json).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    validate = commands.add_parser("validate", help="check a design file (its network and its "
                                   "training settings); exit 1 if it has problems")
    validate.add_argument("file", help="design file (.json)")
    summary = commands.add_parser("summary", help="print each node's output shape, parameters "
                                  "and FLOPs")
    summary.add_argument("file", help="design file (.json)")
    summary.add_argument("--json", action="store_true", help="machine-readable output")
    export = commands.add_parser("export", help="write the design as standalone code, a "
                                 "deployable model (ONNX, torch.export) or a run's trained "
                                 "weights (docs/export.md)")
    export.add_argument("file", help="design file (.json)")
    export.add_argument("--format", choices=[f.name for f in FORMATS], default="py",
                        help="; ".join(f"{f.name}: {f.help}" for f in FORMATS))
    export.add_argument("--weights", metavar="CHECKPOINT",
                        help="a run's checkpoint (its best.pt or last.pt): the weights to export "
                        "(without it: freshly initialised weights)")
    export.add_argument("-o", "--output", help="where to write (py only: default standard "
                        "output)")
    export.add_argument("--class-name", help="name of the generated class, --format py (default: "
                        "from the design's name)")
    export.add_argument("--network", metavar="NAME", help="the network to export, for a design "
                        "that holds several (a GAN's generator), --format "
                        f"{_per_network_formats()} (py without it: a class per network)")
    add_import_parser(commands)
    train = commands.add_parser("train", help="train the design headless with its training "
                                "settings")
    train.add_argument("file", help="design file (.json)")
    train.add_argument("--epochs", type=int, help="override the number of epochs")
    train.add_argument("--device", help="override the device: auto (CUDA, then MPS, then CPU), "
                       "cpu, cuda or mps")
    train.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                       dest="settings", help="override any training setting, e.g. "
                       "optimizer.lr=0.1, loss=smooth_l1, metrics='[\"mae\"]' (the value is "
                       "read as JSON, else as text); repeatable; `settings` lists them all")
    train.add_argument("--metrics-out", metavar="FILE",
                       help="write events as JSON lines (epoch_end, monitor, fit_end, ...)")
    train.add_argument("--checkpoint-dir", metavar="DIR",
                       help="write last.pt and best.pt here after every epoch")
    train.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint (one "
                       "in a run folder: the new run is named after that run, 'NAME (continued)')")
    train.add_argument("--init-from", metavar="CKPT", help="start from another run's weights "
                       "where they fit (same node id, else same type and shapes); prints what "
                       "loaded and what was skipped (docs/training.md)")
    train.add_argument("--runs-dir", metavar="DIR", help="keep the run as a run folder under "
                       "DIR (default: DESIGN.runs/ beside the design; docs/runs.md)")
    train.add_argument("--no-run", action="store_true", help="do not keep a run folder")
    train.add_argument("--nproc-per-node", type=int, metavar="N", help="train on N processes "
                       "of this machine through torchrun (DDP; one per GPU, or gloo on the "
                       "CPU); the batch size is split over them (docs/distributed.md)")
    runs = commands.add_parser("runs", help="list the kept runs of a design: name, date, "
                               "status, what changed, final metrics")
    runs.add_argument("file", help="design file (.json)")
    runs.add_argument("--runs-dir", metavar="DIR", help="where its runs are (default: "
                      "DESIGN.runs/ beside the design)")
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    doctor = commands.add_parser("doctor", help="diagnose the design: static rules, one "
                                 "forward/backward pass and a single-batch fit (docs/doctor.md)")
    doctor.add_argument("file", help="design file (.json)")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--steps", type=int, default=30, help="steps of the single-batch fit "
                        "(default 30)")
    doctor.add_argument("--epochs", type=int, default=0, help="also train this many epochs "
                        "with the live doctor (default 0: pre-flight only)")
    doctor.add_argument("--lr-finder", action="store_true", help="also sweep the learning rate "
                        "and suggest one")
    doctor.add_argument("--fix", metavar="CODE", help="apply the first fix of the finding with "
                        "this code and write the design to -o")
    doctor.add_argument("-o", "--output", help="where --fix writes the fixed design")
    doctor.add_argument("--base-dir", metavar="DIR", help="folder the dataset's relative paths "
                        "are read from (default: the design file's folder)")
    commands.add_parser("settings", help="list every training setting, optimiser, schedule, "
                        "loss, metric and monitoring statistic")
    return parser


def wants_designer(argv: Sequence[str]) -> bool:
    """No arguments, or just a design file: the caller should open the designer instead."""
    return not argv or (len(argv) == 1 and not argv[0].startswith("-")
                        and argv[0] not in COMMANDS)


def run(argv: Sequence[str] | None = None, prog: str = "layerlab") -> int:
    """Run a headless command; returns the exit code (without a command it prints the help)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    commands = {"validate": _validate, "summary": _summary, "export": _export,
                "import": run_import, "train": _train,
                "doctor": _doctor, "runs": _runs, "settings": _settings}
    return commands[args.command](args)


def _open(path: str) -> tuple[GraphModel | None, list[Problem], str | None]:
    """The design, or the problems that stop it loading, and the file's text (read once)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None  # load() reports why the file cannot be read
    try:
        model = load(path) if text is None else loads(text, source=path)
    except DesignFileError as err:
        return None, err.problems, None
    return model, [], text


def _analyse(model: GraphModel, text: str | None) -> tuple[Analysis, list[Problem]]:
    analysis = infer(model)
    return analysis, node_problem_locations(model, analysis.problems, text)


def _validate(args: argparse.Namespace) -> int:
    model, problems, text = _open(args.file)
    if model is None:
        _print_problems(args.file, problems)
        return EXIT_PROBLEMS
    analysis, problems = _analyse(model, text)
    settings = _training_problems(model, text, analysis)
    _print_problems(args.file, problems + settings)
    if not analysis.valid or settings:
        return EXIT_PROBLEMS
    print(f"{args.file}: valid — {len(model.nodes)} nodes, {_totals(analysis)}")
    return EXIT_OK


def _training_problems(model: GraphModel, text: str | None,
                       analysis: Analysis) -> list[Problem]:
    """What is wrong with the design's training block, each with its line; for a valid design
    also whether a run with its batch size fits the training device's memory."""
    from .errors import TrainingConfigError, TrainingError
    from .training.config import parse_training
    from .training.memory import check_fits
    from .training.devices import device_type

    try:
        config = parse_training(model.training)
    except TrainingConfigError as err:
        return with_lines(err.problems, text)
    batch = config["batch_size"]
    if not analysis.valid or not isinstance(batch, int):  # "full": the split decides
        return []
    try:
        check_fits(analysis, batch, device_type(config["device"]))
    except TrainingError as err:  # no such device here, or a run that cannot fit
        if err.kind != "oom":
            return []
        return with_lines([Problem(str(err), err.node, "training.batch_size")], text)
    return []


def _summary(args: argparse.Namespace) -> int:
    model, problems, text = _open(args.file)
    if model is None:
        if args.json:
            print(json.dumps({"valid": False, "total_params": 0, "trainable_params": 0,
                              "total_flops": 0, "networks": [], "nodes": [],
                              "errors": [p.as_dict() for p in problems]}, indent=2))
        else:
            _print_problems(args.file, problems)
        return EXIT_PROBLEMS
    analysis, problems = _analyse(model, text)
    if args.json:
        print(json.dumps(summary_json(model, analysis, problems), indent=2))
    else:
        print(summary_table(model, analysis))
        _print_problems(args.file, problems)
    return EXIT_OK if analysis.valid else EXIT_PROBLEMS


def _export(args: argparse.Namespace) -> int:
    fmt = export_format(args.format)
    misuse = _export_misuse(args, fmt)
    if misuse:
        print(misuse, file=sys.stderr)
        return EXIT_USAGE
    folder = Path(args.output).parent if args.output else None
    if folder is not None and not folder.is_dir():  # said before seconds of tracing
        print(f"cannot write {args.output}: the folder {folder} does not exist",
              file=sys.stderr)
        return EXIT_PROBLEMS
    from .export import export_python, write_python

    model, problems, text = _open(args.file)
    if model is not None:
        analysis, problems = _analyse(model, text)
        problems = [p for p in problems if p.severity == "error"]
    if problems:
        _print_problems(args.file, problems)
        print("not exported: fix the errors above first", file=sys.stderr)
        return EXIT_PROBLEMS
    network = {"network": args.network} if args.network else {}
    try:
        if fmt.name == "py" and not args.output:
            sys.stdout.write(export_python(model, args.class_name, **network))
            return EXIT_OK
        if fmt.name == "py":
            written = write_python(model, args.output, args.class_name, args.weights, **network)
        else:
            written = [fmt.write(model, args.output, args.weights, **network)]
    except (ExportError, CompileError) as err:
        print(f"export failed: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    except OSError as err:
        print(f"cannot write {args.output}: {err.strerror or err}", file=sys.stderr)
        return EXIT_PROBLEMS
    beside = "".join(f" and {path}" for path in written[:-1])
    weights = f"the weights of {args.weights}" if args.weights else "initial weights"
    print(f"wrote {args.output}{beside} ({fmt.label}, {weights})", file=sys.stderr)
    return EXIT_OK


def _per_network_formats() -> str:
    """The formats that take --network, as the CLI lists them ("py, onnx or pt2")."""
    names = [f.name for f in FORMATS if f.per_network]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _export_misuse(args: argparse.Namespace, fmt: ExportFormat) -> str | None:
    """What is wrong with the export command's options, or None."""
    if fmt.weights == "required" and not (args.weights and args.output):
        return (f"export --format {fmt.name} needs --weights CHECKPOINT (a run's best.pt or "
                f"last.pt) and -o FILE{fmt.suffix}")
    if fmt.name != "py" and not args.output:
        return f"export --format {fmt.name} needs -o FILE{fmt.suffix}: it writes a binary file"
    if args.weights and not args.output:
        return "export --weights needs -o FILE: the weights go to a .safetensors file beside it"
    if args.class_name and fmt.name != "py":
        return f"export --class-name names the class of --format py, not {fmt.name}"
    if args.network and not fmt.per_network:
        return (f"export --network picks one network for --format {_per_network_formats()}; "
                f"--format {fmt.name} takes the whole design")
    return None


def _train(args: argparse.Namespace) -> int:
    import os

    from .errors import PeerLost, TrainingConfigError, TrainingError
    from .training import JsonLinesWriter, ProgressPrinter, Trainer, parse_training
    from .training.distributed import record_failure, world
    from .training.transfer import TransferPrinter

    try:
        place = world()
    except TrainingError as err:
        print(f"{args.file}: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.nproc_per_node is not None:
        if args.nproc_per_node < 1:
            print(f"{args.file}: --nproc-per-node must be 1 or more, got {args.nproc_per_node}",
                  file=sys.stderr)
            return EXIT_USAGE
        if "WORLD_SIZE" in os.environ:
            print(f"{args.file}: --nproc-per-node starts torchrun, and this process already "
                  "runs under it: leave the option out", file=sys.stderr)
            return EXIT_USAGE
    model, problems, _ = _open(args.file)
    if model is None:
        _print_problems(args.file, problems)
        return EXIT_PROBLEMS
    block = model.training
    overrides = [f"{key}={json.dumps(value)}" for key, value in
                 (("epochs", args.epochs), ("device", args.device)) if value is not None]
    try:
        for item in [*overrides, *args.settings]:
            block = _with_setting(block, item)
        config = parse_training(block)
    except ValueError as err:
        print(f"{args.file}: --set {err}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingConfigError as err:
        _print_problems(args.file, err.problems)
        return EXIT_PROBLEMS
    # the option, else the design's `processes` setting; a rank of a launched run trains
    processes = args.nproc_per_node or (1 if "WORLD_SIZE" in os.environ else config["processes"])
    if processes > 1:
        return _train_launched(args, processes)
    callbacks = [TransferPrinter(sys.stderr, f"{args.file}: "), ProgressPrinter(sys.stderr)]
    metrics_file = trainer = None
    checkpoint_dir = args.checkpoint_dir
    # a rank of a run on several processes: rank 0 prints and writes; the others only train
    if not place.main:
        callbacks, checkpoint_dir = [], None
        args.metrics_out, args.no_run = None, True
    try:
        if args.metrics_out:
            metrics_file = open(args.metrics_out, "w", encoding="utf-8")
            callbacks.append(JsonLinesWriter(metrics_file))
        if not args.no_run:  # the run kept as a run folder, as the designer keeps its runs
            from .document import from_dict, to_dict
            from .runs import RunWriter, continuation_of, runs_root

            trained = from_dict(dict(to_dict(model), training=block))
            root = Path(args.runs_dir) if args.runs_dir else runs_root(args.file)
            # --resume from a kept run's checkpoint: named after that run, as the designer does
            writer = RunWriter.create(trained, root, args.file,
                                      continues=continuation_of(args.resume))
            callbacks.append(writer)
            checkpoint_dir = checkpoint_dir or writer.folder
            print(f"{args.file}: keeping this run in {writer.folder}", file=sys.stderr)
        trainer = Trainer(model, config, callbacks, base_dir=Path(args.file).resolve().parent,
                          checkpoint_dir=checkpoint_dir, resume=args.resume,
                          init_from=args.init_from)
        end = trainer.fit()
    except TrainingError as err:
        node = f" (node '{err.node}')" if err.node else ""
        rank = f" on rank {place.rank}" if place.active else ""
        print(f"{args.file}: training failed{rank}{node}: {err}", file=sys.stderr)
        if not isinstance(err, PeerLost):  # the launcher shows the rank that failed first
            record_failure(err)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        if not place.main:  # rank 0 says where the run stopped
            return EXIT_INTERRUPTED
        last = Path(checkpoint_dir) / "last.pt" if checkpoint_dir else None
        kept = f"last checkpoint {last}" if last is not None and last.exists() else \
            "no checkpoint was written (use --checkpoint-dir to keep one)"
        where = (f"interrupted at epoch {trainer.epoch}, step {trainer.step}"
                 if trainer is not None else "interrupted before training started")
        print(f"{args.file}: {where}; {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as err:
        print(f"cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        if metrics_file:
            metrics_file.close()
    if not place.main:
        return EXIT_OK
    final = end.final or {}
    # the JSON alone on standard output (for scripts); its label with the progress lines
    print(f"{args.file}: the last epoch's metrics (JSON, on standard output):", file=sys.stderr,
          flush=True)
    print(json.dumps({k: v for k, v in final.items() if k != "event"}, indent=2))
    return EXIT_OK


def _train_launched(args: argparse.Namespace, processes: int) -> int:
    """`train --nproc-per-node N`: the same command on N local processes through torchrun."""
    from .training.distributed import launch

    argv = [args.file, *(["--epochs", str(args.epochs)] if args.epochs is not None else []),
            *(["--device", args.device] if args.device is not None else [])]
    for item in args.settings:
        argv += ["--set", item]
    for option, value in (("--metrics-out", args.metrics_out),
                          ("--checkpoint-dir", args.checkpoint_dir), ("--resume", args.resume),
                          ("--init-from", args.init_from), ("--runs-dir", args.runs_dir)):
        if value is not None:
            argv += [option, value]
    if args.no_run:
        argv.append("--no-run")
    print(f"{args.file}: training on {processes} processes (torchrun)",
          file=sys.stderr, flush=True)
    code = launch(processes, argv)
    return {0: EXIT_OK, EXIT_INTERRUPTED: EXIT_INTERRUPTED}.get(code, EXIT_PROBLEMS)


def _runs(args: argparse.Namespace) -> int:
    """The runs kept for a design, newest first, each with what changed from the one before."""
    from .design_diff import diff_documents
    from .runs import list_runs, runs_root

    root = Path(args.runs_dir) if args.runs_dir else runs_root(args.file)
    runs, problems = list_runs(root)
    designs = {}
    for run in runs:
        try:
            designs[run.folder] = json.loads((run.folder / "design.json").read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            designs[run.folder] = None
    rows = []
    for i, run in enumerate(runs):
        before = designs.get(runs[i + 1].folder) if i + 1 < len(runs) else None
        after = designs.get(run.folder)
        changes: list[str] = []
        if before is not None and after is not None:
            try:
                changes = diff_documents(before, after).labels(limit=3)
            except Exception:  # a design file that no longer loads: no change line
                changes = []
        rows.append({"id": run.folder.name, "name": run.name, "folder": str(run.folder),
                     "created": run.meta.get("created"), "status": run.status,
                     "epochs_run": run.meta.get("epochs_run"),
                     "duration_s": run.meta.get("duration_s"), "device": run.meta.get("device"),
                     "final": run.meta.get("final"), "changes": changes})
    if args.json:
        print(json.dumps({"root": str(root), "runs": rows, "problems": problems}, indent=2))
        return EXIT_OK
    if not rows:
        print(f"{args.file}: no runs kept in {root}")
    for row in rows:
        final = row["final"] or {}
        shown = ", ".join(f"{k} {v:.4g}" for k, v in final.items()
                          if k in ("val_loss", "val_accuracy", "train_loss", "val_mae")
                          and isinstance(v, (int, float)))
        print(f"{row['id']}  {row['name']}  {row['status']}  {row['epochs_run']} epoch(s)"
              + (f"  {shown}" if shown else "")
              + (f"  [{', '.join(row['changes'])}]" if row["changes"] else ""))
    for problem in problems:
        print(f"  skipped: {problem}", file=sys.stderr)
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import apply_fix, examine
    from .doctor.present import finding_lines
    from .document import save
    from .errors import TrainingConfigError, TrainingError

    if args.fix and not args.output:
        print("doctor: --fix needs -o OUT.json (where to write the fixed design)",
              file=sys.stderr)
        return EXIT_USAGE
    if args.steps < 0 or args.epochs < 0:
        print("doctor: --steps and --epochs must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    model, problems, text = _open(args.file)
    if model is None:
        _print_problems(args.file, problems)
        return EXIT_PROBLEMS
    analysis, problems = _analyse(model, text)
    problems += _training_problems(model, text, analysis)
    if any(p.severity == "error" for p in problems):
        _print_problems(args.file, problems)
        return EXIT_PROBLEMS
    try:
        result = examine(model, epochs=args.epochs, steps=args.steps,
                         base_dir=Path(args.base_dir or Path(args.file).resolve().parent),
                         lr_finder=args.lr_finder)
    except (TrainingError, TrainingConfigError) as err:
        print(f"{args.file}: cannot diagnose: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.fix:
        finding = next((f for f in result.findings if f.code == args.fix and f.fixes), None)
        if finding is None:
            codes = ", ".join(sorted({f.code for f in result.findings if f.fixes})) or "none"
            print(f"{args.file}: no finding '{args.fix}' with a fix (found: {codes})",
                  file=sys.stderr)
            return EXIT_PROBLEMS
        try:
            fixed = apply_fix(model, finding.fixes[0])
            save(fixed, args.output)
        except OSError as err:
            print(f"cannot write {args.output}: {err.strerror}", file=sys.stderr)
            return EXIT_PROBLEMS
        except Exception as err:  # an edit the design refuses: name it, write nothing
            print(f"{args.file}: the fix '{finding.fixes[0].description}' cannot be applied: "
                  f"{err}", file=sys.stderr)
            return EXIT_PROBLEMS
        print(f"{args.output}: {finding.fixes[0].description}", file=sys.stderr)
    if args.json:
        print(json.dumps({"file": args.file,
                          "findings": [f.to_json() for f in result.findings],
                          "preflight": result.preflight.to_json() if result.preflight else None,
                          "fit_status": result.fit_status, "final": result.final}, indent=2))
        return EXIT_OK
    pre = result.preflight
    head = f"{args.file}: {len(result.findings)} finding(s)"
    if pre is not None and pre.initial_loss is not None:
        fit = pre.fit_losses
        head += (f" (pre-flight {pre.seconds:.1f} s; initial loss {pre.initial_loss:.4g}"
                 + (f", expected about {pre.expected_loss:.4g}" if pre.expected_loss else "")
                 + (f"; one-batch fit {fit[0]:.4g} -> {min(fit):.4g} in {len(fit) - 1} steps"
                    if len(fit) > 1 else "") + ")")
    print(head)
    if pre is not None and pre.suggested_lr:
        print(f"  learning-rate finder suggests {pre.suggested_lr:g}")
    for finding in result.findings:
        print("\n".join("  " + line for line in finding_lines(finding)))
    return EXIT_OK


def _with_setting(block: dict, item: str) -> dict:
    """`block` with one `PATH=VALUE` applied (VALUE read as JSON, else as text)."""
    from .training.config import with_setting

    path, sep, text = item.partition("=")
    if not sep or not path.strip():
        raise ValueError(f"{item!r}: write SETTING=VALUE, e.g. optimizer.lr=0.1")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    try:
        return with_setting(block, path.strip(), value)
    except ValueError as err:
        raise ValueError(f"{item!r}: {err}") from None


def _settings(args: argparse.Namespace) -> int:
    from .training.docs import REGIONS

    for name in ("settings", "optimizers", "schedules", "losses", "metrics", "statistics"):
        print(f"## {name}\n\n{REGIONS[name]()}\n")
    return EXIT_OK


def summary_json(model: GraphModel, analysis: Analysis, problems: list[Problem]) -> dict:
    """The `summary --json` document (batch dimension as null); `networks` lists each network's
    totals ("" names the main one)."""
    nodes = [{"id": r.node_id, "type": r.type, "output_shape": r.output_shape(),
              "params": r.params, "flops": r.flops, "errors": list(r.errors),
              "warnings": list(r.warnings)} for r in analysis.nodes.values()]
    return {"valid": analysis.valid, "total_params": analysis.total_params,
            "trainable_params": analysis.trainable_params, "total_flops": analysis.total_flops,
            "weight_bytes": analysis.weight_bytes,
            "training_bytes": _training_estimate(model, analysis)[1],
            "networks": [{"name": t.name, "nodes": t.nodes, "params": t.params,
                          "trainable_params": t.trainable_params, "flops": t.flops}
                         for t in network_totals(model, analysis)],
            "nodes": nodes,
            "errors": [p.as_dict() for p in problems if p.severity == "error"]}


def summary_table(model: GraphModel, analysis: Analysis) -> str:
    """A fixed-width table of every node, then the totals."""
    rows = [("node", "type", "output shape", "params", "FLOPs")]
    for r in analysis.nodes.values():
        rows.append((r.node_id, r.type, format_outputs(r), format_count(r.params),
                     format_count(r.flops)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) if i < 3 else row[i].rjust(widths[i]) for i in range(5)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.extend(network_lines(model, analysis))
    lines.append(f"{model.name}: {_totals(analysis)} per sample")
    batch, needed = _training_estimate(model, analysis)
    if needed is not None:
        lines.append(f"training with batch size {batch:,} needs about {format_bytes(needed)} "
                     "(estimate: weights, gradients, optimiser state, activations)")
    return "\n".join(lines)


def network_lines(model: GraphModel, analysis: Analysis) -> list[str]:
    """With several networks, a line for each: name, nodes and parameters; else nothing."""
    totals = network_totals(model, analysis)
    if len(totals) < 2:
        return []
    width = max(len(network_title(t.name)) for t in totals)
    return [f"network {network_title(t.name).ljust(width)}  {t.nodes:,} node"
            f"{'' if t.nodes == 1 else 's'}, {format_exact(t.params)} parameters "
            f"({format_exact(t.trainable_params)} trainable)" for t in totals] + [""]


def _training_estimate(model: GraphModel, analysis: Analysis) -> tuple[int | None, int | None]:
    """The design's batch size and the estimated memory of training with it (None when the
    design or its settings are not valid, or the batch is "full")."""
    from .errors import TrainingConfigError
    from .training.config import parse_training
    from .training.memory import run_bytes

    try:
        batch = parse_training(model.training)["batch_size"]
    except TrainingConfigError:
        return None, None
    if not analysis.valid or not isinstance(batch, int):
        return None, None
    return batch, run_bytes(analysis, batch)


def _totals(analysis: Analysis) -> str:
    """The design's totals, e.g. "61,706 parameters (61,706 trainable), 247 kB of weights,
    850k FLOPs"."""
    return (f"{format_exact(analysis.total_params)} parameters "
            f"({format_exact(analysis.trainable_params)} trainable), "
            f"{format_bytes(analysis.weight_bytes)} of weights, "
            f"{format_flops(analysis.total_flops)}")


def _print_problems(path: str, problems: list[Problem]) -> None:
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)

