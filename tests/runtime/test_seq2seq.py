"""The seq2seq mode: an encoder network and a decoder network, teacher forcing in training,
greedy decoding to judge what it generates, the attention map, and refusals naming the node."""
import json

import pytest
import torch

from runtime.cli import run
from runtime.document import save
from runtime.errors import TrainingError
from runtime.graph import GraphModel
from runtime.training import Trainer
from runtime.training.events import Report, Translations
from runtime.training.seq2seq import _Parts
from tests.runtime.test_multi_io import Events


def seq2seq(attention: bool = True, length: int = 4, vocab: int = 5, hidden: int = 16,
            epochs: int = 2, n_samples: int = 300) -> GraphModel:
    """An encoder-decoder reversing `length` tokens: with attention over every encoder state, or
    the encoder's last state repeated at every decoder step."""
    m = GraphModel(name="seq2seq")

    def add(type_id, params, node_id, network):
        m.add_node(type_id, params, (0, 0), node_id, network=network)
    add("Input", {"shape": [length], "dtype": "int64"}, "source", "encoder")
    add("Embedding", {"num_embeddings": vocab, "embedding_dim": 8}, "source_embed", "encoder")
    add("LSTM", {"hidden_size": hidden, "return_sequences": attention}, "encoder_lstm",
        "encoder")
    add("Output", {}, "handed", "encoder")
    for a, b in (("source", "source_embed"), ("source_embed", "encoder_lstm"),
                 ("encoder_lstm", "handed")):
        m.connect(a, b)
    add("Input", {"shape": [length], "dtype": "int64"}, "previous", "decoder")
    add("Embedding", {"num_embeddings": vocab + 1, "embedding_dim": 8}, "previous_embed",
        "decoder")
    add("Input", {"shape": [length, hidden] if attention else [hidden]}, "memory", "decoder")
    m.connect("previous", "previous_embed")
    if attention:
        add("LSTM", {"hidden_size": hidden, "return_sequences": True}, "decoder_lstm", "decoder")
        add("MultiheadAttention", {"num_heads": 1}, "attend", "decoder")
        add("Concat", {"dim": -1}, "joined", "decoder")
        m.connect("previous_embed", "decoder_lstm")
        m.connect("decoder_lstm", "attend", dst_port="query")
        m.connect("memory", "attend", dst_port="key")
        m.connect("decoder_lstm", "joined")
        m.connect("attend", "joined")
    else:
        add("RepeatVector", {"n": length}, "every_step", "decoder")
        add("Concat", {"dim": -1}, "with_summary", "decoder")
        add("LSTM", {"hidden_size": hidden, "return_sequences": True}, "joined", "decoder")
        m.connect("memory", "every_step")
        m.connect("previous_embed", "with_summary")
        m.connect("every_step", "with_summary")
        m.connect("with_summary", "joined")
    add("Linear", {"out_features": vocab}, "scores", "decoder")
    add("Output", {}, "next_tokens", "decoder")
    m.connect("joined", "scores")
    m.connect("scores", "next_tokens")
    m.training = {"mode": {"name": "seq2seq"},
                  "dataset": {"name": "reverse", "params": {"n_samples": n_samples,
                                                            "vocab_size": vocab,
                                                            "seq_len": length}},
                  "loss": "cross_entropy", "metrics": ["accuracy"], "epochs": epochs,
                  "batch_size": 32, "optimizer": {"name": "adam", "lr": 0.01}, "threads": 1}
    return m


def test_it_learns_to_reverse_and_shows_pairs_attention_and_a_greedy_report():
    events = Events()
    trainer = Trainer(seq2seq(epochs=12, n_samples=600), callbacks=[events])
    assert trainer.fit().status == "completed"
    first, last = trainer.history[0].metrics, trainer.history[-1].metrics
    assert last["val_generated_accuracy"] > 0.8 > first["val_generated_accuracy"]
    assert last["val_sequence_accuracy"] > 0.5
    pairs = [e for e in events.events if isinstance(e, Translations)]
    assert len(pairs) == 12 and len(pairs[-1].pairs) == 8
    shown = pairs[-1]
    assert shown.pairs[0]["target"] == shown.pairs[0]["source"][::-1]
    assert shown.attention_node == "attend" and len(shown.attention) == 4
    assert all(abs(sum(row) - 1) < 0.01 for row in shown.attention)
    # reversing: the last output step mostly looks at the first source step
    assert max(range(4), key=lambda i: shown.attention[-1][i]) == 0
    report = next(e for e in events.events if isinstance(e, Report))
    # the report shows what the model generates (greedy), as the pairs do
    decoded = {tuple(p["source"]): p["output"] for p in shown.pairs}
    for sample in report.samples[:8]:
        if tuple(sample["input"]) in decoded:
            assert sample["prediction"] == decoded[tuple(sample["input"])]


def test_greedy_decoding_reads_its_own_predictions_one_step_after_the_other():
    trainer = Trainer(seq2seq())
    trainer._setup()
    parts = next(cb.parts for cb in trainer.callbacks if hasattr(cb, "parts"))
    batch = trainer.x[trainer.val_idx[:16]]
    assert parts.shifted(batch["target"])[:, 0].eq(5).all()  # the start token: vocab size
    assert torch.equal(parts.shifted(batch["target"])[:, 1:], batch["target"][:, :-1])
    trainer.model.eval()
    with torch.no_grad():
        greedy = parts.greedy(batch)
        forced = parts.teacher_forced(batch)
        # step 0 sees only the start token either way
        assert torch.allclose(greedy[:, 0], forced[:, 0], atol=1e-5)
        # fed its own predictions as if they were the targets, teacher forcing gives the same
        own = type(batch)({"source": batch["source"], "target": greedy.argmax(-1)})
        assert torch.allclose(parts.teacher_forced(own), greedy, atol=1e-5)


def test_without_attention_it_trains_and_sends_no_attention_map():
    events = Events()
    Trainer(seq2seq(attention=False), callbacks=[events]).fit()
    shown = [e for e in events.events if isinstance(e, Translations)][-1]
    assert shown.attention is None and shown.attention_node is None


def test_a_seq2seq_run_resumes_from_its_checkpoint(tmp_path):
    Trainer(seq2seq(epochs=1), checkpoint_dir=tmp_path).fit()
    resumed = Trainer(seq2seq(epochs=2), resume=tmp_path / "last.pt")
    assert resumed.fit().status == "completed"
    assert [e.epoch for e in resumed.history] == [1, 2]


def _no_decoder():
    m = seq2seq()
    for node in [n for n, net in ((n.id, n.network) for n in m.nodes.values())
                 if net == "decoder"]:
        m.remove_node(node)
    return m


def _bidirectional_decoder():
    m = seq2seq()
    m.set_param("decoder_lstm", "bidirectional", True)
    m.set_param("attend", "num_heads", 1)
    m.set_param("encoder_lstm", "hidden_size", 32)
    m.set_param("memory", "shape", [4, 32])
    return m


@pytest.mark.parametrize("make, message, node", [
    (_no_decoder, "no decoder \\(its networks: 'encoder'\\).*Make Network from Selection", None),
    (lambda: _renamed_network(seq2seq(), "decoder", "writer"), "no decoder", None),
    (lambda: _set(seq2seq(), "memory", "shape", [4, 12]), "the encoder's Output 'handed' gives "
     "\\(batch, 4, 16\\) but the decoder's Input 'memory' expects \\(batch, 4, 12\\)", "memory"),
    (lambda: _set(seq2seq(), "previous_embed", "num_embeddings", 5), "start token 5.*Embedding "
     "'previous_embed' has num_embeddings 5: set it to 6", "previous_embed"),
    (_bidirectional_decoder, "the decoder is not causal", "previous"),
    (lambda: _set(seq2seq(), "scores", "out_features", 7), "'next_tokens' must give one score "
     "per token for each target step, \\(batch, 4, 5\\)", "next_tokens"),
    (lambda: _set(seq2seq(), "source", "shape", [6]), "encoder's Input 'source'", "source"),
])
def test_designs_that_cannot_translate_are_refused_naming_the_node(make, message, node):
    with pytest.raises(TrainingError, match=message) as err:
        Trainer(make()).fit()
    assert err.value.node == node


def _set(m, node, name, value):
    m.set_param(node, name, value)
    return m


def _renamed_network(m, old, new):
    for node in [n.id for n in m.nodes.values() if n.network == old]:
        m.set_network(node, new)
    return m


def test_the_loss_and_the_data_must_suit_translation():
    m = seq2seq()
    m.training = dict(m.training, loss="mse", metrics=["mae"])
    with pytest.raises(TrainingError, match="set the loss to cross_entropy"):
        Trainer(m).fit()
    m = seq2seq()
    m.training = dict(m.training, dataset={"name": "spirals"})
    with pytest.raises(TrainingError, match="dataset 'spirals' gives float32 \\(2\\) -> int64 "
                                            "\\(\\): use one such as reverse"):
        Trainer(m).fit()


def test_headless_train_prints_the_generated_accuracy(tmp_path, capsys):
    path = tmp_path / "s2s.json"
    save(seq2seq(epochs=1), path)
    metrics = tmp_path / "events.jsonl"
    assert run(["train", str(path), "--metrics-out", str(metrics), "--no-run"]) == 0
    assert "val_sequence_accuracy" in capsys.readouterr().out
    kinds = [json.loads(line)["event"] for line in metrics.read_text().splitlines()]
    assert "translations" in kinds and kinds[-1] == "fit_end"


def test_parts_are_found_by_network_and_dtype():
    trainer = Trainer(seq2seq())
    trainer._setup()
    parts = _Parts(trainer)
    assert (parts.tokens, parts.memory, parts.handed, parts.output) == (
        "previous", "memory", "handed", "next_tokens")


def test_the_learning_rate_finder_sweeps_the_teacher_forced_loss_and_restores_the_weights():
    from runtime.doctor.lr_finder import sweep

    trainer = Trainer(seq2seq())
    trainer._setup()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    curve, _ = sweep(trainer, steps=10)
    assert len(curve) >= 5
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
