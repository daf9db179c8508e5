from django.urls import path

from . import views

app_name = "sms_demo"
urlpatterns = [
    path("", views.send, name="send"),
    path("sms/<int:pk>/", views.detail, name="detail"),
]
