"""The roles' templates render to valid Python, systemd units and nginx configuration."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from conftest import render, role_vars

APP = {
    "name": "example",
    "user": "example",
    "group": "example",
    "root": "/srv/example",
    "shared_dir": "/srv/example/shared",
    "sqlite_path": "/srv/example/shared/db/db.sqlite3",
    "current": "/srv/example/current",
    "config_dir": "/etc/djangoops/example",
    "env_file": "/etc/djangoops/example/env",
    "wsgi_application": "exampleproject.wsgi:application",
    "read_write_paths": ["/srv/example/shared/db", "/srv/example/shared/media"],
}


def django_app_vars(**overrides):
    variables = role_vars("django_app")
    variables.update(
        {
            "django_app_name": "example",
            "django_app_project_module": "exampleproject",
            "django_app_server_names": ["example.test", "127.0.0.1"],
            "django_app_asgi_middleware": ["exampleproject.websocket.EchoWebSocket"],
            "__django_app_effective_secret_key": "k" * 60,
            **overrides,
        }
    )
    return variables


@pytest.mark.parametrize("template", ["settings_production.py.j2", "wsgi.py.j2", "asgi.py.j2"])
def test_python_templates_compile(template):
    source = render("django_app", f"srv/app/release/project/{template}", django_app_vars())
    compile(source, template, "exec")


def test_settings_take_hosts_and_origins_from_the_site_names():
    source = render("django_app", "srv/app/release/project/settings_production.py.j2", django_app_vars())
    assert 'ALLOWED_HOSTS = ["example.test", "127.0.0.1"]' in source
    assert 'CSRF_TRUSTED_ORIGINS = ["https://example.test", "https://127.0.0.1"]' in source
    assert "DEBUG = False" in source
    assert 'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")' in source
    assert 'SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]' in source


def test_settings_silence_only_the_hsts_checks_left_off_on_purpose():
    off = render("django_app", "srv/app/release/project/settings_production.py.j2", django_app_vars())
    assert '["security.W005", "security.W021"]' in off
    on = render(
        "django_app",
        "srv/app/release/project/settings_production.py.j2",
        django_app_vars(django_app_hsts_include_subdomains=True, django_app_hsts_preload=True),
    )
    assert "*[]]" in on.replace(" ", "")


def test_daphne_runserver_option_puts_daphne_first():
    off = render("django_app", "srv/app/release/project/settings_production.py.j2", django_app_vars())
    assert "daphne" not in off
    on = render("django_app", "srv/app/release/project/settings_production.py.j2", django_app_vars(django_app_daphne_runserver=True))
    namespace = {"INSTALLED_APPS": ["django.contrib.admin", "daphne", "notes"]}
    start = on.index("# daphne's runserver")
    exec(on[start : on.index("\n\n", start + 1)], namespace)  # noqa: S102  our own rendered settings
    assert namespace["INSTALLED_APPS"] == ["daphne", "django.contrib.admin", "notes"]
    assert namespace["ASGI_APPLICATION"] == "exampleproject.asgi.application"


def test_csp_is_django_s_own_report_only_unless_enforced():
    settings = "srv/app/release/project/settings_production.py.j2"
    assert "CSP" not in render("django_app", settings, django_app_vars())
    policy = {"default-src": ["'self'"], "img-src": ["'self'", "data:"]}
    for report_only, name in ((True, "SECURE_CSP_REPORT_ONLY"), (False, "SECURE_CSP")):
        source = render("django_app", settings, django_app_vars(django_app_csp=policy, django_app_csp_report_only=report_only))
        start = source.index("# Django's own Content Security Policy")
        block = source[start : source.index("\n\n", source.index("csp.ContentSecurityPolicyMiddleware", start))].replace(
            "django.VERSION", "(6, 0)"
        )
        namespace = {"MIDDLEWARE": ["django.middleware.security.SecurityMiddleware"]}
        exec(block, namespace)  # noqa: S102  our own rendered settings
        assert namespace[name] == policy
        assert namespace["MIDDLEWARE"][-1] == "django.middleware.csp.ContentSecurityPolicyMiddleware"
        assert ({"SECURE_CSP", "SECURE_CSP_REPORT_ONLY"} - {name}).isdisjoint(namespace)


def env_lines(**overrides):
    env = render("django_app", "etc/djangoops/app/env.j2", django_app_vars(**overrides))
    return [line for line in env.splitlines() if line and not line.startswith("#")]


def test_env_file_quotes_every_value_and_holds_the_key():
    lines = env_lines(django_app_environment={"B": "2", "A": "x y"}, django_app_conventional_environment=False)
    assert lines == [
        "A='x y'",
        "B='2'",
        "DJANGO_SECRET_KEY='" + "k" * 60 + "'",
        "DJANGO_SECRET_KEY_FALLBACKS=''",
        "DJANGO_SETTINGS_MODULE='exampleproject.settings_production'",
    ]


def test_env_file_writes_the_names_projects_read_once_each():
    """DATABASE_URL, REDIS_URL and Django's own names, in both modes; the inventory's values win."""
    database = {"engine": "postgresql", "name": "shop", "user": "shop", "password": "p@ss/w:rd", "host": "db.internal", "port": 5433}
    for mode in ("module", "environment"):
        lines = env_lines(
            django_app_settings_mode=mode,
            django_app_base_settings="config.settings.production",
            django_app_database=database,
            django_app_cache={"backend": "redis", "location": "redis://shop:secret@127.0.0.1:6379/1"},
            django_app_hsts_preload=True,
            django_app_environment={"CSRF_TRUSTED_ORIGINS": "https://shop.example"},
        )
        names = [line.split("=", 1)[0] for line in lines]
        assert len(names) == len(set(names)), names
        env = dict(line.split("=", 1) for line in lines)
        assert env["DATABASE_URL"] == "'postgres://shop:p%40ss%2Fw%3Ard@db.internal:5433/shop'"
        assert env["REDIS_URL"] == env["CACHE_URL"] == "'redis://shop:secret@127.0.0.1:6379/1'"
        assert env["SECRET_KEY"] == env["DJANGO_SECRET_KEY"]
        assert env["ALLOWED_HOSTS"] == "'example.test,127.0.0.1'"
        assert env["CSRF_TRUSTED_ORIGINS"] == "'https://shop.example'"
        assert env["DEBUG"] == "'False'"
        assert env["SECURE_HSTS_SECONDS"] == "'31536000'"
        assert env["SECURE_HSTS_INCLUDE_SUBDOMAINS"] == "'False'"
        assert env["SECURE_HSTS_PRELOAD"] == "'True'"
        assert env["STATIC_ROOT"] == "'/srv/example/current/static'"
        assert ("DJANGO_ALLOWED_HOSTS" in env) == (mode == "environment")


def test_env_file_names_the_sqlite_database_by_its_path():
    env = dict(line.split("=", 1) for line in env_lines())
    assert env["DATABASE_URL"] == "'sqlite:////srv/example/shared/db/db.sqlite3'"
    assert "REDIS_URL" not in env


HEALTH_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from proj.wsgi import application
def call(path):
    seen = {}
    body = b"".join(application({"PATH_INFO": path, "REQUEST_METHOD": "GET", "SERVER_NAME": "x", "SERVER_PORT": "80",
                                 "wsgi.input": None, "wsgi.url_scheme": "http", "HTTP_HOST": "unknown.test"},
                                lambda status, headers: seen.update(status=status, headers=dict(headers))))
    return seen["status"], body
status, body = call("/healthz")
print(json.dumps({"status": status, "body": json.loads(body)}))
"""


@pytest.mark.parametrize("database", ["reachable", "missing"])
def test_wsgi_answers_the_health_path_itself(tmp_path, database):
    """The rendered wsgi.py answers /healthz before Django's URLs (none here) and ALLOWED_HOSTS,
    with the release named for its folder, and 503 when the database does not answer."""
    release = tmp_path / "releases" / "abc123def456"
    (release / "proj").mkdir(parents=True)
    (release / "proj" / "__init__.py").write_text("")
    db = tmp_path / "db.sqlite3" if database == "reachable" else tmp_path / "no-such-folder" / "db.sqlite3"
    (release / "proj" / "settings.py").write_text(
        f"SECRET_KEY = 'x' * 50\nALLOWED_HOSTS = ['example.test']\nROOT_URLCONF = 'proj.urls'\n"
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': {str(db)!r}}}}}\n"
    )
    (release / "proj" / "urls.py").write_text("urlpatterns = []\n")
    source = render(
        "django_app",
        "srv/app/release/project/wsgi.py.j2",
        django_app_vars(django_app_project_module="proj", django_app_settings_module="proj.settings"),
    )
    (release / "proj" / "wsgi.py").write_text(source)
    result = subprocess.run(
        [sys.executable, "-c", HEALTH_PROBE, str(release)], capture_output=True, text=True, check=True, env={**os.environ}
    )
    answer = json.loads(result.stdout)
    if database == "reachable":
        assert answer["status"] == "200 OK"
        assert answer["body"]["release"] == "abc123def456"
        assert answer["body"]["checks"] == {"database": "ok"}
    else:
        assert answer["status"] == "503 Service Unavailable"
        assert answer["body"] == {"status": "error", "error": "OperationalError"}


LOG_PROBE = """
import io, sys
sys.path.insert(0, sys.argv[1])
from proj.wsgi import application
environ = {"PATH_INFO": "/nope", "REQUEST_METHOD": "GET", "SERVER_NAME": "x", "SERVER_PORT": "80",
           "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http", "HTTP_HOST": "example.test"}
b"".join(application(environ, lambda status, headers: None))
"""


@pytest.mark.parametrize("mode", ["environment", "module"])
def test_a_project_without_logging_still_logs_to_stderr_in_environment_mode(tmp_path, mode):
    """Django alone sends request errors only to ADMINS; environment mode's wsgi.py adds stderr,
    which the journal keeps (module mode's rendered settings set LOGGING themselves)."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "settings.py").write_text(
        "SECRET_KEY = 'x' * 50\nALLOWED_HOSTS = ['example.test']\nROOT_URLCONF = 'proj.urls'\nDATABASES = {}\n"
    )
    (project / "urls.py").write_text("urlpatterns = []\n")
    variables = django_app_vars(django_app_project_module="proj", django_app_settings_module="proj.settings", django_app_settings_mode=mode)
    (project / "wsgi.py").write_text(render("django_app", "srv/app/release/project/wsgi.py.j2", variables))
    result = subprocess.run([sys.executable, "-c", LOG_PROBE, str(tmp_path)], capture_output=True, text=True, check=True)
    assert ("WARNING django.request: Not Found: /nope" in result.stderr) == (mode == "environment"), result.stderr


def test_the_project_answers_the_health_path_when_asked():
    for template in ("wsgi.py.j2", "asgi.py.j2"):
        source = render("django_app", f"srv/app/release/project/{template}", django_app_vars(django_app_health_check="project"))
        assert "healthz" not in source
        assert "_health_wrapper" not in source


SETTINGS = "srv/app/release/project/settings_production.py.j2"


def settings_namespace(**overrides):
    """Run the rendered settings over a stand-in base module, as Django would import them."""
    source = render("django_app", SETTINGS, django_app_vars(**overrides))
    source = source.replace("from exampleproject.settings import *  # noqa: F403", "")
    namespace = {
        "__file__": "/srv/example/releases/abc123/exampleproject/settings_production.py",
        "TEMPLATES": [
            {"BACKEND": "django.template.backends.django.DjangoTemplates", "OPTIONS": {"loaders": ["a.Loader"]}},
        ],
        "MIDDLEWARE": ["django.middleware.security.SecurityMiddleware", "django.contrib.sessions.middleware.SessionMiddleware"],
    }
    env = {"DJANGO_SECRET_KEY": "k" * 60, "DJANGO_SECRET_KEY_FALLBACKS": "old1 old2", "DJANGO_CACHE_LOCATION": "redis://r:6379/1"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        exec(compile(source, "settings_production.py", "exec"), namespace)  # noqa: S102  our own rendered settings
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return source, namespace


def test_settings_default_to_sqlite_locmem_and_journald():
    _, ns = settings_namespace()
    assert ns["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert ns["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is True
    assert ns["DATABASES"]["default"]["CONN_MAX_AGE"] == 60
    assert ns["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert ns["SESSION_ENGINE"] == "django.contrib.sessions.backends.db"
    assert ns["SECRET_KEY_FALLBACKS"] == ["old1", "old2"]
    assert ns["RELEASE_ID"] == "abc123"
    assert ns["LOGGING"]["root"]["handlers"] == ["console"]
    # The project's own loaders are wrapped in the cached loader.
    assert ns["TEMPLATES"][0]["OPTIONS"]["loaders"] == [("django.template.loaders.cached.Loader", ["a.Loader"])]
    assert "EMAIL_HOST" not in ns
    assert "sentry" not in ns


def test_settings_for_postgresql_redis_mail_and_a_log_file():
    source, ns = settings_namespace(
        django_app_database={"engine": "postgresql", "host": "db1", "port": 5432, "password": "pw-not-rendered"},
        django_app_cache={"backend": "redis", "location": "redis://r:6379/1"},
        django_app_cached_sessions=True,
        django_app_email={"host": "smtp.example.test", "use_tls": True, "user": "mailer", "password": "mail-pw"},
        django_app_admins=[{"name": "Ops", "email": "ops@example.test"}],
        django_app_managers=[],
        django_app_log_file=True,
    )
    db = ns["DATABASES"]["default"]
    assert (db["ENGINE"], db["NAME"], db["USER"], db["HOST"], db["PORT"]) == (
        "exampleproject.djangoops_postgresql",
        "example",
        "example",
        "db1",
        "5432",
    )
    assert "pw-not-rendered" not in source
    assert "mail-pw" not in source
    # A database host that stops answering costs a request seconds, not minutes.
    assert (db["OPTIONS"]["connect_timeout"], db["OPTIONS"]["tcp_user_timeout"], db["OPTIONS"]["keepalives"]) == (2, 5000, 1)
    assert ns["CACHES"]["default"]["OPTIONS"] == {"socket_connect_timeout": 1, "socket_timeout": 2}
    assert ns["MIDDLEWARE"] == [
        "django.middleware.security.SecurityMiddleware",
        "exampleproject.djangoops_middleware.ServiceUnavailableMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
    ]
    _, own = settings_namespace(django_app_database={"engine": "postgresql", "options": {"connect_timeout": 5, "sslmode": "require"}})
    assert own["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 5
    assert own["DATABASES"]["default"]["OPTIONS"]["sslmode"] == "require"
    assert own["DATABASES"]["default"]["OPTIONS"]["keepalives_idle"] == 10
    assert ns["CACHES"]["default"]["LOCATION"] == "redis://r:6379/1"
    assert ns["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"
    assert (ns["EMAIL_HOST"], ns["EMAIL_PORT"], ns["EMAIL_USE_TLS"]) == ("smtp.example.test", 587, True)
    assert [a if isinstance(a, str) else a[1] for a in ns["ADMINS"]] == ["ops@example.test"]
    assert ns["LOGGING"]["handlers"]["file"]["filename"] == "/srv/example/shared/log/django.log"


def test_sentry_reads_its_dsn_from_the_environment():
    source = render("django_app", SETTINGS, django_app_vars(django_app_sentry_dsn="https://k@sentry.example.test/1"))
    assert 'dsn=os.environ["DJANGO_SENTRY_DSN"]' in source
    assert "sentry.example.test" not in source
    compile(source, "settings_production.py", "exec")


def test_environment_mode_puts_the_settings_in_the_env_file():
    variables = django_app_vars(django_app_settings_mode="environment", django_app_database={"password": "x-1"})
    env = render("django_app", "etc/djangoops/app/env.j2", variables)
    values = dict(line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#"))
    assert values["DJANGO_SETTINGS_MODULE"] == "'exampleproject.settings'"
    assert values["DJANGO_ALLOWED_HOSTS"] == "'example.test,127.0.0.1'"
    assert values["DJANGO_CSRF_TRUSTED_ORIGINS"] == "'https://example.test,https://127.0.0.1'"
    assert values["DJANGO_STATIC_ROOT"] == "'/srv/example/current/static'"
    assert values["DJANGO_DATABASE_NAME"] == "'/srv/example/shared/db/db.sqlite3'"
    assert values["DJANGO_DATABASE_PASSWORD"] == "'x-1'"  # noqa: S105  a stand-in
    assert values["DJANGO_DEBUG"] == "'0'"
    manage = render("django_app", "srv/app/bin/manage.j2", variables)
    assert 'DJANGO_STATIC_ROOT="$release/static"' in manage


SERVERS = ["gunicorn", "gunicorn_uvicorn", "uvicorn", "daphne", "hypercorn", "uwsgi", "granian"]


def app_server_vars(server="gunicorn", **overrides):
    variables = role_vars("app_server")
    variables.update(
        app_server_app={**APP, "asgi_application": "exampleproject.asgi:application"},
        app_server_type=server,
        ansible_facts={"processor_vcpus": 2, "default_ipv4": {"address": "10.0.0.5"}},
        **overrides,
    )
    return variables


# Beside the default (a unix socket), the variants that change the units: a TCP bind, and split
# mode's second server (instance "ws").
VARIANTS = {
    "unix": {},
    "tcp": {"app_server_bind": "127.0.0.1:8004"},
    "ws": {"app_server_instance": "ws"},
}


def test_gunicorn_config_compiles_and_disables_the_control_socket():
    source = render("app_server", "etc/djangoops/app/gunicorn.conf.py.j2", app_server_vars())
    compile(source, "gunicorn.conf.py", "exec")
    namespace = {}
    exec(source, namespace)  # noqa: S102  our own rendered config
    assert namespace["workers"] == 5
    assert namespace["control_socket_disable"] is True
    assert namespace["chdir"] == "/srv/example/current"
    assert namespace["wsgi_app"] == "exampleproject.wsgi:application"


def test_gunicorn_uvicorn_loads_asgi_with_the_maintained_worker():
    source = render("app_server", "etc/djangoops/app/gunicorn.conf.py.j2", app_server_vars("gunicorn_uvicorn"))
    namespace = {}
    exec(source, namespace)  # noqa: S102  our own rendered config
    assert namespace["worker_class"] == "uvicorn_worker.UvicornWorker"
    assert namespace["wsgi_app"] == "exampleproject.asgi:application"
    assert namespace["workers"] == 2  # ASGI: one per CPU


def test_hypercorn_and_uwsgi_configs_parse():
    import configparser
    import tomllib

    hypercorn = tomllib.loads(render("app_server", "etc/djangoops/app/hypercorn.toml.j2", app_server_vars("hypercorn")))
    assert hypercorn["bind"] == ["fd://3"]
    assert hypercorn["workers"] == 2
    parser = configparser.ConfigParser(inline_comment_prefixes=None)
    parser.read_string(render("app_server", "etc/djangoops/app/uwsgi.ini.j2", app_server_vars("uwsgi")))
    uwsgi = parser["uwsgi"]
    assert uwsgi["module"] == "exampleproject.wsgi:application"
    # SIGTERM stops gracefully: die-on-term would kill the requests in flight.
    assert uwsgi["hook-master-start"] == "unix_signal:15 gracefully_kill_them_all"
    assert "die-on-term" not in uwsgi
    assert uwsgi["lazy-apps"] == "true"
    assert uwsgi["processes"] == "5"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed here")
def test_units_pass_systemd_analyze_verify(tmp_path, server, variant):
    variables = app_server_vars(server, **VARIANTS[variant])
    unit_name = "example-ws" if variant == "ws" else "example"
    kinds = ["service"] if server == "granian" else ["socket", "service"]
    for kind in kinds:
        unit = render("app_server", f"etc/systemd/system/app.{kind}.j2", variables)
        # verify needs the binaries the unit runs to exist: point them at stand-ins.
        unit = unit.replace("/srv/example/current/venv/bin/python", "/bin/true")
        (tmp_path / f"{unit_name}.{kind}").write_text(unit, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / f"{unit_name}.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [line for line in result.stderr.splitlines() if "example" in line]
    assert not problems, result.stderr


@pytest.mark.parametrize("server", SERVERS)
def test_a_tcp_bind_listens_on_the_address(server):
    variables = app_server_vars(server, app_server_bind="127.0.0.1:8004")
    service = render("app_server", "etc/systemd/system/app.service.j2", variables)
    if server == "granian":
        assert "--host 127.0.0.1 --port 8004" in service
        assert "--uds" not in service
    else:
        socket = render("app_server", "etc/systemd/system/app.socket.j2", variables)
        assert "ListenStream=127.0.0.1:8004\n" in socket
        assert "SocketUser" not in socket
        # Accepted connections inherit TCP_NODELAY, which uvicorn's --fd never sets itself.
        assert "NoDelay=yes" in socket.splitlines()
        assert "NoDelay" not in render("app_server", "etc/systemd/system/app.socket.j2", app_server_vars(server))
    if server == "daphne":
        assert "--endpoint systemd:domain=INET:index=0" in service
    if server in ("gunicorn", "gunicorn_uvicorn"):
        config = render("app_server", "etc/djangoops/app/gunicorn.conf.py.j2", variables)
        assert 'bind = ["127.0.0.1:8004"]' in config


@pytest.mark.parametrize(
    ("bind", "upstream"),
    [
        ("", "unix:/run/example/app.sock"),
        ("127.0.0.1:8004", "127.0.0.1:8004"),
        ("0.0.0.0:8004", "10.0.0.5:8004"),
        ("[::1]:8004", "[::1]:8004"),
    ],
)
def test_the_exported_upstream_is_where_nginx_reaches_the_server(bind, upstream):
    variables = app_server_vars("gunicorn", app_server_bind=bind)
    assert render_value(variables, "{{ __app_server_upstream }}") == upstream


def test_a_second_instance_has_its_own_unit_socket_and_config():
    variables = app_server_vars("gunicorn_uvicorn", app_server_instance="ws")
    assert render_value(variables, "{{ __app_server_unit }}") == "example-ws"
    assert render_value(variables, "{{ __app_server_config }}") == "/etc/djangoops/example/example-ws.gunicorn.conf.py"
    socket = render("app_server", "etc/systemd/system/app.socket.j2", variables)
    assert "ListenStream=/run/example-ws/app.sock" in socket
    service = render("app_server", "etc/systemd/system/app.service.j2", variables)
    assert "Requires=example-ws.socket" in service
    assert "--config /etc/djangoops/example/example-ws.gunicorn.conf.py" in service


@pytest.mark.parametrize("server", SERVERS)
def test_every_unit_is_hardened_and_loads_the_right_interface(server):
    unit = render("app_server", "etc/systemd/system/app.service.j2", app_server_vars(server))
    for directive in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/srv/example/shared/db /srv/example/shared/media",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "EnvironmentFile=/etc/djangoops/example/env",
        "TimeoutStopSec=40",
    ):
        assert directive in unit, directive
    assert "SECRET" not in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    if server in ("uvicorn", "daphne", "granian"):
        assert "exampleproject.asgi:application" in exec_start
    assert ("Requires=example.socket" in unit) is (server != "granian")
    assert ("ExecReload=" in unit) is (server != "daphne")


CONFIG_FILES = {
    "gunicorn": "gunicorn.conf.py",
    "gunicorn_uvicorn": "gunicorn.conf.py",
    "hypercorn": "hypercorn.toml",
    "uwsgi": "uwsgi.ini",
}
# What each server is told, where it has the setting: replace a worker after N requests, and log
# each request (the ASGI servers that log by default are told not to).
RECYCLING = {
    "gunicorn": ["max_requests = 500", "max_requests_jitter = 50"],
    "gunicorn_uvicorn": ["max_requests = 500", "max_requests_jitter = 50"],
    "uvicorn": ["--limit-max-requests 500 --limit-max-requests-jitter 50"],
    "hypercorn": ["max_requests = 500", "max_requests_jitter = 50"],
    "uwsgi": ["max-requests = 500", "max-requests-delta = 50"],
}
ACCESS_LOG = {
    "gunicorn": ('accesslog = "-"', None),
    "gunicorn_uvicorn": ('accesslog = "-"', None),
    "uvicorn": (None, "--no-access-log"),
    "daphne": (None, "--verbosity 0"),
    "hypercorn": ('accesslog = "-"', None),
    "uwsgi": (None, "disable-logging = true"),
    "granian": ("--access-log", None),
}


def server_settings(server, **overrides):
    """The unit's ExecStart line and the server's own config file, as one text."""
    variables = app_server_vars(server, **overrides)
    unit = render("app_server", "etc/systemd/system/app.service.j2", variables)
    text = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    if server in CONFIG_FILES:
        text += "\n" + render("app_server", f"etc/djangoops/app/{CONFIG_FILES[server]}.j2", variables)
    return text


@pytest.mark.parametrize("server", SERVERS)
def test_workers_are_replaced_only_when_asked(server):
    # 0 is "never": uvicorn and hypercorn read a 0 as a limit (0 plus up to the jitter), so nothing is
    # passed to any server; daphne and granian have no such setting.
    default = server_settings(server)
    assert "max_requests" not in default
    assert "max-requests" not in default
    recycled = server_settings(server, app_server_max_requests=500, app_server_max_requests_jitter=50)
    for setting in RECYCLING.get(server, []):
        assert setting in recycled, setting


@pytest.mark.parametrize("server", SERVERS)
def test_the_access_log_is_nginx_s_unless_asked(server):
    when_on, when_off = ACCESS_LOG[server]
    default, logged = server_settings(server), server_settings(server, app_server_access_log=True)
    if when_on:
        assert when_on not in default
        assert when_on in logged
    if when_off:
        assert when_off in default
        assert when_off not in logged


def render_value(variables, expression):
    return str(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))).strip()


def nginx_vars(release, **site_overrides):
    variables = role_vars("nginx", f"vars/Debian-{release}.yml")
    site = {
        "name": "example",
        "server_names": ["example.test", "www.example.test"],
        "upstream": "unix:/run/example/app.sock",
        "static_root": "/srv/example/current/static",
        "media_root": "/srv/example/shared/media",
        "tls_source": "self_signed",
        "client_max_body_size": "10m",
        "websocket_upstream": "",
        "websocket_paths": [],
        "redirect_names": [],
        "hsts": "max-age=31536000",
        **site_overrides,
    }
    variables.update(site=site, nginx_listen_ipv6=True, __nginx_sites=[site])
    return variables


def balanced(config):
    depth = 0
    for char in config:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    return depth == 0


@pytest.mark.parametrize(("release", "http2_on"), [("12", False), ("13", True)])
def test_nginx_site_uses_the_http2_syntax_of_the_release(release, http2_on):
    site = render("nginx", "etc/nginx/sites-available/site.conf.j2", nginx_vars(release))
    default = render("nginx", "etc/nginx/sites-available/default.conf.j2", nginx_vars(release))
    for config in (site, default):
        assert balanced(config)
        assert ("http2 on;" in config) is http2_on
        assert ("ssl http2" in config) is not http2_on
    assert "server_name example.test www.example.test;" in site
    assert "alias /srv/example/current/static/;" in site
    assert "return 444;" in default


def test_nginx_global_config_is_hardened():
    config = render("nginx", "etc/nginx/nginx.conf.j2", nginx_vars("12"))
    assert balanced(config)
    assert "server_tokens off;" in config
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in config
    assert "ssl_dhparam /etc/nginx/ffdhe2048.pem;" in config
    assert "ssl_session_tickets off;" in config
    assert "brotli on;" in config


def test_nginx_modern_profile_is_tls13_only():
    config = render("nginx", "etc/nginx/nginx.conf.j2", {**nginx_vars("13"), "nginx_tls_profile": "modern"})
    assert "ssl_protocols TLSv1.3;" in config
    assert "ssl_ciphers" not in config
    assert "ssl_dhparam" not in config


def test_nginx_default_server_rejects_unknown_names():
    default = render("nginx", "etc/nginx/sites-available/default.conf.j2", nginx_vars("12"))
    assert "ssl_reject_handshake on;" in default
    assert "ssl_certificate" not in default


def test_nginx_site_caches_hashed_static_files_and_disarms_uploads():
    site = render("nginx", "etc/nginx/sites-available/site.conf.j2", nginx_vars("12"))
    static = site[site.index("location /static/ {") : site.index("location /media/ {")]
    assert 'location ~ "\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$" {' in static
    assert 'add_header Cache-Control "public, max-age=31536000, immutable" always;' in static
    media = site[site.index("location /media/ {") : site.rindex("location / {")]
    assert "add_header Content-Security-Policy \"default-src 'none'; sandbox\" always;" in media
    assert "add_header Content-Disposition attachment always;" in media
    assert "svg" in media
    # Every location that sets headers sets HSTS too (add_header does not inherit into one that has its own).
    for block in site.split("location ")[1:]:
        own = block[: block.find("location ") if "location " in block else len(block)]
        if "add_header" in own and "Cache-Control" not in own.split("add_header")[0]:
            assert "Strict-Transport-Security" in own or "return 301" in own, own[:200]


def test_nginx_redirect_names_go_to_the_first_server_name():
    site = render("nginx", "etc/nginx/sites-available/site.conf.j2", nginx_vars("12", redirect_names=["www2.example.test"]))
    assert balanced(site)
    redirect = site[site.index("server_name www2.example.test;") :]
    assert redirect.index("return 301 https://example.test$request_uri;") < redirect.index("}")
    assert "server_name example.test www.example.test www2.example.test;" in site  # port 80, for ACME too
    assert "location ^~ /.well-known/acme-challenge/ {" in site


def test_nginx_site_keeps_upstream_connections_alive():
    site = render("nginx", "etc/nginx/sites-available/site.conf.j2", nginx_vars("12"))
    assert "keepalive 16;" in site
    assert "proxy_next_upstream error timeout;" in site
    assert "non_idempotent;" not in site


def test_a_pooled_site_shares_its_failed_hosts_and_connects_within_half_a_second():
    pooled = render(
        "nginx", "etc/nginx/sites-available/site.conf.j2", nginx_vars("12", pool=[{"host": "app1", "address": "10.0.0.11:8000"}])
    )
    assert "zone example_app 64k;" in pooled
    assert "proxy_connect_timeout 500ms;" in pooled
    alone = render("nginx", "etc/nginx/sites-available/site.conf.j2", nginx_vars("12"))
    assert "zone " not in alone
    assert "proxy_connect_timeout 5s;" in alone


def test_nginx_split_mode_sends_the_websocket_paths_to_the_asgi_server():
    site = render(
        "nginx",
        "etc/nginx/sites-available/site.conf.j2",
        nginx_vars("12", websocket_upstream="unix:/run/example-ws/app.sock", websocket_paths=["/ws/", "/live/"]),
    )
    assert balanced(site)
    assert "upstream example_ws {\n    server unix:/run/example-ws/app.sock fail_timeout=0;" in site
    for path in ("/ws/", "/live/"):
        block = site[site.index(f"location ^~ {path} {{") :]
        block = block[: block.index("}")]
        assert "proxy_pass http://example_ws;" in block
        assert "proxy_set_header Upgrade $http_upgrade;" in block
    plain = render("nginx", "etc/nginx/sites-available/site.conf.j2", nginx_vars("12"))
    assert "example_ws" not in plain
    assert plain.count("proxy_pass") == 1


@pytest.mark.parametrize("kind", ["worker", "beat"])
def test_celery_units_are_hardened_and_verify(tmp_path, kind):
    variables = role_vars("celery")
    variables.update(
        celery_app={**APP, "settings_module": "exampleproject.settings_production"},
        ansible_facts={"processor_vcpus": 2},
        __celery_role=kind,
    )
    unit = render("celery", "etc/systemd/system/celery.service.j2", variables)
    assert f"--app exampleproject {kind}" in unit
    assert "KillMode=mixed" in unit
    assert "CapabilityBoundingSet=\n" in unit
    assert "ReadWritePaths=/srv/example/shared/db /srv/example/shared/media /srv/example/shared/celery" in unit
    if kind == "worker":
        assert "--concurrency 2" in unit
        assert "--hostname example@%%h" in unit  # systemd turns %% into %; Celery puts the hostname for %h
    else:
        assert "--schedule /srv/example/shared/celery/beat-schedule" in unit
    if shutil.which("systemd-analyze"):
        path = tmp_path / f"example-celery-{kind}.service"
        # verify needs the binary the unit runs to exist: a stand-in.
        path.write_text(unit.replace("/srv/example/current/venv/bin/python", "/bin/true"))
        result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True, check=False)
        assert not [line for line in result.stderr.splitlines() if "example" in line], result.stderr


ENV_PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
os.environ["ALREADY_SET"] = "kept"
import proj.wsgi
print(json.dumps({name: os.environ.get(name) for name in ("DJANGO_SECRET_KEY", "ALREADY_SET", "DATABASE_URL", "EMPTY")}))
"""


@pytest.mark.parametrize("mod_wsgi", [True, False])
def test_wsgi_reads_the_env_file_only_for_mod_wsgi(tmp_path, mod_wsgi):
    """mod_wsgi's daemons read no EnvironmentFile=: the rendered wsgi.py loads the env file as
    systemd would (quotes off, names already set win); for the other servers it leaves it alone."""
    env_file = tmp_path / "env"
    env_file.write_text(
        "# comment\nDJANGO_SECRET_KEY='" + "k" * 60 + "'\nALREADY_SET='from the file'\n"
        "DATABASE_URL='sqlite:////srv/example/shared/db/db.sqlite3'\nEMPTY=''\n"
    )
    project = tmp_path / "proj"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "settings.py").write_text("SECRET_KEY = 'x' * 50\nALLOWED_HOSTS = []\nROOT_URLCONF = 'proj.urls'\nDATABASES = {}\n")
    (project / "urls.py").write_text("urlpatterns = []\n")
    variables = django_app_vars(
        django_app_project_module="proj",
        django_app_settings_module="proj.settings",
        django_app_mod_wsgi=mod_wsgi,
        __django_app_env_file=str(env_file),
    )
    (project / "wsgi.py").write_text(render("django_app", "srv/app/release/project/wsgi.py.j2", variables))
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SECRET_KEY", "DATABASE_URL", "EMPTY")}
    result = subprocess.run([sys.executable, "-c", ENV_PROBE, str(tmp_path)], capture_output=True, text=True, check=True, env=env)
    seen = json.loads(result.stdout)
    if mod_wsgi:
        assert seen == {
            "DJANGO_SECRET_KEY": "k" * 60,
            "ALREADY_SET": "kept",
            "DATABASE_URL": "sqlite:////srv/example/shared/db/db.sqlite3",
            "EMPTY": "",
        }
    else:
        assert seen == {"DJANGO_SECRET_KEY": None, "ALREADY_SET": "kept", "DATABASE_URL": None, "EMPTY": None}


def apache_vars(release, **site_overrides):
    variables = role_vars("apache")
    site = {
        "name": "example",
        "server_names": ["example.test", "localhost"],
        "static_root": "/srv/example/current/static",
        "media_root": "/srv/example/shared/media",
        "tls_source": "self_signed",
        "client_max_body_size": "10m",
        "redirect_names": [],
        "hsts": "max-age=31536000",
        "wsgi": {
            "script": "/srv/example/current/exampleproject/wsgi.py",
            "python_home": "/srv/example/current/venv",
            "home": "/srv/example/current",
            "user": "example",
            "group": "example",
            "processes": 5,
            "threads": 1,
            "request_timeout": 30,
            "graceful_timeout": 30,
            "max_requests": 0,
            "read_write_paths": ["/srv/example/shared/db", "/srv/example/shared/media"],
        },
        **site_overrides,
    }
    variables.update(site=site, __apache_sites=[site], ansible_distribution_major_version=release)
    return variables


def test_apache_site_runs_the_app_in_its_own_daemon_and_serves_static_and_media():
    site = render("apache", "etc/apache2/sites-available/site.conf.j2", apache_vars("12"))
    daemon = next(line.strip() for line in site.splitlines() if line.strip().startswith("WSGIDaemonProcess"))
    assert daemon.startswith("WSGIDaemonProcess example user=example group=example processes=5 threads=1 ")
    assert "python-home=/srv/example/current/venv" in daemon
    assert "maximum-requests" not in daemon
    assert "WSGIScriptAlias / /srv/example/current/exampleproject/wsgi.py process-group=example application-group=%{GLOBAL}" in site
    assert "WSGIApplicationGroup %{GLOBAL}" in site
    assert "LimitRequestBody 10485760" in site
    assert "Alias /static/ /srv/example/current/static/" in site
    assert 'Header always set Cache-Control "public, max-age=31536000, immutable"' in site
    media = site[site.index("Alias /media/") :]
    assert "SetHandler none" in media
    assert "Header always set Content-Disposition attachment" in media
    assert "RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI} [R=301,L]" in site
    # Nothing of the app's settings or secrets: its wsgi.py reads the env file.
    assert "SetEnv" not in site
    assert "/etc/djangoops" not in site
    assert site.count("<VirtualHost") == site.count("</VirtualHost>") == 2


def test_apache_redirects_other_names_and_the_public_port():
    variables = {**apache_vars("13", redirect_names=["www.example.test"]), "apache_https_public_port": 8443}
    site = render("apache", "etc/apache2/sites-available/site.conf.j2", variables)
    assert site.count("<VirtualHost *:443>") == 2
    assert "RewriteRule ^ https://example.test:8443%{REQUEST_URI} [R=301,L]" in site


@pytest.mark.parametrize(
    ("profile", "protocols", "dhparam"), [("intermediate", "-all +TLSv1.2 +TLSv1.3", True), ("modern", "-all +TLSv1.3", False)]
)
def test_apache_global_config_follows_the_tls_profile(profile, protocols, dhparam):
    config = render("apache", "etc/apache2/conf-available/djangoops.conf.j2", {**apache_vars("12"), "apache_tls_profile": profile})
    assert f"SSLProtocol {protocols}" in config
    assert ("DHParameters" in config) is dhparam
    assert ("SSLCipherSuite" in config) is dhparam
    for line in ("ServerTokens Prod", "ServerSignature Off", "SSLSessionTickets off", "Protocols h2 http/1.1", "WSGIRestrictEmbedded On"):
        assert line in config


def test_apache_sandbox_lists_the_apps_writable_folders():
    dropin = render("apache", "etc/systemd/system/apache2.service.d/djangoops-hardening.conf.j2", apache_vars("12"))
    assert "ReadWritePaths=/srv/example/shared/db /srv/example/shared/media" in dropin
    assert "ProtectSystem=strict" in dropin


METRICS_PROBE = """
import asyncio, io, sys
sys.path.insert(0, sys.argv[1])
from proj.wsgi import application
from proj.asgi import application as asgi_application
def call(path, method="GET"):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "SERVER_NAME": "x", "SERVER_PORT": "80",
               "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http", "HTTP_HOST": "example.test"}
    body = application(environ, lambda status, headers, exc_info=None: None)
    b"".join(body)
    body.close()
for _ in range(3):
    call("/healthz")
call("/nope", "BREW")
async def asgi():
    scope = {"type": "http", "method": "GET", "path": "/nope", "headers": [(b"host", b"example.test")],
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("x", 80)}
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays until the answer
    async def send(message):
        pass
    await asgi_application(scope, receive, send)
asyncio.run(asgi())
"""


def test_the_request_metrics_count_each_request_and_serve_the_workers_sum(tmp_path):
    """With django_app_metrics_port, wsgi.py and asgi.py count every request (the health path's
    too) by method and status class in the multiprocess folder; the module serves their sum."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    project = tmp_path / "releases" / "abc" / "proj"
    project.mkdir(parents=True)
    (project / "__init__.py").write_text("")
    (project / "settings.py").write_text(
        f"SECRET_KEY = 'x' * 50\nALLOWED_HOSTS = ['example.test']\nROOT_URLCONF = 'proj.urls'\n"
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': {str(tmp_path / 'db.sqlite3')!r}}}}}\n"
    )
    (project / "urls.py").write_text("urlpatterns = []\n")
    variables = django_app_vars(
        django_app_project_module="proj",
        django_app_settings_module="proj.settings",
        django_app_metrics_port=9808,
        django_app_metrics_dir=str(metrics_dir),
        django_app_asgi_middleware=[],
    )
    for name in ("wsgi.py", "asgi.py", "djangoops_metrics.py"):
        (project / name).write_text(render("django_app", f"srv/app/release/project/{name}.j2", variables))
    environment = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    subprocess.run([sys.executable, "-c", METRICS_PROBE, str(tmp_path / "releases" / "abc")], check=True, env=environment)
    # Another process (the metrics unit) adds up what the workers wrote.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-I", str(project / "djangoops_metrics.py"), "127.0.0.1", str(port)], env=environment)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                    text = answer.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert samples['djangoops_http_requests_total{app="example",method="GET",status="2xx"}'] == 3
    assert samples['djangoops_http_requests_total{app="example",method="other",status="4xx"}'] == 1
    assert samples.get('djangoops_http_requests_total{app="example",method="GET",status="4xx"}') == 1, text
    assert samples['djangoops_http_request_duration_seconds_count{app="example"}'] == 5
    assert not list((project).glob("*.db")), "the metrics go to the multiprocess folder only"
    assert list(metrics_dir.glob("*.db"))


def test_without_a_metrics_port_nothing_wraps_the_app():
    for template in ("wsgi.py.j2", "asgi.py.j2"):
        source = render("django_app", f"srv/app/release/project/{template}", django_app_vars())
        assert "djangoops_metrics" not in source
        assert "PROMETHEUS_MULTIPROC_DIR" not in source
