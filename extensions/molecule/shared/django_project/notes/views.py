import asyncio
import socket
import time

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from notes.forms import NoteForm, UploadForm
from notes.models import Note, Upload


def index(request):
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("index")
    context = {
        "form": form,
        "upload_form": UploadForm(),
        "notes": Note.objects.all()[:50],
        "note_count": Note.objects.count(),
        "uploads": Upload.objects.all()[:20],
        "release": settings.RELEASE_ID,
    }
    return render(request, "notes/index.html", context)


def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        form.save()
    return redirect("index")


@never_cache
def healthz(request):
    """Answers 200 with the release id and the host's name when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001  any database failure makes the host unhealthy
        return JsonResponse({"status": "error", "error": exc.__class__.__name__}, status=503)
    return JsonResponse({"status": "ok", "release": settings.RELEASE_ID, "host": socket.gethostname()})


@never_cache
def slow(request):
    """Answers after ?ms= milliseconds (at most 10 s): a request still in flight when a reload or
    deploy comes, for the benchmarks that measure what servers do to those."""
    try:
        delay = min(max(int(request.GET.get("ms", "1000")), 0), 10_000)
    except ValueError:
        delay = 1000
    time.sleep(delay / 1000)
    return JsonResponse({"slept_ms": delay, "release": settings.RELEASE_ID})


# The benchmark's endpoints (make bench): a plain response, a template render, a database read.
def bench_plain(request):
    return HttpResponse("ok\n", content_type="text/plain")


def bench_template(request):
    return render(request, "notes/bench.html", {"items": range(100)})


def bench_db(request):
    notes = list(Note.objects.values("id", "text", "created")[:50])
    return JsonResponse({"notes": notes})


async def bench_wait(request):
    """50 ms of non-blocking wait, as for an outside API's answer, then a short text."""
    await asyncio.sleep(0.05)
    return HttpResponse("ok\n", content_type="text/plain")


async def bench_async_db(request):
    notes = [note async for note in Note.objects.values("id", "text", "created")[:50]]
    return JsonResponse({"notes": notes})
