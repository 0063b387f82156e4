"""Retention cleanup (batched, counts per table) and daily maintenance."""

import datetime as dt
import hashlib
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import GroupResult, TaskResult

from alerts.models import Delivery, Notification, Subscription
from ingestion.models import Asset, Filing, IngestionRun, Politician, RejectedRecord, Trade
from monitoring import maintenance
from monitoring.health import workers_seen
from monitoring.maintenance import RetentionRule, cleanup_old_data, daily_maintenance
from monitoring.models import DeadLetter, Heartbeat, Incident
from monitoring.tasks import cleanup_old_data as cleanup_task

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LONG_AGO = NOW - dt.timedelta(days=400)


def task_results(count: int, *, when) -> None:
    TaskResult.objects.bulk_create(
        [TaskResult(task_id=f"{when:%Y%m%d}-{i}", status="SUCCESS") for i in range(count)]
    )
    # date_done is auto_now: age the rows afterwards.
    TaskResult.objects.filter(task_id__startswith=f"{when:%Y%m%d}-").update(date_done=when)


def test_it_deletes_task_results_past_retention_in_batches_and_keeps_recent_ones():
    task_results(11, when=LONG_AGO)
    task_results(2, when=NOW - dt.timedelta(days=1))
    GroupResult.objects.create(group_id="g-old")
    GroupResult.objects.filter(group_id="g-old").update(date_done=LONG_AGO)
    report = cleanup_old_data(now=NOW, batch_size=3, pause=0)
    assert report["deleted"]["task_results"] == 11
    assert report["deleted"]["group_results"] == 1
    assert report["finished"] is True
    assert TaskResult.objects.count() == 2
    json.dumps(report)


def test_a_batch_never_deletes_more_than_the_batch_size():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    task_results(7, when=LONG_AGO)
    with CaptureQueriesContext(connection) as queries:
        deleted, finished = maintenance.delete_in_batches(
            TaskResult.objects.all(), batch_size=3, pause=0, deadline=None
        )
    assert (deleted, finished) == (7, True)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 3 + 3 + 1 rows, one statement each


def test_it_stops_at_its_deadline_and_says_it_did_not_finish():
    task_results(5, when=LONG_AGO)
    report = cleanup_old_data(now=NOW, batch_size=2, pause=0, deadline=0.0)
    assert report["finished"] is False
    assert TaskResult.objects.count() == 5


def make_run(*, status, started_at, rejected: int = 0) -> IngestionRun:
    run = IngestionRun.objects.create(source="house_clerk", status=status)
    IngestionRun.objects.filter(pk=run.pk).update(started_at=started_at)
    for i in range(rejected):
        RejectedRecord.objects.create(run=run, source="house_clerk", location=f"x{i}", reason="r")
    RejectedRecord.objects.filter(run=run).update(created_at=started_at)
    return run


def test_it_deletes_old_finished_ingestion_runs_with_their_rejected_records_only():
    old_done = make_run(status="succeeded", started_at=LONG_AGO, rejected=3)
    old_running = make_run(status="running", started_at=LONG_AGO)
    recent = make_run(status="partial", started_at=NOW, rejected=1)
    report = cleanup_old_data(now=NOW, pause=0)
    assert report["deleted"]["rejected_records"] == 3
    assert report["deleted"]["ingestion_runs"] == 1
    assert not IngestionRun.objects.filter(pk=old_done.pk).exists()
    assert set(IngestionRun.objects.values_list("pk", flat=True)) == {old_running.pk, recent.pk}
    assert RejectedRecord.objects.filter(run=recent).count() == 1


def test_it_deletes_resolved_incidents_and_handled_dead_letters_but_never_open_ones():
    Incident.objects.create(kind="disk", summary="old", opened_at=LONG_AGO, resolved_at=LONG_AGO)
    still_open = Incident.objects.create(kind="memory", summary="open", opened_at=LONG_AGO)
    DeadLetter.objects.create(task_id="a", task_name="x", failed_at=LONG_AGO, status="dismissed")
    open_letter = DeadLetter.objects.create(task_id="b", task_name="x", failed_at=LONG_AGO)
    report = cleanup_old_data(now=NOW, pause=0)
    assert report["deleted"]["incidents"] == 1
    assert report["deleted"]["dead_letters"] == 1
    assert list(Incident.objects.all()) == [still_open]
    assert list(DeadLetter.objects.all()) == [open_letter]


def make_notification(subscription, trade, *, delivery_status, created_at) -> Notification:
    delivery = None
    if delivery_status:
        delivery = Delivery.objects.create(
            subscription=subscription, channel="email", status=delivery_status
        )
        Delivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
    notification = Notification.objects.create(
        subscription=subscription, trade=trade, delivery=delivery
    )
    Notification.objects.filter(pk=notification.pk).update(created_at=created_at)
    return notification


def make_trades(count: int) -> list[Trade]:
    politician = Politician.objects.create(
        last_name="Doe", first_name="Jane", full_name="Jane Doe", chamber="house", name_key="d|j"
    )
    asset = Asset.objects.create(ticker="ACME", name="Acme", name_key="acme", kind="stock")
    filing = Filing.objects.create(
        politician=politician, doc_id="20000001", chamber="house", source="house_clerk"
    )
    trades = []
    for line in range(1, count + 1):
        digest = hashlib.sha1(f"{line}".encode(), usedforsecurity=False).hexdigest()
        trades.append(
            Trade.objects.create(
                filing=filing,
                line_number=line,
                asset=asset,
                politician=politician,
                chamber="house",
                transaction_type="purchase",
                transaction_date=dt.date(2024, 6, 3),
                owner="self",
                amount_min=1_001,
                amount_max=15_000,
                amount_label="$1,001 - $15,000",
                asset_kind="stock",
                asset_description="Acme",
                fingerprint=digest,
                content_hash=digest,
            )
        )
    return trades


def test_it_deletes_old_delivered_notifications_and_their_deliveries_only():
    owner = get_user_model().objects.create_user(username="sam", email="sam@example.com")
    subscription = Subscription.objects.create(owner=owner, name="all", target="sam@example.com")
    sent, failed, pending, undelivered, recent = make_trades(5)
    make_notification(subscription, sent, delivery_status="sent", created_at=LONG_AGO)
    make_notification(subscription, failed, delivery_status="failed", created_at=LONG_AGO)
    kept_pending = make_notification(
        subscription, pending, delivery_status="pending", created_at=LONG_AGO
    )
    kept_undelivered = make_notification(
        subscription, undelivered, delivery_status=None, created_at=LONG_AGO
    )
    kept_recent = make_notification(subscription, recent, delivery_status="sent", created_at=NOW)
    report = cleanup_old_data(now=NOW, pause=0)
    assert report["deleted"]["notifications"] == 2
    assert report["deleted"]["deliveries"] == 2
    assert set(Notification.objects.all()) == {kept_pending, kept_undelivered, kept_recent}
    # The kept notifications still point at their deliveries (none was nulled).
    kept_pending.refresh_from_db()
    assert kept_pending.delivery.status == "pending"
    assert Delivery.objects.count() == 2


def test_a_model_that_is_not_installed_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setattr(
        maintenance,
        "RETENTION_RULES",
        (RetentionRule("gone", "nosuchapp.Thing", "INCIDENT_RETENTION_DAYS", "things"),),
    )
    report = cleanup_old_data(now=NOW)
    assert report["skipped"] == {"gone": "nosuchapp.Thing is not installed"}
    assert report["total"] == 0


def test_daily_maintenance_fails_runs_stuck_past_the_longest_time_limit():
    stuck = make_run(status="running", started_at=NOW - dt.timedelta(hours=3))
    young = make_run(status="running", started_at=NOW - dt.timedelta(minutes=10))
    report = daily_maintenance(now=NOW)
    assert report["stuck_ingestion_runs_failed"] == 1
    stuck.refresh_from_db()
    young.refresh_from_db()
    assert stuck.status == "failed" and "worker died" in stuck.error
    assert stuck.finished_at == NOW
    assert young.status == "running"


def test_daily_maintenance_resolves_stale_incidents_and_expires_old_heartbeats():
    stale = Incident.objects.create(
        kind="queue_backlog",
        subject="default",
        summary="s",
        last_seen_at=NOW - dt.timedelta(days=2),
    )
    fresh = Incident.objects.create(kind="disk", summary="s", last_seen_at=NOW)
    Heartbeat.objects.create(name="beat", seen_at=NOW - dt.timedelta(days=30))
    Heartbeat.objects.create(name="workers", started_at=NOW - dt.timedelta(days=60), seen_at=NOW)
    Heartbeat.objects.create(name="worker:old@h", seen_at=NOW - dt.timedelta(days=30))
    Heartbeat.objects.create(name="worker:new@h", hostname="new@h", seen_at=NOW)
    Heartbeat.objects.create(name="queue:maintenance", seen_at=NOW - dt.timedelta(days=30))
    report = daily_maintenance(now=NOW)
    assert report["stale_incidents_resolved"] == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.resolved_at == NOW and "daily maintenance" in stale.details["resolved_by"]
    assert fresh.resolved_at is None
    assert report["heartbeats"] == {"heartbeats_deleted": 1, "workers_forgotten": 1}
    assert list(workers_seen().workers) == ["new@h"]
    # A queue nobody consumed for a month is still "last seen a month ago", not "never seen".
    assert "maintenance" in workers_seen().queues
    assert report["database"] in {"PRAGMA optimize"} or report["database"].startswith("ANALYZE")
    json.dumps(report)


def test_setup_schedules_enables_the_maintenance_schedules_with_their_tasks():
    call_command("setup_schedules", stdout=StringIO())
    cleanup = PeriodicTask.objects.get(name="weekly-cleanup")
    maintenance_row = PeriodicTask.objects.get(name="daily-maintenance")
    assert (cleanup.task, cleanup.enabled, cleanup.queue) == (
        "monitoring.cleanup_old_data",
        True,
        "maintenance",
    )
    assert (maintenance_row.task, maintenance_row.enabled, maintenance_row.queue) == (
        "monitoring.daily_maintenance",
        True,
        "maintenance",
    )


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_the_cleanup_task_runs_on_the_maintenance_queue_of_a_real_worker(worker):
    task_results(4, when=LONG_AGO)
    result = cleanup_task.delay()
    report = result.get(timeout=60)
    assert report["deleted"]["task_results"] == 4
    row = TaskResult.objects.get(task_id=result.id)
    assert row.status == "SUCCESS"
    assert json.loads(row.result)["finished"] is True
