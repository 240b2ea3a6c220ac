"""The IB path reaches the same decisions as the replay source on the same days."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from adapters.ib.connection import IbConnection
from adapters.ib.market_data import IbMarketDataSource
from adapters.replay import ReplaySource
from daemon.app import trading_sessions, warm_up
from daemon.core.engine import Engine
from daemon.core.model import Decision, LayerChange, ProposedOrder, Quote, SessionClose, Symbol
from daemon.core.params import EngineParams, QualityParams
from tests.adapters.ib.conftest import AS_OF, fast_config, running
from tests.fakes.ports import FakeClock
from tests.fakes.tws import FakeTws

END = date(2020, 3, 13)
"""Three weeks of the Feb/Mar-2020 sell-off, before the March VX expiry (no roll)."""
WARMUP_DAYS = 250
CLOSE_UTC = time(21, 0)
PARAMS = EngineParams(quality=QualityParams(spx_max_move_frac=0.2, iwm_max_move_frac=0.2))
"""One tick per session here, so each print is a whole day's move (SPX -9.5% on 2020-03-12,
outside the default ×/÷ 1.10 band): the bands are widened so that this test compares the
two paths, not the plausibility filter (tests/unit/test_plausibility.py covers that)."""


def summary(decisions: list[Decision]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for d in decisions:
        if isinstance(d, LayerChange):
            out.append(("layer", d.session_date, d.layer, d.is_active, d.decision_id))
        elif isinstance(d, ProposedOrder):
            out.append(("order", d.session_date, d.order_ref, d.contracts, d.limit_price))
        else:
            out.append(("alert", d.kind, d.key))
    return out


async def replay_decisions(market_dir: Path) -> tuple[list[date], list[Decision]]:
    source = ReplaySource(market_dir, start=AS_OF, end=END, warmup_days=WARMUP_DAYS)
    engine = Engine(PARAMS, sessions=trading_sessions())
    await warm_up(engine, source, WARMUP_DAYS)
    decisions: list[Decision] = []
    async for event in source.events():
        if isinstance(event, Quote):
            engine.on_quote(event)
        elif isinstance(event, SessionClose):
            decisions += engine.on_session_close(event.session_date, event.ts)
    return list(source.sessions), decisions


async def take_closes(md: IbMarketDataSource, closes: dict[Symbol, float]) -> list[Quote]:
    """Read quotes until every symbol's latest quote is at its close; return those."""
    latest: dict[Symbol, Quote] = {}
    events = md.events()
    try:
        async with asyncio.timeout(3.0):
            while any(s not in latest or latest[s].price != c for s, c in closes.items()):
                event = await anext(events)
                assert isinstance(event, Quote)
                latest[event.symbol] = event
    except TimeoutError:
        missing = {s: (c, latest.get(s)) for s, c in closes.items()}
        pytest.fail(f"closes not streamed: {missing}; rejections {md.rejections}")
    finally:
        await events.aclose()
    return [latest[s] for s in closes]


def closes_of(tws: FakeTws, md: IbMarketDataSource, day: date) -> dict[Symbol, float]:
    out: dict[Symbol, float] = {}
    for symbol, contract in md.book.contracts.items():
        inst = tws.instruments[contract.conId]
        bar = tws.data.bar_on(inst.series, day)
        if bar is not None:
            out[symbol] = bar.close
    return out


@pytest.mark.asyncio(loop_scope="session")
async def test_ib_source_reaches_the_replay_decisions(tws: FakeTws, market_dir: Path) -> None:
    sessions, expected = await replay_decisions(market_dir)
    assert any(isinstance(d, LayerChange) for d in expected), "window must exercise the ladder"

    clock = FakeClock(datetime.combine(AS_OF, time(14, 30), tzinfo=UTC))
    # the fake clock jumps a day per session: keep the staleness watchdog out of the way
    conn = IbConnection(fast_config(tws.port, stale_after_s=30 * 86_400.0), clock=clock)
    md = IbMarketDataSource(conn)
    engine = Engine(PARAMS, sessions=trading_sessions())
    got: list[Decision] = []
    async with running(conn, md.run):
        await warm_up(engine, md, WARMUP_DAYS)
        for day in sessions:
            close_at = datetime.combine(day, CLOSE_UTC, tzinfo=UTC)
            clock.advance((close_at - clock.now()).total_seconds())
            tws.push_session(day)
            for quote in await take_closes(md, closes_of(tws, md, day)):
                assert quote.session_date == day
                engine.on_quote(quote)
            got += engine.on_session_close(day, close_at)
            clock.advance(timedelta(hours=17).total_seconds())
    assert md.rejected_count() == 0
    assert len(got) >= 2
    assert summary(got) == summary(expected)
