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
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import structlog
from ib_async import ComboLeg, Contract, LimitOrder, OrderState, Trade

from adapters.ib.config import IbConfig
from adapters.ib.connection import IbConnection
from adapters.ib.contracts import qualify_option
from adapters.ib.positions import ORDER_REF_PREFIX
from daemon.core.model import AlertKind, Fill, ProposedOrder, Severity
from daemon.errors import BrokerRejected, BrokerUnavailable

log = structlog.get_logger(__name__)

DONE_STATES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


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
        self.what_ifs: dict[str, OrderState] = {}
        self._fills: deque[Fill] = deque(maxlen=10_000)
        self._fill_event = asyncio.Event()
        self._seen_exec_ids: set[str] = set()
        self._primed = False
        self._lock = asyncio.Lock()
        conn.add_on_connected(self.reconcile)
        conn.ib.execDetailsEvent += self._on_exec_details

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
        contract = await self._contract_for(order)
        ib_order = LimitOrder(
            str(order.action),
            order.contracts,
            order.limit_price,
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
        for fill in executions:
            ex = fill.execution
            ref = ex.orderRef or ""
            if ref.startswith(ORDER_REF_PREFIX):
                self.known_refs.setdefault(ref, "Filled")
                if self._primed and ex.execId not in self._seen_exec_ids:
                    missed += self._queue_fill(ex)
            self._seen_exec_ids.add(ex.execId)
        self._primed = True
        log.info("ib_orders_reconciled", known=len(self.known_refs), missed_fills=missed)

    # ------------------------------------------------------------------ internals
    async def _contract_for(self, order: ProposedOrder) -> Contract:
        ib = self.conn.ib
        timeout_s = self.config.request_timeout_s
        if len(order.legs) == 1:
            return await qualify_option(ib, order.legs[0], timeout_s=timeout_s)
        legs = [await qualify_option(ib, leg, timeout_s=timeout_s) for leg in order.legs]
        return Contract(
            symbol=legs[0].symbol,
            secType="BAG",
            currency="USD",
            exchange="SMART",
            comboLegs=[
                ComboLeg(
                    conId=c.conId,
                    ratio=abs(leg.position_qty),
                    action="BUY" if leg.position_qty > 0 else "SELL",
                    exchange=c.exchange or "CBOE",
                )
                for c, leg in zip(legs, order.legs, strict=True)
            ],
        )

    async def _what_if(self, contract: Contract, ib_order: LimitOrder, ref: str) -> OrderState:
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                state: Any = await self.conn.ib.whatIfOrderAsync(contract, ib_order)
        except TimeoutError as exc:
            raise BrokerUnavailable(f"IB what-if of {ref} timed out") from exc
        except ConnectionError as exc:
            raise BrokerUnavailable(f"IB dropped during the what-if of {ref}") from exc
        if not isinstance(state, OrderState):
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

    def _queue_fill(self, ex: Any) -> int:
        shares = float(ex.shares)
        price = float(ex.price)
        if not (math.isfinite(shares) and shares > 0 and math.isfinite(price)):
            log.warning("ib_fill_rejected", exec_id=ex.execId, shares=shares, price=price)
            return 0
        ts = ex.time if isinstance(ex.time, datetime) and ex.time.tzinfo else datetime.now(UTC)
        self._fills.append(
            Fill(order_ref=ex.orderRef, contracts=round(shares), price=price, ts=ts.astimezone(UTC))
        )
        self._fill_event.set()
        return 1

    def _on_exec_details(self, trade: Any, fill: Any) -> None:
        """Eventkit callback (sync): queue a live execution of an alvhd order once."""
        ex = fill.execution
        if ex.execId in self._seen_exec_ids:
            return
        self._seen_exec_ids.add(ex.execId)
        ref = ex.orderRef or ""
        if not ref.startswith(ORDER_REF_PREFIX):
            return
        self.known_refs[ref] = str(trade.orderStatus.status or "Filled")
        if self._queue_fill(ex):
            log.info("ib_fill", order_ref=ref, shares=float(ex.shares), price=float(ex.price))
