"""Sending deliveries through a real SMTP server and a real webhook receiver (the delivery
service called in this process; tests/alerts/test_worker_chain.py runs it on a worker)."""

from __future__ import annotations

import json

import pytest

from alerts import services
from alerts.models import Delivery
from tests.alerts.conftest import SITE_URL, make_trade
from tests.httpserver import Reply


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


def matched_delivery(subscription, trades) -> Delivery:
    result = services.trades_match()
    assert result.trades == len(trades)
    return Delivery.objects.get(subscription=subscription, pk__in=result.delivery_ids)


@pytest.fixture
def email_sub(alice, smtp_settings):
    return services.subscription_create(
        owner=alice, name="Pelosi watch", channel="email", target="alice@example.com"
    )


def test_an_email_lists_every_trade_with_links_and_how_to_stop(email_sub, smtp_server, pelosi):
    trades = [make_trade(pelosi, ticker="NVDA", filed_late=True), make_trade(pelosi)]
    delivery = matched_delivery(email_sub, trades)

    outcome = services.delivery_send(delivery_id=delivery.pk)

    assert outcome.status == "sent"
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.sent_at and delivery.attempts == 1
    [message] = smtp_server.handler.messages
    assert message["To"] == "alice@example.com"
    assert "2 new trades" in message["Subject"] and "Pelosi watch" in message["Subject"]
    assert message["Message-ID"] == f"<delivery-{delivery.pk}@localhost>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Nancy Pelosi" in body and "NVDA" in body and "AAPL" in body
        assert "House" in body and "Purchase" in body and "$1,001 - $15,000" in body
        assert "2026-10-01" in body and "2026-10-20" in body and "19 day" in body
        assert trades[0].filing.source_url in body
        assert f"{SITE_URL}/subscriptions/{email_sub.pk}/edit/" in body
        assert f"{SITE_URL}/subscriptions/" in body
    assert "LATE" in text and "late" in html


def test_a_sent_delivery_is_not_sent_again(email_sub, smtp_server, pelosi):
    delivery = matched_delivery(email_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    assert services.delivery_send(delivery_id=delivery.pk).status == "done"
    assert len(smtp_server.handler.messages) == 1


def test_an_smtp_temporary_error_is_retried_then_sent(email_sub, smtp_server, pelosi):
    smtp_server.handler.fail("DATA", "451 4.3.0 Try again later", times=1)
    delivery = matched_delivery(email_sub, [make_trade(pelosi)])

    first = services.delivery_send(delivery_id=delivery.pk)
    assert first.status == "retry" and 0 < first.retry_in <= 0.05
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "451" in delivery.last_error

    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 2 and delivery.last_error == ""
    assert len(smtp_server.handler.messages) == 1


def test_a_refused_recipient_fails_at_once_with_the_reason(
    alice, smtp_settings, smtp_server, pelosi
):
    smtp_server.handler.fail("RCPT", "550 5.1.1 No such user here", times=5, address="nobody@")
    sub = services.subscription_create(
        owner=alice, name="typo", channel="email", target="nobody@example.com"
    )
    delivery = matched_delivery(sub, [make_trade(pelosi)])
    outcome = services.delivery_send(delivery_id=delivery.pk)
    assert outcome.status == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "permanent" in delivery.last_error and "550" in delivery.last_error
    assert "No such user" in delivery.last_error


def test_an_unreachable_mail_server_is_transient_until_retries_run_out(
    email_sub, smtp_settings, pelosi
):
    smtp_settings.EMAIL_PORT = 1  # nothing listens there: connection refused
    delivery = matched_delivery(email_sub, [make_trade(pelosi)])
    statuses = [services.delivery_send(delivery_id=delivery.pk).status for _ in range(3)]
    assert statuses == ["retry", "retry", "failed"]  # ALERTS_DELIVERY_MAX_RETRIES = 2
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3
    assert delivery.last_error.startswith("gave up after 3 attempts")
    assert "could not reach the mail server" in delivery.last_error


def test_resending_a_failed_delivery_gives_it_a_fresh_budget(
    email_sub, smtp_settings, smtp_server, pelosi
):
    smtp_server.handler.fail("RCPT", "550 5.7.1 Blocked", times=1)
    delivery = matched_delivery(email_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    assert services.deliveries_resend(delivery_ids=[delivery.pk]) == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 0 and delivery.last_error == ""
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    # Only failed deliveries are reset.
    assert services.deliveries_resend(delivery_ids=[delivery.pk]) == []


def test_a_paused_subscription_sends_nothing(email_sub, smtp_server, pelosi):
    delivery = matched_delivery(email_sub, [make_trade(pelosi)])
    services.subscription_set_active(subscription=email_sub, active=False)
    assert services.delivery_send(delivery_id=delivery.pk).status == "cancelled"
    delivery.refresh_from_db()
    # Cancelled, not failed: pausing is the user's choice, not a delivery problem, so it is
    # neither counted by the delivery failure health check nor resent by "resend failed".
    assert delivery.status == "cancelled" and "paused" in delivery.last_error
    assert smtp_server.handler.messages == []
    assert services.deliveries_resend(delivery_ids=[delivery.pk]) == []
    # Once over, a redelivered task finds nothing to do, even after the subscription resumes.
    services.subscription_set_active(subscription=email_sub, active=True)
    assert services.delivery_send(delivery_id=delivery.pk).status == "done"
    assert smtp_server.handler.messages == []


def test_a_delivery_held_by_a_live_lease_is_left_to_its_worker(email_sub, smtp_server, pelosi):
    delivery = matched_delivery(email_sub, [make_trade(pelosi)])
    from django.utils import timezone

    Delivery.objects.filter(pk=delivery.pk).update(
        status="sending", leased_until=timezone.now() + timezone.timedelta(seconds=30)
    )
    busy = services.delivery_send(delivery_id=delivery.pk)
    assert busy.status == "busy" and 25 < busy.retry_in <= 32
    # Its worker died: once the lease has expired another worker takes over.
    Delivery.objects.filter(pk=delivery.pk).update(
        leased_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    assert len(smtp_server.handler.messages) == 1


# --- Webhooks -----------------------------------------------------------------------------


@pytest.fixture
def hook_sub(alice, smtp_settings, webhook_receiver):
    sub = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target=webhook_receiver.url_for("alice")
    )
    webhook_receiver.secrets["alice"] = sub.signing_secret
    return sub


def test_a_webhook_is_signed_and_carries_the_documented_payload(hook_sub, webhook_receiver, pelosi):
    trade = make_trade(pelosi, ticker="NVDA")
    delivery = matched_delivery(hook_sub, [trade])
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    assert webhook_receiver.verified == [("alice", str(delivery.pk))]
    [request] = webhook_receiver.requests
    assert request.headers["idempotency-key"] == str(delivery.pk)
    assert request.headers["x-capitolscope-event"] == "trades.matched"
    assert request.headers["content-type"].startswith("application/json")
    payload = json.loads(request.body)
    assert payload["delivery_id"] == delivery.pk and payload["trade_count"] == 1
    assert payload["subscription"]["edit_url"] == f"{SITE_URL}/subscriptions/{hook_sub.pk}/edit/"
    [fact] = payload["trades"]
    assert fact["ticker"] == "NVDA" and fact["politician"]["name"] == "Nancy Pelosi"
    assert fact["amount_min"] == 1001 and fact["amount_max"] == 15000
    assert fact["source_url"] == trade.filing.source_url
    assert "Nancy Pelosi" in payload["text"] and "NVDA" in payload["text"]  # Slack's field


def test_a_wrong_secret_is_refused_by_the_receiver_and_fails_permanently(
    hook_sub, webhook_receiver, pelosi
):
    webhook_receiver.secrets["alice"] = "not the secret"
    delivery = matched_delivery(hook_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert "answered 401: bad signature" in delivery.last_error


@pytest.mark.parametrize("status", [500, 503, 408])
def test_webhook_server_errors_are_retried(hook_sub, webhook_receiver, pelosi, status):
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(status, "busy"), times=1)
    delivery = matched_delivery(hook_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "retry"
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    assert len(webhook_receiver.verified) == 1


def test_a_429_honours_retry_after_up_to_the_cap(hook_sub, webhook_receiver, pelosi, settings):
    settings.ALERTS_DELIVERY_BACKOFF_MAX = 30
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(429, headers={"Retry-After": "7"}))
    delivery = matched_delivery(hook_sub, [make_trade(pelosi)])
    outcome = services.delivery_send(delivery_id=delivery.pk)
    assert outcome.status == "retry" and outcome.retry_in == 7
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(429, headers={"Retry-After": "9999"}))
    assert services.delivery_send(delivery_id=delivery.pk).retry_in == 30


@pytest.mark.parametrize("status", [400, 404, 410, 301])
def test_other_client_errors_fail_at_once(hook_sub, webhook_receiver, pelosi, status):
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(status, "gone", {"Location": "/x"}))
    delivery = matched_delivery(hook_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and f"answered {status}" in delivery.last_error


def test_a_webhook_timeout_is_transient(hook_sub, webhook_receiver, pelosi, settings):
    settings.ALERTS_WEBHOOK_TIMEOUT = 0.3
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(200, delay=1.5))
    delivery = matched_delivery(hook_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "retry"
    assert "timed out" in Delivery.objects.get(pk=delivery.pk).last_error


def test_a_huge_error_body_is_read_only_up_to_the_limit(
    hook_sub, webhook_receiver, pelosi, settings
):
    settings.ALERTS_WEBHOOK_MAX_RESPONSE_BYTES = 1024
    webhook_receiver.fail("POST", r"/hooks/alice", Reply(400, "x" * 5_000_000))
    delivery = matched_delivery(hook_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    assert len(Delivery.objects.get(pk=delivery.pk).last_error) < 400


def test_a_private_address_is_refused_at_send_time(hook_sub, webhook_receiver, pelosi, settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False  # e.g. the setting was turned off since
    delivery = matched_delivery(hook_sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    assert "private or local address" in Delivery.objects.get(pk=delivery.pk).last_error
    assert webhook_receiver.requests == []


def test_errors_never_contain_the_webhook_path_or_secret(alice, smtp_settings, pelosi):
    sub = services.subscription_create(
        owner=alice, name="slack", channel="webhook",
        target="http://127.0.0.1:1/services/T000/B000/sekrit-token",
    )  # fmt: skip
    delivery = matched_delivery(sub, [make_trade(pelosi)])
    assert services.delivery_send(delivery_id=delivery.pk).status == "retry"
    error = Delivery.objects.get(pk=delivery.pk).last_error
    assert "127.0.0.1:1" in error
    assert "sekrit" not in error and sub.signing_secret not in error


def test_an_unexpected_error_is_retried_within_the_budget_then_failed(
    email_sub, smtp_settings, pelosi
):
    smtp_settings.EMAIL_BACKEND = "no.such.EmailBackend"  # a misconfigured deployment
    delivery = matched_delivery(email_sub, [make_trade(pelosi)])
    statuses = [services.delivery_send(delivery_id=delivery.pk).status for _ in range(3)]
    assert statuses == ["retry", "retry", "failed"]
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "unexpected error" in delivery.last_error
    assert delivery.leased_until is None


def test_a_host_name_that_does_not_resolve_at_send_time_is_retried_not_failed_at_once(
    alice, smtp_settings, pelosi
):
    # A resolver outage must not fail every webhook for good: the name resolved when the
    # subscription was saved, so "does not resolve" now is retried like a connection error.
    sub = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target="https://no-such-host.invalid/hook"
    )
    smtp_settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    delivery = matched_delivery(sub, [make_trade(pelosi)])
    statuses = [services.delivery_send(delivery_id=delivery.pk).status for _ in range(3)]
    assert statuses == ["retry", "retry", "failed"]
    delivery.refresh_from_db()
    assert "no-such-host.invalid does not resolve" in delivery.last_error


def _delete_trade_row(trade) -> None:
    """Delete a trade's row the way a delete racing a matching batch leaves it: its
    notification stays behind (notifications carry no foreign-key check)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_trade WHERE id = %s", [trade.pk])


def test_a_message_counts_only_trades_that_still_exist(email_sub, smtp_server, pelosi):
    kept, gone = make_trade(pelosi, ticker="NVDA"), make_trade(pelosi, ticker="MSFT")
    delivery = matched_delivery(email_sub, [kept, gone])
    _delete_trade_row(gone)
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    [message] = smtp_server.handler.messages
    assert "1 new trade " in message["Subject"]
    assert "more" not in message.get_body(("plain",)).get_content()


def test_a_delivery_whose_trades_are_all_gone_sends_nothing(email_sub, smtp_server, pelosi):
    trade = make_trade(pelosi)
    delivery = matched_delivery(email_sub, [trade])
    _delete_trade_row(trade)
    outcome = services.delivery_send(delivery_id=delivery.pk)
    assert (outcome.status, outcome.error) == ("sent", "nothing left to send")
    assert smtp_server.handler.messages == []


def test_an_error_page_echoing_the_webhook_path_does_not_leak_it(
    alice, smtp_settings, webhook_receiver, pelosi
):
    # Many servers answer an unknown path with "Cannot POST /the/path": the path of a
    # webhook URL may be its secret (Slack's are), so it never reaches the error or result.
    path = "/services/T000/B000/sekrit-token"
    sub = services.subscription_create(
        owner=alice, name="slack", channel="webhook", target=f"{webhook_receiver.url}{path}?k=v1"
    )
    webhook_receiver.fail("POST", "/services/.*", Reply(404, f"Cannot POST {path}?k=v1"), times=1)
    delivery = matched_delivery(sub, [make_trade(pelosi)])
    outcome = services.delivery_send(delivery_id=delivery.pk)
    assert outcome.status == "failed"
    error = Delivery.objects.get(pk=delivery.pk).last_error
    assert "answered 404: Cannot POST" in error
    for text in (error, outcome.error):
        assert "sekrit" not in text and "k=v1" not in text


def test_the_slack_text_escapes_names_but_keeps_our_links(
    alice, smtp_settings, webhook_receiver, pelosi
):
    """Slack reads <…> as links and mentions and & as an entity: a subscription name (user
    text) must not become "<!channel>", while the filing link we build stays a link."""
    sub = services.subscription_create(
        owner=alice,
        name="<!channel> AT&T watch",
        channel="webhook",
        target=webhook_receiver.url_for("alice"),
    )
    webhook_receiver.secrets["alice"] = sub.signing_secret
    trade = make_trade(pelosi, ticker="T")
    delivery = matched_delivery(sub, [trade])
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    text = json.loads(webhook_receiver.requests[0].body)["text"]
    assert "&lt;!channel&gt; AT&amp;T watch" in text and "<!channel>" not in text
    assert f"<{trade.filing.source_url}|filing>" in text
