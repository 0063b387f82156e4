"""Where filings come from: the House Clerk and the Senate eFD, each as an iterator of RawFiling.

A source does the network half of ingestion and nothing else: it walks the site's own index
(the Clerk's yearly zip, the eFD search), downloads each document not already stored, hands
the bytes to the pure parsers in ``ingestion.parsers`` and merges what the index row knew into
what the document said. It never touches the database: the caller stores what is yielded.

What a caller can rely on (the ``Source`` protocol):

* every item is a complete ``RawFiling``: an electronic PTR with its trades; a scanned paper
  filing (``is_paper=True``, no trades, ``extra["needs_review"]`` says why), which is recorded
  for a person and never dropped; or, when ONE document could not be downloaded or read, the
  filing as the index row knew it with ``extra["fetch_error"]`` naming the URL and the problem
  (stored with status error and retried by a later run);
* documents for which ``skip_doc_id(doc_id)`` is true are neither downloaded nor yielded;
* a failure that stops the whole run raises ``SourceError`` (``permanent`` says whether trying
  again later can help). Items yielded before it stay valid.
* ``new_validators`` holds the conditional-GET validators seen this run, by URL; the caller
  stores them only after committing what was yielded, so a crash never skips unseen rows.

The Senate site may refuse plain HTTP clients (403 from a bot manager), so its page fetching is
a strategy (``PageFetcher``) chosen by ``settings.SENATE_EFD_FETCHER``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from ingestion.http import FetchError, HttpClient, Response, Validators
from ingestion.parsers.house import is_house_ptr, parse_house_index_zip, parse_house_ptr_pdf
from ingestion.parsers.senate import (
    parse_agreement_form,
    parse_ptr_page,
    parse_search_results,
    search_form_fields,
)
from ingestion.records import ParseError, RawFiling

__all__ = [
    "FETCH_ERROR",
    "HOUSE_CLERK",
    "SENATE_EFD",
    "HouseClerkSource",
    "PageFetcher",
    "RequestsFetcher",
    "SenateEfdSource",
    "Source",
    "SourceError",
    "senate_fetcher_from_settings",
    "source_for",
]

# ingestion.models.Filing.Source values, spelled out so this module does not load the models.
HOUSE_CLERK = "house_clerk"
SENATE_EFD = "senate_efd"

FETCH_ERROR = "fetch_error"  # RawFiling.extra key: why this one document is missing

Progress = Callable[[str], None]


def _never(doc_id: str) -> bool:
    return False


class SourceError(Exception):
    """The whole run cannot go on. ``permanent``: retrying later will not help by itself."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(message)


class Source(Protocol):
    source: str  # an ingestion.models.Filing.Source value
    new_validators: dict[str, Validators]

    def fetch(
        self,
        *,
        start_date: date,
        end_date: date,
        skip_doc_id: Callable[[str], bool] = _never,
        progress: Progress | None = None,
    ) -> Iterator[RawFiling]: ...


def source_for(name: str, *, validators: dict[str, Validators] | None = None) -> Source:
    """The source called ``name``: "house" / "senate" (or their Filing.Source values).

    ``validators`` are the stored conditional-GET validators; only the House uses them.
    """
    key = name.strip().lower()
    if key in ("house", HOUSE_CLERK):
        return HouseClerkSource(validators=validators)
    if key in ("senate", SENATE_EFD):
        return SenateEfdSource()
    raise SourceError(f"unknown source {name!r}: expected 'house' or 'senate'", permanent=True)


# --------------------------------------------------------------------------------------------
# Shared pieces


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _failed(row: RawFiling, *, message: str, **known: str) -> RawFiling:
    """The index/search row as a filing that could not be fetched: no trades, the reason kept."""
    return dataclasses.replace(row, trades=[], extra={**row.extra, FETCH_ERROR: message}, **known)


def _filled(target: RawFiling, source: RawFiling, names: tuple[str, ...]) -> None:
    """Copy each named field from ``source`` where ``target`` has none."""
    for name in names:
        if not getattr(target, name):
            setattr(target, name, getattr(source, name))


def _link_trades(filing: RawFiling) -> None:
    """Make every trade point at its filing, whatever the parser could not know."""
    for trade in filing.trades:
        trade.filing_url = filing.url
        trade.filing_doc_id = filing.doc_id
        trade.chamber = filing.chamber
        trade.politician_name = trade.politician_name or filing.politician_name
        trade.state_district = trade.state_district or filing.state_district
        trade.filed_date = trade.filed_date or filing.filed_date


def _parse_us_date(text: str) -> date | None:
    """``M/D/YYYY`` (zero padding optional) as both sites print it; None when unreadable."""
    try:
        return datetime.strptime(text.strip(), "%m/%d/%Y").date()
    except ValueError:
        return None


def _in_window(filed: str, start_date: date, end_date: date) -> bool:
    # A row whose date is empty or unreadable is kept: the Clerk leaves FilingDate empty on
    # some rows (FORMATS 1a), the year of the index already bounds it, and dropping it here
    # would lose the filing for good. skip_doc_id keeps it from being downloaded twice.
    day = _parse_us_date(filed)
    return day is None or start_date <= day <= end_date


class _TransientStreak:
    """Stops a run once several documents in a row failed with temporary errors.

    Each failure already went through the HTTP client's retries, so a streak means the site is
    down or throttling us; going on would spend the rest of the list on timeouts. A document
    that succeeds, or fails for a reason of its own (404, unreadable), ends the streak.
    """

    LIMIT = 3

    def __init__(self, site: str) -> None:
        self.site = site
        self.count = 0

    def record(self, error: FetchError | None) -> None:
        if error is None or error.permanent:
            self.count = 0
            return
        self.count += 1
        if self.count >= self.LIMIT:
            raise SourceError(
                f"{self.site}: {self.count} documents in a row failed with temporary errors"
                f" after retries (last: {error}); stopping this run, the next one retries them",
                permanent=False,
            )


# --------------------------------------------------------------------------------------------
# House Clerk


class HouseClerkSource:
    """PTRs from the House Clerk: yearly index zips, then one PDF per PTR.

    Yields, for each PTR in the window that ``skip_doc_id`` does not skip: the parsed PDF
    merged with its index row; a scanned paper filing (7-digit DocID or no text layer) with
    ``is_paper``; or the index row with ``extra["fetch_error"]`` when its PDF is missing or
    unreadable. A year whose index answers 304 (unchanged since the validators given) is
    skipped: right for windows that slide forward, wrong for a backfill reaching further back
    than the runs that stored those validators, which must pass ``validators=None``.
    """

    source = HOUSE_CLERK

    def __init__(
        self,
        *,
        client: HttpClient | None = None,
        validators: dict[str, Validators] | None = None,
        base_url: str | None = None,
    ) -> None:
        self._client = client
        self.validators = dict(validators or {})
        self.base_url = (base_url or settings.HOUSE_CLERK_BASE_URL).rstrip("/")
        self.new_validators: dict[str, Validators] = {}

    def index_url(self, year: int) -> str:
        return f"{self.base_url}/financial-pdfs/{year}FD.zip"

    def pdf_url(self, year: str, doc_id: str) -> str:
        return f"{self.base_url}/ptr-pdfs/{year}/{doc_id}.pdf"

    def fetch(
        self,
        *,
        start_date: date,
        end_date: date,
        skip_doc_id: Callable[[str], bool] = _never,
        progress: Progress | None = None,
    ) -> Iterator[RawFiling]:
        if end_date < start_date:
            raise ValueError(f"start_date {start_date} is after end_date {end_date}")
        client = self._client or HttpClient()
        try:
            years = list(range(start_date.year, end_date.year + 1))
            missing: list[int] = []
            streak = _TransientStreak("House Clerk")
            for year in years:
                url = self.index_url(year)
                response = self._get_index(client, url)
                if response is None:
                    missing.append(year)
                    _say(progress, f"{year}FD.zip: not published ({url} answered 404); skipped")
                    continue
                if response.not_modified:
                    _say(progress, f"{year}FD.zip: unchanged since the last run (304); skipped")
                    continue
                rows = self._ptr_rows(
                    response, year=year, start=start_date, end=end_date, progress=progress
                )
                complete = True
                skipped = 0
                for row in rows:
                    if skip_doc_id(row.doc_id):
                        skipped += 1
                        continue
                    filing, error = self._document(client, row, index_year=year)
                    complete = complete and FETCH_ERROR not in filing.extra
                    yield filing
                    streak.record(error)
                if skipped:
                    _say(progress, f"{year}FD.zip: {skipped} PTRs already stored; not downloaded")
                # A year with a failed document keeps its old validators: the next run must
                # read the index again to retry it, instead of being told 304.
                if complete and (response.validators.etag or response.validators.last_modified):
                    self.new_validators[url] = response.validators
            if missing and len(missing) == len(years):
                raise SourceError(
                    f"the House Clerk has no index for {', '.join(map(str, missing))}: "
                    f"{self.index_url(missing[0])} answered 404. Check HOUSE_CLERK_BASE_URL "
                    f"({self.base_url}); the Clerk may have moved its files.",
                    permanent=True,
                )
        finally:
            if self._client is None:
                client.close()

    def _get_index(self, client: HttpClient, url: str) -> Response | None:
        """The index response (maybe 304), None for a 404; SourceError when unreachable."""
        try:
            return client.get(url, validators=self.validators.get(url))
        except FetchError as error:
            if error.status == 404:
                return None
            after = "" if error.permanent else f" after {client.max_retries} retries"
            raise SourceError(
                f"House Clerk index {url} could not be fetched{after}: {error}",
                permanent=error.permanent,
            ) from error

    def _ptr_rows(
        self, response: Response, *, year: int, start: date, end: date, progress: Progress | None
    ) -> list[RawFiling]:
        try:
            batch = parse_house_index_zip(response.content, location=f"{year}FD.zip")
        except ParseError as error:
            # Usually a download cut short; a format change would repeat on every run.
            raise SourceError(
                f"House Clerk index {response.url} is unreadable: {error}", permanent=False
            ) from error
        if batch.rejected:
            first = batch.rejected[0]
            _say(
                progress,
                f"{year}FD.zip: {len(batch.rejected)} index rows unreadable, e.g."
                f" {first.location}: {first.reason}",
            )
        ptrs = [filing for filing in batch.filings if is_house_ptr(filing)]
        rows = [filing for filing in ptrs if _in_window(filing.filed_date, start, end)]
        _say(
            progress,
            f"{year}FD.zip: {len(batch.filings)} filings, {len(ptrs)} PTRs,"
            f" {len(rows)} filed {start:%Y-%m-%d}..{end:%Y-%m-%d}",
        )
        return rows

    def _document(
        self, client: HttpClient, row: RawFiling, *, index_year: int
    ) -> tuple[RawFiling, FetchError | None]:
        # The PDF lives under the row's own Year; the zip's year is the fallback.
        year = row.year if re.fullmatch(r"[0-9]{4}", row.year) else str(index_year)
        url = self.pdf_url(year, row.doc_id)
        try:
            response = client.get(url)
        except FetchError as error:
            message = f"PTR PDF download failed: {error}"
            return _failed(row, message=message, url=url, year=year), error
        try:
            parsed = parse_house_ptr_pdf(
                response.content, doc_id=row.doc_id, location=f"ptr-pdfs/{year}/{row.doc_id}.pdf"
            )
        except ParseError as error:
            message = f"{url} could not be read as a House PTR: {error}"
            return _failed(row, message=message, url=url, year=year), None
        return _merge_house(parsed, row, url=url, year=year), None


def _merge_house(parsed: RawFiling, row: RawFiling, *, url: str, year: str) -> RawFiling:
    """The PDF's filing, completed with what only the index row knows."""
    parsed.url = url
    parsed.year = year
    # The index row's code ("P"; "O"/"A" with DisclosureType=PTR before 2015): the PDF has none.
    parsed.filing_type = row.filing_type
    # The PDF's "Digitally Signed" date, name and State/District are what the filer signed;
    # the index fills what the PDF lacks (a paper scan has none of them) and the name parts.
    _filled(parsed, row, ("filed_date", "politician_name", "state_district"))
    _filled(parsed, row, ("prefix", "first_name", "last_name", "suffix"))
    parsed.is_amendment = parsed.is_amendment or row.is_amendment
    # A 7-digit DocID is a scan (FORMATS 1a), unless its PDF turned out to hold an e-form.
    parsed.is_paper = parsed.is_paper or (row.is_paper and not parsed.trades)
    if parsed.is_paper:
        parsed.extra.setdefault(
            "needs_review", "scanned paper filing: transactions must be read by a person"
        )
    for key, value in row.extra.items():
        parsed.extra.setdefault(key, value)  # DisclosureType / FilingYear before 2015
    parsed.extra["index_location"] = row.location
    parsed.extra["index_filed_date"] = row.filed_date
    _link_trades(parsed)
    return parsed


# --------------------------------------------------------------------------------------------
# Senate eFD: page fetchers


class PageFetcher(Protocol):
    """Fetches eFD pages keeping one cookie session (the agreement lives in it).

    Implementations follow redirects and report the final URL in ``Response.url`` (the source
    detects an expired session by being sent back to /search/home/), and raise
    ``ingestion.http.FetchError`` (with ``status`` when the server answered) for failures.
    """

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> Response: ...

    def post(
        self, url: str, *, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> Response: ...

    def cookies(self) -> dict[str, str]: ...


class RequestsFetcher:
    """Plain HTTP through the shared HttpClient: fine for the POSTs, may be refused page GETs.

    eFD answers rapid calls with 503, so requests are spaced by SENATE_EFD_MIN_INTERVAL.
    """

    def __init__(self, *, client: HttpClient | None = None) -> None:
        self.client = client or HttpClient(min_interval=settings.SENATE_EFD_MIN_INTERVAL)

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> Response:
        return self.client.get(url, headers=headers)

    def post(
        self, url: str, *, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> Response:
        return self.client.post(url, data=data, headers=headers)

    def cookies(self) -> dict[str, str]:
        return {cookie.name: cookie.value or "" for cookie in self.client.session.cookies}

    def close(self) -> None:
        self.client.close()


def senate_fetcher_from_settings() -> PageFetcher:
    """An instance of the class named by ``settings.SENATE_EFD_FETCHER``."""
    path = settings.SENATE_EFD_FETCHER
    try:
        factory = import_string(path)
    except ImportError as error:
        raise SourceError(
            f"SENATE_EFD_FETCHER = {path!r} cannot be imported ({error}); set it to the dotted"
            " path of a page fetcher class, e.g. 'ingestion.sources.RequestsFetcher'",
            permanent=True,
        ) from error
    try:
        fetcher = factory()
    except Exception as error:
        raise SourceError(
            f"SENATE_EFD_FETCHER = {path!r} could not be created: {error}", permanent=True
        ) from error
    methods = ("get", "post", "cookies")
    lacking = [name for name in methods if not callable(getattr(fetcher, name, None))]
    if lacking:
        raise SourceError(
            f"SENATE_EFD_FETCHER = {path!r} is not a page fetcher: it has no"
            f" {', '.join(lacking)} method",
            permanent=True,
        )
    return fetcher


# --------------------------------------------------------------------------------------------
# Senate eFD: the session and the source

# The search form's own page-size menu stops at 100 (see search_form_fields).
SEARCH_PAGE_LENGTH = 100
CSRF_COOKIE = "csrftoken"


class _EfdSession:
    """One agreed eFD session: the agreement dance, redone once when the site sends us home."""

    def __init__(self, fetcher: PageFetcher, *, base_url: str, progress: Progress | None):
        self.fetcher = fetcher
        self.home_url = f"{base_url}/search/home/"
        self.search_url = f"{base_url}/search/"
        self.data_url = f"{base_url}/search/report/data/"
        self.progress = progress
        self.agreed = False

    def agree(self, page: Response | None = None) -> None:
        """GET the agreement form, POST it back with its token: the session may then search.

        ``page``: the agreement page already in hand (a request was redirected to it).
        """
        if page is None:
            try:
                page = self._send("GET", self.home_url, data=None, headers={})
            except FetchError as error:
                raise self._unreachable("the agreement page", error) from error
        try:
            token = parse_agreement_form(page.content, location=f"GET {self.home_url}")
        except ParseError as error:
            raise SourceError(
                f"eFD did not serve its agreement form: {error}. A person has to look: the"
                " site may be blocking this client (SENATE_EFD_FETCHER can name a"
                " browser-based fetcher) or have changed its pages.",
                permanent=True,
            ) from error
        form = {"prohibition_agreement": "1", "csrfmiddlewaretoken": token}
        try:
            answer = self._send(
                "POST", self.home_url, data=form, headers={"Referer": self.home_url}
            )
        except FetchError as error:
            raise self._unreachable("the agreement POST", error) from error
        if self._sent_home(answer):
            raise SourceError(
                f"eFD did not accept the agreement: POST {self.home_url} led back to the"
                f" agreement page ({answer.url}) instead of the search form",
                permanent=True,
            )
        self.agreed = True

    def request(
        self,
        method: str,
        url: str,
        *,
        data: dict[str, str] | None = None,
        headers: Callable[[], dict[str, str]],
    ) -> Response:
        """One GET/POST in an agreed session. ``headers`` is called per attempt, because the
        CSRF cookie may change when the dance is redone. FetchError other than 403 is raised
        to the caller, which knows whether it costs the run or one document."""
        if not self.agreed:
            self.agree()
        response = self._send(method, url, data=data, headers=headers())
        if not self._sent_home(response):
            return response
        _say(self.progress, f"eFD session expired ({method} {url} was sent to the agreement)")
        self.agreed = False
        self.agree(page=response)  # the redirect already brought the agreement form
        response = self._send(method, url, data=data, headers=headers())
        if self._sent_home(response):
            raise SourceError(
                f"eFD sent {method} {url} back to the agreement page even right after a new"
                " agreement; the session handling of the site may have changed",
                permanent=False,
            )
        return response

    def ajax_headers(self) -> dict[str, str]:
        # Django's CSRF check for XHR: the header carries the COOKIE value, not the form token.
        token = self.fetcher.cookies().get(CSRF_COOKIE, "")
        if not token:
            raise SourceError(
                f"eFD set no {CSRF_COOKIE} cookie during the agreement, so the search cannot"
                " pass its CSRF check; the fetcher in use must keep cookies",
                permanent=True,
            )
        return {
            "X-CSRFToken": token,
            "X-Requested-With": "XMLHttpRequest",
            "Referer": self.search_url,
        }

    def _send(
        self, method: str, url: str, *, data: dict[str, str] | None, headers: dict[str, str]
    ) -> Response:
        try:
            if method == "POST":
                return self.fetcher.post(url, data=data or {}, headers=headers)
            return self.fetcher.get(url, headers=headers)
        except FetchError as error:
            if error.status == 403:
                raise self._blocked(method, url) from error
            raise

    def _sent_home(self, response: Response) -> bool:
        home = urlsplit(self.home_url).path.rstrip("/")
        return urlsplit(response.url).path.rstrip("/") == home

    def _blocked(self, method: str, url: str) -> SourceError:
        csrf = " (or rejected our CSRF token)" if method == "POST" else ""
        return SourceError(
            f"eFD refused {method} {url} with HTTP 403{csrf}: the site blocks non-browser"
            " clients (a bot manager has refused plain HTTP page requests since July 2026,"
            f" even with a valid session). The fetcher in use is {type(self.fetcher).__name__};"
            " set SENATE_EFD_FETCHER to the dotted path of a browser-based fetcher (a"
            " PageFetcher driving a real browser) to get past it.",
            permanent=True,
        )

    def _unreachable(self, what: str, error: FetchError) -> SourceError:
        return SourceError(f"eFD {what} failed: {error}", permanent=error.permanent)


class SenateEfdSource:
    """PTRs from the Senate eFD: the search (after the agreement dance), then one page each.

    Yields, for each search row in the window that ``skip_doc_id`` does not skip: a paper
    report straight from its search row (``is_paper``, no fetch: its page holds only images);
    an electronic PTR page parsed and merged with its row; or the row with
    ``extra["fetch_error"]`` when its page is missing or unreadable. A 403 on any request
    raises SourceError(permanent=True): it means the site refuses this kind of client.
    """

    source = SENATE_EFD

    def __init__(self, *, fetcher: PageFetcher | None = None, base_url: str | None = None):
        self._fetcher = fetcher
        self.base_url = (base_url or settings.SENATE_EFD_BASE_URL).rstrip("/")
        self.new_validators: dict[str, Validators] = {}  # eFD sends no validators

    def fetch(
        self,
        *,
        start_date: date,
        end_date: date,
        skip_doc_id: Callable[[str], bool] = _never,
        progress: Progress | None = None,
    ) -> Iterator[RawFiling]:
        if end_date < start_date:
            raise ValueError(f"start_date {start_date} is after end_date {end_date}")
        fetcher = self._fetcher or senate_fetcher_from_settings()
        try:
            session = _EfdSession(fetcher, base_url=self.base_url, progress=progress)
            # All search pages first: the list is small (2,383 PTRs since 2012) and reading it
            # before the slow page GETs keeps the pagination from drifting under new filings.
            rows = self._search(session, start=start_date, end=end_date, progress=progress)
            streak = _TransientStreak("Senate eFD")
            skipped = 0
            for row in rows:
                if skip_doc_id(row.doc_id):
                    skipped += 1
                    continue
                if row.is_paper:
                    row.extra.setdefault(
                        "needs_review",
                        "scanned paper report: its pages are images; transactions must be"
                        " read by a person",
                    )
                    yield row
                    continue
                filing, error = self._ptr(session, row)
                yield filing
                streak.record(error)
            if skipped:
                _say(progress, f"eFD: {skipped} reports already stored; not downloaded")
        finally:
            if self._fetcher is None and callable(getattr(fetcher, "close", None)):
                fetcher.close()

    def _search(
        self, session: _EfdSession, *, start: date, end: date, progress: Progress | None
    ) -> list[RawFiling]:
        # The form compares timestamps: midnight after end_date makes end_date inclusive; the
        # rows of that next midnight are dropped below by their date.
        start_text = f"{start:%m/%d/%Y} 00:00:00"
        end_text = f"{end + timedelta(days=1):%m/%d/%Y} 00:00:00"
        found: dict[str, RawFiling] = {}
        offset, total, draw = 0, None, 0
        while total is None or offset < total:
            draw += 1
            fields = search_form_fields(
                start=offset,
                length=SEARCH_PAGE_LENGTH,
                start_date=start_text,
                end_date=end_text,
                draw=draw,
            )
            try:
                response = session.request(
                    "POST", session.data_url, data=fields, headers=session.ajax_headers
                )
            except FetchError as error:
                raise SourceError(
                    f"eFD search {session.data_url} failed: {error}", permanent=error.permanent
                ) from error
            location = f"POST {session.data_url} start={offset}"
            try:
                total, batch = parse_search_results(response.content, location=location)
            except ParseError as error:
                raise SourceError(
                    f"eFD search did not answer with its JSON: {error}", permanent=False
                ) from error
            for rejection in batch.rejected:
                _say(
                    progress,
                    f"eFD search row unreadable, left out: {rejection.location}:"
                    f" {rejection.reason}: {rejection.payload}",
                )
            received = len(batch.filings) + len(batch.rejected)
            if received == 0 and offset < total:
                raise SourceError(
                    f"eFD search stopped returning rows at {offset} of {total}", permanent=False
                )
            offset += received
            for row in batch.filings:
                # A row can repeat when a filing lands mid-pagination; the UUID is the key.
                found.setdefault(row.doc_id, row)
        rows = [row for row in found.values() if _in_window(row.filed_date, start, end)]
        for row in rows:
            kind = row.extra.get("report_kind", "ptr")
            row.url = f"{self.base_url}/search/view/{kind}/{row.doc_id}/"
        papers = sum(row.is_paper for row in rows)
        _say(
            progress,
            f"eFD search: {total} reports submitted {start:%Y-%m-%d}..{end:%Y-%m-%d}"
            f" ({len(rows) - papers} electronic, {papers} paper)",
        )
        return rows

    def _ptr(self, session: _EfdSession, row: RawFiling) -> tuple[RawFiling, FetchError | None]:
        try:
            response = session.request(
                "GET", row.url, headers=lambda: {"Referer": session.search_url}
            )
        except FetchError as error:
            return _failed(row, message=f"PTR page download failed: {error}"), error
        try:
            parsed = parse_ptr_page(
                response.content,
                doc_id=row.doc_id,
                url=row.url,
                location=f"search/view/ptr/{row.doc_id}/",
            )
        except ParseError as error:
            message = f"{row.url} could not be read as an eFD PTR page: {error}"
            return _failed(row, message=message), None
        return _merge_senate(parsed, row), None


def _merge_senate(parsed: RawFiling, row: RawFiling) -> RawFiling:
    """The page's filing, completed with its search row (the page prints no office)."""
    _filled(parsed, row, ("politician_name", "first_name", "last_name", "prefix", "suffix"))
    _filled(parsed, row, ("filed_date", "title", "filing_type"))
    parsed.is_amendment = parsed.is_amendment or row.is_amendment
    for key, value in row.extra.items():
        parsed.extra.setdefault(key, value)  # office, report_kind, amendment_number
    parsed.extra["date_submitted"] = row.filed_date  # the search's date; may differ by a day
    parsed.extra["search_location"] = row.location
    _link_trades(parsed)
    return parsed
