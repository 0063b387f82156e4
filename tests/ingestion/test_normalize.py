"""The shared vocabulary: every raw spelling seen in the real samples, and what it means.

The literal lists below were collected from shared/data-samples (senate-stock-watcher flat and
per-PTR files, the 2026 house-stock-watcher re-creation, the capitolscope 2024 CSV, the eFD
pages, the House PDF text and FORMATS.md §2), so the tests need no file outside tests/.
"""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
import time_machine

from ingestion.normalize import (
    ASSET_TYPES,
    OWNERS,
    TRANSACTION_TYPES,
    Amount,
    NormalizedTrade,
    Rejected,
    clean_ticker,
    disclosure_deadline,
    disclosure_delay_days,
    is_late,
    normalize_trade,
    parse_amount,
    parse_asset_type,
    parse_cap_gains,
    parse_date,
    parse_owner,
    parse_transaction_type,
    split_house_asset,
    trade_fingerprint,
)
from ingestion.records import RawTrade

TODAY = dt.date(2026, 7, 10)


# --------------------------------------------------------------------------------------------
# Canonical values
# --------------------------------------------------------------------------------------------


def test_canonical_values_are_the_strings_the_models_use():
    assert TRANSACTION_TYPES == ("purchase", "sale_full", "sale_partial", "sale", "exchange")
    assert OWNERS == ("self", "spouse", "joint", "child", "undisclosed")
    assert ASSET_TYPES == (
        "stock",
        "option",
        "etf",
        "mutual_fund",
        "bond",
        "government",
        "crypto",
        "private",
        "fund",
        "other",
        "unknown",
    )


# --------------------------------------------------------------------------------------------
# Transaction types
# --------------------------------------------------------------------------------------------

TRANSACTION_TYPE_SPELLINGS = {
    # House PDF / capitolscope CSV
    "P": "purchase",
    "S": "sale_full",
    "S (partial)": "sale_partial",
    "S (Partial)": "sale_partial",
    "S(partial)": "sale_partial",
    "E": "exchange",
    # Senate eFD / senate-stock-watcher / Quiver / FMP
    "Purchase": "purchase",
    "Sale (Full)": "sale_full",
    "Sale (Partial)": "sale_partial",
    "Exchange": "exchange",
    "Sale Partial": "sale_partial",
    # 2026 re-creation, FMP: partial vs full not stated
    "Sale": "sale",
    # house-stock-watcher
    "purchase": "purchase",
    "sale_full": "sale_full",
    "sale_partial": "sale_partial",
    "exchange": "exchange",
    # Capitol Trades / Unusual Whales
    "buy": "purchase",
    "sell": "sale",
    "Buy": "purchase",
    "Sell": "sale",
    # whitespace and case noise
    "  purchase\n": "purchase",
    "SALE (FULL)": "sale_full",
    "sale  (partial)": "sale_partial",
}


@pytest.mark.parametrize(("raw", "expected"), TRANSACTION_TYPE_SPELLINGS.items())
def test_every_transaction_type_spelling_maps_to_its_canonical_value(raw, expected):
    assert parse_transaction_type(raw) == expected


@pytest.mark.parametrize("raw", ["N/A", "", "receive", "Gift", "(partial)", "Common", "P S"])
def test_unknown_transaction_types_are_rejected_with_the_value_quoted(raw):
    with pytest.raises(Rejected) as caught:
        parse_transaction_type(raw)
    assert caught.value.field == "transaction_type"
    assert caught.value.value == raw
    assert str(caught.value).startswith(f"transaction_type: {raw!r} is not a known transaction")


# --------------------------------------------------------------------------------------------
# Owners
# --------------------------------------------------------------------------------------------

OWNER_SPELLINGS = {
    # House PDF: blank means the filer
    "": "self",
    "   ": "self",
    "SP": "spouse",
    "JT": "joint",
    "DC": "child",
    # Senate eFD / senate-stock-watcher
    "Self": "self",
    "Spouse": "spouse",
    "Joint": "joint",
    "Child": "child",
    "N/A": "undisclosed",
    # 2026 re-creation
    "Dependent Child": "child",
    # house-stock-watcher
    "self": "self",
    "joint": "joint",
    "spouse": "spouse",
    "dependent": "child",
    "--": "undisclosed",
    # Capitol Trades
    "not-disclosed": "undisclosed",
    "child": "child",
}


@pytest.mark.parametrize(("raw", "expected"), OWNER_SPELLINGS.items())
def test_every_owner_spelling_maps_to_its_canonical_value(raw, expected):
    assert parse_owner(raw) == expected


# Company names shifted into the Owner column by the capitolscope regex parser.
@pytest.mark.parametrize("raw", ["Alphabet", "Apple", "Amazon.com,", "Treasury", "SP JT"])
def test_unknown_owners_are_rejected(raw):
    with pytest.raises(Rejected) as caught:
        parse_owner(raw)
    assert caught.value.field == "owner"
    assert repr(raw) in str(caught.value)


# --------------------------------------------------------------------------------------------
# Amounts
# --------------------------------------------------------------------------------------------

AMOUNT_BANDS = {
    "$1 - $1,000": (1, 1_000),
    "$1,001 - $15,000": (1_001, 15_000),
    "$15,001 - $50,000": (15_001, 50_000),
    "$50,001 - $100,000": (50_001, 100_000),
    "$100,001 - $250,000": (100_001, 250_000),
    "$250,001 - $500,000": (250_001, 500_000),
    "$500,001 - $1,000,000": (500_001, 1_000_000),
    "$1,000,001 - $5,000,000": (1_000_001, 5_000_000),
    "$5,000,001 - $25,000,000": (5_000_001, 25_000_000),
    "$25,000,001 - $50,000,000": (25_000_001, 50_000_000),
}


@pytest.mark.parametrize(("raw", "bounds"), AMOUNT_BANDS.items())
def test_statutory_bands_parse_to_their_bounds(raw, bounds):
    assert parse_amount(raw) == Amount(min_usd=bounds[0], max_usd=bounds[1], label=raw)


# The 2026 re-creation wraps amounts over two lines exactly like this.
@pytest.mark.parametrize(
    ("raw", "bounds", "label"),
    [
        ("$15,001 -\n$50,000", (15_001, 50_000), "$15,001 - $50,000"),
        ("$50,001 -\n$100,000", (50_001, 100_000), "$50,001 - $100,000"),
        ("$1,000,001 -\n$5,000,000", (1_000_001, 5_000_000), "$1,000,001 - $5,000,000"),
        ("  $1,001  -  $15,000 ", (1_001, 15_000), "$1,001 - $15,000"),
        ("$1,001-$15,000", (1_001, 15_000), "$1,001-$15,000"),
    ],
)
def test_amounts_wrapped_over_lines_parse_and_keep_a_collapsed_label(raw, bounds, label):
    amount = parse_amount(raw)
    assert (amount.min_usd, amount.max_usd, amount.label) == (*bounds, label)


# House PDFs cut off after the first line: '$15,001 -' (216 rows in the capitolscope CSV).
@pytest.mark.parametrize(
    ("raw", "high"),
    [
        ("$15,001 -", 50_000),
        ("$50,001 -", 100_000),
        ("$100,001 -", 250_000),
        ("$250,001 -", 500_000),
        ("$500,001 -", 1_000_000),
        ("$1,000,001 -", 5_000_000),
        ("$5,000,001 -", 25_000_000),
    ],
)
def test_a_band_cut_off_after_its_low_is_completed_from_the_statutory_table(raw, high):
    amount = parse_amount(raw)
    assert amount.max_usd == high
    assert amount.label == raw
    assert not amount.is_exact


def test_over_50_million_is_an_open_band():
    assert parse_amount("Over $50,000,000") == Amount(
        min_usd=50_000_000, max_usd=None, label="Over $50,000,000"
    )


def test_over_1_million_is_the_spouse_child_flag_not_a_band():
    amount = parse_amount("Over $1,000,000")
    assert amount == Amount(
        min_usd=1_000_000, max_usd=None, label="Over $1,000,000", over_1m_flag=True
    )


@pytest.mark.parametrize(
    ("raw", "dollars"),
    [
        ("$9.00", 9),  # Pelosi CRM options
        ("$1,118.07", 1_118),
        ("$4,450.50", 4_451),  # half-up
        ("$999.64", 1_000),
        ("$15.00", 15),
        ("$447.03", 447),
        ("$0.49", 0),
    ],
)
def test_exact_amounts_round_half_up_to_whole_dollars(raw, dollars):
    amount = parse_amount(raw)
    assert (amount.min_usd, amount.max_usd, amount.is_exact) == (dollars, dollars, True)
    assert amount.label == raw


BAD_AMOUNTS = [
    ("Unknown", "is not an amount"),  # senate-stock-watcher paper placeholder
    ("", "is empty"),
    ("   ", "is empty"),
    ("$50,000 - $15,001", "low is above its high"),
    ("$12,345 -", "not a statutory band"),
    ("15001.0", "is not a known amount"),  # Quiver band low / amount_mid: ambiguous
    ("S", "is not a known amount"),  # capitolscope column shift
    ("(partial)", "is not a known amount"),
    ("Common", "is not a known amount"),
    ("06/21/2024", "is not a known amount"),
    ("4.00%", "is not a known amount"),
    ("-", "is not a known amount"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD_AMOUNTS)
def test_unreadable_amounts_are_rejected_with_a_reason_quoting_the_value(raw, reason):
    with pytest.raises(Rejected) as caught:
        parse_amount(raw)
    assert caught.value.field == "amount"
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"amount: {raw!r} ")


# --------------------------------------------------------------------------------------------
# Tickers and House asset cells
# --------------------------------------------------------------------------------------------

TICKER_SPELLINGS = {
    "AAPL": "AAPL",
    " nvda ": "NVDA",
    "$TSLA": "TSLA",
    "--": "",
    "": "",
    "N/A": "",
    "None": "",
    # per-PTR senate-stock-watcher cells, 2021 and 2026 anchor forms
    '<a href="https://finance.yahoo.com/q?s=AMAT" target="_blank">AMAT</a>': "AMAT",
    '<a href="https://finance.yahoo.com/quote/ORCL">ORCL</a>': "ORCL",
    # suffixes seen in the Senate flat file
    "BRK-B": "BRK.B",
    "RDS-A": "RDS.A",
    "LGF-B": "LGF.B",
    "BRK/B": "BRK.B",
    "BRK.B": "BRK.B",
    "NEE-PC": "NEE-PC",
    "XLS-WI": "XLS-WI",
    "3V64.TI": "3V64.TI",
    "0QZI.IL": "0QZI.IL",
    "IBM.MX": "IBM.MX",
    "^MWE": "MWE",
    # OCC option symbol -> underlying
    "SPY160219P00180000": "SPY",
    # '$' preferred series in House PDFs -> the Senate's spelling
    "T$A": "T-PA",
    "COF$I": "COF-PI",
}


@pytest.mark.parametrize(("raw", "expected"), TICKER_SPELLINGS.items())
def test_tickers_are_cleaned_to_canonical_upper_case_symbols(raw, expected):
    assert clean_ticker(raw) == expected


# Column-shifted cells from the capitolscope CSV, and things too long to be a symbol.
@pytest.mark.parametrize("raw", ["ASML Holding", "GLAS Funds, LP", "Meta Platforms", "ABCDEFGHIJK"])
def test_values_that_cannot_be_a_ticker_are_rejected_not_silently_dropped(raw):
    with pytest.raises(Rejected) as caught:
        clean_ticker(raw)
    assert caught.value.field == "ticker"


HOUSE_ASSETS = {
    "Apple Inc. (AAPL) [ST]": ("Apple Inc.", "AAPL", "ST"),
    "Alphabet Inc. - Class A (GOOGL) [ST]": ("Alphabet Inc. - Class A", "GOOGL", "ST"),
    "Intel Corporation - Common Stock (INTC) [OP]": (
        "Intel Corporation - Common Stock",
        "INTC",
        "OP",
    ),
    "Alliance Bernstein Holding L.P. Units [OL]": (
        "Alliance Bernstein Holding L.P. Units",
        "",
        "OL",
    ),
    "REOF XX, LLC [AB]": ("REOF XX, LLC", "", "AB"),
    "Roblox Corporation Class A (RBLX)\n[ST]": ("Roblox Corporation Class A", "RBLX", "ST"),
    "Berkshire Hathaway Inc. (BRK.B) [ST]": ("Berkshire Hathaway Inc.", "BRK.B", "ST"),
    "Netflix, Inc. (NFLX)": ("Netflix, Inc.", "NFLX", ""),
    "Accenture plc Class A Ordinary Shares (Ireland)": (
        "Accenture plc Class A Ordinary Shares (Ireland)",
        "",
        "",
    ),
    "Morgan Stanley Active Assets (1)": ("Morgan Stanley Active Assets (1)", "", ""),
    "PowerShares DB 3x German Bund F (NYSE)": ("PowerShares DB 3x German Bund F (NYSE)", "", ""),
    "Vanguard Total (Intl) Fund (VTIAX) [MF]": ("Vanguard Total (Intl) Fund", "VTIAX", "MF"),
    "US Treasury Bill [gs]": ("US Treasury Bill", "", "GS"),
    "": ("", "", ""),
}


@pytest.mark.parametrize(("raw", "parts"), HOUSE_ASSETS.items())
def test_house_asset_cells_split_into_name_ticker_and_code(raw, parts):
    assert split_house_asset(raw) == parts


# --------------------------------------------------------------------------------------------
# Asset types
# --------------------------------------------------------------------------------------------

ASSET_TYPE_SPELLINGS = {
    # House codes
    "ST": "stock",
    "[ST]": "stock",
    "OP": "option",
    "EF": "etf",
    "MF": "mutual_fund",
    "GS": "government",
    "CS": "bond",
    "AB": "bond",
    "OL": "private",
    "OI": "private",
    "PS": "private",
    "RS": "stock",
    "CT": "crypto",
    "HN": "fund",
    "HE": "fund",
    "BA": "other",
    "4K": "other",
    "5C": "fund",
    "OT": "other",
    # Senate words (all 8 values of the flat file)
    "Stock": "stock",
    "Stock Option": "option",
    "Corporate Bond": "bond",
    "Municipal Security": "government",
    "Other Securities": "other",
    "Non-Public Stock": "private",
    "": "unknown",
    "PDF Disclosed Filing": "unknown",
    # canonical values read as themselves; unknown words are 'other'
    "mutual_fund": "mutual_fund",
    "crypto": "crypto",
    "Cryptocurrency": "crypto",
    "Beanie Babies": "other",
    "ZZ": "other",
}


@pytest.mark.parametrize(("raw", "expected"), ASSET_TYPE_SPELLINGS.items())
def test_asset_types_map_from_house_codes_and_senate_words_and_never_reject(raw, expected):
    assert parse_asset_type(raw) == expected


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

DATE_SPELLINGS = {
    "1/16/2025": dt.date(2025, 1, 16),  # House index, no zero padding
    "01/16/2025": dt.date(2025, 1, 16),
    "2021-09-27": dt.date(2021, 9, 27),  # house-stock-watcher transaction_date
    "20260318": dt.date(2026, 3, 18),  # Stooq bulk
    # the eFD scrape pads dates with newlines and spaces
    "\n                                        11/27/2023\n                                    ": (
        dt.date(2023, 11, 27)
    ),
    "01/01/2012 00:00:00": dt.date(2012, 1, 1),
    "2021-09-27T00:00:00Z": dt.date(2021, 9, 27),
    "06/16/2026 @ 10:27 AM": dt.date(2026, 6, 16),
}


@pytest.mark.parametrize(("raw", "expected"), DATE_SPELLINGS.items())
def test_dates_parse_in_every_source_format(raw, expected):
    assert parse_date(raw, field="transaction_date") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("02/30/2024", "is not a real calendar date"),
        ("13/01/2024", "is not a real calendar date"),
        ("2024-02-30", "is not a real calendar date"),
        ("20240231", "is not a real calendar date"),
        ("08/01/27", "is not a date in"),  # two-digit year (eFD bond maturities)
        ("S", "is not a date in"),
        ("(partial)", "is not a date in"),
        ("", "is empty"),
    ],
)
def test_impossible_or_unreadable_dates_are_rejected_naming_the_field(raw, reason):
    with pytest.raises(Rejected) as caught:
        parse_date(raw, field="notification_date")
    assert caught.value.field == "notification_date"
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"notification_date: {raw!r} ")


# --------------------------------------------------------------------------------------------
# Rejected
# --------------------------------------------------------------------------------------------


def test_rejected_reads_as_a_sentence_a_person_can_act_on():
    error = Rejected(
        "transaction_date", "01/05/1935", "is before 2012-01-01 (STOCK Act reporting began 2012)"
    )
    assert str(error) == (
        "transaction_date: '01/05/1935' is before 2012-01-01 (STOCK Act reporting began 2012)"
    )
    located = error.with_location("ptr-pdfs/2023/20022260.pdf row 3")
    assert str(located) == (
        "ptr-pdfs/2023/20022260.pdf row 3: transaction_date: '01/05/1935' is before 2012-01-01 "
        "(STOCK Act reporting began 2012)"
    )


def test_rejected_survives_pickling_for_celery_results():
    error = Rejected("amount", "Unknown", "is not an amount", "x.json #3")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - bytes we just made
    assert (copy.field, copy.value, copy.reason, copy.location) == (
        "amount",
        "Unknown",
        "is not an amount",
        "x.json #3",
    )
    assert str(copy) == str(error)


# --------------------------------------------------------------------------------------------
# STOCK Act deadline
# --------------------------------------------------------------------------------------------


def test_deadline_is_45_days_after_the_transaction_without_a_notification_date():
    assert disclosure_deadline(transaction_date=dt.date(2026, 5, 1)) == dt.date(2026, 6, 15)


def test_deadline_is_30_days_after_notification_when_that_comes_first():
    assert disclosure_deadline(
        transaction_date=dt.date(2022, 12, 28), notification_date=dt.date(2022, 12, 28)
    ) == dt.date(2023, 1, 27)


def test_deadline_never_exceeds_45_days_after_the_transaction_even_with_late_notification():
    assert disclosure_deadline(
        transaction_date=dt.date(2026, 1, 1), notification_date=dt.date(2026, 2, 10)
    ) == dt.date(2026, 2, 15)


def test_filing_on_the_deadline_is_on_time_and_a_day_later_is_late():
    txn = dt.date(2026, 5, 1)
    assert not is_late(transaction_date=txn, filed_date=dt.date(2026, 6, 15))
    assert is_late(transaction_date=txn, filed_date=dt.date(2026, 6, 16))


def test_late_uses_the_notification_clock_when_given():
    # Pelosi 20022260: transaction and notification 12/28/2022, filed 01/12/2023: on time.
    txn = dt.date(2022, 12, 28)
    assert not is_late(transaction_date=txn, filed_date=dt.date(2023, 1, 12), notification_date=txn)
    assert is_late(transaction_date=txn, filed_date=dt.date(2023, 1, 28), notification_date=txn)


def test_delay_is_filed_minus_transaction_in_days_and_can_be_negative_for_bad_feeds():
    txn = dt.date(2026, 4, 14)
    assert disclosure_delay_days(transaction_date=txn, filed_date=dt.date(2026, 5, 17)) == 33
    assert disclosure_delay_days(transaction_date=txn, filed_date=dt.date(2026, 4, 1)) == -13


# --------------------------------------------------------------------------------------------
# Cap gains box
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("False", False),
        ("Yes", True),
        ("no", False),
        ("[X]", True),
        ("", None),
        (None, None),
    ],
)
def test_cap_gains_box_reads_booleans_strings_and_checkboxes(raw, expected):
    assert parse_cap_gains(raw) is expected


def test_cap_gains_box_rejects_other_text():
    with pytest.raises(Rejected):
        parse_cap_gains("maybe")


# --------------------------------------------------------------------------------------------
# normalize_trade
# --------------------------------------------------------------------------------------------


def _raw(**overrides) -> RawTrade:
    values = {
        "source": "house_pdf",
        "location": "ptr-pdfs/2023/20022260.pdf row 2",
        "line_number": 2,
        "chamber": "house",
        "politician_name": "Hon. Nancy Pelosi",
        "state_district": "CA12",
        "filing_doc_id": "20022260",
        "filing_url": "https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2023/20022260.pdf",
        "filed_date": "01/12/2023",
        "transaction_date": "12/28/2022",
        "notification_date": "12/28/2022",
        "owner": "SP",
        "asset_name": "Alphabet Inc. - Class A (GOOGL) [ST]",
        "transaction_type": "S (partial)",
        "amount": "$500,001 -\n$1,000,000",
        "description": "Sold 10,000 shares.",
        "filing_status": "New",
    }
    values.update(overrides)
    return RawTrade(**values)


def test_a_house_pdf_row_normalizes_to_canonical_values():
    trade = normalize_trade(_raw(), today=TODAY)
    assert trade == NormalizedTrade(
        source="house_pdf",
        location="ptr-pdfs/2023/20022260.pdf row 2",
        line_number=2,
        chamber="house",
        politician_name="Hon. Nancy Pelosi",
        state_district="CA12",
        bioguide_id="",
        filing_doc_id="20022260",
        filing_url="https://disclosures-clerk.house.gov/public_disc/ptr-pdfs/2023/20022260.pdf",
        filed_date=dt.date(2023, 1, 12),
        transaction_date=dt.date(2022, 12, 28),
        notification_date=dt.date(2022, 12, 28),
        owner="spouse",
        ticker="GOOGL",
        asset_name="Alphabet Inc. - Class A",
        asset_type="stock",
        asset_type_raw="ST",
        transaction_type="sale_partial",
        amount_min=500_001,
        amount_max=1_000_000,
        amount_label="$500,001 - $1,000,000",
        amount_exact=False,
        over_1m_flag=False,
        comment="",
        description="Sold 10,000 shares.",
        filing_status="New",
        cap_gains_over_200=None,
        is_amendment_row=False,
    )


def test_an_options_row_with_an_exact_amount_keeps_the_option_type():
    trade = normalize_trade(
        _raw(asset_name="Salesforce, Inc. (CRM) [OP]", transaction_type="P", amount="$9.00"),
        today=TODAY,
    )
    assert (trade.ticker, trade.asset_type, trade.transaction_type) == ("CRM", "option", "purchase")
    assert (trade.amount_min, trade.amount_max, trade.amount_exact) == (9, 9, True)


def test_a_senate_watcher_row_loses_its_html_and_keeps_bond_details_as_description():
    trade = normalize_trade(
        RawTrade(
            source="senate_watcher",
            location="daily_summaries #0 transaction 1",
            line_number=1,
            chamber="senate",
            politician_name="Collins, Susan M. (Senator)",
            filed_date="03/10/2021",
            transaction_date="02/11/2021",
            owner="Spouse",
            ticker="--",
            asset_name=(
                'LII - Lennox International Inc. 526107AF4 <div class="text-muted"><em>Rate/'
                "Coupon:</em> 1.700%<br> <em>Matures:</em> 08/01/27</div>"
            ),
            asset_type="Corporate Bond",
            transaction_type="Purchase",
            amount="$50,001 - $100,000",
            comment="--",
        ),
        today=TODAY,
    )
    # A bond's "LII - " prefix names the issuer's stock, so it is not taken as the ticker.
    assert trade.ticker == ""
    assert trade.asset_name == "LII - Lennox International Inc. 526107AF4"
    assert trade.description == "Rate/Coupon: 1.700% Matures: 08/01/27"
    assert (trade.asset_type, trade.asset_type_raw) == ("bond", "Corporate Bond")
    assert trade.comment == ""
    assert trade.chamber == "senate"


def test_rows_repeating_a_bad_ticker_are_each_rejected_at_their_own_location():
    # Asset cells are read once per distinct value and the reading reused: the reuse must not
    # carry one row's location over to the next row.
    for row in (2, 3, 2):
        with pytest.raises(Rejected) as caught:
            normalize_trade(
                _raw(location=f"20022260.pdf row {row}", ticker="ASML Holding"), today=TODAY
            )
        assert str(caught.value) == (
            f"20022260.pdf row {row}: ticker: 'ASML Holding' cannot be a ticker symbol "
            "(more than 10 characters, spaces or punctuation)"
        )


def test_the_same_asset_name_reads_by_each_rows_own_asset_type_and_ticker():
    name = "Tradr 2X Long SPY Monthly ETF"
    stock = normalize_trade(_raw(asset_name=f"SPYM - {name}", asset_type="Stock"), today=TODAY)
    bond = normalize_trade(
        _raw(asset_name=f"SPYM - {name}", asset_type="Corporate Bond"), today=TODAY
    )
    given = normalize_trade(
        _raw(asset_name=f"SPYM - {name}", asset_type="Stock", ticker="SPY"), today=TODAY
    )
    assert (stock.ticker, stock.asset_name, stock.asset_type) == ("SPYM", name, "stock")
    assert (bond.ticker, bond.asset_name, bond.asset_type) == ("", f"SPYM - {name}", "bond")
    assert (given.ticker, given.asset_name) == ("SPY", f"SPYM - {name}")


def test_an_anchor_ticker_and_entities_are_cleaned():
    trade = normalize_trade(
        _raw(
            source="senate_watcher",
            chamber="senate",
            owner="Joint",
            ticker='<a href="https://finance.yahoo.com/q?s=MRK" target="_blank">MRK</a>',
            asset_name="Merck &amp; Co., Inc.",
            asset_type="Stock",
            transaction_type="Sale (Full)",
            amount="$1,001 - $15,000",
            comment="THIS IS A SUB-ASSET HOLDING OF ANANIA &amp; ASSOCIATES INVESTMENT CO LLC",
        ),
        today=TODAY,
    )
    assert (trade.ticker, trade.asset_name) == ("MRK", "Merck & Co., Inc.")
    assert trade.comment == "THIS IS A SUB-ASSET HOLDING OF ANANIA & ASSOCIATES INVESTMENT CO LLC"


def test_a_ticker_written_in_front_of_a_stock_name_is_used_when_the_ticker_cell_is_empty():
    # Boozman a9754ff5 row: the amendment filed minutes later has Ticker=SPYM.
    trade = normalize_trade(
        _raw(
            chamber="senate",
            ticker="--",
            asset_name="SPYM - Tradr 2X Long SPY Monthly ETF",
            asset_type="Stock",
        ),
        today=TODAY,
    )
    assert (trade.ticker, trade.asset_name) == ("SPYM", "Tradr 2X Long SPY Monthly ETF")


def test_pdf_control_bytes_and_amended_status_are_handled():
    trade = normalize_trade(
        _raw(filing_status="Amended", description="Sold\x00\x00 20,000\nshares."), today=TODAY
    )
    assert trade.is_amendment_row
    assert trade.description == "Sold 20,000 shares."


def test_a_filed_date_before_the_transaction_is_accepted_because_feeds_have_such_errors():
    trade = normalize_trade(_raw(filed_date="12/01/2022", notification_date=""), today=TODAY)
    assert trade.filed_date == dt.date(2022, 12, 1)
    assert trade.notification_date is None


def test_cap_gains_flag_and_house_watcher_spellings_flow_through():
    trade = normalize_trade(
        _raw(
            source="house_watcher",
            transaction_date="2021-09-27",
            filed_date="10/04/2021",
            notification_date="",
            owner="joint",
            ticker="BP",
            asset_name="BP plc",
            transaction_type="purchase",
            amount="$1,001 - $15,000",
            cap_gains_over_200="False",
            filing_status="",
            description="",
        ),
        today=TODAY,
    )
    assert trade.cap_gains_over_200 is False
    assert (trade.owner, trade.transaction_type, trade.ticker) == ("joint", "purchase", "BP")
    assert trade.asset_type == "unknown"


@time_machine.travel(dt.datetime(2026, 7, 10, 12, 0, tzinfo=dt.UTC), tick=False)
def test_today_is_the_callers_date_so_a_frozen_clock_decides_what_is_in_the_future():
    today = dt.date.today()
    assert today == dt.date(2026, 7, 10)
    assert normalize_trade(_raw(transaction_date="07/10/2026", filed_date=""), today=today)
    with pytest.raises(Rejected, match="is in the future"):
        normalize_trade(_raw(transaction_date="07/11/2026", filed_date=""), today=today)


BAD_ROWS = [
    (
        {"transaction_date": "01/05/1935"},
        "ptr-pdfs/2023/20022260.pdf row 2: transaction_date: '01/05/1935' is before 2012-01-01 "
        "(STOCK Act reporting began 2012)",
    ),
    (
        {"transaction_date": "09/19/2202"},
        "ptr-pdfs/2023/20022260.pdf row 2: transaction_date: '09/19/2202' is in the future "
        "(today is 2026-07-10)",
    ),
    (
        {"transaction_date": ""},
        "ptr-pdfs/2023/20022260.pdf row 2: transaction_date: '' is empty",
    ),
    (
        {"transaction_date": "02/30/2024"},
        "ptr-pdfs/2023/20022260.pdf row 2: transaction_date: '02/30/2024' is not a real "
        "calendar date",
    ),
    (
        {"filed_date": "03/28/1935"},
        "ptr-pdfs/2023/20022260.pdf row 2: filed_date: '03/28/1935' is before 2012-01-01 "
        "(STOCK Act reporting began 2012)",
    ),
    (
        {"filed_date": "08/01/2026"},
        "ptr-pdfs/2023/20022260.pdf row 2: filed_date: '08/01/2026' is in the future "
        "(today is 2026-07-10)",
    ),
    (
        {"notification_date": "13/01/2024"},
        "ptr-pdfs/2023/20022260.pdf row 2: notification_date: '13/01/2024' is not a real "
        "calendar date",
    ),
    (
        {"amount": "Unknown"},
        "ptr-pdfs/2023/20022260.pdf row 2: amount: 'Unknown' is not an amount (the source gives "
        "no value; paper filings say 'Unknown')",
    ),
    (
        {"owner": "Alphabet"},
        "ptr-pdfs/2023/20022260.pdf row 2: owner: 'Alphabet' is not a known owner (expected "
        "Self, SP, JT, DC or their words)",
    ),
    (
        {"transaction_type": "receive"},
        "ptr-pdfs/2023/20022260.pdf row 2: transaction_type: 'receive' is not a known "
        "transaction type (expected purchase, sale, partial sale or exchange)",
    ),
    (
        {"ticker": "ASML Holding"},
        "ptr-pdfs/2023/20022260.pdf row 2: ticker: 'ASML Holding' cannot be a ticker symbol "
        "(more than 10 characters, spaces or punctuation)",
    ),
    (
        {"chamber": "Representatives"},
        "ptr-pdfs/2023/20022260.pdf row 2: chamber: 'Representatives' is not 'house' or 'senate'",
    ),
    (
        # senate-stock-watcher's placeholder row for a scanned paper filing
        {"asset_type": "PDF Disclosed Filing", "transaction_type": "N/A", "amount": "Unknown"},
        "ptr-pdfs/2023/20022260.pdf row 2: asset_type: 'PDF Disclosed Filing' marks a "
        "placeholder for a scanned paper filing, not a transaction (the filing's rows must be "
        "entered from the scan)",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_ROWS)
def test_bad_rows_are_rejected_with_the_location_field_value_and_reason(overrides, message):
    with pytest.raises(Rejected) as caught:
        normalize_trade(_raw(**overrides), today=TODAY)
    assert str(caught.value) == message
    assert caught.value.location == "ptr-pdfs/2023/20022260.pdf row 2"


def test_the_first_problem_found_is_the_one_reported():
    with pytest.raises(Rejected) as caught:
        normalize_trade(_raw(transaction_type="??", amount="??"), today=TODAY)
    assert caught.value.field == "transaction_type"


# --------------------------------------------------------------------------------------------
# trade_fingerprint
# --------------------------------------------------------------------------------------------


def _fingerprint(**overrides) -> str:
    values = {
        "politician_key": "K000398",
        "transaction_date": dt.date(2026, 4, 14),
        "ticker": "FCNCA",
        "asset_name": "First Citizens BancShares, Inc. - Class A Common Stock",
        "transaction_type": "sale",
        "amount_min": 1_001,
        "amount_max": 15_000,
        "owner": "self",
    }
    values.update(overrides)
    return trade_fingerprint(**values)


def test_fingerprint_is_a_sha1_hex_digest():
    value = _fingerprint()
    assert len(value) == 40
    assert int(value, 16) >= 0


def test_the_same_trade_from_the_community_feed_and_the_official_pdf_share_a_fingerprint():
    # 2026 re-creation row (type "Sale") and the PDF row for the same trade (type "S").
    feed = normalize_trade(
        RawTrade(
            source="house_watcher",
            location="all_transactions.json #0",
            line_number=1,
            chamber="house",
            transaction_date="04/14/2026",
            filed_date="05/17/2026",
            owner="Self",
            ticker="FCNCA",
            asset_name="First Citizens BancShares, Inc. - Class A Common Stock",
            asset_type="Stock",
            transaction_type="Sale",
            amount="$1,001 - $15,000",
        ),
        today=TODAY,
    )
    pdf = normalize_trade(
        _raw(
            transaction_date="04/14/2026",
            notification_date="04/15/2026",
            filed_date="05/17/2026",
            owner="",
            asset_name="First Citizens BancShares, Inc. - Class A Common Stock (FCNCA) [ST]",
            transaction_type="S",
            amount="$1,001 -\n$15,000",
        ),
        today=TODAY,
    )

    def key(trade):
        return trade_fingerprint(
            politician_key="K000398",
            transaction_date=trade.transaction_date,
            ticker=trade.ticker,
            asset_name=trade.asset_name,
            transaction_type=trade.transaction_type,
            amount_min=trade.amount_min,
            amount_max=trade.amount_max,
            owner=trade.owner,
        )

    assert (feed.transaction_type, pdf.transaction_type) == ("sale", "sale_full")
    assert key(feed) == key(pdf)


@pytest.mark.parametrize("transaction_type", ["sale_full", "sale_partial", "sale"])
def test_full_partial_and_unstated_sales_are_one_family(transaction_type):
    assert _fingerprint(transaction_type=transaction_type) == _fingerprint()


def test_share_class_spellings_agree():
    assert (
        _fingerprint(ticker="BRK.B") == _fingerprint(ticker="BRK-B") == _fingerprint(ticker="brkb")
    )


def test_owner_is_part_of_the_key_because_self_and_child_can_report_the_same_trade():
    assert _fingerprint(owner="self") != _fingerprint(owner="child")


@pytest.mark.parametrize(
    "overrides",
    [
        {"politician_key": "P000197"},
        {"transaction_date": dt.date(2026, 4, 15)},
        {"ticker": "FCNCB"},
        {"transaction_type": "purchase"},
        {"transaction_type": "exchange"},
        {"amount_min": 15_001, "amount_max": 50_000},
        {"amount_max": None},
    ],
)
def test_every_other_part_of_the_key_changes_the_fingerprint(overrides):
    assert _fingerprint(**overrides) != _fingerprint()


def test_without_a_ticker_the_normalised_asset_name_is_used():
    base = _fingerprint(ticker="", asset_name="Empire Petroleum Partners LLC")
    assert base == _fingerprint(ticker="", asset_name="  EMPIRE petroleum partners, L.L.C. ")
    assert base != _fingerprint(ticker="", asset_name="Empire Petroleum Holdings")
    assert _fingerprint(ticker="", asset_name="W.L. Gore &amp; Associates, Inc.") == _fingerprint(
        ticker="", asset_name="W.L. Gore & Associates"
    )


def test_fingerprint_refuses_non_canonical_values():
    with pytest.raises(ValueError, match="transaction_type"):
        _fingerprint(transaction_type="Sale (Full)")
    with pytest.raises(ValueError, match="owner"):
        _fingerprint(owner="SP")
