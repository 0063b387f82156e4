"""A broadcast ping stops waiting once every expected worker answered.

/api/health/full/ and the task lists ping everyone, but the known workers (seen recently and
not silent) are all they wait for: once the replies name each of them, the reply loop ends
(``WorkerPing.stopped_early``) instead of sitting out the timeout. A known worker that does
not answer is still waited for, and found silent; with nobody known, and in the periodic
health run, the ping waits the whole timeout so that new workers are found.

Real celery workers (tests/processes.py) answer on the real Redis broker. The decision to
stop is asserted through ``stopped_early``, never through elapsed time.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from monitoring import queues
from monitoring.health import (
    OK,
    check_workers,
    workers_expected,
    workers_seen,
    workers_seen_record,
    workers_seen_window,
)
from monitoring.queues import ReplyCollector, WorkerPing, workers_ping
from monitoring.tasks import system_health_check
from monitoring.tokens import api_token_create
from tests.processes import start_worker

GONE = "gone@stopped"
TIMEOUT = 2.0
ALL = {"default", "notifications", "data_ingestion", "price_updates", "maintenance"}


@pytest.fixture
def api(staff_user, settings):
    settings.API_CONTROL_TIMEOUT = TIMEOUT
    settings.HEALTH_PROBE_TIMEOUT = TIMEOUT
    token = api_token_create(user=staff_user, name="tests").secret
    return Client(headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def ping_spy(monkeypatch):
    """Every WorkerPing the code under test got back from the real ``workers_ping``."""
    answers: list[tuple[dict, WorkerPing]] = []
    real = queues.workers_ping

    def spy(**kwargs) -> WorkerPing:
        answer = real(**kwargs)
        answers.append((kwargs, answer))
        return answer

    monkeypatch.setattr(queues, "workers_ping", spy)
    return answers


@pytest.fixture
def newcomer(transactional_db, tmp_path):
    """A second real worker, started after the record was written: nobody knows it yet."""
    process, hostname = start_worker(tmp_path)
    process.hostname = hostname
    try:
        yield process
    finally:
        process.stop()


def known(*hostnames: str, ago: float = 0) -> None:
    """Record ``hostnames`` as seen ``ago`` seconds ago, as a health run would have."""
    workers_seen_record(
        ping=WorkerPing(workers={name: sorted(ALL) for name in hostnames}),
        now=timezone.now() - dt.timedelta(seconds=ago),
    )


def silent() -> list[str]:
    return workers_seen().silent_workers(now=timezone.now(), within=workers_seen_window())


# --- the decision to stop ---------------------------------------------------------------------


def test_a_reply_from_a_worker_nobody_expected_does_not_end_the_wait_for_an_expected_one():
    collector = ReplyCollector(expected=frozenset({"known@h"}))

    collector({"new@h": {"ok": "pong"}})  # a newcomer answers first: keep listening

    assert not collector.everyone_replied
    with pytest.raises(queues._EveryoneReplied):  # ends kombu's reply loop
        collector({"known@h": {"ok": "pong"}})
    assert collector.everyone_replied
    assert collector.replies == [{"new@h": {"ok": "pong"}}, {"known@h": {"ok": "pong"}}]


def test_with_nobody_expected_no_reply_ends_the_wait():
    collector = ReplyCollector()
    for name in ("a@h", "b@h", "c@h"):
        collector({name: {"ok": "pong"}})
    assert not collector.everyone_replied and len(collector.replies) == 3


# --- workers_ping on a real worker ------------------------------------------------------------


@pytest.mark.processes
def test_a_ping_expecting_the_running_worker_stops_once_it_answered(worker):
    ping = workers_ping(timeout=TIMEOUT, expect=[worker.hostname])

    assert ping.stopped_early
    assert ping.hostnames == [worker.hostname]
    # The queue inspection on the same connection still works after the loop was ended.
    assert set(ping.workers[worker.hostname]) == ALL and ping.unknown_queues == []


@pytest.mark.processes
def test_a_ping_waits_the_timeout_when_an_expected_worker_does_not_answer(worker):
    ping = workers_ping(timeout=TIMEOUT, expect=[worker.hostname, GONE])

    assert not ping.stopped_early
    assert ping.hostnames == [worker.hostname]


@pytest.mark.processes
def test_a_ping_expecting_nobody_waits_the_timeout_and_hears_whoever_answers(worker):
    ping = workers_ping(timeout=TIMEOUT, expect=[])

    assert not ping.stopped_early
    assert ping.hostnames == [worker.hostname]


@pytest.mark.processes
def test_a_worker_nobody_expected_never_cuts_off_the_expected_one(worker, newcomer):
    for _ in range(5):
        ping = workers_ping(timeout=TIMEOUT, expect=[worker.hostname])
        assert ping.stopped_early
        assert worker.hostname in ping.hostnames  # whichever of the two answered first
        assert worker.hostname not in ping.unknown_queues


def test_expect_and_destination_do_not_go_together():
    with pytest.raises(ValueError, match="broadcast"):
        workers_ping(timeout=TIMEOUT, destination=["a@h"], expect=["a@h"])


# --- /api/health/full/ ------------------------------------------------------------------------


@pytest.mark.processes
def test_the_full_health_report_stops_once_the_known_worker_answered(api, worker):
    known(worker.hostname)

    body = api.get("/api/health/full/").json()

    workers = body["components"]["workers"]
    assert workers["value"]["stopped_early"] is True
    assert workers["value"]["workers"] == [worker.hostname]
    assert workers["status"] == OK  # every queue has its consumer
    assert silent() == []


@pytest.mark.processes
def test_the_full_health_report_with_no_known_worker_waits_and_records_who_answered(api, worker):
    body = api.get("/api/health/full/").json()

    workers = body["components"]["workers"]
    assert workers["value"]["stopped_early"] is False
    assert workers["value"]["workers"] == [worker.hostname]
    assert workers_expected() == [worker.hostname]  # the next call knows whom to wait for

    again = api.get("/api/health/full/").json()
    assert again["components"]["workers"]["value"]["stopped_early"] is True


@pytest.mark.processes
def test_a_known_worker_that_is_gone_is_waited_for_found_silent_and_then_not_waited_for(
    api, worker
):
    known(worker.hostname, GONE, ago=60)

    body = api.get("/api/health/full/").json()

    workers = body["components"]["workers"]
    assert workers["value"]["stopped_early"] is False  # waited the timeout for GONE
    assert workers["value"]["workers"] == [worker.hostname]
    assert silent() == [GONE]
    assert api.get("/api/workers/").json()["missing"] == [GONE]  # still named missing

    again = api.get("/api/health/full/").json()
    assert again["components"]["workers"]["value"]["stopped_early"] is True
    assert silent() == [GONE]


@pytest.mark.processes
def test_a_live_full_health_report_waits_for_anyone(api, worker):
    known(worker.hostname)

    body = api.get("/api/health/full/?live=1").json()

    assert body["components"]["workers"]["value"]["stopped_early"] is False


@pytest.mark.processes
def test_a_queue_the_known_workers_do_not_consume_is_asked_about_by_a_full_broadcast(
    transactional_db, tmp_path
):
    # The known worker consumes two queues only: having heard it, the check asks everyone
    # again (waiting the timeout) before it says the other queues have no consumer.
    first, first_name = start_worker(tmp_path, queues="default,notifications")
    try:
        known(first_name)
        alone = check_workers(timeout=TIMEOUT, discover=False)
        assert alone.value["stopped_early"] is False
        assert alone.value["workers"] == [first_name]
        assert "no worker answered for queue data_ingestion just now" in alone.message

        # A worker started since consumes the rest. It may answer the first ping after the
        # known one (then the second ping hears it) or before it: either way it is heard.
        second, second_name = start_worker(
            tmp_path, queues="data_ingestion,price_updates,maintenance"
        )
        try:
            result = check_workers(timeout=TIMEOUT, discover=False)
        finally:
            second.stop()
    finally:
        first.stop()

    assert result.value["workers"] == sorted([first_name, second_name])
    assert result.status == OK and result.problems == ()


# --- /api/tasks/active/ -----------------------------------------------------------------------


@pytest.mark.processes
def test_the_active_task_list_stops_once_the_known_worker_answered(api, worker, ping_spy):
    known(worker.hostname)

    response = api.get("/api/tasks/active/")

    assert response.status_code == 200 and response.json()["tasks"] == []
    [(asked, answer)] = ping_spy
    assert asked["expect"] == [worker.hostname]
    assert answer.stopped_early and answer.hostnames == [worker.hostname]


@pytest.mark.processes
def test_the_active_task_list_finds_a_gone_known_worker_silent_and_stops_waiting_for_it(
    api, worker, ping_spy
):
    known(worker.hostname, GONE, ago=60)

    assert api.get("/api/tasks/active/").status_code == 200
    assert silent() == [GONE]
    assert api.get("/api/tasks/active/").status_code == 200

    (_, first), (asked, second) = ping_spy
    assert not first.stopped_early and first.hostnames == [worker.hostname]
    assert asked["expect"] == [worker.hostname]
    assert second.stopped_early and second.hostnames == [worker.hostname]


@pytest.mark.processes
def test_the_live_active_task_list_waits_for_anyone(api, worker, ping_spy):
    known(worker.hostname)

    assert api.get("/api/tasks/active/?live=1").status_code == 200

    [(asked, answer)] = ping_spy
    assert asked["expect"] == [] and not answer.stopped_early


# --- the periodic health run ------------------------------------------------------------------


@pytest.mark.processes
def test_the_periodic_health_run_still_finds_a_worker_nobody_knew(worker, newcomer, smtp, settings):
    settings.HEALTH_PROBE_TIMEOUT = TIMEOUT
    known(worker.hostname)  # the newcomer started after the last look

    report = system_health_check()

    workers = report["components"]["workers"]["value"]
    assert workers["stopped_early"] is False  # it waited the whole timeout
    assert workers["workers"] == sorted([worker.hostname, newcomer.hostname])
    assert set(workers_expected()) == {worker.hostname, newcomer.hostname}
    assert silent() == []
