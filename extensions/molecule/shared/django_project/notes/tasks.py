"""Celery tasks of the example: one the site enqueues, one beat schedules."""

from django.db.models import F
from django.utils import timezone
from exampleproject.celery import app

from .models import Heartbeat, Note


@app.task
def add_note(text):
    """Write a note in the background; returns the number of notes."""
    Note.objects.create(text=text)
    return Note.objects.count()


@app.task
def heartbeat():
    """Count a beat; celery beat runs this every EXAMPLE_HEARTBEAT_SECONDS."""
    Heartbeat.objects.get_or_create(pk=1)
    Heartbeat.objects.filter(pk=1).update(beats=F("beats") + 1, last=timezone.now())
