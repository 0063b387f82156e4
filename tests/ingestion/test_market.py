"""NYSE calendar: holidays against the published NYSE calendars, early closes, hours, DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from ingestion.market import (
    MarketStatus,
    easter_sunday,
    market_status,
    nyse_early_closes,
    nyse_holidays,
)

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
D = dt.date

# Literal copies of the "Holidays & Trading Hours" page of nyse.com (2025-2027 calendars). The
# 2025 list includes the closure of Thursday January 9, 2025 for the National Day of Mourning
# for President Carter, announced in December 2024 and added to the page afterwards.
PUBLISHED_HOLIDAYS = {
    2025: {
        D(2025, 1, 1): "New Year's Day",
        D(2025, 1, 9): "National Day of Mourning for President Jimmy Carter",
        D(2025, 1, 20): "Martin Luther King, Jr. Day",
        D(2025, 2, 17): "Washington's Birthday",
        D(2025, 4, 18): "Good Friday",
        D(2025, 5, 26): "Memorial Day",
        D(2025, 6, 19): "Juneteenth National Independence Day",
        D(2025, 7, 4): "Independence Day",
        D(2025, 9, 1): "Labor Day",
        D(2025, 11, 27): "Thanksgiving Day",
        D(2025, 12, 25): "Christmas Day",
    },
    2026: {
        D(2026, 1, 1): "New Year's Day",
        D(2026, 1, 19): "Martin Luther King, Jr. Day",
        D(2026, 2, 16): "Washington's Birthday",
        D(2026, 4, 3): "Good Friday",
        D(2026, 5, 25): "Memorial Day",
        D(2026, 6, 19): "Juneteenth National Independence Day",
        D(2026, 7, 3): "Independence Day",  # July 4 is a Saturday: observed Friday
        D(2026, 9, 7): "Labor Day",
        D(2026, 11, 26): "Thanksgiving Day",
        D(2026, 12, 25): "Christmas Day",
    },
    2027: {
        D(2027, 1, 1): "New Year's Day",
        D(2027, 1, 18): "Martin Luther King, Jr. Day",
        D(2027, 2, 15): "Washington's Birthday",
        D(2027, 3, 26): "Good Friday",
        D(2027, 5, 31): "Memorial Day",
        D(2027, 6, 18): "Juneteenth National Independence Day",  # Saturday -> Friday
        D(2027, 7, 5): "Independence Day",  # Sunday -> Monday
        D(2027, 9, 6): "Labor Day",
        D(2027, 11, 25): "Thanksgiving Day",
        D(2027, 12, 24): "Christmas Day",  # Saturday -> Friday
    },
}

PUBLISHED_EARLY_CLOSES = {
    2025: {
        D(2025, 7, 3): "day before Independence Day",
        D(2025, 11, 28): "day after Thanksgiving",
        D(2025, 12, 24): "Christmas Eve",
    },
    # July 3 is the observed holiday itself: no shortened July 2.
    2026: {D(2026, 11, 27): "day after Thanksgiving", D(2026, 12, 24): "Christmas Eve"},
    # December 24 is the observed Christmas; July 3 is a Saturday.
    2027: {D(2027, 11, 26): "day after Thanksgiving"},
}


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NY)


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", sorted(PUBLISHED_HOLIDAYS))
def test_holidays_match_the_published_nyse_calendar(year):
    assert nyse_holidays(year) == PUBLISHED_HOLIDAYS[year]
    assert list(nyse_holidays(year)) == sorted(PUBLISHED_HOLIDAYS[year])


@pytest.mark.parametrize("year", sorted(PUBLISHED_EARLY_CLOSES))
def test_early_closes_match_the_published_nyse_calendar(year):
    assert nyse_early_closes(year) == PUBLISHED_EARLY_CLOSES[year]


@pytest.mark.parametrize(
    ("year", "holiday"),
    [(year, day) for year, days in PUBLISHED_HOLIDAYS.items() for day in days],
)
def test_every_published_holiday_is_closed_all_day(year, holiday):
    name = PUBLISHED_HOLIDAYS[year][holiday]
    for hour in (9, 10, 12, 15):
        status = market_status(ny(holiday.year, holiday.month, holiday.day, hour, 45))
        assert status == MarketStatus(open=False, reason=f"closed: holiday ({name})")


def test_a_saturday_new_years_day_closes_nothing():
    # NYSE Rule 7.2: Friday December 31 ends the accounting year and stays open.
    assert D(2028, 1, 1).weekday() == 5
    assert not [day for day in nyse_holidays(2028) if day.month == 1 and day.day < 3]
    assert D(2027, 12, 31) not in nyse_holidays(2027)
    assert market_status(ny(2027, 12, 31, 11)).open
    assert D(2022, 1, 1).weekday() == 5 and D(2021, 12, 31) not in nyse_holidays(2021)


def test_a_sunday_new_years_day_is_observed_on_monday():
    assert nyse_holidays(2023)[D(2023, 1, 2)] == "New Year's Day"
    assert D(2023, 1, 1) not in nyse_holidays(2023)


def test_juneteenth_only_from_2022():
    assert "Juneteenth National Independence Day" not in nyse_holidays(2021).values()
    assert nyse_holidays(2022)[D(2022, 6, 20)] == "Juneteenth National Independence Day"


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (1943, D(1943, 4, 25)),  # latest possible
        (2008, D(2008, 3, 23)),
        (2019, D(2019, 4, 21)),
        (2024, D(2024, 3, 31)),
        (2025, D(2025, 4, 20)),
        (2026, D(2026, 4, 5)),
        (2027, D(2027, 3, 28)),
        (2038, D(2038, 4, 25)),
        (2285, D(2285, 3, 22)),  # earliest possible
    ],
)
def test_easter_by_the_anonymous_gregorian_algorithm(year, easter):
    assert easter_sunday(year) == easter


def test_the_returned_calendar_is_a_copy():
    nyse_holidays(2026).clear()
    assert len(nyse_holidays(2026)) == 10


# --------------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (ny(2026, 3, 17, 9, 29), "closed: outside regular hours 09:30\u201316:00 ET"),
        (ny(2026, 3, 17, 9, 30), "open"),
        (ny(2026, 3, 17, 15, 59), "open"),
        (ny(2026, 3, 17, 16, 0), "closed: outside regular hours 09:30\u201316:00 ET"),
        (ny(2026, 3, 17, 23, 0), "closed: outside regular hours 09:30\u201316:00 ET"),
        (ny(2026, 3, 14, 12), "closed: weekend"),
        (ny(2026, 3, 15, 12), "closed: weekend"),
    ],
)
def test_regular_hours_and_weekends(at, expected):
    assert market_status(at).reason == expected
    assert market_status(at).open is (expected == "open")


@pytest.mark.parametrize(
    ("day", "occasion"),
    [(day, name) for closes in PUBLISHED_EARLY_CLOSES.values() for day, name in closes.items()],
)
def test_early_close_days_end_at_one_pm(day, occasion):
    assert market_status(ny(day.year, day.month, day.day, 12, 59)).open
    status = market_status(ny(day.year, day.month, day.day, 13, 0))
    assert status == MarketStatus(
        open=False, reason=f"closed: early close at 13:00 ET ({occasion})"
    )
    assert not market_status(ny(day.year, day.month, day.day, 15)).open
    before = market_status(ny(day.year, day.month, day.day, 9))
    assert before.reason == (
        f"closed: outside regular hours 09:30\u201313:00 ET (early close: {occasion})"
    )


def test_day_after_thanksgiving_reason_reads_naturally():
    status = market_status(ny(2025, 11, 28, 14))
    assert status.reason == "closed: early close at 13:00 ET (day after Thanksgiving)"


def test_the_thanksgiving_reason():
    assert market_status(ny(2026, 11, 26, 11)).reason == "closed: holiday (Thanksgiving Day)"


@pytest.mark.parametrize(
    ("winter", "summer", "utc_time", "open_in"),
    [
        # 14:00 UTC: 09:00 EST (closed) but 10:00 EDT (open). DST began 2026-03-08.
        (D(2026, 3, 6), D(2026, 3, 9), dt.time(14, 0), "summer"),
        # 20:30 UTC: 15:30 EST (open) but 16:30 EDT (closed). DST ended 2026-11-01.
        (D(2026, 11, 2), D(2026, 10, 30), dt.time(20, 30), "winter"),
    ],
)
def test_the_same_utc_time_is_open_in_one_season_and_closed_in_the_other(
    winter, summer, utc_time, open_in
):
    at_winter = dt.datetime.combine(winter, utc_time, tzinfo=UTC)
    at_summer = dt.datetime.combine(summer, utc_time, tzinfo=UTC)
    assert market_status(at_winter).open is (open_in == "winter")
    assert market_status(at_summer).open is (open_in == "summer")


def test_any_time_zone_is_accepted():
    warsaw = dt.datetime(2026, 3, 17, 15, 0, tzinfo=ZoneInfo("Europe/Warsaw"))  # 10:00 ET
    assert market_status(warsaw).open
    tokyo = dt.datetime(2026, 3, 18, 5, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # Tue 16:00 ET
    assert not market_status(tokyo).open


def test_the_local_date_decides_not_the_utc_date():
    # Friday 2026-11-27 02:00 UTC is Thursday 21:00 ET (Thanksgiving): closed for the holiday,
    # not for the early close of the UTC date.
    late = dt.datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert market_status(late).reason == "closed: holiday (Thanksgiving Day)"


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        market_status(dt.datetime(2026, 3, 17, 12, 0))


def test_with_a_travelling_clock():
    with time_machine.travel(dt.datetime(2026, 4, 3, 15, 0, tzinfo=UTC), tick=False):
        assert market_status(timezone.now()).reason == "closed: holiday (Good Friday)"
    with time_machine.travel(dt.datetime(2026, 4, 6, 15, 0, tzinfo=UTC), tick=False):
        assert market_status(timezone.now()) == MarketStatus(open=True, reason="open")
