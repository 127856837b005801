"""The release digest: the same tree gives the same id, any change to content or names another."""

import importlib.util
import os
import subprocess

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("tree_digest", ROOT / "plugins/lookup/tree_digest.py")
tree_digest_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tree_digest_module)
tree_digest = tree_digest_module.tree_digest


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "views.py").write_text("print('v1')\n")
    (tmp_path / "manage.py").write_text("# manage\n")
    return tmp_path


def test_same_tree_same_digest_whatever_the_times(tree):
    first = tree_digest(str(tree))
    os.utime(tree / "manage.py", (0, 0))
    assert tree_digest(str(tree)) == first
    assert len(first) == 64


def test_content_change_changes_the_digest(tree):
    first = tree_digest(str(tree))
    (tree / "app" / "views.py").write_text("print('v2')\n")
    assert tree_digest(str(tree)) != first


def test_rename_and_new_file_change_the_digest(tree):
    first = tree_digest(str(tree))
    (tree / "app" / "views.py").rename(tree / "app" / "other.py")
    second = tree_digest(str(tree))
    assert second != first
    (tree / "new.txt").write_text("")
    assert tree_digest(str(tree)) != second


def test_byte_code_and_vcs_folders_do_not_count(tree):
    first = tree_digest(str(tree))
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("ref")
    (tree / "stale.pyc").write_bytes(b"\0")
    assert tree_digest(str(tree)) == first


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="is neither a directory nor a file"):
        tree_digest(str(tmp_path / "nope"))


def test_a_single_file_digests_its_name_and_content(tmp_path):
    wheel = tmp_path / "shop-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\0one")
    first = tree_digest(str(wheel))
    wheel.write_bytes(b"PK\0two")
    assert tree_digest(str(wheel)) != first
    second = tree_digest(str(wheel))
    renamed = wheel.rename(tmp_path / "shop-1.1-py3-none-any.whl")
    assert tree_digest(str(renamed)) != second


def lookup_in_collection(term):
    """The lookup as a playbook calls it, from this checkout's collection (ansible.cfg)."""
    expression = f"{{{{ lookup('djangoops.stack.tree_digest', '{term}', in_collection=true) }}}}"
    result = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-m", "ansible.builtin.debug", "-a", f"msg={expression}"],
        capture_output=True, text=True, check=False, cwd=ROOT, env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def test_a_path_inside_the_collection_is_digested_wherever_it_is_installed():
    rc, output = lookup_in_collection("roles/django_app")
    assert rc == 0, output
    expected = tree_digest(str(ROOT / "roles" / "django_app"))
    assert f"msg: {expected}\n" in output


def test_a_path_outside_the_collection_is_refused():
    rc, output = lookup_in_collection("../etc")
    assert rc != 0
    assert "is not a path inside the collection" in output
