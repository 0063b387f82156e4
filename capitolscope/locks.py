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
def exclusive(name: str, *, ttl: int) -> Iterator[None]:
    """Hold the lock ``name`` for the block, or raise AlreadyRunning at once.

    ``ttl`` (seconds) bounds how long a crashed holder can block others: set it a little above
    the holder's hard time limit.
    """
    lock = redis_client().lock(f"capitolscope:lock:{name}", timeout=ttl, blocking=False)
    if not lock.acquire(blocking=False):
        raise AlreadyRunning(f"{name} is already running (lock held; it expires within {ttl} s)")
    try:
        yield
    finally:
        # Expired while we ran: someone else may hold it now; leave theirs alone.
        with suppress(redis.exceptions.LockError):
            lock.release()
