"""Health checks: each one answers within a bounded time and never raises.

A check returns a ``CheckResult`` (name, status ok/degraded/unhealthy, message, value,
duration) with the ``problems`` it found; each problem (kind + subject, e.g. a queue backlog on
``default``) is what ``monitoring.incidents`` opens one incident for. ``system_health`` runs
the checks and reports the worst status; ``exit_code_for`` maps it to 0/1/2.

Database, broker and worker calls run under a deadline (``monitoring.queues.call_with_deadline``),
so a PostgreSQL or Redis that accepts connections and never answers, or a hung worker, costs at
most the timeout.

Which status a finding gets:
- unhealthy: the database or the broker does not answer, a queue has had no consumer for
  longer than ``HEALTH_WORKER_DOWN_AFTER``, beat's heartbeat is older than
  ``HEALTH_BEAT_STALE_AFTER`` (or absent while schedules are enabled), alert deliveries
  overdue by more than ``HEALTH_DELIVERY_OVERDUE_AFTER``;
- degraded: a backlog over ``HEALTH_QUEUE_BACKLOG_MAX``, a failure rate over
  ``HEALTH_FAILURE_RATE_MAX`` % in the last hour (with at least
  ``HEALTH_FAILURE_RATE_MIN_SAMPLE`` finished tasks), alert deliveries failing for good
  (at least ``HEALTH_DELIVERY_FAILURE_MIN`` in the last hour and at least
  ``HEALTH_DELIVERY_FAILURE_RATE_MAX`` % of those finished), a missed schedule, memory over
  ``HEALTH_MEMORY_MAX_PERCENT`` %, disk free under ``HEALTH_DISK_FREE_MIN_PERCENT`` %, and a
  queue whose consumer was not seen just now but within the down limit.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q
from django.db.utils import load_backend
from django.utils import timezone

from monitoring.queues import (
    WorkerPing,
    broker_url,
    call_with_deadline,
    queue_depths,
    queue_names,
    workers_ping,
)

logger = logging.getLogger(__name__)

OK = "ok"
DEGRADED = "degraded"
UNHEALTHY = "unhealthy"
DOWN = UNHEALTHY  # the name the first version used
_SEVERITY = {OK: 0, DEGRADED: 1, UNHEALTHY: 2}

WORKERS_HEARTBEAT = "workers"
BEAT_HEARTBEAT = "beat"


@dataclass(frozen=True)
class Problem:
    """One thing wrong, identified by (kind, subject): one incident each."""

    kind: str  # an Incident.Kind value
    subject: str
    status: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    duration_ms: float
    message: str = ""
    value: object = None
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    # False when the check could not judge (e.g. the broker did not answer for queue depths):
    # its open incidents are then neither confirmed nor resolved.
    conclusive: bool = True

    @property
    def detail(self) -> str:  # the first version's name for ``message``
        return self.message

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "value": self.value,
            "duration_ms": self.duration_ms,
            "problems": [problem.as_dict() for problem in self.problems],
            "conclusive": self.conclusive,
        }


@dataclass
class Finding:
    """What a probe returns: the result without its name and timing."""

    status: str
    message: str
    value: object = None
    problems: list[Problem] = field(default_factory=list)
    conclusive: bool = True


def _worst(statuses) -> str:
    return max(statuses, key=_SEVERITY.__getitem__, default=OK)


def _timed(
    name: str, probe: Callable[[], Finding | str], *, kind: str | None = None
) -> CheckResult:
    """Run ``probe``; an exception is an unhealthy result (a problem of ``kind`` if given)."""
    started = time.perf_counter()
    try:
        finding = probe()
        if isinstance(finding, str):
            finding = Finding(OK, finding)
    except Exception as exc:  # a check reports failure; it never raises
        message = _one_line(exc)
        problems = [Problem(kind, "", UNHEALTHY, f"{name}: {message}")] if kind else []
        finding = Finding(UNHEALTHY, message, problems=problems, conclusive=bool(kind))
    return CheckResult(
        name=name,
        status=finding.status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        message=finding.message,
        value=finding.value,
        problems=tuple(finding.problems),
        conclusive=finding.conclusive,
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 1)


# --- database and broker --------------------------------------------------------------------


def check_database(*, timeout: float | None = None) -> CheckResult:
    """A round trip to the database (``SELECT 1``), bounded by ``HEALTH_DATABASE_TIMEOUT``.

    It runs on a connection of its own, opened for the check and closed after it: with
    ``connect_timeout`` on PostgreSQL (a server that accepts TCP and never answers fails the
    connect), under ``SET LOCAL statement_timeout`` (a server that answers but hangs on the
    query cancels it), and under a deadline (``call_with_deadline``) for anything else, such
    as a socket that stops answering mid-query or SQLite waiting on a lock.
    """
    timeout = timeout if timeout is not None else settings.HEALTH_DATABASE_TIMEOUT

    def round_trip() -> str:
        probe_connection = database_probe_connection(timeout=timeout)
        try:
            with probe_connection.cursor() as cursor:
                if probe_connection.vendor == "postgresql":
                    # SET LOCAL in a transaction of its own: nothing outlives the check, even
                    # behind a transaction-pooling PgBouncer.
                    cursor.execute("BEGIN")
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        [f"{max(1, int(timeout * 1000))}ms"],
                    )
                cursor.execute("SELECT 1")
                cursor.fetchone()
                if probe_connection.vendor == "postgresql":
                    cursor.execute("ROLLBACK")
        finally:
            probe_connection.close()
        return probe_connection.vendor

    def probe() -> str:
        return call_with_deadline(round_trip, timeout=timeout + 0.5, what="the database")

    return _timed("database", probe, kind="database")


def database_probe_connection(*, timeout: float, alias: str = DEFAULT_DB_ALIAS):
    """A new, unshared connection wrapper to ``alias`` that gives up connecting after
    ``timeout`` seconds (PostgreSQL ``connect_timeout``, whole seconds, at least 1).

    TCP keepalives let a probe abandoned at its deadline notice a vanished server within a
    few seconds, so a network partition does not leave its thread blocked for hours.
    """
    settings_dict = copy.deepcopy(connections[alias].settings_dict)
    options = dict(settings_dict.get("OPTIONS") or {})
    if connections[alias].vendor == "postgresql":
        seconds = max(1, math.ceil(timeout))
        options.update(
            connect_timeout=seconds,
            keepalives=1,
            keepalives_idle=seconds,
            keepalives_interval=1,
            keepalives_count=3,
        )
    settings_dict["OPTIONS"] = options
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)


def check_broker(*, broker_url: str | None = None, timeout: float = 3.0) -> CheckResult:
    """A round trip to the broker (Redis PING), bounded by ``timeout`` seconds."""
    url = broker_url or broker_url_in_use()

    def round_trip() -> str:
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

    def probe() -> str:
        return call_with_deadline(round_trip, timeout=timeout + 0.5, what="the broker")

    return _timed("broker", probe, kind="broker")


def broker_url_in_use() -> str:
    return broker_url()


# --- the public probe -----------------------------------------------------------------------

# The public /health/ is unauthenticated and each database check opens a connection of its own:
# requests share one probe (single flight) and reuse its answer for this long, so a flood of
# probes costs the database one connection at a time. healthcheck and the health task do not
# go through here: they always probe afresh.
PUBLIC_PROBE_CACHE_SECONDS = 1.0
_public_probe_lock = threading.Lock()
_public_probe_last: tuple[tuple, float, tuple[CheckResult, ...]] | None = None
_public_probe_clock: Callable[[], float] = time.monotonic


def public_probe() -> tuple[CheckResult, ...]:
    """The database and broker checks for the public ``/health/``, at most one run at a time
    per process and reused for ``PUBLIC_PROBE_CACHE_SECONDS`` after it finished.

    A request that arrives while a probe runs waits for it (the probe is bounded by its
    checks' timeouts) and answers with its result. The cached answer is kept with the broker
    and database it probed, so a changed configuration is probed afresh.
    """
    global _public_probe_last
    database = connections[DEFAULT_DB_ALIAS].settings_dict
    key = (broker_url_in_use(), database.get("NAME"), database.get("HOST"), database.get("PORT"))
    with _public_probe_lock:
        last = _public_probe_last
        if last is not None and last[0] == key:
            age = _public_probe_clock() - last[1]
            if 0 <= age < PUBLIC_PROBE_CACHE_SECONDS:
                return last[2]
        results = (check_database(), check_broker(timeout=2.0))
        _public_probe_last = (key, _public_probe_clock(), results)
        return results


# --- workers --------------------------------------------------------------------------------


WORKER_PREFIX = "worker:"
QUEUE_PREFIX = "queue:"


def worker_heartbeat_name(hostname: str) -> str:
    """The Heartbeat name of a worker: ``worker:<hostname>``, hashed when too long."""
    name = WORKER_PREFIX + hostname
    if len(name) <= 100:  # Heartbeat.name's max_length
        return name
    digest = hashlib.sha256(hostname.encode()).hexdigest()[:16]
    return f"{WORKER_PREFIX}{hostname[:70]}#{digest}"


@dataclass
class WorkersSeen:
    """When monitoring first looked, and when each worker and each queue's consumer was last
    seen (answered a control ping)."""

    first_look: datetime | None = None
    workers: dict[str, datetime] = field(default_factory=dict)  # hostname -> last seen
    queues: dict[str, datetime] = field(default_factory=dict)  # queue -> consumer last seen
    worker_queues: dict[str, list[str]] = field(default_factory=dict)  # hostname -> queues
    # hostname -> when a broadcast ping went unanswered by it, for those not seen since.
    silent: dict[str, datetime] = field(default_factory=dict)

    def recent_workers(self, *, now: datetime, within: float) -> list[str]:
        """Hostnames seen within ``within`` seconds of ``now``, sorted."""
        limit = now - timedelta(seconds=within)
        return sorted(name for name, seen in self.workers.items() if seen >= limit)

    def silent_workers(self, *, now: datetime, within: float) -> list[str]:
        """The recent workers that did not answer a broadcast since they were last seen."""
        return [name for name in self.recent_workers(now=now, within=within) if name in self.silent]


def workers_seen_record(
    *,
    ping: WorkerPing,
    now: datetime | None = None,
    broadcast: bool = False,
    asked_at: datetime | None = None,
) -> None:
    """Remember when each worker and each queue's consumer was last seen.

    ``broadcast``: ``ping`` asked everyone (sent at ``asked_at``, default ``now``) and each
    worker had the whole timeout to answer, so a recent worker that did not is silent from
    then on (``missed_at``) until it is seen again: /api/workers/ stops waiting for it.

    One Heartbeat row per worker (``worker:<hostname>``, with its queues) and per queue
    (``queue:<name>``), plus the ``workers`` row whose ``started_at`` is when monitoring first
    looked (a queue never consumed counts from there). Every write is one INSERT … ON CONFLICT
    DO NOTHING or one conditional UPDATE of a row, never a read-modify-write of a shared
    record, so health runs and API calls that overlap cannot lose each other's sightings;
    ``seen_at`` only moves forward.
    """
    from monitoring.models import Heartbeat

    now = now or timezone.now()
    Heartbeat.objects.get_or_create(
        name=WORKERS_HEARTBEAT, defaults={"started_at": now, "seen_at": now}
    )
    queues = [queue for queue, consumers in ping.consumers().items() if consumers]
    rows = [
        Heartbeat(
            name=worker_heartbeat_name(hostname),
            hostname=hostname[:255],
            started_at=now,
            seen_at=now,
            details={"queues": ping.workers[hostname]},
        )
        for hostname in ping.hostnames
    ] + [Heartbeat(name=QUEUE_PREFIX + queue, started_at=now, seen_at=now) for queue in queues]
    if broadcast:
        asked_at = asked_at or now
        Heartbeat.objects.filter(
            name__startswith=WORKER_PREFIX,
            seen_at__lt=asked_at,
            seen_at__gte=asked_at - timedelta(seconds=workers_seen_window()),
        ).exclude(name__in=[worker_heartbeat_name(hostname) for hostname in ping.hostnames]).update(
            missed_at=asked_at
        )
    if not rows:
        return
    Heartbeat.objects.bulk_create(rows, ignore_conflicts=True)
    for hostname in ping.hostnames:
        Heartbeat.objects.filter(name=worker_heartbeat_name(hostname), seen_at__lte=now).update(
            seen_at=now, details={"queues": ping.workers[hostname]}
        )
    names = [QUEUE_PREFIX + queue for queue in queues] + [WORKERS_HEARTBEAT]
    Heartbeat.objects.filter(name__in=names, seen_at__lt=now).update(seen_at=now)


def workers_seen_window() -> int:
    """Seconds a sighting counts as "up" for /metrics and the API: twice
    ``HEALTH_WORKER_DOWN_AFTER`` (600 s by default, two 5-minute health runs), so a worker
    seen by the last health run does not drop out just before the next run looks again."""
    return 2 * settings.HEALTH_WORKER_DOWN_AFTER


def workers_seen() -> WorkersSeen:
    """What ``workers_seen_record`` remembers (the health checks, /metrics and the API read it)."""
    from monitoring.models import Heartbeat

    seen = WorkersSeen()
    rows = Heartbeat.objects.filter(
        Q(name=WORKERS_HEARTBEAT)
        | Q(name__startswith=WORKER_PREFIX)
        | Q(name__startswith=QUEUE_PREFIX)
    )
    legacy: dict = {}
    for row in rows:
        if row.name == WORKERS_HEARTBEAT:
            seen.first_look = row.started_at
            legacy = row.details or {}
        elif row.name.startswith(WORKER_PREFIX):
            hostname = row.hostname or row.name.removeprefix(WORKER_PREFIX)
            seen.workers[hostname] = row.seen_at
            if row.missed_at is not None and row.missed_at > row.seen_at:
                seen.silent[hostname] = row.missed_at
            seen.worker_queues[hostname] = list((row.details or {}).get("queues") or [])
        else:
            seen.queues[row.name.removeprefix(QUEUE_PREFIX)] = row.seen_at
    # Before one row per worker and queue, everything was in the details of ``workers``.
    for key, into in (("workers", seen.workers), ("queues", seen.queues)):
        for name, stamp in (legacy.get(key) or {}).items():
            into.setdefault(name, datetime.fromisoformat(stamp))
    return seen


def workers_expected(*, now: datetime | None = None) -> list[str]:
    """The workers a broadcast ping should hear from: seen within ``workers_seen_window()``
    and not silent since (a silent one is not waited for until a broadcast hears it again)."""
    seen, now = workers_seen(), now or timezone.now()
    within = workers_seen_window()
    silent = set(seen.silent_workers(now=now, within=within))
    return [name for name in seen.recent_workers(now=now, within=within) if name not in silent]


def check_workers(
    *, timeout: float | None = None, now: datetime | None = None, discover: bool = True
) -> CheckResult:
    """Workers answer a control ping, and every configured queue has a consumer.

    A queue with no consumer now is degraded; once no consumer has been seen for longer than
    ``HEALTH_WORKER_DOWN_AFTER`` seconds (counted from the first check when never seen), it
    is unhealthy and a ``workers`` problem for that queue.

    ``discover`` (the periodic health run, ``manage.py healthcheck``): the ping waits the
    whole ``timeout`` for anyone, so new workers are found and recorded, and a recent worker
    that does not answer is silent from then on. Without it (the API), the ping still goes to
    everyone but ends as soon as every expected worker (``workers_expected``) answered; it
    waits the timeout, with the same consequences, only when one of them does not answer or
    none is expected. When it ended early but a queue has no consumer among those who
    answered (a worker started since the last look may consume it), everyone is asked again
    with the whole timeout before the queue is judged.
    """
    timeout = timeout if timeout is not None else settings.HEALTH_PROBE_TIMEOUT
    down_after = timedelta(seconds=settings.HEALTH_WORKER_DOWN_AFTER)

    def probe() -> Finding:
        checked_at = now or timezone.now()
        asked = ""
        try:
            if discover:
                ping = workers_ping(timeout=timeout)
            else:
                ping = workers_ping(timeout=timeout, expect=workers_expected(now=checked_at))
                if ping.stopped_early and not all(ping.consumers().values()):
                    ping = workers_ping(timeout=timeout)
        except Exception as exc:  # broker down or hung: judge from what was seen before
            ping = WorkerPing()
            asked = f"could not ask the workers ({_one_line(exc)}); "
        # A broadcast that got through and gave everyone the whole timeout: the workers it
        # did not hear from are silent. One that ended early says nothing about the absent.
        workers_seen_record(
            ping=ping, now=checked_at, broadcast=not asked and not ping.stopped_early
        )
        seen_before = workers_seen()
        first_look = seen_before.first_look or checked_at
        last_seen = seen_before.queues
        consumers = ping.consumers()
        problems: list[Problem] = []
        statuses = [OK]
        notes = []
        for queue in queue_names():
            if consumers.get(queue):
                continue
            seen = last_seen.get(queue)
            since = seen or first_look
            silent = checked_at - since
            when = f"last seen {_seconds(silent):g} s ago" if seen else "never seen"
            if silent > down_after:
                statuses.append(UNHEALTHY)
                message = (
                    f"no worker consumes queue {queue} ({when}; down after "
                    f"{settings.HEALTH_WORKER_DOWN_AFTER} s)"
                )
                problems.append(Problem("workers", queue, UNHEALTHY, message))
            else:
                statuses.append(DEGRADED)
                message = f"no worker answered for queue {queue} just now ({when})"
            notes.append(message)
        value = {
            "workers": ping.hostnames,
            "consumers": consumers,
            "stopped_early": ping.stopped_early,
        }
        alive = f"{len(ping.hostnames)} worker(s) answered"
        if ping.stopped_early:
            alive += " (every expected one; the ping did not wait for others)"
        return Finding(_worst(statuses), asked + "; ".join([alive, *notes]), value, problems)

    return _timed("workers", probe)


# --- beat -----------------------------------------------------------------------------------


def beat_heartbeat_age(*, now: datetime | None = None) -> float | None:
    """Seconds since the leading beat last wrote its heartbeat; None if it never did."""
    from monitoring.models import Heartbeat

    row = Heartbeat.objects.filter(name=BEAT_HEARTBEAT).first()
    return None if row is None else row.age_seconds(now=now)


def _enabled_schedules_exist() -> bool:
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.filter(enabled=True).exists()


def check_beat(*, now: datetime | None = None) -> CheckResult:
    """The leading beat's heartbeat is younger than ``HEALTH_BEAT_STALE_AFTER`` seconds.

    No heartbeat at all is fine only while no schedule is enabled (beat would send nothing).
    """
    from monitoring.models import Heartbeat

    limit = settings.HEALTH_BEAT_STALE_AFTER

    def probe() -> Finding:
        row = Heartbeat.objects.filter(name=BEAT_HEARTBEAT).first()
        if row is None:
            if not _enabled_schedules_exist():
                return Finding(OK, "no beat heartbeat yet, and no schedule is enabled")
            message = (
                "beat has never reported a heartbeat while schedules are enabled: is beat "
                "running with capitolscope.beat:DatabaseScheduler?"
            )
            return Finding(UNHEALTHY, message, None, [Problem("beat", "", UNHEALTHY, message)])
        age = row.age_seconds(now=now)
        leader = f"{row.hostname or '?'} pid {row.pid or '?'}"
        if age > limit:
            message = f"beat heartbeat is {age:.0f} s old (limit {limit} s; last leader {leader})"
            return Finding(
                UNHEALTHY, message, round(age, 1), [Problem("beat", "", UNHEALTHY, message)]
            )
        return Finding(OK, f"beat leader {leader}, heartbeat {age:.0f} s ago", round(age, 1))

    return _timed("beat", probe)


# --- queues ---------------------------------------------------------------------------------


def check_queues(*, timeout: float | None = None) -> CheckResult:
    """Messages waiting per queue; over ``HEALTH_QUEUE_BACKLOG_MAX`` is a backlog problem."""
    timeout = timeout if timeout is not None else settings.HEALTH_PROBE_TIMEOUT
    limit = settings.HEALTH_QUEUE_BACKLOG_MAX

    def probe() -> Finding:
        try:
            depths = queue_depths(timeout=timeout)
        except Exception as exc:  # the broker check reports the broker itself
            return Finding(DEGRADED, f"queue depths unknown: {_one_line(exc)}", conclusive=False)
        problems = [
            Problem(
                "queue_backlog",
                queue,
                DEGRADED,
                f"{depth} tasks waiting in queue {queue} (limit {limit})",
            )
            for queue, depth in depths.items()
            if depth > limit
        ]
        summary = ", ".join(f"{queue} {depth}" for queue, depth in depths.items())
        status = DEGRADED if problems else OK
        return Finding(status, f"waiting: {summary}", depths, problems)

    return _timed("queues", probe)


# --- failure rate ---------------------------------------------------------------------------

FINISHED_STATES = ("SUCCESS", "FAILURE")


def failure_rate(*, since: datetime) -> tuple[int, int]:
    """(failed, finished) task results whose run ended after ``since``."""
    from django.db.models import Count, Q
    from django_celery_results.models import TaskResult

    counts = TaskResult.objects.filter(date_done__gte=since, status__in=FINISHED_STATES).aggregate(
        finished=Count("id"), failed=Count("id", filter=Q(status="FAILURE"))
    )
    return counts["failed"], counts["finished"]


def check_failure_rate(*, now: datetime | None = None) -> CheckResult:
    """Failed / finished tasks over the last hour, judged once the sample is large enough."""
    limit = settings.HEALTH_FAILURE_RATE_MAX
    minimum = settings.HEALTH_FAILURE_RATE_MIN_SAMPLE

    def probe() -> Finding:
        since = (now or timezone.now()) - timedelta(hours=1)
        failed, finished = failure_rate(since=since)
        rate = round(100.0 * failed / finished, 1) if finished else 0.0
        value = {"failed": failed, "finished": finished, "percent": rate}
        text = f"{failed} of {finished} tasks failed in the last hour ({rate:g} %)"
        if finished < minimum:
            return Finding(OK, f"{text}; too few to judge (minimum {minimum})", value)
        if rate > limit:
            message = f"{text}, over the {limit:g} % limit"
            return Finding(
                DEGRADED, message, value, [Problem("failure_rate", "", DEGRADED, message)]
            )
        return Finding(OK, text, value)

    return _timed("failure_rate", probe)


# --- schedules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MissedSchedule:
    name: str
    task: str
    expected_at: datetime
    late_seconds: float


def schedule_expected_run(row, *, now: datetime) -> datetime | None:
    """When beat should have sent ``row`` next, counted as beat counts it; None to skip it.

    The base is ``last_run_at``, or — for a schedule that never ran since it was created or
    re-enabled (disabling clears ``last_run_at``) — ``date_changed``, exactly as
    django-celery-beat does. Interval and crontab schedules only; one-off, expired and
    not-yet-started schedules are skipped.
    """
    if not row.enabled or not (row.interval_id or row.crontab_id):
        return None
    if row.one_off or (row.expires and row.expires <= now):
        return None
    if row.start_time and row.start_time > now:
        return None
    base = row.last_run_at or row.date_changed
    if base is None:
        return None
    schedule = row.schedule
    # remaining_estimate() measures from the real clock; turn it into an absolute time.
    remaining = schedule.remaining_estimate(base)
    return timezone.now() + remaining


def schedules_missed(
    *, now: datetime | None = None, grace: int | None = None
) -> list[MissedSchedule]:
    """Enabled schedules whose expected run is more than ``grace`` seconds in the past."""
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    grace_delta = timedelta(seconds=settings.HEALTH_SCHEDULE_GRACE if grace is None else grace)
    missed = []
    rows = PeriodicTask.objects.filter(enabled=True).select_related("interval", "crontab")
    for row in rows.order_by("name"):
        try:
            expected = schedule_expected_run(row, now=now)
        except Exception:  # an invalid crontab: the admin refuses these; skip, never crash
            logger.warning("cannot compute the next run of schedule %s", row.name, exc_info=True)
            continue
        if expected is not None and now - expected > grace_delta:
            missed.append(MissedSchedule(row.name, row.task, expected, _seconds(now - expected)))
    return missed


def check_schedules(*, now: datetime | None = None) -> CheckResult:
    """Enabled schedules that beat did not send by their expected time plus the grace.

    While beat itself is down (stale heartbeat) they are reported together in one line and
    no per-schedule problem is raised: the beat incident says it all.
    """

    def probe() -> Finding:
        missed = schedules_missed(now=now)
        value = [item.name for item in missed]
        if not missed:
            return Finding(OK, "every enabled schedule ran on time", value)
        age = beat_heartbeat_age(now=now)
        if age is None or age > settings.HEALTH_BEAT_STALE_AFTER:
            return Finding(
                DEGRADED,
                f"{len(missed)} schedule(s) overdue while beat is down",
                value,
                conclusive=False,
            )
        problems = [
            Problem(
                "missed_schedule",
                item.name,
                DEGRADED,
                f"schedule {item.name} ({item.task}) is {item.late_seconds:.0f} s past its "
                f"expected run at {item.expected_at:%Y-%m-%d %H:%M:%S} UTC",
            )
            for item in missed
        ]
        return Finding(
            DEGRADED, "; ".join(problem.message for problem in problems), value, problems
        )

    return _timed("schedules", probe)


# --- host -----------------------------------------------------------------------------------


def check_disk(*, path=None) -> CheckResult:
    """Free space where the data lives (``VAR_DIR``)."""
    limit = settings.HEALTH_DISK_FREE_MIN_PERCENT

    def probe() -> Finding:
        where = str(path or settings.VAR_DIR)
        usage = shutil.disk_usage(where)
        free = round(100.0 * usage.free / usage.total, 1) if usage.total else 0.0
        text = f"{free:g} % free on {where} ({usage.free // 2**20} MiB)"
        if free < limit:
            message = f"{text}, under the {limit:g} % limit"
            return Finding(DEGRADED, message, free, [Problem("disk", "", DEGRADED, message)])
        return Finding(OK, text, free)

    return _timed("disk", probe)


def check_memory(*, percent: float | None = None) -> CheckResult:
    """Memory in use on the host that runs the check."""
    limit = settings.HEALTH_MEMORY_MAX_PERCENT

    def probe() -> Finding:
        import psutil

        used = percent if percent is not None else psutil.virtual_memory().percent
        text = f"{used:g} % of memory in use"
        if used > limit:
            message = f"{text}, over the {limit:g} % limit"
            return Finding(DEGRADED, message, used, [Problem("memory", "", DEGRADED, message)])
        return Finding(OK, text, used)

    return _timed("memory", probe)


# --- alert deliveries -----------------------------------------------------------------------

# How many of the newest deliveries (by primary key) are read to count the ones sent in the
# last hour: bounded cost on a large table, exact below this many deliveries per window.
DELIVERY_SAMPLE = 10_000
# Overdue deliveries are counted up to this many ("10000+"), so a huge pile costs no more.
DELIVERY_OVERDUE_COUNT_CAP = 10_000
# Recent errors read to find the most common one.
DELIVERY_ERROR_SAMPLE = 200
DELIVERY_ERROR_MAX_CHARS = 160

_RETRY_PREFIX = re.compile(
    r"^(attempt \d+ failed \(will retry\)|gave up after \d+ attempts; last error"
    r"|permanent failure): "
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_URL = re.compile(r"\bhttps?://\S+")
_WEBHOOK_HOST = re.compile(r"(webhook at|webhook host) \S+")
_ADDRESS_IN_PARENS = re.compile(r"\((\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:%.\w]*)\)")


def delivery_error_summary(last_error: str) -> str:
    """``last_error`` without its retry prefix and without anything naming a user's target
    (email addresses, URLs, webhook host names and addresses), on one line, truncated:
    safe to put in an operator notice, and equal for the same fault on different targets."""
    text = " ".join(last_error.split())
    text = _RETRY_PREFIX.sub("", text)
    text = _EMAIL.sub("<address>", text)
    text = _URL.sub("<url>", text)
    text = _WEBHOOK_HOST.sub(r"\1 <host>", text)
    text = _ADDRESS_IN_PARENS.sub("(<ip>)", text)
    if len(text) > DELIVERY_ERROR_MAX_CHARS:
        text = text[: DELIVERY_ERROR_MAX_CHARS - 1] + "…"
    return text


def _most_common_error(errors) -> str:
    counts = Counter(delivery_error_summary(error) for error in errors if error)
    if not counts:
        return ""
    error, count = counts.most_common(1)[0]
    return f'most common error ({count} of the {sum(counts.values())} latest): "{error}"'


def delivery_retry_window() -> timedelta:
    """The longest a delivery can take from its first attempt to its last: every backoff at
    its cap-bounded maximum plus a lease per attempt (a failed delivery may have been created
    this long before it failed for good)."""
    base = settings.ALERTS_DELIVERY_BACKOFF_BASE
    cap = settings.ALERTS_DELIVERY_BACKOFF_MAX
    retries = settings.ALERTS_DELIVERY_MAX_RETRIES
    backoff = sum(min(cap, base * 2**attempt) for attempt in range(retries))
    return timedelta(seconds=backoff + (retries + 1) * settings.ALERTS_DELIVERY_LEASE)


def deliveries_overdue_summary(*, now: datetime) -> dict:
    """Deliveries that should have gone out ``HEALTH_DELIVERY_OVERDUE_AFTER`` seconds ago and
    have not: pending, or sending past their lease (a dead worker), due (``next_attempt_at``,
    else ``created_at``) before that. Reads ``alerts_delivery_open_idx`` only."""
    from alerts.models import Delivery

    cutoff = now - timedelta(seconds=settings.HEALTH_DELIVERY_OVERDUE_AFTER)
    status = Delivery.Status
    # status__in repeats the index's condition word for word, so PostgreSQL uses it.
    open_rows = Delivery.objects.filter(status__in=[status.PENDING, status.SENDING]).filter(
        Q(status=status.PENDING) | Q(status=status.SENDING, leased_until__lt=now)
    )
    dated = open_rows.filter(next_attempt_at__lt=cutoff)
    undated = open_rows.filter(next_attempt_at__isnull=True, created_at__lt=cutoff)
    cap = DELIVERY_OVERDUE_COUNT_CAP
    count = dated.order_by()[:cap].count() + undated.order_by()[:cap].count()
    oldest = [
        stamp
        for stamp in (
            dated.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first(),
            undated.order_by("created_at").values_list("created_at", flat=True).first(),
        )
        if stamp is not None
    ]
    errors = list(
        dated.exclude(last_error="")
        .order_by("next_attempt_at")
        .values_list("last_error", flat=True)[:DELIVERY_ERROR_SAMPLE]
    )
    return {
        "count": min(count, cap),
        "capped": count >= cap,
        "oldest_seconds": _seconds(now - min(oldest)) if oldest else None,
        "error": _most_common_error(errors),
    }


def deliveries_failure_summary(*, now: datetime) -> dict:
    """Deliveries that failed for good in the last hour, and those sent in it.

    A failed delivery keeps the due time of its last attempt in ``next_attempt_at``: that is
    when it failed. It is found through ``alerts_delivery_failed_idx`` (created within the
    last hour plus ``delivery_retry_window()``). Sent ones are counted among the newest
    ``DELIVERY_SAMPLE`` deliveries by primary key (no index on ``sent_at``): exact unless those
    span less than the hour, when the count is scaled up to the hour (an estimate).
    """
    from alerts.models import Delivery

    since = now - timedelta(hours=1)
    failed_rows = Delivery.objects.filter(
        status=Delivery.Status.FAILED,
        created_at__gte=since - delivery_retry_window(),
    ).filter(Q(next_attempt_at__gte=since) | Q(next_attempt_at__isnull=True, created_at__gte=since))
    failed = failed_rows.count()
    floor = (
        Delivery.objects.order_by("-pk")
        .values_list("pk", "created_at")[DELIVERY_SAMPLE - 1 : DELIVERY_SAMPLE]
        .first()
    )
    recent = Delivery.objects.all() if floor is None else Delivery.objects.filter(pk__gte=floor[0])
    sent = recent.filter(status=Delivery.Status.SENT, sent_at__gte=since).count()
    sampled = floor is not None and floor[1] > since
    if sampled:
        # The sample covers less than the hour: assume the same pace over the rest of it.
        covered = max((now - floor[1]).total_seconds(), 1.0)
        sent = round(sent * 3600 / covered)
    errors = list(
        failed_rows.order_by("-created_at").values_list("last_error", flat=True)[
            :DELIVERY_ERROR_SAMPLE
        ]
    )
    return {
        "failed": failed,
        "sent": sent,
        "sampled": sampled,
        "error": _most_common_error(errors),
    }


def check_deliveries(*, now: datetime | None = None) -> CheckResult:
    """Alert deliveries go out: none overdue, and not too many failing for good.

    - unhealthy: deliveries overdue by more than ``HEALTH_DELIVERY_OVERDUE_AFTER`` seconds
      (problem ``deliveries`` / ``overdue``);
    - degraded: at least ``HEALTH_DELIVERY_FAILURE_MIN`` deliveries failed for good in the
      last hour, and they are at least ``HEALTH_DELIVERY_FAILURE_RATE_MAX`` % of those that
      finished in it (problem ``deliveries`` / ``failures``).

    Messages give counts, ages and the most common recent error with addresses, URLs and
    webhook hosts removed (``delivery_error_summary``); never a target.
    """
    overdue_after = settings.HEALTH_DELIVERY_OVERDUE_AFTER
    limit = settings.HEALTH_DELIVERY_FAILURE_RATE_MAX
    minimum = settings.HEALTH_DELIVERY_FAILURE_MIN

    def probe() -> Finding:
        checked_at = now or timezone.now()
        overdue = deliveries_overdue_summary(now=checked_at)
        failures = deliveries_failure_summary(now=checked_at)
        failed, finished = failures["failed"], failures["failed"] + failures["sent"]
        rate = round(100.0 * failed / finished, 1) if finished else 0.0
        value = {
            "overdue": overdue["count"],
            "oldest_overdue_seconds": overdue["oldest_seconds"],
            "failed_last_hour": failed,
            "sent_last_hour": failures["sent"],
            "failed_percent": rate,
        }
        problems: list[Problem] = []
        notes: list[str] = []
        if overdue["count"]:
            count = f"{overdue['count']}{'+' if overdue['capped'] else ''}"
            message = (
                f"{count} alert deliveries overdue by more than {overdue_after} s (oldest due "
                f"{overdue['oldest_seconds']:.0f} s ago): are the alerts workers and the "
                "sweep running?"
            )
            if overdue["error"]:
                message += f"; {overdue['error']}"
            problems.append(Problem("deliveries", "overdue", UNHEALTHY, message))
            notes.append(message)
        text = f"{failed} of {finished} finished deliveries failed in the last hour ({rate:g} %)"
        if failures["sampled"]:
            text += f" (sent estimated from the newest {DELIVERY_SAMPLE})"
        if failed >= minimum and rate >= limit:
            message = f"{text}, at or over the {limit:g} % limit"
            if failures["error"]:
                message += f"; {failures['error']}"
            problems.append(Problem("deliveries", "failures", DEGRADED, message))
            notes.append(message)
        elif failed and failed < minimum:
            notes.append(f"{text}; too few to judge (minimum {minimum} failed)")
        else:
            notes.append(text)
        if not overdue["count"]:
            notes.insert(0, f"no delivery overdue by more than {overdue_after} s")
        status = _worst(problem.status for problem in problems)
        return Finding(status, "; ".join(notes), value, problems)

    return _timed("deliveries", probe)


# --- all together ---------------------------------------------------------------------------


def default_checks(
    *, timeout: float | None = None, discover_workers: bool = True
) -> dict[str, Callable[[], CheckResult]]:
    """Every check by name, in report order; each bounded by ``timeout`` where it waits.

    ``discover_workers``: see ``check_workers(discover=…)``.
    """
    timeout = timeout if timeout is not None else settings.HEALTH_PROBE_TIMEOUT
    return {
        "database": check_database,
        "broker": lambda: check_broker(timeout=timeout),
        "workers": lambda: check_workers(timeout=timeout, discover=discover_workers),
        "beat": check_beat,
        "queues": lambda: check_queues(timeout=timeout),
        "failure_rate": check_failure_rate,
        "schedules": check_schedules,
        "disk": check_disk,
        "memory": check_memory,
        "deliveries": check_deliveries,
    }


CHECK_NAMES = tuple(default_checks(timeout=1.0))


def system_health(
    checks: list[Callable[[], CheckResult]] | None = None,
    *,
    timeout: float | None = None,
    only: list[str] | None = None,
    discover_workers: bool = True,
) -> dict:
    """Run the checks and report each component and the overall (worst) status.

    ``only`` names a subset of ``CHECK_NAMES``; ``checks`` replaces them with callables.
    When the database is down, the checks that read it are left out (the database problem
    says it all). ``discover_workers=False`` lets the workers check stop waiting once every
    expected worker answered (``check_workers``); the periodic run keeps the default.
    """
    if checks is None:
        available = default_checks(timeout=timeout, discover_workers=discover_workers)
        unknown = set(only or []) - set(available)
        if unknown:
            raise ValueError(
                f"unknown health check(s): {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(available)}"
            )
        named = [(name, probe) for name, probe in available.items() if not only or name in only]
    else:
        named = [("", probe) for probe in checks]
    results = []
    database_down = False
    for name, check in named:
        if database_down and name in NEEDS_DATABASE:
            continue
        result = check()
        results.append(result)
        if result.name == "database" and result.status != OK:
            database_down = True
    worst = _worst(result.status for result in results)
    return {
        "status": worst,
        "checked_at": timezone.now().isoformat(),
        "components": {result.name: result.as_dict() for result in results},
    }


NEEDS_DATABASE = frozenset({"workers", "beat", "failure_rate", "schedules", "deliveries"})

# The incident kinds each check decides: a conclusive check that found no problem of its
# kind resolves the open incidents of that kind.
CHECK_KINDS = {
    "database": "database",
    "broker": "broker",
    "workers": "workers",
    "beat": "beat",
    "queues": "queue_backlog",
    "failure_rate": "failure_rate",
    "schedules": "missed_schedule",
    "disk": "disk",
    "memory": "memory",
    "deliveries": "deliveries",
}


def health_problems(report: dict) -> list[Problem]:
    """Every problem in a ``system_health`` report, for ``monitoring.incidents``."""
    return [
        Problem(**problem)
        for component in report["components"].values()
        for problem in component.get("problems", [])
    ]


def exit_code_for(status: str) -> int:
    """0 healthy, 1 degraded, 2 unhealthy — the contract of ``manage.py healthcheck``."""
    return _SEVERITY[status]
