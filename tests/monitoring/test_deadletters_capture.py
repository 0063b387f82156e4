"""Dead letters: captured when a task fails for good on a real worker; retried or dismissed."""

import json

import pytest
from django_celery_results.models import TaskResult

from capitolscope.celery import app
from monitoring.deadletters import (
    DeadLetterError,
    deadletter_capture,
    deadletter_dismiss,
    deadletter_retry,
)
from monitoring.models import DeadLetter
from monitoring.queues import queue_depths, redis_list_names
from monitoring.tasks import selftest_fail
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def letter_for(task_id: str, worker) -> DeadLetter:
    return wait_until(
        lambda: DeadLetter.objects.filter(task_id=task_id).first(),
        timeout=30,
        what=f"the dead letter of {task_id}\n{worker.tail()}",
    )


@pytest.mark.processes
def test_a_task_that_fails_with_a_non_retryable_error_becomes_one_dead_letter(worker):
    result = selftest_fail.apply_async(kwargs={"message": "boom for the test"}, queue="default")
    letter = letter_for(result.id, worker)
    assert letter.task_name == "monitoring.selftest_fail"
    assert letter.kwargs == {"message": "boom for the test"}
    assert letter.args == []
    assert letter.queue == "default"
    assert letter.exception_type == "SelfTestFailure"
    assert letter.exception == "boom for the test"
    assert "SelfTestFailure: boom for the test" in letter.traceback
    assert letter.retries == 0
    assert letter.worker == worker.hostname
    assert letter.status == DeadLetter.Status.OPEN
    assert TaskResult.objects.get(task_id=result.id).status == "FAILURE"


@pytest.mark.processes
def test_retries_are_not_failures_and_the_exhausted_task_becomes_one_dead_letter(worker):
    result = selftest_fail.apply_async(args=[2], queue="default")
    letter = letter_for(result.id, worker)
    wait_until(
        lambda: TaskResult.objects.filter(task_id=result.id, status="FAILURE").exists(),
        timeout=30,
        what="the final failure",
    )
    assert DeadLetter.objects.count() == 1
    letter.refresh_from_db()
    assert letter.retries == 2
    assert letter.args == [2]
    assert letter.exception_type == "SelfTestFailure"


def test_capturing_the_same_task_twice_keeps_one_row_and_its_status():
    first = deadletter_capture(
        task_id="t-1",
        task_name="ingestion.sync_all_trades",
        args=[],
        kwargs={"days_back": 1},
        exception=RuntimeError("first"),
        queue="data_ingestion",
    )
    deadletter_dismiss(dead_letter=first, user=None)
    again = deadletter_capture(
        task_id="t-1",
        task_name="ingestion.sync_all_trades",
        args=[],
        kwargs={"days_back": 1},
        exception=RuntimeError("second"),
        queue="data_ingestion",
        retries=3,
    )
    assert DeadLetter.objects.count() == 1
    assert again.pk == first.pk
    assert again.exception == "second" and again.retries == 3
    assert again.status == DeadLetter.Status.DISMISSED


def test_arguments_that_are_not_json_are_kept_as_their_repr():
    letter = deadletter_capture(
        task_id="t-2",
        task_name="x.y",
        args=[object.__new__(object)],
        kwargs={"when": {1, 2}},
        exception=ValueError("bad"),
    )
    assert letter.args[0].startswith("<object object")
    assert letter.kwargs == {"when": "{1, 2}"}
    json.dumps(letter.args)


def test_retry_sends_a_new_task_with_the_same_arguments_to_the_same_queue(staff_user):
    app.control.purge()
    letter = deadletter_capture(
        task_id="t-3",
        task_name="monitoring.selftest_fail",
        args=[0],
        kwargs={"message": "again"},
        exception=RuntimeError("x"),
        queue="maintenance",
    )
    before = queue_depths()["maintenance"]
    new_id = deadletter_retry(dead_letter=letter, user=staff_user)
    assert queue_depths()["maintenance"] == before + 1
    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.RETRIED
    assert letter.retry_task_id == new_id != "t-3"
    assert letter.resolved_by == staff_user and letter.resolved_at is not None
    # The published message carries the same task, arguments and a new id.
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    raw = next(
        message
        for name in redis_list_names("maintenance")
        for message in client.lrange(name, 0, -1)
        if new_id.encode() in message
    )
    message = json.loads(raw)
    assert message["headers"]["task"] == "monitoring.selftest_fail"
    app.control.purge()


def test_a_dead_letter_is_retried_or_dismissed_once_only(staff_user):
    app.control.purge()
    letter = deadletter_capture(
        task_id="t-4", task_name="monitoring.selftest_fail", args=[], kwargs={}, exception=None
    )
    deadletter_retry(dead_letter=letter, user=staff_user)
    with pytest.raises(DeadLetterError, match="is retried, not open"):
        deadletter_retry(dead_letter=letter, user=staff_user)
    with pytest.raises(DeadLetterError, match="only open dead letters can be dismissed"):
        deadletter_dismiss(dead_letter=letter, user=staff_user)
    app.control.purge()


def test_dismiss_marks_it_handled_by_the_user(staff_user):
    letter = deadletter_capture(
        task_id="t-5", task_name="x.y", args=[], kwargs={}, exception=ValueError("v")
    )
    deadletter_dismiss(dead_letter=letter, user=staff_user)
    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.DISMISSED
    assert letter.resolved_by == staff_user
    assert letter.retry_task_id == ""


def test_the_admin_retries_and_dismisses_and_masks_secret_arguments(admin_client):
    app.control.purge()
    retry_me = deadletter_capture(
        task_id="t-6",
        task_name="monitoring.selftest_fail",
        args=[],
        kwargs={"message": "m", "api_token": "s3cr3t-value"},
        exception=ValueError("v"),
        queue="maintenance",
    )
    dismiss_me = deadletter_capture(
        task_id="t-7", task_name="x.y", args=[], kwargs={}, exception=ValueError("v")
    )
    page = admin_client.get(f"/admin/monitoring/deadletter/{retry_me.pk}/change/")
    assert page.status_code == 200
    assert b"s3cr3t-value" not in page.content
    url = "/admin/monitoring/deadletter/"
    response = admin_client.post(
        url, {"action": "retry_selected", "_selected_action": [retry_me.pk]}, follow=True
    )
    assert response.status_code == 200
    retry_me.refresh_from_db()
    assert retry_me.status == DeadLetter.Status.RETRIED and retry_me.retry_task_id
    assert retry_me.retry_task_id in response.content.decode()
    admin_client.post(url, {"action": "dismiss_selected", "_selected_action": [dismiss_me.pk]})
    dismiss_me.refresh_from_db()
    assert dismiss_me.status == DeadLetter.Status.DISMISSED
    # A second retry of the same letter is refused with the reason.
    response = admin_client.post(
        url, {"action": "retry_selected", "_selected_action": [retry_me.pk]}, follow=True
    )
    assert "is retried, not open" in response.content.decode()
    app.control.purge()


def test_the_incident_and_heartbeat_admin_pages_answer(admin_client):
    from monitoring.models import Heartbeat, Incident

    Incident.objects.create(kind="disk", summary="low disk")
    Heartbeat.objects.create(name="beat", hostname="h", pid=1)
    assert b"low disk" in admin_client.get("/admin/monitoring/incident/").content
    assert admin_client.get("/admin/monitoring/heartbeat/").status_code == 200
    assert admin_client.get("/admin/monitoring/incident/add/").status_code == 403


def test_a_failure_reported_outside_the_task_request_takes_the_queue_from_the_routes():
    """Hard time limits and lost workers are reported by the worker's main process."""
    from monitoring.deadletters import deadletter_capture_from_signal

    app.loader.import_default_modules()
    deadletter_capture_from_signal(
        sender=app.tasks["monitoring.cleanup_old_data"],
        task_id="t-8",
        exception=TimeoutError("hard time limit (3300 s) exceeded"),
        args=[],
        kwargs={},
    )
    letter = DeadLetter.objects.get(task_id="t-8")
    assert letter.queue == "maintenance"
    assert letter.exception_type == "TimeoutError"
    assert "TimeoutError: hard time limit" in letter.traceback


def test_a_retry_the_broker_refuses_leaves_the_dead_letter_open(staff_user):
    from capitolscope.broker import free_port

    letter = deadletter_capture(
        task_id="t-6", task_name="monitoring.selftest_fail", args=[], kwargs={}, exception=None
    )
    # Publish through new pools to a port nobody listens on; the real ones are put back.
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    app._pool = app.amqp._producer_pool = None
    try:
        with pytest.raises(DeadLetterError, match="could not publish"):
            deadletter_retry(dead_letter=letter, user=staff_user)
    finally:
        app.pool.force_close_all()
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved
    letter.refresh_from_db()
    assert (letter.status, letter.retry_task_id, letter.resolved_at) == ("open", "", None)
