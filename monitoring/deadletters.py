"""Dead letters: tasks that failed for good, kept with everything needed to run them again.

Capture: Celery sends ``task_failure`` only for a task's final failure (a non-retryable error,
or ``MaxRetriesExceededError`` / the last error once retries are exhausted); ``self.retry()``
raising ``Retry`` sends ``task_retry`` instead. ``deadletter_capture`` is connected to it in
the worker (``monitoring/tasks.py``) and is idempotent on the task id.

Services for the views, the admin and the API: ``deadletter_retry`` and ``deadletter_dismiss``.
"""

from __future__ import annotations

import json
import logging
import traceback as traceback_module
import uuid

from django.db import transaction
from django.utils import timezone

from monitoring.models import DeadLetter

logger = logging.getLogger(__name__)


class DeadLetterError(Exception):
    """A retry or dismissal that cannot be done (e.g. the dead letter was already handled)."""


def _json_safe(value, *, fallback):
    """The value if it survives JSON (it came over a JSON broker, so it normally does)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return fallback(value)


def deadletter_capture(
    *,
    task_id: str,
    task_name: str,
    args,
    kwargs,
    exception: BaseException | None,
    traceback_text: str = "",
    queue: str = "",
    retries: int = 0,
    worker: str = "",
) -> DeadLetter:
    """Store (or refresh) the dead letter of ``task_id``; one row per task id, whatever happens.

    A task id that fails again (a redelivered message) updates the row's failure details and
    keeps its status, so a dismissed or retried letter stays so.
    """
    args = _json_safe(list(args or []), fallback=lambda value: [repr(item) for item in value])
    kwargs = _json_safe(
        dict(kwargs or {}), fallback=lambda value: {key: repr(item) for key, item in value.items()}
    )
    details = {
        "task_name": task_name,
        "args": args,
        "kwargs": kwargs,
        "queue": queue or "",
        "exception_type": type(exception).__name__ if exception is not None else "",
        "exception": str(exception) if exception is not None else "",
        "traceback": traceback_text or "",
        "retries": max(int(retries or 0), 0),
        "worker": worker or "",
        "failed_at": timezone.now(),
    }
    letter, _created = DeadLetter.objects.update_or_create(task_id=task_id, defaults=details)
    return letter


def _routed_queue(task) -> str:
    """The queue the task's route names: the failure handlers of hard time limits and lost
    workers run outside the task's request, where the delivery info is not at hand."""
    try:
        route = task.app.amqp.router.route({}, task.name)
        queue = route.get("queue")
        return getattr(queue, "name", None) or str(queue or "")
    except Exception:
        return getattr(task, "queue", None) or ""


def deadletter_capture_from_signal(
    sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **_extra
) -> None:
    """``task_failure`` receiver: never raises (a failing handler must not hide the failure)."""
    try:
        request = getattr(sender, "request", None)
        delivery = getattr(request, "delivery_info", None) or {}
        queue = delivery.get("routing_key") or ""
        if not queue and sender is not None:
            queue = _routed_queue(sender)
        if einfo is not None and getattr(einfo, "traceback", None):
            traceback_text = str(einfo.traceback)
        elif exception is not None:
            traceback_text = "".join(traceback_module.format_exception(exception))
        else:
            traceback_text = ""
        deadletter_capture(
            task_id=task_id or getattr(request, "id", "") or "",
            task_name=getattr(sender, "name", "") or "",
            args=args if args is not None else getattr(request, "args", []),
            kwargs=kwargs if kwargs is not None else getattr(request, "kwargs", {}),
            exception=exception,
            traceback_text=traceback_text,
            queue=queue,
            retries=getattr(request, "retries", 0) or 0,
            worker=getattr(request, "hostname", "") or "",
        )
    except Exception:
        logger.exception("could not store the dead letter of task %s", task_id)


def deadletter_retry(*, dead_letter: DeadLetter, user) -> str:
    """Send a new task with the same name, arguments and queue; return its task id.

    The dead letter becomes ``retried``, linked to the new task by ``retry_task_id``. Only an
    open dead letter can be retried (raises DeadLetterError otherwise, e.g. a double click).
    The message is published after the transaction commits; when the broker refuses it, the
    letter is open again and DeadLetterError says so.
    """
    from capitolscope.celery import app

    new_task_id = str(uuid.uuid4())
    now = timezone.now()
    with transaction.atomic():
        claimed = DeadLetter.objects.filter(
            pk=dead_letter.pk, status=DeadLetter.Status.OPEN
        ).update(
            status=DeadLetter.Status.RETRIED,
            retry_task_id=new_task_id,
            resolved_at=now,
            resolved_by=user if getattr(user, "pk", None) else None,
        )
        if claimed != 1:
            current = DeadLetter.objects.filter(pk=dead_letter.pk).values_list("status", flat=True)
            state = current.first() or "deleted"
            raise DeadLetterError(
                f"dead letter {dead_letter.pk} ({dead_letter.task_name}) is {state}, not open: "
                "only open dead letters can be retried"
            )
        options = {"task_id": new_task_id}
        if dead_letter.queue:
            options["queue"] = dead_letter.queue

        def publish() -> None:
            try:
                app.send_task(
                    dead_letter.task_name,
                    args=list(dead_letter.args or []),
                    kwargs=dict(dead_letter.kwargs or {}),
                    **options,
                )
            except Exception as exc:
                # Nothing was sent: open the letter again so it can be retried later.
                DeadLetter.objects.filter(pk=dead_letter.pk, retry_task_id=new_task_id).update(
                    status=DeadLetter.Status.OPEN,
                    retry_task_id="",
                    resolved_at=None,
                    resolved_by=None,
                )
                raise DeadLetterError(
                    f"could not publish the retry of dead letter {dead_letter.pk} "
                    f"({dead_letter.task_name}): {type(exc).__name__}; it stays open"
                ) from exc

        transaction.on_commit(publish)
    dead_letter.refresh_from_db()
    logger.info(
        "dead letter %s (%s %s) retried as task %s",
        dead_letter.pk,
        dead_letter.task_name,
        dead_letter.task_id,
        new_task_id,
    )
    return new_task_id


def deadletter_dismiss(*, dead_letter: DeadLetter, user) -> DeadLetter:
    """Mark an open dead letter as handled without running it again."""
    now = timezone.now()
    dismissed = DeadLetter.objects.filter(pk=dead_letter.pk, status=DeadLetter.Status.OPEN).update(
        status=DeadLetter.Status.DISMISSED,
        resolved_at=now,
        resolved_by=user if getattr(user, "pk", None) else None,
    )
    if dismissed != 1:
        current = DeadLetter.objects.filter(pk=dead_letter.pk).values_list("status", flat=True)
        state = current.first() or "deleted"
        raise DeadLetterError(
            f"dead letter {dead_letter.pk} ({dead_letter.task_name}) is {state}, not open: "
            "only open dead letters can be dismissed"
        )
    dead_letter.refresh_from_db()
    return dead_letter
