"""``path("sms/", include("django_smsrest.urls"))``: the delivery-callback endpoint
(:mod:`django_smsrest.views`), at ``sms/callback/<token>/``."""

from __future__ import annotations

from django.urls import path

from django_smsrest import views

app_name = "django_smsrest"

urlpatterns = [
    path("callback/<str:token>/", views.delivery_callback, name="delivery_callback"),
]
