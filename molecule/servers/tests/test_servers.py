"""Each application server, on its own host behind nginx: what a user sees, and what a reload,
a killed worker and systemd's sandbox rating do to it."""

import re
import time
import uuid

from site_client import APP, websocket_echo

ASGI = {"gunicorn_uvicorn", "uvicorn", "daphne", "hypercorn", "granian"}


def server_of(host):
    return host.ansible.get_variables()["app_server_type"]


def wait_until_serving(client, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = client.curl("--output", "/dev/null", "--write-out", "%{http_code}", path="/healthz")
        if result.stdout == "200":
            return True
        time.sleep(0.5)
    return False


def test_the_chosen_server_runs_the_app(host):
    server = server_of(host)
    assert host.service(f"{APP}.service").is_running
    unit = host.check_output(f"systemctl cat {APP}.service")
    assert f"({server})" in unit
    # Socket activation for every server that can inherit a socket; granian binds its own.
    assert host.service(f"{APP}.socket").is_running is (server != "granian")


def test_page_over_https_and_a_post_that_writes_a_row(client):
    status, _, body = client.get("/")
    assert status == 200
    assert "<h1>djangoops example</h1>" in body
    text = f"note-{uuid.uuid4().hex[:8]}"
    result = client.post_form(body, fields=[("text", text)])
    assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
    assert f"<li>{text}</li>" in client.get("/")[2]


def test_websocket_echo_on_asgi_and_a_clear_refusal_on_wsgi(host):
    answer = websocket_echo(host)
    if server_of(host) in ASGI:
        assert answer == "ECHO djangoops-echo"
    else:
        # A WSGI server cannot upgrade: the request is answered at once, not left hanging.
        assert re.match(r"REFUSED HTTP/1\.1 (400|404|426)", answer), answer


def test_reload_keeps_serving(client, host):
    server = server_of(host)
    action = "restart" if server == "daphne" else "reload"  # daphne has no graceful reload
    host.run_expect([0], f"systemctl {action} {APP}.service")
    assert wait_until_serving(client)
    assert host.service(f"{APP}.service").is_running


def test_a_killed_worker_is_replaced(client, host):
    main = host.check_output(f"systemctl show --property MainPID --value {APP}.service").strip()
    children = host.check_output(f"ps -o pid= --ppid {main} || true").split()
    victim = children[0] if children else main  # daphne is one process: systemd restarts it
    host.run_expect([0], f"kill -9 {victim}")
    assert wait_until_serving(client, seconds=10)
    assert host.service(f"{APP}.service").is_running


def test_unit_exposure_is_at_most_three(host):
    output = host.check_output(f"systemd-analyze security --no-pager {APP}.service")
    score = float(re.search(rf"Overall exposure level for {APP}\.service: ([0-9.]+)", output).group(1))
    assert score <= 3.0, output
