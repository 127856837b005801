from django.contrib import admin

from notes.models import Note, Upload

admin.site.register(Note)
admin.site.register(Upload)
