"""API tokens (create, verify, revoke) and the per-caller rate limit of job triggers.

A token reads ``cs_<prefix>_<secret>``. The prefix (hex, not secret) finds the row; only the
SHA-256 of the whole token is stored, so the database never holds anything that would let
somebody call the API. SHA-256 without a salt is enough here: the secret has 256 bits of
entropy, so there is nothing to brute-force (unlike a password).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.models import ApiToken

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "cs_"  # noqa: S105 - the marker of our tokens, not a secret
PREFIX_BYTES = 5  # 10 hex characters: unique within the table, short enough to quote
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


class TokenError(Exception):
    """A token that cannot be used; ``status`` is 401 (not a valid token) or 403 (not allowed)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the full token text: shown once, never stored


def token_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def api_token_create(
    *,
    user: AbstractBaseUser,
    name: str,
    expires_at: dt.datetime | None = None,
) -> NewToken:
    """Create a token acting as ``user`` (an active staff member) and return its text once."""
    name = (name or "").strip()
    if not name:
        raise ValueError("a token needs a name saying what uses it (e.g. 'prometheus')")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValueError("the token name is longer than 100 characters")
    if not (user.is_active and user.is_staff):
        raise ValueError(f"user {user.get_username()!r} is not an active staff member")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("the expiry date is in the past")
    for _attempt in range(5):
        prefix = secrets.token_hex(PREFIX_BYTES)
        text = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    name=name,
                    user=user,
                    prefix=prefix,
                    key_hash=token_hash(text),
                    expires_at=expires_at,
                )
        except IntegrityError:  # a prefix collision: pick another
            continue
        logger.info("API token %s (%s) created for %s", prefix, name, user.get_username())
        return NewToken(token=token, secret=text)
    raise RuntimeError("could not find a free token prefix")


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revoke the token; False when it already was."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        logger.info("API token %s (%s) revoked", token.prefix, token.name)
    token.refresh_from_db(fields=["revoked_at"])
    return bool(updated)


def split_token(text: str) -> str | None:
    """The prefix of a well-formed token text, else None."""
    if not text.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, secret = text[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not secret or len(prefix) != PREFIX_BYTES * 2:
        return None
    if any(char not in "0123456789abcdef" for char in prefix):
        return None
    return prefix


def api_token_authenticate(text: str, *, now: dt.datetime | None = None) -> ApiToken:
    """The token row for a bearer token text, with its user; raises TokenError.

    401 for anything that is not a usable token (unknown, wrong secret, revoked, expired);
    403 when the token is fine but its user may not use the API (inactive or not staff).
    """
    now = now or timezone.now()
    prefix = split_token(text.strip())
    token = (
        ApiToken.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
    )
    # Compare even when there is no row, so a miss and a wrong secret take the same time.
    expected = token.key_hash if token else token_hash("")
    if not hmac.compare_digest(token_hash(text.strip()), expected) or token is None:
        raise TokenError("invalid token")
    if token.revoked_at is not None:
        raise TokenError("token revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenError("token expired")
    user = token.user
    if not user.is_active:
        raise TokenError("the token's user is inactive", status=403)
    if not user.is_staff:
        raise TokenError("the token's user is not staff", status=403)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- Rate limit ----------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count} per {self.seconds} s"


def rate_parse(text: str, *, setting: str = "API_TRIGGER_RATE") -> Rate:
    """``"10/m"`` → Rate(10, 60). Units: s, m, h, d."""
    count, sep, unit = text.strip().partition("/")
    if not sep or not count.strip().isdigit() or int(count) < 1 or unit.strip() not in _UNITS:
        raise ImproperlyConfigured(
            f"{setting}={text!r} must read N/unit with N ≥ 1 and unit s, m, h or d (e.g. 10/m)"
        )
    return Rate(count=int(count), seconds=_UNITS[unit.strip()])


class RateLimited(Exception):
    def __init__(self, retry_after: int, rate: Rate) -> None:
        super().__init__(f"rate limit of {rate} exceeded; retry in {retry_after} s")
        self.retry_after = retry_after
        self.rate = rate


def rate_limit_hit(*, key: str, rate: Rate | None = None, client=None) -> int:
    """Count one hit for ``key`` in the current fixed window; raise RateLimited over the rate.

    The counter lives in Redis (INCR with a TTL), so every web process shares it. Returns
    the hits so far in this window.
    """
    from capitolscope.locks import redis_client

    rate = rate or rate_parse(settings.API_TRIGGER_RATE)
    client = client or redis_client()
    window = int(time.time() // rate.seconds)
    name = f"capitolscope:api:rate:{key}:{rate.seconds}:{window}"
    pipe = client.pipeline()
    pipe.incr(name)
    pipe.ttl(name)
    hits, ttl = pipe.execute()
    if ttl < 0:  # new key (or one a crash left without expiry)
        client.expire(name, rate.seconds)
        ttl = rate.seconds
    if hits > rate.count:
        raise RateLimited(max(1, math.ceil(ttl)), rate)
    return hits
