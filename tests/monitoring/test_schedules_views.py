"""Schedules page: words, next runs, stats from recent runs, missed flag, and actions."""

import datetime as dt
import html
import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from capitolscope.celery import app as celery_app
from monitoring import selectors
from monitoring.schedules import schedules_setup
from tests.monitoring._taskresults import task_result
from tests.processes import wait_until

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)  # a Monday


def interval_task(name="every-two-hours", *, every=2, period="hours", **fields):
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    fields.setdefault("task", "ingestion.sync_all_trades")
    return PeriodicTask.objects.create(name=name, interval=interval, **fields)


def crontab_task(name="weekly", *, minute="0", hour="3", day_of_week="0", tz="UTC", **fields):
    cron = CrontabSchedule.objects.create(
        minute=minute, hour=hour, day_of_week=day_of_week, timezone=tz
    )
    fields.setdefault("task", "ingestion.sync_all_trades")
    return PeriodicTask.objects.create(name=name, crontab=cron, **fields)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


# --- In words and next runs -------------------------------------------------------------------


@pytest.mark.django_db
def test_schedules_read_in_words():
    assert selectors.schedule_words(interval_task()) == "every 2 hours"
    assert selectors.schedule_words(interval_task("one", every=1, period="minutes")) == (
        "every 1 minute"
    )
    assert selectors.schedule_words(crontab_task()) == "at 03:00 on Sunday (UTC)"
    daily = crontab_task("daily", minute="0", hour="8", day_of_week="*")
    assert selectors.schedule_words(daily) == "at 08:00 (UTC)"
    quarter = crontab_task("quarter", minute="*/15", hour="*", day_of_week="mon-fri")
    assert selectors.schedule_words(quarter) == "every 15 minutes on weekdays (UTC)"


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_the_next_five_runs_of_a_crontab_follow_its_time_zone():
    task = crontab_task(minute="30", hour="9", day_of_week="*", tz="America/New_York")
    runs = selectors.schedule_next_runs(task, count=5)
    # 09:30 in New York is 14:30 UTC in November (EST).
    assert [run.isoformat() for run in runs] == [
        f"2026-11-{day}T14:30:00+00:00" for day in (23, 24, 25, 26, 27)
    ]


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_the_next_run_of_an_interval_counts_from_its_last_run():
    task = interval_task(last_run_at=NOW - dt.timedelta(minutes=30))
    assert selectors.schedule_next_runs(task, count=2) == [
        NOW + dt.timedelta(minutes=90),
        NOW + dt.timedelta(minutes=210),
    ]


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_a_schedule_past_its_expected_run_and_the_grace_is_missed(settings):
    settings.HEALTH_SCHEDULE_GRACE = 300
    late = interval_task("late", last_run_at=NOW - dt.timedelta(hours=2, minutes=6))
    on_time = interval_task("on-time", last_run_at=NOW - dt.timedelta(hours=2, minutes=4))
    disabled = interval_task("off", last_run_at=NOW - dt.timedelta(days=1), enabled=False)
    assert selectors.schedule_is_missed(late)
    assert not selectors.schedule_is_missed(on_time)
    assert not selectors.schedule_is_missed(disabled)


# --- The page -------------------------------------------------------------------------------


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_the_page_lists_every_schedule_with_last_status_rate_and_durations(staff_client):
    interval_task("sync", last_run_at=NOW - dt.timedelta(hours=3))
    durations = [1, 2, 3, 4, 100]
    for hours_ago, seconds in enumerate(durations):
        task_result(
            schedule="sync",
            created=NOW - dt.timedelta(hours=5 - hours_ago),
            started_after=0,
            duration=seconds,
        )
    task_result(schedule="sync", status="FAILURE", created=NOW - dt.timedelta(minutes=10))
    task_result(schedule="other", created=NOW)  # another schedule's run
    crontab_task("weekly")

    response = staff_client.get("/ops/schedules/")
    assert response.status_code == 200
    text = response.content.decode()
    row = re.search(r'<tr class="schedule missed">(.*?)</tr>', text, re.S).group(1)
    assert "sync" in row and "every 2 hours" in row
    assert "FAILURE" in row  # the last status
    assert "83 %" in row and "(5/6)" in row  # 5 successes out of 6 finished runs
    assert "3.00 s" in row  # the median of 1, 2, 3, 4, 100 s
    assert "1 min 40 s" in row  # p95
    assert "missed" in row
    assert "at 03:00 on Sunday (UTC)" in text
    assert "2026-11-29 03:00" in text  # the weekly one's next run


@pytest.mark.django_db
def test_stats_cost_one_query_per_schedule_whatever_the_runs(
    staff_client, django_assert_max_num_queries
):
    for index in range(4):
        interval_task(f"sched-{index}")
        for _ in range(30):
            task_result(schedule=f"sched-{index}", created=NOW)
    with django_assert_max_num_queries(4 + 8) as captured:  # schedules + session/user
        staff_client.get("/ops/schedules/")
    taskresult_queries = [
        q for q in captured.captured_queries if "django_celery_results_taskresult" in q["sql"]
    ]
    assert len(taskresult_queries) == 4
    assert all("LIMIT 50" in q["sql"] for q in taskresult_queries)


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_the_detail_page_shows_recent_runs_and_the_next_five_runs(staff_client):
    task = crontab_task()
    run = task_result(schedule=task.name, created=NOW - dt.timedelta(days=1))
    text = staff_client.get(f"/ops/schedules/{task.pk}/").content.decode()
    assert run.task_id in text
    next_runs = re.search(r'<ol class="next-runs">(.*?)</ol>', text, re.S).group(1)
    assert re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", next_runs) == [
        "2026-11-29 03:00",
        "2026-12-06 03:00",
        "2026-12-13 03:00",
        "2026-12-20 03:00",
        "2026-12-27 03:00",
    ]


# --- Actions --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enable_and_disable_are_posts_that_need_the_csrf_token(staff_user):
    task = interval_task(enabled=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    refused = client.post(f"/ops/schedules/{task.pk}/disable/")
    assert refused.status_code == 403
    task.refresh_from_db()
    assert task.enabled

    page = client.get(f"/ops/schedules/{task.pk}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    response = client.post(
        f"/ops/schedules/{task.pk}/disable/", {"csrfmiddlewaretoken": token.group(1)}, follow=True
    )
    task.refresh_from_db()
    assert not task.enabled
    assert f"“{task.name}” is disabled" in response.content.decode()

    response = client.post(
        f"/ops/schedules/{task.pk}/enable/", {"csrfmiddlewaretoken": token.group(1)}, follow=True
    )
    task.refresh_from_db()
    assert task.enabled
    assert f"“{task.name}” is enabled" in response.content.decode()


@pytest.mark.django_db
def test_run_now_refuses_a_schedule_whose_task_no_worker_knows(staff_client):
    task = interval_task(task="nowhere.unknown_task")
    response = staff_client.post(f"/ops/schedules/{task.pk}/run/", follow=True)
    text = html.unescape(response.content.decode())
    assert "task 'nowhere.unknown_task' is not registered, so no worker would run it" in text
    assert not TaskResult.objects.exists()


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_run_now_sends_the_task_with_its_arguments_as_a_run_of_the_schedule(worker, staff_client):
    schedules_setup()
    task = PeriodicTask.objects.get(name="system-health-check")
    task.kwargs = "{}"
    task.save()
    response = staff_client.post(f"/ops/schedules/{task.pk}/run/", follow=True)
    text = response.content.decode()
    task_id = re.search(r"sent now as task ([0-9a-f-]{36})", text).group(1)
    row = wait_until(
        lambda: TaskResult.objects.filter(task_id=task_id, status="SUCCESS").first(),
        timeout=60,
        what=f"the run-now task to succeed\n{worker.tail()}",
    )
    assert row.task_name == "monitoring.system_health_check"
    assert row.periodic_task_name == "system-health-check"
    assert row.worker == worker.hostname
    page = staff_client.get(f"/ops/schedules/{task.pk}/").content.decode()
    assert task_id in page
    # Beat never sent it, but it ran: the pages say when, not "never".
    when = timezone.localtime(row.date_created).strftime("%Y-%m-%d %H:%M")
    assert f"<th>last run</th><td>{when}" in page
    listing = staff_client.get("/ops/schedules/").content.decode()
    assert when in listing
    celery_app.control.purge()
