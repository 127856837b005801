"""Data services and backups as an operator lives them: Celery runs a task and a periodic task;
the backup cron job's own command backs up PostgreSQL (Debian 12) and SQLite (Debian 13) with the
media; a dropped database and deleted media come back with playbooks/restore.yml; a backup
taken while rows are written is consistent; retention keeps exactly the configured set; a
backup that cannot reach its database fails loudly."""

import datetime
import json
import os
import re
import shlex
import time
import uuid

import pytest

from site_client import APP, Client
from site_client import run_playbook as playbook

MANAGE = f"/srv/{APP}/bin/manage"
BACKUPS = f"/var/backups/djangoops/{APP}"
PG_HOST = "backup-debian12"
SQLITE_HOST = "backup-debian13"
# The site's hosts: the SFTP host is the tests' tool, checked through the backups only.
testinfra_hosts = [f"ansible://djangoops?ansible_inventory={os.environ.get('MOLECULE_INVENTORY_FILE', '')}"]


def on(host, name):
    if host.backend.host != name:
        pytest.skip(f"checked on {name}")


def shell(host, code):
    """Run Python in the app's Django shell, as the app; the last line printed."""
    result = host.run(f"{MANAGE} shell --no-imports -c {shlex.quote(code)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def cron_command(host):
    """The command the cron job runs, read from its cron.d entry."""
    entry = host.file(f"/etc/cron.d/djangoops-backup-{APP}").content_string
    line = next(line for line in entry.splitlines() if re.match(r"^[0-9*]", line))
    return line.split(" root ", 1)[1]


def note_count(host):
    return int(shell(host, "from notes.models import Note; print(Note.objects.count())"))


def media_checksums(host):
    out = host.check_output(f"cd /srv/{APP}/shared/media && find . -type f -print0 | sort -z | xargs -0 -r sha256sum")
    return out


def upload(client, host, count):
    _status, _headers, body = client.get("/")
    folder = host.check_output("mktemp -d")
    for number in range(count):
        name = f"{folder}/backup-{uuid.uuid4().hex[:8]}-{number}.txt"
        host.run_expect([0], f"head -c 2048 /dev/urandom | base64 > {name}")
        result = client.post_form(body, path="/upload/", files=[("file", name)])
        assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]


def test_services_run_with_their_passwords(host):
    on(host, PG_HOST)
    for unit in ("postgresql@15-main", "redis-server", f"{APP}-celery-worker", f"{APP}-celery-beat", "cron"):
        assert host.service(unit).is_running, unit
    # Redis refuses a client without the app's user; PostgreSQL a role without its password.
    anonymous = host.run("redis-cli -h 127.0.0.1 ping")
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    refused = host.run("PGPASSWORD=wrong psql -h 127.0.0.1 -U example -d example -c 'select 1'")
    assert refused.rc != 0
    assert "password authentication failed" in refused.stderr
    # The app's cache and sessions are in Redis, its rows in PostgreSQL.
    assert shell(host, "from django.db import connection; print(connection.vendor)") == "postgresql"
    assert shell(host, "from django.core.cache import cache; cache.set('probe', 42); print(cache.get('probe'))") == "42"


@pytest.mark.parametrize(("unit", "ceiling"), [("postgresql@15-main", 3.0), ("redis-server", 3.0), ("nginx", 3.0)])
def test_data_services_run_in_a_sandbox(host, unit, ceiling, figure):
    """systemd's rating of the units the collection runs but did not write: PostgreSQL's and
    nginx's get the roles' drop-ins (9.6 without), Redis keeps Debian's own sandbox."""
    on(host, PG_HOST)
    output = host.check_output(f"systemd-analyze security --no-pager {unit}.service")
    score = float(re.search(rf"Overall exposure level for {re.escape(unit)}\.service: ([0-9.]+)", output).group(1))
    figure(f"systemd-analyze security {unit}.service: {score}")
    assert score <= ceiling, output


def test_rabbitmq_refuses_guest_and_keeps_each_app_to_its_virtual_host(host):
    on(host, SQLITE_HOST)
    assert host.service("rabbitmq-server").is_running
    users = host.check_output("rabbitmqctl --quiet list_users")
    assert "guest" not in users
    assert re.search(rf"^{APP}\s", users, re.MULTILINE)
    assert host.check_output(f"rabbitmqctl --quiet --no-table-headers list_user_permissions {APP}").split() == [APP, ".*", ".*", ".*"]
    # From the app itself, as a client would: guest is refused, the app's URL connects.
    probe = (
        "import os, kombu\n"
        "try:\n    kombu.Connection('amqp://guest:guest@127.0.0.1:5672//').connect(); print('guest connected')\n"
        "except Exception as error:\n    print('guest refused', type(error).__name__)\n"
        "c = kombu.Connection(os.environ['CELERY_BROKER_URL']); c.connect(); print('app connected', c.transport.driver_type)"
    )
    out = host.check_output(f"{MANAGE} shell --no-imports -c {shlex.quote(probe)}")
    assert "guest refused AccessRefused" in out, out
    assert "app connected amqp" in out, out
    # AMQP on the addresses given only; the node's distribution port and Erlang's port mapper on loopback.
    listening = host.check_output("ss -Hltn")
    for port in (5672, 25672, 4369):
        addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")}
        assert addresses, (port, listening)
        assert not addresses & {"0.0.0.0", "*", "[::]"}, (port, addresses)  # noqa: S104  the wildcards it must not bind


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_celery_task_runs_and_writes_its_row(host, broker):
    on(host, PG_HOST if broker == "redis" else SQLITE_HOST)
    text = f"celery-{uuid.uuid4().hex[:8]}"
    shell(host, f"from notes.tasks import add_note; print(add_note.delay({text!r}).id)")
    code = f"from notes.models import Note; print(Note.objects.filter(text={text!r}).count())"
    for _attempt in range(30):
        if shell(host, code) == "1":
            break
        time.sleep(1)
    assert shell(host, code) == "1"


def test_beat_runs_the_periodic_task(host):
    on(host, PG_HOST)
    code = "from notes.models import Heartbeat; h = Heartbeat.objects.filter(pk=1).first(); print(h.beats if h else 0)"
    first = int(shell(host, code))
    for _attempt in range(30):  # every 5 s in this scenario
        if int(shell(host, code)) > first:
            break
        time.sleep(1)
    assert int(shell(host, code)) > first


def test_cron_runs_the_backup_command(host):
    assert host.service("cron").is_running
    assert cron_command(host) == f"/usr/local/sbin/djangoops-backup backup {APP}"
    folder = host.file(BACKUPS)
    assert folder.user == "root"
    assert folder.mode == 0o700


def test_a_postgresql_backup_restores_rows_and_media(client, host):
    on(host, PG_HOST)
    upload(client, host, 3)
    shell(host, "from notes.models import Note; Note.objects.bulk_create([Note(text=f'row {i}') for i in range(200)]); print(1)")
    rows, media = note_count(host), media_checksums(host)
    assert rows >= 200
    assert media.count("\n") >= 2
    host.run_expect([0], cron_command(host))
    status = json.loads(host.file(f"{BACKUPS}/status.json").content_string)
    assert status["ok"]
    assert status["size_bytes"] > 0
    assert status["backup"]
    backup = f"{BACKUPS}/{status['backup']}"
    for name in ("database.dump", "globals.sql", "media.tar.gz", "media.sha256", "secret_key", "MANIFEST.sha256"):
        assert host.file(f"{backup}/{name}").exists, name
    # The copy off the host: a snapshot in the SFTP host's repository, named in the status.
    assert status["local"] == {"ok": True, "backup": status["backup"]}
    assert status["offsite"]["ok"], status
    assert status["offsite"]["repository"] == "sftp:restic@backup-offsite:/srv/restic/example"
    snapshots = host.check_output(f"djangoops-backup snapshots {APP}").splitlines()
    assert snapshots[-1].split()[0] == status["offsite"]["snapshot"]
    assert snapshots[-1].split()[-1] == status["backup"]
    # Disaster: the database dropped (the app stopped for it), the media deleted.
    host.run_expect([0], f"systemctl stop {APP}.socket {APP}.service {APP}-celery-worker {APP}-celery-beat")
    host.run_expect([0], "runuser -u postgres -- dropdb example")
    host.run_expect([0], f"find /srv/{APP}/shared/media -type f -delete")
    host.run_expect([0], f"systemctl start {APP}.socket {APP}.service {APP}-celery-worker {APP}-celery-beat")
    # The first request waits for the restarted server to import Django: on a loaded machine that
    # can outlast curl's 10 s, so a timeout here means "not yet".
    assert answered(client, "/healthz") == 503
    output, rc = playbook("restore", "djangoops_only_apps=example", limit=PG_HOST)
    assert rc == 0, output[-3000:]
    assert f"restored from {status['backup']}" in output
    assert note_count(host) == rows
    assert media_checksums(host) == media
    assert client.get("/healthz")[0] == 200
    assert host.service(f"{APP}-celery-worker").is_running


def answered(client, path, seconds=60):
    """The status of the first request to path that gets an answer within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        result = client.curl("--output", "/dev/null", "--write-out", "%{http_code}", path=path)
        if result.rc == 0 or time.monotonic() > deadline:
            assert result.rc == 0, result.stderr
            return int(result.stdout)
        time.sleep(0.5)


def test_a_backup_that_cannot_reach_its_database_fails_and_says_so(host):
    on(host, PG_HOST)
    before = json.loads(host.file(f"{BACKUPS}/status.json").content_string)
    host.run_expect([0], "systemctl stop postgresql@15-main")
    try:
        result = host.run(cron_command(host))
    finally:
        host.run_expect([0], "systemctl start postgresql@15-main")
    assert result.rc != 0
    status = json.loads(host.file(f"{BACKUPS}/status.json").content_string)
    assert status["ok"] is False
    assert "pg_dump failed" in status["error"]
    assert status["last_success"] == before["last_success"]
    assert "FAILED: pg_dump failed" in host.file(f"/var/log/djangoops-backup-{APP}.log").content_string
    assert "FAILED" in host.check_output("journalctl -t djangoops-backup --no-pager -n 5")
    # No unfinished backup is left behind.
    assert host.check_output(f"find {BACKUPS} -mindepth 1 -maxdepth 1 -type d ! -exec test -e {{}}/MANIFEST.sha256 \\; -print") == ""


def test_a_wrong_repository_password_fails_the_job_with_a_clear_status(host):
    on(host, PG_HOST)
    password = f"/etc/djangoops/{APP}/restic.password"
    before = host.check_output(f"djangoops-backup snapshots {APP}")
    host.run_expect([0], f"cp -p {password} {password}.saved && echo not-the-password-0123456789 > {password}")
    try:
        result = host.run(cron_command(host))
    finally:
        host.run_expect([0], f"mv {password}.saved {password}")
    assert result.rc == 1
    status = json.loads(host.file(f"{BACKUPS}/status.json").content_string)
    assert status["ok"] is False
    assert status["local"]["ok"] is True  # the local backup is complete, and kept
    assert host.file(f"{BACKUPS}/{status['local']['backup']}/MANIFEST.sha256").exists
    assert status["offsite"]["ok"] is False
    assert "wrong password" in status["offsite"]["error"]
    assert "FAILED: off-site copy: restic backup failed" in host.file(f"/var/log/djangoops-backup-{APP}.log").content_string
    metrics = host.file(f"/var/lib/prometheus/node-exporter/djangoops_backup_{APP}.prom")
    if metrics.exists:  # where the node exporter's textfile collector runs
        assert f'djangoops_backup_offsite_success{{app="{APP}"}} 0' in metrics.content_string
    assert host.check_output(f"djangoops-backup snapshots {APP}") == before  # nothing was written off-site


def test_offsite_retention_keeps_exactly_the_snapshots_the_policy_names(host):
    """Snapshots of the last five weeks, one a day, made as the nightly job would have: the
    prune job's command (cron) leaves the newest of today and of the two days before
    (keep_daily 3) and this week's and last week's newest (keep_weekly 2)."""
    on(host, PG_HOST)
    today = datetime.datetime.now(datetime.UTC).replace(hour=3, minute=30, second=0, microsecond=0)
    days = [today - datetime.timedelta(days=n) for n in range(1, 15)]
    made = (
        "import importlib.machinery, importlib.util, sys\n"
        "loader = importlib.machinery.SourceFileLoader('b', '/usr/local/sbin/djangoops-backup')\n"
        "b = importlib.util.module_from_spec(importlib.util.spec_from_loader('b', loader)); loader.exec_module(b)\n"
        "config = b.load(sys.argv[1])\n"
        "for when in sys.argv[2:]:\n"
        "    b.restic(config, 'backup', '--host', config['app'], '--time', when.replace('T', ' '), '/etc/hostname')\n"
    )
    stamps = " ".join(day.strftime("%Y-%m-%dT%H:%M:%S") for day in days)
    host.run_expect([0], f"python3 -c {shlex.quote(made)} {APP} {stamps}")
    newest = host.check_output(f"djangoops-backup snapshots {APP}").splitlines()[-1].split()[0]
    entry = host.file(f"/etc/cron.d/djangoops-backup-{APP}").content_string
    prune = next(line for line in entry.splitlines() if line.endswith(f"prune {APP}")).split(" root ", 1)[1]
    host.run_expect([0], prune)
    rows = [line.split() for line in host.check_output(f"djangoops-backup snapshots {APP}").splitlines()]
    kept_days = sorted(row[1][:10] for row in rows)
    last_week = next(day for day in days if day.isocalendar()[:2] < today.isocalendar()[:2])
    expected = sorted({today.date().isoformat(), days[0].date().isoformat(), days[1].date().isoformat(), last_week.date().isoformat()})
    assert kept_days == expected, rows
    assert newest in [row[0] for row in rows]
    status = json.loads(host.file(f"{BACKUPS}/status.json").content_string)
    assert status["offsite_prune"]["ok"] is True
    check = next(line for line in entry.splitlines() if line.endswith(f"check {APP}")).split(" root ", 1)[1]
    host.run_expect([0], check)
    assert json.loads(host.file(f"{BACKUPS}/status.json").content_string)["offsite_check"]["ok"] is True


def test_sqlite_backups_taken_while_rows_are_written_are_consistent(host):
    on(host, SQLITE_HOST)
    writer = (
        "import time\nfrom notes.models import Note\nend = time.monotonic() + 20\n"
        "while time.monotonic() < end:\n    Note.objects.bulk_create([Note(text='w') for _ in range(20)])\nprint('done')"
    )
    log = host.check_output("mktemp")
    host.run_expect([0], f"nohup {MANAGE} shell --no-imports -c {shlex.quote(writer)} >{log} 2>&1 &")
    time.sleep(3)
    counts = []
    for _attempt in range(3):
        host.run_expect([0], cron_command(host))
        name = json.loads(host.file(f"{BACKUPS}/status.json").content_string)["backup"]
        check = (
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
            "print(db.execute('PRAGMA integrity_check').fetchone()[0], db.execute('SELECT count(*) FROM notes_note').fetchone()[0])"
        )
        out = host.check_output(f"python3 -c {shlex.quote(check)} {BACKUPS}/{name}/database.sqlite3")
        verdict, count = out.split()
        assert verdict == "ok"
        counts.append(int(count))
        time.sleep(2)
    assert counts == sorted(counts), counts
    assert counts[-1] > counts[0], counts  # the writer was writing
    for _attempt in range(30):
        if "done" in host.file(log).content_string:
            break
        time.sleep(1)


def test_a_sqlite_backup_restores(client, host):
    on(host, SQLITE_HOST)
    upload(client, host, 2)
    rows, media = note_count(host), media_checksums(host)
    host.run_expect([0], cron_command(host))
    shell(host, "from notes.models import Note; Note.objects.all().delete(); print(1)")
    host.run_expect([0], f"find /srv/{APP}/shared/media -type f -delete")
    output, rc = playbook("restore", "djangoops_only_apps=example", limit=SQLITE_HOST)
    assert rc == 0, output[-3000:]
    assert note_count(host) == rows
    assert media_checksums(host) == media
    assert client.get("/healthz")[0] == 200


def test_retention_keeps_exactly_the_configured_backups(host):
    on(host, SQLITE_HOST)
    # Finished backups of the last five weeks, one a day, as cron would have left them.
    today = datetime.datetime.now(datetime.UTC).replace(hour=3, minute=30, second=0, microsecond=0)
    stamps = [(today - datetime.timedelta(days=days)).strftime("%Y%m%dT%H%M%SZ") for days in range(1, 36)]
    for stamp in stamps:
        host.run_expect([0], f"mkdir -p {BACKUPS}/{stamp} && touch {BACKUPS}/{stamp}/MANIFEST.sha256")
    host.run_expect([0], f"mkdir -p {BACKUPS}/19990101T000000Z")  # an unfinished one: no manifest
    host.run_expect([0], cron_command(host))
    newest = json.loads(host.file(f"{BACKUPS}/status.json").content_string)["backup"]
    kept = sorted(host.check_output(f"ls {BACKUPS} | grep -v status").split())
    # keep_daily 3: the newest of today (the run just now; today's earlier ones go) and of the two
    # days before; keep_weekly 2: this ISO week's newest (today's) and last week's newest.
    last_week = next(
        stamp for stamp in stamps if datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").isocalendar()[:2] < today.isocalendar()[:2]
    )
    expected = sorted({newest, stamps[0], stamps[1], last_week})
    assert kept == expected, (kept, expected)


def test_pages_carry_the_csp_django_sends_only_where_one_is_set(host):
    _status, headers, _body = Client(host).get("/")
    if host.backend.host == SQLITE_HOST:
        assert headers["content-security-policy-report-only"] == ["default-src 'self'; img-src 'self' data:"]
    else:
        assert "content-security-policy-report-only" not in headers
    assert "content-security-policy" not in headers


def test_clearsessions_runs_on_its_timer_as_the_app_and_deletes_expired_sessions(host, figure):
    timer = f"{APP}-timer-clearsessions"
    output = host.check_output(f"systemd-analyze security --no-pager {timer}.service")
    score = float(re.search(rf"Overall exposure level for {timer}\.service: ([0-9.]+)", output).group(1))
    figure(f"systemd-analyze security {timer}.service: {score}")
    assert score <= 3.0, output
    assert host.service(f"{timer}.timer").is_enabled
    assert host.service(f"{timer}.timer").is_running
    assert host.check_output(f"systemctl show --property NextElapseUSecRealtime --value {timer}.timer").strip()
    expired = (
        "from datetime import timedelta; from django.utils import timezone;"
        " from django.contrib.sessions.models import Session;"
        " Session.objects.create(session_key='djangoops-expired-session-key-000', session_data='',"
        " expire_date=timezone.now() - timedelta(days=1)); print(Session.objects.filter(session_key__startswith='djangoops-').count())"
    )
    assert shell(host, expired) == "1"
    host.run_expect([0], f"systemctl start {timer}.service")
    assert host.check_output(f"systemctl show --property Result --value {timer}.service").strip() == "success"
    assert host.check_output(f"systemctl show --property User --value {timer}.service").strip() == APP
    count = (
        "from django.contrib.sessions.models import Session; print(Session.objects.filter(session_key__startswith='djangoops-').count())"
    )
    assert shell(host, count) == "0"


def test_a_scheduled_command_that_fails_shows_and_an_unlisted_one_is_removed(host):
    on(host, SQLITE_HOST)
    unit = f"{APP}-timer-broken"
    listed = json.dumps({"app_timers_commands": [{"name": "broken", "command": "no_such_command", "on_calendar": "*:0/30"}]})
    # The example app's deploy only: the command is its own, and shelf beside it needs no run.
    output, rc = playbook("deploy", listed, f"djangoops_only_apps={APP}", limit=SQLITE_HOST)
    assert rc == 0, output[-3000:]
    assert host.service(f"{unit}.timer").is_running
    assert host.run(f"systemctl start {unit}.service").rc != 0
    assert host.check_output(f"systemctl is-failed {unit}.service || true").strip() == "failed"
    assert "Unknown command: 'no_such_command'" in host.check_output(f"journalctl --no-pager -o cat -u {unit}.service")
    output, rc = playbook("deploy", f"djangoops_only_apps={APP}", limit=SQLITE_HOST)
    assert rc == 0, output[-3000:]
    assert not host.file(f"/etc/systemd/system/{unit}.timer").exists
    assert not host.file(f"/etc/systemd/system/{unit}.service").exists
    assert host.service(f"{APP}-timer-clearsessions.timer").is_running


def test_units_stopped_and_disabled_by_hand_run_again_after_a_verified_deploy(client, host):
    """Each role reads its units' states in one command and starts only what is not up: the app's
    socket and service, its timer and cron, stopped and disabled, all run and start at boot again."""
    on(host, SQLITE_HOST)
    units = [f"{APP}.socket", f"{APP}.service", f"{APP}-timer-clearsessions.timer", "cron.service"]
    host.run_expect([0], f"systemctl disable --now {' '.join(units)}")
    for unit in units:
        assert not host.service(unit).is_running, unit
        assert not host.service(unit).is_enabled, unit
    output, rc = playbook("deploy", "djangoops_deploy_verify=true", f"djangoops_only_apps={APP}", limit=SQLITE_HOST)
    assert rc == 0, output[-3000:]
    for unit in units:
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit
    assert client.get("/")[0] == 200
