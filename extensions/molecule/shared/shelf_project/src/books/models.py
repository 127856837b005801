from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=200)
    added = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.title


class Export(models.Model):
    """A request for a text file of the books, which the worker process writes."""

    requested = models.DateTimeField(auto_now_add=True)
    done = models.BooleanField(default=False)
