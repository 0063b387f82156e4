from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import include, path


@login_required
def home(request):
    """Operators land on their dashboard, everyone else on their own subscriptions."""
    return redirect("monitoring:dashboard" if request.user.is_staff else "alerts:subscription_list")


urlpatterns = [
    path("", home, name="home"),
    # Every user signs in here (the admin's own login page admits staff only).
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Users' own alert subscriptions (alerts/urls.py).
    path("subscriptions/", include("alerts.urls")),
    # Operators: /health/, task history and schedules, dead letters (monitoring/urls.py),
    # the JSON API under /api/ and /metrics (monitoring/api_urls.py).
    path("", include("monitoring.urls")),
    path("", include("monitoring.api_urls")),
]
