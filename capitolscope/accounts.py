"""Self-service accounts: sign-up with email confirmation, and the login page's form.

Sign-up asks for a username and an email address only. A new account is created inactive,
with no usable password, put in the ``UNCONFIRMED_GROUP`` group (what marks a
self-service sign-up; only marked accounts can be confirmed, resent a link, replaced or
purged) and sent a signed, expiring link (``ACCOUNTS_CONFIRM_MAX_AGE_DAYS``). Opening the link
shows a form asking for a password; submitting it (a POST, so mail scanners that prefetch
links and cross-site pages cannot do it) sets that password, activates the account, signs the
user in and sends them to their subscriptions. Whoever controls the mailbox therefore owns the
password: a stranger who signed up with someone else's address never had one to keep.

An unconfirmed sign-up does not own its address: a new sign-up with the same address
(whatever its case) deletes it, and daily maintenance deletes those older than the link's
validity (``unconfirmed_signups_purge``). Active accounts, accounts that ever signed in and
accounts an operator created keep their address.

A link works once: it is good only while the account is inactive, marked, has never signed in
and keeps the password it had when the link was made, so it can neither be replayed nor revive
an account an operator has deactivated. Staff and superuser accounts are never confirmed by a
link. Only the newest link works: the token carries a digest of ``date_joined``, which a resend
moves (it also restarts the purge count), so every earlier link says it was replaced by a newer
one. Password reset and change are Django's own views (capitolscope/urls.py) with our templates.

The emails (confirmation, resend, password reset) are sent by a worker, never by the web
request: the page enqueues ``accounts.send_email`` (capitolscope/account_tasks.py) after the
commit with the account's id and the kind of email only, no token, link or address (task
arguments are kept in the task history). The task reads the account again and builds the
link itself, so a message sent late carries the newest link; it sends through the alerts'
email channel, whose SMTP errors say whether they are permanent, and retries temporary ones
with the alerts' backoff (``ALERTS_DELIVERY_BACKOFF_BASE``/``_MAX``,
``ALERTS_DELIVERY_MAX_RETRIES``).

The resend form never says whether an address is registered; the sign-up form does (it must
refuse a duplicate address), which is the usual trade-off.

Every POST that would send an account email (sign-up, resend, password reset) first counts
against ``ACCOUNTS_EMAIL_RATE`` per address and ``ACCOUNTS_EMAIL_IP_RATE`` per client IP in
Redis (shared by all web processes); over either it sends nothing and answers 429. The limit
is decided before the address is looked up, so it reveals nothing about registration. When
Redis is unreachable the limit is not applied (logged): sign-up matters more than the limit.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum

import redis
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm, UsernameField
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_http_methods

logger = logging.getLogger(__name__)

CONFIRM_SALT = "capitolscope.accounts.confirm"
# Membership marks an account created by self-service sign-up and not confirmed yet.
UNCONFIRMED_GROUP = "unconfirmed sign-ups"


# --- Services -----------------------------------------------------------------------------


class LinkProblem(Enum):
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    SUPERSEDED = "superseded"  # a newer link was sent for the same account


def _address_digest(email: str) -> str:
    # Links end up in access logs: bind the token to the address without spelling it out.
    return salted_hmac(CONFIRM_SALT, email.lower()).hexdigest()[:20]


def _password_digest(user: AbstractBaseUser) -> str:
    # Like Django's reset token: a link dies when the account's password hash changes.
    return salted_hmac(CONFIRM_SALT + ".password", user.password).hexdigest()[:20]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _send_digest(user: AbstractBaseUser) -> str:
    # date_joined is when the newest link was asked for (a resend moves it): a link made before
    # it is superseded. Whole microseconds, as both databases store them.
    microseconds = (user.date_joined - _EPOCH) // timedelta(microseconds=1)
    return salted_hmac(CONFIRM_SALT + ".sent", str(microseconds)).hexdigest()[:20]


def confirmation_token_make(*, user: AbstractBaseUser) -> str:
    """A signed, timestamped token naming the account, the address it was sent to and (by
    digests) the account's password hash and the time the newest link was asked for."""
    payload = {
        "u": user.pk,
        "e": _address_digest(user.email),
        "p": _password_digest(user),
        "j": _send_digest(user),
    }
    return signing.dumps(payload, salt=CONFIRM_SALT)


def unconfirmed_signups() -> QuerySet:
    """Accounts that self-service sign-up created and nobody confirmed: inactive, marked, never
    signed in, neither staff nor superuser."""
    return get_user_model().objects.filter(
        groups__name=UNCONFIRMED_GROUP,
        is_active=False,
        last_login=None,
        is_staff=False,
        is_superuser=False,
    )


def signup_mark(*, user: AbstractBaseUser) -> None:
    """Mark ``user`` as an unconfirmed self-service sign-up (the group is made on demand)."""
    group, _created = Group.objects.get_or_create(name=UNCONFIRMED_GROUP)
    user.groups.add(group)


def unconfirmed_signups_purge(*, now=None) -> int:
    """Delete unconfirmed sign-ups that joined more than ACCOUNTS_CONFIRM_MAX_AGE_DAYS ago
    (a resend restarts the count: it moves ``date_joined``); the number of accounts deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS)
    user_model = get_user_model()
    deleted = 0
    with transaction.atomic():
        # Locked, and the conditions checked again under the lock, so an account confirmed
        # meanwhile is not deleted.
        pks = list(
            unconfirmed_signups()
            .filter(date_joined__lt=cutoff)
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        if pks:
            _count, per_model = user_model.objects.filter(pk__in=pks).delete()
            deleted = per_model.get(user_model._meta.label, 0)
    return deleted


def confirmation_url(*, user: AbstractBaseUser) -> str:
    token = confirmation_token_make(user=user)
    return settings.SITE_URL + reverse("account_confirm", kwargs={"token": token})


def confirmation_check(*, token: str) -> tuple[AbstractBaseUser | None, LinkProblem | None]:
    """The unconfirmed sign-up a token confirms, or what is wrong with the token."""
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
    if user.is_staff or user.is_superuser:
        return None, LinkProblem.INVALID
    if not user.groups.filter(name=UNCONFIRMED_GROUP).exists():
        # Not a self-service sign-up (e.g. an operator created it inactive).
        return None, LinkProblem.INVALID
    if not constant_time_compare(_password_digest(user), payload.get("p")):
        return None, LinkProblem.INVALID
    # Links made before links carried "j" (at most ACCOUNTS_CONFIRM_MAX_AGE_DAYS old) have
    # nothing to be superseded by: they stay good, as they were when they were sent.
    if "j" in payload and not constant_time_compare(_send_digest(user), payload["j"]):
        return None, LinkProblem.SUPERSEDED
    return user, None


class AccountEmail(StrEnum):
    """The emails ``accounts.send_email`` sends (the value is the task's argument)."""

    CONFIRMATION = "confirmation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - the name of an email, not a password


def account_email_enqueue(*, user_id: int, kind: AccountEmail) -> None:
    """Have a worker send ``kind`` to account ``user_id`` once the current transaction (if
    any) has committed. The message holds the id and the kind only; when it cannot be
    published (broker down) the email is not sent, and that is logged: the user can ask again
    (resend, reset) and the page answers as usual, revealing nothing."""
    from capitolscope.account_tasks import send_email

    def publish() -> None:
        try:
            send_email.delay(user_id, kind.value)
        except Exception as exc:
            logger.error(
                "could not enqueue the %s email for user %s (%s: %s); it is not sent",
                kind.value,
                user_id,
                type(exc).__name__,
                exc,
            )

    transaction.on_commit(publish)


def _confirmation_context(user_id: int) -> dict | None:
    user = unconfirmed_signups().filter(pk=user_id).first()
    if user is None:  # confirmed, replaced or purged since it was asked for
        return None
    return {
        "user": user,
        "url": confirmation_url(user=user),
        "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS,
        "site_url": settings.SITE_URL,
    }


def _password_reset_context(user_id: int) -> dict | None:
    # What Django's PasswordResetForm.get_users asks of an account, asked again at send time.
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password() or not user.email:
        return None
    return {
        "user": user,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "site_url": settings.SITE_URL,
    }


_ACCOUNT_EMAILS = {
    AccountEmail.CONFIRMATION: (
        _confirmation_context,
        "registration/confirm_email_subject.txt",
        "registration/confirm_email.txt",
    ),
    AccountEmail.PASSWORD_RESET: (
        _password_reset_context,
        "registration/password_reset_subject.txt",
        "registration/password_reset_email.txt",
    ),
}


def account_email_send(*, user_id: int, kind: str, message_key: str = "") -> bool:
    """Build email ``kind`` for account ``user_id`` from the database as it is now (a fresh
    link or reset token) and send it; False when the account no longer gets it (confirmed,
    deleted or deactivated since). ``message_key`` makes the Message-ID (the same on every try
    of one task).

    Raises ``alerts.channels.DeliveryError`` when the mail server did not take it, saying
    whether that is permanent (a refused recipient) or worth retrying."""
    from alerts.channels import email_send, message_id

    build_context, subject_template, body_template = _ACCOUNT_EMAILS[AccountEmail(kind)]
    context = build_context(user_id)
    if context is None:
        return False
    user = context["user"]
    email_message = EmailMessage(
        subject=" ".join(render_to_string(subject_template, context).split()),
        body=render_to_string(body_template, context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "Message-ID": message_id(f"account-{kind}-{message_key or uuid.uuid4().hex}"),
            "Auto-Submitted": "auto-generated",
        },
    )
    # The error may end up in the task's result or a dead letter: no address in it.
    email_send(email_message, what=f"the {kind} email to user {user.pk}", mask_addresses=True)
    return True


DUPLICATE_EMAIL = (
    "An account with this email address already exists. Log in, or reset its password if you "
    "have forgotten it."
)


def account_signup(*, form: SignUpForm) -> AbstractBaseUser | None:
    """Create the inactive, marked account from a valid form, first deleting any unconfirmed
    sign-up with the same address; None (and the form told why) when its username or address
    was taken by an account that keeps it (one created after the form was checked)."""
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
            user_model = get_user_model()
            # Locked, and the conditions checked again under the lock, so an account confirmed
            # meanwhile is kept (and then refuses the address below).
            replaced = list(
                unconfirmed_signups()
                .filter(email__iexact=email)
                .select_for_update(of=("self",))
                .values_list("pk", flat=True)
            )
            if replaced:
                user_model.objects.filter(pk__in=replaced).delete()
                logger.info("Sign-up for an address replaced unconfirmed account(s) %s", replaced)
            if user_model.objects.filter(email__iexact=email).exists():
                form.add_error("email", forms.ValidationError(DUPLICATE_EMAIL, code="duplicate"))
                return None
            user = form.save()
            signup_mark(user=user)
            return user
    except IntegrityError:
        # The username's unique index caught a simultaneous sign-up with the same name.
        form.add_error("username", "A user with that username already exists.")
        return None


def account_activate(*, user: AbstractBaseUser, password: str) -> bool:
    """Activate a confirmed sign-up with the password its confirmer chose and unmark it; False
    when it is no longer an unconfirmed sign-up (another request confirmed or replaced it)."""
    hashed = make_password(password)
    with transaction.atomic():
        # Lock the row (the conditions are checked again once a concurrent confirmation or
        # replacing sign-up has finished), then write only while it is still unconfirmed.
        still_waiting = (
            unconfirmed_signups()
            .filter(pk=user.pk)
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        activated = 0
        if list(still_waiting):
            activated = (
                get_user_model()
                .objects.filter(pk=user.pk, is_active=False, last_login=None)
                .update(is_active=True, password=hashed)
            )
        if activated:
            user.groups.remove(*Group.objects.filter(name=UNCONFIRMED_GROUP))
    if activated:
        user.is_active = True
        user.password = hashed
    return activated == 1


def confirmation_resend(*, email: str) -> int:
    """Have a new link sent to each unconfirmed sign-up with ``email``. Moving ``date_joined``
    supersedes the links sent before and restarts the time before the purge. The number of
    accounts written to."""
    with transaction.atomic():
        waiting = list(unconfirmed_signups().filter(email__iexact=email))
        for user in waiting:
            user.date_joined = timezone.now()
            user.save(update_fields=["date_joined"])
            account_email_enqueue(user_id=user.pk, kind=AccountEmail.CONFIRMATION)
    return len(waiting)


class EmailRateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"account email rate limit exceeded; retry in {retry_after} s")
        self.retry_after = retry_after


def account_email_rate_hit(*, email: str, ip: str) -> None:
    """Count one account email to ``email`` asked for from ``ip``; raise EmailRateLimited
    when it exceeds ACCOUNTS_EMAIL_IP_RATE for the IP or ACCOUNTS_EMAIL_RATE for the address.
    Does nothing but log a warning when Redis is unreachable (fail open)."""
    from monitoring import tokens

    # Keyed by an HMAC of the lower-cased address, so Redis holds no address and no digest
    # anyone without SECRET_KEY could match against a list of addresses.
    address = salted_hmac(CONFIRM_SALT + ".rate", email.lower()).hexdigest()[:32]
    try:
        tokens.rate_limit_hit(
            key=f"accounts.email.ip:{ip}",
            rate=tokens.rate_parse(
                settings.ACCOUNTS_EMAIL_IP_RATE, setting="ACCOUNTS_EMAIL_IP_RATE"
            ),
        )
        tokens.rate_limit_hit(
            key=f"accounts.email.address:{address}",
            rate=tokens.rate_parse(settings.ACCOUNTS_EMAIL_RATE, setting="ACCOUNTS_EMAIL_RATE"),
        )
    except tokens.RateLimited as exc:
        logger.warning("Account email refused from %s: %s", ip, exc)
        raise EmailRateLimited(exc.retry_after) from exc
    except redis.RedisError as exc:
        logger.warning("Account email rate limit not applied (Redis unreachable: %s)", exc)


# --- Forms --------------------------------------------------------------------------------


class SignUpForm(forms.ModelForm):
    """Username and email. Only these fields are bound: nobody signs up as staff. No password:
    the account gets the one chosen on the confirmation page (so whoever typed someone else's
    address here cannot keep a password of their own), and asking for one here too would
    only be thrown away."""

    email = forms.EmailField(
        max_length=254,
        help_text="We send a link to this address; you choose your password when you follow it.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta:
        model = get_user_model()
        fields = ("username", "email")
        field_classes = {"username": UsernameField}

    def clean_username(self) -> str:
        # As Django's UserCreationForm: "Rita" is taken when "rita" exists.
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.", code="unique")
        return username

    def clean_email(self) -> str:
        email = get_user_model().objects.normalize_email(self.cleaned_data["email"])
        holders = get_user_model().objects.filter(email__iexact=email)
        # An unconfirmed sign-up does not own its address: account_signup replaces it.
        if holders.exclude(pk__in=unconfirmed_signups().values("pk")).exists():
            raise forms.ValidationError(DUPLICATE_EMAIL, code="duplicate")
        return email

    def save(self, commit: bool = True):
        user = super().save(commit=False)
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        if commit:
            user.save()
        return user


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's form, handing the email to a worker: ``save()`` still finds the accounts (active,
    with a usable password, the address in any case), but each gets an ``accounts.send_email``
    task naming it, which makes its own reset link when it sends. The link Django made here is
    not used: it would end up in the task's arguments."""

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        account_email_enqueue(user_id=context["user"].pk, kind=AccountEmail.PASSWORD_RESET)


class ResendConfirmationForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))


class LoginForm(AuthenticationForm):
    """Django's login form, telling an unconfirmed account (right password) what to do.

    Sign-ups made since sign-up stopped asking for a password have none until confirmed (the
    login page says where the password is chosen); this covers accounts made before."""

    unconfirmed = False

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            username = self.cleaned_data.get("username")
            password = self.cleaned_data.get("password")
            user_model = get_user_model()
            user = unconfirmed_signups().filter(**{user_model.USERNAME_FIELD: username}).first()
            if user is not None and password and user.check_password(password):
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
    """The email is sent by a worker (``PasswordResetForm``); its link starts at SITE_URL, like
    alert emails, not at the request's Host."""

    form_class = PasswordResetForm

    def form_valid(self, form):
        # Decided before Django looks the address up: the answer is the same either way.
        try:
            account_email_rate_hit(email=form.cleaned_data["email"], ip=client_ip(self.request))
        except EmailRateLimited as exc:
            return rate_limited(self.request, exc)
        return super().form_valid(form)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind our proxy (``CLIENT_IP_FROM_X_FORWARDED_FOR``)
    the last X-Forwarded-For entry, the one the proxy appended (the earlier ones are whatever
    the client sent)."""
    if settings.CLIENT_IP_FROM_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR") or "unknown"


def rate_limited(request: HttpRequest, exc: EmailRateLimited) -> HttpResponse:
    response = render(request, "registration/rate_limited.html", status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not settings.ACCOUNTS_SIGNUP_OPEN:
        return render(request, "registration/signup_closed.html", status=404)
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    user = None
    if request.method == "POST" and form.is_valid():
        try:
            account_email_rate_hit(email=form.cleaned_data["email"], ip=client_ip(request))
        except EmailRateLimited as exc:
            return rate_limited(request, exc)
        user = account_signup(form=form)
    if user is not None:
        account_email_enqueue(user_id=user.pk, kind=AccountEmail.CONFIRMATION)
        request.session["accounts_signup_email"] = user.email
        return redirect("signup_done")
    return render(request, "registration/signup.html", {"form": form})


def signup_done(request: HttpRequest) -> HttpResponse:
    context = {
        "email": request.session.get("accounts_signup_email", ""),
        "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS,
    }
    return render(request, "registration/signup_done.html", context)


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    user, problem = confirmation_check(token=token)
    if problem is not None:
        context = {"problem": problem.value, "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS}
        return render(request, "registration/confirm_invalid.html", context, status=400)
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        context = {"account": user, "form": form, "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS}
        return render(request, "registration/confirm.html", context)
    if not account_activate(user=user, password=form.cleaned_data["new_password1"]):
        context = {
            "problem": LinkProblem.USED.value,
            "days": settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS,
        }
        return render(request, "registration/confirm_invalid.html", context, status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("alerts:subscription_list")


@require_http_methods(["GET", "POST"])
def confirm_resend(request: HttpRequest) -> HttpResponse:
    form = ResendConfirmationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Decided before the address is looked up: the answer is the same either way.
        try:
            account_email_rate_hit(email=form.cleaned_data["email"], ip=client_ip(request))
        except EmailRateLimited as exc:
            return rate_limited(request, exc)
        confirmation_resend(email=form.cleaned_data["email"])
        return render(request, "registration/confirm_resend_done.html")
    return render(request, "registration/confirm_resend.html", {"form": form})
