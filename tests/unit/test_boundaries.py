"""Roles keep their insides to themselves: playbooks and other roles read what a role exports
(django_app_deployed, django_app_release, app_server_upstream...), never its `__` variables, and
never spell out the paths a role owns."""

import re

import pytest

from conftest import ROOT

ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "tasks").is_dir())
# Paths that belong to one role: its layout under the app's root, its installed commands.
OWNED = {
    "django_app": [r"/srv/", r"/shared/", r"/current\b"],
    "app_backup": [r"djangoops-backup\b"],
}
SOURCES = [
    *sorted((ROOT / "playbooks").rglob("*.yml")),
    ROOT / "site.yml",
    *sorted(path for path in (ROOT / "roles").rglob("*") if path.suffix in {".yml", ".j2"}),
]


def owner(path):
    parts = path.relative_to(ROOT).parts
    return parts[1] if parts[0] == "roles" else None


def code(path):
    """The file without its comments (a comment may name what it explains)."""
    return "\n".join(line.split(" # ")[0] for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_file_reads_another_roles_insides(path):
    text = code(path)
    mine = owner(path)
    for role in ROLES:
        if role == mine:
            continue
        assert not re.search(rf"\b__{role}_", text), f"{path.relative_to(ROOT)} reads a __{role}_ variable"
        for pattern in OWNED.get(role, []):
            assert not re.search(pattern, text), f"{path.relative_to(ROOT)} spells out {role}'s path ({pattern})"
