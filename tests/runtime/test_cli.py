"""The headless CLI: exit codes, messages with locations, summary output, export."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from runtime.cli import run
from runtime.document import save
from tests.runtime.designs import lenet, mlp

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lenet_file(tmp_path):
    path = tmp_path / "lenet.json"
    save(lenet(), path)
    return path


def _broken_file(tmp_path):
    model = mlp()
    model.set_param("fc2", "out_features", 5)
    path = tmp_path / "broken.json"
    save(model, path)
    text = path.read_text().replace('"out_features": 5', '"out_features": -5')
    path.write_text(text)
    return path


def test_validate_valid_file(lenet_file, capsys):
    assert run(["validate", str(lenet_file)]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_reports_each_problem_with_location(tmp_path, capsys):
    assert run(["validate", str(_broken_file(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert "nodes[3].params.out_features" in err and "node 'fc2'" in err and "line " in err


def test_validate_reports_design_errors_on_their_node(tmp_path, capsys):
    model = lenet()
    model.set_param("conv2", "kernel_size", 9)  # the 4x4 pool below leaves a 7x7 map
    model.set_param("pool1", "kernel_size", 4)
    path = tmp_path / "d.json"
    save(model, path)
    assert run(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "node 'conv2'" in err and "kernel 9 is larger than the 7x7 input" in err
    assert "nodes[4]" in err


def test_summary_json_matches_pytorch_for_lenet(lenet_file, capsys):
    assert run(["summary", str(lenet_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    reference = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
        nn.Tanh(), nn.Linear(84, 10))
    shapes, x = [], torch.zeros(1, 1, 28, 28)
    for layer in reference:
        x = layer(x)
        shapes.append([None, *x.shape[1:]])
    layers = [n for n in report["nodes"] if n["type"] not in ("Input", "Output")]
    assert [n["output_shape"] for n in layers] == shapes
    assert [n["params"] for n in layers] == [sum(p.numel() for p in m.parameters())
                                             for m in reference]
    assert report["total_params"] == sum(p.numel() for p in reference.parameters()) == 61706
    assert report["valid"] is True and report["errors"] == []
    assert report["nodes"][0] == {"id": "image", "type": "Input", "output_shape": [None, 1, 28, 28],
                                  "params": 0, "flops": 0, "errors": [], "warnings": []}


def test_summary_table(lenet_file, capsys):
    assert run(["summary", str(lenet_file)]) == 0
    out = capsys.readouterr().out
    assert "(batch, 16, 5, 5)" in out and "48.1k" in out and "61,706 parameters" in out


def test_summary_json_of_a_broken_file(tmp_path, capsys):
    assert run(["summary", str(_broken_file(tmp_path)), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["errors"][0]["location"] == "nodes[3].params.out_features"
    assert report["errors"][0]["node"] == "fc2"


def test_export_writes_a_module(lenet_file, tmp_path):
    out = tmp_path / "lenet.py"
    assert run(["export", str(lenet_file), "--format", "py", "-o", str(out)]) == 0
    namespace = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    net = namespace["LeNet5"]()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_export_refuses_an_invalid_design(tmp_path, capsys):
    assert run(["export", str(_broken_file(tmp_path)), "-o", str(tmp_path / "x.py")]) == 1
    assert not (tmp_path / "x.py").exists()
    assert "not exported" in capsys.readouterr().err


def test_export_into_a_missing_folder_is_refused_before_any_work(lenet_file, tmp_path,
                                                                  capsys):
    out = tmp_path / "not here" / "lenet.onnx"
    assert run(["export", str(lenet_file), "--format", "onnx", "-o", str(out)]) == 1
    assert capsys.readouterr().err == (f"cannot write {out}: the folder {out.parent} does not "
                                       "exist\n")
    assert not out.parent.exists()


def test_export_onnx_and_pt2_write_files_their_own_tools_run(tmp_path, capsys):
    import onnxruntime

    path = tmp_path / "mlp.json"
    save(mlp(), path)
    onnx_file, pt2_file = tmp_path / "mlp.onnx", tmp_path / "mlp.pt2"
    assert run(["export", str(path), "--format", "onnx", "-o", str(onnx_file)]) == 0
    assert f"wrote {onnx_file} (ONNX model, initial weights)" in capsys.readouterr().err
    assert run(["export", str(path), "--format", "pt2", "-o", str(pt2_file)]) == 0
    x = torch.randn(7, 2)
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (from_onnx,) = session.run(["out"], {"x": x.numpy()})
    assert from_onnx.shape == (7, 3)
    assert torch.export.load(str(pt2_file)).module()(x).shape == (7, 3)


@pytest.mark.parametrize("options, message", [
    (["--format", "onnx"], "export --format onnx needs -o FILE.onnx"),
    (["--format", "pt2", "--class-name", "Net", "-o", "n.pt2"],
     "--class-name names the class of --format py, not pt2"),
    (["--format", "safetensors", "--weights", "w.pt", "--network", "generator",
      "-o", "n.safetensors"], "--network picks one network for --format py, onnx or pt2"),
    (["--format", "safetensors", "-o", "n.safetensors"], "needs --weights CHECKPOINT"),
])
def test_export_misuse_is_named_and_exits_2(options, message, lenet_file, capsys):
    assert run(["export", str(lenet_file), *options]) == 2
    assert message in capsys.readouterr().err


def test_export_of_a_design_of_several_networks_takes_one_network(tmp_path, capsys):
    from tests.runtime.designs import gan

    path = tmp_path / "gan.json"
    save(gan(), path)
    out = tmp_path / "gan.onnx"
    assert run(["export", str(path), "--format", "onnx", "-o", str(out)]) == 1
    assert "holds 2 networks ('generator', 'discriminator'): export one at a time " \
        "(--network NAME)" in capsys.readouterr().err
    assert not out.exists()
    assert run(["export", str(path), "--format", "pt2", "--network", "generator",
                "-o", str(tmp_path / "generator.pt2")]) == 0
    generator = torch.export.load(str(tmp_path / "generator.pt2")).module()
    assert generator(torch.randn(3, 8)).shape == (3, 2)
    # a Python module holds every network, a class each, or the one --network names
    capsys.readouterr()
    assert run(["export", str(path), "--format", "py", "-o", str(tmp_path / "gan.py")]) == 0
    source = (tmp_path / "gan.py").read_text()
    assert "class Generator(nn.Module)" in source and "class Discriminator(nn.Module)" in source
    assert run(["export", str(path), "--format", "py", "--network", "discriminator"]) == 0
    alone = capsys.readouterr().out
    assert "class Discriminator(nn.Module)" in alone and "Generator" not in alone


@pytest.mark.parametrize("argv, code", [
    (["validate"], 2), (["frobnicate", "x.json"], 2), (["export", "a.json", "--format", "tf"], 2),
    (["validate", "does-not-exist.json"], 1),
])
def test_exit_codes_of_main_py(argv, code, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), *argv], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
    assert result.stderr.strip()


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        run(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("validate", "summary", "export", "import", "train"))


def test_headless_commands_never_import_qt(tmp_path):
    path = tmp_path / "d.json"
    save(mlp(), path)
    code = ("import sys, main; rc = main.main(['validate', %r]); "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'; "
            "sys.exit(rc)" % str(path))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_validate_reports_training_settings_with_their_lines(tmp_path, capsys):
    from runtime.document import dumps
    from tests.runtime.designs import mlp

    model = mlp()
    model.training = {"optimizer": {"name": "adamm", "lr": -1}, "metrics": ["top0_accuracy"]}
    path = tmp_path / "bad.json"
    path.write_text(dumps(model))
    assert run(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    lines = path.read_text().splitlines()
    for location, message in (("training.optimizer.name", "did you mean 'adam'"),
                              ("training.optimizer.lr", "'lr' must be above 0"),
                              ("training.metrics", "unknown metric 'top0_accuracy'")):
        row = next(r for r in err.splitlines() if location + ":" in r)
        assert message in row
        line = int(row.split("line ")[1].split(",")[0])
        assert location.rsplit(".", 1)[-1] in lines[line - 1]


def test_train_set_overrides_any_setting_and_refuses_unknown_ones(tmp_path, capsys):
    preset = "presets/regression-sine.json"
    assert run(["train", preset, "--epochs", "1", "--set", "loss=smooth_l1", "--set",
                "optimizer.name=radam", "--set", 'metrics=["mae", "r2"]', "--set",
                "dataset.params.n_samples=200"]) == 0
    final = json.loads(capsys.readouterr().out)
    assert set(final) >= {"train_mae", "val_r2"}
    assert run(["train", preset, "--set", "optimizer.lrr=1"]) == 1
    assert "training.optimizer.lrr: error: unknown setting 'lrr' in 'optimizer': did you mean " \
           "'lr'?" in capsys.readouterr().err
    assert run(["train", preset, "--set", "lr"]) == 2
    assert "write SETTING=VALUE" in capsys.readouterr().err


def test_settings_lists_the_catalogue(capsys):
    from runtime.training.losses import LOSSES
    from runtime.training.optimizers import OPTIMIZERS

    assert run(["settings"]) == 0
    out = capsys.readouterr().out
    assert all(f"`{name}`" in out for name in [*OPTIMIZERS, *LOSSES, "optimizer.betas"])


def test_main_py_import_writes_a_design_that_validates_and_trains_from_the_models_weights(
        tmp_path):
    """`main.py import FILE.py:Class` end to end through the real entry point: the design it
    writes validates, and its init_from checkpoint holds the model's weights."""
    model_file = ROOT / "tests" / "import_models" / "lenet5.py"
    out = tmp_path / "lenet.json"
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "import",
                             f"{model_file}:LeNet5", "--input-shape", "1,28,28", "-o", str(out)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert run(["validate", str(out)]) == 0
    design = json.loads(out.read_text())
    assert [n["type"] for n in design["nodes"]][:2] == ["Input", "Conv2d"]
    assert (out.parent / design["training"]["init_from"]).is_file()
    missing = subprocess.run([sys.executable, str(ROOT / "main.py"), "import",
                              f"{model_file}:NoSuchNet", "--input-shape", "1,32,32", "-o",
                              str(tmp_path / "x.json")], cwd=tmp_path, capture_output=True,
                             text=True, timeout=240)
    assert missing.returncode != 0 and "NoSuchNet" in missing.stderr
    assert not (tmp_path / "x.json").exists()
