"""The 503 the apps answer while their database or cache is away, run through Django's own
request handling (sync and async), against a real SQLite file that cannot be opened."""

import json
import subprocess
import sys
import textwrap

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
