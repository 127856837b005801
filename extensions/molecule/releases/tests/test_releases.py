"""Releases as a user lives them: deploy v2, roll back, deploy a broken v3, rotate the
SECRET_KEY, deploy from a wheel. Each step runs ansible-playbook against this instance, as a
user would, and then looks at what the site serves. The steps build on each other, in order."""

import json
import os
import re
import shutil
import subprocess
import sys

import testinfra

from site_client import APP, EXAMPLE_PROJECT, Client
from site_client import run_playbook as playbook

# releases-git serves a private repository (prepare.yml); the tests look at the app host.
testinfra_hosts = ["releases-debian12"]
GIT_HOST = "releases-git"

KEY_ONE = "releases-test-key-one-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH"
KEY_TWO = "releases-test-key-two-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH"
MANAGE = f"/srv/{APP}/bin/manage"


def heading(client):
    status, _headers, body = client.get("/")
    assert status == 200
    return re.search(r"<h1>(.*?)</h1>", body).group(1)


def live_release(host):
    return host.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def test_v1_is_live_and_passes_the_deployment_checks(client, host):
    assert heading(client) == "djangoops example"
    result = host.run(f"{MANAGE} check --deploy --fail-level WARNING")
    assert result.rc == 0, result.stdout + result.stderr


def test_the_log_file_is_written_and_rotated(client, host):
    assert client.get("/no-such-page/")[0] == 404  # django.request logs it as a warning
    log = host.file(f"/srv/{APP}/shared/log/django.log")
    assert log.exists
    assert "Not Found: /no-such-page/" in log.content_string
    result = host.run(f"logrotate --debug /etc/logrotate.d/djangoops-{APP}")
    assert result.rc == 0, result.stderr


def test_deploy_v2_goes_live_and_v1_becomes_previous(client, host, versions):
    v1 = live_release(host)
    output, rc = playbook("deploy", f"django_app_source_path={versions['v2']}")
    assert rc == 0, output[-3000:]
    assert heading(client) == "djangoops example v2"
    assert host.file(f"/srv/{APP}/previous").linked_to.endswith(f"/releases/{v1}")
    # The post-release command ran on the new release, before it went live.
    assert "clearsessions" in output
    # The same requirements: v2 runs in v1's virtualenv, and pip did not run.
    v2 = live_release(host)
    venv = host.file(f"/srv/{APP}/releases/{v2}/venv")
    assert venv.is_symlink
    assert venv.linked_to.startswith(f"/srv/{APP}/venvs/")
    assert host.file(f"/srv/{APP}/releases/{v1}/venv").linked_to == venv.linked_to
    pip_task = r"TASK \[djangoops\.stack\.django_app : Build the release's virtualenv\] \**\s*skipping"
    assert re.search(pip_task, output), output[-3000:]
    # The superuser was made by the first converge, which left the mark; no later run makes it again.
    mark = host.file(f"/etc/djangoops/{APP}/superuser-created-admin")
    assert mark.exists
    assert (mark.user, mark.mode) == ("root", 0o600)
    superuser_task = r"TASK \[djangoops\.stack\.django_app : Create the superuser\] \**\s*skipping"
    assert re.search(superuser_task, output), output[-3000:]
    # Nothing of the app server's configuration changed since the converge: the deploy left its
    # files alone and only reloaded it onto v2 (which serves, above).
    configure_task = r"TASK \[djangoops\.stack\.app_server : Configure the server and its units\] \**\s*skipping"
    assert re.search(configure_task, output), output[-3000:]


def test_a_deploy_leaves_the_host_configuration_alone_unless_it_changed(client, host, versions):
    """A code-only deploy does not make the app's host configuration again when nothing it is
    made from changed: a line added by hand to the env file and to the app server's
    configuration stays. With djangoops_deploy_verify, and with a changed setting, the deploy
    writes the files again."""
    env = f"/etc/djangoops/{APP}/env"
    server_config = f"/etc/djangoops/{APP}/{APP}.gunicorn.conf.py"
    stored = json.loads(host.file("/etc/ansible/facts.d/djangoops_config.fact").content_string)
    assert list(stored) == [APP]
    host.run_expect([0], f"for file in {env} {server_config}; do echo '# added by hand' >> $file; done")
    source = f"django_app_source_path={versions['v2']}"
    output, rc = playbook("deploy", source)
    assert rc == 0, output[-3000:]
    assert "# added by hand" in host.file(env).content_string
    assert "# added by hand" in host.file(server_config).content_string
    assert re.search(r"TASK \[djangoops\.stack\.django_app : Create the app's user and folders\] \**\s*skipping", output), output[-3000:]
    # The same variables passed the timers' checks in the run that stored the digest.
    timers_check = r"TASK \[Check the scheduled commands\] \**\s*skipping"
    assert re.search(timers_check, output), output[-3000:]
    output, rc = playbook("deploy", source, "djangoops_deploy_verify=true")
    assert rc == 0, output[-3000:]
    assert not re.search(timers_check, output), output[-3000:]
    assert "# added by hand" not in host.file(env).content_string
    assert "# added by hand" not in host.file(server_config).content_string
    # A changed setting of the app's: its environment gains a variable, and the deploy writes it.
    environment = host.ansible.get_variables().get("django_app_environment", {})
    output, rc = playbook("deploy", source, json.dumps({"django_app_environment": {**environment, "DJANGOOPS_CHECK": "on"}}))
    assert rc == 0, output[-3000:]
    assert "DJANGOOPS_CHECK" in host.file(env).content_string
    output, rc = playbook("deploy", source)
    assert rc == 0, output[-3000:]
    assert "DJANGOOPS_CHECK" not in host.file(env).content_string
    assert heading(client) == "djangoops example v2"


def test_site_puts_back_what_was_changed_by_hand_and_then_trusts_the_state_it_kept(client, host, versions):
    """site.yml keeps the state it left the app's host configuration in. With the same variables,
    a change by hand (a line in the env file, the server's configuration, the configuration
    folder's mode, the user's shell, a timer stopped and disabled) makes the next run apply the
    configuration again; the run after that finds it as kept and leaves it alone."""
    env = f"/etc/djangoops/{APP}/env"
    server_config = f"/etc/djangoops/{APP}/{APP}.gunicorn.conf.py"
    timer = f"{APP}-timer-clearsessions.timer"
    source = f"django_app_source_path={versions['v2']}"
    output, rc = playbook("site", source)
    assert rc == 0, output[-3000:]
    stored = json.loads(host.file("/etc/ansible/facts.d/djangoops_config.fact").content_string)
    assert stored[APP]["state"] == json.loads(host.check_output("/etc/ansible/facts.d/djangoops_state.fact"))["apps"][APP]
    host.run_expect([0], f"for file in {env} {server_config}; do echo '# added by hand' >> $file; done")
    host.run_expect([0], f"chmod 0755 /etc/djangoops/{APP} && usermod --shell /bin/bash {APP} && systemctl disable --now {timer}")
    output, rc = playbook("site", source)
    assert rc == 0, output[-3000:]
    assert "# added by hand" not in host.file(env).content_string
    assert "# added by hand" not in host.file(server_config).content_string
    assert host.file(f"/etc/djangoops/{APP}").mode == 0o750
    assert host.user(APP).shell == "/usr/sbin/nologin"
    assert host.service(timer).is_running
    assert host.service(timer).is_enabled
    output, rc = playbook("site", source)
    assert rc == 0, output[-3000:]
    assert not re.search(r"changed=[1-9]", output), output[-3000:]
    assert re.search(r"TASK \[djangoops\.stack\.django_app : Create the app's user and folders\] \**\s*skipping", output), output[-3000:]
    assert heading(client) == "djangoops example v2"


def test_rollback_puts_v1_back_and_a_second_rollback_v2(client, host):
    v2 = live_release(host)
    output, rc = playbook("rollback")
    assert rc == 0, output[-3000:]
    assert heading(client) == "djangoops example"
    assert host.file(f"/srv/{APP}/previous").linked_to.endswith(f"/releases/{v2}")
    output, rc = playbook("rollback")
    assert rc == 0, output[-3000:]
    assert heading(client) == "djangoops example v2"
    assert live_release(host) == v2


def test_a_broken_v3_never_goes_live(client, host, versions):
    v2 = live_release(host)
    output, rc = playbook("deploy", f"django_app_source_path={versions['v3']}")
    assert rc != 0
    # The play says which step failed, and why: migrate's plan runs Django's checks, which import
    # the URLconf and with it the broken view module.
    assert "did not go live" in output
    assert 'the step "Gate: plan the database migrations" failed' in output
    assert "ModuleNotFoundError: No module named" in output
    assert "module_that_does_not_exist" in output
    assert "The previous release, if any, is still the one serving." in output
    assert live_release(host) == v2
    assert heading(client) == "djangoops example v2"


def test_a_warning_the_project_chose_stops_the_gate_until_named(client, host, versions):
    v2 = live_release(host)
    source = f"django_app_source_path={versions['v4']}"
    output, rc = playbook("deploy", source)
    assert rc != 0
    assert 'the step "Gate: collect the static files and run Django\'s deployment checks" failed' in output
    # The failure names the check; the HSTS ones the deployment leaves off are not among them.
    found = re.search(r"\((security\.W01[345])\) SESSION_COOKIE_HTTPONLY", output)
    assert found, output[-3000:]
    assert "(security.W005)" not in output
    assert live_release(host) == v2
    output, rc = playbook("deploy", source, json.dumps({"django_app_check_ignore": [found.group(1)]}))
    assert rc == 0, output[-3000:]
    assert live_release(host) != v2
    assert heading(client) == "djangoops example v2"
    assert "SESSION_COOKIE_HTTPONLY" not in host.check_output(f"{MANAGE} check --deploy --fail-level WARNING 2>&1")


def login(client, host):
    password = host.check_output(f"cat /etc/djangoops/{APP}/superuser-password").strip()
    _status, _headers, page = client.get("/admin/login/")
    result = client.post_form(page, path="/admin/login/", fields=[("username", "admin"), ("password", password), ("next", "/admin/")])
    assert "location: /admin/" in result.stdout.lower(), result.stdout[:500]


def logged_in(client):
    status, headers, _body = client.get("/admin/")
    return status == 200 and "location" not in headers


def test_secret_key_rotation_keeps_sessions_while_the_old_key_is_a_fallback(host, versions):
    # Two sessions made under the first key: one used while that key is a fallback (Django then
    # moves it to the new key), one left alone until the fallback is gone.
    used, idle = Client(host), Client(host)
    for client in (used, idle):
        login(client, host)
        assert logged_in(client)
    source = f"django_app_source_path={versions['v2']}"
    output, rc = playbook(
        "deploy", source, f"django_app_secret_key={KEY_TWO}", f'{{"django_app_secret_key_fallbacks": ["{KEY_ONE}"]}}', verbose=True
    )
    assert rc == 0, output[-3000:]
    assert KEY_ONE not in output
    assert KEY_TWO not in output
    assert host.file(f"/etc/djangoops/{APP}/env").contains(KEY_TWO)
    assert logged_in(used), "a session signed with the old key must stay valid while it is a fallback"
    output, rc = playbook("deploy", source, f"django_app_secret_key={KEY_TWO}", verbose=True)
    assert rc == 0, output[-3000:]
    assert KEY_ONE not in output
    assert KEY_TWO not in output
    assert not logged_in(idle), "without the fallback, a session of the old key must be gone"
    assert logged_in(used), "a session used during the fallback window was moved to the new key"
    for client in (used, idle):
        host.run(f"rm -f {client.jar}")


def test_secrets_stay_out_of_units_processes_and_logs(host):
    env = host.file(f"/etc/djangoops/{APP}/env")
    assert (env.user, env.group, env.mode) == ("root", APP, 0o640)
    units = host.check_output(f"cat /etc/systemd/system/{APP}.service /etc/systemd/system/{APP}.socket")
    processes = host.check_output("ps -eo args")
    journal = host.check_output("journalctl --no-pager -o cat")
    for key in (KEY_ONE, KEY_TWO):
        assert key not in units
        assert key not in processes
        assert key not in journal


def test_a_wheel_deploys_and_rolls_back(client, host, tmp_path):
    source = tmp_path / "source"  # a copy: the build writes into the tree it builds
    shutil.copytree(EXAMPLE_PROJECT, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("*.whl"))
    output, rc = playbook("deploy", "django_app_source=wheel", f"django_app_wheel_path={wheel}")
    assert rc == 0, output[-3000:]
    release = live_release(host)
    assert heading(client) == "djangoops example"
    _status, _headers, body = client.get("/healthz")
    assert release in body
    settings = host.run(f"ls /srv/{APP}/releases/{release}/venv/lib/python3*/site-packages/exampleproject/settings_production.py")
    assert settings.rc == 0
    output, rc = playbook("rollback")
    assert rc == 0, output[-3000:]
    assert heading(client) == "djangoops example v2"


def test_a_package_that_needs_a_compiler_fails_once_with_a_hint(client, host):
    """uWSGI is source only on PyPI, and the host has no compiler: pip's end and the cause, once."""
    live = live_release(host)
    output, rc = playbook("deploy", '{"django_app_extra_packages": ["uwsgi==2.0.30"]}')
    assert rc != 0
    # One message (ansible-core prints a failed task's message twice: its error line and the
    # result), not repeated by the rescue or the roll's stop, nor by retries.
    shown = output.count("pip could not install")
    assert 1 <= shown <= 2, output[-3000:]
    assert output.count("Set python_build_tools: true") == shown, output[-3000:]
    assert "Collecting uwsgi" not in output  # the beginning of pip's output is left out
    assert live_release(host) == live
    assert heading(client) == "djangoops example v2"


def test_a_private_repository_deploys_with_its_deploy_key_and_pinned_host_key(client, host, tmp_path):
    server = testinfra.get_host(f"ansible://{GIT_HOST}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}")
    key = server.file("/root/deploy_key").content_string
    host_key = " ".join(server.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[:2])
    other_key = " ".join(server.file("/root/deploy_key.pub").content_string.split()[:2])
    commit = server.check_output("git --git-dir=/srv/git/example.git rev-parse v1^{commit}")
    settings = {
        "django_app_source": "git",
        "django_app_git_repo": f"ssh://git@{GIT_HOST}/srv/git/example.git",
        "django_app_git_version": "v1",
        "django_app_git_key": key,
    }
    live = live_release(host)

    # A host key other than the one pinned: the fetch refuses the server, nothing goes live.
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**settings, "django_app_git_host_keys": [f"{GIT_HOST} {other_key}"]}))
    output, rc = playbook("deploy", f"@{wrong}")
    assert rc != 0
    assert "Host key verification failed" in output or "REMOTE HOST IDENTIFICATION HAS CHANGED" in output, output[-3000:]
    assert live_release(host) == live
    assert heading(client) == "djangoops example v2"

    pinned = tmp_path / "pinned.json"
    pinned.write_text(json.dumps({**settings, "django_app_git_host_keys": [f"{GIT_HOST} {host_key}"]}))
    output, rc = playbook("deploy", f"@{pinned}")
    assert rc == 0, output[-3000:]
    assert heading(client) == "djangoops example"
    assert live_release(host) != live
    assert host.run(f"git --git-dir=/srv/{APP}/repo cat-file -e {commit}").rc == 0
    deploy_key = host.file(f"/etc/djangoops/{APP}/git_deploy_key")
    assert (deploy_key.user, deploy_key.mode) == ("root", 0o600)
    assert key.splitlines()[1] not in output  # the key's body never shows in the run's output
    output, rc = playbook("rollback")
    assert rc == 0, output[-3000:]
    assert heading(client) == "djangoops example v2"


def test_unfinished_and_old_releases_are_removed_but_live_and_previous_kept(host):
    releases = host.check_output(f"ls /srv/{APP}/releases").split()
    assert live_release(host) in releases
    assert host.file(f"/srv/{APP}/previous").linked_to.rsplit("/", 1)[-1] in releases
    # The newest django_app_keep_releases (3), and the one a rollback goes back to beside them
    # when it is older (the git deploy's previous was v2, live again after its rollback).
    assert len(releases) <= 4
    for release in releases:  # the broken v3 is gone
        assert host.file(f"/srv/{APP}/releases/{release}/.djangoops-release-complete").exists
    # Every shared virtualenv left is one a kept release uses.
    used = {host.file(f"/srv/{APP}/releases/{release}/venv").linked_to for release in releases}
    venvs = host.check_output(f"ls /srv/{APP}/venvs").split()
    assert venvs
    assert {f"/srv/{APP}/venvs/{venv}" for venv in venvs} <= used
