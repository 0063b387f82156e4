"""Fixtures for the alerts tests: a small cast of politicians, assets and trades, a real
SMTP server (aiosmtpd) and a real webhook receiver (tests/httpserver.py), and a real worker
configured to deliver to them."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import hmac
import itertools
import re
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from capitolscope.celery import app as celery_app
from ingestion.models import Asset, Filing, Politician, Trade
from tests.httpserver import LocalHTTPServer, Reply
from tests.processes import start_worker, subprocess_env

SITE_URL = "https://capitolscope.example"

_line = itertools.count(1)


@pytest.fixture
def pelosi(db):
    return Politician.objects.create(
        bioguide_id="P000197", first_name="Nancy", last_name="Pelosi", full_name="Nancy Pelosi",
        chamber="house", party="D", state="CA", district="11", name_key="pelosi|nancy",
        is_resolved=True,
    )  # fmt: skip


@pytest.fixture
def tuberville(db):
    return Politician.objects.create(
        bioguide_id="T000278", first_name="Tommy", last_name="Tuberville",
        full_name="Tommy Tuberville", chamber="senate", party="R", state="AL",
        name_key="tuberville|tommy", is_resolved=True,
    )  # fmt: skip


def make_asset(ticker: str, name: str = "") -> Asset:
    asset, _ = Asset.objects.get_or_create(
        ticker=ticker,
        defaults={"name": name or f"{ticker} Inc.", "name_key": ticker.lower(), "kind": "stock"},
    )
    return asset


def make_trade(
    politician: Politician,
    *,
    ticker: str = "AAPL",
    transaction_type: str = "purchase",
    owner: str = "self",
    amount: tuple[int, int | None] = (1001, 15000),
    filed_late: bool = False,
    transaction_date: dt.date = dt.date(2026, 10, 1),
    filed_date: dt.date = dt.date(2026, 10, 20),
    matched: bool = False,
    doc_id: str | None = None,
) -> Trade:
    """One trade (with its own filing unless ``doc_id`` names a shared one)."""
    line = next(_line)
    filing, _ = Filing.objects.get_or_create(
        chamber=politician.chamber,
        doc_id=doc_id or f"DOC{line}",
        defaults={
            "politician": politician,
            "filed_date": filed_date,
            "source": "file",
            "source_url": f"https://example.org/filings/{doc_id or line}.pdf",
        },
    )
    low, high = amount
    return Trade.objects.create(
        filing=filing,
        line_number=line,
        politician=politician,
        asset=make_asset(ticker),
        chamber=politician.chamber,
        transaction_type=transaction_type,
        transaction_date=transaction_date,
        filed_date=filed_date,
        owner=owner,
        amount_min=low,
        amount_max=high,
        amount_label=f"${low:,} - ${high:,}" if high else f"Over ${low - 1:,}",
        asset_kind="stock",
        disclosure_delay_days=(filed_date - transaction_date).days,
        filed_late=filed_late,
        fingerprint=f"fp{line}",
        content_hash=f"h{line}",
        matched_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if matched else None,
    )


# --- A real SMTP server -------------------------------------------------------------------


class RecordingSMTPHandler:
    """Accepts mail and records it; faults are queued like the HTTP server's:
    ``fail("DATA", "451 4.3.0 try again later", times=1)`` answers the next DATA with 451;
    ``fail("RCPT", "550 5.1.1 no such user", times=99, address="nobody@")`` refuses a
    recipient."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.faults: list[list] = []  # [stage, reply, remaining, address fragment]
        self.lock = threading.Lock()

    def fail(self, stage: str, reply: str, *, times: int = 1, address: str = "") -> None:
        with self.lock:
            self.faults.append([stage, reply, times, address])

    def _fault(self, stage: str, address: str = "") -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault[0] == stage and fault[2] > 0 and fault[3] in address:
                    fault[2] -= 1
                    return fault[1]
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = self._fault("RCPT", address)
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fault = self._fault("DATA", ",".join(envelope.rcpt_tos))
        if fault:
            return fault
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free loopback port: ``.handler.messages``, ``.port``."""
    handler = RecordingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.handler = handler
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """This process's settings pointing Django's SMTP backend at ``smtp_server``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = SITE_URL
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    settings.ALERTS_DELIVERY_BACKOFF_BASE = 0.01
    settings.ALERTS_DELIVERY_BACKOFF_MAX = 0.05
    settings.ALERTS_DELIVERY_MAX_RETRIES = 2
    settings.ALERTS_WEBHOOK_TIMEOUT = 2.0
    return settings


# --- A real webhook receiver --------------------------------------------------------------


def signature_ok(request, secret: str) -> bool:
    """Verify a webhook request as docs/webhooks.md tells receivers to."""
    timestamp = request.headers.get("x-capitolscope-timestamp", "")
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    given = request.headers.get("x-capitolscope-signature", "")
    return hmac.compare_digest(f"sha256={expected}", given)


class WebhookReceiver(LocalHTTPServer):
    """POST /hooks/<name> checks the signature with the secret registered for <name>:
    200 when it verifies, 401 otherwise; ``verified`` records (name, delivery id) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}
        self.verified: list[tuple[str, str]] = []
        self.route("POST", r"/hooks/(?P<name>[\w-]+)", self._receive)

    def url_for(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    def _receive(self, request, match: re.Match) -> Reply:
        secret = self.secrets.get(match["name"])
        if secret is None or not signature_ok(request, secret):
            return Reply(401, "bad signature")
        self.verified.append((match["name"], request.headers.get("x-capitolscope-delivery")))
        return Reply(200, "ok")


@pytest.fixture
def webhook_receiver():
    server = WebhookReceiver().start()
    try:
        yield server
    finally:
        server.stop()


# --- A worker that delivers to them -------------------------------------------------------


def alerts_worker_env(smtp_port: int, **extra: str) -> dict[str, str]:
    """A worker's environment: email to ``smtp_port``, fast retries; ``extra`` overrides."""
    defaults = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "5",
        "SITE_URL": SITE_URL,
        "ALERTS_WEBHOOK_ALLOW_PRIVATE": "true",
        "ALERTS_DELIVERY_BACKOFF_BASE": "0.2",
        "ALERTS_DELIVERY_BACKOFF_MAX": "1",
        "ALERTS_DELIVERY_MAX_RETRIES": "2",
        "ALERTS_WEBHOOK_TIMEOUT": "2",
        "ALERTS_DELIVERY_LEASE": "10",  # a killed worker's delivery is taken over quickly
    }
    return subprocess_env(**{**defaults, **extra})


@pytest.fixture
def alerts_worker(transactional_db, tmp_path, smtp_server, settings):
    """A real worker on every queue whose email goes to ``smtp_server``, with fast retries
    (and this process allowing the local webhook receiver as a subscription target)."""
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    settings.SITE_URL = SITE_URL
    process, hostname = start_worker(tmp_path, env=alerts_worker_env(smtp_server.port))
    process.hostname = hostname
    try:
        yield process
    finally:
        process.stop()
        celery_app.control.purge()


def installed_resolver(monkeypatch, fake):
    """Yield ``fake`` as ``socket.getaddrinfo`` (it has ``getaddrinfo`` and a ``released``
    event its hanging lookups wait on); afterwards release them and wait for the webhook
    resolver's lookup threads (alerts.validators) to end, so a lookup a test left hanging
    cannot hold a slot (or answer late) in the next test."""
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    try:
        yield fake
    finally:
        fake.released.set()
        for thread in threading.enumerate():
            if thread.name.startswith("dns "):
                thread.join(timeout=30)
