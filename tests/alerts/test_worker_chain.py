"""The whole chain on real parts: an ingestion commit → ``alerts.match_new_trades`` on a real
worker (Redis) → ``alerts.deliver`` → a real SMTP server / a real webhook receiver."""

from __future__ import annotations

import csv
import io
import time

import psutil
import pytest
from django.urls import reverse
from django_celery_results.models import TaskResult

from alerts import services
from alerts.models import Delivery, Notification
from alerts.tasks import deliver, match_new_trades, process_pending_notifications
from ingestion import sync
from ingestion.models import Trade
from tests.alerts.conftest import make_trade
from tests.httpserver import Reply
from tests.processes import wait_until

HEADER = [
    "chamber", "politician", "state_district", "bioguide_id", "filing_id", "filing_url",
    "filed_date", "transaction_date", "notification_date", "owner", "ticker", "asset_name",
    "asset_type", "transaction_type", "amount", "comment",
]  # fmt: skip


def import_csv(rows: list[dict], *, notify: bool = True) -> dict:
    """Import trades in our CSV format, exactly as ``manage.py ingest --file … --notify``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key, "") for key in HEADER})
    return sync.file_import(
        data=out.getvalue().encode(), file_format="csv", location="alerts-test.csv", notify=notify
    )


def whitehouse_rows(count: int, *, filing_id: str = "4aa0094d-0000", ticker: str = "NVDA"):
    return [
        {
            "chamber": "senate", "politician": "Sheldon Whitehouse", "state_district": "RI",
            "bioguide_id": "W000802", "filing_id": filing_id,
            "filing_url": f"https://efdsearch.senate.gov/search/view/ptr/{filing_id}/",
            "filed_date": "2026-11-20", "transaction_date": f"2026-10-{1 + i % 28:02d}",
            "owner": "self", "ticker": ticker, "asset_name": f"{ticker} Inc", "asset_type": "Stock",
            "transaction_type": "purchase", "amount": f"${1001 + i:,} - $15,000",
        }
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


def settle(seconds: float = 1.5) -> None:
    """Give a wrongly duplicated message the time to show up before asserting "once"."""
    time.sleep(seconds)


def test_an_imported_trade_reaches_the_mailbox_once(alerts_worker, smtp_server, alice):
    sub = services.subscription_create(
        owner=alice, name="NVDA", channel="email", target="alice@example.com", tickers=["NVDA"]
    )
    result = import_csv(whitehouse_rows(1))
    assert result["created"] == 1

    wait_until(lambda: smtp_server.handler.messages, timeout=30, what="the alert email")
    settle()
    [message] = smtp_server.handler.messages
    assert message["To"] == "alice@example.com" and "NVDA" in message["Subject"]
    assert "Sheldon Whitehouse" in message.get_body(("plain",)).get_content()
    delivery = Delivery.objects.get(subscription=sub)
    assert delivery.status == "sent" and delivery.attempts == 1
    assert not Trade.objects.filter(matched_at__isnull=True).exists()

    # A duplicated message (a redelivery after a lost ack) finds it sent and sends nothing.
    assert deliver.delay(delivery.pk).get(timeout=30) == {"delivery": delivery.pk, "status": "done"}
    assert match_new_trades.delay().get(timeout=30)["trades"] == 0
    settle(0.5)
    assert len(smtp_server.handler.messages) == 1


def test_a_run_of_40_trades_sends_one_email_listing_40(alerts_worker, smtp_server, alice):
    services.subscription_create(
        owner=alice, name="Whitehouse", channel="email", target="alice@example.com"
    )
    assert import_csv(whitehouse_rows(40))["created"] == 40
    wait_until(lambda: smtp_server.handler.messages, timeout=30, what="the alert email")
    settle()
    [message] = smtp_server.handler.messages
    assert "40 new trades" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert text.count("Sheldon Whitehouse (") == 40
    assert Notification.objects.count() == 40 and Delivery.objects.count() == 1


def test_an_import_without_notify_alerts_nobody(alerts_worker, smtp_server, alice):
    services.subscription_create(owner=alice, name="all", channel="email", target="a@example.com")
    assert import_csv(whitehouse_rows(2), notify=False)["created"] == 2
    process_pending_notifications.delay().get(timeout=30)  # even the sweep finds nothing
    assert smtp_server.handler.messages == [] and not Notification.objects.exists()


def test_a_signed_webhook_reaches_the_receiver_once(alerts_worker, webhook_receiver, alice):
    sub = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target=webhook_receiver.url_for("alice")
    )
    webhook_receiver.secrets["alice"] = sub.signing_secret
    import_csv(whitehouse_rows(3))
    wait_until(lambda: webhook_receiver.verified, timeout=30, what="the webhook")
    settle()
    delivery = Delivery.objects.get(subscription=sub)
    assert webhook_receiver.verified == [("alice", str(delivery.pk))]
    assert delivery.status == "sent"
    # Task history holds ids and counts only: never the secret or the URL.
    wait_until(
        lambda: TaskResult.objects.filter(task_name="alerts.deliver", status="SUCCESS").exists(),
        timeout=10,
        what="the deliver task's result",
    )
    history = [
        f"{r.task_args} {r.task_kwargs} {r.result}"
        for r in TaskResult.objects.filter(task_name__startswith="alerts.")
    ]
    assert history
    for row in history:
        assert sub.signing_secret not in row and "/hooks/alice" not in row
    assert sub.signing_secret not in alerts_worker.output()


def test_an_smtp_451_is_retried_by_the_worker(alerts_worker, smtp_server, alice):
    smtp_server.handler.fail("DATA", "451 4.7.1 Greylisted, try again", times=1)
    sub = services.subscription_create(
        owner=alice, name="all", channel="email", target="alice@example.com"
    )
    import_csv(whitehouse_rows(1))
    wait_until(lambda: smtp_server.handler.messages, timeout=30, what="the retried email")
    settle()
    assert len(smtp_server.handler.messages) == 1
    delivery = Delivery.objects.get(subscription=sub)
    assert delivery.status == "sent" and delivery.attempts == 2


def test_exhausted_retries_fail_and_the_admin_resends(
    alerts_worker, webhook_receiver, alice, staff_user, client
):
    sub = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target=webhook_receiver.url_for("alice")
    )
    webhook_receiver.secrets["alice"] = sub.signing_secret
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(503, "down for maintenance"), times=3)
    import_csv(whitehouse_rows(1))

    def failed():
        return Delivery.objects.filter(subscription=sub, status="failed").first()

    delivery = wait_until(failed, timeout=30, what="the delivery to fail")
    assert delivery.attempts == 3  # the first try and ALERTS_DELIVERY_MAX_RETRIES=2 retries
    assert "gave up after 3 attempts" in delivery.last_error and "503" in delivery.last_error
    assert webhook_receiver.verified == []

    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:alerts_delivery_changelist"),
        {"action": "resend_failed", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert response.status_code == 200 and "Resending 1 deliveries" in response.content.decode()
    wait_until(
        lambda: Delivery.objects.filter(pk=delivery.pk, status="sent").exists(),
        timeout=30,
        what="the resent delivery",
    )
    assert webhook_receiver.verified == [("alice", str(delivery.pk))]


def test_the_sweep_matches_and_delivers_what_a_lost_message_left(
    alerts_worker, smtp_server, alice, pelosi
):
    services.subscription_create(owner=alice, name="all", channel="email", target="a@example.com")
    make_trade(pelosi)  # stored without the on-commit message: as if it had been lost
    result = process_pending_notifications.delay().get(timeout=30)
    assert result["trades"] == 1 and result["notifications"] == 1
    wait_until(lambda: smtp_server.handler.messages, timeout=30, what="the swept email")
    settle(1)
    assert len(smtp_server.handler.messages) == 1


def test_a_worker_killed_mid_send_loses_nothing(alerts_worker, webhook_receiver, alice):
    """The pool process dies while the webhook is being answered: the message is redelivered
    (late ack, reject on worker lost); the delivery's lease stops a second send until it has
    expired, then the delivery goes out, with the same Idempotency-Key."""
    sub = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target=webhook_receiver.url_for("alice")
    )
    webhook_receiver.secrets["alice"] = sub.signing_secret
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(200, "slow", delay=1.5), times=1)
    import_csv(whitehouse_rows(1))

    wait_until(lambda: webhook_receiver.requests, timeout=30, what="the first POST")
    children = psutil.Process(alerts_worker.pid).children()
    assert children, "the worker has no pool process"
    for child in children:  # our own worker's pool processes, by pid
        child.kill()

    wait_until(
        lambda: Delivery.objects.filter(subscription=sub, status="sent").exists(),
        timeout=60,
        what="the delivery to be sent after the worker was killed",
    )
    delivery = Delivery.objects.get(subscription=sub)
    assert webhook_receiver.verified == [("alice", str(delivery.pk))]
    keys = {request.headers["idempotency-key"] for request in webhook_receiver.requests}
    assert keys == {str(delivery.pk)}
    assert delivery.attempts == 2
