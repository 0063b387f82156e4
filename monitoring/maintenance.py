"""Retention and daily housekeeping: the services behind the two maintenance tasks.

Old rows are deleted in primary-key batches of ``CLEANUP_BATCH_SIZE`` with a short pause
between batches (``CLEANUP_BATCH_PAUSE``), each batch in its own transaction: never one
statement over millions of rows, and other writers get in between. Both functions return
JSON-ready reports of what they did.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)


def delete_in_batches(
    queryset: QuerySet,
    *,
    batch_size: int | None = None,
    pause: float | None = None,
    deadline: float | None = None,
) -> tuple[int, bool]:
    """Delete the rows of ``queryset`` a batch of primary keys at a time.

    Returns (rows of the queryset's model deleted, finished). ``finished`` is False when the
    ``deadline`` (a ``time.monotonic()`` value) passed first; the next run goes on from there.
    """
    batch_size = batch_size or settings.CLEANUP_BATCH_SIZE
    pause = settings.CLEANUP_BATCH_PAUSE if pause is None else pause
    model = queryset.model
    label = model._meta.label
    total = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return total, False
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total, True
        with transaction.atomic():
            _count, per_model = model._base_manager.filter(pk__in=pks).delete()
        total += per_model.get(label, 0)
        if len(pks) < batch_size:
            return total, True
        if pause:
            time.sleep(pause)


@dataclass(frozen=True)
class RetentionRule:
    key: str  # the name in the report
    model: str  # app_label.ModelName
    days_setting: str
    describe: str

    def queryset(self, model, *, cutoff: datetime) -> QuerySet:
        return RETENTION_FILTERS[self.key](model, cutoff)


# Delivery statuses after which nothing more happens to a delivery.
DELIVERY_OVER = ("sent", "failed", "cancelled")


def _notifications(model, cutoff):
    # Only notifications whose delivery is over (sent, failed or cancelled); a notification
    # without a delivery is still waiting for one.
    return model._base_manager.filter(created_at__lt=cutoff, delivery__status__in=DELIVERY_OVER)


def _deliveries(model, cutoff):
    # Deleting a delivery with notifications left would null their delivery (SET_NULL) and
    # make them look undelivered: only empty ones go (their notifications went first).
    return model._base_manager.filter(
        created_at__lt=cutoff, status__in=DELIVERY_OVER, notifications__isnull=True
    )


RETENTION_FILTERS = {
    "task_results": lambda model, cutoff: model._base_manager.filter(date_done__lt=cutoff),
    "group_results": lambda model, cutoff: model._base_manager.filter(date_done__lt=cutoff),
    "notifications": _notifications,
    "deliveries": _deliveries,
    "rejected_records": lambda model, cutoff: model._base_manager.filter(created_at__lt=cutoff),
    "ingestion_runs": lambda model, cutoff: model._base_manager.filter(
        started_at__lt=cutoff
    ).exclude(status="running"),
    "incidents": lambda model, cutoff: model._base_manager.filter(resolved_at__lt=cutoff),
    "dead_letters": lambda model, cutoff: model._base_manager.filter(failed_at__lt=cutoff).exclude(
        status="open"
    ),
}

# In this order: children before parents (notifications before their deliveries, rejected
# records before their runs).
RETENTION_RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        "task_results",
        "django_celery_results.TaskResult",
        "TASK_RESULT_RETENTION_DAYS",
        "task results",
    ),
    RetentionRule(
        "group_results",
        "django_celery_results.GroupResult",
        "TASK_RESULT_RETENTION_DAYS",
        "group results",
    ),
    RetentionRule(
        "notifications",
        "alerts.Notification",
        "NOTIFICATION_RETENTION_DAYS",
        "delivered alert notifications",
    ),
    RetentionRule(
        "deliveries",
        "alerts.Delivery",
        "NOTIFICATION_RETENTION_DAYS",
        "sent or failed deliveries",
    ),
    RetentionRule(
        "rejected_records",
        "ingestion.RejectedRecord",
        "INGESTION_RETENTION_DAYS",
        "rejected ingestion records",
    ),
    RetentionRule(
        "ingestion_runs",
        "ingestion.IngestionRun",
        "INGESTION_RETENTION_DAYS",
        "finished ingestion runs",
    ),
    RetentionRule(
        "incidents", "monitoring.Incident", "INCIDENT_RETENTION_DAYS", "resolved incidents"
    ),
    RetentionRule(
        "dead_letters",
        "monitoring.DeadLetter",
        "DEADLETTER_RETENTION_DAYS",
        "retried or dismissed dead letters",
    ),
)


def cleanup_old_data(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    pause: float | None = None,
    deadline: float | None = None,
) -> dict:
    """Delete every kind of row past its retention age; report counts per table.

    A model that does not exist (an app not installed) or whose table is missing is reported
    as skipped with the reason, and the others go on.
    """
    now = now or timezone.now()
    report: dict = {"deleted": {}, "cutoffs": {}, "skipped": {}, "finished": True}
    for rule in RETENTION_RULES:
        days = getattr(settings, rule.days_setting)
        cutoff = now - timedelta(days=days)
        try:
            model = apps.get_model(rule.model)
        except LookupError:
            report["skipped"][rule.key] = f"{rule.model} is not installed"
            continue
        report["cutoffs"][rule.key] = cutoff.isoformat()
        try:
            deleted, finished = delete_in_batches(
                rule.queryset(model, cutoff=cutoff),
                batch_size=batch_size,
                pause=pause,
                deadline=deadline,
            )
        except DatabaseError as exc:
            report["skipped"][rule.key] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.warning("cleanup of %s failed: %s", rule.model, exc)
            continue
        report["deleted"][rule.key] = deleted
        if not finished:
            report["finished"] = False
            logger.warning("cleanup stopped at its deadline during %s", rule.key)
            break
    report["total"] = sum(report["deleted"].values())
    return report


# --- daily maintenance ----------------------------------------------------------------------


def ingestion_runs_fail_stuck(*, now: datetime) -> int:
    """Mark failed the ingestion runs still "running" after the longest task time limit.

    The task that owned such a run was killed with its worker (a hard limit or a lost host)
    and will never finish it; left alone it would look like a run in progress forever.
    """
    model = apps.get_model("ingestion.IngestionRun")
    limit = max(settings.TASK_LONGEST_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT)
    cutoff = now - timedelta(seconds=limit + 15 * 60)
    return model._base_manager.filter(status="running", started_at__lt=cutoff).update(
        status="failed",
        finished_at=now,
        error=(
            f"still running {limit // 60} min after the longest task time limit: its worker "
            "died; marked failed by daily maintenance"
        ),
    )


def incidents_resolve_stale(*, now: datetime) -> int:
    """Resolve open incidents that no health check has seen for INCIDENT_STALE_AFTER_HOURS.

    That happens when the check that raised one stopped running or changed; the resolve
    notice goes out at the next health check.
    """
    from monitoring.models import Incident

    cutoff = now - timedelta(hours=settings.INCIDENT_STALE_AFTER_HOURS)
    stale = Incident.objects.filter(resolved_at__isnull=True, last_seen_at__lt=cutoff)
    resolved = 0
    for incident in stale:
        incident.resolved_at = now
        incident.details = {
            **incident.details,
            "resolved_by": "daily maintenance: no health check saw it for "
            f"{settings.INCIDENT_STALE_AFTER_HOURS} h",
        }
        incident.save(update_fields=["resolved_at", "details"])
        resolved += 1
    return resolved


def heartbeats_expire(*, now: datetime) -> dict:
    """Delete heartbeats of processes gone for HEARTBEAT_RETENTION_DAYS; forget old workers.

    The per-queue "consumer last seen" rows and the ``workers`` row (when monitoring first
    looked) are kept: a queue nobody consumes must stay "down", not become "never seen".
    """
    from monitoring.health import QUEUE_PREFIX, WORKER_PREFIX, WORKERS_HEARTBEAT
    from monitoring.models import Heartbeat

    cutoff = now - timedelta(days=settings.HEARTBEAT_RETENTION_DAYS)
    old = Heartbeat.objects.filter(seen_at__lt=cutoff)
    forgotten, _ = old.filter(name__startswith=WORKER_PREFIX).delete()
    deleted, _ = (
        old.exclude(name=WORKERS_HEARTBEAT)
        .exclude(name__startswith=WORKER_PREFIX)
        .exclude(name__startswith=QUEUE_PREFIX)
        .delete()
    )
    # The record before one row per worker lived in these details; rows have replaced it.
    Heartbeat.objects.filter(name=WORKERS_HEARTBEAT).exclude(details={}).update(details={})
    return {"heartbeats_deleted": deleted, "workers_forgotten": forgotten}


def sessions_clear(*, now: datetime) -> int:
    """Delete expired Django sessions (what ``clearsessions`` does), in batches."""
    from django.contrib.sessions.models import Session

    deleted, _finished = delete_in_batches(Session.objects.filter(expire_date__lt=now))
    return deleted


def unconfirmed_signups_purge(*, now: datetime) -> int:
    """Delete self-service sign-ups nobody confirmed within ACCOUNTS_CONFIRM_MAX_AGE_DAYS
    (capitolscope/accounts.py): they would otherwise hold their username forever."""
    from capitolscope.accounts import unconfirmed_signups_purge as purge

    return purge(now=now)


OPTIMISED_TABLES = (
    "django_celery_results_taskresult",
    "monitoring_incident",
    "monitoring_deadletter",
    "alerts_notification",
    "alerts_delivery",
)


def database_optimise() -> str:
    """Refresh the planner's statistics where it is cheap: SQLite ``PRAGMA optimize``,
    PostgreSQL ``ANALYZE`` of the tables that grow fastest (sampling, not a full scan)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA optimize")
            return "PRAGMA optimize"
        if connection.vendor == "postgresql":
            existing = set(connection.introspection.table_names(cursor))
            tables = [table for table in OPTIMISED_TABLES if table in existing]
            for table in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
            return "ANALYZE " + ", ".join(tables)
    return f"nothing for {connection.vendor}"


def daily_maintenance(*, now: datetime | None = None) -> dict:
    """Daily housekeeping; each step is independent and reports its outcome or its error."""
    now = now or timezone.now()
    steps = {
        "stuck_ingestion_runs_failed": lambda: ingestion_runs_fail_stuck(now=now),
        "stale_incidents_resolved": lambda: incidents_resolve_stale(now=now),
        "heartbeats": lambda: heartbeats_expire(now=now),
        "expired_sessions_deleted": lambda: sessions_clear(now=now),
        "unconfirmed_signups_deleted": lambda: unconfirmed_signups_purge(now=now),
        # Locks live in Redis with a time to live (capitolscope/locks.py, the beat leader):
        # they expire on their own, nothing is kept in the database.
        "expired_locks": lambda: "none kept in the database (Redis locks expire by TTL)",
        "database": database_optimise,
    }
    report: dict = {}
    for name, step in steps.items():
        try:
            report[name] = step()
        except Exception as exc:  # one failing step must not stop the others
            logger.exception("daily maintenance step %s failed", name)
            report[name] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    return report
