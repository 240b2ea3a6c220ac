"""The price board: which closes are committed, the VX curve, the big-move test."""

from __future__ import annotations

from datetime import UTC, date, datetime

from daemon.core.model import Quote, Symbol
from daemon.core.prices import PriceBoard
from tests.unit.engine_parts import VX_APR, VX_MAR, snapshot

D1 = date(2020, 3, 2)
D2 = date(2020, 3, 3)


def quote(symbol: Symbol, price: float, day: date, expiry: date | None = None) -> Quote:
    return Quote(
        symbol=symbol,
        price=price,
        ts=datetime(day.year, day.month, day.day, 21, tzinfo=UTC),
        session_date=day,
        expiry=expiry,
    )


def board() -> PriceBoard:
    b = PriceBoard()
    for sym, px in ((Symbol.SPX, 3000.0), (Symbol.IWM, 150.0), (Symbol.VIX, 30.0)):
        b.store(quote(sym, px, D1))
    b.store(quote(Symbol.RVX, 35.0, D1))
    b.store(quote(Symbol.VX1, 29.0, D1, VX_MAR))
    b.store(quote(Symbol.VX2, 28.0, D1, VX_APR))
    return b


def test_optional_series_are_committed_only_when_quoted_that_day() -> None:
    b = board()
    assert b.closes(D1) == {
        Symbol.SPX: 3000.0,
        Symbol.IWM: 150.0,
        Symbol.VIX: 30.0,
        Symbol.RVX: 35.0,
        Symbol.VX1: 29.0,
    }
    b.store(quote(Symbol.SPX, 2900.0, D2))
    # next day: SPX fresh, IWM/VIX carried, RVX and VX1 not quoted today → left out
    assert b.closes(D2) == {Symbol.SPX: 2900.0, Symbol.IWM: 150.0, Symbol.VIX: 30.0}


def test_market_state_uses_the_vx_futures_not_yet_expired() -> None:
    b = board()
    st = b.market_state(D1, snapshot(D1, beta_30d=1.2))
    assert st is not None
    assert st.vx_curve == ((VX_MAR, 29.0), (VX_APR, 28.0))
    assert st.beta_iwm_spx == 1.2
    # the previous session's settles still price the next day's intraday evaluations ...
    next_day = b.market_state(D2, snapshot(D2))
    assert next_day is not None
    assert next_day.vx_curve == ((VX_MAR, 29.0), (VX_APR, 28.0))
    # ... older ones are stale: left out of the curve (issue 10)
    later = date(2020, 3, 5)
    stale = b.market_state(later, snapshot(later))
    assert stale is not None
    assert stale.vx_curve == ()
    b.store(quote(Symbol.VX1, 27.0, VX_MAR, VX_APR))
    b.store(quote(Symbol.VX2, 26.0, VX_MAR, VX_MAR))  # a late quote of the expiring one
    after_march = b.market_state(VX_MAR, snapshot(VX_MAR))
    assert after_march is not None
    assert after_march.vx_curve == ((VX_APR, 27.0),)
    assert PriceBoard().market_state(D1, snapshot(D1)) is None


def test_big_move_is_measured_on_spx_or_iwm_against_the_reference() -> None:
    b = board()
    ref = b.rebalance_ref()
    assert not b.moved_enough(ref, 3.0)
    b.store(quote(Symbol.IWM, 145.5, D2))  # -3.0 %
    assert b.moved_enough(ref, 3.0)
    assert not b.moved_enough(ref, 3.1)


def test_round_trip() -> None:
    b = board()
    other = PriceBoard()
    other.load(b.to_dict())
    assert other.to_dict() == b.to_dict()
    assert other.closes(D1) == b.closes(D1)
