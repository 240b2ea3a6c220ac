"""What the fake TWS lists and how it quotes options: exchange conventions, not a model.

Strike listing follows the Cboe contract specifications' strike-interval conventions:

* **VIX options** (Cboe "VIX Index Options" product specifications, *Strike Price
  Intervals*; the chain as listed in 2012-2020): 1-point intervals from 10 to 30, 2.5-point
  intervals from 30 to 50, 5-point intervals from 50 up (the chain shown by Cboe in
  2020 reached 200 at the height of the March crash). So 74, 79 and 106 are not listed;
  75, 80 and 105 are.
* **SPX options** (Cboe "S&P 500 Index Options" specifications, *Strike Price Intervals*:
  "5 points ... 25 points for far-from-the-money/long-dated series"): 5-point strikes within
  25% of the index, 25-point strikes further out to ±50%.

Premium ticks are IB market rules (``reqMarketRule``, ``ContractDetails.marketRuleIds``;
https://interactivebrokers.github.io/tws-api/minimum_increment.html, ib_async
``IB.reqMarketRuleAsync``). VIX options single-leg: 0.05 below 3.00 and 0.10 from 3.00
until Cboe cut them (notice "Cboe Announces Options Tick Increment Change For VIX
Options", 2022-11-29) to 0.01 below 3.00 and 0.05 from 3.00; the fake serves the rule of
its ``as_of`` date (rule 109 before, 110 from then). Complex (combo) orders in VIX options
trade in $0.01 net at every price level, before and after (same notice). SPX options
0.05 below 3.00 and 0.10 from 3.00.

VX futures: CFE lists the monthly contracts (trading class ``VX``, expiring the Wednesday
30 days before the next month's third Friday) and, beside them, weekly contracts whose
trading class is ``VX`` + the ISO week number (``VX09``…), expiring on the other Wednesdays
(Cboe "VX futures contract specifications", *Weekly expirations*).

Option quotes: the fake's market maker quotes a Black-76 value on the VX future of the
option's expiry, at an implied volatility with the upward VIX-option skew, and spreads it;
the greeks go out as IB's option-computation ticks (tick types 10, 11, 13;
https://interactivebrokers.github.io/tws-api/option_computations.html).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

VIX_RULE_ID = 110
"""Fake market-rule id of VIX options since 2022-11-29: 0.01 below 3.00, 0.05 from 3.00."""
VIX_RULE_PRE_2022_ID = 109
"""Fake market-rule id of VIX options before: 0.05 below 3.00, 0.10 from 3.00."""
VIX_PENNY_FROM = date(2022, 11, 29)
"""First day of the VIX options' 0.01/0.05 single-leg ticks (the Cboe notice's date)."""
COMBO_TICK = 0.01
"""Net-price increment of a VIX option combo, at every price level."""
SPX_RULE_ID = 239
"""Fake market-rule id of SPX options: 0.05 below 3.00, 0.10 from 3.00."""
FUT_RULE_ID = 32
"""VX futures: 0.05 everywhere."""
MARKET_RULES: dict[int, tuple[tuple[float, float], ...]] = {
    VIX_RULE_ID: ((0.0, 0.01), (3.0, 0.05)),
    VIX_RULE_PRE_2022_ID: ((0.0, 0.05), (3.0, 0.10)),
    SPX_RULE_ID: ((0.0, 0.05), (3.0, 0.10)),
    FUT_RULE_ID: ((0.0, 0.05),),
}
VIX_MAX_STRIKE = 200.0


def vix_rule_id(as_of: date) -> int:
    """The market rule of VIX options on ``as_of`` (the tick cut of 2022-11-29)."""
    return VIX_RULE_ID if as_of >= VIX_PENNY_FROM else VIX_RULE_PRE_2022_ID


def is_on_tick(price: float, tick: float) -> bool:
    """Whether ``price`` is a whole number of ``tick`` (up to float error)."""
    n = price / tick
    return abs(n - round(n)) < 1e-6


def vix_strikes() -> tuple[float, ...]:
    """Every VIX option strike the Cboe interval convention lists (10 … 200)."""
    ks = [float(k) for k in range(10, 30)]
    ks += [30.0 + 2.5 * i for i in range(8)]
    ks += [float(k) for k in range(50, int(VIX_MAX_STRIKE) + 1, 5)]
    return tuple(ks)


def spx_strikes(spot: float) -> tuple[float, ...]:
    """SPX option strikes listed around ``spot``: 5-point within ±25%, 25-point to ±50%."""
    lo, hi = spot * 0.5, spot * 1.5
    near_lo, near_hi = spot * 0.75, spot * 1.25
    out: set[float] = set()
    k = math.floor(lo / 25) * 25
    while k <= hi:
        out.add(float(k))
        k += 25
    k = math.floor(near_lo / 5) * 5
    while k <= near_hi:
        out.add(float(k))
        k += 5
    return tuple(sorted(x for x in out if x > 0))


def is_listed(trading_class: str, strike: float, spot: float | None) -> bool:
    """Whether ``strike`` is a listed strike of ``trading_class`` (VIX or SPX/SPXW)."""
    if trading_class in ("VIX", "VIXW"):
        return any(abs(strike - k) < 1e-9 for k in vix_strikes())
    if trading_class in ("SPX", "SPXW"):
        if spot is None:
            return strike % 5 == 0
        return any(abs(strike - k) < 1e-9 for k in spx_strikes(spot))
    return False


def tick_of(rule_id: int, price: float) -> float:
    """The minimum increment of ``price`` under market rule ``rule_id``."""
    tick = 0.01
    for low_edge, increment in MARKET_RULES[rule_id]:
        if price >= low_edge - 1e-12:
            tick = increment
    return tick


def third_wednesday_weeklies(start: date, end: date, monthlies: set[date]) -> list[date]:
    """Wednesdays in ``[start, end]`` that are not monthly VX expiries (weekly VX futures)."""
    d = start + timedelta(days=(2 - start.weekday()) % 7)
    out: list[date] = []
    while d <= end:
        if d not in monthlies:
            out.append(d)
        d += timedelta(days=7)
    return out


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """One option market of the fake: bid/ask (None = no bid), model value and greeks."""

    bid: float | None
    ask: float
    value: float
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float
    und_price: float


def vix_option_iv(vix: float, strike: float, future: float) -> float:
    """The fake market's VIX-option IV: ATM rising with VIX (VVIX-like), upward skew."""
    atm = min(1.8, max(0.6, 0.95 + 0.012 * (vix - 15.0)))
    skew = 1.0 + 0.35 * max(0.0, math.log(strike / future))
    return atm * skew


def quote_option(
    *,
    right: str,
    strike: float,
    future: float,
    vix: float,
    years: float,
    rule_id: int,
    rate: float = 0.015,
    spread_frac: float = 0.06,
) -> OptionQuote:
    """Black-76 on ``future`` at the skewed IV, quoted ``±spread_frac/2`` of value (≥ 1 tick).

    A value below one tick has no bid (IB sends the bid as -1 with size 0).
    """
    t = max(years, 1.0 / 365.0)
    iv = vix_option_iv(vix, strike, future)
    sd = iv * math.sqrt(t)
    d1 = (math.log(future / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    df = math.exp(-rate * t)
    if right == "C":
        value = df * (future * _norm_cdf(d1) - strike * _norm_cdf(d2))
        delta = df * _norm_cdf(d1)
    else:
        value = df * (strike * _norm_cdf(-d2) - future * _norm_cdf(-d1))
        delta = -df * _norm_cdf(-d1)
    gamma = df * _norm_pdf(d1) / (future * sd)
    vega = df * future * _norm_pdf(d1) * math.sqrt(t) / 100.0
    theta = -df * future * _norm_pdf(d1) * iv / (2 * math.sqrt(t)) / 365.0
    value = max(value, 0.0)
    # A market maker's quote: ``spread_frac`` of the value wide, at least one tick, on the
    # contract's ticks (ask rounded up, bid down, never more than the width plus one tick
    # apart: a cheap option is a one-tick market, 0.10/0.15, as VIX options were quoted).
    # An option worth less than half a tick has no bid (IB: bid -1, size 0).
    tick = tick_of(rule_id, value)
    width = max(value * spread_frac, tick)
    raw_ask = value + width / 2.0
    raw_bid = value - width / 2.0
    ask_tick = tick_of(rule_id, raw_ask)
    ask = round(math.ceil(raw_ask / ask_tick - 1e-9) * ask_tick, 2)
    bid: float | None = None
    if raw_bid >= tick / 2.0:
        bid_tick = tick_of(rule_id, max(raw_bid, 0.0))
        floor_bid = math.floor(raw_bid / bid_tick + 1e-9) * bid_tick
        tight_bid = ask - math.ceil(width / bid_tick - 1e-9) * bid_tick
        bid = round(max(floor_bid, tight_bid, bid_tick), 2)
    return OptionQuote(
        bid=bid,
        ask=max(ask, tick_of(rule_id, 0.0)),
        value=value,
        iv=iv,
        delta=delta,
        gamma=gamma,
        vega=vega,
        theta=theta,
        und_price=future,
    )
