"""When the active layers are re-sized (SPEC §4 "re-sized every 5 trading days", §3 big_move).

:class:`RebalanceClock` keeps the session index of the last rebalance and the SPX and IWM
prices then (the reference of the ``big_move`` test). At each evaluation, after the
ladder's transitions and the rolls:

* the first close with a market state only sets the references (nothing is re-sized);
* ``big_move`` holding (SPX or IWM vs. their reference) re-sizes at once, intraday too;
* at a close, ``rebalance_every_days`` sessions or more since the last rebalance re-size
  with a ``rebalance_cadence`` reading.

A rebalance re-sizes every active layer that did not change state in this evaluation
(:func:`daemon.core.sizing.rebalance`) and moves the references to now. Snapshot keys:
``last_rebalance_index`` and ``rebalance_ref``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from daemon.core import sizing
from daemon.core.context import DayCtx
from daemon.core.desk import OrderDesk
from daemon.core.model import Decision, Layer, SignalReading, Symbol
from daemon.core.prices import PriceBoard

__all__ = ["RebalanceClock"]


class RebalanceClock:
    """The last rebalance (session index) and the SPX/IWM prices then.

    Args:
        every_days: ``ladder.rebalance_every_days``, sessions between scheduled rebalances.
    """

    MEMENTO_CONTAINERS: ClassVar[tuple[str, ...]] = ("ref",)
    """The attributes holding containers (:mod:`daemon.core.memento`)."""

    def __init__(self, every_days: int) -> None:
        self.every_days = every_days
        self.last_index: int | None = None
        """Session index of the last rebalance (None before the first close)."""
        self.ref: dict[Symbol, float] | None = None
        """SPX and IWM at the last rebalance: the ``big_move`` reference (None: none yet)."""

    def step(
        self,
        desk: OrderDesk,
        ctx: DayCtx,
        prices: PriceBoard,
        active: Sequence[Layer],
        changed: set[Layer],
        *,
        is_close: bool,
    ) -> list[Decision]:
        """Re-size the active layers when ``big_move`` holds or the cadence is due.

        Args:
            desk: the order desk.
            ctx: the evaluation.
            prices: the latest prices (the new references).
            active: the active layers, L1..L3 (after this evaluation's transitions).
            changed: layers that changed state in this evaluation (not re-sized).
            is_close: a session close (the cadence counts closes only).

        Returns:
            The re-sizing decisions, layer order (none when nothing is due).
        """
        big = ctx.snapshot.get("big_move")
        due = (
            is_close
            and self.last_index is not None
            and ctx.session_index - self.last_index >= self.every_days
        )
        if self.ref is None and is_close and ctx.state is not None:
            self.last_index = ctx.session_index
            self.ref = prices.rebalance_ref()
            return []
        if big.holds:
            return self._rebalance(desk, ctx, prices, active=active, skip=changed, reason=big)
        if due:
            assert self.last_index is not None  # noqa: S101 - checked in `due`
            since = ctx.session_index - self.last_index
            reading = SignalReading(
                id="rebalance_cadence",
                value=float(since),
                threshold=float(self.every_days),
                holds=True,
                detail=f"{since} sessions since the last rebalance (every {self.every_days})",
            )
            return self._rebalance(desk, ctx, prices, active=active, skip=changed, reason=reading)
        return []

    def _rebalance(
        self,
        desk: OrderDesk,
        ctx: DayCtx,
        prices: PriceBoard,
        *,
        active: Sequence[Layer],
        skip: set[Layer],
        reason: SignalReading,
    ) -> list[Decision]:
        """Re-size the active layers and move the rebalance references to now."""
        if ctx.state is None or ctx.risk is None:
            return []
        out = sizing.rebalance(desk, ctx, active, skip, reason)
        self.last_index = ctx.session_index
        self.ref = prices.rebalance_ref()
        return out

    def to_dict(self) -> dict[str, Any]:
        """Snapshot keys ``last_rebalance_index`` and ``rebalance_ref`` (symbol → price)."""
        return {
            "last_rebalance_index": self.last_index,
            "rebalance_ref": None
            if self.ref is None
            else {s.value: v for s, v in self.ref.items()},
        }

    def load(self, d: Mapping[str, Any]) -> None:
        """Restore from the keys written by :meth:`to_dict`."""
        lri = d["last_rebalance_index"]
        self.last_index = None if lri is None else int(lri)
        ref = d["rebalance_ref"]
        self.ref = None if ref is None else {Symbol(k): float(v) for k, v in ref.items()}
