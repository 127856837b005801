"""The archive that carries a local source to the host holds exactly the files the release id is
digested from: the pack command of roles/django_app/tasks/build.yml, rendered and run here."""

import hashlib
import importlib.util
import subprocess
import sys
import tarfile

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from conftest import ROOT, load_yaml, role_vars

spec = importlib.util.spec_from_file_location("tree_digest", ROOT / "plugins/lookup/tree_digest.py")
tree_digest_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tree_digest_module)


def find_task(tasks, name):
    for task in tasks:
        if task.get("name") == name:
            return task
        for key in ("block", "rescue", "always"):
            found = find_task(task.get(key, []), name)
            if found:
                return found
    return None


def pack(source, archive, rendered=None, check=True):
    """Run the pack task's command as the role renders it; return the archive's files and names."""
    task = find_task(load_yaml(ROOT / "roles/django_app/tasks/build.yml"), "Pack the code and the deployment's files on the control node")
    variables = role_vars("django_app")
    variables.update(
        django_app_source_path=str(source),
        __local=str(archive),
        ansible_playbook_python=sys.executable,
        __django_app_release_rendered=rendered or {},
        django_app_project_module="shop",
    )
    templar = Templar(loader=DataLoader(), variables=variables)
    argv = [templar.template(trust_as_template(part)) for part in task["ansible.builtin.command"]["argv"]]
    stdin = templar.template(trust_as_template(task["ansible.builtin.command"]["stdin"]))
    result = subprocess.run(argv, input=stdin, text=True, capture_output=True, check=False)
    if not check:
        return result
    assert result.returncode == 0, result.stderr
    with tarfile.open(archive) as handle:
        return {member.name: member for member in handle.getmembers() if member.isfile()}, handle.getnames()


def test_the_archive_holds_the_digested_files_and_no_others(tmp_path):
    source = tmp_path / "my project"  # a space: the command quotes the path
    for name in ("manage.py", "shop/views.py", "shop/templates/a.html", ".well-known/security.txt", "shop/views.pyc"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    for skipped in tree_digest_module.ALWAYS_EXCLUDED:
        (source / "shop" / skipped).mkdir()
        (source / "shop" / skipped / "x.py").write_text("left out")
    files, names = pack(source, tmp_path / "code.tar.gz")
    assert set(files) == {"manage.py", "shop/views.py", "shop/templates/a.html", ".well-known/security.txt"}
    # Members are named without a leading "./": unarchive gives each member's top folder the
    # task's mode, and a "./" prefix made that the release folder itself (0750 instead of 0751,
    # so nginx could no longer reach the collected static files).
    assert not [name for name in names if name == "." or name.startswith("./") or name.startswith("/")]
    assert {name.split("/")[0] for name in names} == {"manage.py", "shop", ".well-known"}
    # The digest sees the same files: changing a left-out one changes neither.
    before = tree_digest_module.tree_digest(str(source))
    (source / "shop" / "__pycache__" / "x.py").write_text("changed")
    assert tree_digest_module.tree_digest(str(source)) == before


def test_the_archive_leaves_out_what_the_digest_leaves_out():
    excluded = set(role_vars("django_app")["__django_app_code_excluded"])
    assert excluded == set(tree_digest_module.ALWAYS_EXCLUDED) | {"*.pyc", "*.pyo"}


def test_the_deployment_files_replace_the_projects_own(tmp_path):
    source = tmp_path / "src"
    (source / "shop").mkdir(parents=True)
    (source / "shop" / "wsgi.py").write_text("the project's own\n")
    (source / "shop" / "views.py").write_text("views\n")
    (source / "media").mkdir()
    (source / "uploads").symlink_to("media")
    # The role's project path is the settings module's package (shop, from shop.settings).
    rendered = {"wsgi.py": "application = None\n", "djangoops_postgresql/base.py": "x = 1\n"}
    files, names = pack(source, tmp_path / "code.tar.gz", rendered)
    with tarfile.open(tmp_path / "code.tar.gz") as handle:
        assert handle.extractfile("shop/wsgi.py").read() == b"application = None\n"
        members = {member.name: member for member in handle.getmembers()}
    assert names.count("shop/wsgi.py") == 1
    assert members["shop/djangoops_postgresql"].isdir()
    assert names.index("shop/djangoops_postgresql") < names.index("shop/djangoops_postgresql/base.py")
    assert files["shop/wsgi.py"].mode == 0o640
    assert members["uploads"].issym()
    assert members["uploads"].linkname == "media"


def test_a_rendered_file_that_does_not_compile_stops_the_pack(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "manage.py").write_text("pass\n")
    result = pack(source, tmp_path / "code.tar.gz", {"settings_production.py": "DEBUG = (\n"}, check=False)
    assert result.returncode != 0
    assert "shop/settings_production.py does not compile" in result.stderr
    assert not (tmp_path / "code.tar.gz").exists()


def test_a_local_requirements_file_is_digested_on_the_control_node_as_stat_digests_it(tmp_path):
    """The shared virtualenv's name comes from the file's SHA-256: the control node's digest must
    be stat's on the host, byte for byte (no stripped newline, any encoding), or every release
    would build a virtualenv of its own."""
    init_plugin_loader()
    content = "Django>=5.2,<5.3\r\n# café\n\n".encode()
    (tmp_path / "requirements.txt").write_bytes(content)
    variables = role_vars("django_app")
    variables.update(django_app_source_path=str(tmp_path), django_app_name="shop", django_app_project_module="shop")
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.template(trust_as_template("{{ __django_app_requirements_on_controller }}")) is True
    checksum = templar.template(trust_as_template("{{ __django_app_requirements_checksum }}"))
    assert checksum == hashlib.sha256(content).hexdigest()
    # A requirements file the inventory's files replace is read on the host, as it is in the release.
    variables["django_app_release_files"] = [{"path": "requirements.txt", "content": "Django\n"}]
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.template(trust_as_template("{{ __django_app_requirements_on_controller }}")) is False
