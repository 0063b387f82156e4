"""Reads for the operator pages: task history, schedules, the dashboard and dead letters.

Task history is django-celery-results' ``TaskResult`` table, which grows to millions of rows:
every list here is keyset-paginated on ``(date_created, id)`` and never counts the table.
"""

from __future__ import annotations

import ast
import base64
import binascii
import datetime as dt
import functools
import json
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from celery import states
from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

# --- Masking and display --------------------------------------------------------------------

MASK = "********"
# Keys whose values are never shown: password, token, secret, key, authorization (any case,
# anywhere in the key: "api_key", "X-Auth-Token", "client_secret", "passwordHash").
SECRET_KEY_RE = re.compile(r"passw|token|secret|key|authoriz|credential", re.IGNORECASE)
# The same rule for text we cannot parse (a truncated repr, a traceback): 'name': value or
# name=value, where name looks like a secret.
_SECRET_IN_TEXT_RE = re.compile(
    r"""(?P<key>["']?[\w.-]*(?:passw|token|secret|key|authoriz|credential)[\w.-]*["']?)"""
    r"""(?P<sep>\s*[:=]\s*)"""
    r"""(?P<value>b?'(?:[^'\\]|\\.)*'|b?"(?:[^"\\]|\\.)*"|[^\s,;)}\]]+)""",
    re.IGNORECASE,
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(SECRET_KEY_RE.search(key))


def value_mask(value: object) -> object:
    """A copy of ``value`` with the values of secret-looking keys replaced, at any depth."""
    if isinstance(value, dict):
        return {
            key: (MASK if is_secret_key(key) and item not in (None, "") else value_mask(item))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [value_mask(item) for item in value]
    if isinstance(value, str):
        parsed = _parse_structured_text(value)
        if parsed is not None:
            return value_mask(parsed)
        return text_mask(value)
    return value


def text_mask(text: str) -> str:
    """Mask ``key: value`` / ``key=value`` pairs with secret-looking keys in free text."""
    return _SECRET_IN_TEXT_RE.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)


def _parse_structured_text(text: str) -> object | None:
    """JSON, or a Python literal (Celery stores arguments as ``repr``), else None."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{(":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def stored_value_decode(text: str | None, *, encoding: str = "utf-8") -> object:
    """Decode a django-celery-results column (JSON text, base64 when ``binary``)."""
    if text in (None, ""):
        return None
    if encoding == "binary":
        try:
            text = base64.b64decode(text).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def value_display(value: object) -> str:
    """Masked, readable text for a template (which escapes it)."""
    masked = value_mask(value)
    if masked is None:
        return ""
    if isinstance(masked, str):
        return masked
    return json.dumps(masked, indent=2, ensure_ascii=False, sort_keys=True, default=repr)


# --- Queues ---------------------------------------------------------------------------------


def queue_names() -> tuple[str, ...]:
    return tuple(settings.CELERY_QUEUE_NAMES)


def task_queue_map() -> dict[str, str]:
    """Registered task name -> the queue CELERY_TASK_ROUTES sends it to.

    ``TaskResult`` has no queue column, so the history's queue filter is "tasks routed to that
    queue" by this map. A schedule or caller that overrides the queue of one message is not
    seen by the filter (the detail page shows the queue a task really came from).
    """
    return dict(_task_queue_map())


@functools.cache
def registered_task_names() -> frozenset[str]:
    """Task names registered with the Celery app (the apps' tasks modules imported once).

    ``app.loader.import_default_modules()`` runs Django's system checks on every call, far
    too slow for a page: do it once per process.
    """
    from capitolscope.celery import app

    app.loader.import_default_modules()
    return frozenset(app.tasks)


@functools.cache
def _task_queue_map() -> tuple[tuple[str, str], ...]:
    from capitolscope.celery import app

    router = app.amqp.router
    mapping = []
    for name in sorted(registered_task_names()):
        if name.startswith("celery."):
            continue
        route = router.route({}, name, (), {})
        queue = route.get("queue")
        mapping.append((name, getattr(queue, "name", queue) or settings.CELERY_TASK_DEFAULT_QUEUE))
    return tuple(mapping)


def task_names_for_queue(queue: str) -> list[str]:
    return [name for name, routed in task_queue_map().items() if routed == queue]


def task_names_known() -> list[str]:
    """Task names to suggest in the filter: registered ones and those schedules run."""
    names = set(task_queue_map())
    names.update(PeriodicTask.objects.values_list("task", flat=True))
    return sorted(names)


# --- Task history ---------------------------------------------------------------------------

LIST_FIELDS = (
    "id",
    "task_id",
    "task_name",
    "periodic_task_name",
    "status",
    "worker",
    "date_created",
    "date_started",
    "date_done",
)
STATUS_CHOICES = tuple(sorted(states.ALL_STATES))


class CursorError(ValueError):
    """A page cursor that is not one we made."""


@dataclass(frozen=True)
class Cursor:
    date_created: dt.datetime
    id: int

    def encode(self) -> str:
        return f"{self.date_created.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S.%f')}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            stamp, _, ident = text.partition("_")
            moment = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=dt.UTC)
            return cls(moment, int(ident))
        except ValueError:
            raise CursorError(f"not a page position: {text[:40]!r}") from None

    @classmethod
    def of(cls, row: TaskResult) -> Cursor:
        return cls(row.date_created, row.id)


@dataclass(frozen=True)
class TaskFilters:
    task_name: str = ""
    status: str = ""
    schedule: str = ""
    queue: str = ""
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None


@dataclass
class HistoryPage:
    rows: list[TaskResult]
    older: Cursor | None  # position to continue with older rows, if there are any
    newer: Cursor | None  # position to go back to newer rows, if this is not the first page


def task_results_filter(filters: TaskFilters, *, task_name: str = ""):
    """Task results matching ``filters``; ``task_name`` stands in for one name of a queue."""
    queryset = TaskResult.objects.all()
    if task_name or filters.task_name:
        queryset = queryset.filter(task_name=task_name or filters.task_name)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.schedule:
        queryset = queryset.filter(periodic_task_name=filters.schedule)
    if filters.created_from:
        queryset = queryset.filter(date_created__gte=filters.created_from)
    if filters.created_to:
        queryset = queryset.filter(date_created__lt=filters.created_to)
    return queryset


def _keyset_rows(queryset, *, before: Cursor | None, after: Cursor | None, limit: int) -> list:
    """Up to ``limit`` rows past the cursor: older than ``before`` (newest first) or newer
    than ``after`` (oldest first). The ``date_created <= x`` half of each condition is a plain
    range the (…, date_created, id) indexes serve; the OR only breaks ties."""
    queryset = queryset.only(*LIST_FIELDS)
    if after is not None:
        queryset = queryset.filter(
            Q(date_created__gte=after.date_created)
            & (Q(date_created__gt=after.date_created) | Q(id__gt=after.id))
        ).order_by("date_created", "id")
    else:
        if before is not None:
            queryset = queryset.filter(
                Q(date_created__lte=before.date_created)
                & (Q(date_created__lt=before.date_created) | Q(id__lt=before.id))
            )
        queryset = queryset.order_by("-date_created", "-id")
    return list(queryset[:limit])


def task_history_page(
    *,
    filters: TaskFilters,
    before: Cursor | None = None,
    after: Cursor | None = None,
    page_size: int = 50,
) -> HistoryPage:
    """One page of task results, newest first, by keyset on (date_created, id).

    ``before`` continues with rows older than a position, ``after`` goes back to the rows
    newer than it. ``page_size + 1`` rows are read: the extra row says whether there is more,
    so no page counts the table. A queue filter reads each of the queue's task names with
    its own index range and merges them: one ``task_name IN (…)`` query would make
    PostgreSQL walk the date index through every other task's rows when the queue is rare.
    """
    limit = page_size + 1
    if filters.queue and not filters.task_name:
        rows = []
        for name in task_names_for_queue(filters.queue):
            rows += _keyset_rows(
                task_results_filter(filters, task_name=name),
                before=before,
                after=after,
                limit=limit,
            )
        rows.sort(key=lambda row: (row.date_created, row.id), reverse=after is None)
        rows = rows[:limit]
    elif filters.queue and filters.task_name not in task_names_for_queue(filters.queue):
        rows = []
    else:
        rows = _keyset_rows(task_results_filter(filters), before=before, after=after, limit=limit)
    more = len(rows) > page_size
    rows = rows[:page_size]
    if after is not None:
        rows = rows[::-1]
        return HistoryPage(
            rows=rows,
            older=Cursor.of(rows[-1]) if rows else None,
            newer=Cursor.of(rows[0]) if rows and more else None,
        )
    return HistoryPage(
        rows=rows,
        older=Cursor.of(rows[-1]) if rows and more else None,
        newer=Cursor.of(rows[0]) if rows and before is not None else None,
    )


def task_result_duration(row: TaskResult) -> dt.timedelta | None:
    """Run time of a finished task: done minus started (created if it never said started)."""
    if row.status not in states.READY_STATES or row.date_done is None:
        return None
    start = row.date_started or row.date_created
    if start is None:
        return None
    return max(row.date_done - start, dt.timedelta(0))


def duration_text(duration: dt.timedelta | None) -> str:
    """ "0.42 s", "12.0 s", "3 min 05 s", "2 h 04 min"; "" for None."""
    if duration is None:
        return ""
    seconds = duration.total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class TaskDetail:
    row: TaskResult
    args: str
    kwargs: str
    result: str
    traceback: str
    meta: dict
    retries: int | None
    queue: str
    routed_queue: str
    duration: dt.timedelta | None
    finished: dt.datetime | None
    periodic_task: PeriodicTask | None
    children: list[str] = field(default_factory=list)

    @property
    def duration_text(self) -> str:
        return duration_text(self.duration)


def _stored_arguments(text: str | None, encoding: str) -> object:
    """Arguments as stored: JSON of Celery's ``argsrepr`` (a Python repr string)."""
    value = stored_value_decode(text, encoding=encoding)
    if isinstance(value, str):
        parsed = _parse_structured_text(value)
        return parsed if parsed is not None else value
    return value


def task_detail_get(*, task_id: str) -> TaskDetail | None:
    row = TaskResult.objects.filter(task_id=task_id).first()
    if row is None:
        return None
    encoding = row.content_encoding or "utf-8"
    meta = stored_value_decode(row.meta, encoding=encoding)
    meta = meta if isinstance(meta, dict) else {}
    retries = meta.get("retries")
    children = [
        child[0][0] if isinstance(child, list) and child and isinstance(child[0], list) else None
        for child in meta.get("children") or []
    ]
    periodic_task = (
        PeriodicTask.objects.filter(name=row.periodic_task_name).first()
        if row.periodic_task_name
        else None
    )
    return TaskDetail(
        row=row,
        args=value_display(_stored_arguments(row.task_args, encoding)),
        kwargs=value_display(_stored_arguments(row.task_kwargs, encoding)),
        result=value_display(stored_value_decode(row.result, encoding=encoding)),
        traceback=text_mask(row.traceback or ""),
        meta=meta,
        retries=int(retries) if isinstance(retries, int) else None,
        queue=str(meta.get("queue") or ""),
        routed_queue=task_queue_map().get(row.task_name or "", ""),
        duration=task_result_duration(row),
        finished=row.date_done if row.status in states.READY_STATES else None,
        periodic_task=periodic_task,
        children=[child for child in children if isinstance(child, str)],
    )


# --- Schedules ------------------------------------------------------------------------------

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# How many recent runs of a schedule its statistics cover.
RECENT_RUNS = 50
# A crontab's next run is searched this far ahead: 29 years cover every weekday/leap-day
# combination (the calendar repeats every 28 years), so a crontab with no run in that span
# never runs.
CRONTAB_HORIZON_DAYS = 29 * 366


def _plural(count: int, unit: str) -> str:
    unit = unit.rstrip("s")
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _join_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _cron_field(text: str, values: set[int], full: set[int]) -> str | None:
    """None when the field is '*' (every value)."""
    return None if values == full else text


def _celery_crontab(cron):
    from celery.schedules import crontab

    return crontab(
        minute=cron.minute,
        hour=cron.hour,
        day_of_week=cron.day_of_week,
        day_of_month=cron.day_of_month,
        month_of_year=cron.month_of_year,
    )


def crontab_words(cron) -> str:
    """A crontab in words, e.g. "at 03:00 on Sunday (UTC)"; the raw fields when unusual."""
    tz = str(cron.timezone)
    try:
        parsed = _celery_crontab(cron)
    except (ValueError, TypeError) as exc:
        return f"invalid crontab ({exc})"
    minutes, hours = sorted(parsed.minute), sorted(parsed.hour)
    if len(minutes) == 1 and len(hours) == 1:
        time_part = f"at {hours[0]:02d}:{minutes[0]:02d}"
    elif len(minutes) == 1 and len(hours) == 24:
        time_part = f"at minute {minutes[0]} of every hour"
    elif len(minutes) == 60 and len(hours) == 24:
        time_part = "every minute"
    elif len(hours) == 24 and _even_step(minutes, 60):
        time_part = f"every {minutes[1] - minutes[0]} minutes"
    elif len(minutes) == 1 and _even_step(hours, 24):
        time_part = f"every {hours[1] - hours[0]} hours at minute {minutes[0]}"
    elif len(minutes) == 1 and len(hours) <= 6:
        time_part = "at " + _join_words([f"{hour:02d}:{minutes[0]:02d}" for hour in hours])
    else:
        time_part = f"at minute {cron.minute}, hour {cron.hour}"
    parts = [time_part]
    days = sorted(parsed.day_of_week)
    if len(days) < 7:
        if days == [1, 2, 3, 4, 5]:
            parts.append("on weekdays")
        else:
            parts.append("on " + _join_words([DAY_NAMES[day] for day in days]))
    if len(parsed.day_of_month) < 31:
        parts.append(f"on day {cron.day_of_month} of the month")
    months = sorted(parsed.month_of_year)
    if len(months) < 12:
        parts.append("in " + _join_words([MONTH_NAMES[month - 1] for month in months]))
    return " ".join(parts) + f" ({tz})"


def _even_step(values: list[int], span: int) -> bool:
    if len(values) < 2 or values[0] != 0:
        return False
    step = values[1] - values[0]
    return span % step == 0 and values == list(range(0, span, step))


def schedule_words(task: PeriodicTask) -> str:
    if task.interval_id:
        interval = task.interval
        return "every " + _plural(interval.every, interval.period)
    if task.crontab_id:
        return crontab_words(task.crontab)
    if task.solar_id:
        solar = task.solar
        return f"at {solar.get_event_display().lower()} ({solar.latitude}, {solar.longitude})"
    if task.clocked_id:
        return f"once at {task.clocked.clocked_time:%Y-%m-%d %H:%M %Z}"
    return "no schedule"


def crontab_next_runs(cron, *, after: dt.datetime, count: int = 5) -> list[dt.datetime]:
    """The next ``count`` times (aware, UTC) the crontab fires strictly after ``after``.

    Local times are matched in the crontab's own time zone; a local time a DST change skips
    does not fire. Raises ValueError for an invalid crontab.
    """
    parsed = _celery_crontab(cron)
    tz = ZoneInfo(str(cron.timezone))
    start = after.astimezone(tz)
    minutes, hours = sorted(parsed.minute), sorted(parsed.hour)
    # Celery numbers weekdays 0 = Sunday; Python's weekday() has 0 = Monday.
    weekdays = {(day - 1) % 7 for day in parsed.day_of_week}
    found: list[dt.datetime] = []
    day = start.date()
    for _ in range(CRONTAB_HORIZON_DAYS):
        if (
            day.month in parsed.month_of_year
            and day.day in parsed.day_of_month
            and day.weekday() in weekdays
        ):
            for hour in hours:
                for minute in minutes:
                    local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)
                    if local.astimezone(dt.UTC).astimezone(tz).replace(
                        tzinfo=None
                    ) != local.replace(tzinfo=None):
                        continue  # skipped by a DST change
                    if local > start:
                        found.append(local.astimezone(dt.UTC))
                        if len(found) == count:
                            return found
        day += dt.timedelta(days=1)
    return found


def schedule_next_runs(
    task: PeriodicTask, *, now: dt.datetime | None = None, count: int = 5
) -> list[dt.datetime]:
    """When beat will next send this task (if enabled), from its schedule and last run."""
    now = now or timezone.now()
    if task.one_off and task.total_run_count:
        return []
    if task.interval_id:
        every = dt.timedelta(**{task.interval.period: task.interval.every})
        if every <= dt.timedelta(0):
            return []
        # As django-celery-beat counts: from the last run; a task that never ran counts from
        # when it was last changed, or runs at its start time.
        if task.last_run_at:
            first = max(task.last_run_at + every, now)
        elif task.start_time:
            first = max(task.start_time, now)
        else:
            first = max(task.date_changed + every, now) if task.date_changed else now
        if task.start_time and first < task.start_time:
            first = task.start_time
        return [first + every * i for i in range(count)]
    if task.crontab_id:
        after = max(filter(None, [task.last_run_at, task.start_time, now]))
        try:
            return crontab_next_runs(task.crontab, after=after, count=count)
        except (ValueError, TypeError):
            return []
    if task.clocked_id:
        moment = task.clocked.clocked_time
        return [moment] if not task.last_run_at else []
    if task.solar_id:
        try:
            schedule = task.solar.schedule
            remaining = schedule.remaining_estimate(task.last_run_at or now)
            return [now + remaining]
        except Exception:  # solar needs the optional ``ephem`` package
            return []
    return []


def _schedule_expected_run(task: PeriodicTask, *, now: dt.datetime) -> dt.datetime | None:
    """When beat should have sent the task last: the first due time after its last run."""
    if not task.enabled or task.one_off or not (task.interval_id or task.crontab_id):
        return None
    base = task.last_run_at or task.date_changed
    if base is None:
        return None
    if task.interval_id:
        return base + dt.timedelta(**{task.interval.period: task.interval.every})
    runs = crontab_next_runs(task.crontab, after=base, count=1)
    return runs[0] if runs else None


def schedule_is_missed(task: PeriodicTask, *, now: dt.datetime | None = None) -> bool:
    """Enabled, and its expected run plus the grace has passed with no run since.

    The same rule as the health check (``monitoring.health.schedule_expected_run`` and
    ``HEALTH_SCHEDULE_GRACE``), so the page and the incidents agree.
    """
    now = now or timezone.now()
    try:
        from monitoring.health import schedule_expected_run as expected_run
    except ImportError:
        expected_run = _schedule_expected_run
    try:
        expected = expected_run(task, now=now)
    except Exception:  # an invalid crontab: shown as such, not as missed
        return False
    grace = dt.timedelta(seconds=getattr(settings, "HEALTH_SCHEDULE_GRACE", 300))
    return expected is not None and now - expected > grace


@dataclass
class RunStats:
    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    last_status: str = ""
    last_task_id: str = ""
    last_at: dt.datetime | None = None  # when the latest recorded run was sent
    median: dt.timedelta | None = None
    p95: dt.timedelta | None = None

    @property
    def median_text(self) -> str:
        return duration_text(self.median)

    @property
    def p95_text(self) -> str:
        return duration_text(self.p95)

    @property
    def success_rate(self) -> float | None:
        finished = self.succeeded + self.failed
        return None if not finished else self.succeeded / finished


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run_stats(rows: Iterable[TaskResult]) -> RunStats:
    rows = list(rows)
    stats = RunStats(runs=len(rows))
    if not rows:
        return stats
    stats.last_status = rows[0].status
    stats.last_task_id = rows[0].task_id
    stats.last_at = rows[0].date_created
    stats.succeeded = sum(1 for row in rows if row.status == states.SUCCESS)
    stats.failed = sum(1 for row in rows if row.status in states.PROPAGATE_STATES)
    durations = [
        duration.total_seconds()
        for row in rows
        if row.status == states.SUCCESS and (duration := task_result_duration(row)) is not None
    ]
    if durations:
        stats.median = dt.timedelta(seconds=statistics.median(durations))
        stats.p95 = dt.timedelta(seconds=_percentile(durations, 0.95))
    return stats


def schedule_recent_runs(*, name: str, limit: int = RECENT_RUNS) -> list[TaskResult]:
    """The latest runs of a schedule (an index range on (periodic_task_name, date_created))."""
    return list(
        TaskResult.objects.filter(periodic_task_name=name)
        .only(*LIST_FIELDS)
        .order_by("-date_created", "-id")[:limit]
    )


@dataclass
class ScheduleRow:
    task: PeriodicTask
    words: str
    next_run: dt.datetime | None
    missed: bool
    stats: RunStats

    @property
    def last_run(self) -> dt.datetime | None:
        """The latest run: beat's ``last_run_at``, or a later run recorded in the task history
        (a "run now", which beat does not count)."""
        return latest_run(self.task, self.stats)


def latest_run(task: PeriodicTask, stats: RunStats) -> dt.datetime | None:
    known = [moment for moment in (task.last_run_at, stats.last_at) if moment is not None]
    return max(known) if known else None


def schedules_overview(*, now: dt.datetime | None = None) -> list[ScheduleRow]:
    """Every PeriodicTask with its schedule in words, next run, missed flag and run stats.

    One query for the schedules and one bounded query (``RECENT_RUNS`` rows, an index range)
    per schedule: beat holds a few dozen operator jobs, never per-user rows (DESIGN §4).
    """
    now = now or timezone.now()
    tasks = PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked")
    result = []
    for task in tasks.order_by("name"):
        next_runs = schedule_next_runs(task, now=now, count=1) if task.enabled else []
        result.append(
            ScheduleRow(
                task=task,
                words=schedule_words(task),
                next_run=next_runs[0] if next_runs else None,
                missed=schedule_is_missed(task, now=now),
                stats=run_stats(schedule_recent_runs(name=task.name)),
            )
        )
    return result


def schedule_names() -> list[str]:
    return list(PeriodicTask.objects.order_by("name").values_list("name", flat=True))


def schedule_get(*, pk: int) -> PeriodicTask | None:
    return (
        PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked")
        .filter(pk=pk)
        .first()
    )


# --- Dashboard ------------------------------------------------------------------------------


@dataclass
class HourBucket:
    hour: dt.datetime
    succeeded: int
    failed: int


def hourly_outcomes(*, now: dt.datetime | None = None, hours: int = 24) -> list[HourBucket]:
    """Successes and failures per hour over the last ``hours`` hours (one grouped query)."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=hours)
    counts = (
        TaskResult.objects.filter(
            date_done__gte=start,
            date_done__lt=end,
            status__in=[states.SUCCESS, states.FAILURE],
        )
        .annotate(hour=TruncHour("date_done", tzinfo=dt.UTC))
        .values("hour", "status")
        .annotate(n=Count("*"))  # not COUNT(id): the (date_done, status) index covers it
        .order_by()
    )
    by_hour: dict[dt.datetime, dict[str, int]] = {}
    for item in counts:
        hour = item["hour"]
        if timezone.is_naive(hour):
            hour = hour.replace(tzinfo=dt.UTC)
        by_hour.setdefault(hour.astimezone(dt.UTC), {})[item["status"]] = item["n"]
    buckets = []
    for index in range(hours):
        hour = start + dt.timedelta(hours=index)
        hour = hour.astimezone(dt.UTC)
        found = by_hour.get(hour, {})
        buckets.append(
            HourBucket(
                hour=hour,
                succeeded=found.get(states.SUCCESS, 0),
                failed=found.get(states.FAILURE, 0),
            )
        )
    return buckets


@dataclass
class ChartBar:
    x: float
    y: float
    height: float
    width: float
    kind: str
    count: int
    label: str


def outcome_chart(buckets: list[HourBucket], *, width: int = 720, height: int = 160) -> dict:
    """Coordinates for an inline SVG bar chart (the template draws it; no JavaScript)."""
    top = max([max(b.succeeded, b.failed) for b in buckets] + [1])
    slot = width / max(len(buckets), 1)
    bar = max(slot / 2 - 1, 1)
    bars = []
    for index, bucket in enumerate(buckets):
        label = f"{bucket.hour:%H}:00 UTC"
        for offset, kind, count in ((0, "ok", bucket.succeeded), (1, "bad", bucket.failed)):
            bar_height = (height - 20) * count / top
            bars.append(
                ChartBar(
                    x=round(index * slot + offset * bar, 1),
                    y=round(height - 20 - bar_height, 1),
                    height=round(bar_height, 1),
                    width=round(bar, 1),
                    kind=kind,
                    count=count,
                    label=f"{label}: {count} {'succeeded' if kind == 'ok' else 'failed'}",
                )
            )
    ticks = [
        {"x": round(index * slot, 1), "text": f"{bucket.hour:%H}"}
        for index, bucket in enumerate(buckets)
        if index % 3 == 0
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "ticks": ticks,
        "top": top,
        "axis_y": height - 20,
        "total_ok": sum(b.succeeded for b in buckets),
        "total_bad": sum(b.failed for b in buckets),
    }


HEALTH_TASK = "monitoring.system_health_check"


@dataclass
class HealthSummary:
    status: str  # ok / degraded / down / unknown
    checked_at: dt.datetime | None
    components: list[dict]
    stale: bool
    task_id: str = ""


def health_latest(*, now: dt.datetime | None = None, stale_after: int = 15 * 60) -> HealthSummary:
    """The last result of ``monitoring.system_health_check`` (never blocks on Redis).

    The dashboard reads what the periodic check found instead of probing the broker and the
    workers while the page waits; ``stale`` says when that result is too old to trust.
    """
    now = now or timezone.now()
    row = (
        TaskResult.objects.filter(task_name=HEALTH_TASK, status=states.SUCCESS)
        .only("task_id", "result", "date_done", "content_encoding")
        .order_by("-date_created", "-id")
        .first()
    )
    if row is None:
        return HealthSummary("unknown", None, [], stale=True)
    report = stored_value_decode(row.result, encoding=row.content_encoding or "utf-8")
    if not isinstance(report, dict):
        return HealthSummary("unknown", row.date_done, [], stale=True, task_id=row.task_id)
    components = []
    for name, component in (report.get("components") or {}).items():
        if isinstance(component, dict):
            components.append(
                {
                    "name": name,
                    "status": str(component.get("status", "")),
                    "detail": text_mask(
                        str(component.get("message") or component.get("detail") or "")
                    ),
                }
            )
    return HealthSummary(
        status=str(report.get("status") or "unknown"),
        checked_at=row.date_done,
        components=components,
        stale=(now - row.date_done).total_seconds() > stale_after,
        task_id=row.task_id,
    )


def incidents_open():
    from monitoring.models import Incident

    return Incident.objects.filter(resolved_at__isnull=True).order_by("-opened_at")


def dead_letters_open_count() -> int:
    from monitoring.models import DeadLetter

    return DeadLetter.objects.filter(status=DeadLetter.Status.OPEN).count()


def dead_letters_list(*, status: str = "", limit: int = 200):
    """Dead letters, open ones first, newest first within each status."""
    from django.db.models import Case, IntegerField, Value, When

    from monitoring.models import DeadLetter

    queryset = DeadLetter.objects.select_related("resolved_by")
    if status:
        queryset = queryset.filter(status=status)
    return queryset.annotate(
        open_first=Case(
            When(status=DeadLetter.Status.OPEN, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("open_first", "-failed_at")[:limit]
