"""The jobs an operator may trigger through the API, with their parameters and validation.

A job is a registered Celery task plus a schema of the keyword arguments it accepts. The API
lists the jobs whose task is registered right now, validates a request's parameters against
the schema (unknown fields, wrong types, out-of-range values and cross-field rules are refused
with the name of the field), then publishes the task with ``apply_async`` (routed to its queue
by the task routes).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

# The first day of the STOCK Act periodic transaction reports the sync tasks accept.
SYNC_EARLIEST = dt.date(2012, 1, 1)
SYNC_MAX_DAYS_BACK = 3660


class JobParameterError(ValueError):
    """A parameter was wrong; ``field`` names it (None when no single field is to blame)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "integer", "boolean", "date" (ISO YYYY-MM-DD) or "string"
    description: str
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None  # for strings: the longest length

    def as_dict(self) -> dict:
        data = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "description": self.description,
        }
        if self.minimum is not None:
            data["minimum"] = self.minimum
        if self.maximum is not None:
            data["maximum" if self.type == "integer" else "max_length"] = self.maximum
        return data

    def clean(self, value: Any) -> Any:
        """The value in the form the task takes (JSON-serialisable); raises JobParameterError."""
        if self.type == "integer":
            # bool is an int in Python; true/false as a number is a mistake.
            if isinstance(value, bool) or not isinstance(value, int):
                raise JobParameterError(f"{self.name} must be a whole number", field=self.name)
            if self.minimum is not None and value < self.minimum:
                raise JobParameterError(
                    f"{self.name} must be at least {self.minimum}", field=self.name
                )
            if self.maximum is not None and value > self.maximum:
                raise JobParameterError(
                    f"{self.name} must be at most {self.maximum}", field=self.name
                )
            return value
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise JobParameterError(f"{self.name} must be true or false", field=self.name)
            return value
        if self.type == "date":
            if not isinstance(value, str):
                raise JobParameterError(
                    f"{self.name} must be a date as a string (YYYY-MM-DD)", field=self.name
                )
            try:
                return dt.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                raise JobParameterError(
                    f"{self.name}={value!r} is not a date (use YYYY-MM-DD)", field=self.name
                ) from None
        if self.type == "string":
            if not isinstance(value, str):
                raise JobParameterError(f"{self.name} must be a string", field=self.name)
            if self.maximum is not None and len(value) > self.maximum:
                raise JobParameterError(
                    f"{self.name} is longer than {self.maximum} characters", field=self.name
                )
            return value
        raise AssertionError(f"unknown parameter type {self.type}")


@dataclass(frozen=True)
class Job:
    name: str  # the Celery task name
    description: str
    params: tuple[Param, ...] = ()
    # Rules across fields, run on the cleaned parameters; raise JobParameterError.
    check: Callable[[dict], None] | None = field(default=None, compare=False)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "queue": task_queue(self.name),
            "parameters": [param.as_dict() for param in self.params],
        }

    def validate(self, data: Any) -> dict:
        """The cleaned keyword arguments for the task; raises JobParameterError."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise JobParameterError("the body must be a JSON object of parameters")
        known = {param.name: param for param in self.params}
        unknown = sorted(set(data) - set(known))
        if unknown:
            accepted = ", ".join(known) or "none"
            raise JobParameterError(
                f"unknown parameter {unknown[0]!r} (this job accepts: {accepted})",
                field=unknown[0],
            )
        cleaned = {}
        for param in self.params:
            if param.name not in data or data[param.name] is None:
                if param.required:
                    raise JobParameterError(f"{param.name} is required", field=param.name)
                continue
            cleaned[param.name] = param.clean(data[param.name])
        if self.check:
            self.check(cleaned)
        return cleaned


def _check_sync_window(params: dict) -> None:
    """The rules of ``ingestion.sync.sync_window``, each blamed on the field at fault."""
    today = timezone.now().date()
    start = dt.date.fromisoformat(params["start_date"]) if "start_date" in params else None
    end = dt.date.fromisoformat(params["end_date"]) if "end_date" in params else None
    if start is not None and "days_back" in params:
        raise JobParameterError("give either days_back or start_date, not both", field="days_back")
    if end is not None and end > today:
        raise JobParameterError(f"end_date {end} is in the future", field="end_date")
    if start is not None:
        if start > (end or today):
            raise JobParameterError(
                f"start_date {start} is after end_date {end or today}", field="start_date"
            )
        if start < SYNC_EARLIEST:
            raise JobParameterError(
                f"start_date {start} is before {SYNC_EARLIEST} (STOCK Act reports begin 2012)",
                field="start_date",
            )
    elif "days_back" in params:
        earliest = (end or today) - dt.timedelta(days=params["days_back"])
        if earliest < SYNC_EARLIEST:
            raise JobParameterError(
                f"days_back={params['days_back']} reaches before {SYNC_EARLIEST}",
                field="days_back",
            )
    # The task's own validation is the final word (it must accept what we accept).
    from ingestion.sync import InvalidArguments, sync_window

    try:
        sync_window(**params)
    except InvalidArguments as exc:
        raise JobParameterError(str(exc)) from None


_SYNC_PARAMS = (
    Param(
        "days_back",
        "integer",
        "Days before end_date to read (default 1 when no start_date).",
        minimum=0,
        maximum=SYNC_MAX_DAYS_BACK,
    ),
    Param("start_date", "date", "First filing date to read (instead of days_back)."),
    Param("end_date", "date", "Last filing date to read (default today; not in the future)."),
)

JOBS: tuple[Job, ...] = (
    Job(
        "ingestion.sync_house_trades",
        "Fetch House periodic transaction reports for a date window.",
        _SYNC_PARAMS,
        check=_check_sync_window,
    ),
    Job(
        "ingestion.sync_senate_trades",
        "Fetch Senate periodic transaction reports for a date window.",
        _SYNC_PARAMS,
        check=_check_sync_window,
    ),
    Job(
        "ingestion.sync_all_trades",
        "Fetch House and Senate reports for a date window (one task per chamber).",
        _SYNC_PARAMS,
        check=_check_sync_window,
    ),
    Job(
        "ingestion.update_stock_prices",
        "Refresh prices of traded and watched tickers (skipped outside NYSE hours).",
        (
            Param("force", "boolean", "Fetch even while the NYSE is closed.", default=False),
            Param(
                "days", "integer", "Days of prices to refresh.", default=7, minimum=1, maximum=3660
            ),
        ),
    ),
    Job("monitoring.system_health_check", "Run every health check now; the result is kept."),
    Job("monitoring.cleanup_old_data", "Delete records past their retention age, in batches."),
    Job("monitoring.daily_maintenance", "Daily housekeeping: locks, stale incidents, upkeep."),
    Job(
        "monitoring.selftest_fail",
        "Fail on purpose (after some retries) to test dead letters and operator alerts.",
        (
            Param(
                "retries",
                "integer",
                "Retries before failing for good.",
                default=0,
                minimum=0,
                maximum=5,
            ),
            Param("message", "string", "The error message.", default="", maximum=200),
        ),
    ),
    Job(
        "alerts.process_pending_notifications",
        "Match trades not yet matched and send notifications a lost message left behind.",
    ),
    Job("alerts.send_daily_digests", "Send the daily digests that are due."),
)
_BY_NAME = {job.name: job for job in JOBS}


def _registered() -> set[str]:
    from capitolscope.celery import app

    app.loader.import_default_modules()  # autodiscovery is lazy
    return set(app.tasks.keys())


def jobs_available() -> list[Job]:
    """The jobs whose task is registered in this process's Celery app."""
    registered = _registered()
    return [job for job in JOBS if job.name in registered]


def job_get(name: str) -> Job | None:
    job = _BY_NAME.get(name)
    return job if job is not None and job.name in _registered() else None


def task_queue(name: str) -> str:
    """The queue the task routes send ``name`` to (registered here or not)."""
    from capitolscope.celery import app

    queue = app.amqp.router.route({}, name, (), {}).get("queue")
    return getattr(queue, "name", queue) or settings.CELERY_TASK_DEFAULT_QUEUE


@dataclass(frozen=True)
class Triggered:
    task_id: str
    queue: str
    kwargs: dict


def job_trigger(*, job: Job, params: dict, requested_by: str) -> Triggered:
    """Publish ``job`` with already validated ``params``; returns the new task's id."""
    from capitolscope.celery import app

    result = app.tasks[job.name].apply_async(kwargs=params)
    queue = task_queue(job.name)
    logger.info(
        "job %s triggered by %s as task %s on %s with %s",
        job.name,
        requested_by,
        result.id,
        queue,
        params,
    )
    return Triggered(task_id=result.id, queue=queue, kwargs=params)
