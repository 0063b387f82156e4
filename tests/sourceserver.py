"""A fake House Clerk and Senate eFD on one LocalHTTPServer, serving the REAL fixture files.

Both sites live on one loopback port under two prefixes, at their real paths:

* House Clerk: ``{url}/house/public_disc`` (set ``HOUSE_CLERK_BASE_URL`` to it)
    GET  /financial-pdfs/{YYYY}FD.zip   yearly index, ETag + Last-Modified, 304 on a match
    GET  /ptr-pdfs/{YYYY}/{DocID}.pdf    a PTR PDF from tests/fixtures/house/, else 404
* Senate eFD: ``{url}/senate`` (set ``SENATE_EFD_BASE_URL`` to it)
    GET  /search/home/                   agreement page; sets csrftoken + session cookies
    POST /search/home/                   agreement (CSRF form token + Referer checked) -> 302
    GET  /search/                        search form, or 302 to /search/home/ without agreement
    POST /search/report/data/            DataTables JSON (X-CSRFToken + Referer checked)
    GET  /search/view/ptr/{uuid}/        PTR pages from tests/fixtures/senate/, else 404
    GET  /search/view/paper/{uuid}/      the paper (scanned) page fixture, else 404
  Without an agreed session every page and the search answer 302 to /search/home/, as the
  real site does when a session expires.

Switches (attributes of ``server.house`` / ``server.senate``, plus ``server.fail`` from
LocalHTTPServer for 503/429 bursts and timeouts):
* ``house.indexes[year] = zip bytes`` / ``house.pdfs[(year, doc_id)] = pdf bytes``: replace or
  ``del`` what is served (a missing PDF is a 404 like the Clerk's).
* ``senate.forbid_pages = True``: 403 "Access Denied" on every page GET (the Akamai bot
  manager seen in July 2026; POSTs still pass, as they did then).
* ``senate.block_agreement = True``: a 200 challenge page instead of the agreement form.
* ``senate.expire_sessions()``: forget every session (the next request is sent back home).
* ``senate.max_page_length``: the most rows one search answer carries (pagination tests).
* ``senate.include_rows_without_pages()``: also list the real search rows whose PTR page we
  have no copy of (their GETs then 404).

What is real and what is built (see tests/fixtures/*/PROVENANCE.md for the files):
* The House PTR PDFs are served byte for byte at the year of their real URL: see
  ``HOUSE_PDFS``. The 2012, 2015 and early-2025 index zips are served unchanged; 2026FD.zip is
  the real zip with its XML and TXT members filtered to the Members in ``HOUSE_2026_DOC_IDS``
  (each kept Member's bytes unchanged); 2023FD.zip is built from three real ``<Member>``
  blocks copied from shared/data-samples/house-clerk-index/2023FD.as-of-2024-03.xml (that
  index is not a repo fixture). MTG's 20029138 (2025) is served at its real URL but is in no
  index: no real index row for it exists in our samples.
* Senate: the pages and search rows are the real ones; the agreement and search-form pages
  get a freshly masked CSRF token where the saved copy says ``REDACTED``. The cookies, the
  Django-style CSRF checks and the redirects imitate the real flow (FORMATS.md section 1b);
  the "Access Denied" page imitates Akamai's and is not a capture.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import json
import re
import secrets
import string
import threading
import zipfile
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from tests.httpserver import LocalHTTPServer, Reply, Request

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HOUSE_FIXTURES = FIXTURES / "house"
SENATE_FIXTURES = FIXTURES / "senate"

HOUSE_PREFIX = "/house/public_disc"
SENATE_PREFIX = "/senate"

# --------------------------------------------------------------------------------------------
# House Clerk

# DocID -> (the year in its real ptr-pdfs URL, fixture file)
HOUSE_PDFS: dict[str, tuple[int, str]] = {
    "20022260": (2023, "ptr-pelosi-20022260.pdf"),  # 13 rows, filed 01/12/2023
    "20029138": (2025, "ptr-sample-20029138.pdf"),  # 22 rows; in no index we have
    "20019182": (2026, "ptr-multi-row-sp-vehicle-20019182.pdf"),  # 8 rows, 4/30/2026
    "20034836": (2026, "ptr-sp-owner-options-20034836.pdf"),  # 2 rows, 6/23/2026
    "20033759": (2026, "ptr-amendment-20033759.pdf"),  # 1 amended row, 1/7/2026
    "9115811": (2026, "ptr-scanned-paper-9115811.pdf"),  # scanned paper, 5/6/2026
}

# Members kept from the real 2026FD.zip: the four 2026 PDFs above, a real PTR whose PDF we do
# not have (Allen 20034473, 6/5/2026: served as 404), and three non-PTR rows (W with an
# empty FilingDate, C, X) that a sync must pass over.
HOUSE_2026_DOC_IDS = frozenset(
    {"20019182", "20034836", "20033759", "9115811", "20034473", "9115765", "10078673", "30028196"}
)
HOUSE_2026_MISSING_PDF = "20034473"

# Three real Members of 2023FD.xml (as of 2024-03), bytes unchanged (UTF-8, CRLF): Pelosi's
# 20022260 (the PDF we have), her later 20024186 (no PDF here: 404) and a candidate report.
_HOUSE_2023_MEMBERS = (
    b"  <Member>\r\n    <Prefix>Hon.</Prefix>\r\n    <Last>Pelosi</Last>\r\n"
    b"    <First>Nancy</First>\r\n    <Suffix />\r\n    <FilingType>P</FilingType>\r\n"
    b"    <StateDst>CA12</StateDst>\r\n    <Year>2023</Year>\r\n"
    b"    <FilingDate>1/12/2023</FilingDate>\r\n    <DocID>20022260</DocID>\r\n  </Member>\r\n",
    b"  <Member>\r\n    <Prefix>Hon.</Prefix>\r\n    <Last>Pelosi</Last>\r\n"
    b"    <First>Nancy</First>\r\n    <Suffix />\r\n    <FilingType>P</FilingType>\r\n"
    b"    <StateDst>CA11</StateDst>\r\n    <Year>2023</Year>\r\n"
    b"    <FilingDate>12/21/2023</FilingDate>\r\n    <DocID>20024186</DocID>\r\n  </Member>\r\n",
    b"  <Member>\r\n    <Prefix>Dr.</Prefix>\r\n    <Last>Pennie</Last>\r\n"
    b"    <First>Demetrick Tre Dr</First>\r\n    <Suffix />\r\n    <FilingType>C</FilingType>\r\n"
    b"    <StateDst>TX03</StateDst>\r\n    <Year>2023</Year>\r\n"
    b"    <FilingDate>5/10/2023</FilingDate>\r\n    <DocID>10051106</DocID>\r\n  </Member>\r\n",
)
_XML_HEAD = b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\r\n<FinancialDisclosure>\r\n'
_XML_TAIL = b"</FinancialDisclosure>"
_MEMBER_RE = re.compile(rb"[ \t]*<Member>.*?</Member>\r?\n?", re.S)
_DOC_ID_RE = re.compile(rb"<DocID>\s*([0-9]+)\s*</DocID>")


def index_xml(members: list[bytes] | tuple[bytes, ...]) -> bytes:
    """A ``{YYYY}FD.xml`` with the Clerk's own prologue (BOM, CRLF) around ``members``."""
    return _XML_HEAD + b"".join(members) + _XML_TAIL


def filter_index_zip(data: bytes, *, doc_ids: frozenset[str] | set[str]) -> bytes:
    """The real index zip ``data`` keeping only ``doc_ids``, each Member / TXT line unchanged.

    Member timestamps and compression are kept, so the bytes (and the ETag) are stable.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.lower().endswith(".xml"):
                content = _filter_xml(content, doc_ids)
            elif info.filename.lower().endswith(".txt"):
                content = _filter_txt(content, doc_ids)
            copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            copy.compress_type = info.compress_type
            copy.external_attr = info.external_attr
            target.writestr(copy, content)
    return out.getvalue()


def zip_index(year: int, xml: bytes, *, date_time=(2026, 7, 6, 9, 1, 0)) -> bytes:
    """A ``{year}FD.zip`` holding only ``{year}FD.xml`` (stable bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo(f"{year}FD.xml", date_time=date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, xml)
    return out.getvalue()


def real_members(year_zip: bytes, *, doc_ids: set[str] | frozenset[str]) -> list[bytes]:
    """The real ``<Member>`` blocks of an index zip's XML for ``doc_ids``, bytes unchanged."""
    with zipfile.ZipFile(io.BytesIO(year_zip)) as archive:
        name = next(n for n in archive.namelist() if n.lower().endswith(".xml"))
        xml = archive.read(name)
    return [m.group(0) for m in _MEMBER_RE.finditer(xml) if _member_doc_id(m.group(0)) in doc_ids]


def _member_doc_id(member: bytes) -> str:
    match = _DOC_ID_RE.search(member)
    return match.group(1).decode() if match else ""


def _filter_xml(xml: bytes, doc_ids) -> bytes:
    members = list(_MEMBER_RE.finditer(xml))
    if not members:
        return xml
    head, tail = xml[: members[0].start()], xml[members[-1].end() :]
    kept = [m.group(0) for m in members if _member_doc_id(m.group(0)) in doc_ids]
    return head + b"".join(kept) + tail


def _filter_txt(txt: bytes, doc_ids) -> bytes:
    lines = txt.split(b"\r\n")
    header = lines[0].split(b"\t")
    column = header.index(b"DocID")
    kept = [lines[0]] + [
        line
        for line in lines[1:]
        if line
        and len(line.split(b"\t")) > column
        and line.split(b"\t")[column].strip().decode() in doc_ids
    ]
    return b"\r\n".join(kept) + b"\r\n"


def default_house_indexes() -> dict[int, bytes]:
    real = {
        2012: (HOUSE_FIXTURES / "2012FD.zip").read_bytes(),
        2015: (HOUSE_FIXTURES / "2015FD.zip").read_bytes(),
        2025: (HOUSE_FIXTURES / "2025FD.early-2025-02-17.zip").read_bytes(),
    }
    real[2023] = zip_index(2023, index_xml(_HOUSE_2023_MEMBERS), date_time=(2024, 3, 1, 9, 0, 0))
    real[2026] = filter_index_zip(
        (HOUSE_FIXTURES / "2026FD.zip").read_bytes(), doc_ids=HOUSE_2026_DOC_IDS
    )
    return real


class HouseClerk:
    """What the fake Clerk serves; tests edit ``indexes`` and ``pdfs`` freely."""

    def __init__(self) -> None:
        self.indexes: dict[int, bytes] = default_house_indexes()
        self.pdfs: dict[tuple[int, str], bytes] = {
            (year, doc_id): (HOUSE_FIXTURES / name).read_bytes()
            for doc_id, (year, name) in HOUSE_PDFS.items()
        }
        # Real Clerk zips are regenerated daily; a fixed stamp per year is enough here.
        self.last_modified = "Mon, 06 Jul 2026 09:01:00 GMT"

    def routes(self, server: LocalHTTPServer) -> None:
        server.route("GET", rf"{HOUSE_PREFIX}/financial-pdfs/(\d{{4}})FD\.zip", self._index)
        server.route("GET", rf"{HOUSE_PREFIX}/ptr-pdfs/(\d{{4}})/(\d+)\.pdf", self._pdf)

    @staticmethod
    def etag(data: bytes) -> str:
        return f'"{hashlib.sha256(data).hexdigest()[:16]}"'

    def _index(self, request: Request, match: re.Match) -> Reply:
        data = self.indexes.get(int(match.group(1)))
        if data is None:
            return _clerk_not_found()
        etag = self.etag(data)
        headers = {"ETag": etag, "Last-Modified": self.last_modified}
        if _not_modified(request, etag=etag, last_modified=self.last_modified):
            return Reply(304, b"", headers)
        return Reply(200, data, {**headers, "Content-Type": "application/x-zip-compressed"})

    def _pdf(self, request: Request, match: re.Match) -> Reply:
        data = self.pdfs.get((int(match.group(1)), match.group(2)))
        if data is None:
            return _clerk_not_found()
        return Reply(200, data, {"Content-Type": "application/pdf", "ETag": self.etag(data)})


def _clerk_not_found() -> Reply:
    return Reply(
        404,
        b"<html><head><title>404 - File or directory not found.</title></head>"
        b"<body><h2>404 - File or directory not found.</h2></body></html>",
        {"Content-Type": "text/html"},
    )


def _not_modified(request: Request, *, etag: str, last_modified: str) -> bool:
    # RFC 9110 13.1.3: If-None-Match wins; If-Modified-Since only counts without it.
    given = request.headers.get("if-none-match")
    if given is not None:
        return any(tag.strip() in (etag, "*") for tag in given.split(","))
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return email.utils.parsedate_to_datetime(since) >= email.utils.parsedate_to_datetime(
                last_modified
            )
        except (TypeError, ValueError):
            return False
    return False


# --------------------------------------------------------------------------------------------
# Senate eFD

# Report UUID -> fixture page (tests/fixtures/senate/PROVENANCE.md).
SENATE_PTR_PAGES: dict[str, str] = {
    "727b4eb6-d8c7-4792-aa5b-c651c2d72f9c": "ptr-boozman-amendment1-727b4eb6.html",  # 18 rows
    "a9754ff5-901a-4877-b7be-a647bd361c52": "ptr-boozman-orig-a9754ff5.html",  # 18 rows
    "2e076759-19df-458d-a3be-53610b8be5d0": "ptr-boozman-orig-2e076759.html",  # 15 rows
    "4b69867f-0376-4526-93f2-cd556b1155c9": "ptr-fetterman-4b69867f.html",  # 1 row
    "4aa0094d-d9da-4a05-aa13-6d9f5d376105": "ptr-whitehouse-4aa0094d.html",  # 3 rows
}
SENATE_PAPER_PAGES: dict[str, str] = {
    "a0d25e8f-fe54-4328-a7ea-504da008742b": "paper-view-blumenthal-a0d25e8f.html",
}
SENATE_SEARCH_FILES = ("ptr-search-2026-06-window.json", "ptr-search-earliest-since-2012.json")

# Django's names; the real session cookie's name is 32 hex characters too (FORMATS 1b).
CSRF_COOKIE = "csrftoken"
SESSION_COOKIE = "33a5c6d97f299a223cb6fc3925909ef7"
_CSRF_CHARS = string.ascii_letters + string.digits
_REPORT_RE = re.compile(r"/search/view/(ptr|paper)/([0-9A-Fa-f-]{36})/")

AKAMAI_ACCESS_DENIED = b"""<HTML><HEAD>
<TITLE>Access Denied</TITLE>
</HEAD><BODY>
<H1>Access Denied</H1>

You don't have permission to access "http&#58;&#47;&#47;efdsearch&#46;senate&#46;gov&#47;search&#47;" on this server.<P>
Reference&#32;&#35;18&#46;5c3e1602&#46;1751716620&#46;2b1c4e0
</BODY>
</HTML>
"""  # noqa: E501  (imitation of Akamai's page, not a capture)

CHALLENGE_PAGE = b"""<!DOCTYPE html><html><head><title>Just a moment...</title></head>
<body><noscript>Please enable JavaScript to continue.</noscript>
<script src="/_sec/cp_challenge/ak-challenge-4-3.js"></script></body></html>
"""  # an invented bot-challenge page: a 200 answer that is not the agreement form


def real_search_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for name in SENATE_SEARCH_FILES:
        rows.extend(json.loads((SENATE_FIXTURES / name).read_bytes())["data"])
    return rows


def report_of(row: list[str]) -> tuple[str, str]:
    """``(kind, uuid)`` of a search row's link."""
    match = _REPORT_RE.search(row[3])
    if match is None:
        raise ValueError(f"search row without a report link: {row!r}")
    return match.group(1), match.group(2)


class SenateEfd:
    """The fake eFD's state: sessions, served documents, listed rows and fault switches."""

    def __init__(self) -> None:
        self.ptr_pages = {
            uuid: (SENATE_FIXTURES / name).read_bytes() for uuid, name in SENATE_PTR_PAGES.items()
        }
        self.paper_pages = {
            uuid: (SENATE_FIXTURES / name).read_bytes() for uuid, name in SENATE_PAPER_PAGES.items()
        }
        self._agreement = (SENATE_FIXTURES / "agreement-page.html").read_bytes()
        self._search_form = (SENATE_FIXTURES / "search-form.html").read_bytes()
        # By default only rows a sync can complete: electronic rows whose page we have, and
        # every paper row (a sync does not fetch those).
        self.rows = [row for row in real_search_rows() if self._have_document(row)]
        self.max_page_length = 100
        self.forbid_pages = False
        self.block_agreement = False
        self._sessions: dict[str, bool] = {}  # session key -> agreement accepted
        self._lock = threading.Lock()

    def include_rows_without_pages(self) -> None:
        self.rows = real_search_rows()

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    def _have_document(self, row: list[str]) -> bool:
        kind, uuid = report_of(row)
        return kind == "paper" or uuid in self.ptr_pages

    def routes(self, server: LocalHTTPServer) -> None:
        p = SENATE_PREFIX
        server.route("GET", rf"{p}/search/home/", self._home)
        server.route("POST", rf"{p}/search/home/", self._agree)
        server.route("GET", rf"{p}/search/", self._search_page)
        server.route("POST", rf"{p}/search/report/data/", self._search_data)
        server.route("GET", rf"{p}/search/view/(ptr|paper)/([0-9A-Fa-f-]{{36}})/", self._view)

    # --- the session dance ----------------------------------------------------------------

    def _home(self, request: Request, _match: re.Match) -> Reply:
        if self.block_agreement:
            return Reply(200, CHALLENGE_PAGE, {"Content-Type": "text/html"})
        cookies = _cookies(request)
        set_cookies: list[str] = []
        secret = cookies.get(CSRF_COOKIE, "")
        if not _valid_secret(secret):
            secret = _new_secret()
            set_cookies.append(f"{CSRF_COOKIE}={secret}; Max-Age=31449600; Path=/; SameSite=Lax")
        with self._lock:
            if cookies.get(SESSION_COOKIE) not in self._sessions:
                key = secrets.token_hex(16)
                self._sessions[key] = False
                set_cookies.append(f"{SESSION_COOKIE}={key}; HttpOnly; Path=/; SameSite=Lax")
        page = self._agreement.replace(b'value="REDACTED"', f'value="{_mask(secret)}"'.encode())
        return _html(page, set_cookies)

    def _agree(self, request: Request, _match: re.Match) -> Reply:
        refusal = self._csrf_refusal(request, token=_first(request.form(), "csrfmiddlewaretoken"))
        if refusal:
            return refusal
        key = _cookies(request).get(SESSION_COOKIE, "")
        with self._lock:
            known = key in self._sessions
        if not known:
            return _redirect(f"{SENATE_PREFIX}/search/home/")
        if _first(request.form(), "prohibition_agreement") != "1":
            return self._home(request, _match)  # the form again, as Django re-renders it
        with self._lock:
            self._sessions[key] = True
        return _redirect(f"{SENATE_PREFIX}/search/")

    def _search_page(self, request: Request, _match: re.Match) -> Reply:
        if not self._agreed(request):
            return _redirect(f"{SENATE_PREFIX}/search/home/")
        secret = _cookies(request).get(CSRF_COOKIE, "")
        return _html(
            self._search_form.replace(b'value="REDACTED"', f'value="{_mask(secret)}"'.encode()),
            [],
        )

    # --- search ---------------------------------------------------------------------------

    def _search_data(self, request: Request, _match: re.Match) -> Reply:
        if not self._agreed(request):
            return _redirect(f"{SENATE_PREFIX}/search/home/")
        refusal = self._csrf_refusal(request, token=request.headers.get("x-csrftoken", ""))
        if refusal:
            return refusal
        form = request.form()
        try:
            start = int(_first(form, "start"))
            length = int(_first(form, "length"))
            draw = int(_first(form, "draw") or "1")
            since = _form_datetime(_first(form, "submitted_start_date"))
            until_text = _first(form, "submitted_end_date")
            until = _form_datetime(until_text) if until_text else None
        except ValueError as error:
            return Reply(400, json.dumps({"error": str(error)}), {"Content-Type": "text/json"})
        if "11" not in _first(form, "report_types").strip("[]").split(","):
            rows: list[list[str]] = []  # every fixture row is a PTR (report type 11)
        else:
            rows = [
                row
                for row in self.rows
                if since <= _row_date(row) and (until is None or _row_date(row) <= until)
            ]
        descending = _first(form, "order[0][dir]") == "desc"
        rows.sort(key=_row_date, reverse=descending)
        page = rows[start : start + max(0, min(length, self.max_page_length))]
        body = {
            "draw": draw,
            "recordsTotal": len(rows),
            "recordsFiltered": len(rows),
            "data": page,
            "result": "ok",
        }
        return Reply(200, json.dumps(body), {"Content-Type": "text/json"})

    # --- report pages ---------------------------------------------------------------------

    def _view(self, request: Request, match: re.Match) -> Reply:
        if self.forbid_pages:
            # Akamai answers before the application: a valid session does not help.
            return Reply(403, AKAMAI_ACCESS_DENIED, {"Content-Type": "text/html"})
        if not self._agreed(request):
            return _redirect(f"{SENATE_PREFIX}/search/home/")
        kind, uuid = match.group(1), match.group(2)
        pages = self.ptr_pages if kind == "ptr" else self.paper_pages
        page = pages.get(uuid)
        if page is None:
            return Reply(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
        return _html(page, [])

    # --- helpers --------------------------------------------------------------------------

    def _agreed(self, request: Request) -> bool:
        with self._lock:
            return self._sessions.get(_cookies(request).get(SESSION_COOKIE, ""), False)

    def _csrf_refusal(self, request: Request, *, token: str) -> Reply | None:
        """Django's CsrfViewMiddleware on an HTTPS site, reduced to what a client can get wrong."""
        secret = _cookies(request).get(CSRF_COOKIE, "")
        if not _valid_secret(secret):
            return _forbidden("CSRF cookie not set.")
        referer = request.headers.get("referer", "")
        origin = f"http://{request.headers.get('host', '')}{SENATE_PREFIX}/"
        if not referer.startswith(origin):
            return _forbidden(f"Referer checking failed - {referer or 'no Referer'}.")
        if unmask_csrf_token(token) != secret:
            return _forbidden("CSRF token incorrect.")
        return None


class FastLocalHTTPServer(LocalHTTPServer):
    """LocalHTTPServer without its two fixed delays (both belong upstream in tests/httpserver):

    * ``stop()`` waited up to 0.5 s: ``serve_forever`` polls for shutdown every 0.5 s;
    * every response waited ~40 ms: headers and body go out in two writes, and Nagle's
      algorithm holds the body until the client's delayed ACK. TCP_NODELAY sends it at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _handler_class(self):
        class _Handler(super()._handler_class()):
            disable_nagle_algorithm = True

        return _Handler


class SourceServer(FastLocalHTTPServer):
    """LocalHTTPServer serving the fake House Clerk (``house``) and Senate eFD (``senate``)."""

    def __init__(self) -> None:
        super().__init__()
        self.house = HouseClerk()
        self.senate = SenateEfd()
        self.house.routes(self)
        self.senate.routes(self)

    @property
    def house_base_url(self) -> str:
        return f"{self.url}{HOUSE_PREFIX}"

    @property
    def senate_base_url(self) -> str:
        return f"{self.url}{SENATE_PREFIX}"

    def __enter__(self) -> SourceServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


# --- small HTTP helpers ------------------------------------------------------------------


class _Headers(dict):
    """Reply headers that may repeat a name (two Set-Cookie lines).

    LocalHTTPServer sends ``reply.headers.items()``; a plain dict cannot hold a header twice.
    """

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._pairs = pairs

    def items(self):  # type: ignore[override]
        return list(self._pairs)


def _html(body: bytes, set_cookies: list[str]) -> Reply:
    pairs = [("Content-Type", "text/html; charset=utf-8")]
    pairs += [("Set-Cookie", cookie) for cookie in set_cookies]
    return Reply(200, body, _Headers(pairs))


def _redirect(location: str) -> Reply:
    return Reply(302, b"", {"Location": location})


def _forbidden(reason: str) -> Reply:
    return Reply(
        403,
        f"<h1>Forbidden <span>(403)</span></h1><p>CSRF verification failed. Request aborted.</p>"
        f"<p>{reason}</p>",
        {"Content-Type": "text/html"},
    )


def _cookies(request: Request) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(request.headers.get("cookie", ""))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _form_datetime(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%m/%d/%Y %H:%M:%S")


def _row_date(row: list[str]) -> datetime:
    return datetime.strptime(row[4].strip(), "%m/%d/%Y")


# Django's CSRF token masking (django.middleware.csrf): the form carries a 64-character
# masked token that unmasks to the 32-character secret in the csrftoken cookie.


def _new_secret() -> str:
    return secrets.token_hex(16)


def _valid_secret(secret: str) -> bool:
    return len(secret) == 32 and all(char in _CSRF_CHARS for char in secret)


def _mask(secret: str) -> str:
    mask = "".join(secrets.choice(_CSRF_CHARS) for _ in range(32))
    cipher = "".join(
        _CSRF_CHARS[(_CSRF_CHARS.index(x) + _CSRF_CHARS.index(y)) % len(_CSRF_CHARS)]
        for x, y in zip(secret, mask, strict=True)
    )
    return mask + cipher


def unmask_csrf_token(token: str) -> str:
    if len(token) == 32:
        return token  # Django also accepts the bare secret (what the eFD page's JS sends)
    if len(token) != 64 or any(char not in _CSRF_CHARS for char in token):
        return ""
    mask, cipher = token[:32], token[32:]
    return "".join(
        _CSRF_CHARS[_CSRF_CHARS.index(x) - _CSRF_CHARS.index(y)]
        for x, y in zip(cipher, mask, strict=True)
    )


__all__ = [
    "HOUSE_2026_DOC_IDS",
    "HOUSE_2026_MISSING_PDF",
    "HOUSE_PDFS",
    "SENATE_PAPER_PAGES",
    "SENATE_PTR_PAGES",
    "FastLocalHTTPServer",
    "HouseClerk",
    "SenateEfd",
    "SourceServer",
    "filter_index_zip",
    "index_xml",
    "real_members",
    "report_of",
    "unmask_csrf_token",
    "zip_index",
]
