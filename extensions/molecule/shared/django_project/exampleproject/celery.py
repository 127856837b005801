"""The project's Celery app, as in Celery's "First steps with Django". The broker comes from the
environment (CELERY_BROKER_URL, which the deployment's env file carries); beat runs the
heartbeat every EXAMPLE_HEARTBEAT_SECONDS (60 by default)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")

app = Celery("exampleproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.broker_url = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")
app.conf.broker_connection_retry_on_startup = True
app.conf.beat_schedule = {
    "heartbeat": {"task": "notes.tasks.heartbeat", "schedule": float(os.environ.get("EXAMPLE_HEARTBEAT_SECONDS", "60"))},
}
app.autodiscover_tasks()
