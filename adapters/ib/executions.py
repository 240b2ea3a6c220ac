"""Broker executions as alvhd keeps them: one record per IB ``execId``, legs and combos apart.

IB reports a combo (BAG) fill as one execution per leg (the leg's contract, its own price,
``ratio × quantity`` contracts) *and* one for the BAG itself (net price, combo units); see
the TWS API docs, *Executions and Commissions*, and ib_async's ``Trade.filled()``, which for
a BAG counts only the fills whose contract is the BAG. So:

* the **order's fill** (what the engine books: units and net price per unit) is the BAG
  execution of a combo, or the only execution of a single option;
* the **position change** (what the account holds per contract) is the leg executions of a
  combo, or the single option's execution.

Every record is keyed by ``execId``: a reconnect's ``reqExecutions`` replays executions
already seen, and the journal stores each ``execId`` once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from adapters.ib.parsing import expiry_of, multiplier_of


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionRecord:
    """One IB execution.

    Attributes:
        exec_id: IB execution id.
        order_ref: the order's orderRef.
        perm_id: IB permanent order id.
        con_id: contract id (the BAG's for the combo execution).
        sec_type: ``OPT``, ``BAG``...
        symbol: underlying symbol.
        trading_class: e.g. ``VIX``.
        right: ``C``/``P`` for options, ``""`` otherwise.
        strike: index points (0 for a BAG).
        expiry: option expiry (None for a BAG).
        multiplier: USD per point per contract (from the contract; 100 for VIX options).
        side: ``BUY`` or ``SELL`` (IB's ``BOT``/``SLD``).
        shares: contracts (a BAG: combo units), > 0.
        price: per share (a BAG: the net per unit, index points).
        ts: tz-aware UTC.
        is_combo_leg: a leg execution of a combo order (not the order's own fill).
    """

    exec_id: str
    order_ref: str
    perm_id: int
    con_id: int
    sec_type: str
    symbol: str
    trading_class: str
    right: str
    strike: float
    expiry: date | None
    multiplier: int
    side: str
    shares: float
    price: float
    ts: datetime
    is_combo_leg: bool

    @property
    def signed_qty(self) -> float:
        """Contracts bought (+) or sold (−)."""
        return self.shares if self.side == "BUY" else -self.shares

    @property
    def is_order_fill(self) -> bool:
        """The execution that fills the order itself (a BAG's, or a single option's)."""
        return not self.is_combo_leg

    def to_json(self) -> str:
        """JSON for the journal (dates ISO-8601)."""
        return json.dumps(
            {
                "exec_id": self.exec_id,
                "order_ref": self.order_ref,
                "perm_id": self.perm_id,
                "con_id": self.con_id,
                "sec_type": self.sec_type,
                "symbol": self.symbol,
                "trading_class": self.trading_class,
                "right": self.right,
                "strike": self.strike,
                "expiry": self.expiry.isoformat() if self.expiry else None,
                "multiplier": self.multiplier,
                "side": self.side,
                "shares": self.shares,
                "price": self.price,
                "ts": self.ts.isoformat(),
                "is_combo_leg": self.is_combo_leg,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ExecutionRecord:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        return cls(
            exec_id=str(d["exec_id"]),
            order_ref=str(d["order_ref"]),
            perm_id=int(d["perm_id"]),
            con_id=int(d["con_id"]),
            sec_type=str(d["sec_type"]),
            symbol=str(d["symbol"]),
            trading_class=str(d["trading_class"]),
            right=str(d["right"]),
            strike=float(d["strike"]),
            expiry=date.fromisoformat(d["expiry"]) if d["expiry"] else None,
            multiplier=int(d["multiplier"]),
            side=str(d["side"]),
            shares=float(d["shares"]),
            price=float(d["price"]),
            ts=datetime.fromisoformat(d["ts"]),
            is_combo_leg=bool(d["is_combo_leg"]),
        )


def record_from_ib(contract: Any, execution: Any, *, is_combo_leg: bool) -> ExecutionRecord | None:
    """Copy an ib_async ``Fill``'s contract and execution; None for non-finite numbers.

    Args:
        contract: the fill's contract (a leg's, or the BAG).
        execution: the ``Execution``.
        is_combo_leg: whether this is a leg execution of a combo order.
    """
    shares = float(execution.shares)
    price = float(execution.price)
    if not (math.isfinite(shares) and shares > 0 and math.isfinite(price)):
        return None
    ts = execution.time if isinstance(execution.time, datetime) else None
    when = ts.astimezone(UTC) if ts is not None and ts.tzinfo else datetime.now(UTC)
    sec_type = str(contract.secType or "")
    return ExecutionRecord(
        exec_id=str(execution.execId),
        order_ref=str(execution.orderRef or ""),
        perm_id=int(execution.permId or 0),
        con_id=int(contract.conId or 0),
        sec_type=sec_type,
        symbol=str(contract.symbol or ""),
        trading_class=str(contract.tradingClass or contract.symbol or ""),
        right=str(contract.right or "")[:1].upper(),
        strike=float(contract.strike or 0.0),
        expiry=expiry_of(str(contract.lastTradeDateOrContractMonth or "")),
        multiplier=multiplier_of(contract.multiplier) if sec_type != "BAG" else 0,
        side="BUY" if str(execution.side).upper() in ("BOT", "BUY") else "SELL",
        shares=shares,
        price=price,
        ts=when,
        is_combo_leg=is_combo_leg,
    )
