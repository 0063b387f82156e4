"""Incident hold-down: a check that flaps does not page the operators on every health run.

Real health reports (the memory check, failing or passing by its threshold), a real SMTP
server and a real webhook receiver, as in test_incidents.py; each run is given its time.
"""

import datetime as dt

import pytest

from monitoring.incidents import health_check_record
from monitoring.models import Incident, ProblemStreak
from tests.monitoring._alerting import backlog_report, memory_report, posts

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
EVERY = dt.timedelta(minutes=5)  # the default system-health-check schedule


@pytest.fixture(autouse=True)
def hold_down(settings):
    settings.MONITORING_INCIDENT_OPEN_AFTER_RUNS = 2
    settings.MONITORING_INCIDENT_OPEN_AFTER = 600
    settings.MONITORING_INCIDENT_RESOLVE_AFTER = 240


def run(settings, *, failing: bool, at: dt.datetime) -> dict:
    return health_check_record(report=memory_report(settings, failing=failing), now=at)


def test_a_check_that_fails_one_run_in_three_opens_nothing_and_tells_nobody(settings, smtp, hook):
    # Never twice in a row, and at most 2 of any 6 runs (a check failing more often than
    # that flaps: test_incident_flapping.py).
    for n in range(12):
        result = run(settings, failing=n % 3 == 0, at=T0 + n * EVERY)
        assert result["opened"] == [] and result["resolved"] == []
    assert Incident.objects.count() == 0
    assert smtp.messages == [] and posts(hook) == []


def test_a_real_outage_opens_one_incident_at_the_second_failing_run_dated_from_the_first(
    settings, smtp, hook
):
    first = run(settings, failing=True, at=T0)
    assert first["pending"] == ["memory"] and first["opened"] == []
    assert Incident.objects.count() == 0 and smtp.messages == []

    second = run(settings, failing=True, at=T0 + EVERY)
    incident = Incident.objects.get()
    assert second["opened"] == [incident.pk]
    assert incident.opened_at == T0
    assert smtp.subjects() == ["[CapitolScope] Degraded: Memory use"]
    assert [post["event"] for post in posts(hook)] == ["opened"]
    streak = ProblemStreak.objects.get()  # kept while open: its runs decide the resolve
    assert (streak.failing, streak.runs) == (True, 2)


def test_a_problem_failing_long_enough_opens_even_before_the_run_count(settings):
    settings.MONITORING_INCIDENT_OPEN_AFTER_RUNS = 10
    run(settings, failing=True, at=T0)
    run(settings, failing=True, at=T0 + dt.timedelta(seconds=599))
    assert Incident.objects.count() == 0
    third = run(settings, failing=True, at=T0 + dt.timedelta(seconds=600))
    assert third["opened"] == [Incident.objects.get().pk]


def test_an_incident_resolves_only_after_passing_for_the_hold_down_and_a_relapse_keeps_it(
    settings, smtp, hook
):
    run(settings, failing=True, at=T0)
    run(settings, failing=True, at=T0 + EVERY)
    incident = Incident.objects.get()

    passing_from = T0 + 2 * EVERY
    held = run(settings, failing=False, at=passing_from)
    assert held["resolving"] == [incident.pk] and held["resolved"] == []
    relapse = run(settings, failing=True, at=passing_from + dt.timedelta(seconds=60))
    assert relapse["continuing"] == [incident.pk] and relapse["opened"] == []

    passing_from += dt.timedelta(seconds=120)
    run(settings, failing=False, at=passing_from)
    almost = run(settings, failing=False, at=passing_from + dt.timedelta(seconds=239))
    assert almost["resolving"] == [incident.pk]
    incident.refresh_from_db()
    assert incident.is_open
    assert len(smtp.messages) == 1 and len(posts(hook)) == 1  # only the opened notice

    done = run(settings, failing=False, at=passing_from + dt.timedelta(seconds=240))
    assert done["resolved"] == [incident.pk]
    incident.refresh_from_db()
    assert incident.resolved_at == passing_from + dt.timedelta(seconds=240)
    assert smtp.subjects() == [
        "[CapitolScope] Degraded: Memory use",
        "[CapitolScope] Resolved: Memory use",
    ]
    assert [post["event"] for post in posts(hook)] == ["opened", "resolved"]
    assert Incident.objects.count() == 1 and not ProblemStreak.objects.exists()


def test_an_inconclusive_check_neither_breaks_nor_extends_a_failing_streak():
    health_check_record(report=backlog_report(["default"]), now=T0)
    health_check_record(report=backlog_report([], conclusive=False), now=T0 + EVERY)
    result = health_check_record(report=backlog_report(["default"]), now=T0 + 2 * EVERY)
    assert [i.subject for i in Incident.objects.filter(pk__in=result["opened"])] == ["default"]
