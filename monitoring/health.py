"""Health checks: each one answers within a bounded time and never raises.

A check returns a ``CheckResult``; ``system_health`` runs a set of them and reports the worst
status. Later checks (workers, beat, queues, schedules, disk, memory) plug into the same shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.utils import timezone

OK = "ok"
DEGRADED = "degraded"
DOWN = "down"
_SEVERITY = {OK: 0, DEGRADED: 1, DOWN: 2}


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    duration_ms: float
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(name: str, probe: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = probe()
        status = OK
    except Exception as exc:  # a check reports failure; it never raises
        detail = _one_line(exc)
        status = DOWN
    return CheckResult(
        name=name,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        detail=detail,
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def check_database() -> CheckResult:
    def probe() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor

    return _timed("database", probe)


def check_broker(*, broker_url: str | None = None, timeout: float = 3.0) -> CheckResult:
    """A round trip to the broker (Redis PING), bounded by ``timeout`` seconds."""
    url = broker_url or broker_url_in_use()

    def probe() -> str:
        scheme = urlsplit(url).scheme
        if scheme in {"redis", "rediss", "unix"}:
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            try:
                client.ping()
            finally:
                client.close()
            return "redis"
        from capitolscope.celery import app

        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return scheme

    return _timed("broker", probe)


def broker_url_in_use() -> str:
    from capitolscope.celery import app

    return app.conf.broker_url or settings.CELERY_BROKER_URL


def system_health(checks: list[Callable[[], CheckResult]] | None = None) -> dict:
    """Run the checks and report each component and the overall (worst) status."""
    results = [check() for check in (checks or [check_database, check_broker])]
    worst = max((result.status for result in results), key=_SEVERITY.__getitem__, default=OK)
    return {
        "status": worst,
        "checked_at": timezone.now().isoformat(),
        "components": {result.name: result.as_dict() for result in results},
    }


def exit_code_for(status: str) -> int:
    """0 healthy, 1 degraded, 2 unhealthy — the contract of ``manage.py healthcheck``."""
    return _SEVERITY[status]
