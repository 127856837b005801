"""The archive that carries a local source to the host holds exactly the files the release id is
digested from: the pack command of roles/django_app/tasks/build.yml, rendered and run here."""

import importlib.util
import subprocess
import tarfile

from ansible.parsing.dataloader import DataLoader
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


def pack(source, archive):
    task = find_task(load_yaml(ROOT / "roles/django_app/tasks/build.yml"), "Pack the code on the control node")
    variables = role_vars("django_app")
    variables.update(django_app_source_path=str(source), __local=str(archive))
    command = Templar(loader=DataLoader(), variables=variables).template(trust_as_template(task["ansible.builtin.shell"]["cmd"]))
    subprocess.run(["bash", "-c", command], check=True)
    with tarfile.open(archive) as handle:
        return {member.name for member in handle.getmembers() if member.isfile()}, handle.getnames()


def test_the_archive_holds_the_digested_files_and_no_others(tmp_path):
    source = tmp_path / "my project"  # a space: the command quotes the path
    for name in ("manage.py", "shop/views.py", "shop/templates/a.html", ".well-known/security.txt", "shop/views.pyc"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    for skipped in tree_digest_module.ALWAYS_EXCLUDED:
        (source / "shop" / skipped).mkdir()
        (source / "shop" / skipped / "x.py").write_text("left out")
    files, names = pack(source, tmp_path / "code.tar.gz")
    assert files == {"manage.py", "shop/views.py", "shop/templates/a.html", ".well-known/security.txt"}
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
