"""Reading a feed again after its filing digests stopped matching creates nothing.

A digest mismatch happens for real: ``DIGEST_VERSION`` is bumped when the rules change, or a
feed corrects one field of one record. The filings are then read again in full, and the
decision "new trade / unchanged duplicate / update" must come out as it did the first time.
The tests invalidate digests the way a deployment sees it: the stored digests no longer
match (cleared in the database), or a record of the file itself changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion import sync
from ingestion.models import Filing, RejectedRecord, Trade

pytestmark = pytest.mark.django_db
FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
SENATE_FLAT = FEEDS / "senate-stock-watcher/all_transactions.json"
SENATE_DAILY = FEEDS / "senate-stock-watcher/daily_summaries_2020H2_2021Q1.json"
HOUSE_FEED = FEEDS / "house-ptr-parsed/all_transactions.json"
# A filing of the flat Senate feed that restates trades of another filing (Pat Roberts, 2017)
# next to trades of its own: only its own trades are stored under it.
RESTATING_FILING = "8e2a3cb5"


def import_data(data: bytes, file_format: str, location: str) -> dict:
    return sync.file_import(data=data, file_format=file_format, location=location)


def import_file(path: Path, file_format: str) -> dict:
    return import_data(path.read_bytes(), file_format, path.name)


def invalidate_digests() -> None:
    """What a DIGEST_VERSION bump amounts to: no stored digest matches any more."""
    Filing.objects.update(source_digest="")


def snapshot() -> tuple[int, int, int]:
    return Trade.objects.count(), Filing.objects.count(), RejectedRecord.objects.count()


def assert_every_record_accounted_for(result: dict) -> None:
    assert result["fetched"] == (
        result["created"]
        + result["updated"]
        + result["unchanged"]
        + result["rejected"]
        + result["needs_review"]
    )


def test_the_flat_senate_feed_read_again_with_stale_digests_creates_nothing():
    first = import_file(SENATE_FLAT, "senate-watcher")
    assert first["unchanged"] == 26  # rows restating a trade of another filing
    restating = Filing.objects.get(doc_id__startswith=RESTATING_FILING)
    # 16 rows: 4 trades of its own, 12 restating trades stored under another filing.
    assert restating.trades.count() == 4
    before = snapshot()
    invalidate_digests()

    again = import_file(SENATE_FLAT, "senate-watcher")

    assert again["created"] == 0
    assert again["updated"] == 0
    assert again["rejected"] == 0
    assert again["unchanged"] == again["fetched"] == 8350
    assert_every_record_accounted_for(again)
    assert snapshot() == before
    assert restating.trades.count() == 4
    # Digests are stored again: the next unchanged import skips every filing.
    assert not Filing.objects.filter(source_digest="").exists()


def test_flat_then_daily_then_flat_again_with_stale_digests_creates_nothing():
    # The reported sequence: a deployment that loaded both Senate feeds, then re-read the
    # flat one after its digests were invalidated.
    import_file(SENATE_FLAT, "senate-watcher")
    daily = import_file(SENATE_DAILY, "senate-watcher-daily")
    before = snapshot()
    invalidate_digests()

    again = import_file(SENATE_FLAT, "senate-watcher")

    assert again["created"] == 0
    assert again["rejected"] == 0
    assert_every_record_accounted_for(again)
    assert snapshot() == before
    daily_again = import_file(SENATE_DAILY, "senate-watcher-daily")
    assert daily_again["created"] == 0
    assert snapshot() == before
    # The daily feed's paper filings were already stored by the flat feed: unchanged.
    assert_every_record_accounted_for(daily)
    assert_every_record_accounted_for(daily_again)


def test_a_feed_correcting_one_field_updates_that_trade_and_duplicates_nothing():
    records = json.loads(SENATE_FLAT.read_bytes())
    import_data(SENATE_FLAT.read_bytes(), "senate-watcher", SENATE_FLAT.name)
    before = snapshot()
    # Correct the comment of a row stored under the restating filing: that filing's digest
    # changes, so the whole filing is read again, with its rows that restate another filing.
    stored = Trade.objects.filter(filing__doc_id__startswith=RESTATING_FILING).earliest(
        "line_number"
    )
    rows = [i for i, record in enumerate(records) if RESTATING_FILING in record["ptr_link"]]
    records[rows[stored.line_number - 1]]["comment"] = "corrected by the feed"

    result = import_data(json.dumps(records).encode(), "senate-watcher", SENATE_FLAT.name)

    assert result["created"] == 0
    assert result["updated"] == 1
    assert result["rejected"] == 0
    assert_every_record_accounted_for(result)
    assert snapshot() == before
    stored.refresh_from_db()
    assert stored.comment == "corrected by the feed"


def test_the_house_feed_read_again_with_stale_digests_creates_nothing():
    import_file(HOUSE_FEED, "house-watcher")
    before = snapshot()
    invalidate_digests()

    again = import_file(HOUSE_FEED, "house-watcher")

    assert again["created"] == 0
    assert again["updated"] == 0
    assert snapshot()[:2] == before[:2]
    # The file's bad rows are rejected again, with their reasons, on every reading.
    assert again["rejected"] == 6
    assert_every_record_accounted_for(again)
