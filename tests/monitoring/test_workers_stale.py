"""/api/workers/ and worker names that went stale (a worker stopped for good, or renamed by a
redeploy): such a name costs the ping timeout once, not on every call, and is still reported
missing until it ages out of the workers-seen record.

Real celery workers (tests/processes.py) answer the pings; the stale names are written into
the record as the health check would have written them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from monitoring.health import system_health, workers_seen, workers_seen_record, workers_seen_window
from monitoring.models import Heartbeat
from monitoring.queues import WorkerPing
from monitoring.tokens import api_token_create

GONE = "gone@redeployed"
TIMEOUT = 2.0


@pytest.fixture
def api(staff_user, settings):
    settings.API_CONTROL_TIMEOUT = TIMEOUT
    token = api_token_create(user=staff_user, name="tests").secret
    return Client(headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def pings(monkeypatch) -> list[list[str] | None]:
    """Who each ping of the API asked (None: a broadcast), recorded around the real ping."""
    from monitoring import queues

    asked: list[list[str] | None] = []
    real = queues.workers_ping

    def recording(**kwargs):
        asked.append(kwargs.get("destination"))
        return real(**kwargs)

    monkeypatch.setattr(queues, "workers_ping", recording)
    return asked


def get_workers(api, path: str = "/api/workers/") -> dict:
    response = api.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def hostnames(body: dict) -> list[str]:
    return [row["hostname"] for row in body["workers"]]


@pytest.mark.processes
def test_a_worker_gone_for_good_costs_the_timeout_once_and_is_still_reported_missing(
    api, worker, pings
):
    workers_seen_record(ping=WorkerPing(workers={worker.hostname: ["default"], GONE: ["default"]}))

    # The first call finds out: the known ping waits for GONE, then the broadcast.
    first = get_workers(api)
    assert (first["source"], first["missing"], first["silent"]) == ("broadcast", [GONE], [])
    assert hostnames(first) == [worker.hostname]
    assert [sorted(asked) if asked else asked for asked in pings] == [
        sorted([worker.hostname, GONE]),
        None,
    ]

    # From then on GONE is not asked (so not waited for): only the running worker is, and it
    # answers at once. GONE is still named until it ages out of the record.
    for _ in range(2):
        pings.clear()
        again = get_workers(api)
        assert (again["source"], again["missing"], again["silent"]) == ("known", [GONE], [GONE])
        assert hostnames(again) == [worker.hostname]
        assert pings == [[worker.hostname]], "the silent worker was asked again"


@pytest.mark.processes
def test_the_health_checks_broadcast_marks_a_stopped_worker_so_the_api_never_waits_for_it(
    api, worker, pings
):
    workers_seen_record(
        ping=WorkerPing(workers={GONE: ["default"]}),
        now=timezone.now() - dt.timedelta(seconds=60),
    )
    report = system_health(only=["workers"])  # broadcasts; the running worker answers
    assert worker.hostname in report["components"]["workers"]["value"]["workers"]
    assert workers_seen().silent_workers(now=timezone.now(), within=workers_seen_window()) == [GONE]

    pings.clear()
    body = get_workers(api)
    assert (body["source"], body["missing"], body["silent"]) == ("known", [GONE], [GONE])
    assert hostnames(body) == [worker.hostname]
    assert pings == [[worker.hostname]], "the worker the health check found gone was asked"


@pytest.mark.processes
def test_a_silent_worker_that_answers_a_broadcast_again_is_asked_again(api, worker):
    earlier = timezone.now() - dt.timedelta(seconds=60)
    workers_seen_record(ping=WorkerPing(workers={worker.hostname: ["default"]}), now=earlier)
    # A broadcast it did not answer (busy, or restarting under the same name).
    workers_seen_record(ping=WorkerPing(), now=earlier + dt.timedelta(seconds=1), broadcast=True)

    # No known worker is left to ask: everyone is asked, and it answers.
    first = get_workers(api)
    assert (first["source"], first["missing"], first["silent"]) == ("broadcast", [], [])
    assert hostnames(first) == [worker.hostname]

    second = get_workers(api)
    assert (second["source"], second["missing"], second["silent"]) == ("known", [], [])
    assert hostnames(second) == [worker.hostname]


T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def silent_at(moment: dt.datetime) -> list[str]:
    return workers_seen().silent_workers(now=moment, within=workers_seen_window())


@pytest.mark.django_db
def test_only_an_unanswered_broadcast_silences_a_worker_and_a_later_sighting_ends_it():
    seen = WorkerPing(workers={"a@h": ["default"], "b@h": ["default"]})
    workers_seen_record(ping=seen, now=T0)

    # A ping to some workers only says nothing about the others.
    workers_seen_record(
        ping=WorkerPing(workers={"a@h": ["default"]}), now=T0 + dt.timedelta(seconds=1)
    )
    assert silent_at(T0 + dt.timedelta(seconds=2)) == []

    at = T0 + dt.timedelta(seconds=10)
    workers_seen_record(ping=WorkerPing(workers={"a@h": ["default"]}), now=at, broadcast=True)
    assert silent_at(at) == ["b@h"]

    # b answered someone else's ping while ours was out: that sighting wins.
    workers_seen_record(
        ping=WorkerPing(workers={"b@h": ["default"]}), now=at + dt.timedelta(seconds=1)
    )
    workers_seen_record(
        ping=WorkerPing(), now=at + dt.timedelta(seconds=2), asked_at=at, broadcast=True
    )
    assert silent_at(at + dt.timedelta(seconds=3)) == []


@pytest.mark.django_db
def test_a_name_older_than_the_window_is_neither_asked_nor_reported_and_is_not_rewritten():
    window = dt.timedelta(seconds=workers_seen_window())
    workers_seen_record(ping=WorkerPing(workers={"old@h": ["default"]}), now=T0)
    later = T0 + window + dt.timedelta(seconds=1)
    workers_seen_record(ping=WorkerPing(), now=later, broadcast=True)
    assert Heartbeat.objects.get(name="worker:old@h").missed_at is None  # no write for it
    seen = workers_seen()
    assert seen.recent_workers(now=later, within=window.total_seconds()) == []
    assert seen.silent_workers(now=later, within=window.total_seconds()) == []
