"""Incidents: one per failing (kind, subject), told to the operators once on open and once on
resolve — never on every check.

``incidents_sync(report=…)`` turns a ``system_health`` report into incident rows: a problem
opens an incident (or refreshes ``last_seen_at`` of the open one); a conclusive check that no
longer reports a problem resolves it. ``incidents_notify()`` then sends what is still unsent:
an email to ``OPS_ALERT_EMAILS`` (default: the ``ADMINS`` addresses) and, if set, a JSON POST
to ``OPS_ALERT_WEBHOOK_URL`` (Slack-compatible ``text``). Each channel's success is recorded
on the incident (``details["notified"]``), so a channel that failed is retried at the next
check while one that succeeded is never repeated; ``opened_notified_at`` /
``resolved_notified_at`` are set once every channel has it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.health import CHECK_KINDS, OK, Problem, health_problems
from monitoring.models import Incident

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

    def as_dict(self) -> dict:
        return {
            "opened": self.opened,
            "continuing": self.continuing,
            "resolved": self.resolved,
        }


def _severity(problem: Problem) -> str:
    return (
        Incident.Severity.UNHEALTHY if problem.status == "unhealthy" else Incident.Severity.DEGRADED
    )


def incident_open_or_touch(*, problem: Problem, now: datetime) -> tuple[Incident, bool]:
    """The open incident of the problem's (kind, subject), created if there is none."""
    defaults = {
        "severity": _severity(problem),
        "summary": problem.message[:500],
        "last_seen_at": now,
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
                opened_at=now,
                details={"first_message": problem.message},
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


def incidents_sync(*, report: dict, now: datetime | None = None) -> IncidentChanges:
    """Open, refresh and resolve incidents from a ``system_health`` report."""
    now = now or timezone.now()
    changes = IncidentChanges()
    failing: set[tuple[str, str]] = set()
    for problem in health_problems(report):
        incident, created = incident_open_or_touch(problem=problem, now=now)
        failing.add((problem.kind, problem.subject))
        (changes.opened if created else changes.continuing).append(incident.pk)
    decided_kinds = {
        CHECK_KINDS[name]
        for name, component in report["components"].items()
        if name in CHECK_KINDS and component.get("conclusive", True)
    }
    for incident in Incident.objects.filter(resolved_at__isnull=True, kind__in=decided_kinds):
        if (incident.kind, incident.subject) in failing:
            continue
        resolved = Incident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(
            resolved_at=now
        )
        if resolved:
            changes.resolved.append(incident.pk)
    return changes


# --- telling the operators ------------------------------------------------------------------


def alert_recipients() -> list[str]:
    return [address for address in settings.OPS_ALERT_EMAILS if address]


def incident_message(incident: Incident, *, event: str) -> tuple[str, str]:
    """(subject, body) of the notice for ``event`` (opened / resolved)."""
    what = incident.get_kind_display() + (f" — {incident.subject}" if incident.subject else "")
    if event == OPENED:
        subject = f"[CapitolScope] {incident.get_severity_display()}: {what}"
        lines = [
            f"Incident opened: {what}",
            f"Severity: {incident.get_severity_display()}",
            f"Opened at: {incident.opened_at:%Y-%m-%d %H:%M:%S} UTC",
            "",
            incident.summary,
        ]
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
            "text": f"{subject}\n{incident.summary}",
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
