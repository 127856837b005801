"""shelf in production: behind a proxy that terminates TLS."""

import os

from .base import *  # noqa: F403  # pylint: disable=wildcard-import,unused-wildcard-import
from .base import env_bool

SECURE_PROXY_SSL_HEADER = tuple(os.environ.get("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO,https").split(",", 1))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", "True")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", "True")
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", "True")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
# The books pages are framed by the team's own intranet portal.
X_FRAME_OPTIONS = "SAMEORIGIN"
