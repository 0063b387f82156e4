"""``manage.py setup_schedules``: the defaults of DESIGN §6, idempotent, operator edits kept."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from capitolscope.celery import app
from monitoring.schedules import DEFAULT_SCHEDULES, schedule_setup_one, schedules_setup

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("setup_schedules", *args, stdout=out)
    return out.getvalue()


def spec(name: str):
    return next(item for item in DEFAULT_SCHEDULES if item.name == name)


def test_it_creates_every_default_schedule_with_its_task_queue_and_kwargs():
    output = run_command()
    assert "8 created" in output
    rows = {row.name: row for row in PeriodicTask.objects.all()}
    assert set(rows) == {item.name for item in DEFAULT_SCHEDULES}
    sync = rows["sync-congressional-trades"]
    assert sync.task == "ingestion.sync_all_trades"
    assert json.loads(sync.kwargs) == {"days_back": 1}
    assert (sync.interval.every, sync.interval.period) == (2, IntervalSchedule.HOURS)
    assert sync.queue == "data_ingestion"
    weekly = rows["weekly-full-sync"]
    assert json.loads(weekly.kwargs) == {"days_back": 7}
    assert (weekly.crontab.minute, weekly.crontab.hour, weekly.crontab.day_of_week) == (
        "0",
        "3",
        "0",
    )
    assert str(weekly.crontab.timezone) == "UTC"
    health = rows["system-health-check"]
    assert (health.interval.every, health.interval.period) == (5, IntervalSchedule.MINUTES)
    assert health.enabled is True
    assert health.description


def test_running_it_twice_changes_nothing():
    run_command()
    before = list(PeriodicTask.objects.order_by("name").values())
    output = run_command()
    assert "8 unchanged" in output
    assert list(PeriodicTask.objects.order_by("name").values()) == before
    assert IntervalSchedule.objects.count() == 4  # 2 h, 15 min, 30 min, 5 min
    assert CrontabSchedule.objects.count() == 3  # the two Sunday 03:00 jobs share one


def test_every_enabled_schedule_names_a_registered_task():
    run_command()
    app.loader.import_default_modules()
    enabled = PeriodicTask.objects.filter(enabled=True)
    assert enabled.exists()
    for row in enabled:
        assert row.task in app.tasks, f"{row.name} is enabled but {row.task} is not registered"


def test_a_schedule_whose_task_is_not_registered_yet_is_created_disabled_and_says_why():
    outcome = schedule_setup_one(spec("daily-digest"), registered=set())
    assert outcome.action == "created"
    assert "not registered" in outcome.detail
    assert PeriodicTask.objects.get(name="daily-digest").enabled is False


def test_it_enables_an_untouched_schedule_once_its_task_is_registered():
    schedule_setup_one(spec("daily-digest"), registered=set())
    outcome = schedule_setup_one(spec("daily-digest"), registered={"alerts.send_daily_digests"})
    assert outcome.action == "updated"
    assert "enabled" in outcome.detail
    assert PeriodicTask.objects.get(name="daily-digest").enabled is True


def test_it_keeps_a_schedule_an_operator_disabled():
    run_command()
    row = PeriodicTask.objects.get(name="system-health-check")
    row.enabled = False
    row.save()
    output = run_command()
    assert "kept      system-health-check" in output
    assert "enabled" in output
    assert PeriodicTask.objects.get(name="system-health-check").enabled is False


def test_it_keeps_an_edited_crontab_and_edited_kwargs():
    run_command()
    row = PeriodicTask.objects.get(name="weekly-full-sync")
    row.crontab = CrontabSchedule.objects.create(
        minute="30", hour="4", day_of_week="6", timezone="UTC"
    )
    row.kwargs = json.dumps({"days_back": 14})
    row.save()
    run_command()
    row.refresh_from_db()
    assert (row.crontab.minute, row.crontab.hour, row.crontab.day_of_week) == ("30", "4", "6")
    assert json.loads(row.kwargs) == {"days_back": 14}


def test_reset_restores_the_defaults_on_purpose():
    run_command()
    row = PeriodicTask.objects.get(name="weekly-full-sync")
    row.kwargs = json.dumps({"days_back": 14})
    row.save()
    output = run_command("--reset", "weekly-full-sync")
    assert "reset     weekly-full-sync" in output
    row.refresh_from_db()
    assert json.loads(row.kwargs) == {"days_back": 7}


def test_it_recreates_a_default_an_operator_deleted_and_says_so():
    run_command()
    PeriodicTask.objects.get(name="daily-maintenance").delete()
    output = run_command()
    assert "recreated daily-maintenance" in output
    assert "had been deleted" in output
    assert PeriodicTask.objects.filter(name="daily-maintenance").exists()


def test_an_invalid_crontab_in_an_existing_row_is_reported_and_the_others_go_on():
    run_command()
    broken = CrontabSchedule.objects.create(minute="61", hour="3", day_of_week="0", timezone="UTC")
    PeriodicTask.objects.filter(name="weekly-cleanup").update(crontab=broken)
    outcomes = {outcome.name: outcome for outcome in schedules_setup()}
    assert outcomes["weekly-cleanup"].action == "error"
    assert "invalid crontab" in outcomes["weekly-cleanup"].detail
    assert outcomes["daily-digest"].action == "unchanged"
    assert PeriodicTask.objects.get(name="weekly-cleanup").crontab_id == broken.id


def test_an_unknown_schedule_name_is_an_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown schedule"):
        run_command("no-such-schedule")
