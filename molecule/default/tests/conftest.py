"""Helpers for the default scenario's checks: requests made from inside the host under test."""

import re
import shlex

import pytest

SITE = "example.djangoops.test"
APP = "example"
CERT = f"/etc/ssl/djangoops/{APP}.crt"


class Client:
    """curl on the host itself, through nginx, with the site's name resolved to loopback."""

    def __init__(self, host):
        self.host = host
        self.jar = host.check_output("mktemp")

    def curl(self, *args, scheme="https", path="/", name=SITE, verify=True):
        port = 443 if scheme == "https" else 80
        tls = ["--cacert", CERT] if scheme == "https" and verify and name == SITE else ["--insecure"]
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

    def get(self, path="/", **kwargs):
        """Return (status, headers as a lower-cased dict, body) of a GET."""
        result = self.curl("--include", path=path, **kwargs)
        assert result.rc == 0, result.stderr
        return parse_response(result.stdout)


def parse_response(raw):
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def csrf_token(html):
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def client(host):
    client = Client(host)
    yield client
    host.run(f"rm -f {client.jar}")
