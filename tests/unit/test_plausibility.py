"""The plausibility filter: bad prints are quarantined, genuine moves get through."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.core.model import Quote, Symbol
from daemon.core.params import QualityParams
from daemon.core.plausibility import PlausibilityFilter, is_suspect_move

DAY = date(2020, 2, 24)
T0 = datetime(2020, 2, 24, 15, 0, tzinfo=UTC)


def _q(symbol: Symbol, price: float, s: float = 0.0, day: date = DAY, **kw: object) -> Quote:
    return Quote(
        symbol=symbol,
        price=price,
        ts=T0 + timedelta(seconds=s),
        session_date=day,
        **kw,  # type: ignore[arg-type]
    )


def _filter(**kw: float) -> PlausibilityFilter:
    f = PlausibilityFilter(QualityParams(**kw))  # type: ignore[arg-type]
    f.seed(Symbol.SPX, 3000.0, date(2020, 2, 21))
    f.seed(Symbol.VIX, 20.0, date(2020, 2, 21))
    f.seed(Symbol.IWM, 160.0, date(2020, 2, 21))
    return f


@pytest.mark.parametrize(
    ("symbol", "price", "suspect"),
    [
        (Symbol.SPX, 30.0, True),
        (Symbol.SPX, 30000.0, True),
        (Symbol.SPX, 3250.0, False),  # +8.3%
        (Symbol.SPX, 2650.0, True),  # -11.7%
        (Symbol.VIX, 500.0, True),
        (Symbol.VIX, 45.0, False),  # +125%: within VIX's 150%
        (Symbol.VIX, 5.0, True),  # -75%
        (Symbol.IWM, 140.0, False),  # -12.5%: within IWM's 15%
    ],
)
def test_single_prints_are_judged_per_symbol(symbol: Symbol, price: float, suspect: bool) -> None:
    f = _filter()
    out = f.screen(_q(symbol, price))
    assert (out.rejected is not None) is suspect
    if suspect:
        assert out.rejected is not None
        assert out.rejected.reason == "implausible"
        assert out.rejected.symbol is symbol
        assert out.episode is not None
        assert out.episode.is_open


def test_a_lone_bad_print_opens_one_episode_and_valid_data_clears_it() -> None:
    f = _filter()
    first = f.screen(_q(Symbol.SPX, 30.0, 0))
    again = f.screen(_q(Symbol.SPX, 30.0, 1))  # the same print re-delivered
    assert first.rejected is not None
    assert again.rejected is not None
    assert first.episode is not None
    assert again.episode is None  # one episode, not one per quote
    assert f.is_quarantining(Symbol.SPX)
    back = f.screen(_q(Symbol.SPX, 3001.0, 2))
    assert back.rejected is None
    assert back.episode is not None
    assert not back.episode.is_open
    assert not back.episode.is_confirmed
    assert back.episode.quarantined == 2
    assert f.counts.quarantined == 2
    assert f.counts.quarantined_by_symbol == {"SPX": 2}
    assert f.counts.episodes == 1
    assert not f.is_quarantining(Symbol.SPX)


def test_a_repeated_single_print_never_confirms_itself() -> None:
    f = _filter()
    for s in range(10):
        assert f.screen(_q(Symbol.SPX, 30.0, s)).rejected is not None
    assert f.counts.confirmed == 0


def test_a_genuine_vix_spike_is_confirmed_by_consistent_ticks() -> None:
    f = _filter(vix_max_move_frac=0.4)
    ticks = [30.5, 30.9, 31.2, 31.0]
    outs = [f.screen(_q(Symbol.VIX, px, i)) for i, px in enumerate(ticks)]
    assert [o.rejected is None for o in outs] == [False, False, True, True]
    done = outs[2].episode
    assert done is not None
    assert done.is_confirmed
    assert not done.is_open
    assert f.counts.confirmed == 1


def test_inconsistent_suspect_prints_do_not_confirm() -> None:
    f = _filter()
    for i, px in enumerate([30.0, 300.0, 30.0, 300.0, 30.0]):
        assert f.screen(_q(Symbol.SPX, px, i)).rejected is not None


def test_previous_close_is_a_reference_too() -> None:
    f = _filter()
    # a slow intraday grind: every step is small, the day's move is not
    prices = [3000.0 * (1 - 0.02 * k) for k in range(1, 9)]
    outs = [f.screen(_q(Symbol.SPX, px, i)) for i, px in enumerate(prices)]
    accepted = [o.rejected is None for o in outs]
    assert accepted[:4] == [True, True, True, True]  # down to -8%
    assert accepted[4:6] == [False, False]  # -10%, -12% vs the previous close: quarantined
    assert accepted[6:] == [True, True]  # ... the third consistent print confirms the move


def test_a_new_session_takes_the_last_valid_price_as_its_previous_close() -> None:
    f = _filter()
    assert f.screen(_q(Symbol.SPX, 3200.0, 0)).rejected is None  # +6.7%
    nxt = DAY + timedelta(days=1)
    # +12% vs the old close, +5% vs the new one (3200)
    assert f.screen(_q(Symbol.SPX, 3360.0, 10, day=nxt)).rejected is None


def test_settlements_are_confirmed_data() -> None:
    f = _filter()
    out = f.screen(_q(Symbol.SPX, 2640.0, is_settlement=True))  # 2020-03-16: -12%
    assert out.rejected is None
    assert f.counts.settlements_out_of_band == 1
    assert f.screen(_q(Symbol.SPX, 2650.0, 1)).rejected is None


def test_first_quote_without_reference_is_accepted() -> None:
    f = PlausibilityFilter(QualityParams())
    assert f.screen(_q(Symbol.RVX, 25.0)).rejected is None
    assert f.screen(_q(Symbol.RVX, 250.0, 1)).rejected is not None


@given(
    ref=st.floats(min_value=0.01, max_value=1e6),
    ratio=st.floats(min_value=1.0, max_value=1e3),
    frac=st.floats(min_value=0.0, max_value=5.0),
)
def test_band_is_log_symmetric(ref: float, ratio: float, frac: float) -> None:
    # a move by a factor and the move back by the same factor are judged alike
    # (away from the boundary, where float rounding may differ)
    if abs(math.log(ratio) - math.log1p(frac)) > 1e-9:
        assert is_suspect_move(ref * ratio, ref, frac) == is_suspect_move(ref / ratio, ref, frac)
        assert is_suspect_move(ref * ratio, ref, frac) == (math.log(ratio) > math.log1p(frac))


def test_nonsense_inputs_are_suspect_not_errors() -> None:
    assert is_suspect_move(0.0, 10.0, 1.0)
    assert is_suspect_move(10.0, 0.0, 1.0)
    assert is_suspect_move(float("nan"), 10.0, 1.0)


@pytest.mark.parametrize("symbol", list(Symbol))
def test_the_filter_judges_the_band_edges_as_is_suspect_move_does(symbol: Symbol) -> None:
    """The filter keeps log1p(max_move_frac) per symbol (issue 9): the same verdict, to the
    last bit, as :func:`is_suspect_move` at and one ulp either side of both band edges."""
    params = QualityParams()
    frac = params.max_move_frac(symbol.value)
    ref = 17.3
    edges = (ref * (1.0 + frac), ref / (1.0 + frac))
    prices = [p for e in edges for p in (math.nextafter(e, 0.0), e, math.nextafter(e, math.inf))]
    prices.append(edges[0] * 1.001)  # clearly outside
    verdicts = []
    for price in prices:
        f = PlausibilityFilter(params)
        f.seed(symbol, ref, date(2020, 2, 24))  # the same session: one reference
        out = f.screen(_q(symbol, price))
        verdicts.append(out.rejected is not None)
        assert verdicts[-1] is is_suspect_move(price, ref, frac), (symbol, price)
    assert verdicts[0] is False  # just inside the upper edge: a real check, not all True
    assert verdicts[-1] is True  # clearly outside the upper edge
