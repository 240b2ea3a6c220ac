"""The latest valid price of every series, and what the engine derives from it.

:class:`PriceBoard` keeps, per symbol, the last valid price (index points; USD per share
for IWM), when it was quoted (``ts``, tz-aware UTC), the session it belongs to and, for
the VX futures, their expiry. From it come:

* the closes committed at a session close (:meth:`PriceBoard.closes`): SPX, IWM and VIX
  take their latest price even if not quoted today; RVX, VIX3M and VX1 only when quoted
  for this session (a stale optional series must not look like a fresh close);
* the SPEC §5 market state (:meth:`PriceBoard.market_state`), with the VX1–VX4 quotes
  of the day (or of the previous session's close) whose expiry is after it as the VX
  curve (each VIX option is priced on the future of its own expiry; issue 10);
* the O(1) ``big_move`` test of SPEC §3 on the latest prices (:meth:`PriceBoard.moved_enough`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from daemon.core.expiries import previous_business_day
from daemon.core.model import REQUIRED_SYMBOLS, Bar, Quote, Symbol
from daemon.core.scenario import MarketState
from daemon.core.signals import SignalSnapshot

# enum members as module constants: a class attribute lookup costs ~65 ns on the hot
# paths (issue 9)
_SYMBOL_SPX = Symbol.SPX
_SYMBOL_IWM = Symbol.IWM
_SYMBOL_VIX = Symbol.VIX
_SYMBOL_RVX = Symbol.RVX
_SYMBOL_VIX3M = Symbol.VIX3M
_SYMBOL_VX1 = Symbol.VX1

__all__ = ["OPTIONAL_SIGNAL_SYMBOLS", "SIGNAL_SYMBOLS", "VX_CURVE_SYMBOLS", "PriceBoard"]

SIGNAL_SYMBOLS: tuple[Symbol, ...] = (
    Symbol.SPX,
    Symbol.IWM,
    Symbol.VIX,
    Symbol.RVX,
    Symbol.VIX3M,
    Symbol.VX1,
)
"""Series committed to the SignalBook at a close (VX2–VX4 only feed the VX curve)."""

VX_CURVE_SYMBOLS: tuple[Symbol, ...] = (Symbol.VX1, Symbol.VX2, Symbol.VX3, Symbol.VX4)
"""The listed VX futures that form the curve VIX options are priced on."""

OPTIONAL_SIGNAL_SYMBOLS: tuple[Symbol, ...] = (Symbol.RVX, Symbol.VIX3M, Symbol.VX1)
"""Signal series committed at a close only when quoted for that session."""


class PriceBoard:
    """Latest valid price, timestamp, session and (VX) expiry per symbol."""

    def __init__(self) -> None:
        self.price: dict[Symbol, float] = {}
        self.price_ts: dict[Symbol, datetime] = {}
        self.price_day: dict[Symbol, date] = {}
        self.vx_expiry: dict[Symbol, date] = {}

    def warm_up(self, bars: Mapping[Symbol, Sequence[Bar]]) -> None:
        """Take the last bar of each series as its latest price (no timestamp).

        Args:
            bars: daily bars per symbol, oldest first.
        """
        for symbol, series in bars.items():
            if series:
                last = series[-1]
                self.price[symbol] = last.close
                self.price_day[symbol] = last.session_date
                if last.expiry is not None:
                    self.vx_expiry[symbol] = last.expiry

    def store(self, quote: Quote) -> None:
        """Record a quote already checked by :func:`daemon.core.quality.check_quote`."""
        symbol = quote.symbol
        self.price[symbol] = quote.price
        self.price_ts[symbol] = quote.ts
        self.price_day[symbol] = quote.session_date
        if quote.expiry is not None:
            self.vx_expiry[symbol] = quote.expiry

    def has_required(self) -> bool:
        """SPX, IWM and VIX have each been priced at least once."""
        return self.price.keys() >= REQUIRED_SYMBOLS  # in C, no set built (per tick; issue 9)

    def closes(self, session_date: date) -> dict[Symbol, float]:
        """The closes to commit for ``session_date`` (see the module docstring)."""
        out: dict[Symbol, float] = {}
        for sym in SIGNAL_SYMBOLS:
            px = self.price.get(sym)
            if px is None:
                continue
            if sym in OPTIONAL_SIGNAL_SYMBOLS and self.price_day.get(sym) != session_date:
                continue
            out[sym] = px
        return out

    def latest_signal_prices(self) -> dict[Symbol, float]:
        """Latest prices of the signal series (a provisional intraday close)."""
        return {s: self.price[s] for s in SIGNAL_SYMBOLS if s in self.price}

    def rebalance_ref(self) -> dict[Symbol, float]:
        """SPX and IWM now: the reference prices of the next ``big_move`` test."""
        return {_SYMBOL_SPX: self.price[_SYMBOL_SPX], _SYMBOL_IWM: self.price[_SYMBOL_IWM]}

    def market_state(self, day: date, snap: SignalSnapshot) -> MarketState | None:
        """SPEC §5 market state from the latest prices, or None if a required one is missing.

        Args:
            day: the session evaluated (VX quotes expiring on or before it are ignored).
            snap: the readings that carry β_vix and the IWM/SPX betas.
        """
        price = self.price
        if not self.has_required():
            return None
        by_expiry: dict[date, float] = {}
        oldest: date | None = None  # the previous session: looked up only when needed
        price_day, vx_expiry = self.price_day, self.vx_expiry
        for sym in VX_CURVE_SYMBOLS:
            exp = vx_expiry.get(sym)
            px = price.get(sym)
            # Only futures quoted this session or at the previous close (intraday, before
            # today's first VX quote): an older settle is not a price of today, and the
            # option then prices on a named fallback (issue 10).
            if exp is None or px is None or exp <= day:
                continue
            quoted = price_day[sym]
            if quoted < day:  # quoted today is after the previous session: no lookup
                if oldest is None:
                    oldest = _previous_session(day)
                if quoted < oldest:
                    continue
            by_expiry.setdefault(exp, px)
        curve = sorted(by_expiry.items())
        # the larger of the known IWM betas: max() of them without a list (equal: the 30d)
        b30, b90 = snap.beta_iwm_spx_30d, snap.beta_iwm_spx_90d
        beta = b30 if b90 is None else b90 if b30 is None or b90 > b30 else b30
        return MarketState(
            session_date=day,
            spx=price[_SYMBOL_SPX],
            iwm=price[_SYMBOL_IWM],
            vix=price[_SYMBOL_VIX],
            vx_curve=tuple(curve),
            spx_pct_per_vix_pt=snap.spx_pct_per_vix_pt,
            beta_iwm_spx=beta,
            beta_iwm_spx_30d=b30,
            beta_iwm_spx_90d=b90,
        )

    def moved_enough(self, ref: Mapping[Symbol, float], big_move_pct: float) -> bool:
        """SPEC §3 ``big_move`` on the latest prices, O(1) and allocation-free.

        Same formula as the SignalBook reading: ``max |price/ref − 1| × 100 >=
        big_move_pct`` over SPX and IWM.

        Args:
            ref: SPX and IWM at the last rebalance.
            big_move_pct: threshold, percent (0–100).
        """
        for sym in (_SYMBOL_SPX, _SYMBOL_IWM):
            then = ref.get(sym)
            now = self.price.get(sym)
            if (
                then is not None
                and now is not None
                and abs((now / then - 1.0) * 100.0) >= big_move_pct
            ):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        """Snapshot keys ``price``, ``price_ts``, ``price_day`` and ``vx_expiry``."""
        return {
            "price": {s.value: v for s, v in self.price.items()},
            "price_ts": {s.value: v.isoformat() for s, v in self.price_ts.items()},
            "price_day": {s.value: v.isoformat() for s, v in self.price_day.items()},
            "vx_expiry": {s.value: v.isoformat() for s, v in self.vx_expiry.items()},
        }

    def load(self, d: Mapping[str, Any]) -> None:
        """Restore from the keys written by :meth:`to_dict`."""
        self.price = {Symbol(k): float(v) for k, v in d["price"].items()}
        self.price_ts = {Symbol(k): datetime.fromisoformat(v) for k, v in d["price_ts"].items()}
        self.price_day = {Symbol(k): date.fromisoformat(v) for k, v in d["price_day"].items()}
        self.vx_expiry = {Symbol(k): date.fromisoformat(v) for k, v in d["vx_expiry"].items()}


@lru_cache(maxsize=16)
def _previous_session(day: date) -> date:
    """The business day before ``day`` (rule-based holidays), memoised.

    A pure function of the date, asked for once a close and at every big-move tick of the
    same day: a lookup instead of the holiday rules each time (issue 9).
    """
    return previous_business_day(day - timedelta(days=1))
