"""SPEC §3 signals on the real daily history (tests/conftest.py ``market_dir``).

Sessions are the SPX/IWM/VIX dates inner-joined; RVX and VIX3M are left-joined (optional).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from daemon.core.model import Bar, Symbol
from daemon.core.params import MacroEvent, MacroEventKind, ScenarioParams, SignalParams
from daemon.core.signals import SIGNAL_IDS, SignalBook, SignalSnapshot
from daemon.errors import InvariantViolation

_FILES = {
    Symbol.SPX: "spx_daily.csv",
    Symbol.IWM: "iwm_daily.csv",
    Symbol.VIX: "vix_daily.csv",
    Symbol.RVX: "rvx_daily.csv",
    Symbol.VIX3M: "vix3m_daily.csv",
}
_REQUIRED = [Symbol.SPX, Symbol.IWM, Symbol.VIX]

# FOMC statement 2020-01-29 (scheduled meeting of Jan 28-29), CPI releases 2020-01-14 and
# 2020-02-13 (BLS schedule).
EVENTS = (
    MacroEvent(day=date(2020, 1, 14), kind=MacroEventKind.CPI),
    MacroEvent(day=date(2020, 1, 29), kind=MacroEventKind.FOMC),
    MacroEvent(day=date(2020, 2, 13), kind=MacroEventKind.CPI),
)


@pytest.fixture(scope="module")
def closes(market_dir: Path) -> pd.DataFrame:
    """Daily closes, one column per symbol, indexed by session date (python ``date``)."""
    series = {
        sym: pd.read_csv(market_dir / name, parse_dates=["date"], index_col="date")["close"]
        for sym, name in _FILES.items()
    }
    df = pd.concat([series[s] for s in _REQUIRED], axis=1, keys=_REQUIRED, join="inner", sort=True)
    for sym in (Symbol.RVX, Symbol.VIX3M):
        df[sym] = series[sym].reindex(df.index)
    df.index = [ts.date() for ts in df.index]
    return df


def _row(df: pd.DataFrame, day: date) -> dict[Symbol, float]:
    """One session's closes, optional symbols left out when missing."""
    row = df.loc[day]
    return {Symbol(str(k)): float(v) for k, v in row.to_dict().items() if pd.notna(v)}


def _bars(df: pd.DataFrame, until: date) -> dict[Symbol, list[Bar]]:
    out: dict[Symbol, list[Bar]] = {}
    sub = df[df.index <= until]
    for sym in sub.columns:
        col = sub[sym].dropna()
        out[Symbol(sym)] = [
            Bar(symbol=Symbol(sym), session_date=d, open=c, high=c, low=c, close=c)
            for d, c in zip(col.index, col.tolist(), strict=True)
        ]
    return out


def _book(df: pd.DataFrame, events: tuple[MacroEvent, ...] = EVENTS) -> SignalBook:
    return SignalBook(SignalParams(), ScenarioParams(), events, list(df.index))


def _warm(df: pd.DataFrame, until: date) -> SignalBook:
    book = _book(df)
    book.warm_up(_bars(df, until))
    assert book.last_session == until
    return book


def _all_values(snap: SignalSnapshot) -> list[float | None]:
    return [r.value for r in snap.readings] + [
        snap.ratio_macd_line,
        snap.ratio_rsi,
        snap.vix_rsi,
        snap.vix_macd_line,
        snap.vix_macd_signal,
        snap.iv_spread_pts,
        snap.iv_spread_mean_pts,
        snap.term_ratio,
        snap.spx_pct_per_vix_pt,
        snap.beta_iwm_spx_30d,
        snap.beta_iwm_spx_90d,
    ]


# ------------------------------------------------------------------ known market days


def test_covid_crash_2020_03_16_vix_rsi_hot_and_backwardation(closes: pd.DataFrame) -> None:
    snap = _warm(closes, date(2020, 3, 16)).evaluate(date(2020, 3, 16))
    assert not snap.is_provisional
    assert [r.id for r in snap.readings] == list(SIGNAL_IDS)
    rsi = snap.get("vix_rsi_hot")
    assert rsi.holds
    assert rsi.value is not None
    assert rsi.value > 70.0
    back = snap.get("backwardation")
    assert back.holds
    assert back.value == pytest.approx(82.69 / 67.70)
    assert snap.term_ratio == back.value
    assert "VIX/VIX3M = 1.221 > 1" in back.detail
    # the crash is visible everywhere else too
    assert snap.get("ratio_macd_negative").holds
    assert snap.get("vix_macd_bull_cross").holds
    assert snap.get("small_cap_below_ma").holds
    assert "also below SMA200" in snap.get("small_cap_below_ma").detail
    assert snap.spx_pct_per_vix_pt is not None
    assert -1.5 < snap.spx_pct_per_vix_pt < -0.2
    assert snap.beta_iwm_spx_90d is not None
    assert 0.7 < snap.beta_iwm_spx_90d < 1.5


def test_ratio_macd_negative_on_most_sessions_of_late_feb_and_march_2020(
    closes: pd.DataFrame,
) -> None:
    book = _warm(closes, date(2020, 2, 18))
    days = [d for d in closes.index if date(2020, 2, 19) <= d <= date(2020, 3, 31)]
    held = []
    for day in days:
        book.on_close(day, _row(closes, day))
        reading = book.evaluate(day).get("ratio_macd_negative")
        held.append(reading.holds)
        if reading.holds:
            assert reading.value is not None
            assert reading.value < 0.0
            assert reading.detail.startswith("MACD(12,26) of IWM/SPX = -0.00")
    assert len(days) == 30
    assert sum(held) >= 0.8 * len(days)


def test_event_window_holds_the_day_before_an_fomc_decision(closes: pd.DataFrame) -> None:
    book = _warm(closes, date(2020, 1, 28))
    before = book.evaluate(date(2020, 1, 28)).get("event_window")
    assert before.holds
    assert before.value == 1.0
    assert before.threshold == 2.0
    assert "FOMC on 2020-01-29" in before.detail
    # a week earlier: 6 sessions ahead (Jan 22..29 are sessions), outside the window
    far = _book(closes).evaluate(date(2020, 1, 21)).get("event_window")
    assert far.value == 6.0
    assert not far.holds
    # on the day itself: 0 sessions ahead
    assert _book(closes).evaluate(date(2020, 1, 29)).get("event_window").value == 0.0
    # two sessions ahead still counts (SPEC: within the next 2 trading days)
    assert _book(closes).evaluate(date(2020, 2, 11)).get("event_window").holds
    # after the last calendar event there is nothing to count
    after = _book(closes).evaluate(date(2020, 2, 14)).get("event_window")
    assert after.value is None
    assert not after.holds


def test_event_window_counts_trading_sessions_over_a_weekend(closes: pd.DataFrame) -> None:
    # Friday 2020-01-24 → FOMC Wednesday 2020-01-29 is 3 sessions ahead (Mon, Tue, Wed).
    events = (MacroEvent(day=date(2020, 1, 29), kind=MacroEventKind.FOMC),)
    reading = _book(closes, events).evaluate(date(2020, 1, 24)).get("event_window")
    assert reading.value == 3.0
    assert not reading.holds
    monday = _book(closes, events).evaluate(date(2020, 1, 27)).get("event_window")
    assert monday.value == 2.0
    assert monday.holds


def test_missing_rvx_gives_no_iv_spread_reading(closes: pd.DataFrame) -> None:
    # Cboe's RVX file has no row for 2020-10-16 although NYSE traded.
    day = date(2020, 10, 16)
    assert day not in closes[Symbol.RVX].dropna().index
    snap = _warm(closes, day).evaluate(day)
    reading = snap.get("iv_spread_blowout")
    assert reading.value is None
    assert not reading.holds
    assert "no RVX" in reading.detail
    assert snap.iv_spread_pts is None
    assert snap.iv_spread_mean_pts is not None  # the mean of earlier sessions is still known


def test_missing_vix3m_gives_no_backwardation_reading(closes: pd.DataFrame) -> None:
    book = _warm(closes, date(2020, 3, 13))
    row = _row(closes, date(2020, 3, 16))
    del row[Symbol.VIX3M]
    book.on_close(date(2020, 3, 16), row)
    snap = book.evaluate(date(2020, 3, 16))
    assert snap.get("backwardation").value is None
    assert not snap.get("backwardation").holds
    assert snap.term_ratio is None


def test_ad_divergence_is_reported_as_unavailable(closes: pd.DataFrame) -> None:
    reading = _warm(closes, date(2020, 3, 16)).evaluate(date(2020, 3, 16)).get("ad_divergence")
    assert reading.value is None
    assert not reading.holds
    assert reading.detail == "no breadth feed configured"


def test_get_unknown_id_raises_key_error(closes: pd.DataFrame) -> None:
    snap = _warm(closes, date(2020, 3, 16)).evaluate(date(2020, 3, 16))
    with pytest.raises(KeyError):
        snap.get("mev_signal")


def test_big_move_against_the_rebalance_reference(closes: pd.DataFrame) -> None:
    book = _warm(closes, date(2020, 3, 16))
    spx, iwm = book.last_closes[Symbol.SPX], book.last_closes[Symbol.IWM]
    none = book.evaluate(date(2020, 3, 16))
    assert none.get("big_move").value is None
    assert not none.get("big_move").holds
    small = book.evaluate(date(2020, 3, 16), rebalance_ref={Symbol.SPX: spx / 1.029})
    assert small.get("big_move").value == pytest.approx(2.9)
    assert not small.get("big_move").holds
    big = book.evaluate(
        date(2020, 3, 16), rebalance_ref={Symbol.SPX: spx, Symbol.IWM: iwm / 0.965}
    ).get("big_move")
    assert big.holds
    assert big.value == pytest.approx(3.5)
    assert "IWM -3.50%" in big.detail


# ------------------------------------------------------------------ provisional, state, guards


def test_provisional_evaluation_peeks_without_changing_state(closes: pd.DataFrame) -> None:
    day_before, day = date(2020, 3, 13), date(2020, 3, 16)
    book = _warm(closes, day_before)
    committed = book.evaluate(day_before)
    state_before = json.dumps(book.state())
    provisional = book.evaluate(day, _row(closes, day))
    assert provisional.is_provisional
    assert json.dumps(book.state()) == state_before
    assert book.evaluate(day_before) == committed
    # committing the same prices as closes gives the same readings, bit for bit
    book.on_close(day, _row(closes, day))
    final = book.evaluate(day)
    assert not final.is_provisional
    assert final.readings == provisional.readings
    assert _all_values(final) == _all_values(provisional)


def test_provisional_without_a_required_price_makes_its_signals_unknown(
    closes: pd.DataFrame,
) -> None:
    book = _warm(closes, date(2020, 3, 13))
    snap = book.evaluate(date(2020, 3, 16), {Symbol.VIX: 57.83})
    assert snap.get("ratio_macd_negative").value is None
    assert snap.get("small_cap_below_ma").value is None
    assert snap.get("vix_rsi_hot").value is not None


def test_state_round_trip_gives_identical_subsequent_readings(closes: pd.DataFrame) -> None:
    original = _warm(closes, date(2019, 12, 31))
    restored = _book(closes)
    restored.load_state(json.loads(json.dumps(original.state())))
    assert restored.last_session == original.last_session
    assert restored.last_closes == original.last_closes
    days = [d for d in closes.index if date(2020, 1, 1) <= d <= date(2020, 4, 30)]
    for day in days:
        row = _row(closes, day)
        assert restored.evaluate(day, row) == original.evaluate(day, row)
        original.on_close(day, row)
        restored.on_close(day, row)
        assert restored.evaluate(day) == original.evaluate(day)
    # warming up a restored book skips what it already has
    restored.warm_up(_bars(closes, date(2020, 4, 30)))
    assert restored.state() == original.state()


def test_load_state_with_other_periods_raises(closes: pd.DataFrame) -> None:
    state = _warm(closes, date(2019, 12, 31)).state()
    other = SignalBook(SignalParams(rsi_period=10), ScenarioParams(), EVENTS, list(closes.index))
    with pytest.raises(InvariantViolation):
        other.load_state(state)


def test_on_close_for_the_same_or_an_older_date_raises(closes: pd.DataFrame) -> None:
    book = _warm(closes, date(2020, 3, 16))
    with pytest.raises(InvariantViolation):
        book.on_close(date(2020, 3, 16), _row(closes, date(2020, 3, 16)))
    with pytest.raises(InvariantViolation):
        book.on_close(date(2020, 3, 13), _row(closes, date(2020, 3, 13)))
    with pytest.raises(InvariantViolation):
        book.evaluate(date(2020, 3, 13))
    assert book.last_session == date(2020, 3, 16)


def test_on_close_needs_spx_iwm_and_vix_and_finite_prices(closes: pd.DataFrame) -> None:
    book = _warm(closes, date(2020, 3, 13))
    row = _row(closes, date(2020, 3, 16))
    without_iwm: dict[Symbol, float] = {k: v for k, v in row.items() if k is not Symbol.IWM}
    with pytest.raises(InvariantViolation, match="IWM"):
        book.on_close(date(2020, 3, 16), without_iwm)
    with pytest.raises(InvariantViolation):
        book.on_close(date(2020, 3, 16), {**row, Symbol.VIX: math.nan})
    assert book.last_session == date(2020, 3, 13)


# ------------------------------------------------------------------ whole history vs pandas


def test_whole_history_matches_pandas_definitions_and_has_no_nan(closes: pd.DataFrame) -> None:
    book = _book(closes)
    snaps = []
    for day in closes.index:
        book.on_close(day, _row(closes, day))
        snaps.append(book.evaluate(day))
    for snap in snaps:
        for v in _all_values(snap):
            assert v is None or math.isfinite(v)
        for r in snap.readings:
            assert r.value is not None or not r.holds

    spread = (closes[Symbol.RVX] - closes[Symbol.VIX]).dropna()
    mean = spread.rolling(90).mean()  # includes today's spread
    frac = SignalParams().iv_spread_blowout_frac
    want_blowout = (spread > mean + frac * mean.abs()).reindex(closes.index, fill_value=False)
    got_blowout = pd.Series([s.get("iv_spread_blowout").holds for s in snaps], closes.index)
    assert got_blowout.sum() > 100  # it does happen (e.g. small-cap stress)
    assert (got_blowout == want_blowout).all()
    got_mean = np.array(
        [np.nan if s.iv_spread_mean_pts is None else s.iv_spread_mean_pts for s in snaps]
    )
    want_mean = mean.reindex(closes.index).ffill().to_numpy()
    np.testing.assert_allclose(got_mean, want_mean, rtol=0, atol=1e-9)

    iwm = closes[Symbol.IWM]
    sma50 = iwm.rolling(50).mean()
    got_below = pd.Series([s.get("small_cap_below_ma").holds for s in snaps], closes.index)
    assert (got_below == (iwm < sma50)).all()

    spx_ret = closes[Symbol.SPX].pct_change()
    iwm_ret = iwm.pct_change()
    beta30 = iwm_ret.rolling(30).cov(spx_ret) / spx_ret.rolling(30).var()
    got30 = np.array([np.nan if s.beta_iwm_spx_30d is None else s.beta_iwm_spx_30d for s in snaps])
    np.testing.assert_allclose(got30, beta30.to_numpy(), rtol=0, atol=1e-9)
