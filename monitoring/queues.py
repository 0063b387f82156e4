"""Read the broker's state (queue depths) and ask workers who is alive, in bounded time.

These are reads the health checks, the dashboard, the API and /metrics share. Every function
here returns within its ``timeout`` (plus a little) even when Redis accepts connections and
never answers, or a worker hangs: the broker calls run in a daemon thread that is abandoned
at the deadline (``call_with_deadline``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from django.conf import settings

T = TypeVar("T")

# kombu's Redis transport keeps a message with priority p in the list "<queue>" when p falls
# in the first step and in "<queue>\x06\x16<step>" otherwise (kombu.transport.redis).
PRIORITY_SEPARATOR = "\x06\x16"
DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)


class ProbeTimeout(Exception):
    """A broker or worker call did not finish within its deadline."""


def call_with_deadline(fn: Callable[[], T], *, timeout: float, what: str) -> T:
    """Run ``fn`` in a daemon thread; return its value or raise what it raised.

    Raises ProbeTimeout when it has not finished after ``timeout`` seconds; the thread is left
    to finish (or hang) on its own, so a hung socket never holds the caller.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"probe:{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ProbeTimeout(f"{what} did not answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def queue_names() -> tuple[str, ...]:
    return tuple(settings.CELERY_QUEUE_NAMES)


def priority_steps() -> tuple[int, ...]:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    return tuple(options.get("priority_steps") or DEFAULT_PRIORITY_STEPS)


def redis_list_names(queue: str) -> list[str]:
    """The Redis lists that hold ``queue``'s messages: the queue itself and its priority lists."""
    return [queue] + [f"{queue}{PRIORITY_SEPARATOR}{step}" for step in priority_steps() if step]


def broker_url() -> str:
    from capitolscope.celery import app

    return app.conf.broker_url or settings.CELERY_BROKER_URL


def queue_depths(*, timeout: float = 3.0, queues: tuple[str, ...] | None = None) -> dict[str, int]:
    """Messages waiting per queue (all priority lists summed), e.g. ``{"default": 0, …}``.

    Messages a worker has taken but not acknowledged are not counted (they are "unacked").
    Raises ProbeTimeout or the Redis error when the broker does not answer in time, and
    ValueError when the broker is not Redis.
    """
    url = broker_url()
    if urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(f"queue depths are read from Redis; the broker is {urlsplit(url).scheme}")
    names = queues or queue_names()

    def read() -> dict[str, int]:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            pipe = client.pipeline(transaction=False)
            layout = [(queue, redis_list_names(queue)) for queue in names]
            for _queue, lists in layout:
                for name in lists:
                    pipe.llen(name)
            lengths = iter(pipe.execute())
            return {queue: sum(next(lengths) for _ in lists) for queue, lists in layout}
        finally:
            client.close()

    return call_with_deadline(read, timeout=timeout + 0.5, what="the broker (queue depths)")


@dataclass
class WorkerPing:
    """Who answered a control ping, and which queues each of them consumes."""

    workers: dict[str, list[str]] = field(default_factory=dict)  # hostname -> queues
    # Workers that answered the ping but not the queue inspection in time.
    unknown_queues: list[str] = field(default_factory=list)

    @property
    def hostnames(self) -> list[str]:
        return sorted(self.workers)

    def consumers(self) -> dict[str, list[str]]:
        """Queue name -> hostnames consuming it, for every configured queue (maybe empty)."""
        by_queue: dict[str, list[str]] = {queue: [] for queue in queue_names()}
        for hostname, queues in sorted(self.workers.items()):
            for queue in queues:
                by_queue.setdefault(queue, []).append(hostname)
        return by_queue

    def as_dict(self) -> dict:
        return {
            "workers": {name: sorted(queues) for name, queues in sorted(self.workers.items())},
            "consumers": self.consumers(),
            "unknown_queues": sorted(self.unknown_queues),
        }


def workers_ping(*, timeout: float = 2.0, destination: list[str] | None = None) -> WorkerPing:
    """Ping the workers and ask each for its queues; both bounded by ``timeout``.

    Without ``destination`` the ping is broadcast and waits the whole ``timeout`` (any worker
    may answer). With it, only those workers are asked and each call returns as soon as all
    of them replied (Celery stops at ``limit=len(destination)`` replies), so it waits the
    whole timeout only when one of them does not answer. Raises ProbeTimeout when the broker
    itself does not let us ask in time, or the broker's error; a worker that does not answer
    is simply absent from the result.
    """
    from capitolscope.celery import app

    def ask() -> WorkerPing:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            replies = (
                app.control.ping(
                    destination=destination,
                    limit=len(destination) if destination else None,
                    timeout=timeout,
                    connection=conn,
                )
                or []
            )
            alive = sorted({name for reply in replies for name in reply})
            result = WorkerPing(workers={name: [] for name in alive})
            if not alive:
                return result
            active = (
                app.control.inspect(
                    destination=alive, timeout=timeout, connection=conn, limit=len(alive)
                ).active_queues()
                or {}
            )
        for name in alive:
            if name in active:
                result.workers[name] = sorted(queue["name"] for queue in active[name] or [])
            else:
                result.unknown_queues.append(name)
        return result

    # ping and inspect each wait up to ``timeout``; the connection gets the same again.
    return call_with_deadline(ask, timeout=3 * timeout + 1, what="the workers (control ping)")
