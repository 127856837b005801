"""The scenarios' load generator (extensions/molecule/shared/loadgen.py) against a local HTTPS
server on 127.0.0.1: --rate caps the requests per second of all its connections together."""

import datetime
import http.server
import json
import ssl
import subprocess
import sys
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ROOT

LOADGEN = ROOT / "extensions/molecule/shared/loadgen.py"


class Healthz(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"release": "r1"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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


def load(port, tmp_path, *args):
    figures = tmp_path / "load.json"
    argv = [sys.executable, str(LOADGEN), "--port", str(port), "--site", "loadgen.test", "--json", str(figures), *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
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
