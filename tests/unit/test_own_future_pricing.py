"""Every VIX option is priced on the VX future of its own expiry (issue 10, §1).

The two cases the independent recomputation found, from the real files
(``vix_futures_front4_daily.csv``):

* 2020-03-17: the L2 instrument is the May 2020 call (April is 29 days out, below the
  30–60 window; May is 64). Priced on April's future (61.425) it was struck at 109 with a
  scenario gain of $44.59 per contract and a limit of 0.85; on May's own future (48.70)
  that 109C is worth 0.16 and gains $13.89 (3.2× less), and the 1.5-sd strike is 86.
* 2021-07-20: a September 37C priced on the August future (21.4852) gained $58.40; on
  September's own future (22.6001) it gains $71.11.

The reference values come from an independent Black-76 written here from the formula of
Black, F. (1976), "The pricing of commodity contracts", Journal of Financial Economics
3(1–2), 167–179, as given in Hull, "Options, Futures, and Other Derivatives" (10th ed.),
ch. 18 "Futures options and Black's model", eq. (18.9):

    c = e^{−rT} [F N(d1) − K N(d2)],  d1 = (ln(F/K) + σ²T/2) / (σ√T),  d2 = d1 − σ√T

with N from ``math.erf``, not the daemon's pricing module.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from adapters.replay import ReplaySource
from daemon.core.hedge_pricing import hedge_unit
from daemon.core.model import OptionLeg, Quote, Right, Symbol
from daemon.core.params import LadderParams, OrderParams, ScenarioParams
from daemon.core.prices import PriceBoard
from daemon.core.scenario import (
    FUTURE_SOURCE_INTERPOLATED,
    FUTURE_SOURCE_NEAREST,
    FUTURE_SOURCE_OWN,
    FUTURE_SOURCE_SPOT,
    MarketState,
    future_and_source,
)
from daemon.core.strikes import l2_legs
from tests.unit.engine_parts import snapshot

SCEN = ScenarioParams()
LADDER = LadderParams()
ORDERS = OrderParams()


def n_cdf(x: float) -> float:
    """Standard normal CDF via the error function."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black76_call(f: float, k: float, t: float, r: float, sigma: float) -> float:
    """Black (1976) European call on a future, per share (Hull eq. 18.9)."""
    s = sigma * math.sqrt(t)
    d1 = (math.log(f / k) + 0.5 * s * s) / s
    return math.exp(-r * t) * (f * n_cdf(d1) - k * n_cdf(d1 - s))


def reference_gain_usd(f: float, k: float, day: date, expiry: date) -> float:
    """Scenario gain of one call: Black-76 at F + ρΔ minus at F, × 100 (SPEC §5.5)."""
    t = (expiry - day).days / 365.0
    move = SCEN.vx_beta_to_spot * SCEN.vix_shock_pts  # 0.7 × 6 = 4.2 points
    r, sigma = SCEN.risk_free_rate, SCEN.vix_option_iv
    return 100.0 * (black76_call(f + move, k, t, r, sigma) - black76_call(f, k, t, r, sigma))


def replayed_state(market_dir: Path, day: date) -> MarketState:
    """The market state the engine builds from the replay's quotes of ``day``."""
    source = ReplaySource(market_dir, start=day, end=day, warmup_days=0)

    async def quotes() -> list[Quote]:
        return [e async for e in source.events() if isinstance(e, Quote)]

    board = PriceBoard()
    for q in asyncio.run(quotes()):
        board.store(q)
    st = board.market_state(day, snapshot(day))
    assert st is not None
    return st


def call(strike: float, expiry: date) -> OptionLeg:
    return OptionLeg(
        right=Right.CALL,
        strike=strike,
        expiry=expiry,
        position_qty=1,
        multiplier=100,
        trading_class="VIX",
    )


def test_reference_black76_matches_hull_example() -> None:
    # Hull 10th ed., Example 18.6 (Black's model): F = K = 20, r = 9%, T = 4/12, σ = 25%:
    # the European put is worth 1.12; at F = K the call equals the put (put-call parity).
    assert black76_call(20.0, 20.0, 4 / 12, 0.09, 0.25) == pytest.approx(1.12, abs=0.005)


def test_the_replay_quotes_the_first_four_futures_with_their_expiries(market_dir: Path) -> None:
    st = replayed_state(market_dir, date(2020, 3, 17))
    assert st.vx_curve == (
        (date(2020, 3, 18), 68.825),
        (date(2020, 4, 15), 61.425),
        (date(2020, 5, 20), 48.7),
        (date(2020, 6, 17), 42.075),
    )


def test_2020_03_17_l2_is_struck_and_priced_on_the_may_future(market_dir: Path) -> None:
    day = date(2020, 3, 17)
    st = replayed_state(market_dir, day)
    (leg,) = l2_legs(st, LADDER, SCEN, ORDERS)
    assert leg.expiry == date(2020, 5, 20)  # April 15 is 29 days out: below the 30–60 window
    assert leg.strike == 86.0  # 48.70 × e^{1.5 × 0.9 × √(64/365)} = 85.7 → 86
    unit = hedge_unit((leg,), st, SCEN)
    assert (unit.future_pts, unit.future_source) == (48.7, FUTURE_SOURCE_OWN)
    assert unit.gain_usd == pytest.approx(
        reference_gain_usd(48.7, 86.0, day, leg.expiry), rel=1e-12
    )
    # the 109C that was proposed, priced on its own (May) future: the figures
    held = hedge_unit((call(109.0, leg.expiry),), st, SCEN)
    expected = reference_gain_usd(48.7, 109.0, day, leg.expiry)
    assert expected == pytest.approx(13.89, abs=0.005)
    assert held.gain_usd == pytest.approx(expected, rel=1e-12)
    assert held.price == pytest.approx(black76_call(48.7, 109.0, 64 / 365, 0.04, 0.9))
    assert held.price == pytest.approx(0.16, abs=0.005)  # "a fair 0.16"
    # Without the third future (the old F1/F2 file) the May option would be priced on
    # April's 61.425: strike 109, gain $44.59, 3.2× too high; that fallback is now named.
    two = replace(st, vx_curve=st.vx_curve[:2])
    (old,) = l2_legs(two, LADDER, SCEN, replace(ORDERS, min_premium_pts=0.0))
    assert old.strike == 109.0
    wrong = hedge_unit((old,), two, SCEN)
    assert wrong.future_source == FUTURE_SOURCE_NEAREST
    assert wrong.gain_usd == pytest.approx(44.59, abs=0.005)


def test_2021_07_20_september_call_is_priced_on_the_september_future(market_dir: Path) -> None:
    day = date(2021, 7, 20)
    st = replayed_state(market_dir, day)
    sep = date(2021, 9, 15)
    unit = hedge_unit((call(37.0, sep),), st, SCEN)
    assert (unit.future_pts, unit.future_source) == (22.6001, FUTURE_SOURCE_OWN)
    expected = reference_gain_usd(22.6001, 37.0, day, sep)
    assert expected == pytest.approx(71.11, abs=0.005)
    assert unit.gain_usd == pytest.approx(expected, rel=1e-12)
    on_august = reference_gain_usd(21.4852, 37.0, day, sep)
    assert on_august == pytest.approx(58.40, abs=0.005)  # what the wrong future gave


def test_a_missing_future_is_a_named_fallback_never_a_silent_substitute() -> None:
    day = date(2020, 3, 2)
    mar, apr, may = date(2020, 3, 18), date(2020, 4, 15), date(2020, 5, 20)
    st = MarketState(
        session_date=day, spx=3000.0, iwm=150.0, vix=30.0, vx_curve=((mar, 29.0), (may, 27.0))
    )
    assert future_and_source(st, mar) == (29.0, FUTURE_SOURCE_OWN)
    f, src = future_and_source(st, apr)
    assert src == FUTURE_SOURCE_INTERPOLATED
    assert f == pytest.approx(29.0 + (27.0 - 29.0) * 28 / 63)
    assert future_and_source(st, date(2020, 6, 17)) == (27.0, FUTURE_SOURCE_NEAREST)
    assert future_and_source(replace(st, vx_curve=()), mar) == (30.0, FUTURE_SOURCE_SPOT)


def test_without_the_front4_file_the_replay_reads_f1_f2_only(
    market_dir: Path, tmp_path: Path
) -> None:
    for name in (
        "spx_daily.csv",
        "iwm_daily.csv",
        "vix_daily.csv",
        "vix_futures_f1f2_daily.csv",
    ):
        (tmp_path / name).symlink_to(market_dir / name)
    source = ReplaySource(tmp_path, start=date(2020, 3, 17), end=date(2020, 3, 17))
    assert Symbol.VX2 in source.symbols
    assert Symbol.VX3 not in source.symbols
