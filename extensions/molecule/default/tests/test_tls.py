"""TLS and HTTP as browsers and scanners see them: Mozilla's profile (sslyze), no HIGH or CRITICAL
finding (testssl.sh), HTTP/2, one HSTS header on everything, unknown names refused, static files
cached for good, and uploads that can never run in the site's origin."""

import json
import re
import uuid

from site_client import APP, SITE
from tls_checks import serious_testssl_findings, sslyze_mozilla

CERT = f"/etc/ssl/djangoops/{APP}.crt"


def tls_profile(host):
    return host.ansible.get_variables().get("nginx_tls_profile", "intermediate")


def test_sslyze_finds_mozillas_profile(host, tmp_path):
    """sslyze runs outside the host, against its HTTPS port published on loopback."""
    passed, output = sslyze_mozilla(host, SITE, tls_profile(host), tmp_path)
    assert passed, output


def test_testssl_reports_no_high_or_critical_finding(host):
    serious = serious_testssl_findings(host, SITE)
    assert serious == [], json.dumps(serious, indent=1)


def test_http2_is_negotiated(host):
    out = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {SITE} -alpn h2,http/1.1 </dev/null 2>/dev/null | grep -a '^ALPN protocol'"
    )
    assert out == "ALPN protocol: h2"
    status = host.check_output(
        f"curl --silent --http2 --output /dev/null --write-out '%{{http_version}} %{{http_code}}' --cacert {CERT}"
        f" --resolve {SITE}:443:127.0.0.1 https://{SITE}/healthz"
    )
    assert status == "2 200"


def test_tls_protocols_follow_the_profile(host):
    tls12 = host.run(f"openssl s_client -connect 127.0.0.1:443 -servername {SITE} -tls1_2 </dev/null")
    tls11 = host.run(f"openssl s_client -connect 127.0.0.1:443 -servername {SITE} -tls1_1 </dev/null")
    assert tls11.rc != 0
    if tls_profile(host) == "modern":
        assert tls12.rc != 0, "the modern profile allows TLS 1.3 only"
    else:
        assert tls12.rc == 0, tls12.stderr


def test_unknown_names_are_refused(host):
    # An unknown name in SNI, or none (an IP address): nginx rejects the handshake (curl's 35),
    # so no certificate and none of the site's names are shown.
    for url, resolve in (
        ("https://unknown.djangoops.test/", ["--resolve", "unknown.djangoops.test:443:127.0.0.1"]),
        ("https://127.0.0.1/", []),
    ):
        result = host.run(" ".join(["curl", "--silent", "--insecure", "--max-time", "10", *resolve, url]))
        assert result.rc == 35, (url, result.rc, result.stdout, result.stderr)
        assert result.stdout == ""
    handshake = host.run("openssl s_client -connect 127.0.0.1:443 -servername unknown.djangoops.test </dev/null")
    assert "unrecognized name" in handshake.stdout + handshake.stderr
    assert SITE not in handshake.stdout
    # The site's name in SNI but an unknown Host: closed without an answer (curl's 52, or 56 when
    # the close arrives as a reset), the HTTP/2 stream reset (92), or refused as misdirected
    # (421); never the site's page.
    for version in ("--http1.1", "--http2"):
        result = host.run(
            f"curl --silent --include {version} --max-time 10 --cacert {CERT} --resolve {SITE}:443:127.0.0.1"
            f" --header 'Host: unknown.djangoops.test' https://{SITE}/"
        )
        assert result.rc in (52, 56, 92) or " 421" in result.stdout.split("\n", 1)[0], (version, result.rc, result.stdout[:300])
        assert "djangoops example" not in result.stdout
    # Plain HTTP: 444, the connection closes without a reply.
    result = host.run("curl --silent --max-time 10 --header 'Host: unknown.djangoops.test' http://127.0.0.1/")
    assert result.rc == 52, (result.rc, result.stdout)


def hsts_headers(headers):
    return headers.get("strict-transport-security", [])


def test_exactly_one_hsts_header_everywhere(client):
    """Django sends it on the app's pages (its 404 too), nginx on what it serves itself."""
    _status, _headers, page = client.get("/")
    css = re.search(r'href="(/static/[^"]+\.css)"', page).group(1)
    for path in ("/", "/no-such-page/", css, "/static/no-such-file.css", "/media/no-such-upload.txt"):
        status, headers, _body = client.get(path)
        assert status in (200, 404), (path, status)
        assert hsts_headers(headers) == ["max-age=31536000"], (path, headers)
        assert headers["x-content-type-options"] == ["nosniff"], path
        assert len(headers.get("referrer-policy", [])) == 1, path
        assert len(headers.get("x-frame-options", [])) == 1, path


def test_hashed_static_files_are_cached_for_a_year_and_immutable(client):
    _status, _headers, page = client.get("/admin/login/")
    hashed = [href for href in page.split('"') if href.startswith("/static/admin/css/") and href.endswith(".css")]
    assert hashed
    status, headers, _body = client.get(hashed[0])
    assert status == 200
    assert headers["cache-control"] == ["public, max-age=31536000, immutable"]
    assert "expires" not in headers


def test_static_files_are_compressed(host):
    for encoding in ("gzip", "br"):
        out = host.check_output(
            f"curl --silent --output /dev/null --write-out '%{{content_type}} %header{{content-encoding}}'"
            f" --header 'Accept-Encoding: {encoding}' --cacert {CERT} --resolve {SITE}:443:127.0.0.1"
            f" https://{SITE}/static/admin/css/base.css"
        )
        assert out.endswith(f" {encoding}"), out


def test_uploaded_active_content_comes_back_as_an_attachment(client, host):
    _status, _headers, body = client.get("/")
    folder = host.check_output("mktemp -d")
    for suffix, content in (
        (".html", "<script>alert(1)</script>"),
        (".svg", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ):
        name = f"active-{uuid.uuid4().hex[:8]}{suffix}"
        host.run_expect([0], f"printf '%s' '{content}' > {folder}/{name}")
        result = client.post_form(body, path="/upload/", files=[("file", f"{folder}/{name}")])
        assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
        status, headers, served = client.get(f"/media/uploads/{name}")
        assert status == 200
        assert served == content
        assert headers["content-disposition"] == ["attachment"], headers
        assert headers["x-content-type-options"] == ["nosniff"]
        assert headers["content-security-policy"] == ["default-src 'none'; sandbox"]
        assert hsts_headers(headers) == ["max-age=31536000"]
    # A plain text upload is shown inline, still under the sandbox policy.
    name = f"plain-{uuid.uuid4().hex[:8]}.txt"
    host.run_expect([0], f"printf 'text' > {folder}/{name}")
    client.post_form(body, path="/upload/", files=[("file", f"{folder}/{name}")])
    _status, headers, _body = client.get(f"/media/uploads/{name}")
    assert "content-disposition" not in headers
    assert headers["content-security-policy"] == ["default-src 'none'; sandbox"]
