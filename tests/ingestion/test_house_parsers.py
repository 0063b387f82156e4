"""Specifications for the House Clerk parsers (index zip/xml/txt and PTR PDFs).

Expected values were read by eye from the source documents (the PDFs rendered to images, the
pdfplumber text dumps and the raw XML/TXT rows); fixtures and their provenance are in
tests/fixtures/house/. Hostile and broken inputs are generated here, in code.
"""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from ingestion.parsers import house
from ingestion.parsers.house import (
    house_index_url,
    house_ptr_url,
    is_house_ptr,
    parse_house_index_txt,
    parse_house_index_xml,
    parse_house_index_zip,
    parse_house_ptr_pdf,
)
from ingestion.records import ParsedBatch, ParseError, RawFiling, RawRejection

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "house"
CLERK = "https://disclosures-clerk.house.gov/public_disc"


def _bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@cache
def _index(name: str) -> ParsedBatch:
    return parse_house_index_zip(_bytes(name), location=name)


@cache
def _ptr(name: str) -> RawFiling:
    doc_id = name.rsplit("-", 1)[-1].removesuffix(".pdf")
    return parse_house_ptr_pdf(_bytes(name), doc_id=doc_id, location=f"ptr-pdfs/{doc_id}.pdf")


def _member(name: str, member_suffix: str) -> bytes:
    with zipfile.ZipFile(FIXTURES / name) as archive:
        member = next(n for n in archive.namelist() if n.endswith(member_suffix))
        return archive.read(member)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _by_doc_id(batch: ParsedBatch, doc_id: str) -> RawFiling:
    return next(f for f in batch.filings if f.doc_id == doc_id)


# --------------------------------------------------------------------------------------------
# Index zips: counts


def test_the_early_2025_zip_holds_123_filings_of_which_56_are_ptrs() -> None:
    batch = _index("2025FD.early-2025-02-17.zip")
    assert len(batch.filings) == 123
    assert batch.rejected == []
    assert sum(is_house_ptr(f) for f in batch.filings) == 56


def test_the_2026_zip_holds_1302_filings_of_which_274_are_ptrs() -> None:
    batch = _index("2026FD.zip")
    assert len(batch.filings) == 1302
    assert batch.rejected == []
    assert sum(is_house_ptr(f) for f in batch.filings) == 274


def test_the_2015_zip_holds_2297_filings_with_728_ptrs_of_which_338_are_paper() -> None:
    batch = _index("2015FD.zip")
    ptrs = [f for f in batch.filings if is_house_ptr(f)]
    assert len(batch.filings) == 2297
    assert len(ptrs) == 728
    assert sum(f.is_paper for f in ptrs) == 338


def test_the_2012_zip_finds_its_813_ptrs_only_through_disclosure_type() -> None:
    batch = _index("2012FD.zip")
    ptrs = [f for f in batch.filings if is_house_ptr(f)]
    assert len(batch.filings) == 5347
    assert not any(f.filing_type == "P" for f in batch.filings)  # no "P" before 2015
    assert Counter(f.filing_type for f in ptrs) == {"O": 788, "A": 25}
    assert all(f.extra["DisclosureType"] == "PTR" for f in ptrs)


# --------------------------------------------------------------------------------------------
# Index rows: field by field


def test_the_first_2025_member_is_read_field_by_field() -> None:
    allen = _index("2025FD.early-2025-02-17.zip").filings[0]
    assert allen.chamber == "house"
    assert allen.doc_id == "20026537"
    assert (allen.prefix, allen.first_name, allen.last_name, allen.suffix) == (
        "Hon.",
        "Richard W.",
        "Allen",
        "",
    )
    assert allen.politician_name == "Hon. Richard W. Allen"
    assert allen.state_district == "GA12"
    assert allen.filing_type == "P"
    assert allen.filed_date == "1/16/2025"
    assert allen.year == "2025"
    assert allen.url == f"{CLERK}/ptr-pdfs/2025/20026537.pdf"
    assert allen.is_paper is False
    assert allen.is_amendment is False
    assert allen.location == "2025FD.early-2025-02-17.zip/2025FD.xml Member #1 (DocID 20026537)"


def test_an_accented_name_survives_the_utf8_bom_file() -> None:
    cardenas = _by_doc_id(_index("2025FD.early-2025-02-17.zip"), "10063335")
    assert cardenas.last_name == "Cárdenas"
    assert cardenas.filing_type == "T"
    assert is_house_ptr(cardenas) is False
    assert cardenas.url == f"{CLERK}/financial-pdfs/2025/10063335.pdf"


def test_empty_state_and_filing_date_elements_become_empty_strings() -> None:
    bankole = _by_doc_id(_index("2026FD.zip"), "9115784")
    assert bankole.politician_name == "Yasmeen Bankole"
    assert bankole.prefix == ""
    assert bankole.state_district == ""
    assert bankole.filed_date == ""
    assert bankole.filing_type == "W"


def test_the_scanned_paper_ptr_is_flagged_paper_in_the_2026_index() -> None:
    harshbarger = _by_doc_id(_index("2026FD.zip"), "9115811")
    assert harshbarger.politician_name == "Hon. Diana Harshbarger"
    assert harshbarger.state_district == "TN01"
    assert harshbarger.filed_date == "5/6/2026"
    assert is_house_ptr(harshbarger)
    assert harshbarger.is_paper is True
    assert harshbarger.url == f"{CLERK}/ptr-pdfs/2026/9115811.pdf"


def test_an_old_schema_ptr_keeps_disclosure_type_and_filing_year_in_extra() -> None:
    abernathy = _by_doc_id(_index("2012FD.zip"), "2000077")
    assert abernathy.politician_name == "SARAH L. ABERNATHY"
    assert abernathy.filing_type == "O"
    assert abernathy.state_district == "BU00"
    assert abernathy.filed_date == "8/1/2012"
    assert abernathy.extra == {"FilingYear": "2012", "DisclosureType": "PTR"}
    assert is_house_ptr(abernathy)
    assert abernathy.url == f"{CLERK}/ptr-pdfs/2012/2000077.pdf"
    assert abernathy.is_paper is True  # 7 digits


def test_an_old_schema_amended_ptr_is_filing_type_a_and_an_amendment() -> None:
    andres = _by_doc_id(_index("2012FD.zip"), "2000655")
    assert (andres.filing_type, andres.extra["DisclosureType"]) == ("A", "PTR")
    assert andres.is_amendment is True
    assert is_house_ptr(andres)


def test_an_old_schema_annual_report_is_not_a_ptr() -> None:
    abbott = _by_doc_id(_index("2012FD.zip"), "9101116")
    assert abbott.extra == {"FilingYear": "2011", "DisclosureType": "FD"}
    assert is_house_ptr(abbott) is False


@pytest.mark.parametrize(
    "name", ["2025FD.early-2025-02-17.zip", "2026FD.zip", "2015FD.zip", "2012FD.zip"]
)
def test_the_txt_twin_of_every_index_gives_the_same_filings_as_the_xml(name: str) -> None:
    from_xml = parse_house_index_xml(_member(name, ".xml"), location="x").filings
    from_txt = parse_house_index_txt(_member(name, ".txt"), location="t")

    def key(f: RawFiling) -> tuple:
        return (
            f.doc_id,
            f.politician_name,
            f.prefix,
            f.first_name,
            f.last_name,
            f.suffix,
            f.state_district,
            f.filing_type,
            f.filed_date,
            f.year,
            f.url,
            f.is_paper,
            f.is_amendment,
            sorted(f.extra.items()),
        )

    assert from_txt.rejected == []
    assert [key(f) for f in from_txt.filings] == [key(f) for f in from_xml]


def test_the_2012_txt_header_spells_filing_year_with_a_space() -> None:
    text = _member("2012FD.zip", ".txt")
    assert b"\tFiling Year\t" in text.split(b"\r\n", 1)[0]
    batch = parse_house_index_txt(text, location="2012FD.txt")
    first = batch.filings[0]
    assert first.extra == {"FilingYear": "2011", "DisclosureType": "FD"}
    assert first.location == "2012FD.txt line 2 (DocID 9101116)"


def test_a_zip_without_xml_falls_back_to_its_txt_member() -> None:
    only_txt = _zip({"2025FD.txt": _member("2025FD.early-2025-02-17.zip", ".txt")})
    batch = parse_house_index_zip(only_txt, location="2025FD.zip")
    assert len(batch.filings) == 123
    assert batch.filings[0].location == "2025FD.zip/2025FD.txt line 2 (DocID 20026537)"


def test_a_year_index_of_5347_members_parses_in_well_under_a_second() -> None:
    data = _bytes("2012FD.zip")
    started = time.perf_counter()
    parse_house_index_zip(data, location="2012FD.zip")
    assert time.perf_counter() - started < 1.0


def test_is_house_ptr_reads_p_in_the_modern_schema_and_disclosure_type_in_the_old() -> None:
    modern = RawFiling(chamber="house", doc_id="1", location="x", filing_type="P")
    candidate = RawFiling(chamber="house", doc_id="2", location="x", filing_type="C")
    old = RawFiling(chamber="house", doc_id="3", location="x", filing_type="O")
    old.extra["DisclosureType"] = "PTR"
    old_annual = RawFiling(chamber="house", doc_id="4", location="x", filing_type="O")
    old_annual.extra["DisclosureType"] = "FD"
    assert [is_house_ptr(f) for f in (modern, candidate, old, old_annual)] == [
        True,
        False,
        True,
        False,
    ]


def test_urls_follow_the_clerk_layout_and_refuse_non_numeric_doc_ids() -> None:
    assert house_index_url(year=2026) == f"{CLERK}/financial-pdfs/2026FD.zip"
    assert house_ptr_url(year=2026, doc_id="9115811") == f"{CLERK}/ptr-pdfs/2026/9115811.pdf"
    assert house_ptr_url(year="2023", doc_id="20022260") == f"{CLERK}/ptr-pdfs/2023/20022260.pdf"
    with pytest.raises(ValueError, match="DocID"):
        house_ptr_url(year=2026, doc_id="../../etc/passwd")
    with pytest.raises(ValueError, match="year"):
        house_index_url(year=26)


# --------------------------------------------------------------------------------------------
# PTR PDFs


def test_it_parses_all_13_rows_of_the_pelosi_ptr() -> None:
    filing = _ptr("ptr-pelosi-20022260.pdf")
    assert filing.doc_id == "20022260"
    assert filing.politician_name == "Hon. Nancy Pelosi"
    assert filing.state_district == "CA12"
    assert filing.filed_date == "01/12/2023"
    assert filing.title == "Periodic Transaction Report"
    assert (filing.is_paper, filing.is_amendment) == (False, False)
    assert filing.extra["filer_status"] == "Member"
    assert filing.extra["row_errors"] == []
    assert [t.line_number for t in filing.trades] == list(range(1, 14))
    assert [t.asset_name for t in filing.trades] == [
        "Alliance Bernstein Holding L.P. Units [OL]",
        "Alphabet Inc. - Class A (GOOGL) [ST]",
        "Alphabet Inc. - Class A (GOOGL) [ST]",
        "Alphabet Inc. - Class A (GOOGL) [ST]",
        "Netflix, Inc. (NFLX) [ST]",
        "Netflix, Inc. (NFLX) [ST]",
        "PayPal Holdings, Inc. (PYPL) [ST]",
        "PayPal Holdings, Inc. (PYPL) [ST]",
        "REOF XX, LLC [AB]",
        "Roblox Corporation Class A (RBLX) [ST]",
        "Salesforce, Inc. (CRM) [OP]",
        "Tesla, Inc. (TSLA) [ST]",
        "Walt Disney Company (DIS) [ST]",
    ]
    assert [t.transaction_date for t in filing.trades] == [
        f"12/{day}/2022" for day in (28, 28, 20, 21, 29, 30, 21, 28, 27, 28, 20, 20, 21)
    ]
    assert [t.notification_date for t in filing.trades] == [
        t.transaction_date for t in filing.trades
    ]
    assert [t.amount for t in filing.trades] == [
        *["$500,001 - $1,000,000"] * 4,
        *["$250,001 - $500,000"] * 4,
        "$15,001 - $50,000",
        "$100,001 - $250,000",
        "$9.00",
        *["$500,001 - $1,000,000"] * 2,
    ]
    assert [t.transaction_type for t in filing.trades] == [
        *["S (partial)"] * 8,
        "P",
        "S (partial)",
        "S",
        *["S (partial)"] * 2,
    ]
    assert {t.owner for t in filing.trades} == {"SP"}
    assert {t.ticker for t in filing.trades} == {""}  # left in asset_name for normalisation


def test_the_first_pelosi_row_keeps_every_value_as_printed() -> None:
    row = _ptr("ptr-pelosi-20022260.pdf").trades[0]
    assert row.source == "house_pdf"
    assert row.chamber == "house"
    assert row.location == "ptr-pdfs/20022260.pdf row 1"
    assert row.filing_doc_id == "20022260"
    assert row.politician_name == "Hon. Nancy Pelosi"
    assert row.state_district == "CA12"
    assert row.filed_date == "01/12/2023"
    assert row.owner == "SP"
    assert row.asset_name == "Alliance Bernstein Holding L.P. Units [OL]"  # wrapped [OL]
    assert row.transaction_type == "S (partial)"
    assert row.transaction_date == "12/28/2022"
    assert row.notification_date == "12/28/2022"
    assert row.amount == "$500,001 - $1,000,000"  # printed over two lines
    assert row.filing_status == "New"
    assert row.description == "Sold 20,000 shares."
    assert row.comment == (
        "Sold 20,000 shares at an average price of $32.95 for a total loss of $11,510."
    )
    assert row.extra["location"] == "New York, NY, US"
    assert row.cap_gains_over_200 == "unchecked"


def test_the_pelosi_options_row_keeps_its_exact_nine_dollar_amount() -> None:
    crm = _ptr("ptr-pelosi-20022260.pdf").trades[10]
    assert crm.asset_name == "Salesforce, Inc. (CRM) [OP]"
    assert crm.transaction_type == "S"
    assert crm.amount == "$9.00"
    assert crm.description == (
        "Sold 130 call options purchased 12/20/21 with a strike price of $210 and an "
        "expiration date of 1/20/23."
    )
    # The comment wraps onto a second line in the PDF.
    assert crm.comment.endswith("at a price of $0.01 per share for a total loss of $733,691.")


def test_the_checked_cap_gains_boxes_are_the_three_alphabet_sales() -> None:
    trades = _ptr("ptr-pelosi-20022260.pdf").trades
    checked = [t.line_number for t in trades if t.cap_gains_over_200 == "checked"]
    assert checked == [2, 3, 4]
    assert all(t.cap_gains_over_200 == "unchecked" for t in trades if t.line_number > 4)


def test_a_description_wrapped_across_the_table_is_joined() -> None:
    reof = _ptr("ptr-pelosi-20022260.pdf").trades[8]
    assert reof.asset_name == "REOF XX, LLC [AB]"
    assert reof.transaction_type == "P"
    assert reof.amount == "$15,001 - $50,000"
    assert reof.description == (
        "Additional investment in LLC which acquired five Courtyard by Marriott hotels located "
        "in Fairfax, VA (one), suburban Baltimore, MD (two) and San Antonio, TX (two)."
    )


def test_sub_lines_that_continue_on_the_next_page_stay_with_their_row() -> None:
    netflix = _ptr("ptr-pelosi-20022260.pdf").trades[5]  # main line on page 1, rest on page 2
    assert netflix.transaction_date == "12/30/2022"
    assert netflix.amount == "$250,001 - $500,000"
    assert netflix.description == "Sold 1,000 shares."
    assert netflix.comment.startswith("Sold 1,000 shares at an average price of $292.89")


def test_it_parses_all_22_rows_of_the_mtg_ptr() -> None:
    filing = _ptr("ptr-sample-20029138.pdf")
    assert filing.politician_name == "Hon. Marjorie Taylor Greene"
    assert filing.state_district == "GA14"
    assert filing.filed_date == "04/11/2025"
    assert [t.asset_name for t in filing.trades] == [
        "Adobe Inc. - Common Stock (ADBE) [ST]",
        "Advanced Micro Devices, Inc. (AMD) [ST]",
        "Advanced Micro Devices, Inc. (AMD) [ST]",
        "Amazon.com, Inc. - Common Stock (AMZN) [ST]",
        "Apple Inc. - Common Stock (AAPL) [ST]",
        "Applied Materials, Inc. - Common Stock (AMAT) [ST]",
        "ASML Holding N.V. - New York Registry Shares (ASML) [ST]",
        "Blackstone Inc. Common Stock (BX) [ST]",
        "Cummins Inc. Common Stock (CMI) [ST]",
        "Devon Energy Corporation Common Stock (DVN) [ST]",
        "FedEx Corporation Common Stock (FDX) [ST]",
        "JP Morgan Chase & Co. Common Stock (JPM) [ST]",
        "lululemon athletica inc. - Common Stock (LULU) [ST]",
        "Merck & Company, Inc. Common Stock (MRK) [ST]",
        "Nike, Inc. Common Stock (NKE) [ST]",
        "NVIDIA Corporation - Common Stock (NVDA) [ST]",
        "Palantir Technologies Inc. - Class A Common Stock (PLTR) [ST]",
        "Palantir Technologies Inc. - Class A Common Stock (PLTR) [ST]",
        "QUALCOMM Incorporated - Common Stock (QCOM) [ST]",
        "Southern Copper Corporation Common Stock (SCCO) [ST]",
        "Tesla, Inc. - Common Stock (TSLA) [ST]",
        "US Treasury Bill [GS]",
    ]
    days = [9, 9, 8, 8, 9, 9, 9, 8, 9, 9, 8, 8, 8, 9, 8, 9, 9, 8, 8, 8, 8, 8]
    assert [t.transaction_date for t in filing.trades] == [f"04/{d:02}/2025" for d in days]
    assert {(t.transaction_date, t.notification_date) for t in filing.trades} == {
        ("04/08/2025", "04/09/2025"),
        ("04/09/2025", "04/10/2025"),
    }
    assert {t.owner for t in filing.trades} == {""}  # blank owner = the filer
    assert Counter(t.transaction_type for t in filing.trades) == {"P": 21, "S": 1}
    assert {t.amount for t in filing.trades[:21]} == {"$1,001 - $15,000"}
    assert all(t.filing_status == "New" for t in filing.trades)


def test_an_asset_name_wrapped_over_a_page_break_is_joined() -> None:
    blackstone = _ptr("ptr-sample-20029138.pdf").trades[7]
    assert blackstone.asset_name == "Blackstone Inc. Common Stock (BX) [ST]"
    assert (blackstone.transaction_date, blackstone.notification_date) == (
        "04/08/2025",
        "04/09/2025",
    )
    assert blackstone.extra["page"] == 1


def test_the_mtg_treasury_bill_is_a_government_security_sale() -> None:
    bill = _ptr("ptr-sample-20029138.pdf").trades[21]
    assert bill.asset_name == "US Treasury Bill [GS]"
    assert bill.transaction_type == "S"
    assert bill.amount == "$50,001 - $100,000"


def test_the_smucker_rows_inherit_the_spouse_owner_of_their_vehicle() -> None:
    filing = _ptr("ptr-multi-row-sp-vehicle-20019182.pdf")
    assert filing.politician_name == "Hon. Lloyd K. Smucker"
    assert filing.state_district == "PA11"
    assert filing.filed_date == "04/30/2026"
    assert len(filing.trades) == 8
    assert filing.extra["investment_vehicles"] == [
        {"name": "Sale of Spouse Inherited Assets", "owner": "SP", "location": "US"}
    ]
    for trade in filing.trades:
        assert trade.owner == "SP"
        assert trade.extra["owner_as_printed"] == ""
        assert trade.extra["owner_inherited_from"] == "Sale of Spouse Inherited Assets"
        assert trade.subholding_of == "Sale of Spouse Inherited Assets"
    assert [t.asset_name for t in filing.trades] == [
        "ENB FINANCIAL CORP PA (ENBP) [ST]",
        *["Fulton Financial Corporation - Common Stock (FULT) [ST]"] * 3,
        "Prudential Financial, Inc. Common Stock (PRU) [ST]",
        "Truist Financial Corporation Common Stock (TFC) [ST]",
        "Verizon Communications Inc. Common Stock (VZ) [ST]",
        "Wells Fargo & Company Common Stock (WFC) [ST]",
    ]
    assert {t.transaction_type for t in filing.trades} == {"S"}
    fult = filing.trades[2]
    assert fult.asset_name == "Fulton Financial Corporation - Common Stock (FULT) [ST]"
    assert (fult.transaction_date, fult.notification_date) == ("04/17/2026", "04/20/2026")
    assert fult.amount == "$100,001 - $250,000"
    assert filing.trades[7].amount == "$15,001 - $50,000"
    assert filing.trades[7].extra["page"] == 2


def test_the_pelosi_options_ptr_has_two_spouse_option_purchases() -> None:
    filing = _ptr("ptr-sp-owner-options-20034836.pdf")
    assert filing.state_district == "CA11"
    assert filing.filed_date == "06/23/2026"
    intel, uber = filing.trades
    assert intel.asset_name == "Intel Corporation - Common Stock (INTC) [OP]"
    assert (intel.owner, intel.transaction_type) == ("SP", "P")
    assert intel.amount == "$1,000,001 - $5,000,000"
    assert uber.asset_name == "Uber Technologies, Inc. Common Stock (UBER) [OP]"
    assert uber.amount == "$500,001 - $1,000,000"
    assert uber.transaction_date == "05/29/2026"
    assert uber.description == (
        "Purchased 200 call options with a strike price of $50 and an expiration date of 3/19/27."
    )


def test_the_rouzer_amendment_is_marked_as_an_amendment() -> None:
    filing = _ptr("ptr-amendment-20033759.pdf")
    assert filing.is_amendment is True
    assert filing.politician_name == "Hon. David Rouzer"
    assert filing.state_district == "NC07"
    assert filing.filed_date == "01/07/2026"
    (row,) = filing.trades
    assert row.filing_status == "Amended"
    assert row.extra["house_row_id"] == "2000152831"
    assert row.asset_name == "Boeing Company (BA) [ST]"
    assert (row.owner, row.transaction_type, row.amount) == ("", "S", "$1,001 - $15,000")
    assert (row.transaction_date, row.notification_date) == ("12/09/2025", "12/09/2025")
    assert row.subholding_of == "Interactive Brokers LLC"
    assert row.comment == "Sold at a $1,440 loss."
    # The vehicle has no "(Owner: ..)", so the blank owner (self) stays blank.
    assert "owner_inherited_from" not in row.extra


def test_the_scanned_paper_ptr_is_kept_as_paper_with_no_rows() -> None:
    filing = _ptr("ptr-scanned-paper-9115811.pdf")
    assert filing.doc_id == "9115811"
    assert filing.is_paper is True
    assert filing.trades == []
    assert "no text layer" in filing.extra["needs_review"]


def test_pdf_filed_dates_agree_with_the_2026_index_rows() -> None:
    index = _index("2026FD.zip")
    for name, doc_id in [
        ("ptr-amendment-20033759.pdf", "20033759"),
        ("ptr-multi-row-sp-vehicle-20019182.pdf", "20019182"),
        ("ptr-sp-owner-options-20034836.pdf", "20034836"),
    ]:
        row = _by_doc_id(index, doc_id)
        month, day, year = _ptr(name).filed_date.split("/")
        assert row.filed_date == f"{int(month)}/{int(day)}/{year}"
        assert row.filing_type == "P"  # even the amendment: only the PDF says "Amended"


# --------------------------------------------------------------------------------------------
# Bad input corpus: every case is a ParseError with a reason, or a RawRejection


_RANDOM = random.Random(20260706).randbytes(4096)

_BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<FinancialDisclosure><Member><Last>&lol9;</Last><DocID>20000001</DocID></Member>
</FinancialDisclosure>"""

_EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<FinancialDisclosure><Member><Last>&xxe;</Last><DocID>20000001</DocID></Member>
</FinancialDisclosure>"""

_TWO_MEMBERS_ONE_WITHOUT_DOCID = """\ufeff<?xml version="1.0" encoding="utf-8"?>\r
<FinancialDisclosure>\r
  <Member><Prefix>Hon.</Prefix><Last>Good</Last><First>Ann</First><Suffix />\r
    <FilingType>P</FilingType><StateDst>VA01</StateDst><Year>2026</Year>\r
    <FilingDate>1/2/2026</FilingDate><DocID>20000001</DocID></Member>\r
  <Member><Prefix /><Last>Nodoc</Last><First>Bob</First><Suffix />\r
    <FilingType>P</FilingType><StateDst /><Year>2026</Year><FilingDate />\r
    <DocID /></Member>\r
  <Member><Last>Oddid</Last><First>Cy</First><FilingType>P</FilingType>\r
    <Year>2026</Year><DocID>2000X001</DocID></Member>\r
</FinancialDisclosure>\r
""".encode()


def test_a_truncated_zip_is_a_parse_error() -> None:
    data = _bytes("2025FD.early-2025-02-17.zip")
    with pytest.raises(ParseError, match="not a readable zip archive"):
        parse_house_index_zip(data[: len(data) // 2], location="2025FD.zip")


def test_a_zip_with_a_corrupt_member_is_a_parse_error() -> None:
    data = bytearray(_bytes("2025FD.early-2025-02-17.zip"))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(".xml"))
    # Local header is 30 bytes + name + extra; damage the deflate stream right after it.
    start = info.header_offset + 30 + len(info.filename.encode()) + 40
    data[start : start + 64] = bytes(64)
    with pytest.raises(ParseError, match="cannot be read"):
        parse_house_index_zip(bytes(data), location="2025FD.zip")


def test_a_zip_whose_member_is_not_xml_is_a_parse_error() -> None:
    data = _zip({"2026FD.xml": b"%PDF-1.4 this is not xml at all"})
    with pytest.raises(ParseError, match="not well-formed XML") as caught:
        parse_house_index_zip(data, location="2026FD.zip")
    assert caught.value.location == "2026FD.zip/2026FD.xml"


def test_a_zip_without_an_index_member_names_what_it_holds() -> None:
    data = _zip({"readme.pdf": b"%PDF-1.4"})
    with pytest.raises(ParseError, match=r"no \.xml or \.txt index member.*readme\.pdf"):
        parse_house_index_zip(data, location="2026FD.zip")


def test_a_member_inflating_past_the_size_limit_is_refused_as_a_zip_bomb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(house, "MAX_INDEX_MEMBER_BYTES", 1_000_000)
    data = _zip({"2026FD.xml": b"<" * 2_000_000})
    assert len(data) < 20_000  # tiny on the wire, big when inflated
    with pytest.raises(ParseError, match="zip bomb"):
        parse_house_index_zip(data, location="2026FD.zip")


def test_a_billion_laughs_entity_bomb_is_refused_without_expanding() -> None:
    started = time.perf_counter()
    with pytest.raises(ParseError, match="entit"):
        parse_house_index_xml(_BILLION_LAUGHS, location="bomb.xml")
    with pytest.raises(ParseError, match="entit"):
        parse_house_index_zip(_zip({"2026FD.xml": _BILLION_LAUGHS}), location="bomb.zip")
    assert time.perf_counter() - started < 1.0


def test_an_external_entity_is_refused() -> None:
    with pytest.raises(ParseError, match="XML refused"):
        parse_house_index_xml(_EXTERNAL_ENTITY, location="xxe.xml")


def test_a_member_without_a_doc_id_becomes_a_rejection_with_its_reason() -> None:
    batch = parse_house_index_xml(_TWO_MEMBERS_ONE_WITHOUT_DOCID, location="t.xml")
    assert [f.doc_id for f in batch.filings] == ["20000001"]
    assert batch.filings[0].politician_name == "Hon. Ann Good"
    no_doc, odd_doc = batch.rejected
    assert isinstance(no_doc, RawRejection)
    assert no_doc.location == "t.xml Member #2"
    assert "no DocID" in no_doc.reason
    assert "Nodoc" in no_doc.payload
    assert odd_doc.location == "t.xml Member #3"
    assert "'2000X001' is not a number" in odd_doc.reason


def test_an_xml_with_another_root_is_not_a_house_index() -> None:
    with pytest.raises(ParseError, match="expected <FinancialDisclosure>"):
        parse_house_index_xml(b"<rss><channel /></rss>", location="feed.xml")


def test_txt_rows_with_a_wrong_field_count_or_no_doc_id_are_rejected() -> None:
    text = (
        b"Prefix\tLast\tFirst\tSuffix\tFilingType\tStateDst\tYear\tFilingDate\tDocID\r\n"
        b"Hon.\tGood\tAnn\t\tP\tVA01\t2026\t1/2/2026\t20000001\r\n"
        b"Hon.\tShort\tRow\tP\tVA01\t2026\t1/2/2026\t20000002\r\n"
        b"\tNodoc\tBob\t\tP\t\t2026\t\t\r\n"
    )
    batch = parse_house_index_txt(text, location="t.txt")
    assert [f.doc_id for f in batch.filings] == ["20000001"]
    short, no_doc = batch.rejected
    assert short.location == "t.txt line 3"
    assert "8 tab-separated fields, the header has 9" in short.reason
    assert no_doc.location == "t.txt line 4"
    assert "no DocID" in no_doc.reason


def test_a_txt_without_the_index_header_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a House index header"):
        parse_house_index_txt(b"name,date\nx,y\n", location="t.txt")


@pytest.mark.parametrize(
    "parse",
    [
        lambda data: parse_house_index_zip(data, location="r"),
        lambda data: parse_house_index_xml(data, location="r"),
        lambda data: parse_house_index_txt(data, location="r"),
        lambda data: parse_house_ptr_pdf(data, doc_id="20000001", location="r"),
    ],
    ids=["zip", "xml", "txt", "pdf"],
)
@pytest.mark.parametrize("data", [_RANDOM, b""], ids=["random-bytes", "empty"])
def test_random_or_empty_bytes_are_a_parse_error_for_every_parser(parse, data: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(data)
    assert caught.value.location == "r"
    assert len(str(caught.value)) > len("r: ")


def _tiny_pdf(texts: list[tuple[str, float, float, float, str]]) -> bytes:
    """A valid one-page PDF: (font "R"/"B", size, x, top, text) per text run, Helvetica."""
    runs = []
    for font, size, x, top, text in texts:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        runs.append(f"BT /{font} {size} Tf {x} {792 - top - size} Td ({escaped}) Tj ET")
    content = "\n".join(runs).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /R 4 0 R /B 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


_HEADER = [
    ("B", 9.45, 25, 281, "ID"),
    ("B", 9.45, 65, 281, "Owner"),
    ("B", 9.45, 104, 281, "Asset"),
    ("B", 9.45, 263, 281, "Transaction"),
    ("B", 9.45, 327, 281, "Date"),
    ("B", 9.45, 383, 281, "Notification"),
    ("B", 9.45, 447, 281, "Amount"),
    ("B", 9.45, 525, 281, "Cap."),
]


def test_a_pdf_that_is_not_a_ptr_is_a_parse_error() -> None:
    letter = _tiny_pdf([("R", 12, 72, 72, "Quarterly newsletter: not a disclosure")])
    with pytest.raises(ParseError, match=r"not a House PTR.*Periodic Transaction Report"):
        parse_house_ptr_pdf(letter, doc_id="20000001", location="letter.pdf")


def test_a_ptr_title_without_a_transaction_table_is_a_parse_error() -> None:
    title_only = _tiny_pdf([("B", 21, 100, 90, "Periodic Transaction Report")])
    with pytest.raises(ParseError, match="no transaction table"):
        parse_house_ptr_pdf(title_only, doc_id="20000001", location="t.pdf")


def test_a_blank_pdf_is_neither_a_ptr_nor_a_paper_scan() -> None:
    with pytest.raises(ParseError, match="neither text nor scanned images"):
        parse_house_ptr_pdf(_tiny_pdf([]), doc_id="20000001", location="blank.pdf")


def test_a_truncated_ptr_pdf_is_a_parse_error_not_half_a_filing() -> None:
    data = _bytes("ptr-pelosi-20022260.pdf")
    with pytest.raises(ParseError, match="truncated"):
        parse_house_ptr_pdf(data[: len(data) // 2], doc_id="20022260", location="p.pdf")


def test_a_pdf_with_another_filing_id_than_requested_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="Filing ID #20022260, not the requested DocID 20000001"):
        parse_house_ptr_pdf(_bytes("ptr-pelosi-20022260.pdf"), doc_id="20000001", location="p.pdf")


def test_an_unreadable_row_is_kept_in_row_errors_and_the_others_still_parse() -> None:
    ptr = _tiny_pdf(
        [
            ("R", 9, 480, 73, "Filing ID #20000001"),
            ("B", 21, 100, 90, "Periodic Transaction Report"),
            ("B", 9.75, 22, 190, "Name:"),
            ("R", 9.75, 99, 190, "Hon. Test Member"),
            ("B", 9.75, 22, 222, "State/District:"),
            ("R", 9.75, 99, 222, "ZZ01"),
            *_HEADER,
            ("R", 8.5, 104, 305, "Filing Status: New"),  # a sub-line before any row
            ("R", 9, 65, 326, "JT"),
            ("R", 9, 104, 326, "Example Corp (EXC) [ST]"),
            ("R", 9, 263, 326, "E"),
            ("R", 9, 327, 326, "01/02/2026"),
            ("R", 9, 383, 326, "01/03/2026"),
            ("R", 9, 447, 326, "$1 - $1,000"),
            ("R", 8.5, 104, 345, "Filing Status: New"),
            ("R", 9, 104, 370, "Broken Row Inc [ST]"),
            ("R", 9, 263, 370, "S"),
            ("R", 9, 327, 370, "01/05/2026"),
            ("R", 8.5, 104, 389, "Comments: the amount cell is missing"),
            ("R", 8, 25, 420, "* For the complete list of asset type abbreviations"),
            ("R", 9, 22, 600, "Digitally Signed: Hon. Test Member , 01/20/2026"),
        ]
    )
    filing = parse_house_ptr_pdf(ptr, doc_id="20000001", location="t.pdf")
    assert filing.politician_name == "Hon. Test Member"
    assert filing.filed_date == "01/20/2026"
    (good,) = filing.trades
    assert (good.line_number, good.owner, good.transaction_type) == (1, "JT", "E")
    assert (good.asset_name, good.amount) == ("Example Corp (EXC) [ST]", "$1 - $1,000")
    assert good.filing_status == "New"
    orphan, broken = filing.extra["row_errors"]
    assert orphan["row"] is None
    assert "before any transaction row" in orphan["reason"]
    assert broken["row"] == 2
    assert broken["reason"] == "transaction row has no Amount"
    assert "Broken Row Inc [ST]" in broken["text"]
    assert "the amount cell is missing" in broken["text"]


def test_a_legacy_cp1252_txt_is_still_read() -> None:
    text = (
        "Prefix\tLast\tFirst\tSuffix\tFilingType\tStateDst\tYear\tFilingDate\tDocID\r\n"
        "Hon.\tCárdenas\tTony\t\tT\tCA29\t2025\t1/31/2025\t10063335\r\n"
    ).encode("cp1252")
    (filing,) = parse_house_index_txt(text, location="t.txt").filings
    assert filing.last_name == "Cárdenas"


def test_byte_damaged_ptr_pdfs_give_a_filing_or_a_parse_error_never_a_crash() -> None:
    original = _bytes("ptr-amendment-20033759.pdf")
    rng = random.Random(7)
    for _ in range(12):
        damaged = bytearray(original)
        for _ in range(rng.choice([1, 8, 64])):
            damaged[rng.randrange(16, len(damaged) - 16)] = rng.randrange(256)
        try:
            filing = parse_house_ptr_pdf(bytes(damaged), doc_id="", location="d.pdf")
        except ParseError as error:
            assert error.location == "d.pdf"
        else:
            assert isinstance(filing, RawFiling)


PTR_PDFS = [
    "ptr-pelosi-20022260.pdf",
    "ptr-multi-row-sp-vehicle-20019182.pdf",
    "ptr-sample-20029138.pdf",
    "ptr-amendment-20033759.pdf",
    "ptr-sp-owner-options-20034836.pdf",
    "ptr-scanned-paper-9115811.pdf",
]


@pytest.mark.parametrize("name", PTR_PDFS)
def test_intact_ptr_pdfs_carry_no_integrity_error(name: str) -> None:
    filing = parse_house_ptr_pdf(_bytes(name), doc_id="", location=name)
    assert "integrity_error" not in filing.extra


def _with_stream_damaged(data: bytes, start: int, length: int) -> bytes:
    """``data`` with 8 bytes in the middle of the stream at ``start`` flipped (the House PDFs
    are RC4-encrypted: the flip lands in the compressed bytes after decryption)."""
    damaged = bytearray(data)
    middle = start + length // 2
    for k in range(8):
        damaged[middle + k] ^= 0x55
    return bytes(damaged)


def test_a_ptr_pdf_whose_compressed_streams_are_damaged_is_flagged_never_silently_short() -> None:
    """Damage each stream of a real 13-row PTR in turn. Whatever the damage costs (rows, the
    signature, the whole table), the result says so: the filing carries an ``integrity_error``
    naming the damage, or the parse error does. pdfminer alone keeps what it can and says
    nothing. (Damage to a stream the text is not read from may go unnoticed: it costs
    nothing.)"""
    import re

    original = _bytes("ptr-pelosi-20022260.pdf")
    intact = parse_house_ptr_pdf(original, doc_id="20022260", location="p.pdf")
    assert len(intact.trades) == 13
    streams = [
        (match.end(), original.find(b"endstream", match.end()) - match.end())
        for match in re.finditer(rb">>\s*stream\r?\n", original)
    ]
    losses = 0
    for start, length in streams:
        if length < 64:
            continue
        damaged = _with_stream_damaged(original, start, length)
        try:
            filing = parse_house_ptr_pdf(damaged, doc_id="20022260", location="p.pdf")
        except ParseError as error:
            losses += 1
            assert "do not decompress" in str(error) or "does not decompress" in str(error)
            continue
        lost = (
            len(filing.trades) < 13
            or filing.extra["row_errors"]
            or filing.filed_date != intact.filed_date
        )
        if lost:
            losses += 1
            assert "decompress" in filing.extra.get("integrity_error", ""), (start, length)
    assert losses >= 3  # the damage did cost rows or dates somewhere: the test is not vacuous


def test_a_stream_only_missing_its_checksum_is_not_damage_a_wrong_checksum_is() -> None:
    import zlib

    whole = zlib.compress(b"Periodic Transaction Report " * 40)
    assert house._checksum_only_missing(whole[:-4])  # cut checksum: nothing lost
    bad_sum = whole[:-4] + bytes(b ^ 0xFF for b in whole[-4:])
    assert not house._checksum_only_missing(bad_sum)  # bytes changed somewhere
    assert not house._checksum_only_missing(whole[: len(whole) // 2])  # cut short
