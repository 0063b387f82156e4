"""Pure parsers for the Senate eFD site (efdsearch.senate.gov).

Bytes in, records out: no network, no database, no Django. Every value is kept as the
page printed it (whitespace collapsed, HTML reduced to its text); ``ingestion.normalize``
decides what the values mean. The page anatomy these parsers rely on is described in
shared/data-samples/FORMATS.md section 1b and pinned by the saved pages under
tests/fixtures/senate/.

The fetcher (written elsewhere) uses ``EFD_BASE``, the URL constants and
``search_form_fields``; it hands each response body to the matching ``parse_*`` function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from ingestion.records import (
    Chamber,
    ParsedBatch,
    ParseError,
    RawFiling,
    RawRejection,
    RawTrade,
)

__all__ = [
    "AGREEMENT_URL",
    "EFD_BASE",
    "PTR_COLUMNS",
    "PTR_REPORT_TYPE",
    "SEARCH_DATA_URL",
    "SEARCH_URL",
    "collapse",
    "parse_agreement_form",
    "parse_paper_page",
    "parse_ptr_page",
    "parse_search_results",
    "report_id_from_link",
    "search_form_fields",
]

EFD_BASE = "https://efdsearch.senate.gov"
AGREEMENT_URL = f"{EFD_BASE}/search/home/"
SEARCH_URL = f"{EFD_BASE}/search/"
SEARCH_DATA_URL = f"{EFD_BASE}/search/report/data/"
PTR_REPORT_TYPE = 11

# The transactions table of an electronic PTR, exactly as the page heads it.
PTR_COLUMNS = (
    "#",
    "Transaction Date",
    "Owner",
    "Ticker",
    "Asset Name",
    "Asset Type",
    "Type",
    "Amount",
    "Comment",
)

SOURCE = "senate_efd"

# The search form's own page-size menu stops at 100 (its DataTables lengthMenu); larger
# pages have never been tried against the server, so we do not send them.
_MAX_PAGE_LENGTH = 100

_REPORT_LINK_RE = re.compile(
    r"/search/view/(?P<kind>[a-z_-]+)/"
    r"(?P<id>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?:/|$)"
)
_AMENDMENT_RE = re.compile(r"\(\s*Amendment\s+(\d+)\s*\)\s*$", re.IGNORECASE)
_TITLE_KIND_RE = re.compile(r"^(?P<kind>.+?)\s+for\s+\S+")
_FILED_RE = re.compile(r"^Filed\s+(?P<date>.+?)(?:\s+@\s+(?P<time>.+))?$")
_TOTAL_RE = re.compile(r"\(\s*(\d+)\s+transactions?\s+total\s*\)", re.IGNORECASE)
_FILER_RE = re.compile(
    r"^(?P<prefix>The Honorable)\s+(?P<name>.+?)\s*"
    r"\(\s*(?P<last>[^,()]+?)\s*,\s*(?P<first>[^()]+?)\s*\)$"
)
_SEARCH_ROW_WIDTH = 5


def collapse(value: str) -> str:
    """Collapse every run of whitespace (incl. newlines, NBSP) to one space and strip."""
    return " ".join(value.split())


def report_id_from_link(link: str) -> tuple[str, str] | None:
    """``(kind, uuid)`` from an eFD report link (``/search/view/ptr/<uuid>/``), else None.

    ``kind`` is the path segment: "ptr" for electronic reports, "paper" for scans. The
    UUID keeps the source's letter case: 2012-era paper reports use upper case, and the
    same case comes back from every source we have seen.
    """
    match = _REPORT_LINK_RE.search(link)
    if match is None:
        return None
    return match.group("kind"), match.group("id")


def search_form_fields(
    *,
    start: int,
    length: int,
    start_date: str,
    end_date: str,
    report_types: Sequence[int] = (PTR_REPORT_TYPE,),
    filer_types: Sequence[int] = (),
    draw: int = 1,
    descending: bool = False,
) -> dict[str, str]:
    """The form body for ``POST /search/report/data/`` (DataTables server-side protocol).

    ``start_date``/``end_date`` are sent as given; the site expects ``MM/DD/YYYY HH:MM:SS``
    (``end_date`` may be empty). ``filer_types`` empty means every filer kind (1 Senator,
    4 Candidate, 5 Former Senator). Results are ordered by date submitted, oldest first
    by default, so that new filings arriving while we page land after the pages already
    read instead of shifting them.
    """
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if not 1 <= length <= _MAX_PAGE_LENGTH:
        raise ValueError(f"length must be 1..{_MAX_PAGE_LENGTH}, got {length}")
    fields = {
        "start": str(start),
        "length": str(length),
        "draw": str(draw),
        "report_types": _js_int_list(report_types, name="report_types"),
        "filer_types": _js_int_list(filer_types, name="filer_types"),
        "submitted_start_date": start_date,
        "submitted_end_date": end_date,
        "candidate_state": "",
        "senator_state": "",
        "office_id": "",
        "first_name": "",
        "last_name": "",
        "order[0][column]": "4",
        "order[0][dir]": "desc" if descending else "asc",
    }
    for column in range(_SEARCH_ROW_WIDTH):
        fields[f"columns[{column}][data]"] = str(column)
    return fields


def parse_agreement_form(html: bytes | str, *, location: str) -> str:
    """The ``csrfmiddlewaretoken`` of ``<form id="agreement_form">`` on ``/search/home/``."""
    root = _parse_html(html, location=location)
    form = next((n for n in root.iter("form") if n.attrs.get("id") == "agreement_form"), None)
    if form is None:
        raise ParseError(
            "no agreement form found; the site may have served a block page"
            f"{_page_title_hint(root)}",
            location=location,
        )
    for node in form.iter("input"):
        if node.attrs.get("name") == "csrfmiddlewaretoken":
            token = node.attrs.get("value", "").strip()
            if token:
                return token
            raise ParseError("agreement form has an empty csrfmiddlewaretoken", location=location)
    raise ParseError("agreement form has no csrfmiddlewaretoken input", location=location)


def parse_search_results(data: bytes, *, location: str) -> tuple[int, ParsedBatch]:
    """``(recordsTotal, batch)`` from a ``/search/report/data/`` DataTables response.

    One RawFiling (no trades) per row ``[first_name, last_name, office, link_html,
    date_submitted]``; a row of any other shape is rejected with its JSON.
    """
    envelope = load_json(data, location=location)
    if not isinstance(envelope, dict):
        raise ParseError(
            f"expected a DataTables object, got a JSON {json_type(envelope)}", location=location
        )
    missing = [key for key in ("recordsTotal", "data") if key not in envelope]
    if missing:
        raise ParseError(
            f"not a DataTables response: missing {', '.join(missing)}"
            f" (keys present: {', '.join(sorted(map(str, envelope))) or 'none'})",
            location=location,
        )
    total = envelope["recordsTotal"]
    if type(total) is not int:
        raise ParseError(
            f"recordsTotal must be an integer, got {json_type(total)}", location=location
        )
    rows = envelope["data"]
    if not isinstance(rows, list):
        raise ParseError(f"'data' must be a list, got {json_type(rows)}", location=location)

    batch = ParsedBatch()
    for index, row in enumerate(rows):
        row_location = f"{location} data[{index}]"
        try:
            batch.filings.append(_search_row_filing(row, location=row_location))
        except BadRecord as problem:
            batch.rejected.append(
                RawRejection(
                    location=row_location, reason=str(problem), payload=rejection_payload(row)
                )
            )
    return total, batch


def parse_ptr_page(html: bytes | str, *, doc_id: str, url: str, location: str) -> RawFiling:
    """An electronic PTR page (``/search/view/ptr/<uuid>/``) as one filing with its trades.

    Trades are returned in line order (1..N) although the page prints them N..1. The page's
    own "(N transactions total)" is compared with the rows read; a disagreement is kept in
    ``extra["integrity_error"]`` rather than raised, so the filing is stored and flagged.
    """
    root = _parse_html(html, location=location)
    table = _find_ptr_table(root, location=location)

    filing = RawFiling(chamber=Chamber.SENATE, doc_id=doc_id, location=location, url=url)
    _fill_header(filing, root)

    for cells in _body_rows(table):
        if len(cells) != len(PTR_COLUMNS):
            raise ParseError(
                f"transactions row has {len(cells)} cells, expected {len(PTR_COLUMNS)}:"
                f" {[cell.text() for cell in cells]!r}",
                location=location,
            )
        filing.trades.append(_ptr_trade(cells, filing=filing, location=location))
    filing.trades.sort(key=lambda trade: trade.line_number)

    _check_integrity(filing, root)
    return filing


def parse_paper_page(html: bytes | str, *, doc_id: str, url: str, location: str) -> RawFiling:
    """The wrapper page of a scanned paper report (``/search/view/paper/<uuid>/``).

    It has no transactions, and usually no filer header or "Filed" line either: the facts
    live in GIF images, kept in ``extra["page_images"]`` so a person can review them.
    """
    root = _parse_html(html, location=location)
    images = [
        urljoin(EFD_BASE, node.attrs["src"])
        for node in root.iter("img")
        if "filingImage" in node.classes() and node.attrs.get("src")
    ]
    if not images:
        raise ParseError(
            "no scanned pages (img.filingImage) found; not a paper report page, or the site"
            f" served a block page{_page_title_hint(root)}",
            location=location,
        )
    filing = RawFiling(
        chamber=Chamber.SENATE, doc_id=doc_id, location=location, url=url, is_paper=True
    )
    _fill_header(filing, root)
    filing.extra["page_images"] = images
    return filing


# --- search rows -------------------------------------------------------------------


def _search_row_filing(row: Any, *, location: str) -> RawFiling:
    if not isinstance(row, list):
        raise BadRecord(f"row must be a list of {_SEARCH_ROW_WIDTH}, got a {json_type(row)}")
    if len(row) != _SEARCH_ROW_WIDTH:
        raise BadRecord(f"row has {len(row)} cells, expected {_SEARCH_ROW_WIDTH}")
    for position, cell in enumerate(row):
        if not isinstance(cell, str):
            raise BadRecord(f"cell {position} must be a string, got {json_type(cell)}")
    first, last, office, link_html, submitted = row

    try:
        link_root = _parse_html(link_html, location=location)
    except ParseError as error:
        raise BadRecord(f"link cell is unreadable HTML: {error}") from None
    anchors = [n for n in link_root.iter("a") if "href" in n.attrs]
    if len(anchors) != 1:
        raise BadRecord(f"link cell must hold one <a href>, found {len(anchors)}")
    href = anchors[0].attrs["href"]
    report = report_id_from_link(href)
    if report is None:
        raise BadRecord(f"link {href!r} is not a /search/view/<kind>/<uuid>/ report link")
    kind, report_id = report

    title = anchors[0].text()
    filing = RawFiling(
        chamber=Chamber.SENATE,
        doc_id=report_id,
        location=location,
        first_name=collapse(first),
        last_name=collapse(last),
        politician_name=collapse(f"{first} {last}"),
        filed_date=collapse(submitted),
        url=urljoin(EFD_BASE, href),
        title=title,
        is_paper=kind == "paper",
    )
    filing.extra["office"] = collapse(office)
    filing.extra["report_kind"] = kind
    _apply_title(filing, title)
    return filing


# --- PTR / paper pages ---------------------------------------------------------------


def _find_ptr_table(root: _Node, *, location: str) -> _Node:
    tables = list(root.iter("table"))
    if not tables:
        raise ParseError(
            "no transactions table found (expected a <table> headed "
            f"{' | '.join(PTR_COLUMNS)}); the site may have served a block page"
            f"{_page_title_hint(root)}",
            location=location,
        )
    headed = [(table, _header_cells(table)) for table in tables]
    for table, headers in headed:
        if tuple(headers) == PTR_COLUMNS:
            return table
    # Name the closest table so the message says what changed in the layout.
    table, headers = max(headed, key=lambda pair: len(set(pair[1]) & set(PTR_COLUMNS)))
    missing = [name for name in PTR_COLUMNS if name not in headers]
    unexpected = [name for name in headers if name not in PTR_COLUMNS]
    details = []
    if missing:
        details.append(f"missing {', '.join(repr(name) for name in missing)}")
    if unexpected:
        details.append(f"unexpected {', '.join(repr(name) for name in unexpected)}")
    if not details:
        details.append("columns in a different order")
    raise ParseError(
        f"transactions table has columns {' | '.join(headers) or '(none)'}; expected"
        f" {' | '.join(PTR_COLUMNS)} ({'; '.join(details)})",
        location=location,
    )


def _header_cells(table: _Node) -> list[str]:
    for row in table.iter("tr"):
        cells = row.child_elements("th")
        if cells:
            return [cell.text() for cell in cells]
    return []


def _body_rows(table: _Node) -> Iterator[list[_Node]]:
    for row in table.iter("tr"):
        cells = row.child_elements("td")
        if cells:
            yield cells


def _ptr_trade(cells: list[_Node], *, filing: RawFiling, location: str) -> RawTrade:
    number_text = cells[0].text()
    try:
        line_number = int(number_text)
    except ValueError:
        raise ParseError(
            f"transactions row number {number_text!r} is not an integer", location=location
        ) from None

    ticker_cell = cells[3]
    anchor = next(ticker_cell.iter("a"), None)
    ticker = anchor.text() if anchor is not None else ""
    extra: dict[str, str] = {}
    if anchor is not None and anchor.attrs.get("href"):
        extra["ticker_url"] = anchor.attrs["href"]
    if not ticker:
        ticker = ticker_cell.text()

    asset_cell = cells[4]
    muted = list(asset_cell.iter_matching(_is_muted))
    return RawTrade(
        source=SOURCE,
        location=f"{location} row #{line_number}",
        line_number=line_number,
        chamber=Chamber.SENATE,
        politician_name=filing.politician_name,
        filing_doc_id=filing.doc_id,
        filing_url=filing.url,
        filed_date=filing.filed_date,
        transaction_date=cells[1].text(),
        owner=cells[2].text(),
        ticker=ticker,
        asset_name=asset_cell.text(skip=_is_muted),
        description=collapse(" ".join(node.text() for node in muted)),
        asset_type=cells[5].text(),
        transaction_type=cells[6].text(),
        amount=cells[7].text(),
        comment=cells[8].text(),
        extra=extra,
    )


def _is_muted(node: _Node) -> bool:
    return "text-muted" in node.classes()


def _apply_title(filing: RawFiling, title: str) -> None:
    filing.title = title
    kind = _TITLE_KIND_RE.match(title)
    filing.filing_type = kind.group("kind") if kind else title
    amendment = _AMENDMENT_RE.search(title)
    filing.is_amendment = amendment is not None
    if amendment:
        filing.extra["amendment_number"] = amendment.group(1)


def _fill_header(filing: RawFiling, root: _Node) -> None:
    """Title, filer and "Filed" stamp, each only if the page prints it."""
    _apply_title(filing, next((h1.text() for h1 in root.iter("h1") if not _hidden(h1)), ""))
    filer_node = next((h2 for h2 in root.iter("h2") if "filedReport" in h2.classes()), None)
    if filer_node is not None:
        filer = filer_node.text()
        filing.politician_name = filer
        match = _FILER_RE.match(filer)
        if match:
            # The page prints "(Last, First)" itself; taking those pieces is reading, not
            # guessing at how a name splits.
            filing.prefix = match.group("prefix")
            filing.last_name = match.group("last")
            filing.first_name = match.group("first")
    stamp = next((n.text() for n in root.iter("strong") if n.text().startswith("Filed")), "")
    if stamp:
        filing.extra["filed_stamp"] = stamp
        match = _FILED_RE.match(stamp)
        filing.filed_date = match.group("date") if match else ""


def _hidden(node: _Node) -> bool:
    # The paper page's only h1 is a screen-reader label ("Filing Document - Print View").
    return "sr-only" in node.classes()


def _check_integrity(filing: RawFiling, root: _Node) -> None:
    problems: list[str] = []
    summary = ""
    for item in root.iter("li"):
        match = _TOTAL_RE.search(item.text())
        if match:
            declared = int(match.group(1))
            summary = item.parent.text() if item.parent is not None else item.text()
            if declared != len(filing.trades):
                problems.append(
                    f"page says {declared} transactions total but the table has"
                    f" {len(filing.trades)} rows"
                )
            break
    else:
        problems.append("no '(N transactions total)' summary on the page")
    if summary:
        filing.extra["summary"] = summary

    numbers = [trade.line_number for trade in filing.trades]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        problems.append(f"row numbers are not 1..{len(numbers)}: {sorted(numbers)}")
    if problems:
        filing.extra["integrity_error"] = "; ".join(problems)


def _page_title_hint(root: _Node) -> str:
    title = next((node.text() for node in root.iter("title")), "")
    return f" (page title: {title!r})" if title else ""


# --- a minimal HTML tree -------------------------------------------------------------
# html.parser gives events; the pages are small (tens of KB), so a throwaway tree with
# a few query helpers reads far more clearly than a state machine per field.

_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
# Tags whose edges separate words in rendered text ("5.5%<br>Matures" is two words).
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
     "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
     "nav", "ol", "p", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
)  # fmt: skip
_NO_TEXT_TAGS = frozenset({"script", "style", "template"})
# Start tags that end an open element of the same family before their own "scope" tag,
# because real pages leave </td>, </tr> and </li> out.
_IMPLICIT_CLOSE = {
    "td": ({"td", "th"}, {"tr", "table"}),
    "th": ({"td", "th"}, {"tr", "table"}),
    "tr": ({"tr", "td", "th"}, {"table", "thead", "tbody", "tfoot"}),
    "li": ({"li"}, {"ul", "ol"}),
}


class _Node:
    __slots__ = ("attrs", "children", "parent", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[_Node | str] = []

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def child_elements(self, *tags: str) -> list[_Node]:
        return [c for c in self.children if isinstance(c, _Node) and c.tag in tags]

    def iter(self, tag: str | None = None) -> Iterator[_Node]:
        """Descendant elements in document order (iterative: hostile nesting can't recurse)."""
        stack: list[_Node | str] = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                continue
            if tag is None or node.tag == tag:
                yield node
            stack.extend(reversed(node.children))

    def iter_matching(self, predicate: Callable[[_Node], bool]) -> Iterator[_Node]:
        """Outermost descendants matching ``predicate`` (does not descend into a match)."""
        stack: list[_Node | str] = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                continue
            if predicate(node):
                yield node
                continue
            stack.extend(reversed(node.children))

    def text(self, *, skip: Callable[[_Node], bool] | None = None) -> str:
        """Rendered text, whitespace collapsed; elements for which ``skip`` is true left out."""
        parts: list[str] = []
        stack: list[_Node | str] = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                parts.append(node)
                continue
            if node.tag in _NO_TEXT_TAGS or (skip is not None and skip(node)):
                continue
            if node.tag in _BLOCK_TAGS:
                parts.append(" ")
                stack.append(" ")
            stack.extend(reversed(node.children))
        return collapse("".join(parts))


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#document", {}, None)
        self._open = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._close_implied(tag)
        node = _Node(tag, {name: value or "" for name, value in attrs}, self._open)
        self._open.children.append(node)
        if tag not in _VOID_TAGS:
            self._open = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._close_implied(tag)
        node = _Node(tag, {name: value or "" for name, value in attrs}, self._open)
        self._open.children.append(node)

    def handle_endtag(self, tag: str) -> None:
        node: _Node | None = self._open
        while node is not None and node is not self.root and node.tag != tag:
            node = node.parent
        if node is None or node is self.root:
            return  # a stray end tag closes nothing
        self._open = node.parent or self.root

    def handle_data(self, data: str) -> None:
        self._open.children.append(data)

    def _close_implied(self, tag: str) -> None:
        rule = _IMPLICIT_CLOSE.get(tag)
        if rule is None:
            return
        closes, scope = rule
        node: _Node | None = self._open
        while node is not None and node is not self.root and node.tag not in scope:
            if node.tag in closes:
                self._open = node.parent or self.root
                return
            node = node.parent


def _parse_html(html: bytes | str, *, location: str) -> _Node:
    text = html.decode("utf-8-sig", errors="replace") if isinstance(html, bytes) else html
    builder = _TreeBuilder()
    try:
        builder.feed(text)
        builder.close()
    except (AssertionError, ValueError) as error:  # html.parser's rare hard failures
        raise ParseError(f"unreadable HTML: {error}", location=location) from error
    return builder.root


# --- helpers shared with ingestion.parsers.feeds -------------------------------------


class BadRecord(Exception):
    """One record cannot be read; the message is the rejection reason (shared with feeds)."""


def load_json(data: bytes | str, *, location: str) -> Any:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ParseError(
                f"not UTF-8 text (bad byte at offset {error.start})", location=location
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        hint = ""
        if text.lstrip()[:1] == "<":
            hint = " (this looks like an HTML page: a block page or an error page?)"
        elif not text.strip():
            hint = " (the body is empty)"
        raise ParseError(
            f"not JSON: {error.msg} at line {error.lineno} column {error.colno}{hint}",
            location=location,
        ) from None
    except RecursionError:
        raise ParseError("not readable JSON: nested too deeply", location=location) from None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_PAYLOAD_LIMIT = 4000


def rejection_payload(value: Any) -> str:
    """A record's JSON for a RawRejection, cut short so one huge record can't bloat a run."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > _PAYLOAD_LIMIT:
        return text[:_PAYLOAD_LIMIT] + f"... ({len(text)} characters)"
    return text


def _js_int_list(values: Sequence[int], *, name: str) -> str:
    numbers = list(values)
    for value in numbers:
        if type(value) is not int:
            raise ValueError(f"{name} must be integers, got {value!r}")
    return "[" + ",".join(str(value) for value in numbers) + "]"
