from django.contrib import admin
from django.urls import path
from notes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("upload/", views.upload, name="upload"),
    path("healthz", views.healthz, name="healthz"),
    path("slow", views.slow, name="slow"),
    path("bench/plain", views.bench_plain),
    path("bench/template", views.bench_template),
    path("bench/db", views.bench_db),
    path("bench/wait", views.bench_wait),
    path("bench/async-db", views.bench_async_db),
    path("admin/", admin.site.urls),
]
