"""Monitoring tasks: thin adapters over monitoring's services.

Importing this module (the worker does, through autodiscovery) connects the dead-letter
capture to Celery's ``task_failure`` signal.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_failure

from monitoring.deadletters import deadletter_capture_from_signal
from monitoring.health import system_health

task_failure.connect(
    deadletter_capture_from_signal, weak=False, dispatch_uid="monitoring.deadletter_capture"
)

SELFTEST_MAX_RETRIES = 5


class SelfTestFailure(Exception):
    """Raised on purpose by ``monitoring.selftest_fail``."""


@shared_task(name="monitoring.system_health_check", soft_time_limit=60, time_limit=90)
def system_health_check() -> dict:
    """Run every health check; the result (JSON) is kept in task history."""
    return system_health()


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
