"""The generated layer catalogue stays in sync with the specs."""
from runtime.docgen import DOC_PATH, render
from runtime.registry import REGISTRY


def test_layers_doc_is_current():
    assert DOC_PATH.read_text(encoding="utf-8") == render(), \
        "docs/layers.md is out of date: run python -m runtime.docgen"


def test_layers_doc_mentions_every_type_and_parameter():
    text = render()
    for spec in REGISTRY:
        assert f"### {spec.type_id}" in text
        for param in spec.params:
            assert f"`{param.name}`" in text
