"""Ingestion throughput: import the two real community feeds (~14,900 records) into PostgreSQL.

Prints records/s for a first import and for a re-import (every record a duplicate), the row
counts that prove the re-import created nothing, and, as a baseline measured in the same run,
the naive way: one ORM get-or-create per record on a sample, extrapolated.

Targets (issue 3): first import >= 5,000 records/s, re-import >= 10,000 records/s.
Run: python benchmarks/bench_ingestion.py   (BENCH_DATABASE_URL / DATABASE_URL: a PostgreSQL)
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from _db import BASE_DIR, drop_database, setup_django

DB_NAME = "capitolscope_bench_ingestion"
FEEDS = [
    ("tests/fixtures/feeds/senate-stock-watcher/all_transactions.json", "senate-watcher"),
    ("tests/fixtures/feeds/house-ptr-parsed/all_transactions.json", "house-watcher"),
]
NAIVE_SAMPLE = 500


def import_all(file_import, blobs) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    results = [
        file_import(data=data, file_format=fmt, location=path, notify=False)
        for path, fmt, data in blobs
    ]
    return time.perf_counter() - started, results


def naive_per_record(blobs) -> float:
    """Seconds per record for one get_or_create per filing and per trade (no batching)."""
    from django.db import transaction

    from ingestion import normalize
    from ingestion.models import Asset, Filing, Politician, Trade
    from ingestion.parsers import feeds

    path, _, data = blobs[1]
    batch = feeds.parse_house_watcher(data, location=path)
    rows = [(filing, trade) for filing in batch.filings for trade in filing.trades][:NAIVE_SAMPLE]
    today = dt.date.today()
    started = time.perf_counter()
    with transaction.atomic():
        for filing, raw in rows:
            try:
                trade = normalize.normalize_trade(raw, today=today)
            except normalize.Rejected:
                continue
            name = filing.politician_name
            politician, _ = Politician.objects.get_or_create(
                chamber="house", name_key=f"naive|{name}", bioguide_id="",
                defaults={"last_name": name[:100], "full_name": name[:200]},
            )  # fmt: skip
            asset, _ = Asset.objects.get_or_create(
                ticker="",
                name_key=f"naive {trade.ticker} {trade.asset_name}"[:300],
                defaults={"name": trade.asset_name[:300]},
            )
            db_filing, _ = Filing.objects.get_or_create(
                chamber="house", doc_id=f"naive-{filing.doc_id}",
                defaults={"politician": politician, "source": "file"},
            )  # fmt: skip
            Trade.objects.get_or_create(
                filing=db_filing, line_number=raw.line_number,
                defaults={
                    "politician": politician, "asset": asset, "chamber": "house",
                    "transaction_type": trade.transaction_type,
                    "transaction_date": trade.transaction_date, "owner": trade.owner,
                    "amount_min": trade.amount_min, "amount_max": trade.amount_max,
                    "amount_label": trade.amount_label, "asset_kind": trade.asset_type,
                    "fingerprint": "naive", "content_hash": "naive",
                },
            )  # fmt: skip
        transaction.set_rollback(True)  # leave the benchmark database as the real imports left it
    return (time.perf_counter() - started) / len(rows)


ROUNDS = 3


def settle() -> None:
    """Flush PostgreSQL's dirty buffers so the next timing does not pay for earlier work."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ingestion_trade, ingestion_filing, ingestion_asset, ingestion_politician, "
            "ingestion_rejectedrecord, ingestion_ingestionrun RESTART IDENTITY CASCADE"
        )


def main() -> None:
    admin_url = setup_django(DB_NAME)
    try:
        from ingestion.models import Filing, RejectedRecord, Trade
        from ingestion.sync import file_import

        blobs = [(path, fmt, (BASE_DIR / path).read_bytes()) for path, fmt in FEEDS]
        first_times, second_times = [], []
        for round_number in range(ROUNDS):
            if round_number:
                empty_tables()
            settle()
            seconds, first = import_all(file_import, blobs)
            first_times.append(seconds)
            counts_after_first = (Trade.objects.count(), Filing.objects.count())
            settle()
            seconds, second = import_all(file_import, blobs)
            second_times.append(seconds)
            counts_after_second = (Trade.objects.count(), Filing.objects.count())
        naive_seconds = naive_per_record(blobs)

        records = sum(result["fetched"] for result in first)
        first_seconds, second_seconds = (
            statistics.median(first_times),
            statistics.median(second_times),
        )
        first_rate = records / first_seconds
        second_rate = records / second_seconds
        naive_rate = 1 / naive_seconds
        print(f"records in the two feeds: {records}; median of {ROUNDS} rounds on a fresh database")
        print(f"first import: {first_seconds:6.2f} s {first_rate:8.0f} records/s (target >= 5,000)")
        print(
            f"re-import:    {second_seconds:6.2f} s {second_rate:8.0f} records/s (target >= 10,000)"
        )
        print("  rounds (s): first " + ", ".join(f"{t:.2f}" for t in first_times)
              + "; re-import " + ", ".join(f"{t:.2f}" for t in second_times))  # fmt: skip
        print(
            f"naive baseline: one get_or_create per record, {NAIVE_SAMPLE}-record sample, "
            f"extrapolated: {naive_rate:8.0f} records/s"
        )
        print(f"speed-up vs naive: first import x{first_rate / naive_rate:.1f}, "
              f"re-import x{second_rate / naive_rate:.1f}")  # fmt: skip
        for label, results in (("first", first), ("re-import", second)):
            for result in results:
                print(
                    f"  {label:<9} {result['source']:<15} fetched {result['fetched']:>5}  "
                    f"created {result['created']:>5}  updated {result['updated']:>3}  "
                    f"unchanged {result['unchanged']:>5}  rejected {result['rejected']:>2}  "
                    f"needs review {result['needs_review']:>3}"
                )
        print(f"trades/filings after first import: {counts_after_first}")
        print(f"trades/filings after re-import:    {counts_after_second}")
        duplicates = counts_after_first != counts_after_second or any(r["created"] for r in second)
        print(f"duplicates created by the re-import: {'YES' if duplicates else 'none'}")
        print(f"rejected records kept with reasons: {RejectedRecord.objects.count()}")
        ok = first_rate >= 5000 and second_rate >= 10000 and not duplicates
        print("targets met" if ok else "TARGETS MISSED")
    finally:
        drop_database(admin_url, DB_NAME)


if __name__ == "__main__":
    main()
