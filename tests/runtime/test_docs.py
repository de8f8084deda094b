"""The generated layer catalogue stays in sync with the specs."""
import pytest

from runtime.docgen import OUTPUTS, render
from runtime.registry import REGISTRY


@pytest.mark.parametrize("path", list(OUTPUTS), ids=lambda p: p.name)
def test_generated_docs_are_current(path):
    assert path.read_text(encoding="utf-8") == OUTPUTS[path](), \
        f"{path.name} is out of date: run python -m runtime.docgen"


def test_layers_doc_mentions_every_type_and_parameter():
    text = render()
    for spec in REGISTRY:
        assert f"### {spec.type_id}" in text
        for param in spec.params:
            assert f"`{param.name}`" in text
