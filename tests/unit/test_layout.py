"""The app's folders checked with one stat: the file module runs only for those stat shows
missing or different, read from stat's real output (modes like 2750 and 751)."""

import os
import subprocess

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from conftest import ROOT, load_yaml, role_vars


def template(variables, expression):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))


@pytest.mark.skipif(os.geteuid() != 0, reason="the folders belong to root")
def test_only_missing_or_different_folders_are_fixed(tmp_path):
    variables = role_vars("django_app")
    variables.update(
        django_app_name="shop",
        django_app_root=str(tmp_path / "srv" / "shop"),
        django_app_config_dir=str(tmp_path / "etc" / "djangoops" / "shop"),
        django_app_user="root",
        django_app_group="root",
        django_app_web_group="root",
        django_app_shared_paths=["exports", "media/reports"],
    )
    dirs = template(variables, "{{ __django_app_dirs }}")
    assert [d["path"] for d in dirs][-2:] == [f"{tmp_path}/srv/shop/shared/tree/exports", f"{tmp_path}/srv/shop/shared/tree/media/reports"]

    def stat_lines():
        result = subprocess.run(
            ["stat", "--format", "%n|%U|%G|%a|%F", *[d["path"] for d in dirs]], capture_output=True, text=True, check=False
        )
        return result.stdout.splitlines()

    variables["__django_app_dirs_now"] = {"stdout_lines": stat_lines()}
    assert len(template(variables, "{{ __django_app_dirs_to_fix }}")) == len(dirs)  # none exists yet
    for entry in dirs:
        os.makedirs(entry["path"], exist_ok=True)
        os.chmod(entry["path"], int(entry["mode"], 8))
    variables["__django_app_dirs_now"] = {"stdout_lines": stat_lines()}
    assert template(variables, "{{ __django_app_dirs_to_fix }}") == []
    assert any(d["mode"] == "2750" for d in dirs)  # the media folder's setgid bit is compared too
    changed, removed = dirs[1]["path"], dirs[-1]["path"]
    os.chmod(changed, 0o700)
    os.rmdir(removed)
    variables["__django_app_dirs_now"] = {"stdout_lines": stat_lines()}
    assert [d["path"] for d in template(variables, "{{ __django_app_dirs_to_fix }}")] == [changed, removed]


def layout_task(name, file="layout.yml"):
    return next(task for task in load_yaml(ROOT / "roles" / "django_app" / "tasks" / file) if task["name"] == name)


def test_the_folders_stat_finds_a_log_rotation_left_and_the_metrics_parent(tmp_path):
    """The role's own stat argv, run: the rotation of a log file no longer written is removed only
    when the stat found it, and the metrics' parent folder is made only when it did not."""
    variables = role_vars("django_app")
    variables.update(
        django_app_name="shop",
        django_app_root=str(tmp_path / "srv" / "shop"),
        django_app_config_dir=str(tmp_path / "etc" / "djangoops" / "shop"),
        django_app_log_file=False,
        django_app_metrics_port=9808,
        django_app_metrics_dir=str(tmp_path / "run" / "djangoops-metrics" / "shop"),
        __django_app_logrotate=trust_as_template(str(tmp_path / "logrotate.d" / "djangoops-shop")),
    )
    read = layout_task("Read the app's user, group and folders as they are")
    argv = template(variables, read["ansible.builtin.command"]["argv"])
    remove = layout_task("Remove the rotation of a log file no longer written")
    parent = layout_task("Create the parent of the request metrics' folder, open to every app", "metrics.yml")

    def run_stat():
        found = subprocess.run(argv, capture_output=True, text=True, check=False)
        variables["__django_app_dirs_now"] = {"stdout_lines": found.stdout.splitlines()}
        return template(variables, "{{ " + remove["when"] + " }}"), template(variables, "{{ " + parent["when"] + " }}")

    assert run_stat() == (False, True)
    (tmp_path / "logrotate.d").mkdir()
    (tmp_path / "logrotate.d" / "djangoops-shop").write_text("# left\n")
    (tmp_path / "run" / "djangoops-metrics").mkdir(parents=True)
    assert run_stat() == (True, False)
    variables["django_app_log_file"] = True
    assert run_stat()[0] is False


def test_the_same_read_tells_whether_the_user_and_group_need_the_modules(tmp_path):
    """getent's lines in the read's output: the group and user modules run only for a name getent
    does not know or a user whose group, home or shell differ (nobody and nogroup are on every
    Debian host, with the nologin shell)."""
    variables = role_vars("django_app")
    variables.update(
        django_app_name="shop",
        django_app_root="/nonexistent",
        django_app_config_dir=str(tmp_path / "etc" / "djangoops" / "shop"),
        django_app_user="nobody",
        django_app_group="nogroup",
    )
    read = layout_task("Read the app's user, group and folders as they are")
    group, user = layout_task("Create the app's group"), layout_task("Create the app's user")

    def modules_run():
        argv = template(variables, read["ansible.builtin.command"]["argv"])
        found = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert found.returncode in (0, 1), found.stderr
        variables["__django_app_dirs_now"] = {"stdout_lines": found.stdout.splitlines()}
        return template(variables, "{{ " + group["when"] + " }}"), template(variables, "{{ " + user["when"] + " }}")

    assert modules_run() == (False, False)
    variables["django_app_root"] = str(tmp_path / "srv" / "shop")
    assert modules_run() == (False, True)  # another home
    variables.update(django_app_root="/nonexistent", django_app_group="root")
    assert modules_run() == (False, True)  # another primary group
    variables.update(django_app_user="djangoops-no-such-user", django_app_group="djangoops-no-such-group")
    assert modules_run() == (True, True)
