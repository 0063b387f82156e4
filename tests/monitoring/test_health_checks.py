"""The health checks one by one, their thresholds, and their time bound when things hang."""

import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from capitolscope.celery import app
from monitoring.health import (
    DEGRADED,
    OK,
    UNHEALTHY,
    check_beat,
    check_disk,
    check_failure_rate,
    check_memory,
    check_queues,
    check_schedules,
    check_workers,
    exit_code_for,
    system_health,
    workers_seen,
    workers_seen_record,
)
from monitoring.models import Heartbeat
from monitoring.queues import PRIORITY_SEPARATOR, WorkerPing, queue_depths, workers_ping
from tests.processes import database_url_for_subprocess, start_worker, wait_until

BASE_DIR = Path(__file__).resolve().parent.parent.parent
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db

QUEUES = ("default", "notifications", "data_ingestion", "price_updates", "maintenance")


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.clients = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)  # hold it open, say nothing

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self.sock.close()
        for client in self.clients:
            client.close()


@pytest.fixture
def hung_redis():
    server = SilentServer()
    yield server
    server.close()


# --- workers --------------------------------------------------------------------------------


def test_with_no_worker_queues_are_degraded_at_first_and_unhealthy_after_the_limit(settings):
    settings.HEALTH_WORKER_DOWN_AFTER = 300
    with time_machine.travel(NOW):
        first = check_workers(timeout=0.3)
    assert first.status == DEGRADED
    assert first.problems == ()
    assert "no worker answered for queue default just now (never seen)" in first.message
    with time_machine.travel(NOW + dt.timedelta(seconds=301)):
        later = check_workers(timeout=0.3)
    assert later.status == UNHEALTHY
    assert {(p.kind, p.subject) for p in later.problems} == {
        ("workers", queue)
        for queue in ("default", "notifications", "data_ingestion", "price_updates", "maintenance")
    }


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_queue_nobody_consumes_is_a_finding_while_the_others_are_ok(tmp_path, settings):
    settings.HEALTH_WORKER_DOWN_AFTER = 300
    worker, hostname = start_worker(tmp_path, queues="default,notifications")
    try:
        ping = workers_ping(timeout=1.0)
        assert ping.workers == {hostname: ["default", "notifications"]}
        first = check_workers(timeout=1.0)  # monitoring starts looking now
        assert first.status == DEGRADED and first.problems == ()
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)):
            result = check_workers(timeout=1.0)
    finally:
        worker.stop()
    assert result.status == UNHEALTHY
    assert {p.subject for p in result.problems} == {
        "data_ingestion",
        "price_updates",
        "maintenance",
    }
    assert result.value["consumers"]["default"] == [hostname]
    seen = workers_seen()
    assert list(seen.workers) == [hostname] and seen.worker_queues[hostname] == [
        "default",
        "notifications",
    ]
    assert sorted(seen.queues) == ["default", "notifications"]


def test_a_worker_seen_recently_is_not_down_after_one_missed_ping(settings):
    settings.HEALTH_WORKER_DOWN_AFTER = 300
    with time_machine.travel(NOW - dt.timedelta(days=1)):
        check_workers(timeout=0.3)  # monitoring starts looking
    workers_seen_record(
        ping=WorkerPing(workers={"w@h": list(QUEUES)}), now=NOW - dt.timedelta(seconds=60)
    )
    with time_machine.travel(NOW):
        result = check_workers(timeout=0.3)
    assert result.status == DEGRADED
    assert result.problems == ()
    assert "last seen 60 s ago" in result.message


def test_the_record_of_an_earlier_version_still_counts_until_rows_replace_it(settings):
    settings.HEALTH_WORKER_DOWN_AFTER = 300
    Heartbeat.objects.create(
        name="workers",
        started_at=NOW - dt.timedelta(days=1),
        seen_at=NOW - dt.timedelta(seconds=60),
        details={
            "workers": {"w@h": (NOW - dt.timedelta(seconds=60)).isoformat()},
            "queues": {q: (NOW - dt.timedelta(seconds=60)).isoformat() for q in QUEUES},
        },
    )
    with time_machine.travel(NOW):
        result = check_workers(timeout=0.3)
    assert result.status == DEGRADED
    assert result.problems == ()


def _record_at_once(hostnames: list[str]) -> list[Exception]:
    """One thread per hostname, each a health run that saw only that worker, writing at once."""
    barrier = threading.Barrier(len(hostnames))
    errors: list[Exception] = []

    def record(hostname: str) -> None:
        try:
            barrier.wait()
            workers_seen_record(ping=WorkerPing(workers={hostname: ["default"]}))
        except Exception as exc:  # reported by the caller: an overlap must not fail either
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(name,)) for name in hostnames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_health_runs_that_overlap_never_lose_each_others_workers():
    for round_ in range(5):
        hostnames = [f"w{round_}-{n}@h" for n in range(6)]
        assert _record_at_once(hostnames) == []
        assert set(hostnames) <= set(workers_seen().workers)


# --- beat -----------------------------------------------------------------------------------


def every(seconds: int) -> IntervalSchedule:
    return IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")[0]


def test_no_beat_heartbeat_is_fine_only_while_no_schedule_is_enabled():
    assert check_beat().status == OK
    PeriodicTask.objects.create(name="s", task="monitoring.system_health_check", interval=every(60))
    result = check_beat()
    assert result.status == UNHEALTHY
    assert result.problems[0].kind == "beat"


def test_a_stale_beat_heartbeat_is_unhealthy_and_a_fresh_one_ok(settings):
    settings.HEALTH_BEAT_STALE_AFTER = 120
    Heartbeat.objects.create(
        name="beat", hostname="h1", pid=42, seen_at=NOW - dt.timedelta(seconds=30)
    )
    with time_machine.travel(NOW):
        fresh = check_beat()
    with time_machine.travel(NOW + dt.timedelta(seconds=100)):
        stale = check_beat()
    assert fresh.status == OK and "h1 pid 42" in fresh.message
    assert stale.status == UNHEALTHY
    assert "130 s old (limit 120 s" in stale.message


# --- queues ---------------------------------------------------------------------------------


def test_queue_depths_count_every_priority_list_and_a_backlog_is_a_finding(settings):
    settings.HEALTH_QUEUE_BACKLOG_MAX = 5
    app.control.purge()
    try:
        for priority in (0, 9, 9, 5, 5, 5):
            app.send_task("monitoring.selftest_fail", queue="maintenance", priority=priority)
        import redis

        client = redis.Redis.from_url(app.conf.broker_url)
        assert client.llen(f"maintenance{PRIORITY_SEPARATOR}9") == 2  # kombu's priority lists
        assert queue_depths()["maintenance"] == 6
        result = check_queues(timeout=1.0)
    finally:
        app.control.purge()
    assert result.status == DEGRADED
    assert [(p.kind, p.subject) for p in result.problems] == [("queue_backlog", "maintenance")]
    assert result.value["maintenance"] == 6 and result.value["default"] == 0


# --- failure rate ---------------------------------------------------------------------------


def finished(count: int, status: str, *, when=None) -> None:
    start = TaskResult.objects.count()
    TaskResult.objects.bulk_create(
        [TaskResult(task_id=f"r{start + i}", status=status) for i in range(count)]
    )
    if when:
        TaskResult.objects.filter(task_id__in=[f"r{start + i}" for i in range(count)]).update(
            date_done=when
        )


def test_a_failure_rate_over_the_limit_is_degraded(settings):
    settings.HEALTH_FAILURE_RATE_MAX = 10.0
    settings.HEALTH_FAILURE_RATE_MIN_SAMPLE = 20
    finished(17, "SUCCESS")
    finished(3, "FAILURE")
    finished(50, "FAILURE", when=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))  # too old
    finished(5, "STARTED")  # not finished
    result = check_failure_rate()
    assert result.status == DEGRADED
    assert result.value == {"failed": 3, "finished": 20, "percent": 15.0}
    assert result.problems[0].kind == "failure_rate"


def test_a_small_sample_is_not_judged(settings):
    settings.HEALTH_FAILURE_RATE_MIN_SAMPLE = 20
    finished(5, "FAILURE")
    result = check_failure_rate()
    assert result.status == OK
    assert "too few to judge" in result.message


# --- schedules ------------------------------------------------------------------------------


def fresh_beat():
    Heartbeat.objects.update_or_create(name="beat", defaults={"seen_at": dt.datetime.now(dt.UTC)})


def schedule(name, *, interval=None, crontab=None, last_run_at=None, changed_at=None, **fields):
    row = PeriodicTask.objects.create(
        name=name,
        task="monitoring.system_health_check",
        interval=interval,
        crontab=crontab,
        **fields,
    )
    PeriodicTask.objects.filter(pk=row.pk).update(
        last_run_at=last_run_at, date_changed=changed_at or NOW - dt.timedelta(days=30)
    )
    return row


@time_machine.travel(NOW, tick=False)
def test_schedules_that_missed_their_run_by_more_than_the_grace_are_findings(settings):
    settings.HEALTH_SCHEDULE_GRACE = 300
    fresh_beat()
    ten_minutes = IntervalSchedule.objects.create(every=10, period="minutes")
    schedule("late interval", interval=ten_minutes, last_run_at=NOW - dt.timedelta(minutes=20))
    schedule("on time", interval=ten_minutes, last_run_at=NOW - dt.timedelta(minutes=12))
    two_am = CrontabSchedule.objects.create(minute="0", hour="2", timezone="UTC")
    schedule("late cron", crontab=two_am, last_run_at=NOW - dt.timedelta(days=1, hours=10))
    schedule("cron on time", crontab=two_am, last_run_at=NOW - dt.timedelta(hours=10))
    hourly = IntervalSchedule.objects.create(every=1, period="hours")
    schedule("never ran", interval=hourly, changed_at=NOW - dt.timedelta(hours=2))
    schedule("new", interval=hourly, changed_at=NOW - dt.timedelta(minutes=30))
    schedule("off", interval=hourly, enabled=False, changed_at=NOW - dt.timedelta(days=3))
    schedule("one off", interval=hourly, one_off=True, changed_at=NOW - dt.timedelta(days=3))
    result = check_schedules()
    assert result.status == DEGRADED
    assert sorted(p.subject for p in result.problems) == ["late cron", "late interval", "never ran"]
    late = next(p for p in result.problems if p.subject == "late interval")
    assert "600 s past its expected run at 2026-11-23 11:50:00" in late.message


@time_machine.travel(NOW, tick=False)
def test_while_beat_is_down_missed_schedules_are_one_line_and_decide_nothing():
    schedule("late", interval=every(60), last_run_at=NOW - dt.timedelta(hours=1))
    result = check_schedules()
    assert result.status == DEGRADED
    assert result.problems == ()
    assert result.conclusive is False
    assert "while beat is down" in result.message


# --- host -----------------------------------------------------------------------------------


def test_disk_and_memory_thresholds(settings, tmp_path):
    settings.HEALTH_DISK_FREE_MIN_PERCENT = 0
    assert check_disk(path=tmp_path).status == OK
    settings.HEALTH_DISK_FREE_MIN_PERCENT = 100.5
    low = check_disk(path=tmp_path)
    assert low.status == DEGRADED and low.problems[0].kind == "disk"
    settings.HEALTH_MEMORY_MAX_PERCENT = 80
    assert check_memory(percent=79.0).status == OK
    high = check_memory(percent=91.5)
    assert high.status == DEGRADED and "91.5 % of memory in use" in high.message


# --- the whole report, bounded --------------------------------------------------------------


def test_the_report_has_every_check_with_name_status_message_value_and_duration():
    report = system_health(timeout=0.3)
    assert list(report["components"]) == [
        "database",
        "broker",
        "workers",
        "beat",
        "queues",
        "failure_rate",
        "schedules",
        "disk",
        "memory",
        "deliveries",
    ]
    for component in report["components"].values():
        assert {"name", "status", "message", "value", "duration_ms", "problems"} <= set(component)
        assert component["status"] in {OK, DEGRADED, UNHEALTHY}
    assert report["components"]["workers"]["status"] == DEGRADED  # no worker in this test
    assert exit_code_for(report["status"]) == 1
    json.dumps(report)


def test_unknown_check_names_are_refused():
    with pytest.raises(ValueError, match=r"unknown health check.*nope"):
        system_health(only=["nope"])


def test_a_hung_redis_costs_at_most_the_timeout_for_every_broker_check(hung_redis, monkeypatch):
    monkeypatch.setattr(app.conf, "broker_url", hung_redis.url)
    started = time.monotonic()
    report = system_health(timeout=1.0)
    elapsed = time.monotonic() - started
    components = report["components"]
    assert components["broker"]["status"] == UNHEALTHY
    assert "Timeout" in components["broker"]["message"] or (
        "did not answer within" in components["broker"]["message"]
    )
    assert components["queues"]["conclusive"] is False
    assert "could not ask the workers" in components["workers"]["message"]
    assert report["status"] == UNHEALTHY
    assert elapsed < 15, elapsed  # broker 1.5 s + workers 4 s + queues 1.5 s, at most


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_2_within_bounds_when_redis_hangs(hung_redis):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "REDIS_URL": hung_redis.url,
        "CELERY_BROKER_URL": "",
        "HEALTH_PROBE_TIMEOUT": "1",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "healthcheck", "--json"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["components"]["broker"]["status"] == UNHEALTHY
    assert report["components"]["database"]["status"] == OK
    assert time.monotonic() - started < 30


class FreezingProxy:
    """A TCP relay to the real PostgreSQL that goes silent once the client sends ``SELECT 1``:
    the connection and the session setup work, then the server never answers (a network
    partition, or a server that hangs after accepting the session)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(20)
        self.port = self.sock.getsockname()[1]
        self.froze = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client and b"SELECT 1" in data:
                    self.froze.set()
                if self.froze.is_set():
                    continue  # swallow everything from now on, answer nothing
                sink.sendall(data)
        except OSError:
            return

    def upstream_ports(self) -> list[int]:
        """The local ports of the relay's connections to PostgreSQL (its ``client_port``)."""
        return [sock.getsockname()[1] for sock in self.sockets[1::2]]

    def close(self) -> None:
        self.sock.close()
        for sock in self.sockets:
            # shutdown() ends the connection even while a relay thread is blocked in recv().
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def sessions_from(ports: list[int]) -> int:
    """PostgreSQL sessions whose client is one of these local ports (the proxy's)."""
    with connection.cursor() as cursor:
        # The test runs in a transaction, which would otherwise keep seeing one snapshot.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(%s)", [ports])
        return cursor.fetchone()[0]


def test_the_database_check_is_bounded_when_postgresql_stops_answering_mid_session():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL to relay to (run the suite with DATABASE_URL=postgres://…)")
    real = connection.settings_dict
    proxy = FreezingProxy(real["HOST"] or "127.0.0.1", int(real["PORT"] or 5432))
    url = database_url_for_subprocess().replace(
        f"@{real['HOST'] or 'localhost'}:{real['PORT']}/", f"@127.0.0.1:{proxy.port}/"
    )
    assert f":{proxy.port}/" in url
    env = {**os.environ, "DATABASE_URL": url, "HEALTH_DATABASE_TIMEOUT": "1"}
    try:
        # Unbounded, the check would wait for ever: the 60 s guard only stops the test hanging.
        result = subprocess.run(
            [sys.executable, "manage.py", "healthcheck", "--json", "--check", "database"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        ports = proxy.upstream_ports()
        proxy.close()
        # The frozen session must end, or dropping the test database would fail.
        wait_until(lambda: sessions_from(ports) == 0, timeout=30, what="the frozen session to end")
    assert proxy.froze.is_set()  # the server was reached, then went silent
    assert result.returncode == 2, result.stderr
    database = json.loads(result.stdout)["components"]["database"]
    assert database["status"] == UNHEALTHY
    assert database["message"] == "ProbeTimeout: the database did not answer within 1.5 s"
    assert database["problems"][0]["kind"] == "database"


def test_the_command_prints_one_line_per_check(capsys):
    from django.core.management import call_command

    with pytest.raises(SystemExit) as exit_info:
        call_command("healthcheck", "--timeout=0.3")
    out = capsys.readouterr().out
    assert exit_info.value.code == 1  # workers: none answered (degraded)
    assert "workers" in out and "overall      degraded" in out
