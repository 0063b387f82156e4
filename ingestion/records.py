"""Plain records passed from source parsers to the normalisation layer.

Parsers are pure functions from bytes to these records: they keep every value as the
source printed it (only whitespace collapsed), so the one shared vocabulary in
``ingestion.normalize`` decides what a value means and rejects what it cannot read.
``location`` always says where a record came from in words a person can follow
("2023FD.xml Member #12", "ptr-pdfs/2023/20022260.pdf row 3"), because a rejected
record's reason is only useful if someone can find the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Chamber:
    HOUSE = "house"
    SENATE = "senate"


@dataclass
class RawTrade:
    """One transaction row exactly as a source sent it."""

    source: str  # "house_pdf", "senate_efd", "senate_watcher", "house_watcher", "file"
    location: str
    line_number: int  # 1-based position within its filing
    chamber: str = ""  # Chamber.HOUSE / Chamber.SENATE / "" when the source does not say
    politician_name: str = ""
    state_district: str = ""
    filing_doc_id: str = ""
    filing_url: str = ""
    filed_date: str = ""
    transaction_date: str = ""
    notification_date: str = ""
    owner: str = ""
    ticker: str = ""
    asset_name: str = ""
    asset_type: str = ""
    transaction_type: str = ""
    amount: str = ""
    comment: str = ""
    description: str = ""
    subholding_of: str = ""
    filing_status: str = ""  # House row status: "New" / "Amended"
    cap_gains_over_200: str = ""
    bioguide_id: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class RawFiling:
    """One disclosure document (an index row, a search hit, or a parsed PTR)."""

    chamber: str
    doc_id: str  # House DocID, Senate report UUID
    location: str
    politician_name: str = ""
    first_name: str = ""
    last_name: str = ""
    prefix: str = ""
    suffix: str = ""
    state_district: str = ""
    filing_type: str = ""  # raw code or title, e.g. "P", "O"+"PTR", "Periodic Transaction Report"
    filed_date: str = ""
    year: str = ""
    url: str = ""
    title: str = ""
    is_paper: bool = False  # scanned paper: recorded as needing review, never dropped
    is_amendment: bool = False
    trades: list[RawTrade] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # source details with no field of their own


class ParseError(Exception):
    """A whole document could not be read (truncated zip, not a PTR, entity bomb ...).

    The message says what was wrong and where; the run records it and goes on with the
    next document.
    """

    def __init__(self, message: str, *, location: str = "") -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


@dataclass
class RawRejection:
    """A record a parser could not turn into a RawTrade/RawFiling, kept with its reason."""

    location: str
    reason: str
    payload: str  # the record's original text (JSON, CSV line, table row), for a person to read


@dataclass
class ParsedBatch:
    """What a multi-record parser returns: everything it read, and everything it refused."""

    filings: list[RawFiling] = field(default_factory=list)
    rejected: list[RawRejection] = field(default_factory=list)
