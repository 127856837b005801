"""Settings of the example project for the deployment's environment mode.

With django_app_settings_mode "environment", the deployment renders no settings module: it
writes what it owns to the env file as DJANGO_* variables, and DJANGO_SETTINGS_MODULE names this
module. This is how a project that already reads its settings from the environment plugs in;
the variable names are those of docs/getting-started.md.
"""

import os
from pathlib import Path

import django

# Django's layered settings: every name of the base module, then the overrides below.
from exampleproject.settings import *  # noqa: F403  # pylint: disable=wildcard-import,unused-wildcard-import
from exampleproject.settings import BASE_DIR


def _flag(name):
    return os.environ.get(name, "0") == "1"


def _list(name, separator=","):
    return [item for item in os.environ.get(name, "").split(separator) if item]


SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
SECRET_KEY_FALLBACKS = _list("DJANGO_SECRET_KEY_FALLBACKS", separator=" ")
DEBUG = _flag("DJANGO_DEBUG")
ALLOWED_HOSTS = _list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = _list("DJANGO_CSRF_TRUSTED_ORIGINS")

if os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = tuple(os.environ["DJANGO_SECURE_PROXY_SSL_HEADER"].split(",", 1))
SECURE_SSL_REDIRECT = _flag("DJANGO_SECURE_SSL_REDIRECT")
SESSION_COOKIE_SECURE = _flag("DJANGO_SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = _flag("DJANGO_CSRF_COOKIE_SECURE")
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = _flag("DJANGO_SECURE_HSTS_PRELOAD")

STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "static"))
MEDIA_ROOT = os.environ.get("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media"))
FILE_UPLOAD_PERMISSIONS = 0o640
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}

_engine = os.environ.get("DJANGO_DATABASE_ENGINE", "sqlite3")
DATABASES = {
    "default": {
        "ENGINE": f"django.db.backends.{_engine}",
        "NAME": os.environ.get("DJANGO_DATABASE_NAME", str(BASE_DIR / "db.sqlite3")),
        "USER": os.environ.get("DJANGO_DATABASE_USER", ""),
        "PASSWORD": os.environ.get("DJANGO_DATABASE_PASSWORD", ""),
        "HOST": os.environ.get("DJANGO_DATABASE_HOST", ""),
        "PORT": os.environ.get("DJANGO_DATABASE_PORT", ""),
        "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "0")),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": (
            {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", "transaction_mode": "IMMEDIATE"}
            if _engine == "sqlite3"
            else {}
        ),
    }
}

if os.environ.get("DJANGO_CACHE_LOCATION"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["DJANGO_CACHE_LOCATION"],
        }
    }
if _flag("DJANGO_CACHED_SESSIONS"):
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

if os.environ.get("DJANGO_EMAIL_HOST"):
    EMAIL_HOST = os.environ["DJANGO_EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT") or 25)
    EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = _flag("DJANGO_EMAIL_USE_TLS")
    EMAIL_USE_SSL = _flag("DJANGO_EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "webmaster@localhost")
SERVER_EMAIL = os.environ.get("DJANGO_SERVER_EMAIL", "root@localhost")
ADMINS = _list("DJANGO_ADMINS")
MANAGERS = _list("DJANGO_MANAGERS")
if django.VERSION < (6, 0):  # addresses from Django 6 on, (name, address) pairs before
    ADMINS = [(address, address) for address in ADMINS]
    MANAGERS = [(address, address) for address in MANAGERS]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"django": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"), "propagate": False}},
}

# The release this code runs from: the deployment's releases/<id>/ folder.
RELEASE_ID = Path(__file__).resolve().parent.parent.name
