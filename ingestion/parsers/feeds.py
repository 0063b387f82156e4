"""Pure parsers for the community JSON feeds and for CapitolScope's own import format.

Bytes in, ``ParsedBatch`` out: rows are grouped into one RawFiling per filing and every
value is kept as the source sent it (whitespace collapsed only). A record that cannot be
read becomes a RawRejection naming its index and the reason, and the rest of the batch
still parses; input that is not the expected document at all raises ParseError.

Locations: JSON records are addressed as ``<location>[<index>]`` (0-based, so
``jq '.[4711]'`` finds the record); CSV rows as ``<location> row <n>`` counting the header
as row 1, as a spreadsheet shows them. The formats are described in
shared/data-samples/FORMATS.md section 1c and, for our own format, docs/import-format.md.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from typing import Any

from ingestion.parsers.senate import (
    BadRecord,
    collapse,
    json_type,
    load_json,
    rejection_payload,
    report_id_from_link,
)
from ingestion.records import (
    Chamber,
    ParsedBatch,
    ParseError,
    RawFiling,
    RawRejection,
    RawTrade,
)

__all__ = [
    "IMPORT_COLUMNS",
    "IMPORT_FORMAT_NAME",
    "IMPORT_FORMAT_VERSION",
    "IMPORT_NON_EMPTY",
    "IMPORT_OPTIONAL_COLUMNS",
    "IMPORT_REQUIRED_COLUMNS",
    "parse_capitolscope_csv",
    "parse_capitolscope_json",
    "parse_house_watcher",
    "parse_senate_watcher_daily",
    "parse_senate_watcher_flat",
]

# --- senate-stock-watcher -------------------------------------------------------------

_FLAT_KEYS = (
    "transaction_date",
    "owner",
    "ticker",
    "asset_description",
    "asset_type",
    "type",
    "amount",
    "comment",
    "senator",
    "ptr_link",
)
# The flat file stands a paper (scanned) PTR in for its trades with one placeholder row.
_PAPER_PLACEHOLDER_ASSET_TYPE = "PDF Disclosed Filing"

_DAILY_KEYS = ("first_name", "last_name", "ptr_link", "date_recieved")
_DAILY_OPTIONAL_KEYS = ("office", "bioguide")
_DAILY_TRADE_KEYS = (
    "transaction_date",
    "owner",
    "ticker",
    "asset_description",
    "asset_type",
    "type",
    "amount",
)
_DAILY_TRADE_OPTIONAL_KEYS = ("comment",)


def parse_senate_watcher_flat(data: bytes, *, location: str) -> ParsedBatch:
    """senate-stock-watcher ``aggregate/all_transactions.json``: a list of 10-key rows.

    Rows are grouped by ``ptr_link`` (doc_id = the report UUID in it). A paper placeholder
    row (``asset_type`` "PDF Disclosed Filing", ``type`` "N/A", ``amount`` "Unknown")
    marks its filing ``is_paper`` and is not a trade. The file has no filing date.
    """
    records = _load_list(data, location=location)
    batch = ParsedBatch()
    filings: dict[str, RawFiling] = {}
    positions: dict[str, int] = {}
    for index, record in enumerate(records):
        record_location = f"{location}[{index}]"
        position = _count_position(positions, _peek_senate_doc_id(record))
        try:
            values = _strings(record, _FLAT_KEYS)
            link = values["ptr_link"]
            kind, doc_id = _senate_report(link)
        except BadRecord as problem:
            batch.rejected.append(_rejection(record_location, problem, record))
            continue

        filing = filings.get(doc_id)
        if filing is None:
            filing = RawFiling(
                chamber=Chamber.SENATE,
                doc_id=doc_id,
                location=record_location,
                politician_name=values["senator"],
                url=link,
                is_paper=kind == "paper",
            )
            filings[doc_id] = filing
            batch.filings.append(filing)

        if values["asset_type"] == _PAPER_PLACEHOLDER_ASSET_TYPE:
            filing.is_paper = True
            continue
        filing.trades.append(
            RawTrade(
                source="senate_watcher",
                location=record_location,
                line_number=position,
                chamber=Chamber.SENATE,
                politician_name=values["senator"],
                filing_doc_id=doc_id,
                filing_url=link,
                transaction_date=values["transaction_date"],
                owner=values["owner"],
                ticker=values["ticker"],
                asset_name=values["asset_description"],
                asset_type=values["asset_type"],
                transaction_type=values["type"],
                amount=values["amount"],
                comment=values["comment"],
            )
        )
    return batch


def parse_senate_watcher_daily(data: bytes, *, location: str) -> ParsedBatch:
    """senate-stock-watcher per-PTR records (daily files, ``all_daily_summaries.json``).

    One filing per record: ``date_recieved`` (sic) is the filing date, ``bioguide`` goes to
    every trade's ``bioguide_id`` (and the filing's ``extra``), ``ticker`` stays the raw
    ``<a href=...>`` HTML. ``transactions: []`` means a paper filing.
    """
    records = _load_list(data, location=location)
    batch = ParsedBatch()
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        record_location = f"{location}[{index}]"
        try:
            values = _strings(
                record, _DAILY_KEYS, optional=_DAILY_OPTIONAL_KEYS, lists=("transactions",)
            )
            link = values["ptr_link"]
            kind, doc_id = _senate_report(link)
            if doc_id in seen:
                raise BadRecord(f"duplicate of record [{seen[doc_id]}] (same report {doc_id})")
        except BadRecord as problem:
            batch.rejected.append(_rejection(record_location, problem, record))
            continue
        seen[doc_id] = index

        transactions: list[Any] = record["transactions"]
        name = collapse(f"{values['first_name']} {values['last_name']}")
        filing = RawFiling(
            chamber=Chamber.SENATE,
            doc_id=doc_id,
            location=record_location,
            politician_name=name,
            first_name=values["first_name"],
            last_name=values["last_name"],
            filed_date=values["date_recieved"],
            url=link,
            is_paper=kind == "paper" or not transactions,
        )
        if values["office"]:
            filing.extra["office"] = values["office"]
        if values["bioguide"]:
            filing.extra["bioguide"] = values["bioguide"]
        if kind != "paper" and not transactions:
            filing.extra["integrity_error"] = "electronic report listed with no transactions"

        for position, item in enumerate(transactions, start=1):
            trade_location = f"{record_location}.transactions[{position - 1}]"
            try:
                trade = _strings(item, _DAILY_TRADE_KEYS, optional=_DAILY_TRADE_OPTIONAL_KEYS)
            except BadRecord as problem:
                batch.rejected.append(_rejection(trade_location, problem, item))
                continue
            filing.trades.append(
                RawTrade(
                    source="senate_watcher",
                    location=trade_location,
                    line_number=position,
                    chamber=Chamber.SENATE,
                    politician_name=name,
                    filing_doc_id=doc_id,
                    filing_url=link,
                    filed_date=values["date_recieved"],
                    transaction_date=trade["transaction_date"],
                    owner=trade["owner"],
                    ticker=trade["ticker"],
                    asset_name=trade["asset_description"],
                    asset_type=trade["asset_type"],
                    transaction_type=trade["type"],
                    amount=trade["amount"],
                    comment=trade["comment"],
                    bioguide_id=values["bioguide"],
                )
            )
        batch.filings.append(filing)
    return batch


# --- house-stock-watcher and its 2026 re-creation -------------------------------------

_HOUSE_KEYS = (
    "transaction_date",
    "disclosure_date",
    "owner",
    "ticker",
    "asset_description",
    "type",
    "amount",
    "representative",
    "district",
)
_HOUSE_OPTIONAL_KEYS = ("asset_type", "ptr_link", "source_url")
_HOUSE_KNOWN_KEYS = frozenset(
    (*_HOUSE_KEYS, *_HOUSE_OPTIONAL_KEYS, "filing_id", "cap_gains_over_200_usd")
)
_HOUSE_DOC_ID_RE = re.compile(r"/(\d+)\.pdf\s*$", re.IGNORECASE)
_HOUSE_YEAR_RE = re.compile(r"/ptr-pdfs/(\d{4})/")


def parse_house_watcher(data: bytes, *, location: str) -> ParsedBatch:
    """house-stock-watcher ``all_transactions.json``: the original and the 2026 re-creation.

    Grouped by DocID: ``filing_id`` when present, else the number in ``ptr_link``.

    ``disclosure_date`` means different things in the two: the original's is the filing
    date (``filed_date``), but the re-creation's is the PDF's per-row *Notification Date*
    (it varies within one filing and precedes the Clerk index FilingDate for 2,154 of
    2,247 rows we could match), so there it goes to ``notification_date`` and the filing
    date stays empty; the Clerk index supplies it by DocID. Keys we do not map (``state``,
    ``party``, ``amount_mid``, ...) are kept in the trade's ``extra``.
    """
    records = _load_list(data, location=location)
    batch = ParsedBatch()
    filings: dict[str, RawFiling] = {}
    positions: dict[str, int] = {}
    for index, record in enumerate(records):
        record_location = f"{location}[{index}]"
        position = _count_position(positions, _peek_house_doc_id(record))
        try:
            values = _strings(record, _HOUSE_KEYS, optional=_HOUSE_OPTIONAL_KEYS)
            doc_id, url, recreation = _house_identity(record, values)
            cap_gains = _house_cap_gains(record)
        except BadRecord as problem:
            batch.rejected.append(_rejection(record_location, problem, record))
            continue

        extra = {key: value for key, value in record.items() if key not in _HOUSE_KNOWN_KEYS}
        if recreation:
            extra["disclosure_date"] = values["disclosure_date"]
        filed_date = "" if recreation else values["disclosure_date"]

        filing = filings.get(doc_id)
        if filing is None:
            year = _HOUSE_YEAR_RE.search(url)
            filing = RawFiling(
                chamber=Chamber.HOUSE,
                doc_id=doc_id,
                location=record_location,
                politician_name=values["representative"],
                state_district=values["district"],
                filed_date=filed_date,
                year=year.group(1) if year else _scalar_text(record.get("disclosure_year")),
                url=url,
            )
            filing.extra["variant"] = "2026-recreation" if recreation else "house-stock-watcher"
            filings[doc_id] = filing
            batch.filings.append(filing)

        filing.trades.append(
            RawTrade(
                source="house_watcher",
                location=record_location,
                line_number=position,
                chamber=Chamber.HOUSE,
                politician_name=values["representative"],
                state_district=values["district"],
                filing_doc_id=doc_id,
                filing_url=url,
                filed_date=filed_date,
                transaction_date=values["transaction_date"],
                notification_date=values["disclosure_date"] if recreation else "",
                owner=values["owner"],
                ticker=values["ticker"],
                asset_name=values["asset_description"],
                asset_type=values["asset_type"],
                transaction_type=values["type"],
                amount=values["amount"],
                cap_gains_over_200=cap_gains,
                extra=extra,
            )
        )
    return batch


def _house_identity(record: dict, values: dict[str, str]) -> tuple[str, str, bool]:
    """``(doc_id, url, is_recreation)``; the re-creation is the one with ``filing_id``."""
    url = values["source_url"] or values["ptr_link"]
    from_url = _HOUSE_DOC_ID_RE.search(url)
    url_doc_id = from_url.group(1) if from_url else ""
    recreation = "filing_id" in record or bool(values["source_url"])
    if "filing_id" in record:
        raw = record["filing_id"]
        # A DocID is a number; a feed that writes it as a JSON number means the same thing.
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str):
            raise BadRecord(f"'filing_id' must be a string, got {json_type(raw)}")
        doc_id = collapse(raw)
        if not doc_id:
            raise BadRecord("'filing_id' is empty")
        if url_doc_id and url_doc_id != doc_id:
            raise BadRecord(f"filing_id {doc_id} disagrees with the DocID {url_doc_id} in {url}")
        return doc_id, url, recreation
    if not url:
        raise BadRecord("no filing id: needs 'filing_id' or a 'ptr_link'/'source_url'")
    if not url_doc_id:
        raise BadRecord(f"no DocID in link {url!r} (expected .../<DocID>.pdf)")
    return url_doc_id, url, recreation


def _house_cap_gains(record: dict) -> str:
    value = record.get("cap_gains_over_200_usd")
    if value is None:
        return ""
    if isinstance(value, bool):
        # Kept as the JSON literal the feed sent; FMP sends "True"/"False" strings instead.
        return "true" if value else "false"
    if isinstance(value, str):
        return collapse(value)
    raise BadRecord(f"'cap_gains_over_200_usd' must be a boolean, got {json_type(value)}")


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return collapse(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


# --- CapitolScope's own import format (docs/import-format.md) -------------------------

IMPORT_FORMAT_NAME = "capitolscope.trades"
IMPORT_FORMAT_VERSION = 1
IMPORT_COLUMNS = (
    "chamber",
    "politician",
    "state_district",
    "bioguide_id",
    "filing_id",
    "filing_url",
    "filed_date",
    "transaction_date",
    "notification_date",
    "owner",
    "ticker",
    "asset_name",
    "asset_type",
    "transaction_type",
    "amount",
    "comment",
)
IMPORT_OPTIONAL_COLUMNS = ("bioguide_id", "notification_date")
IMPORT_REQUIRED_COLUMNS = tuple(c for c in IMPORT_COLUMNS if c not in IMPORT_OPTIONAL_COLUMNS)
# Cells that must hold a value in every row (besides "ticker or asset_name").
IMPORT_NON_EMPTY = (
    "chamber",
    "politician",
    "filing_id",
    "filed_date",
    "transaction_date",
    "transaction_type",
    "amount",
)
# Facts of the filing, repeated on each of its rows; they must agree.
_IMPORT_FILING_COLUMNS = ("politician", "state_district", "bioguide_id", "filing_url", "filed_date")
_CHAMBERS = {"house": Chamber.HOUSE, "senate": Chamber.SENATE}


def parse_capitolscope_csv(data: bytes, *, location: str) -> ParsedBatch:
    """Our CSV import format: a header naming the columns, one trade per row.

    Strict about structure (missing required, unknown or repeated column -> ParseError),
    lenient per row (wrong cell count, empty required cell, disagreeing filing facts ->
    RawRejection with the row number).
    """
    text = _decode(data, location=location)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ParseError(
                "empty file: expected a header row naming the columns", location=location
            )
        columns = [cell.strip().lower() for cell in header]
        _check_columns(columns, location=location)
        builder = _ImportBuilder(location=location)
        # Row 1 is the header; data rows are numbered as a spreadsheet shows them.
        for row_number, cells in enumerate(reader, start=2):
            row_location = f"{location} row {row_number}"
            if not any(cell.strip() for cell in cells):
                continue  # blank and all-empty rows are spreadsheet padding, not data
            if len(cells) != len(columns):
                builder.reject(
                    row_location,
                    f"row has {len(cells)} cells, the header has {len(columns)}",
                    _csv_line(cells),
                )
                continue
            builder.add(dict(zip(columns, cells, strict=True)), row_location, _csv_line(cells))
    except csv.Error as error:
        raise ParseError(
            f"unreadable CSV near line {reader.line_num}: {error}", location=location
        ) from None
    return builder.batch


def parse_capitolscope_json(data: bytes, *, location: str) -> ParsedBatch:
    """Our JSON import format: ``{"format": "capitolscope.trades", "version": 1,
    "trades": [...]}`` or just the list; each trade is an object keyed by the CSV columns.
    """
    document = load_json(data, location=location)
    if isinstance(document, dict):
        if "trades" not in document:
            raise ParseError(
                "expected a list of trades or an object with a 'trades' list;"
                f" keys present: {', '.join(sorted(map(str, document))) or 'none'}",
                location=location,
            )
        fmt = document.get("format", IMPORT_FORMAT_NAME)
        version = document.get("version", IMPORT_FORMAT_VERSION)
        if fmt != IMPORT_FORMAT_NAME:
            raise ParseError(
                f"format is {fmt!r}, expected {IMPORT_FORMAT_NAME!r}", location=location
            )
        if version != IMPORT_FORMAT_VERSION:
            raise ParseError(
                f"version {version!r} is not supported (this reader knows {IMPORT_FORMAT_VERSION})",
                location=location,
            )
        records = document["trades"]
        prefix = f"{location} trades"
    else:
        records = document
        prefix = location
    if not isinstance(records, list):
        raise ParseError(
            f"trades must be a JSON array, got a {json_type(records)}", location=location
        )

    builder = _ImportBuilder(location=location)
    allowed = frozenset(IMPORT_COLUMNS)
    for index, record in enumerate(records):
        record_location = f"{prefix}[{index}]"
        try:
            values = _strings(record, IMPORT_REQUIRED_COLUMNS, optional=IMPORT_OPTIONAL_COLUMNS)
            unknown = sorted(str(key) for key in record if key not in allowed)
            if unknown:
                raise BadRecord(f"unknown key(s): {', '.join(unknown)}")
        except BadRecord as problem:
            builder.reject(record_location, str(problem), rejection_payload(record))
            continue
        builder.add(values, record_location, rejection_payload(record))
    return builder.batch


class _ImportBuilder:
    """Groups validated import rows into filings; shared by the CSV and JSON readers."""

    def __init__(self, *, location: str) -> None:
        self.batch = ParsedBatch()
        self._location = location
        self._filings: dict[tuple[str, str], RawFiling] = {}
        # The filing facts as first given, and where, to name both sides of a disagreement.
        self._facts: dict[tuple[str, str], dict[str, str]] = {}
        self._first_location: dict[tuple[str, str], str] = {}
        self._positions: dict[tuple[str, str], int] = {}

    def reject(self, location: str, reason: str, payload: str) -> None:
        self.batch.rejected.append(RawRejection(location=location, reason=reason, payload=payload))

    def add(self, raw: dict[str, str], location: str, payload: str) -> None:
        values = {column: collapse(raw.get(column) or "") for column in IMPORT_COLUMNS}
        chamber = _CHAMBERS.get(values["chamber"].lower())
        if chamber is None:
            self.reject(
                location, f"chamber must be 'house' or 'senate', got {values['chamber']!r}", payload
            )
            return
        key = (chamber, values["filing_id"])
        position = 0
        if values["filing_id"]:
            # Count the row before any other check so line numbers follow the file.
            self._positions[key] = position = self._positions.get(key, 0) + 1
        empty = [column for column in IMPORT_NON_EMPTY if not values[column]]
        if not values["ticker"] and not values["asset_name"]:
            empty.append("ticker or asset_name")
        if empty:
            self.reject(location, f"empty required value(s): {', '.join(empty)}", payload)
            return

        filing = self._filings.get(key)
        if filing is None:
            filing = RawFiling(
                chamber=chamber,
                doc_id=values["filing_id"],
                location=location,
                politician_name=values["politician"],
                state_district=values["state_district"],
                filed_date=values["filed_date"],
                url=values["filing_url"],
            )
            if values["bioguide_id"]:
                filing.extra["bioguide"] = values["bioguide_id"]
            self._facts[key] = {column: values[column] for column in _IMPORT_FILING_COLUMNS}
            self._filings[key] = filing
            self._first_location[key] = location
            self.batch.filings.append(filing)
        else:
            facts, first = self._facts[key], self._first_location[key]
            clashes = [
                f"{column} {values[column]!r} (was {facts[column]!r} at {first})"
                for column in _IMPORT_FILING_COLUMNS
                if values[column] != facts[column]
            ]
            if clashes:
                self.reject(
                    location,
                    f"filing {values['filing_id']} is described differently: {'; '.join(clashes)}",
                    payload,
                )
                return

        filing.trades.append(
            RawTrade(
                source="file",
                location=location,
                line_number=position,
                chamber=chamber,
                politician_name=values["politician"],
                state_district=values["state_district"],
                filing_doc_id=values["filing_id"],
                filing_url=values["filing_url"],
                filed_date=values["filed_date"],
                transaction_date=values["transaction_date"],
                notification_date=values["notification_date"],
                owner=values["owner"],
                ticker=values["ticker"],
                asset_name=values["asset_name"],
                asset_type=values["asset_type"],
                transaction_type=values["transaction_type"],
                amount=values["amount"],
                comment=values["comment"],
                bioguide_id=values["bioguide_id"],
            )
        )


def _check_columns(columns: list[str], *, location: str) -> None:
    problems = []
    missing = [column for column in IMPORT_REQUIRED_COLUMNS if column not in columns]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    unknown = [column or "(blank)" for column in columns if column not in IMPORT_COLUMNS]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    repeated = sorted({column for column in columns if column and columns.count(column) > 1})
    if repeated:
        problems.append(f"repeated column(s): {', '.join(repeated)}")
    if problems:
        raise ParseError(
            f"{'; '.join(problems)} (allowed: {', '.join(IMPORT_COLUMNS)})", location=location
        )


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


# --- shared helpers --------------------------------------------------------------------


def _decode(data: bytes | str, *, location: str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParseError(
            f"not UTF-8 text (bad byte at offset {error.start}); save the file as UTF-8",
            location=location,
        ) from None


def _load_list(data: bytes, *, location: str) -> list[Any]:
    document = load_json(data, location=location)
    if not isinstance(document, list):
        detail = ""
        if isinstance(document, dict):
            detail = f" with keys {', '.join(sorted(map(str, document))[:8]) or 'none'}"
        raise ParseError(
            f"expected a JSON array of records, got a {json_type(document)}{detail}",
            location=location,
        )
    return document


def _strings(
    record: Any,
    required: tuple[str, ...],
    *,
    optional: tuple[str, ...] = (),
    lists: tuple[str, ...] = (),
) -> dict[str, str]:
    """The named string fields of a JSON object, whitespace-collapsed.

    Missing required keys and values of the wrong JSON type raise BadRecord; ``null`` and
    missing optional keys read as "". Keys in ``lists`` must hold arrays and are checked,
    not returned.
    """
    if not isinstance(record, dict):
        raise BadRecord(f"expected a JSON object, got a {json_type(record)}")
    if not record.keys() >= {*required, *lists}:
        missing = [key for key in (*required, *lists) if key not in record]
        raise BadRecord(f"missing key(s): {', '.join(missing)}")
    keys = (*required, *optional)
    try:
        # Every record of a feed goes through here: one pass in C for the usual record.
        values = dict(zip(keys, map(_text_of, map(record.get, keys)), strict=True))
    except (_NotText, TypeError):
        for key in keys:
            value = record.get(key)
            if value is not None and type(value) is not str:
                raise BadRecord(f"{key!r} must be a string, got {json_type(value)}") from None
        raise
    for key in lists:
        if not isinstance(record[key], list):
            raise BadRecord(f"{key!r} must be an array, got {json_type(record[key])}")
    return values


class _NotText(Exception):
    pass


@lru_cache(maxsize=1 << 15)
def _text_of(value: str | None) -> str:
    """A JSON string whitespace-collapsed, null as "". Cached: a feed repeats most of its
    values (dates, owners, amounts, names, links) from record to record."""
    if value is None:
        return ""
    if type(value) is str:
        return collapse(value)
    raise _NotText


def _count_position(positions: dict[str, int], doc_id: str) -> int:
    """The record's 1-based position within its filing (0 if its filing can't be read).

    Every record whose filing can be told counts, rejected or not, so line numbers follow
    the source file and fixing a bad row later does not renumber its neighbours.
    """
    if not doc_id:
        return 0
    positions[doc_id] = position = positions.get(doc_id, 0) + 1
    return position


def _peek_senate_doc_id(record: Any) -> str:
    link = record.get("ptr_link") if isinstance(record, dict) else None
    report = _report_of(link) if isinstance(link, str) else None
    return report[1] if report else ""


def _peek_house_doc_id(record: Any) -> str:
    if not isinstance(record, dict):
        return ""
    filing_id = record.get("filing_id")
    if isinstance(filing_id, str | int) and not isinstance(filing_id, bool):
        return _text_of(str(filing_id))
    link = record.get("source_url") or record.get("ptr_link")
    match = _HOUSE_DOC_ID_RE.search(link) if isinstance(link, str) else None
    return match.group(1) if match else ""


# Every row of a filing repeats its link.
_report_of = lru_cache(maxsize=4096)(report_id_from_link)


def _senate_report(link: str) -> tuple[str, str]:
    report = _report_of(link)
    if report is None:
        raise BadRecord(f"ptr_link {link!r} has no eFD report UUID (/search/view/<kind>/<uuid>/)")
    return report


def _rejection(location: str, problem: BadRecord, record: Any) -> RawRejection:
    return RawRejection(location=location, reason=str(problem), payload=rejection_payload(record))
