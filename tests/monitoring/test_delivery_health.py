"""The ``deliveries`` health check: overdue deliveries and deliveries failing for good page the
operators through the incident machinery, like any other check.

Real rows (a subscription made by ``alerts.services.subscription_create``, deliveries as the
alerts services leave them), a real SMTP server and webhook receiver for the operator notices.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import Delivery, Subscription
from alerts.services import deliveries_overdue, subscription_create
from monitoring.health import (
    CHECK_NAMES,
    DEGRADED,
    OK,
    UNHEALTHY,
    check_deliveries,
    delivery_error_summary,
    system_health,
)
from monitoring.models import Incident
from monitoring.tasks import system_health_check
from tests.monitoring._alerting import posts

pytestmark = pytest.mark.django_db

SMTP_LOGIN_REFUSED = (
    "attempt {n} failed (will retry): the mail server refused our login "
    "(EMAIL_HOST_USER / EMAIL_HOST_PASSWORD): 535 5.7.8 Authentication credentials invalid"
)
RECIPIENT_REFUSED = (
    "permanent failure: the mail server refused the recipient: 550 5.1.1 "
    "<carol.private@example.org>: Recipient address rejected"
)
WEBHOOK_500 = (
    "gave up after 9 attempts; last error: the webhook at hooks.secret-customer.example "
    "answered 500: Internal Server Error"
)


@pytest.fixture(autouse=True)
def limits(settings):
    settings.HEALTH_DELIVERY_OVERDUE_AFTER = 900
    settings.HEALTH_DELIVERY_FAILURE_RATE_MAX = 50.0
    settings.HEALTH_DELIVERY_FAILURE_MIN = 5


@pytest.fixture
def subscription(django_user_model):
    owner = django_user_model.objects.create_user("dana", "dana@example.com", "pw-dana-123456")
    return subscription_create(
        owner=owner,
        name="everything",
        channel=Subscription.Channel.EMAIL,
        target="dana.private@example.com",
    )


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def delivery(subscription, *, status: str, created: float, due: float | None = None, **fields):
    """A delivery created ``created`` seconds ago, due ``due`` seconds ago (default: created),
    as the matcher inserts them (``next_attempt_at`` = creation) and the sender leaves them."""
    row = Delivery.objects.create(
        subscription=subscription, channel=subscription.channel, status=status, **fields
    )
    # created_at is auto_now_add: set the past afterwards, as an UPDATE.
    Delivery.objects.filter(pk=row.pk).update(
        created_at=ago(created), next_attempt_at=ago(created if due is None else due)
    )
    return row


# --- the check ------------------------------------------------------------------------------


def test_it_is_registered_with_the_other_checks():
    assert "deliveries" in CHECK_NAMES
    assert "deliveries" in system_health(only=["deliveries"])["components"]


def test_no_deliveries_at_all_is_ok_with_a_value():
    result = check_deliveries()
    assert result.status == OK, result.message
    assert result.problems == ()
    assert result.value == {
        "overdue": 0,
        "oldest_overdue_seconds": None,
        "failed_last_hour": 0,
        "sent_last_hour": 0,
        "failed_percent": 0.0,
    }
    assert "no delivery overdue by more than 900 s" in result.message


def test_deliveries_going_out_normally_are_ok(subscription):
    for _ in range(20):
        delivery(subscription, status="sent", created=120, sent_at=ago(100))
    delivery(subscription, status="pending", created=30)  # due now, not overdue
    delivery(subscription, status="pending", created=3000, due=-600)  # backing off: due later
    delivery(subscription, status="sending", created=2000, leased_until=ago(-60))  # in hand
    result = check_deliveries()
    assert result.status == OK, result.message
    assert result.value["sent_last_hour"] == 20 and result.value["overdue"] == 0


def test_overdue_deliveries_are_unhealthy_with_count_oldest_age_and_the_common_error(
    subscription,
):
    for n in range(3):
        delivery(
            subscription,
            status="pending",
            created=7200,
            due=1800 + n * 600,
            attempts=n + 1,
            last_error=SMTP_LOGIN_REFUSED.format(n=n + 1),
        )
    # A dead worker's delivery: sending, lease long expired.
    delivery(subscription, status="sending", created=2400, leased_until=ago(2000))
    delivery(subscription, status="pending", created=60)  # not overdue

    result = check_deliveries()

    assert result.status == UNHEALTHY
    assert result.value["overdue"] == 4
    assert result.value["oldest_overdue_seconds"] == pytest.approx(3000, abs=60)
    [problem] = result.problems
    assert (problem.kind, problem.subject, problem.status) == ("deliveries", "overdue", UNHEALTHY)
    assert "4 alert deliveries overdue by more than 900 s" in problem.message
    assert "refused our login (EMAIL_HOST_USER / EMAIL_HOST_PASSWORD)" in problem.message
    assert "(3 of the 3 latest)" in problem.message
    assert "attempt 1 failed" not in problem.message  # grouped without the retry prefix
    # The sweep sees the same overdue rows the check reports (its grace is shorter).
    assert len(deliveries_overdue()) == 4


def test_a_delivery_without_a_due_time_is_judged_by_its_creation(subscription):
    row = Delivery.objects.create(
        subscription=subscription, channel="email", status="pending", next_attempt_at=None
    )
    Delivery.objects.filter(pk=row.pk).update(created_at=ago(1000))
    assert check_deliveries().value["overdue"] == 1


def test_a_few_failures_below_the_minimum_are_ok_even_at_a_high_rate(subscription):
    for _ in range(4):
        delivery(subscription, status="failed", created=600, last_error=RECIPIENT_REFUSED)
    delivery(subscription, status="sent", created=600, sent_at=ago(590))
    result = check_deliveries()
    assert result.status == OK, result.message
    assert result.value["failed_last_hour"] == 4 and result.value["failed_percent"] == 80.0
    assert "too few to judge (minimum 5 failed)" in result.message


def test_a_burst_of_failures_is_degraded_naming_the_error_without_any_target(subscription):
    for _ in range(6):
        delivery(subscription, status="failed", created=900, last_error=WEBHOOK_500)
    for _ in range(2):
        delivery(subscription, status="failed", created=900, last_error=RECIPIENT_REFUSED)
    for _ in range(4):
        delivery(subscription, status="sent", created=900, sent_at=ago(890))

    result = check_deliveries()

    assert result.status == DEGRADED
    [problem] = result.problems
    assert (problem.kind, problem.subject, problem.status) == ("deliveries", "failures", DEGRADED)
    assert "8 of 12 finished deliveries failed in the last hour (66.7 %)" in problem.message
    assert "at or over the 50 % limit" in problem.message
    assert '(6 of the 8 latest): "the webhook at <host> answered 500' in problem.message
    for secret in ("secret-customer", "carol.private", "dana.private", "@example"):
        assert secret not in result.message


def test_failures_after_long_retries_count_by_their_last_attempt(subscription):
    # Created three hours ago, retried with backoff, failed for good 10 minutes ago.
    for _ in range(5):
        delivery(subscription, status="failed", created=3 * 3600, due=600, last_error=WEBHOOK_500)
    # Failed two hours ago: not this hour's news.
    for _ in range(5):
        delivery(subscription, status="failed", created=3 * 3600, due=7200, last_error=WEBHOOK_500)
    result = check_deliveries()
    assert result.status == DEGRADED
    assert result.value["failed_last_hour"] == 5


def test_deliveries_cancelled_by_pausing_a_subscription_are_not_failures(subscription):
    """A user who pauses a subscription with messages still queued is not an operator problem:
    those deliveries end cancelled, and the check does not count them."""
    from alerts.services import delivery_send, subscription_set_active

    queued = [delivery(subscription, status="pending", created=60) for _ in range(8)]
    delivery(subscription, status="sent", created=600, sent_at=ago(590))
    subscription_set_active(subscription=subscription, active=False)
    assert {delivery_send(delivery_id=row.pk).status for row in queued} == {"cancelled"}

    result = check_deliveries()

    assert result.status == OK, result.message
    assert result.value["failed_last_hour"] == 0 and result.value["overdue"] == 0


def test_the_failure_rate_has_to_reach_the_limit(subscription):
    for _ in range(5):
        delivery(subscription, status="failed", created=600, last_error=WEBHOOK_500)
    for _ in range(6):
        delivery(subscription, status="sent", created=600, sent_at=ago(500))
    result = check_deliveries()
    assert result.status == OK, result.message
    assert result.value["failed_percent"] == 45.5


def test_error_summaries_drop_addresses_urls_and_hosts():
    assert delivery_error_summary(RECIPIENT_REFUSED) == (
        "the mail server refused the recipient: 550 5.1.1 <<address>>: Recipient address rejected"
    )
    assert delivery_error_summary(
        "the webhook host a.example resolves to a private or local address (10.0.0.7)"
    ) == ("the webhook host <host> resolves to a private or local address (<ip>)")
    assert "<url>" in delivery_error_summary("unexpected error: GET https://x.example/a/b failed")
    assert len(delivery_error_summary("x" * 1000)) == 160


# --- incidents, through the health task -----------------------------------------------------


@pytest.fixture
def without_hold_down(settings):
    """Open on the first failing run and resolve on the first passing one, as in
    test_incidents.py (the hold-down has its own tests)."""
    settings.MONITORING_INCIDENT_OPEN_AFTER_RUNS = 1
    settings.MONITORING_INCIDENT_RESOLVE_AFTER = 0
    settings.HEALTH_PROBE_TIMEOUT = 0.5  # no worker runs here: the workers check waits this


@pytest.mark.usefixtures("without_hold_down")
def test_stuck_deliveries_open_an_incident_that_resolves_once_they_go_out(subscription, smtp, hook):
    stuck = [
        delivery(
            subscription,
            status="pending",
            created=3600,
            attempts=3,
            last_error=SMTP_LOGIN_REFUSED.format(n=3),
        )
        for _ in range(2)
    ]

    first = system_health_check()

    assert first["components"]["deliveries"]["status"] == UNHEALTHY
    incident = Incident.objects.get(kind="deliveries")
    assert incident.subject == "overdue" and incident.severity == "unhealthy"
    assert incident.pk in first["incidents"]["opened"]
    subjects = [s.strip() for s in smtp.subjects() if "Alert deliveries" in s]
    assert subjects == ["[CapitolScope] Unhealthy: Alert deliveries — overdue"]
    notice = next(p for p in posts(hook) if p["incident"]["kind"] == "deliveries")
    assert "2 alert deliveries overdue" in notice["text"]
    assert "refused our login" in notice["text"]
    assert "dana.private" not in notice["text"]

    again = system_health_check()  # still stuck: the same incident, nobody told again
    assert incident.pk in again["incidents"]["continuing"]
    assert len([s.strip() for s in smtp.subjects() if "Alert deliveries" in s]) == 1

    Delivery.objects.filter(pk__in=[row.pk for row in stuck]).update(
        status="sent", sent_at=timezone.now(), last_error=""
    )
    fixed = system_health_check()

    assert fixed["components"]["deliveries"]["status"] == OK
    assert incident.pk in fixed["incidents"]["resolved"]
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.resolved_notified_at is not None
    assert [s.strip() for s in smtp.subjects() if "Alert deliveries" in s][-1] == (
        "[CapitolScope] Resolved: Alert deliveries — overdue"
    )


@pytest.mark.usefixtures("without_hold_down")
def test_a_failure_burst_opens_a_degraded_incident(subscription, smtp, hook):
    for _ in range(5):
        delivery(subscription, status="failed", created=300, last_error=WEBHOOK_500)

    result = system_health_check()

    assert result["components"]["deliveries"]["status"] == DEGRADED
    incident = Incident.objects.get(kind="deliveries")
    assert (incident.subject, incident.severity) == ("failures", "degraded")
    subjects = [subject.strip() for subject in smtp.subjects()]
    assert "[CapitolScope] Degraded: Alert deliveries — failures" in subjects
