"""The admin pages operators use, against a small named cast of rows in a real database."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.admin.widgets import AutocompleteSelect, ForeignKeyRawIdWidget
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ingestion.admin import REJECTED_RECORDS_INLINE_LIMIT
from ingestion.models import (
    Asset,
    Filing,
    HttpValidator,
    IngestionRun,
    Politician,
    PriceBar,
    RejectedRecord,
    Trade,
)

pytestmark = pytest.mark.django_db

# Queries one Trade changelist page runs, whatever the number of rows on it: session, user,
# the count, the rows joined to politician and asset, the date hierarchy's range and choices.
TRADE_CHANGELIST_MAX_QUERIES = 6
# Queries one Filing page runs, whatever the number of trades inline: session, user, the
# filing, its trades joined to their assets, the content type, the autocomplete's politician.
FILING_CHANGE_PAGE_MAX_QUERIES = 6


def changelist(model) -> str:
    return reverse(f"admin:ingestion_{model._meta.model_name}_changelist")


def change_page(obj) -> str:
    return reverse(f"admin:ingestion_{obj._meta.model_name}_change", args=[obj.pk])


def add_page(model) -> str:
    return reverse(f"admin:ingestion_{model._meta.model_name}_add")


def listed(client, model, query: str = "") -> set:
    """The rows a changelist shows for a query string."""
    response = client.get(f"{changelist(model)}?{query}")
    assert response.status_code == 200  # a lookup the admin does not allow redirects to ?e=1
    return set(response.context["cl"].result_list)


def make_politician(last_name, first_name, *, chamber="house", **fields) -> Politician:
    fields.setdefault("is_resolved", bool(fields.get("bioguide_id")))
    return Politician.objects.create(
        last_name=last_name,
        first_name=first_name,
        full_name=f"{first_name} {last_name}",
        chamber=chamber,
        name_key=f"{last_name}|{first_name}".lower(),
        **fields,
    )


def make_asset(ticker, name, kind="stock") -> Asset:
    return Asset.objects.create(ticker=ticker, name=name, name_key=name.lower(), kind=kind)


def make_filing(politician, doc_id, **fields) -> Filing:
    fields.setdefault("chamber", politician.chamber)
    fields.setdefault("source", "house_clerk")
    return Filing.objects.create(politician=politician, doc_id=doc_id, **fields)


def make_trade(filing, line_number, asset, **fields) -> Trade:
    values = {
        "politician": filing.politician,
        "chamber": filing.chamber,
        "transaction_type": "purchase",
        "transaction_date": dt.date(2024, 6, 3),
        "filed_date": filing.filed_date,
        "owner": "self",
        "amount_min": 1_001,
        "amount_max": 15_000,
        "amount_label": "$1,001 - $15,000",
        "asset_kind": asset.kind,
        "asset_description": asset.name,
        # 40 hex characters, like the real ones (the columns are varchar(40)).
        "fingerprint": hashlib.sha1(
            f"fp-{filing.doc_id}-{line_number}".encode(), usedforsecurity=False
        ).hexdigest(),
        "content_hash": hashlib.sha1(
            f"ch-{filing.doc_id}-{line_number}".encode(), usedforsecurity=False
        ).hexdigest(),
    }
    values.update(fields)
    return Trade.objects.create(filing=filing, line_number=line_number, asset=asset, **values)


@pytest.fixture
def cast():
    """Pelosi (resolved House member, three trades, one late), Tuberville (Senate, an
    amendment), Ashworth (unresolved, one scanned paper filing waiting for review), prices
    from two providers, and a partial House run with two rejected records."""
    pelosi = make_politician(
        "Pelosi",
        "Nancy",
        bioguide_id="P000197",
        party="D",
        state="CA",
        district="11",
        in_office=True,
    )
    tuberville = make_politician(
        "Tuberville",
        "Tommy",
        chamber="senate",
        bioguide_id="T000278",
        party="R",
        state="AL",
        in_office=True,
    )
    ashworth = make_politician("Ashworth", "Jordan", state="OH")

    nvda = make_asset("NVDA", "NVIDIA Corporation - Common Stock")
    aapl = make_asset("AAPL", "Apple Inc. - Common Stock")
    spy = make_asset("SPY", "SPDR S&P 500 ETF Trust", kind="etf")
    tbill = make_asset("", "United States Treasury Bill 0% 09/12/2024", kind="government")

    pelosi_ptr = make_filing(
        pelosi,
        "20024542",
        filed_date=dt.date(2024, 6, 20),
        trade_count=3,
        source_url="https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2024/20024542.pdf",
    )
    tuberville_amendment = make_filing(
        tuberville,
        "5e3f1c2a-9b7d-4c1e-8f00-1234567890ab",
        filed_date=dt.date(2023, 12, 1),
        source="senate_efd",
        is_amendment=True,
        trade_count=1,
    )
    ashworth_paper = make_filing(
        ashworth,
        "8221234",
        filed_date=dt.date(2024, 2, 1),
        is_paper=True,
        status="needs_review",
        trade_count=1,
    )

    run = IngestionRun.objects.create(
        source="house_clerk",
        status="partial",
        fetched=5,
        created=3,
        rejected=2,
        task_id="a1b2c3d4-task",
        error="2 records rejected: see below",
    )
    senate_run = IngestionRun.objects.create(source="senate_efd", status="succeeded", fetched=1)

    return SimpleNamespace(
        pelosi=pelosi,
        tuberville=tuberville,
        ashworth=ashworth,
        nvda=nvda,
        aapl=aapl,
        spy=spy,
        tbill=tbill,
        pelosi_ptr=pelosi_ptr,
        tuberville_amendment=tuberville_amendment,
        ashworth_paper=ashworth_paper,
        nvda_buy=make_trade(
            pelosi_ptr,
            1,
            nvda,
            owner="spouse",
            transaction_date=dt.date(2024, 6, 3),
            disclosure_delay_days=17,
        ),
        aapl_late_sale=make_trade(
            pelosi_ptr,
            2,
            aapl,
            transaction_type="sale_full",
            owner="joint",
            transaction_date=dt.date(2024, 3, 1),
            disclosure_delay_days=111,
            filed_late=True,
        ),
        tbill_buy=make_trade(
            pelosi_ptr, 3, tbill, transaction_date=dt.date(2024, 6, 10), disclosure_delay_days=10
        ),
        senate_spy_sale=make_trade(
            tuberville_amendment,
            1,
            spy,
            transaction_type="sale_partial",
            transaction_date=dt.date(2023, 11, 15),
            disclosure_delay_days=16,
        ),
        paper_aapl_buy=make_trade(
            ashworth_paper,
            1,
            aapl,
            owner="child",
            transaction_date=dt.date(2024, 1, 5),
            disclosure_delay_days=27,
        ),
        nvda_yahoo_bars=[
            PriceBar.objects.create(
                asset=nvda,
                date=day,
                open=Decimal("120"),
                high=Decimal("125"),
                low=Decimal("119"),
                close=Decimal("123.4500"),
                provider="yahoo",
            )
            for day in (dt.date(2024, 6, 3), dt.date(2024, 6, 4))
        ],
        aapl_stooq_bar=PriceBar.objects.create(
            asset=aapl,
            date=dt.date(2024, 3, 1),
            open=Decimal("180"),
            high=Decimal("181"),
            low=Decimal("178"),
            close=Decimal("179.6600"),
            provider="stooq",
        ),
        run=run,
        senate_run=senate_run,
        bad_amount=RejectedRecord.objects.create(
            run=run,
            source="house_clerk",
            location="20024543.pdf line 4",
            reason="amount range '$1,000,001 +' does not parse",
            payload="SP  MSFT  S  05/01/2024  $1,000,001 +",
        ),
        unknown_owner=RejectedRecord.objects.create(
            run=run,
            source="house_clerk",
            location="20024544.pdf line 1",
            reason="owner code 'XX' is not one of SP, JT, DC",
            payload="XX  TSLA  P  05/02/2024  $15,001 - $50,000",
        ),
        validator=HttpValidator.objects.create(
            url="https://disclosures-clerk.house.gov/public_disc/financial-pdfs/2024FD.zip",
            etag='"5f2a-61b"',
            last_modified="Mon, 01 Jul 2024 08:00:00 GMT",
        ),
    )


@pytest.fixture
def admin_user(django_user_model):
    """pytest-django's superuser, without hashing a password (~0.3 s a test): admin_client
    logs in with force_login."""
    return django_user_model.objects.create_superuser("admin", "admin@example.com", None)


# --- Every page renders ---------------------------------------------------------------------

ALL_MODELS = [
    Politician,
    Asset,
    Filing,
    Trade,
    PriceBar,
    IngestionRun,
    RejectedRecord,
    HttpValidator,
]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_every_changelist_renders_for_a_superuser(admin_client, cast, model):
    response = admin_client.get(changelist(model))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == model.objects.count()


@pytest.mark.parametrize(
    "name",
    [
        "pelosi",
        "nvda",
        "pelosi_ptr",
        "aapl_late_sale",
        "aapl_stooq_bar",
        "run",
        "bad_amount",
        "validator",
    ],
)
def test_every_detail_page_renders_for_a_superuser(admin_client, cast, name):
    response = admin_client.get(change_page(getattr(cast, name)))
    assert response.status_code == 200


def test_the_admin_index_lists_every_ingestion_model(admin_client, cast):
    content = admin_client.get("/admin/").content.decode()
    for model in ALL_MODELS:
        assert changelist(model) in content


# --- Trades ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("chamber__exact=senate", {"senate_spy_sale"}),
        ("transaction_type__exact=sale_full", {"aapl_late_sale"}),
        ("owner__exact=spouse", {"nvda_buy"}),
        ("asset_kind__exact=government", {"tbill_buy"}),
        ("asset_kind__exact=etf", {"senate_spy_sale"}),
        ("filed_late__exact=1", {"aapl_late_sale"}),
        (
            "filed_late__exact=0",
            {"nvda_buy", "tbill_buy", "senate_spy_sale", "paper_aapl_buy"},
        ),
        (
            "transaction_date__gte=2024-06-01&transaction_date__lt=2024-07-01",
            {"nvda_buy", "tbill_buy"},
        ),
        ("transaction_date__year=2023", {"senate_spy_sale"}),
        ("transaction_date__year=2024&transaction_date__month=3", {"aapl_late_sale"}),
        ("filing__status__exact=needs_review", {"paper_aapl_buy"}),
    ],
)
def test_trade_filters_narrow_the_list(admin_client, cast, query, expected):
    assert listed(admin_client, Trade, query) == {getattr(cast, name) for name in expected}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("NVDA", {"nvda_buy"}),
        ("nvda", {"nvda_buy"}),
        ("AAPL", {"aapl_late_sale", "paper_aapl_buy"}),
        ("Pelosi", {"nvda_buy", "aapl_late_sale", "tbill_buy"}),
        ("Nancy Pelosi", {"nvda_buy", "aapl_late_sale", "tbill_buy"}),
        ("tuber", {"senate_spy_sale"}),
        ("Treasury", {"tbill_buy"}),
        ("8221234", {"paper_aapl_buy"}),
        ("5e3f1c2a", {"senate_spy_sale"}),
    ],
)
def test_trade_search_finds_by_ticker_surname_description_and_doc_id(
    admin_client, cast, search, expected
):
    found = listed(admin_client, Trade, f"q={search}")
    assert found == {getattr(cast, name) for name in expected}


def test_trade_search_matches_a_ticker_exactly_not_by_prefix(admin_client, cast):
    assert listed(admin_client, Trade, "q=NVD") == set()


def test_trade_changelist_shows_the_late_flag_delay_and_amount(admin_client, cast):
    response = admin_client.get(changelist(Trade) + "?filed_late__exact=1")
    content = response.content.decode()
    assert "Nancy Pelosi" in content
    assert "AAPL" in content
    assert "$1,001 - $15,000" in content
    assert ">111<" in content
    assert "late filings" in content  # the filter's title
    assert "filing status" in content


def test_trade_changelist_shows_an_untickered_asset_by_its_name(admin_client, cast):
    content = admin_client.get(changelist(Trade) + "?asset_kind__exact=government").content
    assert b"United States Treasury Bill" in content


def test_trade_changelist_does_not_count_the_whole_table_twice(admin_client, cast):
    response = admin_client.get(changelist(Trade) + "?chamber__exact=senate")
    assert response.context["cl"].full_result_count is None


@pytest.mark.parametrize("rows", [5, 50])
def test_trade_changelist_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, rows
):
    # A politician, an asset and a filing per trade: any per-row lookup would show.
    for n in range(rows):
        politician = make_politician(f"Member{n}", "Test", bioguide_id=f"M{n:06d}")
        asset = make_asset(f"T{n}", f"Test Company {n}")
        filing = make_filing(politician, f"doc{n}", filed_date=dt.date(2024, 7, 1))
        make_trade(filing, 1, asset, disclosure_delay_days=28)

    with django_assert_max_num_queries(TRADE_CHANGELIST_MAX_QUERIES):
        response = admin_client.get(changelist(Trade))

    assert len(response.context["cl"].result_list) == rows


def make_related_row(model, n: int):
    """Row ``n`` of ``model`` with its own related row, so a per-row lookup would show."""
    if model is Filing:
        return make_filing(make_politician(f"Member{n}", "Test", bioguide_id=f"M{n:06d}"), f"d{n}")
    if model is PriceBar:
        return PriceBar.objects.create(
            asset=make_asset(f"T{n}", f"Test Company {n}"),
            date=dt.date(2024, 7, 1),
            open=1,
            high=2,
            low=1,
            close=2,
            provider="yahoo",
        )
    run = IngestionRun.objects.create(source="house_clerk")
    return RejectedRecord.objects.create(
        run=run, source="house_clerk", location=f"line {n}", reason="bad"
    )


@pytest.mark.parametrize("model", [Filing, PriceBar, RejectedRecord], ids=lambda m: m.__name__)
def test_other_changelists_run_as_many_queries_for_50_rows_as_for_5(admin_client, model):
    counts = []
    for rows in (5, 50):
        for n in range(model.objects.count(), rows):
            make_related_row(model, n)
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(changelist(model))
        assert len(response.context["cl"].result_list) == rows
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_trade_change_form_uses_autocomplete_not_select_boxes_of_every_row(admin_client, cast):
    response = admin_client.get(change_page(cast.nvda_buy))
    form = response.context["adminform"].form
    for name in ["filing", "politician", "asset", "amended_by"]:
        assert isinstance(form.fields[name].widget.widget, AutocompleteSelect), name


def test_trade_fingerprint_hash_and_match_time_are_read_only(admin_client, cast):
    response = admin_client.get(change_page(cast.nvda_buy))
    form = response.context["adminform"].form
    for name in ["fingerprint", "content_hash", "matched_at"]:
        assert name not in form.fields
    assert cast.nvda_buy.fingerprint in response.content.decode()


def test_an_operator_can_correct_a_trade_without_touching_its_fingerprint(admin_client, cast):
    trade = cast.aapl_late_sale
    fingerprint = trade.fingerprint
    response = admin_client.get(change_page(trade))
    data = {
        name: value
        for name, value in response.context["adminform"].form.initial.items()
        if value is not None
    }
    data.update(
        transaction_date="2024-03-01",
        filed_date="2024-06-20",
        owner="spouse",
        fingerprint="tampered",
    )

    response = admin_client.post(change_page(trade), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    trade.refresh_from_db()
    assert trade.owner == "spouse"
    assert trade.fingerprint == fingerprint


# --- Filings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("chamber__exact=senate", {"tuberville_amendment"}),
        ("status__exact=needs_review", {"ashworth_paper"}),
        ("status__exact=parsed", {"pelosi_ptr", "tuberville_amendment"}),
        ("source__exact=senate_efd", {"tuberville_amendment"}),
        ("is_paper__exact=1", {"ashworth_paper"}),
        ("is_amendment__exact=1", {"tuberville_amendment"}),
        ("filed_date__gte=2024-01-01&filed_date__lt=2025-01-01", {"pelosi_ptr", "ashworth_paper"}),
    ],
)
def test_filing_filters_narrow_the_list(admin_client, cast, query, expected):
    assert listed(admin_client, Filing, query) == {getattr(cast, name) for name in expected}


def test_filing_status_filter_offers_the_scanned_paper_review_queue(admin_client, cast):
    content = admin_client.get(changelist(Filing)).content.decode()
    assert "?status__exact=needs_review" in content
    assert "Needs review (scanned paper)" in content


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("20024542", {"pelosi_ptr"}),
        ("5e3f1c2a", {"tuberville_amendment"}),
        ("Pelosi", {"pelosi_ptr"}),
        ("ashworth", {"ashworth_paper"}),
        ("Tommy", {"tuberville_amendment"}),
    ],
)
def test_filing_search_finds_by_doc_id_and_politician_name(admin_client, cast, search, expected):
    found = listed(admin_client, Filing, f"q={search}")
    assert found == {getattr(cast, name) for name in expected}


def test_filing_page_lists_its_trades_read_only(admin_client, cast):
    response = admin_client.get(change_page(cast.pelosi_ptr))
    content = response.content.decode()

    (trades,) = response.context["inline_admin_formsets"]
    assert [form.original for form in trades] == [
        cast.nvda_buy,
        cast.aapl_late_sale,
        cast.tbill_buy,
    ]
    assert not trades.has_add_permission
    assert not trades.has_change_permission
    assert not trades.has_delete_permission
    assert "NVDA" in content and "AAPL" in content
    assert 'name="trades-0-transaction_type"' not in content
    assert change_page(cast.nvda_buy) in content  # each line links to its trade


def test_filing_page_links_to_the_source_document(admin_client, cast):
    content = admin_client.get(change_page(cast.pelosi_ptr)).content.decode()
    assert (
        '<a href="https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2024/20024542.pdf"'
        ' target="_blank" rel="noopener noreferrer">'
    ) in content


def test_a_source_url_that_is_not_http_is_shown_as_text_not_a_link(admin_client, cast):
    Filing.objects.filter(pk=cast.ashworth_paper.pk).update(source_url="javascript:alert(1)")
    content = admin_client.get(change_page(cast.ashworth_paper)).content.decode()
    assert 'href="javascript:' not in content
    assert "javascript:alert(1)" in content


def test_an_operator_can_mark_a_paper_filing_reviewed(admin_client, cast):
    filing = cast.ashworth_paper
    response = admin_client.get(change_page(filing))
    data = {
        name: value
        for name, value in response.context["adminform"].form.initial.items()
        if value is not None
    }
    data.update(filed_date="2024-02-01", status="parsed", **management_form(response))

    response = admin_client.post(change_page(filing), data)

    assert response.status_code == 302
    filing.refresh_from_db()
    assert filing.status == "parsed"
    assert filing.trades.get() == cast.paper_aapl_buy  # the read-only inline left it alone


def management_form(response) -> dict:
    data = {}
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name, field in management.fields.items():
            data[management.add_prefix(name)] = management.initial.get(name, field.initial)
    return data


@pytest.mark.parametrize("trades", [5, 50])
def test_filing_page_query_count_does_not_grow_with_its_trades(
    admin_client, django_assert_max_num_queries, trades
):
    politician = make_politician("Member", "Test", bioguide_id="M000001")
    filing = make_filing(politician, "20030001", filed_date=dt.date(2024, 7, 1))
    for n in range(1, trades + 1):
        make_trade(filing, n, make_asset(f"T{n}", f"Test Company {n}"))

    with django_assert_max_num_queries(FILING_CHANGE_PAGE_MAX_QUERIES):
        response = admin_client.get(change_page(filing))

    assert response.content.count(b"Test Company") >= trades


# --- Politicians and assets -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("chamber__exact=senate", {"tuberville"}),
        ("party__exact=D", {"pelosi"}),
        ("state=OH", {"ashworth"}),
        ("is_resolved__exact=0", {"ashworth"}),
        ("in_office__exact=1", {"pelosi", "tuberville"}),
    ],
)
def test_politician_filters_narrow_the_list(admin_client, cast, query, expected):
    assert listed(admin_client, Politician, query) == {getattr(cast, name) for name in expected}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("Pelosi", {"pelosi"}),
        ("tuber", {"tuberville"}),
        ("Jordan", {"ashworth"}),
        ("P000197", {"pelosi"}),
        ("p000197", {"pelosi"}),
    ],
)
def test_politician_search_finds_by_name_and_bioguide_id(admin_client, cast, search, expected):
    assert listed(admin_client, Politician, f"q={search}") == {
        getattr(cast, name) for name in expected
    }


def test_politician_changelist_shows_resolution_and_office(admin_client, cast):
    content = admin_client.get(changelist(Politician)).content.decode()
    assert "Nancy Pelosi" in content and "P000197" in content


def test_asset_filter_by_kind(admin_client, cast):
    assert listed(admin_client, Asset, "kind__exact=etf") == {cast.spy}


@pytest.mark.parametrize(
    ("search", "expected"),
    [("NVDA", {"nvda"}), ("aap", {"aapl"}), ("treasury", {"tbill"}), ("S&P 500", {"spy"})],
)
def test_asset_search_finds_by_ticker_and_name(admin_client, cast, search, expected):
    found = listed(admin_client, Asset, f"q={search.replace('&', '%26')}")
    assert found == {getattr(cast, name) for name in expected}


# --- Price bars -----------------------------------------------------------------------------


def test_price_bar_filter_by_provider(admin_client, cast):
    assert listed(admin_client, PriceBar, "provider=yahoo") == set(cast.nvda_yahoo_bars)
    assert listed(admin_client, PriceBar, "provider=stooq") == {cast.aapl_stooq_bar}


def test_price_bar_filter_by_date(admin_client, cast):
    query = "date__gte=2024-06-04&date__lt=2024-06-05"
    assert listed(admin_client, PriceBar, query) == {cast.nvda_yahoo_bars[1]}


def test_price_bar_search_finds_by_ticker(admin_client, cast):
    assert listed(admin_client, PriceBar, "q=aapl") == {cast.aapl_stooq_bar}


def test_price_bars_list_newest_first_with_their_close(admin_client, cast):
    response = admin_client.get(changelist(PriceBar))
    assert list(response.context["cl"].result_list)[:2] == [
        cast.nvda_yahoo_bars[1],
        cast.nvda_yahoo_bars[0],
    ]
    assert "123.4500" in response.content.decode()


def test_price_bar_form_picks_the_asset_by_raw_id(admin_client, cast):
    response = admin_client.get(change_page(cast.aapl_stooq_bar))
    widget = response.context["adminform"].form.fields["asset"].widget
    assert isinstance(widget, ForeignKeyRawIdWidget)


# --- Ingestion runs, rejected records and HTTP validators (read-only) -----------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source__exact=senate_efd", {"senate_run"}),
        ("status__exact=partial", {"run"}),
        ("status__exact=succeeded", {"senate_run"}),
    ],
)
def test_ingestion_run_filters_narrow_the_list(admin_client, cast, query, expected):
    assert listed(admin_client, IngestionRun, query) == {getattr(cast, name) for name in expected}


def test_ingestion_run_search_finds_by_task_id(admin_client, cast):
    assert listed(admin_client, IngestionRun, "q=a1b2c3d4-task") == {cast.run}


def test_ingestion_run_page_shows_the_error_counts_and_rejected_records(admin_client, cast):
    response = admin_client.get(change_page(cast.run))
    content = response.content.decode()

    assert "2 records rejected: see below" in content
    assert "a1b2c3d4-task" in content
    (rejected,) = response.context["inline_admin_formsets"]
    assert {form.original for form in rejected} == {cast.bad_amount, cast.unknown_owner}
    assert "amount range &#x27;$1,000,001 +&#x27; does not parse" in content
    assert f"{changelist(RejectedRecord)}?run__id__exact={cast.run.pk}" in content


def test_ingestion_run_page_shows_the_first_rejected_records_and_links_to_all(admin_client, cast):
    RejectedRecord.objects.bulk_create(
        RejectedRecord(run=cast.run, source="house_clerk", location=f"line {n}", reason="bad")
        for n in range(REJECTED_RECORDS_INLINE_LIMIT + 10)
    )
    response = admin_client.get(change_page(cast.run))

    (rejected,) = response.context["inline_admin_formsets"]
    assert len(list(rejected)) == REJECTED_RECORDS_INLINE_LIMIT
    assert f">All {REJECTED_RECORDS_INLINE_LIMIT + 12}</a>" in response.content.decode()


def test_the_all_rejected_records_link_lists_only_that_runs_records(admin_client, cast):
    RejectedRecord.objects.create(
        run=cast.senate_run, source="senate_efd", location="report 9", reason="no table"
    )
    query = f"run__id__exact={cast.run.pk}"
    assert listed(admin_client, RejectedRecord, query) == {cast.bad_amount, cast.unknown_owner}


@pytest.mark.parametrize("model", [IngestionRun, RejectedRecord, HttpValidator])
def test_read_only_admins_refuse_adds(admin_client, cast, model):
    assert admin_client.get(add_page(model)).status_code == 403
    assert admin_client.post(add_page(model), {}).status_code == 403


@pytest.mark.parametrize("name", ["run", "bad_amount", "validator"])
def test_read_only_admins_refuse_edits(admin_client, cast, name):
    obj = getattr(cast, name)
    before = model_to_dict(obj)
    response = admin_client.get(change_page(obj))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False

    edit = {name: value for name, value in before.items() if value is not None}
    response = admin_client.post(change_page(obj), {**edit, "status": "failed", "reason": "x"})

    assert response.status_code == 403
    obj.refresh_from_db()
    assert model_to_dict(obj) == before


@pytest.mark.parametrize("name", ["run", "bad_amount"])
def test_runs_and_rejected_records_cannot_be_deleted_here(admin_client, cast, name):
    obj = getattr(cast, name)
    url = reverse(f"admin:ingestion_{obj._meta.model_name}_delete", args=[obj.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_an_http_validator_can_be_deleted_to_force_a_full_fetch(admin_client, cast):
    url = reverse("admin:ingestion_httpvalidator_delete", args=[cast.validator.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not HttpValidator.objects.exists()


def test_rejected_record_filter_by_source(admin_client, cast):
    other = RejectedRecord.objects.create(
        run=cast.senate_run, source="senate_efd", location="report 9", reason="no table"
    )
    assert listed(admin_client, RejectedRecord, "source__exact=senate_efd") == {other}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("does not parse", {"bad_amount"}),
        ("20024544.pdf", {"unknown_owner"}),
        ("TSLA", {"unknown_owner"}),
    ],
)
def test_rejected_record_search_finds_by_reason_location_and_payload(
    admin_client, cast, search, expected
):
    found = listed(admin_client, RejectedRecord, f"q={search}")
    assert found == {getattr(cast, name) for name in expected}


def test_rejected_record_page_shows_the_payload_escaped(admin_client, cast):
    RejectedRecord.objects.filter(pk=cast.bad_amount.pk).update(payload="<script>x</script>")
    content = admin_client.get(change_page(cast.bad_amount)).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in content
    assert "<script>x</script>" not in content


def test_http_validator_changelist_shows_etag_and_last_modified(admin_client, cast):
    response = admin_client.get(changelist(HttpValidator) + "?q=2024FD.zip")
    assert set(response.context["cl"].result_list) == {cast.validator}
    content = response.content.decode()
    assert "5f2a-61b" in content and "Mon, 01 Jul 2024 08:00:00 GMT" in content
