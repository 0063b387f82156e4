"""Alerts latency: one new trade, from the ingestion commit to the email at the SMTP server.

A real ``celery worker`` subprocess (queue ``notifications``, ``WORKER_CONCURRENCY``
processes, idle between trials) and a real SMTP server (aiosmtpd in this process). Each trial
imports one new trade through the ingestion path a sync uses (``ingestion.sync.file_import``
of our CSV format with ``notify=True``: one transaction, then ``trades_stored`` on commit ->
``alerts.match_new_trades`` -> ``alerts.deliver`` -> SMTP), for a politician one user
follows; 10,000 other subscriptions (tickers nobody trades here) sit in the table. The clock
starts just before ``file_import`` is called (so it includes the ingestion transaction
itself: an upper bound of "from commit") and stops when the SMTP server has the message.
50 trials, one second apart. Target (issue 4): p95 <= 2 s.

Run: python benchmarks/bench_alerts_latency.py   (BENCH_DATABASE_URL / DATABASE_URL: a
PostgreSQL; BENCH_REDIS_URL, default redis://127.0.0.1:6379/4)
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
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

DB_NAME = "capitolscope_bench_alerts_latency"
TRIALS = int(os.environ.get("BENCH_TRIALS", "50"))
BACKGROUND_SUBSCRIPTIONS = 10_000
CONCURRENCY = int(os.environ.get("WORKER_CONCURRENCY", "2"))
HEADER = (
    "chamber,politician,state_district,bioguide_id,filing_id,filing_url,filed_date,"
    "transaction_date,notification_date,owner,ticker,asset_name,asset_type,transaction_type,"
    "amount,comment\n"
)


def one_trade_csv(trial: int, today: dt.date) -> bytes:
    doc_id = f"2009{trial:04d}"
    row = (
        f"house,Nancy Pelosi,CA11,P000197,{doc_id},"
        f"https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2026/{doc_id}.pdf,"
        f"{today.isoformat()},{(today - dt.timedelta(days=3 + trial)).isoformat()},,spouse,NVDA,"
        f'NVIDIA Corporation - Common Stock,Stock,purchase,"$1,000,001 - $5,000,000",\n'
    )
    return (HEADER + row).encode()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> None:
    admin_url = setup(DB_NAME)
    sink = SmtpSink().start()
    worker = None
    try:
        from alerts.models import Delivery
        from capitolscope.celery import app as celery_app
        from ingestion.models import Politician, Trade
        from ingestion.sync import file_import

        celery_app.control.purge()
        today = dt.date.today()
        # The politician exists before the trials, as after any earlier sync.
        file_import(data=one_trade_csv(0, today), file_format="csv", location="seed")
        pelosi = Politician.objects.get()
        [user_id, *others] = make_users(1 + BACKGROUND_SUBSCRIPTIONS // 5, "lat")
        insert_subscriptions(
            [{"owner_id": user_id, "name": "Pelosi", "channel": "email",
              "target": "follower@example.com", "mode": "instant",
              "politician_ids": [pelosi.pk]}]
            + [{"owner_id": others[n % len(others)], "name": f"ticker {n}", "channel": "email",
                "target": f"other{n}@example.com", "mode": "instant",
                "tickers": [f"Z{n:05d}"]}
               for n in range(BACKGROUND_SUBSCRIPTIONS)]
        )  # fmt: skip
        analyze()

        log_dir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
        worker = start_worker(log_dir, sink=sink, concurrency=CONCURRENCY, queues="notifications")
        time.sleep(2)  # idle
        latencies, commits = [], []
        for trial in range(1, TRIALS + 1):
            expected = sink.messages + 1
            started = time.perf_counter()
            result = file_import(
                data=one_trade_csv(trial, today), file_format="csv", location=f"trial {trial}",
                notify=True,
            )  # fmt: skip
            committed = time.perf_counter()
            if result["created"] != 1:
                raise SystemExit(f"trial {trial}: the import did not create one trade: {result}")
            arrived = sink.wait_for(expected, timeout=60)
            if arrived is None:
                raise SystemExit(f"trial {trial}: no message within 60 s\n{worker.tail()}")
            latencies.append(arrived - started)
            commits.append(committed - started)
            time.sleep(1.0)
        unmatched = Trade.objects.filter(matched_at__isnull=True).count()
        sent = Delivery.objects.filter(status="sent").count()
        print(
            f"{TRIALS} trials, one new trade each (worker: {CONCURRENCY} processes, idle "
            f"between trials; {BACKGROUND_SUBSCRIPTIONS:,} other subscriptions in the table)"
        )
        p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
        print(
            f"ingestion call -> message at the SMTP server: p50 {p50:.3f} s, p95 {p95:.3f} s, "
            f"max {max(latencies):.3f} s (target p95 <= 2 s)"
        )
        print(
            f"  of which the ingestion call itself (file_import, until its commit): "
            f"p50 {statistics.median(commits):.3f} s"
        )
        print(
            f"messages received: {sink.messages}; deliveries sent: {sent}; unmatched: {unmatched}"
        )
        print("target met" if p95 <= 2.0 else "TARGET MISSED")
    finally:
        if worker is not None:
            worker.stop()
        sink.stop()
        drop_database(admin_url, DB_NAME)


if __name__ == "__main__":
    main()
