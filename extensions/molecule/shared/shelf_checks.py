"""shared/shelf_project, a project laid out as teams already have them, deployed as it is (the
backup scenario deploys it in both settings modes, on Debian 12 and 13, and imports these
tests). A user sees its pages through nginx, writes rows, and gets an export its worker
process writes into a folder of its own tree; the collection answers its health path; its own
pins stay; its settings read the conventional variables in either mode."""

import json
import re
import shlex
import time

import pytest

from site_client import Client

APP = "shelf"
SITE = "shelf.djangoops.test"
MANAGE = f"/srv/{APP}/bin/manage"


@pytest.fixture
def shelf(host):
    client = Client(host, site=SITE, app=APP)
    yield client
    host.run(f"rm -f {client.jar}")


def live_release(host):
    return host.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def env_file(host):
    return host.file(f"/etc/djangoops/{APP}/env").content_string


def module_mode(host):
    """The rendered settings module, rather than the project's own, is DJANGO_SETTINGS_MODULE."""
    return "DJANGO_SETTINGS_MODULE='shelf.settings_production'" in env_file(host).splitlines()


def postgres(host):
    return "DATABASE_URL='postgres://" in env_file(host)


def django(host, code):
    """The last line Python printed in shelf's Django shell, run as the app."""
    result = host.run(f"{MANAGE} shell -c {shlex.quote(code)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_page_shows_the_configuration_the_deployment_supplied(host, shelf):
    status, _headers, body = shelf.get("/")
    assert status == 200, body
    version = host.system_info.release.split(".")[0]
    assert f"<h1>Shelf on Debian {version}</h1>" in body
    css = re.search(r'href="(/static/books/shelf\.[0-9a-f]{12}\.css)"', body).group(1)
    status, headers, _body = shelf.get(css)
    assert status == 200
    assert "immutable" in headers["cache-control"][0]
    # The front-end build minified the project's script before collectstatic took it.
    script = re.search(r'src="(/static/books/shelf\.min\.[0-9a-f]{12}\.js)"', body).group(1)
    status, _headers, minified = shelf.get(script)
    assert status == 200
    assert minified.startswith("function countBooks(")
    release = f"/srv/{APP}/releases/{live_release(host)}"
    modules = host.file(f"{release}/frontend/node_modules")
    assert modules.is_symlink
    assert host.file(f"{modules.linked_to}/terser/package.json").exists
    assert host.file(f"{release}/src/books/static/books/shelf.min.js").user == "root"
    config = host.file(f"{release}/src/shelf/configuration.py")
    assert (config.user, config.group, config.mode) == ("root", APP, 0o640)


def test_a_book_written_through_the_form_is_listed(shelf):
    title = f"Book {time.time_ns()}"
    _status, _headers, page = shelf.get("/")
    result = shelf.post_form(page, path="/", fields=[("title", title)])
    assert " 302 " in result.stdout.splitlines()[0], result.stdout
    assert f"<li>{title}</li>" in shelf.get("/")[2]


def test_the_worker_process_writes_an_export_into_the_shared_folder(host, shelf):
    title = f"Exported {time.time_ns()}"
    _status, _headers, page = shelf.get("/")
    shelf.post_form(page, path="/", fields=[("title", title)])
    _status, _headers, page = shelf.get("/")
    result = shelf.post_form(page, path="/export")
    location = re.search(r"(?im)^location: (\S+)", result.stdout).group(1)
    number = int(location.rstrip("/").rsplit("/", 1)[-1])
    for _attempt in range(30):
        status, _headers, body = shelf.get(f"/exports/{number}")
        if status == 200:
            break
        time.sleep(1)
    assert status == 200
    assert title in body.splitlines()
    # The release's exports/ is the shared folder; the file is the app's, kept across releases.
    release = f"/srv/{APP}/releases/{live_release(host)}"
    assert host.file(f"{release}/src/exports").linked_to == f"/srv/{APP}/shared/tree/exports"
    written = host.file(f"/srv/{APP}/shared/tree/exports/books-{number}.txt")
    assert written.user == APP
    journal = host.check_output(f"journalctl -u {APP}-process-exports --no-pager -o cat")
    assert f"books_worker: wrote export {number}" in journal


def test_the_worker_process_is_sandboxed_like_the_app_server(host, figure):
    unit = f"{APP}-process-exports"
    assert host.service(unit).is_running
    assert host.service(unit).is_enabled
    output = host.check_output(f"systemd-analyze security --no-pager {unit}.service")
    score = float(re.search(rf"Overall exposure level for {unit}\.service: ([0-9.]+)", output).group(1))
    figure(f"systemd-analyze security {unit}.service: {score}")
    assert score <= 3.0
    process = host.check_output(f"systemctl show -p MainPID --value {unit}")
    assert host.check_output(f"ps -o user= -p {process}") == APP


def test_the_collection_answers_the_health_path(host, shelf):
    """shelf has no health view: the rendered wsgi.py answers it, with the live release."""
    status, headers, body = shelf.get("/healthz")
    assert status == 200
    assert headers["content-type"] == ["application/json"]
    answer = json.loads(body)
    assert answer["release"] == live_release(host)
    assert answer["checks"] == {"database": "ok"}


def test_the_projects_pins_stay(host):
    python = f"/srv/{APP}/current/venv/bin/python"
    versions = json.loads(host.check_output(f"{python} -m pip list --format=json --disable-pip-version-check"))
    versions = {item["name"].lower(): item["version"] for item in versions}
    assert versions["gunicorn"] == "23.0.0"
    assert versions["psycopg"] == "3.3.4"
    assert versions["psycopg-binary"] == "3.3.4"


def test_the_settings_read_the_conventional_variables(host):
    env = env_file(host)
    names = [line.split("=", 1)[0] for line in env.splitlines() if line and not line.startswith("#")]
    assert len(names) == len(set(names))
    on_postgres = postgres(host)
    if on_postgres:
        assert re.search(r"^DATABASE_URL='postgres://shelf:[^@']+@localhost/shelf'$", env, re.MULTILINE)
    else:
        assert f"DATABASE_URL='sqlite:////srv/{APP}/shared/db/db.sqlite3'" in env.splitlines()
    # The project adds django.contrib.postgres when DATABASE_URL is PostgreSQL's, in both modes.
    assert django(host, "from django.conf import settings; print('django.contrib.postgres' in settings.INSTALLED_APPS)") == str(on_postgres)
    assert django(host, "from django.conf import settings; print(settings.SECURE_HSTS_SECONDS, settings.ALLOWED_HOSTS)") == (
        f"31536000 ['{SITE}']"
    )


def test_the_gate_let_pass_only_what_the_deployment_names(host):
    """Environment mode: the project's SAMEORIGIN frames (W019, in check_ignore) and the HSTS
    options left off (W005, W021) are what a check by hand still reports; module mode's rendered
    settings own X_FRAME_OPTIONS and silence the HSTS ones."""
    result = host.run(f"{MANAGE} check --deploy --fail-level WARNING")
    found = set(re.findall(r"\((\w+\.\w+)\) ", result.stdout + result.stderr))
    if module_mode(host):
        assert result.rc == 0, result.stdout + result.stderr
    else:
        assert found == {"security.W005", "security.W019", "security.W021"}, result.stdout + result.stderr
