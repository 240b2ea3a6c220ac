"""Plain configuration of the IBKR adapter (the lead maps ``daemon.settings`` onto it)."""

from __future__ import annotations

from dataclasses import dataclass

PAPER_GATEWAY_PORT = 4002
"""IB Gateway paper-trading API port (TWS paper: 7497; live: 4001 / 7496)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IbConfig:
    """Connection, market-data and order-guard settings of the IBKR adapter.

    Attributes:
        host: Gateway/TWS host (loopback in the compose file).
        port: API port: Gateway paper 4002, TWS paper 7497.
        client_id: first API client id; bumped by one when IB says it is in use (326).
        client_id_max_bumps: how many times the id may be bumped before giving up.
        market_data_type: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen (only 1 is traded on).
        connect_timeout_s: timeout of one connect attempt (socket + start-up sync), seconds.
        request_timeout_s: timeout of one IB request (details, history, what-if), seconds.
        read_only: connect read-only (alert-only mode: no orders, no order sync).
        account: account id to use; empty → the single managed account.
        backoff_initial_s: first reconnect delay, seconds (exponential, jittered).
        backoff_max_s: cap of the reconnect delay, seconds.
        give_up_after_s: stop reconnecting after this long down (None: never give up).
        stale_after_s: a symbol with no valid quote for this long raises ``data_stale``
            and is resubscribed, seconds.
        check_interval_s: period of the staleness check, seconds.
        history_days: daily bars requested for warm-up (>= 200 trading days).
        paper: paper mode (the default): orders only to ``DU…`` accounts.
        live_trading_enabled: allow orders to a non-paper account (also needs the allow-list).
        live_account_allowlist: live account ids orders may go to when enabled.
        limit_offset_frac: limit = market mid × (1 ± this), fraction (``orders`` section).
        max_spread_frac: a market whose bid/ask spread exceeds this fraction of its mid is
            "wide": not traded blindly (alert, no order).
        quote_timeout_s: how long to wait for an option's bid/ask before calling the market
            empty, seconds.
    """

    host: str = "127.0.0.1"
    port: int = PAPER_GATEWAY_PORT
    client_id: int = 17
    client_id_max_bumps: int = 8
    market_data_type: int = 1
    connect_timeout_s: float = 15.0
    request_timeout_s: float = 30.0
    read_only: bool = False
    account: str = ""
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    give_up_after_s: float | None = None
    stale_after_s: float = 120.0
    check_interval_s: float = 1.0
    history_days: int = 260
    paper: bool = True
    live_trading_enabled: bool = False
    live_account_allowlist: frozenset[str] = frozenset()
    limit_offset_frac: float = 0.0
    max_spread_frac: float = 0.5
    quote_timeout_s: float = 2.0
