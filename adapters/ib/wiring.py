"""One call to build the IBKR adapter for ``daemon.app`` (the composition root).

``build_ib_adapter`` creates the connection, the market-data source and the order sink
inside the running loop. Start-up: ``await adapter.connection.establish()`` (connect,
qualify, subscribe, reconcile orders), then warm up from ``adapter.market_data.history``
and seed ``Engine.set_positions`` from :meth:`IbAdapter.positions`; then the supervisor runs
:meth:`IbAdapter.tasks` in its TaskGroup (plus a task forwarding
``adapter.connection.alerts.stream()`` and ``adapter.orders.fills()``) and calls
:meth:`IbAdapter.close` on shutdown. ``ib_config`` maps the ``[ib]`` and ``[mode]``
settings sections (duck-typed: adapters do not import ``daemon.settings``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog

from adapters.ib.books import with_journal_books
from adapters.ib.config import IbConfig
from adapters.ib.connection import IbConnection
from adapters.ib.contracts import OptionChain
from adapters.ib.executions import ExecutionRecord
from adapters.ib.market_data import IbMarketDataSource
from adapters.ib.paper_orders import IbOrderSink
from adapters.ib.positions import AccountPositions, account_positions, held_from_ib
from daemon.core.listing import ListedStrikes, StrikeListing
from daemon.core.model import AlertKind, Severity, Symbol
from daemon.ports import Clock

log = structlog.get_logger(__name__)


def ib_config(ib: Any, mode: Any, **overrides: Any) -> IbConfig:
    """IbConfig from the ``[ib]`` and ``[mode]`` settings sections (plus overrides).

    Args:
        ib: object with ``host, port, client_id, market_data_type, connect_timeout_s,
            request_timeout_s, read_only, account``.
        mode: object with ``paper, live_trading_enabled, live_account_allowlist``.
        overrides: any other :class:`IbConfig` field.
    """
    return IbConfig(
        host=ib.host,
        port=ib.port,
        client_id=ib.client_id,
        market_data_type=ib.market_data_type,
        connect_timeout_s=ib.connect_timeout_s,
        request_timeout_s=ib.request_timeout_s,
        read_only=ib.read_only,
        account=ib.account,
        paper=mode.paper,
        live_trading_enabled=mode.live_trading_enabled,
        live_account_allowlist=frozenset(mode.live_account_allowlist),
        **overrides,
    )


@dataclass(slots=True)
class IbAdapter:
    """The IBKR adapter's parts: one connection, its market data and its order sink."""

    connection: IbConnection
    market_data: IbMarketDataSource
    orders: IbOrderSink

    def tasks(self) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """(name, coroutine function) of the long-running tasks (tests run these).

        ``daemon.app`` runs ``connection.run`` inside its own start-up task instead
        (connect, then positions and warm-up, then keep the link up), so that waiting
        for the gateway never blocks MQTT or readiness.
        """
        return [
            ("ib.connection", self.connection.run),
            ("ib.market_data", self.market_data.run),
            ("ib.option_quotes", self.market_data.run_option_quotes),
        ]

    def follow_listing(self, set_listing: Callable[[StrikeListing], None]) -> None:
        """Hand every VIX option chain that arrives to ``set_listing`` (``Engine.set_listing``).

        Whichever task fetches the chain (``ib.startup`` after ready, or ``ib.option_quotes``
        retrying after the first request went unanswered), the engine snaps strikes to the
        broker's listed strikes from then on; a chain without strikes is ignored.
        """

        def on_chain(chain: OptionChain) -> None:
            if chain.strikes:
                set_listing(ListedStrikes(chain.strikes))
                log.info("ib_listing_set", strikes=len(chain.strikes))

        self.market_data.on_option_chain = on_chain

    async def positions(
        self, *, opened_on: date, executions: Sequence[ExecutionRecord] = ()
    ) -> AccountPositions:
        """The account's condor, hedges and IWM satellite, once ready.

        With journaled ``executions`` the hedges are the layers' books built from them (by
        orderRef and execId, :mod:`adapters.ib.books`), plus whatever the broker reported
        since; every contract whose broker quantity differs raises a critical ``broker``
        alert. Without, hedges are mapped by the orderRef that last traded each conId.

        Raises:
            BrokerUnavailable: not connected within the connect timeout.
        """
        await self.connection.wait_ready(self.connection.config.connect_timeout_s)
        ib = self.connection.ib
        iwm = self.market_data.book.contracts.get(Symbol.IWM)
        price = None
        if iwm is not None:
            ticker = ib.ticker(iwm)
            price = float(ticker.last) if ticker is not None else None
        rows = [p for p in ib.positions() if p.account == self.connection.account]
        account = account_positions(
            rows,
            self.orders.order_refs_by_con_id(),
            account=self.connection.account,
            opened_on=opened_on,
            iwm_price=price,
        )
        if not executions:
            return account
        self.orders.seed_executions(executions)
        records = list(
            {r.exec_id: r for r in (*executions, *self.orders.executions.values())}.values()
        )
        held = [h for h in (held_from_ib(p) for p in rows) if h is not None]
        account, diffs = with_journal_books(account, records, held)
        for diff in diffs:
            log.error("ib_position_mismatch", con_id=diff.con_id, detail=diff.message)
            self.connection.alerts.emit(
                key=f"position_mismatch:{diff.con_id}",
                ts=self.connection.clock.now(),
                kind=AlertKind.BROKER,
                severity=Severity.CRITICAL,
                message=diff.message,
            )
        return account

    async def close(self) -> None:
        """Disconnect from IB (after the tasks were cancelled)."""
        await self.connection.close()


def build_ib_adapter(
    config: IbConfig, *, clock: Clock | None = None, sessions: Iterable[date] = ()
) -> IbAdapter:
    """Build the adapter (call inside the running event loop).

    Args:
        config: adapter settings (see :func:`ib_config`).
        clock: time source (system UTC clock by default).
        sessions: XNYS session dates (``daemon.app.trading_sessions()``): the market-data
            source emits a ``SessionClose`` for each; empty → it never does.
    """
    connection = IbConnection(config, clock=clock)
    return IbAdapter(
        connection=connection,
        market_data=IbMarketDataSource(connection, sessions=sessions),
        orders=IbOrderSink(connection),
    )
