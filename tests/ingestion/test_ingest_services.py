"""Storing ingested records: real files in, rows out; nothing dropped, nothing doubled."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from ingestion import services, sync
from ingestion.models import Asset, Filing, IngestionRun, Politician, RejectedRecord, Trade
from ingestion.parsers.legislators import parse_legislators_yaml
from ingestion.parsers.senate import parse_ptr_page
from ingestion.records import Chamber, RawFiling
from tests.ingestion.test_senate_parsers import PTR_PAGES

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SENATE_FLAT = FIXTURES / "feeds/senate-stock-watcher/all_transactions.json"
HOUSE_FEED = FIXTURES / "feeds/house-ptr-parsed/all_transactions.json"
SENATE_DAILY = FIXTURES / "feeds/senate-stock-watcher/daily_summaries_2020H2_2021Q1.json"
TODAY = dt.date(2026, 11, 23)


def import_file(path: Path, file_format: str, **kwargs) -> dict:
    return sync.file_import(
        data=path.read_bytes(), file_format=file_format, location=path.name, **kwargs
    )


def ingest_pages(*names: str, run_source: str = Filing.Source.SENATE_EFD) -> dict:
    filings = []
    for name in names:
        doc_id = PTR_PAGES[name]
        filings.append(
            parse_ptr_page(
                (FIXTURES / "senate" / name).read_bytes(),
                doc_id=doc_id,
                url=f"https://efdsearch.senate.gov/search/view/ptr/{doc_id}/",
                location=name,
            )
        )
    run = services.run_start(source=run_source)
    counts = services.filings_ingest(filings, run=run, source=run_source, today=TODAY)
    services.run_finish(run, counts)
    return services.run_result(run)


@pytest.fixture
def roster():
    legislators = parse_legislators_yaml(
        (FIXTURES / "legislators/legislators-current.yaml").read_bytes()
    )
    services.legislators_load(legislators=legislators)


def test_the_senate_feed_imports_every_record_as_a_trade_or_a_filing_to_review():
    result = import_file(SENATE_FLAT, "senate-watcher")
    assert result["status"] == "succeeded"
    assert result["fetched"] == 8350
    assert result["created"] == 7861
    # The flat feed lists restated PTRs under their own links: 26 rows repeat a trade already
    # reported under another link and count as duplicates (the fingerprint rule).
    assert result["unchanged"] == 26
    assert result["needs_review"] == 463  # paper placeholders: filings, never dropped
    assert result["rejected"] == 0
    assert result["created"] + result["unchanged"] + result["needs_review"] == result["fetched"]
    assert Filing.objects.count() == 1413
    assert Filing.objects.filter(status=Filing.Status.NEEDS_REVIEW, trade_count=0).count() == 463
    assert Trade.objects.count() == 7861


def test_a_feed_row_becomes_a_trade_with_the_values_the_source_printed():
    import_file(SENATE_FLAT, "senate-watcher")
    # First row of the file: Ron L Wyden, spouse, Sale (Full) BYND 11/10/2020, $50,001 - $100,000.
    filing = Filing.objects.get(chamber="senate", doc_id="a0010f4a-c31a-4824-8b6d-6399b3ccb6f0")
    trade = filing.trades.get(asset__ticker="BYND")
    assert trade.politician.last_name == "Wyden"
    assert trade.transaction_type == Trade.TransactionType.SALE_FULL
    assert trade.owner == Trade.Owner.SPOUSE
    assert trade.transaction_date == dt.date(2020, 11, 10)
    assert (trade.amount_min, trade.amount_max) == (50001, 100000)
    assert trade.amount_label == "$50,001 - $100,000"
    assert trade.asset.name == "Beyond Meat, Inc."
    assert trade.comment == ""
    assert trade.matched_at is not None  # a backfill never alerts
    assert trade.filed_date is None and trade.is_late() is False


def test_importing_the_same_files_twice_creates_nothing_the_second_time():
    first = [import_file(SENATE_FLAT, "senate-watcher"), import_file(HOUSE_FEED, "house-watcher")]
    trades, filings, assets = Trade.objects.count(), Filing.objects.count(), Asset.objects.count()
    second = [import_file(SENATE_FLAT, "senate-watcher"), import_file(HOUSE_FEED, "house-watcher")]
    assert [r["created"] for r in first] == [7861, 6535]
    assert [r["created"] for r in second] == [0, 0]
    assert [r["updated"] for r in second] == [0, 0]
    assert [r["unchanged"] for r in second] == [8350, 6536]
    assert (Trade.objects.count(), Filing.objects.count(), Asset.objects.count()) == (
        trades,
        filings,
        assets,
    )


def test_bad_rows_become_rejected_records_with_reasons_and_the_rest_lands():
    result = import_file(HOUSE_FEED, "house-watcher")
    assert result["status"] == "partial"
    assert result["rejected"] == 6
    assert result["created"] == 6535
    assert result["unchanged"] == 1  # one row repeats a trade of another filing
    reasons = list(RejectedRecord.objects.values_list("reason", flat=True))
    assert sum("before 2012-01-01" in reason for reason in reasons) == 5  # year 1935 defects
    assert sum("in the future" in reason for reason in reasons) == 1  # a 2202 transaction date
    record = RejectedRecord.objects.first()
    assert record.location and record.payload
    assert json.loads(record.payload)["transaction_date"]


def test_the_same_trade_from_a_feed_and_from_our_own_file_format_is_one_trade():
    import_file(HOUSE_FEED, "house-watcher")
    kean = Filing.objects.get(chamber="house", doc_id="20034616")
    before = kean.trades.count()
    result = import_file(FIXTURES / "feeds/capitolscope-import/example.csv", "csv")
    kean.refresh_from_db()
    assert kean.trades.count() == before  # the CSV's Kean row matched the feed's trade
    assert result["created"] == 3  # the three Whitehouse rows were new
    assert result["rejected"] == 0


def test_a_weaker_source_cannot_add_to_or_change_an_official_reading():
    ingest_pages("ptr-whitehouse-4aa0094d.html")
    filing = Filing.objects.get(doc_id="4aa0094d-d9da-4a05-aa13-6d9f5d376105")
    assert filing.source == Filing.Source.SENATE_EFD and filing.trade_count == 3
    result = import_file(FIXTURES / "feeds/capitolscope-import/example.csv", "csv")
    filing.refresh_from_db()
    assert filing.trade_count == 3 and filing.source == Filing.Source.SENATE_EFD
    assert result["unchanged"] == 3  # the CSV restates the page's three trades
    assert result["created"] == 2  # the two Kean rows: a new filing


def test_an_amendment_restating_a_filing_updates_its_trades_instead_of_duplicating_them():
    original = ingest_pages("ptr-boozman-orig-a9754ff5.html")
    assert original["created"] == 18
    amended = ingest_pages("ptr-boozman-amendment1-727b4eb6.html")
    assert amended["created"] == 0
    assert amended["updated"] + amended["unchanged"] == 18
    amendment = Filing.objects.get(doc_id__startswith="727b4eb6")
    assert amendment.is_amendment
    assert Trade.objects.filter(politician__last_name="Boozman").count() == 18
    assert Trade.objects.filter(amended_by=amendment).count() == amended["updated"]
    again = ingest_pages("ptr-boozman-amendment1-727b4eb6.html")
    assert (again["created"], again["updated"]) == (0, 0)


def test_a_paper_filing_is_stored_for_review_and_a_failed_fetch_is_retried_later():
    paper = RawFiling(
        chamber=Chamber.HOUSE, doc_id="9115811", location="index", politician_name="Hon. A B",
        is_paper=True,
    )  # fmt: skip
    broken = RawFiling(
        chamber=Chamber.HOUSE, doc_id="20022260", location="index",
        politician_name="Hon. Nancy Pelosi", extra={"fetch_error": "GET x answered HTTP 503"},
    )  # fmt: skip
    run = services.run_start(source=Filing.Source.HOUSE_CLERK)
    counts = services.filings_ingest([paper, broken], run=run, source="house_clerk", today=TODAY)
    services.run_finish(run, counts)
    assert Filing.objects.get(doc_id="9115811").status == Filing.Status.NEEDS_REVIEW
    failed = Filing.objects.get(doc_id="20022260")
    assert failed.status == Filing.Status.ERROR and "503" in failed.error
    run.refresh_from_db()
    assert run.status == IngestionRun.Status.PARTIAL and run.detail["document_errors"] == 1
    assert failed.source_digest == ""  # so the next run reads it again


def test_new_trades_from_a_sync_wait_for_matching_and_announce_themselves_on_commit(
    django_capture_on_commit_callbacks,
):
    received = []

    def listener(sender, count, **kwargs):
        received.append(count)

    services.trades_stored.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ingest_pages("ptr-whitehouse-4aa0094d.html")
    finally:
        services.trades_stored.disconnect(listener)
    assert received == [3]
    assert Trade.objects.filter(matched_at__isnull=True).count() == 3


def test_unresolved_names_are_flagged_then_attached_when_the_roster_arrives():
    import_file(HOUSE_FEED, "house-watcher")
    pelosi = Politician.objects.get(last_name="Pelosi")
    assert pelosi.is_resolved is False and pelosi.bioguide_id == ""
    legislators = parse_legislators_yaml(
        (FIXTURES / "legislators/legislators-current.yaml").read_bytes()
    )
    counts = services.legislators_load(legislators=legislators)
    assert counts["created"] == 537 and counts["merged"] >= 90
    resolved = Politician.objects.get(bioguide_id="P000197")
    assert resolved.party == "D" and resolved.state == "CA" and resolved.in_office
    assert resolved.trades.count() > 0
    assert not Politician.objects.filter(last_name="Pelosi", bioguide_id="").exists()
    again = import_file(HOUSE_FEED, "house-watcher")
    assert (again["created"], again["updated"]) == (0, 0)


def test_a_senators_house_filings_resolve_to_them_once_the_roster_is_stored(roster):
    """The roster lists every chamber a member served in (John Curtis: House 2017-2025, then
    the Senate); that must survive being stored, or the house feed's "John Curtis, UT03"
    trades land on an unresolved duplicate of the senator."""
    curtis = Politician.objects.get(bioguide_id="C001114")
    assert curtis.chamber == "senate" and curtis.chambers_served == "house,senate"
    import_file(HOUSE_FEED, "house-watcher")
    assert curtis.trades.count() == 48
    assert not Politician.objects.filter(last_name="Curtis", bioguide_id="").exists()


def test_a_roster_without_past_terms_does_not_forget_the_chambers_served(roster):
    """The compact JSON roster lists each member's last term only."""
    from ingestion.parsers.legislators import parse_legislators_json

    compact = parse_legislators_json(
        (FIXTURES / "legislators/legislators-current.compact.json").read_bytes()
    )
    assert services.legislators_load(legislators=compact)["merged"] == 0
    assert Politician.objects.get(bioguide_id="C001114").chambers_served == "house,senate"
    import_file(HOUSE_FEED, "house-watcher")
    assert not Politician.objects.filter(last_name="Curtis", bioguide_id="").exists()


def test_loading_the_roster_again_attaches_a_senators_earlier_unresolved_house_name():
    """Data stored before the chambers were kept: the Curtis orphan exists; loading the
    roster again moves its trades to the senator."""
    legislators = parse_legislators_yaml(
        (FIXTURES / "legislators/legislators-current.yaml").read_bytes()
    )
    house_only = [dataclasses.replace(leg, chambers=(leg.chamber,)) for leg in legislators]
    services.legislators_load(legislators=house_only)  # as an older version stored them
    import_file(HOUSE_FEED, "house-watcher")
    orphan = Politician.objects.get(last_name="Curtis", bioguide_id="")
    assert orphan.trades.count() == 48

    counts = services.legislators_load(legislators=legislators)

    assert counts["merged"] == 1
    assert Politician.objects.get(bioguide_id="C001114").trades.count() == 48
    assert not Politician.objects.filter(pk=orphan.pk).exists()


def test_names_as_each_source_prints_them_resolve_to_one_roster_member(roster):
    resolver = services.PoliticianResolver()
    allen = Politician.objects.get(bioguide_id="A000372")
    assert (
        resolver.resolve(chamber="house", name="Hon. Richard W. Allen", state_district="GA12")
        == allen
    )
    assert resolver.resolve(chamber="house", name="Allen, Rick", state_district="GA12") == allen
    assert resolver.resolve(chamber="house", name="", first="Richard W.", last="Allen",
                            state_district="GA12") == allen  # fmt: skip
    stranger = resolver.resolve(chamber="house", name="Hon. Nobody Atall", state_district="ZZ01")
    assert stranger.is_resolved is False and stranger.bioguide_id == ""


def test_a_file_that_is_not_the_format_is_one_clear_run_error():
    result = sync.file_import(
        data=b"<html>nope</html>", file_format="house-watcher", location="x.json"
    )
    assert result["status"] == "failed"
    assert "x.json" in result["error"]
    assert IngestionRun.objects.get(id=result["run_id"]).status == IngestionRun.Status.FAILED


def test_records_of_the_wrong_type_are_rejected_and_the_rest_lands():
    records = json.loads(HOUSE_FEED.read_bytes())[:3]
    records[1]["amount"] = 15000  # a number where the feed has a string
    data = json.dumps([records[0], "not an object", records[1], records[2]]).encode()
    result = sync.file_import(data=data, file_format="house-watcher", location="mixed.json")
    assert result["rejected"] == 2
    assert result["created"] == 2
    assert result["fetched"] == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_date": "2026-13-01"}, "is not a date"),
        ({"start_date": "2026-05-02", "end_date": "2026-05-01"}, "is after end_date"),
        ({"days_back": "a week"}, "is not a whole number"),
        ({"days_back": 3, "start_date": "2026-05-01"}, "not both"),
        ({"start_date": "2011-12-31"}, "before 2012"),
        ({"end_date": "2027-01-01"}, "in the future"),
    ],
)
def test_a_bad_sync_window_is_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(sync.InvalidArguments, match=message):
        sync.sync_window(today=TODAY, **kwargs)


def test_the_default_window_is_the_last_day():
    assert sync.sync_window(today=TODAY) == (dt.date(2026, 11, 22), TODAY)
    assert sync.sync_window(days_back=7, today=TODAY) == (dt.date(2026, 11, 16), TODAY)


def test_the_database_refuses_a_band_whose_minimum_exceeds_its_maximum():
    ingest_pages("ptr-whitehouse-4aa0094d.html")
    trade = Trade.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Trade.objects.filter(id=trade.id).update(amount_min=10, amount_max=5)


def test_the_database_refuses_a_second_trade_on_the_same_filing_line():
    ingest_pages("ptr-whitehouse-4aa0094d.html")
    trade = Trade.objects.first()
    trade.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        trade.save()


def test_the_database_refuses_a_lower_case_ticker():
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.create(ticker="aapl", name="Apple", name_key="apple")


def test_a_trade_knows_its_delay_and_whether_it_was_filed_late():
    trade = Trade(transaction_date=dt.date(2026, 1, 1), filed_date=dt.date(2026, 2, 20))
    assert trade.disclosure_delay() == 50
    assert trade.disclosure_deadline() == dt.date(2026, 2, 15)
    assert trade.is_late() is True
    on_time = Trade(
        transaction_date=dt.date(2026, 1, 1),
        notification_date=dt.date(2026, 1, 2),
        filed_date=dt.date(2026, 2, 1),
    )
    assert on_time.disclosure_deadline() == dt.date(2026, 2, 1)
    assert on_time.is_late() is False


def _senate_filing(name: str) -> RawFiling:
    doc_id = PTR_PAGES[name]
    return parse_ptr_page(
        (FIXTURES / "senate" / name).read_bytes(),
        doc_id=doc_id,
        url=f"https://efdsearch.senate.gov/search/view/ptr/{doc_id}/",
        location=name,
    )


def _ingest(filings: list[RawFiling], source: str = Filing.Source.SENATE_EFD) -> dict:
    run = services.run_start(source=source)
    counts = services.filings_ingest(filings, run=run, source=source, today=TODAY)
    services.run_finish(run, counts)
    return services.run_result(run)


def test_a_line_inserted_at_the_top_of_a_filing_is_one_new_trade_and_the_rest_keep_their_ids():
    filing = _senate_filing("ptr-whitehouse-4aa0094d.html")
    first_two = filing.trades[:2]
    newcomer = filing.trades[2]
    filing.trades = first_two
    _ingest([filing])
    ids = {t.line_number: t.id for t in Trade.objects.all()}
    # Read again with a new first line: the old lines move down one.
    filing.trades = [
        dataclasses.replace(newcomer, line_number=1),
        dataclasses.replace(first_two[0], line_number=2),
        dataclasses.replace(first_two[1], line_number=3),
    ]
    result = _ingest([filing])
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 0, 2)
    assert set(ids.values()) <= set(Trade.objects.values_list("id", flat=True))


def test_an_amendment_keeps_the_original_filing_date_and_a_re_read_original_keeps_its_fix():
    original = _senate_filing("ptr-boozman-orig-a9754ff5.html")
    _ingest([original])
    filed = {t.id: (t.filed_date, t.filed_late) for t in Trade.objects.all()}
    amendment = _senate_filing("ptr-boozman-amendment1-727b4eb6.html")
    amendment.filed_date = "11/01/2026"  # months later
    for trade in amendment.trades:
        trade.filed_date = ""
        trade.comment = "corrected by the amendment"
    result = _ingest([amendment])
    assert result["updated"] == 18
    for trade in Trade.objects.all():
        assert (trade.filed_date, trade.filed_late) == filed[trade.id]
        assert trade.comment == "corrected by the amendment"
    original.title += " "  # a new reading of the original (another digest)
    again = _ingest([original])
    assert again["updated"] == 0
    assert set(Trade.objects.values_list("comment", flat=True)) == {"corrected by the amendment"}


def test_the_same_trade_under_two_filing_ids_in_one_import_is_stored_once():
    records = json.loads(HOUSE_FEED.read_bytes())[:1]
    twin = dict(records[0], filing_id="29999999", source_url="")
    data = json.dumps([records[0], twin]).encode()
    result = sync.file_import(data=data, file_format="house-watcher", location="twins.json")
    assert (result["created"], result["unchanged"]) == (1, 1)


def test_a_comment_that_reads_like_a_null_marker_is_stored_as_text():
    filing = _senate_filing("ptr-whitehouse-4aa0094d.html")
    filing.trades[0].comment = "\\N"
    _ingest([filing])
    assert Trade.objects.filter(comment="\\N").count() == 1


def test_a_subscription_to_an_unresolved_politician_follows_them_when_the_roster_arrives(
    django_user_model,
):
    from alerts.services import subscription_create

    import_file(HOUSE_FEED, "house-watcher")
    pelosi = Politician.objects.get(last_name="Pelosi")
    owner = django_user_model.objects.create_user("sam", email="sam@example.com")
    subscription = subscription_create(
        owner=owner, name="Pelosi", channel="email", target="sam@example.com",
        politician_ids=[pelosi.pk],
    )  # fmt: skip
    legislators = parse_legislators_yaml(
        (FIXTURES / "legislators/legislators-current.yaml").read_bytes()
    )
    services.legislators_load(legislators=legislators)

    assert not Politician.objects.filter(pk=pelosi.pk).exists()
    assert list(subscription.politicians.values_list("bioguide_id", flat=True)) == ["P000197"]


def test_the_csv_handed_to_copy_is_the_same_however_it_is_read():
    rows = [[index, f"row {index}", 'a \\N, "quoted"\nline', None] for index in range(500)]
    whole = services._CsvReader(rows).read()
    reader = services._CsvReader(rows)
    pieces = []
    while piece := reader.read(100):
        pieces.append(piece)
    assert len(pieces) > 10
    assert "".join(pieces) == whole
    assert whole.count("\n") == 500 * 2  # one line end per row, one inside each quoted cell


def test_an_error_while_trades_are_being_written_leaves_nothing_of_the_chunk(monkeypatch):
    # New trades are decided while they are being written (on PostgreSQL, while COPY reads
    # them): a failure half-way must roll back the whole chunk and name the real error.
    decide = services._trade_values
    calls = []

    def failing_half_way(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3000:
            raise RuntimeError("failed while deciding trade 3000")
        return decide(*args, **kwargs)

    monkeypatch.setattr(services, "_trade_values", failing_half_way)
    with pytest.raises(RuntimeError, match="failed while deciding trade 3000"):
        import_file(HOUSE_FEED, "house-watcher")
    assert (Trade.objects.count(), Filing.objects.count()) == (0, 0)
    run = IngestionRun.objects.get()
    assert run.status == IngestionRun.Status.FAILED
    assert "failed while deciding trade 3000" in run.error
    monkeypatch.undo()
    assert import_file(HOUSE_FEED, "house-watcher")["created"] == 6535


def test_a_page_with_an_integrity_problem_keeps_its_digest_and_is_not_read_as_new_again():
    """A Senate page whose row count disagrees with its own summary is flagged; another
    download would say the same, so it keeps its digest and a re-read is unchanged."""
    filing = _senate_filing("ptr-whitehouse-4aa0094d.html")
    filing.extra["integrity_error"] = "page says 4 transactions total, 3 rows read"
    first = _ingest([filing])
    stored = Filing.objects.get(doc_id=filing.doc_id)
    assert stored.error == "page says 4 transactions total, 3 rows read" and stored.source_digest
    again = _ingest([filing])
    assert (again["created"], again["updated"]) == (0, 0)
    assert again["unchanged"] == first["created"]


def test_a_damaged_download_gets_no_digest_so_the_next_reading_replaces_it():
    filing = _senate_filing("ptr-whitehouse-4aa0094d.html")
    filing.extra.update(integrity_error="1 compressed stream ... does not decompress",
                        read_again=True)  # fmt: skip
    _ingest([filing])
    assert Filing.objects.get(doc_id=filing.doc_id).source_digest == ""
    whole = _senate_filing("ptr-whitehouse-4aa0094d.html")
    _ingest([whole])
    stored = Filing.objects.get(doc_id=filing.doc_id)
    assert stored.error == "" and stored.source_digest
