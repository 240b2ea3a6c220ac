"""Live quotes and warm-up history from IB, behind the ``MarketDataSource`` port.

Flow (STYLE §2.3): ib_async mutates ``Ticker`` objects and emits ``pendingTickersEvent``
on the loop thread. :meth:`IbMarketDataSource._on_pending_tickers` (synchronous, never
raises) copies the fields, parses them at the edge (:mod:`adapters.ib.parsing`) and stores
the latest valid quote per symbol in a conflated slot, then sets an ``asyncio.Event``.
:meth:`events` drains the slots. Quotes are state: nothing queues without bound.

:meth:`run` (task ``ib.market_data``) watches staleness during regular hours as outage
*episodes* (:class:`daemon.core.staleness.StaleWatch`): the first symbol with no valid quote
for ``stale_after_s`` raises one ``data_stale`` alert naming every stale symbol (critical
when SPX, IWM or VIX is among them), and one ``data_stale`` *restored* alert (info) comes
when every symbol is fresh again; however long the outage and however many symbols, that
is two alerts. A stale symbol is resubscribed every ``stale_after_s`` meanwhile (logged,
not alerted). It also resubscribes everything when the connection asks (1101/1102, 2104
after 2103).

``SessionClose``: given the XNYS session dates (``sessions``, computed by the shell with
exchange_calendars), :meth:`run` emits one ``SessionClose`` per session once the New York
time passes ``close_time`` (16:15 by default, after the VIX settles; half-days close later
than the exchange, never earlier) *and* every required series (SPX, IWM, VIX) has a valid
quote of that session. Without them the close waits (one ``data_stale`` alert) until they
come or the day ends: a stale price is never committed as a close.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from datetime import date, time
from typing import Any

import structlog
from ib_async import Contract, Ticker

from adapters.ib.config import IbConfig
from adapters.ib.connection import IbConnection
from adapters.ib.contracts import (
    VX_SYMBOLS,
    ContractBook,
    OptionChain,
    describe,
    option_chain,
    qualify_series,
)
from adapters.ib.option_market import IbOptionMarket, futures_by_expiry
from adapters.ib.parsing import NEW_YORK, bar_from_ib, quote_from_ticker, ticker_fields
from daemon.core.model import (
    REQUIRED_SYMBOLS,
    AlertKind,
    Bar,
    MarketEvent,
    Quote,
    Rejected,
    SessionClose,
    Severity,
    Symbol,
)
from daemon.core.staleness import StaleEpisode, StaleWatch
from daemon.errors import BrokerUnavailable, DataError

log = structlog.get_logger(__name__)

ALL_SYMBOLS: tuple[Symbol, ...] = tuple(Symbol)
DEFAULT_CLOSE_TIME = time(16, 15)
REGULAR_OPEN = time(9, 30)
"""XNYS regular-session open, New York time (staleness is only judged from here on)."""
"""New York time after which a session is closed: 16:00 close + the 16:15 VIX settlement."""
DATA_STALE_KEY = "data_stale"
"""Alert key of a feed outage episode (one alert per episode)."""
DATA_RESTORED_KEY = "data_restored"
"""Alert key of the end of a feed outage episode."""
TRADING_DAYS_PER_YEAR = 252
CALENDAR_DAYS_PER_YEAR = 365


def history_duration(days: int) -> str:
    """IB ``durationStr`` covering ``days`` trading days (``"300 D"`` or ``"2 Y"``)."""
    calendar_days = math.ceil(days * CALENDAR_DAYS_PER_YEAR / TRADING_DAYS_PER_YEAR) + 10
    if calendar_days <= CALENDAR_DAYS_PER_YEAR:
        return f"{calendar_days} D"
    return f"{math.ceil(calendar_days / CALENDAR_DAYS_PER_YEAR)} Y"


class IbMarketDataSource:
    """Streaming quotes of the SPEC §2 series from IB.

    Args:
        conn: the connection (its on-connect hook qualifies and subscribes).
        symbols: series to follow (all by default).
        config: stale/market-data-type settings (the connection's by default).
        sessions: XNYS session dates; empty → no ``SessionClose`` is emitted.
        close_time: New York wall time after which a session counts as closed.
    """

    def __init__(
        self,
        conn: IbConnection,
        *,
        symbols: Iterable[Symbol] = ALL_SYMBOLS,
        config: IbConfig | None = None,
        sessions: Iterable[date] = (),
        close_time: time = DEFAULT_CLOSE_TIME,
    ) -> None:
        self.conn = conn
        self.config = config or conn.config
        self.symbols = tuple(symbols)
        self.sessions = frozenset(sessions)
        self.close_time = close_time
        self._closed_through: date | None = None
        self._pending_close: SessionClose | None = None
        self._today: dict[Symbol, date] = {}
        self._vx_repicked_on: date | None = None
        self.book = ContractBook()
        self._slots: dict[Symbol, Quote] = {}
        self._changed = asyncio.Event()
        self._tickers: dict[Symbol, Ticker] = {}
        self.stale_watch = StaleWatch(self.config.stale_after_s)
        """Outage episodes of the feed (one alert per episode, one when restored)."""
        self._subscribed_at: dict[Symbol, float] = {}
        self._rejected = 0
        self.rejections: dict[str, int] = {}
        """Rejections counted by reason (``delayed``, ``nan``, ...)."""
        self.resubscriptions = 0
        self.latest_price: dict[Symbol, float] = {}
        """Latest valid price per followed series (VX futures place the option strikes)."""
        self.option_market = IbOptionMarket(
            conn.ib, request_timeout_s=self.config.request_timeout_s
        )
        """Streamed quotes of the VIX options near the money (the engine's OptionMarket)."""
        self.on_option_chain: Callable[[OptionChain], None] | None = None
        """Called (synchronously, must not raise) with every chain that arrives, whichever
        task fetched it: ``ib.startup`` after ready or ``ib.option_quotes`` on a retry."""
        conn.add_on_connected(self._on_connected)
        conn.ib.pendingTickersEvent += self._on_pending_tickers

    # ------------------------------------------------------------------ port
    async def events(self) -> AsyncGenerator[MarketEvent, None]:
        """Yield the latest quote of each changed symbol (SPEC order), then any session close.

        Never ends (cancel to stop).
        """
        while True:
            await self._changed.wait()
            while self._slots:
                for symbol in self.symbols:
                    quote = self._slots.pop(symbol, None)
                    if quote is not None:
                        yield quote
            if self._pending_close is not None:
                close, self._pending_close = self._pending_close, None
                yield close
                continue
            # no await since the last check: no callback can have filled a slot meanwhile
            self._changed.clear()

    async def history(self, symbol: Symbol, days: int) -> Sequence[Bar]:
        """Daily bars before today, oldest first, at most ``days`` (warm-up).

        IB includes the current session's (unfinished) bar in daily history once the session
        has traded; its "close" is only the last price so far. It is dropped here (any bar of
        today's New York date or later), so warm-up never commits an intraday price as a
        close: today's close comes from the session close at ``close_time``.

        An optional series (RVX, VIX3M, VX) that is not qualified or has no bars gives [].

        Raises:
            DataError: a required series (SPX, IWM, VIX) is not qualified or has no bars.
            BrokerUnavailable: not connected, or the request timed out.
        """
        await self.conn.wait_ready(self.config.connect_timeout_s)
        contract = self.book.contracts.get(symbol)
        if contract is None:
            if symbol in REQUIRED_SYMBOLS:
                raise DataError(f"no qualified IB contract for {symbol}")
            return []
        expiry = self.book.expiries.get(symbol)
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                raw = await self.conn.ib.reqHistoricalDataAsync(
                    contract,
                    endDateTime="",
                    durationStr=history_duration(days),
                    barSizeSetting="1 day",
                    whatToShow="TRADES",
                    useRTH=True,
                    formatDate=1,
                    timeout=0,
                )
        except TimeoutError as exc:
            raise BrokerUnavailable(f"IB history of {symbol} timed out") from exc
        except ConnectionError as exc:
            raise BrokerUnavailable(f"IB dropped during history of {symbol}") from exc
        bars: list[Bar] = []
        today = self.conn.clock.now().astimezone(NEW_YORK).date()
        for item in raw:
            parsed = bar_from_ib(item, symbol=symbol, expiry=expiry)
            if isinstance(parsed, Rejected):
                self._count(parsed)
            elif parsed.session_date >= today:
                log.info(
                    "ib_history_today_dropped",
                    symbol=str(symbol),
                    session_date=str(parsed.session_date),
                    last=parsed.close,
                )
            else:
                bars.append(parsed)
        if not bars:
            if symbol in REQUIRED_SYMBOLS:
                raise DataError(f"IB returned no daily bars for {describe(contract)}")
            log.warning("ib_history_empty", symbol=str(symbol), contract=describe(contract))
            return []
        bars.sort(key=lambda b: b.session_date)
        return bars[-days:]

    async def fetch_option_chain(self) -> None:
        """Request the VIX option chain (optional: off the start-up path; never raises).

        A request that is not answered within ``request_timeout_s`` (or a dropped link)
        raises one ``broker`` warning alert and leaves ``book.vix_chain`` None (the task
        ``ib.option_quotes`` asks again); until a chain arrives the engine snaps strikes to
        Cboe's interval convention. A chain that arrives goes to :attr:`on_option_chain`.
        """
        vix = self.book.contracts.get(Symbol.VIX)
        if vix is None or self.book.vix_chain is not None:
            return
        timeout_s = self.config.request_timeout_s
        try:
            self.book.vix_chain = await option_chain(self.conn.ib, vix, timeout_s=timeout_s)
        except (BrokerUnavailable, ConnectionError) as exc:
            log.warning("ib_option_chain_unanswered", timeout_s=timeout_s, error=str(exc))
            self.conn.alerts.emit(
                key="broker:option_chain",
                ts=self.conn.clock.now(),
                kind=AlertKind.BROKER,
                severity=Severity.WARNING,
                message=f"IB did not answer the VIX option chain request in {timeout_s:g} s; "
                "running without it (strikes come from the configured grid)",
            )
            return
        chain = self.book.vix_chain
        log.info("ib_option_chain", found=chain is not None)
        if chain is not None and self.on_option_chain is not None:
            self.on_option_chain(chain)

    def rejected_count(self) -> int:
        """Ticks refused at the edge so far (NaN, -1, 0, delayed, frozen, bid > ask)."""
        return self._rejected

    # ------------------------------------------------------------------ task
    async def run(self) -> None:
        """Staleness watchdog and resubscription (task ``ib.market_data``); never ends."""
        interval = self.config.check_interval_s
        while True:
            try:
                async with asyncio.timeout(interval):
                    await self.conn.resubscribe.wait()
            except TimeoutError:
                pass
            self._check_session_close()
            if not self.conn.is_ready:
                continue
            if self._vx_expired():
                await self._repick_vx()
                continue
            if self.conn.resubscribe.is_set():
                self.conn.resubscribe.clear()
                log.info("ib_resubscribing", reason="broker_restored")
                self._subscribe(self.symbols)
                self.option_market.forget()
                continue
            self._check_staleness()

    # ------------------------------------------------------------------ internals
    def _ny_date(self) -> date:
        return self.conn.clock.now().astimezone(NEW_YORK).date()

    def _vx_expired(self) -> bool:
        """VX1 expired (its last trade date is before today): the next monthly takes over."""
        expiry = self.book.expiries.get(Symbol.VX1)
        today = self._ny_date()
        if expiry is None or expiry >= today or self._vx_repicked_on == today:
            return False
        self._vx_repicked_on = today
        return True

    async def _repick_vx(self) -> None:
        """Re-qualify VX1/VX2 after VX1's expiry, during the day (no reconnect needed)."""
        ib = self.conn.ib
        old = {s: self.book.expiries.get(s) for s in VX_SYMBOLS}
        fresh = await qualify_series(
            ib,
            [s for s in self.symbols if s in VX_SYMBOLS],
            required=frozenset(),
            timeout_s=self.config.request_timeout_s,
            today=self._ny_date(),
        )
        if not any(s in fresh.contracts for s in VX_SYMBOLS):
            log.warning("ib_vx_repick_found_nothing", old={str(s): str(e) for s, e in old.items()})
            return
        for symbol in VX_SYMBOLS:
            contract = self.book.contracts.pop(symbol, None)
            self.book.expiries.pop(symbol, None)
            if contract is not None and symbol in self._tickers:
                ib.cancelMktData(contract)
                del self._tickers[symbol]
            if symbol in fresh.contracts:
                self.book.contracts[symbol] = fresh.contracts[symbol]
                self.book.multipliers[symbol] = fresh.multipliers[symbol]
                if symbol in fresh.expiries:
                    self.book.expiries[symbol] = fresh.expiries[symbol]
        log.info(
            "ib_vx_repicked",
            old={str(s): str(e) for s, e in old.items()},
            new={str(s): str(e) for s, e in self.book.expiries.items() if s in VX_SYMBOLS},
        )
        self._subscribe(tuple(s for s in VX_SYMBOLS if s in self.book.contracts))

    async def run_option_quotes(self) -> None:
        """Keep the near-the-money VIX option quotes streamed (task ``ib.option_quotes``).

        Never ends. Separate from :meth:`run` so qualifying options never delays a
        session close or the staleness watch.
        """
        while True:
            await asyncio.sleep(self.config.check_interval_s)
            if self.conn.is_ready:
                await self._refresh_options()

    async def _refresh_options(self) -> None:
        """(Re)stream the option quotes the ladder may need (after VX moves/reconnects)."""
        if self.book.vix_chain is None:
            # off the start-up path (issue 6): fetched here when ib.startup has not yet
            await self.fetch_option_chain()
        chain = self.book.vix_chain
        futures = futures_by_expiry(self.latest_price, self.book.expiries)
        if chain is None or not self.option_market.needs_refresh(futures):
            return
        try:
            await self.option_market.refresh(chain, futures, self._ny_date())
        except TimeoutError:
            log.warning("ib_option_quotes_timed_out", detail="model prices until the next try")

    async def _on_connected(self) -> None:
        self.option_market.forget()
        ib = self.conn.ib
        self.book = await qualify_series(
            ib, self.symbols, timeout_s=self.config.request_timeout_s, with_chain=False
        )
        ib.reqMarketDataType(self.config.market_data_type)
        self._tickers.clear()
        self._subscribe(tuple(s for s in self.symbols if s in self.book.contracts))

    def _subscribe(self, symbols: Iterable[Symbol]) -> None:
        ib = self.conn.ib
        now = self.conn.clock.monotonic()
        for symbol in symbols:
            contract: Contract | None = self.book.contracts.get(symbol)
            if contract is None:
                continue
            if symbol in self._tickers:
                ib.cancelMktData(contract)
                self.resubscriptions += 1
            self._tickers[symbol] = ib.reqMktData(contract, "", False, False)
            self._subscribed_at[symbol] = now
            log.debug("ib_subscribed", symbol=str(symbol), contract=describe(contract))

    def _in_regular_hours(self) -> bool:
        """True during an XNYS session's regular hours (09:30 to the close time, New York).

        Outside them SPX and IWM do not tick, so silence is not staleness: no
        ``data_stale`` alert at night, at weekends or on holidays. (Early closes count
        as open until ``close_time``.) With no session list, always True.
        """
        if not self.sessions:
            return True
        local = self.conn.clock.now().astimezone(NEW_YORK)
        return local.date() in self.sessions and REGULAR_OPEN <= local.time() < self.close_time

    def _check_staleness(self) -> None:
        if not self._in_regular_hours():
            return
        now = self.conn.clock.monotonic()
        limit = self.config.stale_after_s
        watch = self.stale_watch
        watch.watch(self._tickers)
        change = watch.check(now)
        if change is not None:
            self._alert_episode(change)
        # Resubscribe what is stale, at most once per ``stale_after_s`` per symbol.
        stale = [s for s in watch.stale(now) if now - self._subscribed_at.get(s, -math.inf) > limit]
        if stale:
            log.warning(
                "ib_quote_stale",
                symbols=[str(s) for s in stale],
                stale_after_s=limit,
                detail="resubscribed",
            )
            self._subscribe(stale)

    def _alert_episode(self, episode: StaleEpisode) -> None:
        """One alert when an outage starts, one (info) when every symbol is fresh again."""
        alerts = self.conn.alerts
        now = self.conn.clock.now()
        if episode.is_open:
            log.warning("data_stale", symbols=episode.names, age_s=round(episode.age_s, 1))
            alerts.emit(
                key=DATA_STALE_KEY,
                ts=now,
                kind=AlertKind.DATA_STALE,
                severity=Severity.CRITICAL if episode.has_required else Severity.WARNING,
                message=f"no valid IB quote for {episode.names} for {episode.age_s:.0f} s "
                f"(limit {episode.limit_s:g} s); decisions wait for data; resubscribing",
            )
            return
        log.info("data_restored", symbols=episode.names, outage_s=round(episode.age_s, 1))
        alerts.clear(DATA_STALE_KEY)
        alerts.emit(
            key=DATA_RESTORED_KEY,
            ts=now,
            kind=AlertKind.DATA_STALE,
            severity=Severity.INFO,
            message=f"data restored: valid IB quotes again for {episode.names} after an "
            f"outage of {episode.age_s:.0f} s",
        )
        alerts.clear(DATA_RESTORED_KEY)

    def _check_session_close(self) -> None:
        """Queue the ``SessionClose`` of today once it is due and the closes are known."""
        if not self.sessions:
            return
        now = self.conn.clock.now()
        local = now.astimezone(NEW_YORK)
        day = local.date()
        if day not in self.sessions or local.time() < self.close_time:
            return
        if self._closed_through is not None and day <= self._closed_through:
            return
        missing = [s for s in REQUIRED_SYMBOLS if self._today.get(s) != day]
        if missing:
            names = ", ".join(sorted(str(s) for s in missing))
            self.conn.alerts.emit(
                key=f"session_close_waiting:{day}",
                ts=now,
                kind=AlertKind.DATA_STALE,
                severity=Severity.WARNING,
                message=f"session {day} closed but no valid IB quote of it for {names}; "
                "the close waits for them",
            )
            return
        self._closed_through = day
        self._pending_close = SessionClose(session_date=day, ts=now)
        self._changed.set()
        log.info("ib_session_closed", session_date=str(day))

    def _count(self, rejected: Rejected) -> None:
        self._rejected += 1
        self.rejections[rejected.reason] = self.rejections.get(rejected.reason, 0) + 1
        log.debug(
            "quote_rejected",
            reason=rejected.reason,
            symbol=str(rejected.symbol),
            detail=rejected.detail,
        )

    def _on_pending_tickers(self, tickers: Iterable[Any]) -> None:
        """Eventkit callback (sync): parse each changed ticker, keep the latest valid quote."""
        now = self.conn.clock.now()
        mono = self.conn.clock.monotonic()
        changed = False
        for ticker in tickers:
            symbol = self.book.symbol_of(ticker.contract.conId)
            if symbol is None:
                continue
            parsed = quote_from_ticker(
                ticker_fields(ticker),
                symbol=symbol,
                received_at=now,
                expiry=self.book.expiries.get(symbol),
            )
            if isinstance(parsed, Rejected):
                self._count(parsed)
                if parsed.reason in ("delayed", "stale"):
                    self.conn.alerts.emit(
                        key=f"market_data_{parsed.reason}:{symbol}",
                        ts=now,
                        kind=AlertKind.DATA_STALE,
                        severity=Severity.WARNING,
                        message=f"IB sends {parsed.reason} data for {symbol} "
                        f"({parsed.detail}); not used",
                    )
                continue
            self._slots[symbol] = parsed
            self.stale_watch.on_valid(symbol, mono)
            self.latest_price[symbol] = parsed.price
            self._today[symbol] = parsed.session_date
            changed = True
        if changed:
            self._changed.set()
