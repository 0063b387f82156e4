"""/metrics in the Prometheus text exposition format (version 0.0.4).

Every value is read when Prometheus scrapes, with bounded costs: task counts are one grouped
query over the results finished in the last ``METRICS_TASK_WINDOW_HOURS`` (a range scan of the
``date_done`` index, never the whole table), the last success of each schedule is one indexed
lookup per schedule (newest first, stopping at the first success), the broker is asked with
short timeouts (a Redis PING and the queue lengths; an unreachable broker gives
``capitolscope_broker_up 0``, not a failed scrape), and the workers are never asked: a control
ping waits for every worker that might answer, so they come from the workers-seen record that
the health check (every 5 minutes) and GET /api/workers/ keep.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone

from monitoring.api import api_endpoint

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metric:
    name: str
    help: str
    type: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def escape_label_value(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render(metrics: Iterable[Metric]) -> str:
    lines = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.type}")
        for labels, value in metric.samples:
            label_text = ",".join(
                f'{key}="{escape_label_value(val)}"' for key, val in sorted(labels.items())
            )
            suffix = f"{{{label_text}}}" if label_text else ""
            lines.append(f"{metric.name}{suffix} {format_value(value)}")
    return "\n".join(lines) + "\n"


def task_counts(*, since: dt.datetime) -> Metric:
    from django_celery_results.models import TaskResult

    hours = settings.METRICS_TASK_WINDOW_HOURS
    metric = Metric(
        "capitolscope_tasks_total",
        f"Task results recorded (finished, or last updated) in the last {hours} hours, "
        "by task name and state.",
    )
    rows = (
        TaskResult.objects.filter(date_done__gte=since)
        .values_list("task_name", "status")
        .annotate(count=Count("id"))
        .order_by("task_name", "status")
    )
    for task_name, status, count in rows:
        metric.add(count, task=task_name or "unknown", state=status)
    return metric


def schedule_last_success() -> Metric:
    from django_celery_beat.models import PeriodicTask
    from django_celery_results.models import TaskResult

    metric = Metric(
        "capitolscope_schedule_last_success_timestamp_seconds",
        "Unix time of the last successful run of each schedule (0: none kept in history).",
    )
    for name, task in PeriodicTask.objects.order_by("name").values_list("name", "task"):
        # Newest first on (periodic_task_name, date_created, id) (monitoring migration 0003):
        # the scan stops at the first success instead of reading every run of the schedule.
        last = (
            TaskResult.objects.filter(periodic_task_name=name, status="SUCCESS")
            .order_by("-date_created", "-id")
            .values_list("date_done", flat=True)
            .first()
        )
        metric.add(last.timestamp() if last else 0, schedule=name, task=task)
    return metric


def beat_heartbeat_age(*, now: dt.datetime) -> Metric:
    from monitoring.health import beat_heartbeat_age as heartbeat_age

    metric = Metric(
        "capitolscope_beat_heartbeat_age_seconds",
        "Seconds since the leading beat last recorded its heartbeat (+Inf: never).",
    )
    age = heartbeat_age(now=now)
    metric.add(round(age, 3) if age is not None else math.inf)
    return metric


def incidents_open() -> Metric:
    from monitoring.models import Incident

    metric = Metric("capitolscope_incidents_open", "Open incidents by kind.")
    counts = dict(
        Incident.objects.filter(resolved_at__isnull=True)
        .values_list("kind")
        .annotate(count=Count("id"))
        .order_by()
    )
    for kind in Incident.Kind.values:
        metric.add(counts.get(kind, 0), kind=kind)
    return metric


def dead_letters_open() -> Metric:
    from monitoring.models import DeadLetter

    metric = Metric(
        "capitolscope_dead_letters_open", "Tasks that failed for good, not yet handled."
    )
    metric.add(DeadLetter.objects.filter(status=DeadLetter.Status.OPEN).count())
    return metric


def broker_metrics() -> list[Metric]:
    """Broker reachability and queue depths, read from Redis with short timeouts."""
    from monitoring.health import OK, check_broker
    from monitoring.queues import queue_depths

    up = Metric("capitolscope_broker_up", "1 when the broker answered this scrape, else 0.")
    depth = Metric(
        "capitolscope_queue_depth", "Messages waiting in each queue (all priority levels)."
    )
    reachable = check_broker(timeout=1.0).status == OK
    if reachable:
        try:
            for queue, count in queue_depths(timeout=2.0).items():
                depth.add(count, queue=queue)
        except Exception as exc:
            logger.warning("metrics: queue depths failed: %s", exc)
            reachable = False
    up.add(1 if reachable else 0)
    return [up, depth]


def worker_metrics(*, now: dt.datetime) -> list[Metric]:
    """Workers from the workers-seen record: no control ping, so no wait for replies."""
    from monitoring.health import workers_seen, workers_seen_window

    within = workers_seen_window()
    seen = workers_seen()
    recent = seen.recent_workers(now=now, within=within)
    silent = seen.silent_workers(now=now, within=within)
    count = Metric(
        "capitolscope_workers_seen",
        f"Workers that answered a control ping in the last {within} s (twice "
        "HEALTH_WORKER_DOWN_AFTER) and no broadcast ping since without answering, as recorded "
        "by the health check and GET /api/workers/.",
    )
    count.add(len(recent) - len(silent))
    quiet = Metric(
        "capitolscope_workers_silent",
        f"Workers seen in the last {within} s that did not answer a broadcast ping since "
        "(stopped, renamed by a redeploy, or too busy to answer).",
    )
    quiet.add(len(silent))
    last = Metric(
        "capitolscope_worker_last_seen_timestamp_seconds",
        "Unix time each worker last answered a control ping (forgotten after "
        "HEARTBEAT_RETENTION_DAYS).",
    )
    for hostname, seen_at in sorted(seen.workers.items()):
        last.add(round(seen_at.timestamp(), 3), worker=hostname)
    return [count, quiet, last]


def metrics_collect(*, now: dt.datetime | None = None) -> list[Metric]:
    now = now or timezone.now()
    started = time.perf_counter()
    since = now - dt.timedelta(hours=settings.METRICS_TASK_WINDOW_HOURS)
    collected = [
        task_counts(since=since),
        *broker_metrics(),
        *worker_metrics(now=now),
        schedule_last_success(),
        beat_heartbeat_age(now=now),
        incidents_open(),
        dead_letters_open(),
    ]
    duration = Metric(
        "capitolscope_metrics_scrape_duration_seconds", "Seconds this scrape took to collect."
    )
    duration.add(round(time.perf_counter() - started, 4))
    return [*collected, duration]


@api_endpoint("GET")
def metrics_view(request):
    """Token or staff session, like the API; Prometheus sends ``Authorization: Bearer``.

    Fast and bounded: database reads, a Redis PING and the queue lengths (each with a short
    timeout). The workers are not pinged: ``capitolscope_workers_seen`` and
    ``capitolscope_worker_last_seen_timestamp_seconds`` come from the workers-seen record
    (refreshed by every health check and every GET /api/workers/).
    """
    response = HttpResponse(render(metrics_collect()), content_type=CONTENT_TYPE)
    return response
