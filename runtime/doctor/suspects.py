"""Design choices that can stop a network from learning, named when a symptom needs a cause
(stuck at chance, a batch it cannot fit, underfitting). Each is legal and sometimes intended (an
autoencoder's bottleneck, strong regularisation on purpose), so none is a finding by itself.
Most likely first."""
from __future__ import annotations

from dataclasses import dataclass

from ..graph import GraphModel
from . import anatomy
from .findings import Edit, Fix

#: A hidden layer this narrow (or narrower than the classes) squeezes the signal.
NARROW = 2
WIDE = 32
HEAVY_DROPOUT = 0.5
STRONG_WEIGHT_DECAY = 0.1
STRONG_L1 = 0.01
#: A max-norm constraint this tight (dropout papers use 3 to 4) starves every unit.
TIGHT_MAX_NORM = 0.5


@dataclass(frozen=True)
class Suspect:
    """A likely cause: where, why (a clause for the explanation) and its fix."""

    kind: str
    node: str | None
    field: str | None
    why: str
    fix: Fix


def suspects(design: GraphModel, config, classes: int | None = None) -> list[Suspect]:
    out: list[Suspect] = []
    out += _frozen(design)
    out += _linear(design)
    out += _plain_rnn(design)
    out += _narrow(design, classes)
    out += _dropout(design)
    out += _penalties(config)
    return out


def _frozen(design: GraphModel) -> list[Suspect]:
    frozen = [n for n in anatomy.weighted(design)
              if design.nodes[n].params.get("trainable") is False]
    if not frozen:
        return []
    return [Suspect("frozen", frozen[0], None,
                    f"{', '.join(frozen)} {'is' if len(frozen) == 1 else 'are'} frozen "
                    "(trainable off), so those weights never learn",
                    Fix(f"Unfreeze {', '.join(frozen)}",
                        tuple(Edit("set_param", n, "trainable", True) for n in frozen)))]


def _linear(design: GraphModel) -> list[Suspect]:
    """No activation anywhere between the Input and the Output: a linear model."""
    if any(design.spec(n).category == "Activation" for n in design.nodes) or \
            any(design.nodes[n].type != "Linear" for n in anatomy.weighted(design)):
        return []  # recurrent and attention layers have their own non-linearities
    head = anatomy.last_weighted(design)
    if head is None or design.nodes[head].type != "Linear":
        return []
    source = anatomy.feeding(design, head)
    if not source:
        return []
    return [Suspect("linear", head, None,
                    "the network has no activation, so however many layers it has it can only "
                    "draw straight boundaries",
                    Fix(f"Add a hidden layer of 64 ReLU units before {head}", (
                        # inserted after the same node in reverse: source -> Linear -> ReLU
                        Edit("insert_after", source[0], type="ReLU"),
                        Edit("insert_after", source[0], type="Linear",
                             params={"out_features": 64}))))]


#: Steps beyond which a plain RNN's gradient fades before it reaches the first ones.
LONG_SEQUENCE = 20
_RECURRENT_PARAMS = ("hidden_size", "num_layers", "bidirectional", "dropout", "return_sequences")


def _plain_rnn(design: GraphModel) -> list[Suspect]:
    """A plain RNN over long sequences: its gradient shrinks at every step back in time."""
    from ..shapes import infer

    analysis = None
    out = []
    for node in anatomy.order(design):
        if design.nodes[node].type != "RNN":
            continue
        analysis = analysis or infer(design)
        source = anatomy.feeding(design, node)
        info = analysis.nodes[source[0]].outputs if source and source[0] in analysis.nodes \
            else {}
        shape = next(iter(info.values())).shape if info else ()
        steps = shape[0] if len(shape) >= 2 else 0
        if steps < LONG_SEQUENCE:
            continue
        params = {k: v for k, v in design.nodes[node].params.items() if k in _RECURRENT_PARAMS}
        out.append(Suspect("plain_rnn", node, None,
                           f"{node} is a plain RNN over {steps} steps: the gradient that would "
                           "teach it what came first shrinks at every step back in time "
                           "(vanishing through time)",
                           Fix(f"Replace {node} with an LSTM, whose gated memory carries the "
                               "gradient across long sequences",
                               (Edit("replace_node", node, type="LSTM", params=params),))))
    return out


def _narrow(design: GraphModel, classes: int | None) -> list[Suspect]:
    narrow = []
    for node in anatomy.hidden_weighted(design):
        param = anatomy.width_param(design, node)
        if param == "out_channels":
            continue  # a few channels still carry every position's value: not a bottleneck
        width = design.nodes[node].params.get(param) if param else None
        if isinstance(width, int) and (width <= NARROW or (classes and width < classes)):
            narrow.append((node, param, width))
    if not narrow:
        return []
    node, _, width = narrow[0]
    names = ", ".join(n for n, _, _ in narrow)
    return [Suspect("narrow", node, None,
                    f"{node} has only {width} unit{'s' if width != 1 else ''}, too few to carry "
                    "what the later layers need",
                    Fix(f"Widen {names} to {WIDE} units",
                        tuple(Edit("set_param", n, p, max(WIDE, w * 4)) for n, p, w in narrow)))]


def _dropout(design: GraphModel) -> list[Suspect]:
    heavy = [n for n in anatomy.order(design) if design.nodes[n].type == "Dropout"
             and design.nodes[n].params.get("p", 0) >= HEAVY_DROPOUT]
    if not heavy:
        return []
    p = max(design.nodes[n].params["p"] for n in heavy)
    return [Suspect("dropout", heavy[0], None,
                    f"{', '.join(heavy)} drop{'s' if len(heavy) == 1 else ''} up to {p:.0%} of "
                    "the signal at every step, more noise than the network can learn through",
                    Fix(f"Lower the dropout of {', '.join(heavy)} to 0.1",
                        tuple(Edit("set_param", n, "p", 0.1) for n in heavy)))]


def _penalties(config) -> list[Suspect]:
    out = []
    decay = config.optimizer.get("weight_decay") or 0.0
    if decay >= STRONG_WEIGHT_DECAY:
        out.append(Suspect("weight_decay", None, "training.optimizer.weight_decay",
                           f"a weight decay of {decay:g} pulls every weight to zero harder than "
                           "the data pulls it anywhere",
                           Fix("Lower the weight decay to 1e-4", (Edit(
                               "set_training", name="optimizer.weight_decay", value=1e-4),))))
    max_norm = config["regularization"]["max_norm"]
    if max_norm is not None and max_norm < TIGHT_MAX_NORM:
        out.append(Suspect("max_norm", None, "training.regularization.max_norm",
                           f"a max weight norm of {max_norm:g} keeps every unit's weights too "
                           "small to carry a signal",
                           Fix("Remove the max-norm constraint", (Edit(
                               "set_training", name="regularization.max_norm", value=None),))))
    l1 = config["regularization"]["l1"] or 0.0
    if l1 >= STRONG_L1:
        out.append(Suspect("l1", None, "training.regularization.l1",
                           f"an L1 penalty of {l1:g} drives the weights to exactly zero",
                           Fix("Lower the L1 penalty to 1e-5", (Edit(
                               "set_training", name="regularization.l1", value=1e-5),))))
    return out
