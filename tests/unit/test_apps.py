"""site.yml's per-app entries (djangoops_apps) map onto the roles' variables with the roles' own
defaults: playbooks/tasks/app.yml repeats each default it falls back on, and must keep them equal."""

import re

import pytest
import yaml

from conftest import ROOT, load_yaml

APP_TASKS = ROOT / "playbooks" / "tasks" / "app.yml"
# djangoops_app.<key> | default(__djangoops_host.<variable> | default(<literal>))
FALLBACK = re.compile(r"djangoops_app\.(\w+) \| default\(__djangoops_host\.(\w+) \| default\((.+)\)\) \}\}$")


def mappings():
    block = load_yaml(APP_TASKS)[0]
    found = {}
    for name, value in block["vars"].items():
        match = FALLBACK.search(" ".join(str(value).split()))
        if match:
            found[name] = match.groups()
    return found


def role_default(variable):
    for role in ("django_app", "app_server"):
        defaults = load_yaml(ROOT / "roles" / role / "defaults" / "main.yml")
        if variable in defaults:
            return defaults[variable]
    raise KeyError(variable)


def test_the_per_app_keys_fall_back_on_the_variables_they_set():
    found = mappings()
    assert len(found) >= 15
    for name, (_, host_variable, _) in found.items():
        if not name.startswith("__"):
            assert host_variable == name


# The playbook's own variables (djangoops_*) have their default only in the playbook.
@pytest.mark.parametrize(
    ("name", "mapping"), sorted((name, mapping) for name, mapping in mappings().items() if not mapping[1].startswith("djangoops_"))
)
def test_each_fallback_equals_the_role_default(name, mapping):
    _, host_variable, literal = mapping
    assert yaml.safe_load(literal.replace("'", '"')) == role_default(host_variable)


def test_every_per_app_key_is_documented_in_the_guide():
    readme = (ROOT / "docs/several-apps.md").read_text(encoding="utf-8")
    for key, _, _ in mappings().values():
        assert f"`{key}`" in readme, key
