"""Opt-in checks against a real IB paper gateway (marker ``ib``; skipped without one).

Run: ``ALVH_TEST_IB_HOST=127.0.0.1 ALVH_TEST_IB_PORT=4002 uv run pytest -m ib``.
Read-only except for one what-if (a margin preview never becomes an order).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from adapters.ib.config import IbConfig
from adapters.ib.connection import IbConnection
from adapters.ib.contracts import qualify_option
from adapters.ib.market_data import IbMarketDataSource
from adapters.ib.paper_orders import orders_allowed
from daemon.core.model import OptionLeg, Quote, Right, Symbol
from tests.adapters.ib.conftest import running

HOST = os.environ.get("ALVH_TEST_IB_HOST", "")
PORT = int(os.environ.get("ALVH_TEST_IB_PORT", "0") or 0)

pytestmark = [
    pytest.mark.ib,
    pytest.mark.skipif(not (HOST and PORT), reason="set ALVH_TEST_IB_HOST/ALVH_TEST_IB_PORT"),
    pytest.mark.asyncio(loop_scope="session"),
]


def live_config() -> IbConfig:
    return IbConfig(
        host=HOST,
        port=PORT,
        client_id=int(os.environ.get("ALVH_TEST_IB_CLIENT_ID", "917")),
        market_data_type=int(os.environ.get("ALVH_TEST_IB_MARKET_DATA_TYPE", "1")),
        connect_timeout_s=20.0,
        request_timeout_s=60.0,
    )


async def test_paper_gateway_qualifies_warms_up_and_quotes() -> None:
    conn = IbConnection(live_config())
    md = IbMarketDataSource(conn, symbols=(Symbol.SPX, Symbol.IWM, Symbol.VIX))
    async with running(conn, md.run, ready_timeout_s=60):
        allowed, why = orders_allowed(conn.account, conn.config)
        assert allowed, why  # a paper login: DU… account
        bars = await md.history(Symbol.SPX, 200)
        assert len(bars) == 200
        assert md.book.vix_chain is not None
        async with asyncio.timeout(60):
            async for event in md.events():
                if isinstance(event, Quote):
                    break
        expiry = md.book.vix_chain.expiries[0]
        strike = min(md.book.vix_chain.strikes, key=lambda k: abs(k - 30.0))
        leg = OptionLeg(
            right=Right.CALL,
            strike=strike,
            expiry=expiry,
            position_qty=1,
            multiplier=md.book.vix_chain.multiplier,
            trading_class="VIX",
        )
        contract = await qualify_option(conn.ib, leg)
        assert contract.conId > 0
