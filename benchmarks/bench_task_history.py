"""Task-history pages over 1,000,000 TaskResult rows in PostgreSQL.

Fills django-celery-results' table with a realistic month of history (generate_series in one
INSERT: task names weighted like a busy deployment, 94 % successes, schedules for the periodic
tasks, sizes of arguments/results/tracebacks like the real ones), then times each page with
the Django test client signed in as staff: the task list (unfiltered, by task name, by status,
by schedule, by queue, a deep page), a task detail, the schedules page, the dashboard, and the
admin's TaskResult changelist. Median and p95 over REPEATS requests each (after warm-up).

Baselines measured in the same run: the task list without the history indexes of migration
monitoring 0003 (dropped, timed, re-created), and django-celery-results' own admin class
(COUNT(*) paginator, full result count, distinct-value sidebar filters).

Target (issue 5): p95 <= 150 ms for each of our views.
Run: python benchmarks/bench_task_history.py   (BENCH_DATABASE_URL / DATABASE_URL: PostgreSQL)
Options: BENCH_ROWS (default 1,000,000), BENCH_REPEATS (default 30).
"""

from __future__ import annotations

import os
import statistics
import time

from _db import drop_database, setup_django

DB_NAME = "capitolscope_bench_task_history"
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "30"))
BASELINE_REPEATS = max(REPEATS // 3, 5)
TARGET_MS = 150.0

# (task name, weight in ‰, schedule name or None, share of runs sent by that schedule)
TASKS = [
    ("alerts.deliver", 420, None, 0),
    ("alerts.match_new_trades", 250, None, 0),
    ("ingestion.update_stock_prices", 90, "update-stock-prices", 1.0),
    ("ingestion.sync_house_trades", 60, None, 0),
    ("ingestion.sync_senate_trades", 60, None, 0),
    ("monitoring.system_health_check", 50, "system-health-check", 0.97),
    ("ingestion.sync_all_trades", 30, "sync-congressional-trades", 0.9),
    ("alerts.process_pending_notifications", 25, "process-pending-notifications", 1.0),
    ("monitoring.selftest_fail", 10, None, 0),
    ("alerts.send_daily_digests", 3, "daily-digest", 1.0),
    ("monitoring.daily_maintenance", 2, "daily-maintenance", 1.0),
]
# (status, cumulative ‰)
STATUSES = [
    ("SUCCESS", 940),
    ("FAILURE", 970),
    ("RETRY", 980),
    ("PENDING", 990),
    ("STARTED", 995),
    ("REVOKED", 1000),
]
HISTORY_INDEXES = [
    "monitoring_tr_created_idx",
    "monitoring_tr_name_created_idx",
    "monitoring_tr_status_created_idx",
    "monitoring_tr_sched_created_idx",
    "monitoring_tr_done_status_idx",
]


def _case(expression: str, branches: list[tuple[int, str]], default: str) -> str:
    parts = " ".join(f"WHEN {expression} < {bound} THEN {value}" for bound, value in branches)
    return f"CASE {parts} ELSE {default} END"


def fill(rows: int) -> float:
    """Insert ``rows`` task results in one statement; returns seconds."""
    from django.db import connection

    cumulative, task_branches, schedule_branches = 0, [], []
    for name, weight, schedule, share in TASKS:
        cumulative += weight
        task_branches.append((cumulative, f"'{name}'"))
        schedule_value = f"CASE WHEN r3 < {share} THEN '{schedule}' END" if schedule else "NULL"
        schedule_branches.append((cumulative, schedule_value))
    task_case = _case("t", task_branches, "'alerts.deliver'")
    schedule_case = _case("t", schedule_branches, "NULL")
    status_case = _case("s", [(bound, f"'{status}'") for status, bound in STATUSES], "'SUCCESS'")
    traceback = (
        "Traceback (most recent call last):\n"
        + '  File "/opt/capitolscope/ingestion/sources.py", line 212, in fetch\n' * 12
        + "ingestion.sources.SourceError: House Clerk answered 503 Service Unavailable"
    ).replace("'", "''")
    sql = f"""
        INSERT INTO django_celery_results_taskresult (
            task_id, task_name, periodic_task_name, task_args, task_kwargs, status, worker,
            content_type, content_encoding, result, date_created, date_started, date_done,
            traceback, meta
        )
        SELECT
            md5(g::text || 'task')::uuid::text,
            {task_case},
            {schedule_case},
            '"(' || mod(g, 5000) || ',)"',
            '"{{''days_back'': 1, ''notify'': True}}"',
            status,
            'celery@worker-' || mod(g, 4),
            'application/json', 'utf-8',
            CASE WHEN status = 'FAILURE'
                 THEN '{{"exc_type": "SourceError", "exc_message": ["House Clerk answered 503"]}}'
                 WHEN status = 'SUCCESS'
                 THEN '{{"fetched": ' || mod(g, 97) || ', "created": ' || mod(g, 13) || '}}'
            END,
            created,
            CASE WHEN status <> 'PENDING' THEN created + make_interval(secs => r4 * 2) END,
            CASE WHEN status IN ('SUCCESS', 'FAILURE', 'REVOKED')
                 THEN created + make_interval(secs => r4 * 2 + power(r5, 3) * 120)
                 ELSE created END,
            CASE WHEN status = 'FAILURE' THEN '{traceback}' END,
            '{{"children": [], "retries": 0, "queue": "default"}}'
        FROM (
            SELECT g,
                   (random() * 1000)::int AS t,
                   (random() * 1000)::int AS s,
                   random() AS r3, random() AS r4, random() AS r5,
                   now() - make_interval(secs => random() * 30 * 86400) AS created
            FROM generate_series(1, %s) AS g
        ) AS draws
        CROSS JOIN LATERAL (SELECT {status_case} AS status) AS picked
    """
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(sql, [rows])
        cursor.execute("VACUUM ANALYZE django_celery_results_taskresult")
        cursor.execute("CHECKPOINT")
    return time.perf_counter() - started


def timed(client, path: str, repeats: int) -> tuple[float, float]:
    for _ in range(3):  # warm-up: connection, template and plan caches
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def report(label: str, median: float, p95: float, *, target: bool) -> bool:
    verdict = ""
    if target:
        verdict = "ok" if p95 <= TARGET_MS else "OVER TARGET"
    print(f"  {label:<44} median {median:7.1f} ms   p95 {p95:7.1f} ms   {verdict}")
    return p95 <= TARGET_MS or not target


def use_admin_class(model, admin_class) -> None:
    """Register ``admin_class`` for ``model`` and rebuild the URLs that bound the old one."""
    import importlib

    from django.conf import settings
    from django.contrib import admin
    from django.urls import clear_url_caches

    admin.site.unregister(model)
    admin.site.register(model, admin_class)
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))
    clear_url_caches()


def main() -> None:
    admin_url = setup_django(DB_NAME)
    try:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import setup_test_environment
        from django_celery_results import admin as results_admin
        from django_celery_results.models import TaskResult

        from monitoring import selectors
        from monitoring.beat_admin import TaskResultAdmin
        from monitoring.schedules import schedules_setup

        setup_test_environment()
        schedules_setup()
        seconds = fill(ROWS)
        total = TaskResult.objects.count()
        print(f"inserted {total:,} task results in {seconds:.1f} s (one INSERT … generate_series)")

        user = get_user_model().objects.create_superuser("bench", "bench@localhost", "x")
        client = Client()
        client.force_login(user)

        detail_id = (
            TaskResult.objects.filter(status="FAILURE").order_by("-date_created").first().task_id
        )
        middle = TaskResult.objects.order_by("-date_created", "-id")[ROWS // 2]
        deep = selectors.Cursor.of(middle).encode()
        views = [
            ("task list, unfiltered", "/ops/tasks/"),
            ("task list, by task name (alerts.deliver)", "/ops/tasks/?task_name=alerts.deliver"),
            ("task list, by rare task name", "/ops/tasks/?task_name=monitoring.daily_maintenance"),
            ("task list, by status (FAILURE)", "/ops/tasks/?status=FAILURE"),
            ("task list, by schedule", "/ops/tasks/?schedule=system-health-check"),
            ("task list, by queue (price_updates)", "/ops/tasks/?queue=price_updates"),
            ("task list, by rare queue (maintenance)", "/ops/tasks/?queue=maintenance"),
            (
                "task list, status + date range",
                "/ops/tasks/?status=FAILURE&created_from=2026-01-01&created_to=2030-01-01",
            ),
            ("task list, a page halfway back (keyset)", f"/ops/tasks/?before={deep}"),
            ("task detail (a failure with traceback)", f"/ops/tasks/{detail_id}/"),
            ("schedules page (8 schedules, stats)", "/ops/schedules/"),
            ("dashboard (24-hour chart)", "/ops/"),
        ]
        print(f"\nour views: {REPEATS} requests each after 3 warm-up requests (target p95 <= "
              f"{TARGET_MS:.0f} ms)")  # fmt: skip
        all_ok = True
        for label, path in views:
            all_ok &= report(label, *timed(client, path, REPEATS), target=True)

        admin_path = "/admin/django_celery_results/taskresult/"
        print("\nadmin TaskResult changelist (reported, no target):")
        report("ours: estimated count, status/date filters", *timed(client, admin_path, REPEATS),
               target=False)  # fmt: skip
        use_admin_class(TaskResult, results_admin.TaskResultAdmin)
        report(
            "baseline: django-celery-results' admin class",
            *timed(client, admin_path, BASELINE_REPEATS),
            target=False,
        )
        use_admin_class(TaskResult, TaskResultAdmin)

        print(f"\nbaseline: the task list without the history indexes ({BASELINE_REPEATS} "
              "requests each)")  # fmt: skip
        with connection.cursor() as cursor:
            for name in HISTORY_INDEXES:
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute("ANALYZE django_celery_results_taskresult")
        for label, path in [*views[:9], views[-1]]:
            report(label, *timed(client, path, BASELINE_REPEATS), target=False)
        print("\n" + ("targets met" if all_ok else "TARGETS MISSED"))
    finally:
        drop_database(admin_url, DB_NAME)


if __name__ == "__main__":
    main()
