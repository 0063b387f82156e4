from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", login_required(RedirectView.as_view(url="/admin/", permanent=False)), name="home"),
    path("admin/", admin.site.urls),
    # Users' own alert subscriptions (alerts/urls.py).
    path("subscriptions/", include("alerts.urls")),
    # Operators: /health/, task history and schedules, dead letters (monitoring/urls.py),
    # the JSON API under /api/ and /metrics (monitoring/api_urls.py).
    path("", include("monitoring.urls")),
    path("", include("monitoring.api_urls")),
]
