"""``business_days_between`` counts what the day-by-day walk counted (issue 9)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from daemon.core.expiries import business_days_between, is_business_day
from daemon.core.sizing import sessions_since


def _walk(start: date, end: date) -> int:
    n = 0
    d = start + timedelta(days=1)
    while d <= end:
        n += is_business_day(d)
        d += timedelta(days=1)
    return n


def test_the_count_matches_the_walk_on_random_intervals_across_holidays_and_years() -> None:
    rng = random.Random(9)  # noqa: S311 - reproducible test dates, not cryptography
    for _ in range(3000):
        start = date(1995, 1, 1) + timedelta(days=rng.randrange(0, 40 * 365))
        end = start + timedelta(days=rng.randrange(-10, 800))
        assert business_days_between(start, end) == _walk(start, end), (start, end)


def test_known_counts() -> None:
    # Good Friday 2024-03-29 and the weekend: Thu 28 -> Tue Apr 2 is Mon + Tue
    assert business_days_between(date(2024, 3, 28), date(2024, 4, 2)) == 2
    # New Year's Day 2025 (Wed) and the weekend: Tue Dec 31 -> Mon Jan 6 is Thu, Fri, Mon
    assert sessions_since(date(2024, 12, 31), date(2025, 1, 6)) == 3
    assert business_days_between(date(2025, 1, 6), date(2025, 1, 6)) == 0
    assert business_days_between(date(2025, 1, 7), date(2025, 1, 6)) == 0
