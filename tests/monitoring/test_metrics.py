"""/metrics: Prometheus text format, protected, with the values the operators alert on."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_celery_results.models import TaskResult
from prometheus_client.parser import text_string_to_metric_families

from capitolscope.broker import free_port
from capitolscope.celery import app as celery_app
from monitoring.health import check_workers, workers_seen_record
from monitoring.metrics import Metric, render
from monitoring.models import DeadLetter, Heartbeat, Incident
from monitoring.queues import WorkerPing
from monitoring.tokens import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def scraper(staff_user):
    token = api_token_create(user=staff_user, name="prometheus").secret
    return Client(headers={"authorization": f"Bearer {token}"})


def scrape(client) -> dict:
    """{metric family name: {(sorted label items): value}} parsed by prometheus_client."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {}
    for family in text_string_to_metric_families(response.content.decode()):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            samples[tuple(sorted(sample.labels.items()))] = sample.value
    return families


def result(task: str, status: str, *, done: dt.datetime, schedule: str | None = None, n=[0]):  # noqa: B006
    n[0] += 1
    row = TaskResult.objects.create(
        task_id=f"metrics-{n[0]}", task_name=task, status=status, periodic_task_name=schedule
    )
    TaskResult.objects.filter(pk=row.pk).update(date_done=done)  # date_done is auto_now
    return row


def test_metrics_refuse_anonymous_and_non_staff_callers(client, plain_user):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    client.force_login(plain_user)
    assert client.get("/metrics").status_code == 403


def test_a_staff_session_may_read_the_metrics(client, staff_user):
    client.force_login(staff_user)
    assert "capitolscope_tasks_total" in scrape(client)


def test_task_counts_by_name_and_state_cover_the_recent_window_only(scraper, settings):
    settings.METRICS_TASK_WINDOW_HOURS = 24
    now = timezone.now()
    for _ in range(3):
        result("ingestion.sync_house_trades", "SUCCESS", done=now - dt.timedelta(hours=1))
    result("ingestion.sync_house_trades", "FAILURE", done=now - dt.timedelta(hours=2))
    result("alerts.deliver", "SUCCESS", done=now - dt.timedelta(minutes=5))
    result("ingestion.sync_house_trades", "SUCCESS", done=now - dt.timedelta(hours=30))  # too old
    tasks = scrape(scraper)["capitolscope_tasks_total"]
    assert tasks == {
        (("state", "FAILURE"), ("task", "ingestion.sync_house_trades")): 1,
        (("state", "SUCCESS"), ("task", "alerts.deliver")): 1,
        (("state", "SUCCESS"), ("task", "ingestion.sync_house_trades")): 3,
    }


def test_the_last_success_of_each_schedule_is_a_unix_time(scraper):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    now = timezone.now().replace(microsecond=0)
    result("monitoring.system_health_check", "SUCCESS", done=now - dt.timedelta(minutes=10),
           schedule="system-health-check")  # fmt: skip
    result("monitoring.system_health_check", "SUCCESS", done=now - dt.timedelta(minutes=5),
           schedule="system-health-check")  # fmt: skip
    result("monitoring.system_health_check", "FAILURE", done=now, schedule="system-health-check")
    last = scrape(scraper)["capitolscope_schedule_last_success_timestamp_seconds"]
    key = (("schedule", "system-health-check"), ("task", "monitoring.system_health_check"))
    assert last[key] == (now - dt.timedelta(minutes=5)).timestamp()
    never = (("schedule", "weekly-cleanup"), ("task", "monitoring.cleanup_old_data"))
    assert last[never] == 0


def test_beat_heartbeat_age_is_infinite_until_beat_reports_then_its_age(scraper):
    assert scrape(scraper)["capitolscope_beat_heartbeat_age_seconds"][()] == math.inf
    Heartbeat.objects.create(name="beat", seen_at=timezone.now() - dt.timedelta(seconds=90))
    age = scrape(scraper)["capitolscope_beat_heartbeat_age_seconds"][()]
    assert 90 <= age < 150


def test_open_incidents_by_kind_and_open_dead_letters_are_counted(scraper):
    Incident.objects.create(kind=Incident.Kind.BEAT, summary="beat down")
    Incident.objects.create(kind=Incident.Kind.QUEUE_BACKLOG, subject="default", summary="x")
    Incident.objects.create(kind=Incident.Kind.QUEUE_BACKLOG, subject="maintenance", summary="y")
    Incident.objects.create(kind=Incident.Kind.DISK, summary="resolved", resolved_at=timezone.now())
    DeadLetter.objects.create(task_id="a", task_name="alerts.deliver")
    DeadLetter.objects.create(task_id="b", task_name="alerts.deliver")
    DeadLetter.objects.create(task_id="c", task_name="x", status=DeadLetter.Status.DISMISSED)
    families = scrape(scraper)
    incidents = families["capitolscope_incidents_open"]
    assert incidents[(("kind", "beat"),)] == 1
    assert incidents[(("kind", "queue_backlog"),)] == 2
    assert incidents[(("kind", "disk"),)] == 0
    assert len(incidents) == len(Incident.Kind.values)
    assert families["capitolscope_dead_letters_open"][()] == 2


def test_queue_depths_and_broker_state_come_from_redis(scraper, settings):
    try:
        celery_app.send_task("monitoring.system_health_check", queue="price_updates", priority=9)
        families = scrape(scraper)
    finally:
        celery_app.control.purge()
    assert families["capitolscope_broker_up"][()] == 1
    depths = families["capitolscope_queue_depth"]
    assert depths[(("queue", "price_updates"),)] >= 1
    assert set(depths) == {(("queue", name),) for name in settings.CELERY_QUEUE_NAMES}
    assert families["capitolscope_workers_seen"][()] == 0  # no worker in this test


def test_an_unreachable_broker_still_gives_a_scrape_saying_so(scraper, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    families = scrape(scraper)
    assert families["capitolscope_broker_up"][()] == 0
    assert families["capitolscope_workers_seen"][()] == 0
    assert "capitolscope_queue_depth" not in families or not families["capitolscope_queue_depth"]


@pytest.mark.processes
def test_workers_come_from_the_record_the_health_check_keeps_not_from_a_live_ping(scraper, worker):
    # Running, but no health check has looked yet: a scrape does not ping the workers.
    assert scrape(scraper)["capitolscope_workers_seen"][()] == 0
    check_workers(timeout=1.0)
    families = scrape(scraper)
    assert families["capitolscope_workers_seen"][()] == 1
    seen_at = families["capitolscope_worker_last_seen_timestamp_seconds"]
    assert list(seen_at) == [(("worker", worker.hostname),)]
    assert abs(seen_at[(("worker", worker.hostname),)] - timezone.now().timestamp()) < 60
    worker.stop()
    assert scrape(scraper)["capitolscope_workers_seen"][()] == 1  # the record, not a ping


def test_a_worker_not_seen_for_twice_the_down_limit_is_no_longer_counted(scraper, settings):
    settings.HEALTH_WORKER_DOWN_AFTER = 300
    now = timezone.now()
    old, recent = now - dt.timedelta(seconds=610), now - dt.timedelta(seconds=590)
    workers_seen_record(ping=WorkerPing(workers={"old@h": ["default"]}), now=old)
    workers_seen_record(ping=WorkerPing(workers={"recent@h": ["default"]}), now=recent)
    families = scrape(scraper)
    assert families["capitolscope_workers_seen"][()] == 1
    assert families["capitolscope_worker_last_seen_timestamp_seconds"] == {
        (("worker", "old@h"),): pytest.approx(old.timestamp(), abs=0.01),
        (("worker", "recent@h"),): pytest.approx(recent.timestamp(), abs=0.01),
    }


def test_every_family_has_help_and_type_lines(scraper):
    text = scraper.get("/metrics").content.decode()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")} == names
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert line.split("{")[0].split(" ")[0] in names, line


def test_label_values_are_escaped_so_any_task_name_parses_back():
    odd = 'weird "task"\\with\nnewline'
    metric = Metric("capitolscope_tasks_total", "help with \\ and\nnewline", type="gauge")
    metric.add(7, task=odd, state="SUCCESS")
    text = render([metric])
    assert len(text.splitlines()) == 3  # the newline never breaks a line
    [family] = text_string_to_metric_families(text)
    assert family.documentation == "help with \\ and\nnewline"
    [sample] = family.samples
    assert sample.labels == {"task": odd, "state": "SUCCESS"}
    assert sample.value == 7


def test_a_task_name_with_quotes_in_the_database_survives_the_scrape(scraper):
    result('odd"name\\x', "SUCCESS", done=timezone.now())
    tasks = scrape(scraper)["capitolscope_tasks_total"]
    assert tasks[(("state", "SUCCESS"), ("task", 'odd"name\\x'))] == 1


def test_a_worker_that_missed_a_broadcast_since_it_was_seen_counts_as_silent(scraper):
    now = timezone.now()
    seen_at = now - dt.timedelta(seconds=60)
    pinged = WorkerPing(workers={"gone@h": ["default"], "alive@h": ["default"]})
    workers_seen_record(ping=pinged, now=seen_at)
    # A broadcast since: only one of them answered (the other was stopped or renamed).
    workers_seen_record(ping=WorkerPing(workers={"alive@h": ["default"]}), now=now, broadcast=True)
    families = scrape(scraper)
    assert families["capitolscope_workers_seen"][()] == 1
    assert families["capitolscope_workers_silent"][()] == 1
