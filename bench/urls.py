"""URLs of the benchmark project: the admin only (the changelist benchmark renders it)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
