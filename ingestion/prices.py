"""Daily stock prices: provider adapters (Yahoo, Stooq) and the idempotent price-bar upsert.

Layers:

* A :class:`PriceProvider` turns ``(ticker, start, end)`` into parsed :class:`PriceBar` values,
  or raises :class:`ProviderError` whose ``permanent`` flag says whether trying again later can
  help. Every way a provider fails (HTTP errors, HTML interstitials with HTTP 200, quota
  sentences, error envelopes, bodies of another shape) ends up as that one error type, so a body
  that is not the expected format is never stored as a price.
* :func:`prices_update` fetches a list of tickers and upserts their bars in bulk; one ticker's
  failure is recorded and the others go on.
* :func:`prices_refresh` is what the periodic task calls: it does nothing while the NYSE is
  closed (no request at all) and otherwise refreshes the tickers that matter
  (:func:`price_tickers_to_refresh`).

Every returned summary is a plain JSON-serialisable dict (Celery stores it as the task result).
"""

from __future__ import annotations

import datetime as dt
import functools
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ingestion import models
from ingestion.http import FetchError, HttpClient
from ingestion.market import NYSE_TZ, market_status
from ingestion.parsers.prices import (
    PriceBar,
    PriceDataNotFound,
    ProviderBlocked,
    ProviderFormatError,
    parse_stooq_csv,
    parse_yahoo_chart,
    stooq_symbol,
    yahoo_symbol,
)

__all__ = [
    "PriceProvider",
    "ProviderError",
    "StooqProvider",
    "TickerOutcome",
    "YahooProvider",
    "price_tickers_to_refresh",
    "prices_refresh",
    "prices_update",
    "provider_from_settings",
]

# Yahoo answers 429 to library and old User-Agents (FORMATS.md §4); a current desktop browser
# string is what keyless clients send.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

_FOUR_PLACES = Decimal("0.0001")  # PriceBar columns have four decimal places


class ProviderError(Exception):
    """A provider could not deliver bars for one request.

    ``permanent``: trying again later will not help (unknown or delisted symbol, missing API key,
    a body of an unexpected format); otherwise it might (rate limit, interstitial, quota, outage).
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent

    def __reduce__(self):
        # Keyword-only arguments are lost by Exception's default pickling (Celery results).
        return functools.partial(type(self), permanent=self.permanent), self.args


class PriceProvider:
    """Daily bars for one canonical ticker (``BRK.B``) over an inclusive date window."""

    name: str = ""  # settings.PRICE_PROVIDER value and PriceBar.provider
    label: str = ""  # for messages

    def __init__(self, *, client: HttpClient | None = None) -> None:
        self._owns_client = client is None
        self.client = client if client is not None else self._default_client()

    def _default_client(self) -> HttpClient:
        return HttpClient()

    def get_daily_bars(self, ticker: str, *, start: dt.date, end: dt.date) -> list[PriceBar]:
        raise NotImplementedError

    def close(self) -> None:
        """Close the HTTP client if this provider created it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> PriceProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fetch(
        self,
        ticker: str,
        url: str,
        *,
        params: dict[str, str],
        headers: dict[str, str] | None = None,
    ) -> bytes:
        try:
            return self.client.get(url, params=params, headers=headers).content
        except FetchError as exc:
            raise self._fetch_error(ticker, exc) from exc

    def _fetch_error(self, ticker: str, exc: FetchError) -> ProviderError:
        return ProviderError(
            f"{self.label} {ticker}: {self._redact(str(exc))}", permanent=exc.permanent
        )

    def _parsed(self, ticker: str, parse: Callable[[], list[PriceBar]]) -> list[PriceBar]:
        """Run a parser and translate its errors: blocked -> retryable, anything else -> final."""
        try:
            return parse()
        except ProviderBlocked as exc:
            raise ProviderError(self._redact(str(exc)), permanent=False) from exc
        except PriceDataNotFound as exc:
            raise ProviderError(self._redact(str(exc)), permanent=True) from exc
        except ProviderFormatError as exc:
            # The same request would get the same unexpected body; a code change is needed.
            raise ProviderError(self._redact(str(exc)), permanent=True) from exc

    def _redact(self, message: str) -> str:
        return message


def _within(bars: list[PriceBar], *, start: dt.date, end: dt.date) -> list[PriceBar]:
    # Providers pad a range to whole periods; keep exactly what was asked for.
    return [bar for bar in bars if start <= bar.date <= end]


def _check_window(start: dt.date, end: dt.date) -> None:
    if start > end:
        raise ValueError(f"start {start} is after end {end}")


class YahooProvider(PriceProvider):
    """Yahoo's keyless chart API (``v8/finance/chart``), daily interval."""

    name = "yahoo"
    label = "Yahoo"

    def _default_client(self) -> HttpClient:
        return HttpClient(user_agent=BROWSER_USER_AGENT)

    def get_daily_bars(self, ticker: str, *, start: dt.date, end: dt.date) -> list[PriceBar]:
        _check_window(start, end)
        symbol = yahoo_symbol(ticker)
        url = f"{settings.YAHOO_CHART_BASE_URL}/{urllib.parse.quote(symbol, safe='')}"
        params = {
            "period1": str(_epoch_at_midnight(start)),
            # period2 is exclusive: the midnight after the last wanted day.
            "period2": str(_epoch_at_midnight(end + dt.timedelta(days=1))),
            "interval": "1d",
            "events": "div,splits",
            "includeAdjustedClose": "true",
        }
        # Per-request header: an injected client keeps its own UA for other sources.
        headers = {"User-Agent": BROWSER_USER_AGENT, "Accept": "application/json"}
        body = self._fetch(ticker, url, params=params, headers=headers)
        bars = self._parsed(ticker, lambda: parse_yahoo_chart(body, symbol=symbol))
        return _within(bars, start=start, end=end)

    def _fetch_error(self, ticker: str, exc: FetchError) -> ProviderError:
        if exc.status == 404:
            # Yahoo sends its "Not Found" error envelope with HTTP 404; the client drops bodies
            # of error responses, and the status alone says it all.
            return ProviderError(
                f"Yahoo {ticker}: no data (HTTP 404: symbol {yahoo_symbol(ticker)!r} unknown "
                "or delisted)",
                permanent=True,
            )
        return super()._fetch_error(ticker, exc)


class StooqProvider(PriceProvider):
    """Stooq's ``/q/d/l/`` daily CSV. Needs an API key since 2026 (FORMATS.md §4)."""

    name = "stooq"
    label = "Stooq"

    def __init__(self, *, client: HttpClient | None = None, api_key: str | None = None) -> None:
        super().__init__(client=client)
        self.api_key = settings.STOOQ_API_KEY if api_key is None else api_key

    def get_daily_bars(self, ticker: str, *, start: dt.date, end: dt.date) -> list[PriceBar]:
        _check_window(start, end)
        if not self.api_key:
            raise ProviderError(
                "STOOQ_API_KEY is not set: Stooq's CSV endpoint answers an HTML page without "
                "one (get a key at https://stooq.com/q/d/?s=spy.us&get_apikey)",
                permanent=True,
            )
        try:
            symbol = stooq_symbol(ticker)
        except ValueError as exc:
            raise ProviderError(f"Stooq {ticker}: {exc}", permanent=True) from exc
        params = {
            "s": symbol,
            "i": "d",
            "d1": f"{start:%Y%m%d}",
            "d2": f"{end:%Y%m%d}",
            "apikey": self.api_key,
        }
        body = self._fetch(ticker, f"{settings.STOOQ_BASE_URL}/q/d/l/", params=params)
        bars = self._parsed(ticker, lambda: parse_stooq_csv(body, symbol=symbol))
        return _within(bars, start=start, end=end)

    def _redact(self, message: str) -> str:
        # Connection errors quote the full URL, key included; messages end up in task results.
        return message.replace(self.api_key, "***") if self.api_key else message


_PROVIDERS: dict[str, type[PriceProvider]] = {
    YahooProvider.name: YahooProvider,
    StooqProvider.name: StooqProvider,
}


def provider_from_settings(name: str | None = None) -> PriceProvider:
    """The provider named ``name``, by default ``settings.PRICE_PROVIDER``."""
    chosen = (name or settings.PRICE_PROVIDER).strip().lower()
    provider_class = _PROVIDERS.get(chosen)
    if provider_class is None:
        known = ", ".join(sorted(_PROVIDERS))
        raise ValueError(f"unknown price provider {chosen!r} (known: {known})")
    return provider_class()


def _epoch_at_midnight(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0, 0), tzinfo=NYSE_TZ).timestamp())


# --------------------------------------------------------------------------------------------
# Which tickers
# --------------------------------------------------------------------------------------------


def _clean(tickers: Iterable[str]) -> list[str]:
    """Upper-cased, stripped, non-empty, first occurrence kept."""
    return list(dict.fromkeys(t.strip().upper() for t in tickers if t and t.strip()))


def price_tickers_to_refresh(*, today: dt.date, extra_tickers: Iterable[str] = ()) -> list[str]:
    """Tickers traded within ``PRICE_TICKER_LOOKBACK_DAYS`` of ``today``, plus ``extra_tickers``.

    Distinct, upper case, sorted. One query: the join and DISTINCT run in the database.
    """
    since = today - dt.timedelta(days=settings.PRICE_TICKER_LOOKBACK_DAYS)
    traded = (
        models.Asset.objects.exclude(ticker="")
        .filter(trades__transaction_date__gte=since)
        # Explicit order_by: Meta.ordering has "name", which would join the DISTINCT columns.
        .order_by("ticker")
        .values_list("ticker", flat=True)
        .distinct()
    )
    return sorted(set(_clean(traded)) | set(_clean(extra_tickers)))


# --------------------------------------------------------------------------------------------
# Storing bars
# --------------------------------------------------------------------------------------------

_UPDATE_FIELDS = ["open", "high", "low", "close", "adj_close", "volume", "provider", "fetched_at"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TickerOutcome:
    """What happened to one ticker in :func:`prices_update` (for progress output)."""

    ticker: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    error: str = ""
    permanent: bool = False


def _price(value: float | None) -> Decimal | None:
    if value is None:
        return None
    # Via str(), the shortest text that round-trips: the provider sent "252.95505", whose float
    # is 252.955049999...; Decimal(float) would round that half-way value down.
    return Decimal(str(value)).quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP)


def _values(bar: PriceBar) -> dict[str, Any]:
    return {
        "open": _price(bar.open),
        "high": _price(bar.high),
        "low": _price(bar.low),
        "close": _price(bar.close),
        "adj_close": _price(bar.adj_close),
        "volume": bar.volume,
    }


def _store(
    *, asset: models.Asset, bars: list[PriceBar], provider: str, now: dt.datetime
) -> TickerOutcome:
    """Upsert one ticker's bars: one read, one bulk insert, one bulk update."""
    wanted = {bar.date: _values(bar) for bar in bars}
    rejected = [day for day, values in wanted.items() if values["low"] > values["high"]]
    for day in rejected:  # would violate ingestion_pricebar_low_lte_high; not a price
        del wanted[day]
    if not wanted:
        return TickerOutcome(ticker=asset.ticker, rejected=len(rejected))
    existing = {
        row.date: row
        for row in models.PriceBar.objects.filter(
            asset=asset, date__range=(min(wanted), max(wanted))
        )
    }
    new: list[models.PriceBar] = []
    changed: list[models.PriceBar] = []
    unchanged = 0
    for day, values in sorted(wanted.items()):
        row = existing.get(day)
        if row is None:
            new.append(
                models.PriceBar(asset=asset, date=day, provider=provider, fetched_at=now, **values)
            )
        elif any(getattr(row, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(row, field, value)
            row.provider, row.fetched_at = provider, now
            changed.append(row)
        else:
            unchanged += 1
    if new or changed:
        _write(new=new, changed=changed)
    return TickerOutcome(
        ticker=asset.ticker,
        created=len(new),
        updated=len(changed),
        unchanged=unchanged,
        rejected=len(rejected),
    )


def _write(*, new: list[models.PriceBar], changed: list[models.PriceBar]) -> None:
    with transaction.atomic():
        # ON CONFLICT update: a concurrent run (beat task and a manual command) that inserted
        # the same (asset, date) since our read must not abort this ticker.
        models.PriceBar.objects.bulk_create(
            new,
            update_conflicts=True,
            unique_fields=["asset", "date"],
            update_fields=_UPDATE_FIELDS,
        )
        models.PriceBar.objects.bulk_update(changed, fields=_UPDATE_FIELDS)


def _asset(ticker: str, known: dict[str, models.Asset]) -> models.Asset:
    asset = known.get(ticker)
    if asset is None:
        # get_or_create: trade ingestion may create the same asset concurrently.
        asset, _created = models.Asset.objects.get_or_create(
            ticker=ticker,
            defaults={"name": ticker, "name_key": ticker.lower(), "kind": models.Asset.Kind.STOCK},
        )
        known[ticker] = asset
    return asset


def prices_update(
    *,
    tickers: list[str],
    provider: PriceProvider,
    start: dt.date,
    end: dt.date,
    on_ticker: Callable[[TickerOutcome], None] | None = None,
) -> dict[str, Any]:
    """Fetch and upsert daily bars of ``tickers`` for ``start``..``end`` (inclusive).

    Idempotent: a second run with the same data creates and updates nothing. A ticker without
    an Asset gets one (kind stock) once its bars arrive. A :class:`ProviderError` is recorded
    under ``errors`` and the next ticker goes on; ``retryable_errors`` counts the non-permanent
    ones. ``on_ticker`` is called after each ticker (progress output).
    """
    _check_window(start, end)
    wanted = _clean(tickers)
    known = {asset.ticker: asset for asset in models.Asset.objects.filter(ticker__in=wanted)}
    summary: dict[str, Any] = {
        "provider": provider.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "tickers": len(wanted),
        "bars_created": 0,
        "bars_updated": 0,
        "bars_unchanged": 0,
        "bars_rejected": 0,
        "errors": {},
        "retryable_errors": 0,
    }
    for ticker in wanted:
        try:
            bars = provider.get_daily_bars(ticker, start=start, end=end)
        except ProviderError as exc:
            outcome = TickerOutcome(ticker=ticker, error=str(exc), permanent=exc.permanent)
            summary["errors"][ticker] = outcome.error
            summary["retryable_errors"] += 0 if exc.permanent else 1
        else:
            if bars:
                asset = _asset(ticker, known)
                outcome = _store(asset=asset, bars=bars, provider=provider.name, now=timezone.now())
            else:
                outcome = TickerOutcome(ticker=ticker)
            summary["bars_created"] += outcome.created
            summary["bars_updated"] += outcome.updated
            summary["bars_unchanged"] += outcome.unchanged
            summary["bars_rejected"] += outcome.rejected
        if on_ticker is not None:
            on_ticker(outcome)
    return summary


def prices_refresh(
    *,
    now: dt.datetime,
    force: bool = False,
    provider: PriceProvider | None = None,
    days: int = 7,
    extra_tickers: Iterable[str] = (),
    on_ticker: Callable[[TickerOutcome], None] | None = None,
) -> dict[str, Any]:
    """The periodic refresh: the last ``days`` days of every ticker that matters.

    While the NYSE is closed (and not ``force``) nothing is fetched and the result is
    ``{"skipped": True, "reason": ...}``. Dates are NYSE-local: at 21:00 ET it is still the
    trading day that just closed, whatever the UTC date says.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    status = market_status(now)
    if not status.open and not force:
        return {"skipped": True, "reason": status.reason}
    today = now.astimezone(NYSE_TZ).date()
    tickers = price_tickers_to_refresh(today=today, extra_tickers=extra_tickers)
    owned = provider is None
    active = provider_from_settings() if provider is None else provider
    try:
        summary = prices_update(
            tickers=tickers,
            provider=active,
            start=today - dt.timedelta(days=days),
            end=today,
            on_ticker=on_ticker,
        )
    finally:
        if owned:
            active.close()
    return {"skipped": False, "market": status.reason, **summary}
