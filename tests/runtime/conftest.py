"""Fixtures shared by the runtime tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one thread is faster, and steady when other suites share the CPUs (a test
    module asks for it with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A spiral MLP trained one epoch: (its design, its design file, its last.pt)."""
    from runtime import document
    from runtime.training.trainer import Trainer
    from tests.runtime.test_trainer import spiral_mlp

    folder = tmp_path_factory.mktemp("trained")
    design = spiral_mlp(epochs=1)
    path = folder / "mlp.json"
    document.save(design, path)
    Trainer(design, design.training, checkpoint_dir=folder).fit()
    return design, path, folder / "last.pt"
