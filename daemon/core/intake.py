"""Quotes into the engine: refused, quarantined or stored (issue 6 §3).

:class:`QuoteIntake` is the engine's front door for quotes. A quote that fails
:func:`~daemon.core.quality.check_quote` (malformed) is refused; a well-formed one is
screened by the :class:`~daemon.core.plausibility.PlausibilityFilter`: an implausible
print is quarantined (``Rejected("implausible")``) and never becomes a price or a close.
Both count in :attr:`QuoteIntake.rejected`. Each suspect episode opening or clearing
queues one ``data_suspect`` alert (:func:`~daemon.core.robustness.suspect_alert`), which
the engine returns from its next call (:meth:`QuoteIntake.take_alerts`). Accepted quotes
go to the :class:`~daemon.core.prices.PriceBoard`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.core.model import Bar, Decision, Quote, Rejected, Symbol
from daemon.core.params import QualityParams
from daemon.core.plausibility import ACCEPTED, PlausibilityFilter
from daemon.core.prices import PriceBoard
from daemon.core.quality import check_quote
from daemon.core.robustness import suspect_alert

__all__ = ["QuoteIntake"]


class QuoteIntake:
    """Checks, screens and stores quotes; counts refusals and queues ``data_suspect`` alerts.

    Args:
        params: the plausibility filter's parameters.
        prices: the price board accepted quotes are stored on.
    """

    def __init__(self, params: QualityParams, prices: PriceBoard) -> None:
        self._prices = prices
        self._quality = PlausibilityFilter(params)
        self.rejected = 0
        """Quotes refused so far: malformed or implausible (snapshot key ``rejected``)."""
        self._alerts_due: list[Decision] = []
        """Alerts raised between calls (data_suspect), returned by the next call."""

    def take(self, quote: Quote) -> Rejected | None:
        """Check, screen and store one quote (O(1)).

        Args:
            quote: the observation.

        Returns:
            ``Rejected`` (counted) for a malformed or an implausible quote, else None.
        """
        bad = check_quote(quote)
        if bad is not None:
            self.rejected += 1
            return bad
        screened = self._quality.screen(quote)
        if screened is not ACCEPTED:  # the usual quote: accepted, no episode (issue 9)
            if screened.episode is not None:
                self._alerts_due.append(suspect_alert(screened.episode))
            if screened.rejected is not None:
                self.rejected += 1
                return screened.rejected
        self._prices.store(quote)
        return None

    def take_alerts(self) -> list[Decision]:
        """The alerts queued since the last call (oldest first), leaving none queued."""
        due = self._alerts_due
        if not due:
            return []  # the usual case: one new list, the queue kept (every tick; issue 9)
        self._alerts_due = []
        return due

    def seed(self, bars: Mapping[Symbol, Sequence[Bar]]) -> None:
        """Seed the plausibility references from the last daily bar of each series."""
        for symbol, series in bars.items():
            if series:
                self._quality.seed(symbol, series[-1].close, series[-1].session_date)

    def reseed(self) -> None:
        """Seed the plausibility references from the price board (after a restore)."""
        for sym, px in self._prices.price.items():
            day = self._prices.price_day.get(sym)
            if day is not None:
                self._quality.seed(sym, px, day)

    def counts(self, skipped_evaluations: int) -> dict[str, Any]:
        """Quote quality counters since start (the engine's ``quality_counts``).

        Args:
            skipped_evaluations: evaluations skipped on an extreme state since start.
        """
        c = self._quality.counts
        return {
            "rejected": self.rejected,
            "quarantined": c.quarantined,
            "quarantined_by_symbol": dict(c.quarantined_by_symbol),
            "suspect_episodes": c.episodes,
            "confirmed_moves": c.confirmed,
            "settlements_out_of_band": c.settlements_out_of_band,
            "skipped_evaluations": skipped_evaluations,
        }
