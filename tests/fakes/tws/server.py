"""A fake TWS/IB Gateway: an asyncio server on loopback that speaks the TWS API wire protocol.

It is scripted from the real daily files (``shared/data/market``) and answers what ib_async
sends: the handshake, ``startApi``, the start-up sync (positions, open and completed orders,
account updates, executions), contract details, option-chain parameters, streaming ticks,
daily history, what-if and real orders with ``openOrder``/``orderStatus``/``execDetails``.

Fault injection: :meth:`FakeTws.drop_connections`, :meth:`FakeTws.refuse_connections`,
:meth:`FakeTws.send_error` (1100, 1102, 2103/2104, 354, 10167...), bad ticks through
:meth:`FakeTws.push_price` (``-1``, ``0``, ``nan``, or a plausible-looking bad print like
``SPX 30``), a feed stall (:meth:`FakeTws.stall`: no tick at all, not even the snapshot of
a new subscription), :attr:`FakeTws.market_data_type`
(delayed/frozen), :attr:`FakeTws.client_ids_in_use` (error 326) and :attr:`FakeTws.account`
(``DU…`` paper or ``U…`` live).

Field layouts follow ib_async 2.1's ``decoder.py`` for server version 178 (the highest
that ib_async 2.1 asks for). Nothing here imports ib_async: it is a separate implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.fakes.tws import listing
from tests.fakes.tws import protocol as p
from tests.fakes.tws.market import DailyBar, MarketData
from tests.fakes.tws.protocol import Field

log = logging.getLogger("fake_tws")

SERVER_VERSION = 178
OPEN_STATES = frozenset({"PreSubmitted", "Submitted", "PendingSubmit"})
DONE_STATES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})

ERROR_TEXTS: dict[int, str] = {
    110: "The price does not conform to the minimum price variation for this contract.",
    200: "No security definition has been found for the request",
    201: "Order rejected - reason:",
    202: "Order Canceled - reason:",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    354: "Requested market data is not subscribed.",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and TWS has been restored- data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2106: "HMDS data farm connection is OK:ushmds",
    2110: "Connectivity between Trader Workstation and server is broken. It will be restored.",
    2158: "Sec-def data farm connection is OK:secdefil",
    10167: "Requested market data is not subscribed. Displaying delayed market data.",
    10168: "Requested market data is not subscribed. Delayed market data is not enabled.",
    10197: "No market data during competing live session",
}


@dataclass(slots=True)
class Instrument:
    """One contract the fake knows (its contract details)."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str = ""
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = ""
    multiplier: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    min_tick: float = 0.01
    long_name: str = ""
    series: str = ""
    """Key of the daily series in :class:`MarketData` (``""`` for options)."""
    market_rule_id: int = 0
    """IB market rule of the premium/price increments (``ContractDetails.marketRuleIds``)."""

    def eleven(self) -> list[Field]:
        """conId … tradingClass, as in position/openOrder/execDetails messages."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            self.last_trade_date,
            self.strike,
            self.right,
            self.multiplier,
            self.exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]


@dataclass(slots=True)
class FakeOrder:
    """An order the fake holds (survives client reconnects, like TWS)."""

    perm_id: int
    client_id: int
    order_id: int
    instrument: Instrument
    combo_legs: list[tuple[int, int, str, str]]
    action: str
    quantity: float
    order_type: str
    lmt_price: float
    tif: str
    account: str
    order_ref: str
    status: str = "Submitted"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    exec_ids: list[str] = field(default_factory=list)
    fill_time: datetime | None = None
    executions: list[Execution] = field(default_factory=list)
    """Every execution reported for this order (combo: one per leg, then the BAG's)."""


@dataclass(slots=True)
class Execution:
    """One execution report (``execDetails``): the whole order, or one combo leg."""

    exec_id: str
    instrument: Instrument
    side: str
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    time: datetime


@dataclass(slots=True)
class Position:
    """One position row (``avg_cost`` per contract, multiplier included, like IB)."""

    account: str
    instrument: Instrument
    quantity: float
    avg_cost: float


def vix_expiry(year: int, month: int) -> date:
    """CBOE rule: the Wednesday 30 days before the 3rd Friday of the following month."""
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    first = date(ny, nm, 1)
    third_friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
    return third_friday - timedelta(days=30)


def third_friday(year: int, month: int) -> date:
    """The 3rd Friday of a month (SPX monthly expiry)."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _duration_days(text: str) -> int:
    amount, unit = text.split()
    n = int(amount)
    return {"S": 1, "D": n, "W": 7 * n, "M": 31 * n, "Y": 366 * n}[unit.upper()]


def _parse_contract(fields: list[str], start: int) -> dict[str, str]:
    names = [
        "conId",
        "symbol",
        "secType",
        "lastTradeDateOrContractMonth",
        "strike",
        "right",
        "multiplier",
        "exchange",
        "primaryExchange",
        "currency",
        "localSymbol",
        "tradingClass",
    ]
    return dict(zip(names, fields[start : start + 12], strict=True))


class FakeTws:
    """The fake server. Use ``async with FakeTws(market_dir, as_of=...) as tws: tws.port``.

    Args:
        market_dir: directory of the real daily CSV files.
        as_of: the fake's "today": history ends the session before it; quotes start at it.
        account: the managed account id (``DU…`` paper, ``U…`` live).
        host: listen address (loopback only).
    """

    def __init__(
        self,
        market_dir: Path,
        *,
        as_of: date,
        account: str = "DU1234567",
        host: str = "127.0.0.1",
    ) -> None:
        self.data = MarketData.load(market_dir)
        self.as_of = as_of
        self.account = account
        self.host = host
        self.port = 0
        self.market_data_type = 1
        """Type every subscription gets (1 live, 2 frozen, 3 delayed, 4 delayed frozen)."""
        self.client_ids_in_use: set[int] = set()
        """Client ids held by some other application: startApi with one → error 326."""
        self.not_subscribed: dict[str, int] = {}
        self.answer_option_chain = True
        """False: ``reqSecDefOptParams`` is never answered (fault injection)."""
        self.drop_option_chain_requests = 0
        """This many ``reqSecDefOptParams`` requests go unanswered first (then answered)."""
        """Series key → error code sent on reqMktData (354, 10167, 10168, 10197)."""
        self.hidden_series: set[str] = set()
        """Series keys whose contracts the fake pretends not to know (error 200)."""
        self.auto_fill = True
        """Fill limit orders as soon as they are marketable (BUY limit ≥ ask, SELL ≤ bid),
        at the quoted ask/bid, like an exchange; a non-marketable limit rests (Submitted)."""
        self.fill_max_qty: float | None = None
        """Fill at most this many contracts per execution (partial fills), None = all."""
        self.today = as_of
        """The session the fake's market is in (advanced by :meth:`push_session`)."""
        self.today_bar = True
        """Serve the current session's bar in daily history once it traded (real IB)."""
        self.spread_frac = 0.06
        """Option bid/ask width as a fraction of the value (at least one tick each side)."""
        self.no_bid_con_ids: set[int] = set()
        """Options quoted with no bid (IB sends bid -1 size 0): an empty market."""
        self.wide_con_ids: dict[int, float] = {}
        """Options quoted with this spread fraction instead (a wide market)."""
        self.last_price: dict[str, float] = {}
        """Series key → last traded price pushed (else the session's open)."""
        self.reject_orders_code: int | None = None
        self.instruments: dict[int, Instrument] = {}
        self.positions: dict[tuple[str, int], Position] = {}
        self.orders: list[FakeOrder] = []
        self.received: list[list[str]] = []
        self.connects = 0
        self.refused_attempts = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._perm_ids = itertools.count(1_000_001)
        self._exec_seq = itertools.count(1)
        self._reopen: asyncio.Task[None] | None = None
        self._book_mid: dict[str, float] = {}
        self._refusing = False
        self._stalled_until = 0.0
        self._build_catalogue()
        self._build_weeklies()

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> FakeTws:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> int:
        """Listen on a free loopback port (or the same port again); return it."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        self._refusing = False
        return self.port

    async def close(self) -> None:
        """Stop listening, drop every session, cancel timers."""
        if self._reopen is not None:
            self._reopen.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopen
            self._reopen = None
        await self._stop_listening()
        await self.drop_connections()

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # ------------------------------------------------------------------ fault injection
    async def drop_connections(self) -> None:
        """Close every client socket, as a Gateway restart or nightly reset does."""
        sessions = list(self._sessions)
        for s in sessions:
            s.close()
        for s in sessions:
            await s.finished.wait()

    async def refuse_connections(self, seconds: float) -> None:
        """Drop every client and stop listening for ``seconds`` (connect → refused)."""
        self._refusing = True
        await self._stop_listening()
        await self.drop_connections()

        async def reopen() -> None:
            await asyncio.sleep(seconds)
            await self.start()

        self._reopen = asyncio.create_task(reopen(), name="fake_tws.reopen")

    async def wait_listening(self) -> None:
        """Wait until a pending :meth:`refuse_connections` has reopened the port."""
        if self._reopen is not None:
            await self._reopen
            self._reopen = None

    def stall(self, seconds: float) -> None:
        """Send no tick for ``seconds`` (a stalled feed): pushes and subscription snapshots
        are dropped; the connection, orders and history keep working."""
        self._stalled_until = time.monotonic() + seconds

    @property
    def is_stalled(self) -> bool:
        """Whether a :meth:`stall` is in progress."""
        return time.monotonic() < self._stalled_until

    def send_error(self, code: int, req_id: int = -1, text: str | None = None) -> None:
        """Send an error/status message with ``code`` to every connected client."""
        for s in list(self._sessions):
            if s.ready:
                s.error(req_id, code, text)

    def push_price(self, key: str, price: float | str, *, tick_type: int = p.TICK_LAST) -> int:
        """Send a price tick for series ``key`` to every subscription; returns how many.

        ``price`` may be a string (``"nan"``) to put exactly that on the wire.
        """
        sent = 0
        for s in list(self._sessions):
            sent += s.push_price(key, price, tick_type)
        return sent

    def push_session(self, day: date) -> int:
        """Push the close of ``day`` for every subscribed series (one tick each).

        The fake's market moves to ``day``: its closes become the last prices, option
        subscriptions are requoted from them, and resting orders that became marketable fill.
        """
        if day != self.today:
            self.expire_day_orders()
        self.today = day
        for key, bars in self.data.series.items():
            bar = self.data.bar_on(key, day)
            if bar is not None and bars:
                self.last_price[key] = bar.close
        sent = 0
        for s in list(self._sessions):
            s.requote_options()
        self._fill_marketable()
        for s in list(self._sessions):
            for inst in list(s.subscriptions.values()):
                bar = self.data.bar_on(inst.series, day)
                if bar is None:
                    continue
                sent += s.push_price(inst.series, bar.close, p.TICK_LAST)
                if inst.sec_type == "STK":
                    # move the book the way the price moved, so bid <= ask at every step
                    sides = [(bar.close - 0.01, p.TICK_BID), (bar.close + 0.01, p.TICK_ASK)]
                    if bar.close > self._book_mid.get(inst.series, 0.0):
                        sides.reverse()
                    for price, tick in sides:
                        s.push_price(inst.series, round(price, 2), tick)
                    self._book_mid[inst.series] = bar.close
        return sent

    def set_market_data_type(self, md_type: int) -> None:
        """Switch every live subscription to ``md_type`` (sends marketDataType)."""
        self.market_data_type = md_type
        for s in list(self._sessions):
            for req_id in s.subscriptions:
                s.send([p.MARKET_DATA_TYPE, 1, req_id, md_type])

    def subscriptions(self) -> list[str]:
        """Series keys currently subscribed, over all sessions."""
        return sorted(inst.series for s in self._sessions for inst in s.subscriptions.values())

    def message_count(self, msg_id: int) -> int:
        """How many client messages with ``msg_id`` arrived so far."""
        return sum(1 for m in self.received if m and m[0] == str(msg_id))

    @property
    def placed_orders(self) -> list[FakeOrder]:
        """Real (non what-if) orders received, in arrival order."""
        return list(self.orders)

    @property
    def session_count(self) -> int:
        """Connected API clients."""
        return sum(1 for s in self._sessions if s.ready)

    # ------------------------------------------------------------------ scripting
    def add_position(
        self, instrument: Instrument, quantity: float, avg_cost: float, account: str = ""
    ) -> None:
        """Seed a position (``avg_cost`` per contract incl. multiplier, like IB reports it)."""
        acct = account or self.account
        self.instruments[instrument.con_id] = instrument
        self.positions[(acct, instrument.con_id)] = Position(acct, instrument, quantity, avg_cost)

    def option(
        self, symbol: str, trading_class: str, expiry: date, strike: float, right: str
    ) -> Instrument:
        """The option contract (created on first use; deterministic conId)."""
        ymd = f"{expiry:%Y%m%d}"
        key = f"{trading_class}|{ymd}|{strike:g}|{right}"
        con_id = 500_000_000 + zlib.crc32(key.encode()) % 400_000_000
        inst = self.instruments.get(con_id)
        if inst is None:
            exchange = "CBOE"
            local = f"{trading_class:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"
            inst = Instrument(
                con_id=con_id,
                symbol=symbol,
                sec_type="OPT",
                exchange=exchange,
                local_symbol=local,
                trading_class=trading_class,
                multiplier="100",
                last_trade_date=ymd,
                strike=strike,
                right=right,
                min_tick=0.01,
                long_name=f"{symbol} {ymd} {strike:g} {right}",
                market_rule_id=listing.vix_rule_id(self.as_of)
                if symbol == "VIX"
                else listing.SPX_RULE_ID,
            )
            self.instruments[con_id] = inst
        return inst

    # ------------------------------------------------------------------ the market
    def price_of(self, series: str) -> float | None:
        """Current price of a series: last pushed, else today's open, else the last close."""
        if series in self.last_price:
            return self.last_price[series]
        bar = self.data.bar_on(series, self.today)
        if bar is not None:
            return bar.open
        return self.data.last_close_before(series, self.today)

    def today_bar_of(self, series: str) -> DailyBar | None:
        """The current session's bar so far (open → last price), once it traded."""
        if not self.today_bar:
            return None
        bar = self.data.bar_on(series, self.today)
        if bar is None:
            return None
        last = self.last_price.get(series, bar.open)
        return DailyBar(
            day=self.today,
            open=bar.open,
            high=max(bar.open, last),
            low=min(bar.open, last),
            close=last,
            volume=bar.volume,
        )

    def vix_option_expiries(self) -> list[date]:
        """Listed VIX option expiries (monthly, the next six; Cboe lists up to six)."""
        day = self.today
        months = [
            (day.year + (day.month - 1 + k) // 12, (day.month - 1 + k) % 12 + 1) for k in range(8)
        ]
        return sorted(e for e in (vix_expiry(y, m) for y, m in months) if e >= day)[:6]

    def spx_option_expiries(self) -> list[date]:
        """Listed SPX/SPXW expiries used here: the next six monthly third Fridays."""
        day = self.today
        months = [
            (day.year + (day.month - 1 + k) // 12, (day.month - 1 + k) % 12 + 1) for k in range(8)
        ]
        return sorted(e for e in (third_friday(y, m) for y, m in months) if e >= day)[:6]

    def vx_future_for(self, expiry: date) -> float | None:
        """The VX future price of ``expiry`` (the nearest listed monthly if not in the data)."""
        price = self.price_of(f"VX:{expiry:%Y%m%d}")
        if price is not None:
            return price
        listed = list(self.data.vx_expiries_listed(self.today, 8))
        if not listed:
            return self.price_of("VIX")
        nearest = min(listed, key=lambda e: abs((e - expiry).days))
        return self.price_of(f"VX:{nearest:%Y%m%d}")

    def option_market(self, inst: Instrument) -> listing.OptionQuote | None:
        """The fake market maker's quote of an option (None for SPX: quoted flat)."""
        if inst.sec_type != "OPT" or inst.symbol != "VIX":
            return None
        expiry = date(
            int(inst.last_trade_date[:4]),
            int(inst.last_trade_date[4:6]),
            int(inst.last_trade_date[6:8]),
        )
        future = self.vx_future_for(expiry)
        vix = self.price_of("VIX")
        if future is None or vix is None:
            return None
        q = listing.quote_option(
            right=inst.right,
            strike=inst.strike,
            future=future,
            vix=vix,
            years=max((expiry - self.today).days, 0) / 365.0,
            rule_id=inst.market_rule_id or listing.vix_rule_id(self.as_of),
            spread_frac=self.wide_con_ids.get(inst.con_id, self.spread_frac),
        )
        if inst.con_id in self.no_bid_con_ids:
            q = listing.OptionQuote(
                bid=None,
                ask=q.ask,
                value=q.value,
                iv=q.iv,
                delta=q.delta,
                gamma=q.gamma,
                vega=q.vega,
                theta=q.theta,
                und_price=q.und_price,
            )
        return q

    def executable_price(self, order: FakeOrder) -> float | None:
        """Price at which ``order`` executes now (the far side), or None if not marketable.

        A BUY limit at or above the ask fills at the ask, a SELL at or below the bid at the
        bid; a combo (BAG) against the legs' net (long legs at the ask, short at the bid, for
        a BUY). A side with no bid never fills a SELL.
        """
        buy = order.action == "BUY"
        if order.combo_legs:
            price = self.combo_price(order.combo_legs, buy=buy)
            if price is None:
                return None
        else:
            q = self.option_market(order.instrument)
            if q is None:
                return order.lmt_price  # not an option the fake quotes: fill at the limit
            side = q.ask if buy else q.bid
            if side is None:
                return None
            price = side
        marketable = order.lmt_price >= price - 1e-9 if buy else order.lmt_price <= price + 1e-9
        return price if marketable else None

    def combo_price(
        self, combo_legs: list[tuple[int, int, str, str]], *, buy: bool
    ) -> float | None:
        """Where a combo (BAG) trades now: the complex order book's quote, or the legs'.

        Cboe's complex order book executes a spread either against the legs' quotes
        ("legging": long legs at their ask, short legs at their bid, for a BUY) or against
        a market maker's quote for the spread itself, at any $0.01 net price (Cboe Options
        Rules, complex orders). A market maker quotes a vertical on its own risk, which is
        the legs' difference, so its quote is ``spread_frac`` of the spread's net value
        wide, not the sum of the legs' widths (a 65/70 call spread worth 2.20 trades near
        2.27, though its legs net 1.30/3.10). The better of the two is the execution
        price; a leg with no quote or an empty side makes the combo untradable (None).
        """
        legged = 0.0
        value = 0.0
        for con_id, ratio, leg_action, _ in combo_legs:
            inst = self.instruments.get(con_id)
            q = self.option_market(inst) if inst is not None else None
            if q is None:
                return None
            leg_buys = (leg_action == "BUY") == buy
            side = q.ask if leg_buys else q.bid
            if side is None:
                return None
            sign = 1 if leg_action == "BUY" else -1
            legged += sign * ratio * side
            value += sign * ratio * q.value
        half = max(listing.COMBO_TICK, abs(value) * self.spread_frac / 2.0)
        if buy:
            book = math.ceil((value + half) / listing.COMBO_TICK - 1e-9) * listing.COMBO_TICK
            return round(min(legged, book), 2)
        book = math.floor((value - half) / listing.COMBO_TICK + 1e-9) * listing.COMBO_TICK
        return round(max(legged, book), 2)

    def expire_day_orders(self) -> list[FakeOrder]:
        """End of session: unfilled DAY orders are cancelled by the exchange (IB: Cancelled)."""
        expired = []
        for order in self.orders:
            if order.status in OPEN_STATES and order.tif == "DAY":
                order.status = "Cancelled"
                expired.append(order)
                for s in list(self._sessions):
                    if s.ready and s.client_id in (order.client_id, 0):
                        s.send_order_status(order)
        return expired

    def _fill_marketable(self) -> None:
        if not self.auto_fill:
            return
        for order in self.orders:
            if order.status in OPEN_STATES:
                price = self.executable_price(order)
                if price is not None:
                    self._fill(order, price)

    def fill(self, order_ref: str, price: float | None = None) -> None:
        """Fill the open order with ``order_ref`` (when :attr:`auto_fill` is off)."""
        for order in self.orders:
            if order.order_ref == order_ref and order.status in OPEN_STATES:
                self._fill(order, order.lmt_price if price is None else price)
                return
        msg = f"no open order {order_ref!r}"
        raise KeyError(msg)

    # ------------------------------------------------------------------ catalogue
    def _build_catalogue(self) -> None:
        base = [
            Instrument(416904, "SPX", "IND", "CBOE", long_name="S&P 500 Stock Index", series="SPX"),
            Instrument(
                9579970,
                "IWM",
                "STK",
                "SMART",
                primary_exchange="ARCA",
                local_symbol="IWM",
                trading_class="IWM",
                long_name="ISHARES RUSSELL 2000 ETF",
                series="IWM",
            ),
            Instrument(
                13455763, "VIX", "IND", "CBOE", long_name="CBOE Volatility Index", series="VIX"
            ),
            Instrument(
                15124833, "RVX", "IND", "CBOE", long_name="CBOE Russell 2000 Vol", series="RVX"
            ),
            Instrument(
                316769059,
                "VIX3M",
                "IND",
                "CBOE",
                long_name="CBOE 3-Month Volatility",
                series="VIX3M",
            ),
        ]
        for inst in base:
            if not inst.local_symbol:
                inst.local_symbol = inst.symbol
            if not inst.trading_class:
                inst.trading_class = inst.symbol
            self.instruments[inst.con_id] = inst
        codes = "FGHJKMNQUVXZ"
        for expiry in self.data.vx_expiries_listed(self.as_of):
            month = vix_expiry_month(expiry)
            local = f"VX{codes[month.month - 1]}{month.year % 10}"
            inst = Instrument(
                con_id=600_000_000 + int(f"{expiry:%y%m%d}"),
                symbol="VIX",
                sec_type="FUT",
                exchange="CFE",
                local_symbol=local,
                trading_class="VX",
                multiplier="1000",
                last_trade_date=f"{expiry:%Y%m%d}",
                min_tick=0.05,
                long_name=f"CBOE Volatility Index {month:%b%y}",
                series=f"VX:{expiry:%Y%m%d}",
                market_rule_id=listing.FUT_RULE_ID,
            )
            self.instruments[inst.con_id] = inst

    def match(self, spec: dict[str, str]) -> list[Instrument]:
        """Contracts matching a contract-details request (conId wins)."""
        con_id = int(spec["conId"] or 0)
        if con_id:
            inst = self.instruments.get(con_id)
            return [inst] if inst else []
        sec_type = spec["secType"]
        symbol = spec["symbol"]
        if sec_type == "OPT" and spec["strike"] not in ("", "0", "0.0") and spec["right"]:
            ymd = spec["lastTradeDateOrContractMonth"]
            tc = spec["tradingClass"] or symbol
            classes = {"SPX": ("SPX", "SPXW"), "VIX": ("VIX", "VIXW")}.get(symbol, ())
            if tc in classes and len(ymd) == 8:
                right = spec["right"][0].upper()
                d = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
                strike = float(spec["strike"])
                if not self.is_listed_option(symbol, tc, d, strike):
                    return []
                return [self.option(symbol, tc, d, strike, right)]
            return []
        found = []
        for inst in self.instruments.values():
            if inst.series and inst.series in self.hidden_series:
                continue
            if inst.symbol != symbol or inst.sec_type != sec_type:
                continue
            exch = spec["exchange"]
            if exch and exch != "SMART" and exch not in (inst.exchange, inst.primary_exchange):
                continue
            month = spec["lastTradeDateOrContractMonth"]
            if month and not inst.last_trade_date.startswith(month):
                continue
            if spec["localSymbol"] and spec["localSymbol"] != inst.local_symbol:
                continue
            if spec["tradingClass"] and spec["tradingClass"] != inst.trading_class:
                continue
            found.append(inst)
        return sorted(found, key=lambda i: i.last_trade_date)

    def is_listed_option(
        self, symbol: str, trading_class: str, expiry: date, strike: float
    ) -> bool:
        """A listed series: a listed expiry and a strike on the Cboe interval convention.

        IB answers a request for anything else with error 200 ("No security definition").
        """
        held = any(
            i.sec_type == "OPT"
            and i.trading_class == trading_class
            and i.strike == strike
            and i.last_trade_date == f"{expiry:%Y%m%d}"
            for i in self.instruments.values()
        )
        if held:  # positions seeded by a test (e.g. the condor) are listed by definition
            return True
        if symbol == "VIX":
            return expiry in self.vix_option_expiries() and listing.is_listed(
                trading_class, strike, None
            )
        spot = self.data.last_close_before("SPX", self.as_of)
        return listing.is_listed(trading_class, strike, spot)

    def _build_weeklies(self) -> None:
        """Weekly VX futures (trading class ``VX`` + week number) beside the monthlies.

        IB lists them under the same symbol ``VIX`` on CFE, so a request for ``FUT VIX CFE``
        returns both; the weeklies' history starts when they were listed (a few days).
        """
        monthlies = {i.last_trade_date for i in self.instruments.values() if i.sec_type == "FUT"}
        monthly_dates = {date(int(x[:4]), int(x[4:6]), int(x[6:])) for x in monthlies}
        if not monthly_dates:
            return
        codes = "FGHJKMNQUVXZ"
        for expiry in listing.third_wednesday_weeklies(
            self.as_of, self.as_of + timedelta(days=42), monthly_dates
        ):
            # a weekly lives about six weeks: its bars copy the nearest later monthly's
            # from a few days before the fake's today (too short for any warm-up)
            later = [d for d in monthly_dates if d >= expiry] or [max(monthly_dates)]
            source = self.data.series.get(f"VX:{min(later):%Y%m%d}", ())
            listed_on = self.as_of - timedelta(days=3)
            key = f"VXW:{expiry:%Y%m%d}"
            self.data.series[key] = tuple(b for b in source if b.day >= listed_on)
            week = expiry.isocalendar().week
            inst = Instrument(
                con_id=650_000_000 + int(f"{expiry:%y%m%d}"),
                symbol="VIX",
                sec_type="FUT",
                exchange="CFE",
                local_symbol=f"VX{week:02d}{codes[expiry.month - 1]}{expiry.year % 10}",
                trading_class=f"VX{week:02d}",
                multiplier="1000",
                last_trade_date=f"{expiry:%Y%m%d}",
                min_tick=0.05,
                long_name=f"CBOE Volatility Index weekly {expiry:%d%b%y}",
                series=key,
                market_rule_id=listing.FUT_RULE_ID,
            )
            self.instruments[inst.con_id] = inst

    # ------------------------------------------------------------------ orders
    def _new_order(self, session: _Session, o: dict[str, object]) -> None:
        inst = o["instrument"]
        assert isinstance(inst, Instrument)
        order = FakeOrder(
            perm_id=next(self._perm_ids),
            client_id=session.client_id or 0,
            order_id=int(str(o["orderId"])),
            instrument=inst,
            combo_legs=list(o["comboLegs"]),  # type: ignore[call-overload]
            action=str(o["action"]),
            quantity=float(str(o["totalQuantity"])),
            order_type=str(o["orderType"]),
            lmt_price=float(str(o["lmtPrice"]) or 0.0),
            tif=str(o["tif"]),
            account=str(o["account"]) or self.account,
            order_ref=str(o["orderRef"]),
        )
        self.orders.append(order)
        if self.reject_orders_code is not None:
            order.status = "Cancelled"
            session.error(order.order_id, self.reject_orders_code)
            return
        session.send_open_order(order)
        session.send_order_status(order)
        if self.auto_fill:
            price = self.executable_price(order)
            if price is not None:
                self._fill(order, price)

    def _leg_prices(self, order: FakeOrder, net: float) -> list[tuple[Instrument, int, str, float]]:
        """Each combo leg's execution price: its far side, nudged so the legs net to ``net``."""
        legs: list[tuple[Instrument, int, str, float]] = []
        buy = order.action == "BUY"
        for con_id, ratio, leg_action, _ in order.combo_legs:
            inst = self.instruments[con_id]
            q = self.option_market(inst)
            leg_buys = (leg_action == "BUY") == buy
            side = None if q is None else (q.ask if leg_buys else q.bid)
            legs.append((inst, ratio, leg_action, side if side is not None else 0.0))
        got = sum((1 if a == "BUY" else -1) * r * px for _, r, a, px in legs)
        if legs and abs(got - net) > 1e-9:  # price improvement on the combo: give it to leg 1
            inst, ratio, action, px = legs[0]
            sign = 1 if action == "BUY" else -1
            legs[0] = (inst, ratio, action, round(px + (net - got) / (sign * ratio), 4))
        return legs

    def _fill(self, order: FakeOrder, price: float) -> None:
        """Execute (part of) ``order`` at ``price`` and report it as IB does.

        A single option: one ``execDetails``. A combo (BAG): one ``execDetails`` per leg (the
        leg's contract, its own price and ``ratio × qty`` shares), then one for the BAG itself
        (net price, combo quantity) — the reports a real TWS sends for a combo fill (TWS API
        docs, "Executions and Commissions": "for combo orders, an execution is reported for
        each leg and for the combo"; ib_async ``Trade.filled()`` counts only the BAG's).
        """
        left = order.quantity - order.filled
        qty = left if self.fill_max_qty is None else min(left, self.fill_max_qty)
        if qty <= 0:
            return
        # a combo's net is a difference of leg prices (1.3999999999999997 for 1.40): IB
        # reports an execution's price as the exchange printed it, a decimal on the tick
        price = round(price, 6)
        # stamped on the fake's market day (its "today"), at the wall time of day
        now = datetime.combine(self.today, datetime.now(UTC).time(), tzinfo=UTC)
        prev = order.filled
        order.filled = prev + qty
        order.avg_fill_price = round((order.avg_fill_price * prev + price * qty) / order.filled, 6)
        order.status = "Filled" if order.filled >= order.quantity else "Submitted"
        order.fill_time = now
        reports: list[Execution] = []
        if order.combo_legs:
            for inst, ratio, leg_action, px in self._leg_prices(order, price):
                side = (
                    leg_action
                    if order.action == "BUY"
                    else ("SELL" if leg_action == "BUY" else "BUY")
                )
                shares = ratio * qty
                reports.append(
                    Execution(
                        exec_id=self._next_exec_id(order),
                        instrument=inst,
                        side=side,
                        shares=shares,
                        price=px,
                        cum_qty=shares,
                        avg_price=px,
                        time=now,
                    )
                )
        reports.append(
            Execution(
                exec_id=self._next_exec_id(order),
                instrument=order.instrument,
                side=order.action,
                shares=qty,
                price=price,
                cum_qty=order.filled,
                avg_price=order.avg_fill_price,
                time=now,
            )
        )
        order.executions += reports
        order.exec_ids += [r.exec_id for r in reports]
        self._apply_fill_to_positions(order, price, qty, reports)
        for s in list(self._sessions):
            if not s.ready:
                continue
            for r in reports:
                s.send_execution(-1, order, r)
            if s.client_id in (order.client_id, 0):
                s.send_order_status(order)
                s.send_open_order(order)
            for r in reports:
                s.send_commission(r.exec_id)

    def _next_exec_id(self, order: FakeOrder) -> str:
        return f"0000e0d5.{order.perm_id:08x}.01.{next(self._exec_seq):02d}"

    def _apply_fill_to_positions(
        self, order: FakeOrder, price: float, qty: float, reports: list[Execution]
    ) -> None:
        leg_reports = reports[:-1] if order.combo_legs else reports
        for r in leg_reports:
            inst = r.instrument
            signed = r.shares if r.side == "BUY" else -r.shares
            key = (order.account, inst.con_id)
            mult = float(inst.multiplier or 1)
            pos = self.positions.get(key)
            if pos is None or pos.quantity == 0:
                pos = Position(order.account, inst, signed, r.price * mult)
                self.positions[key] = pos
            else:
                new_qty = pos.quantity + signed
                if new_qty != 0 and (pos.quantity > 0) == (signed > 0):
                    pos.avg_cost = (
                        pos.avg_cost * abs(pos.quantity) + r.price * mult * abs(signed)
                    ) / abs(new_qty)
                pos.quantity = new_qty
            for s in list(self._sessions):
                if s.positions_subscribed:
                    s.send_position(pos)

    # ------------------------------------------------------------------ sessions
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            self.refused_attempts += 1
            writer.close()
            return
        session = _Session(self, reader, writer)
        self._sessions.add(session)
        self.connects += 1
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            session.finished.set()


def vix_expiry_month(expiry: date) -> date:
    """The contract month of a VX future expiring on ``expiry`` (the month after it, usually)."""
    for offset in (0, 1):
        y, m = expiry.year, expiry.month + offset
        if m > 12:
            y, m = y + 1, m - 12
        if abs((vix_expiry(y, m) - expiry).days) <= 3:
            return date(y, m, 1)
    return date(expiry.year, expiry.month, 1)


class _Session:
    """One API client connection."""

    def __init__(
        self, tws: FakeTws, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.tws = tws
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.server_version = SERVER_VERSION
        self.ready = False
        self.requested_md_type = 1
        self.positions_subscribed = False
        self.subscriptions: dict[int, Instrument] = {}
        self.finished = asyncio.Event()
        self.next_order_id = 1
        self.handlers: dict[int, Callable[[list[str]], None]] = {
            p.REQ_MKT_DATA: self.on_req_mkt_data,
            p.CANCEL_MKT_DATA: self.on_cancel_mkt_data,
            p.PLACE_ORDER: self.on_place_order,
            p.CANCEL_ORDER: self.on_cancel_order,
            p.REQ_OPEN_ORDERS: lambda f: self.on_open_orders(all_clients=False),
            p.REQ_ALL_OPEN_ORDERS: lambda f: self.on_open_orders(all_clients=True),
            p.REQ_ACCT_DATA: self.on_account_updates,
            p.REQ_EXECUTIONS: self.on_executions,
            p.REQ_IDS: lambda f: self.send([p.NEXT_VALID_ID, 1, self.next_valid_id()]),
            p.REQ_CONTRACT_DATA: self.on_contract_details,
            p.REQ_HISTORICAL_DATA: self.on_historical_data,
            p.REQ_CURRENT_TIME: lambda f: self.send(
                [p.CURRENT_TIME, 1, int(datetime.now(UTC).timestamp())]
            ),
            p.REQ_MARKET_DATA_TYPE: self.on_market_data_type,
            p.REQ_POSITIONS: self.on_positions,
            p.CANCEL_POSITIONS: self.on_cancel_positions,
            p.REQ_ACCOUNT_SUMMARY: lambda f: self.send([p.ACCOUNT_SUMMARY_END, 1, f[2]]),
            p.REQ_ACCOUNT_UPDATES_MULTI: lambda f: self.send([p.ACCOUNT_UPDATE_MULTI_END, 1, f[2]]),
            p.REQ_SEC_DEF_OPT_PARAMS: self.on_sec_def_opt_params,
            p.REQ_COMPLETED_ORDERS: self.on_completed_orders,
            p.REQ_MARKET_RULE: self.on_market_rule,
        }

    # ---------------------------------------------------------------- transport
    def send(self, fields: list[Field]) -> None:
        if not self.writer.is_closing():
            self.writer.write(p.frame(fields))

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    def error(self, req_id: int, code: int, text: str | None = None) -> None:
        msg = text if text is not None else ERROR_TEXTS.get(code, f"error {code}")
        self.send([p.ERR_MSG, 2, req_id, code, msg, ""])

    def next_valid_id(self) -> int:
        mine = [o.order_id for o in self.tws.orders if o.client_id == self.client_id]
        return max([self.next_order_id, *(i + 1 for i in mine)])

    async def run(self) -> None:
        try:
            if not await self.handshake():
                return
            while True:
                fields = await p.read_fields(self.reader)
                if not fields:
                    continue
                self.tws.received.append(fields)
                handler = self.handlers.get(int(fields[0]))
                if handler is not None:
                    handler(fields)
                elif int(fields[0]) == p.START_API:
                    self.on_start_api(fields)
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()

    async def handshake(self) -> bool:
        prefix = await self.reader.readexactly(4)
        if prefix != b"API\0":
            return False
        low, high = p.parse_version_range((await p.read_raw(self.reader)).decode())
        if high < low or high < 157:
            return False
        self.server_version = min(SERVER_VERSION, high)
        now = datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC")
        self.send([self.server_version, now])
        return True

    # ---------------------------------------------------------------- start-up
    def on_start_api(self, f: list[str]) -> None:
        client_id = int(f[2])
        in_use = {s.client_id for s in self.tws._sessions if s.ready and s is not self}
        if client_id in self.tws.client_ids_in_use or client_id in in_use:
            self.error(-1, 326)
            self.close()
            return
        self.client_id = client_id
        self.ready = True
        self.send([p.MANAGED_ACCTS, 1, self.tws.account])
        self.send([p.NEXT_VALID_ID, 1, self.next_valid_id()])
        for code in (2104, 2106, 2158):
            self.error(-1, code)

    def on_positions(self, f: list[str]) -> None:
        self.positions_subscribed = True
        for pos in self.tws.positions.values():
            if pos.quantity != 0:
                self.send_position(pos)
        self.send([p.POSITION_END, 1])

    def send_position(self, pos: Position) -> None:
        self.send(
            [p.POSITION_DATA, 3, pos.account, *pos.instrument.eleven(), pos.quantity, pos.avg_cost]
        )

    def on_cancel_positions(self, f: list[str]) -> None:
        self.positions_subscribed = False

    def on_account_updates(self, f: list[str]) -> None:
        if f[2] == "1":
            self.send([p.ACCT_DOWNLOAD_END, 1, f[3] or self.tws.account])

    def on_open_orders(self, *, all_clients: bool) -> None:
        for order in self.tws.orders:
            if order.status not in OPEN_STATES:
                continue
            if all_clients or self.client_id in (0, order.client_id):
                self.send_open_order(order)
                self.send_order_status(order)
        self.send([p.OPEN_ORDER_END, 1])

    def on_completed_orders(self, f: list[str]) -> None:
        for order in self.tws.orders:
            if order.status in DONE_STATES:
                self.send_completed_order(order)
        self.send([p.COMPLETED_ORDERS_END])

    def on_executions(self, f: list[str]) -> None:
        req_id = int(f[2])
        want_client = int(f[3] or 0)
        for order in self.tws.orders:
            if want_client and order.client_id != want_client:
                continue
            for ex in order.executions:
                self.send_execution(req_id, order, ex)
                self.send_commission(ex.exec_id)
        self.send([p.EXECUTION_DATA_END, 1, req_id])

    # ---------------------------------------------------------------- contracts
    def on_contract_details(self, f: list[str]) -> None:
        req_id = int(f[2])
        spec = _parse_contract(f, 3)
        found = self.tws.match(spec)
        if not found:
            self.error(req_id, 200)
            return
        for inst in found:
            self.send_contract_details(req_id, inst)
        self.send([p.CONTRACT_DATA_END, 1, req_id])

    def send_contract_details(self, req_id: int, inst: Instrument) -> None:
        last_times = inst.last_trade_date
        under_con_id = {"SPX": 416904, "VIX": 13455763}.get(inst.symbol, 0)
        self.send(
            [
                p.CONTRACT_DATA,
                req_id,
                inst.symbol,
                inst.sec_type,
                last_times,
                inst.strike,
                inst.right,
                inst.exchange,
                inst.currency,
                inst.local_symbol,
                inst.trading_class,  # marketName
                inst.trading_class,
                inst.con_id,
                inst.min_tick,
                inst.multiplier,
                "ACTIVETIM,ADJUST,ALERT,ALLOC,DAY,GTC,LMT,MKT",  # orderTypes
                inst.exchange,  # validExchanges
                1,  # priceMagnifier
                under_con_id if inst.sec_type in ("OPT", "FUT") else 0,
                inst.long_name,
                inst.primary_exchange,
                inst.last_trade_date[:6],  # contractMonth
                "",
                "",
                "",  # industry, category, subcategory
                "US/Central",
                "",
                "",  # tradingHours, liquidHours
                "",
                "",  # evRule, evMultiplier
                0,  # numSecIds
                1,  # aggGroup
                inst.symbol if inst.sec_type in ("OPT", "FUT") else "",
                "IND" if inst.sec_type in ("OPT", "FUT") else "",
                str(inst.market_rule_id or ""),  # marketRuleIds, one per validExchange
                inst.last_trade_date,  # realExpirationDate
                "",  # stockType
                "1",
                "1",
                "1",  # minSize, sizeIncrement, suggestedSizeIncrement
            ]
        )

    def on_sec_def_opt_params(self, f: list[str]) -> None:
        if not self.tws.answer_option_chain:
            return  # fault: the request is never answered (a hung reqSecDefOptParams)
        if self.tws.drop_option_chain_requests > 0:
            self.tws.drop_option_chain_requests -= 1
            return  # fault: this one request is lost (the next one is answered)
        req_id = int(f[1])
        symbol = f[2]
        as_of = self.tws.as_of
        if symbol == "VIX":
            exps = self.tws.vix_option_expiries()
            strikes = list(listing.vix_strikes())
            rows = [("CBOE", "VIX", "100", exps, strikes)]
        elif symbol == "SPX":
            exps = self.tws.spx_option_expiries()
            spot = self.tws.data.last_close_before("SPX", as_of) or 4000.0
            strikes = list(listing.spx_strikes(spot))
            rows = [("CBOE", "SPX", "100", exps, strikes), ("CBOE", "SPXW", "100", exps, strikes)]
        else:
            rows = []
        for exchange, tc, mult, exps, strikes in rows:
            self.send(
                [
                    p.SECURITY_DEFINITION_OPTION_PARAMETER,
                    req_id,
                    exchange,
                    f[5],
                    tc,
                    mult,
                    len(exps),
                    *(f"{e:%Y%m%d}" for e in exps),
                    len(strikes),
                    *strikes,
                ]
            )
        self.send([p.SECURITY_DEFINITION_OPTION_PARAMETER_END, req_id])

    # ---------------------------------------------------------------- market data
    def on_market_data_type(self, f: list[str]) -> None:
        self.requested_md_type = int(f[2])

    def on_req_mkt_data(self, f: list[str]) -> None:
        req_id = int(f[2])
        spec = _parse_contract(f, 3)
        found = self.tws.match(spec)
        if len(found) != 1:
            self.error(req_id, 200)
            return
        inst = found[0]
        code = self.tws.not_subscribed.get(inst.series)
        md_type = self.tws.market_data_type
        if code is not None:
            self.error(req_id, code)
            if code != 10167:
                return
            md_type = 3
        self.subscriptions[req_id] = inst
        if md_type != 1:
            self.send([p.MARKET_DATA_TYPE, 1, req_id, md_type])
        if inst.sec_type == "OPT":
            self.send_option_quote(req_id, inst)
            return
        data = self.tws.data
        prev = data.last_close_before(inst.series, self.tws.as_of)
        today = data.bar_on(inst.series, self.tws.as_of)
        delayed = md_type in (3, 4)
        if prev is not None:
            self.send_tick(req_id, p.TICK_DELAYED_CLOSE if delayed else p.TICK_CLOSE, prev)
        last = today.open if today is not None else prev
        if last is not None:
            self.send_tick(req_id, p.TICK_DELAYED_LAST if delayed else p.TICK_LAST, last)
            if inst.sec_type == "STK":
                self.send_tick(
                    req_id, p.TICK_DELAYED_BID if delayed else p.TICK_BID, round(last - 0.01, 2)
                )
                self.send_tick(
                    req_id, p.TICK_DELAYED_ASK if delayed else p.TICK_ASK, round(last + 0.01, 2)
                )

    def send_option_quote(self, req_id: int, inst: Instrument) -> None:
        """Bid/ask (size 0 and price -1 for an empty side) and the option-computation ticks.

        Layout of ``tickOptionComputation`` (msg 21, server ≥ 156: reqId, tickType,
        tickAttrib, impliedVol, delta, optPrice, pvDividend, gamma, vega, theta, undPrice)
        as ib_async's ``Decoder.tickOptionComputation`` reads it; tick types 10/11/13 are
        the bid/ask/model computations of IB's tick-type table.
        """
        q = self.tws.option_market(inst)
        if q is None:
            return
        if q.bid is None:
            self.send([p.TICK_PRICE, 6, req_id, p.TICK_BID, -1, 0, 0])
        else:
            self.send([p.TICK_PRICE, 6, req_id, p.TICK_BID, q.bid, 10, 0])
        self.send([p.TICK_PRICE, 6, req_id, p.TICK_ASK, q.ask, 10, 0])
        comp = [q.iv, q.delta, round(q.value, 4), 0, q.gamma, q.vega, q.theta, q.und_price]
        for tick in (p.TICK_BID_OPTION, p.TICK_ASK_OPTION, p.TICK_MODEL_OPTION):
            self.send([p.TICK_OPTION_COMPUTATION, req_id, tick, 0, *comp])

    def requote_options(self) -> None:
        """Send every option subscription its new quote (the market moved)."""
        for req_id, inst in list(self.subscriptions.items()):
            if inst.sec_type == "OPT":
                self.send_option_quote(req_id, inst)

    def on_market_rule(self, f: list[str]) -> None:
        """``reqMarketRule(id)`` → ``marketRule`` (msg 93: id, n, (lowEdge, increment)×n)."""
        rule_id = int(f[1])
        rows = listing.MARKET_RULES.get(rule_id, ())
        fields: list[Field] = [p.MARKET_RULE, rule_id, len(rows)]
        for low_edge, increment in rows:
            fields += [low_edge, increment]
        self.send(fields)

    def on_cancel_mkt_data(self, f: list[str]) -> None:
        self.subscriptions.pop(int(f[2]), None)

    def send_tick(self, req_id: int, tick_type: int, price: float | str, size: int = 1) -> None:
        if self.tws.is_stalled:
            return
        self.send([p.TICK_PRICE, 6, req_id, tick_type, price, size, 0])

    def push_price(self, key: str, price: float | str, tick_type: int) -> int:
        sent = 0
        delayed = self.tws.market_data_type in (3, 4)
        for req_id, inst in self.subscriptions.items():
            if inst.series != key:
                continue
            tt = tick_type
            if delayed and tick_type in (p.TICK_BID, p.TICK_ASK, p.TICK_LAST):
                tt = {p.TICK_BID: 66, p.TICK_ASK: 67, p.TICK_LAST: 68}[tick_type]
            self.send_tick(req_id, tt, price)
            sent += 1
        return sent

    def on_historical_data(self, f: list[str]) -> None:
        req_id = int(f[1])
        spec = _parse_contract(f, 2)
        end_text, bar_size, duration = f[15], f[16], f[17]
        found = self.tws.match(spec)
        if len(found) != 1 or bar_size != "1 day":
            self.error(req_id, 162, "Historical Market Data Service error message:no data")
            return
        inst = found[0]
        end = self.tws.today
        if end_text:
            y, m, d = int(end_text[:4]), int(end_text[4:6]), int(end_text[6:8])
            end = min(end, date(y, m, d) + timedelta(days=1))
        start = end - timedelta(days=_duration_days(duration))
        bars = [b for b in self.tws.data.series.get(inst.series, ()) if start <= b.day < end]
        today = self.tws.today_bar_of(inst.series)
        if today is not None and not end_text:
            # real IB: the current session's bar is part of daily history once it traded
            # (its close is the last price so far) — TWS API docs, "Historical Bar Data":
            # the last bar returned is the current, incomplete one.
            bars = [b for b in bars if b.day < today.day] + [today]
        if not bars:
            self.error(
                req_id,
                162,
                "Historical Market Data Service error message:HMDS query returned no data",
            )
            return
        fields: list[Field] = [
            p.HISTORICAL_DATA,
            req_id,
            f"{start:%Y%m%d}",
            f"{end:%Y%m%d}",
            len(bars),
        ]
        for b in bars:
            fields += [f"{b.day:%Y%m%d}", b.open, b.high, b.low, b.close, b.volume, b.close, 1]
        self.send(fields)

    # ---------------------------------------------------------------- orders
    def on_place_order(self, f: list[str]) -> None:
        o = parse_place_order(f, self.server_version)
        spec = o["contract"]
        assert isinstance(spec, dict)
        if spec["secType"] == "BAG":
            legs = o["comboLegs"]
            assert isinstance(legs, list)
            first = self.tws.instruments.get(legs[0][0]) if legs else None
            inst = Instrument(
                con_id=28812380,
                symbol=spec["symbol"],
                sec_type="BAG",
                exchange=spec["exchange"] or "SMART",
                local_symbol="",
                trading_class=first.trading_class if first else "",
                multiplier=first.multiplier if first else "",
            )
        else:
            found = self.tws.match(spec)
            if len(found) != 1:
                self.error(int(str(o["orderId"])), 200)
                return
            inst = found[0]
        o["instrument"] = inst
        order_id = int(str(o["orderId"]))
        self.next_order_id = max(self.next_order_id, order_id + 1)
        if not self.is_on_tick(inst, float(str(o["lmtPrice"]) or 0.0)):
            # IB error 110: "The price does not conform to the minimum price variation for
            # this contract." (TWS API message codes)
            self.error(order_id, 110)
            return
        if o["whatIf"]:
            self.send_what_if(order_id, inst, o)
            return
        dup = any(x.client_id == self.client_id and x.order_id == order_id for x in self.tws.orders)
        if dup:
            self.error(order_id, 103, "Duplicate order id")
            return
        self.tws._new_order(self, o)

    def is_on_tick(self, inst: Instrument, limit: float) -> bool:
        """Whether a limit conforms to the contract's price increment (else IB error 110).

        A single contract: its market rule at that price. A combo (BAG) of VIX options:
        the $0.01 net increment of Cboe complex orders.
        """
        if inst.sec_type == "BAG":
            return listing.is_on_tick(limit, listing.COMBO_TICK)
        if inst.market_rule_id in listing.MARKET_RULES:
            return listing.is_on_tick(abs(limit), listing.tick_of(inst.market_rule_id, abs(limit)))
        return True

    def on_cancel_order(self, f: list[str]) -> None:
        order_id = int(f[2])
        for order in self.tws.orders:
            if order.client_id == self.client_id and order.order_id == order_id:
                if order.status in OPEN_STATES:
                    order.status = "Cancelled"
                    self.send_order_status(order)
                    self.error(order_id, 202)
                return

    def _order_head(
        self, order_id: int, inst: Instrument, o: FakeOrder | dict[str, object]
    ) -> list[Field]:
        if isinstance(o, FakeOrder):
            action, qty, otype, lmt, tif = o.action, o.quantity, o.order_type, o.lmt_price, o.tif
            account, ref, client_id, perm_id = o.account, o.order_ref, o.client_id, o.perm_id
        else:
            action, qty, otype = (
                str(o["action"]),
                float(str(o["totalQuantity"])),
                str(o["orderType"]),
            )
            lmt, tif = float(str(o["lmtPrice"]) or 0.0), str(o["tif"])
            account, ref = str(o["account"]) or self.tws.account, str(o["orderRef"])
            client_id, perm_id = self.client_id or 0, 0
        return [
            p.OPEN_ORDER,
            order_id,
            *inst.eleven(),
            action,
            qty,
            otype,
            lmt,
            "",  # auxPrice
            tif,
            "",  # ocaGroup
            account,
            "O",
            0,  # openClose, origin
            ref,
            client_id,
            perm_id,
            0,
            0,  # outsideRth, hidden
            0,
            "",  # discretionaryAmt, goodAfterTime
            "",  # sharesAllocation (deprecated)
            "",
            "",
            "",  # faGroup, faMethod, faPercentage
        ]

    def _order_body(self, status: str, what_if: bool, margin: tuple[str, ...]) -> list[Field]:
        body: list[Field] = [
            "",  # modelCode
            "",  # goodTillDate
            "",  # rule80A
            "",  # percentOffset
            "",  # settlingFirm
            0,  # shortSaleSlot
            "",  # designatedLocation
            -1,  # exemptCode
            0,  # auctionStrategy
            "",
            "",
            "",
            "",
            "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
            0,  # displaySize
            0,  # blockOrder
            0,  # sweepToFill
            0,  # allOrNone
            "",  # minQty
            3,  # ocaType
            0,
            0,  # eTradeOnly, firmQuoteOnly
            "",  # nbboPriceCap
            0,  # parentId
            0,  # triggerMethod
            "",
            "",  # volatility, volatilityType
            "",  # deltaNeutralOrderType
            "",  # deltaNeutralAuxPrice
            0,  # continuousUpdate
            "",  # referencePriceType
            "",
            "",  # trailStopPrice, trailingPercent
            "",
            "",  # basisPoints, basisPointsType
            "",  # comboLegsDescrip
            0,  # numLegs
            0,  # numOrderLegs
            0,  # numSmartComboRoutingParams
            "",
            "",
            "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
            "",  # hedgeType
            0,
            "",
            "",
            0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
            0,  # deltaNeutralContract present
            "",  # algoStrategy
            0,  # solicited
            what_if,
            status,
            *margin,  # 9 margin fields
            "",
            "",
            "",
            "USD",
            "",  # commission, min, max, currency, warningText
            0,
            0,  # randomizeSize, randomizePrice
            0,  # numConditions
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            0,  # adjusted... adjustableTrailingUnit
            "",
            "",
            "",  # softDollarTier name, val, displayName
            "",  # cashQty
            0,
            0,
            0,
            0,  # dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpToLimit, priceMgmtAlgo
        ]
        if self.server_version >= 159:
            body.append("")  # duration
        if self.server_version >= 160:
            body.append("")  # postToAts
        if self.server_version >= 162:
            body.append(0)  # autoCancelParent
        if self.server_version >= 170:
            body += ["", "", "", "", ""]
        return body

    def send_what_if(self, order_id: int, inst: Instrument, o: dict[str, object]) -> None:
        qty = float(str(o["totalQuantity"]))
        lmt = float(str(o["lmtPrice"]) or 0.0)
        change = f"{qty * lmt * float(inst.multiplier or 1):.2f}"
        margin = ("100000.00", "90000.00", "500000.00", change, change, f"-{change}", "", "", "")
        head = self._order_head(order_id, inst, o)
        if self.server_version < 177:
            head.append("")
        self.send(head + self._order_body("PreSubmitted", True, margin))

    def send_open_order(self, order: FakeOrder) -> None:
        head = self._order_head(order.order_id, order.instrument, order)
        if self.server_version < 177:
            head.append("")
        self.send(head + self._order_body(order.status, False, ("",) * 9))

    def send_order_status(self, order: FakeOrder) -> None:
        self.send(
            [
                p.ORDER_STATUS,
                order.order_id,
                order.status,
                order.filled,
                order.quantity - order.filled,
                order.avg_fill_price,
                order.perm_id,
                0,
                order.avg_fill_price,
                order.client_id,
                "",
                0.0,
            ]
        )

    def send_execution(self, req_id: int, order: FakeOrder, ex: Execution) -> None:
        fields: list[Field] = [
            p.EXECUTION_DATA,
            req_id,
            order.order_id,
            *ex.instrument.eleven(),
            ex.exec_id,
            ex.time.strftime("%Y%m%d %H:%M:%S UTC"),
            order.account,
            ex.instrument.exchange,
            "BOT" if ex.side == "BUY" else "SLD",
            ex.shares,
            ex.price,
            order.perm_id,
            order.client_id,
            0,
            ex.cum_qty,
            ex.avg_price,
            order.order_ref,
            "",
            "",
            "",
            1,  # evRule, evMultiplier, modelCode, lastLiquidity
        ]
        if self.server_version >= 178:
            fields.append(0)
        self.send(fields)

    def send_commission(self, exec_id: str) -> None:
        self.send([p.COMMISSION_REPORT, 1, exec_id, 1.05, "USD", "", "", ""])

    def send_completed_order(self, o: FakeOrder) -> None:
        fields: list[Field] = [
            p.COMPLETED_ORDER,
            *o.instrument.eleven(),
            o.action,
            o.quantity,
            o.order_type,
            o.lmt_price,
            "",
            o.tif,
            "",
            o.account,
            "O",
            0,
            o.order_ref,
            o.perm_id,
            0,
            0,
            0,
            "",
            "",
            "",
            "",  # outsideRth, hidden, discretionaryAmt, goodAfterTime, fa x3
        ]
        if self.server_version < 177:
            fields.append("")
        fields += ["", "", "", "", "", 0, "", -1]  # modelCode … exemptCode
        fields += ["", "", "", "", "", 0, 0, 0, "", 3, 0, "", "", "", ""]  # … deltaNeutralAuxPrice
        fields += [0, "", "", "", ""]  # continuousUpdate … comboLegsDescrip
        fields += [0, 0, 0, "", "", "", ""]  # legs, orderLegs, params, scale x3, hedgeType
        fields += ["", "", 0, 0, ""]  # clearingAccount, clearingIntent, notHeld, dnc, algo
        fields += [0, o.status, 0, 0, 0]  # solicited, status, randomize x2, numConditions
        when = (o.fill_time or datetime.now(UTC)).strftime("%Y%m%d %H:%M:%S")
        fields += ["", "", "", 0, 0, "", o.filled, 0, 0, "", 0, 0, 0, when, o.status]
        if self.server_version >= 170:
            fields += ["", "", "", "", ""]
        self.send(fields)


def parse_place_order(f: list[str], server_version: int) -> dict[str, object]:
    """Walk a placeOrder message the way ib_async's ``Client.placeOrder`` lays it out."""
    o: dict[str, object] = {"orderId": f[1], "contract": _parse_contract(f, 2)}
    names = [
        "secIdType",
        "secId",
        "action",
        "totalQuantity",
        "orderType",
        "lmtPrice",
        "auxPrice",
        "tif",
        "ocaGroup",
        "account",
        "openClose",
        "origin",
        "orderRef",
        "transmit",
        "parentId",
        "blockOrder",
        "sweepToFill",
        "displaySize",
        "triggerMethod",
        "outsideRth",
        "hidden",
    ]
    i = 14
    for name in names:
        o[name] = f[i]
        i += 1
    legs: list[tuple[int, int, str, str]] = []
    spec = o["contract"]
    assert isinstance(spec, dict)
    if spec["secType"] == "BAG":
        n = int(f[i])
        i += 1
        for _ in range(n):
            legs.append((int(f[i]), int(f[i + 1]), f[i + 2], f[i + 3]))
            i += 8
        n = int(f[i])
        i += 1 + n
        n = int(f[i])
        i += 1 + 2 * n
    o["comboLegs"] = legs
    i += 7  # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
    if server_version < 177:
        i += 1
    i += 22  # modelCode … volatilityType
    dn_type = f[i]
    i += 2
    if dn_type:
        i += 8
    i += 6  # continuousUpdate … scaleSubsLevelSize
    increment = float(f[i] or p.UNSET_DOUBLE)
    i += 1
    if 0 < increment < p.UNSET_DOUBLE:
        i += 7
    i += 3  # scaleTable, activeStartTime, activeStopTime
    hedge_type = f[i]
    i += 1
    if hedge_type:
        i += 1
    i += 4  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if f[i] == "1":
        i += 3
    i += 1
    algo = f[i]
    i += 1
    if algo:
        n = int(f[i])
        i += 1 + 2 * n
    i += 1  # algoId
    o["whatIf"] = f[i] == "1"
    return o
