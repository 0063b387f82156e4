"""The default operator schedules (DESIGN §6) and the idempotent ``setup_schedules`` service.

The rows belong to the operators once created: we re-create a default that is missing, we
upgrade a row that is exactly as we last wrote it (for example to enable it once its task is
registered), and we never touch a row somebody edited unless asked to ``reset``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from celery.schedules import crontab as celery_crontab
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from monitoring.models import ManagedSchedule


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    task: str
    queue: str
    description: str
    every: tuple[int, str] | None = None  # (count, IntervalSchedule period)
    cron: tuple[str, str, str, str, str] | None = None  # minute hour day_of_month month dow
    kwargs: dict = field(default_factory=dict)
    priority: int | None = None

    def schedule_text(self) -> str:
        if self.every:
            count, period = self.every
            return f"every {count} {period}"
        minute, hour, day_of_month, month, day_of_week = self.cron
        return f"cron {minute} {hour} {day_of_month} {month} {day_of_week} (UTC)"


HOURS = IntervalSchedule.HOURS
MINUTES = IntervalSchedule.MINUTES

DEFAULT_SCHEDULES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec(
        name="sync-congressional-trades",
        task="ingestion.sync_all_trades",
        every=(2, HOURS),
        kwargs={"days_back": 1},
        queue="data_ingestion",
        priority=5,
        description="Fetch new House and Senate periodic transaction reports (last day).",
    ),
    ScheduleSpec(
        name="weekly-full-sync",
        task="ingestion.sync_all_trades",
        cron=("0", "3", "*", "*", "0"),
        kwargs={"days_back": 7},
        queue="data_ingestion",
        priority=6,
        description="Re-read the last week of disclosures to catch late and amended filings.",
    ),
    ScheduleSpec(
        name="update-stock-prices",
        task="ingestion.update_stock_prices",
        every=(15, MINUTES),
        queue="price_updates",
        priority=5,
        description="Refresh prices of traded and watched tickers; skipped outside NYSE hours.",
    ),
    ScheduleSpec(
        name="process-pending-notifications",
        task="alerts.process_pending_notifications",
        every=(30, MINUTES),
        queue="notifications",
        priority=3,
        description="Sweep trades and notifications a lost message left behind.",
    ),
    ScheduleSpec(
        name="daily-digest",
        task="alerts.send_daily_digests",
        cron=("0", "8", "*", "*", "*"),
        queue="notifications",
        priority=4,
        description=(
            "Send each daily-digest subscriber one message with their matches since the last "
            "digest (nothing when there are none)."
        ),
    ),
    ScheduleSpec(
        name="system-health-check",
        task="monitoring.system_health_check",
        every=(5, MINUTES),
        queue="default",
        priority=0,
        description="Check database, broker, workers, beat, queues and schedules.",
    ),
    ScheduleSpec(
        name="daily-maintenance",
        task="monitoring.daily_maintenance",
        cron=("0", "2", "*", "*", "*"),
        queue="maintenance",
        priority=8,
        description=(
            "Daily housekeeping: stuck ingestion runs, stale incidents, old heartbeats, expired "
            "sessions, unconfirmed sign-ups, database statistics."
        ),
    ),
    ScheduleSpec(
        name="weekly-cleanup",
        task="monitoring.cleanup_old_data",
        cron=("0", "3", "*", "*", "0"),
        queue="maintenance",
        priority=9,
        description="Delete task results and records past their retention age, in batches.",
    ),
)


@dataclass
class ScheduleOutcome:
    name: str
    action: str  # created, recreated, unchanged, kept, updated, reset, error
    detail: str = ""


def registered_task_names() -> set[str]:
    from capitolscope.celery import app

    # Autodiscovery is lazy: importing the apps' tasks modules registers their tasks.
    app.loader.import_default_modules()
    return set(app.tasks.keys())


def _desired_state(spec: ScheduleSpec, *, registered: set[str]) -> dict:
    return {
        "task": spec.task,
        "schedule": spec.schedule_text(),
        "args": [],
        "kwargs": spec.kwargs,
        "queue": spec.queue,
        "priority": spec.priority,
        "enabled": spec.task in registered,
        "one_off": False,
    }


def _row_state(row: PeriodicTask) -> dict:
    """The managed fields of a row, in the same shape as ``_desired_state``.

    Raises ValueError when the row's crontab cannot be read (an out-of-range field).
    """
    if row.interval_id:
        schedule = f"every {row.interval.every} {row.interval.period}"
    elif row.crontab_id:
        cron = row.crontab
        # Building the celery schedule validates every field.
        celery_crontab(
            minute=cron.minute,
            hour=cron.hour,
            day_of_month=cron.day_of_month,
            month_of_year=cron.month_of_year,
            day_of_week=cron.day_of_week,
        )
        schedule = (
            f"cron {cron.minute} {cron.hour} {cron.day_of_month} {cron.month_of_year} "
            f"{cron.day_of_week} ({cron.timezone})"
        )
    else:
        schedule = "other"  # solar or clocked: an operator's choice
    return {
        "task": row.task,
        "schedule": schedule,
        "args": json.loads(row.args or "[]"),
        "kwargs": json.loads(row.kwargs or "{}"),
        "queue": row.queue or "",
        "priority": row.priority,
        "enabled": row.enabled,
        "one_off": row.one_off,
    }


def _fingerprint(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _apply(row: PeriodicTask, spec: ScheduleSpec, state: dict) -> None:
    if spec.every:
        count, period = spec.every
        row.interval, _ = IntervalSchedule.objects.get_or_create(every=count, period=period)
        row.crontab = None
    else:
        minute, hour, day_of_month, month, day_of_week = spec.cron
        row.crontab = CrontabSchedule.objects.filter(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone="UTC",
        ).first() or CrontabSchedule.objects.create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone="UTC",
        )
        row.interval = None
    row.solar = None
    row.clocked = None
    row.task = spec.task
    row.args = "[]"
    row.kwargs = json.dumps(spec.kwargs)
    row.queue = spec.queue
    row.exchange = spec.queue
    row.routing_key = spec.queue
    row.priority = spec.priority
    row.enabled = state["enabled"]
    row.one_off = False
    row.description = spec.description
    row.save()  # save(), not update(): the signal tells a running beat to reload


def _record(name: str, state: dict) -> None:
    ManagedSchedule.objects.update_or_create(
        name=name, defaults={"fingerprint": _fingerprint(state)}
    )


def _disabled_note(state: dict) -> str:
    return "" if state["enabled"] else "disabled: its task is not registered yet"


def schedule_setup_one(
    spec: ScheduleSpec, *, reset: bool = False, registered: set[str]
) -> ScheduleOutcome:
    """Create, keep, upgrade or reset one default schedule."""
    desired = _desired_state(spec, registered=registered)
    with transaction.atomic():
        row = PeriodicTask.objects.select_for_update().filter(name=spec.name).first()
        record = ManagedSchedule.objects.filter(name=spec.name).first()
        if row is None:
            _apply(PeriodicTask(name=spec.name), spec, desired)
            _record(spec.name, desired)
            action = "recreated" if record else "created"
            detail = "it had been deleted; restored the default" if record else ""
            return ScheduleOutcome(spec.name, action, _join(detail, _disabled_note(desired)))
        if reset:
            _apply(row, spec, desired)
            _record(spec.name, desired)
            return ScheduleOutcome(spec.name, "reset", _disabled_note(desired))
        try:
            current = _row_state(row)
        except (ValueError, TypeError) as exc:
            return ScheduleOutcome(
                spec.name,
                "error",
                f"kept as is: invalid crontab ({exc}); fix it in the admin or run with --reset",
            )
        if current == desired:
            if record is None or record.fingerprint != _fingerprint(desired):
                _record(spec.name, desired)
            return ScheduleOutcome(spec.name, "unchanged", _disabled_note(desired))
        if record is not None and record.fingerprint == _fingerprint(current):
            # Nobody edited it since we wrote it: bring it to the current default.
            _apply(row, spec, desired)
            _record(spec.name, desired)
            changed = sorted(key for key in desired if desired[key] != current[key])
            return ScheduleOutcome(
                spec.name,
                "updated",
                _join(f"changed {', '.join(changed)}", _disabled_note(desired)),
            )
        changed = sorted(key for key in desired if desired[key] != current[key])
        return ScheduleOutcome(
            spec.name,
            "kept",
            f"edited by an operator ({', '.join(changed)} differ from the default); "
            "use --reset to restore it",
        )


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def schedules_setup(
    *, reset: bool = False, names: list[str] | None = None
) -> list[ScheduleOutcome]:
    """Bring the default schedules into the database (see module docstring)."""
    registered = registered_task_names()
    specs = [spec for spec in DEFAULT_SCHEDULES if not names or spec.name in names]
    unknown = set(names or []) - {spec.name for spec in DEFAULT_SCHEDULES}
    outcomes = [
        ScheduleOutcome(name, "error", "no such default schedule") for name in sorted(unknown)
    ]
    outcomes += [schedule_setup_one(spec, reset=reset, registered=registered) for spec in specs]
    return outcomes
