"""Alerts: writing subscriptions, matching new trades, creating and sending deliveries.

Subscription functions take plain values (lists of strings, politician ids) so forms, the
admin, commands and benchmarks all go through the same validation and keep the child tables
(tickers) and the denormalised filter flags consistent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.models import (
    CHAMBERS,
    OWNERS,
    PARTIES,
    TRANSACTION_TYPES,
    Delivery,
    Notification,
    Subscription,
    SubscriptionTicker,
    new_signing_secret,
)
from ingestion.models import Asset, Politician, Trade

logger = logging.getLogger(__name__)
_UNSET: Any = object()
# Per-connection scratch table holding one matching batch's (subscription, trade) pairs.
MATCH_TABLE = "alerts_match_batch"
TICKER_MAX_LENGTH = 12
MAX_TICKERS = 200
MAX_POLITICIANS = 200


# --- Subscriptions ------------------------------------------------------------------------


def _clean_tickers(tickers: Iterable[str]) -> list[str]:
    cleaned: set[str] = set()
    bad = []
    for raw in tickers:
        ticker = str(raw).strip().upper().lstrip("$")
        if not ticker:
            continue
        if len(ticker) > TICKER_MAX_LENGTH or not all(c.isalnum() or c in ".-/" for c in ticker):
            bad.append(str(raw))
        else:
            cleaned.add(ticker)
    if bad:
        raise ValidationError(
            {"tickers": f"not a ticker symbol: {', '.join(repr(b) for b in bad)}"}
        )
    if len(cleaned) > MAX_TICKERS:
        raise ValidationError({"tickers": f"at most {MAX_TICKERS} tickers per subscription"})
    return sorted(cleaned)


def _clean_politician_ids(politician_ids: Iterable[int | str]) -> list[int]:
    try:
        ids = sorted({int(pk) for pk in politician_ids})
    except (TypeError, ValueError):
        raise ValidationError({"politicians": "politician ids must be integers"}) from None
    if len(ids) > MAX_POLITICIANS:
        raise ValidationError(
            {"politicians": f"at most {MAX_POLITICIANS} politicians per subscription"}
        )
    found = set(Politician.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError(
            {"politicians": f"no politician with id {', '.join(map(str, missing))}"}
        )
    return ids


def _masks(**sets: Iterable[str] | None) -> dict[str, int]:
    errors: dict[str, str] = {}
    masks: dict[str, int] = {}
    by_field = {fs.field: fs for fs in (CHAMBERS, PARTIES, TRANSACTION_TYPES, OWNERS)}
    for field, values in sets.items():
        if values is None or values is _UNSET:
            continue
        try:
            masks[field] = by_field[field].mask(values)
        except ValueError as exc:
            errors[field] = str(exc)
    if errors:
        raise ValidationError(errors)
    return masks


def _check_scalars(
    *, name: Any, min_amount: Any, channel: Any, mode: Any, target: Any
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if name is not _UNSET and (not str(name).strip() or len(str(name).strip()) > 100):
        errors["name"] = "a name of 1 to 100 characters is required"
    if min_amount not in (_UNSET, None) and (
        isinstance(min_amount, bool) or not isinstance(min_amount, int) or min_amount < 0
    ):
        errors["min_amount"] = "the minimum amount must be a whole number of dollars ≥ 0"
    if channel is not _UNSET and channel not in Subscription.Channel.values:
        errors["channel"] = f"unknown channel {channel!r} (allowed: email, webhook)"
    if mode is not _UNSET and mode not in Subscription.Mode.values:
        errors["mode"] = f"unknown mode {mode!r} (allowed: instant, digest)"
    if target is not _UNSET and (not str(target).strip() or len(str(target).strip()) > 500):
        errors["target"] = "a target (email address or webhook URL) of at most 500 characters"
    return errors


def _check_target(*, channel: str, target: str) -> None:
    """The target must fit the channel: a valid address for email, an http(s) URL for webhooks.

    Private-network webhook targets are checked here too (and again at send time).
    """
    from alerts.channels import webhook_url_problem  # channels import models only

    if channel == Subscription.Channel.EMAIL:
        from django.core.validators import validate_email

        try:
            validate_email(target)
        except ValidationError:
            raise ValidationError({"target": f"{target!r} is not a valid email address"}) from None
    else:
        problem = webhook_url_problem(target, resolve=False)
        if problem:
            raise ValidationError({"target": problem})


def subscription_set_tickers(*, subscription: Subscription, tickers: Iterable[str]) -> list[str]:
    """Replace the subscription's ticker filter (empty = any ticker); returns the stored set."""
    cleaned = _clean_tickers(tickers)
    with transaction.atomic():
        SubscriptionTicker.objects.filter(subscription=subscription).exclude(
            ticker__in=cleaned
        ).delete()
        SubscriptionTicker.objects.bulk_create(
            [SubscriptionTicker(subscription=subscription, ticker=t) for t in cleaned],
            ignore_conflicts=True,
        )
        Subscription.objects.filter(pk=subscription.pk).update(has_ticker_filter=bool(cleaned))
    subscription.has_ticker_filter = bool(cleaned)
    return cleaned


def subscription_set_politicians(
    *, subscription: Subscription, politician_ids: Iterable[int | str]
) -> list[int]:
    """Replace the subscription's politician filter (empty = any politician)."""
    ids = _clean_politician_ids(politician_ids)
    with transaction.atomic():
        subscription.politicians.set(ids)
        Subscription.objects.filter(pk=subscription.pk).update(has_politician_filter=bool(ids))
    subscription.has_politician_filter = bool(ids)
    return ids


def subscription_sync_filter_flags(*, subscription: Subscription) -> None:
    """Recompute ``has_politician_filter`` / ``has_ticker_filter`` from the child tables
    (for writers that changed them directly, e.g. the admin's many-to-many widget)."""
    subscription.has_politician_filter = subscription.politicians.exists()
    subscription.has_ticker_filter = subscription.tickers.exists()
    Subscription.objects.filter(pk=subscription.pk).update(
        has_politician_filter=subscription.has_politician_filter,
        has_ticker_filter=subscription.has_ticker_filter,
    )


def subscription_create(
    *,
    owner,
    name: str,
    channel: str,
    target: str,
    mode: str = Subscription.Mode.INSTANT,
    politician_ids: Sequence[int | str] = (),
    tickers: Sequence[str] = (),
    chambers: Sequence[str] = (),
    parties: Sequence[str] = (),
    transaction_types: Sequence[str] = (),
    owners: Sequence[str] = (),
    min_amount: int | None = None,
    late_only: bool = False,
    active: bool = True,
) -> Subscription:
    """Create a subscription for ``owner`` (a user) and return it.

    - ``channel``: ``"email"`` or ``"webhook"``; ``target``: the email address or the http(s)
      webhook URL. A webhook gets a new random ``signing_secret``.
    - ``mode``: ``"instant"`` or ``"digest"`` (one message a day).
    - Filters (each empty = any): ``politician_ids`` (ids of ``ingestion.Politician``),
      ``tickers`` (symbols, case-insensitive, "$" allowed), ``chambers`` (``Chamber`` values:
      house, senate), ``parties`` (``Politician.Party`` values: D, R, I, "" = unknown),
      ``transaction_types`` (``Trade.TransactionType`` values), ``owners`` (``Trade.Owner``
      values), ``min_amount`` (whole dollars; a trade matches when the top of its range — or
      its lower bound when open-ended — is ≥ it; None = no minimum), ``late_only`` (only trades
      filed after the STOCK Act deadline).

    Raises ``django.core.exceptions.ValidationError`` with a dict of field → message naming
    what is wrong (fields: name, channel, target, mode, politicians, tickers, chambers,
    parties, transaction_types, owners, min_amount).
    """
    errors = _check_scalars(
        name=name, min_amount=min_amount, channel=channel, mode=mode, target=target
    )
    if errors:
        raise ValidationError(errors)
    target = str(target).strip()
    _check_target(channel=channel, target=target)
    masks = _masks(
        chambers=chambers, parties=parties, transaction_types=transaction_types, owners=owners
    )
    cleaned_tickers = _clean_tickers(tickers)
    ids = _clean_politician_ids(politician_ids)
    with transaction.atomic():
        subscription = Subscription.objects.create(
            owner=owner,
            name=str(name).strip(),
            active=bool(active),
            channel=channel,
            target=target,
            mode=mode,
            signing_secret=new_signing_secret() if channel == Subscription.Channel.WEBHOOK else "",
            min_amount=min_amount,
            late_only=bool(late_only),
            has_politician_filter=bool(ids),
            has_ticker_filter=bool(cleaned_tickers),
            **masks,
        )
        if ids:
            subscription.politicians.set(ids)
        SubscriptionTicker.objects.bulk_create(
            [SubscriptionTicker(subscription=subscription, ticker=t) for t in cleaned_tickers]
        )
    return subscription


def subscription_update(
    *,
    subscription: Subscription,
    name: str = _UNSET,
    channel: str = _UNSET,
    target: str = _UNSET,
    mode: str = _UNSET,
    politician_ids: Sequence[int | str] = _UNSET,
    tickers: Sequence[str] = _UNSET,
    chambers: Sequence[str] = _UNSET,
    parties: Sequence[str] = _UNSET,
    transaction_types: Sequence[str] = _UNSET,
    owners: Sequence[str] = _UNSET,
    min_amount: int | None = _UNSET,
    late_only: bool = _UNSET,
    active: bool = _UNSET,
) -> Subscription:
    """Change the given fields of ``subscription`` (same meanings and errors as
    ``subscription_create``); fields not passed keep their value. Switching to a webhook
    creates a signing secret if there is none; switching to email clears it.
    """
    errors = _check_scalars(
        name=name, min_amount=min_amount, channel=channel, mode=mode, target=target
    )
    if errors:
        raise ValidationError(errors)
    new_channel = subscription.channel if channel is _UNSET else channel
    new_target = subscription.target if target is _UNSET else str(target).strip()
    if channel is not _UNSET or target is not _UNSET:
        _check_target(channel=new_channel, target=new_target)
    masks = _masks(
        chambers=chambers, parties=parties, transaction_types=transaction_types, owners=owners
    )
    cleaned_tickers = None if tickers is _UNSET else _clean_tickers(tickers)
    ids = None if politician_ids is _UNSET else _clean_politician_ids(politician_ids)

    if name is not _UNSET:
        subscription.name = str(name).strip()
    subscription.channel = new_channel
    subscription.target = new_target
    if new_channel == Subscription.Channel.WEBHOOK and not subscription.signing_secret:
        subscription.signing_secret = new_signing_secret()
    elif new_channel == Subscription.Channel.EMAIL:
        subscription.signing_secret = ""
    if mode is not _UNSET:
        subscription.mode = mode
    if min_amount is not _UNSET:
        subscription.min_amount = min_amount
    if late_only is not _UNSET:
        subscription.late_only = bool(late_only)
    if active is not _UNSET:
        subscription.active = bool(active)
    for field, mask in masks.items():
        setattr(subscription, field, mask)
    with transaction.atomic():
        subscription.save()
        if cleaned_tickers is not None:
            subscription_set_tickers(subscription=subscription, tickers=cleaned_tickers)
        if ids is not None:
            subscription_set_politicians(subscription=subscription, politician_ids=ids)
    return subscription


def subscription_set_active(*, subscription: Subscription, active: bool) -> Subscription:
    """Pause (``active=False``) or resume a subscription. A paused subscription matches
    nothing; its deliveries not sent yet are not sent (they end ``cancelled``, not failed:
    nothing went wrong)."""
    subscription.active = bool(active)
    subscription.save(update_fields=["active", "updated_at"])
    return subscription


def subscriptions_set_active(*, subscription_ids: Iterable[int], active: bool) -> int:
    """Pause or resume many subscriptions at once (admin action); returns how many changed."""
    from django.utils import timezone

    return (
        Subscription.objects.filter(pk__in=list(subscription_ids))
        .exclude(active=active)
        .update(active=active, updated_at=timezone.now())
    )


def subscription_delete(*, subscription: Subscription) -> None:
    """Delete a subscription with its filters, notifications and deliveries.

    The row is locked first, so a matching batch that holds it (``FOR KEY SHARE``) commits
    its notifications before they are collected for deletion, and a batch starting later
    sees it gone."""
    subscriptions_delete(subscription_ids=[subscription.pk])


def subscriptions_delete(*, subscription_ids: Iterable[int]) -> int:
    """Delete subscriptions (see ``subscription_delete``); returns how many were deleted."""
    ids = list(subscription_ids)
    with transaction.atomic():
        locked = list(
            Subscription.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True)
        )
        Subscription.objects.filter(pk__in=locked).delete()
    return len(locked)


def subscription_rotate_secret(*, subscription: Subscription) -> str:
    """Give a webhook subscription a new signing secret and return it."""
    if subscription.channel != Subscription.Channel.WEBHOOK:
        raise ValidationError({"channel": "only webhook subscriptions have a signing secret"})
    subscription.signing_secret = new_signing_secret()
    subscription.save(update_fields=["signing_secret", "updated_at"])
    return subscription.signing_secret


# --- Matching (the outbox of unmatched trades -> notifications -> instant deliveries) ------


@dataclass
class MatchResult:
    """What one matching batch did."""

    trades: int = 0  # trades claimed from the outbox
    notifications: int = 0  # notifications created (existing pairs are skipped)
    delivery_ids: list[int] = dataclasses.field(
        default_factory=list
    )  # instant deliveries to enqueue


def _ids_sql(column: str, ids: Sequence[int]) -> tuple[str, list]:
    """``column IN (ids)`` as one parameter on either database (no per-id placeholders)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]  # noqa: S608


def _predicates(s: str, bt: str) -> str:
    """The cheap filters of subscription (or filter signature) ``s`` against batch trade ``bt``.

    A mask of 0 means any; otherwise the trade value's bit must be in it. A NULL
    ``min_amount`` means no minimum.
    """
    return f"""
        ({s}.chambers = 0 OR ({s}.chambers & {bt}.chamber_bit) <> 0)
        AND ({s}.parties = 0 OR ({s}.parties & {bt}.party_bit) <> 0)
        AND ({s}.transaction_types = 0 OR ({s}.transaction_types & {bt}.type_bit) <> 0)
        AND ({s}.owners = 0 OR ({s}.owners & {bt}.owner_bit) <> 0)
        AND ({s}.min_amount IS NULL OR {bt}.amount_top >= {s}.min_amount)
        AND (NOT {s}.late_only OR {bt}.filed_late)
    """


def _match_sql(ids_clause: str) -> str:
    """INSERT into the batch table of every (active subscription, batch trade) pair that
    matches.

    The cheap filters (masks, minimum amount, late only) of a subscription form its filter
    *signature*; subscriptions with the same signature match the same trades. So instead of
    testing every subscription against every trade, each signature is tested once and its
    matches are joined back to the subscriptions carrying it — hundreds of signatures
    instead of tens of thousands of subscriptions. Four disjoint candidate sets:
    A. a politician filter and no ticker filter: signatures per (politician, filters) of the
       batch's politicians, tested against that politician's trades of the batch;
    B. a politician and a ticker filter: the politician table joined on the trade's politician,
       the ticker by an indexed EXISTS, then the cheap filters (few subscriptions);
    C. a ticker filter and no politician filter: the ticker table joined on the trade's ticker,
       then the cheap filters;
    D. "broad" subscriptions with neither: signatures tested against every trade of the batch.
    The signatures are numbered with ``DENSE_RANK`` so that joining them back is a join on
    one integer (a join on the six filter columns is misjudged by PostgreSQL's planner).
    """
    sub = Subscription._meta.db_table
    sub_pol = Subscription.politicians.through._meta.db_table
    sub_tick = SubscriptionTicker._meta.db_table
    broad = "s.active AND NOT s.has_politician_filter AND NOT s.has_ticker_filter"
    columns = "chambers, parties, transaction_types, owners, late_only, min_amount"
    filters = ", ".join(f"s.{column}" for column in columns.split(", "))
    # PostgreSQL would otherwise inline the signature CTEs and, misjudging their joins as
    # selective, test every subscription against every trade.
    materialized = "MATERIALIZED" if connection.vendor == "postgresql" else ""
    # The CTEs sit inside the INSERT (both databases accept it) so that SQLite's driver
    # recognises the statement as an INSERT and reports its row count.
    return f"""
    INSERT INTO {MATCH_TABLE} (subscription_id, trade_id)
    WITH bt AS (
        SELECT t.id AS trade_id, t.politician_id, a.ticker,
               {CHAMBERS.sql_bit("t.chamber")} AS chamber_bit,
               {PARTIES.sql_bit("p.party")} AS party_bit,
               {TRANSACTION_TYPES.sql_bit("t.transaction_type")} AS type_bit,
               {OWNERS.sql_bit("t.owner")} AS owner_bit,
               COALESCE(t.amount_max, t.amount_min) AS amount_top,
               t.filed_late
        FROM {Trade._meta.db_table} t
        JOIN {Asset._meta.db_table} a ON a.id = t.asset_id
        JOIN {Politician._meta.db_table} p ON p.id = t.politician_id
        WHERE {ids_clause}
    ),
    politician_subs AS {materialized} (
        SELECT s.id, sp.politician_id, {filters},
               DENSE_RANK() OVER (ORDER BY sp.politician_id, {filters}) AS signature
        FROM {sub_pol} sp JOIN {sub} s ON s.id = sp.subscription_id
        WHERE s.active AND NOT s.has_ticker_filter
          AND sp.politician_id IN (SELECT politician_id FROM bt)
    ),
    politician_matches AS {materialized} (
        SELECT g.signature, bt.trade_id
        FROM (SELECT DISTINCT signature, politician_id, {columns}
              FROM politician_subs) g
        JOIN bt ON bt.politician_id = g.politician_id
        WHERE {_predicates("g", "bt")}
    ),
    broad_subs AS {materialized} (
        SELECT s.id, {filters}, DENSE_RANK() OVER (ORDER BY {filters}) AS signature
        FROM {sub} s WHERE {broad}
    ),
    broad_matches AS {materialized} (
        SELECT g.signature, bt.trade_id
        FROM (SELECT DISTINCT signature, {columns} FROM broad_subs) g
        CROSS JOIN bt
        WHERE {_predicates("g", "bt")}
    ),
    matches AS (
        SELECT ps.id AS subscription_id, m.trade_id
        FROM politician_matches m JOIN politician_subs ps ON ps.signature = m.signature
        UNION ALL
        SELECT s.id, bt.trade_id
        FROM bt
        JOIN {sub_pol} sp ON sp.politician_id = bt.politician_id
        JOIN {sub} s ON s.id = sp.subscription_id
        WHERE s.active AND s.has_ticker_filter AND {_predicates("s", "bt")}
          AND EXISTS (
                SELECT 1 FROM {sub_tick} st
                WHERE st.subscription_id = s.id AND st.ticker = bt.ticker)
        UNION ALL
        SELECT s.id, bt.trade_id
        FROM bt
        JOIN {sub_tick} st ON st.ticker = bt.ticker
        JOIN {sub} s ON s.id = st.subscription_id
        WHERE s.active AND NOT s.has_politician_filter AND {_predicates("s", "bt")}
        UNION ALL
        SELECT bs.id, m.trade_id
        FROM broad_matches m JOIN broad_subs bs ON bs.signature = m.signature
    )
    SELECT subscription_id, trade_id FROM matches
    """  # noqa: S608


def _match_settings(cursor) -> None:
    """Session settings for ``_match_sql``, until the end of the transaction.

    PostgreSQL: no JIT. The planner's row estimates for the signature joins are far too high,
    which makes it JIT-compile the statement: about a second of compiling for a statement
    that then runs in less (benchmarks/bench_alerts_matching.py measures both).
    """
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")


def _claim_trades(*, limit: int, now: dt.datetime) -> list[int]:
    """Claim up to ``limit`` unmatched trades (inside the caller's transaction).

    PostgreSQL: the ids are locked ``FOR UPDATE SKIP LOCKED``, so concurrent matchers take
    different trades instead of waiting on each other. SQLite: the IMMEDIATE transaction
    already serialises writers. The conditional UPDATE (``matched_at IS NULL``) is the claim:
    if the transaction rolls back (a crash), the trades are unclaimed again.
    """
    ids = list(
        Trade.objects.filter(matched_at__isnull=True)
        .order_by("id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return []
    claimed = Trade.objects.filter(id__in=ids, matched_at__isnull=True).update(matched_at=now)
    if claimed != len(ids):  # cannot happen under the lock; refuse to guess which ones
        raise RuntimeError(f"claimed {claimed} of {len(ids)} locked trades")
    return ids


def _create_instant_deliveries(*, cursor, batch: str, now: dt.datetime) -> list[int]:
    """One pending delivery per active instant subscription with notifications not in a
    delivery (the sweep's leftovers), and attach those notifications to it."""
    sub = Subscription._meta.db_table
    notification = Notification._meta.db_table
    delivery = Delivery._meta.db_table
    cursor.execute(
        f"""
        INSERT INTO {delivery} (subscription_id, channel, kind, status, attempts, last_error,
                                batch, digest_date, created_at, next_attempt_at)
        SELECT s.id, s.channel, %s, %s, 0, '', %s, NULL, %s, %s
        FROM {sub} s
        WHERE s.mode = %s AND s.active AND s.id IN (
            SELECT n.subscription_id FROM {notification} n WHERE n.delivery_id IS NULL)
        """,  # noqa: S608
        [Delivery.Kind.INSTANT, Delivery.Status.PENDING, batch, now, now,
         Subscription.Mode.INSTANT],
    )  # fmt: skip
    if not cursor.rowcount:
        return []
    cursor.execute(
        f"""
        UPDATE {notification} SET delivery_id = (
            SELECT d.id FROM {delivery} d
            WHERE d.batch = %s AND d.subscription_id = {notification}.subscription_id)
        WHERE delivery_id IS NULL
          AND subscription_id IN (SELECT d.subscription_id FROM {delivery} d WHERE d.batch = %s)
        """,  # noqa: S608
        [batch, batch],
    )
    return list(Delivery.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))


def _prepare_match_table(cursor) -> None:
    """An empty per-connection scratch table for one batch's matching pairs (temporary: no
    WAL, no indexes to maintain; on PostgreSQL dropped at commit)."""
    if connection.vendor == "postgresql":
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {MATCH_TABLE} "
            "(subscription_id bigint NOT NULL, trade_id bigint NOT NULL) ON COMMIT DROP"
        )
    else:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {MATCH_TABLE} "
            "(subscription_id integer NOT NULL, trade_id integer NOT NULL)"
        )
    cursor.execute(f"DELETE FROM {MATCH_TABLE}")  # noqa: S608


def _insert_notifications(*, cursor, batch: str, now: dt.datetime) -> int:
    """Insert the batch table's pairs as notifications, each pointing at its instant delivery
    (NULL for digest subscriptions); returns how many were created.

    Fast path: a plain INSERT. A pair can only exist already when a trade is matched a second
    time (its claim was reset), so usually nothing conflicts, and a plain insert skips the
    per-row conflict arbitration of ``ON CONFLICT`` (about 40 % of the insert's cost on
    PostgreSQL). If the unique constraint does fire, the savepoint rolls the attempt back and
    the pairs go in again with ``ON CONFLICT DO NOTHING``, which skips the ones notified
    before: the constraint, not this guess, is what keeps one notification per pair.
    Sorted, so the unique index is filled in key order instead of at random.
    """
    notification = Notification._meta.db_table
    delivery = Delivery._meta.db_table

    def insert(on_conflict: str) -> int:
        cursor.execute(
            f"""
            INSERT INTO {notification} (subscription_id, trade_id, delivery_id, created_at)
            SELECT m.subscription_id, m.trade_id, d.id, %s
            FROM {MATCH_TABLE} m
            LEFT JOIN {delivery} d ON d.batch = %s AND d.subscription_id = m.subscription_id
            WHERE 1 = 1
            ORDER BY m.subscription_id, m.trade_id
            {on_conflict}
            """,  # noqa: S608
            [now, batch],
        )
        return max(cursor.rowcount, 0)

    try:
        with transaction.atomic():
            return insert("")
    except IntegrityError:
        return insert("ON CONFLICT (subscription_id, trade_id) DO NOTHING")


def trades_match(*, limit: int | None = None) -> MatchResult:
    """Match one batch of unmatched trades against every active subscription.

    In one transaction: claim up to ``limit`` (default ``ALERTS_MATCH_BATCH_SIZE``) trades from
    the outbox (``Trade.matched_at IS NULL``); find every matching (subscription, trade) pair
    in one set-based statement (``_match_sql``) into a scratch table; create one pending
    delivery per instant subscription among them (all its trades of the batch in one
    message); insert the notifications already pointing at their delivery (digest ones
    without: they wait for ``digests_create``). Pairs notified before are skipped by the
    unique constraint, so re-matching never duplicates (a delivery left with nothing to carry
    is removed). Returns what was done; the caller enqueues ``delivery_ids`` (they exist once
    this function has returned, i.e. after the commit). A batch that fails rolls back
    entirely, claim included.
    """
    limit = limit or settings.ALERTS_MATCH_BATCH_SIZE
    now = timezone.now()
    batch = uuid.uuid4().hex
    sub = Subscription._meta.db_table
    notification = Notification._meta.db_table
    delivery = Delivery._meta.db_table
    with transaction.atomic():
        trade_ids = _claim_trades(limit=limit, now=now)
        if not trade_ids:
            return MatchResult()
        ids_clause, ids_params = _ids_sql("t.id", trade_ids)
        with connection.cursor() as cursor:
            _prepare_match_table(cursor)
            _match_settings(cursor)
            cursor.execute(_match_sql(ids_clause), ids_params)
            pairs = max(cursor.rowcount, 0)
            if not pairs:
                return MatchResult(trades=len(trade_ids))
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {MATCH_TABLE}")  # temp tables get no statistics
                # Hold the matched subscriptions until commit (a concurrent
                # ``subscription_delete`` waits), then drop pairs of any deleted meanwhile:
                # notifications carry no foreign-key check (see Notification.subscription).
                # SQLite needs neither: its writers are serialised.
                cursor.execute(
                    f"""
                    WITH held AS (
                        SELECT s.id FROM {sub} s
                        WHERE s.id IN (SELECT m.subscription_id FROM {MATCH_TABLE} m)
                        FOR KEY SHARE OF s)
                    SELECT count(*) FROM held
                    """  # noqa: S608
                )
                cursor.execute(
                    f"""
                    DELETE FROM {MATCH_TABLE} m WHERE NOT EXISTS (
                        SELECT 1 FROM {sub} s WHERE s.id = m.subscription_id)
                    """  # noqa: S608
                )
                pairs -= max(cursor.rowcount, 0)
            cursor.execute(
                f"""
                INSERT INTO {delivery} (subscription_id, channel, kind, status, attempts,
                                        last_error, batch, digest_date, created_at,
                                        next_attempt_at)
                SELECT s.id, s.channel, %s, %s, 0, '', %s, NULL, %s, %s
                FROM {sub} s
                WHERE s.mode = %s AND s.id IN (SELECT m.subscription_id FROM {MATCH_TABLE} m)
                """,  # noqa: S608
                [Delivery.Kind.INSTANT, Delivery.Status.PENDING, batch, now, now,
                 Subscription.Mode.INSTANT],
            )  # fmt: skip
            created = _insert_notifications(cursor=cursor, batch=batch, now=now)
            if created < pairs:  # some pairs were notified before (a trade matched again)
                cursor.execute(
                    f"""
                    DELETE FROM {delivery}
                    WHERE batch = %s AND NOT EXISTS (
                        SELECT 1 FROM {notification} n WHERE n.delivery_id = {delivery}.id)
                    """,  # noqa: S608
                    [batch],
                )
            if connection.vendor != "postgresql":
                cursor.execute(f"DELETE FROM {MATCH_TABLE}")  # noqa: S608
        delivery_ids = list(
            Delivery.objects.filter(batch=batch).order_by("id").values_list("id", flat=True)
        )
    return MatchResult(trades=len(trade_ids), notifications=created, delivery_ids=delivery_ids)


def notifications_create_deliveries() -> list[int]:
    """Give every undelivered notification of an active instant subscription a delivery
    (the sweep: notifications left without one, e.g. after a switch from digest to instant).
    Returns the new deliveries' ids, to enqueue."""
    batch = uuid.uuid4().hex
    with transaction.atomic(), connection.cursor() as cursor:
        return _create_instant_deliveries(cursor=cursor, batch=batch, now=timezone.now())


def digests_create(*, now: dt.datetime | None = None) -> list[int]:
    """Create today's digest deliveries: one per active digest subscription that has
    notifications not sent yet (all of them since the last digest), at most one per
    subscription and day (``alerts_delivery_unique_subscription_digest_date``): a second run
    the same day creates nothing. Returns the new deliveries' ids, to enqueue."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    batch = uuid.uuid4().hex
    sub = Subscription._meta.db_table
    notification = Notification._meta.db_table
    delivery = Delivery._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {delivery} (subscription_id, channel, kind, status, attempts,
                                    last_error, batch, digest_date, created_at, next_attempt_at)
            SELECT s.id, s.channel, %s, %s, 0, '', %s, %s, %s, %s
            FROM {sub} s
            WHERE s.mode = %s AND s.active AND EXISTS (
                SELECT 1 FROM {notification} n
                WHERE n.subscription_id = s.id AND n.delivery_id IS NULL AND n.created_at <= %s)
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
            [Delivery.Kind.DIGEST, Delivery.Status.PENDING, batch, today, now, now,
             Subscription.Mode.DIGEST, now],
        )  # fmt: skip
        if not cursor.rowcount:
            return []
        # Only this run's deliveries (``batch``) take notifications: a digest already created
        # today, maybe being sent right now, is never changed.
        cursor.execute(
            f"""
            UPDATE {notification} SET delivery_id = (
                SELECT d.id FROM {delivery} d
                WHERE d.batch = %s AND d.subscription_id = {notification}.subscription_id)
            WHERE delivery_id IS NULL AND created_at <= %s
              AND subscription_id IN (SELECT d.subscription_id FROM {delivery} d WHERE d.batch = %s)
            """,  # noqa: S608
            [batch, now, batch],
        )
        return list(
            Delivery.objects.filter(batch=batch).order_by("id").values_list("id", flat=True)
        )


# --- Delivery -----------------------------------------------------------------------------


@dataclass
class SendOutcome:
    """What one delivery attempt did. ``status``: sent, failed, cancelled (its subscription was
    paused), retry (transient error, try again in ``retry_in`` s), busy (another worker holds
    the lease: look again in ``retry_in`` s), done (already over: nothing to do), missing
    (deleted)."""

    status: str
    retry_in: float | None = None
    error: str = ""


def delivery_backoff(*, attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: exponential (base · 2^(attempts-1)) with jitter
    (between half and all of it), at least a ``Retry-After``; capped."""
    cap = settings.ALERTS_DELIVERY_BACKOFF_MAX
    exponential = min(cap, settings.ALERTS_DELIVERY_BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    delay = exponential * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


def _delivery_claim(*, delivery_id: int, now: dt.datetime) -> int:
    """Pending → sending with a lease (or take over a sending delivery whose lease expired:
    its worker died). Returns 1 when this worker now owns the delivery."""
    return (
        Delivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status=Delivery.Status.PENDING)
            | Q(status=Delivery.Status.SENDING, leased_until__lt=now)
        )
        .update(
            status=Delivery.Status.SENDING,
            leased_until=now + dt.timedelta(seconds=settings.ALERTS_DELIVERY_LEASE),
            attempts=F("attempts") + 1,
        )
    )


def _delivery_finish(delivery: Delivery, **values) -> None:
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        leased_until=None, **values
    )


def delivery_send(*, delivery_id: int) -> SendOutcome:
    """Claim, render and send one delivery through its subscription's channel.

    Safe to call twice or concurrently for the same id (a redelivered task): only the worker
    whose conditional UPDATE claims the delivery sends it. Transient failures leave it
    pending with ``next_attempt_at`` (the caller retries after ``retry_in``) until
    ``ALERTS_DELIVERY_MAX_RETRIES`` retries are spent; permanent failures and exhausted
    retries mark it failed with ``last_error``.
    """
    from alerts.channels import DeliveryError, channel_for
    from alerts.messages import message_build

    now = timezone.now()
    if not _delivery_claim(delivery_id=delivery_id, now=now):
        state = Delivery.objects.filter(pk=delivery_id).values("status", "leased_until").first()
        if state is None:
            return SendOutcome("missing")
        if state["status"] == Delivery.Status.SENDING and state["leased_until"]:
            wait = (state["leased_until"] - now).total_seconds() + 1
            return SendOutcome("busy", retry_in=max(wait, 1.0))
        return SendOutcome("done")
    delivery = Delivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.active:
        error = "not sent: the subscription was paused before this message went out"
        _delivery_finish(delivery, status=Delivery.Status.CANCELLED, last_error=error)
        return SendOutcome("cancelled", error=error)
    channel = subscription.channel
    try:
        message = message_build(delivery=delivery)
        if message is None:  # its trades were deleted since
            _delivery_finish(delivery, status=Delivery.Status.SENT, sent_at=now, last_error="")
            return SendOutcome("sent", error="nothing left to send")
        channel_for(channel).send(message)
    except DeliveryError as exc:
        return _delivery_failed(delivery, exc, channel=channel)
    except Exception as exc:  # a bug or a time limit: retried within the budget, then failed
        logger.exception("delivery %s: unexpected error", delivery.pk)
        error = DeliveryError(f"unexpected error: {type(exc).__name__}: {str(exc)[:200]}")
        return _delivery_failed(delivery, error, channel=channel)
    _delivery_finish(
        delivery,
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
        last_error="",
        channel=channel,
    )
    return SendOutcome("sent")


def _delivery_failed(delivery: Delivery, exc, *, channel: str) -> SendOutcome:
    attempts = delivery.attempts  # this attempt included
    max_retries = settings.ALERTS_DELIVERY_MAX_RETRIES
    if exc.permanent:
        error = f"permanent failure: {exc.message}"
    elif attempts > max_retries:
        error = f"gave up after {attempts} attempts; last error: {exc.message}"
    else:
        delay = delivery_backoff(attempts=attempts, retry_after=exc.retry_after)
        _delivery_finish(
            delivery,
            status=Delivery.Status.PENDING,
            last_error=f"attempt {attempts} failed (will retry): {exc.message}",
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
            channel=channel,
        )
        return SendOutcome("retry", retry_in=delay, error=exc.message)
    _delivery_finish(delivery, status=Delivery.Status.FAILED, last_error=error, channel=channel)
    return SendOutcome("failed", error=error)


def deliveries_resend(*, delivery_ids: Iterable[int]) -> list[int]:
    """Reset failed deliveries to pending with a fresh retry budget (admin "resend");
    returns the ids reset, which the caller enqueues after commit. Others are left alone."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update()
            .filter(pk__in=list(delivery_ids), status=Delivery.Status.FAILED)
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.PENDING,
            attempts=0,
            last_error="",
            next_attempt_at=now,
            leased_until=None,
        )
    return ids


def deliveries_overdue(*, now: dt.datetime | None = None, limit: int = 5000) -> list[int]:
    """Deliveries a lost message left behind: pending and overdue by ``ALERTS_SWEEP_GRACE``,
    or sending past their lease (a killed worker). The sweep enqueues them again; a
    duplicate message is harmless (the claim)."""
    now = now or timezone.now()
    overdue = now - dt.timedelta(seconds=settings.ALERTS_SWEEP_GRACE)
    return list(
        Delivery.objects.filter(
            Q(status=Delivery.Status.PENDING, next_attempt_at__lt=overdue)
            | Q(status=Delivery.Status.SENDING, leased_until__lt=now)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
