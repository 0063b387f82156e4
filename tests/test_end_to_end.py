"""A real worker and a real beat, against the real broker and database (issue 2, item 8)."""

import time

import pytest
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from monitoring.tasks import system_health_check
from tests.processes import wait_until

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_a_task_sent_to_its_queue_runs_on_the_worker_and_its_result_is_stored(worker):
    result = system_health_check.delay()
    report = result.get(timeout=30)
    assert report["status"] == "ok"
    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "SUCCESS"
    assert row.task_name == "monitoring.system_health_check"
    assert row.worker == worker.hostname
    assert row.date_started is not None  # task_track_started


def test_beat_runs_a_schedule_created_like_the_admin_does_and_stops_when_it_is_disabled(
    worker, beat
):
    every_two_seconds = IntervalSchedule.objects.create(every=2, period=IntervalSchedule.SECONDS)
    schedule = PeriodicTask.objects.create(
        name="e2e health check",
        task="monitoring.system_health_check",
        interval=every_two_seconds,
        queue="default",
    )

    def runs():
        return TaskResult.objects.filter(periodic_task_name=schedule.name)

    wait_until(
        lambda: runs().filter(status="SUCCESS").count() >= 2,
        timeout=45,
        what=f"two successful runs\nbeat:\n{beat.tail()}\nworker:\n{worker.tail()}",
    )
    row = runs().filter(status="SUCCESS").first()
    assert row.task_name == "monitoring.system_health_check"
    assert row.periodic_task_name == "e2e health check"
    assert '"status": "ok"' in row.result

    schedule.enabled = False
    schedule.save()  # as the admin does: save() tells beat the schedules changed
    # Beat notices within its loop interval; a message already sent may still run.
    time.sleep(settings.CELERY_BEAT_MAX_LOOP_INTERVAL + 3)
    settled = runs().count()
    time.sleep(3 * 2 + 1)  # three more periods of the schedule
    assert runs().count() == settled, (
        f"beat kept sending after the task was disabled:\n{beat.tail()}"
    )
    assert beat.alive() and worker.alive()


def test_beat_started_on_a_database_with_no_schedules_picks_up_the_first_one_created(beat):
    """django-celery-beat 2.9 misses the first change on such a database (capitolscope/beat.py)."""
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="first schedule ever", task="monitoring.system_health_check", interval=every_second
    )
    wait_until(
        lambda: "Sending due task first schedule ever" in beat.output(),
        timeout=15,
        what=f"beat to send the new schedule\n{beat.tail()}",
    )
