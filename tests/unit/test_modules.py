"""The collection's own modules, run as Ansible runs them: a process given its arguments as JSON."""

import grp
import json
import os
import pwd
import stat
import subprocess
import sys

import pytest

from conftest import ROOT

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run_module(module, tmp_path, **arguments):
    args = tmp_path / f"{module}-args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": arguments}))
    process = subprocess.run(
        [sys.executable, str(ROOT / "plugins" / "modules" / f"{module}.py"), str(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(process.stdout)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    return root


def test_secret_is_made_once_readable_by_root_only_and_read_back(tmp_path):
    path = tmp_path / "secret_key"
    first = run_module("secret", tmp_path, path=str(path), nbytes=64)
    assert first["changed"] is True
    assert len(first["secret"]) >= 80
    assert mode(path) == 0o600
    again = run_module("secret", tmp_path, path=str(path), nbytes=64)
    assert again["changed"] is False
    assert again["secret"] == first["secret"]


def test_secret_keeps_a_secret_written_by_hand_and_refuses_an_empty_file(tmp_path):
    path = tmp_path / "superuser-password"
    by_hand = "chosen by hand"
    path.write_text(f"{by_hand}\n")
    assert run_module("secret", tmp_path, path=str(path))["secret"] == by_hand
    path.write_text("")
    result = run_module("secret", tmp_path, path=str(path))
    assert result["failed"] is True
    assert "empty" in result["msg"]


def test_secret_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "secret_key"
    result = run_module("secret", tmp_path, path=str(path), _ansible_check_mode=True)
    assert result["changed"] is True
    assert not path.exists()


def make_release(releases, name, finished, mtime):
    folder = releases / name
    folder.mkdir()
    if finished:
        (folder / ".done").write_text("")
    os.utime(folder, (mtime, mtime))
    return folder


def read_releases(tmp_path, tree, **arguments):
    links = {"current": str(tree / "current"), "previous": str(tree / "previous")}
    return run_module("releases", tmp_path, **{"path": str(tree / "releases"), "marker": ".done", **links, **arguments})


def test_releases_reads_releases_links_and_marks_newest_first(tmp_path, tree):
    releases = tree / "releases"
    releases.mkdir()
    old = make_release(releases, "aaa", True, 1_000)
    new = make_release(releases, "ccc", True, 3_000)
    broken = make_release(releases, "bbb", False, 2_000)
    (releases / "stray-file").write_text("")  # not a release
    (tree / "current").symlink_to(new)
    (tree / "previous").symlink_to("releases/aaa")  # a relative link reads as an absolute path
    (tree / "superuser-created-admin").write_text("admin\n")
    result = read_releases(tmp_path, tree, marks=[str(tree / "superuser-created-admin"), str(tree / "superuser-created-other")])
    assert result["changed"] is False
    assert [(release["name"], release["finished"]) for release in result["releases"]] == [
        ("ccc", True),
        ("bbb", False),
        ("aaa", True),
    ]
    assert result["releases"][1]["path"] == str(broken)
    assert result["current"] == str(new)
    assert result["previous"] == str(old)
    assert result["marks"] == {str(tree / "superuser-created-admin"): True, str(tree / "superuser-created-other"): False}


def test_releases_of_a_first_deploy_are_empty(tmp_path, tree):
    result = read_releases(tmp_path, tree)
    assert result["releases"] == []
    assert result["current"] is None
    assert result["previous"] is None
    assert result["marks"] == {}


def test_releases_refuses_a_marker_that_is_a_path(tmp_path, tree):
    result = read_releases(tmp_path, tree, marker="../done")
    assert result["failed"] is True
    assert "file name" in result["msg"]
