"""What the engine's modules share during one evaluation.

* :class:`DayCtx`: the scratch of one evaluation (a session close or a provisional
  intraday one): the day, the signal snapshot, the SPEC §5 market state and condor risk,
  and the day's proposal count and cost-cap flag. It never escapes the engine.
* :class:`DecisionIds`: the deterministic decision-id sequence. An id is
  ``orders.decision_id(session date, kind, layer, intent, n)`` where ``n`` counts the
  decisions of that session, so a restart that re-derives a day from the last snapshot
  produces the same ids and the journal de-duplicates them.
* :class:`Sessions`: the trading days of the run and the session index of a day.
* :class:`DayCounts`: the day's proposal count and cost-cap flag, carried from one
  evaluation of a session to the next (intraday and close).
* :func:`leg_text` and :func:`round_usd`: the text of notes and alerts.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from daemon.core import orders
from daemon.core.model import Layer, OptionLeg
from daemon.core.scenario import CondorRisk, MarketState
from daemon.core.signals import SignalSnapshot

if TYPE_CHECKING:
    from daemon.core.hedge_pricing import HedgeUnit
    from daemon.core.params import ScenarioParams

__all__ = [
    "EPS_USD",
    "LAYERS",
    "DayCounts",
    "DayCtx",
    "DecisionIds",
    "LegText",
    "Sessions",
    "leg_text",
    "round_usd",
]

LAYERS: tuple[Layer, ...] = (Layer.L1, Layer.L2, Layer.L3)
"""The hedge layers, bottom up (L0 holds no hedge)."""

EPS_USD = 1e-6
"""Tolerance on USD comparisons (cost cap)."""


@dataclass(slots=True)
class DayCtx:
    """Scratch of one evaluation (close or provisional); never escapes the engine.

    Attributes:
        session_date: the trading day evaluated.
        now: evaluation time, tz-aware UTC (stamps the decisions).
        session_index: position of ``session_date`` in the engine's session list.
        snapshot: the SPEC §3 readings of this evaluation.
        state: the SPEC §5 market state (None when a required price is missing).
        risk: the condor's scenario risk (None without condor or state).
        is_capped: a target was scaled down by the cost cap today.
        proposals: orders proposed today so far.
        units: hedge units priced in this evaluation, by (legs, net quote), each with the
            market state and scenario parameters it was priced with
            (:meth:`daemon.core.desk.OrderDesk.unit`); shared with the always-on L1
            baseline's context of the same close. A unit is a pure function of its legs,
            quote, state and scenario parameters, so a repeat (sizing, then the held cover
            of the day summary, then the baseline) is a lookup (issue 9).
    """

    session_date: date
    now: datetime
    session_index: int
    snapshot: SignalSnapshot
    state: MarketState | None = None
    risk: CondorRisk | None = None
    is_capped: bool = False
    proposals: int = 0
    units: dict[tuple[object, ...], tuple[MarketState, ScenarioParams, HedgeUnit]] = field(
        default_factory=dict
    )


class DecisionIds:
    """Deterministic decision ids: session date, kind/layer/intent parts, per-day sequence."""

    MEMENTO_CONTAINERS: ClassVar[tuple[str, ...]] = ()
    """The attributes holding containers (:mod:`daemon.core.memento`)."""

    def __init__(self) -> None:
        self._day: date | None = None
        self._seq = 0

    def next(self, day: date, *parts: object) -> str:
        """The id of the next decision of ``day``.

        Args:
            day: the session date.
            *parts: what defines the decision (``"order", "L1", "open"``).

        Returns:
            ``orders.decision_id(day, *parts, n)``, ``n`` = decisions of ``day`` so far.
        """
        if self._day != day:
            self._day = day
            self._seq = 0
        seq = self._seq
        self._seq += 1
        return orders.decision_id(day.isoformat(), *parts, seq)

    def to_dict(self) -> dict[str, Any]:
        """Snapshot keys ``seq_day`` (ISO date or None) and ``seq``."""
        return {
            "seq_day": None if self._day is None else self._day.isoformat(),
            "seq": self._seq,
        }

    def load(self, d: Mapping[str, Any]) -> None:
        """Restore from the keys written by :meth:`to_dict`."""
        self._day = None if d["seq_day"] is None else date.fromisoformat(d["seq_day"])
        self._seq = int(d["seq"])


class Sessions:
    """The sorted trading days of the run (XNYS) and the session index of a day.

    Args:
        days: trading days (any order, duplicates allowed).
    """

    def __init__(self, days: Sequence[date]) -> None:
        self.days: tuple[date, ...] = tuple(sorted(set(days)))
        self._pos: dict[date, int] = {d: i for i, d in enumerate(self.days)}

    def index_of(self, day: date, last_close_index: int | None) -> int:
        """Trading-session index of ``day``: its position in ``days``.

        A day missing from ``days`` (a too-short session list) counts as the session
        after the last close (``last_close_index``), so minimum holds and cadences still
        advance.
        """
        pos = self._pos.get(day)
        if pos is not None:
            return pos
        if last_close_index is not None:
            return last_close_index + 1
        return bisect.bisect_left(self.days, day)


class DayCounts:
    """The day's proposal count and cost-cap flag, across the evaluations of one session."""

    MEMENTO_CONTAINERS: ClassVar[tuple[str, ...]] = ()
    """The attributes holding containers (:mod:`daemon.core.memento`)."""

    def __init__(self) -> None:
        self.day: date | None = None
        self.proposals = 0
        self.is_capped = False

    def begin(self, ctx: DayCtx) -> None:
        """Carry the day's proposal count and cap flag into ``ctx`` (intraday + close)."""
        if self.day != ctx.session_date:
            self.day = ctx.session_date
            self.proposals = 0
            self.is_capped = False
        ctx.proposals = self.proposals
        ctx.is_capped = self.is_capped

    def end(self, ctx: DayCtx) -> None:
        """Keep ``ctx``'s proposal count and cap flag for the next evaluation of the day."""
        self.proposals = ctx.proposals
        self.is_capped = ctx.is_capped

    def to_dict(self) -> dict[str, Any]:
        """Snapshot keys ``counts_day`` (ISO date or None), ``day_proposals``, ``day_capped``."""
        return {
            "counts_day": None if self.day is None else self.day.isoformat(),
            "day_proposals": self.proposals,
            "day_capped": self.is_capped,
        }

    def load(self, d: Mapping[str, Any]) -> None:
        """Restore from the keys written by :meth:`to_dict`."""
        cd = d["counts_day"]
        self.day = None if cd is None else date.fromisoformat(cd)
        self.proposals = int(d["day_proposals"])
        self.is_capped = bool(d["day_capped"])


def round_usd(x: float) -> float:
    """USD rounded to the cent (stable text in notes and snapshots)."""
    return round(x, 2)


def leg_text(legs: Sequence[OptionLeg]) -> str:
    """Short text of option legs.

    ``VIX 2020-03-18 22C`` (one leg), ``VIX 2020-03-18 +22C/-27C`` (a spread),
    ``VIX -2020-03-18 22C +2020-04-15 24C`` (legs of different expiries: a roll),
    ``VIX -3x2020-03-18 22C +4x2020-04-15 24C`` (a ratio roll: 3 old units into 4 new).
    """
    if not legs:
        return "-"
    first = legs[0]

    def sign(leg: OptionLeg) -> str:
        ratio = abs(leg.position_qty)
        return ("+" if leg.position_qty > 0 else "-") + (f"{ratio}x" if ratio > 1 else "")

    def strike(leg: OptionLeg) -> str:
        return f"{orders.format_strike(leg.strike)}{leg.right}"  # a StrEnum formats as its value

    if any(leg.expiry != first.expiry for leg in legs):
        body = " ".join(f"{sign(leg)}{leg.expiry.isoformat()} {strike(leg)}" for leg in legs)
        return f"{first.trading_class} {body}"
    if len(legs) == 1:
        return f"{first.trading_class} {first.expiry.isoformat()} {strike(first)}"
    body = "/".join(f"{sign(leg)}{strike(leg)}" for leg in legs)
    return f"{first.trading_class} {first.expiry.isoformat()} {body}"


class LegText:
    """The :func:`leg_text` of some legs, for a ``str.format`` template read later.

    An argument of a reading's detail template (:class:`~daemon.core.model.SignalReading`
    ``detail_args``): ``"{}".format(LegText(legs))`` is ``leg_text(legs)``, built only
    when the detail is read (issue 9).

    Args:
        legs: the option legs.
    """

    __slots__ = ("legs",)

    def __init__(self, legs: Sequence[OptionLeg]) -> None:
        self.legs = legs

    def __format__(self, spec: str) -> str:
        return format(leg_text(self.legs), spec)

    def __str__(self) -> str:
        return leg_text(self.legs)
