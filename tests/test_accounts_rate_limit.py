"""Rate limits on the account pages that send email (sign-up, confirmation resend, password
reset): per address and per client IP, counted in a real Redis, mail read at a real SMTP
server. The limit must not tell whether an address is registered."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client

from capitolscope.broker import free_port
from capitolscope.celery import app as celery_app
from capitolscope.locks import redis_client
from tests import smtpinbox
from tests.test_accounts import (
    RESEND,
    RESET,
    SIGNUP,
    SITE_URL,
    new_inactive_user,
    send_queued_emails,
    signup_data,
)

# Transactions, so the pages' on-commit hooks queue their emails (see tests/test_accounts.py).
pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent
# Mid-window, so a fixed hourly window cannot roll over during a test.
MID_HOUR = dt.datetime(2026, 11, 2, 9, 20, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_counters():
    client = redis_client()
    for key in client.scan_iter("capitolscope:api:rate:accounts.email*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _empty_queues():
    celery_app.control.purge()


@pytest.fixture(autouse=True)
def _mid_hour():
    with time_machine.travel(MID_HOUR):
        yield


@pytest.fixture
def smtp(settings):
    with smtpinbox.running_inbox(settings, SITE_URL=SITE_URL) as inbox:
        yield inbox


def recipients(inbox) -> list[list[str]]:
    """Who got mail so far, once the emails the pages queued have been sent."""
    send_queued_emails()
    return [rcpt for rcpt, _ in inbox.messages]


def test_resend_beyond_the_per_address_rate_is_429_and_sends_nothing(client, smtp, settings):
    settings.ACCOUNTS_EMAIL_RATE = "2/h"
    new_inactive_user(email="rita@example.org")
    for address in ("rita@example.org", "RITA@example.org"):
        assert client.post(RESEND, {"email": address}).status_code == 200
    assert recipients(smtp) == [["rita@example.org"]] * 2

    refused = client.post(RESEND, {"email": "Rita@Example.org"})
    assert refused.status_code == 429
    assert b"try again later" in refused.content
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert recipients(smtp) == [["rita@example.org"]] * 2
    # Another address is not held back by this one's count.
    assert client.post(RESEND, {"email": "other@example.org"}).status_code == 200


def test_the_limit_answers_the_same_for_a_registered_and_an_unknown_address(
    client, smtp, settings, plain_user
):
    settings.ACCOUNTS_EMAIL_RATE = "1/h"
    new_inactive_user(email="rita@example.org")
    for url in (RESEND, RESET):
        for known, unknown in (
            ("rita@example.org", "nobody@example.org"),
            ("paul@example.com", "nobody-else@example.org"),
        ):
            answers = [
                (response.status_code, response.content, response.get("Retry-After"))
                for response in (
                    client.post(url, {"email": address}) for address in (known, unknown) * 2
                )
            ]
            under, under_unknown, over, over_unknown = answers
            assert under[0] in (200, 302) and over[0] == 429
            assert under == under_unknown and over == over_unknown
        for key in redis_client().scan_iter("capitolscope:api:rate:accounts.email*"):
            redis_client().delete(key)
    # Only the under-limit requests to registered addresses were mailed.
    assert sorted(recipients(smtp)) == [
        ["paul@example.com"],
        ["rita@example.org"],
    ]


def test_requests_beyond_the_per_ip_rate_are_429_whatever_the_address(smtp, settings, plain_user):
    settings.ACCOUNTS_EMAIL_IP_RATE = "3/h"
    settings.ACCOUNTS_EMAIL_RATE = "100/h"
    noisy = Client(REMOTE_ADDR="203.0.113.7")
    addresses = ["paul@example.com", "a@example.org", "b@example.org", "Paul@example.com"]
    statuses = [noisy.post(RESET, {"email": address}).status_code for address in addresses]
    assert statuses == [302, 302, 302, 429]
    assert recipients(smtp) == [["paul@example.com"]]

    # The same address from another client is still served.
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert other.post(RESET, {"email": "paul@example.com"}).status_code == 302
    assert recipients(smtp) == [["paul@example.com"]] * 2


def test_behind_our_proxy_the_client_ip_is_the_last_forwarded_address(smtp, settings):
    """Behind the reverse proxy every request has the proxy's REMOTE_ADDR: with
    CLIENT_IP_FROM_X_FORWARDED_FOR the limit is per client (the entry our proxy appended),
    and a forged earlier entry does not buy a fresh budget."""
    settings.CLIENT_IP_FROM_X_FORWARDED_FOR = True
    settings.ACCOUNTS_EMAIL_IP_RATE = "2/h"
    settings.ACCOUNTS_EMAIL_RATE = "100/h"

    def post(forwarded: str, address: str) -> int:
        client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
        return client.post(RESET, {"email": address}).status_code

    assert post("203.0.113.7", "a@example.org") == 302
    assert post("1.2.3.4, 203.0.113.7", "b@example.org") == 302  # forged first entry
    assert post("5.6.7.8, 203.0.113.7", "c@example.org") == 429
    assert post("198.51.100.9", "d@example.org") == 302  # another client, same proxy


def test_sign_up_beyond_the_per_address_rate_is_429_and_creates_nothing(client, smtp, settings):
    settings.ACCOUNTS_EMAIL_RATE = "1/h"
    assert client.post(SIGNUP, signup_data()).status_code == 302
    refused = client.post(SIGNUP, signup_data(username="rita2", email="RITA@example.org"))
    assert refused.status_code == 429 and b"try again later" in refused.content
    assert recipients(smtp) == [["rita@example.org"]]
    # The first sign-up was neither replaced nor joined by a second account.
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["rita"]


def test_an_invalid_sign_up_form_does_not_count(client, smtp, settings):
    settings.ACCOUNTS_EMAIL_RATE = "1/h"
    invalid = signup_data(email="rita@")
    assert client.post(SIGNUP, invalid).status_code == 200
    assert client.post(SIGNUP, signup_data()).status_code == 302
    assert recipients(smtp) == [["rita@example.org"]]


@pytest.fixture
def dead_redis(settings):
    """REDIS_URL pointing at a closed port (the client is cached: drop it both ways)."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    redis_client.cache_clear()
    yield
    redis_client.cache_clear()


def test_with_redis_unreachable_mail_is_sent_and_a_warning_logged(
    client, smtp, settings, caplog, dead_redis
):
    settings.ACCOUNTS_EMAIL_RATE = "1/h"
    new_inactive_user(email="rita@example.org")
    with caplog.at_level(logging.WARNING, logger="capitolscope.accounts"):
        statuses = [client.post(RESEND, {"email": "rita@example.org"}).status_code for _ in "ab"]
    assert statuses == [200, 200]
    assert recipients(smtp) == [["rita@example.org"]] * 2
    assert "rate limit not applied" in caplog.text


@pytest.mark.parametrize("name", ["ACCOUNTS_EMAIL_RATE", "ACCOUNTS_EMAIL_IP_RATE"])
def test_a_malformed_rate_stops_the_start_naming_the_setting(name, tmp_path):
    env = {**os.environ, name: "5/hour", "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and f"{name}='5/hour'" in result.stderr
