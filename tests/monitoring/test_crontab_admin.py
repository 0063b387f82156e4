"""Crontab safety in the admin: bad fields and never-matching crontabs are refused."""

import datetime as dt
import html
import re

import pytest
import time_machine
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
ADD_CRONTAB = "/admin/django_celery_beat/crontabschedule/add/"


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def crontab_form(**fields):
    data = {
        "minute": "0",
        "hour": "3",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "*",
        "timezone": "UTC",
        "_save": "Save",
        # The admin's inline of tasks using this crontab (none).
        "periodictask_set-TOTAL_FORMS": "0",
        "periodictask_set-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return data


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("minute", "61", "Minute '61' is not valid: Invalid end range: 61 > 59 (allowed: 0-59)."),
        ("hour", "24", "Hour '24' is not valid: Invalid end range: 24 > 23 (allowed: 0-23)."),
        ("day_of_month", "0", "Day of month '0' is not valid: Invalid beginning range: 0 < 1"),
        ("month_of_year", "13", "Month of year '13' is not valid: Invalid end range: 13 > 12"),
        ("day_of_week", "8", "Day of week '8' is not valid: Invalid end range: 8 > 6"),
        ("minute", "*/0", "Minute '*/0' is not valid: slice step cannot be zero"),
        ("hour", "1,,2", "Hour '1,,2' is not valid: empty part"),
    ],
)
def test_an_out_of_range_or_malformed_field_is_refused_naming_the_field(
    admin_client, field, value, message
):
    response = admin_client.post(ADD_CRONTAB, crontab_form(**{field: value}))
    assert response.status_code == 200  # the form again, with the error
    assert message in page_text(response)
    assert not CrontabSchedule.objects.exists()


@pytest.mark.parametrize(
    ("day_of_month", "month_of_year"), [("31", "2"), ("30", "2"), ("31", "4,6,9,11")]
)
def test_a_crontab_that_never_matches_is_refused(admin_client, day_of_month, month_of_year):
    response = admin_client.post(
        ADD_CRONTAB, crontab_form(day_of_month=day_of_month, month_of_year=month_of_year)
    )
    text = page_text(response)
    assert "This crontab never runs: day_of_month" in text
    assert f"never occurs in month_of_year '{month_of_year}'" in text
    assert not CrontabSchedule.objects.exists()


def test_29_february_on_a_sunday_is_allowed_because_it_happens(admin_client):
    response = admin_client.post(
        ADD_CRONTAB, crontab_form(day_of_month="29", month_of_year="2", day_of_week="0")
    )
    assert response.status_code == 302
    assert CrontabSchedule.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_saving_a_crontab_says_when_it_runs_next_and_its_page_lists_five_runs(admin_client):
    response = admin_client.post(ADD_CRONTAB, crontab_form(day_of_week="0"), follow=True)
    text = page_text(response)
    assert "runs next at: Sun 2026-11-29 03:00 UTC, Sun 2026-12-06 03:00 UTC" in text
    cron = CrontabSchedule.objects.get()
    change = page_text(
        admin_client.get(f"/admin/django_celery_beat/crontabschedule/{cron.pk}/change/")
    )
    runs = re.search(r"<ol>(.*?)</ol>", change, re.S).group(1)
    assert re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", runs) == [
        "2026-11-29 03:00",
        "2026-12-06 03:00",
        "2026-12-13 03:00",
        "2026-12-20 03:00",
        "2026-12-27 03:00",
    ]


@time_machine.travel(NOW, tick=False)
def test_a_periodic_task_page_shows_its_schedule_in_words_and_next_runs(admin_client):
    interval = IntervalSchedule.objects.create(every=2, period="hours")
    task = PeriodicTask.objects.create(
        name="sync", task="ingestion.sync_all_trades", interval=interval, last_run_at=NOW
    )
    text = page_text(admin_client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/"))
    assert "every 2 hours" in text
    assert "Mon 2026-11-23 14:00 UTC" in text and "Mon 2026-11-23 22:00 UTC" in text
    listing = page_text(admin_client.get("/admin/django_celery_beat/periodictask/"))
    assert "Mon 2026-11-23 14:00 UTC" in listing


def test_a_periodic_task_cannot_use_a_crontab_that_never_runs(admin_client):
    # A row written around the admin (a shell, an old import): the task form still refuses it.
    cron = CrontabSchedule.objects.create(minute="0", hour="3")
    CrontabSchedule.objects.filter(pk=cron.pk).update(day_of_month="30", month_of_year="2")
    response = admin_client.post(
        "/admin/django_celery_beat/periodictask/add/",
        {
            "name": "never",
            "regtask": "ingestion.sync_all_trades",
            "task": "",
            "enabled": "on",
            "crontab": str(cron.pk),
            "args": "[]",
            "kwargs": "{}",
            "headers": "{}",
            "_save": "Save",
        },
    )
    text = page_text(response)
    assert f"Crontab {cron.pk} cannot be used: This crontab never runs" in text
    assert not PeriodicTask.objects.filter(name="never").exists()


def test_a_valid_periodic_task_with_a_crontab_is_saved_with_its_next_runs(admin_client):
    cron = CrontabSchedule.objects.create(minute="0", hour="8")
    response = admin_client.post(
        "/admin/django_celery_beat/periodictask/add/",
        {
            "name": "digest",
            "regtask": "ingestion.sync_all_trades",
            "task": "",
            "enabled": "on",
            "crontab": str(cron.pk),
            "args": "[]",
            "kwargs": "{}",
            "headers": "{}",
            "_save": "Save",
        },
        follow=True,
    )
    assert PeriodicTask.objects.filter(name="digest").exists()
    assert "“digest” runs next at:" in page_text(response)
