"""Export a design as a standalone Python file that imports only torch, written as a PyTorch
engineer would write it by hand.

The class has one attribute per layer, named after its node (a straight chain of three or more
layers becomes one `nn.Sequential` whose children keep the node ids); constructor arguments are
the node's `ModuleRecipe` less PyTorch's defaults, the usual leading ones by position
(`nn.Conv2d(1, 6, 5)`). `forward` follows the compiled model's fx graph (so its arguments,
results and argument passing are the compiler's), with the node ids as variable names, `x` for a
value flowing straight into the next line, and layers without weights written as the plain torch
expressions their modules compute (`x + y`, `torch.cat`, `x.flatten(1)`). The helper classes
LayerLab needs are copied from `runtime/layers/modules.py`; imports are exactly what is used.

No user string reaches the code unless it is a validated identifier (node ids, the class name);
the source is parsed before it is written.
"""
from __future__ import annotations

import ast
import functools
import inspect
import itertools
import os
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from torch import fx, nn

from .compile import class_name_for, class_name_problem, compile_model, recipes
from .document import dumps, replace_atomically, write_atomic
from .errors import ExportError
from .graph import GraphModel
from .layers import modules
from .names import identifier_problem
from .networks import network_title, subgraph
from .shapes import infer, inputs_of
from .specs import ModuleRecipe, TensorInfo

#: `format` of the safetensors file written beside an exported module: its keys are the
#: module's own state_dict keys (`features.conv1.weight`), not node ids.
PYTHON_WEIGHTS_FORMAT = "layerlab.python-weights"

#: Longest line of the exported class (PEP 8's limit for code whose team agrees on it).
LINE_WIDTH = 99

#: Shortest straight chain of layers written as one nn.Sequential.
SEQUENTIAL_MIN = 3

_CONV = ("in_channels", "out_channels", "kernel_size")
#: Constructor arguments PyTorch code passes by position, in this order (nn.Linear(784, 128),
#: nn.Conv2d(1, 6, 5)); the rest go by name. Looked up along the class's MRO, so LayerLab's
#: helpers (modules.LSTM) follow their torch base class.
_POSITIONAL: dict[type, tuple[str, ...]] = {
    nn.Linear: ("in_features", "out_features"),
    nn.Conv1d: _CONV, nn.Conv2d: _CONV, nn.ConvTranspose2d: _CONV,
    nn.BatchNorm1d: ("num_features",), nn.BatchNorm2d: ("num_features",),
    nn.BatchNorm3d: ("num_features",), nn.LayerNorm: ("normalized_shape",),
    nn.Embedding: ("num_embeddings", "embedding_dim"),
    nn.Dropout: ("p",), nn.LeakyReLU: ("negative_slope",), nn.ELU: ("alpha",),
    nn.MaxPool1d: ("kernel_size",), nn.MaxPool2d: ("kernel_size",),
    nn.AvgPool1d: ("kernel_size",), nn.AvgPool2d: ("kernel_size",),
    nn.RNN: ("input_size", "hidden_size"), nn.LSTM: ("input_size", "hidden_size"),
    nn.GRU: ("input_size", "hidden_size"),
    nn.MultiheadAttention: ("embed_dim", "num_heads"),
    nn.TransformerEncoderLayer: ("d_model", "nhead"),
    modules.PositionalEncoding: ("d_model", "max_len"),
    modules.RBM: ("visible", "hidden"),
}

#: Arguments whose None default means "the same as that argument" (attention's kdim and vdim
#: default to embed_dim): equal to it, they are left out like a default.
_DEFAULTS_TO: dict[type, dict[str, str]] = {
    nn.MultiheadAttention: {"kdim": "embed_dim", "vdim": "embed_dim"},
}


def _mean(kw: Mapping[str, Any], xs: list[str], infos: list[TensorInfo]) -> str:
    rank = infos[0].rank  # known statically, so the dims are written out as a user would
    dims = tuple(range(1, rank - 1) if kw["channels_last"] else range(2, rank))
    return f"{xs[0]}.mean(dim={dims[0] if len(dims) == 1 else _literal(dims)})"


Form = Callable[[Mapping[str, Any], list[str], list[TensorInfo]], str]

#: Modules without weights that PyTorch code writes as an expression instead: the class -> its
#: forward written out, given the module's constructor arguments (defaults filled in), the
#: names of its arguments and their tensors. Each computes exactly what the module does.
FUNCTIONAL_FORMS: dict[type, Form] = {
    modules.Add: lambda kw, xs, _: " + ".join(xs),
    modules.Multiply: lambda kw, xs, _: " * ".join(xs),
    modules.Concat: lambda kw, xs, _: f"torch.cat([{', '.join(xs)}], dim={_literal(kw['dim'])})",
    nn.Flatten: lambda kw, xs, _: (f"{xs[0]}.flatten({_literal(kw['start_dim'])})"
                                   if kw["end_dim"] == -1 else
                                   f"{xs[0]}.flatten({_literal(kw['start_dim'])}, "
                                   f"{_literal(kw['end_dim'])})"),
    modules.Reshape: lambda kw, xs, _: (f"{xs[0]}.reshape({xs[0]}.shape[0], "
                                        f"{', '.join(_literal(s) for s in kw['shape'])})"),
    modules.Permute: lambda kw, xs, _: (f"{xs[0]}.permute(0, "
                                        f"{', '.join(_literal(d) for d in kw['dims'])})"),
    modules.RepeatVector: lambda kw, xs, _: (f"{xs[0]}.unsqueeze(1).expand(-1, "
                                             f"{_literal(kw['n'])}, -1)"),
    modules.GlobalAvgPool: _mean,
}


def export_python(model: GraphModel, class_name: str | None = None,
                  weights_file: str | None = None, network: str | None = None) -> str:
    """Source of a module defining `class_name` (default: from the design's name).

    A design of several networks (a GAN's generator and discriminator) gives one class per
    network, each named after its network (`Generator`), or only `network`'s class.

    With `weights_file` (a safetensors file's name, beside the module, as `write_python` writes
    it), the module's docstring says how to load those trained weights into the class; with
    several classes, `weights_file` is the module's own name and each class's weights are in
    a file of their own (`weights_files`).

    Raises `ExportError` for a class name that is not a usable identifier (a keyword, a builtin or
    one of the helpers the file defines), a class name given for several classes, or a network
    the design does not hold, and `CompileError` when the design has errors.
    """
    classes = _classes(model, class_name, network)
    files = _weight_files(classes, weights_file) if weights_file else None
    return _source(classes, files)


@dataclass(frozen=True)
class _Class:
    """One class of the exported file: a network of the design."""

    network: str  # its key in `GraphModel.networks()` ("" for the main network)
    name: str     # the class name
    plan: _Plan


def _classes(model: GraphModel, class_name: str | None, network: str | None) -> list[_Class]:
    """The classes the file defines: the design, or one per network (only `network`'s when
    given), named after the design or the network."""
    from .export_deploy import network_key  # light, but it imports this module's neighbours

    networks = model.networks()
    if len(networks) == 1:
        key = network_key(model, network) if network is not None else next(iter(networks))
        return [_Class(key, _class_name(model, class_name), _Plan(model))]
    keys = [network_key(model, network)] if network is not None else list(networks)
    if class_name is not None and len(keys) > 1:
        raise ExportError(
            f"a class name names one class, and this design holds {len(keys)} networks, each "
            "exported as a class named after it: export one network (--network NAME) to name "
            "its class")
    classes: list[_Class] = []
    for key in keys:
        sub = subgraph(model, key)
        name = _class_name(sub, class_name)
        taken = {c.name for c in classes}
        name = next(n for n in itertools.chain([name], (f"{name}{i}" for i in
                                                          itertools.count(2)))
                    if n not in taken)
        classes.append(_Class(key, name, _Plan(sub)))
    return classes


def _class_name(model: GraphModel, class_name: str | None) -> str:
    class_name = class_name_for(model) if class_name is None else class_name
    problem = class_name_problem(class_name)
    if problem:
        raise ExportError(problem)
    return class_name


def _weight_files(classes: list[_Class], file: str) -> dict[str, str]:
    """Class name -> the safetensors file (a name beside the module) holding its weights:
    `file` for a lone class, `<stem>_<network>.safetensors` for each of several (a hyphen
    where the stem has one: gan-2d-generator.safetensors)."""
    if len(classes) == 1:
        return {classes[0].name: file}
    stem = Path(file).stem
    joint = "-" if "-" in stem else "_"  # the file name's own way of joining words
    return {c.name: f"{stem}{joint}{network_title(c.network)}.safetensors" for c in classes}


def _variable(cls: _Class, single: bool) -> str:
    """The variable the docstring's loading lines use for an instance of `cls`."""
    return "model" if single or not cls.network else cls.network


def _source(classes: list[_Class], weight_files: dict[str, str] | None,
            module: str = "") -> str:
    """The file: the helpers used, the classes, and a docstring that says how to load the
    weights in `weight_files` (importing the classes from `module`, the file's own name)."""
    helpers: set[str] = set()
    bodies = []
    for cls in classes:
        init = cls.plan.init_lines(helpers)
        body = textwrap.indent("\n".join(init), " " * 8)
        forward = textwrap.indent(cls.plan.forward(), " " * 4)
        bodies.append(f"class {cls.name}(nn.Module):\n    def __init__(self):\n"
                      f"        super().__init__()\n{body}\n\n{forward}")
    helper_sources = _helper_sources(helpers)
    single = len(classes) == 1
    names = " and ".join(c.name for c in classes)
    docstring = textwrap.fill(
        "A network exported by LayerLab: an nn.Module that needs only PyTorch." if single else
        f"Networks exported by LayerLab: {names}, nn.Modules that need only PyTorch.",
        LINE_WIDTH - 3)  # the opening quotes
    if weight_files:
        files = " and ".join(weight_files.values())
        importing = (f"    from {module} import {', '.join(c.name for c in classes)}\n"
                     if module and module.isidentifier() else "")
        loading = "".join(
            f"    {_variable(c, single)} = {c.name}()\n"
            f"    {_variable(c, single)}.load_state_dict(load_file({weight_files[c.name]!r}))\n"
            f"    {_variable(c, single)}.eval()\n" for c in classes)
        docstring += "\n\n" + textwrap.fill(
            f"{'Its' if single else 'Their'} trained weights are in {files}, beside this "
            "file; they load with safetensors (pip install safetensors):", LINE_WIDTH) + (
            f"\n\n    from safetensors.torch import load_file\n{importing}\n{loading}")
    code = "\n\n\n".join([*helper_sources, *bodies]) + "\n"
    source = f'"""{docstring}"""\n{_imports(code)}\n\n\n{code}'
    try:
        ast.parse(source)
    except SyntaxError as err:
        raise ExportError(f"the generated code does not parse ({err.msg}, line {err.lineno}); "
                          "this is a LayerLab bug, please report it") from err
    return source


def module_paths(model: GraphModel) -> dict[str, str]:
    """Where each layer node sits in the exported class: node id -> submodule path (`fc` when
    the layer is an attribute of its own, `features.conv1` inside an nn.Sequential). Nodes
    written as expressions (Add, Flatten, ...) have no module and are absent."""
    return dict(_Plan(model).paths)


def exported_state_dict(model: GraphModel, state: Mapping[str, Any]) -> dict[str, Any]:
    """A state_dict by node-id keys (the compiled model's, `export --format safetensors`'s)
    renamed to the exported class's keys (`conv1.weight` -> `features.conv1.weight`)."""
    return _Plan(model).renamed(state)


def write_python(model: GraphModel, path: str | os.PathLike, class_name: str | None = None,
                 weights: str | os.PathLike | None = None,
                 network: str | None = None) -> list[Path]:
    """Export to `path` atomically; returns the files written, the module last.

    With `weights` (a run's checkpoint), its trained weights go to a safetensors file beside
    it (`net.py` -> `net.safetensors`; one per network for a design of several,
    `net_generator.safetensors`) under the exported class's own state_dict keys, so
    `load_state_dict` takes them as they are; the module's docstring says so. Everything is
    checked before anything is written: a checkpoint that does not fit the design, or a bad
    class name, leaves nothing behind."""
    classes = _classes(model, class_name, network)
    path = Path(path)
    if weights is None:
        write_atomic(path, _source(classes, None))
        return [path]
    from .export_weights import DESIGN_KEY, FORMAT_KEY, checkpoint_tensors

    files = _weight_files(classes, path.with_suffix(".safetensors").name)
    source = _source(classes, files, path.stem)
    state = checkpoint_tensors(model, weights)
    per_class = [(path.with_name(files[c.name]),
                  c.plan.renamed({k: v for k, v in state.items()
                                  if k.partition(".")[0] in c.plan.node_ids}))
                 for c in classes]
    for target, tensors in per_class:
        _save_safetensors(tensors, target, {FORMAT_KEY: PYTHON_WEIGHTS_FORMAT,
                                            DESIGN_KEY: dumps(model)})
    write_atomic(path, source)
    return [target for target, _ in per_class] + [path]


def _save_safetensors(tensors: dict, target: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    replace_atomically(target, lambda tmp: save_file(tensors, tmp, metadata=metadata))


@dataclass
class _Step:
    """One line of forward: a layer called (or a chain of them, one nn.Sequential), or the
    expression of a layer without weights."""

    nodes: list[fx.Node]  # the chain's calls, in order; one for a single layer
    attr: str = ""        # the attribute called; "" for an expression
    form: Form | None = None
    produced: list[fx.Node] = field(default_factory=list)  # one value, or one per output port

    @property
    def call(self) -> fx.Node:
        return self.nodes[0]


class _Plan:
    """What the exported class holds and runs, read from the compiled model's fx graph."""

    def __init__(self, model: GraphModel):
        self.model = model
        self.analysis = infer(model)
        self.graph = compile_model(model, self.analysis).graph  # refuses designs with errors
        self.recipes = recipes(model, self.analysis)
        self.node_ids = set(model.nodes)
        self.uses = Counter(used for node in self.graph.nodes for used in _arguments(node))
        self.steps = self._steps()
        self.paths: dict[str, str] = {}
        for step in self.steps:
            if step.attr:
                for call in step.nodes:
                    grouped = len(step.nodes) > 1
                    self.paths[call.target] = f"{step.attr}.{call.target}" if grouped else step.attr

    def renamed(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """`state` by node-id keys under the exported class's keys."""
        out = {}
        for key, value in state.items():
            node_id, _, rest = key.partition(".")
            if node_id not in self.paths:
                raise ExportError(f"'{key}' belongs to no layer of the design (no node "
                                  f"'{node_id}')")
            out[f"{self.paths[node_id]}.{rest}"] = value
        return out

    # --- the layers and the chains that become nn.Sequential ---------------------------------

    def _steps(self) -> list[_Step]:
        calls = [n for n in self.graph.nodes if n.op == "call_module"]
        chains: list[list[fx.Node]] = []
        chain_of: dict[fx.Node, list[fx.Node]] = {}
        for call in calls:
            before = call.args[0] if self._chainable(call) else None
            if before in chain_of and self._chainable(before) and len(before.users) == 1 \
                    and self.uses[before] == 1:
                chain_of[call] = chain_of[before]
                chain_of[call].append(call)
            else:
                chain_of[call] = [call]
                chains.append(chain_of[call])
        steps, names = [], set()
        features_before = False
        for chain in chains:
            if len(chain) >= SEQUENTIAL_MIN:
                name, kind = self._group_name(chain, names, features_before)
                features_before |= kind == "features"
                names.add(name)
                steps.append(_Step(chain, name, produced=[chain[-1]]))
                continue
            for call in chain:
                form = FUNCTIONAL_FORMS.get(self.recipes[call.target].cls)
                step = _Step([call], "" if form else call.target, form)
                ports = len(self.model.spec(call.target).outputs)
                if ports == 1:
                    step.produced = [call]
                else:  # the compiler reads each port as call[i]
                    by_index = {user.args[1]: user for user in call.users}
                    step.produced = [by_index.get(i) for i in range(ports)]
                steps.append(step)
        return steps

    def _chainable(self, call: Any) -> bool:
        """A layer nn.Sequential can hold: one module, one argument in, one value out."""
        if not isinstance(call, fx.Node) or call.op != "call_module":
            return False
        spec = self.model.spec(call.target)
        return (len(call.args) == 1 and not call.kwargs and len(spec.inputs) == 1
                and not spec.inputs[0].variadic and len(spec.outputs) == 1
                and self.recipes[call.target].cls not in FUNCTIONAL_FORMS)

    def _group_name(self, chain: list[fx.Node], taken: set[str],
                    features_before: bool) -> tuple[str, str]:
        """The nn.Sequential's attribute: the chain's common node-id prefix of three letters or
        more (block1_conv1, block1_relu1 -> block1), else what it holds (features, encoder; classifier after
        features; layers); never another node's id."""
        ids = [call.target for call in chain]
        categories = {self.model.spec(i).category for i in ids}
        kind = ("features" if categories & {"Convolution", "Pooling"} else
                "encoder" if categories & {"Attention", "Recurrent"} else
                "classifier" if features_before else "layers")
        prefix = "_".join(os.path.commonprefix([i.split("_") for i in ids]))
        # a letter or two (g_fc1, g_act1 -> g) names nothing a reader can tell apart
        candidates = [prefix, f"{prefix}_{kind}"] if len(prefix) >= 3 else []
        candidates += [kind, *(f"{kind}{n}" for n in range(2, len(self.node_ids) + 3))]
        others = (self.node_ids - set(ids)) | taken | {"x"}
        name = next(c for c in candidates if c not in others and identifier_problem(c) is None)
        return name, kind

    # --- __init__ ------------------------------------------------------------------------------

    def init_lines(self, helpers: set[str]) -> list[str]:
        width = LINE_WIDTH - 8  # the lines sit in the body of __init__
        lines = []
        for step in self.steps:
            if not step.attr:
                continue
            if len(step.nodes) == 1:
                cls, args = self._constructor(step.call.target, helpers)
                lines.append(_fill(f"self.{step.attr} = {cls}", args, "", width))
            else:
                helpers.add("OrderedDict")
                lines.append(f"self.{step.attr} = nn.Sequential(OrderedDict([")
                for call in step.nodes:
                    cls, args = self._constructor(call.target, helpers)
                    lines.append(_fill(f"    ({call.target!r}, {cls}", args, "),", width))
                lines.append("]))")
            for call in step.nodes:
                params = self.model.nodes[call.target].params
                path = self.paths[call.target]
                if params.get("weight_init", "default") != "default":
                    helpers.add("init_weights")
                    lines.append(f"init_weights(self.{path}, {_literal(params['weight_init'])})")
                if not params.get("trainable", True):
                    lines.append(f"self.{path}.requires_grad_(False)")
        return lines + self._rate_note(width)

    def _rate_note(self, width: int) -> list[str]:
        """A comment for layers the design trains at a multiple of the learning rate: a
        training setting (an optimiser parameter group) the module cannot hold, said rather
        than lost."""
        rates: dict[float, list[str]] = {}
        for node_id in self.paths:
            rate = self.model.nodes[node_id].params.get("lr_multiplier", 1.0)
            if rate != 1.0:
                rates.setdefault(rate, []).append(f"self.{self.paths[node_id]}")
        return [line for rate, layers in rates.items() for line in textwrap.wrap(
            f"LayerLab trains {', '.join(layers)} at {rate:g}x the learning rate "
            f"(lr_multiplier): give {'its' if len(layers) == 1 else 'their'} parameters an "
            "optimizer parameter group of their own", width - 2,
            initial_indent="# ", subsequent_indent="# ")]

    def _constructor(self, node_id: str, helpers: set[str]) -> tuple[str, list[str]]:
        """The class a node's module is built from and its arguments, as source."""
        recipe: ModuleRecipe = self.recipes[node_id]
        cls = recipe.cls
        if getattr(nn, cls.__name__, None) is cls:
            name = f"nn.{cls.__name__}"
        elif getattr(modules, cls.__name__, None) is cls:
            name = cls.__name__
            helpers.add(name)
        else:
            raise ExportError(f"node '{node_id}': cannot export module class {cls.__qualname__}, "
                              "which is neither in torch.nn nor one of LayerLab's helpers")
        node, spec = self.model.nodes[node_id], self.model.spec(node_id)
        declared = {p.name: p.default for p in spec.params}
        chosen = {k for k, v in node.params.items() if k in declared and v != declared[k]}
        defaults = _defaults(cls)
        same_as = next((_DEFAULTS_TO[k] for k in cls.__mro__ if k in _DEFAULTS_TO), {})
        kept = {}
        for key, value in recipe.kwargs.items():
            if key not in chosen and key in defaults and _same(value, defaults[key]):
                continue  # PyTorch's default, which the design did not choose
            if defaults.get(key, ...) is None and key in same_as \
                    and _same(value, recipe.kwargs.get(same_as[key])):
                continue
            kept[key] = value
        positional = next((_POSITIONAL[k] for k in cls.__mro__ if k in _POSITIONAL), ())
        args = []
        for key in positional:
            if key not in kept:
                break
            args.append(_literal(kept.pop(key)))
        args += [f"{key}={_literal(value)}" for key, value in kept.items()]
        return name, args

    # --- forward -------------------------------------------------------------------------------

    def forward(self) -> str:
        steps = self.steps
        end = len(steps)  # the return statement's index
        used_at: dict[fx.Node, list[int]] = {}
        for i, step in enumerate(steps):
            for value in _arguments(step.call):
                used_at.setdefault(value, []).append(i)
        output = next(n for n in self.graph.nodes if n.op == "output")
        results = output.args[0] if isinstance(output.args[0], tuple) else (output.args[0],)
        for value in results:
            used_at.setdefault(value, []).append(end)

        names: dict[fx.Node, str] = {}
        holder: dict[str, fx.Node] = {}  # each name's latest value
        taken = self.node_ids | {s.attr for s in steps}
        inputs = [n for n in self.graph.nodes if n.op == "placeholder"]
        for node in inputs:
            names[node], holder[node.target] = node.target, node

        def free(name: str, i: int) -> bool:
            """`name` may be bound at step i: unbound, or its value is not needed after it."""
            value = holder.get(name)
            return value is None or (name == "x" and max(used_at.get(value, [-1])) <= i)

        def arguments_at(i: int) -> int:
            return len(results) if i == end else len(_arguments(steps[i].call))

        lines = []
        for i, step in enumerate(steps):
            call = self._expression(step, names)
            if len(step.produced) == 1:
                value = step.produced[0]
                alone = used_at[value] == [i + 1] and arguments_at(i + 1) == 1
                if i == end - 1 and results == (value,) and used_at[value] == [end]:
                    lines.append(f"return {call}")
                    break
                base = step.attr if len(step.nodes) > 1 else step.nodes[0].target
                name = "x" if alone and free("x", i) else _fresh(base, base, taken, free, i)
                taken.add(name)
                names[value], holder[name] = name, value
                lines.append(f"{name} = {call}")
                continue
            targets = []
            for port, value in zip(self.model.spec(step.call.target).outputs, step.produced):
                if value is None:
                    targets.append("_")
                    continue
                name = _fresh(f"{step.call.target}_{port.name}", None, taken, free, i)
                taken.add(name)
                names[value], holder[name] = name, value
                targets.append(name)
            lines.append(f"{', '.join(targets)} = {call}")
        else:
            lines.append(f"return {', '.join(names[v] for v in results)}")
        args = ", ".join(["self", *(names[n] for n in inputs)])
        return f"def forward({args}):\n" + textwrap.indent("\n".join(lines), " " * 4)

    def _expression(self, step: _Step, names: dict[fx.Node, str]) -> str:
        call = step.call
        args = [names[a] for a in call.args]
        if step.form is not None:
            recipe = self.recipes[call.target]
            infos = inputs_of(self.model, call.target, self.analysis)
            tensors = [t for v in infos.values() for t in (v if isinstance(v, list) else [v])]
            return step.form({**_defaults(recipe.cls), **recipe.kwargs}, args, tensors)
        args += [f"{key}={names[value]}" for key, value in call.kwargs.items()]
        return f"self.{step.attr}({', '.join(args)})"


def _arguments(node: fx.Node) -> list[fx.Node]:
    """The values `node` reads, once per time it reads them."""
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return found


def _fresh(base: str, own: str | None, taken: set[str], free: Callable[[str, int], bool],
           i: int) -> str:
    """`base`, or `base_2`, ... when that is bound to a live value or names something else (a
    node, a Sequential) than `own`, the value's own name."""
    candidates = itertools.chain([base], (f"{base}_{n}" for n in itertools.count(2)))
    return next(c for c in candidates if free(c, i) and (c == own or c not in taken))


def _fill(head: str, args: list[str], tail: str, width: int) -> str:
    """`head(args)tail` on one line, or broken after commas with the continuation lines under
    the first argument, as a person wraps a long call."""
    line = f"{head}({', '.join(args)}){tail}"
    if len(line) <= width:
        return line
    lines, current, pad = [], f"{head}(", " " * (len(head) + 1)
    for i, arg in enumerate(args):
        piece = arg + ("," if i < len(args) - 1 else f"){tail}")
        if len(current) + len(piece) > width and not current.endswith("("):
            lines.append(current.rstrip())
            current = pad
        current += piece + " "
    lines.append(current.rstrip())
    return "\n".join(lines)


#: Defaults that no signature shows: nn.RNN reads `nonlinearity` out of its **kwargs.
_UNSIGNED_DEFAULTS: dict[type, dict[str, Any]] = {nn.RNN: {"nonlinearity": "tanh"}}


def _defaults(cls: type) -> dict[str, Any]:
    """Each constructor argument's default, from the first class along the MRO whose __init__
    names it (modules.LSTM passes num_layers on to nn.RNNBase, which defaults it to 1)."""
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        for name, value in _UNSIGNED_DEFAULTS.get(klass, {}).items():
            found.setdefault(name, value)
    seen: set[str] = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            parameters = list(inspect.signature(init).parameters.values())[1:]  # not self
        except (TypeError, ValueError):
            continue
        for p in parameters:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in seen:
                continue
            seen.add(p.name)
            if p.default is not p.empty:
                found[p.name] = p.default
    return found


def _same(a: Any, b: Any) -> bool:
    """Equal as constructor arguments: False is not 0, a list is not a number."""
    return isinstance(a, bool) == isinstance(b, bool) and type(a) in (type(b), int, float) \
        and a == b


def _literal(value: Any) -> str:
    if isinstance(value, (bool, int, float, str)) or value is None:
        text = repr(value)
        ast.literal_eval(text)  # only plain literals reach the generated code
        return text
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    raise ExportError(f"cannot write {value!r} as a Python literal")


def _imports(code: str) -> str:
    """The import lines `code` needs: nn always (the class's base), the rest only when used."""
    used = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    standard = [line for name, line in (("math", "import math"),
                                        ("OrderedDict", "from collections import OrderedDict"))
                if name in used]
    torch = ["import torch"] if "torch" in used else []
    return "\n".join(standard + ([""] if standard else []) + torch + ["from torch import nn"])


def _helper_sources(names: set[str]) -> list[str]:
    """Sources of the helpers in `modules` that `names` need, with their own dependencies,
    in the order `modules` defines them (dependencies first)."""
    helpers = _helpers()
    wanted, queue = set(), [name for name in names if name in helpers]
    while queue:
        name = queue.pop()
        if name not in wanted:
            wanted.add(name)
            queue += helpers[name][2]
    return [helpers[n][1] for n in sorted(wanted, key=lambda n: helpers[n][0])]


@functools.cache
def _helpers() -> dict[str, tuple[int, str, tuple[str, ...]]]:
    """Each class and function `modules` defines: its line, its source and the other helpers
    it names (read once: inspect.getsource is slow)."""
    defined = {name: obj for name, obj in vars(modules).items()
               if (inspect.isclass(obj) or inspect.isfunction(obj))
               and getattr(obj, "__module__", None) == modules.__name__}
    out = {}
    for name, obj in defined.items():
        lines, first = inspect.getsourcelines(obj)
        source = "".join(lines).rstrip()
        named = {n.id for n in ast.walk(ast.parse(textwrap.dedent(source)))
                 if isinstance(n, ast.Name) and n.id in defined and n.id != name}
        out[name] = (first, source, tuple(sorted(named)))
    return out
