"""The 503 the apps answer while their database or cache is away, run through Django's own
request handling (sync and async), against a real SQLite file that cannot be opened."""

import json
import socket
import subprocess
import sys
import textwrap
import time

from test_templates import django_app_vars

from conftest import render

MIDDLEWARE = "srv/app/release/project/djangoops_middleware.py.j2"

PROJECT = """
import asyncio, json, sys
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF="urls",
    MIDDLEWARE=["djangoops_middleware.ServiceUnavailableMiddleware"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    LOGGING_CONFIG=None,
)
django.setup()
from django.test import AsyncClient, Client

client, aclient = Client(raise_request_exception=False), AsyncClient(raise_request_exception=False)
answers = {}
for path in ("/rows", "/broken", "/redis", "/ok"):
    response = client.get(path)
    answers[path] = [response.status_code, response.get("Retry-After")]
    response = asyncio.run(aclient.get(path))
    answers["async " + path] = [response.status_code, response.get("Retry-After")]
print(json.dumps(answers))
"""

URLS = """
from django.db import connection
from django.http import HttpResponse
from django.urls import path


def rows(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("rows")


def broken(request):
    raise ValueError("a bug, not an outage")


class ConnectionError(Exception):  # noqa: A001  the redis package's name, as the cache raises it
    __module__ = "redis.exceptions"


def redis(request):
    raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")


def ok(request):
    return HttpResponse("ok")


urlpatterns = [path("rows", rows), path("broken", broken), path("redis", redis), path("ok", ok)]
"""


def test_a_lost_database_or_cache_answers_503_and_a_bug_still_500(tmp_path):
    (tmp_path / "djangoops_middleware.py").write_text(render("django_app", MIDDLEWARE, django_app_vars()))
    (tmp_path / "urls.py").write_text(textwrap.dedent(URLS))
    (tmp_path / "project.py").write_text(textwrap.dedent(PROJECT))
    # A database file in a folder that does not exist: sqlite3 raises OperationalError on connect.
    result = subprocess.run(
        [sys.executable, "project.py", str(tmp_path / "gone" / "db.sqlite3")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answers = json.loads(result.stdout)
    for mode in ("", "async "):
        assert answers[mode + "/rows"] == [503, "5"]
        assert answers[mode + "/redis"] == [503, "5"]
        assert answers[mode + "/broken"] == [500, None]
        assert answers[mode + "/ok"] == [200, None]


BACKEND_PROJECT = """
import json, socket, sys, time
import django
from django.conf import settings

settings.configure(
    DATABASES={"default": {"ENGINE": "djangoops_postgresql", "HOST": "127.0.0.1", "PORT": sys.argv[1], "NAME": "x", "USER": "x"}},
)
django.setup()
from django.db import OperationalError, connection

def attempt():
    started = time.monotonic()
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        return [round(time.monotonic() - started, 3), str(exc)]
    return [round(time.monotonic() - started, 3), "connected"]

first = attempt()
second = attempt()
time.sleep(1.1)
third = attempt()
print(json.dumps([first, second, third]))
"""


def test_the_backend_gives_up_on_a_silent_server_at_once_and_tries_again_after_a_second(tmp_path):
    """A server that accepts no connection and answers nothing (a listening socket whose queue is
    full drops new SYNs, as a host that went away does): the first request fails after the
    probe's 0.5 s instead of libpq's 2 s, the next at once, and one after the pause tries again."""
    package = tmp_path / "djangoops_postgresql"
    package.mkdir()
    for name in ("__init__.py", "base.py"):
        template = f"srv/app/release/project/djangoops_postgresql/{name}.j2"
        (package / name).write_text(render("django_app", template, django_app_vars(django_app_database={"engine": "postgresql"})))
    (tmp_path / "project.py").write_text(textwrap.dedent(BACKEND_PROJECT))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        # Fill the accept queue; the kernel then drops the SYNs of any further connection.
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(silent.getsockname())
            fillers.append(filler)
        time.sleep(0.2)
        result = subprocess.run(
            [sys.executable, "project.py", str(silent.getsockname()[1])],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        for filler in fillers:
            filler.close()
    (first, first_error), (second, second_error), (third, third_error) = json.loads(result.stdout)
    assert 0.4 <= first < 1.5, (first, first_error)
    assert "cannot be reached" in first_error
    assert second < 0.1, (second, second_error)
    assert "not tried again yet" in second_error
    assert 0.4 <= third < 1.5, (third, third_error)
    assert "cannot be reached" in third_error
