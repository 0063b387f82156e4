from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import include, path

from capitolscope import accounts


@login_required
def home(request):
    """Operators land on their dashboard, everyone else on their own subscriptions."""
    return redirect("monitoring:dashboard" if request.user.is_staff else "alerts:subscription_list")


urlpatterns = [
    path("", home, name="home"),
    # Every user signs in here (the admin's own login page admits staff only).
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Self-service accounts (capitolscope/accounts.py): sign-up, then an emailed link confirms
    # the address and activates the account. Public, like the login page.
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/signup/done/", accounts.signup_done, name="signup_done"),
    path("accounts/confirm/resend/", accounts.confirm_resend, name="account_confirm_resend"),
    path("accounts/confirm/<str:token>/", accounts.confirm, name="account_confirm"),
    # Forgotten password (public) and password change (signed-in users): Django's views, our
    # templates in capitolscope/templates/registration/. The names are the ones Django's
    # views redirect to.
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    # Users' own alert subscriptions (alerts/urls.py).
    path("subscriptions/", include("alerts.urls")),
    # Operators: /health/, task history and schedules, dead letters (monitoring/urls.py),
    # the JSON API under /api/ and /metrics (monitoring/api_urls.py).
    path("", include("monitoring.urls")),
    path("", include("monitoring.api_urls")),
]
