from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.text


class Upload(models.Model):
    file = models.FileField(upload_to="uploads/")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.file.name


class Heartbeat(models.Model):
    """Counts the runs of the periodic task that celery beat schedules (see notes/tasks.py)."""

    beats = models.PositiveIntegerField(default=0)
    last = models.DateTimeField(null=True)
