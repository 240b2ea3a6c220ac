"""NYSE (XNYS) trading sessions, from ``exchange_calendars`` (shell helper, not core).

The core never computes calendars itself: the shell passes sorted session dates to
``SignalBook``/``Engine`` (``event_window``, rebalance cadence, minimum hold), and the
simulator uses them to date its sessions.

Session lists are cached (issue 9: building the XNYS calendar costs ≈ 0.25 s of every
start): in memory per process, and on disk per decade span and ``exchange_calendars``
version in ``$ALVH_CACHE_DIR``, else ``$CACHE_DIRECTORY`` (systemd ``CacheDirectory=``),
else ``$XDG_CACHE_HOME/alvhd`` (``~/.cache/alvhd``): one ISO date per line, written
atomically. An unwritable or unreadable cache is ignored (the calendar is built instead);
a new ``exchange_calendars`` release (new holidays or closures) uses a new file.
``exchange_calendars`` and pandas are imported only when a calendar must be built.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import exchange_calendars as xcals

_FIRST_YEAR = 1990
"""Earliest year served (the first date of the SPX/VIX history files)."""


@contextmanager
def _quiet_vendor_deprecations() -> Iterator[None]:
    """Silence pandas' deprecation warnings raised *inside* exchange_calendars only.

    exchange_calendars 4.13 calls ``Series.values`` on tz-aware data, which pandas ≥ 3.1
    deprecates (``Pandas4Warning``); pytest runs with ``filterwarnings = error``. The
    filter is narrow: this one message, only around our calls into exchange_calendars.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"(Series|DatetimeIndex)\.values returning an ndarray that drops timezone",
            category=DeprecationWarning,
        )
        yield


@lru_cache(maxsize=8)
def _calendar(first_year: int, last_year: int) -> xcals.ExchangeCalendar:
    """An XNYS calendar spanning whole years ``first_year``..``last_year`` (cached)."""
    import exchange_calendars as xcals  # noqa: PLC0415 - ≈ 0.15 s, only when building

    with _quiet_vendor_deprecations():
        return xcals.get_calendar(
            "XNYS",
            start=f"{first_year}-01-01",
            end=f"{last_year}-12-31",
        )


@lru_cache(maxsize=64)
def xnys_sessions(start: date, end: date) -> tuple[date, ...]:
    """NYSE trading days in ``[start, end]`` (both inclusive), ascending.

    Holidays and ad-hoc closures (e.g. 2018-12-05, 2025-01-09 national days of mourning)
    are excluded, as in ``exchange_calendars``' XNYS calendar.

    Args:
        start: first calendar day (inclusive).
        end: last calendar day (inclusive).

    Returns:
        The session dates; empty when ``start > end``.

    Raises:
        ValueError: ``start`` is before 1990-01-01.
    """
    if start > end:
        return ()
    if start.year < _FIRST_YEAR:
        msg = f"xnys_sessions: start {start} is before {_FIRST_YEAR}-01-01"
        raise ValueError(msg)
    # Span whole decades so that nearby windows share one cached calendar.
    first = max(_FIRST_YEAR, start.year - start.year % 10)
    last = end.year - end.year % 10 + 9
    days = _span_sessions(first, last)
    return days[bisect_left(days, start) : bisect_right(days, end)]


def cache_dir() -> Path:
    """Where session lists are cached on disk (see the module docstring)."""
    for name in ("ALVH_CACHE_DIR", "CACHE_DIRECTORY"):
        value = os.environ.get(name, "").split(":")[0]
        if value and Path(value).is_absolute():
            return Path(value)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "alvhd"


def _xcals_version() -> str:
    try:
        return version("exchange_calendars")
    except PackageNotFoundError:  # pragma: no cover - a declared dependency
        return "unknown"


@lru_cache(maxsize=8)
def _span_sessions(first_year: int, last_year: int) -> tuple[date, ...]:
    """Every XNYS session of the whole years ``first_year..last_year`` (memory + disk cache)."""
    path = cache_dir() / f"xnys-{first_year}-{last_year}-xcals{_xcals_version()}.txt"
    try:
        return tuple(date.fromisoformat(line) for line in path.read_text().split())
    except (OSError, ValueError):
        pass  # no cache yet (or a damaged one): build it
    cal = _calendar(first_year, last_year)
    with _quiet_vendor_deprecations():
        labels = cal.sessions_in_range(cal.first_session, cal.last_session)
    days = tuple(ts.date() for ts in labels)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".xnys-", delete=False, encoding="ascii"
        ) as tmp:
            tmp.write("\n".join(d.isoformat() for d in days))
        Path(tmp.name).replace(path)
    except OSError:
        pass  # a read-only home (DynamicUser service): build again next time
    return days


def sessions_from(start: date, count: int) -> tuple[date, ...]:
    """The first ``count`` XNYS sessions on or after ``start``.

    Args:
        start: first calendar day considered.
        count: number of sessions wanted (≥ 0).

    Returns:
        Exactly ``count`` session dates, ascending.
    """
    if count <= 0:
        return ()
    # 252 sessions per ~365 days; 1.6 calendar days per session plus slack is ample.
    span_days = int(count * 1.6) + 15
    while True:
        end = date.fromordinal(start.toordinal() + span_days)
        found = xnys_sessions(start, end)
        if len(found) >= count:
            return found[:count]
        span_days *= 2


def is_regular_session(now: datetime) -> bool:
    """True while the NYSE regular session is open at ``now`` (tz-aware), early closes included.

    Used by the live shell to judge quote staleness only when SPX and IWM actually trade.

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        msg = f"is_regular_session needs a tz-aware time, got {now!r}"
        raise ValueError(msg)
    import pandas as pd  # noqa: PLC0415 - imported with the calendar, live only

    year = now.year
    cal = _calendar(year - year % 10, year - year % 10 + 9)
    with _quiet_vendor_deprecations():
        return bool(cal.is_open_on_minute(pd.Timestamp(now), ignore_breaks=True))
