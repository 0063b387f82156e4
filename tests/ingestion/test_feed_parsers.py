"""Community JSON feeds and our own import format, checked against real files.

Counts and values below were read from the fixture files (tests/fixtures/feeds/) by eye
and with jq; where they differ from FORMATS.md the fixture wins and the test says so.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.parsers.feeds import (
    IMPORT_COLUMNS,
    IMPORT_REQUIRED_COLUMNS,
    parse_capitolscope_csv,
    parse_capitolscope_json,
    parse_house_watcher,
    parse_senate_watcher_daily,
    parse_senate_watcher_flat,
)
from ingestion.records import Chamber, ParsedBatch, ParseError, RawTrade

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
SENATE_FLAT = FIXTURES / "senate-stock-watcher" / "all_transactions.json"
SENATE_DAILY = FIXTURES / "senate-stock-watcher" / "daily_summaries_2020H2_2021Q1.json"
HOUSE_RECREATION = FIXTURES / "house-ptr-parsed" / "all_transactions.json"
IMPORT_EXAMPLES = FIXTURES / "capitolscope-import"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "import-format.md"

JsonParser = Callable[..., ParsedBatch]
JSON_FEED_PARSERS = [
    parse_senate_watcher_flat,
    parse_senate_watcher_daily,
    parse_house_watcher,
    parse_capitolscope_json,
]

# The original house-stock-watcher record, exactly as quoted in FORMATS.md section 1c.
HOUSE_ORIGINAL = {
    "disclosure_year": 2021,
    "disclosure_date": "10/04/2021",
    "transaction_date": "2021-09-27",
    "owner": "joint",
    "ticker": "BP",
    "asset_description": "BP plc",
    "type": "purchase",
    "amount": "$1,001 - $15,000",
    "representative": "Hon. Virginia Foxx",
    "district": "NC05",
    "ptr_link": "https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2021/20019557.pdf",
    "cap_gains_over_200_usd": False,
}


def trades(batch: ParsedBatch) -> list[RawTrade]:
    return [trade for filing in batch.filings for trade in filing.trades]


def as_json(records: object) -> bytes:
    return json.dumps(records).encode()


@pytest.fixture(scope="module")
def senate_flat() -> ParsedBatch:
    return parse_senate_watcher_flat(SENATE_FLAT.read_bytes(), location="all_transactions.json")


@pytest.fixture(scope="module")
def senate_daily() -> ParsedBatch:
    return parse_senate_watcher_daily(SENATE_DAILY.read_bytes(), location="daily.json")


@pytest.fixture(scope="module")
def house_recreation() -> ParsedBatch:
    return parse_house_watcher(HOUSE_RECREATION.read_bytes(), location="house.json")


# --- senate-stock-watcher flat file ----------------------------------------------------


def test_senate_flat_file_8350_rows_become_1413_filings_463_paper_and_7887_trades(senate_flat):
    assert len(senate_flat.filings) == 1413
    assert sum(filing.is_paper for filing in senate_flat.filings) == 463
    assert len(trades(senate_flat)) == 7887  # 8,350 rows - 463 paper placeholders
    assert senate_flat.rejected == []
    # 66 distinct "senator" strings, 65 once "Michael  B Enzi" has its double space collapsed
    assert len({filing.politician_name for filing in senate_flat.filings}) == 65
    assert {filing.chamber for filing in senate_flat.filings} == {Chamber.SENATE}


def test_senate_flat_paper_placeholder_marks_the_filing_paper_and_is_not_a_trade(senate_flat):
    by_id = {filing.doc_id: filing for filing in senate_flat.filings}
    paper = by_id["2a123633-1454-49ff-8c3b-c4028372a119"]  # record [15], Blumenthal
    assert paper.is_paper
    assert paper.trades == []
    assert paper.politician_name == "Richard Blumenthal"
    assert paper.url == (
        "https://efdsearch.senate.gov/search/view/paper/2a123633-1454-49ff-8c3b-c4028372a119/"
    )
    assert paper.location == "all_transactions.json[15]"
    assert not any(t.asset_type == "PDF Disclosed Filing" for t in trades(senate_flat))


def test_senate_flat_first_row_is_read_exactly(senate_flat):
    wyden = senate_flat.filings[0]
    assert wyden.doc_id == "a0010f4a-c31a-4824-8b6d-6399b3ccb6f0"
    assert wyden.filed_date == ""  # the flat file has no filing date
    (trade,) = wyden.trades
    assert trade == RawTrade(
        source="senate_watcher",
        location="all_transactions.json[0]",
        line_number=1,
        chamber=Chamber.SENATE,
        politician_name="Ron L Wyden",
        filing_doc_id="a0010f4a-c31a-4824-8b6d-6399b3ccb6f0",
        filing_url=(
            "https://efdsearch.senate.gov/search/view/ptr/a0010f4a-c31a-4824-8b6d-6399b3ccb6f0/"
        ),
        transaction_date="11/10/2020",
        owner="Spouse",
        ticker="BYND",
        asset_name="Beyond Meat, Inc.",
        asset_type="Stock",
        transaction_type="Sale (Full)",
        amount="$50,001 - $100,000",
        comment="--",
    )


def test_senate_flat_rows_of_one_ptr_link_are_numbered_in_file_order(senate_flat):
    by_id = {filing.doc_id: filing for filing in senate_flat.filings}
    roberts = by_id["b7e581e7-f154-4dc7-890d-1c827c88ba7a"]
    assert roberts.politician_name == "Pat Roberts"
    first = roberts.trades[:5]
    assert [t.line_number for t in first] == [1, 2, 3, 4, 5]
    assert [(t.ticker, t.comment) for t in first] == [
        ("BA", "R"),
        ("V", "555"),
        ("COST", "555"),
        ("COST", "555"),
        ("BA", "sep"),
    ]
    assert [t.location for t in first[:2]] == [
        "all_transactions.json[1]",
        "all_transactions.json[2]",
    ]


def test_senate_flat_values_stay_raw_html_and_entities_included(senate_flat):
    carper = next(t for t in trades(senate_flat) if t.location == "all_transactions.json[17]")
    assert carper.asset_name == (
        'OWENS &amp; MINOR <div class="text-muted"><em>Rate/Coupon:</em> 3.875%<br>'
        " <em>Matures:</em> 09/15/2021</div>"
    )
    assert carper.ticker == "--"


def test_senate_flat_whitespace_is_collapsed_and_nothing_else(senate_flat):
    enzi = next(t for t in trades(senate_flat) if t.location == "all_transactions.json[6030]")
    assert enzi.politician_name == "Michael B Enzi"  # sent as "Michael  B Enzi"
    estate = next(t for t in trades(senate_flat) if t.location == "all_transactions.json[4888]")
    assert estate.comment == (
        "Stock inherited from deceased mother's estate. Transfer paperwork signed 4/21/2017."
    )


def test_senate_flat_raw_vocabularies_are_as_counted_in_the_file(senate_flat):
    rows = trades(senate_flat)
    # FORMATS.md gives Joint 3,340 / Spouse 3,156 / Self 1,264, which sum past 8,350;
    # the file itself says:
    assert Counter(t.owner for t in rows) == {
        "Joint": 3339,
        "Spouse": 3137,
        "Self": 1262,
        "Child": 149,
    }
    assert Counter(t.transaction_type for t in rows) == {
        "Purchase": 4100,
        "Sale (Full)": 1986,
        "Sale (Partial)": 1715,
        "Exchange": 86,
    }
    amounts = Counter(t.amount for t in rows)
    assert amounts["$1,001 - $15,000"] == 5391
    assert amounts["Over $50,000,000"] == 1
    assert "Unknown" not in amounts
    assert Counter(t.asset_type for t in rows)[""] == 666


def test_senate_flat_bad_records_are_rejected_with_their_index_and_the_rest_lands():
    good = json.loads(SENATE_FLAT.read_bytes())[:3]
    wrong_ticker = dict(good[0], ticker=5)
    missing = {key: value for key, value in good[0].items() if key != "amount"}
    no_uuid = dict(good[0], ptr_link="https://efdsearch.senate.gov/search/")
    records = [good[0], "a string", 42, wrong_ticker, missing, no_uuid, None, good[1], good[2]]

    batch = parse_senate_watcher_flat(as_json(records), location="f.json")

    assert [t.location for t in trades(batch)] == ["f.json[0]", "f.json[7]", "f.json[8]"]
    assert {r.location: r.reason for r in batch.rejected} == {
        "f.json[1]": "expected a JSON object, got a string",
        "f.json[2]": "expected a JSON object, got a number",
        "f.json[3]": "'ticker' must be a string, got number",
        "f.json[4]": "missing key(s): amount",
        "f.json[5]": (
            "ptr_link 'https://efdsearch.senate.gov/search/' has no eFD report UUID"
            " (/search/view/<kind>/<uuid>/)"
        ),
        "f.json[6]": "expected a JSON object, got a null",
    }
    assert json.loads(batch.rejected[2].payload) == wrong_ticker


def test_senate_flat_values_of_any_other_json_type_are_named_in_the_rejection():
    good = json.loads(SENATE_FLAT.read_bytes())[0]
    records = [
        dict(good, owner=["Self"]),
        dict(good, type=True),
        dict(good, amount={"min": 1}),
        dict(good, comment=1.5),
        good,
    ]
    batch = parse_senate_watcher_flat(as_json(records), location="f")
    assert [r.reason for r in batch.rejected] == [
        "'owner' must be a string, got array",
        "'type' must be a string, got boolean",
        "'amount' must be a string, got object",
        "'comment' must be a string, got number",
    ]
    assert [t.owner for t in trades(batch)] == [good["owner"]]


def test_senate_flat_line_numbers_count_a_rejected_row_of_the_same_filing():
    good = json.loads(SENATE_FLAT.read_bytes())[1:4]  # three rows of Pat Roberts' PTR
    records = [good[0], dict(good[1], amount=None, comment=7), good[2]]
    batch = parse_senate_watcher_flat(as_json(records), location="f")
    assert [t.line_number for t in trades(batch)] == [1, 3]
    assert batch.rejected[0].reason == "'comment' must be a string, got number"


# --- senate-stock-watcher per-PTR (daily) format ---------------------------------------


def test_senate_daily_file_has_85_filings_612_trades_and_6_paper(senate_daily):
    assert len(senate_daily.filings) == 85
    assert len(trades(senate_daily)) == 612
    assert sum(filing.is_paper for filing in senate_daily.filings) == 6
    assert senate_daily.rejected == []
    assert all(not f.trades for f in senate_daily.filings if f.is_paper)


def test_senate_daily_filing_date_bioguide_and_raw_ticker_html(senate_daily):
    toomey = senate_daily.filings[2]
    assert toomey.doc_id == "b5a212bb-ad2c-48e4-9d21-db8d13f8ee78"
    assert toomey.filed_date == "03/09/2021"  # from "date_recieved" (sic)
    assert (toomey.first_name, toomey.last_name) == ("Patrick J", "Toomey")
    assert toomey.politician_name == "Patrick J Toomey"
    assert toomey.extra == {"office": "Toomey, Pat (Senator)", "bioguide": "T000461"}
    (penn,) = toomey.trades
    assert penn.ticker == '<a href="https://finance.yahoo.com/q?s=PENN" target="_blank">PENN</a>'
    assert penn.bioguide_id == "T000461"
    assert penn.filed_date == "03/09/2021"
    assert (penn.owner, penn.comment, penn.transaction_date) == ("Child", "Child #2", "02/09/2021")
    assert penn.location == "daily.json[2].transactions[0]"
    assert penn.source == "senate_watcher"


def test_senate_daily_empty_transactions_is_a_paper_filing(senate_daily):
    blumenthal = senate_daily.filings[31]
    assert blumenthal.doc_id == "2a123633-1454-49ff-8c3b-c4028372a119"
    assert blumenthal.is_paper and blumenthal.trades == []
    assert blumenthal.politician_name == "RICHARD BLUMENTHAL"
    assert blumenthal.filed_date == "12/02/2020"


def test_the_same_paper_filing_gets_the_same_doc_id_from_both_senate_feeds(
    senate_flat, senate_daily
):
    flat_paper = {f.doc_id for f in senate_flat.filings if f.is_paper}
    daily_paper = {f.doc_id for f in senate_daily.filings if f.is_paper}
    assert "2a123633-1454-49ff-8c3b-c4028372a119" in flat_paper & daily_paper


def test_senate_daily_bad_records_and_bad_transactions_are_rejected_separately():
    ptr = json.loads(SENATE_DAILY.read_bytes())[0]  # Collins, 2 transactions
    broken = dict(ptr, transactions=[ptr["transactions"][0], ["not", "a", "dict"]])
    broken["ptr_link"] = ptr["ptr_link"].replace("32550a8f", "42550a8f")
    records = [
        ptr,
        dict(ptr, transactions="none"),
        broken,
        dict(ptr, bioguide=None),  # duplicate report of [0]
        {"first_name": "X"},
    ]
    batch = parse_senate_watcher_daily(as_json(records), location="d")

    assert [f.doc_id[:8] for f in batch.filings] == ["32550a8f", "42550a8f"]
    assert [len(f.trades) for f in batch.filings] == [2, 1]
    assert {r.location: r.reason for r in batch.rejected} == {
        "d[1]": "'transactions' must be an array, got string",
        "d[2].transactions[1]": "expected a JSON object, got a array",
        "d[3]": "duplicate of record [0] (same report 32550a8f-923e-416f-84f3-e19ab4f148b1)",
        "d[4]": "missing key(s): last_name, ptr_link, date_recieved, transactions",
    }


# --- house-stock-watcher 2026 re-creation ----------------------------------------------


def test_house_recreation_6542_rows_become_834_filings_of_123_members(house_recreation):
    assert len(trades(house_recreation)) == 6542
    assert len(house_recreation.filings) == 834
    assert house_recreation.rejected == []
    assert len({filing.politician_name for filing in house_recreation.filings}) == 123
    assert {filing.chamber for filing in house_recreation.filings} == {Chamber.HOUSE}
    assert not any(filing.is_paper for filing in house_recreation.filings)


def test_house_recreation_first_row_is_read_exactly(house_recreation):
    kean = house_recreation.filings[0]
    assert kean.doc_id == "20034616"
    assert kean.url == "https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2026/20034616.pdf"
    assert kean.year == "2026"
    assert kean.state_district == "NJ07"
    assert kean.filed_date == ""
    assert kean.extra == {"variant": "2026-recreation"}
    assert kean.trades[0] == RawTrade(
        source="house_watcher",
        location="house.json[0]",
        line_number=1,
        chamber=Chamber.HOUSE,
        politician_name="Thomas H. Kean",
        state_district="NJ07",
        filing_doc_id="20034616",
        filing_url="https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2026/20034616.pdf",
        transaction_date="04/14/2026",
        notification_date="05/17/2026",
        owner="Self",
        ticker="FCNCA",
        asset_name="First Citizens BancShares, Inc. - Class A Common Stock",
        asset_type="Stock",
        transaction_type="Sale",
        amount="$1,001 - $15,000",
        extra={"disclosure_date": "05/17/2026"},
    )
    assert [t.line_number for t in kean.trades] == [1, 2]


def test_house_recreation_disclosure_date_is_per_row_so_it_is_the_notification_date(
    house_recreation,
):
    # Tim Moore's 20034424 carries two different "disclosure" dates in one filing: the
    # re-creation copied the PDF's per-row Notification Date column.
    moore = next(f for f in house_recreation.filings if f.doc_id == "20034424")
    assert {t.notification_date for t in moore.trades} == {"04/24/2026", "04/07/2026"}
    assert {t.filed_date for t in moore.trades} == {""}


def test_house_recreation_defects_are_kept_for_normalisation_to_judge(house_recreation):
    rows = {t.location: t for t in trades(house_recreation)}
    wrapped = rows["house.json[6537]"]
    assert wrapped.amount == "$15,001 - $50,000"  # sent as "$15,001 -\n$50,000"
    assert wrapped.notification_date == "03/28/1935"
    assert rows["house.json[4527]"].amount == "$15,001 -"


def test_house_recreation_raw_vocabularies_are_as_counted_in_the_file(house_recreation):
    rows = trades(house_recreation)
    assert Counter(t.owner for t in rows) == {
        "Self": 3406,
        "Spouse": 1591,
        "Joint": 1348,
        "Dependent Child": 197,
    }
    assert Counter(t.transaction_type for t in rows) == {
        "Purchase": 3687,
        "Sale": 2821,
        "Exchange": 34,
    }
    amounts = Counter(t.amount for t in rows)
    assert amounts["$15,001 - $50,000"] == 908 + 25  # wrapped + unwrapped spellings
    assert not any("\n" in t.amount for t in rows)


# --- house-stock-watcher original field set --------------------------------------------


def test_house_original_record_reads_disclosure_date_as_the_filing_date():
    batch = parse_house_watcher(as_json([HOUSE_ORIGINAL]), location="hsw.json")
    assert batch.rejected == []
    (filing,) = batch.filings
    assert (filing.doc_id, filing.year, filing.filed_date) == ("20019557", "2021", "10/04/2021")
    assert filing.politician_name == "Hon. Virginia Foxx"
    assert filing.state_district == "NC05"
    assert filing.extra == {"variant": "house-stock-watcher"}
    (trade,) = filing.trades
    assert (trade.transaction_date, trade.filed_date, trade.notification_date) == (
        "2021-09-27",
        "10/04/2021",
        "",
    )
    assert (trade.owner, trade.transaction_type, trade.ticker) == ("joint", "purchase", "BP")
    assert trade.asset_name == "BP plc"
    assert trade.asset_type == ""
    assert trade.cap_gains_over_200 == "false"
    assert trade.filing_url == HOUSE_ORIGINAL["ptr_link"]
    assert trade.extra == {"disclosure_year": 2021}


def test_house_original_later_keys_are_kept_in_extra():
    record = dict(HOUSE_ORIGINAL, state="NC", party="Republican", sector=None, type="sale_full")
    (trade,) = trades(parse_house_watcher(as_json([record]), location="h"))
    assert trade.transaction_type == "sale_full"
    assert trade.extra == {
        "disclosure_year": 2021,
        "state": "NC",
        "party": "Republican",
        "sector": None,
    }


def test_house_rows_of_both_variants_group_by_docid():
    same_filing = dict(HOUSE_ORIGINAL, ticker="XOM", asset_description="Exxon Mobil")
    paper = dict(
        HOUSE_ORIGINAL,
        ptr_link="https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2021/8217869.pdf",
    )
    batch = parse_house_watcher(as_json([HOUSE_ORIGINAL, paper, same_filing]), location="h")
    assert [(f.doc_id, len(f.trades)) for f in batch.filings] == [("20019557", 2), ("8217869", 1)]
    assert [t.line_number for t in batch.filings[0].trades] == [1, 2]


def test_house_bad_records_are_rejected_with_their_index_and_the_rest_lands():
    recreation = json.loads(HOUSE_RECREATION.read_bytes())[0]
    records = [
        recreation,
        dict(recreation, filing_id={"id": 1}),
        dict(recreation, filing_id="20034617"),  # disagrees with source_url
        dict(recreation, amount=15000),
        {k: v for k, v in HOUSE_ORIGINAL.items() if k != "ptr_link"},
        dict(HOUSE_ORIGINAL, ptr_link="https://example.com/report"),
        dict(HOUSE_ORIGINAL, cap_gains_over_200_usd=[]),
        dict(recreation, filing_id=20034616, ticker="TTWO"),  # a numeric DocID is fine
        [],
    ]
    batch = parse_house_watcher(as_json(records), location="h")
    assert [(f.doc_id, len(f.trades)) for f in batch.filings] == [("20034616", 2)]
    assert {r.location: r.reason for r in batch.rejected} == {
        "h[1]": "'filing_id' must be a string, got object",
        "h[2]": (
            "filing_id 20034617 disagrees with the DocID 20034616 in"
            " https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2026/20034616.pdf"
        ),
        "h[3]": "'amount' must be a string, got number",
        "h[4]": "no filing id: needs 'filing_id' or a 'ptr_link'/'source_url'",
        "h[5]": "no DocID in link 'https://example.com/report' (expected .../<DocID>.pdf)",
        "h[6]": "'cap_gains_over_200_usd' must be a boolean, got array",
        "h[8]": "expected a JSON object, got a array",
    }


# --- every JSON parser: whole-document failures ----------------------------------------


@pytest.mark.parametrize("parse", JSON_FEED_PARSERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"senator,ticker\nRon Wyden,BYND\n", "not JSON: Expecting value at line 1 column 1"),
        (b"<html><title>Access Denied</title></html>", "this looks like an HTML page"),
        (b'[{"ticker": "BP"}', "not JSON"),
        (b"", "the body is empty"),
        (b"[\xff]", "not UTF-8 text (bad byte at offset 1)"),
        (b"42", "got a number"),
        (b'"all_transactions"', "got a string"),
    ],
)
def test_json_parsers_raise_on_input_that_is_not_a_json_list(parse, body, message):
    with pytest.raises(ParseError, match=r"feed\.json") as raised:
        parse(body, location="feed.json")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "parse",
    [parse_senate_watcher_flat, parse_senate_watcher_daily, parse_house_watcher],
    ids=lambda f: f.__name__,
)
def test_community_feeds_refuse_an_object_where_the_list_belongs(parse):
    with pytest.raises(ParseError, match="expected a JSON array of records, got a object"):
        parse(b'{"data": []}', location="feed.json")


@pytest.mark.parametrize(
    ("parse", "path"),
    [
        (parse_senate_watcher_flat, SENATE_FLAT),
        (parse_senate_watcher_daily, SENATE_DAILY),
        (parse_house_watcher, HOUSE_RECREATION),
    ],
    ids=["flat", "daily", "house"],
)
def test_json_feeds_tolerate_a_utf8_byte_order_mark(parse, path):
    records = json.loads(path.read_bytes())[:20]
    plain = parse(as_json(records), location="x")
    with_bom = parse(b"\xef\xbb\xbf" + as_json(records), location="x")
    assert with_bom == plain
    assert with_bom.filings


@pytest.mark.parametrize(
    ("parse", "path"),
    [(parse_senate_watcher_flat, SENATE_FLAT), (parse_house_watcher, HOUSE_RECREATION)],
    ids=["senate-flat-8350", "house-recreation-6542"],
)
def test_full_feeds_parse_whole_and_the_same_twice(parse, path):
    # How fast: benchmarks/bench_ingestion.py (no timings in unit tests).
    data = path.read_bytes()
    batch = parse(data, location="feed")
    assert batch.rejected == [] and batch.filings
    assert parse(data, location="feed") == batch


# --- CapitolScope import format: CSV -----------------------------------------------------

HEADER = ",".join(IMPORT_COLUMNS)
ROW = (
    "house,Thomas H. Kean,NJ07,K000398,20034616,"
    "https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2026/20034616.pdf,"
    '2026-05-22,2026-04-14,2026-05-17,self,FCNCA,"First Citizens BancShares, Inc.",'
    'Stock,sale,"$1,001 - $15,000",'
)


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_import_csv_example_reads_into_two_filings_of_three_and_two_trades():
    batch = parse_capitolscope_csv(
        (IMPORT_EXAMPLES / "example.csv").read_bytes(), location="example.csv"
    )
    assert batch.rejected == []
    senate, house = batch.filings
    assert (senate.chamber, senate.doc_id, len(senate.trades)) == (
        Chamber.SENATE,
        "4aa0094d-d9da-4a05-aa13-6d9f5d376105",
        3,
    )
    assert (senate.politician_name, senate.state_district, senate.filed_date) == (
        "Sheldon Whitehouse",
        "RI",
        "2026-06-02",
    )
    assert senate.extra == {"bioguide": "W000802"}
    assert (house.chamber, house.doc_id, len(house.trades)) == (Chamber.HOUSE, "20034616", 2)
    assert house.location == "example.csv row 5"
    first = house.trades[0]
    assert first == RawTrade(
        source="file",
        location="example.csv row 5",
        line_number=1,
        chamber=Chamber.HOUSE,
        politician_name="Thomas H. Kean",
        state_district="NJ07",
        filing_doc_id="20034616",
        filing_url="https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2026/20034616.pdf",
        filed_date="2026-05-22",
        transaction_date="2026-04-14",
        notification_date="2026-05-17",
        owner="self",
        ticker="FCNCA",
        asset_name="First Citizens BancShares, Inc. - Class A Common Stock",
        asset_type="Stock",
        transaction_type="sale",
        amount="$1,001 - $15,000",
        bioguide_id="K000398",
    )
    assert [t.line_number for t in senate.trades] == [1, 2, 3]


def test_import_csv_and_json_examples_describe_the_same_kean_trades():
    csv_batch = parse_capitolscope_csv((IMPORT_EXAMPLES / "example.csv").read_bytes(), location="c")
    json_batch = parse_capitolscope_json(
        (IMPORT_EXAMPLES / "example.json").read_bytes(), location="j"
    )
    assert json_batch.rejected == []
    (kean,) = json_batch.filings
    assert kean.trades[1].location == "j trades[1]"

    def facts(trade: RawTrade) -> dict:
        return {k: v for k, v in vars(trade).items() if k != "location"}

    assert [facts(t) for t in kean.trades] == [facts(t) for t in csv_batch.filings[1].trades]


def test_docs_examples_are_the_example_fixtures():
    docs = DOCS.read_text()
    blocks = re.findall(r"```(csv|json)\n(.*?)```", docs, flags=re.DOTALL)
    csv_block = next(body for kind, body in blocks if kind == "csv")
    json_block = [body for kind, body in blocks if kind == "json"][-1]
    assert csv_block == (IMPORT_EXAMPLES / "example.csv").read_text()
    assert json.loads(json_block) == json.loads((IMPORT_EXAMPLES / "example.json").read_text())


@pytest.mark.parametrize("missing", IMPORT_REQUIRED_COLUMNS)
def test_import_csv_missing_a_required_column_raises_naming_it(missing):
    columns = [c for c in IMPORT_COLUMNS if c != missing]
    with pytest.raises(ParseError) as raised:
        parse_capitolscope_csv(csv_bytes(",".join(columns)), location="mine.csv")
    assert f"missing required column(s): {missing}" in str(raised.value)
    assert raised.value.location == "mine.csv"


def test_import_csv_may_leave_out_the_optional_columns():
    columns = [c for c in IMPORT_COLUMNS if c not in ("bioguide_id", "notification_date")]
    row = "senate,Jane Doe,RI,uuid-1,,2026-06-02,2026-05-08,self,NVDA,,Stock,purchase,$1,"
    batch = parse_capitolscope_csv(csv_bytes(",".join(columns), row), location="m")
    assert batch.rejected == [], batch.rejected
    (trade,) = trades(batch)
    assert (trade.bioguide_id, trade.notification_date, trade.amount) == ("", "", "$1")


def test_import_csv_unknown_and_repeated_columns_raise_naming_them():
    with pytest.raises(ParseError, match="unknown column\\(s\\): amt"):
        parse_capitolscope_csv(csv_bytes(HEADER + ",amt"), location="m")
    with pytest.raises(ParseError, match="repeated column\\(s\\): ticker"):
        parse_capitolscope_csv(csv_bytes(HEADER + ",ticker"), location="m")


@pytest.mark.parametrize("body", [b"", b"\n\n", b",,,\n"])
def test_import_csv_without_a_header_raises(body):
    with pytest.raises(ParseError, match="empty file: expected a header row"):
        parse_capitolscope_csv(body, location="m")


def test_import_csv_header_only_is_an_empty_batch():
    assert parse_capitolscope_csv(csv_bytes(HEADER), location="m") == ParsedBatch()


def test_import_csv_header_names_ignore_case_spaces_and_order_and_a_bom_is_fine():
    columns = list(reversed(IMPORT_COLUMNS))
    header = ",".join(f" {c.upper()} " for c in columns)
    cells = dict(zip(IMPORT_COLUMNS, next(csv.reader([ROW])), strict=True))
    row = ",".join(f'"{cells[c]}"' for c in columns)
    body = b"\xef\xbb\xbf" + f"{header}\r\n{row}\r\n".encode()
    (trade,) = trades(parse_capitolscope_csv(body, location="m"))
    assert (trade.ticker, trade.amount, trade.notification_date) == (
        "FCNCA",
        "$1,001 - $15,000",
        "2026-05-17",
    )


def test_import_csv_bad_rows_are_rejected_with_their_row_number_and_the_rest_lands():
    body = csv_bytes(
        HEADER,
        ROW,  # row 2
        ROW + ",extra cell",  # row 3: too many cells
        "house,Thomas H. Kean,NJ07",  # row 4: too few
        ROW.replace("house,", "congress,", 1),  # row 5: unknown chamber
        ROW.replace("2026-04-14", ""),  # row 6: empty transaction_date
        ROW.replace('FCNCA,"First Citizens BancShares, Inc."', ","),  # row 7: no asset
        ROW.replace("Thomas H. Kean", "T. Kean"),  # row 8: filing facts disagree
        "",  # blank: skipped, but counted as a row
        ",,,,,,,,,,,,,,,",  # row 10: all-empty padding, skipped
        ROW.replace("FCNCA", "TTWO"),  # row 11
    )
    batch = parse_capitolscope_csv(body, location="mine.csv")

    (filing,) = batch.filings
    assert [(t.location, t.line_number, t.ticker) for t in filing.trades] == [
        ("mine.csv row 2", 1, "FCNCA"),
        ("mine.csv row 11", 5, "TTWO"),
    ]
    assert {r.location: r.reason for r in batch.rejected} == {
        "mine.csv row 3": "row has 17 cells, the header has 16",
        "mine.csv row 4": "row has 3 cells, the header has 16",
        "mine.csv row 5": "chamber must be 'house' or 'senate', got 'congress'",
        "mine.csv row 6": "empty required value(s): transaction_date",
        "mine.csv row 7": "empty required value(s): ticker or asset_name",
        "mine.csv row 8": (
            "filing 20034616 is described differently: politician 'T. Kean'"
            " (was 'Thomas H. Kean' at mine.csv row 2)"
        ),
    }
    assert batch.rejected[0].payload == ROW + ",extra cell"


def test_import_csv_quoted_cells_may_hold_commas_and_line_breaks():
    row = ROW.replace('"First Citizens BancShares, Inc."', '"First Citizens\nBancShares,  Inc."')
    (trade,) = trades(parse_capitolscope_csv(csv_bytes(HEADER, row), location="m"))
    assert trade.asset_name == "First Citizens BancShares, Inc."


def test_import_csv_that_is_not_utf8_raises():
    body = csv_bytes(HEADER, ROW.replace("Kean", "Kéan")).replace("é".encode(), b"\xe9")
    with pytest.raises(ParseError, match="not UTF-8 text"):
        parse_capitolscope_csv(body, location="latin1.csv")


# --- CapitolScope import format: JSON ----------------------------------------------------


def import_record(**changes: object) -> dict:
    record = json.loads((IMPORT_EXAMPLES / "example.json").read_text())["trades"][0]
    record.update(changes)
    return record


def test_import_json_accepts_a_bare_list_of_trades():
    batch = parse_capitolscope_json(as_json([import_record()]), location="l.json")
    assert [t.location for t in trades(batch)] == ["l.json[0]"]


def test_import_json_optional_keys_may_be_null_or_absent():
    record = import_record(bioguide_id=None)
    del record["notification_date"]
    (trade,) = trades(parse_capitolscope_json(as_json([record]), location="l"))
    assert (trade.bioguide_id, trade.notification_date) == ("", "")


def test_import_json_bad_trades_are_rejected_with_their_index_and_the_rest_lands():
    no_amount = import_record()
    del no_amount["amount"]
    records = [
        import_record(),
        import_record(filing_id=20034616),
        import_record(bioguide="K000398"),
        no_amount,
        import_record(amount=None),
        "trade",
        import_record(ticker="TTWO"),
    ]
    body = as_json({"format": "capitolscope.trades", "version": 1, "trades": records})
    batch = parse_capitolscope_json(body, location="t.json")
    assert [t.location for t in trades(batch)] == ["t.json trades[0]", "t.json trades[6]"]
    assert {r.location: r.reason for r in batch.rejected} == {
        "t.json trades[1]": "'filing_id' must be a string, got number",
        "t.json trades[2]": "unknown key(s): bioguide",
        "t.json trades[3]": "missing key(s): amount",
        "t.json trades[4]": "empty required value(s): amount",
        "t.json trades[5]": "expected a JSON object, got a string",
    }


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format": "capitolscope.trades", "version": 2, "trades": []}, "version 2 is not"),
        ({"format": "other", "version": 1, "trades": []}, "format is 'other'"),
        ({"rows": []}, "expected a list of trades or an object with a 'trades' list"),
        ({"trades": {}}, "trades must be a JSON array, got a object"),
    ],
)
def test_import_json_document_of_the_wrong_shape_raises(document, message):
    with pytest.raises(ParseError, match=r"t\.json") as raised:
        parse_capitolscope_json(as_json(document), location="t.json")
    assert message in str(raised.value)
