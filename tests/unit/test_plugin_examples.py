"""Every plugin's EXAMPLES is YAML a user can paste into a play: the docs build highlights it as
YAML and stops on a block that does not parse."""

import ast

import pytest
import yaml

from conftest import ROOT

PLUGINS = sorted(p for p in (ROOT / "plugins").glob("*/*") if p.suffix in (".py", ".yml") and p.parent.name != "doc_fragments")


def examples(path):
    if path.suffix == ".yml":
        return yaml.safe_load(path.read_text()).get("EXAMPLES")
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLES" for t in node.targets):
            return ast.literal_eval(node.value)
    return None


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_examples_are_yaml(path):
    text = examples(path)
    if text is None:
        assert path.suffix == ".py", f"{path.name} has no EXAMPLES"
        return
    assert isinstance(yaml.safe_load(text), (list, dict)), f"{path.name}: EXAMPLES is neither tasks nor variables"
