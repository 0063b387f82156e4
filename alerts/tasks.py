"""Alerts tasks (queue ``notifications``): thin adapters over alerts.services.

Arguments are ids only; results are counts and statuses — never targets or secrets. A
delivery that fails for good is recorded on its ``Delivery`` row (status failed, last error,
admin "resend"), so the task itself ends normally with ``status: failed`` in its result.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from alerts import services
from capitolscope.locks import AlreadyRunning, exclusive
from ingestion.models import Trade

logger = logging.getLogger(__name__)


def enqueue_deliveries(delivery_ids: list[int]) -> None:
    """Send one ``alerts.deliver`` message per delivery, once the current transaction (if any)
    has committed, so a worker never looks for a delivery that is not there yet."""
    if not delivery_ids:
        return
    ids = list(delivery_ids)

    def publish() -> None:
        try:
            for delivery_id in ids:
                deliver.delay(delivery_id)
        except Exception as exc:  # the deliveries are stored, pending: the sweep sends them
            logger.warning(
                "could not enqueue %d deliveries (%s: %s); the sweep will retry them",
                len(ids),
                type(exc).__name__,
                exc,
            )

    transaction.on_commit(publish)


def _match_batches() -> dict:
    totals = {"trades": 0, "notifications": 0, "deliveries": 0, "batches": 0}
    for _ in range(settings.ALERTS_MATCH_MAX_BATCHES):
        result = services.trades_match()
        if not result.trades:
            break
        totals["batches"] += 1
        totals["trades"] += result.trades
        totals["notifications"] += result.notifications
        totals["deliveries"] += len(result.delivery_ids)
        enqueue_deliveries(result.delivery_ids)
    else:
        # Bounded per run: a large backlog continues in a new task instead of holding this
        # worker for minutes.
        if Trade.objects.filter(matched_at__isnull=True).exists():
            match_new_trades.delay()
            totals["continued"] = True
    return totals


@shared_task(name="alerts.match_new_trades", soft_time_limit=240, time_limit=300)
def match_new_trades() -> dict:
    """Match unmatched trades in batches until the outbox is empty (bounded), enqueueing one
    delivery per instant subscription and batch."""
    totals = _match_batches()
    if totals["trades"]:
        logger.info(
            "matched %(trades)s trades: %(notifications)s notifications, %(deliveries)s deliveries",
            totals,
        )
    return totals


@shared_task(
    name="alerts.deliver",
    bind=True,
    max_retries=None,  # the retry budget is the delivery's own attempts counter
    # Both within the delivery's lease (settings: ALERTS_DELIVERY_LEASE), so a send still
    # running is never claimed by a second worker.
    soft_time_limit=settings.ALERTS_DELIVERY_SOFT_TIME_LIMIT,
    time_limit=settings.ALERTS_DELIVERY_TIME_LIMIT,
)
def deliver(self, delivery_id: int) -> dict:
    """Send one delivery (an email or a webhook POST) carrying its notifications."""
    outcome = services.delivery_send(delivery_id=int(delivery_id))
    if outcome.status in ("retry", "busy"):
        raise self.retry(countdown=outcome.retry_in)
    if outcome.status == "failed":
        logger.warning("delivery %s failed: %s", delivery_id, outcome.error)
    result = {"delivery": int(delivery_id), "status": outcome.status}
    if outcome.error:
        result["error"] = outcome.error
    return result


@shared_task(name="alerts.process_pending_notifications", soft_time_limit=600, time_limit=660)
def process_pending_notifications() -> dict:
    """The sweep (every 30 minutes): match what a lost message left unmatched, give
    undelivered instant notifications a delivery, and re-enqueue overdue deliveries."""
    try:
        with exclusive("alerts.process_pending_notifications", ttl=660):
            totals = _match_batches()
            created = services.notifications_create_deliveries()
            enqueue_deliveries(created)
            overdue = [pk for pk in services.deliveries_overdue() if pk not in set(created)]
            enqueue_deliveries(overdue)
    except AlreadyRunning as exc:
        return {"status": "already_running", "error": str(exc)}
    return {**totals, "deliveries_created": len(created), "deliveries_requeued": len(overdue)}


@shared_task(name="alerts.send_daily_digests", soft_time_limit=600, time_limit=660)
def send_daily_digests() -> dict:
    """One message per digest subscriber with the notifications since their last digest;
    nothing for subscribers without any; at most once per subscription and day."""
    created = services.digests_create()
    enqueue_deliveries(created)
    return {"digests": len(created)}
