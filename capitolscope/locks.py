"""Locks shared by every process (Redis), so overlapping runs are refused on any host."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache

import redis
from django.conf import settings


class AlreadyRunning(Exception):
    pass


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30
    )


@contextmanager
def exclusive(*names: str, ttl: int) -> Iterator[_Held]:
    """Hold the locks ``names`` for the block, or raise AlreadyRunning at once.

    ``ttl`` (seconds) bounds how long a crashed holder can block others. Work that may run
    longer (a command without a time limit) calls ``renew()`` on what this yields.
    """
    locks = []
    try:
        for name in names:
            lock = redis_client().lock(f"capitolscope:lock:{name}", timeout=ttl, blocking=False)
            if not lock.acquire(blocking=False):
                raise AlreadyRunning(
                    f"{name} is already running (lock held; it expires within {ttl} s)"
                )
            locks.append(lock)
        yield _Held(locks)
    finally:
        for lock in locks:
            # Expired while we ran: someone else may hold it now; leave theirs alone.
            with suppress(redis.exceptions.LockError):
                lock.release()


class _Held:
    def __init__(self, locks: list) -> None:
        self.locks = locks

    def renew(self) -> None:
        """Reset every lock's time to live to its full ``ttl``."""
        for lock in self.locks:
            with suppress(redis.exceptions.LockError):
                lock.reacquire()
