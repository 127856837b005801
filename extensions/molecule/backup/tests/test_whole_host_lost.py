"""Disaster recovery, as an operator lives it: Debian 12's host (PostgreSQL, Redis, Celery) is
lost with everything on it, its local backups included. A bare container of the same name takes
its place, site.yml converges it (the stack and this app), and playbooks/restore.yml brings the
app back from the off-site repository: the same rows, the same media, and a session made before
the loss still logged in, because the app's generated SECRET_KEY came back with them.

This file runs last: it replaces the host the other files check."""

import json
import os
import re
import shlex
import subprocess
import time

import pytest
import testinfra

from site_client import APP, Client, parse_response, run_playbook

HOST = "backup-debian12"
testinfra_hosts = [f"ansible://{HOST}?ansible_inventory={os.environ.get('MOLECULE_INVENTORY_FILE', '')}"]
MANAGE = f"/srv/{APP}/bin/manage"
ADMIN_PASSWORD = "recovery-test-admin-password-0123456789"  # noqa: S105  the test's own account


def shell(host, code):
    result = host.run(f"{MANAGE} shell --no-imports -c {shlex.quote(code)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def state(host):
    """What the loss must not change: the rows, each media file's checksum."""
    rows = shell(host, "from notes.models import Note; print(Note.objects.count())")
    media = host.check_output(f"cd /srv/{APP}/shared/media && find . -type f -print0 | sort -z | xargs -0 -r sha256sum")
    return int(rows), media


def parse(result):
    assert result.rc == 0, result.stderr
    return parse_response(result.stdout)


def replace_with_a_bare_container(name):
    """The same container, created again from its image: the same name, network, capabilities
    and mounts, nothing of its disk."""
    spec = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout)[0]
    config, host_config = spec["Config"], spec["HostConfig"]
    argv = ["docker", "run", "--detach", "--name", name, "--hostname", config["Hostname"]]
    for key, value in (config.get("Labels") or {}).items():
        argv += ["--label", f"{key}={value}"]
    for variable in config.get("Env") or []:
        argv += ["--env", variable]
    for capability in host_config.get("CapAdd") or []:
        argv += ["--cap-add", capability]
    for option in host_config.get("SecurityOpt") or []:
        argv += ["--security-opt", option]
    argv += ["--cgroupns", host_config.get("CgroupnsMode") or "host"]
    for bind in host_config.get("Binds") or []:
        argv += ["--volume", bind]
    for path, options in (host_config.get("Tmpfs") or {}).items():
        argv += ["--tmpfs", f"{path}:{options}" if options else path]
    # The scenario's own network first: its DNS names the SFTP host.
    networks = sorted(spec["NetworkSettings"]["Networks"], key=lambda network: network == "bridge")
    argv += ["--network", networks[0]]
    argv += [config["Image"], *config["Cmd"]]
    subprocess.run(["docker", "rm", "--force", name], check=True, capture_output=True)
    subprocess.run(argv, check=True, capture_output=True)
    for network in networks[1:]:
        subprocess.run(["docker", "network", "connect", network, name], check=True, capture_output=True)
    for _attempt in range(60):
        probe = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True, check=False)
        if probe.stdout.strip() in ("running", "degraded"):
            return
        time.sleep(1)
    pytest.fail(f"systemd did not start in the new {name}")


def test_a_lost_host_comes_back_from_the_offsite_copy(host, figure):
    # Before: a logged-in admin session, rows, media, and the nightly backup with its off-site copy.
    shell(
        host,
        "from django.contrib.auth.models import User; "
        f"User.objects.filter(username='recovery').exists() or User.objects.create_superuser('recovery', 'r@example.test', {ADMIN_PASSWORD!r}); print(1)",
    )
    client = Client(host)
    _status, _headers, body = client.get("/admin/login/?next=/admin/")
    login = client.post_form(
        body, path="/admin/login/?next=/admin/", fields=[("username", "recovery"), ("password", ADMIN_PASSWORD), ("next", "/admin/")]
    )
    assert login.stdout.startswith("HTTP/2 302"), login.stdout[:300]
    session = re.search(r"\tsessionid\t(\S+)", host.file(client.jar).content_string).group(1)
    status, _headers, body = parse(client.curl("--include", "--cookie", f"sessionid={session}", path="/admin/"))
    assert status == 200
    assert "Site administration" in body
    shell(host, "from notes.models import Note; Note.objects.bulk_create([Note(text=f'kept {i}') for i in range(25)]); print(1)")
    rows, media = state(host)
    assert media.count("\n") >= 2  # the uploads of the earlier files' tests
    host.run_expect([0], f"djangoops-backup backup {APP}")
    snapshot = json.loads(host.file(f"/var/backups/djangoops/{APP}/status.json").content_string)["offsite"]["snapshot"]

    # The loss: the container and its disk, gone.
    started = time.monotonic()
    replace_with_a_bare_container(HOST)
    new = testinfra.get_host(f"docker://{HOST}")
    assert not new.file(f"/srv/{APP}").exists

    # The whole stack, with the app to recover (djangoops_only_apps: shelf, beside it, is another
    # file's subject, and its build alone takes minutes of the scenario's time).
    output, rc = run_playbook("site", f"djangoops_only_apps={APP}", limit=HOST, timeout=1500)
    assert rc == 0, output[-3000:]
    converged = time.monotonic() - started
    assert new.file(f"/etc/cron.d/djangoops-backup-{APP}").exists
    assert shell(new, "from notes.models import Note; print(Note.objects.count())") == "0"  # a new, empty site

    output, rc = run_playbook("restore", f"djangoops_only_apps={APP}", "backup_source=offsite", limit=HOST)
    assert rc == 0, output[-3000:]
    recovered = time.monotonic() - started
    assert re.search(rf"{APP} restored from \d{{8}}T\d{{6}}Z", output), output[-2000:]
    figure(
        f"recovery onto a bare host: {converged:.0f} s converge, {recovered - converged:.0f} s restore from off-site (snapshot {snapshot})"
    )

    assert state(new) == (rows, media)
    status, _headers, body = parse(Client(new).curl("--include", "--cookie", f"sessionid={session}", path="/admin/"))
    assert status == 200, body[:500]
    assert "Site administration" in body  # still logged in: the same SECRET_KEY signs the session
    assert Client(new).get("/healthz")[0] == 200
    assert new.service(f"{APP}-celery-worker").is_running
