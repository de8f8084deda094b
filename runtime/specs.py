"""The declaration of a layer type: `LayerSpec` with its `ParamSpec`s and `PortSpec`s.

A layer type is declared once (in `runtime/layers/`) and everything reads that declaration: the
palette, the property editors, the file loader, shape inference, the compiler, the exporter and the
generated docs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import ParamError, ShapeError
from .names import did_you_mean

#: Palette order of the categories.
CATEGORIES = ("Input/Output", "Core", "Convolution", "Pooling", "Reshape", "Normalization",
              "Regularization", "Activation", "Embedding", "Recurrent", "Attention", "Merge",
              "Generative")

#: Semantic kinds of parameters; the designer maps each one to an editor widget.
PARAM_KINDS = ("int", "float", "bool", "choice", "int_list", "float_list", "str_list", "size",
               "padding", "str", "path")

DTYPES = ("float32", "int64")


@dataclass(frozen=True)
class TensorInfo:
    """The type of a tensor flowing along an edge: its shape without the batch dimension, and dtype."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        """Number of dimensions, counting the batch dimension (as PyTorch does)."""
        return len(self.shape) + 1

    def describe(self) -> str:
        """The shape as users read it, e.g. ``(batch, 8, 28, 28)``."""
        return "(" + ", ".join(["batch", *map(str, self.shape)]) + ")"

    def as_list(self) -> list[int | None]:
        """JSON form with the batch dimension as null."""
        return [None, *self.shape]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a layer type.

    Attributes:
        name: PyTorch's name for it.
        kind: One of `PARAM_KINDS`.
        default: Value used when a design omits the parameter.
        doc: One sentence for the tooltip and the docs.
        minimum, maximum: Inclusive bounds for numbers (and for each entry of lists and sizes).
        exclusive_minimum: Make `minimum` exclusive (a learning rate must be above 0).
        exclusive_maximum: Make `maximum` exclusive (a dropout probability must stay below 1).
        choices: Allowed strings for "choice" (and the named values of "padding").
        nullable: None is allowed; `doc` says what it means.
        length: For "size"/"padding": how many entries a list form has (1 for 1-D layers, 2 for 2-D);
            for "float_list": the exact length.
        min_items, max_items: For "int_list" and "str_list": bounds on the list's length.
        words: Named values accepted besides a number ("full" batch, "auto" threads).
    """

    name: str
    kind: str
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False
    length: int | None = None
    min_items: int = 0
    max_items: int | None = None
    exclusive_minimum: bool = False
    words: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter '{self.name}': unknown kind '{self.kind}'")

    def validate(self, value: Any) -> Any:
        """Check `value` and return it in canonical JSON form; raise `ParamError` naming the problem."""
        if value is None:
            if self.nullable:
                return None
            self._fail(f"must not be null (expected {self._expected()})")
        if self.words and isinstance(value, str):
            if value not in self.words:
                self._fail(f"must be {self._expected()}, got {_show(value)}")
            return value
        if self.kind == "int":
            return self._number(value, integer=True)
        if self.kind == "float":
            return float(self._number(value, integer=False))
        if self.kind == "bool":
            if not isinstance(value, bool):
                self._fail(f"must be true or false, got {_show(value)}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                hint = did_you_mean(value, list(self.choices)) if isinstance(value, str) else ""
                self._fail(f"must be one of {_choices(self.choices)}, got {_show(value)}{hint}")
            return value
        if self.kind in ("int_list", "float_list", "str_list"):
            return self._list(value)
        if self.kind in ("str", "path"):
            if not isinstance(value, str) or (self.kind == "path" and not value.strip()):
                self._fail(f"must be {self._expected()}, got {_show(value)}")
            return value
        if self.kind == "padding" and isinstance(value, str):
            if value not in self.choices:
                self._fail(f"must be {_choices(self.choices)}, an integer or a list of "
                           f"{self.length} integers, got {_show(value)}")
            return value
        return self._size(value)  # "size", or "padding" given as numbers

    def _expected(self) -> str:
        if self.kind == "choice":
            return f"one of {_choices(self.choices)}"
        if self.kind == "padding":
            return f"{_choices(self.choices)} or an integer"
        text = {"int": "an integer", "float": "a number", "bool": "true or false",
                "int_list": "a list of integers",
                "float_list": f"a list of {self.length} numbers",
                "str_list": "a list of names",
                "size": f"an integer or a list of {self.length} integers", "str": "a string",
                "path": "a file or folder path"}[self.kind]
        return f"{text} or {_choices(self.words)}" if self.words else text

    def _fail(self, message: str) -> None:
        raise ParamError(self.name, f"'{self.name}' {message}")

    def _number(self, value: Any, integer: bool) -> int | float:
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            self._fail(f"must be {'an integer' if integer else 'a number'}, got {_show(value)}")
        if not integer and not _finite(value):
            self._fail(f"must be a finite number, got {_show(value)}")
        self._check_bounds(value)
        return value

    def _check_bounds(self, value: float, what: str = "") -> None:
        label = f"{what} " if what else ""
        if self.minimum is not None:
            if self.exclusive_minimum and value <= self.minimum:
                self._fail(f"{label}must be above {_num(self.minimum)}, got {_num(value)}")
            if value < self.minimum:
                self._fail(f"{label}must be at least {_num(self.minimum)}, got {_num(value)}")
        if self.maximum is not None:
            if self.exclusive_maximum and value >= self.maximum:
                self._fail(f"{label}must be below {_num(self.maximum)}, got {_num(value)}")
            if value > self.maximum:
                self._fail(f"{label}must be at most {_num(self.maximum)}, got {_num(value)}")

    def _list(self, value: Any) -> list:
        if not isinstance(value, (list, tuple)):
            self._fail(f"must be {self._expected()}, got {_show(value)}")
        if self.kind == "float_list" and self.length is not None and len(value) != self.length:
            self._fail(f"must be {self._expected()}, got a list of {len(value)}")
        if len(value) < self.min_items:
            self._fail(f"needs at least {self.min_items} entr{'y' if self.min_items == 1 else 'ies'}")
        if self.max_items is not None and len(value) > self.max_items:
            self._fail(f"takes at most {self.max_items} entries, got {len(value)}")
        out = []
        for i, item in enumerate(value):
            if self.kind == "str_list":
                if not isinstance(item, str) or not item:
                    self._fail(f"entry {i} must be a name, got {_show(item)}")
                if self.choices and item not in self.choices:
                    self._fail(f"entry {i} must be one of {_choices(self.choices)}, "
                               f"got {_show(item)}")
                out.append(item)
                continue
            integer = self.kind == "int_list"
            if isinstance(item, bool) or not isinstance(item, int if integer else (int, float)):
                self._fail(f"entry {i} must be {'an integer' if integer else 'a number'}, "
                           f"got {_show(item)}")
            if not integer and not _finite(item):
                self._fail(f"entry {i} must be a finite number, got {_show(item)}")
            self._check_bounds(item, f"entry {i}")
            out.append(item if integer else float(item))
        return out

    def _size(self, value: Any) -> int | list[int]:
        if isinstance(value, (list, tuple)):
            if len(value) != self.length:
                self._fail(f"must be an integer or a list of {self.length} integers, "
                           f"got a list of {len(value)}")
            for i, item in enumerate(value):
                if isinstance(item, bool) or not isinstance(item, int):
                    self._fail(f"entry {i} must be an integer, got {_show(item)}")
                self._check_bounds(item, f"entry {i}")
            return list(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(f"must be {self._expected()}, got {_show(value)}")
        self._check_bounds(value)
        return value


@dataclass(frozen=True)
class PortSpec:
    """A named input or output of a layer.

    Attributes:
        name: Port name used in design files (``to_port``/``from_port``).
        doc: What the port carries.
        optional: An input that may stay unconnected (attention's key/value).
        variadic: An input taking any number of edges, in file order (merge nodes).
        min_count: Fewest edges a variadic input needs.
    """

    name: str
    doc: str = ""
    optional: bool = False
    variadic: bool = False
    min_count: int = 1


@dataclass(frozen=True)
class ModuleRecipe:
    """How to construct the torch module of one node: a class and literal keyword arguments.

    The compiler instantiates it; the exporter writes it out as source. Keeping the recipe as data is
    what lets both read a single declaration.
    """

    cls: type
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def instantiate(self) -> Any:
        """Build the module."""
        return self.cls(**self.kwargs)


@dataclass
class LayerContext:
    """What a shape rule or builder sees: the node's validated params and its input tensors.

    Attributes:
        node_id: The node being inferred (for messages).
        params: Every parameter, defaults filled in.
        inputs: Port name -> `TensorInfo` (or a list of them for a variadic port); unconnected optional
            ports are absent.
        warnings: Collected by `warn`.
    """

    node_id: str
    params: Mapping[str, Any]
    inputs: Mapping[str, Any]
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    @property
    def x(self) -> TensorInfo:
        """The tensor on the port named "input" (most layers have just that one)."""
        return self.inputs["input"]

    def warn(self, message: str) -> None:
        """Record that the input is legal but probably a mistake."""
        self.warnings.append(message)


@dataclass(frozen=True)
class Inference:
    """What a shape rule returns for one node.

    Attributes:
        outputs: Output port name -> tensor.
        params: Number of parameters the built module has.
        flops: Forward floating-point operations for a batch of one (a multiply-add counts 2).
        buffers: Elements of the module's non-parameter tensors (BatchNorm's running statistics,
            a sinusoidal position table): memory that parameter counts do not show.
    """

    outputs: Mapping[str, TensorInfo]
    params: int = 0
    flops: int = 0
    buffers: int = 0


ShapeRule = Callable[[LayerContext], Inference]
Builder = Callable[[LayerContext], ModuleRecipe]

INIT_PARAM = ParamSpec(
    "weight_init", "choice", "default",
    "How the weights are initialised: PyTorch's default for the layer, or a named scheme "
    "(biases start at zero for any named scheme).",
    choices=("default", "zeros", "normal", "uniform", "xavier_uniform", "xavier_normal",
             "kaiming_uniform", "kaiming_normal", "orthogonal"))
TRAINABLE_PARAM = ParamSpec("trainable", "bool", True,
                            "When false the layer's weights are frozen and are not updated by training.")
LR_MULTIPLIER_PARAM = ParamSpec(
    "lr_multiplier", "float", 1.0,
    "Multiplies the learning rate for this layer's weights (fine-tuning: a pre-trained body "
    "learns slower than a new head).", minimum=0.0, exclusive_minimum=True)
#: Appended to the parameters of every layer with weights, in this order.
WEIGHT_PARAMS = (INIT_PARAM, TRAINABLE_PARAM, LR_MULTIPLIER_PARAM)

#: Parameters that were renamed, old name -> new name (the file migration converts old files; this
#: only lets an error message point at the new name).
RENAMED_PARAMS = {"init": "weight_init"}

INPUT = PortSpec("input", "The tensor to transform.")
OUTPUT = PortSpec("output", "The result.")


@dataclass(frozen=True)
class LayerSpec:
    """The one declaration of a layer type.

    Attributes:
        type_id: Stable id used in design files; follows PyTorch's class name where there is one.
        title: Name shown in the palette.
        category: One of `CATEGORIES`.
        explanation: Two sentences for learners: what it does, and when to use it.
        params: Declared parameters; `weight_init`, `trainable` and `lr_multiplier`
            (`WEIGHT_PARAMS`) are appended for layers with weights.
        infer: The shape rule: input tensors -> output tensors, parameter count, FLOPs.
        build: Returns the `ModuleRecipe` of the node's torch module; None for Input and Output.
        inputs, outputs: Ports, in the order the module's forward takes them.
        has_weights: The module has learnable weights (adds `WEIGHT_PARAMS`).
        aliases: Other names users know it by (Keras, other tools); used for search and suggestions.
        key_params: Parameters worth showing on the node in the canvas.
        input_dtypes: Element types the layer accepts; shape inference refuses the others.
        output_range: (low, high) bounds of what the layer outputs (None: unbounded on that side),
            e.g. (0, 1) for Sigmoid; the losses read it to tell probabilities and
            log-probabilities from raw scores (Softmax before cross_entropy).
        units_can_die: Units can get stuck at exactly zero for every input (ReLU), so the dead
            fraction of its outputs means something (a fact for the training doctor's dying-unit
            rule, issue #12).
        saturation: (low, high): outputs at or beyond these are in the flat part of the curve,
            where gradients vanish (Sigmoid, Tanh); None where the layer does not saturate.
    """

    type_id: str
    title: str
    category: str
    explanation: str
    params: tuple[ParamSpec, ...]
    infer: ShapeRule
    build: Builder | None
    inputs: tuple[PortSpec, ...] = (INPUT,)
    outputs: tuple[PortSpec, ...] = (OUTPUT,)
    has_weights: bool = False
    aliases: tuple[str, ...] = ()
    key_params: tuple[str, ...] = ()
    input_dtypes: tuple[str, ...] = ("float32",)
    output_range: tuple[float | None, float | None] | None = None
    units_can_die: bool = False
    saturation: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.type_id}: unknown category '{self.category}'")
        if self.has_weights:
            object.__setattr__(self, "params", (*self.params, *WEIGHT_PARAMS))
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.type_id}: duplicate parameter names in {names}")

    def param(self, name: str) -> ParamSpec:
        """The `ParamSpec` called `name`; KeyError when the layer has none."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def input_port(self, name: str) -> PortSpec | None:
        return next((p for p in self.inputs if p.name == name), None)

    def check_params(self, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[ParamError]]:
        """Every parameter (given values validated, the rest at defaults) and the problems found."""
        values = self.defaults()
        problems = []
        for name, value in given.items():
            if name not in values:
                renamed = RENAMED_PARAMS.get(name)
                hint = (f": it is now called '{renamed}'" if renamed in values
                        else did_you_mean(name, list(values)))
                problems.append(ParamError(name, f"{self.type_id} has no parameter '{name}'"
                                           f"{hint}"))
                continue
            try:
                values[name] = self.param(name).validate(value)
            except ParamError as err:
                problems.append(err)
        return values, problems

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default, as fresh JSON values."""
        return {p.name: _copy(p.default) for p in self.params}


def fail(message: str) -> None:
    """Shortcut for shape rules: refuse the inputs with a message saying what to change."""
    raise ShapeError(message)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _finite(value: int | float) -> bool:
    """A number a float can hold (an integer of hundreds of digits cannot)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _show(value: Any, depth: int = 0, limit: int = 60) -> str:
    """A value as messages quote it, cut short: a file may hold lists nested hundreds deep or
    numbers thousands of digits long."""
    if isinstance(value, str):
        text = f"'{value}'"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, (list, tuple)):
        if depth >= 3:
            return "[…]"
        text = "[" + ", ".join(_show(v, depth + 1, limit) for v in value[:8]) + (
            ", …]" if len(value) > 8 else "]")
    elif isinstance(value, int) and value.bit_length() > 200:  # str() refuses huge integers
        text = f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _num(value: float) -> str:
    if isinstance(value, int):
        return _show(value)  # exact, and an integer too large for a float is written short
    return str(int(value)) if value.is_integer() else str(value)


def _choices(choices: tuple[str, ...]) -> str:
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
