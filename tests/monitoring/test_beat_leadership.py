"""Single beat: two real beat processes, one leader; the standby takes over when it dies."""

import itertools
import os
import re
import signal
import time
from datetime import datetime, timedelta

import pytest
import redis
from celery.beat import ScheduleEntry
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from capitolscope.beat import LEADER_KEY, DatabaseScheduler, LeaderLock
from capitolscope.celery import app
from monitoring.models import Heartbeat
from tests.processes import start_beat, subprocess_env, wait_until

LOCK_TTL = 4


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(LEADER_KEY)
    yield client
    client.delete(LEADER_KEY)
    client.close()


def sent(process, name: str) -> int:
    """How many times ``process`` (a beat) logged sending schedule ``name``."""
    return process.output().count(f"Sending due task {name} ")


def every_second(name: str) -> PeriodicTask:
    """A schedule running the health check every second."""
    interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(
        name=name, task="monitoring.system_health_check", interval=interval
    )


def test_a_second_lock_holder_is_refused_until_the_first_lease_ends(redis_client):
    first = LeaderLock(client=redis_client, ttl=30)
    second = LeaderLock(client=redis_client, ttl=30)
    assert first.acquire()
    assert not second.acquire()
    assert second.holder() == first.token
    assert first.renew()
    assert not second.renew()  # renewing someone else's lease does nothing
    redis_client.pexpire(LEADER_KEY, 1)  # the leader died: its lease runs out
    wait_until(lambda: redis_client.get(LEADER_KEY) is None, timeout=5, what="lease expiry")
    assert second.acquire()
    assert not first.renew()  # the old leader learns it lost
    first.release()  # and cannot release the new leader's lock
    assert second.holder() == second.token


@pytest.mark.django_db
def test_a_leader_whose_lease_ran_out_during_a_slow_tick_sends_nothing(redis_client):
    queue = "beat-lease-test"
    scheduler = DatabaseScheduler(app=app, lazy=True)
    try:
        assert scheduler._hold_leadership()
        # The tick then stalls (a slow database read, a hung broker) past the lease; it
        # expires and a standby takes over before the stalled leader gets to send.
        scheduler._last_renewal -= 2
        scheduler.leader_lock.lease_until = time.monotonic() - 1
        redis_client.delete(LEADER_KEY)
        assert LeaderLock(client=redis_client, ttl=30).acquire()
        entry = ScheduleEntry(
            name="lease test",
            task="monitoring.system_health_check",
            schedule=timedelta(seconds=1),
            options={"queue": queue},
            app=app,
        )
        scheduler.apply_entry(entry, producer=scheduler.producer)
        assert redis_client.llen(queue) == 0  # only the new leader sends
        assert not scheduler.is_leader
    finally:
        scheduler.close()
        redis_client.delete(queue)


@pytest.mark.django_db
def test_a_leader_that_cannot_reach_redis_stops_leading_before_its_lease_runs_out():
    from tests.monitoring.test_health_checks import SilentServer

    hung = SilentServer()
    scheduler = DatabaseScheduler(app=app, lazy=True)
    try:
        scheduler.is_leader = True
        scheduler.leader_lock.client = redis.Redis.from_url(
            hung.url, socket_connect_timeout=1, socket_timeout=1
        )
        # 1.5 s of lease left when the renewal starts; the renewal hangs for its 1 s socket
        # timeout, which leaves 0.5 s: too little to go on sending as the leader.
        scheduler.leader_lock.lease_until = time.monotonic() + 1.5
        assert not scheduler._hold_leadership()
        assert not scheduler.is_leader
    finally:
        scheduler.leader_lock.client.close()
        hung.close()


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_only_the_leader_sends_and_the_standby_takes_over_when_it_is_killed(tmp_path, redis_client):
    every_second("leader test")
    env = subprocess_env(BEAT_LEADER_LOCK_TTL=str(LOCK_TTL), BEAT_HEARTBEAT_INTERVAL="1")
    leader = start_beat(tmp_path, env=env)
    standby = None
    try:
        wait_until(
            lambda: sent(leader, "leader test") >= 1,
            timeout=20,
            what=f"leader sends\n{leader.tail()}",
        )
        standby = start_beat(tmp_path, env=env)
        wait_until(
            lambda: "standby: beat leader is" in standby.output(),
            timeout=20,
            what=f"the second beat to stand by\n{standby.tail()}",
        )
        assert f"pid {leader.pid}" in standby.output()
        assert standby.output().count("standby: beat leader is") == 1  # said once
        already = sent(leader, "leader test")
        wait_until(
            lambda: sent(leader, "leader test") >= already + 3, timeout=20, what="three more sends"
        )
        assert sent(standby, "leader test") == 0, standby.tail()

        heartbeat = wait_until(
            lambda: Heartbeat.objects.filter(name="beat", pid=leader.pid).first(),
            timeout=10,
            what="the leader's heartbeat",
        )
        first_seen = heartbeat.seen_at
        wait_until(
            lambda: Heartbeat.objects.get(name="beat").seen_at > first_seen,
            timeout=10,
            what="the heartbeat to be renewed",
        )

        os.kill(leader.pid, signal.SIGKILL)  # no chance to release the lock
        killed_at = time.monotonic()
        wait_until(
            lambda: sent(standby, "leader test") >= 1,
            timeout=30,
            what=f"the standby to take over\n{standby.tail()}",
        )
        took_over_after = time.monotonic() - killed_at
        assert took_over_after <= LOCK_TTL + 5, took_over_after
        assert "leader now" in standby.output()
        wait_until(
            lambda: Heartbeat.objects.filter(name="beat", pid=standby.pid).exists(),
            timeout=10,
            what="the new leader's heartbeat",
        )
    finally:
        leader.stop()
        if standby is not None:
            standby.stop()
        app.control.purge()  # no worker ran the health checks they sent


def send_times(process, name: str) -> list[datetime]:
    """When ``process`` logged sending ``name`` (beat's own log timestamps)."""
    stamps = re.findall(
        rf"^\[(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}}): INFO/MainProcess\] "
        rf"Scheduler: Sending due task {re.escape(name)} ",
        process.output(),
        flags=re.MULTILINE,
    )
    return [datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f") for stamp in stamps]


def last_run_at(name: str):
    return PeriodicTask.objects.get(name=name).last_run_at


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_takeover_neither_repeats_nor_skips_a_run(tmp_path, redis_client):
    """The leader sends a 15-second schedule, records it, and is killed. The standby takes over
    within the lease (4 s), long before the next run is due: a new leader working from a stale
    ``last_run_at`` would send it again at once (a repeat); one that lost the entry would never
    send it (a skip). It must send it once, when due: 15 s after the leader's run. Nor may it
    send the every-second schedule twice in a row at takeover (it did: upstream left a stale
    entry in the schedule dict, and the first ticks rebuilt the heap from it)."""
    every = 15
    every_second("takeover fast")
    env = subprocess_env(BEAT_LEADER_LOCK_TTL=str(LOCK_TTL), BEAT_HEARTBEAT_INTERVAL="1")
    leader = start_beat(tmp_path, env=env)
    standby = None
    try:
        wait_until(lambda: sent(leader, "takeover fast") >= 1, timeout=20, what=leader.tail())
        standby = start_beat(tmp_path, env=env)
        wait_until(
            lambda: "standby: beat leader is" in standby.output(), timeout=20, what=standby.tail()
        )
        # Due two seconds from now, then every 15 s.
        created_last_run = timezone.now() - timedelta(seconds=every - 2)
        slow = IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(
            name="takeover slow",
            task="monitoring.system_health_check",
            interval=slow,
            last_run_at=created_last_run,
        )
        wait_until(lambda: sent(leader, "takeover slow") >= 1, timeout=30, what=leader.tail())
        # The leader records the run right after sending it (a kill in those milliseconds
        # would leave it unrecorded: sent again, at least once; see capitolscope/beat.py).
        wait_until(
            lambda: last_run_at("takeover slow") > created_last_run,
            timeout=10,
            what="the leader to record the run",
        )
        os.kill(leader.pid, signal.SIGKILL)
        ran_at = time.monotonic()
        assert sent(leader, "takeover slow") == 1

        wait_until(lambda: sent(standby, "takeover fast") >= 1, timeout=30, what=standby.tail())
        took_over = time.monotonic() - ran_at
        assert took_over < every - 5, took_over  # leaves room to see a repeat
        assert sent(standby, "takeover slow") == 0, standby.tail()  # no repeat at takeover

        wait_until(
            lambda: sent(standby, "takeover slow") >= 1, timeout=every + 15, what=standby.tail()
        )
        next_run_after = time.monotonic() - ran_at
        assert next_run_after >= every - 2, next_run_after  # on time: not early, not repeated
        assert sent(standby, "takeover slow") == 1
        fast = send_times(standby, "takeover fast")
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fast)]
        assert len(fast) >= 5 and min(gaps) > 0.5, (gaps, standby.tail())
    finally:
        leader.stop()
        if standby is not None:
            standby.stop()
        app.control.purge()


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_beat_stopped_cleanly_releases_the_lock(tmp_path, redis_client):
    beat = start_beat(tmp_path, env=subprocess_env(BEAT_LEADER_LOCK_TTL="60"))
    try:
        wait_until(
            lambda: b"pid" in (redis_client.get(LEADER_KEY) or b""),
            timeout=20,
            what=f"the lock to be taken\n{beat.tail()}",
        )
        assert f"pid {beat.pid}".encode() in redis_client.get(LEADER_KEY)
    finally:
        beat.stop()
    assert redis_client.get(LEADER_KEY) is None
