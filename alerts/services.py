"""Alerts: writing subscriptions, matching new trades, creating and sending deliveries.

Subscription functions take plain values (lists of strings, politician ids) so forms, the
admin, commands and benchmarks all go through the same validation and keep the child tables
(tickers) and the denormalised filter flags consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from alerts.models import (
    CHAMBERS,
    OWNERS,
    PARTIES,
    TRANSACTION_TYPES,
    Subscription,
    SubscriptionTicker,
    new_signing_secret,
)
from ingestion.models import Politician

_UNSET: Any = object()
TICKER_MAX_LENGTH = 12
MAX_TICKERS = 200
MAX_POLITICIANS = 200


# --- Subscriptions ------------------------------------------------------------------------


def _clean_tickers(tickers: Iterable[str]) -> list[str]:
    cleaned: set[str] = set()
    bad = []
    for raw in tickers:
        ticker = str(raw).strip().upper().lstrip("$")
        if not ticker:
            continue
        if len(ticker) > TICKER_MAX_LENGTH or not all(c.isalnum() or c in ".-/" for c in ticker):
            bad.append(str(raw))
        else:
            cleaned.add(ticker)
    if bad:
        raise ValidationError(
            {"tickers": f"not a ticker symbol: {', '.join(repr(b) for b in bad)}"}
        )
    if len(cleaned) > MAX_TICKERS:
        raise ValidationError({"tickers": f"at most {MAX_TICKERS} tickers per subscription"})
    return sorted(cleaned)


def _clean_politician_ids(politician_ids: Iterable[int | str]) -> list[int]:
    try:
        ids = sorted({int(pk) for pk in politician_ids})
    except (TypeError, ValueError):
        raise ValidationError({"politicians": "politician ids must be integers"}) from None
    if len(ids) > MAX_POLITICIANS:
        raise ValidationError(
            {"politicians": f"at most {MAX_POLITICIANS} politicians per subscription"}
        )
    found = set(Politician.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError(
            {"politicians": f"no politician with id {', '.join(map(str, missing))}"}
        )
    return ids


def _masks(**sets: Iterable[str] | None) -> dict[str, int]:
    errors: dict[str, str] = {}
    masks: dict[str, int] = {}
    by_field = {fs.field: fs for fs in (CHAMBERS, PARTIES, TRANSACTION_TYPES, OWNERS)}
    for field, values in sets.items():
        if values is None or values is _UNSET:
            continue
        try:
            masks[field] = by_field[field].mask(values)
        except ValueError as exc:
            errors[field] = str(exc)
    if errors:
        raise ValidationError(errors)
    return masks


def _check_scalars(
    *, name: Any, min_amount: Any, channel: Any, mode: Any, target: Any
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if name is not _UNSET and (not str(name).strip() or len(str(name).strip()) > 100):
        errors["name"] = "a name of 1 to 100 characters is required"
    if min_amount not in (_UNSET, None) and (
        isinstance(min_amount, bool) or not isinstance(min_amount, int) or min_amount < 0
    ):
        errors["min_amount"] = "the minimum amount must be a whole number of dollars ≥ 0"
    if channel is not _UNSET and channel not in Subscription.Channel.values:
        errors["channel"] = f"unknown channel {channel!r} (allowed: email, webhook)"
    if mode is not _UNSET and mode not in Subscription.Mode.values:
        errors["mode"] = f"unknown mode {mode!r} (allowed: instant, digest)"
    if target is not _UNSET and (not str(target).strip() or len(str(target).strip()) > 500):
        errors["target"] = "a target (email address or webhook URL) of at most 500 characters"
    return errors


def _check_target(*, channel: str, target: str) -> None:
    """The target must fit the channel: a valid address for email, an http(s) URL for webhooks.

    Private-network webhook targets are checked here too (and again at send time).
    """
    from alerts.channels import webhook_url_problem  # channels import models only

    if channel == Subscription.Channel.EMAIL:
        from django.core.validators import validate_email

        try:
            validate_email(target)
        except ValidationError:
            raise ValidationError({"target": f"{target!r} is not a valid email address"}) from None
    else:
        problem = webhook_url_problem(target, resolve=False)
        if problem:
            raise ValidationError({"target": problem})


def subscription_set_tickers(*, subscription: Subscription, tickers: Iterable[str]) -> list[str]:
    """Replace the subscription's ticker filter (empty = any ticker); returns the stored set."""
    cleaned = _clean_tickers(tickers)
    with transaction.atomic():
        SubscriptionTicker.objects.filter(subscription=subscription).exclude(
            ticker__in=cleaned
        ).delete()
        SubscriptionTicker.objects.bulk_create(
            [SubscriptionTicker(subscription=subscription, ticker=t) for t in cleaned],
            ignore_conflicts=True,
        )
        Subscription.objects.filter(pk=subscription.pk).update(has_ticker_filter=bool(cleaned))
    subscription.has_ticker_filter = bool(cleaned)
    return cleaned


def subscription_set_politicians(
    *, subscription: Subscription, politician_ids: Iterable[int | str]
) -> list[int]:
    """Replace the subscription's politician filter (empty = any politician)."""
    ids = _clean_politician_ids(politician_ids)
    with transaction.atomic():
        subscription.politicians.set(ids)
        Subscription.objects.filter(pk=subscription.pk).update(has_politician_filter=bool(ids))
    subscription.has_politician_filter = bool(ids)
    return ids


def subscription_sync_filter_flags(*, subscription: Subscription) -> None:
    """Recompute ``has_politician_filter`` / ``has_ticker_filter`` from the child tables
    (for writers that changed them directly, e.g. the admin's many-to-many widget)."""
    subscription.has_politician_filter = subscription.politicians.exists()
    subscription.has_ticker_filter = subscription.tickers.exists()
    Subscription.objects.filter(pk=subscription.pk).update(
        has_politician_filter=subscription.has_politician_filter,
        has_ticker_filter=subscription.has_ticker_filter,
    )


def subscription_create(
    *,
    owner,
    name: str,
    channel: str,
    target: str,
    mode: str = Subscription.Mode.INSTANT,
    politician_ids: Sequence[int | str] = (),
    tickers: Sequence[str] = (),
    chambers: Sequence[str] = (),
    parties: Sequence[str] = (),
    transaction_types: Sequence[str] = (),
    owners: Sequence[str] = (),
    min_amount: int | None = None,
    late_only: bool = False,
    active: bool = True,
) -> Subscription:
    """Create a subscription for ``owner`` (a user) and return it.

    - ``channel``: ``"email"`` or ``"webhook"``; ``target``: the email address or the http(s)
      webhook URL. A webhook gets a new random ``signing_secret``.
    - ``mode``: ``"instant"`` or ``"digest"`` (one message a day).
    - Filters (each empty = any): ``politician_ids`` (ids of ``ingestion.Politician``),
      ``tickers`` (symbols, case-insensitive, "$" allowed), ``chambers`` (``Chamber`` values:
      house, senate), ``parties`` (``Politician.Party`` values: D, R, I, "" = unknown),
      ``transaction_types`` (``Trade.TransactionType`` values), ``owners`` (``Trade.Owner``
      values), ``min_amount`` (whole dollars; a trade matches when the top of its range — or
      its lower bound when open-ended — is ≥ it; None = no minimum), ``late_only`` (only trades
      filed after the STOCK Act deadline).

    Raises ``django.core.exceptions.ValidationError`` with a dict of field → message naming
    what is wrong (fields: name, channel, target, mode, politicians, tickers, chambers,
    parties, transaction_types, owners, min_amount).
    """
    errors = _check_scalars(
        name=name, min_amount=min_amount, channel=channel, mode=mode, target=target
    )
    if errors:
        raise ValidationError(errors)
    target = str(target).strip()
    _check_target(channel=channel, target=target)
    masks = _masks(
        chambers=chambers, parties=parties, transaction_types=transaction_types, owners=owners
    )
    cleaned_tickers = _clean_tickers(tickers)
    ids = _clean_politician_ids(politician_ids)
    with transaction.atomic():
        subscription = Subscription.objects.create(
            owner=owner,
            name=str(name).strip(),
            active=bool(active),
            channel=channel,
            target=target,
            mode=mode,
            signing_secret=new_signing_secret() if channel == Subscription.Channel.WEBHOOK else "",
            min_amount=min_amount,
            late_only=bool(late_only),
            has_politician_filter=bool(ids),
            has_ticker_filter=bool(cleaned_tickers),
            **masks,
        )
        if ids:
            subscription.politicians.set(ids)
        SubscriptionTicker.objects.bulk_create(
            [SubscriptionTicker(subscription=subscription, ticker=t) for t in cleaned_tickers]
        )
    return subscription


def subscription_update(
    *,
    subscription: Subscription,
    name: str = _UNSET,
    channel: str = _UNSET,
    target: str = _UNSET,
    mode: str = _UNSET,
    politician_ids: Sequence[int | str] = _UNSET,
    tickers: Sequence[str] = _UNSET,
    chambers: Sequence[str] = _UNSET,
    parties: Sequence[str] = _UNSET,
    transaction_types: Sequence[str] = _UNSET,
    owners: Sequence[str] = _UNSET,
    min_amount: int | None = _UNSET,
    late_only: bool = _UNSET,
    active: bool = _UNSET,
) -> Subscription:
    """Change the given fields of ``subscription`` (same meanings and errors as
    ``subscription_create``); fields not passed keep their value. Switching to a webhook
    creates a signing secret if there is none; switching to email clears it.
    """
    errors = _check_scalars(
        name=name, min_amount=min_amount, channel=channel, mode=mode, target=target
    )
    if errors:
        raise ValidationError(errors)
    new_channel = subscription.channel if channel is _UNSET else channel
    new_target = subscription.target if target is _UNSET else str(target).strip()
    if channel is not _UNSET or target is not _UNSET:
        _check_target(channel=new_channel, target=new_target)
    masks = _masks(
        chambers=chambers, parties=parties, transaction_types=transaction_types, owners=owners
    )
    cleaned_tickers = None if tickers is _UNSET else _clean_tickers(tickers)
    ids = None if politician_ids is _UNSET else _clean_politician_ids(politician_ids)

    if name is not _UNSET:
        subscription.name = str(name).strip()
    subscription.channel = new_channel
    subscription.target = new_target
    if new_channel == Subscription.Channel.WEBHOOK and not subscription.signing_secret:
        subscription.signing_secret = new_signing_secret()
    elif new_channel == Subscription.Channel.EMAIL:
        subscription.signing_secret = ""
    if mode is not _UNSET:
        subscription.mode = mode
    if min_amount is not _UNSET:
        subscription.min_amount = min_amount
    if late_only is not _UNSET:
        subscription.late_only = bool(late_only)
    if active is not _UNSET:
        subscription.active = bool(active)
    for field, mask in masks.items():
        setattr(subscription, field, mask)
    with transaction.atomic():
        subscription.save()
        if cleaned_tickers is not None:
            subscription_set_tickers(subscription=subscription, tickers=cleaned_tickers)
        if ids is not None:
            subscription_set_politicians(subscription=subscription, politician_ids=ids)
    return subscription


def subscription_set_active(*, subscription: Subscription, active: bool) -> Subscription:
    """Pause (``active=False``) or resume a subscription. A paused subscription matches
    nothing; its deliveries not sent yet are not sent."""
    subscription.active = bool(active)
    subscription.save(update_fields=["active", "updated_at"])
    return subscription


def subscriptions_set_active(*, subscription_ids: Iterable[int], active: bool) -> int:
    """Pause or resume many subscriptions at once (admin action); returns how many changed."""
    from django.utils import timezone

    return (
        Subscription.objects.filter(pk__in=list(subscription_ids))
        .exclude(active=active)
        .update(active=active, updated_at=timezone.now())
    )


def subscription_delete(*, subscription: Subscription) -> None:
    """Delete a subscription with its filters, notifications and deliveries."""
    subscription.delete()


def subscription_rotate_secret(*, subscription: Subscription) -> str:
    """Give a webhook subscription a new signing secret and return it."""
    if subscription.channel != Subscription.Channel.WEBHOOK:
        raise ValidationError({"channel": "only webhook subscriptions have a signing secret"})
    subscription.signing_secret = new_signing_secret()
    subscription.save(update_fields=["signing_secret", "updated_at"])
    return subscription.signing_secret
