"""Price providers over real HTTP (local server, real fixture bodies) and the price-bar upsert."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import socket
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command

from ingestion import models
from ingestion.prices import (
    PriceProvider,
    ProviderError,
    StooqProvider,
    YahooProvider,
    price_tickers_to_refresh,
    prices_refresh,
    prices_update,
    provider_from_settings,
)
from tests.httpserver import LocalHTTPServer, Reply

BASE_DIR = Path(__file__).resolve().parent.parent.parent
FIXTURES = BASE_DIR / "tests" / "fixtures" / "prices"
YAHOO_AAPL = (FIXTURES / "yahoo_chart_AAPL_1wk_range1mo_2024-09-19.json").read_bytes()
YAHOO_NOT_FOUND = (FIXTURES / "yahoo_chart_error_not_found.json").read_bytes()
STOOQ_AAPL = (FIXTURES / "stooq_qdl_layout_AAPL.US_derived_from_bulk.csv").read_bytes()

# The Yahoo capture's five complete weekly bars (the sixth, in progress, is dropped).
YAHOO_DATES = [dt.date(2024, 8, 19) + dt.timedelta(weeks=n) for n in range(5)]
YAHOO_START, YAHOO_END = dt.date(2024, 8, 17), dt.date(2024, 9, 20)

# Failure bodies shaped like the ones FORMATS.md §4 describes, all sent with HTTP 200.
CHALLENGE_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>Checking your browser</title></head><body>"
    b"<script>/* sha-256 proof of work, then POST /__verify */</script></body></html>"
)
STOOQ_QUOTA = b"Exceeded the daily hits limit"

YAHOO_PATH = r"/v8/finance/chart/([^/]+)"
STOOQ_PATH = r"/q/d/l/"
KEY = "s3cret-key"


def yahoo_body(symbol: str = "AAPL", *, close0: float | None = None) -> bytes:
    """The real capture, for another symbol or with the first close changed."""
    document = json.loads(YAHOO_AAPL)
    result = document["chart"]["result"][0]
    result["meta"]["symbol"] = symbol
    if close0 is not None:
        result["indicators"]["quote"][0]["close"][0] = close0
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def _module_server():
    # One server per module: stopping one waits out its 0.5 s poll interval.
    local = LocalHTTPServer().start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def server(_module_server):
    """The module's server with no routes, faults or recorded requests left from other tests."""
    _module_server.routes.clear()
    _module_server.faults.clear()
    _module_server.requests.clear()
    return _module_server


@pytest.fixture
def http(settings, server):
    settings.INGESTION_HTTP_MIN_INTERVAL = 0
    settings.INGESTION_HTTP_BACKOFF_BASE = 0.01
    settings.INGESTION_HTTP_MAX_RETRIES = 2
    settings.INGESTION_HTTP_TIMEOUT = 5
    settings.YAHOO_CHART_BASE_URL = f"{server.url}/v8/finance/chart"
    settings.STOOQ_BASE_URL = server.url
    settings.STOOQ_API_KEY = KEY
    settings.PRICE_PROVIDER = "yahoo"
    settings.PRICE_TICKER_LOOKBACK_DAYS = 90
    return server


@pytest.fixture
def yahoo_bodies() -> dict[str, bytes]:
    """What the fake Yahoo answers per symbol; a test may change it between runs."""
    return {"AAPL": yahoo_body("AAPL"), "MSFT": yahoo_body("MSFT")}


@pytest.fixture
def yahoo_server(http, yahoo_bodies):
    """Yahoo answering the real AAPL capture for AAPL and MSFT and 404 for anything else."""

    def chart(_request, match):
        body = yahoo_bodies.get(match.group(1))
        if body is None:
            return Reply(404, YAHOO_NOT_FOUND, {"Content-Type": "application/json"})
        return Reply(200, body, {"Content-Type": "application/json"})

    http.route("GET", YAHOO_PATH, chart)
    return http


@pytest.fixture
def yahoo(yahoo_server):
    with YahooProvider() as provider:
        yield provider


@pytest.fixture
def stooq(http):
    with StooqProvider() as provider:
        yield provider


def stooq_replies(server, body: bytes) -> None:
    server.route("GET", STOOQ_PATH, Reply(200, body, {"Content-Type": "text/csv"}))


def bars_of(ticker: str) -> dict[dt.date, models.PriceBar]:
    return {bar.date: bar for bar in models.PriceBar.objects.filter(asset__ticker=ticker)}


# --------------------------------------------------------------------------------------------
# Yahoo
# --------------------------------------------------------------------------------------------


def test_yahoo_reads_the_real_capture_and_asks_like_a_browser(yahoo, yahoo_server):
    bars = yahoo.get_daily_bars("AAPL", start=YAHOO_START, end=YAHOO_END)

    assert [bar.date for bar in bars] == YAHOO_DATES
    assert (bars[0].open, bars[0].close, bars[0].volume) == (225.72, 226.84, 188124900)
    assert bars[-1].adj_close == 220.69
    [request] = yahoo_server.requests
    assert request.path == "/v8/finance/chart/AAPL"
    assert request.headers["user-agent"].startswith("Mozilla/5.0")
    query = {key: values[0] for key, values in request.query.items()}
    assert query == {
        "period1": str(int(dt.datetime(2024, 8, 17, 4, tzinfo=dt.UTC).timestamp())),  # 00:00 EDT
        "period2": str(int(dt.datetime(2024, 9, 21, 4, tzinfo=dt.UTC).timestamp())),
        "interval": "1d",
        "events": "div,splits",
        "includeAdjustedClose": "true",
    }


def test_yahoo_keeps_only_the_asked_window(yahoo):
    bars = yahoo.get_daily_bars("AAPL", start=dt.date(2024, 8, 26), end=dt.date(2024, 9, 2))
    assert [bar.date for bar in bars] == YAHOO_DATES[1:3]


def test_yahoo_share_classes_use_yahoo_spelling(http):
    http.route("GET", YAHOO_PATH, Reply(200, yahoo_body("BRK-B")))
    with YahooProvider() as provider:
        assert len(provider.get_daily_bars("BRK.B", start=YAHOO_START, end=YAHOO_END)) == 5
    assert http.requests[0].path == "/v8/finance/chart/BRK-B"


def test_yahoo_404_error_envelope_is_a_permanent_error(yahoo, yahoo_server):
    with pytest.raises(ProviderError, match=r"Yahoo NOPE: no data \(HTTP 404") as caught:
        yahoo.get_daily_bars("NOPE", start=YAHOO_START, end=YAHOO_END)
    assert caught.value.permanent is True
    assert len(yahoo_server.requests) == 1  # 404 is not retried


def test_yahoo_error_envelope_with_200_is_a_permanent_error(http):
    http.route("GET", YAHOO_PATH, Reply(200, YAHOO_NOT_FOUND))
    with YahooProvider() as provider, pytest.raises(ProviderError, match="Not Found") as caught:
        provider.get_daily_bars("NOPE", start=YAHOO_START, end=YAHOO_END)
    assert caught.value.permanent is True


def test_yahoo_429_is_retried_then_succeeds(yahoo, yahoo_server):
    yahoo_server.fail("GET", YAHOO_PATH, Reply(429, b"Too Many Requests"), times=1)
    bars = yahoo.get_daily_bars("AAPL", start=YAHOO_START, end=YAHOO_END)
    assert len(bars) == 5
    assert len(yahoo_server.requests) == 2


def test_yahoo_429_until_retries_run_out_is_retryable(yahoo, yahoo_server):
    yahoo_server.fail("GET", YAHOO_PATH, Reply(429, b"Too Many Requests"), times=10)
    with pytest.raises(ProviderError, match="HTTP 429") as caught:
        yahoo.get_daily_bars("AAPL", start=YAHOO_START, end=YAHOO_END)
    assert caught.value.permanent is False
    assert len(yahoo_server.requests) == 3  # first try + INGESTION_HTTP_MAX_RETRIES


@pytest.mark.django_db
def test_yahoo_html_challenge_with_200_is_an_error_never_a_price(http):
    http.route("GET", YAHOO_PATH, Reply(200, CHALLENGE_HTML, {"Content-Type": "text/html"}))
    with YahooProvider() as provider:
        with pytest.raises(ProviderError, match="HTML page instead of data") as caught:
            provider.get_daily_bars("AAPL", start=YAHOO_START, end=YAHOO_END)
        assert caught.value.permanent is False
        summary = prices_update(
            tickers=["AAPL"], provider=provider, start=YAHOO_START, end=YAHOO_END
        )
    assert summary["bars_created"] == 0 and summary["retryable_errors"] == 1
    assert not models.PriceBar.objects.exists()
    assert not models.Asset.objects.exists()  # no asset for a ticker that brought no bars


def test_yahoo_garbage_json_is_a_permanent_error(http):
    http.route("GET", YAHOO_PATH, Reply(200, b'{"finance": {"result": []}}'))
    with YahooProvider() as provider, pytest.raises(ProviderError, match="no 'chart'") as caught:
        provider.get_daily_bars("AAPL", start=YAHOO_START, end=YAHOO_END)
    assert caught.value.permanent is True


def test_a_start_after_the_end_is_refused(yahoo):
    with pytest.raises(ValueError, match="after end"):
        yahoo.get_daily_bars("AAPL", start=YAHOO_END, end=YAHOO_START)


# --------------------------------------------------------------------------------------------
# Stooq
# --------------------------------------------------------------------------------------------


def test_stooq_reads_the_csv_and_sends_the_key(stooq, http):
    stooq_replies(http, STOOQ_AAPL)
    bars = stooq.get_daily_bars("AAPL", start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 18))

    assert [bar.date.day for bar in bars] == [10, 11, 12, 13, 16, 17, 18]
    assert (bars[-1].open, bars[-1].low, bars[-1].close, bars[-1].volume) == (
        252.62,
        249.0,
        249.94,
        35757874,
    )
    [request] = http.requests
    assert request.path == "/q/d/l/"
    assert {key: values[0] for key, values in request.query.items()} == {
        "s": "aapl.us",
        "i": "d",
        "d1": "20260310",
        "d2": "20260318",
        "apikey": KEY,
    }


def test_stooq_without_a_key_fails_permanently_without_a_request(settings, http):
    settings.STOOQ_API_KEY = ""
    with (
        StooqProvider() as provider,
        pytest.raises(ProviderError, match=r"^STOOQ_API_KEY is not set") as caught,
    ):
        provider.get_daily_bars("AAPL", start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 18))
    assert caught.value.permanent is True
    assert http.requests == []


def test_an_explicit_key_beats_the_setting(settings, http):
    settings.STOOQ_API_KEY = ""
    stooq_replies(http, STOOQ_AAPL)
    with StooqProvider(api_key="given") as provider:
        provider.get_daily_bars("AAPL", start=dt.date(2026, 3, 17), end=dt.date(2026, 3, 18))
    assert http.requests[0].query["apikey"] == ["given"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (CHALLENGE_HTML, "HTML page instead of data"),
        (STOOQ_QUOTA, "daily quota exhausted"),
    ],
    ids=["interstitial", "quota"],
)
def test_stooq_blocking_bodies_with_200_are_retryable_errors(stooq, http, body, message):
    stooq_replies(http, body)
    with pytest.raises(ProviderError, match=message) as caught:
        stooq.get_daily_bars("AAPL", start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 18))
    assert caught.value.permanent is False
    assert KEY not in str(caught.value)


def test_stooq_no_data_is_permanent(stooq, http):
    stooq_replies(http, b"No data")
    with pytest.raises(ProviderError, match="no data") as caught:
        stooq.get_daily_bars("ZZZZ", start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 18))
    assert caught.value.permanent is True


def test_stooq_refuses_a_ticker_it_cannot_spell_without_asking(stooq, http):
    with pytest.raises(ProviderError, match="no Stooq symbol mapping") as caught:
        stooq.get_daily_bars("IBM.MX", start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 18))
    assert caught.value.permanent is True
    assert http.requests == []


def test_stooq_connection_errors_are_retryable_and_never_show_the_key(settings, http):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        settings.STOOQ_BASE_URL = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with StooqProvider() as provider, pytest.raises(ProviderError) as caught:
        provider.get_daily_bars("AAPL", start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 18))
    assert caught.value.permanent is False
    assert KEY not in str(caught.value)


# --------------------------------------------------------------------------------------------
# Provider plumbing
# --------------------------------------------------------------------------------------------


def test_provider_from_settings(settings, http):
    settings.PRICE_PROVIDER = "stooq"
    with provider_from_settings() as provider:
        assert isinstance(provider, StooqProvider) and provider.name == "stooq"
    with provider_from_settings("yahoo") as provider:
        assert isinstance(provider, YahooProvider)
    with pytest.raises(ValueError, match="unknown price provider 'tiingo'"):
        provider_from_settings("tiingo")


def test_provider_errors_survive_pickling():
    # Celery pickles exceptions of failed tasks; the keyword-only flag must come back.
    pickled = pickle.dumps(ProviderError("Yahoo X: down", permanent=False))
    error = pickle.loads(pickled)  # noqa: S301 - our own bytes
    assert (str(error), error.permanent) == ("Yahoo X: down", False)


# --------------------------------------------------------------------------------------------
# prices_update
# --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_update_stores_bars_and_is_idempotent(yahoo, django_assert_max_num_queries):
    first = prices_update(tickers=["aapl"], provider=yahoo, start=YAHOO_START, end=YAHOO_END)

    assert first == {
        "provider": "yahoo",
        "start": "2024-08-17",
        "end": "2024-09-20",
        "tickers": 1,
        "bars_created": 5,
        "bars_updated": 0,
        "bars_unchanged": 0,
        "bars_rejected": 0,
        "errors": {},
        "retryable_errors": 0,
    }
    asset = models.Asset.objects.get(ticker="AAPL")
    assert asset.kind == models.Asset.Kind.STOCK
    stored = bars_of("AAPL")
    assert sorted(stored) == YAHOO_DATES
    first_bar = stored[YAHOO_DATES[0]]
    assert first_bar.close == Decimal("226.8400") and first_bar.open == Decimal("225.7200")
    assert first_bar.adj_close == Decimal("226.8400") and first_bar.volume == 188124900
    assert first_bar.provider == "yahoo"

    # Second run, same data: one read, nothing written.
    with django_assert_max_num_queries(3):
        second = prices_update(tickers=["AAPL"], provider=yahoo, start=YAHOO_START, end=YAHOO_END)
    assert (second["bars_created"], second["bars_updated"], second["bars_unchanged"]) == (0, 0, 5)
    assert models.PriceBar.objects.count() == 5
    assert models.Asset.objects.count() == 1


@pytest.mark.django_db
def test_update_rewrites_a_changed_close(yahoo, yahoo_bodies):
    prices_update(tickers=["AAPL"], provider=yahoo, start=YAHOO_START, end=YAHOO_END)
    yahoo_bodies["AAPL"] = yahoo_body("AAPL", close0=227.1)

    summary = prices_update(tickers=["AAPL"], provider=yahoo, start=YAHOO_START, end=YAHOO_END)

    assert (summary["bars_created"], summary["bars_updated"], summary["bars_unchanged"]) == (
        0,
        1,
        4,
    )
    assert bars_of("AAPL")[YAHOO_DATES[0]].close == Decimal("227.1000")


@pytest.mark.django_db
def test_one_bad_ticker_does_not_stop_the_others(yahoo, yahoo_server):
    yahoo_server.fail("GET", r"/v8/finance/chart/BUSY", Reply(503), times=10)
    seen = []

    summary = prices_update(
        tickers=["AAPL", "NOPE", "BUSY", "MSFT"],
        provider=yahoo,
        start=YAHOO_START,
        end=YAHOO_END,
        on_ticker=seen.append,
    )

    assert summary["tickers"] == 4
    assert summary["bars_created"] == 10
    assert set(summary["errors"]) == {"NOPE", "BUSY"}
    assert "HTTP 404" in summary["errors"]["NOPE"] and "HTTP 503" in summary["errors"]["BUSY"]
    assert summary["retryable_errors"] == 1
    assert len(bars_of("MSFT")) == 5
    assert [(o.ticker, o.created, bool(o.error), o.permanent) for o in seen] == [
        ("AAPL", 5, False, False),
        ("NOPE", 0, True, True),
        ("BUSY", 0, True, False),
        ("MSFT", 5, False, False),
    ]
    assert json.loads(json.dumps(summary)) == summary  # Celery stores it as JSON


@pytest.mark.django_db
def test_update_keeps_an_existing_asset(yahoo):
    etf = models.Asset.objects.create(
        ticker="AAPL", name="Apple Inc.", name_key="apple", kind=models.Asset.Kind.ETF
    )
    prices_update(tickers=["AAPL"], provider=yahoo, start=YAHOO_START, end=YAHOO_END)
    assert list(models.Asset.objects.all()) == [etf]
    assert models.Asset.objects.get().kind == models.Asset.Kind.ETF
    assert etf.price_bars.count() == 5


@pytest.mark.django_db
def test_prices_are_rounded_from_the_text_the_provider_sent(stooq, http):
    # float("252.95505") is 252.955049999...; rounding the float itself would give 252.9550.
    stooq_replies(http, b"Date,Open,High,Low,Close,Volume\n2026-03-18,252.95505,253,252,0.3,10\n")
    prices_update(
        tickers=["AAPL"], provider=stooq, start=dt.date(2026, 3, 18), end=dt.date(2026, 3, 18)
    )
    bar = models.PriceBar.objects.get()
    assert bar.open == Decimal("252.9551")
    assert bar.close == Decimal("0.3000")
    assert bar.adj_close is None and bar.provider == "stooq"


@pytest.mark.django_db
def test_a_bar_with_low_above_high_is_rejected_not_stored(stooq, http):
    stooq_replies(
        http,
        b"Date,Open,High,Low,Close,Volume\n"
        b"2026-03-17,10,11,9,10.5,100\n"
        b"2026-03-18,10,9,11,10.5,100\n",
    )
    summary = prices_update(
        tickers=["AAPL"], provider=stooq, start=dt.date(2026, 3, 17), end=dt.date(2026, 3, 18)
    )
    assert (summary["bars_created"], summary["bars_rejected"]) == (1, 1)
    assert list(bars_of("AAPL")) == [dt.date(2026, 3, 17)]


@pytest.mark.django_db
def test_stooq_bars_end_to_end(stooq, http):
    stooq_replies(http, STOOQ_AAPL)
    start, end = dt.date(2025, 9, 25), dt.date(2026, 3, 18)
    first = prices_update(tickers=["AAPL"], provider=stooq, start=start, end=end)
    second = prices_update(tickers=["AAPL"], provider=stooq, start=start, end=end)
    assert first["bars_created"] == 120
    assert (second["bars_created"], second["bars_updated"], second["bars_unchanged"]) == (
        0,
        0,
        120,
    )
    assert bars_of("AAPL")[dt.date(2026, 3, 17)].open == Decimal("252.9550")


class _ScriptedProvider(PriceProvider):
    """Bars from memory, to test the upsert without HTTP."""

    name = "scripted"

    def __init__(self, bars):
        self.bars = bars

    def get_daily_bars(self, ticker, *, start, end):
        return self.bars

    def close(self):
        pass


@pytest.mark.django_db
def test_an_empty_answer_creates_nothing():
    summary = prices_update(
        tickers=["AAPL", " ", ""], provider=_ScriptedProvider([]), start=YAHOO_START, end=YAHOO_END
    )
    assert summary["tickers"] == 1 and summary["bars_created"] == 0
    assert not models.Asset.objects.exists()


# --------------------------------------------------------------------------------------------
# Which tickers
# --------------------------------------------------------------------------------------------

TODAY = dt.date(2024, 9, 20)


def make_trades(*specs: tuple[str, dt.date]) -> None:
    """One trade per (ticker, transaction date); "" is a description-only asset."""
    politician = models.Politician.objects.create(
        last_name="Doe", full_name="Jane Doe", chamber="house", name_key="doe|jane"
    )
    filing = models.Filing.objects.create(
        chamber="house", doc_id="20012345", politician=politician, source="house_clerk"
    )
    for line, (ticker, day) in enumerate(specs, start=1):
        if ticker:
            asset, _ = models.Asset.objects.get_or_create(
                ticker=ticker, defaults={"name": ticker, "name_key": ticker.lower()}
            )
        else:
            asset, _ = models.Asset.objects.get_or_create(
                ticker="", name_key="family farm", defaults={"name": "Family farm"}
            )
        models.Trade.objects.create(
            filing=filing,
            line_number=line,
            politician=politician,
            asset=asset,
            chamber="house",
            transaction_type="purchase",
            transaction_date=day,
            owner="self",
            amount_min=1001,
            amount_max=15000,
            amount_label="$1,001 - $15,000",
            asset_kind="stock",
            fingerprint=f"fp{line}",
            content_hash=f"h{line}",
        )


@pytest.mark.django_db
def test_only_tickers_traded_recently_plus_the_extra_ones(settings, django_assert_num_queries):
    settings.PRICE_TICKER_LOOKBACK_DAYS = 90
    make_trades(
        ("NVDA", TODAY - dt.timedelta(days=3)),
        ("AAPL", TODAY - dt.timedelta(days=10)),
        ("AAPL", TODAY - dt.timedelta(days=20)),
        ("NVDA", TODAY - dt.timedelta(days=90)),  # edge of the window: in
        ("MSFT", TODAY - dt.timedelta(days=91)),  # just outside
        ("", TODAY - dt.timedelta(days=1)),  # no ticker
    )
    with django_assert_num_queries(1):
        tickers = price_tickers_to_refresh(today=TODAY, extra_tickers=[" tsla ", "aapl", ""])
    assert tickers == ["AAPL", "NVDA", "TSLA"]

    settings.PRICE_TICKER_LOOKBACK_DAYS = 5
    assert price_tickers_to_refresh(today=TODAY) == ["NVDA"]


# --------------------------------------------------------------------------------------------
# prices_refresh
# --------------------------------------------------------------------------------------------

SATURDAY = dt.datetime(2024, 9, 21, 15, 0, tzinfo=dt.UTC)
GOOD_FRIDAY = dt.datetime(2024, 3, 29, 15, 0, tzinfo=dt.UTC)
THURSDAY_OPEN = dt.datetime(2024, 9, 19, 15, 0, tzinfo=dt.UTC)  # 11:00 EDT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "reason"),
    [(SATURDAY, "closed: weekend"), (GOOD_FRIDAY, "closed: holiday (Good Friday)")],
)
def test_refresh_skips_while_the_market_is_closed(yahoo, yahoo_server, now, reason):
    make_trades(("AAPL", dt.date(2024, 9, 10)))
    assert prices_refresh(now=now, provider=yahoo) == {"skipped": True, "reason": reason}
    assert yahoo_server.requests == []
    assert not models.PriceBar.objects.exists()


@pytest.mark.django_db
def test_refresh_with_force_runs_on_a_weekend(yahoo, yahoo_server):
    make_trades(("AAPL", dt.date(2024, 9, 10)), ("MSFT", dt.date(2024, 1, 2)))  # MSFT too old
    summary = prices_refresh(now=SATURDAY, force=True, provider=yahoo, days=35)

    assert summary["skipped"] is False and summary["market"] == "closed: weekend"
    assert (summary["tickers"], summary["bars_created"]) == (1, 5)
    assert (summary["start"], summary["end"]) == ("2024-08-17", "2024-09-21")
    assert [request.path for request in yahoo_server.requests] == ["/v8/finance/chart/AAPL"]
    assert json.loads(json.dumps(summary)) == summary


@pytest.mark.django_db
def test_refresh_runs_while_open_with_the_provider_from_settings(yahoo_server):
    make_trades(("AAPL", dt.date(2024, 9, 10)))
    summary = prices_refresh(now=THURSDAY_OPEN, days=35, extra_tickers=["MSFT"])
    assert summary["provider"] == "yahoo" and summary["market"] == "open"
    assert (summary["tickers"], summary["bars_created"], summary["errors"]) == (2, 10, {})


@pytest.mark.django_db
def test_refresh_uses_the_new_york_date():
    # 02:00 UTC Saturday is still Friday evening in New York.
    provider = _ScriptedProvider([])
    friday_night = dt.datetime(2024, 9, 21, 2, 0, tzinfo=dt.UTC)
    summary = prices_refresh(now=friday_night, force=True, provider=provider, days=1)
    assert (summary["start"], summary["end"]) == ("2024-09-19", "2024-09-20")


def test_refresh_refuses_zero_days():
    with pytest.raises(ValueError, match="at least 1"):
        prices_refresh(now=SATURDAY, days=0)


# --------------------------------------------------------------------------------------------
# manage.py update_prices
# --------------------------------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("update_prices", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_command_with_tickers_prints_progress_and_a_summary(yahoo_server):
    with time_machine.travel(SATURDAY, tick=False):  # explicit tickers ignore the market hours
        output = run_command("--tickers", "aapl, nope ,MSFT", "--days", "35")
    lines = output.splitlines()
    assert lines[0] == "AAPL: 5 created, 0 updated, 0 unchanged"
    assert lines[1].startswith("NOPE: FAILED (permanent): Yahoo NOPE: no data (HTTP 404")
    assert lines[2] == "MSFT: 5 created, 0 updated, 0 unchanged"
    assert lines[3] == (
        "yahoo 2024-08-17..2024-09-21: 3 tickers, 10 bars created, 0 updated, 0 unchanged, "
        "1 failed (0 retryable)"
    )


@pytest.mark.django_db
def test_command_without_tickers_skips_on_a_weekend(yahoo_server):
    make_trades(("AAPL", dt.date(2024, 9, 10)))
    with time_machine.travel(SATURDAY, tick=False):
        output = run_command()
    assert output.strip() == "skipped: closed: weekend (use --force to fetch anyway)"
    assert yahoo_server.requests == []


@pytest.mark.django_db
def test_command_force_refreshes_recent_tickers(yahoo_server):
    make_trades(("AAPL", dt.date(2024, 9, 10)))
    with time_machine.travel(SATURDAY, tick=False):
        output = run_command("--force", "--days", "35", "--provider", "yahoo")
    assert "AAPL: 5 created" in output
    assert models.PriceBar.objects.count() == 5


@pytest.mark.django_db
def test_command_with_no_recent_trades_says_so(yahoo_server):
    with time_machine.travel(SATURDAY, tick=False):
        output = run_command("--force")
    assert output.strip() == "no tickers to refresh (no trades in the lookback window)"


@pytest.mark.django_db
def test_command_fails_when_every_ticker_failed(yahoo_server):
    with pytest.raises(CommandError, match=r"every ticker failed \(1\); first error: Yahoo NOPE"):
        run_command("--tickers", "NOPE")


@pytest.mark.django_db
def test_command_stooq_without_key_fails_with_the_reason(settings, http):
    settings.STOOQ_API_KEY = ""
    with pytest.raises(CommandError, match="first error: STOOQ_API_KEY is not set"):
        run_command("--provider", "stooq", "--tickers", "AAPL,MSFT")
    assert http.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "--days must be at least 1, got 0"),
        (["--days", "x"], "invalid int value"),
        (["--tickers", "TOOLONGTICKERX"], "cannot be a ticker symbol"),
        (["--tickers", " , "], "no ticker in"),
        (["--provider", "tiingo"], "invalid choice"),
    ],
)
def test_command_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        run_command(*args)


def test_command_exits_non_zero_with_one_line_on_bad_arguments():
    result = subprocess.run(
        [sys.executable, "manage.py", "update_prices", "--days", "0"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: --days must be at least 1, got 0"
