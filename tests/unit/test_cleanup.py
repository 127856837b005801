"""The shared virtualenvs and node_modules no release uses: the role's own find command run on a
release tree, its output read by the role's own expressions."""

import os
import subprocess

from test_layout import template

from conftest import ROOT, load_yaml, role_vars, trusted


def cleanup_task(name):
    return next(task for task in load_yaml(ROOT / "roles" / "django_app" / "tasks" / "cleanup.yml") if task["name"] == name)


def listing_argv(root):
    """The role's own listing command for an app at root, and the variables it was rendered with."""
    variables = role_vars("django_app")
    variables.update(django_app_name="shop", django_app_root=str(root), __django_app_release_complete=False)
    listing = cleanup_task("List the virtualenvs and node_modules the releases use, and those kept")
    return [template(variables, arg) for arg in listing["ansible.builtin.command"]["argv"]], variables


def removed(root):
    """What the role removes after its listing ran on the tree at root."""
    argv, variables = listing_argv(root)
    found = subprocess.run(argv, capture_output=True, text=True, check=True)
    variables["__django_app_links"] = {"stdout_lines": found.stdout.splitlines()}
    removal = cleanup_task("Remove the shared virtualenvs and node_modules no release uses")
    variables.update(trusted(removal["vars"]))
    return template(variables, removal["loop"])


def test_only_the_virtualenvs_and_node_modules_no_release_links_are_removed(tmp_path):
    root = tmp_path / "srv" / "shop"
    for folder in ("venvs/used", "venvs/unused", "node/used/node_modules", "node/unused/node_modules", "releases/r1/web", "releases/r2"):
        (root / folder).mkdir(parents=True)
    os.symlink(root / "venvs" / "used", root / "releases" / "r1" / "venv")
    os.symlink(root / "venvs" / "used", root / "releases" / "r2" / "venv")
    os.symlink(root / "node" / "used" / "node_modules", root / "releases" / "r1" / "web" / "node_modules")
    # A link of the project's own, named like neither, is not read as one.
    os.symlink(root / "venvs" / "unused", root / "releases" / "r2" / "python")
    assert removed(root) == [str(root / "venvs" / "unused"), str(root / "node" / "unused")]


def test_without_a_front_end_the_listing_reads_the_virtualenvs_alone(tmp_path):
    # No node folder (no front end was built); a hidden folder in venvs is none of the role's.
    root = tmp_path / "srv" / "shop"
    for folder in ("venvs/used", "venvs/unused", "venvs/.cache", "releases/r1"):
        (root / folder).mkdir(parents=True)
    os.symlink(root / "venvs" / "used", root / "releases" / "r1" / "venv")
    assert removed(root) == [str(root / "venvs" / "unused")]


def test_a_listing_that_fails_stops_the_task(tmp_path):
    # A releases folder find cannot read must not pass for one whose releases use nothing.
    root = tmp_path / "srv" / "shop"
    (root / "venvs" / "used").mkdir(parents=True)
    argv, _variables = listing_argv(root)
    assert subprocess.run(argv, capture_output=True, text=True, check=False).returncode != 0
