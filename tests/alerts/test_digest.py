"""The daily digest: one message per subscriber with the matches since the last digest,
nothing without matches, at most once per day."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from alerts import services
from alerts.models import Delivery, Notification
from alerts.tasks import send_daily_digests
from tests.alerts.conftest import make_trade
from tests.processes import wait_until

DAY1 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
DAY2_DIGEST = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
DAY2_LATER = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
DAY3_DIGEST = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


@pytest.fixture
def digest_sub(alice):
    return services.subscription_create(
        owner=alice, name="daily", channel="email", target="alice@example.com", mode="digest"
    )


def test_a_digest_collects_the_days_matches_once_per_day(digest_sub, pelosi):
    with time_machine.travel(DAY1, tick=False):
        first = [make_trade(pelosi), make_trade(pelosi)]
        assert services.trades_match().delivery_ids == []  # digests wait
    with time_machine.travel(DAY2_DIGEST, tick=False):
        [delivery_id] = services.digests_create()
        assert services.digests_create() == []  # the task ran twice: nothing more
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.kind == "digest" and delivery.digest_date == dt.date(2026, 11, 23)
    assert set(delivery.notifications.values_list("trade_id", flat=True)) == {t.pk for t in first}

    with time_machine.travel(DAY2_LATER, tick=False):
        later = make_trade(pelosi)
        services.trades_match()
        assert services.digests_create() == []  # today's digest exists: tomorrow's then
    with time_machine.travel(DAY3_DIGEST, tick=False):
        [next_id] = services.digests_create()
    assert list(
        Notification.objects.filter(delivery_id=next_id).values_list("trade_id", flat=True)
    ) == [later.pk]


def test_no_matches_no_digest(digest_sub, pelosi):
    with time_machine.travel(DAY2_DIGEST, tick=False):
        assert services.digests_create() == []
    assert not Delivery.objects.exists()


def test_a_paused_digest_subscriber_gets_nothing(digest_sub, pelosi):
    make_trade(pelosi)
    services.trades_match()
    services.subscription_set_active(subscription=digest_sub, active=False)
    assert services.digests_create() == []


def test_the_digest_email_says_so(digest_sub, smtp_settings, smtp_server, pelosi):
    with time_machine.travel(DAY1, tick=False):
        make_trade(pelosi)
        make_trade(pelosi, ticker="MSFT")
        services.trades_match()
    with time_machine.travel(DAY2_DIGEST, tick=False):
        [delivery_id] = services.digests_create()
    assert services.delivery_send(delivery_id=delivery_id).status == "sent"
    [message] = smtp_server.handler.messages
    assert (
        message["Subject"].strip()
        == "CapitolScope: Daily digest 2026-11-23: 2 new trades for “daily”"
    )
    assert "daily digest" in message.get_body(("plain",)).get_content()


def test_the_digest_task_run_twice_sends_one_email(alerts_worker, smtp_server, alice, pelosi):
    services.subscription_create(
        owner=alice, name="daily", channel="email", target="alice@example.com", mode="digest"
    )
    make_trade(pelosi)
    services.trades_match()
    assert send_daily_digests.delay().get(timeout=30) == {"digests": 1}
    assert send_daily_digests.delay().get(timeout=30) == {"digests": 0}
    wait_until(lambda: smtp_server.handler.messages, timeout=30, what="the digest email")
    wait_until(
        lambda: Delivery.objects.filter(status="sent").exists(), timeout=10, what="sent status"
    )
    assert len(smtp_server.handler.messages) == 1
