"""Deliveries that failed only because their subscription was paused (before 0004 added the
``cancelled`` status) become cancelled, so they stop counting as delivery failures."""

from django.db import migrations

PAUSED = "not sent: the subscription was paused"


def paused_failed_to_cancelled(apps, schema_editor):
    Delivery = apps.get_model("alerts", "Delivery")
    Delivery.objects.filter(status="failed", last_error__startswith=PAUSED).update(
        status="cancelled"
    )


def cancelled_to_failed(apps, schema_editor):
    Delivery = apps.get_model("alerts", "Delivery")
    Delivery.objects.filter(status="cancelled").update(status="failed")


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0004_delivery_status_cancelled"),
    ]

    operations = [
        migrations.RunPython(paused_failed_to_cancelled, cancelled_to_failed),
    ]
