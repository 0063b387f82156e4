from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ManagedSchedule(models.Model):
    """What ``setup_schedules`` last wrote into a default PeriodicTask row.

    Comparing the row with this fingerprint tells an operator's edit (keep it) from a row we
    wrote and may upgrade (for example enable it once its task exists).
    """

    name = models.CharField(max_length=200, unique=True)
    fingerprint = models.CharField(max_length=64)
    applied_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Heartbeat(models.Model):
    """The last sign of life of a singleton process (beat), read by the health checks.

    One row per name; the process that leads updates ``seen_at`` every few seconds.
    """

    name = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)
    # Workers (``worker:<hostname>`` rows): when a broadcast ping that everyone had the whole
    # timeout to answer last went unanswered by it. Later than ``seen_at``: the worker is
    # silent, and /api/workers/ does not wait for it again until it is seen.
    missed_at = models.DateTimeField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} on {self.hostname or '?'} (pid {self.pid or '?'})"

    def age_seconds(self, *, now=None) -> float:
        """Seconds since the process last reported; the health checks compare it to a limit."""
        return ((now or timezone.now()) - self.seen_at).total_seconds()


class Incident(models.Model):
    """An operator problem, open from the first failing check until a check passes again.

    Operators are told once when it opens and once when it resolves, never on every check:
    at most one incident per (kind, subject) is open at a time (a partial unique constraint).
    """

    class Kind(models.TextChoices):
        DATABASE = "database", "Database unreachable"
        BROKER = "broker", "Broker unreachable"
        WORKERS = "workers", "Workers down"
        BEAT = "beat", "Beat down"
        QUEUE_BACKLOG = "queue_backlog", "Queue backlog"
        FAILURE_RATE = "failure_rate", "Task failure rate"
        MISSED_SCHEDULE = "missed_schedule", "Missed schedule"
        DISK = "disk", "Disk space"
        MEMORY = "memory", "Memory use"
        DELIVERIES = "deliveries", "Alert deliveries"

    class Severity(models.TextChoices):
        DEGRADED = "degraded", "Degraded"
        UNHEALTHY = "unhealthy", "Unhealthy"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # What the incident is about within its kind: a queue, a schedule name, "" for global.
    subject = models.CharField(max_length=200, blank=True, default="")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.DEGRADED)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    opened_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="monitoring_incident_one_open_per_kind_subject",
            ),
        ]
        indexes = [
            # Dashboard and health checks: "the open incidents", newest first.
            models.Index(
                fields=["-opened_at"],
                condition=Q(resolved_at__isnull=True),
                name="monitoring_incident_open_idx",
            ),
            # Incident history in the admin, newest first.
            models.Index(fields=["-opened_at"], name="monitoring_incident_age_idx"),
        ]

    def __str__(self) -> str:
        state = "resolved" if self.resolved_at else "open"
        return f"{self.get_kind_display()} {self.subject} ({state})".replace("  ", " ")

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ProblemStreak(models.Model):
    """The hold-down of one (kind, subject): its recent health runs against its incident state.

    ``failing``/``runs``/``first_seen_at`` is the current streak: the problem failed (or
    passed) ``runs`` health runs in a row since ``first_seen_at``. Without an open incident, a
    failing streak opens one after ``MONITORING_INCIDENT_OPEN_AFTER_RUNS`` runs or
    ``MONITORING_INCIDENT_OPEN_AFTER`` seconds; with one, a passing streak resolves it after
    ``MONITORING_INCIDENT_RESOLVE_AFTER`` seconds. The opposite result starts a new streak,
    so a check that flaps neither opens nor resolves an incident on every run.

    ``history`` remembers the last ``MONITORING_INCIDENT_FLAP_RUNS`` runs whatever their
    order, one bit each (bit 0 the latest, 1 = failed): a problem that failed
    ``MONITORING_INCIDENT_FLAP_FAILURES`` of them opens a "flapping" incident even though
    passes broke every streak; its ``opened_at`` is ``since``, the row's first failure. The
    row goes once no run it remembers failed and no incident is open (or when the incident
    resolves), so ``since`` is when the problem last started failing after a clean window.
    """

    kind = models.CharField(max_length=32, choices=Incident.Kind.choices)
    subject = models.CharField(max_length=200, blank=True, default="")
    failing = models.BooleanField()
    runs = models.PositiveIntegerField(default=1)
    history = models.PositiveBigIntegerField(default=0)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    since = models.DateTimeField(default=timezone.now)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"], name="monitoring_problemstreak_unique_kind_subject"
            ),
        ]

    def __str__(self) -> str:
        state = "failing" if self.failing else "passing"
        return f"{self.kind} {self.subject} {state} {self.runs} run(s)".replace("  ", " ")


class DeadLetter(models.Model):
    """A task that failed for good, with everything needed to run it again."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RETRIED = "retried", "Retried"
        DISMISSED = "dismissed", "Dismissed"

    task_id = models.CharField(max_length=255)
    task_name = models.CharField(max_length=255)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=100, blank=True)
    exception_type = models.CharField(max_length=255, blank=True)
    exception = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    retries = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    failed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The task started by "retry": a new task id with the same arguments.
    retry_task_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-failed_at"]
        constraints = [
            models.UniqueConstraint(fields=["task_id"], name="monitoring_deadletter_unique_task"),
        ]
        indexes = [
            # Dead-letter page and metrics: open ones, newest first.
            models.Index(fields=["status", "-failed_at"], name="monitoring_dl_status_idx"),
            # Retention: delete resolved dead letters older than a cut-off.
            models.Index(fields=["failed_at"], name="monitoring_dl_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id} ({self.status})"


class ApiToken(models.Model):
    """A bearer token for the JSON API and /metrics; only a hash of the secret is stored.

    The token acts with the permissions of ``user`` (who must be staff). The full token is
    shown once at creation; ``prefix`` identifies it in lists and logs without revealing it.
    """

    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, *, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now
