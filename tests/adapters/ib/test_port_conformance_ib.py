"""The IB adapter classes satisfy the ports (checked by mypy; the test builds them)."""

from __future__ import annotations

from adapters.ib.config import IbConfig
from adapters.ib.connection import IbConnection
from adapters.ib.market_data import IbMarketDataSource
from adapters.ib.paper_orders import IbOrderSink
from daemon.ports import FillSource, MarketDataSource, OrderSink


def test_ib_adapters_conform_to_the_ports() -> None:
    conn = IbConnection(IbConfig())
    source: MarketDataSource = IbMarketDataSource(conn)
    orders: OrderSink = IbOrderSink(conn)
    fills: FillSource = IbOrderSink(conn)
    assert source.rejected_count() == 0
    assert orders is not None
    assert fills is not None
    assert not conn.is_ready
