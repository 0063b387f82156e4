from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", login_required(RedirectView.as_view(url="/admin/", permanent=False)), name="home"),
    path("admin/", admin.site.urls),
    path("", include("monitoring.urls")),
]
