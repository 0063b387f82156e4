"""NYSE trading calendar: regular hours, full holidays and early closes, computed by rule.

Pure functions, no I/O. Rules (NYSE Rule 7.2 and the published holiday calendars):

* Regular session 09:30 to 16:00 America/New_York; on an early-close day the session ends at 13:00.
* A holiday on Sunday is observed the following Monday; on Saturday, the preceding Friday —
  except New Year's Day: a Saturday January 1 is not observed at all, because the Friday before
  (December 31) ends the accounting year.
* Martin Luther King, Jr. Day is a holiday from 1998 (the first year NYSE closed for it) and
  Juneteenth from 2022; the other holidays use today's rules for every year, so calendars before
  1971 (Uniform Monday Holiday Act) are not historical.
* Early closes (13:00): July 3 and December 24 when they are trading days (a weekday that is not
  itself an observed holiday), and the day after Thanksgiving.
* One-off closures (national days of mourning, 9/11, Hurricane Sandy) cannot be computed; the
  known ones are listed in ``_SPECIAL_CLOSURES`` and must be extended when NYSE announces one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "EARLY_CLOSE",
    "MARKET_CLOSE",
    "MARKET_OPEN",
    "NYSE_TZ",
    "MarketStatus",
    "easter_sunday",
    "market_status",
    "nyse_early_closes",
    "nyse_holidays",
]

NYSE_TZ = ZoneInfo("America/New_York")
MARKET_OPEN = dt.time(9, 30)
MARKET_CLOSE = dt.time(16, 0)
EARLY_CLOSE = dt.time(13, 0)

_MONDAY, _THURSDAY, _FRIDAY, _SATURDAY, _SUNDAY = 0, 3, 4, 5, 6

# Closures NYSE announced ad hoc; no rule produces them.
_SPECIAL_CLOSURES: dict[dt.date, str] = {
    dt.date(2001, 9, 11): "September 11 attacks",
    dt.date(2001, 9, 12): "September 11 attacks",
    dt.date(2001, 9, 13): "September 11 attacks",
    dt.date(2001, 9, 14): "September 11 attacks",
    dt.date(2004, 6, 11): "National Day of Mourning for President Ronald Reagan",
    dt.date(2007, 1, 2): "National Day of Mourning for President Gerald Ford",
    dt.date(2012, 10, 29): "Hurricane Sandy",
    dt.date(2012, 10, 30): "Hurricane Sandy",
    dt.date(2018, 12, 5): "National Day of Mourning for President George H. W. Bush",
    dt.date(2025, 1, 9): "National Day of Mourning for President Jimmy Carter",
}


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """Whether the NYSE regular session is running, and why (not)."""

    open: bool
    reason: str


def easter_sunday(year: int) -> dt.date:
    """Western Easter, by the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == _SATURDAY:
        return day - dt.timedelta(days=1)
    if day.weekday() == _SUNDAY:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def _holidays(year: int) -> tuple[tuple[dt.date, str], ...]:
    days: dict[dt.date, str] = {}
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != _SATURDAY:  # Saturday: no closure (see module docstring)
        days[_observed(new_year)] = "New Year's Day"
    if year >= 1998:
        days[_nth_weekday(year, 1, _MONDAY, 3)] = "Martin Luther King, Jr. Day"
    days[_nth_weekday(year, 2, _MONDAY, 3)] = "Washington's Birthday"
    days[easter_sunday(year) - dt.timedelta(days=2)] = "Good Friday"
    days[_last_weekday(year, 5, _MONDAY)] = "Memorial Day"
    if year >= 2022:
        days[_observed(dt.date(year, 6, 19))] = "Juneteenth National Independence Day"
    days[_observed(dt.date(year, 7, 4))] = "Independence Day"
    days[_nth_weekday(year, 9, _MONDAY, 1)] = "Labor Day"
    days[_nth_weekday(year, 11, _THURSDAY, 4)] = "Thanksgiving Day"
    days[_observed(dt.date(year, 12, 25))] = "Christmas Day"
    for day, name in _SPECIAL_CLOSURES.items():
        if day.year == year:
            days[day] = name
    return tuple(sorted(days.items()))


def nyse_holidays(year: int) -> dict[dt.date, str]:
    """Full-day NYSE closures on weekdays of ``year``, date -> name, in date order.

    Observed dates are returned (Independence Day 2026 -> Friday July 3). Known one-off closures
    are included.
    """
    return dict(_holidays(year))


def nyse_early_closes(year: int) -> dict[dt.date, str]:
    """Days of ``year`` on which the regular session ends at 13:00 ET, date -> occasion."""
    holidays = _holidays_set(year)
    thanksgiving = _nth_weekday(year, 11, _THURSDAY, 4)
    candidates = {
        dt.date(year, 7, 3): "day before Independence Day",
        thanksgiving + dt.timedelta(days=1): "day after Thanksgiving",
        dt.date(year, 12, 24): "Christmas Eve",
    }
    # July 3 or December 24 can be the observed holiday itself (July 4 / December 25 on a
    # Saturday) or a weekend day; then there is no shortened session.
    return {
        day: name
        for day, name in sorted(candidates.items())
        if day.weekday() < _SATURDAY and day not in holidays
    }


@lru_cache(maxsize=64)
def _holidays_set(year: int) -> frozenset[dt.date]:
    return frozenset(day for day, _name in _holidays(year))


def market_status(at: dt.datetime) -> MarketStatus:
    """Is the NYSE regular session open at the instant ``at`` (timezone-aware, any zone)?

    ``reason`` is ``"open"`` or starts with ``"closed: "``: weekend, holiday (name), early close
    at 13:00 ET (occasion), or outside regular hours.
    """
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise ValueError(f"market_status needs a timezone-aware datetime, got naive {at!r}")
    local = at.astimezone(NYSE_TZ)
    day, clock = local.date(), local.time()
    if day.weekday() >= _SATURDAY:
        return MarketStatus(open=False, reason="closed: weekend")
    holiday = nyse_holidays(day.year).get(day)
    if holiday is not None:
        return MarketStatus(open=False, reason=f"closed: holiday ({holiday})")
    early = nyse_early_closes(day.year).get(day)
    close = EARLY_CLOSE if early else MARKET_CLOSE
    if early and clock >= EARLY_CLOSE:
        return MarketStatus(open=False, reason=f"closed: early close at 13:00 ET ({early})")
    if not MARKET_OPEN <= clock < close:
        hours = f"{MARKET_OPEN:%H:%M}\N{EN DASH}{close:%H:%M} ET"
        suffix = f" (early close: {early})" if early else ""
        return MarketStatus(open=False, reason=f"closed: outside regular hours {hours}{suffix}")
    return MarketStatus(open=True, reason="open")
