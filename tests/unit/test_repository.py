"""The repository's own promises: docs in step with specs, one set of container flags, a collection that builds."""

import re
import shlex
import subprocess
import sys
import tarfile

import pytest
import yaml

from conftest import ROOT, load_yaml


def test_role_readmes_are_generated_from_the_specs():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/role_docs.py"), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


SCENARIOS = sorted((ROOT / "extensions/molecule").glob("*/molecule.yml"))
# Molecule's own sequence, for a scenario that does not name one.
MOLECULE_SEQUENCE = ["dependency", "cleanup", "destroy", "syntax", "create", "prepare", "converge", "idempotence",
                     "side_effect", "verify", "cleanup", "destroy"]  # fmt: skip


def test_scenarios_are_found_where_molecule_looks_in_a_collection():
    assert {path.parent.name for path in SCENARIOS} == {"default", "servers", "cluster", "releases", "backup", "acme", "apache"}
    assert not (ROOT / "molecule").exists()
    assert not (ROOT / ".config/molecule").exists(), "a base config is not found in an installed collection"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.parent.name)
def test_testbed_and_molecule_run_containers_with_the_same_flags(scenario):
    flags = subprocess.run([str(ROOT / "scripts/testbed"), "run-flags"], capture_output=True, text=True, check=True).stdout.split()
    for platform in load_yaml(scenario)["platforms"]:
        expected = []
        for cap in platform["capabilities"]:
            expected += ["--cap-add", cap]
        for opt in platform["security_opts"]:
            expected += ["--security-opt", opt]
        expected += [f"--cgroupns={platform['cgroupns_mode']}"]
        # A scenario may mount more (the cluster's shared media), never less.
        for volume in platform["volumes"][:1]:
            expected += ["-v", volume]
        for mount in platform["tmpfs"]:
            expected += ["--tmpfs", mount]
        assert sorted(flags) == sorted(expected), (platform["name"], shlex.join(flags))
        assert platform["command"] == "/lib/systemd/systemd", platform["name"]
        assert platform["pre_build_image"] is True, platform["name"]
        # The image is overridable, for a user whose registry has Debian images that boot systemd.
        assert re.fullmatch(r"\$\{DJANGOOPS_IMAGE_DEBIAN(12|13):-djangoops/debian:\1\}", platform["image"]), platform["image"]


def test_every_scenario_stands_alone_with_the_same_settings():
    """No base config reaches a scenario run from an installed collection: each molecule.yml
    carries the driver, the Ansible settings, the verifier and the example project's variables,
    and they are the same in every one (the default scenario's are the reference)."""
    reference = load_yaml(ROOT / "extensions/molecule/default/molecule.yml")
    # nginx_templates_dir and scenario_* (a YAML anchor's holder) are each scenario's own.
    shared_vars = {key: value for key, value in reference["provisioner"]["inventory"]["group_vars"]["djangoops"].items()
                   if key != "nginx_templates_dir" and not key.startswith("scenario_")}  # fmt: skip
    for scenario in SCENARIOS:
        config = load_yaml(scenario)
        for key in ("dependency", "driver", "prerun", "verifier"):
            assert config[key] == reference[key], (scenario.parent.name, key)
        assert config["provisioner"]["config_options"] == reference["provisioner"]["config_options"], scenario.parent.name
        if any("djangoops" in platform.get("groups", []) for platform in config["platforms"]):
            group_vars = config["provisioner"]["inventory"]["group_vars"]["djangoops"]
            assert {key: group_vars.get(key) for key in shared_vars} == shared_vars, scenario.parent.name
        sequence = config.get("scenario", {}).get("test_sequence", MOLECULE_SEQUENCE)
        assert sequence.index("converge") < sequence.index("idempotence") < sequence.index("verify"), scenario.parent.name


def test_scenario_requirements_are_the_pinned_tools_at_their_floors():
    """The scenarios' own requirements (shipped for users) name what the checkout pins, with the
    pinned version as the floor."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    floors = {}
    for line in (ROOT / "extensions/molecule/requirements.txt").read_text().splitlines():
        if ">=" in line and not line.startswith("#"):
            name, version = line.split(">=")
            floors[name.strip()] = version.strip()
    assert floors, "no requirement read"
    assert floors == {name: pins.get(name) for name in floors}


def install(artifact, folder, env, *options):
    """ansible-galaxy collection install of the artifact, from a folder away from the checkout
    (whose ansible.cfg already makes the checkout the installed collection)."""
    subprocess.run(
        ["ansible-galaxy", "collection", "install", "--no-deps", *options, str(artifact)],
        capture_output=True,
        text=True,
        check=True,
        cwd=folder,
        env=env,
    )


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
    # A user runs the scenarios from the installed collection (molecule test -s default).
    assert "extensions/molecule/default/molecule.yml" in names
    assert "extensions/molecule/shared/django_project/manage.py" in names
    assert "extensions/molecule/requirements.txt" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    excluded = ("molecule/", "tests/", ".venv/", "scripts/", ".collections/", "inventories/", "benchmarks/")
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
    env = {"ANSIBLE_COLLECTIONS_PATH": str(collections), "PATH": str(ROOT / ".venv/bin") + ":/usr/bin:/bin", "HOME": str(tmp_path)}
    install(artifact, tmp_path, env, "--collections-path", str(collections))
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


def test_an_installed_collection_runs_its_own_scenarios(artifact, tmp_path):
    """A user installs the artifact where Ansible looks by default and runs Molecule from its
    extensions/ folder: every scenario is found, with no base config and no checkout in sight, and
    each of its playbooks passes the syntax check against the scenario's own groups. No Docker
    daemon is needed here (Molecule's own `syntax` asks the driver for one first); the containers
    are what the scenarios themselves test."""
    env = {
        "PATH": str(ROOT / ".venv/bin") + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
    }
    install(artifact, tmp_path, env)
    extensions = tmp_path / ".ansible/collections/ansible_collections/djangoops/stack/extensions"
    for scenario in SCENARIOS:
        name = scenario.parent.name
        listed = subprocess.run(
            ["molecule", "list", "-s", name, "-f", "plain"], capture_output=True, text=True, check=False, cwd=extensions, env=env
        )
        assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
        platforms = load_yaml(scenario)["platforms"]
        assert {platform["name"] for platform in platforms} <= set(listed.stdout.split()), listed.stdout
        groups = {}
        for platform in platforms:
            for group in platform.get("groups", []):
                groups.setdefault(group, {"hosts": {}})["hosts"][platform["name"]] = None
        inventory = tmp_path / f"{name}.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": groups}}))
        folder = extensions / "molecule" / name
        playbooks = sorted(folder.glob("*.yml"))
        assert folder / "converge.yml" in playbooks
        for playbook in playbooks:
            if playbook.name == "molecule.yml":
                continue
            result = subprocess.run(
                ["ansible-playbook", "-i", str(inventory), "--syntax-check", str(playbook)],
                capture_output=True,
                text=True,
                check=False,
                cwd=folder,
                env=env,
            )
            assert result.returncode == 0, f"{name}/{playbook.name}: " + result.stdout[-3000:] + result.stderr[-3000:]


def _anchors(markdown):
    """GitHub's anchors for a Markdown file's headings."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", ROOT / "DEVELOPERS.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "roles").glob("*/README.md"))],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_documentation_links_reach_their_files_and_headings(page):
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.relative_to(ROOT)} links to {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), f"{page.relative_to(ROOT)} links to {target}"
