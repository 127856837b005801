"""Every role documents every public variable, and the spec agrees with defaults/main.yml."""

import re

import pytest

from conftest import ROLES, ROOT, load_yaml


@pytest.mark.parametrize("role", ROLES)
def test_role_has_spec_defaults_and_readme(role):
    for name in ("meta/argument_specs.yml", "defaults/main.yml", "meta/main.yml", "README.md"):
        assert (ROOT / "roles" / role / name).is_file(), f"{role} lacks {name}"


@pytest.mark.parametrize("role", ROLES)
def test_spec_and_defaults_agree(role):
    # Every entry point's options: defaults/main.yml serves them all.
    spec = {}
    for entry_point in load_yaml(ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"].values():
        for name, option in entry_point.get("options", {}).items():
            known = spec.setdefault(name, option)
            for key in ("type", "default", "choices", "elements"):
                assert known.get(key) == option.get(key), f"{role}: {name}'s {key} differs between entry points"
    defaults = load_yaml(ROOT / "roles" / role / "defaults/main.yml")

    required = {name for name, option in spec.items() if option.get("required")}
    assert not required & defaults.keys(), f"required options must have no default: {required & defaults.keys()}"
    assert spec.keys() - required == defaults.keys(), "spec options and defaults differ"
    for name, value in defaults.items():
        if "default" not in spec[name] and isinstance(value, str) and "{{" in value:
            # A default computed from other variables that is no value of the option's type (a
            # bool, a list of dicts) cannot be a spec's default: the description says what it is.
            assert "defaults to" in spec[name].get("description", "").lower(), f"{role}: {name} does not say its default"
            continue
        assert spec[name].get("default") == value, f"{role}: {name} default differs between spec and defaults"
        assert spec[name].get("description"), f"{role}: {name} has no description"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_prefix(role):
    defaults = load_yaml(ROOT / "roles" / role / "defaults/main.yml")
    assert all(name.startswith(f"{role}_") for name in defaults), defaults.keys()


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_a_comment(role):
    lines = (ROOT / "roles" / role / "defaults/main.yml").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(rf"^{role}_\w+:", line):
            above = lines[number - 1] if number else ""
            assert above.startswith("#"), f"{role} defaults line {number + 1} has no comment: {line}"


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_names_every_variable(role):
    spec = load_yaml(ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    readme = (ROOT / "roles" / role / "README.md").read_text(encoding="utf-8")
    missing = [name for name in spec if f"`{name}`" not in readme]
    assert not missing, f"{role}/README.md does not document {missing}"
