"""Reads that span relations: what a delivery carries."""

from __future__ import annotations

from alerts.models import Delivery, Notification
from ingestion.models import Trade


def delivery_trades(*, delivery: Delivery, limit: int) -> tuple[list[Trade], int]:
    """The trades of ``delivery`` (at most ``limit``, newest transaction first) and how many
    it carries in all, with their politician, asset and filing loaded."""
    notifications = Notification.objects.filter(delivery=delivery)
    total = notifications.count()
    trade_ids = notifications.values("trade_id")
    trades = list(
        Trade.objects.filter(pk__in=trade_ids)
        .select_related("politician", "asset", "filing")
        .order_by("-transaction_date", "politician__last_name", "id")[:limit]
    )
    return trades, total


def notifications_waiting(*, subscription_id: int) -> int:
    """Notifications of a subscription not in a delivery yet (e.g. waiting for the digest)."""
    return Notification.objects.filter(subscription_id=subscription_id, delivery=None).count()
