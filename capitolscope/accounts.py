"""Self-service accounts: sign-up with email confirmation, and the login page's form.

A new account is created inactive and told a signed, expiring link
(``ACCOUNTS_CONFIRM_MAX_AGE_DAYS``). Opening the link shows a button; pressing it (a POST, so
mail scanners that prefetch links and cross-site pages cannot do it) activates the account,
signs the user in and sends them to their subscriptions. A link works once: it is good only
while the account is inactive and has never signed in, so it can neither be replayed nor
revive an account an operator has deactivated. Password reset and change are Django's own
views (capitolscope/urls.py) with our templates.

The resend form never says whether an address is registered; the sign-up form does (it must
refuse a duplicate address), which is the usual trade-off.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import Enum

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.http import require_http_methods

logger = logging.getLogger(__name__)

CONFIRM_SALT = "capitolscope.accounts.confirm"


# --- Services -----------------------------------------------------------------------------


class LinkProblem(Enum):
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"


def _address_digest(email: str) -> str:
    # Links end up in access logs: bind the token to the address without spelling it out.
    return salted_hmac(CONFIRM_SALT, email.lower()).hexdigest()[:20]


def confirmation_token_make(*, user: AbstractBaseUser) -> str:
    """A signed, timestamped token naming the account and the address it was sent to."""
    return signing.dumps({"u": user.pk, "e": _address_digest(user.email)}, salt=CONFIRM_SALT)


def confirmation_url(*, user: AbstractBaseUser) -> str:
    token = confirmation_token_make(user=user)
    return settings.SITE_URL + reverse("account_confirm", kwargs={"token": token})


def confirmation_check(*, token: str) -> tuple[AbstractBaseUser | None, LinkProblem | None]:
    """The inactive, never-signed-in account a token confirms, or what is wrong with it."""
    max_age = timedelta(days=settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS)
    try:
        payload = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
    except signing.SignatureExpired:
        return None, LinkProblem.EXPIRED
    except signing.BadSignature:
        return None, LinkProblem.INVALID
    if not isinstance(payload, dict):
        return None, LinkProblem.INVALID
    user = get_user_model().objects.filter(pk=payload.get("u")).first()
    if user is None or not constant_time_compare(_address_digest(user.email), payload.get("e")):
        return None, LinkProblem.INVALID
    if user.is_active:
        return None, LinkProblem.USED
    if user.last_login is not None:
        # It was active once and an operator deactivated it: an old link must not revive it.
        return None, LinkProblem.INVALID
    return user, None


def confirmation_send(*, user: AbstractBaseUser) -> bool:
    """Email the confirmation link; False (logged) when the mail server refused it."""
    context = {
        "user": user,
        "url": confirmation_url(user=user),
        "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS,
        "site_url": settings.SITE_URL,
    }
    subject = render_to_string("registration/confirm_email_subject.txt", context)
    body = render_to_string("registration/confirm_email.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [user.email])
    except Exception:
        logger.exception("Sending the confirmation email to user %s failed", user.pk)
        return False
    return True


DUPLICATE_EMAIL = (
    "An account with this email address already exists. Log in, or reset its password if you "
    "have forgotten it."
)


def account_signup(*, form: SignUpForm) -> AbstractBaseUser | None:
    """Create the inactive account from a valid form; None (and the form told why) when its
    username or address was taken by a sign-up that finished after the form was checked."""
    email = form.cleaned_data["email"]
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # auth_user has no unique index on lower(email): serialise sign-ups with one
                # address so two of them cannot both pass the check below.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))",
                        [f"accounts.signup:{email.lower()}"],
                    )
            if get_user_model().objects.filter(email__iexact=email).exists():
                form.add_error("email", forms.ValidationError(DUPLICATE_EMAIL, code="duplicate"))
                return None
            return form.save()
    except IntegrityError:
        # The username's unique index caught a simultaneous sign-up with the same name.
        form.add_error("username", "A user with that username already exists.")
        return None


def account_activate(*, user: AbstractBaseUser) -> bool:
    """Activate a confirmed account; False when another request already did (a used link)."""
    activated = (
        get_user_model()
        .objects.filter(pk=user.pk, is_active=False, last_login=None)
        .update(is_active=True)
    )
    if activated:
        user.is_active = True
    return activated == 1


# --- Forms --------------------------------------------------------------------------------


class SignUpForm(UserCreationForm):
    """Username, email, password twice. Only these fields are bound: nobody signs up as staff."""

    email = forms.EmailField(
        max_length=254,
        help_text="We send a link to this address to confirm it.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = get_user_model().objects.normalize_email(self.cleaned_data["email"])
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(DUPLICATE_EMAIL, code="duplicate")
        return email

    def save(self, commit: bool = True):
        user = super().save(commit=False)
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        if commit:
            user.save()
        return user


class ResendConfirmationForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))


class LoginForm(AuthenticationForm):
    """Django's login form, telling an unconfirmed account (right password) what to do."""

    unconfirmed = False

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            username = self.cleaned_data.get("username")
            password = self.cleaned_data.get("password")
            user_model = get_user_model()
            user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
            if (
                user is not None
                and not user.is_active
                and user.last_login is None
                and password
                and user.check_password(password)
            ):
                self.unconfirmed = True
                raise forms.ValidationError(
                    "This account is not confirmed yet: follow the link we emailed you.",
                    code="unconfirmed",
                ) from None
            raise


# --- Views --------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(signup_open=settings.ACCOUNTS_SIGNUP_OPEN, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    """Links in the email start at SITE_URL, like alert emails, not at the request's Host."""

    email_template_name = "registration/password_reset_email.txt"

    def form_valid(self, form):
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.ACCOUNTS_SIGNUP_OPEN:
        return render(request, "registration/signup_closed.html", status=404)
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    user = account_signup(form=form) if request.method == "POST" and form.is_valid() else None
    if user is not None:
        sent = confirmation_send(user=user)
        request.session["accounts_signup_email"] = user.email
        request.session["accounts_signup_sent"] = sent
        return redirect("signup_done")
    return render(request, "registration/signup.html", {"form": form})


def signup_done(request: HttpRequest) -> HttpResponse:
    context = {
        "email": request.session.get("accounts_signup_email", ""),
        "sent": request.session.get("accounts_signup_sent", True),
        "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS,
    }
    return render(request, "registration/signup_done.html", context)


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    user, problem = confirmation_check(token=token)
    if problem is not None:
        context = {"problem": problem.value, "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS}
        return render(request, "registration/confirm_invalid.html", context, status=400)
    if request.method == "GET":
        return render(request, "registration/confirm.html", {"account": user})
    if not account_activate(user=user):
        context = {"problem": LinkProblem.USED.value}
        return render(request, "registration/confirm_invalid.html", context, status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("alerts:subscription_list")


@require_http_methods(["GET", "POST"])
def confirm_resend(request: HttpRequest) -> HttpResponse:
    form = ResendConfirmationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        waiting = get_user_model().objects.filter(
            email__iexact=form.cleaned_data["email"], is_active=False, last_login=None
        )
        for user in waiting:
            confirmation_send(user=user)
        return render(request, "registration/confirm_resend_done.html")
    return render(request, "registration/confirm_resend.html", {"form": form})
