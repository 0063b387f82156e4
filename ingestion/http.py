"""The one HTTP client every source and price provider uses.

One ``requests`` session per client: timeouts on every call, a polite rate limit (minimum
interval between requests), a User-Agent (and optional From header) from settings, retries
with exponential backoff and jitter on timeouts, connection errors, 429 (honouring
Retry-After) and 5xx, and conditional GET with ETag / Last-Modified. Failures raise
``FetchError`` whose ``permanent`` flag tells the caller (and Celery) whether trying again
later can help.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass, field

import requests
from django.conf import settings

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class FetchError(Exception):
    """A request failed. ``permanent``: retrying will not help (404, 403, bad content)."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None, permanent: bool):
        self.url = url
        self.status = status
        self.permanent = permanent
        super().__init__(message)


@dataclass(frozen=True)
class Validators:
    """What a conditional GET sends back: the previous response's ETag / Last-Modified."""

    etag: str = ""
    last_modified: str = ""


@dataclass
class Response:
    url: str
    status: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False

    @property
    def validators(self) -> Validators:
        return Validators(
            etag=self.headers.get("etag", ""), last_modified=self.headers.get("last-modified", "")
        )

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class HttpClient:
    def __init__(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        min_interval: float | None = None,
        backoff_base: float | None = None,
        max_bytes: int | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.timeout = settings.INGESTION_HTTP_TIMEOUT if timeout is None else timeout
        self.max_retries = (
            settings.INGESTION_HTTP_MAX_RETRIES if max_retries is None else max_retries
        )
        self.min_interval = (
            settings.INGESTION_HTTP_MIN_INTERVAL if min_interval is None else min_interval
        )
        self.backoff_base = (
            settings.INGESTION_HTTP_BACKOFF_BASE if backoff_base is None else backoff_base
        )
        self.max_bytes = settings.INGESTION_HTTP_MAX_BYTES if max_bytes is None else max_bytes
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent or settings.INGESTION_USER_AGENT
        if settings.INGESTION_FROM_EMAIL:
            self.session.headers["From"] = settings.INGESTION_FROM_EMAIL
        self._lock = threading.Lock()
        self._last_request = 0.0
        self.requests_made = 0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        params: dict | None = None,
        headers: dict | None = None,
        validators: Validators | None = None,
    ) -> Response:
        headers = dict(headers or {})
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        return self.request("GET", url, params=params, headers=headers)

    def post(self, url: str, *, data: dict | None = None, headers: dict | None = None) -> Response:
        return self.request("POST", url, data=data, headers=headers)

    def request(self, method: str, url: str, **kwargs) -> Response:
        attempt = 0
        while True:
            attempt += 1
            self._wait_turn()
            try:
                raw = self.session.request(
                    method, url, timeout=self.timeout, stream=True, allow_redirects=True, **kwargs
                )
                content = self._read_limited(raw, url)
            except requests.Timeout:
                problem = FetchError(
                    f"{method} {url} timed out after {self.timeout:.0f} s", url=url, permanent=False
                )
                retry_after = None
            except requests.ConnectionError as exc:
                problem = FetchError(
                    f"{method} {url} could not connect: {_first_line(exc)}",
                    url=url,
                    permanent=False,
                )
                retry_after = None
            else:
                response = Response(
                    url=raw.url,
                    status=raw.status_code,
                    content=content,
                    headers={key.lower(): value for key, value in raw.headers.items()},
                    not_modified=raw.status_code == 304,
                )
                if raw.status_code < 400:
                    return response
                problem = FetchError(
                    f"{method} {url} answered HTTP {raw.status_code}"
                    + _status_hint(raw.status_code),
                    url=url,
                    status=raw.status_code,
                    permanent=raw.status_code not in RETRY_STATUSES,
                )
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if problem.permanent or attempt > self.max_retries:
                raise problem
            time.sleep(self._backoff(attempt, retry_after))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 300.0)
        # Exponential with full jitter: spreads retries of many clients apart.
        return random.uniform(0, self.backoff_base * (2 ** (attempt - 1)))  # noqa: S311

    def _wait_turn(self) -> None:
        with self._lock:
            wait = self._last_request + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.monotonic()
            self.requests_made += 1

    def _read_limited(self, raw: requests.Response, url: str) -> bytes:
        chunks, size = [], 0
        for chunk in raw.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_bytes:
                raw.close()
                raise FetchError(
                    f"GET {url} sent more than {self.max_bytes} bytes; refusing the rest",
                    url=url,
                    permanent=True,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _status_hint(status: int) -> str:
    if status == 403:
        return " (forbidden: the site may block automated clients)"
    if status == 429:
        return " (rate limited)"
    return ""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
