"""Fixes from the alerts review, each on real parts: the subscription pages (Django's test
client), a real SMTP server (aiosmtpd), real HTTP(S) servers and real worker processes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.db import connection, transaction

from alerts import channels, services
from alerts.models import Delivery, Notification, Subscription, SubscriptionTicker
from alerts.tasks import deliver
from capitolscope.celery import app as celery_app
from tests.alerts.conftest import (
    RecordingSMTPHandler,
    WebhookReceiver,
    free_port,
    installed_resolver,
    make_trade,
)
from tests.processes import wait_until

LIST = "/subscriptions/"
NEW = "/subscriptions/new/"
PUBLIC_HOOK = "https://93.184.215.14/hooks/capitolscope"  # a public IP literal: no DNS needed

# The strict SMTP server asks for a login without TLS: fine on loopback, in a test.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# --- The show-once signing secret -------------------------------------------------------------


@pytest.mark.django_db
def test_a_head_request_to_the_list_leaves_the_new_secret_for_the_get_that_shows_it(
    client, plain_user
):
    client.force_login(plain_user)
    created = client.post(
        NEW,
        {"name": "Hook", "channel": "webhook", "target": PUBLIC_HOOK, "mode": "instant"},
    )
    assert created.status_code == 302 and created["Location"] == LIST
    secret = Subscription.objects.get(owner=plain_user).signing_secret

    head = client.head(LIST)  # a link checker or monitor probing the page
    assert head.status_code == 200 and head.content == b""

    shown = client.get(LIST)
    assert secret in shown.content.decode() and shown["Cache-Control"] == "no-store"
    assert secret not in client.get(LIST).content.decode()  # and only once


# --- SMTP errors that are our own configuration -------------------------------------------


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


def matched_delivery(subscription) -> Delivery:
    result = services.trades_match()
    return Delivery.objects.get(subscription=subscription, pk__in=result.delivery_ids)


class SenderCheckingHandler(RecordingSMTPHandler):
    """Also refuses senders: ``fail("MAIL", "553 …", address="alerts@")``."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        fault = self._fault("MAIL", address)
        if fault:
            return fault
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


def _login_checker(server, session, envelope, mechanism, auth_data) -> AuthResult:
    good = (auth_data.login, auth_data.password) == (b"capitolscope", b"right password")
    return AuthResult(success=good, handled=False)


@pytest.fixture
def strict_smtp_server():
    """A real SMTP server that requires a login and can refuse senders."""
    handler = SenderCheckingHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        auth_required=True,
        auth_require_tls=False,  # loopback only (the warning is filtered above)
        authenticator=_login_checker,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def strict_mail_settings(smtp_settings, strict_smtp_server):
    smtp_settings.EMAIL_PORT = strict_smtp_server.port
    smtp_settings.EMAIL_HOST_USER = "capitolscope"
    smtp_settings.EMAIL_HOST_PASSWORD = "right password"
    return smtp_settings


@pytest.fixture
def alice_by_email(alice, strict_mail_settings):
    return services.subscription_create(
        owner=alice, name="Pelosi watch", channel="email", target="alice@example.com"
    )


def test_a_wrong_smtp_password_is_retried_and_logged_as_an_error_not_failed_for_good(
    alice_by_email, strict_mail_settings, strict_smtp_server, pelosi, caplog
):
    strict_mail_settings.EMAIL_HOST_PASSWORD = "wrong password"
    make_trade(pelosi)
    delivery = matched_delivery(alice_by_email)

    outcome = services.delivery_send(delivery_id=delivery.pk)

    assert outcome.status == "retry"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "535" in delivery.last_error
    assert "EMAIL_HOST_PASSWORD" in delivery.last_error
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.name == "alerts.channels" and "refused our login" in record.getMessage()
    assert "wrong password" not in caplog.text
    # The operator fixes the password: the kept delivery goes out.
    strict_mail_settings.EMAIL_HOST_PASSWORD = "right password"
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    assert len(strict_smtp_server.handler.messages) == 1


def test_a_refused_sender_address_is_retried_and_logged_as_an_error(
    alice_by_email, strict_mail_settings, strict_smtp_server, pelosi, caplog
):
    strict_smtp_server.handler.fail(
        "MAIL", "553 5.7.1 Sender address rejected: not owned by user", address="alerts@"
    )
    make_trade(pelosi)
    delivery = matched_delivery(alice_by_email)

    assert services.delivery_send(delivery_id=delivery.pk).status == "retry"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "553" in delivery.last_error
    assert "DEFAULT_FROM_EMAIL" in delivery.last_error
    assert any(
        r.levelno == logging.ERROR and "refused our sender" in r.getMessage()
        for r in caplog.records
    )
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"


def delivery_to_carol(alice, pelosi) -> Delivery:
    """A matched, pending email delivery to carol@example.org (a new trade of ``pelosi``)."""
    subscription = services.subscription_create(
        owner=alice, name="to carol", channel="email", target="carol@example.org"
    )
    make_trade(pelosi)
    return matched_delivery(subscription)


def test_a_message_too_large_for_the_server_fails_for_good_naming_the_limit(
    alice_by_email, strict_mail_settings, strict_smtp_server, pelosi, caplog
):
    # 552 to MAIL FROM … SIZE=n: this message is too big; no configuration fixes it.
    strict_smtp_server.handler.fail(
        "MAIL", "552 5.3.4 Message size exceeds fixed maximum message size", address="alerts@"
    )
    make_trade(pelosi)
    delivery = matched_delivery(alice_by_email)

    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.last_error.startswith("permanent failure: the mail server refused the message")
    assert "too large" in delivery.last_error and "ALERTS_MAX_TRADES_PER_MESSAGE" in (
        delivery.last_error
    )
    assert "DEFAULT_FROM_EMAIL" not in delivery.last_error
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_message_refused_as_too_large_after_data_fails_for_good_naming_the_limit(
    alice, smtp_settings, smtp_server, pelosi
):
    # Servers that do not advertise SIZE refuse the size after DATA (Gmail: 552 5.2.3).
    smtp_server.handler.fail(
        "DATA", "552 5.2.3 Your message exceeded Google's message size limits", times=9
    )
    delivery = delivery_to_carol(alice, pelosi)

    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert "refused the message as too large" in delivery.last_error
    assert "ALERTS_MAX_TRADES_PER_MESSAGE" in delivery.last_error


def test_a_full_mailbox_after_data_is_not_called_a_message_too_large(
    alice, smtp_settings, smtp_server, pelosi
):
    smtp_server.handler.fail("DATA", "552 5.2.2 <carol@example.org>: mailbox size exceeded")
    delivery = delivery_to_carol(alice, pelosi)

    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert "mailbox size exceeded" in delivery.last_error
    assert "too large" not in delivery.last_error


def test_a_busy_server_deferring_at_mail_from_is_retried_quietly(
    alice_by_email, strict_mail_settings, strict_smtp_server, pelosi, caplog
):
    strict_smtp_server.handler.fail(
        "MAIL", "452 4.3.1 Insufficient system storage", address="alerts@"
    )
    make_trade(pelosi)
    delivery = matched_delivery(alice_by_email)

    assert services.delivery_send(delivery_id=delivery.pk).status == "retry"
    delivery.refresh_from_db()
    assert "deferred the message: 452" in delivery.last_error
    assert "DEFAULT_FROM_EMAIL" not in delivery.last_error
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"


@pytest.mark.parametrize(
    "refusal",
    [
        "554 5.7.1 <carol@example.org>: Relay access denied",
        "530 5.7.0 Authentication required",
        "550 5.7.1 Unable to relay for carol@example.org",
        "550 5.7.1 Relaying not allowed",
        "553 5.7.1 Relaying disallowed",
        "550 Authentication is required for relay",
        "550 SMTP AUTH is required for message submission",
        "503 This mail server requires authentication when attempting to send to a "
        "non-local e-mail address",
    ],
)
def test_a_relay_refusing_us_at_rcpt_is_our_login_retried_and_logged(
    refusal, alice, smtp_settings, smtp_server, pelosi, caplog
):
    # A smarthost that relays only for logged-in clients, and no login configured: it
    # refuses every recipient. That is our configuration, not a bad address.
    smtp_server.handler.fail("RCPT", refusal, times=1, address="carol@")
    delivery = delivery_to_carol(alice, pelosi)

    assert services.delivery_send(delivery_id=delivery.pk).status == "retry"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and "will not relay for us" in delivery.last_error
    assert "EMAIL_HOST_USER" in delivery.last_error
    assert any(
        r.levelno == logging.ERROR and "will not relay for us" in r.getMessage()
        for r in caplog.records
    )
    # The operator sets the login (here: the refusal stops): the kept delivery goes out.
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    assert len(smtp_server.handler.messages) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        "550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown in relay "
        "recipient table",
        "550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown",
        "552 5.2.2 <carol@example.org>: Recipient address rejected: mailbox size exceeded",
    ],
)
def test_an_unknown_recipient_at_a_relay_still_fails_at_once(
    refusal, alice, smtp_settings, smtp_server, pelosi, caplog
):
    smtp_server.handler.fail("RCPT", refusal, times=9, address="carol@")
    delivery = delivery_to_carol(alice, pelosi)

    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith(
        "permanent failure: the mail server refused the recipient"
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_refused_recipient_still_fails_at_once(
    alice, strict_mail_settings, strict_smtp_server, pelosi
):
    strict_smtp_server.handler.fail("RCPT", "550 5.1.1 No such user", times=9, address="bob@")
    subscription = services.subscription_create(
        owner=alice, name="typo", channel="email", target="bob@example.com"
    )
    make_trade(pelosi)
    delivery = matched_delivery(subscription)
    assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert "permanent" in delivery.last_error and "550" in delivery.last_error


# --- Deleting a user ----------------------------------------------------------------------


def orphan_notifications() -> int:
    """Notifications whose subscription row is gone (possible: they carry no FK check)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM alerts_notification n WHERE NOT EXISTS ("
            " SELECT 1 FROM alerts_subscription s WHERE s.id = n.subscription_id)"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_deleting_a_user_deletes_their_subscriptions_notifications_and_deliveries(
    django_user_model, alice, pelosi
):
    bob = django_user_model.objects.create_user(username="bob", email="bob@example.com")
    for owner, mode in [(alice, "instant"), (bob, "instant"), (bob, "digest")]:
        services.subscription_create(
            owner=owner, name=f"{owner.username} {mode}", channel="email",
            target=owner.email, mode=mode, tickers=["AAPL"],
        )  # fmt: skip
    make_trade(pelosi)
    services.trades_match()
    assert Notification.objects.count() == 3 and Delivery.objects.count() == 2

    django_user_model.objects.filter(pk=bob.pk).delete()  # as the admin's bulk delete does

    assert list(Subscription.objects.values_list("owner__username", flat=True)) == ["alice"]
    assert set(Notification.objects.values_list("subscription__owner", flat=True)) == {alice.pk}
    assert set(Delivery.objects.values_list("subscription__owner", flat=True)) == {alice.pk}
    assert SubscriptionTicker.objects.count() == 1
    assert orphan_notifications() == 0


@pytest.mark.django_db(transaction=True)
def test_deleting_a_user_while_a_matching_batch_holds_their_subscription_leaves_no_orphan(
    django_user_model, pelosi
):
    """The race the lock is for (PostgreSQL; SQLite serialises writers): a matching batch
    holds the subscription ``FOR KEY SHARE`` and has inserted a notification, not committed
    yet, when the user is deleted. The delete must wait for it, then delete that notification
    too — a cascade that collects notifications first and only then waits on the subscription
    row leaves the batch's notification behind, pointing at a deleted subscription."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    bob = django_user_model.objects.create_user(username="bob", email="bob@example.com")
    subscription = services.subscription_create(
        owner=bob, name="all", channel="email", target=bob.email
    )
    make_trade(pelosi)
    services.trades_match()
    late_trade = make_trade(pelosi, ticker="NVDA", matched=True)
    held, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def matching_batch() -> None:  # the statements of trades_match, paused before commit
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM alerts_subscription WHERE id = %s FOR KEY SHARE",
                    [subscription.pk],
                )
                cursor.execute(
                    "INSERT INTO alerts_notification (subscription_id, trade_id, created_at) "
                    "VALUES (%s, %s, now())",
                    [subscription.pk, late_trade.pk],
                )
                held.set()
                release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            held.set()
            connection.close()

    def delete_user() -> None:
        try:
            django_user_model.objects.get(pk=bob.pk).delete()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    batch = threading.Thread(target=matching_batch)
    batch.start()
    assert held.wait(timeout=30)
    deleter = threading.Thread(target=delete_user)
    deleter.start()

    def deleter_waits_on_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0] > 0

    try:
        wait_until(deleter_waits_on_a_lock, timeout=20, what="the delete to wait for the batch")
    finally:
        release.set()
        batch.join(timeout=30)
        deleter.join(timeout=30)
    assert not errors, errors
    assert not Subscription.objects.filter(owner_id=bob.pk).exists()
    assert orphan_notifications() == 0
    assert Notification.objects.count() == 0


# --- The delivery lease outlasts alerts.deliver's hard time limit ---------------------------

BASE_DIR = Path(__file__).resolve().parents[2]
PRINT_DELIVER_LIMITS = (
    "import django, json; django.setup(); from alerts.tasks import deliver; "
    "print(json.dumps([deliver.time_limit, deliver.soft_time_limit]))"
)


def run_with_settings(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "capitolscope.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_shorter_lease_lowers_the_deliver_tasks_time_limits_to_fit_inside_it(tmp_path):
    result = run_with_settings(tmp_path, "-c", PRINT_DELIVER_LIMITS, ALERTS_DELIVERY_LEASE="30")
    assert result.returncode == 0, result.stderr
    hard, soft = json.loads(result.stdout)
    assert hard + 5 <= 30 and 0 < soft < hard


def test_a_lease_shorter_than_the_deliver_tasks_hard_limit_refuses_to_start(tmp_path):
    result = run_with_settings(
        tmp_path, "manage.py", "check", ALERTS_DELIVERY_LEASE="30", ALERTS_DELIVERY_TIME_LIMIT="90"
    )
    assert result.returncode != 0
    assert "ALERTS_DELIVERY_LEASE (30 s) must be at least ALERTS_DELIVERY_TIME_LIMIT (90 s" in (
        result.stderr
    )


def test_the_default_lease_outlasts_the_deliver_tasks_hard_limit(settings):
    assert deliver.time_limit + settings.ALERTS_DELIVERY_LEASE_MARGIN <= (
        settings.ALERTS_DELIVERY_LEASE
    )
    assert 0 < deliver.soft_time_limit < deliver.time_limit


def test_a_worker_with_a_short_lease_runs_deliver_within_it(alerts_worker):
    # The test worker's lease is 10 s (tests/alerts/conftest.py): its deliver task is limited
    # to fit, as the worker itself reports.
    replies = celery_app.control.inspect(destination=[alerts_worker.hostname], timeout=5)
    registered = replies.registered("time_limit", "soft_time_limit")[alerts_worker.hostname]
    [line] = [line for line in registered if line.startswith("alerts.deliver ")]
    assert line == "alerts.deliver [time_limit=5 soft_time_limit=3]"


# --- Webhooks: the send-time DNS lookup ------------------------------------------------------


class ScriptedResolver:
    """The system resolver, answering the test's own names (``*.test``) as the test says:
    nothing real here can make a DNS server slow or re-point a name between two lookups.
    Every other name (and every IP literal) goes to the real ``getaddrinfo``.

    ``answers[name]``: the addresses of the first lookups, one per lookup, the last one
    repeated; ``hanging``: names whose lookup does not answer until the test ends."""

    def __init__(self, real) -> None:
        self.real = real
        self.answers: dict[str, list[str]] = {}
        self.hanging: set[str] = set()
        self.lookups: list[str] = []
        self.released = threading.Event()

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if not str(host).endswith(".test"):
            return self.real(host, port, family, type, proto, flags)
        self.lookups.append(host)
        if host in self.hanging:
            self.released.wait(timeout=10)
        answers = self.answers.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        address = answers[min(self.lookups.count(host), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]


@pytest.fixture
def resolver(monkeypatch):
    yield from installed_resolver(monkeypatch, ScriptedResolver(socket.getaddrinfo))


def test_a_resolver_that_does_not_answer_in_time_is_a_transient_failure(
    alice, smtp_settings, resolver, pelosi
):
    smtp_settings.ALERTS_WEBHOOK_TIMEOUT = 0.3
    smtp_settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False  # the host is checked, so looked up
    resolver.hanging.add("slow-dns.test")
    resolver.answers["slow-dns.test"] = ["93.184.215.14"]
    subscription = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target="https://slow-dns.test/hook"
    )
    make_trade(pelosi)
    delivery = matched_delivery(subscription)

    outcome = services.delivery_send(delivery_id=delivery.pk)

    assert outcome.status == "retry"
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert "the webhook host slow-dns.test did not resolve within 0.3 s" in delivery.last_error


# --- Webhooks: connecting to the address that was checked (DNS rebinding) ---------------------


class InternalService:
    """Something on the internal network a webhook must never reach: a real HTTP server on
    127.0.0.2 (the test's stand-in for a private address), recording what reaches it."""

    def __init__(self, port: int) -> None:
        self.requests: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                service.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.2", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def only_127_0_0_1_is_public(monkeypatch):
    """The send-time address policy, with 127.0.0.1 (where the receiver listens) counted as
    public: no public address can be served here. Everything else stays private."""
    monkeypatch.setattr(channels, "_is_private", lambda address: address != "127.0.0.1")


def test_a_host_name_re_pointed_after_the_check_is_still_sent_to_the_checked_address(
    alice, smtp_settings, webhook_receiver, resolver, only_127_0_0_1_is_public, pelosi
):
    # The name answers the public address to the check, then the internal one: a second
    # lookup when connecting would reach the internal service.
    smtp_settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    internal = InternalService(webhook_receiver.port)
    resolver.answers["hooks.rebind.test"] = ["127.0.0.1", "127.0.0.2"]
    try:
        subscription = services.subscription_create(
            owner=alice, name="hook", channel="webhook",
            target=f"http://hooks.rebind.test:{webhook_receiver.port}/hooks/alice",
        )  # fmt: skip
        webhook_receiver.secrets["alice"] = subscription.signing_secret
        make_trade(pelosi)
        delivery = matched_delivery(subscription)

        outcome = services.delivery_send(delivery_id=delivery.pk)
    finally:
        internal.stop()

    assert internal.requests == []
    assert outcome.status == "sent"
    assert webhook_receiver.verified == [("alice", str(delivery.pk))]
    [request] = webhook_receiver.requests
    assert request.headers["host"] == f"hooks.rebind.test:{webhook_receiver.port}"
    assert resolver.lookups == ["hooks.rebind.test"]  # looked up once, by the check


def _certificate_authority(tmp_path: Path, *, server_name: str) -> tuple[Path, Path]:
    """A CA (its certificate, to trust) and a server certificate for ``server_name`` it
    signed (certificate and key in one PEM file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("Test CA", "Test CA", ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(server_name, "Test CA", key.public_key(), ca_key, ca=False, san=server_name)
    ca_path, server_path = tmp_path / "ca.pem", tmp_path / "server.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, server_path


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """The webhook receiver behind TLS with a certificate for ``hooks.tls.test`` from a CA
    the sender trusts (``REQUESTS_CA_BUNDLE``); ``server_names`` records the SNI it got."""
    ca_path, server_path = _certificate_authority(tmp_path, server_name="hooks.tls.test")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_path))
    receiver = WebhookReceiver()
    receiver.server_names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_path)
    context.sni_callback = lambda _sock, name, _context: receiver.server_names.append(name)
    receiver._server.socket = context.wrap_socket(receiver._server.socket, server_side=True)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def hook_to(alice, url: str, receiver) -> Subscription:
    subscription = services.subscription_create(
        owner=alice, name="hook", channel="webhook", target=url
    )
    receiver.secrets["alice"] = subscription.signing_secret
    return subscription


def test_an_https_webhook_to_the_checked_address_verifies_the_certificate_of_its_name(
    alice, smtp_settings, tls_receiver, resolver, only_127_0_0_1_is_public, pelosi
):
    smtp_settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    resolver.answers["hooks.tls.test"] = ["127.0.0.1", "127.0.0.2"]
    subscription = hook_to(
        alice, f"https://hooks.tls.test:{tls_receiver.port}/hooks/alice", tls_receiver
    )
    make_trade(pelosi)
    delivery = matched_delivery(subscription)

    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
    assert tls_receiver.verified == [("alice", str(delivery.pk))]
    assert tls_receiver.server_names == ["hooks.tls.test"]  # SNI: the name, not the address
    [request] = tls_receiver.requests
    assert request.headers["host"] == f"hooks.tls.test:{tls_receiver.port}"


def test_an_https_webhook_whose_certificate_is_for_another_name_is_not_sent(
    alice, smtp_settings, tls_receiver, resolver, pelosi
):
    # Connecting to the checked address must not skip the certificate check: the receiver's
    # certificate is for hooks.tls.test, not for this name.
    resolver.answers["other.tls.test"] = ["127.0.0.1"]
    subscription = hook_to(
        alice, f"https://other.tls.test:{tls_receiver.port}/hooks/alice", tls_receiver
    )
    make_trade(pelosi)
    delivery = matched_delivery(subscription)

    assert services.delivery_send(delivery_id=delivery.pk).status == "retry"
    error = Delivery.objects.get(pk=delivery.pk).last_error
    assert f"the TLS handshake with the webhook at other.tls.test:{tls_receiver.port}" in error
    assert tls_receiver.requests == []


# --- Webhooks: a total deadline for the answer ------------------------------------------------


class TricklingServer:
    """A real TCP server answering every request with ``head`` at once, then ``trickle`` one
    byte at a time, ``interval`` seconds apart: each read gets a byte well within the
    per-read timeout, the whole answer takes far longer than the webhook timeout."""

    def __init__(self, *, head: bytes, trickle: bytes, interval: float = 0.05) -> None:
        self.head, self.trickle, self.interval = head, trickle, interval
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection_, _ = self.listener.accept()
            except OSError:
                return  # stopped
            threading.Thread(target=self._answer, args=(connection_,), daemon=True).start()

    def _answer(self, sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):  # the client hung up: done
            received = b""
            while b"\r\n\r\n" not in received:
                received += sock.recv(65536) or b"\r\n\r\n"
            self.requests += 1
            sock.sendall(self.head)
            for byte in self.trickle:
                sock.sendall(bytes([byte]))
                time.sleep(self.interval)

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture
def trickling_server():
    servers: list[TricklingServer] = []

    def start(**kwargs) -> TricklingServer:
        servers.append(TricklingServer(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize(
    ("head", "trickle"),
    [
        # The status line and headers, a byte at a time (the last byte after ~3 s).
        (b"", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Padding: " + b"." * 40 + b"\r\n\r\n"),
        # A 400 whose body never seems to end (~3 s): its excerpt is not worth the wait.
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 60\r\n\r\n", b"x" * 60),
    ],
    ids=["headers", "error-body"],
)
def test_an_answer_that_trickles_in_is_cut_off_at_the_webhook_timeout_and_retried(
    alice, smtp_settings, trickling_server, pelosi, head, trickle
):
    smtp_settings.ALERTS_WEBHOOK_TIMEOUT = 0.5
    server = trickling_server(head=head, trickle=trickle)
    subscription = services.subscription_create(
        owner=alice, name="hook", channel="webhook",
        target=f"http://127.0.0.1:{server.port}/hooks/alice",
    )  # fmt: skip
    make_trade(pelosi)
    delivery = matched_delivery(subscription)

    outcome = services.delivery_send(delivery_id=delivery.pk)

    assert server.requests == 1
    assert outcome.status == "retry"
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert "timed out: no complete answer within 0.5 s" in delivery.last_error
