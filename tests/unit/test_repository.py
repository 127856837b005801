"""The repository's own promises: docs in step with specs, one set of container flags, a collection that builds."""

import re
import shlex
import subprocess
import sys
import tarfile

import pytest

from conftest import ROOT, load_yaml


def test_role_readmes_are_generated_from_the_specs():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/role_docs.py"), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_testbed_and_molecule_run_containers_with_the_same_flags():
    flags = subprocess.run([str(ROOT / "scripts/testbed"), "run-flags"], capture_output=True, text=True, check=True).stdout.split()
    platform = load_yaml(ROOT / ".config/molecule/config.yml")["platforms"][0]
    expected = []
    for cap in platform["capabilities"]:
        expected += ["--cap-add", cap]
    for opt in platform["security_opts"]:
        expected += ["--security-opt", opt]
    expected += [f"--cgroupns={platform['cgroupns_mode']}"]
    for volume in platform["volumes"]:
        expected += ["-v", volume]
    for mount in platform["tmpfs"]:
        expected += ["--tmpfs", mount]
    assert sorted(flags) == sorted(expected), shlex.join(flags)
    assert platform["command"] == "/lib/systemd/systemd"


def test_every_molecule_scenario_keeps_idempotence():
    sequence = load_yaml(ROOT / ".config/molecule/config.yml")["scenario"]["test_sequence"]
    assert sequence.index("converge") < sequence.index("idempotence") < sequence.index("verify")
    for scenario in (ROOT / "molecule").glob("*/molecule.yml"):
        override = load_yaml(scenario).get("scenario", {}).get("test_sequence")
        assert override is None or "idempotence" in override, scenario


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    )
    (path,) = out.glob("djangoops-stack-*.tar.gz")
    return path


def test_collection_artifact_leaves_out_the_test_material(artifact):
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    assert "roles/django_app/tasks/main.yml" in names
    assert "playbooks/site.yml" in names
    assert "playbooks/deploy.yml" in names
    assert "playbooks/rollback.yml" in names
    for step in ("app", "app_preflight", "app_pooled", "app_deploy", "app_rollback"):
        assert f"playbooks/tasks/{step}.yml" in names
    assert "site.yml" in names
    assert "plugins/lookup/tree_digest.py" in names
    assert "LICENSE" in names
    excluded = ("examples/", "molecule/", "tests/", ".venv/", "scripts/", ".collections/", "inventories/", "benchmarks/")
    excluded += ("changelogs/fragments/", "docs/design/", "docs/benchmarks/", "ansible.cfg", "requirements.txt", "requirements.yml")
    for path in excluded:
        assert not any(name == path or name.startswith(path) for name in names), path


def test_galaxy_dependencies_are_the_collections_the_roles_use():
    """Every collection a role, playbook or plugin names is declared, and nothing else is."""
    used = set()
    for path in [*ROOT.glob("roles/**/*.yml"), *ROOT.glob("playbooks/**/*.yml"), ROOT / "site.yml"]:
        used.update(re.findall(r"^\s*-? ?([a-z_]+\.[a-z_]+)\.[a-z_0-9]+:\s*$", path.read_text(), re.MULTILINE))
    used -= {"ansible.builtin", "djangoops.stack"}
    galaxy = load_yaml(ROOT / "galaxy.yml")
    assert set(galaxy["dependencies"]) == used
    requirements = {entry["name"]: entry["version"] for entry in load_yaml(ROOT / "requirements.yml")["collections"]}
    assert requirements == galaxy["dependencies"]


def test_no_private_ansible_api():
    for path in ROOT.glob("plugins/**/*.py"):
        assert "_internal" not in path.read_text(), path


def test_galaxy_version_is_the_next_release_of_the_changelog():
    """galaxy.yml names the version the fragments will be released as, never one already released."""
    released = load_yaml(ROOT / "changelogs/changelog.yaml")["releases"] or {}
    assert load_yaml(ROOT / "galaxy.yml")["version"] not in released


@pytest.mark.parametrize("playbook", ["site", "deploy", "rollback", "backup", "restore"])
def test_installed_collection_resolves_its_playbooks(artifact, tmp_path, playbook):
    collections = tmp_path / "collections"
    # Away from the checkout, whose ansible.cfg already makes it the installed collection.
    env = {"ANSIBLE_COLLECTIONS_PATH": str(collections), "PATH": str(ROOT / ".venv/bin") + ":/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(
        ["ansible-galaxy", "collection", "install", "--no-deps", "--collections-path", str(collections), str(artifact)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("appservers:\n  hosts:\n    app1:\nloadbalancers:\n  hosts:\n    app1:\n")
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "--syntax-check", f"djangoops.stack.{playbook}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
