"""Daily price bars from Yahoo's chart API and from Stooq's CSV files.

Pure functions from response bytes to :class:`PriceBar` lists; the HTTP client lives
elsewhere. Both providers answer failures with bodies that look like success (Stooq: HTML
proof-of-work page or a quota sentence with HTTP 200; Yahoo: a JSON error envelope), so every
parser checks the body's shape first and raises :class:`ProviderFormatError` with a message that
says which provider, which symbol and what came back. Two subclasses let a caller react
differently: :class:`PriceDataNotFound` (the provider has no data for the symbol: mark it, do not
retry today) and :class:`ProviderBlocked` (interstitial, quota: back off and retry later).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "PriceBar",
    "PriceDataNotFound",
    "ProviderBlocked",
    "ProviderFormatError",
    "parse_stooq_bulk",
    "parse_stooq_csv",
    "parse_yahoo_chart",
    "stooq_symbol",
    "yahoo_symbol",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceBar:
    """One trading day. Prices in the listing currency; ``adj_close`` None when not given."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float
    adj_close: float | None = None
    volume: int | None = None


class ProviderFormatError(Exception):
    """A provider's body is not the price data asked for."""


class PriceDataNotFound(ProviderFormatError):
    """The provider says it has no data for this symbol (delisted, unknown, empty range)."""


class ProviderBlocked(ProviderFormatError):
    """The provider refused the request (HTML interstitial, quota exhausted): retry later."""


# --------------------------------------------------------------------------------------------
# Symbols
# --------------------------------------------------------------------------------------------

# Canonical tickers (ingestion.normalize.clean_ticker) write a one-letter share class with a dot.
_SHARE_CLASS_RE = re.compile(r"^([A-Z0-9]{1,6})[./-]([A-Z])$")
_STOOQ_INDEXES = {"^GSPC": "^spx"}


def yahoo_symbol(ticker: str) -> str:
    """Yahoo's spelling of a canonical ticker: ``BRK.B`` -> ``BRK-B``.

    Only a one-letter share class is rewritten; longer suffixes are Yahoo's own exchange codes
    (``IBM.MX``, ``3V64.TI``) or already in Yahoo form (``NEE-PC``) and are kept.
    """
    symbol = ticker.strip().upper()
    share_class = _SHARE_CLASS_RE.match(symbol)
    if share_class:
        return f"{share_class.group(1)}-{share_class.group(2)}"
    return symbol


def stooq_symbol(ticker: str) -> str:
    """Stooq's spelling of a US ticker: ``BRK.B`` -> ``brk-b.us``, ``AAPL`` -> ``aapl.us``.

    ``^GSPC`` maps to ``^spx``. Foreign listings (``IBM.MX``) and other indexes have no verified
    Stooq mapping and raise ValueError.
    """
    symbol = ticker.strip().upper()
    if symbol in _STOOQ_INDEXES:
        return _STOOQ_INDEXES[symbol]
    share_class = _SHARE_CLASS_RE.match(symbol)
    if share_class:
        return f"{share_class.group(1)}-{share_class.group(2)}.us".lower()
    if not symbol or "." in symbol or "^" in symbol or " " in symbol:
        raise ValueError(f"no Stooq symbol mapping for {ticker!r}")
    return f"{symbol.lower()}.us"


# --------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------


# The Stooq bulk header also starts with "<" ("<TICKER>,..."), so look for real HTML tags.
_HTML_RE = re.compile(
    r"<(?:!doctype|html|head|body|script|meta|title|div|p|form|center|h1|\?xml|!--)(?=[\s>/]|$)",
    re.IGNORECASE,
)


def _text(data: bytes, *, provider: str, symbol: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProviderFormatError(f"{provider} {symbol}: body is not UTF-8 text") from None
    stripped = text.lstrip()
    if not stripped:
        raise PriceDataNotFound(f"{provider} {symbol}: empty body")
    if _HTML_RE.match(stripped) or "<html" in stripped[:2000].lower():
        # Stooq's proof-of-work interstitial and any error page arrive as HTML with HTTP 200.
        snippet = " ".join(stripped[:80].split())
        raise ProviderBlocked(
            f"{provider} {symbol}: got an HTML page instead of data "
            f"(interstitial or error page): {snippet!r}"
        )
    return text


def _check_stooq_message(text: str, *, symbol: str) -> None:
    head = " ".join(text[:200].split())
    lowered = head.lower()
    if "exceeded the daily hits limit" in lowered:
        raise ProviderBlocked(f"Stooq {symbol}: daily quota exhausted: {head!r}")
    if lowered.startswith("no data"):
        raise PriceDataNotFound(f"Stooq {symbol}: provider has no data: {head!r}")


def _number(value: str, *, what: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ProviderFormatError(f"{where}: {what} {value!r} is not a number") from None
    if number != number or number < 0:  # NaN or negative
        raise ProviderFormatError(f"{where}: {what} {value!r} is not a price")
    return number


def _volume(value: str, *, where: str) -> int | None:
    if value == "":
        return None
    return int(_number(value, what="volume", where=where))


# --------------------------------------------------------------------------------------------
# Stooq
# --------------------------------------------------------------------------------------------

_STOOQ_QDL_HEADER = ["date", "open", "high", "low", "close"]


def parse_stooq_csv(data: bytes, *, symbol: str) -> list[PriceBar]:
    """Bars from Stooq's ``/q/d/l/`` CSV: ``Date,Open,High,Low,Close[,Volume]``, ISO dates.

    The CSV does not name its symbol, so ``symbol`` is only used in messages. HTML bodies,
    ``Exceeded the daily hits limit``, ``No data``, another header and unreadable rows raise
    :class:`ProviderFormatError` (or a subclass). Bars come back in date order.
    """
    text = _text(data, provider="Stooq", symbol=symbol)
    _check_stooq_message(text, symbol=symbol)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    header = [cell.strip().lower() for cell in lines[0].split(",")]
    if header[:5] != _STOOQ_QDL_HEADER or header[5:] not in ([], ["volume"]):
        raise ProviderFormatError(
            f"Stooq {symbol}: expected header 'Date,Open,High,Low,Close,Volume', "
            f"got {lines[0][:80]!r}"
        )
    has_volume = len(header) == 6
    bars: list[PriceBar] = []
    for number, line in enumerate(lines[1:], start=2):
        where = f"Stooq {symbol} line {number}"
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(header):
            raise ProviderFormatError(f"{where}: expected {len(header)} columns: {line[:80]!r}")
        try:
            day = dt.date.fromisoformat(cells[0])
        except ValueError:
            raise ProviderFormatError(f"{where}: {cells[0]!r} is not a date") from None
        bars.append(
            PriceBar(
                date=day,
                open=_number(cells[1], what="open", where=where),
                high=_number(cells[2], what="high", where=where),
                low=_number(cells[3], what="low", where=where),
                close=_number(cells[4], what="close", where=where),
                volume=_volume(cells[5], where=where) if has_volume else None,
            )
        )
    if not bars:
        raise PriceDataNotFound(f"Stooq {symbol}: header only, no rows")
    bars.sort(key=lambda bar: bar.date)
    return bars


_STOOQ_BULK_HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"


def parse_stooq_bulk(data: bytes, *, symbol: str) -> list[PriceBar]:
    """Daily bars from a Stooq bulk-download file (``aapl.us.txt``).

    Layout ``<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>`` with
    ``YYYYMMDD`` dates. ``symbol`` may be canonical (``AAPL``) or Stooq form (``aapl.us``);
    every row's ``<TICKER>`` must be that symbol, and ``<PER>`` must be ``D`` (daily).
    """
    text = _text(data, provider="Stooq", symbol=symbol)
    _check_stooq_message(text, symbol=symbol)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines[0].replace(" ", "").upper() != _STOOQ_BULK_HEADER:
        raise ProviderFormatError(
            f"Stooq {symbol}: expected the bulk header {_STOOQ_BULK_HEADER!r}, "
            f"got {lines[0][:80]!r}"
        )
    wanted = symbol.strip().lower()
    if not wanted.endswith(".us") and not wanted.startswith("^"):
        wanted = stooq_symbol(symbol)
    bars: list[PriceBar] = []
    for number, line in enumerate(lines[1:], start=2):
        where = f"Stooq {symbol} line {number}"
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != 10:
            raise ProviderFormatError(f"{where}: expected 10 columns: {line[:80]!r}")
        if cells[0].lower() != wanted:
            raise ProviderFormatError(f"{where}: file is for {cells[0]!r}, not {wanted.upper()!r}")
        if cells[1].upper() != "D":
            raise ProviderFormatError(f"{where}: period {cells[1]!r} is not daily ('D')")
        try:
            day = dt.datetime.strptime(cells[2], "%Y%m%d").date()
        except ValueError:
            raise ProviderFormatError(f"{where}: {cells[2]!r} is not a YYYYMMDD date") from None
        bars.append(
            PriceBar(
                date=day,
                open=_number(cells[4], what="open", where=where),
                high=_number(cells[5], what="high", where=where),
                low=_number(cells[6], what="low", where=where),
                close=_number(cells[7], what="close", where=where),
                volume=_volume(cells[8], where=where),
            )
        )
    if not bars:
        raise PriceDataNotFound(f"Stooq {symbol}: header only, no rows")
    bars.sort(key=lambda bar: bar.date)
    return bars


# --------------------------------------------------------------------------------------------
# Yahoo
# --------------------------------------------------------------------------------------------


def _zone(meta: dict[str, Any]) -> dt.tzinfo:
    name = meta.get("exchangeTimezoneName")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    # Without the tz database the current UTC offset still gives the right trading date:
    # bars are stamped at or after midnight local time, never near the date line.
    offset = meta.get("gmtoffset")
    if isinstance(offset, int):
        return dt.timezone(dt.timedelta(seconds=offset))
    return dt.UTC


def _series(container: Any, key: str) -> list[Any] | None:
    if isinstance(container, list) and container and isinstance(container[0], dict):
        values = container[0].get(key)
        if isinstance(values, list):
            return values
    return None


def parse_yahoo_chart(data: bytes, *, symbol: str) -> list[PriceBar]:
    """Bars from Yahoo's ``v8/finance/chart/{SYMBOL}`` JSON.

    * Timestamps become trading dates in the exchange's time zone (``exchangeTimezoneName``;
      ``gmtoffset`` when the tz database lacks it).
    * Bars with a null open, high, low or close (halts, holidays) are skipped; a null volume
      becomes None.
    * The in-progress bar is dropped: Yahoo stamps the bar of the still-running period with the
      time of the latest trade, so the last bar whose timestamp equals
      ``meta.regularMarketTime`` is partial (completed bars carry the period's start time).
    * Prices are rounded to ``priceHint + 2`` decimals (at least 4) to drop float32 noise
      (217.5500030517578 -> 217.55).
    * ``symbol`` may be canonical (``BRK.B``) or Yahoo form (``BRK-B``); ``meta.symbol`` must
      match it.

    Raises :class:`PriceDataNotFound` for the error envelope ``Not Found`` or an empty result,
    :class:`ProviderBlocked` for HTML, :class:`ProviderFormatError` for anything else unexpected.
    """
    text = _text(data, provider="Yahoo", symbol=symbol)
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ProviderFormatError(f"Yahoo {symbol}: body is not JSON ({error})") from None
    chart = document.get("chart") if isinstance(document, dict) else None
    if not isinstance(chart, dict):
        raise ProviderFormatError(f"Yahoo {symbol}: no 'chart' object in the body")
    error = chart.get("error")
    if error:
        code = error.get("code", "") if isinstance(error, dict) else ""
        description = error.get("description", "") if isinstance(error, dict) else str(error)
        message = f"Yahoo {symbol}: {code}: {description}".rstrip(": ")
        if code == "Not Found":
            raise PriceDataNotFound(message)
        raise ProviderFormatError(message)
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise PriceDataNotFound(f"Yahoo {symbol}: empty result")
    result = results[0]
    meta = result.get("meta") if isinstance(result.get("meta"), dict) else {}
    returned = str(meta.get("symbol") or "").upper()
    asked = {symbol.strip().upper(), yahoo_symbol(symbol)}
    if returned and returned not in asked:
        raise ProviderFormatError(f"Yahoo {symbol}: response is for {returned!r}")

    timestamps = result.get("timestamp")
    if not timestamps:
        raise PriceDataNotFound(f"Yahoo {symbol}: no bars in the requested range")
    indicators = result.get("indicators") if isinstance(result.get("indicators"), dict) else {}
    quote = indicators.get("quote")
    series = {key: _series(quote, key) for key in ("open", "high", "low", "close", "volume")}
    adjusted = _series(indicators.get("adjclose"), "adjclose")
    for key, values in series.items():
        if values is None or len(values) != len(timestamps):
            raise ProviderFormatError(
                f"Yahoo {symbol}: indicators.quote.{key} is missing or not parallel to timestamp"
            )
    if adjusted is not None and len(adjusted) != len(timestamps):
        adjusted = None

    in_progress = meta.get("regularMarketTime")
    zone = _zone(meta)
    hint = meta.get("priceHint")
    digits = max(hint if isinstance(hint, int) else 2, 2) + 2
    bars: list[PriceBar] = []
    seen: set[dt.date] = set()
    for index, stamp in enumerate(timestamps):
        if index == len(timestamps) - 1 and stamp == in_progress:
            continue
        values = [series[key][index] for key in ("open", "high", "low", "close")]
        if any(value is None for value in values):
            continue
        day = dt.datetime.fromtimestamp(stamp, zone).date()
        if day in seen:
            continue
        seen.add(day)
        volume = series["volume"][index]
        adj = adjusted[index] if adjusted is not None else None
        bars.append(
            PriceBar(
                date=day,
                open=round(values[0], digits),
                high=round(values[1], digits),
                low=round(values[2], digits),
                close=round(values[3], digits),
                adj_close=None if adj is None else round(adj, digits),
                volume=None if volume is None else int(volume),
            )
        )
    bars.sort(key=lambda bar: bar.date)
    return bars
