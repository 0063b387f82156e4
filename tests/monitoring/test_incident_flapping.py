"""Flapping: a check that fails every other run opens one incident ("k of the last n runs"),
which stays open without new notices while the check goes on flapping.

Real health reports (the memory check, failing or passing by its threshold, and queue
reports), a real SMTP server and a real webhook receiver, as in test_incident_hold_down.py;
each run is given its time.
"""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring.incidents import health_check_record
from monitoring.models import Incident, ProblemStreak
from tests.monitoring._alerting import backlog_report, memory_report, posts

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
EVERY = dt.timedelta(minutes=5)  # the default system-health-check schedule
OPENED = "[CapitolScope] Degraded (flapping): Memory use"
RESOLVED = "[CapitolScope] Resolved: Memory use"


@pytest.fixture(autouse=True)
def hold_down(settings):
    """The defaults: 2 runs in a row or 10 minutes to open, 4 minutes passing to resolve,
    and 3 failures among the last 6 runs for a flapping check."""
    settings.MONITORING_INCIDENT_OPEN_AFTER_RUNS = 2
    settings.MONITORING_INCIDENT_OPEN_AFTER = 600
    settings.MONITORING_INCIDENT_RESOLVE_AFTER = 240
    settings.MONITORING_INCIDENT_FLAP_FAILURES = 3
    settings.MONITORING_INCIDENT_FLAP_RUNS = 6


def run(settings, n: int, *, failing: bool) -> dict:
    return health_check_record(report=memory_report(settings, failing=failing), now=T0 + n * EVERY)


def test_a_check_failing_every_other_run_opens_one_flapping_incident_at_its_third_failure(
    settings, smtp, hook
):
    for n in range(4):  # F P F P: never twice in a row, 2 failures so far
        result = run(settings, n, failing=n % 2 == 0)
        assert result["opened"] == []
    assert Incident.objects.count() == 0 and smtp.messages == []

    third = run(settings, 4, failing=True)
    incident = Incident.objects.get()
    assert third["opened"] == [incident.pk]
    assert incident.details["flapping"] == {"failures": 3, "runs": 6}
    assert incident.summary.endswith("(flapping: failed 3 of the last 6 health runs)")
    # Open since the first of those failures (run 0), not the latest (run 4).
    assert incident.opened_at == T0
    assert smtp.subjects() == [OPENED]
    body = smtp.messages[0][1].get_content()
    assert "Flapping: failed 3 of the last 6 health runs" in body
    assert f"Opened at: {T0:%Y-%m-%d %H:%M:%S} UTC" in body
    assert "over the 0 % limit" in body  # the check's own finding is still there
    [post] = posts(hook)
    assert post["event"] == "opened" and "flapping: failed 3 of the last 6" in post["text"]


def test_an_open_flapping_incident_neither_resolves_nor_reopens_while_the_check_flaps(
    settings, smtp, hook
):
    for n in range(5):
        run(settings, n, failing=n % 2 == 0)
    incident = Incident.objects.get()

    for n in range(5, 13):  # P F P F …: a pass never lasts the 4-minute resolve hold-down
        result = run(settings, n, failing=n % 2 == 0)
        key = "continuing" if n % 2 == 0 else "resolving"
        assert result[key] == [incident.pk] and result["opened"] == result["resolved"] == []
    incident.refresh_from_db()
    assert incident.is_open and incident.summary.endswith("failed 3 of the last 6 health runs)")
    assert Incident.objects.count() == 1
    assert smtp.subjects() == [OPENED] and len(posts(hook)) == 1

    # Passing now: 4 minutes would do for an outage, but a flapping incident also waits until
    # none of the last 6 runs failed (run 12 was the last failure).
    for n in range(13, 18):
        assert run(settings, n, failing=False)["resolving"] == [incident.pk]
    done = run(settings, 18, failing=False)
    assert done["resolved"] == [incident.pk]
    assert smtp.subjects() == [OPENED, RESOLVED]
    assert [post["event"] for post in posts(hook)] == ["opened", "resolved"]
    assert not ProblemStreak.objects.exists()

    # Its history went with it: one new failure is a blip again, not a fourth of six.
    blip = run(settings, 19, failing=True)
    assert blip["pending"] == ["memory"] and Incident.objects.filter(resolved_at=None).count() == 0


def test_an_outage_that_starts_flapping_keeps_its_incident_and_is_not_called_flapping(
    settings, smtp
):
    run(settings, 0, failing=True)
    run(settings, 1, failing=True)  # two in a row: an ordinary incident
    incident = Incident.objects.get()
    assert "flapping" not in incident.details
    for n in range(2, 10):
        run(settings, n, failing=n % 2 == 0)
    incident.refresh_from_db()
    assert incident.is_open and "flapping" not in incident.summary
    assert smtp.subjects() == ["[CapitolScope] Degraded: Memory use"]


def test_a_single_blip_pages_nobody_and_is_forgotten_after_the_window(settings, smtp, hook):
    for n in range(3):
        run(settings, n, failing=False)
    assert run(settings, 3, failing=True)["pending"] == ["memory"]
    for n in range(4, 9):  # 5 passes: the failure is still among the last 6 runs
        run(settings, n, failing=False)
        assert ProblemStreak.objects.get().history != 0
    run(settings, 9, failing=False)
    assert not ProblemStreak.objects.exists()
    assert Incident.objects.count() == 0 and smtp.messages == [] and posts(hook) == []


def test_a_subject_no_longer_reported_passes_and_inconclusive_runs_do_not_count():
    def sync(n, subjects, *, conclusive=True):
        report = backlog_report(subjects, conclusive=conclusive)
        return health_check_record(report=report, now=T0 + n * EVERY)

    # "default" comes and goes (absent from the report: a pass); "maintenance" fails once.
    sync(0, ["default", "maintenance"])
    sync(1, [])
    sync(2, ["default"])
    # The broker did not answer six times: no run of the queue check, so no pass either.
    for n in range(3, 9):
        sync(n, [], conclusive=False)
    sync(9, [])
    result = sync(10, ["default"])
    [incident] = Incident.objects.filter(pk__in=result["opened"])
    assert incident.subject == "default"
    assert incident.details["flapping"] == {"failures": 3, "runs": 6}
    assert "failed 3 of the last 6 health runs" in incident.summary
    assert not Incident.objects.filter(subject="maintenance").exists()


def test_with_the_flap_rule_off_an_alternating_check_opens_nothing(settings, smtp):
    settings.MONITORING_INCIDENT_FLAP_FAILURES = 0
    for n in range(12):
        assert run(settings, n, failing=n % 2 == 0)["opened"] == []
    assert Incident.objects.count() == 0 and smtp.messages == []


def test_a_shorter_window_counts_only_its_runs(settings):
    settings.MONITORING_INCIDENT_FLAP_FAILURES = 2
    settings.MONITORING_INCIDENT_FLAP_RUNS = 3
    run(settings, 0, failing=True)
    run(settings, 1, failing=False)
    run(settings, 2, failing=False)
    assert run(settings, 3, failing=True)["opened"] == []  # run 0 is out of the window
    run(settings, 4, failing=False)
    assert len(run(settings, 5, failing=True)["opened"]) == 1  # runs 3 and 5 of 3, 4, 5
    assert Incident.objects.get().summary.endswith("(flapping: failed 2 of the last 3 health runs)")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MONITORING_INCIDENT_FLAP_FAILURES": "7", "MONITORING_INCIDENT_FLAP_RUNS": "6"},
            "MONITORING_INCIDENT_FLAP_FAILURES=7 must be at most MONITORING_INCIDENT_FLAP_RUNS=6",
        ),
        (
            {"MONITORING_INCIDENT_FLAP_RUNS": "2"},  # the default 3 failures cannot happen
            "MONITORING_INCIDENT_FLAP_FAILURES=3 must be at most MONITORING_INCIDENT_FLAP_RUNS=2",
        ),
        ({"MONITORING_INCIDENT_FLAP_RUNS": "61"}, "MONITORING_INCIDENT_FLAP_RUNS=61"),
        ({"MONITORING_INCIDENT_FLAP_RUNS": "0"}, "MONITORING_INCIDENT_FLAP_RUNS=0"),
    ],
)
def test_flap_settings_that_cannot_work_refuse_to_start_naming_the_variables(
    tmp_path, env, message
):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/check.sqlite3",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
