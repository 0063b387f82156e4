"""Queued tasks are visible: a published task is a PENDING row until a worker runs it."""

import json
import logging

import pytest
from django.db import connection, transaction
from django_celery_results.models import TaskResult

from capitolscope.celery import app as celery_app
from monitoring.tasks import selftest_fail, system_health_check
from tests.processes import start_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


@pytest.fixture
def idle_queues():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def run_worker_until(tmp_path, predicate, what: str):
    worker, _hostname = start_worker(tmp_path)
    try:
        return wait_until(predicate, timeout=60, what=f"{what}\n{worker.tail()}")
    finally:
        worker.stop()


def test_a_published_task_is_pending_then_succeeds_in_the_same_row(tmp_path, idle_queues):
    result = system_health_check.apply_async(queue="default")

    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "PENDING"
    assert row.task_name == "monitoring.system_health_check"
    assert json.loads(row.task_args) == "()"  # as the backend stores argsrepr
    assert row.date_started is None

    run_worker_until(
        tmp_path,
        lambda: TaskResult.objects.filter(task_id=result.id, status="SUCCESS").exists(),
        "the task to succeed",
    )
    assert TaskResult.objects.filter(task_id=result.id).count() == 1
    row = TaskResult.objects.get(task_id=result.id)
    assert row.date_created < row.date_started <= row.date_done
    assert row.worker.startswith("test-")
    meta = json.loads(row.meta)
    assert meta["queue"] == "default" and meta["retries"] == 0


def test_the_pending_row_is_listed_and_shows_its_arguments(
    tmp_path, idle_queues, client, staff_user
):
    result = selftest_fail.apply_async(kwargs={"message": "queued only"}, queue="default")
    client.force_login(staff_user)
    listing = client.get("/ops/tasks/?status=PENDING").content.decode()
    assert result.id in listing
    detail = client.get(f"/ops/tasks/{result.id}/").content.decode()
    assert "&quot;message&quot;: &quot;queued only&quot;" in detail


def test_retries_are_recorded_and_one_row_remains(tmp_path, idle_queues, client, staff_user):
    result = selftest_fail.apply_async(args=[2], queue="default")
    run_worker_until(
        tmp_path,
        lambda: TaskResult.objects.filter(task_id=result.id, status="FAILURE").exists(),
        "the task to fail after its retries",
    )
    assert TaskResult.objects.filter(task_id=result.id).count() == 1
    client.force_login(staff_user)
    text = client.get(f"/ops/tasks/{result.id}/").content.decode()
    assert "<th>retries</th><td>2</td>" in text
    assert "SelfTestFailure" in text


def test_a_task_published_in_a_transaction_is_recorded_on_commit_only(idle_queues):
    with transaction.atomic():
        kept = system_health_check.apply_async(queue="default")
        assert not TaskResult.objects.filter(task_id=kept.id).exists()
    assert TaskResult.objects.get(task_id=kept.id).status == "PENDING"

    with pytest.raises(RuntimeError), transaction.atomic():
        dropped = system_health_check.apply_async(queue="default")
        raise RuntimeError("roll back")
    assert not TaskResult.objects.filter(task_id=dropped.id).exists()


def test_publishing_goes_on_when_the_history_cannot_be_written(tmp_path, idle_queues, caplog):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_celery_results_taskresult RENAME TO taskresult_away")
    try:
        with caplog.at_level(logging.WARNING, logger="monitoring.signals"):
            result = system_health_check.apply_async(queue="default")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE taskresult_away RENAME TO django_celery_results_taskresult")
    assert f"could not record published task {result.id}" in caplog.text
    assert not TaskResult.objects.filter(task_id=result.id).exists()
    # The message was sent all the same: a worker runs it.
    run_worker_until(
        tmp_path,
        lambda: TaskResult.objects.filter(task_id=result.id, status="SUCCESS").exists(),
        "the task published while its history could not be written",
    )


def test_a_task_beat_sends_is_pending_under_its_schedule_name(beat, idle_queues):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.create(
        name="health-every-second",
        task="monitoring.system_health_check",
        interval=every_second,
        queue="default",
    )
    row = wait_until(
        lambda: TaskResult.objects.filter(periodic_task_name="health-every-second").first(),
        timeout=60,
        what=f"beat to send the task\n{beat.tail()}",
    )
    assert row.status == "PENDING"
    assert row.task_name == "monitoring.system_health_check"
