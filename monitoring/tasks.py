"""Monitoring tasks: thin adapters over monitoring's services.

Importing this module (the worker does, through autodiscovery) connects the dead-letter
capture to Celery's ``task_failure`` signal.
"""

from __future__ import annotations

import time

from celery import shared_task
from celery.signals import task_failure

from capitolscope.locks import AlreadyRunning, exclusive
from monitoring import maintenance
from monitoring.deadletters import deadletter_capture_from_signal
from monitoring.health import system_health
from monitoring.incidents import health_check_record

task_failure.connect(
    deadletter_capture_from_signal, weak=False, dispatch_uid="monitoring.deadletter_capture"
)

SELFTEST_MAX_RETRIES = 5


class SelfTestFailure(Exception):
    """Raised on purpose by ``monitoring.selftest_fail``."""


@shared_task(name="monitoring.system_health_check", soft_time_limit=60, time_limit=90)
def system_health_check() -> dict:
    """Run every health check, open/resolve incidents and tell the operators once.

    The result (JSON, kept in task history) is the health report plus what changed.
    """
    report = system_health()
    report["incidents"] = health_check_record(report=report)
    return report


CLEANUP_SOFT_TIME_LIMIT = 50 * 60


@shared_task(
    name="monitoring.cleanup_old_data",
    soft_time_limit=CLEANUP_SOFT_TIME_LIMIT,
    time_limit=CLEANUP_SOFT_TIME_LIMIT + 5 * 60,
)
def cleanup_old_data() -> dict:
    """Delete rows past their retention age in batches; report counts per table.

    It stops between batches a few minutes before its soft limit (``finished: false``) and
    the next run goes on; two runs never overlap (a Redis lock).
    """
    deadline = time.monotonic() + CLEANUP_SOFT_TIME_LIMIT - 5 * 60
    try:
        with exclusive("monitoring.cleanup_old_data", ttl=CLEANUP_SOFT_TIME_LIMIT + 5 * 60):
            return maintenance.cleanup_old_data(deadline=deadline)
    except AlreadyRunning as exc:
        return {"skipped": str(exc)}


@shared_task(name="monitoring.daily_maintenance", soft_time_limit=15 * 60, time_limit=20 * 60)
def daily_maintenance() -> dict:
    """Fail stuck ingestion runs, resolve stale incidents, expire heartbeats and sessions,
    refresh database statistics; report what was done."""
    return maintenance.daily_maintenance()


@shared_task(
    bind=True,
    name="monitoring.selftest_fail",
    max_retries=SELFTEST_MAX_RETRIES,
    soft_time_limit=10,
    time_limit=20,
)
def selftest_fail(self, retries: int = 0, message: str = "") -> None:
    """Fail on purpose, after ``retries`` immediate retries (at most 5), to test alerting.

    Harmless: it touches nothing. Operators trigger it to see a dead letter appear (and the
    failure-rate check count it); the tests use it as the deliberately failing task.
    """
    retries = max(0, min(int(retries), SELFTEST_MAX_RETRIES))
    error = SelfTestFailure(message or "monitoring self-test: this task fails on purpose")
    if retries:
        # Once ``retries`` retries are used up, retry() raises ``error`` itself: final failure.
        raise self.retry(exc=error, countdown=0, max_retries=retries)
    raise error
