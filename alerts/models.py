"""Subscriptions (alert rules), the notifications they produce, and the deliveries that carry them.

Matching is set-based SQL (``alerts.services.trades_match``), so every filter is stored in a
form both SQLite and PostgreSQL can test inside a join:

- politicians: a many-to-many table, joined on the trade's politician;
- tickers: a child table ``SubscriptionTicker`` indexed on the ticker, joined on the trade's
  asset ticker;
- chambers, parties, transaction types and owners: one **bit mask** integer per set
  (``0`` = any). A mask is tested with one ``&`` against the trade value's bit, which both
  databases evaluate on an integer column without string scans (``LIKE '%,house,%'`` would
  work too, but costs a pattern match per candidate pair, and masks make subscriptions with
  identical filters compare equal, which the matcher uses to evaluate "broad" subscriptions
  once per distinct filter set instead of once per subscription);
- ``has_politician_filter`` / ``has_ticker_filter``: kept in sync with the two child tables by
  the service functions, so the matcher can pick candidates by index (politician, ticker) and
  the broad rest without anti-joins.

Every filter left empty means "any".
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.db.models import Q

from ingestion.models import Chamber, Politician, Trade


def _bits(choices: type[models.TextChoices]) -> dict[str, int]:
    """Bit of each choice value, in declaration order (stable: append new values at the end)."""
    return {value: 1 << position for position, value in enumerate(choices.values)}


class FilterSet:
    """One enum-valued filter stored as a bit mask: its values, their bits, conversions."""

    def __init__(self, field: str, choices: type[models.TextChoices], label: str) -> None:
        self.field = field
        self.choices = choices
        self.label = label
        self.bits = _bits(choices)
        self.all_bits = sum(self.bits.values())

    def mask(self, values: Iterable[str]) -> int:
        """The mask for ``values``; raises ValueError naming any unknown value."""
        mask = 0
        unknown = []
        for value in values:
            bit = self.bits.get(value)
            if bit is None:
                unknown.append(value)
            else:
                mask |= bit
        if unknown:
            allowed = ", ".join(repr(v) for v in self.bits)
            raise ValueError(
                f"unknown {self.label} {', '.join(repr(v) for v in unknown)} (allowed: {allowed})"
            )
        return mask

    def values(self, mask: int) -> list[str]:
        return [value for value, bit in self.bits.items() if mask & bit]

    def sql_bit(self, column: str) -> str:
        """SQL expression giving the bit of the value held in ``column`` (0 if unknown)."""
        whens = " ".join(f"WHEN '{value}' THEN {bit}" for value, bit in self.bits.items())
        return f"(CASE {column} {whens} ELSE 0 END)"


CHAMBERS = FilterSet("chambers", Chamber, "chamber")
PARTIES = FilterSet("parties", Politician.Party, "party")
TRANSACTION_TYPES = FilterSet("transaction_types", Trade.TransactionType, "transaction type")
OWNERS = FilterSet("owners", Trade.Owner, "owner")
FILTER_SETS = (CHAMBERS, PARTIES, TRANSACTION_TYPES, OWNERS)


def new_signing_secret() -> str:
    return secrets.token_hex(32)


class Subscription(models.Model):
    """A user's alert rule: which trades (filters, empty = any), where to (channel, target), when.

    Amount rule: a trade matches ``min_amount`` when the upper bound of its reported range
    (``amount_max``; for an open-ended range such as "Over $50,000,000", its lower bound
    ``amount_min``) is at least ``min_amount`` — i.e. when the trade *may* be that large.
    ``min_amount`` NULL means no minimum.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Mode(models.TextChoices):
        INSTANT = "instant", "Instant"
        DIGEST = "digest", "Daily digest"

    # Indexed by alerts_sub_owner_name_idx (owner first).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        db_index=False,
    )
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    politicians = models.ManyToManyField(
        "ingestion.Politician", blank=True, related_name="subscriptions"
    )
    chambers = models.PositiveSmallIntegerField(default=0, help_text="bit mask; 0 = any")
    parties = models.PositiveSmallIntegerField(default=0, help_text="bit mask; 0 = any")
    transaction_types = models.PositiveSmallIntegerField(default=0, help_text="bit mask; 0 = any")
    owners = models.PositiveSmallIntegerField(default=0, help_text="bit mask; 0 = any")
    min_amount = models.BigIntegerField(null=True, blank=True)
    late_only = models.BooleanField(default=False)
    # Denormalised "the politician / ticker set is not empty", maintained by alerts.services.
    has_politician_filter = models.BooleanField(default=False, editable=False)
    has_ticker_filter = models.BooleanField(default=False, editable=False)

    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    target = models.CharField(max_length=500)  # an email address or an http(s) URL
    signing_secret = models.CharField(max_length=64, blank=True)  # webhooks only
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.INSTANT)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(min_amount__gte=0),
                name="alerts_subscription_min_amount_not_negative",
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{fs.field}__lte": fs.all_bits}),
                    name=f"alerts_subscription_{fs.field}_known_bits",
                )
                for fs in FILTER_SETS
            ],
            models.CheckConstraint(
                condition=~Q(channel="webhook") | ~Q(signing_secret=""),
                name="alerts_subscription_webhook_has_secret",
            ),
        ]
        indexes = [
            # The subscription list page: a user's subscriptions ("owner_id = ?" by name).
            models.Index(fields=["owner", "name"], name="alerts_sub_owner_name_idx"),
            # The matcher's broad candidates: active subscriptions with neither a politician
            # nor a ticker filter, grouped and joined by their remaining filter values.
            models.Index(
                fields=["chambers", "parties", "transaction_types", "owners", "late_only"],
                condition=Q(active=True, has_politician_filter=False, has_ticker_filter=False),
                name="alerts_sub_broad_idx",
            ),
            # The daily digest: active digest subscriptions.
            models.Index(
                fields=["id"],
                condition=Q(active=True, mode="digest"),
                name="alerts_sub_digest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner_id}, {self.channel})"

    # Read-side helpers: the filter sets as lists of values.
    def chamber_values(self) -> list[str]:
        return CHAMBERS.values(self.chambers)

    def party_values(self) -> list[str]:
        return PARTIES.values(self.parties)

    def transaction_type_values(self) -> list[str]:
        return TRANSACTION_TYPES.values(self.transaction_types)

    def owner_values(self) -> list[str]:
        return OWNERS.values(self.owners)

    def ticker_values(self) -> list[str]:
        return sorted(t.ticker for t in self.tickers.all())

    def matches(self, trade: Trade) -> bool:
        """Whether ``trade`` matches, evaluated in Python (the reference for the SQL matcher,
        used by tests and the naive benchmark baseline; needs the trade's politician and asset).
        """
        if not self.active:
            return False
        if self.has_politician_filter and not self.politicians.filter(pk=trade.politician_id):
            return False
        if self.has_ticker_filter and not self.tickers.filter(ticker=trade.asset.ticker).exists():
            return False
        checks = (
            (CHAMBERS, self.chambers, trade.chamber),
            (PARTIES, self.parties, trade.politician.party),
            (TRANSACTION_TYPES, self.transaction_types, trade.transaction_type),
            (OWNERS, self.owners, trade.owner),
        )
        for filter_set, mask, value in checks:
            if mask and not mask & filter_set.bits.get(value, 0):
                return False
        if self.min_amount is not None:
            top = trade.amount_max if trade.amount_max is not None else trade.amount_min
            if top < self.min_amount:
                return False
        return not (self.late_only and not trade.filed_late)


class SubscriptionTicker(models.Model):
    """One ticker of a subscription's ticker filter (upper case, as ``Asset.ticker``)."""

    # Indexed by the unique constraint (subscription first).
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="tickers", db_index=False
    )
    ticker = models.CharField(max_length=12)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "ticker"], name="alerts_subscriptionticker_unique"
            ),
        ]
        indexes = [
            # The matcher's ticker candidates: "ticker = trade's ticker" -> subscription ids
            # (covering, so PostgreSQL answers from the index alone).
            models.Index(fields=["ticker", "subscription"], name="alerts_subticker_ticker_idx"),
        ]

    def __str__(self) -> str:
        return self.ticker


class Delivery(models.Model):
    """One outgoing message (an email or a webhook POST) carrying one or more notifications.

    Instant deliveries are created one per subscription per matching batch (``batch``);
    digest deliveries one per subscription per day (``digest_date``). ``leased_until`` is the
    claim of the worker sending it: a delivery stuck in ``sending`` past its lease (a killed
    worker) may be claimed again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # Not sent on purpose: its subscription was paused before it went out. Not a failure
        # (the delivery failure health check and "resend failed deliveries" leave it alone).
        CANCELLED = "cancelled", "Cancelled (subscription paused)"

    class Kind(models.TextChoices):
        INSTANT = "instant", "Instant"
        DIGEST = "digest", "Daily digest"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=Subscription.Channel.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INSTANT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The matching batch that created an instant delivery ("" for digests).
    batch = models.CharField(max_length=32, blank=True)
    digest_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # A daily digest is sent at most once per subscription and day.
            models.UniqueConstraint(
                fields=["subscription", "digest_date"],
                condition=Q(digest_date__isnull=False),
                name="alerts_delivery_unique_subscription_digest_date",
            ),
            # One message per subscription per matching batch; also the index the matcher
            # uses to attach a batch's notifications to their delivery.
            models.UniqueConstraint(
                fields=["batch", "subscription"],
                condition=~Q(batch=""),
                name="alerts_delivery_unique_batch_subscription",
            ),
            models.CheckConstraint(
                condition=Q(kind="instant") | Q(digest_date__isnull=False),
                name="alerts_delivery_digest_has_date",
            ),
        ]
        indexes = [
            # The sweep: deliveries still pending or sending, by when they are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="alerts_delivery_open_idx",
            ),
            # Admin: failed deliveries, newest first ("resend failed deliveries").
            models.Index(
                fields=["-created_at"],
                condition=Q(status="failed"),
                name="alerts_delivery_failed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.kind} {self.channel}, {self.status})"

    def message_id(self, domain: str) -> str:
        """RFC 5322 Message-ID, stable per delivery so a re-sent copy is recognisable."""
        return f"<delivery-{self.pk}@{domain}>"


class Notification(models.Model):
    """One trade that matched one subscription: at most one per pair (a database constraint)."""

    # Matching inserts hundreds of thousands of notifications per batch, so the foreign keys
    # carry no per-row database check (on PostgreSQL the deferred foreign-key triggers, one
    # per key and row at commit, cost more than the whole insert) and the trade has no index
    # of its own (nothing looks notifications up by trade; re-matching relies on the unique
    # constraint). Integrity holds by construction instead: the matcher inserts pairs of the
    # trades it holds locked by its claim, the subscriptions it holds ``FOR KEY SHARE`` (which
    # ``subscription_delete`` waits for, and after which vanished ones are dropped), and the
    # deliveries it created in the same transaction; deletes go through Django, which
    # cascades (subscription, trade) and sets NULL (delivery) itself.
    # Indexed by the unique constraint (subscription first) and the composite index below.
    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    trade = models.ForeignKey(
        "ingestion.Trade",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    delivery = models.ForeignKey(
        Delivery,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "trade"],
                name="alerts_notification_unique_subscription_trade",
            ),
        ]
        indexes = [
            # Notifications not yet in a delivery, per subscription: the digest and the sweep.
            models.Index(
                fields=["subscription", "created_at"],
                condition=Q(delivery__isnull=True),
                name="alerts_notif_undelivered_idx",
            ),
            # The trades of one delivery (rendering a message).
            models.Index(fields=["delivery", "trade"], name="alerts_notif_delivery_idx"),
        ]

    def __str__(self) -> str:
        return f"subscription {self.subscription_id} / trade {self.trade_id}"
