"""The shared HttpClient against a real local HTTP server (no mocked requests)."""

from __future__ import annotations

import time

import pytest

from ingestion.http import FetchError, HttpClient, Validators
from tests.httpserver import Reply
from tests.sourceserver import FastLocalHTTPServer


@pytest.fixture
def fast(settings):
    """No politeness delays and tiny backoff, so retries cost milliseconds."""
    settings.INGESTION_HTTP_MIN_INTERVAL = 0
    settings.INGESTION_HTTP_BACKOFF_BASE = 0.01
    settings.INGESTION_HTTP_MAX_RETRIES = 3
    settings.INGESTION_HTTP_TIMEOUT = 5.0
    settings.INGESTION_USER_AGENT = "CapitolScopeTest/1.0 (+https://example.org)"
    settings.INGESTION_FROM_EMAIL = ""
    return settings


def test_retries_503_then_succeeds(fast, http_server):
    http_server.route("GET", "/data", Reply(200, b"hello"))
    http_server.fail("GET", "/data", Reply(503, b"busy"), times=2)

    with HttpClient() as client:
        response = client.get(f"{http_server.url}/data")

    assert response.status == 200
    assert response.content == b"hello"
    assert len(http_server.requests_to("/data")) == 3


def test_503_beyond_the_retries_is_a_temporary_failure(fast, http_server):
    http_server.route("GET", "/data", Reply(503, b"busy"))

    with HttpClient(max_retries=2) as client, pytest.raises(FetchError) as caught:
        client.get(f"{http_server.url}/data")

    assert caught.value.permanent is False
    assert caught.value.status == 503
    assert "503" in str(caught.value)
    assert len(http_server.requests_to("/data")) == 3


def test_429_waits_for_retry_after(fast, http_server):
    http_server.route("GET", "/data", Reply(200, b"ok"))
    http_server.fail("GET", "/data", Reply(429, b"slow down", {"Retry-After": "1"}))

    started = time.monotonic()
    with HttpClient() as client:
        response = client.get(f"{http_server.url}/data")
    elapsed = time.monotonic() - started

    assert response.content == b"ok"
    # Without Retry-After the backoff would be at most 0.01 s.
    assert elapsed >= 0.9
    assert len(http_server.requests_to("/data")) == 2


@pytest.mark.parametrize("status", [404, 403, 410])
def test_permanent_statuses_raise_at_once(fast, http_server, status):
    http_server.route("GET", "/gone", Reply(status, b"no"))

    with HttpClient() as client, pytest.raises(FetchError) as caught:
        client.get(f"{http_server.url}/gone")

    assert caught.value.permanent is True
    assert caught.value.status == status
    assert str(status) in str(caught.value)
    assert f"{http_server.url}/gone" in str(caught.value)
    assert len(http_server.requests_to("/gone")) == 1


def test_403_message_hints_at_blocking(fast, http_server):
    http_server.route("GET", "/blocked", Reply(403, b"Access Denied"))

    with HttpClient() as client, pytest.raises(FetchError, match="block automated clients"):
        client.get(f"{http_server.url}/blocked")


def test_timeout_is_retried_then_temporary(fast, http_server):
    http_server.route("GET", "/slow", Reply(200, b"late", delay=0.6))

    with HttpClient(timeout=0.2, max_retries=1) as client, pytest.raises(FetchError) as caught:
        client.get(f"{http_server.url}/slow")

    assert caught.value.permanent is False
    assert "timed out" in str(caught.value)
    assert len(http_server.requests_to("/slow")) == 2


def test_timeout_then_success(fast, http_server):
    http_server.route("GET", "/slow-once", Reply(200, b"fine"))
    http_server.fail("GET", "/slow-once", Reply(200, b"late", delay=0.6))

    with HttpClient(timeout=0.2) as client:
        assert client.get(f"{http_server.url}/slow-once").content == b"fine"


def test_connection_refused_is_temporary(fast):
    closed = FastLocalHTTPServer().start()
    url = f"{closed.url}/nothing"
    closed.stop()  # the port is closed now and refuses connections

    with HttpClient(max_retries=1) as client, pytest.raises(FetchError) as caught:
        client.get(url)

    assert caught.value.permanent is False
    assert "could not connect" in str(caught.value)


def test_conditional_get_sends_validators_and_sees_304(fast, http_server):
    etag, stamp = '"v1"', "Mon, 06 Jul 2026 09:01:00 GMT"

    def index(request, _match):
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply(200, b"zip bytes", {"ETag": etag, "Last-Modified": stamp})

    http_server.route("GET", "/index.zip", index)

    with HttpClient() as client:
        first = client.get(f"{http_server.url}/index.zip")
        second = client.get(f"{http_server.url}/index.zip", validators=first.validators)

    assert first.not_modified is False
    assert first.validators == Validators(etag=etag, last_modified=stamp)
    assert second.not_modified is True
    assert second.status == 304
    sent = http_server.requests_to("/index.zip")[1].headers
    assert sent["if-none-match"] == etag
    assert sent["if-modified-since"] == stamp


def test_size_limit_refuses_large_bodies(fast, http_server):
    http_server.route("GET", "/big", Reply(200, b"x" * 300_000))

    with HttpClient(max_bytes=100_000) as client, pytest.raises(FetchError) as caught:
        client.get(f"{http_server.url}/big")

    assert caught.value.permanent is True
    assert "more than 100000 bytes" in str(caught.value)
    assert len(http_server.requests_to("/big")) == 1


def test_user_agent_and_from_header_come_from_settings(fast, http_server):
    fast.INGESTION_FROM_EMAIL = "ops@example.org"
    http_server.route("GET", "/who", Reply(200, b"ok"))

    with HttpClient() as client:
        client.get(f"{http_server.url}/who")

    headers = http_server.requests_to("/who")[0].headers
    assert headers["user-agent"] == "CapitolScopeTest/1.0 (+https://example.org)"
    assert headers["from"] == "ops@example.org"


def test_min_interval_spaces_requests(fast, http_server):
    http_server.route("GET", "/tick", Reply(200, b"ok"))

    started = time.monotonic()
    with HttpClient(min_interval=0.2) as client:
        for _ in range(3):
            client.get(f"{http_server.url}/tick")
    elapsed = time.monotonic() - started

    assert elapsed >= 0.4  # two gaps of 0.2 s
    assert len(http_server.requests_to("/tick")) == 3


def test_post_sends_the_form(fast, http_server):
    http_server.route("POST", "/form", lambda request, _m: Reply(200, request.body))

    with HttpClient() as client:
        response = client.post(f"{http_server.url}/form", data={"a": "1", "b": "x y"})

    assert http_server.requests_to("/form")[0].form() == {"a": ["1"], "b": ["x y"]}
    assert response.content == b"a=1&b=x+y"
