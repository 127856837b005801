"""What a user of the deployed example site sees, checked from inside each host."""

import json
import re
import time
import uuid

import pytest

from site_client import APP, SITE

MANAGE = f"/srv/{APP}/bin/manage"


def test_services_are_enabled_and_running(host):
    for unit in ("nginx.service", f"{APP}.socket", f"{APP}.service"):
        service = host.service(unit)
        assert service.is_enabled, unit
        assert service.is_running, unit


def test_https_returns_the_example_page_with_a_valid_certificate(client):
    status, headers, body = client.get("/")
    assert status == 200
    assert "<h1>djangoops example</h1>" in body
    assert headers["server"] == ["nginx"]  # no version: server_tokens off


def test_static_css_is_served_by_nginx_with_caching_headers(client, host):
    _status, _headers, body = client.get("/")
    css = re.search(r'href="(/static/[^"]+\.css)"', body).group(1)
    status, headers, content = client.get(css)
    assert status == 200
    assert headers["content-type"][0].startswith("text/css")
    # Its name carries the content hash (manifest storage): cached for a year, immutable.
    assert re.search(r"\.[0-9a-f]{12}\.css$", css), css
    assert headers["cache-control"] == ["public, max-age=31536000, immutable"]
    # Django runs with DEBUG off and serves no static files, so this came from nginx's alias of
    # the live release's collected files.
    on_disk = host.file(f"/srv/{APP}/current/static/{css.removeprefix('/static/')}")
    assert on_disk.exists
    assert content.strip() == on_disk.content_string.strip()


def test_post_creates_a_row(client, host):
    _status, _headers, body = client.get("/")
    before = int(re.search(r'id="note-count">(\d+)<', body).group(1))
    text = f"note-{uuid.uuid4().hex[:8]}"
    result = client.post_form(body, fields=[("text", text)])
    assert result.rc == 0
    assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
    _status, _headers, after_body = client.get("/")
    assert f"<li>{text}</li>" in after_body
    assert int(re.search(r'id="note-count">(\d+)<', after_body).group(1)) == before + 1
    # The row is in the database the app uses, not only in a page.
    count = host.check_output(
        f"{MANAGE} shell --no-imports -c 'from notes.models import Note; print(Note.objects.filter(text=\"{text}\").count())'"
    )
    assert count.strip().splitlines()[-1] == "1"


def test_post_without_csrf_token_is_refused(client):
    result = client.curl("--include", "--data", "text=nope")
    assert result.stdout.startswith("HTTP/2 403")


def test_errors_show_the_projects_own_pages(client):
    status, _headers, body = client.get("/no-such-page/")
    assert status == 404
    assert "djangoops example: error 404" in body
    refused = client.curl("--include", "--data", "text=nope")
    assert refused.stdout.startswith("HTTP/2 403")
    assert "djangoops example: error 403" in refused.stdout


def test_settings_come_the_way_the_host_was_told(host):
    """Debian 12 runs the rendered settings module, Debian 13 environment mode."""
    env = host.check_output(f"cat /etc/djangoops/{APP}/env")
    rendered = host.file(f"/srv/{APP}/current/exampleproject/settings_production.py").exists
    if host.ansible.get_variables().get("django_app_settings_mode") == "environment":
        assert "DJANGO_SETTINGS_MODULE='exampleproject.settings_env'" in env
        assert "DJANGO_ALLOWED_HOSTS='example.djangoops.test,localhost'" in env
        assert not rendered
    else:
        assert "DJANGO_SETTINGS_MODULE='exampleproject.settings_production'" in env
        assert "DJANGO_ALLOWED_HOSTS" not in env
        assert rendered


def test_healthz_answers_with_the_live_release(client, host):
    status, _headers, body = client.get("/healthz")
    assert status == 200
    release = host.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]
    hostname = host.check_output("hostname")
    # The rendered wsgi.py/asgi.py answer it, before the example's own view (which answers in the
    # cluster scenario, django_app_health_check: project).
    assert json.loads(body) == {"status": "ok", "release": release, "host": hostname, "checks": {"database": "ok"}}


def test_http_redirects_to_https(client):
    result = client.curl("--include", scheme="http", path="/healthz?x=1")
    status_line, *lines = result.stdout.splitlines()
    assert " 301 " in status_line
    assert f"Location: https://{SITE}/healthz?x=1" in [line.strip() for line in lines]


def test_django_deployment_checks_pass(host):
    result = host.run(f"{MANAGE} check --deploy --fail-level WARNING")
    if host.ansible.get_variables().get("django_app_settings_mode") == "environment":
        # The project's own settings do not silence the HSTS warnings for what the deployment
        # leaves off on purpose: the gate lets those two pass, and nothing else.
        found = set(re.findall(r"\((\w+\.\w+)\) ", result.stderr))
        assert found == {"security.W005", "security.W021"}, result.stdout + result.stderr
    else:
        assert result.rc == 0, result.stdout + result.stderr


def test_env_file_is_readable_by_the_app_only(host):
    env = host.file(f"/etc/djangoops/{APP}/env")
    assert env.user == "root"
    assert env.group == APP
    assert env.mode == 0o640
    assert "DJANGO_SECRET_KEY=" in env.content_string


def test_template_override_replaces_the_maintenance_page(client, host):
    """The scenario's templates/ overrides nginx's 50x page; a user sees it while the app is down."""
    host.run_expect([0], f"systemctl stop {APP}.socket {APP}.service")
    try:
        status, headers, body = client.get("/")
        assert status == 502
        # nginx's own error page carries the one HSTS header Django would have sent.
        assert headers["strict-transport-security"] == ["max-age=31536000"]
        assert f"djangoops override: {host.backend.get_hostname()} is restarting" in body
    finally:
        host.run_expect([0], f"systemctl start {APP}.socket {APP}.service")
    for _attempt in range(30):
        if client.get("/healthz")[0] == 200:
            break
        time.sleep(1)
    assert client.get("/healthz")[0] == 200


@pytest.mark.parametrize("unit", [APP, "nginx"])
def test_unit_exposure_is_low(host, unit, figure):
    """systemd's own rating of a service's sandbox: 3.0 or below is what the collection promises,
    for the app's unit and for nginx's (Debian's unit, 9.6 without the role's drop-in)."""
    output = host.check_output(f"systemd-analyze security --no-pager {unit}.service")
    score = float(re.search(rf"Overall exposure level for {unit}\.service: ([0-9.]+)", output).group(1))
    figure(f"systemd-analyze security {unit}.service: {score}")
    assert score <= 3.0, output


def test_secret_key_is_not_in_units_or_process_listings(host):
    key = host.check_output(f"cat /etc/djangoops/{APP}/secret_key").strip()
    assert len(key) >= 50
    assert key not in host.check_output(f"systemctl cat {APP}.service {APP}.socket")
    assert key not in host.check_output("ps -eo args")


def test_uploaded_media_is_served_by_nginx(client, host):
    _status, _headers, body = client.get("/")
    name = f"upload-{uuid.uuid4().hex[:8]}.txt"
    upload = f"{host.check_output('mktemp -d')}/{name}"
    host.run_expect([0], f"printf 'media bytes' > {upload}")
    result = client.post_form(body, path="/upload/", files=[("file", upload)])
    assert result.stdout.startswith("HTTP/2 302"), result.stdout[:300]
    status, headers, content = client.get(f"/media/uploads/{name}")
    assert status == 200
    assert content == "media bytes"
    assert headers["x-content-type-options"] == ["nosniff"]
    # On disk in shared/, readable by nginx's group only.
    stored = host.file(f"/srv/{APP}/shared/media/uploads/{name}")
    assert stored.group == "www-data"
    assert stored.mode == 0o640


def test_admin_login_page_and_its_static_files(client):
    status, _headers, body = client.get("/admin/login/")
    assert status == 200
    stylesheets = re.findall(r'href="(/static/admin/css/[^"]+\.css)"', body)
    assert stylesheets
    for href in stylesheets:
        assert client.get(href)[0] == 200, href
