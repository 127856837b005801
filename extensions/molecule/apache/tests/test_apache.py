"""The example project under Apache httpd with mod_wsgi, as its users see it: the page, a row,
static files and media served by Apache with their headers, TLS as nginx gives it, unknown
names refused, the deployment checks, then a code-only deploy under load and a rollback."""

import functools
import json
import re
import time
import uuid

import pytest

from site_client import APP, SITE, Client, recap, run_playbook, under_load
from tls_checks import published_port, serious_testssl_findings, sslyze_mozilla

MANAGE = f"/srv/{APP}/bin/manage"
CERT = f"/etc/ssl/djangoops/{APP}.crt"
SECRET_NAMES = ("DJANGO_SECRET_KEY", "SECRET_KEY", "DJANGO_DATABASE_PASSWORD", "DATABASE_URL")


def tls_profile(host):
    return host.ansible.get_variables().get("apache_tls_profile", "intermediate")


def live_release(host):
    return host.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def test_apache_runs_the_apps_in_daemon_processes_of_their_own_users(host):
    apache = host.service("apache2")
    assert apache.is_enabled
    assert apache.is_running
    # No app server unit, no nginx: Apache is the one server.
    assert not host.file(f"/etc/systemd/system/{APP}.service").exists
    assert not host.package("nginx").is_installed
    # mod_wsgi's daemons carry their group's name and run as the app's user.
    daemons = host.check_output("ps -eo user=,args= | grep -v grep | grep '(wsgi:' || true")
    apps = [app["name"] for app in host.ansible.get_variables().get("djangoops_apps", [{"name": APP}])]
    for app in apps:
        lines = [line for line in daemons.splitlines() if f"(wsgi:{app})" in line]
        assert lines, daemons
        assert {line.split()[0] for line in lines} == {app}, daemons
    assert "Server MPM:     event" in host.check_output("apache2ctl -V")


def test_https_returns_the_example_page(client):
    status, headers, body = client.get("/")
    assert status == 200
    assert "<h1>djangoops example</h1>" in body
    assert headers["server"] == ["Apache"]  # no version: ServerTokens Prod


def test_every_app_of_the_host_answers_under_its_own_name(host):
    for entry in host.ansible.get_variables().get("djangoops_apps", []):
        name = entry["name"]
        site = entry.get("server_names", [SITE])[0]
        client = Client(host, site=site, app=name)
        try:
            status, _headers, body = client.get("/healthz")
        finally:
            host.run(f"rm -f {client.jar}")
        assert status == 200
        answer = json.loads(body)
        assert answer["release"] == host.file(f"/srv/{name}/current").linked_to.rsplit("/", 1)[-1]


def test_post_writes_a_row_the_database_holds(client, host):
    _status, _headers, body = client.get("/")
    text = f"note-{uuid.uuid4().hex[:8]}"
    result = client.post_form(body, fields=[("text", text)])
    assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
    _status, _headers, after = client.get("/")
    assert f"<li>{text}</li>" in after
    count = host.check_output(
        f"{MANAGE} shell --no-imports -c 'from notes.models import Note; print(Note.objects.filter(text=\"{text}\").count())'"
    )
    assert count.strip().splitlines()[-1] == "1"


def test_static_files_are_served_by_apache_with_their_cache_headers(client, host):
    _status, _headers, body = client.get("/admin/login/")
    hashed = re.findall(r'href="(/static/admin/css/[^"]+\.css)"', body)
    assert hashed
    for href in hashed:
        status, headers, _content = client.get(href)
        assert status == 200, href
        assert headers["content-type"][0].startswith("text/css")
        assert headers["cache-control"] == ["public, max-age=31536000, immutable"]
        assert "expires" not in headers
    # The file on disk in the live release is what was served (DEBUG is off: not Django).
    on_disk = host.file(f"/srv/{APP}/current/static/{hashed[0].removeprefix('/static/')}")
    assert client.get(hashed[0])[2].strip() == on_disk.content_string.strip()
    # A name without a hash: a week, then asked again.
    status, headers, _content = client.get("/static/admin/css/base.css")
    assert status == 200
    assert headers["cache-control"] == ["max-age=604800"]
    for encoding in ("gzip", "br"):
        out = host.check_output(
            f"curl --silent --output /dev/null --write-out '%header{{content-encoding}}'"
            f" --header 'Accept-Encoding: {encoding}' --cacert {CERT} --resolve {SITE}:443:127.0.0.1"
            f" https://{SITE}/static/admin/css/base.css"
        )
        assert out == encoding


def test_uploads_are_served_as_data(client, host):
    _status, _headers, body = client.get("/")
    folder = host.check_output("mktemp -d")
    for suffix, content, attachment in (
        (".txt", "media bytes", False),
        (".html", "<script>alert(1)</script>", True),
        (".svg", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', True),
    ):
        name = f"upload-{uuid.uuid4().hex[:8]}{suffix}"
        host.run_expect([0], f"printf '%s' '{content}' > {folder}/{name}")
        result = client.post_form(body, path="/upload/", files=[("file", f"{folder}/{name}")])
        assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
        status, headers, served = client.get(f"/media/uploads/{name}")
        assert status == 200
        assert served == content
        assert headers["x-content-type-options"] == ["nosniff"]
        assert headers["content-security-policy"] == ["default-src 'none'; sandbox"]
        assert headers["strict-transport-security"] == ["max-age=31536000"]
        assert headers.get("content-disposition") == (["attachment"] if attachment else None), headers
        stored = host.file(f"/srv/{APP}/shared/media/uploads/{name}")
        assert (stored.user, stored.group, stored.mode) == (APP, "www-data", 0o640)


def test_exactly_one_of_each_security_header_everywhere(client):
    for path in ("/", "/no-such-page/", "/static/admin/css/base.css", "/static/no-such-file.css", "/media/no-such-upload.txt"):
        status, headers, _body = client.get(path)
        assert status in (200, 404), (path, status)
        assert headers.get("strict-transport-security") == ["max-age=31536000"], (path, headers)
        assert headers["x-content-type-options"] == ["nosniff"], path
        assert len(headers.get("referrer-policy", [])) == 1, path
        assert len(headers.get("x-frame-options", [])) == 1, path


def test_http_redirects_to_https(client):
    result = client.curl("--include", scheme="http", path="/healthz?x=1")
    status_line, *lines = result.stdout.splitlines()
    assert " 301 " in status_line
    assert f"Location: https://{SITE}/healthz?x=1" in [line.strip() for line in lines]


def test_unknown_names_get_no_page_and_no_real_certificate(host):
    # An unknown name in SNI, or none: the default virtual host's placeholder certificate, for
    # "invalid", and a refusal. Apache cannot reject the handshake itself.
    for sni in ("-servername unknown.djangoops.test", "-noservername"):
        handshake = host.run(f"openssl s_client -connect 127.0.0.1:443 {sni} </dev/null")
        assert "subject=CN=invalid" in handshake.stdout.replace(" = ", "="), handshake.stdout[:2000]
        assert SITE not in handshake.stdout
    for url, resolve in (
        ("https://unknown.djangoops.test/", "--resolve unknown.djangoops.test:443:127.0.0.1"),
        ("https://127.0.0.1/", ""),
        ("http://127.0.0.1/", ""),
    ):
        result = host.run(f"curl --silent --include --insecure --max-time 10 {resolve} -H 'Host: unknown.djangoops.test' {url}")
        assert result.stdout.split("\n", 1)[0].split()[1] == "403", (url, result.stdout[:300])
        assert "djangoops example" not in result.stdout
    # The site's name in SNI but an unknown Host: misdirected.
    for version in ("--http1.1", "--http2"):
        result = host.run(
            f"curl --silent --include {version} --max-time 10 --cacert {CERT} --resolve {SITE}:443:127.0.0.1"
            f" --header 'Host: unknown.djangoops.test' https://{SITE}/"
        )
        assert " 421" in result.stdout.split("\n", 1)[0], (version, result.stdout[:300])


def test_tls_follows_mozillas_profile(host, tmp_path):
    passed, output = sslyze_mozilla(host, SITE, tls_profile(host), tmp_path)
    assert passed, output
    tls12 = host.run(f"openssl s_client -connect 127.0.0.1:443 -servername {SITE} -tls1_2 </dev/null")
    assert (tls12.rc == 0) == (tls_profile(host) == "intermediate"), tls12.stdout[-500:]
    alpn = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {SITE} -alpn h2 </dev/null 2>/dev/null | grep -a '^ALPN'"
    )
    assert alpn == "ALPN protocol: h2"


def test_testssl_reports_no_high_or_critical_finding(host):
    serious = serious_testssl_findings(host, SITE)
    assert serious == [], json.dumps(serious, indent=1)


def test_django_deployment_checks_pass(host):
    result = host.run(f"{MANAGE} check --deploy --fail-level WARNING")
    if host.ansible.get_variables().get("django_app_settings_mode") == "environment":
        found = set(re.findall(r"\((\w+\.\w+)\) ", result.stderr))
        assert found == {"security.W005", "security.W021"}, result.stdout + result.stderr
    else:
        assert result.rc == 0, result.stdout + result.stderr


def test_no_secret_in_apaches_configuration_or_its_output(host):
    env = host.check_output(f"cat /etc/djangoops/{APP}/env")
    secrets = [line.split("=", 1)[1].strip("'") for line in env.splitlines() if line.split("=", 1)[0] in SECRET_NAMES]
    assert secrets
    seen = host.check_output("cat /etc/apache2/sites-enabled/*.conf /etc/apache2/conf-enabled/*.conf")
    seen += host.check_output("apache2ctl -S 2>&1; apache2ctl -M 2>&1; ps -eo args")
    for secret in secrets:
        assert secret not in seen


def test_apache_exposure(host, figure):
    output = host.check_output("systemd-analyze security --no-pager apache2.service")
    score = float(re.search(r"Overall exposure level for apache2\.service: ([0-9.]+)", output).group(1))
    figure(f"systemd-analyze security apache2.service: {score}")
    assert score <= 3.0, output


def test_what_needs_nginx_is_refused_before_anything_changes(host):
    """An ASGI server and split mode on an Apache host: each app's message, one line a rule,
    and nothing changed on the host."""
    state = "find /etc/apache2 /etc/systemd/system -type f -newer /etc/hostname -exec sha256sum {} + | sort; ls -l /srv/*/current"
    before = host.check_output(state)
    output, rc = run_playbook(
        "site",
        "app_server_type=uvicorn",
        '{"djangoops_websocket_server": "uvicorn", "djangoops_websocket_paths": ["/ws/"]}',
        limit=host.backend.get_hostname(),
    )
    assert rc != 0, output[-2000:]
    assert 'the app server "uvicorn" needs nginx (djangoops_web_server nginx)' in output, output[-3000:]
    assert "WebSocket paths (websocket_server, split mode) need an ASGI server behind nginx" in output, output[-3000:]
    assert recap(output)[host.backend.get_hostname()]["changed"] == 0
    assert host.check_output(state) == before


@pytest.fixture(scope="module")
def first_release(host):
    return live_release(host)


def test_a_code_only_deploy_under_load_fails_no_request(client, host, versions, tmp_path, first_release, figure):
    deploy = functools.partial(run_playbook, "deploy", f"django_app_source_path={versions['v2']}", limit=host.backend.get_hostname())
    load, (output, rc) = under_load(published_port(host), deploy, tmp_path, clients=6, seconds=900)
    assert rc == 0, output[-3000:]
    assert live_release(host) != first_release
    assert "<h1>djangoops example v2</h1>" in client.get("/")[2]
    figure(f"deploy under load: {json.dumps({key: load[key] for key in ('sent', 'ok', 'non_2xx', 'statuses') if key in load})}")
    assert load["ok"] > 100, load
    assert load["ok"] == load["sent"], load
    # The load saw both releases answer /healthz.
    assert first_release in load["releases"], load["releases"]
    assert live_release(host) in load["releases"], load["releases"]


def test_rollback_puts_the_first_release_back(client, host, first_release):
    output, rc = run_playbook("rollback", limit=host.backend.get_hostname())
    assert rc == 0, output[-3000:]
    assert live_release(host) == first_release
    # The first request after the switch restarts the daemons, which import Django again: on a
    # loaded host that request may outlast curl's 10 s, so a timeout here means "not yet".
    for _attempt in range(20):
        result = client.curl(path="/")
        if result.rc == 0 and "<h1>djangoops example</h1>" in result.stdout:
            break
        time.sleep(0.5)
    assert "<h1>djangoops example</h1>" in client.get("/")[2]
    assert json.loads(client.get("/healthz")[2])["release"] == first_release
