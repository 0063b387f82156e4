"""Users' own subscription pages: list, create, edit, pause/resume, delete, new secret.

Thin adapters: authorise (logged in, and only one's own subscriptions — another user's is a
404, never a 403, so ids reveal nothing), validate with :class:`SubscriptionForm`, call one
``alerts.services`` function, redirect. Staff get no special access here; the admin is theirs.

A webhook's signing secret is shown once: right after the subscription is created or its
secret regenerated, it is kept in the (server-side) session and shown by the next GET of the
list page, which removes it (a HEAD leaves it). Everywhere else it is masked.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from alerts import services
from alerts.forms import SubscriptionForm
from alerts.models import CHAMBERS, OWNERS, PARTIES, TRANSACTION_TYPES, Subscription

SHOW_ONCE_SESSION_KEY = "alerts_new_secret"
TEMPLATES = "alerts/subscriptions/"


def _own_subscription(request: HttpRequest, pk: int) -> Subscription:
    return get_object_or_404(Subscription, pk=pk, owner=request.user)


def mask_secret(secret: str) -> str:
    return f"••••••••{secret[-4:]}" if len(secret) >= 12 else "••••••••"


def _labels(filter_set, values: list[str]) -> list[str]:
    labels = dict(filter_set.choices.choices)
    return [str(labels.get(value) or value or "unknown") for value in values]


def _or_list(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def filters_in_words(subscription: Subscription) -> str:
    """ "Trades by Nancy Pelosi · AAPL or MSFT · purchases · at least $50,000", or "Every trade"."""
    parts = []
    politicians = [p.full_name for p in subscription.politicians.all()]
    if politicians:
        parts.append("by " + _or_list(sorted(politicians)))
    tickers = sorted(t.ticker for t in subscription.tickers.all())
    if tickers:
        parts.append("in " + _or_list(tickers))
    for filter_set, mask, prefix, proper_nouns in (
        (CHAMBERS, subscription.chambers, "in the ", True),
        (PARTIES, subscription.parties, "party ", True),
        (TRANSACTION_TYPES, subscription.transaction_types, "", False),
        (OWNERS, subscription.owners, "owner ", False),
    ):
        if mask:
            words = _labels(filter_set, filter_set.values(mask))
            parts.append(prefix + _or_list(words if proper_nouns else [w.lower() for w in words]))
    if subscription.min_amount is not None:
        parts.append(f"at least ${subscription.min_amount:,}")
    if subscription.late_only:
        parts.append("filed late")
    if not parts:
        return "Every trade"
    return "Trades " + " · ".join(parts)


def _row(subscription: Subscription) -> dict:
    is_webhook = subscription.channel == Subscription.Channel.WEBHOOK
    return {
        "subscription": subscription,
        "filters": filters_in_words(subscription),
        "channel": subscription.get_channel_display(),
        "mode": subscription.get_mode_display(),
        "is_webhook": is_webhook,
        "masked_secret": mask_secret(subscription.signing_secret) if is_webhook else "",
        "notification_count": getattr(subscription, "notification_count", None),
    }


def _remember_secret(request: HttpRequest, subscription: Subscription) -> None:
    request.session[SHOW_ONCE_SESSION_KEY] = {
        "id": subscription.pk,
        "name": subscription.name,
        "secret": subscription.signing_secret,
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def subscription_list(request: HttpRequest) -> HttpResponse:
    subscriptions = (
        Subscription.objects.filter(owner=request.user)
        .annotate(notification_count=Count("notifications"))
        .prefetch_related("politicians", "tickers")
        .order_by("name", "id")
    )
    rows = [_row(subscription) for subscription in subscriptions]
    # Shown once: taken out of the session as a GET renders it. A HEAD (a link checker, a
    # monitor, a browser probing the page) gets no body, so it must leave the secret for the
    # GET that shows it.
    new_secret = (
        request.session.pop(SHOW_ONCE_SESSION_KEY, None) if request.method == "GET" else None
    )
    limit = settings.ALERTS_MAX_SUBSCRIPTIONS_PER_USER
    context = {
        "rows": rows,
        "new_secret": new_secret,
        "limit": limit,
        "can_create": len(rows) < limit,
    }
    response = render(request, TEMPLATES + "list.html", context)
    if new_secret:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def subscription_create(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = services.subscription_create(owner=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Subscription “{subscription.name}” created.")
            if subscription.channel == Subscription.Channel.WEBHOOK:
                _remember_secret(request, subscription)
            return redirect("alerts:subscription_list")
    return render(
        request,
        TEMPLATES + "form.html",
        {"form": form, "fieldsets": form.fieldsets(), "subscription": None},
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _own_subscription(request, pk)
    form = SubscriptionForm(request.POST or None, user=request.user, subscription=subscription)
    if request.method == "POST" and form.is_valid():
        was_webhook = subscription.channel == Subscription.Channel.WEBHOOK
        try:
            with transaction.atomic():
                subscription = services.subscription_update(
                    subscription=subscription, **form.service_kwargs()
                )
        except ValidationError as error:
            subscription.refresh_from_db()
            form.add_service_error(error)
        else:
            messages.success(request, f"Subscription “{subscription.name}” saved.")
            if subscription.channel == Subscription.Channel.WEBHOOK and not was_webhook:
                _remember_secret(request, subscription)  # a new webhook: its secret, once
            return redirect("alerts:subscription_list")
    return render(
        request,
        TEMPLATES + "form.html",
        {"form": form, "fieldsets": form.fieldsets(), "subscription": subscription},
    )


@login_required
@require_POST
def subscription_pause(request: HttpRequest, pk: int) -> HttpResponse:
    """Pause an active subscription, resume a paused one."""
    subscription = _own_subscription(request, pk)
    subscription = services.subscription_set_active(
        subscription=subscription, active=not subscription.active
    )
    state = "resumed" if subscription.active else "paused: no alerts until you resume it"
    messages.success(request, f"Subscription “{subscription.name}” {state}.")
    return redirect("alerts:subscription_list")


@login_required
@require_POST
def subscription_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace a webhook subscription's signing secret; the new one is shown once."""
    subscription = _own_subscription(request, pk)
    if subscription.channel != Subscription.Channel.WEBHOOK:
        messages.error(request, f"“{subscription.name}” sends email: it has no signing secret.")
        return redirect("alerts:subscription_list")
    services.subscription_rotate_secret(subscription=subscription)
    messages.success(
        request,
        f"New signing secret for “{subscription.name}”: the old one no longer verifies.",
    )
    _remember_secret(request, subscription)
    return redirect("alerts:subscription_list")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _own_subscription(request, pk)
    if request.method == "POST":
        name = subscription.name
        services.subscription_delete(subscription=subscription)
        messages.success(request, f"Subscription “{name}” deleted.")
        return redirect("alerts:subscription_list")
    return render(request, TEMPLATES + "confirm_delete.html", {**_row(subscription)})
