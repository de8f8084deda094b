"""Exporting a run's trained weights as safetensors: node-id keys, the design in the metadata,
and refusals that name the problem (#17)."""
from __future__ import annotations

import pytest
import torch

from runtime import document
from runtime.cli import run
from runtime.compile import compile_model
from runtime.errors import ExportError
from runtime.export_weights import read_safetensors, write_safetensors
from tests.runtime.test_trainer import spiral_mlp


def test_the_weights_go_by_node_id_and_the_design_rides_in_the_metadata(trained, tmp_path):
    design, _, checkpoint = trained
    out = write_safetensors(design, checkpoint, tmp_path / "mlp.safetensors")
    tensors, embedded = read_safetensors(out)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    assert set(tensors) == set(state) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                          "fc3.weight", "fc3.bias"}
    for key, value in state.items():
        assert torch.equal(tensors[key], value)
    assert embedded.snapshot() == design.snapshot()
    # the file alone rebuilds the trained network: same outputs as the checkpoint's weights
    module = compile_model(embedded)
    module.load_state_dict(tensors, strict=True)
    reference = compile_model(design)
    reference.load_state_dict(state, strict=True)
    x = torch.randn(5, 2)
    assert torch.allclose(module(x), reference(x))


def test_weights_of_another_design_are_refused_with_the_nodes_named(trained, tmp_path):
    _, _, checkpoint = trained
    wider = spiral_mlp(hidden=16)
    out = tmp_path / "wider.safetensors"
    with pytest.raises(ExportError, match=r"fc1: weight \(16, 2\) in the design vs \(32, 2\)"):
        write_safetensors(wider, checkpoint, out)
    assert not out.exists()  # nothing half-written
    with pytest.raises(ExportError, match="does not exist"):
        write_safetensors(wider, tmp_path / "nope.pt", out)


def test_a_safetensors_file_without_a_design_is_named_as_such(tmp_path):
    from safetensors.torch import save_file
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(ExportError, match="no LayerLab design"):
        read_safetensors(foreign)


def test_the_cli_exports_safetensors_and_says_what_it_needs(trained, tmp_path, capsys):
    _, path, checkpoint = trained
    out = tmp_path / "cli.safetensors"
    assert run(["export", str(path), "--format", "safetensors", "--weights", str(checkpoint),
                "-o", str(out)]) == 0
    assert read_safetensors(out)[1].name == "Spiral MLP"
    assert run(["export", str(path), "--format", "safetensors", "-o", str(out)]) == 2
    assert "needs --weights" in capsys.readouterr().err
    assert run(["export", str(path), "--format", "safetensors", "--weights",
                str(tmp_path / "missing.pt"), "-o", str(out)]) == 1
    assert "missing.pt does not exist" in capsys.readouterr().err


def test_a_python_export_with_weights_loads_them_as_its_docstring_says(trained, tmp_path,
                                                                       monkeypatch):
    import importlib.util
    import re

    from runtime.export import write_python
    design, _, checkpoint = trained
    out = tmp_path / "spiral_net.py"
    write_python(design, out, weights=checkpoint)
    weights = tmp_path / "spiral_net.safetensors"
    assert weights.is_file()
    spec = importlib.util.spec_from_file_location("spiral_net", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    snippet = "\n".join(line[4:] for line in module.__doc__.splitlines()
                        if line.startswith("    "))
    assert "load_file('spiral_net.safetensors')" in snippet
    assert "from spiral_net import SpiralMLP" in snippet
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)  # the snippet names the file beside the module
    monkeypatch.syspath_prepend(str(tmp_path))  # and imports the module, as a user's script would
    exec(snippet, namespace)  # the docstring's own lines, run as a user would
    reference = compile_model(design)
    reference.load_state_dict(torch.load(checkpoint, map_location="cpu",
                                         weights_only=True)["model"])
    x = torch.randn(4, 2)
    assert torch.allclose(namespace["model"](x), reference(x))
    assert re.search(r"class SpiralMLP\(nn.Module\)", out.read_text())


def test_a_python_export_whose_weights_do_not_fit_writes_nothing(trained, tmp_path, capsys):
    _, _, checkpoint = trained
    wider = spiral_mlp(hidden=16)
    path = tmp_path / "wider.json"
    document.save(wider, path)
    out = tmp_path / "wider.py"
    assert run(["export", str(path), "--weights", str(checkpoint), "-o", str(out)]) == 1
    assert "fc1" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".safetensors").exists()
    assert run(["export", str(path), "--weights", str(checkpoint)]) == 2  # no -o: nowhere to put it
    assert "needs -o" in capsys.readouterr().err


def test_exported_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path):
    """Every atomic writer goes through document.replace_atomically: a new file gets what the
    umask gives a plain new file, a replaced one keeps its own permissions."""
    import os
    import stat

    from runtime.document import replace_atomically

    def save(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(b"weights")

    umask = os.umask(0o022)
    try:
        fresh = replace_atomically(tmp_path / "new.safetensors", save)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        kept = tmp_path / "kept.onnx"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        replace_atomically(kept, save)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_bytes() == b"weights"
    finally:
        os.umask(umask)
    with pytest.raises(RuntimeError):
        replace_atomically(kept, lambda tmp: (_ for _ in ()).throw(RuntimeError("disk full")))
    assert kept.read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.onnx", "new.safetensors"]
