from books import views
from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("", views.index, name="index"),
    path("export", views.export, name="export"),
    path("exports/<int:number>", views.export_file, name="export-file"),
    path("admin/", admin.site.urls),
]
