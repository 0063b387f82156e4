"""The one shared vocabulary: what a raw disclosure value means.

Source parsers keep every value as the source printed it (``ingestion.records``). This module
turns those strings into canonical values, and refuses what it cannot read with a
:class:`Rejected` whose message names the field, quotes the value and says why, so a person can
find and fix the original. Everything here is pure Python (no database, no network, no Django)
and fast enough to run on every row of an import: regexes are compiled once, vocabularies are
dict lookups, and repeated strings (dates, amounts, tickers) are parsed once and cached.

Canonical values (models use these exact strings as ``TextChoices`` values):

* transaction types: ``purchase``, ``sale_full``, ``sale_partial``, ``sale`` (a sale whose
  full/partial status the source does not state), ``exchange``;
* owners: ``self``, ``spouse``, ``joint``, ``child``, ``undisclosed``;
* asset types: ``stock``, ``option``, ``etf``, ``mutual_fund``, ``bond``, ``government``,
  ``crypto``, ``private``, ``fund``, ``other``, ``unknown``.

The rule for when a disclosure is due (STOCK Act) is in :func:`disclosure_deadline`, and the
cross-source duplicate key in :func:`trade_fingerprint`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ingestion.records import RawTrade

__all__ = [
    "ASSET_TYPES",
    "OWNERS",
    "STOCK_ACT_START",
    "TRANSACTION_TYPES",
    "Amount",
    "NormalizedTrade",
    "Rejected",
    "clean_ticker",
    "disclosure_deadline",
    "disclosure_delay_days",
    "is_late",
    "normalize_trade",
    "parse_amount",
    "parse_asset_type",
    "parse_cap_gains",
    "parse_date",
    "parse_owner",
    "parse_transaction_type",
    "split_house_asset",
    "trade_fingerprint",
]

# --------------------------------------------------------------------------------------------
# Canonical values
# --------------------------------------------------------------------------------------------

PURCHASE = "purchase"
SALE_FULL = "sale_full"
SALE_PARTIAL = "sale_partial"
SALE = "sale"
EXCHANGE = "exchange"
TRANSACTION_TYPES: tuple[str, ...] = (PURCHASE, SALE_FULL, SALE_PARTIAL, SALE, EXCHANGE)

SELF = "self"
SPOUSE = "spouse"
JOINT = "joint"
CHILD = "child"
UNDISCLOSED = "undisclosed"
OWNERS: tuple[str, ...] = (SELF, SPOUSE, JOINT, CHILD, UNDISCLOSED)

ASSET_TYPES: tuple[str, ...] = (
    "stock",
    "option",
    "etf",
    "mutual_fund",
    "bond",
    "government",
    "crypto",
    "private",
    "fund",
    "other",
    "unknown",
)

# Transactions before this date cannot be STOCK Act disclosures (the Act took effect in 2012);
# a date before it is a parse defect such as the year "1935" the House re-creation produces.
STOCK_ACT_START = dt.date(2012, 1, 1)


# --------------------------------------------------------------------------------------------
# Rejected
# --------------------------------------------------------------------------------------------


class Rejected(Exception):
    """A value that cannot be read, with what a person needs to find and fix it.

    ``str()`` reads ``"<location>: <field>: '<value>' <reason>"`` (the location part only when
    known), for example ``transaction_date: '01/05/1935' is before 2012-01-01 (STOCK Act
    reporting began 2012)``. ``reason`` is phrased to follow the quoted value.
    """

    def __init__(self, field: str, value: object, reason: str, location: str = "") -> None:
        # All four go to Exception.args so the exception pickles (Celery results, multiprocessing).
        super().__init__(field, value, reason, location)
        self.field = field
        self.value = value
        self.reason = reason
        self.location = location

    def __str__(self) -> str:
        message = f"{self.field}: {self.value!r} {self.reason}"
        return f"{self.location}: {message}" if self.location else message

    def with_location(self, location: str) -> Rejected:
        """The same rejection, placed at ``location`` (a record's ``RawTrade.location``)."""
        return Rejected(self.field, self.value, self.reason, location)


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_TAG_RE = re.compile(r"<[^>]*>")
# NUL and friends come from pdfplumber's small-caps label glyphs ("F\x00\x00 S\x00: New").
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TEXT_MUTED_RE = re.compile(r"<div\b", re.IGNORECASE)


def _clean_text(raw: str) -> str:
    """Drop HTML tags, decode entities, drop control bytes, collapse whitespace."""
    if not raw:
        return ""
    text = raw
    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if not text.isprintable():
        text = _CONTROL_RE.sub("", text)
    return " ".join(text.split())


@lru_cache(maxsize=4096)
def _key(raw: str) -> str:
    """Lookup key for a vocabulary word: lower case, punctuation and runs of spaces folded."""
    # Cached: an import repeats a handful of type, owner and asset-type words on every row.
    return _KEY_RE.sub(" ", raw.lower()).strip()


_KEY_RE = re.compile(r"[\s_\-()/.,:]+")


# --------------------------------------------------------------------------------------------
# Transaction type
# --------------------------------------------------------------------------------------------

_TRANSACTION_TYPE_WORDS: dict[str, str] = {
    # House PDF codes
    "p": PURCHASE,
    "s": SALE_FULL,  # the House form has a separate "S (partial)" box, so a bare S is full
    "s partial": SALE_PARTIAL,
    "s full": SALE_FULL,
    "e": EXCHANGE,
    # Senate eFD, FMP, Quiver, house-stock-watcher (snake case folds to the same keys)
    "purchase": PURCHASE,
    "purchased": PURCHASE,
    "buy": PURCHASE,
    "bought": PURCHASE,
    "sale full": SALE_FULL,
    "full sale": SALE_FULL,
    "sale partial": SALE_PARTIAL,
    "partial sale": SALE_PARTIAL,
    # A sale whose full/partial status is not stated (2026 re-creation, FMP, Capitol Trades).
    "sale": SALE,
    "sell": SALE,
    "sold": SALE,
    "exchange": EXCHANGE,
    "exchanged": EXCHANGE,
}


def parse_transaction_type(raw: str) -> str:
    """Canonical transaction type for any spelling in FORMATS §2.

    ``P`` / ``Purchase`` / ``purchase`` / ``buy`` -> ``purchase``; ``S`` / ``Sale (Full)`` /
    ``sale_full`` -> ``sale_full``; ``S (partial)`` / ``Sale (Partial)`` / ``Sale Partial`` /
    ``sale_partial`` -> ``sale_partial``; ``Sale`` / ``sell`` -> ``sale`` (full or partial not
    stated); ``E`` / ``Exchange`` -> ``exchange``. Case, whitespace, ``_`` and parentheses do not
    matter. Anything else (``N/A`` on paper placeholders, Capitol Trades' ``receive``) raises
    :class:`Rejected`.
    """
    found = _TRANSACTION_TYPE_WORDS.get(_key(raw or ""))
    if found is None:
        raise Rejected(
            "transaction_type",
            raw,
            "is not a known transaction type (expected purchase, sale, partial sale or exchange)",
        )
    return found


# --------------------------------------------------------------------------------------------
# Owner
# --------------------------------------------------------------------------------------------

_OWNER_WORDS: dict[str, str] = {
    "": SELF,  # a blank House PDF owner cell means the filer
    "self": SELF,
    "filer": SELF,
    "sp": SPOUSE,
    "spouse": SPOUSE,
    "jt": JOINT,
    "joint": JOINT,
    "dc": CHILD,
    "child": CHILD,
    "dependent": CHILD,
    "dependant": CHILD,
    "dependent child": CHILD,
    "dependant child": CHILD,
    "n a": UNDISCLOSED,
    "na": UNDISCLOSED,
    "not disclosed": UNDISCLOSED,
    "undisclosed": UNDISCLOSED,
    "unknown": UNDISCLOSED,
}


def parse_owner(raw: str) -> str:
    """Canonical owner: ``self``, ``spouse``, ``joint``, ``child`` or ``undisclosed``.

    Blank / ``Self`` -> ``self`` (a blank House PDF cell means the filer); ``SP`` / ``Spouse``;
    ``JT`` / ``Joint``; ``DC`` / ``Child`` / ``Dependent Child`` / ``dependent``; ``--`` /
    ``N/A`` / ``not-disclosed`` -> ``undisclosed``. Anything else (for example a company name
    shifted into the owner column by a regex parser) raises :class:`Rejected`.
    """
    text = raw or ""
    if text.strip() in ("--", "-"):
        return UNDISCLOSED
    found = _OWNER_WORDS.get(_key(text))
    if found is None:
        raise Rejected(
            "owner", raw, "is not a known owner (expected Self, SP, JT, DC or their words)"
        )
    return found


# --------------------------------------------------------------------------------------------
# Amount
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Amount:
    """A disclosed amount in whole US dollars.

    ``max_usd`` is None for open-ended bands (``Over $50,000,000``). ``label`` is the source
    string with whitespace collapsed. ``is_exact`` marks exact amounts (``$1,118.07``), stored
    as ``min_usd == max_usd`` rounded half-up to whole dollars. ``over_1m_flag`` marks the
    paper-form spouse/dependent-child checkbox ``Over $1,000,000``, which is a flag, not a band.
    """

    min_usd: int
    max_usd: int | None
    label: str
    is_exact: bool = False
    over_1m_flag: bool = False


# Statutory band lows -> highs. A House PDF amount cut off after its first line ("$15,001 -")
# is completed from here, because every statutory band has a distinct low.
_BAND_HIGH_BY_LOW: dict[int, int] = {
    1: 1_000,
    1_001: 15_000,
    15_001: 50_000,
    50_001: 100_000,
    100_001: 250_000,
    250_001: 500_000,
    500_001: 1_000_000,
    1_000_001: 5_000_000,
    5_000_001: 25_000_000,
    25_000_001: 50_000_000,
}

_MONEY = r"\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?"
_BAND_RE = re.compile(rf"^{_MONEY}\s*(?:-|\u2013|\u2014|to)\s*{_MONEY}$", re.IGNORECASE)
_DANGLING_BAND_RE = re.compile(rf"^{_MONEY}\s*(?:-|\u2013|\u2014|to)$", re.IGNORECASE)
_OPEN_BAND_RE = re.compile(
    rf"^(?:(?:over|more than|greater than|above|>)\s*{_MONEY}|{_MONEY}\s*\+)$", re.IGNORECASE
)
_EXACT_RE = re.compile(r"^\$\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")


def _dollars(digits: str, cents: str | None) -> int:
    """Whole dollars, rounding cents half-up ($1,118.50 -> 1119, $9.49 -> 9)."""
    whole = int(digits.replace(",", ""))
    if cents:
        whole_cents = whole * 100 + int(cents.ljust(2, "0"))
        return (whole_cents + 50) // 100
    return whole


@lru_cache(maxsize=4096)
def _parse_amount_cached(raw: str) -> Amount | str:
    label = " ".join(raw.split())
    if not label:
        return "is empty"
    if label.lower() in ("unknown", "n/a", "--", "none"):
        return "is not an amount (the source gives no value; paper filings say 'Unknown')"
    match = _BAND_RE.match(label)
    if match:
        low = _dollars(match.group(1), match.group(2))
        high = _dollars(match.group(3), match.group(4))
        if low > high:
            return "is a band whose low is above its high"
        return Amount(min_usd=low, max_usd=high, label=label)
    match = _OPEN_BAND_RE.match(label)
    if match:
        digits, cents = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
        low = _dollars(digits, cents)
        return Amount(min_usd=low, max_usd=None, label=label, over_1m_flag=low == 1_000_000)
    match = _DANGLING_BAND_RE.match(label)
    if match:
        low = _dollars(match.group(1), match.group(2))
        high = _BAND_HIGH_BY_LOW.get(low)
        if high is None:
            return "is a band cut off after its low, and that low is not a statutory band"
        return Amount(min_usd=low, max_usd=high, label=label)
    match = _EXACT_RE.match(label)
    if match:
        value = _dollars(match.group(1), match.group(2))
        return Amount(min_usd=value, max_usd=value, label=label, is_exact=True)
    return "is not a known amount (expected '$1,001 - $15,000', 'Over $50,000,000' or '$9.00')"


def parse_amount(raw: str) -> Amount:
    """Read a disclosed amount.

    Accepts the statutory bands (``$1 - $1,000`` ... ``$25,000,001 - $50,000,000``), open bands
    (``Over $50,000,000``; ``Over $1,000,000`` also sets ``over_1m_flag``), exact amounts with a
    ``$`` (``$9.00``, ``$1,118.07``: rounded half-up to whole dollars), amounts wrapped over
    lines (``"$15,001 -\\n$50,000"``), and a statutory band cut off after its low
    (``"$15,001 -"``, frequent in regex-parsed House data), completed from the statutory table.
    A bare number without ``$`` (``"15001.0"``, ``amount_mid``) is rejected on purpose: feeds use
    it for the band low, the midpoint or an exact value, and it cannot be told which.
    ``Unknown``, empty, a band whose low is above its high, and anything else raise
    :class:`Rejected`.
    """
    result = _parse_amount_cached(raw or "")
    if isinstance(result, str):
        raise Rejected("amount", raw, result)
    return result


# --------------------------------------------------------------------------------------------
# Tickers and House asset strings
# --------------------------------------------------------------------------------------------

_NO_TICKER = frozenset({"", "--", "-", "N/A", "NA", "NONE", "NULL", "UNKNOWN"})
_ANCHOR_TEXT_RE = re.compile(r"<a\b[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
# OCC option symbol: root, YYMMDD expiry, C/P, strike x1000 (SPY160219P00180000).
_OCC_OPTION_RE = re.compile(r"^([A-Z]{1,6})\d{6}[CP]\d{8}$")
# A one-letter share class written with '-', '/' or a space (BRK-B, BRK/B) becomes BRK.B.
_SHARE_CLASS_RE = re.compile(r"^([A-Z]{1,5})[-/ ]([A-Z])$")
# A preferred series written with '$' (T$A, COF$I in House PDFs) becomes Yahoo's T-PA, the
# spelling the Senate feed already uses for preferreds (NEE-PC, DD-PA).
_PREFERRED_DOLLAR_RE = re.compile(r"^([A-Z]{1,5})\$([A-Z])$")
_TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,9}$")


@lru_cache(maxsize=8192)
def _clean_ticker_cached(raw: str) -> str | tuple[str]:
    text = raw
    if "<" in text:
        anchor = _ANCHOR_TEXT_RE.search(text)
        text = anchor.group(1) if anchor else _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = " ".join(text.split()).upper()
    if text in _NO_TICKER:
        return ""
    # '$AAPL' (cashtag) and '^MWE' (a caret the Senate feed puts on some exchanged units): a
    # disclosed trade is never in an index, so a leading caret is noise, not an index symbol.
    text = text.lstrip("$^").strip()
    if text in _NO_TICKER:
        return ""
    option = _OCC_OPTION_RE.match(text)
    if option:
        return option.group(1)
    share_class = _SHARE_CLASS_RE.match(text)
    if share_class:
        return f"{share_class.group(1)}.{share_class.group(2)}"
    preferred = _PREFERRED_DOLLAR_RE.match(text)
    if preferred:
        return f"{preferred.group(1)}-P{preferred.group(2)}"
    if not _TICKER_RE.match(text):
        return ("cannot be a ticker symbol (more than 10 characters, spaces or punctuation)",)
    return text


def clean_ticker(raw: str) -> str:
    """The ticker symbol in canonical upper-case form, or ``""`` when the source gives none.

    * ``--``, blank, ``N/A``, ``None`` -> ``""``.
    * HTML anchors -> their text (``<a href="...?s=AMAT">AMAT</a>`` -> ``AMAT``); ``$`` and a
      leading ``^`` are dropped, whitespace removed, letters upper-cased.
    * An OCC option symbol becomes its underlying (``SPY160219P00180000`` -> ``SPY``): the
      option itself is described by the asset type and the description.
    * A one-letter share class is written with a dot (``BRK-B``, ``BRK/B`` -> ``BRK.B``);
      longer suffixes are kept as printed (``NEE-PC`` preferred, ``XLS-WI`` when-issued,
      ``IBM.MX`` foreign listing); a preferred series written with ``$`` takes the Yahoo form
      the Senate uses (``T$A`` -> ``T-PA``). :func:`ingestion.parsers.prices.yahoo_symbol` and
      ``stooq_symbol`` map the canonical form to each provider.

    Something that cannot be a symbol after cleaning (contains spaces, more than 10 characters,
    other punctuation) raises :class:`Rejected` rather than returning ``""``: in the samples such
    a value means a parser shifted a column, so the whole row is suspect and should be looked at.
    """
    result = _clean_ticker_cached(raw or "")
    if isinstance(result, tuple):
        raise Rejected("ticker", raw, result[0])
    return result


# "Name (TICKER) [XX]": the ticker in parentheses and the [XX] asset-type code are optional, and
# the name may contain other parentheses ("Accenture plc ... (Ireland)").
_HOUSE_ASSET_CODE_RE = re.compile(r"\s*\[\s*([A-Za-z0-9]{2})\s*\]\s*$")
_HOUSE_ASSET_TICKER_RE = re.compile(r"\s*\(\s*([A-Z0-9][A-Z0-9.\-/ ]{0,11}?)\s*\)\s*$")
# Upper-case words in trailing parentheses that are not tickers.
_NOT_TICKERS = frozenset(
    {"ADR", "ADS", "AMEX", "ETF", "ETN", "LLC", "LP", "NASDAQ", "NYSE", "OTC", "REIT", "US", "USA"}
)


@lru_cache(maxsize=8192)
def split_house_asset(raw: str) -> tuple[str, str, str]:
    """Split a House asset cell into (asset name, ticker, House asset-type code).

    ``"Apple Inc. (AAPL) [ST]"`` -> ``("Apple Inc.", "AAPL", "ST")``. Both the ``(TICKER)`` and
    the ``[XX]`` code are optional; the ticker is only taken from the last parentheses, only
    when they hold an upper-case symbol with at least one letter (``(Ireland)``, ``(1)`` and
    ``(NYSE)`` stay part of the name), and it is cleaned by :func:`clean_ticker`. The code is
    returned upper-case and unvalidated (``parse_asset_type`` reads it). Whitespace in the name
    is collapsed; HTML is not removed here.
    """
    text = " ".join((raw or "").split())
    code = ""
    match = _HOUSE_ASSET_CODE_RE.search(text)
    if match:
        code = match.group(1).upper()
        text = text[: match.start()]
    ticker = ""
    match = _HOUSE_ASSET_TICKER_RE.search(text)
    if match:
        candidate = match.group(1)
        if any(c.isalpha() for c in candidate) and candidate.strip() not in _NOT_TICKERS:
            cleaned = _clean_ticker_cached(candidate)
            if isinstance(cleaned, str) and cleaned:
                ticker = cleaned
                text = text[: match.start()]
    return text.strip(), ticker, code


# Senate rows sometimes put the ticker in front of the name while the Ticker cell says "--"
# ("SPYM - Tradr 2X Long SPY Monthly ETF"; the amendment filed minutes later fixed exactly
# that). Only used for stock-like asset types: on bonds the prefix names the issuer's stock.
_NAME_TICKER_PREFIX_RE = re.compile(r"^([A-Z]{2,5}(?:\.[A-Z])?) - (\S.*)$")
_NAME_TICKER_PREFIX_TYPES = frozenset({"stock", "etf", "mutual_fund", "fund"})


# --------------------------------------------------------------------------------------------
# Asset type
# --------------------------------------------------------------------------------------------

# House codes (fd.house.gov/reference/asset-type-codes.aspx) and the words other sources use,
# keyed by _key() of the raw value.
_ASSET_TYPE_WORDS: dict[str, str] = {
    # House codes
    "st": "stock",  # stocks incl. ADRs
    "rs": "stock",  # restricted stock units
    "op": "option",
    "sa": "option",  # stock appreciation rights
    "ef": "etf",
    "et": "etf",  # exchange traded notes trade like ETFs
    "mf": "mutual_fund",
    "cs": "bond",  # corporate bonds and notes
    "ab": "bond",  # asset-backed securities
    "gs": "government",  # government securities and agency debt (munis are filed here too)
    "ct": "crypto",
    "ol": "private",  # ownership interest, engaged in a trade or business
    "oi": "private",  # ownership interest, holding investments
    "ps": "private",  # stock, not publicly traded
    "ds": "private",  # Delaware statutory trust
    "hn": "fund",  # hedge / private-equity funds (non-EIF)
    "he": "fund",  # hedge / private-equity funds (EIF)
    "re": "fund",  # real estate investment trust (non-traded)
    "ic": "fund",  # investment club
    "5c": "fund",  # 529 college savings plan
    "5f": "fund",  # 529 portfolio
    "5p": "fund",  # 529 prepaid tuition plan
    "ba": "other",  # bank accounts, money market, CDs
    "bk": "other",  # brokerage accounts
    "ir": "other",  # IRA
    "ih": "other",  # IRA held in cash
    "4k": "other",  # 401k
    "fu": "other",  # futures
    "fe": "other",  # foreign exchange
    "fn": "other",  # fixed annuity
    "va": "other",  # variable annuity
    "vi": "other",  # variable insurance
    "wu": "other",  # whole/universal insurance
    "ma": "other",  # managed accounts
    "mo": "other",  # mineral/oil/gas rights
    "pm": "other",  # precious metals
    "rp": "other",  # real property
    "tr": "other",  # trust
    "pe": "other",  # pension
    "db": "other",  # defined benefit pension
    "co": "other",  # collectibles
    "do": "other",  # debts owed to the filer
    "ip": "other",  # intellectual property
    "fa": "other",  # farms
    "eq": "other",  # excepted / qualified blind trust
    "ot": "other",
    # Senate eFD words (ETFs are typed "Stock" there), FMP, Capitol Trades, feeds
    "stock": "stock",
    "stocks": "stock",
    "common stock": "stock",
    "equity": "stock",
    "restricted stock units": "stock",
    "stock option": "option",
    "stock options": "option",
    "option": "option",
    "options": "option",
    "call": "option",
    "put": "option",
    "etf": "etf",
    "exchange traded fund": "etf",
    "etn": "etf",
    "exchange traded note": "etf",
    "mutual fund": "mutual_fund",
    "mutual funds": "mutual_fund",
    "corporate bond": "bond",
    "corporate bonds": "bond",
    "bond": "bond",
    "bonds": "bond",
    "asset backed security": "bond",
    "municipal security": "government",
    "municipal bond": "government",
    "government security": "government",
    "government securities": "government",
    "treasury": "government",
    "us treasury": "government",
    "cryptocurrency": "crypto",
    "crypto": "crypto",
    "non public stock": "private",
    "private stock": "private",
    "ownership interest": "private",
    "hedge fund": "fund",
    "private equity fund": "fund",
    "hedge pe fund": "fund",
    "fund": "fund",
    "other securities": "other",
    "other security": "other",
    "other": "other",
    # The source does not say.
    "": "unknown",
    "unknown": "unknown",
    "n a": "unknown",
    "pdf disclosed filing": "unknown",  # senate-stock-watcher's paper-filing placeholder
}
# The canonical values read as themselves.
_ASSET_TYPE_WORDS.update({_key(value): value for value in ASSET_TYPES})


def parse_asset_type(raw: str) -> str:
    """Canonical asset type from a House code or a source's words. Never rejects.

    House codes: ``ST``/``RS`` -> stock, ``OP`` -> option, ``EF``/``ET`` -> etf, ``MF`` ->
    mutual_fund, ``CS``/``AB`` -> bond, ``GS`` -> government, ``CT`` -> crypto,
    ``OL``/``OI``/``PS``/``DS`` -> private, ``HN``/``HE``/529 plans -> fund, accounts, annuities,
    real property and the like -> other. ``[ST]`` with brackets works too. Senate words:
    ``Stock`` -> stock (the Senate types ETFs as Stock), ``Stock Option`` -> option,
    ``Corporate Bond`` -> bond, ``Municipal Security`` -> government (the House files munis
    under GS), ``Other Securities`` -> other, ``Non-Public Stock`` -> private. ``""``,
    ``Unknown`` and the ``PDF Disclosed Filing`` placeholder -> ``unknown`` (the source did not
    say); any other unrecognised word -> ``other`` (the source said something we do not
    classify).
    """
    return _ASSET_TYPE_WORDS.get(_key(raw or "").strip("[] "), "other")


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"^(?:(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"
    r"|(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"|(?P<cy>\d{4})(?P<cm>\d{2})(?P<cd>\d{2}))"
    # A time of day is ignored: "01/01/2012 00:00:00", "2021-09-27T00:00:00Z",
    # "06/16/2026 @ 10:27 AM" (the day as printed, no time zone conversion).
    r"(?:\s*(?:@\s*|T)?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?$"
)


@lru_cache(maxsize=8192)
def _parse_date_cached(raw: str) -> dt.date | str:
    text = " ".join(raw.split())
    if not text:
        return "is empty"
    match = _DATE_RE.match(text)
    if not match:
        return "is not a date in M/D/YYYY, YYYY-MM-DD or YYYYMMDD form"
    groups = match.groupdict()
    if groups["y"]:
        year, month, day = groups["y"], groups["m"], groups["d"]
    elif groups["iy"]:
        year, month, day = groups["iy"], groups["im"], groups["id"]
    else:
        year, month, day = groups["cy"], groups["cm"], groups["cd"]
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return "is not a real calendar date"


def parse_date(raw: str, *, field: str) -> dt.date:
    """Read ``M/D/YYYY``, ``MM/DD/YYYY``, ``YYYY-MM-DD`` or ``YYYYMMDD``.

    Stray whitespace and newlines are ignored (the eFD scrape pads dates with both), and so is
    a trailing time of day. Impossible dates (``02/30/2024``, ``13/01/2024``), two-digit years
    and anything else raise :class:`Rejected` naming ``field``. No range check here;
    :func:`normalize_trade` applies the STOCK Act window.
    """
    result = _parse_date_cached(raw or "")
    if isinstance(result, str):
        raise Rejected(field, raw, result)
    return result


def _check_window(value: dt.date, *, raw: str, field: str, today: dt.date) -> None:
    if value < STOCK_ACT_START:
        raise Rejected(
            field, raw, f"is before {STOCK_ACT_START.isoformat()} (STOCK Act reporting began 2012)"
        )
    if value > today:
        raise Rejected(field, raw, f"is in the future (today is {today.isoformat()})")


# --------------------------------------------------------------------------------------------
# STOCK Act deadline
# --------------------------------------------------------------------------------------------

NOTIFICATION_DAYS = 30
TRANSACTION_DAYS = 45


def disclosure_deadline(
    *, transaction_date: dt.date, notification_date: dt.date | None = None
) -> dt.date:
    """The last day a periodic transaction report may be filed (5 U.S.C. §13105(l)).

    30 days after the filer was notified of the transaction, and in no case later than 45 days
    after the transaction: ``min(notification_date + 30, transaction_date + 45)``. Without a
    notification date (Senate pages have none) the deadline is ``transaction_date + 45``.
    """
    latest = transaction_date + dt.timedelta(days=TRANSACTION_DAYS)
    if notification_date is None:
        return latest
    return min(notification_date + dt.timedelta(days=NOTIFICATION_DAYS), latest)


def disclosure_delay_days(*, transaction_date: dt.date, filed_date: dt.date) -> int:
    """Days from the transaction to the filing (negative when a feed's dates are wrong)."""
    return (filed_date - transaction_date).days


def is_late(
    *,
    transaction_date: dt.date,
    filed_date: dt.date,
    notification_date: dt.date | None = None,
) -> bool:
    """True when filed after :func:`disclosure_deadline` (filing on the deadline is on time)."""
    deadline = disclosure_deadline(
        transaction_date=transaction_date, notification_date=notification_date
    )
    return filed_date > deadline


# --------------------------------------------------------------------------------------------
# Small fields
# --------------------------------------------------------------------------------------------

_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "x", "[x]", "☑", "☒", "✓", "✔", "checked", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "[ ]", "[]", "☐", "unchecked", "off"})
_NO_VALUE_WORDS = frozenset({"", "--", "n/a", "none", "null"})


def parse_cap_gains(raw: object) -> bool | None:
    """The House "Cap. Gains > $200?" box: True / False, or None when not given.

    Accepts booleans (house-stock-watcher), ``"True"``/``"False"`` strings (FMP), Yes/No and
    checkbox marks. Anything else raises :class:`Rejected`.
    """
    if raw is None or isinstance(raw, bool):
        return raw
    text = " ".join(str(raw).split()).lower()
    if text in _NO_VALUE_WORDS:
        return None
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise Rejected("cap_gains_over_200", raw, "is not a yes/no value")


_CHAMBERS = {"house": "house", "senate": "senate", "": ""}
_FILING_STATUS = {"new": "New", "amended": "Amended", "": ""}


# --------------------------------------------------------------------------------------------
# NormalizedTrade
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NormalizedTrade:
    """One transaction in canonical values, ready for the database.

    Dates are ``datetime.date``; amounts whole dollars (``amount_max`` None = open band); text
    is whitespace-collapsed with HTML and entities removed. ``asset_type_raw`` keeps what the
    source said that decided ``asset_type``: the House ``[XX]`` code from the asset name (``ST``)
    when there is one, otherwise the source's asset type word (``Corporate Bond``).
    ``description`` is the source's description, or, when it has none, the details eFD prints
    under a bond, option or private asset name (``Rate/Coupon: 5.5% Matures: 2036-04-15``).
    """

    source: str
    location: str
    line_number: int
    chamber: str
    politician_name: str
    state_district: str
    bioguide_id: str
    filing_doc_id: str
    filing_url: str
    filed_date: dt.date | None
    transaction_date: dt.date
    notification_date: dt.date | None
    owner: str
    ticker: str
    asset_name: str
    asset_type: str
    asset_type_raw: str
    transaction_type: str
    amount_min: int
    amount_max: int | None
    amount_label: str
    amount_exact: bool
    over_1m_flag: bool
    comment: str
    description: str
    filing_status: str
    cap_gains_over_200: bool | None
    is_amendment_row: bool


def _optional_date(raw: str, *, field: str, today: dt.date) -> dt.date | None:
    if not raw or not raw.strip():
        return None
    value = parse_date(raw, field=field)
    _check_window(value, raw=raw, field=field, today=today)
    return value


def normalize_trade(raw: RawTrade, *, today: dt.date) -> NormalizedTrade:
    """Apply the vocabulary to one raw row; raise :class:`Rejected` on the first problem.

    * ``transaction_date`` is required and must fall in ``[2012-01-01, today]``.
    * ``filed_date`` and ``notification_date`` are optional; when present they must fall in the
      same window. A filed date before the transaction date is accepted (feeds have such errors;
      the delay then comes out negative), a filed date in the future is not.
    * ``ticker`` comes from ``raw.ticker`` (cleaned); when that is empty, from the House
      ``(TICKER)`` in the asset name, or from a ``"TICK - Name"`` prefix on stock-like assets.
    * ``asset_name`` loses its ``(TICKER) [XX]`` suffix, HTML, entities and eFD detail blocks.
    * ``asset_type`` comes from the House ``[XX]`` code when the name has one, else from
      ``raw.asset_type``.
    * ``comment`` ``--`` becomes ``""``; ``is_amendment_row`` is ``filing_status == "Amended"``.

    The rejection's message starts with ``raw.location``.
    """
    try:
        return _normalize(raw, today)
    except Rejected as error:
        raise error.with_location(raw.location) from None


def _normalize(raw: RawTrade, today: dt.date) -> NormalizedTrade:
    asset_type_text = raw.asset_type or ""
    if _key(asset_type_text) == "pdf disclosed filing":
        raise Rejected(
            "asset_type",
            asset_type_text,
            "marks a placeholder for a scanned paper filing, not a transaction "
            "(the filing's rows must be entered from the scan)",
        )
    transaction_type = parse_transaction_type(raw.transaction_type)
    owner = parse_owner(raw.owner)
    amount = parse_amount(raw.amount)

    transaction_date = parse_date(raw.transaction_date, field="transaction_date")
    _check_window(transaction_date, raw=raw.transaction_date, field="transaction_date", today=today)
    filed_date = _optional_date(raw.filed_date, field="filed_date", today=today)
    notification_date = _optional_date(
        raw.notification_date, field="notification_date", today=today
    )

    asset = _asset_parts(raw.asset_name or "", asset_type_text, raw.ticker or "")
    if type(asset) is str:
        raise Rejected("ticker", raw.ticker, asset)
    asset_name, ticker, asset_type, asset_type_raw, details = asset

    chamber = _CHAMBERS.get((raw.chamber or "").strip().lower())
    if chamber is None:
        raise Rejected("chamber", raw.chamber, "is not 'house' or 'senate'")

    comment = _clean_repeated_text(raw.comment)
    if comment == "--":
        comment = ""
    description = _clean_text(raw.description) or details
    status_text = _clean_repeated_text(raw.filing_status)
    filing_status = _FILING_STATUS.get(status_text.lower(), status_text)

    # Positional, in field order: a frozen dataclass pays for every keyword on every row.
    return NormalizedTrade(
        raw.source,
        raw.location,
        raw.line_number,
        chamber,
        _clean_repeated_text(raw.politician_name),
        "".join((raw.state_district or "").split()).upper(),
        (raw.bioguide_id or "").strip(),
        (raw.filing_doc_id or "").strip(),
        (raw.filing_url or "").strip(),
        filed_date,
        transaction_date,
        notification_date,
        owner,
        ticker,
        asset_name,
        asset_type,
        asset_type_raw,
        transaction_type,
        amount.min_usd,
        amount.max_usd,
        amount.label,
        amount.is_exact,
        amount.over_1m_flag,
        comment,
        description,
        filing_status,
        parse_cap_gains(raw.cap_gains_over_200),
        filing_status == "Amended",
    )


# Text that recurs from row to row (a filer's name, "--" comments, row status words).
_clean_repeated_text = lru_cache(maxsize=4096)(_clean_text)


@lru_cache(maxsize=8192)
def _asset_parts(
    name_raw: str, asset_type_text: str, ticker_raw: str
) -> tuple[str, str, str, str, str] | str:
    """``(asset_name, ticker, asset_type, asset_type_raw, details)`` of a row's asset cells.

    Cached: an import names the same asset on many rows. A ticker that cannot be a symbol
    comes back as the reason to reject it (an exception is not cached: raised again, it
    would collect the traceback of every row that raised it).
    """
    # Asset name: eFD appends <div class="text-muted"> detail blocks (coupon, maturity,
    # company, option strike); they describe the asset rather than name it.
    details = ""
    muted = _TEXT_MUTED_RE.search(name_raw)
    if muted:
        details = _clean_text(name_raw[muted.start() :])
        name_raw = name_raw[: muted.start()]
    asset_name, name_ticker, code = split_house_asset(_clean_text(name_raw))

    if code:
        # The filer's own [XX] code decides; asset_type_raw says what decided it.
        asset_type = parse_asset_type(code)
        asset_type_raw = code
    else:
        asset_type = parse_asset_type(asset_type_text)
        asset_type_raw = asset_type_text.strip()

    ticker = _clean_ticker_cached(ticker_raw)
    if type(ticker) is tuple:
        return ticker[0]
    ticker = ticker or name_ticker
    if not ticker and asset_type in _NAME_TICKER_PREFIX_TYPES:
        prefixed = _NAME_TICKER_PREFIX_RE.match(asset_name)
        if prefixed:
            ticker, asset_name = prefixed.group(1), prefixed.group(2)
    return asset_name, ticker, asset_type, asset_type_raw, details


# --------------------------------------------------------------------------------------------
# Cross-source duplicate key
# --------------------------------------------------------------------------------------------

_TYPE_FAMILY = {
    PURCHASE: "purchase",
    SALE_FULL: "sale",
    SALE_PARTIAL: "sale",
    SALE: "sale",
    EXCHANGE: "exchange",
}
_NAME_NOISE = frozenset(
    {
        "the",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "ltd",
        "limited",
        "plc",
        "llc",
        "lp",
        "common",
        "stock",
        "shares",
        "ordinary",
    }
)
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=8192)
def _fingerprint_asset(ticker: str, asset_name: str) -> str:
    """The asset part of a fingerprint; cached because an import trades the same assets often."""
    ticker_key = "".join(ch for ch in ticker.upper() if ch.isalnum())
    return f"t:{ticker_key}" if ticker_key else f"n:{_asset_name_key(asset_name)}"


@lru_cache(maxsize=8192)
def _asset_name_key(name: str) -> str:
    text = unicodedata.normalize("NFKD", _clean_text(name).lower())
    # "L.L.C." and "LLC", "W.L. Gore" and "WL Gore" should agree.
    text = text.replace("&", " and ").replace(".", "")
    words = _NON_ALNUM_RE.sub(" ", text).split()
    return " ".join(word for word in words if word not in _NAME_NOISE)


def trade_fingerprint(
    *,
    politician_key: str,
    transaction_date: dt.date,
    ticker: str,
    asset_name: str,
    transaction_type: str,
    amount_min: int,
    amount_max: int | None,
    owner: str,
) -> str:
    """The cross-source duplicate key of a trade (40 hex characters, SHA-1).

    The same transaction reported by a community feed and by the official filing gets the same
    fingerprint, so an import can tell "already have it" from "new". The key is built from:

    1. ``politician_key`` — the bioguide id when the politician is resolved, otherwise the
       caller's stable key for the unresolved politician (the same for every source);
    2. ``transaction_date``;
    3. the asset: the ticker when there is one, with share-class punctuation removed
       (``BRK.B``, ``BRK-B`` and ``BRKB`` agree); otherwise the asset name lower-cased, with
       HTML, entities, accents, dots ("L.L.C." = "LLC"), other punctuation and the words
       "the, inc, incorporated, corp(oration), co(mpany), ltd, limited, plc, llc, lp, common,
       stock, shares, ordinary" removed;
    4. the transaction family: ``purchase``, ``sale`` (``sale_full``, ``sale_partial`` and
       ``sale`` are one family, because the 2026 re-creation of house-stock-watcher loses the
       full/partial distinction), ``exchange``;
    5. the amount band ``amount_min``-``amount_max`` (``None`` = open band);
    6. ``owner`` — required because the same trade can be reported once for Self and once for a
       Dependent Child (FORMATS 1c); two rows differing only in owner are two trades.

    Not in the key: filing id, filed date, comment, description, asset type, exact ticker
    spelling. Two genuinely separate trades with all six parts equal (same day, same asset,
    same band, same owner, e.g. two lots bought in separate accounts) also share a fingerprint;
    callers that import one filing should count occurrences within the filing rather than
    collapse them.
    """
    family = _TYPE_FAMILY.get(transaction_type)
    if family is None:
        raise ValueError(f"transaction_type {transaction_type!r} is not a canonical value")
    if owner not in OWNERS:
        raise ValueError(f"owner {owner!r} is not a canonical value")
    high = "" if amount_max is None else str(amount_max)
    parts = (
        "v1",
        politician_key.strip(),
        transaction_date.isoformat(),
        _fingerprint_asset(ticker or "", asset_name or ""),
        family,
        f"{amount_min}-{high}",
        owner,
    )
    # A duplicate key, not a security control.
    digest = hashlib.sha1("|".join(parts).encode("utf-8"), usedforsecurity=False)
    return digest.hexdigest()


def asset_name_key(name: str) -> str:
    """The normalised asset description used as an asset's identity when it has no ticker."""
    return _asset_name_key(name)
