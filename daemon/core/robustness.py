"""Alerts for what the engine refuses or skips (issue 6 §3–§4), kept out of the coordinator.

* :func:`suspect_alert`: the ``data_suspect`` alert of a suspect-print episode
  (:class:`daemon.core.plausibility.SuspectEpisode`): warning when it opens, info when it
  clears;
* :data:`EXTREME_STATE_ERRORS`, :func:`failure_kind`, :func:`skipped_alert`: what an
  extreme but valid market state can raise deep in pricing and sizing, how two failures
  are told apart (their text with the numbers masked), and the ``engine`` alert of a
  skipped evaluation. :meth:`daemon.core.engine.Engine._guarded` rolls the evaluation back.

Alert ids depend only on what happened (symbol and episode start; day and evaluation),
never on the per-day decision sequence, so they never shift the ids of other decisions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from daemon.core import orders
from daemon.core.model import Alert, AlertKind, Severity, Symbol
from daemon.core.plausibility import SuspectEpisode
from daemon.core.prices import SIGNAL_SYMBOLS
from daemon.errors import InvariantViolation

__all__ = ["EXTREME_STATE_ERRORS", "failure_kind", "skipped_alert", "suspect_alert"]

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
