"""Streaming indicators against pandas reference computations on the real market files.

References used (all over the whole series, tolerance 1e-9 absolute):
- Ema(n)        == close.ewm(span=n, adjust=False, min_periods=n).mean()
- Sma(n)        == close.rolling(n).mean()
- Macd(f,s,g)   == ewm(f) - ewm(s) (both adjust=False from the first close), signal = that line's
                   ewm(span=g, adjust=False); line masked before s closes, signal before s+g-1.
- Rsi(n)        == Wilder (1978): gains/losses of close.diff(); the first average is the simple
                   mean of the first n gains (losses), then ewm(alpha=1/n, adjust=False) seeded
                   with that mean, i.e. avg = (avg*(n-1) + x)/n; RSI = 100 - 100/(1+g/l),
                   100 where the average loss is 0.
- RollingBeta(n)== y.rolling(n).cov(x) / x.rolling(n).var()
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.indicators import Ema, Macd, RollingBeta, RollingMean, Rsi, Sma
from daemon.errors import InvariantViolation

TOL = 1e-9


def _close(market_dir: Path, name: str) -> pd.Series:
    df = pd.read_csv(market_dir / name, parse_dates=["date"], index_col="date")
    return df["close"].astype(float)


@pytest.fixture(scope="module")
def spx(market_dir: Path) -> pd.Series:
    return _close(market_dir, "spx_daily.csv")


@pytest.fixture(scope="module")
def vix(market_dir: Path) -> pd.Series:
    return _close(market_dir, "vix_daily.csv")


@pytest.fixture(scope="module")
def aligned(market_dir: Path) -> pd.DataFrame:
    """SPX, IWM, VIX closes inner-joined on date (the signal book's sessions)."""
    frames = {
        "spx": _close(market_dir, "spx_daily.csv"),
        "iwm": _close(market_dir, "iwm_daily.csv"),
        "vix": _close(market_dir, "vix_daily.csv"),
    }
    return pd.concat(frames, axis=1, join="inner", sort=True)


@pytest.fixture(scope="module")
def ratio(aligned: pd.DataFrame) -> pd.Series:
    return aligned["iwm"] / aligned["spx"]


def _stream(ind: Ema | Sma | Rsi, xs: Sequence[float]) -> np.ndarray:
    """Feed ``xs`` one by one; the reading after each update (NaN for None)."""
    out = []
    for x in xs:
        ind.update(x)
        v = ind.value
        out.append(math.nan if v is None else v)
    return np.array(out)


def _assert_matches(got: np.ndarray, ref: pd.Series) -> None:
    want = ref.to_numpy(dtype=float)
    assert got.shape == want.shape
    # None exactly where pandas has NaN (warm-up), equal values elsewhere.
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    mask = ~np.isnan(want)
    assert mask.sum() > 0
    assert np.max(np.abs(got[mask] - want[mask])) <= TOL


def _wilder_rsi_reference(x: pd.Series, n: int) -> pd.Series:
    diff = x.diff()
    gain = diff.clip(lower=0.0)
    loss = (-diff).clip(lower=0.0)

    def smooth(s: pd.Series) -> pd.Series:
        seeded = s.iloc[n:].copy()
        seeded.iloc[0] = s.iloc[1 : n + 1].mean()  # simple mean of the first n changes
        return seeded.ewm(alpha=1.0 / n, adjust=False).mean().reindex(s.index)

    avg_gain, avg_loss = smooth(gain), smooth(loss)
    rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return rsi.where(avg_loss != 0.0, 100.0).where(avg_gain.notna())


# ------------------------------------------------------------------ pandas references, real data


@pytest.mark.parametrize("period", [9, 12, 26])
def test_ema_matches_pandas_ewm_on_spx_and_vix(spx: pd.Series, vix: pd.Series, period: int) -> None:
    for series in (spx, vix):
        got = _stream(Ema(period), series.tolist())
        _assert_matches(got, series.ewm(span=period, adjust=False, min_periods=period).mean())


@pytest.mark.parametrize("period", [50, 200])
def test_sma_matches_pandas_rolling_mean_on_spx(spx: pd.Series, period: int) -> None:
    got = _stream(Sma(period), spx.tolist())
    _assert_matches(got, spx.rolling(period).mean())


def test_rolling_mean_matches_pandas_on_rvx_vix_spread(market_dir: Path) -> None:
    rvx = _close(market_dir, "rvx_daily.csv")
    vix = _close(market_dir, "vix_daily.csv")
    both = pd.concat({"rvx": rvx, "vix": vix}, axis=1, join="inner", sort=True)
    spread = both["rvx"] - both["vix"]
    got = _stream(RollingMean(90), spread.tolist())
    _assert_matches(got, spread.rolling(90).mean())


def test_macd_matches_pandas_on_vix_and_iwm_spx_ratio(vix: pd.Series, ratio: pd.Series) -> None:
    for series in (vix, ratio):
        full_line = (
            series.ewm(span=12, adjust=False).mean() - series.ewm(span=26, adjust=False).mean()
        )
        full_signal = full_line.ewm(span=9, adjust=False).mean()
        pos = np.arange(len(series))
        ref_line = full_line.where(pos >= 26 - 1)
        ref_signal = full_signal.where(pos >= 26 + 9 - 2)
        macd = Macd(12, 26, 9)
        lines, signals, hists = [], [], []
        for x in series.tolist():
            macd.update(x)
            lines.append(math.nan if macd.line is None else macd.line)
            signals.append(math.nan if macd.signal_line is None else macd.signal_line)
            hists.append(math.nan if macd.histogram is None else macd.histogram)
            assert macd.value == macd.line
        _assert_matches(np.array(lines), ref_line)
        _assert_matches(np.array(signals), ref_signal)
        _assert_matches(np.array(hists), ref_line - ref_signal)


@pytest.mark.parametrize("period", [14, 5])
def test_rsi_matches_wilder_reference_on_vix_and_ratio(
    vix: pd.Series, ratio: pd.Series, period: int
) -> None:
    for series in (vix, ratio):
        got = _stream(Rsi(period), series.tolist())
        _assert_matches(got, _wilder_rsi_reference(series, period))


def test_rsi_hand_computed_wilder_example() -> None:
    # period 2: changes +1, +1 → first averages gain 1, loss 0 → RSI 100;
    # change -1 → gain (1*1+0)/2 = 0.5, loss (0*1+1)/2 = 0.5 → RSI 50;
    # change +3 → gain (0.5+3)/2 = 1.75, loss 0.25 → RS 7 → RSI 87.5.
    rsi = Rsi(2)
    readings = []
    for x in [1.0, 2.0, 3.0, 2.0, 5.0]:
        rsi.update(x)
        readings.append(rsi.value)
    assert readings == [None, None, 100.0, 50.0, pytest.approx(87.5, abs=1e-12)]


@pytest.mark.parametrize("period", [30, 90])
def test_rolling_beta_matches_pandas_cov_var_iwm_on_spx(aligned: pd.DataFrame, period: int) -> None:
    x = aligned["spx"].pct_change().iloc[1:]
    y = aligned["iwm"].pct_change().iloc[1:]
    assert len(x) > 5000
    beta = RollingBeta(period)
    got = []
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        beta.update(xi, yi)
        got.append(math.nan if beta.value is None else beta.value)
    ref = y.rolling(period).cov(x) / x.rolling(period).var()
    _assert_matches(np.array(got), ref)
    # and the last window equals an ordinary least-squares fit
    slope = np.polyfit(x.iloc[-period:], y.iloc[-period:], 1)[0]
    assert beta.value == pytest.approx(slope, abs=1e-9)


def test_rolling_beta_spx_pct_per_vix_point_is_negative(aligned: pd.DataFrame) -> None:
    x = aligned["vix"].diff().iloc[1:]
    y = aligned["spx"].pct_change().iloc[1:] * 100.0
    beta = RollingBeta(90)
    got = []
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        beta.update(xi, yi)
        got.append(math.nan if beta.value is None else beta.value)
    ref = y.rolling(90).cov(x) / x.rolling(90).var()
    _assert_matches(np.array(got), ref)
    # SPEC §5: typically around -0.5 … -1 % per VIX point; negative in every window.
    assert np.nanmax(got) < 0.0
    assert -1.5 < np.nanmedian(got) < -0.2


# ------------------------------------------------------------------ peek, state, validation


def _indicator_cases() -> list[tuple[str, Callable[[], Any], int]]:
    """(name, factory, arity of update)."""
    return [
        ("ema", lambda: Ema(12), 1),
        ("macd", lambda: Macd(3, 6, 4), 1),
        ("rsi", lambda: Rsi(14), 1),
        ("sma", lambda: Sma(20), 1),
        ("beta", lambda: RollingBeta(10), 2),
    ]


def _reading(ind: Any) -> Any:
    if isinstance(ind, Macd):
        return (ind.line, ind.signal_line)
    return ind.value


@pytest.mark.parametrize(("name", "factory", "arity"), _indicator_cases())
def test_peek_equals_value_after_update_on_real_data(
    aligned: pd.DataFrame, name: str, factory: Callable[[], Any], arity: int
) -> None:
    ind = factory()
    xs = aligned["vix"].diff().fillna(0.0).tolist()[:600]
    ys = aligned["spx"].pct_change().fillna(0.0).tolist()[:600]
    closes = aligned["vix"].tolist()[:600]
    for i in range(600):
        args = (xs[i], ys[i]) if arity == 2 else (closes[i],)
        peeked = ind.peek(*args)
        ind.update(*args)
        assert peeked == _reading(ind)  # same arithmetic: bit for bit
    assert ind.ready


@pytest.mark.parametrize(("name", "factory", "arity"), _indicator_cases())
def test_state_round_trip_through_json_gives_identical_readings(
    aligned: pd.DataFrame, name: str, factory: Callable[[], Any], arity: int
) -> None:
    closes = aligned["spx"].tolist()[:400]
    rets = aligned["iwm"].pct_change().fillna(0.0).tolist()[:400]

    def feed(ind: Any, i: int) -> None:
        ind.update(*((rets[i], closes[i] / 1000.0) if arity == 2 else (closes[i],)))

    original = factory()
    for i in range(200):
        feed(original, i)
    restored = factory()
    restored.load_state(json.loads(json.dumps(original.state())))
    assert _reading(restored) == _reading(original)
    for i in range(200, 400):
        feed(original, i)
        feed(restored, i)
        assert _reading(restored) == _reading(original)
    assert restored.state() == original.state()


def test_load_state_with_other_period_or_kind_raises() -> None:
    ema = Ema(12)
    ema.update(1.0)
    with pytest.raises(InvariantViolation):
        Ema(26).load_state(ema.state())
    with pytest.raises(InvariantViolation):
        Sma(12).load_state(ema.state())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_input_is_refused(bad: float) -> None:
    for ind in (Ema(3), Macd(2, 3, 2), Rsi(3), Sma(3)):
        with pytest.raises(InvariantViolation):
            ind.update(bad)
        with pytest.raises(InvariantViolation):
            ind.peek(bad)
    with pytest.raises(InvariantViolation):
        RollingBeta(3).update(1.0, bad)


def test_reset_forgets_everything() -> None:
    for ind in (Ema(3), Macd(2, 3, 2), Rsi(3), Sma(3)):
        for x in (1.0, 2.0, 4.0, 3.0, 5.0, 6.0):
            ind.update(x)
        was_ready = ind.ready
        ind.reset()
        assert was_ready
        assert not ind.ready
        assert ind.value is None


def test_rolling_beta_constant_regressor_gives_none_not_nan() -> None:
    beta = RollingBeta(5)
    for y in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        beta.update(2.0, y)
    assert beta.ready
    assert beta.value is None


def test_invalid_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        Ema(0)
    with pytest.raises(ValueError, match="fast"):
        Macd(26, 12, 9)
    with pytest.raises(ValueError, match="period"):
        RollingBeta(1)


# ------------------------------------------------------------------ hypothesis properties

_prices = st.lists(
    st.floats(min_value=0.01, max_value=1e5, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(xs=_prices, period=st.integers(min_value=1, max_value=40))
def test_ema_stays_within_min_max_of_inputs(xs: list[float], period: int) -> None:
    ema = Ema(period)
    for i, x in enumerate(xs):
        ema.update(x)
        v = ema.value
        if v is None:
            assert i + 1 < period
            continue
        lo, hi = min(xs[: i + 1]), max(xs[: i + 1])
        slack = 1e-12 * hi
        assert lo - slack <= v <= hi + slack


@settings(max_examples=150, deadline=None)
@given(xs=_prices, period=st.integers(min_value=1, max_value=30))
def test_rsi_is_within_0_and_100(xs: list[float], period: int) -> None:
    rsi = Rsi(period)
    for x in xs:
        rsi.update(x)
        v = rsi.value
        assert v is None or 0.0 <= v <= 100.0


@settings(max_examples=100, deadline=None)
@given(
    xs=_prices,
    peeks=st.lists(st.floats(min_value=0.01, max_value=1e5), min_size=1, max_size=5),
    case=st.sampled_from(_indicator_cases()),
)
def test_peek_never_changes_state(
    xs: list[float], peeks: list[float], case: tuple[str, Callable[[], Any], int]
) -> None:
    _, factory, arity = case
    plain, peeked = factory(), factory()
    for i, x in enumerate(xs):
        args = (x, xs[i - 1]) if arity == 2 else (x,)
        for p in peeks:
            peeked.peek(*((p, p * 0.5) if arity == 2 else (p,)))
        plain.update(*args)
        peeked.update(*args)
        assert _reading(peeked) == _reading(plain)
    assert peeked.state() == plain.state()
