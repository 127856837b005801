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
        # The modules import the collection's module_utils, as Ansible lets them.
        env={**os.environ, "PYTHONPATH": str(ROOT / ".collections")},
    )
    return json.loads(process.stdout)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    return root


def test_paths_makes_folders_with_parents_then_changes_nothing(tmp_path, tree):
    folders = [
        {"path": str(tree / "app" / "releases"), "owner": USER, "group": GROUP, "mode": "0751"},
        {"path": str(tree / "app" / "media"), "owner": USER, "group": GROUP, "mode": "2750"},
    ]
    first = run_module("paths", tmp_path, directories=folders)
    assert first["changed"] is True
    assert first["changed_paths"] == [folder["path"] for folder in folders]
    assert mode(tree / "app") == 0o751  # a parent made on the way gets the folder's attributes
    assert mode(tree / "app" / "releases") == 0o751
    assert mode(tree / "app" / "media") == 0o2750
    again = run_module("paths", tmp_path, directories=folders)
    assert again["changed"] is False
    assert again["changed_paths"] == []


def test_paths_corrects_the_mode_of_an_existing_folder(tmp_path, tree):
    (tree / "config").mkdir()
    os.chmod(tree / "config", 0o700)
    result = run_module("paths", tmp_path, directories=[{"path": str(tree / "config"), "mode": "0750"}])
    assert result["changed"] is True
    assert mode(tree / "config") == 0o750


def test_paths_removes_files_links_and_trees(tmp_path, tree):
    (tree / "old.conf").write_text("x")
    (tree / "run" / "uwsgi").mkdir(parents=True)
    (tree / "run" / "uwsgi" / "fifo").write_text("")
    (tree / "link").symlink_to(tree / "run")
    absent = [str(tree / "old.conf"), str(tree / "link"), str(tree / "run"), str(tree / "never")]
    result = run_module("paths", tmp_path, absent=absent)
    assert result["changed_paths"] == absent[:3]
    assert sorted(os.listdir(tree)) == []
    assert run_module("paths", tmp_path, absent=absent)["changed"] is False


def test_paths_check_mode_changes_nothing(tmp_path, tree):
    (tree / "old.conf").write_text("x")
    result = run_module(
        "paths",
        tmp_path,
        directories=[{"path": str(tree / "new")}],
        absent=[str(tree / "old.conf")],
        _ansible_check_mode=True,
    )
    assert result["changed"] is True
    assert sorted(os.listdir(tree)) == ["old.conf"]


def test_paths_refuses_a_file_where_a_folder_goes_and_relative_paths(tmp_path, tree):
    (tree / "file").write_text("x")
    assert run_module("paths", tmp_path, directories=[{"path": str(tree / "file")}])["failed"] is True
    relative = run_module("paths", tmp_path, absent=["relative/path"])
    assert relative["failed"] is True
    assert "absolute" in relative["msg"]
    assert (tree / "file").exists()


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


def test_files_writes_changed_files_with_their_attributes_then_changes_nothing(tmp_path, tree):
    (tree / "same.conf").write_text("same\n")
    os.chmod(tree / "same.conf", 0o600)
    files = [
        {"dest": str(tree / "new.conf"), "content": "new\n", "owner": USER, "group": GROUP, "mode": "0640"},
        {"dest": str(tree / "same.conf"), "content": "same\n", "mode": "0644"},
    ]
    first = run_module("files", tmp_path, files=files)
    assert first["changed_files"] == [str(tree / "new.conf"), str(tree / "same.conf")]
    assert (tree / "new.conf").read_text() == "new\n"
    assert mode(tree / "new.conf") == 0o640
    assert mode(tree / "same.conf") == 0o644
    assert sorted(os.listdir(tree)) == ["new.conf", "same.conf"]  # no temporary file left
    again = run_module("files", tmp_path, files=files)
    assert again["changed"] is False


def test_files_check_and_diff_modes(tmp_path, tree):
    (tree / "app.conf").write_text("old\n")
    result = run_module(
        "files",
        tmp_path,
        files=[{"dest": str(tree / "app.conf"), "content": "new\n"}],
        _ansible_check_mode=True,
        _ansible_diff=True,
    )
    assert result["changed_files"] == [str(tree / "app.conf")]
    assert result["diff"][0]["before"] == "old\n"
    assert result["diff"][0]["after"] == "new\n"
    assert (tree / "app.conf").read_text() == "old\n"


def test_files_refuses_bad_input_before_writing_anything(tmp_path, tree):
    (tree / "folder").mkdir()
    for bad in (
        {"dest": str(tree / "folder"), "content": "x"},
        {"dest": str(tree / "missing" / "app.conf"), "content": "x"},
        {"dest": str(tree / "app.conf"), "content": "x", "mode": "rw-r--r--"},
        {"dest": str(tree / "app.conf"), "content": "x", "owner": "no-such-user-here"},
    ):
        result = run_module("files", tmp_path, files=[{"dest": str(tree / "first.conf"), "content": "first"}, bad])
        assert result["failed"] is True, bad
    assert sorted(os.listdir(tree)) == ["folder"]


def test_paths_makes_and_repoints_links_and_refuses_to_replace_a_file(tmp_path, tree):
    (tree / "available").mkdir()
    (tree / "enabled").mkdir()
    (tree / "enabled" / "old.conf").symlink_to("/elsewhere")
    links = [
        {"path": str(tree / "enabled" / "site.conf"), "src": str(tree / "available" / "site.conf")},
        {"path": str(tree / "enabled" / "old.conf"), "src": str(tree / "available" / "old.conf")},
    ]
    first = run_module("paths", tmp_path, links=links)
    assert first["changed_paths"] == [link["path"] for link in links]
    assert os.readlink(tree / "enabled" / "old.conf") == str(tree / "available" / "old.conf")
    assert sorted(os.listdir(tree / "enabled")) == ["old.conf", "site.conf"]
    assert run_module("paths", tmp_path, links=links)["changed"] is False
    (tree / "enabled" / "file.conf").write_text("x")
    refused = run_module(
        "paths", tmp_path, absent=[str(tree / "available")], links=[{"path": str(tree / "enabled" / "file.conf"), "src": "/x"}]
    )
    assert refused["failed"] is True
    assert (tree / "available").is_dir()  # nothing removed before the refusal


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


def test_files_makes_folders_then_writes_files_into_them_then_links_them_in_one_call(tmp_path, tree):
    (tree / "old.conf").write_text("gone\n")
    arguments = {
        "absent": [str(tree / "old.conf")],
        "directories": [{"path": str(tree / "available"), "mode": "0755"}, {"path": str(tree / "enabled"), "mode": "0755"}],
        "files": [{"dest": str(tree / "available" / "site.conf"), "content": "server {}\n"}],
        "links": [{"path": str(tree / "enabled" / "site.conf"), "src": str(tree / "available" / "site.conf")}],
    }
    first = run_module("files", tmp_path, **arguments)
    assert first["changed_files"] == [str(tree / "available" / "site.conf")]
    assert first["changed_paths"] == [str(tree / name) for name in ("old.conf", "available", "enabled", "enabled/site.conf")]
    assert (tree / "enabled" / "site.conf").read_text() == "server {}\n"
    assert sorted(os.listdir(tree)) == ["available", "enabled"]
    again = run_module("files", tmp_path, **arguments)
    assert again["changed"] is False
    assert again["changed_paths"] == again["changed_files"] == []


def test_files_refuses_a_link_over_a_file_before_writing_anything(tmp_path, tree):
    (tree / "taken.conf").write_text("x")
    result = run_module(
        "files",
        tmp_path,
        directories=[{"path": str(tree / "new")}],
        files=[{"dest": str(tree / "new" / "app.conf"), "content": "x"}],
        links=[{"path": str(tree / "taken.conf"), "src": "/x"}],
    )
    assert result["failed"] is True
    assert sorted(os.listdir(tree)) == ["taken.conf"]


def test_contents_reads_files_and_names_the_missing_ones(tmp_path, tree):
    (tree / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    result = run_module("contents", tmp_path, paths=[str(tree / "ca.crt"), str(tree / "site.crt")])
    assert result["changed"] is False
    assert result["contents"] == {str(tree / "ca.crt"): "-----BEGIN CERTIFICATE-----\n", str(tree / "site.crt"): None}


def test_contents_refuses_folders_large_files_and_relative_paths(tmp_path, tree):
    (tree / "big").write_text("x" * 100)
    for arguments in ({"paths": [str(tree)]}, {"paths": [str(tree / "big")], "max_size": 99}, {"paths": ["ca.crt"]}):
        assert run_module("contents", tmp_path, **arguments)["failed"] is True, arguments


def test_account_of_an_existing_user_changes_nothing(tmp_path):
    user = pwd.getpwnam(USER)
    result = run_module("account", tmp_path, name=USER, group=GROUP, home=user.pw_dir, shell=user.pw_shell, _ansible_check_mode=True)
    assert result["changed"] is False
    assert (result["uid"], result["gid"]) == (user.pw_uid, grp.getgrnam(GROUP).gr_gid)


def test_account_check_mode_reports_what_it_would_make_or_correct(tmp_path):
    user = pwd.getpwnam(USER)
    missing = run_module(
        "account", tmp_path, name="djangoops-no-such-user", group="djangoops-no-such-group", home="/srv/x", _ansible_check_mode=True
    )
    assert missing["changes"] == ["group made", "user made"]
    with pytest.raises(KeyError):
        pwd.getpwnam("djangoops-no-such-user")
    other = run_module("account", tmp_path, name=USER, group=GROUP, home="/srv/elsewhere", shell=user.pw_shell, _ansible_check_mode=True)
    assert other["changes"] == ["home corrected"]
    assert pwd.getpwnam(USER).pw_dir == user.pw_dir


def test_units_wants_each_unit_with_its_suffix(tmp_path):
    result = run_module("units", tmp_path, names=["nginx"], state="started")
    assert result["failed"] is True
    assert "nginx" in result["msg"]
