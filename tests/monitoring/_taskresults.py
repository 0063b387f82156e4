"""Task-result rows shaped as django-celery-results stores them (result_extended=True)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django_celery_results.models import TaskResult


def stored_repr(value) -> str:
    """What the backend writes in task_args/task_kwargs: JSON of Celery's argsrepr."""
    return json.dumps(repr(value))


def task_result(
    *,
    task_name: str = "ingestion.sync_all_trades",
    status: str = "SUCCESS",
    created: dt.datetime,
    started_after: float | None = 1.0,
    duration: float | None = 2.0,
    schedule: str | None = None,
    args=(),
    kwargs=None,
    result=None,
    traceback: str | None = None,
    worker: str = "celery@test",
    meta: dict | None = None,
    task_id: str | None = None,
) -> TaskResult:
    row = TaskResult.objects.create(
        task_id=task_id or str(uuid.uuid4()),
        task_name=task_name,
        periodic_task_name=schedule,
        status=status,
        task_args=stored_repr(tuple(args)),
        task_kwargs=stored_repr(kwargs or {}),
        result=json.dumps(result),
        traceback=traceback,
        worker=worker,
        content_type="application/json",
        content_encoding="utf-8",
        meta=json.dumps({"children": [], **(meta or {})}),
    )
    started = created + dt.timedelta(seconds=started_after) if started_after is not None else None
    done = (started or created) + dt.timedelta(seconds=duration or 0)
    # date_created/date_done are auto fields: set them as a real run would have.
    TaskResult.objects.filter(pk=row.pk).update(
        date_created=created, date_started=started, date_done=done
    )
    row.refresh_from_db()
    return row
