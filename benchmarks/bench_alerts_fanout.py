"""Alerts fan-out: 20,000 notifications for 5,000 subscribers delivered by a real worker.

5,000 users each have an instant email subscription to one politician; 4 new trades by that
politician are matched (``alerts.services.trades_match``: 20,000 notifications, one delivery per
subscriber) and the 5,000 ``alerts.deliver`` tasks are enqueued as ``alerts.tasks`` does. A
real ``celery worker`` subprocess (queue ``notifications``, prefork, ``WORKER_CONCURRENCY``
processes, on the benchmark's own Redis database) sends them to a real SMTP server (aiosmtpd
in this process) that counts the messages. Timed: from the first enqueue to the last message
received.

Baseline in the same run, same worker: one task per notification — 500 other subscribers
get 1 notification each (one trade), i.e. 500 deliveries, 500 tasks, 500 messages, through
the same real path; the time per notification is EXTRAPOLATED to 20,000 notifications.

Run: python benchmarks/bench_alerts_fanout.py   (BENCH_DATABASE_URL / DATABASE_URL: a
PostgreSQL; BENCH_REDIS_URL, default redis://127.0.0.1:6379/4)
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import tempfile
import time
from pathlib import Path

from _alerts import (
    SmtpSink,
    analyze,
    drop_database,
    insert_subscriptions,
    make_users,
    setup,
    start_worker,
)

DB_NAME = "capitolscope_bench_alerts_fanout"
SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "5000"))
TRADES_PER_SUBSCRIBER = 4
BASELINE_SAMPLE = int(os.environ.get("BENCH_BASELINE_SAMPLE", "500"))
CONCURRENCY = int(os.environ.get("WORKER_CONCURRENCY", "2"))
TIMEOUT = 1800


def make_trades(politician, count: int, *, doc_id: str) -> list[int]:
    from ingestion.models import Asset, Filing, Trade

    filing = Filing.objects.create(
        chamber=politician.chamber, doc_id=doc_id, politician=politician, source="file",
        filed_date=dt.date(2026, 11, 20),
        source_url=f"https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2026/{doc_id}.pdf",
    )  # fmt: skip
    tickers = ["NVDA", "AAPL", "MSFT", "AMZN", "GOOGL", "META"]
    trades = []
    for line in range(1, count + 1):
        ticker = tickers[line % len(tickers)]
        asset, _ = Asset.objects.get_or_create(
            ticker=ticker, defaults={"name": f"{ticker} Inc.", "name_key": ticker.lower()}
        )
        trades.append(
            Trade(
                filing=filing, line_number=line, politician=politician, asset=asset,
                chamber=politician.chamber, transaction_type="purchase",
                transaction_date=dt.date(2026, 11, 3), filed_date=dt.date(2026, 11, 20),
                owner="self", amount_min=15001, amount_max=50000,
                amount_label="$15,001 - $50,000", asset_kind="stock",
                disclosure_delay_days=17, fingerprint=f"{doc_id}-{line}",
                content_hash=f"{doc_id}-{line}", matched_at=None,
            )
        )  # fmt: skip
    return [trade.pk for trade in Trade.objects.bulk_create(trades)]


def make_politician(last: str, first: str, bioguide: str):
    from ingestion.models import Politician

    return Politician.objects.create(
        last_name=last, first_name=first, full_name=f"{first} {last}", chamber="house",
        party="D", state="CA", district="11", bioguide_id=bioguide, is_resolved=True,
        name_key=f"{last}|{first}".lower(),
    )  # fmt: skip


def subscribe(user_ids: list[int], politician) -> None:
    insert_subscriptions(
        [
            {"owner_id": uid, "name": f"{politician.last_name} trades", "channel": "email",
             "target": f"subscriber{uid}@example.com", "mode": "instant",
             "politician_ids": [politician.pk]}
            for uid in user_ids
        ]
    )  # fmt: skip


def deliver_all(sink: SmtpSink, delivery_ids: list[int]) -> float:
    """Enqueue one alerts.deliver per delivery; seconds until the last message arrived."""
    from alerts.tasks import deliver

    sink.reset()
    started = time.perf_counter()
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)
    last = sink.wait_for(len(delivery_ids), timeout=TIMEOUT)
    if last is None:
        raise SystemExit(
            f"only {sink.messages} of {len(delivery_ids)} messages arrived in {TIMEOUT} s"
        )
    return last - started


def all_sent(delivery_ids: list[int]) -> int:
    """How many of the deliveries are marked sent, once the worker had time to record the
    last ones (their status is written just after their message left)."""
    from alerts.models import Delivery

    sent = Delivery.objects.filter(pk__in=delivery_ids, status="sent")
    deadline = time.monotonic() + 30
    while sent.count() < len(delivery_ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return sent.count()


def plain_text(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def main() -> None:
    admin_url = setup(DB_NAME)
    sink = SmtpSink().start()
    worker = None
    try:
        from alerts import services
        from alerts.models import Delivery
        from capitolscope.celery import app as celery_app

        celery_app.control.purge()
        users = make_users(SUBSCRIBERS + BASELINE_SAMPLE, "fan")
        followed = make_politician("Pelosi", "Nancy", "P000197")
        other = make_politician("Khanna", "Ro", "K000389")
        subscribe(users[:SUBSCRIBERS], followed)
        subscribe(users[SUBSCRIBERS:], other)
        make_trades(followed, TRADES_PER_SUBSCRIBER, doc_id="20099001")
        analyze()

        started = time.perf_counter()
        batched = services.trades_match(limit=2000)
        match_seconds = time.perf_counter() - started
        assert len(batched.delivery_ids) == SUBSCRIBERS, batched
        print(
            f"matched {batched.trades} trades: {batched.notifications:,} notifications, "
            f"{len(batched.delivery_ids):,} deliveries in {match_seconds:.2f} s (not in the "
            "delivery timing below)"
        )

        log_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
        worker = start_worker(
            log_dir, sink=sink, concurrency=CONCURRENCY, queues="notifications,default"
        )
        seconds = deliver_all(sink, batched.delivery_ids)
        sent = all_sent(batched.delivery_ids)
        rate = SUBSCRIBERS / seconds
        print(
            f"batched (one message per subscriber): {SUBSCRIBERS:,} messages carrying "
            f"{batched.notifications:,} notifications in {seconds:.1f} s -> {rate:.0f} messages/s, "
            f"{batched.notifications / seconds:.0f} notifications/s (worker: {CONCURRENCY} "
            f"processes); deliveries marked sent: {sent:,}"
        )
        text = plain_text(sink.last_message)
        print(f"  the last message received lists {text.count('$15,001 - $50,000')} trades")

        # Baseline: one task (and one message) per notification, same worker, same path.
        make_trades(other, 1, doc_id="20099002")
        single = services.trades_match(limit=2000)
        assert len(single.delivery_ids) == BASELINE_SAMPLE == single.notifications, single
        sample_seconds = deliver_all(sink, single.delivery_ids)
        per_notification = sample_seconds / BASELINE_SAMPLE
        extrapolated = per_notification * batched.notifications
        print(
            f"one task per notification: {BASELINE_SAMPLE} notifications in {sample_seconds:.1f} s "
            f"({1 / per_notification:.0f} messages/s) -> EXTRAPOLATED to "
            f"{batched.notifications:,} notifications: {extrapolated:.0f} s"
        )
        print(
            f"batched delivery vs one task per notification: x{extrapolated / seconds:.1f} "
            "faster to deliver the same notifications"
        )
        all_sent(single.delivery_ids)
        failed = Delivery.objects.exclude(status="sent").count()
        print(f"deliveries not sent: {failed}")
    finally:
        if worker is not None:
            worker.stop()
        sink.stop()
        drop_database(admin_url, DB_NAME)


if __name__ == "__main__":
    main()
