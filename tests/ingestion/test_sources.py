"""House Clerk and Senate eFD sources, over real HTTP against the fake sites of
tests/sourceserver.py, which serve the real fixture files (no mocked requests).

``source_settings`` points both sources at the local server and sets every wait to ~0.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ingestion.http import Validators
from ingestion.parsers.house import parse_house_ptr_pdf
from ingestion.records import Chamber, RawFiling
from ingestion.sources import (
    FETCH_ERROR,
    HouseClerkSource,
    RequestsFetcher,
    SenateEfdSource,
    SourceError,
    source_for,
)
from tests.httpserver import Reply
from tests.sourceserver import (
    HOUSE_2026_DOC_IDS,
    HOUSE_2026_MISSING_PDF,
    HOUSE_PDFS,
    SENATE_PTR_PAGES,
    filter_index_zip,
    index_xml,
    real_members,
    unmask_csrf_token,
    zip_index,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HOUSE = "/house/public_disc"
SENATE = "/senate"
JUNE_2026 = {"start_date": date(2026, 6, 1), "end_date": date(2026, 6, 30)}
H1_2026 = {"start_date": date(2026, 1, 1), "end_date": date(2026, 6, 30)}


def by_doc_id(filings: list[RawFiling]) -> dict[str, RawFiling]:
    assert len({f.doc_id for f in filings}) == len(filings), "a document was yielded twice"
    return {filing.doc_id: filing for filing in filings}


def parser_trade_count(doc_id: str) -> int:
    """What the PDF parser alone reads from the fixture: the source must not lose rows."""
    _year, name = HOUSE_PDFS[doc_id]
    data = (FIXTURES / "house" / name).read_bytes()
    return len(parse_house_ptr_pdf(data, doc_id=doc_id, location=name).trades)


def pdf_requests(server) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in server.requests_to(rf"{HOUSE}/ptr-pdfs/.*")]


def real_2026_zip() -> bytes:
    return (FIXTURES / "house" / "2026FD.zip").read_bytes()


# --------------------------------------------------------------------------------------------
# House Clerk


def test_house_sync_yields_merged_filings(source_settings, source_server):
    messages: list[str] = []
    source = HouseClerkSource()

    filings = by_doc_id(list(source.fetch(**H1_2026, progress=messages.append)))

    # The five PTRs of the filtered 2026 index; the W / C / X rows are not PTRs.
    assert set(filings) == {"20019182", "20034836", "20033759", "9115811", "20034473"}
    for doc_id in ("20019182", "20034836", "20033759"):
        assert len(filings[doc_id].trades) == parser_trade_count(doc_id)
    assert [len(filings[d].trades) for d in ("20019182", "20034836", "20033759")] == [8, 2, 1]

    smucker = filings["20019182"]
    url = f"{source_server.house_base_url}/ptr-pdfs/2026/20019182.pdf"
    assert smucker.url == url
    assert smucker.year == "2026"
    assert smucker.filing_type == "P"
    assert smucker.filed_date == "04/30/2026"  # the PDF's signature date wins
    assert smucker.extra["index_filed_date"] == "4/30/2026"
    assert smucker.state_district == "PA11"
    assert (smucker.prefix, smucker.first_name, smucker.last_name) == (
        "Hon.",
        "Lloyd K.",
        "Smucker",
    )
    assert smucker.chamber == Chamber.HOUSE
    assert FETCH_ERROR not in smucker.extra
    for line, trade in enumerate(smucker.trades, start=1):
        assert trade.filing_url == url
        assert trade.filing_doc_id == "20019182"
        assert trade.chamber == Chamber.HOUSE
        assert trade.state_district == "PA11"
        assert trade.politician_name == "Hon. Lloyd K. Smucker"
        assert trade.line_number == line

    assert filings["20033759"].is_amendment is True  # Rouzer's amended row
    assert filings["20034836"].is_amendment is False

    paper = filings["9115811"]
    assert paper.is_paper is True
    assert paper.trades == []
    assert "needs_review" in paper.extra
    assert FETCH_ERROR not in paper.extra
    # A scan has no text: every fact comes from the index row.
    assert (paper.last_name, paper.state_district, paper.filed_date) == (
        "Harshbarger",
        "TN01",
        "5/6/2026",
    )

    missing = filings[HOUSE_2026_MISSING_PDF]
    assert missing.trades == []
    assert "404" in missing.extra[FETCH_ERROR]
    assert f"ptr-pdfs/2026/{HOUSE_2026_MISSING_PDF}.pdf" in missing.extra[FETCH_ERROR]
    assert missing.url.endswith(f"/ptr-pdfs/2026/{HOUSE_2026_MISSING_PDF}.pdf")
    assert (missing.last_name, missing.filed_date) == ("Allen", "6/5/2026")

    assert sorted(pdf_requests(source_server)) == sorted(f"{d}.pdf" for d in filings)
    assert any("8 filings, 5 PTRs, 5 filed 2026-01-01..2026-06-30" in m for m in messages)


def test_house_pelosi_2023_has_13_trades(source_settings, source_server):
    filings = list(
        HouseClerkSource().fetch(start_date=date(2023, 1, 1), end_date=date(2023, 1, 31))
    )

    # Her 12/21/2023 PTR is outside the window and is not downloaded.
    assert [f.doc_id for f in filings] == ["20022260"]
    pelosi = filings[0]
    assert len(pelosi.trades) == 13 == parser_trade_count("20022260")
    assert pelosi.url == f"{source_server.house_base_url}/ptr-pdfs/2023/20022260.pdf"
    assert (pelosi.filed_date, pelosi.state_district) == ("01/12/2023", "CA12")
    assert (pelosi.first_name, pelosi.last_name) == ("Nancy", "Pelosi")
    assert pdf_requests(source_server) == ["20022260.pdf"]


def test_house_unreadable_pdf_is_one_error_and_the_run_goes_on(source_settings, source_server):
    source_server.house.pdfs[(2026, "20034836")] = b"<html>maintenance</html>"
    del source_server.house.pdfs[(2026, "20019182")]

    filings = by_doc_id(list(HouseClerkSource().fetch(**H1_2026)))

    assert "could not be read as a House PTR" in filings["20034836"].extra[FETCH_ERROR]
    assert "not a PDF" in filings["20034836"].extra[FETCH_ERROR]
    assert "HTTP 404" in filings["20019182"].extra[FETCH_ERROR]
    assert len(filings["20033759"].trades) == 1
    assert filings["9115811"].is_paper


@pytest.mark.django_db
def test_house_pdf_with_a_damaged_stream_is_stored_flagged_and_read_again_when_intact(
    source_settings, source_server
):
    import re

    from ingestion import sync
    from ingestion.models import Filing

    _year, name = HOUSE_PDFS["20034836"]
    intact = (FIXTURES / "house" / name).read_bytes()
    # The first stream whose damage the parser notices (flip 8 bytes in its middle).
    for match in re.finditer(rb">>\s*stream\r?\n", intact):
        start = match.end()
        middle = start + (intact.find(b"endstream", start) - start) // 2
        damaged = bytearray(intact)
        for k in range(8):
            damaged[middle + k] ^= 0x55
        parsed = parse_house_ptr_pdf(bytes(damaged), doc_id="20034836", location=name)
        if "integrity_error" in parsed.extra:
            break
    else:
        pytest.fail("no stream of the fixture was decoded")
    source_server.house.pdfs[(2026, "20034836")] = bytes(damaged)

    sync.source_sync(source_name="house", **H1_2026)

    filing = Filing.objects.get(chamber="house", doc_id="20034836")
    assert filing.status == Filing.Status.PARSED
    assert "does not decompress (a damaged download or file)" in filing.error
    assert "rows, dates or the signature may be missing" in filing.error

    # The next run downloads an intact copy: the flag goes, the rows are complete.
    source_server.house.pdfs[(2026, "20034836")] = intact
    sync.source_sync(source_name="house", **H1_2026)
    filing.refresh_from_db()
    assert filing.error == ""
    assert filing.trades.count() == parser_trade_count("20034836")


def test_house_skip_doc_id_prevents_downloads(source_settings, source_server):
    stored = {"20019182", "20034836", "9115811"}
    asked: list[str] = []

    def skip(doc_id: str) -> bool:
        asked.append(doc_id)
        return doc_id in stored

    filings = list(HouseClerkSource().fetch(**H1_2026, skip_doc_id=skip))

    assert {f.doc_id for f in filings} == {"20033759", HOUSE_2026_MISSING_PDF}
    assert sorted(pdf_requests(source_server)) == ["20033759.pdf", f"{HOUSE_2026_MISSING_PDF}.pdf"]
    assert set(asked) == stored | {"20033759", HOUSE_2026_MISSING_PDF}


def test_house_second_run_with_validators_gets_304(source_settings, source_server):
    complete = HOUSE_2026_DOC_IDS - {HOUSE_2026_MISSING_PDF}
    source_server.house.indexes[2026] = filter_index_zip(real_2026_zip(), doc_ids=complete)
    first = HouseClerkSource()
    assert len(list(first.fetch(**H1_2026))) == 4
    index_url = f"{source_server.house_base_url}/financial-pdfs/2026FD.zip"
    assert set(first.new_validators) == {index_url}
    assert first.new_validators[index_url].etag
    source_server.requests.clear()

    messages: list[str] = []
    second = HouseClerkSource(validators=first.new_validators)
    assert list(second.fetch(**H1_2026, progress=messages.append)) == []

    [request] = source_server.requests
    assert request.path == f"{HOUSE}/financial-pdfs/2026FD.zip"
    assert request.headers["if-none-match"] == first.new_validators[index_url].etag
    assert second.new_validators == {}
    assert any("304" in m for m in messages)


def test_house_year_with_a_failed_document_keeps_no_validators(source_settings, source_server):
    first = HouseClerkSource()
    parsed = {f.doc_id for f in first.fetch(**H1_2026) if FETCH_ERROR not in f.extra}
    # Allen's PDF is missing: a 304 next time would hide it from the retry.
    assert first.new_validators == {}
    source_server.requests.clear()

    again = list(HouseClerkSource().fetch(**H1_2026, skip_doc_id=parsed.__contains__))

    assert [f.doc_id for f in again] == [HOUSE_2026_MISSING_PDF]
    assert pdf_requests(source_server) == [f"{HOUSE_2026_MISSING_PDF}.pdf"]


def test_house_keeps_ptrs_with_an_empty_filing_date(source_settings, source_server):
    # Real Members, with Smucker's FilingDate emptied (the Clerk does leave it empty).
    members = real_members(real_2026_zip(), doc_ids={"20019182", "20034836"})
    members = [m.replace(b"<FilingDate>4/30/2026</FilingDate>", b"<FilingDate />") for m in members]
    source_server.house.indexes[2026] = zip_index(2026, index_xml(members))

    filings = by_doc_id(list(HouseClerkSource().fetch(**JUNE_2026)))

    assert set(filings) == {"20019182", "20034836"}
    assert filings["20019182"].extra["index_filed_date"] == ""
    assert filings["20019182"].filed_date == "04/30/2026"  # from the PDF's signature


def test_house_pre_2015_index_finds_ptrs_by_disclosure_type(source_settings, source_server):
    # 2012FD.zip (real, old schema): PTRs are FilingType "O"/"A" with DisclosureType=PTR.
    filings = list(HouseClerkSource().fetch(start_date=date(2012, 7, 5), end_date=date(2012, 7, 6)))

    assert [f.doc_id for f in filings] == ["2000007", "2000008"]
    for filing in filings:
        assert filing.filing_type == "O"
        assert filing.extra["DisclosureType"] == "PTR"
        assert filing.is_paper  # 7-digit DocIDs are scans
        assert filing.url.endswith(f"/ptr-pdfs/2012/{filing.doc_id}.pdf")
        assert "404" in filing.extra[FETCH_ERROR]  # we hold no 2012 PDF


def test_house_index_unreachable_raises_source_error(source_settings, source_server):
    source_server.fail("GET", rf"{HOUSE}/financial-pdfs/2026FD\.zip", Reply(503), times=10)

    with pytest.raises(SourceError) as caught:
        list(HouseClerkSource().fetch(**H1_2026))

    assert caught.value.permanent is False
    assert "2026FD.zip" in str(caught.value)
    assert "503" in str(caught.value)
    assert "after 2 retries" in str(caught.value)
    assert len(source_server.requests_to(rf"{HOUSE}/financial-pdfs/2026FD\.zip")) == 3


def test_house_rides_out_a_burst_of_503_and_429(source_settings, source_server):
    source_server.fail("GET", rf"{HOUSE}/financial-pdfs/2026FD\.zip", Reply(503), times=2)
    source_server.fail("GET", rf"{HOUSE}/ptr-pdfs/.*", Reply(429, headers={"Retry-After": "0"}))

    filings = by_doc_id(list(HouseClerkSource().fetch(**H1_2026)))

    assert len(filings["20019182"].trades) == 8
    assert [f.doc_id for f in filings.values() if FETCH_ERROR in f.extra] == [
        HOUSE_2026_MISSING_PDF
    ]


def test_house_stops_after_a_streak_of_temporary_failures(source_settings, source_server):
    source_server.fail("GET", rf"{HOUSE}/ptr-pdfs/.*", Reply(503), times=1000)
    yielded: list[RawFiling] = []

    with pytest.raises(SourceError) as caught:
        for filing in HouseClerkSource().fetch(**H1_2026):
            yielded.append(filing)

    assert caught.value.permanent is False
    assert "3 documents in a row" in str(caught.value)
    assert len(yielded) == 3
    assert all("503" in f.extra[FETCH_ERROR] for f in yielded)


def test_house_unpublished_year_is_skipped_but_no_index_at_all_is_an_error(
    source_settings, source_server
):
    messages: list[str] = []
    filings = list(
        HouseClerkSource().fetch(
            start_date=date(2026, 6, 20), end_date=date(2027, 1, 5), progress=messages.append
        )
    )
    assert [f.doc_id for f in filings] == ["20034836"]
    assert any("2027FD.zip: not published" in m for m in messages)

    with pytest.raises(SourceError) as caught:
        list(HouseClerkSource().fetch(start_date=date(2024, 1, 1), end_date=date(2024, 12, 31)))
    assert caught.value.permanent is True
    assert "HOUSE_CLERK_BASE_URL" in str(caught.value)
    assert "404" in str(caught.value)


def test_source_for_builds_the_sources(source_settings):
    assert isinstance(source_for("house"), HouseClerkSource)
    assert isinstance(source_for("senate_efd"), SenateEfdSource)
    assert source_for("house").base_url == source_settings.HOUSE_CLERK_BASE_URL
    given = {"u": Validators(etag='"x"')}
    assert source_for("house", validators=given).validators == given
    with pytest.raises(SourceError, match="unknown source"):
        source_for("parliament")


# --------------------------------------------------------------------------------------------
# Senate eFD


def expected_senate_rows() -> dict[str, int]:
    parsed = json.loads((FIXTURES / "senate" / "ptr-pages.parsed-rows.json").read_bytes())
    return {uuid: len(parsed[name]["rows"]) for uuid, name in SENATE_PTR_PAGES.items()}


def cookies_of(request) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in request.headers["cookie"].split(";") if part)


def test_senate_dance_search_and_pages(source_settings, source_server):
    filings = by_doc_id(list(SenateEfdSource().fetch(**JUNE_2026)))

    # The agreement: GET the form, POST it back with its token and a Referer.
    home = f"{SENATE}/search/home/"
    assert [r.method for r in source_server.requests_to(home)] == ["GET", "POST"]
    agreement = source_server.requests_to(home)[1]
    form = agreement.form()
    assert form["prohibition_agreement"] == ["1"]
    token = form["csrfmiddlewaretoken"][0]
    assert len(token) == 64
    assert unmask_csrf_token(token) == cookies_of(agreement)["csrftoken"]
    assert agreement.headers["referer"] == f"{source_server.senate_base_url}/search/home/"

    # The search: X-CSRFToken is the cookie value; dates as the form writes them.
    [search] = source_server.requests_to(f"{SENATE}/search/report/data/")
    assert search.headers["x-csrftoken"] == cookies_of(search)["csrftoken"]
    assert search.headers["x-requested-with"] == "XMLHttpRequest"
    assert search.headers["referer"] == f"{source_server.senate_base_url}/search/"
    fields = parse_qs(search.body.decode())
    assert fields["submitted_start_date"] == ["06/01/2026 00:00:00"]
    assert fields["submitted_end_date"] == ["07/01/2026 00:00:00"]
    assert fields["report_types"] == ["[11]"]
    assert fields["length"] == ["100"]

    # Every fixture PTR page, parsed with its rows; the paper report as is, never fetched.
    expected = expected_senate_rows()
    paper = "a0d25e8f-fe54-4328-a7ea-504da008742b"
    assert set(filings) == set(expected) | {paper}
    for uuid, rows in expected.items():
        filing = filings[uuid]
        assert len(filing.trades) == rows, uuid
        assert FETCH_ERROR not in filing.extra
        assert filing.url == f"{source_server.senate_base_url}/search/view/ptr/{uuid}/"
        assert filing.extra["office"].endswith("(Senator)")
        for trade in filing.trades:
            assert trade.filing_url == filing.url
            assert trade.filing_doc_id == uuid
            assert trade.chamber == Chamber.SENATE
    assert filings[paper].is_paper and filings[paper].trades == []
    assert "needs_review" in filings[paper].extra
    assert (filings[paper].last_name, filings[paper].filed_date) == ("BLUMENTHAL", "06/08/2026")
    assert source_server.requests_to(rf"{SENATE}/search/view/paper/.*") == []

    amendment = filings["727b4eb6-d8c7-4792-aa5b-c651c2d72f9c"]
    assert amendment.is_amendment and amendment.extra["amendment_number"] == "1"
    assert not filings["a9754ff5-901a-4877-b7be-a647bd361c52"].is_amendment
    whitehouse = filings["4aa0094d-d9da-4a05-aa13-6d9f5d376105"]
    assert (whitehouse.first_name, whitehouse.last_name) == ("Sheldon", "Whitehouse")
    assert whitehouse.filed_date == "06/02/2026"


def test_senate_paginates_until_records_total(source_settings, source_server):
    source_server.senate.max_page_length = 4  # the server sends fewer rows than asked for

    filings = by_doc_id(
        list(SenateEfdSource().fetch(start_date=date(2012, 1, 1), end_date=date(2026, 6, 30)))
    )

    starts = [
        parse_qs(r.body.decode())["start"][0]
        for r in source_server.requests_to(f"{SENATE}/search/report/data/")
    ]
    assert starts == ["0", "4", "8", "12"]
    assert len(filings) == 16  # 10 paper rows of 2012, Blumenthal's paper, five PTR pages
    assert sum(f.is_paper for f in filings.values()) == 11


def test_senate_end_date_is_inclusive_and_nothing_after_it(source_settings, source_server):
    # The form compares timestamps: it gets midnight of 06/02 and lists Whitehouse's 06/02
    # report, which is after the window 06/01..06/01 and must not be yielded.
    assert (
        list(SenateEfdSource().fetch(start_date=date(2026, 6, 1), end_date=date(2026, 6, 1))) == []
    )
    filings = list(SenateEfdSource().fetch(start_date=date(2026, 6, 2), end_date=date(2026, 6, 2)))
    assert [f.doc_id for f in filings] == ["4aa0094d-d9da-4a05-aa13-6d9f5d376105"]


def test_senate_session_expiry_is_recovered(source_settings, source_server):
    run = SenateEfdSource().fetch(**JUNE_2026)
    first = next(run)
    source_server.senate.expire_sessions()

    filings = by_doc_id([first, *run])

    assert len(filings) == 6
    assert all(FETCH_ERROR not in f.extra for f in filings.values())
    assert [r.method for r in source_server.requests_to(f"{SENATE}/search/home/")] == [
        "GET",
        "POST",
        "GET",
        "POST",
    ]


def test_senate_search_sent_home_redoes_the_dance(source_settings, source_server):
    source_server.fail(
        "POST",
        f"{SENATE}/search/report/data/",
        Reply(302, headers={"Location": f"{SENATE}/search/home/"}),
    )

    filings = list(SenateEfdSource().fetch(**JUNE_2026))

    assert len(filings) == 6
    assert len(source_server.requests_to(f"{SENATE}/search/report/data/")) == 2


def test_senate_403_on_a_page_stops_the_run_naming_the_fetcher_setting(
    source_settings, source_server
):
    source_server.senate.forbid_pages = True
    yielded: list[RawFiling] = []

    with pytest.raises(SourceError) as caught:
        for filing in SenateEfdSource().fetch(
            start_date=date(2012, 1, 1), end_date=date(2026, 6, 30)
        ):
            yielded.append(filing)

    message = str(caught.value)
    assert caught.value.permanent is True
    assert "403" in message
    assert "SENATE_EFD_FETCHER" in message
    assert "non-browser" in message
    assert "/search/view/ptr/" in message
    # The ten 2012 paper rows came before the first page GET; they stay valid.
    assert len(yielded) == 10 and all(f.is_paper for f in yielded)


def test_senate_block_page_instead_of_the_agreement(source_settings, source_server):
    source_server.senate.block_agreement = True

    with pytest.raises(SourceError) as caught:
        list(SenateEfdSource().fetch(**JUNE_2026))

    assert caught.value.permanent is True
    assert "agreement form" in str(caught.value)
    assert "Just a moment" in str(caught.value)  # the page title, for the person reading it
    assert source_server.requests_to(f"{SENATE}/search/report/data/") == []


def test_senate_403_on_the_agreement_page(source_settings, source_server):
    source_server.fail("GET", f"{SENATE}/search/home/", Reply(403, b"Access Denied"))

    with pytest.raises(SourceError) as caught:
        list(SenateEfdSource().fetch(**JUNE_2026))

    assert caught.value.permanent is True
    assert "403" in str(caught.value) and "SENATE_EFD_FETCHER" in str(caught.value)


def test_senate_search_refusing_is_a_source_error(source_settings, source_server):
    source_server.fail("POST", f"{SENATE}/search/report/data/", Reply(503), times=10)

    with pytest.raises(SourceError) as caught:
        list(SenateEfdSource().fetch(**JUNE_2026))

    assert caught.value.permanent is False
    assert "search" in str(caught.value) and "503" in str(caught.value)


def test_senate_rides_out_a_503_burst(source_settings, source_server):
    source_server.fail("POST", f"{SENATE}/search/report/data/", Reply(503), times=2)
    source_server.fail("GET", rf"{SENATE}/search/view/ptr/.*", Reply(503), times=2)

    filings = list(SenateEfdSource().fetch(**JUNE_2026))

    assert len(filings) == 6
    assert all(FETCH_ERROR not in f.extra for f in filings)


def test_senate_missing_page_is_one_error(source_settings, source_server):
    source_server.senate.include_rows_without_pages()

    filings = by_doc_id(list(SenateEfdSource().fetch(**JUNE_2026)))

    failed = {doc_id for doc_id, f in filings.items() if FETCH_ERROR in f.extra}
    assert len(failed) == 6  # the real June rows whose page we hold no copy of
    for doc_id in failed:
        assert "404" in filings[doc_id].extra[FETCH_ERROR]
        assert f"/search/view/ptr/{doc_id}/" in filings[doc_id].extra[FETCH_ERROR]
        assert filings[doc_id].trades == []
    parsed = {d for d, f in filings.items() if f.trades}
    assert parsed == set(expected_senate_rows())


def test_senate_skip_doc_id_prevents_downloads(source_settings, source_server):
    stored = set(expected_senate_rows()) - {"4b69867f-0376-4526-93f2-cd556b1155c9"}

    filings = list(SenateEfdSource().fetch(**JUNE_2026, skip_doc_id=stored.__contains__))

    assert {f.doc_id for f in filings} == {
        "4b69867f-0376-4526-93f2-cd556b1155c9",
        "a0d25e8f-fe54-4328-a7ea-504da008742b",
    }
    [page] = source_server.requests_to(rf"{SENATE}/search/view/ptr/.*")
    assert "4b69867f" in page.path


class RecordingFetcher(RequestsFetcher):
    """A fetcher named by SENATE_EFD_FETCHER: proves the strategy is pluggable."""

    calls: list[str] = []

    def get(self, url, *, headers=None):
        RecordingFetcher.calls.append(f"GET {url}")
        return super().get(url, headers=headers)


def test_senate_fetcher_comes_from_settings(source_settings, source_server):
    source_settings.SENATE_EFD_FETCHER = f"{__name__}.RecordingFetcher"
    RecordingFetcher.calls = []

    assert len(list(SenateEfdSource().fetch(**JUNE_2026))) == 6
    assert len(RecordingFetcher.calls) == 6  # the agreement page and five PTR pages

    source_settings.SENATE_EFD_FETCHER = "ingestion.nowhere.BrowserFetcher"
    with pytest.raises(SourceError) as caught:
        list(SenateEfdSource().fetch(**JUNE_2026))
    assert caught.value.permanent is True
    assert "SENATE_EFD_FETCHER" in str(caught.value)
    assert "ingestion.nowhere.BrowserFetcher" in str(caught.value)
