"""Incidents: one per failing (kind, subject), told to the operators once on open and once on
resolve — never on every check.

``incidents_sync(report=…)`` turns a ``system_health`` report into incident rows, with a
hold-down both ways so that a check that flaps does not page anyone on every run (the state
lives in ``ProblemStreak``, one row per (kind, subject)):

- a problem opens an incident only once it has failed ``MONITORING_INCIDENT_OPEN_AFTER_RUNS``
  health runs in a row, or for ``MONITORING_INCIDENT_OPEN_AFTER`` seconds (whichever comes
  first); the incident's ``opened_at`` is the first failure. A pass in between starts over.
- a problem that flaps (fails, passes, fails again …) opens a "flapping" incident once it
  failed ``MONITORING_INCIDENT_FLAP_FAILURES`` of the last ``MONITORING_INCIDENT_FLAP_RUNS``
  health runs of its check (a check that did not report it passed it); its ``opened_at`` is
  the first of those failures (or earlier: the first since a window with none).
- an open incident is refreshed (``last_seen_at``) while its problem is reported, and resolved
  only once a conclusive check has not reported it for ``MONITORING_INCIDENT_RESOLVE_AFTER``
  seconds (a flapping one: and in none of the last ``MONITORING_INCIDENT_FLAP_RUNS`` runs); a
  failure within that time keeps the same incident open, with no new notice.
 ``incidents_notify()`` then sends what is still unsent:
an email to ``OPS_ALERT_EMAILS`` (default: the ``ADMINS`` addresses) and, if set, a JSON POST
to ``OPS_ALERT_WEBHOOK_URL`` (Slack-compatible ``text``). Each channel's success is recorded
on the incident (``details["notified"]``), so a channel that failed is retried at the next
check while one that succeeded is never repeated; ``opened_notified_at`` /
``resolved_notified_at`` are set once every channel has it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from capitolscope import slack
from monitoring.health import CHECK_KINDS, OK, Problem, health_problems
from monitoring.models import Incident, ProblemStreak

logger = logging.getLogger(__name__)

OPENED = "opened"
RESOLVED = "resolved"


class AlertError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class IncidentChanges:
    opened: list[int] = field(default_factory=list)
    continuing: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    # Failing, but not long enough to open an incident: "kind" or "kind:subject".
    pending: list[str] = field(default_factory=list)
    # Open incidents whose check passes, held open until the resolve hold-down has passed.
    resolving: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "opened": self.opened,
            "continuing": self.continuing,
            "resolved": self.resolved,
            "pending": self.pending,
            "resolving": self.resolving,
        }


def _severity(problem: Problem) -> str:
    return (
        Incident.Severity.UNHEALTHY if problem.status == "unhealthy" else Incident.Severity.DEGRADED
    )


def incident_touch(*, problem: Problem, now: datetime) -> Incident | None:
    """Refresh the open incident of the problem's (kind, subject); None if none is open."""
    touched = Incident.objects.filter(
        kind=problem.kind, subject=problem.subject, resolved_at__isnull=True
    ).update(severity=_severity(problem), summary=problem.message[:500], last_seen_at=now)
    if not touched:
        return None
    return Incident.objects.filter(
        kind=problem.kind, subject=problem.subject, resolved_at__isnull=True
    ).first()


def incident_open_or_touch(
    *,
    problem: Problem,
    now: datetime,
    opened_at: datetime | None = None,
    flapping: ProblemStreak | None = None,
) -> tuple[Incident, bool]:
    """The open incident of the problem's (kind, subject), created if there is none.

    ``flapping``: the streak whose recent failures open it (not failures in a row); the
    incident says so and is marked ``details["flapping"]``.
    """
    defaults = {
        "severity": _severity(problem),
        "summary": problem.message[:500],
        "last_seen_at": now,
    }
    details = {"first_message": problem.message}
    if flapping is not None:
        details["flapping"] = {
            "failures": streak_failures(flapping),
            "runs": settings.MONITORING_INCIDENT_FLAP_RUNS,
        }
    touched = Incident.objects.filter(
        kind=problem.kind, subject=problem.subject, resolved_at__isnull=True
    ).update(**defaults)
    if touched:
        return Incident.objects.get(
            kind=problem.kind, subject=problem.subject, resolved_at__isnull=True
        ), False
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                kind=problem.kind,
                subject=problem.subject,
                opened_at=opened_at or now,
                details=details,
                **defaults,
            )
        return incident, True
    except IntegrityError:  # another check opened it a moment ago
        Incident.objects.filter(
            kind=problem.kind, subject=problem.subject, resolved_at__isnull=True
        ).update(**defaults)
        return Incident.objects.get(
            kind=problem.kind, subject=problem.subject, resolved_at__isnull=True
        ), False


def flap_mask() -> int:
    """The bits of ``ProblemStreak.history`` that count: the last ``FLAP_RUNS`` runs."""
    return (1 << settings.MONITORING_INCIDENT_FLAP_RUNS) - 1


def streak_failures(streak: ProblemStreak) -> int:
    """Health runs the problem failed among the last ``MONITORING_INCIDENT_FLAP_RUNS``."""
    return (streak.history & flap_mask()).bit_count()


def flapping(streak: ProblemStreak) -> bool:
    """The "k of the last n runs" rule (off when ``MONITORING_INCIDENT_FLAP_FAILURES`` is 0)."""
    needed = settings.MONITORING_INCIDENT_FLAP_FAILURES
    return bool(needed) and streak_failures(streak) >= needed


def flapping_note(streak: ProblemStreak) -> str:
    return (
        f"flapping: failed {streak_failures(streak)} of the last "
        f"{settings.MONITORING_INCIDENT_FLAP_RUNS} health runs"
    )


def problem_streak_count(
    *, kind: str, subject: str, failing: bool, now: datetime, message: str = ""
) -> ProblemStreak:
    """Count one more health run of (kind, subject): its streak and its recent history.

    A streak of the same sign grows by one run; one of the other sign is restarted (one run,
    from ``now``). Either way the run is shifted into ``history``. Every write is one UPDATE
    with the arithmetic in SQL (or an INSERT), so health runs that overlap both count and
    never lose each other's run.
    """
    key = {"kind": kind, "subject": subject}
    fields = {
        "last_seen_at": now,
        "history": (F("history") * 2 + int(failing)) % (flap_mask() + 1),
    }
    if failing:
        fields["message"] = message[:500]
    counted = ProblemStreak.objects.filter(**key, failing=failing).update(
        runs=F("runs") + 1, **fields
    )
    if not counted:
        counted = ProblemStreak.objects.filter(**key, failing=not failing).update(
            failing=failing, runs=1, first_seen_at=now, **fields
        )
    if not counted:
        try:
            with transaction.atomic():
                ProblemStreak.objects.create(
                    **key,
                    failing=failing,
                    runs=1,
                    history=int(failing),
                    first_seen_at=now,
                    last_seen_at=now,
                    since=now,
                    message=message[:500],
                )
        except IntegrityError:  # an overlapping run started it a moment ago
            ProblemStreak.objects.filter(**key, failing=failing).update(
                runs=F("runs") + 1, **fields
            )
    return ProblemStreak.objects.get(**key)


def _held_long_enough(streak: ProblemStreak, *, now: datetime, seconds: float) -> bool:
    return now - streak.first_seen_at >= timedelta(seconds=seconds)


def _flapping_summary(problem: Problem, streak: ProblemStreak) -> str:
    note = f" ({flapping_note(streak)})"
    return problem.message[: 500 - len(note)] + note


def incidents_sync(*, report: dict, now: datetime | None = None) -> IncidentChanges:
    """Open, refresh and resolve incidents from a ``system_health`` report, with hold-down."""
    now = now or timezone.now()
    changes = IncidentChanges()
    failing: set[tuple[str, str]] = set()
    for problem in health_problems(report):
        key = (problem.kind, problem.subject)
        if key in failing:
            continue
        failing.add(key)
        # Counted whether an incident is open or not: a failure restarts the resolve
        # hold-down of an open incident (a relapse: the same incident goes on, no new notice).
        streak = problem_streak_count(
            kind=problem.kind,
            subject=problem.subject,
            failing=True,
            now=now,
            message=problem.message,
        )
        incident, created = incident_touch(problem=problem, now=now), False
        if incident is None:
            in_a_row = streak.runs >= settings.MONITORING_INCIDENT_OPEN_AFTER_RUNS or (
                _held_long_enough(streak, now=now, seconds=settings.MONITORING_INCIDENT_OPEN_AFTER)
            )
            if not in_a_row and not flapping(streak):
                changes.pending.append(":".join(filter(None, key)))
                continue
            incident, created = incident_open_or_touch(
                problem=problem,
                now=now,
                # In a row: the first failure of the row; flapping: of the episode.
                opened_at=streak.first_seen_at if in_a_row else streak.since,
                flapping=None if in_a_row else streak,
            )
        if incident.details.get("flapping"):
            summary = _flapping_summary(problem, streak)
            Incident.objects.filter(pk=incident.pk).update(summary=summary)
            incident.summary = summary
        (changes.opened if created else changes.continuing).append(incident.pk)
    decided_kinds = {
        CHECK_KINDS[name]
        for name, component in report["components"].items()
        if name in CHECK_KINDS and component.get("conclusive", True)
    }
    # A conclusive check that does not report a (kind, subject) it remembers passed it: the
    # pass breaks a failing streak ("in a row" starts over) and goes into the history.
    open_incidents = {
        (incident.kind, incident.subject): incident
        for incident in Incident.objects.filter(resolved_at__isnull=True, kind__in=decided_kinds)
    }
    remembered = set(
        ProblemStreak.objects.filter(kind__in=decided_kinds).values_list("kind", "subject")
    )
    for kind, subject in sorted((remembered | set(open_incidents)) - failing):
        streak = problem_streak_count(kind=kind, subject=subject, failing=False, now=now)
        incident = open_incidents.get((kind, subject))
        if incident is None:
            # No failure left in the runs it remembers: nothing to remember.
            ProblemStreak.objects.filter(pk=streak.pk, history=0).delete()
            continue
        # A flapping incident also waits until none of the last runs failed, so that it
        # does not resolve and reopen while its check goes on flapping.
        if not _held_long_enough(
            streak, now=now, seconds=settings.MONITORING_INCIDENT_RESOLVE_AFTER
        ) or (incident.details.get("flapping") and streak_failures(streak)):
            changes.resolving.append(incident.pk)
            continue
        resolved = Incident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(
            resolved_at=now
        )
        ProblemStreak.objects.filter(kind=kind, subject=subject).delete()
        if resolved:
            changes.resolved.append(incident.pk)
    # Streaks no run has seen for a day are left over from checks that stopped running.
    stale = now - timedelta(hours=settings.INCIDENT_STALE_AFTER_HOURS)
    ProblemStreak.objects.filter(last_seen_at__lt=stale).delete()
    return changes


# --- telling the operators ------------------------------------------------------------------


def alert_recipients() -> list[str]:
    return [address for address in settings.OPS_ALERT_EMAILS if address]


def incident_message(incident: Incident, *, event: str) -> tuple[str, str]:
    """(subject, body) of the notice for ``event`` (opened / resolved)."""
    what = incident.get_kind_display() + (f" — {incident.subject}" if incident.subject else "")
    flap = incident.details.get("flapping")
    if event == OPENED:
        state = " (flapping)" if flap else ""
        subject = f"[CapitolScope] {incident.get_severity_display()}{state}: {what}"
        lines = [
            f"Incident opened: {what}",
            f"Severity: {incident.get_severity_display()}",
            f"Opened at: {incident.opened_at:%Y-%m-%d %H:%M:%S} UTC",
        ]
        if flap:
            lines.append(
                f"Flapping: failed {flap['failures']} of the last {flap['runs']} health runs "
                "(passes in between); it resolves once every one of the last "
                f"{settings.MONITORING_INCIDENT_FLAP_RUNS} runs passed"
            )
        lines += ["", incident.summary]
    else:
        subject = f"[CapitolScope] Resolved: {what}"
        lasted = (incident.resolved_at or timezone.now()) - incident.opened_at
        lines = [
            f"Incident resolved: {what}",
            f"Opened at: {incident.opened_at:%Y-%m-%d %H:%M:%S} UTC",
            f"Resolved at: {incident.resolved_at:%Y-%m-%d %H:%M:%S} UTC",
            f"Lasted: {int(lasted.total_seconds() // 60)} min",
            "",
            f"Last finding: {incident.summary}",
        ]
    lines += ["", f"CapitolScope: {settings.SITE_URL}/"]
    return subject, "\n".join(lines)


class EmailChannel:
    name = "email"

    def __init__(self, recipients: list[str]) -> None:
        self.recipients = recipients

    def send(self, *, subject: str, body: str, incident: Incident, event: str) -> None:
        try:
            send_mail(subject, body, settings.SERVER_EMAIL, self.recipients, fail_silently=False)
        except Exception as exc:
            raise AlertError(f"email to {', '.join(self.recipients)} failed: {exc}") from exc


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, *, subject: str, body: str, incident: Incident, event: str) -> None:
        import requests

        payload = {
            "text": slack.escape(f"{subject}\n{incident.summary}"),
            "event": event,
            "incident": {
                "id": incident.pk,
                "kind": incident.kind,
                "subject": incident.subject,
                "severity": incident.severity,
                "summary": incident.summary,
                "opened_at": incident.opened_at.isoformat(),
                "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            },
        }
        try:
            response = requests.post(self.url, json=payload, timeout=settings.OPS_ALERT_TIMEOUT)
        except requests.RequestException as exc:
            raise AlertError(f"webhook POST failed: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise AlertError(
                f"webhook answered HTTP {response.status_code}",
                permanent=400 <= response.status_code < 500 and response.status_code != 429,
            )


def alert_channels() -> list:
    channels: list = []
    recipients = alert_recipients()
    if recipients:
        channels.append(EmailChannel(recipients))
    if settings.OPS_ALERT_WEBHOOK_URL:
        channels.append(WebhookChannel(settings.OPS_ALERT_WEBHOOK_URL))
    return channels


def _notify_event(incident: Incident, *, event: str, channels: list, now: datetime) -> bool:
    """Send ``event`` on every channel that has not had it yet; True when all have."""
    notified = dict(incident.details.get("notified") or {})
    done = dict(notified.get(event) or {})
    subject, body = incident_message(incident, event=event)
    complete = True
    for channel in channels:
        if channel.name in done:
            continue
        try:
            channel.send(subject=subject, body=body, incident=incident, event=event)
            done[channel.name] = now.isoformat()
        except AlertError as exc:
            if exc.permanent:
                # Retrying cannot help (e.g. the webhook answers 404), and an opened notice
                # left pending would hold back the resolve notice on every other channel.
                done[channel.name] = f"failed for good at {now.isoformat()}: {exc}"
                logger.error(
                    "incident %s: %s notice by %s failed for good (not retried): %s",
                    incident.pk,
                    event,
                    channel.name,
                    exc,
                )
                continue
            complete = False
            logger.warning(
                "incident %s: %s notice by %s failed (retried at the next check): %s",
                incident.pk,
                event,
                channel.name,
                exc,
            )
    notified[event] = done
    incident.details = {**incident.details, "notified": notified}
    return complete


def incidents_notify(*, now: datetime | None = None) -> dict:
    """Send the opened/resolved notices not sent yet; returns counts of what was sent."""
    now = now or timezone.now()
    channels = alert_channels()
    sent = {OPENED: 0, RESOLVED: 0, "failed": 0}
    pending = Incident.objects.filter(opened_notified_at__isnull=True) | Incident.objects.filter(
        resolved_at__isnull=False, resolved_notified_at__isnull=True
    )
    for pk in pending.order_by("opened_at").values_list("pk", flat=True):
        with transaction.atomic():
            incident = Incident.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if incident is None:
                continue  # another check is notifying it right now
            fields = ["details"]
            for event, stamp in (
                (OPENED, "opened_notified_at"),
                (RESOLVED, "resolved_notified_at"),
            ):
                if getattr(incident, stamp) is not None:
                    continue
                if event == RESOLVED and incident.resolved_at is None:
                    continue
                if event == RESOLVED and incident.opened_notified_at is None:
                    break  # the open notice must go first
                if not channels:
                    logger.warning(
                        "incident %s %s: no OPS_ALERT_EMAILS, ADMINS or OPS_ALERT_WEBHOOK_URL "
                        "configured; nobody was told",
                        incident.pk,
                        event,
                    )
                    setattr(incident, stamp, now)
                    fields.append(stamp)
                    continue
                if _notify_event(incident, event=event, channels=channels, now=now):
                    setattr(incident, stamp, now)
                    fields.append(stamp)
                    sent[event] += 1
                else:
                    sent["failed"] += 1
                    break
            incident.save(update_fields=fields)
    return sent


def open_incidents():
    """Open incidents, newest first (the dashboard and the API use this)."""
    return Incident.objects.filter(resolved_at__isnull=True).order_by("-opened_at")


def health_check_record(*, report: dict, now: datetime | None = None) -> dict:
    """What the health task does after checking: sync incidents, then tell the operators."""
    changes = incidents_sync(report=report, now=now)
    sent = incidents_notify(now=now)
    return {**changes.as_dict(), "notices": sent, "healthy": report["status"] == OK}
