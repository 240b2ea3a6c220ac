"""XNYS session helper (exchange_calendars wrapper)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from daemon.sessions import is_regular_session, sessions_from, xnys_sessions


def test_a_year_of_nyse_sessions() -> None:
    days = xnys_sessions(date(2025, 1, 1), date(2025, 12, 31))
    assert len(days) == 250
    assert days == tuple(sorted(days))
    for closed in (date(2025, 1, 1), date(2025, 1, 9), date(2025, 4, 18), date(2025, 7, 4)):
        assert closed not in days  # New Year, Carter day of mourning, Good Friday, July 4
    assert all(d.weekday() < 5 for d in days)


def test_bounds_are_inclusive_and_clamped() -> None:
    days = xnys_sessions(date(1990, 1, 1), date(1990, 1, 5))
    assert days == (date(1990, 1, 2), date(1990, 1, 3), date(1990, 1, 4), date(1990, 1, 5))
    assert xnys_sessions(date(2024, 3, 29), date(2024, 3, 29)) == ()  # Good Friday
    assert xnys_sessions(date(2024, 4, 2), date(2024, 4, 1)) == ()
    assert xnys_sessions(date(2035, 12, 31), date(2035, 12, 31)) == (date(2035, 12, 31),)


def test_before_1990_is_refused() -> None:
    with pytest.raises(ValueError, match="before 1990"):
        xnys_sessions(date(1989, 12, 29), date(1990, 1, 5))


def test_sessions_from_counts_forward() -> None:
    days = sessions_from(date(2025, 1, 1), 160)
    assert len(days) == 160
    assert days[0] == date(2025, 1, 2)
    assert days == xnys_sessions(days[0], days[-1])
    assert sessions_from(date(2025, 1, 1), 0) == ()


def test_regular_session_hours() -> None:
    assert is_regular_session(datetime(2020, 2, 24, 15, 0, tzinfo=UTC))  # Mon 10:00 NY
    assert not is_regular_session(datetime(2020, 2, 25, 2, 0, tzinfo=UTC))  # Mon 21:00 NY
    assert not is_regular_session(datetime(2020, 2, 22, 16, 0, tzinfo=UTC))  # Saturday
    assert not is_regular_session(datetime(2020, 12, 25, 16, 0, tzinfo=UTC))  # Christmas
    # 2020-11-27 closed early at 13:00 New York
    assert is_regular_session(datetime(2020, 11, 27, 17, 30, tzinfo=UTC))
    assert not is_regular_session(datetime(2020, 11, 27, 18, 30, tzinfo=UTC))
