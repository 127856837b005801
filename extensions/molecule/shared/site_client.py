"""What the Molecule scenarios' tests share: requests made from inside the host under test, and the
collection's playbooks run against the scenario's instances."""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

SITE = "example.djangoops.test"
APP = "example"
# Beside this file, so that the scenarios run from an installed collection as from a checkout.
SHARED = Path(__file__).resolve().parent
EXAMPLE_PROJECT = SHARED / "django_project"
LOADGEN = SHARED / "loadgen.py"


def run_playbook(name, *extra_vars, limit=None, tags=None, verbose=False, timeout=900):
    """Run one of the collection's playbooks against the scenario's instances, as a user would:
    its output on one line (messages wrap in the callback's output), and its exit code."""
    args = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], f"djangoops.stack.{name}"]
    if limit:
        args += ["--limit", limit]
    if tags:
        args += ["--tags", tags]
    if verbose:
        args += ["-v", "--diff"]
    for extra in extra_vars:
        args += ["-e", extra]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=timeout, env=env)
    return " ".join((result.stdout + result.stderr).split()), result.returncode


def under_load(port, action, tmp_path, clients=8, seconds=1500, rate=25, post_every=0, container=None, address=None, cacert=None):
    """Run action() while loadgen drives the site on a published loopback port: loadgen's figures
    (its JSON) and action's result. The load starts before the action and ends after it. `rate`
    (requests per second) keeps requests arriving throughout without starving the action, or the
    scenario beside it, of CPU: on a 2-core machine, 100 a second stretched a rolling deploy to
    643 s and a code-only deploy on Apache to 797 s (50 a second).
    post_every: every Nth request of a connection posts the example's form (loadgen).
    container, address: run loadgen inside that container instead (docker exec), against that
    address on the scenario's network, such as a floating address the host cannot see.
    cacert: a CA certificate (PEM text) the load verifies the site's certificate against."""
    args = ["--port", str(port), "--site", SITE, "--clients", str(clients), "--seconds", str(seconds),
            "--rate", str(rate), "--post-every", str(post_every)]  # fmt: skip
    if container:
        made = subprocess.run(["docker", "exec", container, "mktemp", "-d"], capture_output=True, text=True, check=True, timeout=60)
        work = made.stdout.strip()
        # Through docker exec: docker cp cannot write into a tmpfs such as the containers' /tmp.
        subprocess.run(
            ["docker", "exec", "-i", container, "sh", "-c", f"cat > {work}/loadgen.py"],
            input=LOADGEN.read_text(),
            text=True,
            check=True,
            timeout=60,
        )
        stop, figures, ca = f"{work}/stop", f"{work}/load.json", f"{work}/ca.crt"
        command = ["docker", "exec", container, "python3", f"{work}/loadgen.py", "--address", address or "127.0.0.1"]
        if cacert:
            subprocess.run(["docker", "exec", "-i", container, "sh", "-c", f"cat > {ca}"], input=cacert, text=True, check=True, timeout=60)
    else:
        stop, figures, ca = str(tmp_path / "stop"), str(tmp_path / "load.json"), str(tmp_path / "ca.crt")
        command = [sys.executable, str(LOADGEN)]
        if cacert:
            Path(ca).write_text(cacert)
    if cacert:
        args += ["--cacert", ca]
    load = subprocess.Popen(
        [*command, *args, "--stop-file", stop, "--json", figures], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        time.sleep(3)  # the load is running before the action starts
        result = action()
        time.sleep(3)
    finally:
        if container:
            subprocess.run(["docker", "exec", container, "touch", stop], check=False, timeout=60)
        else:
            Path(stop).touch()
        output, _errors = load.communicate(timeout=60)
    print(output)
    if container:
        text = subprocess.run(["docker", "exec", container, "cat", figures], capture_output=True, text=True, check=True, timeout=60).stdout
    else:
        text = Path(figures).read_text()
    return json.loads(text), result


def recap(output):
    """The PLAY RECAP of a run's output: {host: {ok, changed, failed, ...}}."""
    tail = output.rsplit("PLAY RECAP", 1)[-1]
    return {
        host: dict((key, int(value)) for key, value in re.findall(r"(\w+)=(\d+)", counts))
        for host, counts in re.findall(r"([\w.-]+) : ((?:\w+=\d+\s*)+)", tail)
    }


class Client:
    """curl on the host itself, through nginx, with the site's name resolved to loopback. site and
    app name the nginx site whose certificate the requests trust."""

    def __init__(self, host, site=SITE, app=APP):
        self.host = host
        self.site = site
        self.cert = f"/etc/ssl/djangoops/{app}.crt"
        self.jar = host.check_output("mktemp")

    def curl(self, *args, scheme="https", path="/", name=None, verify=True):
        name = name or self.site
        port = 443 if scheme == "https" else 80
        tls = ["--cacert", self.cert] if scheme == "https" and verify and name == self.site else ["--insecure"]
        cmd = [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--resolve",
            f"{name}:{port}:127.0.0.1",
            "--cookie",
            self.jar,
            "--cookie-jar",
            self.jar,
            *tls,
            *args,
            f"{scheme}://{name}{path}",
        ]
        return self.host.run(shlex.join(cmd))

    def post_form(self, page_body, path="/", fields=(), files=()):
        """POST a form as a browser would: the page's CSRF token, cookie, Referer and Origin.
        fields are (name, value) pairs, files (name, path on the host) pairs."""
        args = ["--include", "--header", f"Referer: https://{self.site}/", "--header", f"Origin: https://{self.site}"]
        option = "--form" if files else "--data-urlencode"
        for name, value in [("csrfmiddlewaretoken", csrf_token(page_body)), *fields]:
            args += [option, f"{name}={value}"]
        for name, file_path in files:
            args += ["--form", f"{name}=@{file_path}"]
        return self.curl(*args, path=path)

    def get(self, path="/", **kwargs):
        """Return (status, headers as a lower-cased dict, body) of a GET."""
        result = self.curl("--include", path=path, **kwargs)
        assert result.rc == 0, result.stderr
        return parse_response(result.stdout)


def parse_response(raw):
    head, _separator, body = raw.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _separator, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def csrf_token(html):
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


WEBSOCKET_CLIENT = r"""
import base64, os, socket, ssl, sys
target, name = sys.argv[1], sys.argv[2]
raw = socket.create_connection((target, 443), timeout=10)
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
context.set_alpn_protocols(["http/1.1"])
sock = context.wrap_socket(raw, server_hostname=name)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall((f"GET /ws/echo/ HTTP/1.1\r\nHost: {name}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://{name}\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = sock.recv(1)
    if not chunk:
        break
    head += chunk
status = head.split(b"\r\n", 1)[0].decode(errors="replace")
if " 101 " not in status:
    print("REFUSED", status)
    sys.exit(0)
payload, mask = b"djangoops-echo", os.urandom(4)
sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
first, second = sock.recv(2)
print("ECHO", sock.recv(second & 0x7F).decode())
"""


def websocket_echo(host, name=SITE):
    """Open a WebSocket to /ws/echo/ through nginx over TLS and send one message; the first line of
    the answer: 'ECHO <message>' or 'REFUSED <status line>'."""
    result = host.run(f"timeout 20 python3 - 127.0.0.1 {shlex.quote(name)} <<'PY'\n{WEBSOCKET_CLIENT}\nPY")
    return (result.stdout.strip() or result.stderr.strip()).splitlines()[-1] if (result.stdout or result.stderr) else ""
