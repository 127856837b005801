"""ASGI entry point for local use; the deployment renders its own, with the same wrapping."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
django_application = get_asgi_application()

from exampleproject.websocket import EchoWebSocket  # noqa: E402  Django must be set up first

application = EchoWebSocket(django_application)
