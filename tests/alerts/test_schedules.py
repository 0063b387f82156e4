"""The two alerts schedules are enabled by setup_schedules now that their tasks exist."""

from __future__ import annotations

import io

from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from capitolscope.celery import app


def test_setup_schedules_enables_the_sweep_and_the_digest(db):
    call_command("setup_schedules", stdout=io.StringIO())
    app.loader.import_default_modules()
    for name, task in (
        ("process-pending-notifications", "alerts.process_pending_notifications"),
        ("daily-digest", "alerts.send_daily_digests"),
    ):
        row = PeriodicTask.objects.get(name=name)
        assert row.task == task and task in app.tasks
        assert row.enabled is True, f"{name} is disabled"
        assert row.queue in ("notifications", None, "")
