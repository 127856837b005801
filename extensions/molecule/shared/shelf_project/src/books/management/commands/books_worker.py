"""The worker process: writes the requested exports into EXPORTS_DIR until it is told to stop."""

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from books.models import Book, Export


class Command(BaseCommand):
    help = "Write requested exports, every few seconds, until SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, **options):
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stderr.write(f"books_worker: writing exports into {settings.EXPORTS_DIR}")
        while not stopping:
            for job in Export.objects.filter(done=False).order_by("pk"):
                titles = "\n".join(Book.objects.order_by("title").values_list("title", flat=True))
                (settings.EXPORTS_DIR / f"books-{job.pk}.txt").write_text(titles + "\n", encoding="utf-8")
                job.done = True
                job.save(update_fields=["done"])
                self.stderr.write(f"books_worker: wrote export {job.pk}")
            time.sleep(options["interval"])
        self.stderr.write("books_worker: stopped")
