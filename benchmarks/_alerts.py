"""Shared parts of the alerts benchmarks: real trades, bulk subscriptions, an SMTP sink, a worker.

- Trades are the two real community feeds (tests/fixtures/feeds/, ~14,900 records) imported
  through the ingestion services after the real congress-legislators roster, so politicians
  carry their party and chamber and the distribution of politicians and tickers is real.
- Subscriptions are bulk-inserted (bulk_create in batches), with the same invariants the
  service functions keep (filter flags, ticker rows, webhook secrets).
- The SMTP server is aiosmtpd in the benchmark process, counting messages as they arrive.
- The worker is a real ``celery worker`` subprocess (tests/processes.py), stopped by its pid.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections import Counter
from pathlib import Path

from _db import BASE_DIR, drop_database, setup_django

FEEDS = [
    ("tests/fixtures/feeds/senate-stock-watcher/all_transactions.json", "senate-watcher"),
    ("tests/fixtures/feeds/house-ptr-parsed/all_transactions.json", "house-watcher"),
]
ROSTER = "tests/fixtures/legislators/legislators-current.yaml"
# The benchmarks' own Redis database (the broker and the ingestion locks); never the default 0.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"

__all__ = ["BASE_DIR", "SmtpSink", "drop_database", "load_real_trades", "setup", "start_worker"]


def setup(db_name: str) -> str:
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    os.environ.pop("CELERY_BROKER_URL", None)
    return setup_django(db_name)


def load_real_trades() -> dict:
    """Load the roster and import both feeds (as history: stored already matched)."""
    from ingestion.parsers.legislators import parse_legislators_yaml
    from ingestion.services import legislators_load
    from ingestion.sync import file_import

    legislators_load(legislators=parse_legislators_yaml((BASE_DIR / ROSTER).read_bytes()))
    results = [
        file_import(data=(BASE_DIR / path).read_bytes(), file_format=fmt, location=path)
        for path, fmt in FEEDS
    ]
    return {"created": sum(result["created"] for result in results)}


def weighted_picker(counts: Counter, rng: random.Random):
    """Pick keys with weight sqrt(count + 1): people follow active traders and popular tickers
    more often, but not in proportion to volume (a few members file most of the trades)."""
    keys = list(counts)
    weights = [(counts[key] + 1) ** 0.5 for key in keys]

    def pick(k: int) -> list:
        chosen: list = []
        while len(chosen) < min(k, len(keys)):
            key = rng.choices(keys, weights)[0]
            if key not in chosen:
                chosen.append(key)
        return chosen

    return pick


def make_users(count: int, prefix: str) -> list[int]:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    User.objects.bulk_create(
        [
            User(username=f"{prefix}{n}", email=f"{prefix}{n}@example.com", password="!")  # noqa: S106 - unusable
            for n in range(count)
        ],
        batch_size=5000,
    )
    return list(
        User.objects.filter(username__startswith=prefix).order_by("id").values_list("id", flat=True)
    )


def insert_subscriptions(specs: list[dict], *, batch_size: int = 5000) -> list[int]:
    """Bulk-insert subscriptions from dicts of model fields plus ``politician_ids`` and
    ``tickers``; keeps the filter flags and child tables as the services do. Returns ids."""
    from alerts.models import Subscription, SubscriptionTicker, new_signing_secret

    Through = Subscription.politicians.through
    ids: list[int] = []
    for start in range(0, len(specs), batch_size):
        chunk = specs[start : start + batch_size]
        rows = []
        for spec in chunk:
            fields = {
                k: v
                for k, v in spec.items()
                if k not in ("politician_ids", "tickers") and not k.startswith("_")
            }
            if fields.get("channel") == "webhook":
                fields["signing_secret"] = new_signing_secret()
            rows.append(
                Subscription(
                    has_politician_filter=bool(spec.get("politician_ids")),
                    has_ticker_filter=bool(spec.get("tickers")),
                    **fields,
                )
            )
        created = Subscription.objects.bulk_create(rows)
        links, tickers = [], []
        for subscription, spec in zip(created, chunk, strict=True):
            ids.append(subscription.pk)
            links += [
                Through(subscription_id=subscription.pk, politician_id=pid)
                for pid in spec.get("politician_ids", ())
            ]
            tickers += [
                SubscriptionTicker(subscription_id=subscription.pk, ticker=ticker)
                for ticker in spec.get("tickers", ())
            ]
        Through.objects.bulk_create(links, batch_size=batch_size)
        SubscriptionTicker.objects.bulk_create(tickers, batch_size=batch_size)
    return ids


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that counts what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                now = time.perf_counter()
                with sink._lock:
                    sink.messages += 1
                    sink.recipients += len(envelope.rcpt_tos)
                    sink.arrivals.append(now)
                    sink.last_message = envelope.content
                    sink._changed.notify_all()
                return "250 OK"

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.messages = 0
        self.recipients = 0
        self.arrivals: list[float] = []
        self.last_message = b""
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        import logging

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per SMTP command
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def reset(self) -> None:
        with self._lock:
            self.messages = self.recipients = 0
            self.arrivals = []

    def wait_for(self, count: int, *, timeout: float) -> float | None:
        """Block until ``count`` messages arrived; the arrival time of the last, or None."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.messages < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(min(left, 1.0))
            return self.arrivals[count - 1]

    def worker_env(self) -> dict[str, str]:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_USE_TLS": "0",
            "EMAIL_USE_SSL": "0",
        }


def start_worker(log_dir: Path, *, sink: SmtpSink, concurrency: int, queues: str):
    """A real ``celery worker`` on the benchmark database, mailing to ``sink``."""
    from tests.processes import start_worker as start
    from tests.processes import subprocess_env

    env = subprocess_env(**sink.worker_env(), DEBUG="0", LOG_LEVEL="warning")
    process, _hostname = start(log_dir, queues=queues, concurrency=concurrency, env=env)
    return process
