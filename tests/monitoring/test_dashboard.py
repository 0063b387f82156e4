"""The operations dashboard: health, open incidents, dead letters, and a 24-hour chart."""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from monitoring import selectors
from monitoring.models import DeadLetter, Incident
from tests.monitoring._taskresults import task_result

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 30, tzinfo=dt.UTC)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def health_result(*, status: str, created: dt.datetime, broker: str = "ok"):
    return task_result(
        task_name="monitoring.system_health_check",
        created=created,
        result={
            "status": status,
            "components": {
                "database": {"status": "ok", "message": "postgresql"},
                "broker": {"status": broker, "message": "redis password=hunter2 refused"},
            },
        },
    )


@time_machine.travel(NOW, tick=False)
def test_it_shows_the_last_health_check_and_open_incidents_only(staff_client):
    health_result(status="ok", created=NOW - dt.timedelta(hours=1))
    latest = health_result(
        status="unhealthy", created=NOW - dt.timedelta(minutes=4), broker="unhealthy"
    )
    Incident.objects.create(
        kind=Incident.Kind.QUEUE_BACKLOG,
        subject="data_ingestion",
        severity=Incident.Severity.DEGRADED,
        summary="412 tasks waiting in data_ingestion",
    )
    Incident.objects.create(
        kind=Incident.Kind.BEAT,
        summary="beat heartbeat 10 minutes old",
        resolved_at=timezone.now(),
    )
    response = staff_client.get("/ops/")
    assert response.status_code == 200
    text = response.content.decode()
    assert '<span class="bad">unhealthy</span>' in text
    assert latest.task_id in text
    assert "redis password=******** refused" in text  # details are masked like any value
    assert "hunter2" not in text
    assert "Open incidents (1)" in text
    assert "412 tasks waiting in data_ingestion" in text
    assert "beat heartbeat 10 minutes old" not in text
    assert "This is old" not in text


@time_machine.travel(NOW, tick=False)
def test_an_old_health_result_is_flagged_and_none_at_all_is_said(staff_client):
    assert "No health check has finished yet" in staff_client.get("/ops/").content.decode()
    health_result(status="ok", created=NOW - dt.timedelta(hours=2))
    assert "This is old" in staff_client.get("/ops/").content.decode()


def test_it_counts_open_dead_letters_and_links_to_them(staff_client):
    for index, status in enumerate(["open", "open", "dismissed"]):
        DeadLetter.objects.create(task_id=f"t{index}", task_name="alerts.deliver", status=status)
    text = staff_client.get("/ops/").content.decode()
    assert '<a class="bad" href="/ops/dead-letters/?status=open">2 open</a>' in text


@time_machine.travel(NOW, tick=False)
def test_the_chart_counts_successes_and_failures_per_hour_for_24_hours(staff_client):
    for minutes in (5, 10, 50):
        task_result(created=NOW - dt.timedelta(minutes=minutes), duration=0, started_after=0)
    task_result(status="FAILURE", created=NOW - dt.timedelta(hours=3), duration=0, started_after=0)
    task_result(created=NOW - dt.timedelta(hours=30), duration=0, started_after=0)  # too old
    task_result(status="PENDING", created=NOW - dt.timedelta(minutes=1))  # not finished

    buckets = selectors.hourly_outcomes(now=NOW)
    assert len(buckets) == 24
    assert buckets[-1].hour == dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    by_hour = {bucket.hour.hour: (bucket.succeeded, bucket.failed) for bucket in buckets}
    assert by_hour[12] == (2, 0) and by_hour[11] == (1, 0) and by_hour[9] == (0, 1)
    assert sum(b.succeeded + b.failed for b in buckets) == 4

    text = staff_client.get("/ops/").content.decode()
    svg = re.search(r"<svg.*?</svg>", text, re.S).group(0)
    assert len(re.findall(r'<rect class="bar-ok"', svg)) == 24
    assert len(re.findall(r'<rect class="bar-bad"', svg)) == 24
    assert "<title>12:00 UTC: 2 succeeded</title>" in svg
    assert "<title>09:00 UTC: 1 failed</title>" in svg
    assert "succeeded 3" in text and "failed 1" in text


def test_staff_pages_link_from_the_site_header(staff_client):
    text = staff_client.get("/ops/tasks/").content.decode()
    for link in ("/ops/", "/ops/tasks/", "/ops/schedules/", "/ops/dead-letters/"):
        assert f'href="{link}"' in text
