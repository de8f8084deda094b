"""Sequence to sequence (#14): an encoder reads the source tokens, a decoder writes the target.

The design holds two networks. `encoder`: an Input of the source's token ids -> ... -> one
Output, what it hands on (its last state as a vector, or every step's state for attention).
`decoder`: two Inputs, the target tokens so far (int64, one per target step) and what the
encoder handed on (the encoder Output's shape), -> ... -> one Output of class scores per target
step. Its first token is a start token, the id after the dataset's vocabulary, so the decoder's
Embedding needs one more entry than the vocabulary.

Training uses teacher forcing (Williams and Zipser 1989): the decoder reads the true target
shifted one step right, and predicts every step at once; the validation loss and accuracy are
measured the same way, so they compare with training's. Each epoch also decodes greedily, as
the model would be used: the decoder reads its own previous predictions, one step after the
other (Sutskever et al. 2014); `generated_accuracy` (tokens) and `sequence_accuracy` (whole
sequences right) measure that, and the report and the samples show it. The decoder must be causal (each step sees only earlier tokens:
unidirectional recurrent layers, causal self-attention); a decoder that is not is refused, as it
would read the answer during training. Attention over the encoder's states (Bahdanau et al.
2015) is a MultiheadAttention in the decoder whose key is the encoder's states; its weights are
drawn as the attention map.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch

from ..data.base import Dataset, NamedTensors
from ..errors import TrainingError
from ..names import INPUTS_ATTRIBUTE
from ..networks import is_multi_network, network_title
from .callbacks import Callback
from .events import Translations
from .losses import LOSSES

if TYPE_CHECKING:
    from .trainer import Trainer

ENCODER, DECODER = "encoder", "decoder"
HOW_TO_NAME = ("select a network's nodes and use Edit ▸ Make Network from Selection, naming "
               "them encoder and decoder")
#: Samples whose sequence accuracy is measured per epoch (training and validation each).
ACCURACY_SAMPLES = 1000
#: Source -> output pairs shown per epoch.
PAIRS = 8
#: At most this many epochs of a run send their pairs (evenly spread, the last included).
MAX_SAMPLE_EPOCHS = 50


def seq2seq_prepare(dataset: Dataset) -> Dataset:
    """The dataset as seq2seq trains on it: named inputs `source` and `target` (the decoder is
    fed the target during training), the target tokens as labels.

    Raises:
        TrainingError: the dataset does not pair token sequences with token sequences.
    """
    if isinstance(dataset.x, NamedTensors) and "target" in dataset.x:
        return dataset  # already prepared
    x, y = dataset.x, dataset.y
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.dim() == 2
            and y.dim() == 2 and not x.is_floating_point() and not y.is_floating_point()
            and dataset.vocab_size):
        raise TrainingError(f"seq2seq translates token sequences into token sequences, but "
                            f"dataset '{dataset.name}' gives {_describe(x)} -> {_describe(y)}: "
                            "use one such as reverse or copy", "data")
    vocab = max(dataset.vocab_size, int(y.max()) + 1)
    return Dataset(dataset.name, NamedTensors({"source": x, "target": y}), y, "classification",
                   vocab, [str(i) for i in range(vocab)], dataset.vocab_size, "sequence",
                   dict(dataset.notes))


def _describe(t) -> str:
    if not isinstance(t, torch.Tensor):
        return "named data"
    return f"{str(t.dtype).replace('torch.', '')} ({', '.join(map(str, t.shape[1:]))})"


class _Parts:
    """The two networks of a seq2seq design, checked against each other and the data."""

    def __init__(self, trainer: "Trainer"):
        design, model = trainer.design, trainer.model
        networks = design.networks()
        if not is_multi_network(design) or DECODER not in networks or ENCODER not in networks:
            names = ", ".join(f"'{network_title(n)}'" for n in networks)
            missing = " and ".join(n for n in (ENCODER, DECODER) if n not in networks)
            raise TrainingError(f"seq2seq trains two networks, an encoder and a decoder; this "
                                f"design has no {missing} (its networks: {names}): {HOW_TO_NAME}",
                                "design")
        self.encoder, self.decoder = model.networks[ENCODER], model.networks[DECODER]
        outputs = {name: [n for n in ids if design.nodes[n].type == "Output"]
                   for name, ids in networks.items()}
        for name in (ENCODER, DECODER):
            if len(outputs[name]) != 1:
                raise TrainingError(f"the {name} needs exactly one Output; it has "
                                    f"{len(outputs[name])}", "design",
                                    (outputs[name] or [None])[0])
        analysis = trainer._analysis
        ds = trainer.dataset
        source, target = ds.x["source"], ds.x["target"]
        encoder_input = next(n for n, _ in getattr(self.encoder, INPUTS_ATTRIBUTE))
        wanted = analysis.nodes[encoder_input].outputs["output"]
        if tuple(wanted.shape) != tuple(source.shape[1:]) or wanted.dtype != "int64":
            raise TrainingError(f"dataset '{ds.name}' gives source sequences of int64 "
                                f"({source.shape[1]}) but the encoder's Input '{encoder_input}' "
                                f"takes {wanted.dtype} ({', '.join(map(str, wanted.shape))}): "
                                "set its shape and dtype to match", "data", encoder_input)
        self.handed = outputs[ENCODER][0]
        handed = analysis.nodes[self.handed].outputs["output"]
        inputs = [name for name, _ in getattr(self.decoder, INPUTS_ATTRIBUTE)]
        infos = dict(getattr(self.decoder, INPUTS_ATTRIBUTE))
        tokens = [n for n in inputs if infos[n].dtype == "int64"]
        memory = [n for n in inputs if infos[n].dtype != "int64"]
        if len(tokens) != 1 or len(memory) != 1:
            raise TrainingError(
                f"the decoder needs two Inputs: the target tokens so far (int64) and what the "
                f"encoder hands on (float32, {handed.describe()} like the encoder's Output "
                f"'{self.handed}'); it has {len(tokens)} int64 and {len(memory)} float32 "
                f"Input(s)", "design", (inputs or [None])[0])
        self.tokens, self.memory = tokens[0], memory[0]
        if tuple(infos[self.memory].shape) != tuple(handed.shape):
            raise TrainingError(
                f"the encoder's Output '{self.handed}' gives {handed.describe()} but the "
                f"decoder's Input '{self.memory}' expects "
                f"(batch, {', '.join(map(str, infos[self.memory].shape))}): make them the same "
                "shape", "design", self.memory)
        self.order = inputs  # the decoder's forward takes its Inputs in this order
        self.output = outputs[DECODER][0]
        self.steps, self.vocab = target.shape[1], ds.num_classes
        if tuple(infos[self.tokens].shape) != (self.steps,):
            raise TrainingError(f"the targets have {self.steps} steps but the decoder's Input "
                                f"'{self.tokens}' takes ({', '.join(map(str, infos[self.tokens].shape))}):"
                                f" set its shape to [{self.steps}]", "data", self.tokens)
        scores = analysis.nodes[self.output].outputs["output"]
        if tuple(scores.shape) != (self.steps, self.vocab):
            raise TrainingError(f"the decoder's Output '{self.output}' must give one score per "
                                f"token for each target step, (batch, {self.steps}, "
                                f"{self.vocab}); it gives {scores.describe()}", "design",
                                self.output)
        self.start = self.vocab  # the start token: the id after the vocabulary
        embeddings = [e.dst for e in design.edges if e.src == self.tokens
                      and design.nodes[e.dst].type == "Embedding"]
        for node in embeddings:
            size = design.nodes[node].params["num_embeddings"]
            if size <= self.start:
                raise TrainingError(
                    f"the decoder reads {self.vocab + 1} token ids (the {self.vocab} of the "
                    f"data and the start token {self.start}) but Embedding '{node}' has "
                    f"num_embeddings {size}: set it to {self.vocab + 1}", "design", node)

    def decode(self, tokens: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        args = {self.tokens: tokens, self.memory: memory}
        return self.decoder.forward(*(args[name] for name in self.order))

    def shifted(self, target: torch.Tensor) -> torch.Tensor:
        """The decoder's input under teacher forcing: the start token, then the target but its
        last step."""
        start = torch.full_like(target[:, :1], self.start)
        return torch.cat([start, target[:, :-1]], dim=1)

    def teacher_forced(self, batch: NamedTensors) -> torch.Tensor:
        return self.decode(self.shifted(batch["target"]), self.encoder.forward(batch["source"]))

    def greedy(self, batch: NamedTensors) -> torch.Tensor:
        """Class scores (batch, steps, vocab), each step decoded from the decoder's own earlier
        predictions. The later positions hold start tokens until they are decoded; a causal
        decoder does not read them."""
        source = batch["source"] if isinstance(batch, NamedTensors) else batch
        memory = self.encoder.forward(source)
        tokens = torch.full((len(source), self.steps), self.start, dtype=torch.long,
                            device=source.device)
        scores = []
        for step in range(self.steps):
            out = self.decode(tokens, memory)[:, step]
            scores.append(out)
            if step + 1 < self.steps:
                tokens[:, step + 1] = out.argmax(dim=-1)
        return torch.stack(scores, dim=1)

    @torch.no_grad()
    def check_causal(self, device: torch.device) -> None:
        """Refuse a decoder whose early steps change when later tokens do."""
        generator = torch.Generator().manual_seed(0)
        tokens = torch.randint(0, self.vocab, (2, self.steps), generator=generator)
        changed = tokens.clone()
        half = max(1, self.steps // 2)
        changed[:, half:] = (changed[:, half:] + 1) % self.vocab
        memory_shape = (2, *getattr(self.decoder, INPUTS_ATTRIBUTE)[
            self.order.index(self.memory)][1].shape)
        memory = torch.randn(memory_shape, generator=generator).to(device)
        was = self.decoder.training
        self.decoder.eval()
        try:
            a = self.decode(tokens.to(device), memory)[:, :half]
            b = self.decode(changed.to(device), memory)[:, :half]
        finally:
            self.decoder.train(was)
        if not torch.allclose(a, b, atol=1e-5):
            raise TrainingError(
                "the decoder is not causal: its output at a step changes when later target "
                "tokens change, so teacher forcing would show it the answer. Use unidirectional "
                "recurrent layers (bidirectional off) and causal self-attention in the decoder",
                "design", self.tokens)


def seq2seq_objective(trainer: "Trainer") -> tuple[Callable, Callable, Callable]:
    """(teacher-forced forward, cross-entropy, greedy decoding) for an encoder-decoder design.

    Raises:
        TrainingError: no encoder or decoder network, Inputs/Outputs that do not fit each other
            or the data, an Embedding too small for the start token, a decoder that is not
            causal, a loss other than cross_entropy (each naming the node to change).
    """
    if trainer.config["loss"] != "cross_entropy":
        raise TrainingError("seq2seq predicts one token per target step: set the loss to "
                            f"cross_entropy (it is {trainer.config['loss']})", "design")
    parts = _Parts(trainer)
    parts.check_causal(trainer.device)
    trainer.callbacks.insert(0, _Views(parts, _attention_node(trainer, parts)))
    trainer.report_forward = parts.greedy  # the report shows what the model generates
    return parts.teacher_forced, LOSSES["cross_entropy"].compute, parts.teacher_forced


class _Views(Callback):
    """Per epoch: the share of whole sequences decoded right, and a few source -> output pairs
    with the attention map of the first one."""

    def __init__(self, parts: _Parts, attention_node: str | None):
        self.parts = parts
        self.attention_node = attention_node  # the design does not change during a run

    @torch.no_grad()
    def _decoded(self, trainer: "Trainer", idx: torch.Tensor) -> torch.Tensor:
        trainer.model.eval()
        return torch.cat([self.parts.greedy(trainer.x[idx[i:i + 1024]]).argmax(dim=-1)
                          for i in range(0, len(idx), 1024)])

    def on_validation_end(self, trainer: "Trainer", metrics: dict) -> None:
        """Greedy decoding's token accuracy and the share of whole sequences right (training:
        on up to 1,000 samples; validation: up to 1,000)."""
        for split, idx in (("train", trainer.train_idx[:ACCURACY_SAMPLES]),
                           ("val", trainer.val_idx[:ACCURACY_SAMPLES])):
            if len(idx):
                right = self._decoded(trainer, idx) == trainer.y[idx]
                trainer.epoch_extras[f"{split}_generated_accuracy"] = float(
                    right.float().mean())
                trainer.epoch_extras[f"{split}_sequence_accuracy"] = float(
                    right.all(dim=1).float().mean())

    @torch.no_grad()
    def on_epoch_end(self, trainer: "Trainer", event) -> None:
        epochs = trainer.config["epochs"]
        every = math.ceil(epochs / MAX_SAMPLE_EPOCHS)  # a long run's log stays small
        if event.epoch % every and event.epoch != epochs:
            return
        idx = (trainer.val_idx if len(trainer.val_idx) else trainer.train_idx)[:PAIRS]
        node = self.attention_node
        attention = getattr(trainer.model, node) if node else None
        last: dict = {}  # the inputs of the decoder's last call to it (the whole sequence)

        def keep(module, args, kwargs, output) -> None:
            last["call"] = (args, kwargs)
        hook = attention.register_forward_hook(keep, with_kwargs=True) \
            if attention is not None else None
        try:
            decoded = self._decoded(trainer, idx)
        finally:
            if hook is not None:
                hook.remove()
        weights = attention.attend(*last["call"][0], **last["call"][1])[1] \
            if last else None
        batch = trainer.x[idx]
        pairs = [{"source": s.tolist(), "target": t.tolist(), "output": o.tolist()}
                 for s, t, o in zip(batch["source"].cpu(), batch["target"].cpu(), decoded.cpu())]
        trainer.emit(Translations(
            trainer.step, event.epoch, pairs,
            [[round(float(v), 3) for v in row] for row in weights[0].cpu()]
            if weights is not None else None, node if weights is not None else None))


def _attention_node(trainer: "Trainer", parts: _Parts) -> str | None:
    """The decoder's MultiheadAttention whose key comes from the encoder's hand-over."""
    design = trainer.design
    feeds = {parts.memory}
    frontier = [parts.memory]
    while frontier:  # what the hand-over reaches through shape-only layers (none usually)
        node = frontier.pop()
        for edge in design.edges:
            if edge.src == node and design.nodes[edge.dst].type == "MultiheadAttention":
                if edge.dst_port in ("key", "value"):
                    return edge.dst
            elif edge.src == node and edge.dst not in feeds and \
                    design.nodes[edge.dst].type in ("Permute", "Reshape", "Linear"):
                feeds.add(edge.dst)
                frontier.append(edge.dst)
    return None

