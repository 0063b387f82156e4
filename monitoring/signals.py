"""Record every published task as a PENDING ``TaskResult`` so queued tasks show in the history.

django-celery-results writes nothing until a worker starts a task; until then a queued task
would be invisible. ``before_task_publish`` runs in every process that publishes (web, worker,
beat) just before the message leaves, so the row exists before any worker can pick the task
up. The backend later stores STARTED/SUCCESS/FAILURE for the same ``task_id`` with
get-or-create-then-update, so it updates our row instead of adding a second one.

Recording must never break publishing: any error is logged and the message is sent anyway.
Inside a transaction we wait for the commit, so a long transaction never holds a row lock a
worker would wait on, and a rolled-back transaction never leaves a row behind (the worker
still records the task when it runs it).
"""

from __future__ import annotations

import json
import logging

from celery import states
from celery.signals import before_task_publish, task_prerun
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)


def published_task_record(*, headers: dict) -> None:
    """Insert a PENDING row for the task in ``headers`` unless one exists (protocol 2)."""
    from django_celery_results.models import TaskResult

    task_id = headers.get("id")
    if not task_id:
        return
    # The backend stores ``json.dumps(argsrepr)``: keep the same shape so the detail page
    # reads both the same way.
    argsrepr = headers.get("argsrepr")
    kwargsrepr = headers.get("kwargsrepr")
    TaskResult.objects.bulk_create(
        [
            TaskResult(
                task_id=task_id,
                task_name=headers.get("task"),
                periodic_task_name=headers.get("periodic_task_name"),
                task_args=json.dumps(argsrepr) if argsrepr is not None else None,
                task_kwargs=json.dumps(kwargsrepr) if kwargsrepr is not None else None,
                status=states.PENDING,
                content_type="application/json",
                content_encoding="utf-8",
            )
        ],
        # A retry republishes the same id, and a fast worker may have stored STARTED
        # already: never overwrite what is there.
        ignore_conflicts=True,
    )


def _record_safely(headers: dict) -> None:
    try:
        published_task_record(headers=headers)
    except Exception:  # recording is a convenience; publishing must go on
        logger.warning(
            "could not record published task %s (%s) as pending",
            headers.get("id"),
            headers.get("task"),
            exc_info=True,
        )


@before_task_publish.connect(dispatch_uid="monitoring.record_published_task")
def record_published_task(sender=None, headers=None, **_kwargs) -> None:
    if not headers or "task" not in headers:
        return  # protocol 1 or a non-task message: nothing we can read reliably
    if headers["task"].startswith("celery."):
        return  # Celery's own chords/backend cleanup: not operator work
    headers = dict(headers)
    try:
        in_transaction = connections[DEFAULT_DB_ALIAS].in_atomic_block
    except Exception:
        in_transaction = False
    if in_transaction:
        transaction.on_commit(lambda: _record_safely(headers))
    else:
        _record_safely(headers)


@task_prerun.connect(dispatch_uid="monitoring.annotate_task_request")
def annotate_task_request(sender=None, task=None, **_kwargs) -> None:
    """Put the retry count and the queue into the result's ``meta`` column.

    django-celery-results stores ``request.meta`` with every state it records and keeps no
    column for either; the task-history detail page reads them back from there.
    """
    request = getattr(task, "request", None)
    if request is None:
        return
    try:
        delivery_info = request.delivery_info or {}
        extra = {
            "retries": int(request.retries or 0),
            "queue": delivery_info.get("routing_key") or "",
        }
        request.meta = {**(getattr(request, "meta", None) or {}), **extra}
    except Exception:  # never fail a task for the sake of its history
        logger.warning("could not annotate the request of %s", sender, exc_info=True)
