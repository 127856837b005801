"""The multi-host topology as its users see it: one load balancer in front of two app hosts and
a database host, all firewalled. Pages, static files and media through the load balancer; each
port open only to the hosts that need it; then deploys, reloads and restarts rolled across the
app hosts while shared/loadgen.py drives the load balancer's published port, with not one
failed request allowed. The rolling steps build on each other, in order."""

import functools
import json
import os
import re
import secrets
import subprocess
import time

import pytest
import testinfra

import site_client
from site_client import APP, SITE, Client, recap, run_playbook

LB, LB2, APP1, APP2, DB = "cluster-lb", "cluster-lb2", "cluster-app1", "cluster-app2", "cluster-db"
POOL = f"/etc/nginx/djangoops-pools/{APP}_app.conf"
# Every check runs once, on the load balancer's entry; the other hosts are reached by name.
testinfra_hosts = [f"ansible://{LB}?ansible_inventory={os.environ.get('MOLECULE_INVENTORY_FILE', '')}"]
# The share of the load's rate that a rolling deploy must keep up, none of its requests failed: a
# stall of the site would send fewer.
DEPLOY_LOAD_SHARE = 0.8


def on(name):
    return testinfra.get_host(f"docker://{name}")


def address(name):
    return on(name).check_output("hostname -I").split()[0]


def lb_port():
    out = subprocess.run(["docker", "port", LB, "443/tcp"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0].rsplit(":", 1)[1])


# A rolling deploy of four hosts under load takes longer than the other scenarios' runs.
playbook = functools.partial(run_playbook, timeout=1200)


def under_load(action, tmp_path, clients=8):
    """Run action() while loadgen drives the load balancer; loadgen's figures and action's result."""
    return site_client.under_load(lb_port(), action, tmp_path, clients=clients)


def healthz(name):
    """/healthz of one app host's gunicorn, asked from the load balancer."""
    out = on(LB).check_output(f"curl -s --max-time 5 -H 'Host: {SITE}' -H 'X-Forwarded-Proto: https' http://{address(name)}:8000/healthz")
    return json.loads(out)


def live_release(name):
    return on(name).file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def pool_lines():
    return [line.strip() for line in on(LB).file(POOL).content_string.splitlines() if "server " in line]


def test_the_load_balancer_pools_both_app_hosts_over_tls(host):
    pools_both_app_hosts(host)


def pools_both_app_hosts(host):
    lines = pool_lines()
    assert len(lines) == 2
    assert all(" down" not in line for line in lines)
    assert {line.rsplit("# ", 1)[1] for line in lines} == {APP1, APP2}
    client = Client(host)
    seen = set()
    for _attempt in range(20):
        status, _headers, body = client.get("/healthz")
        assert status == 200
        seen.add(json.loads(body)["host"])
    assert seen == {APP1, APP2}
    assert on(APP1).socket("tcp://0.0.0.0:8000").is_listening
    assert not on(LB).service("example").is_running  # no app server on the load balancer


def test_static_files_come_from_the_load_balancers_copy(host):
    client = Client(host)
    _status, _headers, body = client.get("/")
    css = next(part.split('"')[0] for part in body.split('href="')[1:] if part.startswith("/static/"))
    status, headers, _body = client.get(css)
    assert status == 200
    assert "immutable" in " ".join(headers.get("cache-control", []))
    copy = host.file(f"/var/www/djangoops/{APP}/static/{css.removeprefix('/static/')}")
    assert copy.exists
    assert copy.user == "root"
    assert host.file(f"/var/www/djangoops/{APP}/releases/{live_release(APP1)}").exists


def test_media_uploaded_through_any_app_host_are_served_by_the_load_balancer(host):
    client = Client(host)
    _status, _headers, body = client.get("/")
    names = []
    folder = host.check_output("mktemp -d")
    for number in range(4):  # round robin: both app hosts take uploads
        name = f"{folder}/cluster-upload-{number}.txt"
        host.run_expect([0], f"echo cluster upload {number} > {name}")
        result = client.post_form(body, path="/upload/", files=[("file", name)])
        assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
        names.append(name.rsplit("/", 1)[1])
    for name in names:
        files = on(APP2).check_output(f"find /srv/{APP}/shared/media -name '{name.removesuffix('.txt')}*'")
        assert files, name
        path = files.splitlines()[0].removeprefix(f"/srv/{APP}/shared/media")
        status, _headers, content = client.get(f"/media{path}")
        assert status == 200
        assert "cluster upload" in content
        assert on(APP1).file(files.splitlines()[0]).exists


def test_migrations_ran_once_and_every_host_reaches_its_services():
    # The app hosts use PostgreSQL and Redis on the database host, through its firewall.
    for name in (APP1, APP2):
        answer = healthz(name)
        assert answer["status"] == "ok"
        # The project's own view (django_app_health_check: project): no "checks" of the collection's.
        assert answer["release"] == live_release(name)
        assert "checks" not in answer
    count = on(DB).check_output("runuser -u postgres -- psql -tAc \"select count(*) from django_migrations where app = 'notes'\" example")
    assert int(count) >= 2


def test_one_app_host_backs_up_the_shared_database_with_its_globals():
    """The first app host backs up the database and the media the app hosts share, from across
    the network (PostgreSQL 17 on the database host, its client on Debian 13); the other runs no
    backup of them."""
    assert not on(APP2).file(f"/etc/cron.d/djangoops-backup-{APP}").exists
    app1 = on(APP1)
    assert app1.file(f"/etc/cron.d/djangoops-backup-{APP}").exists
    app1.run_expect([0], f"djangoops-backup backup {APP}")
    status = json.loads(app1.file(f"/var/backups/djangoops/{APP}/status.json").content_string)
    assert status["ok"], status
    backup = f"/var/backups/djangoops/{APP}/{status['backup']}"
    assert app1.run(f"pg_restore --list {backup}/database.dump").stdout.count("TABLE DATA") >= 5
    assert f"CREATE ROLE {APP};" in app1.file(f"{backup}/globals.sql").content_string


@pytest.mark.parametrize(
    ("source", "target", "port", "open_"),
    [
        (LB, APP1, 8000, True),
        (LB, APP2, 8000, True),
        (DB, APP1, 8000, False),
        (APP2, APP1, 8000, False),
        (APP1, DB, 5432, True),
        (APP2, DB, 6379, True),
        (LB, DB, 5432, False),
        (LB, DB, 6379, False),
        (DB, LB, 443, True),
        # The exporters, from the monitoring host (the database host) only.
        (DB, APP1, 9100, True),
        (DB, LB, 9113, True),
        (APP2, APP1, 9100, False),
        (LB, APP1, 9100, False),
        (APP1, LB, 9113, False),
        (APP1, DB, 9187, False),
        (APP1, DB, 9121, False),
        (APP1, DB, 9090, False),
    ],
)
def test_the_firewall_admits_only_the_hosts_that_need_a_port(source, target, port, open_):
    probe = f"import socket,sys\ns=socket.socket(); s.settimeout(3)\nsys.exit(s.connect_ex(('{address(target)}', {port})))\n"
    result = on(source).run(f'python3 -c "{probe}"')
    assert (result.rc == 0) == open_, f"{source} -> {target}:{port}: rc {result.rc}"


def test_the_load_balancer_converges_alone_under_load(tmp_path):
    """site.yml --limit loadbalancers reads what the app hosts kept from their last deploy: no
    app host is worked on, nothing changes, and not one request fails meanwhile."""
    figures, (output, rc) = under_load(lambda: playbook("site", limit="loadbalancers"), tmp_path, clients=4)
    assert rc == 0, output[-3000:]
    counts = recap(output)
    assert set(counts) == {LB, LB2}, counts
    assert counts[LB]["changed"] == counts[LB2]["changed"] == 0, output[-3000:]
    assert figures["non_2xx"] == 0, figures
    assert figures["socket_errors"] == 0, figures
    assert figures["sent"] > 0


def test_a_load_balancer_that_lost_its_sites_gets_them_back_from_its_own_run():
    """A load balancer whose nginx sites are gone (a rebuilt host) serves both app hosts again
    after site.yml --limit loadbalancers --tags nginx, with no app deployed in that run. (No
    `host` fixture: testinfra would run it with the other checks on the load balancer, before
    the test above.)"""
    lb = on(LB)
    site = f"{APP}.conf"
    lb.check_output(f"rm /etc/nginx/sites-enabled/{site} /etc/nginx/sites-available/{site} {POOL} && systemctl reload nginx")
    # A reload returns once nginx has the signal; its old workers may answer a moment longer.
    deadline = time.monotonic() + 15
    while Client(lb).curl("--fail", path="/healthz").rc == 0:
        assert time.monotonic() < deadline, "the site still answers 15 s after its files were removed"
        time.sleep(0.5)
    output, rc = playbook("site", limit="loadbalancers", tags="nginx")
    assert rc == 0, output[-3000:]
    assert set(recap(output)) == {LB, LB2}
    pools_both_app_hosts(lb)


def test_the_load_balancers_present_one_certificate_and_answer_acme_challenges_for_each_other():
    """Behind the floating address, the CA's request for one load balancer's challenge may reach
    the other: it is asked of the peer. Both present the first one's self-signed certificate."""
    for path in ("/etc/ssl/djangoops/ca.crt", f"/etc/ssl/djangoops/{APP}.crt"):
        assert on(LB2).file(path).sha256sum == on(LB).file(path).sha256sum, path
    webroot = "/var/lib/djangoops/acme/.well-known/acme-challenge"
    token = secrets.token_urlsafe(16)
    on(LB2).check_output(f"mkdir -p {webroot} && printf '%s' {token}.answer > {webroot}/{token}")
    try:
        ask = f"curl -s --max-time 10 -w ' %{{http_code}}' -H 'Host: {SITE}' http://127.0.0.1/.well-known/acme-challenge/"
        assert on(LB).check_output(ask + token) == f"{token}.answer 200"
        # A token neither has: one 404, asked of the peer once, not passed back and forth.
        assert on(LB).check_output(ask + secrets.token_urlsafe(16)).endswith(" 404")
    finally:
        on(LB2).run(f"rm -f {webroot}/{token}")


def test_a_rolling_deploy_under_load_fails_no_request(tmp_path, versions):
    v1 = live_release(APP1)
    clients = 8
    timed = {}

    def deploy():
        started = time.monotonic()
        result = playbook("deploy", f"django_app_source_path={versions['v2']}")
        timed["seconds"] = time.monotonic() - started
        return result

    figures, (output, rc) = under_load(deploy, tmp_path, clients=clients)
    assert rc == 0, output[-3000:]
    v2 = live_release(APP1)
    assert v2 != v1
    assert live_release(APP2) == v2
    assert figures["non_2xx"] == 0, figures
    assert figures["socket_errors"] == 0, figures
    assert figures["sent"] >= DEPLOY_LOAD_SHARE * figures["rate_limit"] * timed["seconds"], (timed, figures)
    # Requests sent again because nginx closed an idle kept-alive connection as it reloaded (as
    # browsers do), never a failure of their own: at most one per connection and reload, and
    # nginx reloads twice per app host (out of the pools, back in). At 25 requests a second
    # most connections are idle at a reload: 31 of the 32 in one run.
    assert figures["retried_on_closed_keepalive"] <= clients * 2 * len([APP1, APP2]), figures
    # The load saw the old release, then the new one, and never only one host down at a time
    # beyond the pools: both releases answered during the roll.
    assert {v1, v2} <= set(figures["releases"]), figures["releases"]
    assert figures["releases"][v1]["first"] < figures["releases"][v2]["last"]
    assert all(" down" not in line for line in pool_lines())
    # Migrations were planned on the first app host only, in the first batch; the second skipped
    # the gate. v2 brings no migration: neither host applied any.
    gates = re.findall(r"Gate: (plan|apply) the database migrations\]\s*\**\s*(ok|changed|skipping): \[([\w-]+)\]", output)
    assert gates == [("plan", "ok", APP1), ("apply", "skipping", APP1), ("plan", "skipping", APP2), ("apply", "skipping", APP2)], gates


@pytest.mark.parametrize("action", ["reload", "restart"])
def test_a_rolling_reload_or_restart_under_load_fails_no_request(tmp_path, action):
    figures, (output, rc) = under_load(lambda: playbook("restart", f"djangoops_restart={action}"), tmp_path)
    assert rc == 0, output[-3000:]
    assert figures["non_2xx"] == 0, figures
    assert figures["socket_errors"] == 0, figures
    assert figures["sent"] > 0
    assert all(" down" not in line for line in pool_lines())


def test_a_failed_deploy_stops_the_roll_with_that_host_out_of_the_pool(tmp_path, versions):
    v2 = live_release(APP1)
    figures, (output, rc) = under_load(lambda: playbook("deploy", f"django_app_source_path={versions['v3']}"), tmp_path, clients=4)
    assert rc != 0
    assert "did not go live" in output
    assert "module_that_does_not_exist" in output
    # The first batch (app1) failed its gates: it stays out of the pool; app2 was never touched.
    lines = {line.rsplit("# ", 1)[1]: line for line in pool_lines()}
    assert " down" in lines[APP1]
    assert " down" not in lines[APP2]
    assert live_release(APP1) == v2
    assert live_release(APP2) == v2
    assert figures["non_2xx"] == 0, figures
    assert figures["socket_errors"] == 0, figures
    assert set(figures["releases"]) == {v2}
    # Deploying a good release again puts it back.
    output, rc = playbook("deploy", f"django_app_source_path={versions['v2']}")
    assert rc == 0, output[-3000:]
    assert all(" down" not in line for line in pool_lines())
