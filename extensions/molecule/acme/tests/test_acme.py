"""ACME through the running web server (nginx on Debian 12, Apache on Debian 13): the site serves a
certificate pebble issued, and a renewal replaces it while clients keep connecting, without one
failed connection."""

import json
import re

import pytest

testinfra_hosts = ["acme-debian12", "acme-debian13"]

API_CA = "/usr/local/share/djangoops-test/pebble-api-ca.pem"
ROOT = "/usr/local/share/djangoops-test/pebble-root.pem"


@pytest.fixture(scope="module")
def site(host):
    """The site's name, with pebble's issuing root fetched (pebble makes a new one at each start)."""
    name = host.check_output("hostname").strip().replace("acme-debian", "acme") + ".djangoops.test"
    host.run_expect([0], f"curl --silent --fail --cacert {API_CA} --output {ROOT} https://pebble:15000/roots/0")
    return name


def web_server(host):
    """The web server's name (the renewal hook's) and its unit."""
    return ("apache", "apache2") if host.file("/etc/apache2/conf-enabled/djangoops.conf").exists else ("nginx", "nginx")


def served_certificate(host, name):
    """The certificate the web server presents for name: subject, issuer, serial, names."""
    out = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {name} -verify_return_error -CAfile {ROOT} </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial -issuer -ext subjectAltName"
    )
    serial = re.search(r"serial=([0-9A-F]+)", out).group(1)
    issuer = re.search(r"issuer=(.*)", out).group(1)
    names = re.findall(r"DNS:([^,\s]+)", out)
    return serial, issuer, sorted(names)


def test_the_site_serves_the_certificate_pebble_issued(host, site):
    _serial, issuer, names = served_certificate(host, site)
    assert "Pebble Intermediate" in issuer
    assert names == sorted([site, f"www.{site}"])
    # curl verifies the chain against pebble's root and the name, and gets the site's static file.
    out = host.check_output(f"curl --silent --fail --cacert {ROOT} --resolve {site}:443:127.0.0.1 https://{site}/static/hello.txt")
    assert out == "served over a certificate from pebble"


def test_the_www_name_redirects_to_the_site_over_tls(host, site):
    out = host.check_output(
        f"curl --silent --include --cacert {ROOT} --resolve www.{site}:443:127.0.0.1 https://www.{site}/static/hello.txt?x=1"
    )
    assert re.match(r"HTTP/\S+ 301", out)
    assert f"location: https://{site}/static/hello.txt?x=1" in out.lower()


def test_the_site_key_and_certificate_are_certbots(host):
    """The web server reads certbot's live links, so a renewal needs nothing but a reload."""
    for path, target in (
        ("/etc/ssl/djangoops/acme.crt", "/etc/letsencrypt/live/acme/fullchain.pem"),
        ("/etc/ssl/private/djangoops-acme.key", "/etc/letsencrypt/live/acme/privkey.pem"),
    ):
        assert host.file(path).is_symlink, path
        assert host.check_output(f"readlink {path}") == target
    key = host.check_output("readlink -f /etc/ssl/private/djangoops-acme.key")
    assert host.file(key).mode == 0o600


def test_renewal_is_scheduled(host):
    timer = host.service("certbot.timer")
    assert timer.is_enabled
    assert timer.is_running
    name, unit = web_server(host)
    hook = host.file(f"/etc/letsencrypt/renewal-hooks/deploy/djangoops-{name}")
    assert hook.mode == 0o755
    assert f"systemctl reload {unit}" in hook.content_string


LOAD = r"""
import json, socket, ssl, sys, threading, time
name, root, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
context = ssl.create_default_context(cafile=root)
stop = time.monotonic() + seconds
counts = {"ok": 0, "failed": 0, "errors": []}
lock = threading.Lock()
def client():
    while time.monotonic() < stop:
        try:
            with socket.create_connection(("127.0.0.1", 443), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname=name) as sock:
                    sock.sendall(f"GET /static/hello.txt HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
                    data = b""
                    while chunk := sock.recv(4096):
                        data += chunk
            ok = data.startswith(b"HTTP/1.1 200")
            with lock:
                counts["ok" if ok else "failed"] += 1
                if not ok:
                    counts["errors"].append(data[:80].decode(errors="replace"))
        except OSError as error:
            with lock:
                counts["failed"] += 1
                counts["errors"].append(repr(error))
threads = [threading.Thread(target=client) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
counts["errors"] = counts["errors"][:5]
print(json.dumps(counts))
"""


def test_a_renewal_replaces_the_certificate_without_a_refused_connection(host, site):
    before, _issuer, _names = served_certificate(host, site)
    _name, unit = web_server(host)
    server_pid = host.check_output(f"systemctl show --property MainPID --value {unit}")
    # Clients connect over TLS for 15 s while the renewal service's own command runs, with the
    # service's environment (it trusts pebble's API), forced since the certificate is new.
    service = host.check_output("systemctl show --property ExecStart --value certbot.service")
    command = re.search(r"argv\[\]=([^;]+);", service).group(1).strip()
    assert " renew" in command
    environment = host.check_output("systemctl show --property Environment --value certbot.service")
    result = host.run(
        f"python3 - {site} {ROOT} 15 <<'PY' & sleep 3; env {environment} {command} --force-renewal; renewed=$?; wait; exit $renewed\n{LOAD}\nPY"
    )
    assert result.rc == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    after, _issuer, _names = served_certificate(host, site)
    assert after != before, "the renewal did not replace the certificate the site serves"
    assert counts["failed"] == 0, counts
    assert counts["ok"] > 50, counts
    # Reloaded, never restarted.
    assert host.check_output(f"systemctl show --property MainPID --value {unit}") == server_pid
