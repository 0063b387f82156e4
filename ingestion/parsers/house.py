"""Pure parsers for the US House Clerk financial-disclosure sources.

Two sources, both public and keyless (see shared FORMATS.md section 1a):

* the yearly index ``{YYYY}FD.zip`` holding ``{YYYY}FD.xml`` and its tab-separated twin
  ``{YYYY}FD.txt``: one row per filing of any kind (PTR, annual report, extension ...);
* the Periodic Transaction Report PDFs, ``ptr-pdfs/{Year}/{DocID}.pdf``: electronic forms with a
  text layer, or scanned paper forms without one.

Every function here takes bytes and returns records from ``ingestion.records``. Values are kept
as the source printed them (runs of whitespace collapsed, NUL/control bytes removed); deciding
what "SP", "S (partial)" or "$500,001 - $1,000,000" mean is the normalisation layer's job.

House-only facts of a filing go in ``RawFiling.extra``. Keys:

* index rows: any column beyond the nine modern ones, verbatim by its XML tag name
  (``DisclosureType``, ``FilingYear`` in the pre-2015 schema);
* PTR PDFs: ``row_errors`` (list of ``{"row", "reason", "text"}``; always present), ``pages``,
  ``filer_status`` ("Member"), ``filing_id_printed``, ``signed_by``, ``investment_vehicles``
  (``[{"name", "owner", "location"?}]``), ``filing_comment``, ``initial_public_offering``
  ("Yes"/"No" radio), ``warnings``; paper scans: ``needs_review`` (why a person must read it);
  any PDF with compressed streams that do not decompress: ``integrity_error`` (the filing is
  stored, flagged: rows or dates may be missing) and ``read_again`` (no source digest: the next
  run reads it again, a whole download clears the flag).

RawTrade.extra for PDF rows: ``page``, ``house_row_id`` (amended rows), ``location`` (the
"Location:" sub-line), ``owner_as_printed``/``owner_inherited_from`` (owner taken from an
investment vehicle), ``unknown_sub_lines``.
"""

from __future__ import annotations

import contextvars
import io
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import pdfplumber
from defusedxml import DefusedXmlException
from pdfminer import pdftypes

from ingestion.records import (
    Chamber,
    ParsedBatch,
    ParseError,
    RawFiling,
    RawRejection,
    RawTrade,
)

CLERK_PUBLIC_DISC = "https://disclosures-clerk.house.gov/public_disc"
SOURCE_HOUSE_PDF = "house_pdf"
PTR_TITLE = "Periodic Transaction Report"

# A real yearly index member is 0.1-2 MB uncompressed; anything near this is a zip bomb.
MAX_INDEX_MEMBER_BYTES = 200 * 1024 * 1024
# Real PTRs run 1-20 pages; a huge page count is a hostile or wrong document.
MAX_PTR_PAGES = 300

_INDEX_FIELDS = (
    "Prefix",
    "Last",
    "First",
    "Suffix",
    "FilingType",
    "StateDst",
    "Year",
    "FilingDate",
    "DocID",
)


# --------------------------------------------------------------------------------------------
# URLs


def house_index_url(*, year: int) -> str:
    """The Clerk's yearly bulk index zip, e.g. ``.../financial-pdfs/2026FD.zip``."""
    return f"{CLERK_PUBLIC_DISC}/financial-pdfs/{_checked_year(year)}FD.zip"


def house_ptr_url(*, year: int | str, doc_id: str) -> str:
    """A PTR PDF (electronic or scanned paper alike); ``year`` is the index row's ``Year``."""
    return f"{CLERK_PUBLIC_DISC}/ptr-pdfs/{_checked_year(year)}/{_checked_doc_id(doc_id)}.pdf"


def _house_financial_pdf_url(*, year: int | str, doc_id: str) -> str:
    # The scrapers' convention for annual/candidate/termination reports; not verified by us.
    return f"{CLERK_PUBLIC_DISC}/financial-pdfs/{_checked_year(year)}/{_checked_doc_id(doc_id)}.pdf"


def _checked_year(year: int | str) -> str:
    text = str(year).strip()
    if not re.fullmatch(r"[0-9]{4}", text):
        raise ValueError(f"a House disclosure year has four digits, got {year!r}")
    return text


def _checked_doc_id(doc_id: str) -> str:
    # DocIDs go into URL paths: only plain ASCII digits may pass.
    text = str(doc_id).strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"a House DocID is a number, got {doc_id!r}")
    return text


# --------------------------------------------------------------------------------------------
# Shared helpers

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_PDF_CID = re.compile(r"\(cid:\d+\)")


def _clean(text: str | None) -> str:
    """Collapse whitespace and drop NUL/control bytes; nothing else changes."""
    if not text:
        return ""
    if text.isprintable() and "  " not in text and text.strip() == text:
        return text  # the common case; keeps a year's index well under a second
    return " ".join(_CONTROL_CHARS.sub("", text).split())


def _is_paper_doc_id(doc_id: str) -> bool:
    # FORMATS 1a: electronic PTRs are 8 digits (200...), scanned paper ones 7 digits.
    return len(doc_id) == 7 and doc_id.isascii() and doc_id.isdigit()


def is_house_ptr(filing: RawFiling) -> bool:
    """True for a Periodic Transaction Report in either index schema (or a parsed PTR PDF).

    Modern indexes (2015 on) mark PTRs with FilingType ``P``; the pre-2015 schema has no ``P``
    and marks them with ``DisclosureType=PTR`` on FilingType ``O``/``A`` rows instead.
    """
    if filing.filing_type.strip().upper() == "P":
        return True
    disclosure = str(filing.extra.get("DisclosureType", "")).strip().upper()
    return disclosure == "PTR" or filing.title == PTR_TITLE


# --------------------------------------------------------------------------------------------
# Yearly index: zip


def parse_house_index_zip(data: bytes, *, location: str) -> ParsedBatch:
    """Parse a yearly ``{YYYY}FD.zip``: its ``.xml`` member, or the ``.txt`` one if no xml."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ParseError(
            f"not a readable zip archive (truncated, corrupt or not a zip at all): {exc}",
            location=location,
        ) from exc
    with archive:
        member = _pick_index_member(archive, location=location)
        content = _read_zip_member(archive, member, location=location)
    where = f"{location}/{member.filename}" if location else member.filename
    if member.filename.lower().endswith(".xml"):
        return parse_house_index_xml(content, location=where)
    return parse_house_index_txt(content, location=where)


def _pick_index_member(archive: zipfile.ZipFile, *, location: str) -> zipfile.ZipInfo:
    files = [
        info
        for info in archive.infolist()
        if not info.is_dir() and not info.filename.startswith("__MACOSX/")
    ]
    for suffix in (".xml", ".txt"):
        candidates = [info for info in files if info.filename.lower().endswith(suffix)]
        # Prefer the canonical "2026FD.xml" name if a zip ever carries extra files.
        candidates.sort(key=lambda info: not re.search(r"\d{4}FD\.", info.filename, re.I))
        if candidates:
            return candidates[0]
    names = ", ".join(info.filename for info in files) or "nothing"
    raise ParseError(f"zip has no .xml or .txt index member (it holds {names})", location=location)


def _read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, location: str) -> bytes:
    limit = MAX_INDEX_MEMBER_BYTES
    if info.file_size > limit:
        raise ParseError(
            f"zip member {info.filename} claims {info.file_size:,} bytes uncompressed, over the "
            f"{limit:,}-byte limit (a zip bomb or not a House index)",
            location=location,
        )
    try:
        with archive.open(info) as stream:
            # zipfile stops at the declared size; the bounded read is a second fence.
            content = stream.read(limit + 1)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,
        RuntimeError,
        ValueError,
    ) as exc:
        raise ParseError(
            f"zip member {info.filename} cannot be read (truncated, corrupt, encrypted or an "
            f"unsupported compression): {exc}",
            location=location,
        ) from exc
    if len(content) > limit:
        raise ParseError(
            f"zip member {info.filename} inflates past the {limit:,}-byte limit (zip bomb)",
            location=location,
        )
    return content


# --------------------------------------------------------------------------------------------
# Yearly index: XML and TXT


def parse_house_index_xml(data: bytes, *, location: str) -> ParsedBatch:
    """Parse ``{YYYY}FD.xml``: one RawFiling per ``<Member>``, refusals as RawRejection."""
    root = _parse_index_xml(data, location=location)
    batch = ParsedBatch()
    number = 0
    for element in root:
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        number += 1
        where = f"{location} Member #{number}"
        if _local_name(element.tag) != "Member":
            batch.rejected.append(
                RawRejection(
                    location=where,
                    reason=f"unexpected <{_local_name(element.tag)}> element where a <Member> "
                    "was expected",
                    payload=_xml_text(element),
                )
            )
            continue
        fields = {_local_name(child.tag): _clean(child.text) for child in element}
        _add_index_record(batch, fields, where=where, payload=lambda e=element: _xml_text(e))
    return batch


def _parse_index_xml(data: bytes, *, location: str) -> Element:
    try:
        # Entities and external references are refused outright: the Clerk's files use none,
        # so an entity declaration can only be a billion-laughs or XXE attempt.
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ParseError(
            f"XML refused: it declares entities or external references ({exc!r}), which a "
            "House index never does (entity bomb / XXE guard)",
            location=location,
        ) from exc
    except SafeET.ParseError as exc:
        raise ParseError(f"not well-formed XML: {exc}", location=location) from exc
    except (ValueError, UnicodeError) as exc:
        raise ParseError(f"XML cannot be decoded: {exc}", location=location) from exc
    if _local_name(root.tag) != "FinancialDisclosure":
        raise ParseError(
            f"root element is <{_local_name(root.tag)}>, expected <FinancialDisclosure>; "
            "not a House Clerk index",
            location=location,
        )
    return root


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_text(element: Element) -> str:
    return _clean(SafeET.tostring(element, encoding="unicode"))


def parse_house_index_txt(data: bytes, *, location: str) -> ParsedBatch:
    """Parse the tab-separated ``{YYYY}FD.txt`` twin of the XML index."""
    text = _decode_index_text(data)
    lines = text.split("\n")
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise ParseError("the index .txt is empty", location=location)
    # The 2012 header spells "Filing Year" with a space; the XML tag is FilingYear.
    header = [_clean(name).replace(" ", "") for name in lines[header_at].split("\t")]
    if "DocID" not in header or "FilingType" not in header:
        raise ParseError(
            "first line is not a House index header (no DocID/FilingType column): "
            f"{_clean(lines[header_at])[:200]!r}",
            location=location,
        )
    batch = ParsedBatch()
    for line_number in range(header_at + 2, len(lines) + 1):
        line = lines[line_number - 1].rstrip("\r")
        if not line.strip():
            continue
        where = f"{location} line {line_number}"
        cells = line.split("\t")
        if len(cells) > len(header) and not any(c.strip() for c in cells[len(header) :]):
            cells = cells[: len(header)]
        if len(cells) != len(header):
            batch.rejected.append(
                RawRejection(
                    location=where,
                    reason=f"row has {len(cells)} tab-separated fields, the header has "
                    f"{len(header)}; columns cannot be matched",
                    payload=_clean(line),
                )
            )
            continue
        fields = {name: _clean(cell) for name, cell in zip(header, cells, strict=True)}
        _add_index_record(batch, fields, where=where, payload=lambda text=line: _clean(text))
    return batch


def _decode_index_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Seen files are UTF-8; cp1252 keeps an odd legacy file readable instead of failing.
        return data.decode("cp1252", errors="replace")


def _add_index_record(
    batch: ParsedBatch, fields: dict[str, str], *, where: str, payload: Callable[[], str]
) -> None:
    # ``payload`` is lazy: serialising every Member back to text would triple the parse time.
    doc_id = fields.get("DocID", "")
    if not doc_id:
        batch.rejected.append(
            RawRejection(
                location=where,
                reason="index row has no DocID, so the filing can be neither identified nor "
                "fetched",
                payload=payload(),
            )
        )
        return
    if not re.fullmatch(r"[0-9]+", doc_id):
        batch.rejected.append(
            RawRejection(
                location=where,
                reason=f"DocID {doc_id!r} is not a number, so no document URL can be built",
                payload=payload(),
            )
        )
        return
    filing = _index_filing(fields, doc_id=doc_id, location=f"{where} (DocID {doc_id})")
    batch.filings.append(filing)


def _index_filing(fields: dict[str, str], *, doc_id: str, location: str) -> RawFiling:
    prefix, first = fields.get("Prefix", ""), fields.get("First", "")
    last, suffix = fields.get("Last", ""), fields.get("Suffix", "")
    year, filing_type = fields.get("Year", ""), fields.get("FilingType", "")
    filing = RawFiling(
        chamber=Chamber.HOUSE,
        doc_id=doc_id,
        location=location,
        politician_name=" ".join(part for part in (prefix, first, last, suffix) if part),
        first_name=first,
        last_name=last,
        prefix=prefix,
        suffix=suffix,
        state_district=fields.get("StateDst", ""),
        filing_type=filing_type,
        filed_date=fields.get("FilingDate", ""),
        year=year,
        is_paper=_is_paper_doc_id(doc_id),
        is_amendment=filing_type.upper() == "A",
    )
    # Pre-2015 DisclosureType / FilingYear, and any column the Clerk adds later, verbatim.
    filing.extra.update(
        {name: value for name, value in fields.items() if name not in _INDEX_FIELDS}
    )
    if re.fullmatch(r"[0-9]{4}", year):
        url_for = house_ptr_url if is_house_ptr(filing) else _house_financial_pdf_url
        filing.url = url_for(year=year, doc_id=doc_id)
    return filing


# --------------------------------------------------------------------------------------------
# PTR PDF: layout model


@dataclass
class _Word:
    raw: str  # as extracted, small-caps placeholders (NUL) included
    text: str  # cleaned
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool


@dataclass
class _Line:
    page: int
    top: float
    bottom: float
    words: list[_Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words if w.text)

    @property
    def size(self) -> float:
        return max(w.size for w in self.words)

    @property
    def bold(self) -> bool:
        return all(w.bold for w in self.words)


@dataclass
class _Control:
    """A drawn checkbox or radio button; ``marked`` when something is drawn inside it."""

    page: int
    x0: float
    top: float
    x1: float
    bottom: float
    marked: bool = False


@dataclass
class _Page:
    number: int
    lines: list[_Line]
    controls: list[_Control]
    bullets: list[tuple[float, float]]  # (x, vertical centre) of small list-item circles
    image_cover: float  # share of the page area covered by images


_COLUMN_LABELS = (
    ("id", "ID"),
    ("owner", "Owner"),
    ("asset", "Asset"),
    ("transaction_type", "Transaction"),
    ("transaction_date", "Date"),
    ("notification_date", "Notification"),
    ("amount", "Amount"),
    ("cap_gains", "Cap."),
)
# Content starts a hair left of its header label; half a character of slack.
_COLUMN_SLACK = 2.5
# Cells that only a transaction's first line fills: they never wrap, because each column is at
# least as wide as its header word ("Transaction", "Notification").
_ROW_START_COLUMNS = ("id", "owner", "transaction_type", "transaction_date", "notification_date")
_REQUIRED_CELLS = (
    ("asset", "Asset"),
    ("transaction_type", "Transaction Type"),
    ("transaction_date", "Date"),
    ("amount", "Amount"),
)

# Sub-line labels print in small caps, which extract as the initial plus NUL bytes
# ("F\0\0\0\0\0 S\0\0\0\0\0: New"), so labels are known by their word initials.
_SUB_LABELS_BY_INITIALS = {
    "FS": "filing_status",
    "SO": "subholding_of",
    "D": "description",
    "C": "comment",
    "L": "location",
}
_SUB_LABELS_BY_TEXT = {
    "filing status": "filing_status",
    "subholding of": "subholding_of",
    "description": "description",
    "comment": "comment",
    "comments": "comment",
    "location": "location",
}
_SECTION_BY_INITIALS = {
    "PTR": "title",
    "FI": "filer",
    "T": "transactions",
    "IVD": "vehicles",
    "C": "comments",
    "IPO": "ipo",
    "CS": "certification",
}

_FILING_ID = re.compile(r"Filing ID #\s*([0-9]+)")
_SIGNED = re.compile(r"Digitally Signed:\s*(.*?)\s*,\s*([0-9]{1,2}/[0-9]{1,2}/[0-9]{4})\s*$")
# Not printed by today's generator, but cheap insurance if page numbers or a repeated filing
# id ever appear between rows.
_PAGE_FURNITURE = re.compile(r"^(Page \d+ of \d+|Filing ID #\s*\d+)$")
_TABLE_FOOTNOTE = re.compile(r"^\*\s*For the complete list")
_VEHICLE_OWNER = re.compile(r"\(Owner:\s*([A-Za-z]{1,3})\)\s*$")


def _initials(words: list[str]) -> str:
    # Only capitals count: "and" in "Certification and Signature" is all NUL or lower case.
    return "".join(word[0] for word in words if word and word[0].isupper())


def _has_small_caps(word: _Word) -> bool:
    return "\x00" in word.raw


# --------------------------------------------------------------------------------------------
# PTR PDF: entry point


def parse_house_ptr_pdf(data: bytes, *, doc_id: str, location: str) -> RawFiling:
    """Parse one House PTR PDF into a RawFiling with one RawTrade per transaction row.

    A scanned paper PTR (no text layer) comes back with ``is_paper=True`` and no trades, to be
    reviewed by a person. A row that cannot be read lands in ``f.extra["row_errors"]``; a PDF
    with compressed streams that do not decompress is flagged in ``f.extra["integrity_error"]``.
    Raises ParseError for bytes that are not a PDF, and for PDFs that are not a House PTR.
    """
    pages, page_count, damaged = _read_pdf(data, location=location)
    filing = _parse_ptr_pages(
        pages, doc_id=doc_id, location=location, page_count=page_count, damaged=damaged
    )
    if damaged:
        filing.extra["integrity_error"] = _damage_note(damaged)
        # Another download may be whole: the filing must be read again, not skipped as known.
        filing.extra["read_again"] = True
    return filing


def _parse_ptr_pages(
    pages: list[_Page], *, doc_id: str, location: str, page_count: int, damaged: int
) -> RawFiling:
    lines = [line for page in pages for line in page.lines]
    if not lines:
        return _paper_filing(pages, doc_id=doc_id, location=location, page_count=page_count)

    header_at = next((i for i, line in enumerate(lines) if _table_columns(line)), None)
    has_title = any(_is_title(line) for line in lines)
    if header_at is None or not has_title:
        if _looks_scanned(pages):
            return _paper_filing(pages, doc_id=doc_id, location=location, page_count=page_count)
        missing = " and ".join(
            what
            for what, absent in (
                (f'no "{PTR_TITLE}" title', not has_title),
                (
                    "no transaction table (ID / Owner / Asset / ... / Amount header)",
                    header_at is None,
                ),
            )
            if absent
        )
        if damaged:  # what is missing may be in a stream that did not decompress
            raise ParseError(
                f"House PTR unreadable: the PDF has {missing}; {_damage_note(damaged)}",
                location=location,
            )
        raise ParseError(f"not a House PTR: the PDF has {missing}", location=location)

    filing = _ptr_header(lines[:header_at], doc_id=doc_id, location=location)
    extra = filing.extra
    extra["pages"] = page_count
    table_end = _table_end(lines, start=header_at)
    rows, row_errors = _table_rows(lines[header_at:table_end], pages=pages)
    sections = _sections(lines[table_end:])
    vehicles = _vehicles(sections.get("vehicles", []), pages=pages)
    if vehicles:
        extra["investment_vehicles"] = vehicles
    if "comments" in sections:
        extra["filing_comment"] = " ".join(line.text for line in sections["comments"])
    ipo = _ipo_answer(sections.get("ipo", []), pages=pages)
    if ipo:
        extra["initial_public_offering"] = ipo
    _apply_signature(filing, lines)

    for number, row in enumerate(rows, start=1):
        missing_cells = [label for key, label in _REQUIRED_CELLS if not row.cell(key)]
        if missing_cells:
            row_errors.append(
                {
                    "row": number,
                    "reason": "transaction row has no " + ", ".join(missing_cells),
                    "text": row.text(),
                }
            )
            continue
        filing.trades.append(_trade(row, number=number, filing=filing, vehicles=vehicles))
    extra["row_errors"] = row_errors
    if not rows:
        extra.setdefault("warnings", []).append("the transaction table has no rows")
    # The form has no amendment flag of its own; amended rows say "Filing Status: Amended".
    filing.is_amendment = any(row.sub("filing_status").lower() == "amended" for row in rows)
    return filing


# pdfminer does not fail on a compressed stream that does not decompress (a download damaged on
# the way, a broken file at the source): it keeps what it can, often nothing, and logs at most
# a warning, so a page's rows or the signature line could vanish without a word. Its fallback
# for such streams, ``decompress_corrupted``, is wrapped to count them for the PDF being read.
_damaged_streams: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "house_pdf_damaged_streams", default=None
)
_decompress_corrupted = pdftypes.decompress_corrupted


def _decompress_corrupted_counted(data: bytes) -> bytes:
    damaged = _damaged_streams.get()
    if damaged is None:
        return _decompress_corrupted(data)
    try:
        result = _decompress_corrupted(data)
    except zlib.error:
        damaged.append(len(data))  # pdfminer then keeps nothing of the stream
        raise
    if not _checksum_only_missing(data):
        damaged.append(len(data))
    return result


def _checksum_only_missing(data: bytes) -> bool:
    """Whether zlib ``data`` is a whole deflate stream that merely lacks its Adler-32 checksum
    (some producers cut it): then pdfminer's fallback loses nothing. A checksum that is there
    and does not match means the bytes changed: the inflated text may be garbage even though
    it inflated to the end."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate: no header, no checksum
    try:
        inflater.decompress(data[2:])  # past the two-byte zlib header
    except zlib.error:
        return False
    return inflater.eof and len(inflater.unused_data) < 4


pdftypes.decompress_corrupted = _decompress_corrupted_counted


def _damage_note(damaged: int) -> str:
    return (
        f"{damaged} compressed stream{'s' if damaged != 1 else ''} in the PDF "
        f"{'do' if damaged != 1 else 'does'} not decompress (a damaged download or file): "
        "rows, dates or the signature may be missing"
    )


def _read_pdf(data: bytes, *, location: str) -> tuple[list[_Page], int, int]:
    """The pages (text, drawings, image cover), the page count, and how many compressed
    streams could not be decompressed while reading them."""
    token = _damaged_streams.set([])
    try:
        pages, page_count = _read_pdf_pages(data, location=location)
        return pages, page_count, len(_damaged_streams.get() or [])
    finally:
        _damaged_streams.reset(token)


def _read_pdf_pages(data: bytes, *, location: str) -> tuple[list[_Page], int]:
    if b"%PDF-" not in data[:1024]:
        raise ParseError("not a PDF (no %PDF- header in the first 1 KB)", location=location)
    if b"%%EOF" not in data[-2048:]:
        # pdfminer quietly salvages what it can from a cut file; half a PTR must not pass.
        raise ParseError("PDF is truncated (no %%EOF trailer at the end)", location=location)
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            page_count = len(pdf.pages)
            if page_count > MAX_PTR_PAGES:
                raise ParseError(
                    f"PDF has {page_count} pages, over the {MAX_PTR_PAGES}-page limit for a PTR",
                    location=location,
                )
            pages = [_read_page(page, number) for number, page in enumerate(pdf.pages, 1)]
    except ParseError:
        raise
    except Exception as exc:
        # pdfminer raises a zoo of types (PSEOF, PDFSyntaxError, KeyError, TypeError ...) on
        # damaged files; the caller only needs to know this document could not be read.
        raise ParseError(
            f"PDF cannot be read ({type(exc).__name__}: {exc})", location=location
        ) from exc
    return pages, page_count


def _read_page(page: Any, number: int) -> _Page:
    words = []
    for w in page.extract_words(extra_attrs=["size", "fontname"]):
        raw = _PDF_CID.sub("\x00", w["text"])
        words.append(
            _Word(
                raw=raw,
                text=_clean(raw),
                x0=float(w["x0"]),
                x1=float(w["x1"]),
                top=float(w["top"]),
                bottom=float(w["bottom"]),
                size=float(w["size"]),
                bold="bold" in str(w["fontname"]).lower(),
            )
        )
    area = float(page.width) * float(page.height) or 1.0
    image_area = sum(
        max(0.0, float(im["x1"]) - float(im["x0"]))
        * max(0.0, float(im["bottom"]) - float(im["top"]))
        for im in page.images
    )
    shapes = list(page.curves) + list(page.rects)
    return _Page(
        number=number,
        lines=_group_lines(words, page=number),
        controls=_controls(shapes, chars=page.chars, page=number),
        bullets=_bullets(page.curves),
        image_cover=min(1.0, image_area / area),
    )


def _group_lines(words: list[_Word], *, page: int) -> list[_Line]:
    lines: list[_Line] = []
    for word in sorted(words, key=lambda w: (round(w.top, 1), w.x0)):
        if lines and abs(word.top - lines[-1].top) <= 2.0:
            lines[-1].words.append(word)
            lines[-1].bottom = max(lines[-1].bottom, word.bottom)
        else:
            lines.append(_Line(page=page, top=word.top, bottom=word.bottom, words=[word]))
    for line in lines:
        line.words.sort(key=lambda w: w.x0)
    return lines


def _controls(shapes: list[dict], *, chars: list[dict], page: int) -> list[_Control]:
    """Checkboxes/radios: ~9 pt squares drawn as stacked paths; marked if a mark sits inside."""
    boxes: list[_Control] = []
    for shape in shapes:
        width = float(shape["x1"]) - float(shape["x0"])
        height = float(shape["bottom"]) - float(shape["top"])
        if not (6.0 <= width <= 14.0 and 6.0 <= height <= 14.0):
            continue
        x0, top = float(shape["x0"]), float(shape["top"])
        if any(abs(b.x0 - x0) < 1.5 and abs(b.top - top) < 1.5 for b in boxes):
            continue
        boxes.append(_Control(page, x0, top, float(shape["x1"]), float(shape["bottom"])))
    for box in boxes:
        box_area = (box.x1 - box.x0) * (box.bottom - box.top)
        for shape in shapes:
            x0, x1 = float(shape["x0"]), float(shape["x1"])
            top, bottom = float(shape["top"]), float(shape["bottom"])
            inside = x0 >= box.x0 - 0.1 and x1 <= box.x1 + 0.1
            inside = inside and top >= box.top - 0.1 and bottom <= box.bottom + 0.1
            if inside and (x1 - x0) * (bottom - top) < 0.6 * box_area:
                box.marked = True
                break
        for char in chars:
            cx = (float(char["x0"]) + float(char["x1"])) / 2
            cy = (float(char["top"]) + float(char["bottom"])) / 2
            if _clean(char["text"]) and box.x0 <= cx <= box.x1 and box.top <= cy <= box.bottom:
                box.marked = True
    return boxes


def _bullets(curves: list[dict]) -> list[tuple[float, float]]:
    found = []
    for curve in curves:
        width = float(curve["x1"]) - float(curve["x0"])
        height = float(curve["bottom"]) - float(curve["top"])
        if 1.5 <= width <= 5.0 and 1.5 <= height <= 5.0:
            found.append((float(curve["x0"]), (float(curve["top"]) + float(curve["bottom"])) / 2))
    return found


def _looks_scanned(pages: list[_Page]) -> bool:
    return bool(pages) and pages[0].image_cover >= 0.5


def _paper_filing(pages: list[_Page], *, doc_id: str, location: str, page_count: int) -> RawFiling:
    if not any(page.image_cover > 0 for page in pages):
        raise ParseError(
            "not a House PTR: the PDF has neither text nor scanned images", location=location
        )
    has_text = any(page.lines for page in pages)
    filing = RawFiling(
        chamber=Chamber.HOUSE, doc_id=doc_id.strip(), location=location, is_paper=True
    )
    filing.extra.update(
        {
            "pages": page_count,
            "needs_review": (
                "scanned paper filing: the PDF has a text layer but not the electronic PTR "
                "layout (OCR?); transactions must be read by a person"
                if has_text
                else "scanned paper filing: the PDF has no text layer; transactions must be "
                "read by a person"
            ),
            "row_errors": [],
        }
    )
    return filing


def _is_title(line: _Line) -> bool:
    if PTR_TITLE.lower() in line.text.lower() and line.size >= 14:
        return True
    return line.size >= 14 and line.bold and _initials([w.text for w in line.words]) == "PTR"


def _table_columns(line: _Line) -> dict[str, float] | None:
    """Column left edges from a (bold) table header line, or None if this is not one."""
    if not line.bold:
        return None
    starts: dict[str, float] = {}
    words = [w for w in line.words if w.text]
    for key, label in _COLUMN_LABELS:
        for word in words:
            seen_date = key == "transaction_date" and word.x0 <= starts.get("transaction_type", 0)
            if word.text == label and not seen_date and key not in starts:
                starts[key] = word.x0 - _COLUMN_SLACK
                break
    if all(k in starts for k in ("id", "owner", "asset", "amount")):
        return starts
    return None


def _table_end(lines: list[_Line], *, start: int) -> int:
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if _TABLE_FOOTNOTE.match(line.text) or _section_of(line):
            return i
    return len(lines)


def _section_of(line: _Line) -> str | None:
    if not (line.bold and line.size >= 11):
        return None
    return _SECTION_BY_INITIALS.get(_initials([w.text for w in line.words]))


def _sections(lines: list[_Line]) -> dict[str, list[_Line]]:
    sections: dict[str, list[_Line]] = {}
    current: list[_Line] | None = None
    for line in lines:
        name = _section_of(line)
        if name:
            current = sections.setdefault(name, [])
        elif current is not None:
            current.append(line)
    return sections


# --------------------------------------------------------------------------------------------
# PTR PDF: header, signature


def _ptr_header(lines: list[_Line], *, doc_id: str, location: str) -> RawFiling:
    values: dict[str, str] = {}
    printed_id = ""
    for line in lines:
        text = line.text
        match = _FILING_ID.search(text)
        if match and not printed_id:
            printed_id = match.group(1)
        for label in ("Name:", "Status:", "State/District:"):
            if text.startswith(label) and label not in values:
                values[label] = text[len(label) :].strip()
    if printed_id and doc_id and printed_id != doc_id.strip():
        raise ParseError(
            f"the PDF is Filing ID #{printed_id}, not the requested DocID {doc_id}; wrong "
            "document for this URL?",
            location=location,
        )
    filing = RawFiling(
        chamber=Chamber.HOUSE,
        doc_id=doc_id.strip() or printed_id,
        location=location,
        politician_name=values.get("Name:", ""),
        state_district=values.get("State/District:", ""),
        title=PTR_TITLE,
        is_paper=False,
    )
    extra = filing.extra
    extra["filer_status"] = values.get("Status:", "")
    extra["filing_id_printed"] = printed_id
    return filing


def _apply_signature(filing: RawFiling, lines: list[_Line]) -> None:
    for line in reversed(lines):
        match = _SIGNED.search(line.text)
        if match:
            filing.filed_date = match.group(2)
            filing.extra["signed_by"] = match.group(1)
            return
    filing.extra.setdefault("warnings", []).append(
        'no "Digitally Signed: ..., MM/DD/YYYY" line; filed date unknown'
    )


# --------------------------------------------------------------------------------------------
# PTR PDF: transaction table


@dataclass
class _Row:
    page: int
    top: float
    columns: dict[str, float]
    cells: dict[str, list[str]] = field(default_factory=dict)
    subs: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (key, label, parts)
    in_subs: bool = False

    def add_cells(self, cells: dict[str, str]) -> None:
        for key, value in cells.items():
            if value:
                self.cells.setdefault(key, []).append(value)

    def cell(self, key: str) -> str:
        return _clean(" ".join(self.cells.get(key, [])))

    def sub(self, key: str) -> str:
        return _clean(" ".join(" ".join(parts) for k, _label, parts in self.subs if k == key))

    def text(self) -> str:
        main = " | ".join(self.cell(key) for key, _ in _COLUMN_LABELS)
        subs = " ".join(f"{label}: {' '.join(parts)}" for _k, label, parts in self.subs)
        return _clean(f"{main} {subs}")


def _table_rows(
    lines: list[_Line], *, pages: list[_Page]
) -> tuple[list[_Row], list[dict[str, Any]]]:
    rows: list[_Row] = []
    errors: list[dict[str, Any]] = []
    columns: dict[str, float] = {}
    sub_size: float | None = None
    current: _Row | None = None
    for line in lines:
        header = _table_columns(line)
        if header:
            columns = header  # each page repeats the header; widths follow the content
            continue
        if line.bold or _PAGE_FURNITURE.match(line.text):
            continue  # the header's second/third lines ("Type Date Gains >", "$200?")
        label = _sub_label(line)
        if label:
            key, label_text, value = label
            sub_size = sub_size or min(w.size for w in line.words)
            if current is None:
                errors.append(_orphan(line, f'"{label_text}" line before any transaction row'))
                continue
            current.subs.append((key, label_text, [value] if value else []))
            current.in_subs = True
            continue
        small = sub_size is not None and line.size <= sub_size + 0.1
        if current is not None and current.in_subs and small:
            current.subs[-1][2].append(line.text)  # a wrapped Description/Comment
            continue
        cells = _cells(line, columns)
        if _starts_row(cells):
            current = _Row(page=line.page, top=line.top, columns=columns)
            current.add_cells(cells)
            rows.append(current)
        elif current is not None and not current.in_subs:
            current.add_cells(cells)  # a wrapped asset name or amount
        elif current is not None:
            current.subs[-1][2].append(line.text)
        else:
            errors.append(_orphan(line, "text in the table before any transaction row"))
    for row in rows:
        if not row.cell("cap_gains"):
            row.cells["cap_gains"] = [_cap_gains_box(row, pages)]
    return rows, errors


def _starts_row(cells: dict[str, str]) -> bool:
    # Only a row's first line fills these cells; "(partial)" would be a wrapped "S (partial)".
    if cells.get("transaction_type", "").startswith("("):
        cells = {k: v for k, v in cells.items() if k != "transaction_type"}
    return any(cells.get(key) for key in _ROW_START_COLUMNS)


def _orphan(line: _Line, reason: str) -> dict[str, Any]:
    return {"row": None, "reason": reason, "text": line.text, "page": line.page}


def _sub_label(line: _Line) -> tuple[str, str, str] | None:
    """(field, label initials, value) for a "Filing Status: New"-style sub-line."""
    heads: list[str] = []  # the label's words, colon excluded
    value_head = ""
    for word in line.words:
        if not (_has_small_caps(word) or (heads and word.raw.startswith(":"))):
            break
        head, colon, tail = word.raw.partition(":")
        heads.append(_clean(head))
        if colon:
            value_head = _clean(tail)
            rest = " ".join(w.text for w in line.words[len(heads) :])
            initials = _initials(heads)
            key = _SUB_LABELS_BY_INITIALS.get(initials, f"unknown:{initials}")
            return key, initials, _clean(f"{value_head} {rest}")
    # A future text layer may print the labels in clear.
    match = re.match(r"^([A-Za-z][A-Za-z ]{2,20}):\s*(.*)$", line.text)
    if match and match.group(1).lower() in _SUB_LABELS_BY_TEXT:
        return _SUB_LABELS_BY_TEXT[match.group(1).lower()], match.group(1), match.group(2)
    return None


def _cells(line: _Line, columns: dict[str, float]) -> dict[str, str]:
    ordered = sorted(columns.items(), key=lambda item: item[1])
    cells: dict[str, list[str]] = {}
    for word in line.words:
        if not word.text:
            continue
        key = ordered[0][0] if ordered else "asset"
        for name, start in ordered:
            if word.x0 >= start:
                key = name
        cells.setdefault(key, []).append(word.text)
    return {key: " ".join(parts) for key, parts in cells.items()}


def _cap_gains_box(row: _Row, pages: list[_Page]) -> str:
    start = row.columns.get("cap_gains")
    if start is None:
        return ""
    for control in pages[row.page - 1].controls:
        centre_y = (control.top + control.bottom) / 2
        if control.x0 >= start - 1 and row.top - 4 <= centre_y <= row.top + 14:
            return "checked" if control.marked else "unchecked"
    return ""


def _trade(
    row: _Row, *, number: int, filing: RawFiling, vehicles: list[dict[str, str]]
) -> RawTrade:
    extra: dict[str, Any] = {"page": row.page}
    if row.cell("id"):
        extra["house_row_id"] = row.cell("id")  # amended rows carry the original row's ID
    if row.sub("location"):
        extra["location"] = row.sub("location")
    unknown = [
        {"label": label, "text": _clean(" ".join(parts))}
        for key, label, parts in row.subs
        if key.startswith("unknown:")
    ]
    if unknown:
        extra["unknown_sub_lines"] = unknown
    owner = row.cell("owner")
    subholding = row.sub("subholding_of")
    if not owner and subholding:
        # FORMATS 1a: a blank owner under a vehicle listed "(Owner: SP)" is that owner's trade.
        vehicle = next((v for v in vehicles if v["name"] == subholding and v.get("owner")), None)
        if vehicle:
            owner = vehicle["owner"]
            extra["owner_as_printed"] = ""
            extra["owner_inherited_from"] = vehicle["name"]
    return RawTrade(
        source=SOURCE_HOUSE_PDF,
        location=f"{filing.location} row {number}",
        line_number=number,
        chamber=Chamber.HOUSE,
        politician_name=filing.politician_name,
        state_district=filing.state_district,
        filing_doc_id=filing.doc_id,
        filing_url=filing.url,
        filed_date=filing.filed_date,
        transaction_date=row.cell("transaction_date"),
        notification_date=row.cell("notification_date"),
        owner=owner,
        # "(TICKER) [XX]" stays inside asset_name: ingestion.normalize.split_house_asset is the
        # one place that decides what is a ticker ("(ADR)", "(NYSE)", "(1)" are not).
        asset_name=row.cell("asset"),
        transaction_type=row.cell("transaction_type"),
        amount=row.cell("amount"),
        comment=row.sub("comment"),
        description=row.sub("description"),
        subholding_of=subholding,
        filing_status=row.sub("filing_status"),
        cap_gains_over_200=row.cell("cap_gains"),
        extra=extra,
    )


# --------------------------------------------------------------------------------------------
# PTR PDF: sections after the table


def _vehicles(lines: list[_Line], *, pages: list[_Page]) -> list[dict[str, str]]:
    """Investment Vehicle Details: "Name (Owner: SP)" items, each with optional sub-lines."""
    items: list[dict[str, Any]] = []
    has_bullets = any(page.bullets for page in pages)
    for line in lines:
        label = _sub_label(line)
        if label and items:
            key, _label, value = label
            items[-1][key] = value
            continue
        bulleted = any(
            x < line.words[0].x0 and abs(cy - (line.top + line.bottom) / 2) < 4
            for x, cy in pages[line.page - 1].bullets
        )
        if bulleted or not has_bullets or not items:
            items.append({"text": line.text})
        else:
            items[-1]["text"] = f"{items[-1]['text']} {line.text}"
    vehicles = []
    for item in items:
        text = item.pop("text")
        owner = _VEHICLE_OWNER.search(text)
        name = text[: owner.start()].strip() if owner else text
        vehicles.append({"name": name, "owner": owner.group(1) if owner else "", **item})
    return vehicles


def _ipo_answer(lines: list[_Line], *, pages: list[_Page]) -> str:
    for line in lines:
        for word in line.words:
            if word.text not in ("Yes", "No"):
                continue
            for control in pages[line.page - 1].controls:
                beside = control.x1 <= word.x0 + 1 and word.x0 - control.x1 < 12
                if beside and abs(control.top - word.top) < 6 and control.marked:
                    return word.text
    return ""
