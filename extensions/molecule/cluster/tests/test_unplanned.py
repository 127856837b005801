"""Unplanned failures, under a steady load of GETs and form posts through the load balancer: an
app host stopped and started again, then the database host stopped for 20 s. Each container
stops as a server powered off does (the images' stop signal shuts systemd down in order). This
file runs after the others (the monitoring checks want a quiet site), and each check leaves the
site whole for the next.

Times are on the machine's monotonic clock, which loadgen's timeline shares: `second(t)` is
the second of the load in which t fell."""

import os
import subprocess
import time

import testinfra

import site_client

LB, APP2, DB = "cluster-lb", "cluster-app2", "cluster-db"
testinfra_hosts = [f"ansible://{LB}?ansible_inventory={os.environ.get('MOLECULE_INVENTORY_FILE', '')}"]
# The load: 8 connections at 100 requests a second in all, every fifth request of each a form post.
LOAD = {"clients": 8, "rate": 100, "post_every": 5}


def on(name):
    return testinfra.get_host(f"docker://{name}")


def lb_port():
    out = subprocess.run(["docker", "port", LB, "443/tcp"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0].rsplit(":", 1)[1])


def docker(*args):
    subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=180)


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.5)
    return time.monotonic()


def phase(figures, start, end):
    """The load's requests due from monotonic time start to end: sent, answered, slowest ms."""
    first, last = int(start - figures["started_monotonic"]), int(end - figures["started_monotonic"])
    rows = [row for second, row in figures["timeline"].items() if first <= int(second) < last]
    return {
        "sent": sum(row[0] for row in rows),
        "answered": sum(row[1] for row in rows),
        "slowest_ms": max((row[2] for row in rows), default=0),
    }


def stopped_cleanly(name, unit, since):
    """The unit's stop since the wall-clock time `since`: logged as stopped, never killed. (A
    container shares the host's boot id, so its previous "boot" is told apart by time.)"""
    journal = on(name).check_output(f"journalctl -u '{unit}' --since @{int(since)} --no-pager -o cat")
    return journal, (
        "Stopped" in journal or "Deactivated successfully" in journal
    ) and "Killing" not in journal and "SIGKILL" not in journal


def stop_under_load(name, until_back, after, tmp_path):
    """Under LOAD: stop the container as a server powers off, leave it stopped for 20 s, start it,
    wait until_back() says it is back, then keep the load on `after` seconds more. loadgen's
    figures and the marks of each step (monotonic; "wall" is the stop's wall-clock time)."""
    marks = {}

    def outage():
        marks["stop"], marks["wall"] = time.monotonic(), time.time()
        docker("stop", "--time", "90", name)
        marks["stopped"] = time.monotonic()
        time.sleep(20)
        marks["start"] = time.monotonic()
        docker("start", name)
        marks["back"] = wait_for(until_back, 90, f"{name} back")
        time.sleep(after)

    figures, _outage = site_client.under_load(lb_port(), outage, tmp_path, **LOAD)
    return figures, marks


def test_an_app_host_that_stops_is_out_of_the_pool_in_seconds_and_rejoins_when_started(tmp_path, figure):
    # Back in the pool by itself: after fail_timeout (10 s), nginx sends it a request again.
    figures, marks = stop_under_load(APP2, lambda: on(APP2).run("systemctl is-active --quiet example.service").rc == 0, 20, tmp_path)
    stopping = phase(figures, marks["stop"], marks["stopped"])
    gone = phase(figures, marks["stopped"], marks["start"])
    rejoining = phase(figures, marks["start"], marks["back"] + 20)
    figure(
        f"app host stopped: {figures['non_2xx'] + figures['socket_errors']} of {figures['sent']} failed {figures['statuses']} {figures['errors']};"
        f" stopping {marks['stopped'] - marks['stop']:.1f} s {stopping}; gone 20 s {gone};"
        f" started, back {marks['back'] - marks['start']:.1f} s later, then 20 s {rejoining}; {APP2} answered {figures['hosts'].get(APP2)}"
    )
    failed = figures["non_2xx"] + figures["socket_errors"]
    assert failed <= 3, figures
    # Out of the pool at once: nginx gives a silent host 500 ms, then leaves it out for 10 s.
    assert gone["slowest_ms"] <= 1000, gone
    assert gone["answered"] >= gone["sent"] - 1, gone
    # Back in the pool: the app host answered again after it started, by itself.
    assert figures["hosts"][APP2]["last"] > marks["back"] - figures["started_monotonic"], figures["hosts"]
    journal, clean = stopped_cleanly(APP2, "example.service", marks["wall"])
    assert clean, journal


def test_the_database_stopped_for_20_s_fails_fast_with_503_and_the_site_heals(tmp_path, figure):
    figures, marks = stop_under_load(DB, lambda: on(DB).run("pg_isready --quiet --host localhost").rc == 0, 15, tmp_path)
    away = phase(figures, marks["stop"], marks["back"])
    healing = phase(figures, marks["back"], marks["back"] + 5)
    healed = phase(figures, marks["back"] + 5, marks["back"] + 15)
    figure(
        f"database stopped: away {marks['back'] - marks['stop']:.1f} s {away}; first 5 s back {healing}; then {healed};"
        f" statuses {figures['statuses']}, socket errors {figures['errors']}, latency {figures['latency_ms']}"
    )
    # Every failure a quick 503 (Retry-After) from Django, none a gateway error or a timeout.
    assert set(figures["statuses"]) == {"503"}, figures["statuses"]
    assert figures["socket_errors"] == 0, figures
    assert away["slowest_ms"] <= 2000, away
    assert away["answered"] < away["sent"]
    # The site serves again within 5 s of PostgreSQL's return, every request after that.
    assert healed["answered"] == healed["sent"] > 0, healed
    journal, clean = stopped_cleanly(DB, "postgresql@*-main.service", marks["wall"])
    assert clean, journal
    # No gunicorn worker hung long enough to be killed.
    app1 = on("cluster-app1").check_output("journalctl -u example.service --since '-2min' --no-pager -o cat")
    assert "WORKER TIMEOUT" not in app1
