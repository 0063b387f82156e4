"""Subscription services: validation, child tables and filter flags kept consistent."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from alerts import services
from alerts.models import Subscription, SubscriptionTicker


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


def test_it_creates_an_email_subscription_with_every_filter(alice, pelosi):
    sub = services.subscription_create(
        owner=alice, name="Pelosi tech", channel="email", target="alice@example.com",
        politician_ids=[pelosi.pk], tickers=["nvda", "$aapl", " "], chambers=["house"],
        parties=["D"], transaction_types=["purchase", "sale"], owners=["spouse"],
        min_amount=50_000, late_only=True,
    )  # fmt: skip
    sub.refresh_from_db()
    assert sub.ticker_values() == ["AAPL", "NVDA"]
    assert list(sub.politicians.values_list("pk", flat=True)) == [pelosi.pk]
    assert sub.has_politician_filter and sub.has_ticker_filter
    assert sub.chamber_values() == ["house"]
    assert sub.party_values() == ["D"]
    assert sub.transaction_type_values() == ["purchase", "sale"]
    assert sub.owner_values() == ["spouse"]
    assert sub.signing_secret == ""
    assert sub.mode == "instant" and sub.active


def test_a_webhook_subscription_gets_a_signing_secret(alice, settings):
    sub = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target="https://hooks.example.com/x"
    )
    assert len(sub.signing_secret) == 64
    assert not sub.has_politician_filter and not sub.has_ticker_filter


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"chambers": ["house", "hous"]}, "chambers", "'hous'"),
        ({"parties": ["X"]}, "parties", "'X'"),
        ({"transaction_types": ["buy"]}, "transaction_types", "'buy'"),
        ({"owners": ["cousin"]}, "owners", "'cousin'"),
        ({"tickers": ["AAPL;DROP"]}, "tickers", "AAPL;DROP"),
        ({"politician_ids": [999999]}, "politicians", "999999"),
        ({"min_amount": -1}, "min_amount", "≥ 0"),
        ({"mode": "weekly"}, "mode", "weekly"),
        ({"target": "not-an-address"}, "target", "not a valid email"),
        ({"channel": "webhook", "target": "ftp://x.example.com/"}, "target", "http"),
        ({"channel": "webhook", "target": "http://127.0.0.1:9/"}, "target", "private"),
        ({"channel": "webhook", "target": "http://10.1.2.3/"}, "target", "private"),
        ({"channel": "webhook", "target": "http://localhost:8000/"}, "target", "local"),
        ({"name": " "}, "name", "name"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(alice, kwargs, field, words):
    data = {"owner": alice, "name": "x", "channel": "email", "target": "alice@example.com"}
    data.update(kwargs)
    with pytest.raises(ValidationError) as caught:
        services.subscription_create(**data)
    assert field in caught.value.message_dict
    assert words in " ".join(caught.value.message_dict[field])
    assert not Subscription.objects.exists()


def test_private_webhook_targets_are_allowed_when_the_setting_says_so(alice, settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    sub = services.subscription_create(
        owner=alice, name="local", channel="webhook", target="http://127.0.0.1:8080/hook"
    )
    assert sub.pk


def test_update_replaces_filters_and_keeps_the_flags_in_sync(alice, pelosi):
    sub = services.subscription_create(
        owner=alice, name="a", channel="email", target="alice@example.com",
        politician_ids=[pelosi.pk], tickers=["MSFT"],
    )  # fmt: skip
    services.subscription_update(subscription=sub, tickers=[], politician_ids=[], parties=["R"])
    sub.refresh_from_db()
    assert not sub.has_politician_filter and not sub.has_ticker_filter
    assert not SubscriptionTicker.objects.filter(subscription=sub).exists()
    assert sub.party_values() == ["R"]

    services.subscription_update(subscription=sub, tickers=["tsla"], name="renamed")
    sub.refresh_from_db()
    assert sub.has_ticker_filter and sub.ticker_values() == ["TSLA"]
    assert sub.name == "renamed" and sub.party_values() == ["R"]  # untouched field kept


def test_switching_channels_creates_or_clears_the_secret(alice):
    sub = services.subscription_create(
        owner=alice, name="a", channel="email", target="alice@example.com"
    )
    services.subscription_update(
        subscription=sub, channel="webhook", target="https://hooks.example.com/a"
    )
    assert len(Subscription.objects.get(pk=sub.pk).signing_secret) == 64
    services.subscription_update(subscription=sub, channel="email", target="a@example.com")
    assert Subscription.objects.get(pk=sub.pk).signing_secret == ""


def test_pause_resume_and_delete(alice):
    sub = services.subscription_create(
        owner=alice, name="a", channel="email", target="alice@example.com", tickers=["X"]
    )
    services.subscription_set_active(subscription=sub, active=False)
    assert not Subscription.objects.get(pk=sub.pk).active
    services.subscription_set_active(subscription=sub, active=True)
    assert Subscription.objects.get(pk=sub.pk).active
    services.subscription_delete(subscription=sub)
    assert not Subscription.objects.exists() and not SubscriptionTicker.objects.exists()
