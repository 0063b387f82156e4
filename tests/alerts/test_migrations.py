"""Data migrations of alerts, run forward on rows made with the historical models."""

from __future__ import annotations

import pytest

from tests.migrating import migrate, migrate_to_latest

BEFORE = [("alerts", "0004_delivery_status_cancelled")]
AFTER = [("alerts", "0005_paused_deliveries_cancelled")]


@pytest.mark.django_db(transaction=True)
def test_deliveries_failed_only_because_of_a_pause_become_cancelled():
    apps = migrate(BEFORE)
    try:
        User = apps.get_model("auth", "User")
        Subscription = apps.get_model("alerts", "Subscription")
        Delivery = apps.get_model("alerts", "Delivery")
        owner = User.objects.create(username="mig", email="mig@example.com")
        subscription = Subscription.objects.create(
            owner=owner, name="s", channel="email", target="mig@example.com"
        )
        paused = Delivery.objects.create(
            subscription=subscription,
            channel="email",
            status="failed",
            last_error="not sent: the subscription was paused before this message went out",
        )
        refused = Delivery.objects.create(
            subscription=subscription,
            channel="email",
            status="failed",
            last_error="permanent failure: the mail server refused the recipient: 550",
        )

        apps = migrate(AFTER)

        Delivery = apps.get_model("alerts", "Delivery")
        assert Delivery.objects.get(pk=paused.pk).status == "cancelled"
        assert Delivery.objects.get(pk=refused.pk).status == "failed"
    finally:
        migrate_to_latest()
