"""Incidents: one per failing check, operators told once on open and once on resolve, by a
real SMTP server (aiosmtpd) and a real webhook receiver (tests/httpserver.py)."""

import pytest

from capitolscope.broker import free_port
from monitoring.incidents import health_check_record, incidents_notify, incidents_sync
from monitoring.models import Incident
from tests.httpserver import Reply
from tests.monitoring._alerting import backlog_report, memory_report, posts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_hold_down")]


@pytest.fixture
def without_hold_down(settings):
    """Open on the first failing run and resolve on the first passing one (the hold-down has
    its own tests in test_incident_hold_down.py)."""
    settings.MONITORING_INCIDENT_OPEN_AFTER_RUNS = 1
    settings.MONITORING_INCIDENT_RESOLVE_AFTER = 0


def test_an_incident_is_told_once_on_open_and_once_on_resolve(settings, smtp, hook):
    first = health_check_record(report=memory_report(settings, failing=True))
    incident = Incident.objects.get()
    assert first["opened"] == [incident.pk]
    assert (incident.kind, incident.subject, incident.is_open) == ("memory", "", True)
    assert smtp.subjects() == ["[CapitolScope] Degraded: Memory use"]
    rcpt, message = smtp.messages[0]
    assert sorted(rcpt) == ["oncall@example.com", "ops@example.com"]
    assert "over the 0 % limit" in message.get_content()
    assert [post["event"] for post in posts(hook)] == ["opened"]
    assert posts(hook)[0]["text"].startswith("[CapitolScope] Degraded: Memory use")

    opened_seen = incident.last_seen_at
    for _ in range(3):  # the problem goes on: nothing more is sent
        again = health_check_record(report=memory_report(settings, failing=True))
        assert again["continuing"] == [incident.pk]
    incident.refresh_from_db()
    assert incident.last_seen_at > opened_seen
    assert len(smtp.messages) == 1 and len(posts(hook)) == 1
    assert Incident.objects.count() == 1

    resolved = health_check_record(report=memory_report(settings, failing=False))
    assert resolved["resolved"] == [incident.pk]
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.resolved_notified_at is not None
    assert smtp.subjects()[-1] == "[CapitolScope] Resolved: Memory use"
    assert [post["event"] for post in posts(hook)] == ["opened", "resolved"]

    health_check_record(report=memory_report(settings, failing=False))
    assert len(smtp.messages) == 2 and len(posts(hook)) == 2

    # A new failure later is a new incident, told again.
    health_check_record(report=memory_report(settings, failing=True))
    assert Incident.objects.count() == 2
    assert len(smtp.messages) == 3


def test_a_failed_channel_is_retried_at_the_next_check_and_the_other_is_not_repeated(
    settings, smtp, hook
):
    hook.fail("POST", "/hook", Reply(503, "busy"), times=1)
    health_check_record(report=memory_report(settings, failing=True))
    incident = Incident.objects.get()
    assert incident.opened_notified_at is None  # the webhook has not had it yet
    assert len(smtp.messages) == 1 and len(hook.requests_to("/hook")) == 1

    health_check_record(report=memory_report(settings, failing=True))
    incident.refresh_from_db()
    assert incident.opened_notified_at is not None
    assert len(smtp.messages) == 1  # email is not sent twice
    assert [post["event"] for post in posts(hook)] == ["opened", "opened"]  # 503, then 200

    health_check_record(report=memory_report(settings, failing=True))
    assert len(hook.requests_to("/hook")) == 2


def test_a_webhook_that_refuses_for_good_is_not_retried_and_does_not_hold_back_the_email(
    settings, smtp, hook, caplog
):
    hook.fail("POST", "/hook", Reply(404, "no such hook"), times=100)
    health_check_record(report=memory_report(settings, failing=True))
    health_check_record(report=memory_report(settings, failing=True))
    assert len(hook.requests_to("/hook")) == 1  # a 404 will not get better: not retried
    assert "opened notice by webhook failed for good" in caplog.text
    health_check_record(report=memory_report(settings, failing=False))
    assert smtp.subjects() == [
        "[CapitolScope] Degraded: Memory use",
        "[CapitolScope] Resolved: Memory use",
    ]
    assert Incident.objects.get().resolved_notified_at is not None


def test_an_unreachable_smtp_server_is_logged_and_retried(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens
    settings.EMAIL_TIMEOUT = 2
    settings.OPS_ALERT_EMAILS = ["ops@example.com"]
    settings.OPS_ALERT_WEBHOOK_URL = ""
    result = health_check_record(report=memory_report(settings, failing=True))
    assert result["notices"] == {"opened": 0, "resolved": 0, "failed": 1}
    assert "opened notice by email failed (retried at the next check)" in caplog.text
    assert Incident.objects.get().opened_notified_at is None


def test_each_failing_subject_is_its_own_incident_and_only_decided_kinds_resolve():
    Incident.objects.create(kind="disk", summary="not decided by this report")
    incidents_sync(report=backlog_report(["default", "maintenance"]))
    assert sorted(
        Incident.objects.filter(kind="queue_backlog").values_list("subject", flat=True)
    ) == [
        "default",
        "maintenance",
    ]
    changes = incidents_sync(report=backlog_report([], conclusive=False))  # broker did not answer
    assert changes.resolved == []
    changes = incidents_sync(report=backlog_report(["maintenance"]))
    assert len(changes.resolved) == 1
    assert Incident.objects.get(kind="queue_backlog", subject="default").resolved_at is not None
    assert Incident.objects.get(kind="disk").resolved_at is None


def test_with_no_channel_configured_it_says_so_and_does_not_retry_forever(settings, caplog):
    settings.OPS_ALERT_EMAILS = []
    settings.OPS_ALERT_WEBHOOK_URL = ""
    health_check_record(report=memory_report(settings, failing=True))
    assert "nobody was told" in caplog.text
    assert Incident.objects.get().opened_notified_at is not None
    assert incidents_notify() == {"opened": 0, "resolved": 0, "failed": 0}


def test_the_webhook_text_escapes_the_summary_for_slack(smtp, hook):
    """A summary can carry text from users or remote servers (an error excerpt): Slack must
    not read it as a mention or a link."""
    Incident.objects.create(
        kind="deliveries",
        subject="failures",
        severity="degraded",
        summary="most common error: HTTP 400 <!channel> click <https://evil.example|here> & co",
    )
    incidents_notify()
    [post] = posts(hook)
    assert "<!channel>" not in post["text"] and "<https://evil.example" not in post["text"]
    assert "&lt;!channel&gt;" in post["text"] and "&amp; co" in post["text"]
    assert post["incident"]["summary"].endswith("<https://evil.example|here> & co")  # raw field
