"""Eight apps on one host behind one nginx, one per application server and one in split mode:
what a user sees of each, what their request metrics count, and what a reload, a killed worker and
systemd's sandbox rating do."""

import re
import time
import uuid

import pytest

from site_client import Client, websocket_echo

ASGI = {"gunicorn_uvicorn", "uvicorn", "daphne", "hypercorn", "granian"}
# app: (server, site name); every app is the example project under its own name.
APPS = {
    "gunicorn": ("gunicorn", "gunicorn.djangoops.test"),
    "gunicorn_uvicorn": ("gunicorn_uvicorn", "gunicorn-uvicorn.djangoops.test"),
    "uvicorn": ("uvicorn", "uvicorn.djangoops.test"),
    "daphne": ("daphne", "daphne.djangoops.test"),
    "hypercorn": ("hypercorn", "hypercorn.djangoops.test"),
    "uwsgi": ("uwsgi", "uwsgi.djangoops.test"),
    "granian": ("granian", "granian.djangoops.test"),
    "split": ("gunicorn", "split.djangoops.test"),
}
# Each app's request metrics port (molecule.yml).
METRICS_PORTS = {
    "gunicorn": 9811,
    "gunicorn_uvicorn": 9812,
    "uvicorn": 9813,
    "daphne": 9814,
    "hypercorn": 9815,
    "uwsgi": 9816,
    "granian": 9817,
    "split": 9818,
}
# The units each app runs: split mode adds an ASGI server for /ws/.
UNITS = [(app, app, server) for app, (server, _site) in APPS.items()] + [("split", "split-ws", "uvicorn")]


@pytest.fixture(params=sorted(APPS))
def app(request, host):
    name = request.param
    client = Client(host, site=APPS[name][1], app=name)
    yield name, APPS[name][0], client
    host.run(f"rm -f {client.jar}")


# A restarted server imports Django again: a few seconds alone, more beside another scenario in CI.
def wait_until_serving(client, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = client.curl("--output", "/dev/null", "--write-out", "%{http_code}", path="/healthz")
        if result.stdout == "200":
            return True
        time.sleep(0.5)
    return False


@pytest.mark.parametrize(("app_name", "unit", "server"), UNITS)
def test_each_unit_runs_its_server(host, app_name, unit, server):
    assert host.service(f"{unit}.service").is_running
    assert host.service(f"{unit}.service").is_enabled
    assert f"({server}" in host.check_output(f"systemctl cat {unit}.service")
    # Socket activation for every server that can inherit a socket; granian binds its own.
    assert host.service(f"{unit}.socket").is_running is (server != "granian")
    # Each app runs as its own user.
    main = host.check_output(f"systemctl show --property MainPID --value {unit}.service").strip()
    assert host.check_output(f"ps -o user:32= -p {main}").strip() == app_name


def test_each_app_has_its_own_user_socket_and_site(host):
    config = host.check_output("nginx -T 2>/dev/null")
    for name, (_server, site) in APPS.items():
        assert host.user(name).exists
        assert f"server_name {site};" in config
    assert "server 127.0.0.1:8004" in config  # daphne listens on TCP
    assert host.socket("tcp://127.0.0.1:8004").is_listening
    assert host.file("/run/uvicorn/app.sock").is_socket
    assert host.file("/run/gunicorn/app.sock").group == "www-data"


def test_page_over_https_and_a_post_that_writes_a_row(app):
    _name, _site, client = app
    status, _headers, body = client.get("/")
    assert status == 200
    assert "<h1>djangoops example</h1>" in body
    text = f"note-{uuid.uuid4().hex[:8]}"
    result = client.post_form(body, fields=[("text", text)])
    assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
    assert f"<li>{text}</li>" in client.get("/")[2]


def test_websocket_echo_on_asgi_and_a_clear_refusal_on_wsgi(host, app):
    name, server, client = app
    answer = websocket_echo(host, name=client.site)
    if server in ASGI or name == "split":
        assert answer == "ECHO djangoops-echo"
    else:
        # A WSGI server cannot upgrade: the request is answered at once, not left hanging.
        assert re.match(r"REFUSED HTTP/1\.1 (400|404|426)", answer), answer


def counted(host, name, method="GET", status="2xx"):
    """The app's requests of a method and status class, as its metrics unit serves them to
    Prometheus: the sum of every worker process's files."""
    # The unit listens on the host's address (the one the monitoring hosts reach), not loopback.
    address = host.check_output(f"ss -Hltn 'sport = :{METRICS_PORTS[name]}'").split()[3]
    exposition = host.check_output(f"curl --silent --fail http://{address}/metrics")
    labels = f'app="{name}",method="{method}",status="{status}"'
    match = re.search(rf"^djangoops_http_requests_total\{{{labels}\}} (\S+)$", exposition, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_request_metrics_count_what_each_server_answers(host, app):
    """Each server, WSGI or ASGI, one process or several, each app under its own user."""
    name, _server, client = app
    before = {status: counted(host, name, status=status) for status in ("2xx", "4xx")}
    for _request in range(5):
        assert client.get("/healthz")[0] == 200
    assert client.get("/no-such-page/")[0] == 404
    # A WSGI response counts when the server closes it, just after its last byte.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and counted(host, name) < before["2xx"] + 5:
        time.sleep(0.2)
    assert counted(host, name) >= before["2xx"] + 5
    assert counted(host, name, status="4xx") >= before["4xx"] + 1
    assert not host.run(f"journalctl --unit {name}.service --since '-5min' --grep PermissionError --quiet").stdout


def test_split_mode_routes_websockets_to_the_asgi_server_only(host):
    client = Client(host, site=APPS["split"][1], app="split")
    host.run_expect([0], "systemctl stop split-ws.socket split-ws.service")
    try:
        # Without the ASGI server, pages still come from gunicorn; the WebSocket path fails fast.
        assert client.get("/")[0] == 200
        assert websocket_echo(host, name=client.site).startswith("REFUSED HTTP/1.1 502")
    finally:
        host.run_expect([0], "systemctl start split-ws.socket split-ws.service")
    assert websocket_echo(host, name=client.site) == "ECHO djangoops-echo"
    host.run(f"rm -f {client.jar}")


def test_reload_keeps_serving(host, app):
    name, server, client = app
    action = "restart" if server == "daphne" else "reload"  # daphne has no graceful reload
    host.run_expect([0], f"systemctl {action} {name}.service")
    assert wait_until_serving(client)
    assert host.service(f"{name}.service").is_running


def test_a_killed_worker_is_replaced(host, app):
    name, _site, client = app
    main = host.check_output(f"systemctl show --property MainPID --value {name}.service").strip()
    children = host.check_output(f"ps -o pid= --ppid {main} || true").split()
    victim = children[0] if children else main  # daphne is one process: systemd restarts it
    host.run_expect([0], f"kill -9 {victim}")
    assert wait_until_serving(client)
    assert host.service(f"{name}.service").is_running


# Each server's unit, and nginx's (Debian's unit under the role's drop-in); the figures are printed.
@pytest.mark.parametrize("unit", [unit for _server, unit, _server in UNITS] + ["nginx"])
def test_unit_exposure_is_at_most_three(host, unit, figure):
    output = host.check_output(f"systemd-analyze security --no-pager {unit}.service")
    score = float(re.search(rf"Overall exposure level for {unit}\.service: ([0-9.]+)", output).group(1))
    figure(f"systemd-analyze security {unit}.service: {score}")
    assert score <= 3.0, output
