"""API tokens: stored hashed, verified, revoked, expired; the trigger rate limit; commands."""

from __future__ import annotations

import datetime as dt
import uuid
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from monitoring.models import ApiToken
from monitoring.tokens import (
    LAST_USED_RESOLUTION,
    Rate,
    RateLimited,
    TokenError,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    rate_limit_hit,
    rate_parse,
    token_hash,
)

pytestmark = pytest.mark.django_db


def test_the_database_never_contains_the_token_or_its_secret(staff_user):
    created = api_token_create(user=staff_user, name="prometheus")
    secret_part = created.secret[len("cs_0123456789_") :]  # the secret may contain "_"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM monitoring_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert created.secret not in stored
    assert secret_part not in stored
    row = ApiToken.objects.get()
    assert row.key_hash == token_hash(created.secret)
    assert created.secret.startswith(f"cs_{row.prefix}_")
    assert len(secret_part) >= 40  # 256 bits, URL-safe base64


def test_a_fresh_token_authenticates_as_its_staff_user_and_records_its_use(staff_user):
    created = api_token_create(user=staff_user, name="script")
    token = api_token_authenticate(created.secret)
    assert token.user == staff_user
    assert ApiToken.objects.get().last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(staff_user):
    created = api_token_create(user=staff_user, name="script")
    start = timezone.now()
    api_token_authenticate(created.secret, now=start)
    api_token_authenticate(created.secret, now=start + dt.timedelta(seconds=30))
    assert ApiToken.objects.get().last_used_at == start
    later = start + LAST_USED_RESOLUTION
    api_token_authenticate(created.secret, now=later)
    assert ApiToken.objects.get().last_used_at == later


@pytest.mark.parametrize(
    "mangle",
    [
        lambda text: text[:-1] + ("A" if text[-1] != "A" else "B"),  # wrong secret
        lambda text: "cs_0000000000_" + text[len("cs_0123456789_") :],  # unknown prefix
        lambda text: "not-a-token",
        lambda text: "",
    ],
    ids=["wrong-secret", "unknown-prefix", "garbage", "empty"],
)
def test_a_wrong_token_is_refused_with_401(staff_user, mangle):
    created = api_token_create(user=staff_user, name="script")
    with pytest.raises(TokenError) as caught:
        api_token_authenticate(mangle(created.secret))
    assert caught.value.status == 401


def test_a_revoked_token_is_refused(staff_user):
    created = api_token_create(user=staff_user, name="script")
    assert api_token_revoke(token=created.token) is True
    assert api_token_revoke(token=created.token) is False
    with pytest.raises(TokenError, match="revoked") as caught:
        api_token_authenticate(created.secret)
    assert caught.value.status == 401


def test_an_expired_token_is_refused(staff_user):
    expires = timezone.now() + dt.timedelta(hours=1)
    created = api_token_create(user=staff_user, name="script", expires_at=expires)
    api_token_authenticate(created.secret, now=expires - dt.timedelta(seconds=1))
    with pytest.raises(TokenError, match="expired") as caught:
        api_token_authenticate(created.secret, now=expires)
    assert caught.value.status == 401


def test_a_token_whose_user_lost_staff_or_was_deactivated_is_forbidden(staff_user):
    created = api_token_create(user=staff_user, name="script")
    staff_user.is_staff = False
    staff_user.save()
    with pytest.raises(TokenError, match="not staff") as caught:
        api_token_authenticate(created.secret)
    assert caught.value.status == 403
    staff_user.is_staff, staff_user.is_active = True, False
    staff_user.save()
    with pytest.raises(TokenError, match="inactive") as caught:
        api_token_authenticate(created.secret)
    assert caught.value.status == 403


def test_tokens_are_only_made_for_active_staff_with_a_name_and_a_future_expiry(
    staff_user, plain_user
):
    with pytest.raises(ValueError, match="not an active staff member"):
        api_token_create(user=plain_user, name="x")
    with pytest.raises(ValueError, match="needs a name"):
        api_token_create(user=staff_user, name="  ")
    with pytest.raises(ValueError, match="in the past"):
        api_token_create(
            user=staff_user, name="x", expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/m", Rate(10, 60)),
        ("1/s", Rate(1, 1)),
        ("100/h", Rate(100, 3600)),
        ("5/d", Rate(5, 86400)),
    ],
)
def test_rates_are_read_as_count_per_unit(text, rate):
    assert rate_parse(text) == rate


@pytest.mark.parametrize("text", ["10", "0/m", "x/m", "10/week", "-1/m", "10/"])
def test_a_bad_rate_names_the_setting(text):
    with pytest.raises(ImproperlyConfigured, match="API_TRIGGER_RATE"):
        rate_parse(text)


def test_the_rate_limit_refuses_the_hit_past_the_rate_with_the_seconds_to_wait():
    key = f"test:{uuid.uuid4().hex}"
    rate = Rate(3, 3600)
    with time_machine.travel(dt.datetime(2026, 11, 23, 10, 0, 0, tzinfo=dt.UTC), tick=False):
        assert [rate_limit_hit(key=key, rate=rate) for _ in range(3)] == [1, 2, 3]
        with pytest.raises(RateLimited) as caught:
            rate_limit_hit(key=key, rate=rate)
    assert 1 <= caught.value.retry_after <= 3600
    # Another caller has its own budget.
    assert rate_limit_hit(key=f"{key}-other", rate=rate) == 1


def test_the_rate_limit_window_starts_again_after_its_length():
    key = f"test:{uuid.uuid4().hex}"
    rate = Rate(1, 60)
    with time_machine.travel(dt.datetime(2026, 11, 23, 10, 0, 5, tzinfo=dt.UTC), tick=False):
        rate_limit_hit(key=key, rate=rate)
        with pytest.raises(RateLimited):
            rate_limit_hit(key=key, rate=rate)
    with time_machine.travel(dt.datetime(2026, 11, 23, 10, 1, 5, tzinfo=dt.UTC), tick=False):
        assert rate_limit_hit(key=key, rate=rate) == 1


def test_create_api_token_prints_the_token_once_and_stores_only_its_hash(staff_user):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", user="olivia", name="prometheus", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    row = ApiToken.objects.get()
    assert secret.startswith(f"cs_{row.prefix}_")
    assert secret not in err.getvalue()
    assert "shown once" in err.getvalue()
    assert row.key_hash == token_hash(secret)
    assert api_token_authenticate(secret).user == staff_user


def test_create_api_token_refuses_a_user_who_is_not_staff(plain_user):
    with pytest.raises(CommandError, match="not an active staff member"):
        call_command("create_api_token", user="paul", name="x", stdout=StringIO())
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("create_api_token", user="nobody", name="x", stdout=StringIO())


def test_create_api_token_sets_an_expiry_in_days(staff_user):
    call_command(
        "create_api_token",
        user="olivia",
        name="ci",
        expires_days=30,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    expires = ApiToken.objects.get().expires_at
    assert dt.timedelta(days=29, hours=23) < expires - timezone.now() <= dt.timedelta(days=30)


def test_revoke_api_token_takes_the_prefix_or_the_whole_token(staff_user):
    first = api_token_create(user=staff_user, name="one")
    second = api_token_create(user=staff_user, name="two")
    out = StringIO()
    call_command("revoke_api_token", first.token.prefix, stdout=out)
    call_command("revoke_api_token", second.secret, stdout=out)
    call_command("revoke_api_token", second.token.prefix, stdout=out)
    assert "already revoked" in out.getvalue()
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0
    with pytest.raises(CommandError, match="no API token"):
        call_command("revoke_api_token", "ffffffffff", stdout=out)
