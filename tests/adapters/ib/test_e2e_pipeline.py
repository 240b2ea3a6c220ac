"""The whole live chain on the fake TWS: quotes → engine → proposal → what-if → paper
order → fill → sleeve, driven by the shell's own Pipeline (nothing of ours mocked)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time

import pytest

from adapters.ib.option_market import futures_by_expiry
from adapters.ib.wiring import IbAdapter, build_ib_adapter
from daemon.app import trading_sessions, warm_up
from daemon.core.engine import Engine
from daemon.core.model import ProposedOrder
from daemon.core.params import EngineParams, OrderParams
from daemon.pipeline import Pipeline
from daemon.ports import OrderSink
from tests.adapters.ib.conftest import AS_OF, eventually, fast_config, push_and_wait
from tests.fakes.ports import FakeClock, InMemoryJournal, RecordingAlertSink, RecordingOrderSink
from tests.fakes.tws import FakeTws
from tests.fakes.tws.__main__ import seed_condor

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLOSE_NY_UTC = time(21, 20)  # 16:20 in New York (EST)


class BothSinks:
    """Publish (recording stand-in for MQTT) and place on IB, like the daemon's composite."""

    def __init__(self, publish: RecordingOrderSink, broker: OrderSink) -> None:
        self.publish = publish
        self.broker = broker

    async def submit(self, order: ProposedOrder) -> None:
        await self.publish.submit(order)
        await self.broker.submit(order)


@contextlib.asynccontextmanager
async def live_daemon(
    adapter: IbAdapter, engine: Engine, clock: FakeClock
) -> AsyncIterator[tuple[RecordingOrderSink, RecordingAlertSink]]:
    published = RecordingOrderSink()
    alerts = RecordingAlertSink()
    pipeline = Pipeline(
        engine,
        adapter.market_data,
        InMemoryJournal(),
        BothSinks(published, adapter.orders),
        alerts,
        clock,
        debounce_s=0.01,
        interval_s=3600.0,
        is_live=True,
        outbox_size=1000,
        heartbeat_s=0.05,
    )

    async def book_fills() -> None:
        async for fill in adapter.orders.fills():
            engine.on_fill(fill)

    try:
        async with asyncio.TaskGroup() as tg:
            tasks: list[asyncio.Task[None]] = [
                tg.create_task(run(), name=name) for name, run in adapter.tasks()
            ]
            tasks += [tg.create_task(spec.run(), name=spec.name) for spec in pipeline.task_specs()]
            tasks.append(tg.create_task(book_fills(), name="ib.fills"))
            try:
                yield published, alerts
            finally:
                for t in tasks:
                    t.cancel()
    finally:
        await adapter.close()


async def test_live_chain_places_the_proposals_and_books_the_fills(tws: FakeTws) -> None:
    seed_condor(tws)
    clock = FakeClock(datetime(2020, 2, 24, 14, 35, tzinfo=UTC))
    sessions = trading_sessions()
    adapter = build_ib_adapter(
        fast_config(tws.port, stale_after_s=1e9), clock=clock, sessions=sessions
    )
    await adapter.connection.establish()
    held = await adapter.positions(opened_on=AS_OF)
    assert held.condor is not None
    # proposals priced from the fake's option quotes; 10% over the mid crosses its spreads
    params = EngineParams(orders=OrderParams(limit_offset_frac=0.1))
    engine = Engine(
        params,
        sessions=sessions,
        condor=held.condor,
        satellite=None,
        assume_fills=False,
        option_market=adapter.market_data.option_market,
    )
    await warm_up(engine, adapter.market_data, 250)
    async with live_daemon(adapter, engine, clock) as (published, alerts):
        # the near-the-money VIX options are streamed (from the VX quotes) before the close
        await eventually(lambda: bool(adapter.market_data.option_market.streamed), timeout_s=10)
        await push_and_wait(tws, adapter.market_data, AS_OF)  # closing prints first
        md = adapter.market_data
        await eventually(
            lambda: md.option_market.is_settled(
                futures_by_expiry(md.latest_price, md.book.expiries)
            ),
            timeout_s=10,
        )
        close_at = datetime.combine(AS_OF, CLOSE_NY_UTC, tzinfo=UTC)
        clock.advance((close_at - clock.now()).total_seconds())
        # 2020-02-24 activates L1 and L2 (the replay's decisions on that close); at the
        # market's prices (VIX-option IVs above the model's 90%) the cost cap buys L1 only
        # and says so for L2
        await eventually(lambda: len(published.orders) >= 1, timeout_s=10)
        await eventually(lambda: any(a.key == "cost_cap:L2" for a in alerts.alerts), timeout_s=10)
        await eventually(lambda: len(tws.placed_orders) == len(published.orders), timeout_s=10)
        await eventually(lambda: len(engine.hedges) == len(published.orders), timeout_s=10)
    assert {a.key for a in alerts.alerts} >= {"layer:L1", "layer:L2"}
    refs = [o.order_ref for o in published.orders]
    # each proposal names a listed strike and is priced from the fake's quotes
    assert all(o.price_source == "market" for o in published.orders)
    # ... and sized with the market IV of the strike, which the proposal's inputs name
    for o in published.orders:
        assert o.inputs is not None
        assert o.inputs.vix_option_iv_source == "market"
        assert o.inputs.vix_option_iv > 0.9  # the fake's skewed IV, not the flat 90%
    for o in published.orders:
        (leg,) = o.legs
        assert tws.is_listed_option("VIX", "VIX", leg.expiry, leg.strike)
    assert [o.order_ref for o in tws.placed_orders] == refs
    assert all(o.status == "Filled" for o in tws.placed_orders)
    assert {h.order_ref for h in engine.hedges} <= set(refs)
    assert engine.last_day is not None
    assert engine.last_day.session_date == date(2020, 2, 24)
