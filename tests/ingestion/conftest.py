"""Fixtures for tests that talk real HTTP to local fake sites (tests/sourceserver.py)."""

from __future__ import annotations

import pytest

from tests.sourceserver import FastLocalHTTPServer, SourceServer


@pytest.fixture
def http_server():
    """A bare LocalHTTPServer: each test adds its own routes."""
    server = FastLocalHTTPServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def source_server():
    """The fake House Clerk + Senate eFD serving the real fixture files."""
    server = SourceServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def source_settings(settings, source_server):
    """Settings pointing both sources at ``source_server``, with no waiting between requests."""
    settings.HOUSE_CLERK_BASE_URL = source_server.house_base_url
    settings.SENATE_EFD_BASE_URL = source_server.senate_base_url
    settings.SENATE_EFD_FETCHER = "ingestion.sources.RequestsFetcher"
    settings.SENATE_EFD_MIN_INTERVAL = 0
    settings.INGESTION_HTTP_MIN_INTERVAL = 0
    settings.INGESTION_HTTP_BACKOFF_BASE = 0.01
    settings.INGESTION_HTTP_MAX_RETRIES = 2
    settings.INGESTION_HTTP_TIMEOUT = 5.0
    return settings
