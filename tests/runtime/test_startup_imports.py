"""The commands and catalogues that never touch a tensor must not wait for `import torch` (#16
item 1): each check runs in a fresh interpreter and looks at what it imported."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = "presets/mlp-spirals.json"
BIG = "presets/resnet-shapes.json"


def fresh(code: str, env: dict[str, str] | None = None) -> dict:
    """Run `code` in a new interpreter at the repository root; it prints one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# one interpreter for all six commands: torch would stay loaded once any of them loaded it
CLI_RUNS = """
    import contextlib, io, json, sys
    import main
    loaded = {}
    for argv in %r:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main.main(argv)
        loaded[" ".join(argv)] = [code, out.getvalue()[:200],
                                  sorted(m for m in ("torch", "numpy") if m in sys.modules)]
    print(json.dumps(loaded))
"""


def test_validate_and_summary_never_import_torch():
    argvs = [[command, path, *extra] for path in (DEFAULT, BIG)
             for command, extra in (("validate", []), ("summary", []), ("summary", ["--json"]))]
    for name, (code, printed, loaded) in fresh(CLI_RUNS % (argvs,)).items():
        assert code == 0 and printed, (name, printed)
        assert loaded == [], f"`main.py {name}` imported {loaded}"


def test_layer_catalogue_reads_and_infers_shapes_without_torch():
    """Every layer's spec, defaults and shape rule (on its examples); building a recipe is
    what imports torch, and its class is the real torch one."""
    result = fresh("""
        import json, sys
        from runtime.registry import REGISTRY
        from runtime.specs import LayerContext
        from tests.runtime.layer_examples import EXAMPLES
        inferred = 0
        for example in EXAMPLES:
            spec = REGISTRY.get(example.type)
            params, problems = spec.check_params(example.params)
            assert not problems, problems
            spec.infer(LayerContext(example.name, params, example.inputs))
            inferred += 1
        before = "torch" in sys.modules
        linear = next(e for e in EXAMPLES if e.type == "Linear")
        spec = REGISTRY.get("Linear")
        recipe = spec.build(LayerContext("fc", spec.check_params(linear.params)[0],
                                         linear.inputs))
        import torch
        print(json.dumps({"specs": len(REGISTRY), "inferred": inferred, "before": before,
                          "after": "torch" in sys.modules,
                          "real": recipe.cls is torch.nn.Linear}))
    """)
    assert result["inferred"] >= result["specs"] > 30
    assert result == {**result, "before": False, "after": True, "real": True}


def test_training_catalogues_are_declared_without_torch():
    result = fresh("""
        import json, sys
        from runtime.data import DATASETS
        from runtime.training.losses import LOSSES
        from runtime.training.metrics import METRICS
        from runtime.training.optimizers import OPTIMIZERS
        from runtime.training.schedules import SCHEDULES
        counts = [len(DATASETS), len(LOSSES), len(METRICS), len(OPTIMIZERS), len(SCHEDULES)]
        loaded = sorted(m for m in ("torch", "numpy") if m in sys.modules)
        # and what computes still computes: a loss on real tensors
        import torch
        loss = LOSSES["mse"].compute(torch.ones(2, 3), torch.zeros(2, 3)).item()
        print(json.dumps({"counts": counts, "loaded": loaded, "loss": loss}))
    """)
    assert all(result["counts"]) and result["loaded"] == []
    assert result["loss"] == 1.0


def test_a_lazy_module_becomes_the_module_where_it_is_used():
    from runtime.lazy import LazyModule

    namespace: dict = {}
    namespace["json_"] = LazyModule("json", namespace, "json_")
    assert namespace["json_"].dumps([1]) == "[1]"
    assert namespace["json_"] is json  # rebound: later reads skip the stand-in


def test_a_stand_in_hides_none_of_the_module_s_own_names(tmp_path):
    """`torch.load` and `np.load` through a stand-in are the module's: the stand-in once had a
    method of that name, so a checkpoint read first in a fresh process failed as 'damaged'."""
    import numpy
    import torch

    from runtime.lazy import LazyModule

    for name, module in (("json", json), ("numpy", numpy), ("torch", torch)):
        namespace: dict = {}
        namespace["m"] = LazyModule(name, namespace, "m")
        assert namespace["m"].load is module.load
    namespace = {}
    namespace["torch"] = LazyModule("torch", namespace, "torch")
    torch.save({"x": torch.ones(2)}, tmp_path / "w.pt")
    assert torch.equal(namespace["torch"].load(tmp_path / "w.pt", map_location="cpu",
                                               weights_only=True)["x"], torch.ones(2))


def test_using_torch_while_it_loads_in_the_background_waits_for_it():
    """What the window does after its first paint, and a Train or Try it press meanwhile:
    the second user gets the whole module, never half of it."""
    result = fresh("""
        import json, sys
        from runtime.lazy import import_in_background, imported, lazy_import
        torch = lazy_import("torch", globals(), "torch")
        import_in_background("torch", "runtime.compile")
        during = imported("torch")
        total = float(torch.ones(3).sum())  # imported on this thread too: waits, then works
        from runtime.compile import compile_model
        print(json.dumps({"during": during, "total": total, "compiled": callable(compile_model),
                          "real": type(torch).__name__}))
    """)
    assert result == {"during": False, "total": 3.0, "compiled": True, "real": "module"}


def test_the_device_is_told_without_torch_as_torch_would_tell_it():
    from runtime.errors import TrainingError
    from runtime.training.devices import device_type, pick_device

    for name in ("auto", "cpu", "cuda", "mps"):
        try:
            expected = pick_device(name).type
        except TrainingError as err:
            with pytest.raises(TrainingError, match=str(err)):
                device_type(name)
        else:
            assert device_type(name) == expected
    result = fresh("""
        import json, sys
        from runtime.training.devices import _gpu_possible, device_type
        kind = device_type("auto")
        print(json.dumps({"kind": kind, "gpu_possible": _gpu_possible(),
                          "torch": "torch" in sys.modules}))
    """)
    import torch

    cpu_only = sys.platform != "darwin" and not any(
        getattr(torch.version, build, None) for build in ("cuda", "hip", "rocm", "xpu"))
    assert result["gpu_possible"] == (not cpu_only)
    assert result["kind"] == pick_device("auto").type
    assert result["torch"] == (not cpu_only)  # only a build that might find a GPU asks torch


def test_every_name_a_compiled_model_reserves_is_refused():
    """Node ids may not shadow what a GraphModule has; the check may be told without torch,
    so compare it with the installed torch."""
    from torch import fx, nn

    from runtime.names import identifier_problem

    instance = fx.GraphModule(nn.Module(), fx.Graph())
    reserved = set(dir(nn.Module)) | set(dir(fx.GraphModule)) | set(dir(instance))
    accepted = sorted(name for name in reserved if identifier_problem(name) is None)
    assert accepted == []


def test_the_window_paints_the_design_before_torch_is_imported(tmp_path):
    pytest.importorskip("PySide6")
    config = tmp_path / "config" / "LayerLab"
    config.mkdir(parents=True)
    (config / "LayerLab.conf").write_text("[welcome]\nshown=true\n[training]\n"
                                          "warm_process=false\n")
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                            "LAYERLAB_EXIT_AFTER_PAINT": "1",
                                            "XDG_CONFIG_HOME": str(tmp_path / "config"),
                                            "XDG_DATA_HOME": str(tmp_path / "data")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "first paint done: 7 node cards, 7 with output shapes; torch not loaded" \
        in proc.stdout, proc.stdout + proc.stderr[-2000:]
