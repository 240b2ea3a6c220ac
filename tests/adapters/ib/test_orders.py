"""Proposal → what-if → paper order → fill → sleeve, and never an order twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import pytest

from adapters.ib.connection import IbConnection
from adapters.ib.paper_orders import IbOrderSink
from adapters.ib.positions import account_positions
from daemon.core.engine import Engine
from daemon.core.model import AlertKind, Fill, Layer, Severity
from daemon.core.params import EngineParams
from daemon.errors import BrokerRejected
from tests.adapters.ib.conftest import AS_OF, eventually, fast_config, running
from tests.adapters.ib.orders_helpers import VIX_MAR20, vix_call_order
from tests.fakes.tws import FakeTws
from tests.fakes.tws import protocol as p

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def next_fill(sink: IbOrderSink, timeout_s: float = 3.0) -> Fill:
    async with asyncio.timeout(timeout_s):
        async for fill in sink.fills():
            return fill
    raise AssertionError("unreachable")


async def test_proposal_what_if_paper_order_fill_updates_the_sleeve(tws: FakeTws) -> None:
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    order = vix_call_order(contracts=3, limit_price=1.35)
    async with running(conn):
        await sink.submit(order)
        fill = await next_fill(sink)
        # a marketable limit fills at the quoted ask, not at the limit (an exchange fill)
        quote = tws.option_market(tws.option("VIX", "VIX", order.legs[0].expiry, 22.0, "C"))
        assert quote is not None
        assert quote.ask < 1.35
        assert (fill.order_ref, fill.contracts, fill.price) == (order.order_ref, 3, quote.ask)
        # what-if first, then exactly one real order, with the deterministic orderRef
        assert tws.message_count(p.PLACE_ORDER) == 2
        assert [o.order_ref for o in tws.placed_orders] == [order.order_ref]
        # the limit sent is the proposal's (published, journaled, under the cost cap)
        assert sink.limits[order.order_ref] == 1.35
        assert float(sink.what_ifs[order.order_ref].initMarginChange) == pytest.approx(405.0)
        # the broker's positions now hold the hedge, mapped to L1 through the orderRef
        await eventually(lambda: any(x.contract.symbol == "VIX" for x in conn.ib.positions()))
        held = account_positions(
            conn.ib.positions(), sink.order_refs_by_con_id(), account=conn.account, opened_on=AS_OF
        )
        (hedge,) = held.hedges
        assert (hedge.layer, hedge.contracts) == (Layer.L1, 3)
        assert hedge.premium_paid_usd == pytest.approx(3 * quote.ask * 100)
        assert hedge.legs[0].strike == 22.0
        assert hedge.legs[0].multiplier == 100
        engine = Engine(EngineParams(), sessions=[AS_OF], assume_fills=False)
        engine.set_positions(condor=held.condor, hedges=held.hedges, satellite=held.satellite)
        assert [(h.layer, h.contracts) for h in engine.hedges] == [(Layer.L1, 3)]


async def test_the_same_proposal_twice_is_sent_once(tws: FakeTws) -> None:
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    order = vix_call_order(decision_id="twice00000000001")
    async with running(conn):
        await asyncio.gather(sink.submit(order), sink.submit(order))
        await sink.submit(order)
    assert [o.order_ref for o in tws.placed_orders] == [order.order_ref]


async def test_kill_and_restart_reconciles_and_sends_no_duplicate(tws: FakeTws) -> None:
    tws.auto_fill = False  # one order stays open at the broker, one fills
    open_order = vix_call_order(strike=25.0, decision_id="restart000000001")
    filled_order = vix_call_order(strike=30.0, decision_id="restart000000002")
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    async with running(conn):
        await sink.submit(open_order)
        await sink.submit(filled_order)
        tws.fill(filled_order.order_ref)
        await next_fill(sink)
    # "kill": the process is gone; a new one starts with fresh objects and a new client id
    conn2 = IbConnection(fast_config(tws.port, client_id=12))
    sink2 = IbOrderSink(conn2)
    async with running(conn2):
        assert sink2.known_refs[open_order.order_ref] == "Submitted"
        assert sink2.known_refs[filled_order.order_ref] == "Filled"
        await sink2.submit(open_order)
        await sink2.submit(filled_order)
        assert sink2.drain_fills() == []  # fills before the restart are not replayed
    assert [o.order_ref for o in tws.placed_orders] == [
        open_order.order_ref,
        filled_order.order_ref,
    ]


async def test_live_account_in_paper_mode_sends_nothing_and_alerts_once(tws: FakeTws) -> None:
    tws.account = "U7654321"
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    async with running(conn):
        await sink.submit(vix_call_order(decision_id="live000000000001"))
        await sink.submit(vix_call_order(strike=23.0, decision_id="live000000000002"))
    assert tws.message_count(p.PLACE_ORDER) == 0
    alerts = [a for a in conn.alerts.emitted if a.kind is AlertKind.ORDER]
    assert len(alerts) == 1
    assert alerts[0].severity is Severity.CRITICAL
    assert "U7654321" in alerts[0].message
    assert "paper" in alerts[0].message


async def test_a_rejected_order_is_a_broker_rejection(tws: FakeTws) -> None:
    tws.reject_orders_code = 201
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    async with running(conn):
        with pytest.raises(BrokerRejected) as err:
            await sink.submit(vix_call_order(decision_id="reject0000000001"))
    assert err.value.code == 201


async def test_an_unknown_option_is_rejected_before_any_order(tws: FakeTws) -> None:
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    order = vix_call_order(decision_id="unknown000000001")
    bad = order.legs[0].__class__(
        right=order.legs[0].right,
        strike=22.0,
        expiry=date(2020, 3, 18),
        position_qty=1,
        multiplier=100,
        trading_class="NOPE",
    )
    async with running(conn):
        tws.hidden_series.clear()
        with pytest.raises(BrokerRejected):
            await sink.submit(replace(order, legs=(bad,), order_ref=order.order_ref + "x"))
    assert tws.message_count(p.PLACE_ORDER) == 0


async def test_read_only_session_never_sends_orders(tws: FakeTws) -> None:
    conn = IbConnection(fast_config(tws.port, read_only=True))
    sink = IbOrderSink(conn)
    async with running(conn):
        await sink.submit(vix_call_order(decision_id="readonly00000001"))
    assert tws.message_count(p.PLACE_ORDER) == 0
    assert tws.message_count(p.REQ_COMPLETED_ORDERS) == 0  # no order sync in read-only mode


async def test_a_two_leg_spread_goes_as_one_combo_order(tws: FakeTws) -> None:
    conn = IbConnection(fast_config(tws.port))
    sink = IbOrderSink(conn)
    single = vix_call_order(strike=25.0, contracts=5, limit_price=0.6, layer=Layer.L2)
    short_leg = replace(single.legs[0], strike=35.0, position_qty=-1)
    spread = replace(
        single,
        legs=(single.legs[0], short_leg),
        order_ref=single.order_ref.replace(":25:", ":25-35:"),
        decision_id="spread0000000001",
    )
    # a marketable net limit: at or above the legs' net ask (long ask − short bid)
    long_q = tws.option_market(tws.option("VIX", "VIX", VIX_MAR20, 25.0, "C"))
    short_q = tws.option_market(tws.option("VIX", "VIX", VIX_MAR20, 35.0, "C"))
    assert long_q is not None
    assert short_q is not None
    assert short_q.bid is not None
    net_ask = round(long_q.ask - short_q.bid, 2)
    spread = replace(spread, limit_price=net_ask)
    async with running(conn):
        await sink.submit(spread)
        fill = await next_fill(sink)
        await eventually(
            lambda: sum(1 for x in conn.ib.positions() if x.contract.symbol == "VIX") == 2
        )
        held = account_positions(
            conn.ib.positions(), sink.order_refs_by_con_id(), account=conn.account, opened_on=AS_OF
        )
    (placed,) = tws.placed_orders
    assert placed.instrument.sec_type == "BAG"
    assert [(ratio, action) for _, ratio, action, _ in placed.combo_legs] == [
        (1, "BUY"),
        (1, "SELL"),
    ]
    assert (fill.order_ref, fill.contracts) == (spread.order_ref, 5)
    # IB reports a combo fill per leg *and* for the BAG (TWS API docs, "Executions and
    # Commissions"; ib_async Trade.filled() counts only the BAG's): the order's fill is the
    # BAG's net, booked once; the legs only move positions
    assert [e.instrument.sec_type for e in placed.executions] == ["OPT", "OPT", "BAG"]
    assert fill.price == pytest.approx(placed.avg_fill_price)
    long_px, short_px = (e.price for e in placed.executions[:2])
    assert fill.price == pytest.approx(long_px - short_px)
    assert sink.drain_fills() == []
    assert sum(1 for r in sink.executions.values() if r.is_combo_leg) == 2
    (hedge,) = held.hedges
    assert hedge.layer is Layer.L2
    assert hedge.contracts == 5
    assert [(leg.strike, leg.position_qty) for leg in hedge.legs] == [(25.0, 1), (35.0, -1)]
