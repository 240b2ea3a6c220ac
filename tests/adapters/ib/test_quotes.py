"""Connect, qualify, warm up and stream quotes through ib_async's real socket code."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from adapters.ib.connection import IbConnection, LinkState
from adapters.ib.market_data import IbMarketDataSource
from adapters.ib.wiring import build_ib_adapter
from daemon.core.engine import Engine
from daemon.core.listing import CboeVixListing, ListedStrikes
from daemon.core.model import Quote, Symbol
from daemon.core.params import EngineParams
from tests.adapters.ib.conftest import AS_OF, eventually, fast_config, running
from tests.fakes.ports import FakeClock
from tests.fakes.tws import FakeTws, listing
from tests.fakes.tws import protocol as p

MID_SESSION = datetime(2020, 2, 24, 16, 0, tzinfo=UTC)  # 11:00 New York

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def next_quotes(md: IbMarketDataSource, count: int, timeout_s: float = 3.0) -> list[Quote]:
    out: list[Quote] = []
    async with asyncio.timeout(timeout_s):
        async for event in md.events():
            assert isinstance(event, Quote)
            out.append(event)
            if len(out) >= count:
                break
    return out


async def test_an_unanswered_option_chain_request_alerts_and_never_blocks(
    tws: FakeTws,
) -> None:
    tws.answer_option_chain = False
    conn = IbConnection(fast_config(tws.port, request_timeout_s=0.3))
    md = IbMarketDataSource(conn)
    async with running(conn, md.run):
        assert conn.is_ready  # qualification and subscriptions did not wait for the chain
        await md.fetch_option_chain()
        assert md.book.vix_chain is None
    alerts = [a for a in conn.alerts.emitted if a.key == "broker:option_chain"]
    assert len(alerts) == 1
    assert "option chain" in alerts[0].message


async def test_connects_qualifies_and_streams_every_series(tws: FakeTws) -> None:
    conn = IbConnection(fast_config(tws.port))
    md = IbMarketDataSource(conn)
    async with running(conn, md.run):
        assert conn.state is LinkState.CONNECTED
        assert conn.account == "DU1234567"
        assert set(md.book.contracts) == set(Symbol)
        assert md.book.multipliers[Symbol.VX1] == 1000
        assert md.book.expiries[Symbol.VX1] == date(2020, 3, 18)
        at_ready = md.book.vix_chain
        assert at_ready is None  # optional: fetched off the start-up path
        await md.fetch_option_chain()
        chain = md.book.vix_chain
        assert chain is not None
        assert chain.multiplier == 100
        quotes = await next_quotes(md, len(Symbol))
        by_symbol = {q.symbol: q for q in quotes}
        # the fake opens each series at today's real open (SPX 2020-02-24 opened 3257.61)
        assert by_symbol[Symbol.SPX].price == pytest.approx(3257.61)
        assert by_symbol[Symbol.IWM].bid is not None
        tws.push_price("VIX", 25.03)
        (q,) = await next_quotes(md, 1)
        assert (q.symbol, q.price) == (Symbol.VIX, 25.03)


async def test_history_warm_up_has_200_sessions_before_today(tws: FakeTws) -> None:
    # mid-session on AS_OF: IB's daily history already holds today's unfinished bar
    conn = IbConnection(fast_config(tws.port), clock=FakeClock(MID_SESSION))
    md = IbMarketDataSource(conn)
    async with running(conn, md.run):
        bars = await md.history(Symbol.SPX, 200)
        assert len(bars) == 200
        assert bars[-1].session_date == date(2020, 2, 21)
        assert bars[-1].close == pytest.approx(3337.75)
        assert all(b.session_date < AS_OF for b in bars)
        vix = await md.history(Symbol.VIX, 250)
        assert len(vix) == 250


async def test_a_chain_that_arrives_on_a_retry_reaches_the_engine(tws: FakeTws) -> None:
    # The first reqSecDefOptParams is lost (ib.startup's); the option-quote task asks
    # again. Whichever task gets the chain, the engine must snap to the listed strikes
    # from then on, not stay on Cboe's convention until a restart.
    tws.drop_option_chain_requests = 1
    adapter = build_ib_adapter(fast_config(tws.port, request_timeout_s=0.3))
    engine = Engine(EngineParams(), sessions=[AS_OF], assume_fills=False)
    adapter.follow_listing(engine.set_listing)
    assert isinstance(engine.listing, CboeVixListing)
    md = adapter.market_data
    async with running(adapter.connection, md.run_option_quotes):
        await eventually(lambda: isinstance(engine.listing, ListedStrikes), timeout_s=5.0)
    assert engine.listing.strikes() == listing.vix_strikes()
    assert tws.message_count(p.REQ_SEC_DEF_OPT_PARAMS) == 2
    lost = [a for a in adapter.connection.alerts.emitted if a.key == "broker:option_chain"]
    assert len(lost) == 1  # the lost request said so, once
