"""Read the broker's state (queue depths) and ask workers who is alive, in bounded time.

These are reads the health checks, the dashboard, the API and /metrics share. Every function
here returns within its ``timeout`` (plus a little) even when Redis accepts connections and
never answers, or a worker hangs: the broker calls run in a daemon thread that is abandoned
at the deadline (``call_with_deadline``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from celery.app.control import flatten_reply
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


class _EveryoneReplied(Exception):
    """Raised by ``ReplyCollector`` to end kombu's reply loop early (it has no other hook)."""


@dataclass
class ReplyCollector:
    """The replies to one broadcast, as they arrive; it ends the wait once the replies name
    every ``expected`` worker.

    kombu's reply loop (``Mailbox._collect``) stops after ``limit`` messages or once no reply
    came for ``timeout`` seconds. A count is not enough: a worker nobody expected (started
    since the last look) that replies first would take a place and cut off an expected one,
    which would then look dead. So a broadcast gets no ``limit``; this per-reply callback
    raises ``_EveryoneReplied`` out of the loop once everyone expected has replied (the
    replies are kept here). With nobody expected it never stops the loop: the broadcast waits
    the whole timeout, as it must to hear from workers it does not know.
    """

    expected: frozenset[str] = frozenset()
    replies: list[dict] = field(default_factory=list)
    everyone_replied: bool = False

    def __call__(self, reply: dict) -> None:
        self.replies.append(reply)
        if self.expected and self.expected <= {name for body in self.replies for name in body}:
            self.everyone_replied = True
            raise _EveryoneReplied


def replies_until_everyone(
    send: Callable[[ReplyCollector], list[dict] | None], *, expected: Collection[str]
) -> tuple[list[dict], bool]:
    """``send(callback)`` makes one broadcast with ``callback`` as its per-reply callback;
    return its replies, and whether they stopped early because every ``expected`` worker
    had replied (see ``ReplyCollector``)."""
    collector = ReplyCollector(expected=frozenset(expected))
    try:
        replies = send(collector) or []
    except _EveryoneReplied:
        replies = collector.replies
    return replies, collector.everyone_replied


@dataclass
class WorkerPing:
    """Who answered a control ping, and which queues each of them consumes."""

    workers: dict[str, list[str]] = field(default_factory=dict)  # hostname -> queues
    # Workers that answered the ping but not the queue inspection in time.
    unknown_queues: list[str] = field(default_factory=list)
    # The broadcast ended as soon as every expected worker had answered, not at the timeout:
    # a worker nobody expected may have answered too late to be heard, so an absent worker
    # is not evidence that it is gone.
    stopped_early: bool = False

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


def workers_ping(
    *,
    timeout: float = 2.0,
    destination: list[str] | None = None,
    expect: Collection[str] = (),
) -> WorkerPing:
    """Ping the workers and ask each for its queues; both bounded by ``timeout``.

    Without ``destination`` the ping is broadcast: any worker may answer. It waits until no
    reply came for ``timeout`` seconds, unless ``expect`` names workers: then it ends as soon
    as all of them have answered (``stopped_early``), and waits the timeout only when one of
    them does not. Workers that were not expected are listed when they answered by then.
    With ``destination``, only those workers are asked and each call returns as soon as all
    of them replied (Celery stops at ``limit=len(destination)`` replies). The queue
    inspection that follows asks the workers that answered and returns once each of them
    replied: not after a count of replies, because a late answer to the ping (from a worker
    not waited for) can arrive on the same reply queue and would take a place. Raises
    ProbeTimeout when the broker itself does not let us ask in time, or the broker's error;
    a worker that does not answer is simply absent from the result.
    """
    from capitolscope.celery import app

    if destination is not None and expect:
        raise ValueError("expect applies to a broadcast; destination already says who answers")

    def ask() -> WorkerPing:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            replies, stopped_early = replies_until_everyone(
                lambda callback: app.control.ping(
                    destination=destination,
                    limit=len(destination) if destination else None,
                    timeout=timeout,
                    connection=conn,
                    callback=callback,
                ),
                expected=expect,
            )
            alive = sorted({name for reply in replies for name in reply})
            result = WorkerPing(workers={name: [] for name in alive}, stopped_early=stopped_early)
            if not alive:
                return result
            queue_replies, _ = replies_until_everyone(
                lambda callback: app.control.broadcast(
                    "active_queues",
                    destination=alive,
                    # No count: kombu would stop after len(alive) messages, late pongs
                    # included. The collector ends the wait, or the timeout does.
                    limit=sys.maxsize,
                    reply=True,
                    timeout=timeout,
                    connection=conn,
                    callback=callback,
                ),
                expected=alive,
            )
            active = flatten_reply(queue_replies)
        for name in alive:
            if name in active:
                result.workers[name] = sorted(queue["name"] for queue in active[name] or [])
            else:
                result.unknown_queues.append(name)
        return result

    # ping and inspect each wait up to ``timeout``; the connection gets the same again.
    return call_with_deadline(ask, timeout=3 * timeout + 1, what="the workers (control ping)")
