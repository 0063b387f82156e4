"""Indexes on django-celery-results' task table for the task-history pages.

The (…, date_created, id) ones serve the keyset pagination "newest first" (ORDER BY
date_created DESC, id DESC with (date_created, id) < cursor) under one filter; SQLite and
PostgreSQL both read IF NOT EXISTS.
"""

from django.db import migrations

TABLE = "django_celery_results_taskresult"
INDEXES = [
    # Task history, unfiltered (and the dashboard's last health-check result).
    ("monitoring_tr_created_idx", "date_created, id"),
    # Task history filtered by task name (and by queue: task_name IN (...)).
    ("monitoring_tr_name_created_idx", "task_name, date_created, id"),
    # Task history filtered by status.
    ("monitoring_tr_status_created_idx", "status, date_created, id"),
    # Task history by schedule; the schedules page's recent runs per schedule.
    ("monitoring_tr_sched_created_idx", "periodic_task_name, date_created, id"),
    # Dashboard chart: successes and failures per hour of date_done over the last 24 hours,
    # counted from the index alone.
    ("monitoring_tr_done_status_idx", "date_done, status"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0002_incidents_deadletters_tokens_heartbeat"),
        ("django_celery_results", "0014_alter_taskresult_status"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} ({columns})",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, columns in INDEXES
    ]
