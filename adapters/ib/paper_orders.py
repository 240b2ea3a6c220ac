"""Paper orders through IB: account guard, what-if margin preview, placeOrder by orderRef.

``IbOrderSink`` implements ``OrderSink`` and ``FillSource``:

* **Guard.** Orders leave only to a paper account (id starts with ``DU``), unless the
  config says ``paper = false``, ``live_trading_enabled = true`` *and* the account is in
  the allow-list. A blocked order raises one clear ``order`` alert per account, nothing else.
* **Idempotence.** Every order carries its deterministic ``orderRef``. On every (re)connect
  the sink reconciles open, completed and executed orders by orderRef (all API clients,
  so a clientId bump does not hide them) *before* the link is reported ready; an orderRef
  already at the broker is never sent again, across reconnects and restarts.
* **What-if first.** A what-if (margin preview) precedes every placement; a refused
  what-if is a ``BrokerRejected``.
* **Fills.** Live executions of alvhd orders become core ``Fill`` values on :meth:`fills`.
  Executions found on a *re*connect that this process has not seen (filled while the link
  was down) are emitted too; on the first connect of a process they are not: after a
  restart the shell reads the positions (``adapters.ib.positions``) instead.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

import structlog
from ib_async import ComboLeg, Contract, LimitOrder, Trade
from ib_async import OrderState as IbOrderState

from adapters.ib.config import IbConfig
from adapters.ib.connection import IbConnection
from adapters.ib.contracts import qualify_option_details
from adapters.ib.executions import ExecutionRecord, record_from_ib
from adapters.ib.positions import ORDER_REF_PREFIX
from adapters.ib.quotes import LegMarket, clean, market_limit, net_market, round_to_increment
from daemon.core.listing import COMBO_INCREMENTS
from daemon.core.model import (
    Action,
    AlertKind,
    Fill,
    OrderIntent,
    OrderState,
    OrderStatusReport,
    ProposedOrder,
    Severity,
)
from daemon.errors import BrokerRejected, BrokerUnavailable

log = structlog.get_logger(__name__)

DONE_STATES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
CANCELLED_CODE = 202
"""IB error 202 "Order Canceled": the confirmation of a cancel, not a rejection."""
UNSET_DOUBLE = 1.7976931348623157e308


def _float_or_none(text: object) -> float | None:
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if math.isfinite(value) and value < UNSET_DOUBLE else None


def orders_allowed(account: str, config: IbConfig) -> tuple[bool, str]:
    """Whether orders may be sent to ``account`` (SPEC §6), and why (one line).

    Paper accounts (``DU…``) always; any other account only with ``paper = false``,
    ``live_trading_enabled = true`` and the account in ``live_account_allowlist``.
    """
    if account.startswith("DU"):
        return True, f"paper account {account}"
    if not account:
        return False, "no IB account selected"
    if config.paper:
        return False, f"account {account} is not a paper (DU…) account and mode is paper"
    if not config.live_trading_enabled:
        return False, f"live account {account}: live_trading_enabled is false"
    if account not in config.live_account_allowlist:
        return False, f"live account {account} is not in live_account_allowlist"
    return True, f"live account {account} (allow-listed)"


def is_credit_roll(order: ProposedOrder) -> bool:
    """A multi-leg ROLL sold for a credit (its ComboLeg actions are flipped for IB)."""
    return order.intent is OrderIntent.ROLL and order.action is Action.SELL and len(order.legs) > 1


class IbOrderSink:
    """Places proposed orders on the IB (paper) account and streams their fills.

    Args:
        conn: the connection (its on-connect hook reconciles orders).
        config: guard and timeout settings (the connection's by default).
    """

    def __init__(self, conn: IbConnection, *, config: IbConfig | None = None) -> None:
        self.conn = conn
        self.config = config or conn.config
        self.known_refs: dict[str, str] = {}
        """orderRef → last known status of every alvhd order at the broker."""
        self.placed: list[str] = []
        """orderRefs placed by this process, in order."""
        self.what_ifs: dict[str, IbOrderState] = {}
        self.limits: dict[str, float] = {}
        """orderRef → the limit actually sent (the proposal's, after the market check)."""
        self._fills: deque[Fill] = deque(maxlen=10_000)
        self._fill_event = asyncio.Event()
        self._seen_exec_ids: set[str] = set()
        self._primed = False
        self._lock = asyncio.Lock()
        self.executions: dict[str, ExecutionRecord] = {}
        """execId → every execution of an alvhd order seen (legs and combos)."""
        self._new_execs: deque[ExecutionRecord] = deque(maxlen=10_000)
        self._exec_event = asyncio.Event()
        self._reports: deque[OrderStatusReport] = deque(maxlen=10_000)
        self._report_event = asyncio.Event()
        self._last_report: dict[str, tuple[OrderState, float]] = {}
        self._cancel_requested: set[str] = set()
        conn.add_on_connected(self.reconcile)
        conn.ib.execDetailsEvent += self._on_exec_details
        conn.ib.orderStatusEvent += self._on_order_status

    # ------------------------------------------------------------------ OrderSink
    async def submit(self, order: ProposedOrder) -> None:
        """What-if, then place ``order`` as a DAY limit order with its orderRef (idempotent).

        Raises:
            BrokerUnavailable: not connected (transient; the pipeline retries).
            BrokerRejected: the what-if or the order was refused, or a leg did not qualify.
        """
        ref = order.order_ref
        await self.conn.wait_ready(self.config.request_timeout_s)
        if ref in self.known_refs:
            log.info("ib_order_already_known", order_ref=ref, status=self.known_refs[ref])
            return
        if self.config.read_only:
            log.info("ib_order_not_sent_read_only", order_ref=ref)
            return
        allowed, why = orders_allowed(self.conn.account, self.config)
        if not allowed:
            log.error("ib_order_blocked", order_ref=ref, reason=why)
            self.conn.alerts.emit(
                key=f"order_blocked:{self.conn.account}",
                ts=self.conn.clock.now(),
                kind=AlertKind.ORDER,
                severity=Severity.CRITICAL,
                message=f"no order sent to IB: {why}; proposals are published only",
            )
            return
        contract, details = await self._contract_for(order)
        limit = await self._market_limit(order, details)
        ib_order = LimitOrder(
            str(order.action),
            order.contracts,
            limit,
            orderRef=ref,
            tif=order.tif,
            account=self.conn.account,
            transmit=True,
        )
        state = await self._what_if(contract, ib_order, ref)
        self.what_ifs[ref] = state
        async with self._lock:
            if ref in self.known_refs:
                log.info("ib_order_already_known", order_ref=ref, status=self.known_refs[ref])
                return
            if not self.conn.is_ready:
                raise BrokerUnavailable(f"IB link dropped before placing {ref}")
            trade = self.conn.ib.placeOrder(contract, ib_order)
            self.known_refs[ref] = trade.orderStatus.status
            self.placed.append(ref)
        log.info(
            "ib_order_placed",
            order_ref=ref,
            order_id=trade.order.orderId,
            action=str(order.action),
            contracts=order.contracts,
            limit_price=order.limit_price,
            init_margin_change=state.initMarginChange,
        )
        await self._await_ack(trade, ref)

    # ------------------------------------------------------------------ FillSource
    async def fills(self) -> AsyncIterator[Fill]:
        """Yield fills of alvhd orders as they arrive; never ends (cancel to stop)."""
        while True:
            await self._fill_event.wait()
            self._fill_event.clear()
            while self._fills:
                yield self._fills.popleft()

    async def status_reports(self) -> AsyncIterator[OrderStatusReport]:
        """Yield every placed order's state change (for ``orders/status`` and the journal)."""
        while True:
            await self._report_event.wait()
            self._report_event.clear()
            while self._reports:
                yield self._reports.popleft()

    def drain_reports(self) -> list[OrderStatusReport]:
        """Take the queued state changes (oldest first)."""
        out = list(self._reports)
        self._reports.clear()
        self._report_event.clear()
        return out

    async def new_executions(self) -> AsyncIterator[ExecutionRecord]:
        """Yield every execution first seen by this process (for the journal), once."""
        while True:
            await self._exec_event.wait()
            self._exec_event.clear()
            while self._new_execs:
                yield self._new_execs.popleft()

    def drain_executions(self) -> list[ExecutionRecord]:
        """Take the executions first seen since the last call (for the journal)."""
        out = list(self._new_execs)
        self._new_execs.clear()
        return out

    def seed_executions(self, records: Iterable[ExecutionRecord]) -> None:
        """Executions already journaled (a restart): known, never counted as new fills."""
        for r in records:
            self.executions[r.exec_id] = r
            self._seen_exec_ids.add(r.exec_id)

    def drain_fills(self) -> list[Fill]:
        """Take the queued fills (oldest first)."""
        out = list(self._fills)
        self._fills.clear()
        self._fill_event.clear()
        return out

    def order_refs_by_con_id(self) -> dict[int, str]:
        """ConId → orderRef of the alvhd order that traded it (from executions and orders).

        Combo (BAG) orders map each leg's conId. Later executions win.
        """
        refs: dict[int, str] = {}
        for trade in self.conn.ib.trades():
            ref = trade.order.orderRef or ""
            if not ref.startswith(ORDER_REF_PREFIX):
                continue
            refs[trade.contract.conId] = ref
            for leg in trade.contract.comboLegs or []:
                refs[leg.conId] = ref
        for fill in sorted(self.conn.ib.fills(), key=lambda f: f.time):
            ref = fill.execution.orderRef or ""
            if ref.startswith(ORDER_REF_PREFIX):
                refs[fill.contract.conId] = ref
        return refs

    # ------------------------------------------------------------------ reconcile
    async def reconcile(self) -> None:
        """Learn every alvhd order at the broker (open, completed, executed) by orderRef.

        Runs on every (re)connect before the link is ready. Missed executions of a
        reconnect are emitted as fills.

        Raises:
            BrokerUnavailable: a request timed out or the socket dropped.
        """
        ib = self.conn.ib
        timeout_s = self.config.request_timeout_s
        trades: list[Trade] = list(ib.trades())
        try:
            async with asyncio.timeout(timeout_s):
                if not self.config.read_only:
                    trades += await ib.reqAllOpenOrdersAsync()
                    trades += await ib.reqCompletedOrdersAsync(False)
                executions = await ib.reqExecutionsAsync()
        except TimeoutError as exc:
            raise BrokerUnavailable("IB order reconciliation timed out") from exc
        for trade in trades:
            ref = trade.order.orderRef or ""
            if ref.startswith(ORDER_REF_PREFIX):
                self.known_refs[ref] = trade.orderStatus.status or self.known_refs.get(ref, "")
        missed = 0
        combo_perm_ids = {f.execution.permId for f in executions if f.contract.secType == "BAG"}
        for fill in executions:
            ex = fill.execution
            ref = ex.orderRef or ""
            if ref.startswith(ORDER_REF_PREFIX):
                self.known_refs.setdefault(ref, "Filled")
                is_leg = fill.contract.secType != "BAG" and ex.permId in combo_perm_ids
                new = ex.execId not in self._seen_exec_ids
                record = self._record(fill.contract, ex, is_combo_leg=is_leg)
                if self._primed and new and record is not None and record.is_order_fill:
                    missed += self._queue_fill(record)
            self._seen_exec_ids.add(ex.execId)
        self._primed = True
        log.info("ib_orders_reconciled", known=len(self.known_refs), missed_fills=missed)

    # ------------------------------------------------------------------ internals
    async def _contract_for(self, order: ProposedOrder) -> tuple[Contract, list[Any]]:
        """The order's contract (an option or a BAG of qualified legs) and the legs' details.

        Every leg must qualify (a listed contract) before anything is sent.

        Raises:
            BrokerRejected: a leg did not qualify (IB error 200).
        """
        ib = self.conn.ib
        timeout_s = self.config.request_timeout_s
        details = [await qualify_option_details(ib, leg, timeout_s=timeout_s) for leg in order.legs]
        legs: list[Contract] = [d.contract for d in details if d.contract is not None]
        if len(order.legs) == 1:
            return legs[0], details
        # IB: SELL of a BAG reverses every ComboLeg's action. A ROLL's legs are the signed
        # change (old −, new +) and its action says debit (BUY) or credit (SELL), so a
        # credit roll's ComboLegs are flipped: SELL BAG(BUY old, SELL new) sells the old
        # and buys the new option, as proposed. Other combos (an L3 spread bought or
        # sold) are the held combination: IB's semantics already.
        flip = is_credit_roll(order)
        return Contract(
            symbol=legs[0].symbol,
            secType="BAG",
            currency="USD",
            exchange="SMART",
            comboLegs=[
                ComboLeg(
                    conId=c.conId,
                    ratio=abs(leg.position_qty),
                    action="BUY" if (leg.position_qty > 0) != flip else "SELL",
                    exchange=c.exchange or "CBOE",
                )
                for c, leg in zip(legs, order.legs, strict=True)
            ],
        ), details

    async def _leg_market(self, contract: Contract) -> LegMarket:
        """Bid/ask/IV of one option from a streaming ``reqMktData`` (then cancelled).

        Waits up to ``quote_timeout_s`` for both sides; a side that stays empty is None.
        """
        ib = self.conn.ib
        # ib_async keeps one Ticker per contract: an option already streamed (the option
        # market's) is read, never cancelled here
        streamed = ib.ticker(contract)
        ticker = streamed if streamed is not None else ib.reqMktData(contract, "", False, False)
        updated = asyncio.Event()

        def on_update(_ticker: Any) -> None:
            updated.set()

        ticker.updateEvent += on_update
        try:
            async with asyncio.timeout(self.config.quote_timeout_s):
                while clean(ticker.ask) is None or clean(ticker.bid) is None:
                    await updated.wait()
                    updated.clear()
        except TimeoutError:
            pass
        finally:
            ticker.updateEvent -= on_update
            if streamed is None:
                ib.cancelMktData(contract)
        greeks = ticker.modelGreeks
        return LegMarket(
            bid=clean(ticker.bid),
            ask=clean(ticker.ask),
            iv=clean(greeks.impliedVol) if greeks is not None else None,
            delta=float(greeks.delta) if greeks is not None and greeks.delta is not None else None,
        )

    async def _increments(self, details: Any) -> list[tuple[float, float]]:
        """The price increments of a contract (its first market rule; minTick without one)."""
        rule_ids = [x for x in str(details.marketRuleIds or "").split(",") if x.strip()]
        if rule_ids:
            async with asyncio.timeout(self.config.request_timeout_s):
                rows = await self.conn.ib.reqMarketRuleAsync(int(rule_ids[0]))
            if rows:
                return [(float(r.lowEdge), float(r.increment)) for r in rows]
        return [(0.0, float(details.minTick or 0.01))]

    async def _market_limit(self, order: ProposedOrder, details: list[Any]) -> float:
        """Check the legs' market just before placing; the limit sent is the proposal's.

        The proposal's limit is what was published, journaled and held under the cost cap
        (priced from the market at the close, ``price_source="market"``, or by the model
        when no quote was there). It must sit on the contract's real price increment
        (market rule); the live market is quoted again here and an empty or wide one is
        refused, not traded blindly.

        Raises:
            BrokerRejected: an empty or wide market, or a limit off the contract's tick (an
                ``order`` alert says so too).
        """
        ref = order.order_ref
        markets = [await self._leg_market(d.contract) for d in details]
        net = net_market(
            [(leg.position_qty, m) for leg, m in zip(order.legs, markets, strict=True)]
        )
        if is_credit_roll(order):
            # the legs' signed net is the credit with its sign reversed: price the SELL
            net = LegMarket(
                bid=None if net.ask is None else -net.ask,
                ask=None if net.bid is None else -net.bid,
            )
        leg_increments = [await self._increments(d) for d in details]
        # a combo's net price ticks in $0.01 whatever its legs' rules (Cboe complex orders)
        increments = list(COMBO_INCREMENTS) if len(order.legs) > 1 else leg_increments[0]
        limit = market_limit(
            net,
            is_buy=order.action is Action.BUY,
            offset_frac=self.config.limit_offset_frac,
            max_spread_frac=self.config.max_spread_frac,
            increments=increments,
            legs=markets,
            leg_increments=leg_increments,
        )
        sent = order.limit_price
        if not isinstance(limit, str) and round_to_increment(
            sent, increments, is_buy=order.action is Action.BUY
        ) != round(sent, 6):
            limit = f"limit {sent:g} is off the contract's price increment {increments}"
        if isinstance(limit, str):
            self.conn.alerts.emit(
                key=f"market_untradable:{ref}",
                ts=self.conn.clock.now(),
                kind=AlertKind.ORDER,
                severity=Severity.WARNING,
                message=f"{ref} not sent: {limit} (model limit {order.limit_price:g}); "
                "not traded blindly",
            )
            raise BrokerRejected(f"{ref}: {limit}; not traded blindly")
        self.limits[ref] = sent
        log.info(
            "ib_market_checked",
            order_ref=ref,
            price_source=order.price_source,
            bid=net.bid,
            ask=net.ask,
            limit=sent,
            market_limit_now=limit,
            iv=[m.iv for m in markets],
        )
        return sent

    async def _what_if(self, contract: Contract, ib_order: LimitOrder, ref: str) -> IbOrderState:
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                state: Any = await self.conn.ib.whatIfOrderAsync(contract, ib_order)
        except TimeoutError as exc:
            raise BrokerUnavailable(f"IB what-if of {ref} timed out") from exc
        except ConnectionError as exc:
            raise BrokerUnavailable(f"IB dropped during the what-if of {ref}") from exc
        if not isinstance(state, IbOrderState):
            codes = [c for _, c, _ in self.conn.errors_seen[-5:]]
            raise BrokerRejected(f"IB refused the what-if of {ref} (recent codes {codes})")
        log.info(
            "ib_what_if",
            order_ref=ref,
            init_margin_change=state.initMarginChange,
            maint_margin_change=state.maintMarginChange,
            warning=state.warningText,
        )
        return state

    async def _await_ack(self, trade: Trade, ref: str) -> None:
        """Wait for IB to acknowledge the order; a cancel with an error is a rejection."""
        changed = asyncio.Event()

        def on_status(_trade: Any) -> None:
            changed.set()

        trade.statusEvent += on_status
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                while trade.orderStatus.status in ("PendingSubmit", ""):
                    await changed.wait()
                    changed.clear()
        except TimeoutError:
            log.warning("ib_order_ack_slow", order_ref=ref)
            return
        finally:
            trade.statusEvent -= on_status
        status = trade.orderStatus.status
        self.known_refs[ref] = status
        if status in ("Cancelled", "ApiCancelled", "Inactive") and not trade.fills:
            entry = trade.log[-1] if trade.log else None
            code = entry.errorCode if entry is not None else None
            raise BrokerRejected(
                f"IB rejected {ref}: {entry.message if entry else status}", code=code or None
            )

    def _record(self, contract: Any, ex: Any, *, is_combo_leg: bool) -> ExecutionRecord | None:
        """Keep an execution once by execId (new ones also go to the journal queue)."""
        known = self.executions.get(ex.execId)
        if known is not None:
            return known
        record = record_from_ib(contract, ex, is_combo_leg=is_combo_leg)
        if record is None:
            log.warning(
                "ib_fill_rejected", exec_id=ex.execId, shares=str(ex.shares), price=str(ex.price)
            )
            return None
        self.executions[record.exec_id] = record
        self._new_execs.append(record)
        self._exec_event.set()
        return record

    def _queue_fill(self, record: ExecutionRecord) -> int:
        """Queue the order's fill (a BAG's net or a single option's execution) for the engine."""
        self._fills.append(
            Fill(
                order_ref=record.order_ref,
                contracts=round(record.shares),
                price=record.price,
                ts=record.ts,
            )
        )
        self._fill_event.set()
        return 1

    def _on_exec_details(self, trade: Any, fill: Any) -> None:
        """Eventkit callback (sync): record a live execution of an alvhd order once.

        A combo's leg executions are recorded (positions per contract) but not booked as
        the order's fill: only the BAG's execution is (ib_async ``Trade.filled()`` does the
        same), so a spread's premium is its net, counted once.
        """
        ex = fill.execution
        if ex.execId in self._seen_exec_ids:
            return
        self._seen_exec_ids.add(ex.execId)
        ref = ex.orderRef or ""
        if not ref.startswith(ORDER_REF_PREFIX):
            return
        self.known_refs[ref] = str(trade.orderStatus.status or "Filled")
        is_leg = trade.contract.secType == "BAG" and fill.contract.secType != "BAG"
        record = self._record(fill.contract, ex, is_combo_leg=is_leg)
        if record is None:
            return
        if record.is_combo_leg:
            log.info(
                "ib_combo_leg_fill",
                order_ref=ref,
                exec_id=record.exec_id,
                strike=record.strike,
                side=record.side,
                shares=record.shares,
                price=record.price,
            )
            return
        self._queue_fill(record)
        log.info(
            "ib_fill",
            order_ref=ref,
            exec_id=record.exec_id,
            shares=record.shares,
            price=record.price,
        )

    def _on_order_status(self, trade: Any) -> None:
        """Eventkit callback (sync): queue a state change of an alvhd order (never raises)."""
        ref = str(trade.order.orderRef or "")
        if not ref.startswith(ORDER_REF_PREFIX):
            return
        report = self._report_of(trade)
        key = (report.status, report.filled_qty)
        if self._last_report.get(ref) == key:
            return
        self._last_report[ref] = key
        self._reports.append(report)
        self._report_event.set()
        log.info(
            "ib_order_status",
            order_ref=ref,
            status=str(report.status),
            filled_qty=report.filled_qty,
            remaining_qty=report.remaining_qty,
            avg_price=report.avg_price,
            error_code=report.error_code,
        )
        if report.status in (OrderState.EXPIRED, OrderState.REJECTED) or (
            report.status is OrderState.CANCELLED and report.filled_qty > 0
        ):
            filled = f"{report.filled_qty:g} of {float(trade.order.totalQuantity):g}"
            what = {
                OrderState.EXPIRED: "expired at the close (DAY order)",
                OrderState.REJECTED: f"was rejected by IB ({report.error_code}: "
                f"{report.error_text})",
                OrderState.CANCELLED: "was cancelled",
            }[report.status]
            self.conn.alerts.emit(
                key=f"order_{report.status}:{ref}",
                ts=report.ts,
                kind=AlertKind.ORDER,
                severity=Severity.WARNING,
                message=f"order {ref} {what} with {filled} filled; the next session's rules "
                "propose again what is still wanted",
            )

    def _report_of(self, trade: Any) -> OrderStatusReport:
        """The core report of an ib_async ``Trade``'s current state."""
        ref = str(trade.order.orderRef)
        st = trade.orderStatus
        status = str(st.status or "")
        filled = float(trade.filled())
        total = float(trade.order.totalQuantity or 0.0)
        remaining = max(total - filled, 0.0)
        entry = next((e for e in reversed(trade.log) if e.errorCode), None)
        code = int(entry.errorCode) if entry is not None else None
        text = str(entry.message) if entry is not None else ""
        if status == "Filled" or (total > 0 and filled >= total):
            state = OrderState.FILLED
            remaining = 0.0
        elif status in DONE_STATES:
            remaining = 0.0
            if code is not None and code != CANCELLED_CODE:
                state = OrderState.REJECTED
            elif ref in self._cancel_requested:
                state = OrderState.CANCELLED
            elif str(trade.order.tif or "DAY") == "DAY":
                state = OrderState.EXPIRED
            else:
                state = OrderState.CANCELLED
        else:
            state = OrderState.PARTIALLY_FILLED if filled > 0 else OrderState.SUBMITTED
        avg = float(st.avgFillPrice) if filled > 0 else None
        if trade.contract.secType == "BAG" and filled > 0:
            bag = [f for f in trade.fills if f.contract.secType == "BAG"]
            if bag:
                # rounded to 1e-6: a float sum of price × shares turns 1.40 into
                # 1.3999999999999997, which the status message would show as such
                avg = round(sum(f.execution.price * f.execution.shares for f in bag) / filled, 6)
        lmt = float(trade.order.lmtPrice)
        what_if = self.what_ifs.get(ref)
        margin = _float_or_none(what_if.initMarginChange) if what_if is not None else None
        return OrderStatusReport(
            order_ref=ref,
            decision_id=ref.rsplit(":", 1)[-1],
            status=state,
            filled_qty=filled,
            remaining_qty=remaining,
            avg_price=avg if avg is not None and math.isfinite(avg) else None,
            limit_price=lmt if math.isfinite(lmt) and lmt < UNSET_DOUBLE else None,
            error_code=code,
            error_text=text if code is not None else "",
            init_margin_change_usd=margin,
            ts=self.conn.clock.now(),
        )
