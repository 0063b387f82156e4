"""A webhook send stays within three ALERTS_WEBHOOK_TIMEOUTs (lookup, connection, answer),
however many addresses its host name has, and ``manage.py check`` warns when the deliver task's
soft time limit is shorter than that.

Unreachable addresses are real: loopback listening sockets whose accept queue is full, so a
connection attempt to them hangs until its timeout, as one to a host that drops packets does.
Only getaddrinfo is replaced (no DNS server here), for names ending in ``.test``.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.core import management
from django.core.management.base import SystemCheckError

from alerts import checks, services
from alerts.models import Delivery
from tests.alerts.conftest import installed_resolver, make_trade

pytestmark = pytest.mark.django_db


class MultiAddressResolver:
    """getaddrinfo answering every address in ``answers[host]`` for ``*.test`` names."""

    def __init__(self, real) -> None:
        self.real = real
        self.answers: dict[str, list[str]] = {}
        self.released = threading.Event()

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if not str(host).endswith(".test"):
            return self.real(host, port, family, type, proto, flags)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))
            for address in self.answers[host]
        ]


@pytest.fixture
def resolver(monkeypatch):
    yield from installed_resolver(monkeypatch, MultiAddressResolver(socket.getaddrinfo))


@pytest.fixture
def unreachable_port():
    """A port on 127.0.0.3-127.0.0.8 where connecting hangs: each address has a listening
    socket (backlog 0) whose one queue slot is taken by a connection never accepted."""
    listeners, fillers = [], []
    port = None
    try:
        for n in range(3, 9):
            listener = socket.socket()
            listener.bind((f"127.0.0.{n}", port or 0))
            listener.listen(0)
            port = listener.getsockname()[1]
            filler = socket.create_connection((f"127.0.0.{n}", port), timeout=2)
            listeners.append(listener)
            fillers.append(filler)
        yield port
    finally:
        for sock in fillers + listeners:
            sock.close()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


def test_a_name_with_many_unreachable_addresses_is_given_up_within_one_connect_timeout(
    alice, smtp_settings, resolver, unreachable_port, pelosi
):
    smtp_settings.ALERTS_WEBHOOK_TIMEOUT = 0.5
    resolver.answers["hooks.many.test"] = [f"127.0.0.{n}" for n in range(3, 9)]
    subscription = services.subscription_create(
        owner=alice,
        name="hook",
        channel="webhook",
        target=f"http://hooks.many.test:{unreachable_port}/hooks/alice",
    )
    make_trade(pelosi)
    [delivery_id] = services.trades_match().delivery_ids

    started = time.monotonic()
    outcome = services.delivery_send(delivery_id=delivery_id)
    took = time.monotonic() - started

    assert outcome.status == "retry"
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.subscription == subscription and delivery.status == "pending"
    assert f"the webhook at hooks.many.test:{unreachable_port} timed out after 0.5 s" in (
        delivery.last_error
    )
    # Six addresses at 0.5 s each would take 3 s; all together get one 0.5 s budget.
    assert took < 2.0, took


def test_an_unreachable_first_address_leaves_time_to_deliver_to_the_next(
    alice, smtp_settings, resolver, webhook_receiver, pelosi
):
    """The name's first address drops packets (a dead node in a round-robin); the second is
    the real receiver. The budget is shared, so the second still gets its try, and the TLS or
    request write is not left with the scraps of it."""
    smtp_settings.ALERTS_WEBHOOK_TIMEOUT = 2.0
    port = webhook_receiver.port
    dead = socket.socket()
    dead.bind(("127.0.0.3", port))  # same port, another loopback address
    dead.listen(0)
    filler = socket.create_connection(("127.0.0.3", port), timeout=2)
    resolver.answers["hooks.round-robin.test"] = ["127.0.0.3", "127.0.0.1"]
    try:
        subscription = services.subscription_create(
            owner=alice,
            name="hook",
            channel="webhook",
            target=f"http://hooks.round-robin.test:{port}/hooks/alice",
        )
        webhook_receiver.secrets["alice"] = subscription.signing_secret
        make_trade(pelosi)
        [delivery_id] = services.trades_match().delivery_ids

        started = time.monotonic()
        outcome = services.delivery_send(delivery_id=delivery_id)
        took = time.monotonic() - started
    finally:
        filler.close()
        dead.close()

    assert outcome.status == "sent", Delivery.objects.get(pk=delivery_id).last_error
    assert webhook_receiver.verified == [("alice", str(delivery_id))]
    assert 0.5 < took < 2.0, took  # half the budget spent on the dead address, not all of it


def test_the_check_warns_when_the_soft_limit_is_shorter_than_a_slow_webhook_send(settings):
    settings.ALERTS_WEBHOOK_TIMEOUT = 10.0
    settings.ALERTS_DELIVERY_SOFT_TIME_LIMIT = 60
    assert checks.check_delivery_time_limits() == []

    settings.ALERTS_DELIVERY_SOFT_TIME_LIMIT = 20
    [warning] = checks.check_delivery_time_limits()
    assert warning.id == "alerts.W001"
    assert "ALERTS_DELIVERY_SOFT_TIME_LIMIT (20 s)" in warning.msg
    assert "3 x ALERTS_WEBHOOK_TIMEOUT = 30 s" in warning.msg
    # Registered: manage.py check reports it (as a warning: it does not stop anything).
    settings.SILENCED_SYSTEM_CHECKS = []
    with pytest.raises(SystemCheckError, match=r"alerts\.W001"):
        management.call_command("check", fail_level="WARNING")
