"""Run folders (#13): what a run leaves on disk, how it is listed, renamed and deleted, and that
a crash at any moment leaves it readable."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from runtime import document
from runtime.runs import (DESIGN, EVENTS, FINDINGS, META, REPORT, TRAINING, RunError, RunWriter,
                          delete_run, list_runs, newest_first, read_events, read_findings,
                          read_run, rename_run, runs_home, runs_root)
from runtime.training.trainer import Trainer

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def train(tmp_path: Path, epochs: int = 2, preset: str = "mlp-spirals", name=None):
    design = document.load(PRESETS / f"{preset}.json")
    design.training = dict(design.training, epochs=epochs)
    writer = RunWriter.create(design, tmp_path / "runs", str(PRESETS / f"{preset}.json"), name)
    end = Trainer(design, design.training, [writer], checkpoint_dir=writer.folder).fit()
    return writer.folder, end


def test_a_run_folder_holds_the_design_settings_events_checkpoints_report_and_findings(tmp_path):
    folder, end = train(tmp_path)
    for name in (META, DESIGN, TRAINING, EVENTS, REPORT, FINDINGS, "last.pt", "best.pt"):
        assert (folder / name).is_file(), name
    info = read_run(folder)
    assert info.status == "completed" == end.status and info.meta["epochs_run"] == 2
    assert info.meta["device"] == "cpu" and info.meta["duration_s"] > 0
    assert info.meta["final"]["val_accuracy"] == end.final["val_accuracy"]
    assert document.to_dict(info.design()) == document.to_dict(
        document.load(PRESETS / "mlp-spirals.json")) | {"training": info.design().training}
    assert json.loads((folder / TRAINING).read_text())["optimizer"]["name"] == "adam"
    kinds = [e["event"] for e in read_events(folder)]
    assert kinds[0] == "fit_start" and kinds[-1] == "fit_end" and kinds.count("epoch_end") == 2
    assert read_findings(folder) == []
    state = torch.load(info.checkpoint(), weights_only=True)  # safe to load
    assert state["epoch"] == 2


def test_runs_are_listed_newest_first_renamed_and_deleted(tmp_path):
    first, _ = train(tmp_path, 1)
    second, _ = train(tmp_path, 1, name="with a name")
    (tmp_path / "runs" / "not-a-run").mkdir()
    runs, problems = list_runs(tmp_path / "runs")
    assert [r.folder for r in runs] == [second, first]
    assert runs[0].name == "with a name" and runs[1].name == "Spirals MLP" or runs[1].name
    assert len(problems) == 1 and "not-a-run is not a run folder" in problems[0]
    assert rename_run(first, "  baseline ").name == "baseline"
    assert read_run(first).name == "baseline"
    with pytest.raises(RunError, match="cannot be empty"):
        rename_run(first, " ")
    delete_run(first)
    assert not first.exists()
    with pytest.raises(RunError, match="not a run folder"):
        delete_run(tmp_path / "runs" / "not-a-run")
    assert (tmp_path / "runs" / "not-a-run").exists()  # never deletes what is not a run


def test_runs_started_within_one_second_list_in_the_order_they_began():
    def run(folder: str, created: str | None) -> SimpleNamespace:
        return SimpleNamespace(folder=Path(folder), meta={"created": created})

    # the folder names sort the other way: only the milliseconds tell which began last
    older = run("zeta", "2026-12-02T11:50:36.120+00:00")
    newer = run("alpha", "2026-12-02T11:50:36.870+00:00")
    whole_second = run("beta", "2026-12-02T11:50:35+00:00")  # a run.json from before
    unknown = run("gamma", None)
    assert newest_first([unknown, whole_second, older, newer]) == [
        newer, older, whole_second, unknown]


def test_a_killed_run_stays_readable(tmp_path):
    folder, _ = train(tmp_path, 1)
    meta = json.loads((folder / META).read_text())
    meta.update(status="running", ended=None)  # as a run killed before its end looks
    (folder / META).write_text(json.dumps(meta))
    with open(folder / EVENTS, "a") as handle:
        handle.write('{"event": "epoch_end", "epo')  # a line cut by the kill
    info = read_run(folder)
    assert info.status == "unfinished"
    assert read_events(folder)[-1]["event"] == "fit_end"  # the cut line is skipped
    (folder / META).write_text("{ not json")
    with pytest.raises(RunError, match="cannot read"):
        read_run(folder)
    (folder / META).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(RunError, match="not a LayerLab run"):
        read_run(folder)


def test_where_runs_live(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERLAB_RUNS", raising=False)
    assert runs_root(tmp_path / "spirals.json") == tmp_path / "spirals.runs"
    monkeypatch.setenv("LAYERLAB_RUNS", str(tmp_path / "all"))
    assert runs_root(tmp_path / "spirals.json") == tmp_path / "all" / "spirals.runs"
    monkeypatch.setenv("LAYERLAB_DATA", str(tmp_path / "data"))
    assert runs_root(None) == runs_home() == tmp_path / "data" / "runs"
    monkeypatch.delenv("LAYERLAB_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert runs_home() == tmp_path / "xdg" / "layerlab" / "runs"


def test_a_run_refused_before_its_first_step_leaves_a_folder_saying_why(tmp_path):
    design = document.load(PRESETS / "mlp-spirals.json")
    design.training = dict(design.training, dataset={"name": "npz", "params": {
        "path": str(tmp_path / "missing.npz")}})
    writer = RunWriter.create(design, tmp_path / "runs")
    from runtime.errors import TrainingError
    with pytest.raises(TrainingError):
        Trainer(design, design.training, [writer], checkpoint_dir=writer.folder).fit()
    info = read_run(writer.folder)
    assert info.status == "failed" and "missing.npz" in info.meta["message"]
    assert [e["event"] for e in read_events(writer.folder)] == ["error", "fit_end"]


def test_train_keeps_a_run_folder_and_runs_lists_it_with_what_changed(tmp_path, capsys,
                                                                     monkeypatch):
    from runtime.cli import run
    monkeypatch.delenv("LAYERLAB_RUNS", raising=False)
    design = tmp_path / "spirals.json"
    design.write_text((PRESETS / "mlp-spirals.json").read_text())
    assert run(["train", str(design), "--epochs", "1"]) == 0
    assert run(["train", str(design), "--epochs", "1", "--set", "optimizer.lr=0.1"]) == 0
    assert "keeping this run in" in capsys.readouterr().err
    runs, _ = list_runs(tmp_path / "spirals.runs")
    assert len(runs) == 2 and all(r.checkpoint("last") for r in runs)
    assert runs[0].design().training["optimizer"]["lr"] == 0.1  # the design as trained
    assert run(["runs", str(design), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["runs"]
    assert rows[0]["changes"] == ["lr 0.01 → 0.1"] and rows[1]["changes"] == []
    assert rows[0]["status"] == "completed" and rows[0]["final"]["val_accuracy"] >= 0
    assert run(["runs", str(design)]) == 0
    assert "[lr 0.01 → 0.1]" in capsys.readouterr().out
    assert run(["train", str(design), "--epochs", "1", "--no-run"]) == 0
    assert len(list_runs(tmp_path / "spirals.runs")[0]) == 2


def test_a_kept_design_starting_from_weights_points_at_them_from_the_run_folder(tmp_path):
    design = document.load(PRESETS / "mlp-spirals.json")
    design.training = dict(design.training, init_from="ckpt/last.pt")
    writer = RunWriter.create(design, tmp_path / "runs", str(tmp_path / "mine.json"))
    kept = read_run(writer.folder).design()
    assert kept.training["init_from"] == str(tmp_path.resolve() / "ckpt" / "last.pt")
    assert design.training["init_from"] == "ckpt/last.pt"  # the open design is untouched


def test_a_run_cache_parses_only_the_run_files_that_changed(tmp_path, monkeypatch):
    import runtime.runs as runs
    design = document.load(PRESETS / "mlp-spirals.json")
    first = RunWriter.create(design, tmp_path / "runs", name="first").folder
    second = RunWriter.create(design, tmp_path / "runs", name="second").folder
    (tmp_path / "runs" / "not-a-run").mkdir()
    parsed, designs, read_design = [], [], runs.read_design_document
    monkeypatch.setattr(runs, "read_run", lambda f: parsed.append(Path(f).name)
                        or read_run(f))
    monkeypatch.setattr(runs, "read_design_document",
                        lambda f: designs.append(Path(f).name) or read_design(f))
    cache = runs.RunCache()
    listed, problems = list_runs(tmp_path / "runs", cache)
    assert [r.name for r in listed] == ["second", "first"] and len(problems) == 1
    assert cache.design_document(first)["name"] == design.name
    assert sorted(parsed) == sorted([first.name, second.name, "not-a-run"])
    parsed.clear(), designs.clear()

    again, problems_again = list_runs(tmp_path / "runs", cache)
    # nothing changed: no run.json parsed (the folder without one is only looked into)
    assert parsed == ["not-a-run"] and problems_again == problems
    assert [r.name for r in again] == ["second", "first"]
    kept = cache.design_document(first)
    assert designs == [] and cache.design_document(first) is kept

    rename_run(first, "renamed behind the list's back")
    shutil.rmtree(tmp_path / "runs" / "not-a-run")
    parsed.clear()
    assert [r.name for r in list_runs(tmp_path / "runs", cache)[0]] == [
        "second", "renamed behind the list's back"]
    assert parsed == [first.name]  # only the changed run.json is read again
    (second / META).write_text("{ not json")
    assert "cannot read" in list_runs(tmp_path / "runs", cache)[1][0]
    delete_run(first)
    listed, _ = list_runs(tmp_path / "runs", cache)
    assert listed == [] and first not in cache._runs  # a deleted run is forgotten
    with pytest.raises(RunError, match="not a run folder"):
        cache.read(first)


def test_a_continued_run_is_named_after_the_run_it_continues_and_says_which(tmp_path, capsys):
    from runtime.cli import run
    from runtime.runs import continuation_of, continued_name
    assert continued_name("baseline") == "baseline (continued)"
    assert continued_name("baseline (continued)") == "baseline (continued 2)"
    assert continued_name("baseline (continued 2)", ["baseline (continued 3)"]) == \
        "baseline (continued 4)"
    assert continued_name("baseline", ["baseline (continued)"]) == "baseline (continued 2)"
    assert continuation_of(None) is None and continuation_of(tmp_path / "x.pt") is None

    original, _ = train(tmp_path, 1, name="baseline")
    design = PRESETS / "mlp-spirals.json"
    assert run(["train", str(design), "--epochs", "2", "--runs-dir", str(tmp_path / "runs"),
                "--resume", str(original / "last.pt")]) == 0
    runs, _ = list_runs(tmp_path / "runs")
    continued = runs[0]
    assert continued.name == "baseline (continued)" and continued.meta["epochs_run"] == 2
    assert continued.meta["continued_from"] == original.name == read_run(original).id
    assert read_run(original).meta["continued_from"] is None

    # continuing the continuation: no "(continued) (continued)"
    again = RunWriter.create(document.load(design), tmp_path / "runs",
                             continues=continuation_of(continued.folder / "last.pt"))
    assert again.meta["name"] == "baseline (continued 2)"
    assert read_run(again.folder).meta["continued_from"] == continued.id
    # the original continued once more: a name not taken yet
    assert RunWriter.create(document.load(design), tmp_path / "runs",
                            continues=read_run(original)).meta["name"] == "baseline (continued 3)"
    # a name given wins; the run still says what it continues
    named = RunWriter.create(document.load(design), tmp_path / "runs", name="mine",
                             continues=read_run(original))
    assert named.meta["name"] == "mine" and named.meta["continued_from"] == original.name
