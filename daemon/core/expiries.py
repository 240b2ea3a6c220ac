"""Monthly expiry calendars: VIX options / VX futures and SPX standard options.

* VIX (Cboe / CFE rule): the final settlement date of the VX future and the expiry of the
  standard VIX option of a month is the **Wednesday 30 days before the third Friday of the
  following calendar month**. If that Friday is an exchange holiday, the 30 days count back
  from the business day before it (the Good-Friday years 2008, 2014, 2019, 2022, 2025 give a
  Tuesday); if the resulting Wednesday is itself a holiday, settlement moves to the business
  day before it (2024-06-18: Juneteenth). Source: Cboe Futures Exchange, VX contract
  specifications, "Final Settlement Date".
* SPX standard (AM-settled) monthly options expire on the **third Friday** of the month, or
  the business day before it when that Friday is a holiday (Cboe SPX contract specs).

Holidays: ``holidays=None`` uses :func:`us_exchange_holidays`, the rule-based full-day
holidays of the NYSE/Cboe (observance-adjusted). One-off closures (national days of mourning,
2012's hurricane Sandy) are not rules; pass them in ``holidays`` if they matter (none of
them has fallen on a VIX expiry or a third Friday). ``holidays=frozenset()`` gives the bare
weekday rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache

from daemon.errors import InvariantViolation

_FRIDAY = 4
_MONDAY = 0
_THURSDAY = 3
_SATURDAY = 5
_SUNDAY = 6
_DAYS_BEFORE_FRIDAY = 30


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th (1-based) ``weekday`` (Mon=0) of a month."""
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    """The last ``weekday`` (Mon=0) of a month."""
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian / Meeus–Jones–Butcher algorithm).

    Args:
        year: Gregorian calendar year (>= 1583).

    Returns:
        The date of Easter Sunday; Good Friday (an exchange holiday) is two days earlier.
    """
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _observed(day: date) -> date:
    """NYSE observance: Saturday → Friday before, Sunday → Monday after."""
    if day.weekday() == _SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == _SUNDAY:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def us_exchange_holidays(year: int) -> frozenset[date]:
    """Rule-based full-day NYSE/Cboe holidays of one year (observance-adjusted).

    New Year's Day (Sunday → Monday; a Saturday New Year is not observed on the Friday
    before, per NYSE rule), Martin Luther King Jr. Day (3rd Monday of January, from 1998),
    Washington's Birthday (3rd Monday of February), Good Friday, Memorial Day (last Monday of
    May), Juneteenth (June 19, from 2022), Independence Day, Labor Day (1st Monday of
    September), Thanksgiving (4th Thursday of November) and Christmas. Fixed-date holidays
    on a Saturday are observed on the Friday, on a Sunday on the Monday.
    One-off closures (e.g. 2001-09-11..14, 2004-06-11, 2007-01-02, 2012-10-29/30,
    2018-12-05, 2025-01-09) are NOT included.

    Args:
        year: calendar year.

    Returns:
        The holiday dates (weekdays only) of that year.
    """
    days: set[date] = set()
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SATURDAY:
        days.add(_observed(new_year))
    if year >= 1998:
        days.add(_nth_weekday(year, 1, _MONDAY, 3))
    days.add(_nth_weekday(year, 2, _MONDAY, 3))
    days.add(easter_sunday(year) - timedelta(days=2))
    days.add(_last_weekday(year, 5, _MONDAY))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))
    days.add(_observed(date(year, 7, 4)))
    days.add(_nth_weekday(year, 9, _MONDAY, 1))
    days.add(_nth_weekday(year, 11, _THURSDAY, 4))
    days.add(_observed(date(year, 12, 25)))
    return frozenset(d for d in days if d.year == year)


def _is_holiday(day: date, holidays: frozenset[date] | None) -> bool:
    """Whether ``day`` is in the given set, or (``None``) a rule-based exchange holiday."""
    if holidays is None:
        return day in us_exchange_holidays(day.year)
    return day in holidays


def is_business_day(day: date, holidays: frozenset[date] | None = None) -> bool:
    """Whether ``day`` is a weekday and not an exchange holiday.

    Args:
        day: the date.
        holidays: holiday set; ``None`` → :func:`us_exchange_holidays`.

    Returns:
        True on a Monday–Friday that is not a holiday.
    """
    return day.weekday() < _SATURDAY and not _is_holiday(day, holidays)


def business_days_between(start: date, end: date) -> int:
    """Business days in ``(start, end]`` (0 when ``end <= start``), without a day-by-day walk.

    The same count as summing :func:`is_business_day` (default holidays) over every day
    after ``start`` through ``end``: the weekdays of the interval, by arithmetic on the
    proleptic ordinal (ordinal 1, 0001-01-01, is a Monday), less the weekday holidays of
    each year's :func:`us_exchange_holidays` that fall in that year and in the interval
    (issue 9: the sizing rules ask this on every re-size).

    Args:
        start: the day after which to count (excluded).
        end: the last day counted (included).

    Returns:
        The number of business days, >= 0.
    """
    if end <= start:
        return 0
    n = _weekdays_through(end.toordinal()) - _weekdays_through(start.toordinal())
    for year in range(start.year, end.year + 1):
        for holiday in us_exchange_holidays(year):
            if holiday.year == year and start < holiday <= end and holiday.weekday() < _SATURDAY:
                n -= 1
    return n


def _weekdays_through(ordinal: int) -> int:
    """Weekdays among the proleptic ordinals 1..``ordinal`` (ordinal 1 is a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return 5 * weeks + min(rest, 5)


@lru_cache(maxsize=4096)  # pure in (day, holidays): asked on every close (issue 9)
def previous_business_day(day: date, holidays: frozenset[date] | None = None) -> date:
    """The last business day on or before ``day``.

    Args:
        day: the date.
        holidays: holiday set; ``None`` → :func:`us_exchange_holidays`.

    Returns:
        ``day`` itself if it is a business day, else the closest earlier business day.
    """
    while not is_business_day(day, holidays):
        day -= timedelta(days=1)
    return day


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month (unadjusted).

    Args:
        year: calendar year.
        month: 1..12.

    Returns:
        The date of the month's third Friday.
    """
    return _nth_weekday(year, month, _FRIDAY, 3)


@lru_cache(maxsize=2048)  # pure in (year, month, holidays); issue 9
def spx_monthly_expiry(year: int, month: int, *, holidays: frozenset[date] | None = None) -> date:
    """Expiry of the standard monthly SPX option: the third Friday, holiday-adjusted.

    Source: Cboe SPX options contract specifications (standard AM-settled series expire on
    the third Friday; if it is a holiday, on the business day before).

    Args:
        year: calendar year.
        month: 1..12.
        holidays: holiday set; ``None`` → :func:`us_exchange_holidays`,
            ``frozenset()`` → always the third Friday.

    Returns:
        The expiry date.
    """
    return previous_business_day(third_friday(year, month), holidays)


@lru_cache(maxsize=2048)  # pure in (year, month, holidays); issue 9
def vix_monthly_expiry(year: int, month: int, *, holidays: frozenset[date] | None = None) -> date:
    """Final settlement date of the VX future / standard VIX option of ``year``-``month``.

    Cboe/CFE rule: the Wednesday 30 days before the third Friday of the FOLLOWING month. If
    that Friday is a holiday, 30 days before the business day preceding it; if the date so
    found is a holiday, the business day before it. Examples: 2020-03 → 2020-03-18;
    2008-02 → 2008-02-19 (Good Friday 2008-03-21); 2024-06 → 2024-06-18 (Juneteenth).

    Args:
        year: calendar year of the contract month.
        month: contract month 1..12 (the expiry always falls inside it).
        holidays: holiday set; ``None`` → :func:`us_exchange_holidays`,
            ``frozenset()`` → the bare Wednesday rule.

    Returns:
        The expiry (final settlement) date (cached: a close asks for the next months'
        expiries again and again).

    Raises:
        InvariantViolation: month outside 1..12.
    """
    if not 1 <= month <= 12:
        msg = f"month must be 1..12, got {month}"
        raise InvariantViolation(msg)
    nxt_year, nxt_month = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = previous_business_day(third_friday(nxt_year, nxt_month), holidays)
    return previous_business_day(friday - timedelta(days=_DAYS_BEFORE_FRIDAY), holidays)


def vix_expiries_after(
    day: date, count: int, *, holidays: frozenset[date] | None = None
) -> list[date]:
    """The next ``count`` monthly VIX expiries strictly after ``day``, ascending.

    Args:
        day: reference date (usually the session date); an expiry ON ``day`` is excluded.
        count: how many expiries (>= 0).
        holidays: holiday set; ``None`` → :func:`us_exchange_holidays`.

    Returns:
        ``count`` expiry dates, ascending, all > ``day``.

    Raises:
        InvariantViolation: negative ``count``.
    """
    return _monthly_after(day, count, vix_monthly_expiry, holidays)


def spx_expiries_after(
    day: date, count: int, *, holidays: frozenset[date] | None = None
) -> list[date]:
    """The next ``count`` standard monthly SPX expiries strictly after ``day``, ascending.

    Args:
        day: reference date; an expiry ON ``day`` is excluded.
        count: how many expiries (>= 0).
        holidays: holiday set; ``None`` → :func:`us_exchange_holidays`.

    Returns:
        ``count`` expiry dates, ascending, all > ``day``.

    Raises:
        InvariantViolation: negative ``count``.
    """
    return _monthly_after(day, count, spx_monthly_expiry, holidays)


def _monthly_after(
    day: date,
    count: int,
    monthly: Callable[..., date],
    holidays: frozenset[date] | None,
) -> list[date]:
    """The next ``count`` expiries of ``monthly(year, month, holidays=…)`` strictly after ``day``.

    Raises:
        InvariantViolation: negative ``count``.
    """
    if count < 0:
        msg = f"count must be >= 0, got {count}"
        raise InvariantViolation(msg)
    # The expiries of ``count + 1`` months from the day's own month, memoised per month
    # (every session of a month shares them; issue 9); those after ``day``, in order, are
    # the answer when at least ``count`` are (only the day's own month can be at or before
    # it for the monthly rules); else month by month, as always.
    months = _months_from(day.year, day.month, count + 1, monthly, holidays)
    out = [expiry for expiry in months if expiry > day]
    if len(out) >= count:
        del out[count:]
        return out
    return _monthly_after_walk(day, count, monthly, holidays)


@lru_cache(maxsize=1024)  # pure in (year, month, n, monthly, holidays)
def _months_from(
    year: int,
    month: int,
    n: int,
    monthly: Callable[..., date],
    holidays: frozenset[date] | None,
) -> tuple[date, ...]:
    """``monthly(…)`` of ``n`` months in a row from ``year``-``month`` (a tuple, never changed)."""
    out: list[date] = []
    for _ in range(n):
        out.append(monthly(year, month, holidays=holidays))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(out)


def _monthly_after_walk(
    day: date,
    count: int,
    monthly: Callable[..., date],
    holidays: frozenset[date] | None,
) -> list[date]:
    """:func:`_monthly_after` month by month from the day's month (``count`` >= 0)."""
    out: list[date] = []
    year, month = day.year, day.month
    while len(out) < count:
        expiry = monthly(year, month, holidays=holidays)
        if expiry > day:
            out.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
