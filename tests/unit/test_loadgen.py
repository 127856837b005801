"""The scenarios' load generator (extensions/molecule/shared/loadgen.py) against a local HTTPS
server on 127.0.0.1: --rate caps the requests per second of all its connections together."""

import datetime
import http.server
import json
import ssl
import subprocess
import sys
import threading
import time
import typing
from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ROOT

LOADGEN = ROOT / "extensions/molecule/shared/loadgen.py"


class Healthz(http.server.BaseHTTPRequestHandler):
    """/healthz as the collection answers it, and a form on / that takes a post only with the
    CSRF cookie and token the page gave, as Django's does. /stall answers after 1.2 s the first
    time, at once after that."""

    protocol_version = "HTTP/1.1"
    posts: typing.ClassVar[list] = []
    stalled: typing.ClassVar[list] = []

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/":
            page = b'<form method="post"><input name="csrfmiddlewaretoken" value="token-1"></form>'
            self.answer(200, page, [("Set-Cookie", "csrftoken=secret-1; Path=/; Secure")])
            return
        if self.path == "/stall" and not Healthz.stalled:
            Healthz.stalled.append(True)
            time.sleep(1.2)
        self.answer(200, json.dumps({"release": "r1", "host": "h1"}).encode())

    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        good = (
            self.headers["Cookie"] == "csrftoken=secret-1"
            and form["csrfmiddlewaretoken"] == ["token-1"]
            and self.headers["Origin"] == "https://loadgen.test"
        )
        Healthz.posts.append(good)
        self.answer(302 if good else 403, headers=[("Location", "/")])

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def https_port(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loadgen.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def load(port, tmp_path, *args, answered=True):
    """loadgen's figures; it exits 1 when a request failed, which answered=False expects."""
    figures = tmp_path / "load.json"
    argv = [sys.executable, str(LOADGEN), "--port", str(port), "--site", "loadgen.test", "--json", str(figures), *args]
    assert subprocess.run(argv, check=False, capture_output=True, timeout=60).returncode == (0 if answered else 1)
    return json.loads(figures.read_text())


def test_rate_caps_the_requests_of_all_connections_together(https_port, tmp_path):
    figures = load(https_port, tmp_path, "--clients", "2", "--rate", "10", "--seconds", "3")
    assert figures["non_2xx"] == 0, figures
    assert figures["socket_errors"] == 0, figures
    # 10 a second for 3 s, the connections staggered: about 30, never the server's own pace.
    assert 25 <= figures["sent"] <= 36, figures
    assert figures["releases"]["r1"]["answers"] > 0


def test_without_a_rate_the_connections_send_as_fast_as_they_can(https_port, tmp_path):
    figures = load(https_port, tmp_path, "--clients", "2", "--seconds", "2")
    assert figures["rate_limit"] is None
    # This test server answers about 90 a second here: far above the paced run's 10.
    assert figures["sent"] > 60, figures


def test_form_posts_carry_the_pages_csrf_and_a_stall_shows_in_the_latency(https_port, tmp_path):
    Healthz.posts.clear()
    figures = load(
        https_port, tmp_path, "--clients", "2", "--rate", "20", "--seconds", "3", "--post-every", "3",
        "--path", "/", "--path", "/healthz", "--path", "/stall",
    )  # fmt: skip
    # Every post was accepted (redirected) and counted as answered.
    assert Healthz.posts, figures
    assert all(Healthz.posts), Healthz.posts
    assert figures["non_2xx"] == 0, figures
    assert figures["hosts"]["h1"]["answers"] > 0
    # /stall held its connection 1.2 s once: the slowest request says so (and the one after it,
    # due while it waited), the median does not.
    assert figures["latency_ms"]["max"] >= 1200, figures["latency_ms"]
    assert figures["latency_ms"]["p50"] < 1000, figures["latency_ms"]
    assert sum(second[0] for second in figures["timeline"].values()) == figures["sent"]
    assert max(second[2] for second in figures["timeline"].values()) >= 1200


class Direct(http.server.BaseHTTPRequestHandler):
    """An app server's own port as nginx talks to it: plain HTTP, the site's name in Host, the
    scheme in X-Forwarded-Proto (answered 400 otherwise)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        good = self.headers["Host"] == "loadgen.test" and self.headers["X-Forwarded-Proto"] == "https"
        self.send_response(200 if good else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args):
        pass


def test_plain_http_with_headers_reaches_an_app_servers_own_port(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Direct)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        figures = load(port, tmp_path, "--scheme", "http", "--header", "X-Forwarded-Proto: https", "--rate", "10", "--seconds", "1")
        assert figures["sent"] > 0, figures
        assert figures["non_2xx"] == figures["socket_errors"] == 0, figures
        # Without the header, the same server answers 400: the header above was sent.
        figures = load(port, tmp_path, "--scheme", "http", "--rate", "10", "--seconds", "1", answered=False)
        assert figures["statuses"].keys() == {"400"}, figures
    finally:
        server.shutdown()
        server.server_close()
