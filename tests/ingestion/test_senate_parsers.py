"""Senate eFD parsers, checked against real saved pages (tests/fixtures/senate/).

Expected values below were read by eye from the fixture files; the five PTR pages are also
compared field by field with the derived ``ptr-pages.parsed-rows.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.parsers.senate import (
    EFD_BASE,
    PTR_COLUMNS,
    collapse,
    parse_agreement_form,
    parse_paper_page,
    parse_ptr_page,
    parse_search_results,
    report_id_from_link,
    search_form_fields,
)
from ingestion.records import Chamber, ParseError, RawFiling

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "senate"

PTR_PAGES = {
    "ptr-boozman-amendment1-727b4eb6.html": "727b4eb6-d8c7-4792-aa5b-c651c2d72f9c",
    "ptr-boozman-orig-2e076759.html": "2e076759-19df-458d-a3be-53610b8be5d0",
    "ptr-boozman-orig-a9754ff5.html": "a9754ff5-901a-4877-b7be-a647bd361c52",
    "ptr-fetterman-4b69867f.html": "4b69867f-0376-4526-93f2-cd556b1155c9",
    "ptr-whitehouse-4aa0094d.html": "4aa0094d-d9da-4a05-aa13-6d9f5d376105",
}

AKAMAI_BLOCK_PAGE = b"""<HTML><HEAD>
<TITLE>Access Denied</TITLE>
</HEAD><BODY>
<H1>Access Denied</H1>

You don't have permission to access
"http&#58;&#47;&#47;efdsearch&#46;senate&#46;gov&#47;search&#47;home&#47;" on this server.<P>
Reference&#32;&#35;18&#46;5c3e1602&#46;1751716620&#46;2b1c4e0
</BODY>
</HTML>
"""


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_page(name: str) -> RawFiling:
    doc_id = PTR_PAGES[name]
    return parse_ptr_page(
        read(name), doc_id=doc_id, url=f"{EFD_BASE}/search/view/ptr/{doc_id}/", location=name
    )


def search_envelope(rows: object, **overrides: object) -> bytes:
    envelope = {"draw": 1, "recordsTotal": 1, "recordsFiltered": 1, "data": rows, "result": "ok"}
    envelope.update(overrides)
    return json.dumps(envelope).encode()


def good_search_row(uuid: str = "40fbe259-f282-4982-a53f-1c7278d041cd") -> list[str]:
    return [
        "Gary C",
        "Peters",
        "Peters, Gary (Senator)",
        f'<a href="/search/view/ptr/{uuid}/" target="_blank">'
        "Periodic Transaction Report for 07/02/2026</a>",
        "07/02/2026",
    ]


# --- agreement form ------------------------------------------------------------------


def test_agreement_token_is_read_from_the_saved_agreement_page():
    assert parse_agreement_form(read("agreement-page.html"), location="home") == "REDACTED"


def test_agreement_form_accepts_text_as_well_as_bytes():
    html = read("agreement-page.html").decode()
    assert parse_agreement_form(html, location="home") == "REDACTED"


def test_block_page_instead_of_agreement_form_raises_and_says_the_site_may_block_us():
    with pytest.raises(ParseError) as raised:
        parse_agreement_form(AKAMAI_BLOCK_PAGE, location="GET /search/home/")
    message = str(raised.value)
    assert "no agreement form found; the site may have served a block page" in message
    assert "Access Denied" in message
    assert raised.value.location == "GET /search/home/"


def test_search_page_served_instead_of_agreement_page_raises():
    with pytest.raises(ParseError, match="no agreement form found"):
        parse_agreement_form(read("search-form.html"), location="search")


def test_agreement_form_without_its_token_raises():
    html = b'<form id="agreement_form" method="POST"><input name="prohibition_agreement"></form>'
    with pytest.raises(ParseError, match="no csrfmiddlewaretoken"):
        parse_agreement_form(html, location="home")


def test_agreement_form_with_an_empty_token_raises():
    html = b'<form id="agreement_form"><input name="csrfmiddlewaretoken" value=""></form>'
    with pytest.raises(ParseError, match="empty csrfmiddlewaretoken"):
        parse_agreement_form(html, location="home")


# --- search results ------------------------------------------------------------------


def test_june_2026_search_response_lists_13_filings_with_their_report_uuids():
    total, batch = parse_search_results(read("ptr-search-2026-06-window.json"), location="s")
    assert total == 13
    assert batch.rejected == []
    assert [filing.doc_id for filing in batch.filings] == [
        "40fbe259-f282-4982-a53f-1c7278d041cd",
        "96d0794e-fb53-495f-9137-fff88d0885e6",
        "36b2e868-6789-43e3-91eb-ebe85aad5699",
        "ff0b0573-2809-40ae-8197-4b26648e9027",
        "7caf1b69-3678-4420-8812-a1476a1a6158",
        "727b4eb6-d8c7-4792-aa5b-c651c2d72f9c",
        "a9754ff5-901a-4877-b7be-a647bd361c52",
        "2e076759-19df-458d-a3be-53610b8be5d0",
        "4b69867f-0376-4526-93f2-cd556b1155c9",
        "be9bb561-8290-4364-85b4-06a59ef0ec01",
        "a0d25e8f-fe54-4328-a7ea-504da008742b",
        "59c6f909-ad10-429d-8a8c-df81b00cf5fd",
        "4aa0094d-d9da-4a05-aa13-6d9f5d376105",
    ]
    assert all(isinstance(filing, RawFiling) for filing in batch.filings)
    assert {filing.chamber for filing in batch.filings} == {Chamber.SENATE}
    assert all(filing.trades == [] for filing in batch.filings)


def test_june_2026_search_response_has_one_paper_row_and_one_amendment():
    _, batch = parse_search_results(read("ptr-search-2026-06-window.json"), location="s")
    paper = [filing for filing in batch.filings if filing.is_paper]
    amended = [filing for filing in batch.filings if filing.is_amendment]
    assert [filing.doc_id for filing in paper] == ["a0d25e8f-fe54-4328-a7ea-504da008742b"]
    assert paper[0].url == (
        "https://efdsearch.senate.gov/search/view/paper/a0d25e8f-fe54-4328-a7ea-504da008742b/"
    )
    assert [filing.doc_id for filing in amended] == ["727b4eb6-d8c7-4792-aa5b-c651c2d72f9c"]
    assert amended[0].title == "Periodic Transaction Report for 06/16/2026 (Amendment 1)"
    assert amended[0].extra["amendment_number"] == "1"


def test_search_row_values_are_kept_as_sent_with_only_whitespace_collapsed():
    _, batch = parse_search_results(read("ptr-search-2026-06-window.json"), location="s")
    by_id = {filing.doc_id[:8]: filing for filing in batch.filings}

    peters = by_id["40fbe259"]
    assert (peters.first_name, peters.last_name, peters.politician_name) == (
        "Gary C",
        "Peters",
        "Gary C Peters",
    )
    assert peters.filed_date == "07/02/2026"
    assert peters.url == (
        "https://efdsearch.senate.gov/search/view/ptr/40fbe259-f282-4982-a53f-1c7278d041cd/"
    )
    assert peters.title == "Periodic Transaction Report for 07/02/2026"
    assert peters.filing_type == "Periodic Transaction Report"
    assert peters.extra == {"office": "Peters, Gary (Senator)", "report_kind": "ptr"}
    assert peters.location == "s data[0]"

    assert by_id["36b2e868"].last_name == "McConnell, Jr."
    assert by_id["36b2e868"].politician_name == "A. Mitchell McConnell, Jr."
    assert by_id["7caf1b69"].last_name == "Moran,"  # sent as "Moran,  "
    blumenthal = by_id["a0d25e8f"]
    assert (blumenthal.first_name, blumenthal.last_name) == ("RICHARD", "BLUMENTHAL")
    assert blumenthal.extra["office"] == "Senator"
    # date_submitted is the filing date even where the title's date differs by a day
    mccormick = by_id["ff0b0573"]
    assert mccormick.filed_date == "06/26/2026"
    assert mccormick.title == "Periodic Transaction Report for 06/27/2026"


def test_earliest_since_2012_search_response_is_ten_paper_reports_out_of_2383():
    total, batch = parse_search_results(
        read("ptr-search-earliest-since-2012.json"), location="earliest"
    )
    assert total == 2383
    assert len(batch.filings) == 10
    assert batch.rejected == []
    assert all(filing.is_paper for filing in batch.filings)
    cardin = batch.filings[0]
    assert cardin.doc_id == "CDFDAF62-18EA-4298-B0C5-62085A6EC3CD"  # upper case, as sent
    assert cardin.politician_name == "BENJAMIN L CARDIN"
    assert cardin.filed_date == "07/25/2012"
    assert cardin.url == (
        "https://efdsearch.senate.gov/search/view/paper/CDFDAF62-18EA-4298-B0C5-62085A6EC3CD/"
    )


def test_search_rows_of_the_wrong_shape_are_rejected_and_the_rest_still_parse():
    rows = [
        good_search_row(),
        "not a row",
        ["Gary C", "Peters", "Peters, Gary (Senator)", "07/02/2026"],
        ["Gary C", "Peters", 7, good_search_row()[3], "07/02/2026"],
        ["Gary C", "Peters", "Peters, Gary (Senator)", '<a href="/search/">home</a>', "x"],
        ["Gary C", "Peters", "Peters, Gary (Senator)", "no link at all", "07/02/2026"],
        good_search_row("96d0794e-fb53-495f-9137-fff88d0885e6"),
    ]
    total, batch = parse_search_results(search_envelope(rows, recordsTotal=7), location="page 1")
    assert total == 7
    assert [filing.doc_id[:8] for filing in batch.filings] == ["40fbe259", "96d0794e"]
    reasons = {rejection.location: rejection.reason for rejection in batch.rejected}
    assert reasons == {
        "page 1 data[1]": "row must be a list of 5, got a string",
        "page 1 data[2]": "row has 4 cells, expected 5",
        "page 1 data[3]": "cell 2 must be a string, got number",
        "page 1 data[4]": "link '/search/' is not a /search/view/<kind>/<uuid>/ report link",
        "page 1 data[5]": "link cell must hold one <a href>, found 0",
    }
    assert json.loads(batch.rejected[0].payload) == "not a row"
    assert json.loads(batch.rejected[1].payload) == rows[2]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "expected a DataTables object, got a JSON array"),
        (b'{"draw": 1}', "not a DataTables response: missing recordsTotal, data"),
        (b'{"recordsTotal": "13", "data": []}', "recordsTotal must be an integer, got string"),
        (b'{"recordsTotal": 13, "data": {}}', "'data' must be a list, got object"),
        (AKAMAI_BLOCK_PAGE, "this looks like an HTML page"),
        (b"", "the body is empty"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_search_response_that_is_not_a_datatables_envelope_raises(body, message):
    with pytest.raises(ParseError, match="search page 3") as raised:
        parse_search_results(body, location="search page 3")
    assert message in str(raised.value)


def test_search_response_with_a_utf8_bom_parses():
    body = b"\xef\xbb\xbf" + search_envelope([good_search_row()])
    total, batch = parse_search_results(body, location="bom")
    assert (total, len(batch.filings)) == (1, 1)


# --- PTR pages -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PTR_PAGES))
def test_ptr_page_matches_the_derived_expected_rows_field_by_field(name):
    expected = json.loads(read("ptr-pages.parsed-rows.json"))[name]
    filing = parse_page(name)

    assert filing.title == expected["title"]
    assert filing.politician_name == expected["filer"]
    assert filing.extra["filed_stamp"] == expected["filed"]
    assert len(filing.trades) == len(expected["rows"])
    trades = {trade.line_number: trade for trade in filing.trades}
    for row in expected["rows"]:
        trade = trades[int(row["#"])]
        assert trade.transaction_date == row["Transaction Date"]
        assert trade.owner == row["Owner"]
        assert trade.ticker == row["Ticker"]
        # The derived file keeps the whole cell; we keep the muted sub-line apart.
        assert collapse(f"{trade.asset_name} {trade.description}") == row["Asset Name"]
        assert trade.asset_type == row["Asset Type"]
        assert trade.transaction_type == row["Type"]
        assert trade.amount == row["Amount"]
        assert trade.comment == row["Comment"]
    assert "integrity_error" not in filing.extra


def test_the_five_saved_ptr_pages_hold_1_3_15_18_18_rows_55_in_all():
    counts = {name: len(parse_page(name).trades) for name in PTR_PAGES}
    assert counts == {
        "ptr-fetterman-4b69867f.html": 1,
        "ptr-whitehouse-4aa0094d.html": 3,
        "ptr-boozman-orig-2e076759.html": 15,
        "ptr-boozman-amendment1-727b4eb6.html": 18,
        "ptr-boozman-orig-a9754ff5.html": 18,
    }
    assert sum(counts.values()) == 55


def test_whitehouse_page_reads_into_a_filing_with_three_trades_in_line_order():
    filing = parse_page("ptr-whitehouse-4aa0094d.html")
    assert isinstance(filing, RawFiling)
    assert filing.chamber == Chamber.SENATE
    assert filing.doc_id == "4aa0094d-d9da-4a05-aa13-6d9f5d376105"
    assert filing.url == (
        "https://efdsearch.senate.gov/search/view/ptr/4aa0094d-d9da-4a05-aa13-6d9f5d376105/"
    )
    assert filing.title == "Periodic Transaction Report for 06/02/2026"
    assert filing.filing_type == "Periodic Transaction Report"
    assert filing.politician_name == "The Honorable Sheldon Whitehouse (Whitehouse, Sheldon)"
    assert (filing.prefix, filing.first_name, filing.last_name) == (
        "The Honorable",
        "Sheldon",
        "Whitehouse",
    )
    assert filing.filed_date == "06/02/2026"
    assert filing.extra["filed_stamp"] == "Filed 06/02/2026 @ 12:56 PM"
    assert filing.extra["summary"] == (
        "(3 transactions total) 2 Self 0 Joint 1 Spouse 0 Dependent Child"
    )
    assert not filing.is_paper and not filing.is_amendment

    # printed 3, 2, 1 on the page; returned 1, 2, 3
    assert [trade.line_number for trade in filing.trades] == [1, 2, 3]
    orcl = filing.trades[2]
    assert orcl.source == "senate_efd"
    assert orcl.location == "ptr-whitehouse-4aa0094d.html row #3"
    assert orcl.filing_doc_id == filing.doc_id
    assert orcl.filing_url == filing.url
    assert orcl.filed_date == "06/02/2026"
    assert orcl.chamber == Chamber.SENATE
    assert orcl.politician_name == filing.politician_name
    assert (orcl.transaction_date, orcl.owner, orcl.ticker) == ("05/07/2026", "Self", "ORCL")
    assert orcl.asset_name == "Oracle Corporation Common Stock"
    assert orcl.description == ""
    assert (orcl.asset_type, orcl.transaction_type) == ("Stock", "Sale (Partial)")
    assert (orcl.amount, orcl.comment) == ("$15,001 - $50,000", "--")
    assert orcl.extra == {"ticker_url": "https://finance.yahoo.com/quote/ORCL"}
    assert [trade.owner for trade in filing.trades] == ["Spouse", "Self", "Self"]


def test_fetterman_bond_keeps_its_muted_rate_and_maturity_as_the_description():
    (trade,) = parse_page("ptr-fetterman-4b69867f.html").trades
    assert trade.ticker == "--"
    assert trade.extra == {}
    assert trade.asset_name == "EXPEDIA GROUP INC NOTE"
    assert trade.description == "Rate/Coupon: 5.5% Matures: 2036-04-15"
    assert (trade.asset_type, trade.owner) == ("Corporate Bond", "Child")


def test_amended_boozman_page_is_flagged_with_its_amendment_number():
    filing = parse_page("ptr-boozman-amendment1-727b4eb6.html")
    assert filing.is_amendment
    assert filing.extra["amendment_number"] == "1"
    assert filing.title.endswith("(Amendment 1)")
    assert filing.extra["filed_stamp"] == "Filed 06/16/2026 @ 10:27 AM"
    original = parse_page("ptr-boozman-orig-a9754ff5.html")
    assert not original.is_amendment
    assert "amendment_number" not in original.extra


def test_ticker_embedded_in_the_asset_name_is_left_there_for_normalisation():
    original = {t.line_number: t for t in parse_page("ptr-boozman-orig-a9754ff5.html").trades}
    amended = {t.line_number: t for t in parse_page("ptr-boozman-amendment1-727b4eb6.html").trades}
    assert (original[11].ticker, original[11].asset_name) == (
        "--",
        "SPYM - Tradr 2X Long SPY Monthly ETF",
    )
    assert (amended[11].ticker, amended[11].asset_name) == ("SPYM", "Tradr 2X Long SPY Monthly ETF")


def test_ptr_page_accepts_text_as_well_as_bytes():
    html = read("ptr-fetterman-4b69867f.html").decode()
    filing = parse_ptr_page(html, doc_id="d", url="u", location="text")
    assert len(filing.trades) == 1


def _drop_first_body_row(html: str) -> str:
    start = html.index("<tr>", html.index("<tbody>"))
    end = html.index("</tr>", start) + len("</tr>")
    return html[:start] + html[end:]


def test_summary_total_that_disagrees_with_the_table_is_recorded_not_raised():
    html = _drop_first_body_row(read("ptr-whitehouse-4aa0094d.html").decode())
    filing = parse_ptr_page(html, doc_id="d", url="u", location="cut")
    assert [trade.line_number for trade in filing.trades] == [1, 2]
    assert filing.extra["integrity_error"] == (
        "page says 3 transactions total but the table has 2 rows"
    )


def test_row_numbers_that_skip_are_recorded_as_an_integrity_error():
    html = read("ptr-whitehouse-4aa0094d.html").decode().replace("<td>2</td>", "<td>7</td>", 1)
    filing = parse_ptr_page(html, doc_id="d", url="u", location="renumbered")
    assert filing.extra["integrity_error"] == "row numbers are not 1..3: [1, 3, 7]"


# --- bad pages -----------------------------------------------------------------------


def _without_table(html: str) -> str:
    return html[: html.index("<table")] + html[html.index("</table>") + len("</table>") :]


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (AKAMAI_BLOCK_PAGE, "no transactions table found"),
        (_without_table(read("ptr-whitehouse-4aa0094d.html").decode()), "no transactions table"),
        (b"", "no transactions table found"),
        (b"\x00\x01 not html at all \xff", "no transactions table found"),
    ],
)
def test_ptr_page_without_the_transactions_table_raises_naming_it(page, message):
    with pytest.raises(ParseError, match="ptr/x") as raised:
        parse_ptr_page(page, doc_id="x", url="u", location="ptr/x")
    assert message in str(raised.value)
    assert " | ".join(PTR_COLUMNS) in str(raised.value)


def test_block_page_served_for_a_ptr_says_so_and_quotes_its_title():
    with pytest.raises(ParseError, match=r"block page \(page title: 'Access Denied'\)"):
        parse_ptr_page(AKAMAI_BLOCK_PAGE, doc_id="x", url="u", location="ptr/x")


def test_ptr_table_with_a_renamed_column_raises_naming_the_missing_column():
    html = read("ptr-whitehouse-4aa0094d.html").decode()
    html = html.replace('<th scope="col">Amount</th>', '<th scope="col">Value</th>')
    with pytest.raises(ParseError) as raised:
        parse_ptr_page(html, doc_id="x", url="u", location="ptr/x")
    assert "missing 'Amount'" in str(raised.value)
    assert "unexpected 'Value'" in str(raised.value)


def test_ptr_table_with_an_extra_column_raises_naming_it():
    html = read("ptr-fetterman-4b69867f.html").decode()
    html = html.replace(
        '<th scope="col">Comment</th>', '<th scope="col">Comment</th><th scope="col">Price</th>'
    )
    with pytest.raises(ParseError, match="unexpected 'Price'"):
        parse_ptr_page(html, doc_id="x", url="u", location="ptr/x")


def test_ptr_table_with_columns_reordered_raises():
    html = read("ptr-fetterman-4b69867f.html").decode()
    html = html.replace('<th scope="col">Owner</th>', "@@").replace(
        '<th scope="col">Ticker</th>', '<th scope="col">Owner</th>'
    )
    html = html.replace("@@", '<th scope="col">Ticker</th>')
    with pytest.raises(ParseError, match="columns in a different order"):
        parse_ptr_page(html, doc_id="x", url="u", location="ptr/x")


def test_ptr_row_with_a_missing_cell_raises():
    html = read("ptr-fetterman-4b69867f.html").decode().replace("<td>Corporate Bond</td>", "")
    with pytest.raises(ParseError, match="transactions row has 8 cells, expected 9"):
        parse_ptr_page(html, doc_id="x", url="u", location="ptr/x")


def test_ptr_row_whose_number_is_not_a_number_raises():
    html = read("ptr-fetterman-4b69867f.html").decode().replace("<td>1</td>", "<td>one</td>")
    with pytest.raises(ParseError, match="row number 'one' is not an integer"):
        parse_ptr_page(html, doc_id="x", url="u", location="ptr/x")


def test_deeply_nested_html_does_not_blow_the_stack():
    html = "<div>" * 50_000 + "x" + "</div>" * 50_000
    with pytest.raises(ParseError, match="no transactions table"):
        parse_ptr_page(html, doc_id="x", url="u", location="nested")


# --- paper pages ---------------------------------------------------------------------


def test_paper_page_is_a_paper_filing_without_trades_listing_its_seven_scans():
    filing = parse_paper_page(
        read("paper-view-blumenthal-a0d25e8f.html"),
        doc_id="a0d25e8f-fe54-4328-a7ea-504da008742b",
        url=f"{EFD_BASE}/search/view/paper/a0d25e8f-fe54-4328-a7ea-504da008742b/",
        location="paper",
    )
    assert filing.is_paper
    assert filing.trades == []
    assert filing.chamber == Chamber.SENATE
    assert filing.doc_id == "a0d25e8f-fe54-4328-a7ea-504da008742b"
    # the page carries no filer header, report title or Filed line (only an sr-only h1)
    assert (filing.title, filing.politician_name, filing.filed_date) == ("", "", "")
    images = filing.extra["page_images"]
    assert len(images) == 7
    assert images[0] == "https://efd-media-public.senate.gov/media/2026/2/000/000/000000112.gif"
    assert images[-1] == "https://efd-media-public.senate.gov/media/2026/2/000/000/000000118.gif"


@pytest.mark.parametrize("page", [AKAMAI_BLOCK_PAGE, read("ptr-whitehouse-4aa0094d.html")])
def test_paper_parser_refuses_a_page_without_scans(page):
    with pytest.raises(ParseError, match=r"no scanned pages \(img.filingImage\) found"):
        parse_paper_page(page, doc_id="x", url="u", location="paper/x")


# --- fetcher helpers -----------------------------------------------------------------


def test_search_form_fields_build_the_datatables_body_for_ptrs():
    fields = search_form_fields(
        start=200, length=100, start_date="01/01/2012 00:00:00", end_date=""
    )
    assert fields == {
        "start": "200",
        "length": "100",
        "draw": "1",
        "report_types": "[11]",
        "filer_types": "[]",
        "submitted_start_date": "01/01/2012 00:00:00",
        "submitted_end_date": "",
        "candidate_state": "",
        "senator_state": "",
        "office_id": "",
        "first_name": "",
        "last_name": "",
        "order[0][column]": "4",
        "order[0][dir]": "asc",
        "columns[0][data]": "0",
        "columns[1][data]": "1",
        "columns[2][data]": "2",
        "columns[3][data]": "3",
        "columns[4][data]": "4",
    }


def test_search_form_fields_take_report_and_filer_types_and_direction():
    fields = search_form_fields(
        start=0,
        length=25,
        start_date="06/01/2026 00:00:00",
        end_date="07/01/2026 00:00:00",
        report_types=(7, 11),
        filer_types=(1, 5),
        descending=True,
    )
    assert fields["report_types"] == "[7,11]"
    assert fields["filer_types"] == "[1,5]"
    assert fields["order[0][dir]"] == "desc"
    assert fields["submitted_end_date"] == "07/01/2026 00:00:00"


@pytest.mark.parametrize(
    ("start", "length"),
    [(-1, 100), (0, 0), (0, 101)],
)
def test_search_form_fields_refuse_impossible_pages(start, length):
    with pytest.raises(ValueError, match="must be"):
        search_form_fields(start=start, length=length, start_date="", end_date="")


def test_report_ids_are_read_from_absolute_and_relative_links_in_either_case():
    assert report_id_from_link(
        "https://efdsearch.senate.gov/search/view/ptr/a0010f4a-c31a-4824-8b6d-6399b3ccb6f0/"
    ) == ("ptr", "a0010f4a-c31a-4824-8b6d-6399b3ccb6f0")
    assert report_id_from_link("/search/view/paper/CDFDAF62-18EA-4298-B0C5-62085A6EC3CD/") == (
        "paper",
        "CDFDAF62-18EA-4298-B0C5-62085A6EC3CD",
    )
    assert report_id_from_link("/search/view/ptr/not-a-uuid/") is None
    assert report_id_from_link("") is None
