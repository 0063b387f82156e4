"""Fixtures for the alerts tests: a small cast of politicians, assets and trades."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from ingestion.models import Asset, Filing, Politician, Trade

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
