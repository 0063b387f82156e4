"""Reads that span relations: what a delivery carries."""

from __future__ import annotations

from alerts.models import Delivery, Notification
from ingestion.models import Trade


def delivery_trades(*, delivery: Delivery, limit: int) -> tuple[list[Trade], int]:
    """The trades of ``delivery`` (at most ``limit``, newest transaction first) and how many
    it carries in all, with their politician, asset and filing loaded."""
    # Counted through the trades: a notification whose trade is gone (deleted while a batch
    # was matching it; notifications carry no foreign-key check) is not a trade to announce.
    carried = Trade.objects.filter(
        pk__in=Notification.objects.filter(delivery=delivery).values("trade_id")
    )
    total = carried.count()
    trades = list(
        carried.select_related("politician", "asset", "filing").order_by(
            "-transaction_date", "politician__last_name", "id"
        )[:limit]
    )
    return trades, total


def notifications_waiting(*, subscription_id: int) -> int:
    """Notifications of a subscription not in a delivery yet (e.g. waiting for the digest)."""
    return Notification.objects.filter(subscription_id=subscription_id, delivery=None).count()
