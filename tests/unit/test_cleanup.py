"""The shared virtualenvs and node_modules no release uses: the role's own find command run on a
release tree, its output read by the role's own expressions."""

import os
import subprocess

from test_layout import template

from conftest import ROOT, load_yaml, role_vars, trusted


def cleanup_task(name):
    return next(task for task in load_yaml(ROOT / "roles" / "django_app" / "tasks" / "cleanup.yml") if task["name"] == name)


def test_only_the_virtualenvs_and_node_modules_no_release_links_are_removed(tmp_path):
    root = tmp_path / "srv" / "shop"
    for folder in ("venvs/used", "venvs/unused", "node/used/node_modules", "node/unused/node_modules", "releases/r1/web", "releases/r2"):
        (root / folder).mkdir(parents=True)
    os.symlink(root / "venvs" / "used", root / "releases" / "r1" / "venv")
    os.symlink(root / "venvs" / "used", root / "releases" / "r2" / "venv")
    os.symlink(root / "node" / "used" / "node_modules", root / "releases" / "r1" / "web" / "node_modules")
    # A link of the project's own, named like neither, is not read as one.
    os.symlink(root / "venvs" / "unused", root / "releases" / "r2" / "python")
    variables = role_vars("django_app")
    variables.update(django_app_name="shop", django_app_root=str(root), __django_app_release_complete=False)

    listing = cleanup_task("List the virtualenvs and node_modules the releases use")
    argv = [template(variables, arg) for arg in listing["ansible.builtin.command"]["argv"]]
    found = subprocess.run(argv, capture_output=True, text=True, check=True)
    variables["__django_app_links_used"] = {"stdout_lines": found.stdout.splitlines()}
    kept = cleanup_task("List the shared virtualenvs and the node_modules kept")["ansible.builtin.find"]["paths"]
    variables["__django_app_kept"] = {
        "files": [{"path": entry.path} for path in kept for entry in sorted(os.scandir(template(variables, path)), key=lambda e: e.name)]
    }

    removal = cleanup_task("Remove the shared virtualenvs and node_modules no release uses")
    variables.update(trusted(removal["vars"]))
    assert template(variables, removal["loop"]) == [str(root / "venvs" / "unused"), str(root / "node" / "unused")]
