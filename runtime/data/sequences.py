"""Generated sequence tasks for recurrent and attention models: forecasting, memory, counting."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..lazy import lazy_import
from ..specs import ParamSpec
from .base import Dataset, DatasetSpec
from .common import SEED, TAU, generator, n_samples, noise, rand, randn

# Data sets are declared (names, parameters) without tensors, for validation and the form;
# loading one imports torch.
torch = lazy_import("torch", globals(), "torch")


def _seq_len(default: int, maximum: int, doc: str = "Length of each input sequence.") -> ParamSpec:
    return ParamSpec("seq_len", "int", default, doc, minimum=1, maximum=maximum)


def _sine_forecast(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, length = generator(p), p["n_samples"], p["seq_len"]
    phase = rand(gen, n, 1) * TAU
    wave = torch.sin(phase + torch.arange(length + 1) * p["step"])  # (N, L + 1)
    x = wave[:, :length] + p["noise"] * randn(gen, n, length)
    return Dataset("sine_forecast", x[:, :, None], wave[:, length:], "regression",
                   kind="sequence")


def _adding_problem(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, length = generator(p), p["n_samples"], p["seq_len"]
    values = rand(gen, n, length)
    # One marker in each half of the sequence, as in Hochreiter & Schmidhuber (1997).
    half = length // 2
    first = (rand(gen, n) * half).long()
    second = half + (rand(gen, n) * (length - half)).long()
    marked = torch.stack([first, second], dim=1)
    markers = torch.zeros(n, length).scatter_(1, marked, 1.0)
    y = values.gather(1, marked).sum(dim=1, keepdim=True)
    return Dataset("adding_problem", torch.stack([values, markers], dim=2), y, "regression",
                   kind="sequence", notes={"baseline_mse": 1 / 6})


def _parity(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, length = generator(p), p["n_samples"], p["seq_len"]
    bits = torch.randint(0, 2, (n, length), generator=gen)
    return Dataset("parity", bits[:, :, None].float(), bits.sum(dim=1) % 2, "classification",
                   num_classes=2, class_names=["even", "odd"], kind="sequence")


def _tokens(name: str, p: dict[str, Any], reverse: bool) -> Dataset:
    gen, vocab = generator(p), p["vocab_size"]
    x = torch.randint(0, vocab, (p["n_samples"], p["seq_len"]), generator=gen)
    y = x.flip(1) if reverse else x.clone()
    return Dataset(name, x, y, "classification", num_classes=vocab,
                   class_names=[str(i) for i in range(vocab)], vocab_size=vocab, kind="sequence")


def _copy(p: dict[str, Any], _: Path | None) -> Dataset:
    return _tokens("copy", p, reverse=False)


def _reverse(p: dict[str, Any], _: Path | None) -> Dataset:
    return _tokens("reverse", p, reverse=True)


def _token_counts(x: torch.Tensor, vocab: int) -> torch.Tensor:
    """(N, vocab) occurrences of each token id in each row of `x`."""
    ones = torch.ones(x.shape, dtype=torch.int32)
    return torch.zeros(len(x), vocab, dtype=torch.int32).scatter_add_(1, x, ones)


def _majority(p: dict[str, Any], _: Path | None) -> Dataset:
    gen, n, vocab, length = generator(p), p["n_samples"], p["vocab_size"], p["seq_len"]
    x = torch.randint(0, vocab, (n, length), generator=gen)
    counts = _token_counts(x, vocab)
    top = counts.max(dim=1, keepdim=True).values
    tied = (counts == top).sum(dim=1) > 1
    if tied.any():
        # Break each tie by turning one other token into a random one of the tied tokens, so every
        # sequence has exactly one most frequent token and the label is never a coin flip.
        rows = tied.nonzero(as_tuple=True)[0]
        winner = ((counts[rows] == top[rows]) * (rand(gen, len(rows), vocab) + 1)).argmax(dim=1)
        others = (x[rows] != winner[:, None]) * (rand(gen, len(rows), length) + 1)
        x[rows, others.argmax(dim=1)] = winner
    y = _token_counts(x, vocab).argmax(dim=1)
    return Dataset("majority", x, y, "classification", num_classes=vocab,
                   class_names=[str(i) for i in range(vocab)], vocab_size=vocab, kind="sequence")


_VOCAB = ParamSpec("vocab_size", "int", 10, "Number of distinct tokens (ids 0 .. vocab_size - 1).",
                   minimum=2, maximum=100_000)

SPECS = [
    DatasetSpec(
        "sine_forecast", "Sine forecasting",
        "Windows of a noisy sine wave; the target is the next value of the clean wave. A first "
        "forecasting task for RNNs, 1-D convolutions or a plain dense layer on the window.",
        "regression", "sequence",
        (n_samples(1000, 200_000), _seq_len(20, 1000, "Number of past values the model sees."),
         noise(0.05, "Standard deviation of the noise added to the input window."),
         ParamSpec("step", "float", 0.25, "Radians the wave advances between two values.",
                   minimum=0.001, maximum=3.0),
         SEED),
        _sine_forecast),
    DatasetSpec(
        "adding_problem", "Adding problem",
        "Random numbers with two of them marked; the target is the sum of the marked pair. The "
        "classic long-range memory test: predicting the mean scores an MSE of about 0.167, and "
        "plain RNNs struggle to beat it on long sequences where LSTMs and GRUs succeed.",
        "regression", "sequence",
        (n_samples(2000, 200_000), ParamSpec("seq_len", "int", 50, "Length of each sequence.",
                                             minimum=2, maximum=2000),
         SEED),
        _adding_problem),
    DatasetSpec(
        "parity", "Parity",
        "Sequences of bits; the class is whether the count of ones is odd. Every bit matters, so "
        "it tests whether a recurrent model can carry one bit of state to the end.",
        "classification", "sequence",
        (n_samples(2000, 200_000), _seq_len(10, 1000), SEED), _parity),
    DatasetSpec(
        "copy", "Copy tokens",
        "Sequences of token ids whose target is the same sequence (one class per step). A sanity "
        "check for Embedding layers and per-step outputs.",
        "classification", "sequence",
        (n_samples(2000, 200_000), _VOCAB, _seq_len(10, 1000), SEED), _copy),
    DatasetSpec(
        "reverse", "Reverse tokens",
        "Sequences of token ids whose target is the same sequence reversed (one class per step). "
        "Each output needs an input from far away, so it shows the strength of attention and "
        "bidirectional RNNs.",
        "classification", "sequence",
        (n_samples(2000, 200_000), _VOCAB, _seq_len(10, 1000), SEED), _reverse),
    DatasetSpec(
        "majority", "Majority token",
        "Sequences of token ids; the class is the token that occurs most often (there is always "
        "exactly one). The answer depends on every position at once, so it suits attention "
        "followed by pooling.",
        "classification", "sequence",
        (n_samples(2000, 200_000),
         # capped at 100: counting builds an (n_samples, vocab_size) table
         ParamSpec("vocab_size", "int", 5, "Number of distinct tokens (ids 0 .. vocab_size - 1), "
                   "which is also the number of classes.", minimum=2, maximum=100),
         _seq_len(16, 1000), SEED),
        _majority),
]
