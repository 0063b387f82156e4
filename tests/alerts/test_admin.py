"""Admin pages: subscriptions (secret hidden, pause/resume), deliveries, notifications."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts import services
from alerts.models import Delivery, Subscription
from tests.alerts.conftest import make_trade


@pytest.fixture
def admin_client(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    return client


@pytest.fixture
def hook(plain_user, settings):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    return services.subscription_create(
        owner=plain_user, name="Paul's hook", channel="webhook",
        target="http://127.0.0.1:9/hook", tickers=["NVDA"], parties=["R"], min_amount=50_000,
    )  # fmt: skip


def test_the_subscription_pages_never_show_the_signing_secret(admin_client, hook):
    listing = admin_client.get(reverse("admin:alerts_subscription_changelist") + "?q=paul")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Paul&#x27;s hook" in page and "tickers; party: R; ≥ $50,000" in page
    detail = admin_client.get(reverse("admin:alerts_subscription_change", args=[hook.pk]))
    assert detail.status_code == 200
    assert "set (hidden)" in detail.content.decode()
    assert hook.signing_secret not in page + detail.content.decode()


def test_operators_pause_and_resume_subscriptions(admin_client, hook):
    url = reverse("admin:alerts_subscription_changelist")
    admin_client.post(url, {"action": "pause", "_selected_action": [hook.pk]})
    assert Subscription.objects.get(pk=hook.pk).active is False
    admin_client.post(url, {"action": "resume", "_selected_action": [hook.pk]})
    assert Subscription.objects.get(pk=hook.pk).active is True


def test_delivery_and_notification_pages_filter_and_search(admin_client, hook, tuberville):
    make_trade(tuberville, ticker="NVDA", amount=(50_001, 100_000))
    [delivery_id] = services.trades_match().delivery_ids
    Delivery.objects.filter(pk=delivery_id).update(status="failed", last_error="boom 503")
    deliveries = reverse("admin:alerts_delivery_changelist")
    for query in ("", "?status__exact=failed", "?channel__exact=webhook&kind__exact=instant",
                  "?q=boom"):  # fmt: skip
        response = admin_client.get(deliveries + query)
        assert response.status_code == 200 and "boom 503" in response.content.decode()
    assert "boom 503" not in admin_client.get(deliveries + "?status__exact=sent").content.decode()
    detail = admin_client.get(reverse("admin:alerts_delivery_change", args=[delivery_id]))
    assert detail.status_code == 200 and hook.signing_secret not in detail.content.decode()
    notifications = admin_client.get(reverse("admin:alerts_notification_changelist") + "?q=paul")
    assert notifications.status_code == 200 and "Paul&#x27;s hook" in notifications.content.decode()


def test_resend_leaves_deliveries_that_did_not_fail_alone(admin_client, hook, tuberville):
    make_trade(tuberville, ticker="NVDA", amount=(50_001, 100_000))
    [delivery_id] = services.trades_match().delivery_ids
    response = admin_client.post(
        reverse("admin:alerts_delivery_changelist"),
        {"action": "resend_failed", "_selected_action": [delivery_id]},
        follow=True,
    )
    assert "Resending 0 deliveries (1 not failed, left alone)" in response.content.decode()
    assert Delivery.objects.get(pk=delivery_id).status == "pending"


def test_non_staff_users_cannot_reach_the_alerts_admin(client, plain_user):
    client.force_login(plain_user)
    response = client.get(reverse("admin:alerts_delivery_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]
