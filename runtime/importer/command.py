"""`main.py import FILE.py:ClassName --input-shape 1,28,28 [--args ...] [--weights W] -o D.json`.

Exit codes as the other commands: 0 imported, 1 the model cannot be imported (the reasons on
stderr), 2 command-line misuse. torch is imported only when the command runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import InputSpec, TorchImportError, parse_args, parse_input

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_import_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `import` command to a CLI's subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "import", help="turn a PyTorch model (an nn.Module class in a .py file) into a design "
        "of editable nodes, with its weights; runs the file (docs/import.md)")
    parser.add_argument("model", metavar="FILE.py:ClassName",
                        help="the file defining the model and the class to import (or a "
                        "function building the model, or a model the file builds)")
    parser.add_argument("--input-shape", action="append", required=True, metavar="SHAPE",
                        dest="input_shapes", help="one sample's shape without the batch "
                        "dimension, e.g. 1,28,28; add :int64 for token ids (12:int64); give it "
                        "once per input of forward, in order")
    parser.add_argument("--args", action="append", metavar="ARGS", dest="model_args",
                        help="constructor arguments: a JSON object ('{\"num_classes\": 10}'), "
                        "a JSON list, or name=value pairs (num_classes=10,hidden=64); "
                        "repeatable")
    parser.add_argument("--weights", metavar="FILE", help="weights to load into the model "
                        "first: a state_dict saved with torch.save (.pt/.pth) or a .safetensors "
                        "file (default: the weights the constructor gives)")
    parser.add_argument("-o", "--output", required=True, metavar="DESIGN.json",
                        help="the design file to write")
    parser.add_argument("--weights-out", metavar="CKPT", help="where to write the weights as a "
                        "LayerLab checkpoint, which the design's training starts from (its "
                        "init_from setting) and inference reads (default: beside the design, "
                        "DESIGN.pt)")
    parser.add_argument("--no-weights", action="store_true", help="write the design only")
    return parser


def split_model(text: str) -> tuple[Path, str]:
    """'path/net.py:LeNet' -> (path, class name); ValueError saying what is wrong."""
    path, sep, name = text.rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise ValueError(f"'{text}' must be FILE.py:ClassName, e.g. models/lenet.py:LeNet")
    return Path(path), name


def run_import(args: argparse.Namespace) -> int:
    """Run `import` as parsed by `add_import_parser`; prints what it wrote, or why not."""
    try:
        path, class_name = split_model(args.model)
        inputs: list[InputSpec] = [parse_input(s) for s in args.input_shapes]
        positional, keywords = parse_args(args.model_args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    from . import import_file

    output = Path(args.output)
    weights_out = None if args.no_weights else Path(args.weights_out or output.with_suffix(".pt"))
    try:
        result = import_file(path, class_name, inputs, positional, keywords, args.weights)
        result.write(output, weights_out)
    except TorchImportError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    except OSError as err:
        print(f"error: cannot write {err.filename or output}: {err.strerror or err}",
              file=sys.stderr)
        return EXIT_PROBLEMS
    from ..present import format_count
    from ..shapes import infer

    analysis = infer(result.design)
    print(f"imported {class_name}: {len(result.design.nodes)} nodes, "
          f"{format_count(analysis.total_params)} parameters -> {output}")
    if weights_out is not None:
        print(f"weights -> {weights_out} (the design's starting weights, training.init_from)")
    for note in result.notes:
        print(f"note: {note}")
    return EXIT_OK
