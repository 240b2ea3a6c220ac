"""SimSource: determinism, sane prices, the scripted stress episode and its signals."""

from __future__ import annotations

import math
import time as wall
from contextlib import aclosing
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from adapters.sim import SYMBOLS, Regime, SimSource
from daemon.core.model import MarketEvent, Quote, SessionClose, Symbol
from daemon.core.params import ScenarioParams, SignalParams
from daemon.core.signals import SignalBook
from daemon.sessions import xnys_sessions


async def _collect(source: SimSource) -> list[MarketEvent]:
    return [event async for event in source.events()]


def _fast(seed: int = 7, **kwargs: object) -> SimSource:
    return SimSource(seed=seed, session_seconds=0.0, **kwargs)  # type: ignore[arg-type]


async def test_same_seed_same_stream_other_seed_differs() -> None:
    first = await _collect(_fast(7))
    again = await _collect(_fast(7))
    other = await _collect(_fast(8))
    assert first == again
    assert first != other
    assert len(first) == len(other)


async def test_stream_layout_prices_and_times() -> None:
    source = _fast(7, sessions=40, ticks_per_session=5)
    events = await _collect(source)
    per_session = 5 * len(SYMBOLS) + 1
    assert len(events) == 40 * per_session
    assert source.sessions == xnys_sessions(date(2025, 1, 2), source.sessions[-1])
    new_york = ZoneInfo("America/New_York")
    for i, day in enumerate(source.sessions):
        chunk = events[i * per_session : (i + 1) * per_session]
        *quotes, close = chunk
        assert isinstance(close, SessionClose)
        assert close.session_date == day
        assert close.ts.astimezone(new_york).time() == time(16, 0)
        stamps = []
        for q in quotes:
            assert isinstance(q, Quote)
            assert q.session_date == day
            assert math.isfinite(q.price)
            assert q.price > 0
            assert q.ts.utcoffset() == UTC.utcoffset(None)
            stamps.append(q.ts)
            if q.symbol in (Symbol.VX1, Symbol.VX2):
                assert q.expiry is not None
                assert q.expiry > day
            else:
                assert q.expiry is None
        assert stamps == sorted(stamps)
        assert stamps[-1] == close.ts
        assert datetime.combine(day, time(9, 30), tzinfo=new_york) < stamps[0]
        expiries = {q.symbol: q.expiry for q in quotes if isinstance(q, Quote)}
        assert expiries[Symbol.VX1] < expiries[Symbol.VX2]  # type: ignore[operator]


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 123])
async def test_all_prices_positive_and_vix_spikes(seed: int) -> None:
    source = _fast(seed)
    events = await _collect(source)
    prices = np.array([e.price for e in events if isinstance(e, Quote)])
    assert np.isfinite(prices).all()
    assert (prices > 0).all()
    vix = np.array(source.closes(Symbol.VIX))
    assert vix.max() > 1.6 * vix[0]
    stress = [i for i, r in enumerate(source.regimes()) if r is Regime.STRESS]
    assert int(vix.argmax()) in stress
    assert vix[-1] < 0.7 * vix.max()  # and it comes back down in the recovery


@pytest.mark.parametrize("seed", [0, 7, 42])
def test_spx_returns_and_vix_changes_are_negatively_correlated(seed: int) -> None:
    source = _fast(seed)
    spx = np.array(source.closes(Symbol.SPX))
    vix = np.array(source.closes(Symbol.VIX))
    corr = np.corrcoef(np.diff(np.log(spx)), np.diff(vix))[0, 1]
    assert corr < -0.4


async def test_history_is_calm_and_continuous() -> None:
    source = _fast(7)
    spx = await source.history(Symbol.SPX, 250)
    vix = await source.history(Symbol.VIX, 250)
    vx1 = await source.history(Symbol.VX1, 250)
    assert len(spx) == len(vix) == len(vx1) == 250
    days = [b.session_date for b in spx]
    assert tuple(days) == xnys_sessions(days[0], days[-1])
    assert days[-1] < source.sessions[0]
    assert all(b.low <= b.close <= b.high for b in spx)
    assert max(b.close for b in vix) < 25.0  # calm: no spike in the warm-up
    assert all(b.expiry is not None and b.expiry > b.session_date for b in vx1)
    first_open = source.closes(Symbol.SPX)[0]
    assert abs(first_open / spx[-1].close - 1) < 0.05
    assert len(await source.history(Symbol.SPX, 10_000)) == 300  # all the warm-up there is


async def test_session_seconds_paces_the_stream() -> None:
    source = SimSource(seed=7, session_seconds=0.2, ticks_per_session=4)
    began = wall.monotonic()
    closes = 0
    async with aclosing(source.events()) as stream:
        async for event in stream:
            if isinstance(event, SessionClose):
                closes += 1
                if closes == 2:
                    break
    assert wall.monotonic() - began >= 0.35


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="sessions=5"):
        SimSource(sessions=5)
    with pytest.raises(ValueError, match="session_seconds=-1"):
        SimSource(session_seconds=-1)


@pytest.mark.parametrize("seed", [0, 7, 11])
async def test_stress_episode_fires_the_ladder_signals_then_unwinds(seed: int) -> None:
    """The signals that drive L1..L3 (SPEC §3/§4) hold during the run and release after."""
    source = _fast(seed)
    book = SignalBook(
        SignalParams(), ScenarioParams(), (), xnys_sessions(date(2023, 1, 1), date(2026, 1, 1))
    )
    book.warm_up({s: await source.history(s, 300) for s in SYMBOLS})
    held: dict[str, list[int]] = {}
    for i, day in enumerate(source.sessions):
        book.on_close(day, {s: source.closes(s)[i] for s in SYMBOLS})
        for reading in book.evaluate(day).readings:
            if reading.holds:
                held.setdefault(reading.id, []).append(i)
    regimes = source.regimes()
    calm_end = regimes.index(Regime.ROTATION)
    recovery = regimes.index(Regime.RECOVERY)
    for signal in (
        "ratio_macd_negative",
        "vix_rsi_hot",
        "vix_macd_bull_cross",
        "iv_spread_blowout",
        "backwardation",
    ):
        assert any(calm_end <= i < recovery for i in held.get(signal, [])), signal
    assert not any(i < calm_end for i in held.get("ratio_macd_negative", []))
    last = len(source.sessions) - 1
    for signal in ("ratio_macd_negative", "vix_rsi_hot", "iv_spread_blowout", "backwardation"):
        assert last not in held.get(signal, []), signal


async def test_a_restart_resumes_after_the_snapshot_day_on_the_same_path() -> None:
    """After a restore, only the sessions after the snapshot's day are streamed, and they
    are exactly the uninterrupted run's (the seeded path does not restart)."""
    whole = await _collect(_fast(7))
    days = sorted({e.session_date for e in whole if isinstance(e, SessionClose)})
    resumed = _fast(7)
    assert resumed.resume_after(days[2]) == 3
    tail = await _collect(resumed)
    first_kept = next(i for i, e in enumerate(whole) if e.session_date == days[3])
    assert tail == whole[first_kept:]
    assert _fast(7).resume_after(date(1999, 1, 1)) == 0
