"""Price bars from Yahoo's chart JSON and Stooq's CSV files, and their failure bodies."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from ingestion.parsers.prices import (
    PriceBar,
    PriceDataNotFound,
    ProviderBlocked,
    ProviderFormatError,
    parse_stooq_bulk,
    parse_stooq_csv,
    parse_yahoo_chart,
    stooq_symbol,
    yahoo_symbol,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prices"
YAHOO_RAW = "yahoo_chart_AAPL_1wk_2024-09-18.raw.json"
YAHOO_PRETTY = "yahoo_chart_AAPL_1wk_range1mo_2024-09-19.json"
YAHOO_NOT_FOUND = "yahoo_chart_error_not_found.json"
STOOQ_BULK = "stooq_bulk_AAPL.US_tail120_to_2026-03-18.txt"
STOOQ_QDL = "stooq_qdl_layout_AAPL.US_derived_from_bulk.csv"


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# Synthetic failure bodies shaped like the ones FORMATS.md §4 describes (HTTP 200 in each case).
STOOQ_INTERSTITIAL = (
    b"<!DOCTYPE html>\n<html><head><title>Checking your browser</title></head><body>"
    b"<script>/* sha-256 proof of work, then POST /__verify */</script></body></html>"
)
STOOQ_QUOTA = b"Exceeded the daily hits limit"
STOOQ_NO_DATA = b"No data"


# --------------------------------------------------------------------------------------------
# Symbols
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticker", "expected"),
    [
        ("BRK.B", "BRK-B"),
        ("brk.b", "BRK-B"),
        ("AAPL", "AAPL"),
        ("NEE-PC", "NEE-PC"),
        ("IBM.MX", "IBM.MX"),
        ("^GSPC", "^GSPC"),
    ],
)
def test_yahoo_symbol_writes_share_classes_with_a_dash(ticker, expected):
    assert yahoo_symbol(ticker) == expected


@pytest.mark.parametrize(
    ("ticker", "expected"),
    [("BRK.B", "brk-b.us"), ("AAPL", "aapl.us"), ("LGF.B", "lgf-b.us"), ("^GSPC", "^spx")],
)
def test_stooq_symbol_is_lower_case_with_the_us_suffix(ticker, expected):
    assert stooq_symbol(ticker) == expected


@pytest.mark.parametrize("ticker", ["IBM.MX", "3V64.TI", "^DJI", ""])
def test_stooq_symbol_refuses_listings_without_a_verified_mapping(ticker):
    with pytest.raises(ValueError, match="no Stooq symbol mapping"):
        stooq_symbol(ticker)


# --------------------------------------------------------------------------------------------
# Yahoo
# --------------------------------------------------------------------------------------------


def test_yahoo_bars_use_exchange_dates_and_drop_the_in_progress_bar():
    bars = parse_yahoo_chart(_read(YAHOO_PRETTY), symbol="AAPL")
    # 6 timestamps; the last (1726776001) equals regularMarketTime and is dropped.
    assert [bar.date for bar in bars] == [
        dt.date(2024, 8, 19),
        dt.date(2024, 8, 26),
        dt.date(2024, 9, 2),
        dt.date(2024, 9, 9),
        dt.date(2024, 9, 16),
    ]
    assert bars[0] == PriceBar(
        date=dt.date(2024, 8, 19),
        open=225.72,
        high=228.34,
        low=223.04,
        close=226.84,
        adj_close=226.84,
        volume=188124900,
    )


def test_yahoo_raw_capture_keeps_only_the_completed_bar():
    bars = parse_yahoo_chart(_read(YAHOO_RAW), symbol="AAPL")
    assert bars == [
        PriceBar(
            date=dt.date(2024, 9, 16),
            open=217.55,
            high=222.71,
            low=217.54,
            close=220.69,
            adj_close=220.69,
            volume=59788400,
        )
    ]


def _chart(**changes) -> bytes:
    document = json.loads(_read(YAHOO_PRETTY))
    result = document["chart"]["result"][0]
    for path, value in changes.items():
        target = result
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return json.dumps(document).encode()


def test_yahoo_bars_with_null_prices_are_skipped_and_null_volume_is_none():
    quote = json.loads(_read(YAHOO_PRETTY))["chart"]["result"][0]["indicators"]["quote"][0]
    quote["close"][1] = None
    quote["volume"][2] = None
    bars = parse_yahoo_chart(_chart(indicators__quote=[quote]), symbol="AAPL")
    assert [bar.date for bar in bars] == [
        dt.date(2024, 8, 19),
        dt.date(2024, 9, 2),
        dt.date(2024, 9, 9),
        dt.date(2024, 9, 16),
    ]
    assert bars[1].volume is None


def test_yahoo_last_bar_is_kept_when_it_is_not_the_live_one():
    bars = parse_yahoo_chart(_chart(meta__regularMarketTime=1726700000), symbol="AAPL")
    assert len(bars) == 6
    assert bars[-1].date == dt.date(2024, 9, 19)


def test_yahoo_dates_come_from_the_exchange_time_zone_not_utc():
    # Weekly bars are stamped at local midnight: 2024-09-16 00:00 in Tokyo is 2024-09-15
    # 15:00 UTC, so reading the stamp in UTC would give the wrong (previous) day.
    stamp = 1726412400
    body = _chart(
        timestamp=[stamp, stamp + 7 * 86400],
        meta__exchangeTimezoneName="Asia/Tokyo",
        meta__gmtoffset=32400,
        meta__regularMarketTime=0,
        indicators__quote=[
            {"open": [1, 1], "high": [2, 2], "low": [1, 1], "close": [2, 2], "volume": [5, 5]}
        ],
        indicators__adjclose=[{"adjclose": [2, 2]}],
    )
    assert [bar.date for bar in parse_yahoo_chart(body, symbol="AAPL")] == [
        dt.date(2024, 9, 16),
        dt.date(2024, 9, 23),
    ]


def test_yahoo_accepts_the_canonical_share_class_spelling():
    body = _chart(meta__symbol="BRK-B")
    assert parse_yahoo_chart(body, symbol="BRK.B")
    assert parse_yahoo_chart(body, symbol="BRK-B")


def test_yahoo_response_for_another_symbol_is_refused():
    with pytest.raises(ProviderFormatError, match="Yahoo MSFT: response is for 'AAPL'"):
        parse_yahoo_chart(_read(YAHOO_PRETTY), symbol="MSFT")


def test_yahoo_error_envelope_says_no_data_for_the_symbol():
    with pytest.raises(PriceDataNotFound) as caught:
        parse_yahoo_chart(_read(YAHOO_NOT_FOUND), symbol="ZZZZ")
    assert str(caught.value) == ("Yahoo ZZZZ: Not Found: No data found, symbol may be delisted")


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b'{"chart": {"result": [], "error": null}}', PriceDataNotFound, "empty result"),
        (b'{"chart": {"result": null, "error": null}}', PriceDataNotFound, "empty result"),
        (
            b'{"chart": {"result": null, "error": {"code": "Bad Request", "description": '
            b'"Invalid input - interval=1x is not supported"}}}',
            ProviderFormatError,
            "Bad Request: Invalid input",
        ),
        (b"<html><body>Too Many Requests</body></html>", ProviderBlocked, "HTML page"),
        (b"Edge: Too Many Requests", ProviderFormatError, "not JSON"),
        (b'{"finance": {"error": null}}', ProviderFormatError, "no 'chart' object"),
        (b"", PriceDataNotFound, "empty body"),
        (b"\xff\xfe\x00", ProviderFormatError, "not UTF-8"),
    ],
)
def test_yahoo_failure_bodies_raise_clear_errors(body, error, message):
    with pytest.raises(error, match=message):
        parse_yahoo_chart(body, symbol="AAPL")


def test_yahoo_series_not_parallel_to_timestamps_is_a_format_error():
    body = _chart(timestamp=[1724040000, 1724644800])
    with pytest.raises(ProviderFormatError, match="not parallel"):
        parse_yahoo_chart(body, symbol="AAPL")


def test_yahoo_result_without_timestamps_has_no_data():
    with pytest.raises(PriceDataNotFound, match="no bars"):
        parse_yahoo_chart(_chart(timestamp=[]), symbol="AAPL")


# --------------------------------------------------------------------------------------------
# Stooq
# --------------------------------------------------------------------------------------------


def test_stooq_bulk_file_gives_120_daily_bars_in_order():
    bars = parse_stooq_bulk(_read(STOOQ_BULK), symbol="AAPL")
    assert len(bars) == 120
    assert bars[0] == PriceBar(
        date=dt.date(2025, 9, 25),
        open=252.96,
        high=256.921,
        low=251.468,
        close=256.621,
        volume=55255587,
    )
    assert bars[-1] == PriceBar(
        date=dt.date(2026, 3, 18),
        open=252.62,
        high=254.94,
        low=249.0,
        close=249.94,
        volume=35757874,
    )
    assert [bar.date for bar in bars] == sorted(bar.date for bar in bars)


def test_stooq_bulk_accepts_the_stooq_spelling_of_the_symbol():
    assert len(parse_stooq_bulk(_read(STOOQ_BULK), symbol="aapl.us")) == 120


def test_stooq_bulk_for_another_symbol_is_refused():
    with pytest.raises(
        ProviderFormatError, match=re.escape("file is for 'AAPL.US', not 'MSFT.US'")
    ):
        parse_stooq_bulk(_read(STOOQ_BULK), symbol="MSFT")


def test_stooq_bulk_refuses_non_daily_rows():
    body = _read(STOOQ_BULK).replace(b"AAPL.US,D,20260318", b"AAPL.US,W,20260318")
    with pytest.raises(ProviderFormatError, match="period 'W' is not daily"):
        parse_stooq_bulk(body, symbol="AAPL")


def test_stooq_query_csv_matches_the_bulk_file_bar_for_bar():
    assert parse_stooq_csv(_read(STOOQ_QDL), symbol="AAPL") == parse_stooq_bulk(
        _read(STOOQ_BULK), symbol="AAPL"
    )


def test_stooq_query_csv_without_volume_column_reads_indexes():
    body = b"Date,Open,High,Low,Close\n2026-03-17,6700.1,6750.2,6690.0,6731.5\n"
    assert parse_stooq_csv(body, symbol="^GSPC") == [
        PriceBar(date=dt.date(2026, 3, 17), open=6700.1, high=6750.2, low=6690.0, close=6731.5)
    ]


def test_stooq_rows_are_sorted_by_date_whatever_the_body_order():
    body = (
        b"Date,Open,High,Low,Close,Volume\r\n"
        b"2026-03-18,252.62,254.94,249,249.94,35757874\r\n"
        b"2026-03-17,252.955,255.13,252.18,254.23,32361607\r\n"
    )
    bars = parse_stooq_csv(body, symbol="AAPL")
    assert [bar.date for bar in bars] == [dt.date(2026, 3, 17), dt.date(2026, 3, 18)]


@pytest.mark.parametrize("parse", [parse_stooq_csv, parse_stooq_bulk])
@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (STOOQ_INTERSTITIAL, ProviderBlocked, "got an HTML page instead of data"),
        (b"  \n<html lang='pl'><body>Stooq</body></html>", ProviderBlocked, "HTML page"),
        (STOOQ_QUOTA, ProviderBlocked, "daily quota exhausted"),
        (STOOQ_NO_DATA, PriceDataNotFound, "provider has no data"),
        (b"", PriceDataNotFound, "empty body"),
        (b"Symbol,Date,Time,Open,High,Low,Close,Volume\n", ProviderFormatError, "expected"),
    ],
)
def test_stooq_failure_bodies_raise_clear_errors(parse, body, error, message):
    with pytest.raises(error, match=message):
        parse(body, symbol="AAPL")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"2026-02-30,1,2,1,2,10", "'2026-02-30' is not a date"),
        (b"2026-03-17,1,2,abc,2,10", "low 'abc' is not a number"),
        (b"2026-03-17,1,2,1,2", "expected 6 columns"),
        (b"2026-03-17,1,2,-1,2,10", "low '-1' is not a price"),
    ],
)
def test_stooq_unreadable_rows_name_the_line(line, message):
    body = b"Date,Open,High,Low,Close,Volume\n2026-03-16,1,2,1,2,10\n" + line + b"\n"
    with pytest.raises(ProviderFormatError, match=f"Stooq AAPL line 3: {message}"):
        parse_stooq_csv(body, symbol="AAPL")


def test_stooq_header_only_means_no_data():
    with pytest.raises(PriceDataNotFound, match="header only"):
        parse_stooq_csv(b"Date,Open,High,Low,Close,Volume\n", symbol="AAPL")


def test_every_provider_error_is_a_provider_format_error():
    assert issubclass(PriceDataNotFound, ProviderFormatError)
    assert issubclass(ProviderBlocked, ProviderFormatError)
