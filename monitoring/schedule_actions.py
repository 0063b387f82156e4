"""Operator actions on schedules: run one now, enable or disable it."""

from __future__ import annotations

import json
import logging
import uuid

from django_celery_beat.models import PeriodicTask

logger = logging.getLogger(__name__)


class ScheduleActionError(Exception):
    """The action cannot be done; the message says why (shown to the operator)."""


def _json_field(task: PeriodicTask, name: str, kind: type):
    text = getattr(task, name) or ("[]" if kind is list else "{}")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ScheduleActionError(f"{task.name}: its {name} are not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise ScheduleActionError(f"{task.name}: its {name} must be a JSON {kind.__name__}")
    return value


def schedule_run_now(*, task: PeriodicTask, registered: set[str] | None = None) -> str:
    """Send the schedule's task now with its arguments, queue and options; return the id.

    The message carries the ``periodic_task_name`` header, as beat's does, so the run is
    recorded against the schedule in the task history. ``last_run_at`` is left alone: beat's
    own timetable does not move.
    """
    from capitolscope.celery import app

    if registered is None:
        from monitoring.selectors import registered_task_names

        registered = registered_task_names()
    if task.task not in registered:
        raise ScheduleActionError(
            f"{task.name}: task {task.task!r} is not registered, so no worker would run it"
        )
    args = _json_field(task, "args", list)
    kwargs = _json_field(task, "kwargs", dict)
    headers = _json_field(task, "headers", dict)
    headers["periodic_task_name"] = task.name
    options = {"task_id": str(uuid.uuid4()), "headers": headers}
    if task.queue:
        options["queue"] = task.queue
    if task.exchange:
        options["exchange"] = task.exchange
    if task.routing_key:
        options["routing_key"] = task.routing_key
    if task.priority is not None:
        options["priority"] = task.priority
    if task.expire_seconds:
        options["expires"] = task.expire_seconds
    result = app.send_task(task.task, args=args, kwargs=kwargs, **options)
    logger.info("schedule %s run now as task %s", task.name, result.id)
    return result.id


def schedule_set_enabled(*, task: PeriodicTask, enabled: bool) -> bool:
    """Enable or disable a schedule; returns whether anything changed.

    ``save()`` (not ``update()``) so django-celery-beat's change signal tells beat to reload.
    """
    if task.enabled == enabled:
        return False
    task.enabled = enabled
    task.save()
    return True
