"""Plausibility filter at the engine's edge: one bad print never becomes a price or a close.

:func:`daemon.core.quality.check_quote` refuses what is malformed (NaN, ≤ 0, bid > ask).
This module refuses what is well-formed but impossible: ``SPX 30`` after ``SPX 3000``,
``VIX 500`` after ``VIX 20``. Issue 6 §3; STYLE.md §2.6 ("bad data is a value": nothing
here raises).

=========  ==============================  ================================================
symbol     ``max_move_frac`` (default)     why
=========  ==============================  ================================================
SPX        0.10                            a 10% index move needs several consistent ticks
IWM        0.15                            small caps move more than SPX
VIX        1.50                            VIX rose 116% on 2018-02-05 (a genuine day)
RVX        1.50                            as VIX (its Russell 2000 twin)
VIX3M      1.00                            3-month vol moves less than spot (max +65%)
VX1, VX2   1.00                            futures lag spot VIX (ρ ≈ 0.7)
=========  ==============================  ================================================

**Rule.** A quote of ``symbol`` is *suspect* when its price ``p`` is outside
``[r / (1 + f), r × (1 + f)]`` for ``f = max_move_frac(symbol)`` and either reference
``r``: the last valid price of the symbol, or the previous close (the last valid price of
an earlier session). The band is symmetric in log terms, so a 10% limit refuses both
``+10%`` and ``−9.1%`` moves in one step, and ``VIX 500`` as well as ``VIX 5`` after
``VIX 20``. With no reference yet (the first quote ever) a quote is accepted.

**Quarantine and confirmation.** A suspect quote is *quarantined*: it comes back as
``Rejected(reason="implausible")``, is counted, and never reaches the prices, the
indicators or a close. A genuine move is let through once it is confirmed by
``confirm_ticks`` consecutive suspect prints, each a *new* print (a price different from
the previous one, so one print re-delivered with a new bid/ask does not confirm itself)
within ``confirm_band_frac`` of the previous suspect print. The confirming quote is
accepted and becomes the new reference for both checks. A valid (in-band) quote between
suspect ones drops the candidate level: a lone bad print is forgotten.

A quote flagged ``is_settlement`` (an official daily close from a daily bar, as the
replay source streams: "IB's daily bar after the close") is already confirmed data: it is
accepted even when suspect, and counted as ``settlements_out_of_band``.

**Episodes.** Per symbol, the first quarantined quote opens a *suspect episode*
(:class:`SuspectEpisode` with ``is_open=True``); the episode ends (``is_open=False``) when a
valid quote comes back in band or the new level is confirmed. The engine turns each
episode change into one ``data_suspect`` alert (one per symbol per episode, and one when it
clears), however many quotes the episode quarantined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from daemon.core.fastinit import fast_init
from daemon.core.model import Quote, Rejected, Symbol
from daemon.core.params import QualityParams

__all__ = ["ACCEPTED", "PlausibilityFilter", "Screened", "SuspectEpisode", "is_suspect_move"]

_INF = math.inf
_log = math.log


def is_suspect_move(price: float, reference: float, max_move_frac: float) -> bool:
    """Whether ``price`` is outside the log-symmetric band around ``reference``.

    Args:
        price: the new price (> 0, points or USD per share).
        reference: the reference price (> 0, same unit).
        max_move_frac: ``f`` ≥ 0: the band is ``[reference / (1 + f), reference × (1 + f)]``.

    Returns:
        True when the move is larger than the instrument can make in one step. Never raises
        (a non-positive or non-finite input counts as suspect).
    """
    return _is_outside(price, reference, math.log1p(max_move_frac))


def _is_outside(price: float, reference: float, log_band: float) -> bool:
    """:func:`is_suspect_move` with ``log_band = log1p(max_move_frac)`` given.

    The same floats: the filter computes ``log1p`` once per symbol, not twice per quote
    (issue 9).
    """
    if not (price > 0.0 and reference > 0.0 and math.isfinite(price / reference)):
        return True
    return abs(math.log(price / reference)) > log_band


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class SuspectEpisode:
    """A suspect-data episode of one symbol started (``is_open``) or ended.

    Attributes:
        symbol: the series.
        is_open: True when the episode starts (first quarantined quote), False when it ends.
        started_at: ``ts`` of the quote that opened the episode (identifies it).
        ts: ``ts`` of the quote that caused this change, tz-aware UTC.
        price: that quote's price (the suspect print, or the price that ended it).
        reference: the reference it was judged against (last valid price), points/USD.
        quarantined: quotes quarantined in this episode so far.
        is_confirmed: on end: True when the suspect level was confirmed as a genuine move
            (it is now the price), False when valid data came back in band.
        detail: one human-readable line.
    """

    symbol: Symbol
    is_open: bool
    started_at: datetime
    ts: datetime
    price: float
    reference: float
    quarantined: int
    is_confirmed: bool = False
    detail: str = ""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Screened:
    """The outcome of :meth:`PlausibilityFilter.screen` for one quote.

    Attributes:
        rejected: ``Rejected(reason="implausible")`` when the quote is quarantined, else None.
        episode: the episode change this quote caused, if any.
    """

    rejected: Rejected | None = None
    episode: SuspectEpisode | None = None


ACCEPTED = Screened()
"""An accepted quote that changed no episode (immutable: one instance serves every quote;
:meth:`PlausibilityFilter.screen` returns this very object for it)."""


@dataclass(slots=True)
class _SymbolState:
    """Per-symbol references, the quarantine candidate and the open episode."""

    last_valid: float | None = None
    last_valid_day: date | None = None
    prev_close: float | None = None
    candidate: float | None = None
    candidate_ticks: int = 0
    episode_started: datetime | None = None
    episode_reference: float = 0.0
    episode_quarantined: int = 0


@dataclass(slots=True)
class QualityCounts:
    """Counters of the filter since start (for logs and ``status``).

    Attributes:
        quarantined: quotes quarantined (``Rejected(reason="implausible")``), all symbols.
        quarantined_by_symbol: the same per symbol (symbol value → count).
        episodes: suspect episodes opened.
        confirmed: suspect levels confirmed as genuine moves.
        settlements_out_of_band: official closes accepted although outside the band.
    """

    quarantined: int = 0
    quarantined_by_symbol: dict[str, int] = field(default_factory=dict)
    episodes: int = 0
    confirmed: int = 0
    settlements_out_of_band: int = 0


class PlausibilityFilter:
    """Quarantines implausible quotes per symbol; pure, O(1) per quote, never raises.

    Args:
        params: per-symbol ``max_move_frac``, ``confirm_ticks``, ``confirm_band_frac``.
    """

    def __init__(self, params: QualityParams) -> None:
        self._params = params
        self._state: dict[Symbol, _SymbolState] = {}
        self._log_band: dict[Symbol, float] = {}  # log1p(max_move_frac) per symbol
        self.counts = QualityCounts()
        """Counters since start."""

    def _get(self, symbol: Symbol) -> _SymbolState:
        st = self._state.get(symbol)
        if st is None:
            st = self._state[symbol] = _SymbolState()
        return st

    def seed(self, symbol: Symbol, price: float, session_date: date) -> None:
        """Set the references of ``symbol`` from a trusted price (warm-up close, snapshot).

        Args:
            symbol: the series.
            price: its last valid price (> 0).
            session_date: the session of that price (becomes the previous close for any
                later session).
        """
        if not (price > 0.0 and math.isfinite(price)):
            return
        st = self._get(symbol)
        st.last_valid = price
        st.last_valid_day = session_date
        st.prev_close = price
        st.candidate = None
        st.candidate_ticks = 0

    def is_quarantining(self, symbol: Symbol) -> bool:
        """Whether ``symbol`` is in an open suspect episode."""
        st = self._state.get(symbol)
        return st is not None and st.episode_started is not None

    def screen(self, quote: Quote) -> Screened:
        """Judge one well-formed quote (already passed ``check_quote``).

        Args:
            quote: the quote (price > 0 and finite). ``quote.is_settlement`` (an official
                daily close from a daily bar) is accepted even when suspect (counted in
                ``settlements_out_of_band``).

        Returns:
            ``Screened(rejected=None)`` when the quote is accepted (then it *is* the new
            reference), or ``Screened(rejected=Rejected("implausible", ...))``; either may
            carry the :class:`SuspectEpisode` change it caused.
        """
        st = self._state.get(quote.symbol)  # _get without a call for a known symbol
        if st is None:
            st = self._get(quote.symbol)
        price = quote.price
        if st.last_valid is None:
            return self._accept(st, quote, confirmed=False)
        if st.last_valid_day is not None and quote.session_date > st.last_valid_day:
            # A new session: the last valid price of the previous one is its close.
            st.prev_close = st.last_valid
        symbol = quote.symbol
        log_band = self._log_band.get(symbol)
        if log_band is None:  # the params are frozen: once per symbol
            log_band = self._log_band[symbol] = math.log1p(self._params.max_move_frac(symbol))
        # The first reference the price is suspect against: the last valid price, then the
        # previous session's close (no list and generator per quote: issue 9).
        suspect_vs: float | None = None
        last_valid, prev_close = st.last_valid, st.prev_close
        # _is_outside(price, last_valid, log_band), inlined (every quote; issue 9)
        ratio = price / last_valid if price > 0.0 and last_valid > 0.0 else _INF
        if not -_INF < ratio < _INF or abs(_log(ratio)) > log_band:
            suspect_vs = last_valid
        elif (
            prev_close is not None
            # the same reference gives the same verdict: the first quote of a session
            # (previous close = last valid price) is judged once (issue 9)
            and prev_close != last_valid
            and _is_outside(price, prev_close, log_band)
        ):
            suspect_vs = prev_close
        if suspect_vs is None:
            if st.episode_started is None:
                # _accept(confirmed=False) of the usual quote (no episode to end), inlined:
                # every quote in band (issue 9)
                st.last_valid = price
                st.last_valid_day = quote.session_date
                st.candidate = None
                st.candidate_ticks = 0
                return ACCEPTED
            return self._accept(st, quote, confirmed=False)
        if quote.is_settlement:
            self.counts.settlements_out_of_band += 1
            return self._accept(st, quote, confirmed=True)
        return self._quarantine(st, quote, suspect_vs, self._params.max_move_frac(symbol))

    def _quarantine(
        self, st: _SymbolState, quote: Quote, reference: float, limit: float
    ) -> Screened:
        price = quote.price
        band = self._params.confirm_band_frac
        if st.candidate is None or is_suspect_move(price, st.candidate, band):
            st.candidate = price
            st.candidate_ticks = 1
        elif price != st.candidate:
            st.candidate = price
            st.candidate_ticks += 1
        # else: the same print again (a re-delivery): it confirms nothing.
        if st.candidate_ticks >= self._params.confirm_ticks:
            self.counts.confirmed += 1
            return self._accept(st, quote, confirmed=True)
        symbol = quote.symbol
        self.counts.quarantined += 1
        by_symbol = self.counts.quarantined_by_symbol
        by_symbol[symbol.value] = by_symbol.get(symbol.value, 0) + 1
        low, high = reference / (1.0 + limit), reference * (1.0 + limit)
        detail = (
            f"{symbol.value} {price:g} vs {reference:g} ({(price / reference - 1.0) * 100.0:+.1f}%)"
            f" is outside the plausible band {low:.6g}–{high:.6g} (×/÷ {1.0 + limit:g}); "
            f"quarantined until {self._params.confirm_ticks} consistent prints confirm it"
        )
        rejected = Rejected(reason="implausible", symbol=symbol, detail=detail)
        episode: SuspectEpisode | None = None
        if st.episode_started is None:
            self.counts.episodes += 1
            st.episode_started = quote.ts
            st.episode_reference = reference
            st.episode_quarantined = 0
            episode = SuspectEpisode(
                symbol=symbol,
                is_open=True,
                started_at=quote.ts,
                ts=quote.ts,
                price=price,
                reference=reference,
                quarantined=1,
                detail=detail,
            )
        st.episode_quarantined += 1
        return Screened(rejected=rejected, episode=episode)

    def _accept(self, st: _SymbolState, quote: Quote, *, confirmed: bool) -> Screened:
        price = quote.price
        st.last_valid = price
        st.last_valid_day = quote.session_date
        if confirmed:
            # The confirmed level is the day's new reference (a genuine move).
            st.prev_close = price
        st.candidate = None
        st.candidate_ticks = 0
        if st.episode_started is None:
            return ACCEPTED
        symbol = quote.symbol
        how = (
            f"confirmed as a genuine move by {self._params.confirm_ticks} consistent prints"
            if confirmed
            else "valid data is back in band"
        )
        episode = SuspectEpisode(
            symbol=symbol,
            is_open=False,
            started_at=st.episode_started,
            ts=quote.ts,
            price=price,
            reference=st.episode_reference,
            quarantined=st.episode_quarantined,
            is_confirmed=confirmed,
            detail=f"{symbol.value} {price:g}: {how}; "
            f"{st.episode_quarantined} quote(s) quarantined in this episode",
        )
        st.episode_started = None
        st.episode_quarantined = 0
        return Screened(episode=episode)
