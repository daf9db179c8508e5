from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from two_factor.urls import urlpatterns as two_factor_urls

from example_project.sms_demo.views import CodeLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Two-factor login (django-two-factor-auth; codes by SMS through django-smsrest). The
    # login page is ours: it says so when the code could not be sent.
    path("account/login/", CodeLoginView.as_view(), name="two_factor_login"),
    path("", include(two_factor_urls)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("example_project.sms_demo.urls")),
]
