"""The XNYS session cache (issue 9): built once per exchange_calendars version, then read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from daemon import sessions


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ALVH_CACHE_DIR", str(tmp_path))
    sessions._span_sessions.cache_clear()
    sessions.xnys_sessions.cache_clear()
    yield tmp_path
    sessions._span_sessions.cache_clear()
    sessions.xnys_sessions.cache_clear()


def _fresh(start: date, end: date) -> tuple[date, ...]:
    sessions._span_sessions.cache_clear()
    sessions.xnys_sessions.cache_clear()
    return sessions.xnys_sessions(start, end)


def test_the_disk_cache_is_written_once_and_gives_the_same_sessions(cache: Path) -> None:
    built = _fresh(date(2020, 1, 1), date(2020, 12, 31))
    files = list(cache.glob("xnys-2020-2029-xcals*.txt"))
    assert len(files) == 1
    assert _fresh(date(2020, 1, 1), date(2020, 12, 31)) == built
    assert len(built) == 253  # 2020: 253 NYSE sessions
    assert date(2020, 11, 26) not in built  # Thanksgiving
    # what is read back is what the file says (the calendar is not rebuilt)
    files[0].write_text("2020-03-02\n2020-03-03\n")
    assert _fresh(date(2020, 1, 1), date(2020, 12, 31)) == (date(2020, 3, 2), date(2020, 3, 3))


def test_a_damaged_cache_is_rebuilt(cache: Path) -> None:
    expected = _fresh(date(2024, 3, 25), date(2024, 4, 5))
    (path,) = cache.glob("xnys-2020-2029-*.txt")
    path.write_text("not a date\n")
    assert _fresh(date(2024, 3, 25), date(2024, 4, 5)) == expected
    assert date(2024, 3, 29) not in expected  # Good Friday


def test_an_unwritable_cache_dir_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ALVH_CACHE_DIR", str(blocker / "sub"))  # cannot be created
    try:
        days = _fresh(date(2025, 1, 1), date(2025, 1, 10))
    finally:
        sessions._span_sessions.cache_clear()
        sessions.xnys_sessions.cache_clear()
    assert days[0] == date(2025, 1, 2)
    assert date(2025, 1, 9) not in days  # national day of mourning (Carter)
