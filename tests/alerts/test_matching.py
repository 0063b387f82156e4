"""Matching semantics: each filter, empty = any, minimum amount, late only, inactive ignored,
no duplicates on re-matching, one delivery per subscription per batch."""

from __future__ import annotations

import pytest

from alerts import services
from alerts.models import Delivery, Notification, Subscription
from ingestion.models import Trade
from tests.alerts.conftest import make_trade


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


@pytest.fixture
def subscribe(alice):
    def subscribe(name="s", **filters) -> Subscription:
        data = {"channel": "email", "target": "alice@example.com"}
        data.update(filters)
        return services.subscription_create(owner=alice, name=name, **data)

    return subscribe


def matched_pairs() -> set[tuple[str, int]]:
    return {
        (n.subscription.name, n.trade_id)
        for n in Notification.objects.select_related("subscription")
    }


def test_an_empty_subscription_matches_every_trade(subscribe, pelosi, tuberville):
    subscribe("all")
    t1, t2 = make_trade(pelosi), make_trade(tuberville, ticker="MSFT")
    result = services.trades_match()
    assert result.trades == 2 and result.notifications == 2
    assert matched_pairs() == {("all", t1.pk), ("all", t2.pk)}


def test_politician_filter(subscribe, pelosi, tuberville):
    subscribe("pelosi", politician_ids=[pelosi.pk])
    t1 = make_trade(pelosi)
    make_trade(tuberville)
    services.trades_match()
    assert matched_pairs() == {("pelosi", t1.pk)}


def test_ticker_filter(subscribe, pelosi):
    subscribe("nvda", tickers=["NVDA", "AMD"])
    t1 = make_trade(pelosi, ticker="NVDA")
    t2 = make_trade(pelosi, ticker="AMD")
    make_trade(pelosi, ticker="AAPL")
    services.trades_match()
    assert matched_pairs() == {("nvda", t1.pk), ("nvda", t2.pk)}


def test_politician_and_ticker_filters_must_both_hold(subscribe, pelosi, tuberville):
    subscribe("pelosi nvda", politician_ids=[pelosi.pk], tickers=["NVDA"])
    t1 = make_trade(pelosi, ticker="NVDA")
    make_trade(pelosi, ticker="AAPL")
    make_trade(tuberville, ticker="NVDA")
    services.trades_match()
    assert matched_pairs() == {("pelosi nvda", t1.pk)}


@pytest.mark.parametrize(
    ("filters", "trade_kwargs", "politician", "expected"),
    [
        ({"chambers": ["senate"]}, {}, "tuberville", True),
        ({"chambers": ["senate"]}, {}, "pelosi", False),
        ({"parties": ["D", "I"]}, {}, "pelosi", True),
        ({"parties": ["D", "I"]}, {}, "tuberville", False),
        ({"transaction_types": ["sale_full"]}, {"transaction_type": "sale_full"}, "pelosi", True),
        ({"transaction_types": ["sale_full"]}, {"transaction_type": "purchase"}, "pelosi", False),
        ({"owners": ["spouse", "joint"]}, {"owner": "joint"}, "pelosi", True),
        ({"owners": ["spouse", "joint"]}, {"owner": "self"}, "pelosi", False),
        ({"min_amount": 50_000}, {"amount": (15_001, 50_000)}, "pelosi", True),  # top reaches
        ({"min_amount": 50_001}, {"amount": (15_001, 50_000)}, "pelosi", False),
        ({"min_amount": 5_000_000}, {"amount": (50_000_001, None)}, "pelosi", True),  # open
        ({"min_amount": 0}, {"amount": (1, 1000)}, "pelosi", True),
        ({"late_only": True}, {"filed_late": True}, "pelosi", True),
        ({"late_only": True}, {"filed_late": False}, "pelosi", False),
    ],
)
def test_each_cheap_filter(subscribe, request, filters, trade_kwargs, politician, expected):
    # Each filter alone (a broad subscription), and with a ticker filter (another SQL path).
    subscribe("broad", **filters)
    subscribe("by ticker", tickers=["AAPL"], **filters)
    who = request.getfixturevalue(politician)
    trade = make_trade(who, ticker="AAPL", **trade_kwargs)
    subscribe("by politician", politician_ids=[who.pk], **filters)
    services.trades_match()
    names = {"broad", "by ticker", "by politician"}
    assert matched_pairs() == ({(n, trade.pk) for n in names} if expected else set())
    for sub in Subscription.objects.all():  # the Python reference rule agrees
        assert sub.matches(trade) is expected


def test_inactive_subscriptions_match_nothing(subscribe, pelosi):
    sub = subscribe("paused", politician_ids=[pelosi.pk])
    services.subscription_set_active(subscription=sub, active=False)
    subscribe("paused broad", active=False)
    make_trade(pelosi)
    assert services.trades_match().notifications == 0
    assert not Notification.objects.exists()


def test_matched_trades_leave_the_outbox_and_are_not_matched_again(subscribe, pelosi):
    subscribe("all")
    make_trade(pelosi)
    make_trade(pelosi, matched=True)  # e.g. a backfill imported without --notify
    assert services.trades_match().trades == 1
    assert services.trades_match().trades == 0
    assert not Trade.objects.filter(matched_at__isnull=True).exists()
    assert Notification.objects.count() == 1


def test_re_matching_a_trade_never_creates_a_second_notification(subscribe, pelosi):
    subscribe("all")
    trade = make_trade(pelosi)
    services.trades_match()
    Trade.objects.filter(pk=trade.pk).update(matched_at=None)  # as a redelivered claim would
    result = services.trades_match()
    assert result.trades == 1 and result.notifications == 0 and result.delivery_ids == []
    assert Notification.objects.count() == 1 and Delivery.objects.count() == 1


def test_a_batch_makes_one_delivery_per_instant_subscription(subscribe, pelosi, tuberville):
    first = subscribe("pelosi", politician_ids=[pelosi.pk])
    second = subscribe("all")
    subscribe("digest", mode="digest")
    for _ in range(40):
        make_trade(pelosi, doc_id="BIG")
    make_trade(tuberville)
    result = services.trades_match()
    assert result.trades == 41 and result.notifications == 40 + 41 + 41
    deliveries = Delivery.objects.filter(pk__in=result.delivery_ids)
    assert {d.subscription_id: d.notifications.count() for d in deliveries} == {
        first.pk: 40,
        second.pk: 41,
    }
    assert all(d.status == "pending" and d.kind == "instant" for d in deliveries)
    # The digest subscription's notifications wait, without a delivery.
    assert Notification.objects.filter(subscription__name="digest", delivery=None).count() == 41


def test_the_batch_size_limits_the_claim(subscribe, pelosi):
    subscribe("all")
    for _ in range(5):
        make_trade(pelosi)
    assert services.trades_match(limit=2).trades == 2
    assert services.trades_match(limit=2).trades == 2
    assert services.trades_match(limit=2).trades == 1
    assert Notification.objects.count() == 5 and Delivery.objects.count() == 3


def test_deleting_a_subscription_deletes_its_notifications_and_deliveries(subscribe, pelosi):
    sub = subscribe("all")
    other = subscribe("other", mode="digest")
    make_trade(pelosi)
    services.trades_match()
    services.subscription_delete(subscription=sub)
    assert not Notification.objects.filter(subscription_id=sub.pk).exists()
    assert not Delivery.objects.filter(subscription_id=sub.pk).exists()
    assert Notification.objects.filter(subscription=other).count() == 1


def test_deleting_trades_or_a_subscription_through_the_orm_leaves_no_notification(
    subscribe, pelosi
):
    # Notifications have no database foreign-key check: Django's cascade is all there is.
    sub, other = subscribe("all"), subscribe("other", mode="digest")
    kept, gone = make_trade(pelosi), make_trade(pelosi)
    services.trades_match()
    gone.filing.delete()  # filing -> trade -> notification
    Subscription.objects.filter(pk=other.pk).delete()  # not through the locking service
    remaining = set(Notification.objects.values_list("subscription_id", "trade_id"))
    assert remaining == {(sub.pk, kept.pk)}
    assert Delivery.objects.filter(subscription_id=other.pk).count() == 0


def test_a_batch_mixing_new_and_re_matched_trades_notifies_only_the_new_ones(subscribe, pelosi):
    """The plain-INSERT fast path hits the unique constraint, rolls back to its savepoint and
    inserts again skipping the pairs notified before; nothing is lost or doubled."""
    sub = subscribe("all")
    old = make_trade(pelosi)
    services.trades_match()
    Trade.objects.filter(pk=old.pk).update(matched_at=None)
    new = make_trade(pelosi)
    result = services.trades_match()
    assert result.trades == 2 and result.notifications == 1
    [delivery] = Delivery.objects.filter(pk__in=result.delivery_ids)
    assert list(delivery.notifications.values_list("trade_id", flat=True)) == [new.pk]
    assert sorted(
        Notification.objects.filter(subscription=sub).values_list("trade_id", flat=True)
    ) == sorted([old.pk, new.pk])


def test_the_sql_agrees_with_the_reference_rule_on_a_random_mix(subscribe, pelosi, tuberville):
    """Many subscriptions sharing filter signatures across politicians, tickers and broad
    ones, against a mixed batch: the set-based matcher finds exactly the pairs that
    ``Subscription.matches`` accepts (the signature grouping must not mix subscriptions
    whose politicians or filters differ)."""
    import random

    from ingestion.models import Politician

    rng = random.Random(4)
    sanders = Politician.objects.create(
        bioguide_id="S000033", first_name="Bernard", last_name="Sanders",
        full_name="Bernard Sanders", chamber="senate", party="I", state="VT",
        name_key="sanders|bernard", is_resolved=True,
    )  # fmt: skip
    politicians = [pelosi, tuberville, sanders]
    tickers = ["AAPL", "NVDA", "MSFT", "TSLA"]
    amounts = [(1001, 15000), (15001, 50000), (250001, 500000), (50000001, None)]

    def some(values, most=2):
        return rng.sample(values, rng.randint(0, most)) if rng.random() < 0.5 else []

    for n in range(160):
        subscribe(
            f"s{n}",
            # politicians in most, so that many share (politician, filters) signatures
            politician_ids=[p.pk for p in rng.sample(politicians, rng.randint(1, 2))]
            if rng.random() < 0.5 else [],
            tickers=rng.sample(tickers, rng.randint(1, 2)) if rng.random() < 0.3 else [],
            chambers=some(["house", "senate"], 1),
            parties=some(["D", "R", "I"]),
            transaction_types=some(["purchase", "sale_full", "sale_partial"]),
            owners=some(["self", "spouse", "joint"]),
            min_amount=rng.choice([None, None, 15_000, 100_000]),
            late_only=rng.random() < 0.15,
            active=rng.random() < 0.9,
        )  # fmt: skip
    trades = [
        make_trade(
            rng.choice(politicians),
            ticker=rng.choice(tickers),
            transaction_type=rng.choice(["purchase", "sale_full", "sale_partial", "exchange"]),
            owner=rng.choice(["self", "spouse", "joint", "dependent"]),
            amount=rng.choice(amounts),
            filed_late=rng.random() < 0.3,
        )
        for _ in range(40)
    ]
    result = services.trades_match()
    trades = Trade.objects.filter(pk__in=[t.pk for t in trades]).select_related(
        "politician", "asset"
    )
    expected = {
        (sub.name, trade.pk)
        for sub in Subscription.objects.all()
        for trade in trades
        if sub.matches(trade)
    }
    assert len(expected) > 300  # the mix matches plenty, through every path
    assert matched_pairs() == expected
    assert result.notifications == len(expected)
