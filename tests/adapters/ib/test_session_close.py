"""The live source closes each XNYS session once its closes are known."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from adapters.ib.connection import IbConnection
from adapters.ib.market_data import IbMarketDataSource
from daemon.core.model import AlertKind, MarketEvent, SessionClose, Symbol
from tests.adapters.ib.conftest import AS_OF, eventually, fast_config, push_and_wait, running
from tests.fakes.ports import FakeClock
from tests.fakes.tws import FakeTws

pytestmark = pytest.mark.asyncio(loop_scope="session")

SESSIONS = (AS_OF, date(2020, 2, 25))


async def collect(md: IbMarketDataSource, seconds: float) -> list[MarketEvent]:
    out: list[MarketEvent] = []
    events = md.events()
    try:
        async with asyncio.timeout(seconds):
            while True:
                out.append(await anext(events))
    except TimeoutError:
        pass
    finally:
        await events.aclose()
    return out


async def test_session_close_follows_the_day_s_quotes(tws: FakeTws) -> None:
    clock = FakeClock(datetime(2020, 2, 24, 20, 0, tzinfo=UTC))  # 15:00 in New York
    conn = IbConnection(fast_config(tws.port, stale_after_s=1e9), clock=clock)
    md = IbMarketDataSource(conn, sessions=SESSIONS)
    async with running(conn, md.run):
        before = await collect(md, 0.3)
        assert before
        assert not any(isinstance(e, SessionClose) for e in before)
        await push_and_wait(tws, md, AS_OF)  # the closing prints, still before 16:15
        clock.advance(80 * 60)  # 16:20
        after = await collect(md, 0.3)
    closes = [e for e in after if isinstance(e, SessionClose)]
    assert closes == [SessionClose(session_date=AS_OF, ts=closes[0].ts)]
    assert isinstance(after[-1], SessionClose)  # after the day's last quotes
    spx = [e for e in after if not isinstance(e, SessionClose) and e.symbol is Symbol.SPX]
    assert spx[-1].price == 3225.89


async def test_no_close_without_a_quote_of_the_session(tws: FakeTws) -> None:
    tws.hidden_series = set()
    tws.not_subscribed = {"IWM": 10168}  # a required series never quotes
    clock = FakeClock(datetime(2020, 2, 24, 21, 30, tzinfo=UTC))  # 16:30 in New York
    conn = IbConnection(fast_config(tws.port, stale_after_s=1e9), clock=clock)
    md = IbMarketDataSource(conn, symbols=(Symbol.SPX, Symbol.IWM, Symbol.VIX), sessions=SESSIONS)
    async with running(conn, md.run):
        events = await collect(md, 0.3)
        await eventually(lambda: conn.alerts.is_active("session_close_waiting:2020-02-24"))
    assert not any(isinstance(e, SessionClose) for e in events)
    waiting = [a for a in conn.alerts.emitted if a.key.startswith("session_close_waiting")]
    assert len(waiting) == 1
    assert waiting[0].kind is AlertKind.DATA_STALE
    assert "IWM" in waiting[0].message
