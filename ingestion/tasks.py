"""Ingestion tasks: thin wrappers that validate, lock, call a service and return JSON."""

from __future__ import annotations

import logging

from celery import group, shared_task
from django.conf import settings
from django.utils import timezone

from capitolscope.locks import AlreadyRunning
from ingestion import sync

logger = logging.getLogger(__name__)


def _sync(task, source_name: str, days_back, start_date, end_date, deferrals: int) -> dict:
    start, end = sync.sync_window(days_back=days_back, start_date=start_date, end_date=end_date)
    try:
        return sync.source_sync(
            source_name=source_name,
            start_date=start,
            end_date=end,
            task_id=task.request.id or "",
            progress=lambda meta: (
                task.update_state(state="PROGRESS", meta=meta) if task.request.id else None
            ),
        )
    except AlreadyRunning as exc:
        return _deferred(task, source_name, start, end, deferrals=deferrals, busy=exc)
    except sync.TransientSyncError:
        # Each attempt is its own run; say which one, and whether the task tries again, so
        # a failed run followed by a retry does not read as a second, separate failure.
        if task.request.id:
            try:
                sync.run_attempt_note(
                    task_id=task.request.id,
                    attempt=task.request.retries + 1,
                    attempts=task.max_retries + 1,
                )
            except Exception:  # a note must never cost the retry
                logger.exception("could not note the attempt on the run of %s", task.request.id)
        raise


def _deferred(task, source_name: str, start, end, *, deferrals: int, busy: AlreadyRunning):
    """Another sync of the source holds its lock: run this one again later, as a new task for
    the same window (a weekly full sync must not be lost to the two-hourly one it met), until
    INGESTION_SYNC_BUSY_DEFERRALS deferrals are spent; then report ``already_running``."""
    result = {"source": source_name, "error": str(busy)}
    if deferrals >= settings.INGESTION_SYNC_BUSY_DEFERRALS or not task.request.id:
        return {**result, "status": "already_running", "deferrals": deferrals}
    delay = settings.INGESTION_SYNC_BUSY_DELAY
    later = task.apply_async(
        kwargs={
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "deferrals": deferrals + 1,
        },
        countdown=delay,
    )
    logger.info(
        "%s sync %s..%s deferred %s s (another sync of the source is running): task %s",
        source_name, start, end, delay, later.id,
    )  # fmt: skip
    return {**result, "status": "deferred", "deferred_to": later.id, "deferrals": deferrals + 1,
            "retry_in_seconds": delay}  # fmt: skip


_SYNC_OPTIONS = {
    "bind": True,
    "soft_time_limit": sync.SYNC_SOFT_TIME_LIMIT,
    "time_limit": sync.SYNC_TIME_LIMIT,
    # Transient source failures retry with exponential backoff and jitter; bad arguments and
    # permanent failures (403, missing form) fail at once with their message.
    "autoretry_for": (sync.TransientSyncError,),
    "retry_backoff": 60,
    "retry_backoff_max": 30 * 60,
    "retry_jitter": True,
    "max_retries": 3,
}


@shared_task(name="ingestion.sync_house_trades", **_SYNC_OPTIONS)
def sync_house_trades(
    self, days_back=None, start_date=None, end_date=None, deferrals: int = 0
) -> dict:
    return _sync(self, "house", days_back, start_date, end_date, int(deferrals))


@shared_task(name="ingestion.sync_senate_trades", **_SYNC_OPTIONS)
def sync_senate_trades(
    self, days_back=None, start_date=None, end_date=None, deferrals: int = 0
) -> dict:
    return _sync(self, "senate", days_back, start_date, end_date, int(deferrals))


@shared_task(name="ingestion.sync_all_trades", soft_time_limit=60, time_limit=90)
def sync_all_trades(days_back=None, start_date=None, end_date=None) -> dict:
    """Validate the window, then run one sync task per source (each with its own retries)."""
    start, end = sync.sync_window(days_back=days_back, start_date=start_date, end_date=end_date)
    kwargs = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    result = group(sync_house_trades.s(**kwargs), sync_senate_trades.s(**kwargs)).apply_async()
    return {
        "start_date": kwargs["start_date"],
        "end_date": kwargs["end_date"],
        "tasks": {"house": result.results[0].id, "senate": result.results[1].id},
    }


@shared_task(name="ingestion.update_stock_prices", soft_time_limit=10 * 60, time_limit=11 * 60)
def update_stock_prices(force: bool = False, days: int = 7) -> dict:
    """Refresh prices of the tickers that matter; skipped outside NYSE trading hours."""
    from ingestion.prices import prices_refresh

    return prices_refresh(now=timezone.now(), force=force, days=days)
