"""Our beat scheduler: django-celery-beat's DatabaseScheduler with its gaps closed.

Run beat with ``-S capitolscope.beat:DatabaseScheduler`` (the default in settings).

Single leader: a beat sends nothing until it holds the Redis lock ``capitolscope:beat:leader``
(``SET NX`` with a time to live of ``BEAT_LEADER_LOCK_TTL`` seconds, renewed on every tick).
A second beat started by mistake is a standby: it logs once "standby: beat leader is …",
sends nothing, and tries the lock every second or so; when the leader dies without releasing
it (SIGKILL, lost host) the lock expires and the standby takes over within the TTL plus one
try. On takeover the new leader re-reads every schedule from the database, and the leader
writes ``last_run_at`` right after every send, so the new leader neither repeats nor skips a
run; only a leader killed in the milliseconds between a send and that write leaves the run
unrecorded, and the new leader sends it again (at least once, never lost: every scheduled task
is idempotent).

The leader writes the ``Heartbeat`` row "beat" (host, pid, since when it leads, last seen)
every ``BEAT_HEARTBEAT_INTERVAL`` seconds; the health checks read its age.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_celery_beat import schedulers

logger = logging.getLogger(__name__)

LEADER_KEY = "capitolscope:beat:leader"
# How long a standby sleeps between tries of the lock (capped by max_interval).
STANDBY_POLL = 1.0

# Renew only when we still own the lock (the value is our token).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    """A Redis lease naming its holder, so a standby can say who leads."""

    def __init__(self, *, client, ttl: float, key: str = LEADER_KEY) -> None:
        self.client = client
        self.ttl = ttl
        self.key = key
        self.token = f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:8]})"
        # monotonic time until which our lease surely holds (renewed or acquired before it).
        self.lease_until = 0.0

    def acquire(self) -> bool:
        started = time.monotonic()
        if self.client.set(self.key, self.token, nx=True, px=int(self.ttl * 1000)):
            self.lease_until = started + self.ttl
            return True
        return False

    def renew(self) -> bool:
        started = time.monotonic()
        renewed = self.client.eval(_RENEW, 1, self.key, self.token, int(self.ttl * 1000))
        if renewed:
            self.lease_until = started + self.ttl
        return bool(renewed)

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)
        self.lease_until = 0.0

    def holder(self) -> str:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else (value or "nobody")


def _redis_client():
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3, health_check_interval=30
    )


class DatabaseScheduler(schedulers.DatabaseScheduler):
    # Write last_run_at after every send (not every 3 minutes): a standby taking over after a
    # SIGKILL reads it and does not send again what the dead leader already sent.
    sync_every_tasks = 1

    def __init__(self, *args, **kwargs):
        self.leader_lock = LeaderLock(client=_redis_client(), ttl=settings.BEAT_LEADER_LOCK_TTL)
        self.is_leader = False
        self.leading_since = None
        self._last_renewal = 0.0
        self._last_heartbeat = 0.0
        self._standby_said = None
        self._closed = False
        super().__init__(*args, **kwargs)
        self.sync_every_tasks = 1

    def setup_schedule(self):
        super().setup_schedule()
        # Remember the change stamp the initial read saw, so the first change after start-up
        # is compared with it rather than with nothing.
        try:
            self._last_timestamp = self.Changes.last_change()
        except Exception:  # the database is down: the read will fail and be retried anyway
            logger.warning("beat: could not read the schedule change stamp", exc_info=True)

    def reserve(self, entry):
        # Upstream marks the entry dirty but leaves the *previous* entry object in the schedule
        # dict: same model (so sync() saves the new last_run_at) but the old ``last_run_at``
        # attribute, which ``is_due`` reads. Any rebuild of the heap from that dict before the
        # next database read (a takeover's first ticks did one) found the entry due again and
        # sent it a second time. Keep the dict's entry the advanced one, as celery's own
        # Scheduler.reserve does.
        new_entry = super().reserve(entry)
        if self._schedule is not None and entry.name in self._schedule:
            self._schedule[entry.name] = new_entry
        return new_entry

    def schedule_changed(self) -> bool:
        # Upstream compares ``ts > (last or ts)``: when beat starts on a database where no
        # schedule was ever saved, ``last`` is None and the first schedule an operator creates
        # is ignored until the 5-minute forced reload. A stamp appearing is a change.
        before = self._last_timestamp
        changed = super().schedule_changed()
        return changed or (before is None and self._last_timestamp is not None)

    # --- leadership -----------------------------------------------------------------------

    def tick(self, *args, **kwargs):
        """Send what is due only while we hold the leader lock; else wait as a standby."""
        if self._closed:
            # Beat's SIGTERM handler closes us and raises SystemExit wherever the main thread
            # is; a database or Redis error raised on top of it can swallow that exit. Never
            # lead again once closed.
            raise SystemExit()
        if not self._hold_leadership():
            return min(STANDBY_POLL, self.max_interval)
        self._beat_heartbeat()
        interval = super().tick(*args, **kwargs)
        # Wake up in time to renew the lease well before it expires.
        return min(interval, max(self.leader_lock.ttl / 4, 0.5))

    def apply_entry(self, entry, producer=None):
        # The tick may have spent long since it checked the lease at its start (a slow
        # database read of the schedules, a hung broker): check again right before sending,
        # so a leader whose lease ran out meanwhile (a standby may lead now) sends nothing.
        if not self._hold_leadership():
            logger.warning("beat: not sending %s: no longer the leader", entry.name)
            return None
        return super().apply_entry(entry, producer=producer)

    def _hold_leadership(self) -> bool:
        now = time.monotonic()
        try:
            if self.is_leader:
                if now - self._last_renewal < 1.0:
                    return True
                if self.leader_lock.renew():
                    self._last_renewal = now
                    return True
                logger.error(
                    "beat: lost the leader lock (now held by %s); standing by",
                    self.leader_lock.holder(),
                )
                self._become_standby()
                return False
            if self.leader_lock.acquire():
                self._last_renewal = now
                self._become_leader()
                return True
            holder = self.leader_lock.holder()
            if holder != self._standby_said:
                logger.warning("beat: standby: beat leader is %s", holder)
                self._standby_said = holder
            return False
        except Exception as exc:  # Redis unreachable: lead only while our lease surely holds
            # Measured now: the failed call itself may have taken up to its socket timeout.
            if self.is_leader and time.monotonic() < self.leader_lock.lease_until - 1.0:
                logger.warning("beat: cannot renew the leader lock (%s); lease still valid", exc)
                return True
            if self.is_leader:
                logger.error("beat: leader lock lease ran out without renewal (%s)", exc)
                self._become_standby()
            else:
                logger.warning("beat: cannot reach Redis for the leader lock: %s", exc)
            return False

    def _become_leader(self) -> None:
        self.is_leader = True
        self.leading_since = timezone.now()
        self._standby_said = None
        self._last_heartbeat = 0.0
        logger.info("beat: leader now (%s)", self.leader_lock.token)
        # Re-read every schedule (and its last_run_at) from the database: what this process
        # loaded earlier may be older than what the previous leader sent.
        self._initial_read = True
        self._heap = None
        self.old_schedulers = None
        # The change stamp this process saw when it started standing by is old: left as it
        # is, the first schedule read (above) is followed at once by a second, "changed" one
        # that invalidates the heap just built from the first. The connection may have sat
        # idle for as long as this process stood by (a server restart closed it).
        try:
            close_old_connections()
            self._last_timestamp = self.Changes.last_change()
        except Exception:  # the database is down: the read will fail and be retried anyway
            logger.warning("beat: could not read the schedule change stamp", exc_info=True)

    def _become_standby(self) -> None:
        self.is_leader = False
        self.leading_since = None
        self._dirty.clear()  # the new leader owns last_run_at now

    def _beat_heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < settings.BEAT_HEARTBEAT_INTERVAL:
            return
        self._last_heartbeat = now
        try:
            from monitoring.models import Heartbeat

            Heartbeat.objects.update_or_create(
                name="beat",
                defaults={
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": self.leading_since,
                    "seen_at": timezone.now(),
                    "details": {
                        "lock": self.leader_lock.token,
                        "lock_ttl": self.leader_lock.ttl,
                        "max_interval": self.max_interval,
                    },
                },
            )
        except Exception:
            logger.warning("beat: could not write the heartbeat", exc_info=True)

    def close(self):
        self._closed = True
        # Release first (a failing sync must not keep the lock for a whole TTL), and always:
        # a SIGTERM during acquire() may leave us holding a lock we have not noted yet. The
        # release deletes the key only when it holds our token.
        try:
            self.leader_lock.release()
            if self.is_leader:
                logger.info("beat: released the leader lock")
        except Exception:
            logger.warning("beat: could not release the leader lock", exc_info=True)
        self.is_leader = False
        super().close()
