"""Rolls against the fake TWS: each leg priced from its quote, a credit roll sent the right way.

A roll closes the held option and opens the new one as one combo. IB's semantics of a
combo: a SELL of a BAG reverses every ComboLeg's action (TWS API "Spread Orders"; ib_async
``ComboLeg.action``), so a roll sold for a credit must go as SELL BAG(BUY old, SELL new)
for the old option to be sold and the new one bought. The options the account holds stay
streamed (their legs are quoted under 7 days and far from the money too). And a limit off
the contract's tick never reaches the exchange, which would refuse it (error 110).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import pytest
from ib_async import LimitOrder, Option

from adapters.ib.connection import IbConnection
from adapters.ib.market_data import IbMarketDataSource
from adapters.ib.paper_orders import IbOrderSink
from daemon.core.model import Action, Fill, Layer, OrderIntent
from daemon.errors import BrokerRejected
from tests.adapters.ib.conftest import eventually, fast_config, running
from tests.adapters.ib.orders_helpers import VIX_MAR20, vix_call_order
from tests.fakes.tws import FakeTws
from tests.unit.engine_parts import vix_call as leg

pytestmark = pytest.mark.asyncio(loop_scope="session")

VIX_APR20 = date(2020, 4, 15)


async def next_fill(sink: IbOrderSink, timeout_s: float = 3.0) -> Fill:
    async with asyncio.timeout(timeout_s):
        async for fill in sink.fills():
            return fill
    raise AssertionError("unreachable")


def held_qty(conn: IbConnection, expiry: date, strike: float) -> float:
    return sum(
        p.position
        for p in conn.ib.positions()
        if p.contract.secType == "OPT"
        and p.contract.lastTradeDateOrContractMonth.startswith(f"{expiry:%Y%m%d}")
        and p.contract.strike == strike
    )


async def test_a_credit_roll_sells_the_old_option_and_buys_the_new_one(tws: FakeTws) -> None:
    # 4 x VIX Mar 15C held (deep in the money at VIX ~25): rolled into Apr 30C, worth
    # less, so the roll is a credit (SELL)
    old = tws.option("VIX", "VIX", VIX_MAR20, 15.0, "C")
    new = tws.option("VIX", "VIX", VIX_APR20, 30.0, "C")
    tws.add_position(old, 4, 800.0)
    old_q, new_q = tws.option_market(old), tws.option_market(new)
    assert old_q is not None
    assert new_q is not None
    assert old_q.bid is not None
    credit = round(old_q.bid - new_q.ask, 2)  # the legs' net: sell old at bid, buy new at ask
    assert credit > 0
    base = vix_call_order(strike=15.0, contracts=4, limit_price=credit, layer=Layer.L1)
    roll = replace(
        base,
        intent=OrderIntent.ROLL,
        legs=(leg(15.0, VIX_MAR20, -1), leg(30.0, VIX_APR20, 1)),
        action=Action.SELL,
        order_ref="alvh:L1:roll:20200415:30:r0110000000000001",
        decision_id="r0110000000000001",
    )
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    async with running(conn):
        await sink.submit(roll)
        fill = await next_fill(sink)
        await eventually(lambda: held_qty(conn, VIX_APR20, 30.0) == 4)
        assert held_qty(conn, VIX_MAR20, 15.0) == 0  # sold, not bought to 8
    (placed,) = tws.placed_orders
    assert placed.action == "SELL"
    assert [a for _, _, a, _ in placed.combo_legs] == ["BUY", "SELL"]  # IB reverses them
    assert fill.price == pytest.approx(placed.avg_fill_price)
    assert fill.price >= credit  # a credit at least the limit
    sold, bought = (e for e in placed.executions if e.instrument.sec_type == "OPT")
    assert (sold.side, bought.side) == ("SELL", "BUY")


async def test_held_options_are_quoted_even_under_7_days_and_far_from_the_money(
    tws: FakeTws,
) -> None:
    far = tws.option("VIX", "VIX", VIX_MAR20, 100.0, "C")  # > 2.6 x the March future
    tws.add_position(far, 2, 10.0)
    conn = IbConnection(fast_config(tws.port))
    md = IbMarketDataSource(conn)
    async with running(conn, md.run, md.run_option_quotes):
        await md.fetch_option_chain()
        option = md.option_market
        await eventually(lambda: option.quote(leg(100.0, VIX_MAR20, 1)) is not None, timeout_s=5)
        assert (VIX_MAR20, 100.0, "C") in option.held_keys()


async def test_an_off_tick_limit_is_refused_by_the_sink_and_by_the_exchange(tws: FakeTws) -> None:
    """IB error 110: "The price does not conform to the minimum price variation for this
    contract" (TWS API message codes). 2020: VIX options tick 0.05 below 3.00.
    """
    q = tws.option_market(tws.option("VIX", "VIX", VIX_MAR20, 22.0, "C"))
    assert q is not None
    off_tick = round(q.ask + 0.02, 2)  # marketable, but 0.02 off the 0.05 grid
    assert round(off_tick / 0.05, 6) % 1 != 0
    order = vix_call_order(strike=22.0, limit_price=off_tick, decision_id="offtick000000001")
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    async with running(conn):
        with pytest.raises(BrokerRejected, match="off the contract's price increment"):
            await sink.submit(order)
        assert tws.placed_orders == []  # the sink checks the market rule first
        # the fake answers an off-tick order as IB does (error 110), never fills it
        ib = conn.ib
        (details,) = await ib.reqContractDetailsAsync(
            Option("VIX", "20200318", 22.0, "C", "CBOE", tradingClass="VIX")
        )
        assert details.contract is not None
        errors: list[int] = []
        ib.errorEvent += lambda _req, code, *_: errors.append(code)
        ib.placeOrder(details.contract, LimitOrder("BUY", 1, off_tick))
        await eventually(lambda: 110 in errors)
    assert tws.placed_orders == []
