from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from books.models import Book, Export


def index(request):
    if request.method == "POST" and request.POST.get("title"):
        Book.objects.create(title=request.POST["title"][:200])
        return redirect("index")
    books = Book.objects.order_by("-added")[: settings.BOOKS_PER_PAGE]
    return render(request, "books/index.html", {"books": books, "title": settings.SITE_TITLE})


@require_POST
def export(request):
    job = Export.objects.create()
    return redirect("export-file", number=job.pk)


def export_file(request, number):
    """The export the worker wrote, once it has."""
    path = settings.EXPORTS_DIR / f"books-{number}.txt"
    if not path.is_file():
        raise Http404("not written yet")
    return FileResponse(path.open("rb"), content_type="text/plain; charset=utf-8")
