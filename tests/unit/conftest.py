"""Shared helpers for the unit tests: the repository's layout and role templates rendered by Ansible."""

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def trusted(value):
    """Mark strings as templates, as Ansible does for variables read from a role's own files."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def role_vars(role, *extra_files):
    """A role's defaults, then its vars files, layered as Ansible layers them."""
    variables = {"ansible_managed": "Ansible managed: test render", "role_path": str(ROOT / "roles" / role)}
    for name in ("defaults/main.yml", "vars/main.yml", *extra_files):
        path = ROOT / "roles" / role / name
        if path.is_file():
            variables.update(trusted(load_yaml(path)))
    return variables


def render(role, template, variables):
    """Render roles/<role>/templates/<template> with the given variables, as the template module does."""
    source = (ROOT / "roles" / role / "templates" / template).read_text(encoding="utf-8")
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template(source))


@pytest.fixture
def root():
    return ROOT
