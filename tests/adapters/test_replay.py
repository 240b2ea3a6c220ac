"""ReplaySource on the real daily history, and on damaged copies of it."""

from __future__ import annotations

import math
import shutil
import time as wall
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from adapters.replay import ReplaySource
from daemon.core.expiries import vix_expiries_after
from daemon.core.model import MarketEvent, Quote, SessionClose, Symbol
from daemon.errors import DataError
from daemon.sessions import xnys_sessions

REQUIRED_FILES = ("spx_daily.csv", "iwm_daily.csv", "vix_daily.csv")


async def _collect(source: ReplaySource) -> list[MarketEvent]:
    return [event async for event in source.events()]


@pytest.fixture(scope="module")
def full_2007(market_dir: Path) -> ReplaySource:
    return ReplaySource(market_dir, start=date(2007, 1, 3))


# --------------------------------------------------------------------------- real files


def test_sessions_2007_to_end_are_the_nyse_sessions(full_2007: ReplaySource) -> None:
    # SPX/IWM/VIX all cover every NYSE session; IWM ends first (2026-02-20).
    assert full_2007.sessions == xnys_sessions(date(2007, 1, 3), date(2026, 2, 20))
    assert len(full_2007.sessions) == 4814


async def test_stream_layout_and_alignment(full_2007: ReplaySource) -> None:
    events = await _collect(full_2007)
    closes = [e for e in events if isinstance(e, SessionClose)]
    assert [c.session_date for c in closes] == list(full_2007.sessions)
    counts: dict[Symbol, int] = {}
    current: date | None = None
    seen_close = True
    for event in events:
        if isinstance(event, Quote):
            if seen_close:
                current, seen_close = event.session_date, False
            assert event.session_date == current
            assert event.ts == datetime.combine(event.session_date, time(21, 0), tzinfo=UTC)
            assert math.isfinite(event.price)
            assert event.price > 0
            counts[event.symbol] = counts.get(event.symbol, 0) + 1
        else:
            assert not seen_close
            assert event.session_date == current
            seen_close = True
    n = len(full_2007.sessions)
    assert counts[Symbol.SPX] == counts[Symbol.IWM] == counts[Symbol.VIX] == n
    # Optional series only where they have data: RVX ends 2025-06-04 and misses 5 days,
    # the VX file ends 2025-12-31, VIX3M has a few gaps.
    assert counts[Symbol.RVX] == 3949
    assert (
        counts[Symbol.VX1]
        == counts[Symbol.VX2]
        == len(xnys_sessions(date(2007, 1, 3), date(2025, 12, 31)))
    )
    # VIX3M (Yahoo ^VXV, then Cboe) starts 2007-12-04.
    assert counts[Symbol.VIX3M] == 4582
    assert counts[Symbol.VIX3M] <= len(xnys_sessions(date(2007, 12, 4), date(2026, 2, 20)))


async def test_known_closes_and_holiday_rows_dropped(full_2007: ReplaySource) -> None:
    events = await _collect(full_2007)
    price = {(e.session_date, e.symbol): e.price for e in events if isinstance(e, Quote)}
    assert price[(date(2020, 3, 16), Symbol.VIX)] == 82.69
    assert price[(date(2024, 8, 5), Symbol.SPX)] == 5186.33
    assert price[(date(2020, 3, 18), Symbol.IWM)] == 99.97
    # Cboe published VIX on these NYSE closures; the replay skips them (inner join on SPX).
    for closed in (date(2025, 1, 9), date(2022, 5, 30)):
        assert closed not in full_2007.sessions
        assert (closed, Symbol.VIX) not in price
    assert date(2018, 5, 1) in full_2007.sessions  # RVX missing that day: SPX still streams
    assert (date(2018, 5, 1), Symbol.RVX) not in price


async def test_vx_quotes_carry_the_cfe_expiries(full_2007: ReplaySource) -> None:
    events = await _collect(full_2007)
    vx = [e for e in events if isinstance(e, Quote) and e.symbol in (Symbol.VX1, Symbol.VX2)]
    assert vx
    for quote in vx:
        assert quote.expiry is not None
        assert quote.expiry > quote.session_date
        rank = 0 if quote.symbol is Symbol.VX1 else 1
        assert quote.expiry == vix_expiries_after(quote.session_date, 2)[rank]
    on_day = {e.symbol: e for e in vx if e.session_date == date(2020, 3, 18)}
    assert on_day[Symbol.VX1].expiry == date(2020, 4, 15)
    assert on_day[Symbol.VX2].expiry == date(2020, 5, 20)


def test_real_files_rejections_are_the_known_blank_front4_settles(
    full_2007: ReplaySource,
) -> None:
    # PROVENANCE.md: "14 rows of the front-4 file have a blank settle" (2004-2006, ranks 2/4).
    assert full_2007.rejected_count() == 14
    assert {r.reason for r in full_2007.rejections} == {"nan"}
    assert {r.symbol for r in full_2007.rejections} <= {Symbol.VX2, Symbol.VX3, Symbol.VX4}
    assert all(r.detail.startswith("vix_futures_front4_daily.csv:") for r in full_2007.rejections)


async def test_history_is_the_bars_before_the_start(full_2007: ReplaySource) -> None:
    spx = await full_2007.history(Symbol.SPX, 250)
    assert len(spx) == 250
    assert spx[-1].session_date == date(2006, 12, 29)
    assert [b.session_date for b in spx] == sorted(b.session_date for b in spx)
    assert all(b.session_date < full_2007.sessions[0] for b in spx)
    vix = await full_2007.history(Symbol.VIX, 250)
    assert [b.session_date for b in vix] == [b.session_date for b in spx]
    assert await full_2007.history(Symbol.RVX, 250) == ()  # RVX starts 2009-09
    vx1 = await full_2007.history(Symbol.VX1, 250)
    assert len(vx1) == 250
    assert all(b.expiry is not None and b.expiry > b.session_date for b in vx1)


def test_default_start_keeps_warmup_sessions(market_dir: Path) -> None:
    source = ReplaySource(market_dir, warmup_days=250)
    # IWM starts 2000-05-26, so the first aligned session is that day; 250 are held back.
    aligned = xnys_sessions(date(2000, 5, 26), date(2026, 2, 20))
    assert source.sessions[0] == aligned[250]


def test_end_bounds_the_window(market_dir: Path) -> None:
    source = ReplaySource(market_dir, start=date(2020, 2, 1), end=date(2020, 4, 30))
    assert source.sessions == xnys_sessions(date(2020, 2, 3), date(2020, 4, 30))


async def test_history_before_the_first_data_is_a_data_error(market_dir: Path) -> None:
    source = ReplaySource(market_dir, start=date(1999, 1, 1), end=date(2001, 1, 31))
    assert source.sessions[0] == date(2000, 5, 26)
    with pytest.raises(DataError, match="no SPX history before 2000-05-26"):
        await source.history(Symbol.SPX, 250)


def test_empty_window_is_a_data_error(market_dir: Path) -> None:
    with pytest.raises(DataError, match="no replay sessions"):
        ReplaySource(market_dir, start=date(2030, 1, 1))


async def test_pace_sleeps_between_sessions(market_dir: Path) -> None:
    source = ReplaySource(market_dir, start=date(2024, 1, 2), end=date(2024, 1, 5), pace_s=0.05)
    assert len(source.sessions) == 4
    began = wall.monotonic()
    await _collect(source)
    assert wall.monotonic() - began >= 0.15  # 3 pauses between 4 sessions


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def damaged_dir(market_dir: Path, tmp_path: Path) -> Path:
    """Copies of the three required files; SPX damaged on 2024 dates."""
    for name in REQUIRED_FILES:
        shutil.copy(market_dir / name, tmp_path / name)
    spx = tmp_path / "spx_daily.csv"
    lines = spx.read_text(encoding="utf-8").splitlines()
    index = {line.split(",", 1)[0]: i for i, line in enumerate(lines)}

    def damage(day: str, replacement: str) -> None:
        lines[index[day]] = replacement

    damage("2024-03-04", "2024-3-4x,5130.99,5149.67,5127.18,5130.95,0")  # bad date
    damage("2024-03-05", "2024-03-05,5110.52,5114.54,5056.82,,0")  # blank close
    damage("2024-03-06", "2024-03-06,5123.11,5127.88,5089.81,NaN,0")  # NaN close
    damage("2024-03-07", "2024-03-07,5132.38,5165.62,5131.59,0,0")  # zero close
    damage("2024-03-08", "2024-03-08,5164.46,5189.26,5117.50,-5123.69,0")  # negative close
    damage("2024-03-11", "2024-03-11,5111.96,5124.66,5107.25,5117.94")  # missing field
    damage("2024-03-12", "2024-03-12,abc,,,,0")  # unparseable and blanks: still ONE rejection
    lines.insert(index["2024-03-13"], "")  # blank line before 2024-03-13
    spx.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


async def test_bad_rows_are_counted_and_the_rest_streams(damaged_dir: Path) -> None:
    source = ReplaySource(damaged_dir, start=date(2024, 2, 26), end=date(2024, 3, 22))
    reasons = sorted(r.reason for r in source.rejections)
    assert source.rejected_count() == 8
    assert reasons == sorted(
        [
            "malformed_row",
            "nan",
            "nan",
            "non_positive",
            "non_positive",
            "malformed_row",
            "malformed_row",
            "malformed_row",
        ]
    )
    assert all(r.symbol is Symbol.SPX for r in source.rejections)
    assert all(r.detail.startswith("spx_daily.csv:") for r in source.rejections)
    several = next(r for r in source.rejections if "'abc'" in r.detail)
    assert several.reason == "malformed_row"
    assert "close = ''" in several.detail  # every bad cell of the row is named
    damaged = {date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11, 12)}
    expected = tuple(
        d for d in xnys_sessions(date(2024, 2, 26), date(2024, 3, 22)) if d not in damaged
    )
    assert source.sessions == expected
    events = await _collect(source)
    quotes = [e for e in events if isinstance(e, Quote)]
    assert {q.session_date for q in quotes} == set(expected)
    assert all(math.isfinite(q.price) and q.price > 0 for q in quotes)
    assert date(2024, 3, 13) in source.sessions  # the row after the blank line is intact


def test_rejection_detail_names_the_line(damaged_dir: Path) -> None:
    lines = (damaged_dir / "spx_daily.csv").read_text(encoding="utf-8").splitlines()
    zero_line = next(i for i, line in enumerate(lines, start=1) if line.startswith("2024-03-07"))
    source = ReplaySource(damaged_dir, start=date(2024, 2, 26), end=date(2024, 3, 22))
    zero = next(r for r in source.rejections if r.reason == "non_positive" and "'0'" in r.detail)
    assert zero.detail.startswith(f"spx_daily.csv:{zero_line}:")


@pytest.mark.parametrize("missing", REQUIRED_FILES)
def test_missing_required_file_is_a_data_error(
    market_dir: Path, tmp_path: Path, missing: str
) -> None:
    for name in REQUIRED_FILES:
        if name != missing:
            shutil.copy(market_dir / name, tmp_path / name)
    with pytest.raises(DataError, match="required replay file missing") as info:
        ReplaySource(tmp_path, start=date(2024, 1, 2))
    assert str(tmp_path / missing) in str(info.value)


async def test_missing_optional_files_are_fine(market_dir: Path, tmp_path: Path) -> None:
    for name in REQUIRED_FILES:
        shutil.copy(market_dir / name, tmp_path / name)
    source = ReplaySource(tmp_path, start=date(2024, 1, 2), end=date(2024, 1, 31))
    assert source.symbols == frozenset({Symbol.SPX, Symbol.IWM, Symbol.VIX})
    assert source.rejected_count() == 0
    events = await _collect(source)
    assert {e.symbol for e in events if isinstance(e, Quote)} == {
        Symbol.SPX,
        Symbol.IWM,
        Symbol.VIX,
    }
    assert await source.history(Symbol.VX1, 250) == ()


async def test_bad_vx_cells_drop_only_that_contract(market_dir: Path, tmp_path: Path) -> None:
    for name in (*REQUIRED_FILES, "vix_futures_f1f2_daily.csv"):
        shutil.copy(market_dir / name, tmp_path / name)
    vx = tmp_path / "vix_futures_f1f2_daily.csv"
    lines = vx.read_text(encoding="utf-8").splitlines()
    index = {line.split(",", 1)[0]: i for i, line in enumerate(lines)}
    fields = lines[index["2024-03-05"]].split(",")
    fields[2] = "-1"  # f1_settle negative
    lines[index["2024-03-05"]] = ",".join(fields)
    lines.insert(index["2024-03-06"] + 1, lines[index["2024-03-06"]])  # duplicated date
    vx.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = ReplaySource(tmp_path, start=date(2024, 3, 4), end=date(2024, 3, 8))
    by_reason = {(r.reason, r.symbol) for r in source.rejections}
    assert ("non_positive", Symbol.VX1) in by_reason
    assert ("duplicate_date", Symbol.VX1) in by_reason
    assert ("duplicate_date", Symbol.VX2) in by_reason
    events = await _collect(source)
    on_day = {
        e.symbol for e in events if isinstance(e, Quote) and e.session_date == date(2024, 3, 5)
    }
    assert Symbol.VX2 in on_day
    assert Symbol.VX1 not in on_day
    assert Symbol.SPX in on_day


async def test_a_restart_resumes_after_the_snapshot_day(market_dir: Path) -> None:
    """A restored replay streams the sessions after the snapshot's day, the same events."""

    def window() -> ReplaySource:
        return ReplaySource(market_dir, start=date(2020, 2, 3), end=date(2020, 2, 28))

    whole = [e async for e in window().events()]
    resumed = window()
    assert resumed.resume_after(date(2020, 2, 14)) == 10  # Feb 3-7 and 10-14
    tail = [e async for e in resumed.events()]
    assert tail[0].session_date == date(2020, 2, 18)  # Presidents' Day: no session on the 17th
    assert tail == [e for e in whole if e.session_date > date(2020, 2, 14)]
    done = window()
    sessions = len(done.sessions)
    assert done.resume_after(date(2020, 2, 28)) == sessions
    assert [e async for e in done.events()] == []  # a run that had finished streams nothing
