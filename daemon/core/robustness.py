"""Alerts for what the engine refuses or skips (issue 6 §3–§4), kept out of the coordinator.

* :func:`suspect_alert`: the ``data_suspect`` alert of a suspect-print episode
  (:class:`daemon.core.plausibility.SuspectEpisode`): warning when it opens, info when it
  clears;
* :data:`EXTREME_STATE_ERRORS`, :func:`failure_kind`, :func:`skipped_alert`: what an
  extreme but valid market state can raise deep in pricing and sizing, how two failures
  are told apart (their text with the numbers masked), and the ``engine`` alert of a
  skipped evaluation;
* :class:`SkipGuard`: runs one evaluation and, when it fails on an extreme state, rolls it
  back (through the engine's snapshot state) and alerts once per episode of identical
  failures;
* :func:`close_repeated_alert`: the ``data_stale`` alert of a session close that is not
  after the last committed one.

Alert ids depend only on what happened (symbol and episode start; day and evaluation),
never on the per-day decision sequence, so they never shift the ids of other decisions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TypeVar

from daemon.core import orders
from daemon.core.model import Alert, AlertKind, Decision, Severity, Symbol
from daemon.core.plausibility import SuspectEpisode
from daemon.core.prices import SIGNAL_SYMBOLS, PriceBoard
from daemon.errors import InvariantViolation

__all__ = [
    "EXTREME_STATE_ERRORS",
    "SkipGuard",
    "close_repeated_alert",
    "failure_kind",
    "skipped_alert",
    "suspect_alert",
]

_S = TypeVar("_S")

EXTREME_STATE_ERRORS = (InvariantViolation, ArithmeticError, ValueError)
"""What an extreme market state can raise deep in pricing/sizing (a template strike ≤ 0,
an overflow, a math domain error). The engine's public entry points turn these into a
skipped evaluation and an ``engine`` alert; anything else (KeyError, TypeError...) is a
bug and still propagates."""

_NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?")


def failure_kind(exc: BaseException) -> str:
    """``"Type: message"`` with every number masked: the same failure at other prices.

    Example: ``template gives a non-positive long put strike -10.0`` and ``... -15.0``
    are one kind (one alert per episode, not one per day).
    """
    return _NUMBER.sub("#", f"{type(exc).__name__}: {exc}")


def skipped_alert(
    what: str, day: date, now: datetime, exc: BaseException, prices: Mapping[Symbol, float]
) -> Alert:
    """The ``engine`` warning of an evaluation skipped on an extreme state.

    Args:
        what: ``"session close"`` or ``"intraday evaluation"``.
        day: the session evaluated (in the id).
        now: evaluation time, tz-aware UTC.
        exc: what the evaluation raised.
        prices: the latest prices (the market the message shows).
    """
    market = ", ".join(f"{s.value} {prices[s]:g}" for s in SIGNAL_SYMBOLS if s in prices)
    return Alert(
        decision_id=orders.decision_id("engine_skipped", day.isoformat(), what),
        ts=now,
        kind=AlertKind.ENGINE,
        severity=Severity.WARNING,
        key="engine_skipped",
        message=f"{what} of {day.isoformat()} skipped: {type(exc).__name__}: {exc} (market: "
        f"{market}); positions and ladder unchanged, the next evaluation tries again",
    )


def suspect_alert(ep: SuspectEpisode) -> Alert:
    """The ``data_suspect`` alert of a suspect episode opening (warning) or ending (info).

    Its id depends on the symbol and the episode's first quote only (not the per-day
    sequence), so a suspect print never shifts the ids of the day's other decisions.
    """
    sym = ep.symbol.value
    if ep.is_open:
        message = (
            f"suspect {sym} print {sym} {ep.price:g} (last valid {ep.reference:g}) "
            f"quarantined: not used as a price or a close. {ep.detail}"
        )
    else:
        message = f"{sym} data trusted again: {ep.detail}"
    return Alert(
        decision_id=orders.decision_id(
            "data_suspect", sym, ep.started_at.isoformat(), "open" if ep.is_open else "cleared"
        ),
        ts=ep.ts,
        kind=AlertKind.DATA_SUSPECT,
        severity=Severity.WARNING if ep.is_open else Severity.INFO,
        key=f"data_suspect:{sym}",
        message=message,
    )


class SkipGuard:
    """Skipped evaluations: roll back on an extreme-state failure, alert once per episode."""

    def __init__(self) -> None:
        self.skipped = 0
        """Evaluations skipped on an extreme state since start."""
        self._reason: str | None = None
        """The failure of the last skipped evaluation (one ``engine`` alert per episode)."""

    def run(
        self,
        what: str,
        day: date,
        now: datetime,
        step: Callable[[], list[Decision]],
        *,
        save: Callable[[], _S],
        rollback: Callable[[_S], None],
        prices: PriceBoard,
    ) -> list[Decision]:
        """Run ``step``; on an extreme-state failure roll back to before it and alert once.

        Args:
            what: what is being evaluated (``"session close"``, ``"intraday evaluation"``).
            day: its session date (in the alert's id).
            now: evaluation time (stamps the alert).
            step: the evaluation.
            save: the state before ``step`` (called once, before it).
            rollback: puts the state ``save`` returned back.
            prices: the latest prices (the market the alert shows, after the rollback).

        Returns:
            ``step``'s decisions, or — when it raised one of ``EXTREME_STATE_ERRORS`` —
            ``[]`` plus one ``engine`` warning alert when this failure is new (the same
            failure again, numbers aside, is counted in :attr:`skipped`, not re-alerted).
        """
        saved = save()
        try:
            out = step()
        except EXTREME_STATE_ERRORS as exc:
            # Back to the state before the step: nothing half-applied (no sleeve change
            # without its proposal, no ladder step without its alert).
            rollback(saved)
            self.skipped += 1
            kind = failure_kind(exc)
            if kind == self._reason:
                return []
            self._reason = kind
            return [skipped_alert(what, day, now, exc, prices.price)]
        self._reason = None
        return out


def close_repeated_alert(session_date: date, last: date, now: datetime) -> Alert:
    """The ``data_stale`` alert of a session close not after the last committed one.

    Args:
        session_date: the close that is ignored.
        last: the last committed close.
        now: evaluation time, tz-aware UTC.

    Returns:
        Info for the same date (a restart after the close re-sends it), warning for an
        older one (a close committed out of order); the id depends on both dates only.
    """
    return Alert(
        decision_id=orders.decision_id(
            session_date.isoformat(), "alert", "close_repeated", last.isoformat()
        ),
        ts=now,
        kind=AlertKind.DATA_STALE,
        # the same date again is what a restart after the close re-sends; an
        # older date means a close was committed out of order
        severity=Severity.INFO if session_date == last else Severity.WARNING,
        key=f"close_repeated:{session_date}",
        message=f"session close {session_date} ignored: the close of {last} is "
        "already committed; no decision is taken for it (a restart after the "
        "close, or a close committed early, e.g. from an intraday bar)",
    )
